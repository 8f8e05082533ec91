"""What durability costs on this disk, without maverick: the floor of a commit.

Both functions work in ``directory``, which must be on the filesystem the
maverick stores under test write to, since fsync cost is a property of the
filesystem and device, not of the machine. They sync through maverick's own
durability helper (``sync_file``: ``fdatasync``, or ``F_FULLFSYNC`` on macOS), so
the floor is measured with the same call a commit makes on every platform.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

from maverick_core.api import atomic_write, sync_file


def append_fdatasync_seconds(directory: Path, record_size: int, count: int) -> float:
    """Median time of one ``write`` of ``record_size`` bytes plus ``sync_file``.

    The file is opened once with ``O_APPEND``, as a journal is: this is the least
    a durable commit of one record can cost here.
    """
    record = b"x" * (record_size - 1) + b"\n"
    path = directory / f"floor-{time.monotonic_ns()}.log"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    times: list[float] = []
    try:
        # The first appends allocate the file's first blocks; let them happen
        # off the clock, as they have by the time a journal is in use.
        for _ in range(20):
            os.write(fd, record)
            sync_file(fd)
        for _ in range(count):
            started = time.perf_counter()
            os.write(fd, record)
            sync_file(fd)
            times.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(times)


def prealloc_overwrite_seconds(directory: Path, record_size: int, count: int) -> float:
    """Median time of one ``pwrite`` of ``record_size`` bytes over zeros plus ``sync_file``.

    The file is filled with zeros and synced first (really written, as the file
    store's journal segments are), so each sync flushes data only: no size or
    block map change. This is the floor of a commit to a preallocated journal.
    """
    syncs, _, _ = _preallocated_commits(directory, record_size, count)
    return statistics.median(syncs)


_VALUE = {"status": "completed", "output": [1, 2, 3], "started_at": 1.5}


def busy(microseconds: float) -> None:
    """Run Python code (encoding a small dict as JSON) for ``microseconds``."""
    until = time.perf_counter() + microseconds / 1e6
    while time.perf_counter() < until:
        json.dumps(_VALUE)


def _task() -> float:
    """Seconds to encode a small dict ten times: a fixed piece of Python work."""
    started = time.perf_counter()
    for _ in range(10):
        json.dumps(_VALUE)
    return time.perf_counter() - started


def prealloc_after_work_seconds(
    directory: Path, record_size: int, count: int, work_us: float
) -> tuple[float, float]:
    """The preallocated-overwrite floor when ``work_us`` of Python work comes before each
    commit, as a step's own work does: (median write + sync, median time of a fixed
    piece of work run right after the sync over the same run again at once).

    On some machines (virtual ones especially) a sync that follows CPU work costs more
    than one issued back to back, and the code that runs after a sync runs slower than
    the same code run a moment later: every real commit pays both, the floors above
    neither. The second figure is that slow-down as a ratio.
    """
    syncs, after, warm = _preallocated_commits(directory, record_size, count, work_us, True)
    return statistics.median(syncs), statistics.median(after) / statistics.median(warm)


def _preallocated_commits(
    directory: Path, record_size: int, count: int, work_us: float = 0, task: bool = False
) -> tuple[list[float], list[float], list[float]]:
    """Time ``count`` overwrites of zeros + ``sync_file`` (after 20 off the clock).

    With ``work_us``, that much Python work runs before each; with ``task``, a fixed
    piece of work is timed right after each sync and again at once.
    :returns: the syncs' times, and the task's after the sync and again (or empty).
    """
    record = b"x" * record_size
    path = directory / f"prealloc-{time.monotonic_ns()}.jnl"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    syncs: list[float] = []
    after: list[float] = []
    warm: list[float] = []
    try:
        os.write(fd, bytes(record_size * (count + 20)))
        sync_file(fd)
        offset = 0
        for index in range(count + 20):
            if work_us:
                busy(work_us)
            started = time.perf_counter()
            os.pwrite(fd, record, offset)
            sync_file(fd)
            synced = time.perf_counter()
            if index >= 20:  # the same warm-up as the append floor's
                syncs.append(synced - started)
                if task:
                    after.append(_task())
                    warm.append(_task())
            offset += record_size
    finally:
        os.close(fd)
        path.unlink()
    return syncs, after, warm


def atomic_replace_seconds(directory: Path, record_size: int, count: int) -> float:
    """Median time of write temp + sync + rename over the target + sync directory.

    This is how a store that rewrites a file per commit makes it durable and
    atomic; the journal's single append is compared against it.
    """
    record = b"x" * (record_size - 1) + b"\n"
    target = directory / f"replace-{time.monotonic_ns()}"
    times: list[float] = []
    for index in range(count + 5):
        started = time.perf_counter()
        atomic_write(target, record)
        if index >= 5:  # the first few create the files: warm-up, off the record
            times.append(time.perf_counter() - started)
    target.unlink()
    return statistics.median(times)
