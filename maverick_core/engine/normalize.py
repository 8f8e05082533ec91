"""Turn step outputs into plain data when the step finishes.

Every run (resumed or not) sees outputs after this step, so a resumed run sees
exactly what an uninterrupted one would. What cannot become plain data fails the
step that produced it, naming the path to the value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping
from itertools import chain
from pathlib import PurePath
from typing import Any

import attrs

from maverick_core.engine.collector import collector_paused
from maverick_core.engine.errors import StepFailed
from maverick_core.engine.plainclass import PlainClass
from maverick_core.engine.plaindata import MAX_DEPTH, Descend, NotPlainData, walk_plain


def normalize(value: Any, path: str) -> Any:
    """Return ``value`` as plain data (dict/list/str/int/float/bool/None).

    Tuples and sets become lists (sets sorted when possible), attrs classes and
    dataclasses become dicts, datetimes ISO text, paths and enums their text or
    value. Raises :class:`StepFailed` naming ``path.to.value`` otherwise.
    """
    try:
        return _copy_plain(value, 0)
    except _NotExact:
        pass
    try:
        return walk_plain(value, _plain, path, key=_key, max_depth=MAX_DEPTH)
    except NotPlainData as problem:
        raise StepFailed(f"{problem.path}: {problem.reason}") from None


_EXACT_SCALARS = frozenset({str, int, float, bool, type(None)})


class _NotExact(Exception):
    """Raised by :func:`_copy_plain` on anything but exact plain types: walk it the long way."""


def _copy_plain(value: Any, depth: int) -> Any:
    """A copy of ``value`` if it is made of exactly dict (str keys), list and plain scalars.

    Most outputs already are (a resumed loop's restored results are, by
    construction): this copies them without building a path string per value.
    Anything else (a tuple, a subclass, a non-str key, nesting past
    :data:`MAX_DEPTH`) raises :class:`_NotExact`, and :func:`walk_plain` then
    converts it, or names the path to what it cannot.
    """
    kind = type(value)
    if kind in _EXACT_SCALARS:
        return value
    if depth >= MAX_DEPTH:
        raise _NotExact
    if kind is dict:
        copy: dict[str, Any] = {}
        for name, item in value.items():
            if type(name) is not str:
                raise _NotExact
            copy[name] = item if type(item) in _EXACT_SCALARS else _copy_plain(item, depth + 1)
        return copy
    if kind is list:
        kinds = set(map(type, value))
        if kinds <= _EXACT_SCALARS:
            return value.copy()
        if kinds == _DICT and depth + 1 < MAX_DEPTH and _flat_dicts(value):
            return _copy_flat_dicts(value)
        return [
            item if type(item) in _EXACT_SCALARS else _copy_plain(item, depth + 1) for item in value
        ]
    raise _NotExact


_DICT = {dict}
_STR = {str}


def _copy_flat_dicts(dicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy of a list of flat mappings (a loop's results), each mapping copied in C.

    Python's cyclic garbage collector is paused meanwhile (as it was, after): every
    700 new mappings set off a young collection, and each walked the whole list
    being copied (young too); copying ten thousand results cost about 14 of them
    (3 ms), copying plain data makes no cycles, and the count of new objects stands,
    so the collection that is due still runs after.
    """
    if len(dicts) < _PAUSE_FROM:
        return list(map(dict.copy, dicts))
    with collector_paused():
        return list(map(dict.copy, dicts))


_PAUSE_FROM = 1000


def _flat_dicts(dicts: list[dict[Any, Any]]) -> bool:
    """True when every mapping of ``dicts`` has str keys and exact plain scalar values
    (each check one pass in C: a loop of ten thousand iterations returns such a list)."""
    return (
        set(map(type, chain.from_iterable(dicts))) <= _STR
        and set(map(type, chain.from_iterable(map(dict.values, dicts)))) <= _EXACT_SCALARS
    )


def _plain(value: Any, path: str) -> Any:
    """One value that is not a dict or a list, as plain data (or what to walk instead)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        return Descend(dict(value.items()))
    if isinstance(value, tuple):
        return Descend(list(value))
    if isinstance(value, set | frozenset):
        return Descend(list(value), then=_sorted)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return Descend(value.value)
    if attrs.has(type(value)):
        return Descend({f.name: getattr(value, f.name) for f in attrs.fields(type(value))})
    if isinstance(value, PlainClass):  # written out instead of attrs: the same fields
        return Descend(dict(zip(value._FIELDS, value._values(), strict=True)))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return Descend({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    kind = f"{type(value).__module__}.{type(value).__qualname__}".removeprefix("builtins.")
    raise NotPlainData(path, f"{kind} is not serializable")


def _key(key: Any, path: str) -> str:
    if isinstance(key, enum.Enum):
        key = key.value
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int | float):
        return str(key)
    raise NotPlainData(path, f"key {key!r} of type {type(key).__name__} is not serializable")


def _sorted(items: list[Any]) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=repr)
