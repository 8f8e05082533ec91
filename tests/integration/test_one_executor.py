"""One execution of a run at a time, against a real ``maverick`` process.

Deleting the lock file of a running run must not let a second process execute it,
and after maverick itself is SIGKILLed, ``--resume`` first stops the processes the
killed run left behind, so the step never runs twice at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from maverick_core.builtin.filestore.store import FileStore
from maverick_core.testing import maverick_executable
from tests.integration.conftest import run_dirs

SLOW = """\
version: "1.0"
name: slow
steps:
  - name: first
    type: shell
    command: |
      echo "first $$" >> work.log
      while [ ! -e go ]; do sleep 0.05; done
    checkpoint: true
  - name: second
    type: shell
    command: echo "second $$" >> work.log
"""

ORPHAN = """\
version: "1.0"
name: orphan
steps:
  - name: work
    type: shell
    command: |
      if [ -e running.pid ]; then
        echo "previous $(ps -o stat= -p "$(cat running.pid)" | tr -d ' ')" >> work.log
      fi
      echo $$ > running.pid
      echo started >> work.log
      sleep "$(cat nap)"
      echo finished >> work.log
"""


def start(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*maverick_executable(), *args],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*maverick_executable(), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def wait_for(path: Path, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}")


def only_run_dir(project: Path) -> Path:
    [run_dir] = run_dirs(project / ".maverick" / "checkpoints")
    return run_dir


def test_deleting_the_lock_file_does_not_let_a_second_process_execute_the_run(
    tmp_path: Path,
) -> None:
    (tmp_path / "wf.yaml").write_text(SLOW)
    first = start(tmp_path, "run", "wf.yaml", "-q")
    try:
        wait_for(tmp_path / "work.log", "first")
        run_dir = only_run_dir(tmp_path)
        (run_dir / "lock").unlink()
        second = run(tmp_path, "run", "wf.yaml", "--resume", run_dir.name)
        assert second.returncode == 2, second.stderr
        assert f"is being executed by pid {first.pid}" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        (tmp_path / "go").touch()
        first.communicate(timeout=60)
    assert first.returncode == 0
    lines = (tmp_path / "work.log").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["first", "second"]
    with FileStore(run_dir.parent) as store:
        # the first process's checkpoint, then its final record: nothing from the second
        records = list(store.read_checkpoints(run_dir.name))
        assert [(r.seq, r.kind) for r in records] == [(1, "delta"), (2, "final")]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to see process states")
def test_resume_after_sigkill_stops_the_orphans_before_the_step_reruns(tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(ORPHAN)
    (tmp_path / "nap").write_text("300\n")
    first = start(tmp_path, "run", "wf.yaml", "-q")
    log = tmp_path / "work.log"
    wait_for(log, "started")
    orphan_pid = int((tmp_path / "running.pid").read_text())
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    # SIGKILL stops maverick only: its step's shell lives on in its own session
    assert psutil.Process(orphan_pid).status() != psutil.STATUS_ZOMBIE

    (tmp_path / "nap").write_text("0\n")
    resumed = run(tmp_path, "run", "wf.yaml", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "terminated processes the previous attempt left running" in resumed.stdout
    lines = [line.strip() for line in log.read_text().splitlines()]
    # when the step ran again, the orphan was gone (or a zombie awaiting its reaper)
    assert lines[0] == "started"
    assert lines[1] == "previous" or lines[1].startswith("previous Z"), lines
    assert lines[2:] == ["started", "finished"]
    with pytest.raises(psutil.NoSuchProcess):
        if psutil.Process(orphan_pid).status() == psutil.STATUS_ZOMBIE:
            raise psutil.NoSuchProcess(orphan_pid)
    assert not list((tmp_path / ".maverick" / "processes").glob("*.json"))


def test_an_unrelated_process_in_a_reused_group_id_is_left_alone(tmp_path: Path) -> None:
    from maverick_core.engine.processes import reap_orphans

    stranger = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        ledger = tmp_path / "ledger.json"
        ledger.write_text(
            f'{{"mark": "not-its-mark", "groups": [{{"pgid": {stranger.pid}, "start": 1.0}}]}}'
        )
        assert reap_orphans(ledger, grace=0.1) == []
        assert stranger.poll() is None
        assert not ledger.exists()
    finally:
        os.killpg(stranger.pid, signal.SIGKILL)
        stranger.wait()
