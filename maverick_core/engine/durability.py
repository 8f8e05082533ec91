"""Making writes durable, the same way on every platform: one helper for every store.

``sync_file`` is what a checkpoint commit waits for:

- Linux and other systems with ``os.fdatasync``: ``fdatasync`` (the data and the
  metadata needed to read it back, not the timestamps).
- macOS: ``fcntl(fd, F_FULLFSYNC)``. There ``fsync`` only hands the data to the
  drive, whose cache may still lose it on a power cut; ``F_FULLFSYNC`` also flushes
  that cache (what SQLite's ``fullfsync`` pragma does). It is slower, so the
  durability setting ``fsync`` (``durability: fsync`` in ``maverick.yaml`` or
  ``MAVERICK_DURABILITY=fsync``) trades it for plain ``fsync``: a crash of maverick
  or of the OS still loses nothing, a power loss may lose the last checkpoints.
- elsewhere: ``fsync``.

``sync_directory`` makes a rename or a new file in a directory durable where the
platform can open a directory; ``atomic_write`` combines both into the
write-temporary, sync, rename, sync-directory sequence.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sys
from pathlib import Path

from maverick_core.engine.errors import MaverickError

ENV_VAR = "MAVERICK_DURABILITY"
FULL = "full"
FSYNC = "fsync"
MODES = (FULL, FSYNC)
F_FULLFSYNC: int = getattr(fcntl, "F_FULLFSYNC", 51)  # the macOS value, for platforms without it
"""``fcntl`` command that flushes the drive's cache too (macOS)."""

# F_FULLFSYNC is refused by file systems that cannot do it (SMB, FAT, some FUSE):
# there plain fsync is the best there is, as SQLite also falls back to.
_NO_FULLFSYNC = {errno.EINVAL, errno.ENOTSUP, errno.ENOTTY, errno.EOPNOTSUPP}
_mode: str | None = None


def set_durability(mode: str | None) -> None:
    """Choose how :func:`sync_file` syncs on macOS: ``full`` (default) or ``fsync``.

    None goes back to the environment variable ``MAVERICK_DURABILITY`` (else ``full``).

    :raises MaverickError: for any other value (exit 2).
    """
    global _mode
    if mode is not None and mode not in MODES:
        raise MaverickError(
            f"durability (maverick.yaml or {ENV_VAR}) must be one of "
            f"{', '.join(MODES)}, got {mode!r}"
        )
    _mode = mode


def durability() -> str:
    """The durability in force: the setting, else ``MAVERICK_DURABILITY``, else ``full``."""
    mode = _mode or os.environ.get(ENV_VAR) or FULL
    return mode if mode in MODES else FULL


def sync_file(fd: int) -> None:
    """Wait until what was written to ``fd`` survives a crash (see the module doc).

    :raises OSError: when the system reports the data could not be written.
    """
    if sys.platform == "darwin" and durability() == FULL:
        try:
            fcntl.fcntl(fd, F_FULLFSYNC)
            return
        except OSError as error:
            if error.errno not in _NO_FULLFSYNC:
                raise
    fdatasync = getattr(os, "fdatasync", None)
    if fdatasync is not None:
        fdatasync(fd)
    else:
        os.fsync(fd)


def sync_directory(path: Path | str) -> None:
    """Make the entries of directory ``path`` (a rename, a new file) durable.

    A no-op where directories cannot be opened (Windows); a file system that refuses
    to sync a directory (EINVAL) has nothing more to give, so that is not an error.

    :raises OSError: when the directory cannot be opened or the sync fails.
    """
    if sys.platform == "win32":
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
    try:
        sync_file(fd)
    except OSError as error:
        if error.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


def atomic_write(path: Path | str, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new content.

    Writes a temporary file beside it (created with ``mode``), syncs it, renames it
    over ``path`` and syncs the directory. The temporary file has an unpredictable
    name and is created exclusively without following links, so nothing planted in
    the directory can redirect the write.

    :raises OSError: the temporary file is removed first.
    """
    target = Path(path)
    # os.urandom is what secrets.token_hex reads, without importing hashlib at start-up
    temp = target.with_name(f".{target.name}.{os.urandom(8).hex()}.tmp")
    try:
        fd = os.open(
            temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode
        )
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            sync_file(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
        sync_directory(target.parent)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
