"""The one process runner: own session, stdin fed, output captured, tree killed."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TYPE_CHECKING

import pytest

from maverick_core.api import ProcessGroup, StepFailed, run_process
from maverick_core.engine import processes

if TYPE_CHECKING:
    from pathlib import Path


def gone(pid: int, within: float = 10.0) -> bool:
    """True once ``pid`` no longer exists (a zombie counts as gone)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                if handle.read().rpartition(")")[2].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def read_pid(path: Path, within: float = 10.0) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if text.endswith("\n"):
            return int(text)
        time.sleep(0.02)
    raise AssertionError(f"{path} was never written")


def test_run_process_feeds_stdin_and_captures_both_streams(tmp_path: Path) -> None:
    script = (
        "import sys; data = sys.stdin.read(); print(data.upper()); print('warn', file=sys.stderr)"
    )
    result = run_process([sys.executable, "-c", script], cwd=tmp_path, input="héllo")
    assert result.ok
    assert result.stdout == "HÉLLO\n"
    assert result.stderr == "warn\n"


def test_merge_stderr_puts_both_streams_in_stdout(tmp_path: Path) -> None:
    result = run_process(["sh", "-c", "echo out; echo err >&2; exit 3"], merge_stderr=True)
    assert result.returncode == 3 and not result.ok
    assert sorted(result.stdout.split()) == ["err", "out"]
    assert result.stderr == ""


def test_child_leads_its_own_session(tmp_path: Path) -> None:
    result = run_process([sys.executable, "-c", "import os; print(os.getsid(0) == os.getpid())"])
    assert result.stdout.strip() == "True"


def test_timeout_kills_the_whole_tree_and_keeps_earlier_output(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = f"sleep 60 & echo $! > {pidfile}; echo started; wait"
    result = run_process(["sh", "-c", script], timeout=1.0)
    assert result.timed_out and not result.ok
    assert result.stdout == "started\n"
    assert gone(read_pid(pidfile)), "the grandchild outlived the timeout"


def test_a_daemon_holding_the_pipes_does_not_hang_the_runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processes, "DRAIN_AFTER_KILL", 0.5)
    pidfile = tmp_path / "pid"
    # setsid: the daemon leaves the process group, so the tree kill cannot reach it
    script = f"setsid sleep 60 & echo $! > {pidfile}; wait"
    try:
        result = run_process(["sh", "-c", script], timeout=0.5)
        assert result.timed_out
    finally:
        os.kill(read_pid(pidfile), 9)


def test_terminate_all_stops_a_running_tree(tmp_path: Path) -> None:
    group = ProcessGroup()
    pidfile = tmp_path / "pid"
    results = []

    def work() -> None:
        results.append(
            run_process(["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"], group=group)
        )

    worker = threading.Thread(target=work)
    worker.start()
    grandchild = read_pid(pidfile)
    group.terminate_all(grace=1.0)
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert results[0].returncode != 0
    assert gone(grandchild)


def test_a_program_that_cannot_start_is_a_step_failure(tmp_path: Path) -> None:
    with pytest.raises(StepFailed, match="cannot run no-such-program-here"):
        run_process(["no-such-program-here"], cwd=tmp_path)


def test_on_line_gets_each_stdout_line_while_the_child_still_runs(tmp_path: Path) -> None:
    go = tmp_path / "go"
    code = (
        "import pathlib, sys, time\n"
        "print('first', flush=True)\n"
        f"while not pathlib.Path({str(go)!r}).exists(): time.sleep(0.01)\n"
        "print(sys.stdin.read().upper(), end='')\n"
    )
    seen: list[str] = []

    def on_line(line: str) -> None:
        seen.append(line)
        go.touch()  # the child waits for this: the line arrived before it ended

    result = run_process([sys.executable, "-c", code], input="a\nb", on_line=on_line, timeout=30)
    assert seen == ["first", "A", "B"]
    assert result.returncode == 0 and result.stdout == "first\nA\nB"


def test_on_line_with_a_timeout_kills_the_tree_and_keeps_what_arrived(tmp_path: Path) -> None:
    code = "import time\nprint('started', flush=True)\ntime.sleep(60)\n"
    seen: list[str] = []
    result = run_process([sys.executable, "-c", code], on_line=seen.append, timeout=1)
    assert result.timed_out and seen == ["started"]
