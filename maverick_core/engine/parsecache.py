"""What reading a YAML text gave, remembered between starts, so a start can skip YAML.

Importing the YAML library and composing a document with positions took about a
tenth of a one-step ``maverick run`` (docs/benchmarks.md, start-up), for a workflow
and a ``maverick.yaml`` that rarely change. The loader and the settings reader keep
here, after a read that found no error, the plain data and the position of each
value and key, under the user's cache directory (``$XDG_CACHE_HOME/maverick/parsed``,
as :mod:`~maverick_core.engine.entrypoints` keeps its cache). An entry holds the text
it was read from and is used only for that exact text, this format, this version of
maverick and these sources of the readers (the size and modification time of the
modules that turn YAML into data: an upgrade or an edit of them reads again); data
that JSON cannot hold exactly (a key that is not a string) is not kept. A cache that
cannot be read or written is not used, and the readers fall back to YAML whenever a
cached read leads to any error, so messages keep their positions.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import zlib
from typing import TYPE_CHECKING, Any

from maverick_core import __version__
from maverick_core.engine.entrypoints import user_cache_dir

if TYPE_CHECKING:
    from collections.abc import Mapping

CACHE_FORMAT = 1
READERS = ("safeyaml.py", "textfile.py", "settings.py", "parsecache.py", "dsl/loader.py")
"""The modules (under ``engine/``) whose code decides what a text reads as."""
MAX_ENTRIES = 256
"""Entries kept; a store beyond it removes the least recently written half."""

Positions = list[list[Any]]
"""``[[path as a list, line, column], ...]``: where each value (or key) was written."""


def _readers() -> list[list[int]]:
    """Size and modification time (ns) of each of :data:`READERS`."""
    engine = os.path.dirname(os.path.abspath(__file__))
    stamps = []
    for name in READERS:
        info = os.stat(os.path.join(engine, name))
        stamps.append([info.st_size, info.st_mtime_ns])
    return stamps


def _file(kind: str, text: str) -> Any:
    key = zlib.crc32(f"{kind}\0{CACHE_FORMAT}\0{__version__}\0{text}".encode())
    return user_cache_dir() / "parsed" / f"{kind}-{key:08x}.json"


def lookup(kind: str, text: str) -> dict[str, Any] | None:
    """The entry stored for ``text`` (``data``, ``values``, ``keys``), or None."""
    try:
        with open(_file(kind, text), encoding="utf-8") as handle:
            entry = json.load(handle)
        if (
            type(entry) is dict
            and entry.get("text") == text
            and entry.get("version") == __version__
            and entry.get("format") == CACHE_FORMAT
            and entry.get("readers") == _readers()
        ):
            return entry
    except (OSError, ValueError, RuntimeError):  # RuntimeError: no home directory
        pass
    return None


def positions(locations: Mapping[tuple[Any, ...], Any]) -> Positions:
    """``[[path as a list, line, column], ...]`` of a reader's locations by path (anything
    with ``line`` and ``column``)."""
    return [[list(path), at.line, at.column] for path, at in locations.items()]


def store(kind: str, text: str, data: Any, values: Positions, keys: Positions) -> None:
    """Keep what reading ``text`` gave, if JSON holds it exactly (else nothing)."""
    from maverick_core.engine.plaindata import find_non_plain  # once per new text

    # only what JSON gives back exactly: no tuples, str keys only, no subclasses
    if find_non_plain(data, exact=True) is not None:
        return
    try:
        readers = _readers()
    except OSError:  # sources not on disk (a zip): nothing to tell an edit by
        return
    entry = {
        "format": CACHE_FORMAT,
        "version": __version__,
        "readers": readers,
        "text": text,
        "data": data,
        "values": values,
        "keys": keys,
    }
    try:
        file = _file(kind, text)
        file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # one writer per name: loops load subworkflows from several threads at once
        temporary = file.with_name(f"{file.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            # the owner's only, as the text may be (maverick.yaml can name credentials)
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, ensure_ascii=False))
            os.replace(temporary, file)
        finally:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
        _prune(file.parent)
    except (OSError, ValueError, RuntimeError):
        return


def _prune(directory: Any) -> None:
    entries = list(os.scandir(directory))
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort(key=lambda entry: entry.stat().st_mtime)
    for entry in entries[: len(entries) // 2]:
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
