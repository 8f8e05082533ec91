"""Child processes of a run: started in their own session, terminated together.

Shell steps, agents and validation commands start processes through a
:class:`ProcessGroup`, so an interrupted run (SIGINT/SIGTERM) stops every process
tree it started instead of leaving orphans behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from typing import Any


class ProcessGroup:
    """Child processes of the run, terminated together when it is interrupted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()

    def popen(self, *args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start a process in its own session so the whole tree can be signalled."""
        kwargs.setdefault("start_new_session", True)
        proc: subprocess.Popen[bytes] = subprocess.Popen(*args, **kwargs)
        with self._lock:
            self._procs.add(proc)
        return proc

    def forget(self, proc: subprocess.Popen[bytes]) -> None:
        """Stop tracking a finished process."""
        with self._lock:
            self._procs.discard(proc)

    def terminate_all(self, grace: float = 3.0) -> None:
        """SIGTERM every live process group, then SIGKILL what is left after ``grace``."""
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            kill_tree(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            kill_tree(proc, signal.SIGKILL)


def kill_tree(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Signal a child's whole process group (it leads its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
