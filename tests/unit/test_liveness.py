"""Is a lock holder alive? ``os.kill(pid, 0)`` plus psutil's start time, no ``/proc``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from maverick_core.api import LockHolder, process_alive, process_start_time
from maverick_core.testing.platforms import hide_proc

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def test_this_process_is_alive_and_is_itself() -> None:
    started = process_start_time(os.getpid())
    assert started is not None and started <= time.time()
    assert process_alive(os.getpid(), started)


def test_an_exited_and_reaped_process_is_dead() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not process_alive(proc.pid)


def test_an_exited_but_unreaped_process_is_dead() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        while process_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not process_alive(proc.pid)  # a zombie still answers kill(pid, 0)
    finally:
        proc.wait()


def test_a_reused_pid_is_not_the_holder(child: subprocess.Popen[bytes]) -> None:
    started = process_start_time(child.pid)
    assert started is not None
    # the holder named this pid, but its process started an hour before this one
    assert not process_alive(child.pid, started - 3600)
    assert process_alive(child.pid, started)


def test_without_proc_a_live_process_is_never_taken_for_dead(
    child: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    hide_proc(monkeypatch)
    assert process_alive(child.pid, 12345.0)  # no start time to compare: kill(0) decides
    assert process_alive(os.getpid())


def test_without_proc_a_dead_process_is_dead(monkeypatch: pytest.MonkeyPatch) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    hide_proc(monkeypatch)
    assert not process_alive(proc.pid)


def test_a_lock_holder_records_its_start_time_outside_equality() -> None:
    holder = LockHolder.current(1.0, "t")
    assert holder.started_at == process_start_time(os.getpid())
    assert holder == LockHolder(pid=holder.pid, host=holder.host, acquired_at=1.0, token="t")
    assert holder.is_alive_locally()


def test_a_start_time_read_from_proc_is_the_one_psutil_gives(
    child: subprocess.Popen[bytes],
) -> None:
    import psutil

    # the process ledger compares the two exactly: a /proc figure must equal psutil's
    for pid in (os.getpid(), child.pid):
        assert process_start_time(pid) == psutil.Process(pid).create_time()


def test_this_host_is_named_as_socket_names_it() -> None:
    import socket

    assert LockHolder.current(1.0).host == socket.gethostname()
    assert LockHolder.current(1.0).is_local()
