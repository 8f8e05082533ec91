"""maverick's pytest plugin, used the way a plugin author uses it: in a pytest of their own."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

AUTHORS_TESTS = '''
import signal
import subprocess

import pytest

from maverick_core import hookimpl
from maverick_core.testing import git, json_events, read_until

WORKFLOW = """
version: "1.0"
name: demo
inputs:
  log: {type: string, required: true}
steps:
  - name: each
    type: loop
    for_each: [0, 1, 2]
    steps:
      - name: work
        type: shell
        command: echo "${{ index }}" >> "${{ inputs.log }}" && echo "item ${{ item }}"
      - name: done
        type: checkpoint
        checkpoint_id: item_${{ index }}
outputs:
  items: ${{ steps.each.output }}
"""


class Shout:
    """The plugin under test: it upper-cases every step's name into a list."""

    def __init__(self):
        self.seen = []

    @hookimpl
    def before_step(self, run, step, path):
        self.seen.append(path.upper())


@pytest.fixture
def project():
    """The author's own fixture named like ours: it must not hide maverick_project."""
    return "not a path"


def test_in_process_run_with_plugin_and_recorder(
    maverick_write_workflow, maverick_run, maverick_recorder, maverick_project, project
):
    assert project == "not a path"
    log = maverick_project / "log.txt"
    shout = Shout()
    result = maverick_run(
        maverick_write_workflow(WORKFLOW), {"log": str(log)}, plugins=[shout, maverick_recorder]
    )
    assert result.status == "completed"
    assert [item["work"]["stdout"] for item in result.outputs["items"]] == [
        "item 0", "item 1", "item 2"
    ]
    assert shout.seen[:2] == ["EACH", "EACH[0].WORK"]
    assert [c["checkpoint_id"] for c in maverick_recorder.of("after_checkpoint")] == [
        "item_0", "item_1", "item_2"
    ]


def test_a_crashed_cli_run_resumes(maverick_write_workflow, maverick_cli, maverick_project):
    maverick_write_workflow(WORKFLOW)
    log = maverick_project / "log.txt"
    args = ("run", "wf.yaml", "--json", "-i", f"log={log}")
    crashed = maverick_cli(*args, crash_at="after_checkpoint:2")
    assert crashed.returncode == -signal.SIGKILL
    resumed = maverick_cli(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert log.read_text().split() == ["0", "1", "2"]
    finish = [e for e in json_events(resumed.stdout) if e["event"] == "workflow_finish"]
    assert len(finish[0]["outputs"]["items"]) == 3


def test_a_started_cli_run_can_be_interrupted(maverick_write_workflow, maverick_cli):
    maverick_write_workflow("""
        version: "1.0"
        name: slow
        steps:
          - name: wait
            type: shell
            command: echo started && sleep 30
    """)
    proc = maverick_cli.start("run", "wf.yaml", "--json")
    read_until(proc, '"step_start"')
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in out + err


def test_git_repo_has_a_pushed_main(maverick_git_repo):
    assert git(maverick_git_repo, "rev-parse", "origin/main") == git(
        maverick_git_repo, "rev-parse", "HEAD"
    )
    assert (maverick_git_repo / "README.md").exists()


def test_the_users_settings_do_not_reach_a_project(maverick_project):
    import os

    assert "MAVERICK_STORE" not in os.environ
    assert os.environ["XDG_CONFIG_HOME"].startswith(str(maverick_project.parent))
'''


def run_pytest(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def test_a_plugin_authors_tests_use_the_fixtures(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MAVERICK_STORE", "file:")  # the fixtures must shield the run from it
    (tmp_path / "test_myplugin.py").write_text(AUTHORS_TESTS)
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout


def test_the_fixtures_are_listed_with_their_docs(tmp_path: Path) -> None:
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    listed = run_pytest(tmp_path, "--fixtures").stdout
    for name in (
        "maverick_project",
        "maverick_write_workflow",
        "maverick_run",
        "maverick_cli",
        "maverick_recorder",
        "maverick_git_repo",
    ):
        assert f"{name} -- " in listed or f"{name}\n" in listed, name


def test_the_plugin_loads_no_engine_module() -> None:
    code = textwrap.dedent(
        """
        import sys
        import maverick_core.testing
        heavy = ("maverick_core.engine", "maverick_core.builtin", "maverick_core.devflow",
                 "yaml", "cattrs", "click", "rich")
        print(sorted(m for m in sys.modules if m.startswith(heavy)))
        """
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
