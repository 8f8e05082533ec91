"""Is a process still there, and is it the same process? Without depending on ``/proc``.

Lock takeover asks whether the process that holds a run's lock on this host still
runs. ``os.kill(pid, 0)`` answers on every POSIX system but cannot tell a holder
from a later process that was given the same pid; the process's start time can, and
psutil reads it on Linux, macOS and the BSDs alike (``/proc`` exists on Linux only).
A process's own start time, which every lock it takes records, is read from
``/proc`` where there is one, the way psutil computes it, so taking a lock does not
import psutil.
"""

from __future__ import annotations

import os

# psutil reports start times rounded differently per platform (clock ticks on
# Linux, microseconds on macOS); two readings of one process agree within this.
START_TIME_TOLERANCE = 0.05


def host_name() -> str:
    """This machine's name, as ``socket.gethostname()`` gives it (``uname`` nodename).

    On Linux and macOS both read the same kernel field; ``os.uname`` spares every
    command that opens a store the import of :mod:`socket`.
    """
    return os.uname().nodename


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), or None if unknown."""
    started = _start_time_from_proc(pid)
    if started is not None:
        return started
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


def _start_time_from_proc(pid: int) -> float | None:
    """Process ``pid``'s start time computed as psutil does on Linux, from ``/proc``.

    Every run takes a lock naming its own process and records each child it starts;
    reading two small files is cheaper than importing psutil. psutil's Linux figure
    is the ``starttime`` field of ``/proc/PID/stat`` (clock ticks since boot) over
    ``SC_CLK_TCK``, plus ``btime`` from ``/proc/stat``, in that order of floating-point
    operations; so is this one, so the two compare equal. None where ``/proc`` is
    missing or the process is gone.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
        with open("/proc/stat", "rb") as handle:
            boot = next(line for line in handle if line.startswith(b"btime"))
        ticks = float(stat[stat.rfind(b")") + 2 :].split()[19])
        return ticks / os.sysconf("SC_CLK_TCK") + float(boot.split()[1])
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _signalable(pid: int) -> bool:
    """``kill(pid, 0)``: the pid exists (another user's process counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
