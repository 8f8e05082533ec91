"""No traceback ever reaches a user: a corpus of hostile files and values, every command.

Each case builds a project holding something hostile (a workflow file, a file in
``.maverick/workflows/``, ``maverick.yaml``, ``.git/config``, damaged run state) or
passes a hostile value, then runs real ``maverick`` subprocesses. Whatever the
input, the user sees an exit code of 0, 1 or 2, no Python traceback, and errors
of one line each.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from typing import TYPE_CHECKING

import pytest

from maverick_core.builtin.filestore.store import FileStore
from maverick_core.engine.storage import Project, make_record
from maverick_core.testing import maverick_executable
from tests.integration.conftest import run_dirs

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

GOOD = """\
version: "1.0"
name: good
description: a workflow that works
inputs:
  n: {type: integer, default: 1}
  l: {type: list, default: []}
  x: {type: number, default: 1.5}
steps:
  - name: a
    type: shell
    command: echo ${{ inputs.n }}
    checkpoint: true
  - name: b
    type: shell
    command: exit 3
"""


def alias_bomb() -> str:
    lines = ['version: "1.0"', "name: lol", 'a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join([*lines, "steps: [{name: x, type: shell, command: echo}]"]) + "\n"


HOSTILE_FILES: dict[str, Callable[[Path], None]] = {
    "alias-bomb": lambda p: p.write_text(alias_bomb()),
    "deep-nesting": lambda p: p.write_text("a: " + "[" * 2000 + "]" * 2000 + "\n"),
    "latin1": lambda p: p.write_bytes(b'version: "1.0"\nname: caf\xe9\nsteps: []\n'),
    "fifo": lambda p: os.mkfifo(p),
    "directory": lambda p: p.mkdir(),
    "link-loop": lambda p: p.symlink_to(p.name),
    "empty": lambda p: p.write_text(""),
    "scalar": lambda p: p.write_text("42\n"),
    "nan-timeout": lambda p: p.write_text(
        'version: "1.0"\nname: t\nsteps: [{name: a, type: shell, command: echo, timeout: .nan}]\n'
    ),
    "huge-int": lambda p: p.write_text("version: " + "9" * 5000 + "\n"),
    "binary-tag": lambda p: p.write_text('version: "1.0"\nname: !!binary aGk=\n'),
    "description-not-text": lambda p: p.write_text(
        'version: "1.0"\nname: d\ndescription: [1, 2]\n'
        "steps: [{name: a, type: shell, command: x}]\n"
    ),
    "nul-bytes": lambda p: p.write_bytes(b"version: \x00\x00\n"),
}


def maverick(project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run maverick like a user; returns (exit code, stderr + stdout)."""
    done = subprocess.run(
        [*maverick_executable(), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    return done.returncode, done.stderr + done.stdout


def assert_handled(code: int, output: str, *, errors_expected: bool = False) -> None:
    assert "Traceback" not in output, output[-3000:]
    assert code in (0, 1, 2), (code, output[-3000:])
    if errors_expected:
        assert code != 0, output[-3000:]
    for line in output.splitlines():
        assert len(line) < 2000, line[:200]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "good.yaml").write_text(GOOD)
    return root


@pytest.mark.parametrize("kind", sorted(HOSTILE_FILES))
def test_a_hostile_workflow_file_is_a_one_line_error(project: Path, kind: str) -> None:
    HOSTILE_FILES[kind](project / "bad.yaml")
    code, output = maverick(project, "validate", "bad.yaml")
    assert_handled(code, output, errors_expected=True)
    code, output = maverick(project, "run", "bad.yaml")
    assert_handled(code, output, errors_expected=True)
    assert not (project / ".maverick" / "checkpoints").exists()


@pytest.mark.parametrize("kind", sorted(HOSTILE_FILES))
def test_a_hostile_file_among_the_project_workflows_does_not_break_the_others(
    project: Path, kind: str
) -> None:
    workflows = project / ".maverick" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "good.yaml").write_text(GOOD)
    HOSTILE_FILES[kind](workflows / "bad.yaml")
    code, output = maverick(project, "workflows", "list")
    assert_handled(code, output)
    assert code == 0 and "a workflow that works" in output
    code, output = maverick(project, "run", "goood")  # a typo lists what exists
    assert_handled(code, output, errors_expected=True)
    assert "good" in output
    code, output = maverick(
        project,
        env={
            "_MAVERICK_COMPLETE": "bash_complete",
            "COMP_WORDS": "maverick run g",
            "COMP_CWORD": "2",
        },
    )
    assert_handled(code, output)
    assert "good" in output


@pytest.mark.parametrize("kind", sorted(HOSTILE_FILES))
def test_hostile_settings_are_a_one_line_error(project: Path, kind: str) -> None:
    # every command reads maverick.yaml through the same function
    HOSTILE_FILES[kind](project / "maverick.yaml")
    code, output = maverick(project, "run", "good.yaml")
    assert_handled(code, output)


def test_a_latin1_git_config_is_no_obstacle(project: Path) -> None:
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    with open(project / ".git" / "config", "ab") as handle:
        handle.write(b"[user]\n\tname = Jos\xe9 Mar\xeda\n")
    for args in (("run", "good.yaml"), ("runs", "list"), ("workflows", "list")):
        code, output = maverick(project, *args)
        assert_handled(code, output)


HOSTILE_VALUES = [
    "n=" + "9" * 5000,
    "n=99999999999999999999999",
    "l=&a [*a]",
    "l=[&a [1,2,3,4,5,6,7,8,9], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], &c [*b,*b,*b,*b,*b,*b,*b,*b,*b],"
    " &d [*c,*c,*c,*c,*c,*c,*c,*c,*c], [*d,*d,*d,*d,*d,*d,*d,*d,*d]]",
    "l=" + "[" * 3000 + "]" * 3000,
    "l=[2024-01-01, {when: 2024-01-01 10:00:00}]",
    "x=.nan",
    "x=-.inf",
    "l=!!binary aGk=",
    "l=[",
    "n",
    "=3",
    "nope=1",
]


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=lambda v: v[:30])
def test_a_hostile_input_value_is_refused_or_kept_and_leaves_no_run_behind(
    project: Path, value: str
) -> None:
    code, output = maverick(project, "run", "good.yaml", "-i", value)
    assert_handled(code, output)
    checkpoints = project / ".maverick" / "checkpoints"
    runs = run_dirs(checkpoints) if checkpoints.exists() else []
    if code == 2:
        assert runs == [], output
    for run_dir in runs:
        assert (run_dir / "run.json").stat().st_size < 1 << 20


# ------------------------------------------------------------------ damaged run state


@pytest.fixture(scope="module")
def failed_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with one failed run (made once, copied by each test)."""
    root = tmp_path_factory.mktemp("failed") / "proj"
    root.mkdir()
    (root / "good.yaml").write_text(GOOD)
    code, output = maverick(root, "run", "good.yaml")
    assert code == 1, output
    return root


def make_failed_run(failed_project: Path, project: Path) -> Path:
    shutil.copytree(failed_project / ".maverick", project / ".maverick", symlinks=True)
    [run_dir] = run_dirs(project / ".maverick" / "checkpoints")
    return run_dir


def set_field(run_dir: Path, **changes: object) -> None:
    data = json.loads((run_dir / "run.json").read_text())
    data.update(changes)
    (run_dir / "run.json").write_text(json.dumps(data))


def append_odd_record(run_dir: Path, payload: bytes, kind: str = "delta") -> None:
    store = FileStore(run_dir.parent)
    store.append_checkpoint(make_record(run_dir.name, 2, "odd", kind, time.time(), "json", payload))
    store.close()


DAMAGE: dict[str, Callable[[Path], None]] = {
    "status-wrong-type": lambda d: set_field(d, status=7),
    "status-unknown": lambda d: set_field(d, status="exploded"),
    "inputs-a-list": lambda d: set_field(d, inputs=[1]),
    "meta-holder-odd": lambda d: set_field(d, status="running", meta={"holder": "me"}),
    "fields-missing": lambda d: (d / "run.json").write_text('{"run_id": "x"}'),
    "not-json": lambda d: (d / "run.json").write_bytes(b"\xff\xfe{"),
    "deep-json": lambda d: (d / "run.json").write_text("[" * 100000 + "]" * 100000),
    "run-json-directory": lambda d: ((d / "run.json").unlink(), (d / "run.json").mkdir()),
    "lock-link": lambda d: ((d / "lock").unlink(), (d / "lock").symlink_to("/etc/hostname")),
    "journal-link": lambda d: [
        (p.unlink(), p.symlink_to("/etc/hostname")) for p in d.glob("journal-*")
    ],
    "record-step-status-int": lambda d: append_odd_record(d, b'{"records": {"a": {"status": 5}}}'),
    "record-not-a-checkpoint": lambda d: append_odd_record(d, b"[1, 2, 3]"),
    "record-data-a-list": lambda d: append_odd_record(d, b'{"records": {}, "data": [1]}'),
    "record-deep": lambda d: append_odd_record(d, b"[" * 100000 + b"]" * 100000),
    "meta-history-odd": lambda d: set_field(
        d,
        status="running",
        meta={
            "attempts": [{"started_at": "x", "outcome": None, "number": []}, {}],
            "summary": "x",
            "resume_command": 3,
            "progress": {"a": 1},
        },
    ),
    "final-record-odd": lambda d: append_odd_record(
        d, b'{"records": {}, "base": "x", "outputs": [1], "attempt": {}}', kind="final"
    ),
    "final-record-not-a-checkpoint": lambda d: append_odd_record(d, b"[1]", kind="final"),
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_damaged_run_state_is_a_message_for_every_runs_command(
    failed_project: Path, project: Path, kind: str
) -> None:
    run_dir = make_failed_run(failed_project, project)
    DAMAGE[kind](run_dir)
    for args in (
        ("runs", "list"),
        ("runs", "show", run_dir.name, "--json"),
        ("runs", "show", run_dir.name),
        ("run", "good.yaml", "--resume"),
        ("runs", "prune", "--older-than", "0s"),
        ("runs", "delete", run_dir.name),
    ):
        code, output = maverick(project, *args)
        assert_handled(code, output)


@pytest.mark.parametrize("run_id", ["x" * 300, "../etc", "", "a/b"])
def test_odd_run_ids_are_refused_by_every_command(
    failed_project: Path, project: Path, run_id: str
) -> None:
    make_failed_run(failed_project, project)
    for args in (
        ("runs", "show", run_id),
        ("runs", "delete", run_id),
        ("run", "good.yaml", "--resume", run_id),
    ):
        code, output = maverick(project, *args)
        assert_handled(code, output, errors_expected=True)


def test_a_store_url_of_a_file_is_an_error(project: Path) -> None:
    (project / "afile").write_text("x")
    for url in ("file:afile", "file:/dev/null", "sqlite:///afile/x.db", "nope://x"):
        code, output = maverick(project, "runs", "list", "--store", url)
        assert_handled(code, output, errors_expected=True)


def test_an_unused_project_is_unharmed(project: Path) -> None:
    Project(project, "p")  # the corpus above must not need any setup beyond files
    code, output = maverick(project, "plugins")
    assert_handled(code, output)
    code, output = maverick(project, "schema")
    assert_handled(code, output)


def test_a_full_disk_while_the_lock_is_taken_leaves_no_run_running(project: Path) -> None:
    mount = project.parent / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        (mount / "runs").mkdir()
        info = os.statvfs(mount)
        # room for run.json (one page), none for the lock holder written after it
        (mount / "filler").write_bytes(b"x" * (info.f_bavail * info.f_frsize - 4096))
        store = f"file:{mount / 'runs'}"
        code, output = maverick(project, "run", "good.yaml", "--store", store)
        assert_handled(code, output, errors_expected=True)
        assert "No space left on device" in output
        assert run_dirs(mount / "runs") == []
        code, output = maverick(project, "runs", "list", "--store", store)
        assert (code, output.strip()) == (0, "no runs")
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
