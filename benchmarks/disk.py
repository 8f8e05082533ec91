"""What durability costs on this disk, without maverick: the floor of a commit.

Both functions work in ``directory``, which must be on the filesystem the
maverick stores under test write to, since fsync cost is a property of the
filesystem and device, not of the machine.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path


def append_fdatasync_seconds(directory: Path, record_size: int, count: int) -> float:
    """Median time of one ``write`` of ``record_size`` bytes plus ``fdatasync``.

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
            os.fdatasync(fd)
        for _ in range(count):
            started = time.perf_counter()
            os.write(fd, record)
            os.fdatasync(fd)
            times.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(times)


def atomic_replace_seconds(directory: Path, record_size: int, count: int) -> float:
    """Median time of write temp + fsync + rename over the target + fsync directory.

    This is how a store that rewrites a file per commit makes it durable and
    atomic; the journal's single append is compared against it.
    """
    record = b"x" * (record_size - 1) + b"\n"
    target = directory / f"replace-{time.monotonic_ns()}"
    temp = target.with_name(target.name + ".tmp")
    times: list[float] = []
    for index in range(count + 5):
        started = time.perf_counter()
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, record)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        if index >= 5:  # the first few create the files: warm-up, off the record
            times.append(time.perf_counter() - started)
    target.unlink()
    return statistics.median(times)
