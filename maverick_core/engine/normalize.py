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
from pathlib import PurePath
from typing import Any

import attrs

from maverick_core.engine.errors import StepFailed

MAX_DEPTH = 200


def normalize(value: Any, path: str) -> Any:
    """Return ``value`` as plain data (dict/list/str/int/float/bool/None).

    Tuples and sets become lists (sets sorted when possible), attrs classes and
    dataclasses become dicts, datetimes ISO text, paths and enums their text or
    value. Raises :class:`StepFailed` naming ``path.to.value`` otherwise.
    """
    return _normalize(value, path, 0)


def _normalize(value: Any, path: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise StepFailed(f"{path}: nested too deeply (more than {MAX_DEPTH} levels)")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, enum.Enum):
                key = key.value
            if not isinstance(key, str | int | float | bool):
                raise StepFailed(
                    f"{path}: key {key!r} of type {type(key).__name__} is not serializable"
                )
            text_key = key if isinstance(key, str) else _key_text(key)
            result[text_key] = _normalize(item, f"{path}.{text_key}", depth + 1)
        return result
    if isinstance(value, list | tuple):
        return [_normalize(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        items = [_normalize(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=repr)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return _normalize(value.value, path, depth + 1)
    if attrs.has(type(value)):
        fields = {f.name: getattr(value, f.name) for f in attrs.fields(type(value))}
        return _normalize(fields, path, depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return _normalize(fields, path, depth + 1)
    kind = f"{type(value).__module__}.{type(value).__qualname__}".removeprefix("builtins.")
    raise StepFailed(f"{path}: {kind} is not serializable")


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)
