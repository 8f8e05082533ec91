"""Reading a text file a user (or an attacker) wrote, within fixed bounds.

Only a regular file is read (a FIFO or ``/dev/zero`` is refused without blocking or
reading forever), at most :attr:`Limits.max_bytes` of it, as UTF-8. Kept apart from
:mod:`~maverick_core.engine.safeyaml` (which re-exports all of it), so that reading a
file whose parse is cached imports no YAML library (docs/benchmarks.md, start-up).
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, NamedTuple

from maverick_core.engine.errors import DefinitionError, Location

if TYPE_CHECKING:
    from pathlib import Path


class Limits(NamedTuple):
    """Bounds on one YAML document.

    A NamedTuple, not an attrs class: every command that reads ``maverick.yaml``
    builds this class, and an attrs class costs a compile (docs/benchmarks.md, start-up).

    :ivar max_bytes: the largest file read (bytes).
    :ivar max_nodes: scalars, sequences and mappings after expanding aliases.
    :ivar max_depth: how deeply collections may nest.
    """

    max_bytes: int = 256 << 10
    max_nodes: int = 20_000
    max_depth: int = 100


WORKFLOW_LIMITS = Limits()
"""Workflow files and ``maverick.yaml``: some 40 times the largest built-in workflow
(fly.yaml: 6 KiB, 383 values). The size bound is also a time bound: the worst
accepted file loads in well under a second, even with PyYAML's pure-Python parser."""

INPUT_LIMITS = Limits(max_bytes=256 << 10, max_nodes=10_000, max_depth=50)
"""One ``-i`` value: it is stored in the run record, so it is kept smaller."""


def read_text(path: str | Path, limits: Limits = WORKFLOW_LIMITS) -> str:
    """A regular file's text (UTF-8, at most ``limits.max_bytes``).

    :raises DefinitionError: located at the file, for anything else: a missing
        file, a directory, a FIFO or device (refused without blocking on it), a
        file too large, bytes that are not UTF-8 (located at the first bad one).
    """
    name = str(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise DefinitionError("no such file", Location(name, 1, 1)) from None
    except OSError as exc:
        raise DefinitionError(f"cannot read: {exc.strerror}", Location(name, 1, 1)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DefinitionError("not a regular file", Location(name, 1, 1))
        if info.st_size > limits.max_bytes:
            raise DefinitionError(
                f"the file is larger than {limits.max_bytes} bytes", Location(name, 1, 1)
            )
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
            size += len(chunk)
            if size > limits.max_bytes:  # it grew while being read
                raise DefinitionError(
                    f"the file is larger than {limits.max_bytes} bytes", Location(name, 1, 1)
                )
    except OSError as exc:
        raise DefinitionError(f"cannot read: {exc.strerror}", Location(name, 1, 1)) from None
    finally:
        os.close(fd)
    return decode(b"".join(chunks), name)


def decode(data: bytes, filename: str) -> str:
    """``data`` as UTF-8; a bad byte is a DefinitionError at its line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        raise DefinitionError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x})", Location(filename, line, column)
        ) from None
