"""The one walk over plain data: dicts and lists rebuilt, every other value handed on.

Plain data is what a checkpoint holds: dict (str keys, order kept), list, str, int,
float, bool, None. Several parts walk it: normalizing a step's output, the
serializers naming the value they cannot encode, masking secrets wherever data is
persisted or shown (:class:`~maverick_core.engine.secrets.SecretMasker`). They all
go through :func:`walk_plain`, so paths read the same everywhere
(``$.steps.fetch.output.items[2]``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 200
"""How deeply a step's output may nest: deeper is refused, well before Python's
recursion limit, so what is persisted can always be walked again."""

PLAIN_SCALARS = (str, int, float, bool, type(None))
PLAIN_DESCRIPTION = "plain data only: dict with str keys, list, str, int, float, bool, None"


class NotPlainData(ValueError):
    """A value that cannot be plain data, and where it is.

    :ivar path: ``$.a.b[2]``-style path to the value.
    :ivar reason: what is wrong with it.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class Descend:
    """What a ``leaf`` returns to have ``value`` walked in its place (a tuple as a list).

    :param then: applied to the walked copy (sorting a set's items once they are plain).
    """

    __slots__ = ("then", "value")

    def __init__(self, value: Any, then: Callable[[Any], Any] | None = None) -> None:
        self.value = value
        self.then = then


Leaf = Callable[[Any, str], Any]
Key = Callable[[Any, str], Any]


def walk_plain(
    value: Any,
    leaf: Leaf,
    path: str = "$",
    *,
    key: Key | None = None,
    exact: bool = False,
    max_depth: int | None = None,
) -> Any:
    """A copy of ``value``: dicts and lists walked, ``leaf(v, path)`` for every other value.

    :param leaf: returns what stands in the copy for a value that is neither a dict
        nor a list (a scalar, or anything else), or a :class:`Descend` to walk a
        converted value in its place; raise :class:`NotPlainData` to refuse it.
    :param key: maps each dict key (with the dict's path) to the copy's key; keys are
        kept as they are without it.
    :param exact: walk only ``dict`` and ``list`` themselves, handing subclasses to
        ``leaf`` (for encoders that refuse them).
    :param max_depth: refuse data nested deeper (normalizing takes :data:`MAX_DEPTH`;
        walks over data already normalized need no limit).
    :raises NotPlainData: nested deeper than ``max_depth``, or as ``leaf`` and ``key``
        raise.
    """
    limit = max_depth if max_depth is not None else sys.maxsize
    return _Walker(leaf, key, exact, limit).walk(value, path, 0)


class _Walker:
    __slots__ = ("exact", "key", "leaf", "limit")

    def __init__(self, leaf: Leaf, key: Key | None, exact: bool, limit: int) -> None:
        self.leaf = leaf
        self.key = key
        self.exact = exact
        self.limit = limit

    def walk(self, value: Any, path: str, depth: int) -> Any:
        if depth > self.limit:
            raise NotPlainData(path, f"nested too deeply (more than {self.limit} levels)")
        kind = type(value)
        exact, key = self.exact, self.key
        if kind is dict or (not exact and isinstance(value, dict)):
            copy: dict[Any, Any] = {}
            for name, item in value.items():
                name = name if key is None else key(name, path)
                copy[name] = self.walk(item, f"{path}.{name}", depth + 1)
            return copy
        if kind is list or (not exact and isinstance(value, list)):
            return [
                self.walk(item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value)
            ]
        result = self.leaf(value, path)
        if isinstance(result, Descend):
            walked = self.walk(result.value, path, depth + 1)
            return walked if result.then is None else result.then(walked)
        return result


def find_non_plain(
    value: Any, path: str = "$", *, exact: bool = False, also: tuple[type, ...] = ()
) -> str | None:
    """Describe the first value under ``path`` that is not plain data, or None.

    :param exact: types must be exactly the plain ones (no subclasses such as
        ``IntEnum`` or ``OrderedDict``).
    :param also: further leaf types accepted (``bytes`` for msgpack).
    """
    accepted = PLAIN_SCALARS + also

    def check_leaf(item: Any, where: str) -> Any:
        if type(item) in accepted if exact else isinstance(item, accepted):
            return item
        kind = type(item).__name__
        raise NotPlainData(where, f"cannot encode {kind} at {where} ({PLAIN_DESCRIPTION})")

    def check_key(name: Any, where: str) -> str:
        if type(name) is str if exact else isinstance(name, str):
            return str(name)
        kind = type(name).__name__
        reason = f"cannot encode {kind} key {name!r} at {where} (keys must be str)"
        raise NotPlainData(where, reason)

    try:
        walk_plain(value, check_leaf, path, key=check_key, exact=exact)
    except NotPlainData as problem:
        return problem.reason
    return None
