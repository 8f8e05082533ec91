"""Is a process still there, and is it the same process? Without ``/proc``.

Lock takeover asks whether the process that holds a run's lock on this host still
runs. ``os.kill(pid, 0)`` answers on every POSIX system but cannot tell a holder
from a later process that was given the same pid; the process's start time can, and
psutil reads it on Linux, macOS and the BSDs alike (``/proc`` exists on Linux only).
"""

from __future__ import annotations

import os

# psutil reports start times rounded differently per platform (clock ticks on
# Linux, microseconds on macOS); two readings of one process agree within this.
START_TIME_TOLERANCE = 0.05


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), or None if unknown."""
    import psutil  # imported here: only commands that take a lock pay for it

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, OSError, ValueError):
        return None


def process_alive(pid: int, started_at: float | None = None) -> bool:
    """Whether process ``pid`` on this host runs (and, given ``started_at``, is that one).

    Errs towards "alive": only a missing pid, a zombie or a start time that differs
    from ``started_at`` (the pid now belongs to another process) count as dead,
    since taking a live holder's lock would let two processes write one run.
    """
    if pid <= 0 or not _signalable(pid):
        return False
    import psutil

    try:
        process = psutil.Process(pid)
        with process.oneshot():
            if process.status() == psutil.STATUS_ZOMBIE:
                return False
            created = process.create_time()
    except psutil.ZombieProcess:
        return False
    except (psutil.Error, OSError, ValueError):
        # Gone since the kill, or the platform would not say: kill(0) is the answer.
        return _signalable(pid)
    return started_at is None or abs(created - started_at) <= START_TIME_TOLERANCE


def _signalable(pid: int) -> bool:
    """``kill(pid, 0)``: the pid exists (another user's process counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
