"""What ``@attrs.define`` and ``@attrs.frozen`` give a class, written out once.

Building an attrs class compiles its generated methods: about 0.7 ms for each class
at every start that imports it (docs/benchmarks.md, start-up). Classes a run builds
whose instances nobody copies with ``attrs.evolve`` or reads with ``attrs.fields``
or ``attrs.asdict`` derive from these instead: a hand-written ``__init__`` and
``__slots__``, and from here the rest, behaving as the attrs class did.
"""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn

from attrs import fields
from attrs.exceptions import FrozenInstanceError


class PlainClass:
    """A mutable class shown as attrs shows it: ``Name(field=value, ...)``.

    Compared by identity, as ``@attrs.define(eq=False)`` classes are. A subclass lists
    its fields in ``_FIELDS`` (in the order of its ``__init__``) and its ``__slots__``.
    """

    __slots__ = ("__weakref__",)
    _FIELDS: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._FIELDS)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS)
        return f"{type(self).__qualname__}({shown})"


class FrozenClass(PlainClass):
    """An immutable class compared, hashed, shown and pickled by its ``_FIELDS``.

    As ``@attrs.frozen``: equal to an instance of the same class with equal fields,
    assignment raises :class:`attrs.exceptions.FrozenInstanceError`. A subclass's
    ``__init__`` sets its fields with :meth:`_set`.
    """

    __slots__ = ()
    _COMPARED: ClassVar[tuple[str, ...] | None] = None
    """The fields equality and the hash look at, when not all of them (``eq=False``)."""

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def _key(self) -> tuple[Any, ...]:
        if self._COMPARED is None:
            return self._values()
        return tuple(getattr(self, name) for name in self._COMPARED)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.__class__, *self._key()))

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise FrozenInstanceError

    def __delattr__(self, name: str) -> NoReturn:
        raise FrozenInstanceError

    def __getstate__(self) -> tuple[Any, ...]:
        return self._values()

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(self._FIELDS, state, strict=True):
            object.__setattr__(self, name, value)


def attrs_repr(self: Any) -> str:
    """``Name(field=value, ...)`` of an attrs instance, as attrs writes it.

    An attrs class that sets ``__repr__ = attrs_repr`` in its body gets no generated
    one: of the 0.6 ms attrs spends building a class, the repr's code is about half.
    """
    parts = []
    for field in fields(type(self)):
        if field.repr:
            value = getattr(self, field.name)
            shown = field.repr(value) if callable(field.repr) else repr(value)
            parts.append(f"{field.name}={shown}")
    return f"{type(self).__qualname__.rsplit('>.', 1)[-1]}({', '.join(parts)})"
