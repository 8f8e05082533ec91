"""The ``maverick`` entry points of the installed distributions, remembered between starts.

Finding them through :func:`importlib.metadata.entry_points` reads the metadata of
every distribution on ``sys.path`` (and imports the ``email`` package to parse it):
the largest part of what ``maverick --help`` spent beyond importing its libraries.
What the group resolved to is therefore kept in the user's cache directory
(``$XDG_CACHE_HOME/maverick``, default ``~/.cache/maverick``), one small file per
``sys.path``, together with the modification time of every ``sys.path`` entry.
Installing, upgrading or removing a distribution adds or removes a ``*.dist-info``
(or ``*.egg-info``) directory, which changes its directory's modification time; a
new path entry (a ``.pth`` file, ``PYTHONPATH``) changes ``sys.path``. Either makes
the next start scan again. A directory modified within the last two seconds is not
trusted (its timestamp may not yet show a change made in the same clock tick), and
a cache that cannot be read or written is simply not used. Editing an installed
``entry_points.txt`` in place changes no directory: that alone goes unseen.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import zlib
from functools import reduce
from importlib import import_module
from pathlib import Path
from typing import Any

CACHE_FORMAT = 1
RECENT_SECONDS = 2.0
"""A path entry modified this recently is not cached: a change within the same timestamp
tick would not show (2 s: FAT's granularity, the coarsest in common use)."""


class EntryPointInfo:
    """One entry point of the group: what to import and which distribution declared it.

    A plain class: building an attrs class costs a compile, and every start makes this one.
    """

    __slots__ = ("distribution", "name", "value", "version")

    def __init__(self, name: str, value: str, distribution: str, version: str) -> None:
        self.name = name
        self.value = value  # "module" or "module:attribute.path" (extras ignored)
        self.distribution = distribution
        self.version = version

    def load(self) -> Any:
        """Import the module and return the object the entry point names."""
        reference = self.value.split("[", 1)[0]
        module_name, _, attribute = reference.partition(":")
        module = import_module(module_name.strip())
        return reduce(getattr, filter(None, attribute.strip().split(".")), module)


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/maverick`` (``~/.cache/maverick``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "maverick"


def _path_state() -> list[list[Any]]:
    """Each ``sys.path`` entry (``""`` is the current directory) with its mtime in ns."""
    state: list[list[Any]] = []
    for entry in sys.path:
        path = entry or os.getcwd()
        try:
            mtime: int | None = os.stat(path).st_mtime_ns
        except (OSError, ValueError):
            mtime = None
        state.append([path, mtime])
    return state


def _cache_file(group: str, state: list[list[Any]]) -> Path:
    paths = "\0".join([group, *(path for path, _ in state)])
    return user_cache_dir() / f"entry-points-{zlib.crc32(paths.encode()):08x}.json"


def _scan(group: str) -> list[EntryPointInfo]:
    from importlib import metadata

    found = []
    for ep in metadata.entry_points(group=group):
        dist = ep.dist
        found.append(
            EntryPointInfo(
                name=ep.name,
                value=ep.value,
                distribution=dist.metadata["Name"] if dist else "",
                version=dist.version if dist else "",
            )
        )
    return found


def _read(file: Path, state: list[list[Any]]) -> list[EntryPointInfo] | None:
    try:
        with open(file, encoding="utf-8") as handle:
            cached = json.load(handle)
        if cached["format"] != CACHE_FORMAT or cached["paths"] != state:
            return None
        return [EntryPointInfo(*fields) for fields in cached["entry_points"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(file: Path, state: list[list[Any]], found: list[EntryPointInfo]) -> None:
    newest = max((mtime for _, mtime in state if mtime is not None), default=0)
    if newest / 1e9 > time.time() - RECENT_SECONDS:
        return
    data = {
        "format": CACHE_FORMAT,
        "paths": state,
        "entry_points": [[e.name, e.value, e.distribution, e.version] for e in found],
    }
    temporary = file.with_name(f"{file.name}.{os.getpid()}.tmp")
    try:
        file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary.write_text(json.dumps(data), encoding="utf-8")
        os.replace(temporary, file)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def entry_points(group: str) -> list[EntryPointInfo]:
    """The entry points of ``group``, in :func:`importlib.metadata.entry_points` order."""
    state = _path_state()
    try:
        file = _cache_file(group, state)
    except RuntimeError:  # no home directory to keep a cache in (an unnamed uid)
        return _scan(group)
    found = _read(file, state)
    if found is None:
        found = _scan(group)
        _write(file, state, found)
    return found
