"""A typed place for plugins to keep their own state on a run or a configuration.

Plugins that need state beside a :class:`~maverick_core.engine.run.Run` (a store
session, a timer, a flag for another plugin) keep it in ``run.stash`` (or
``config.stash`` for the whole invocation) under a key object they own, instead
of an untyped attribute or a string-keyed dict::

    SESSION = StashKey[Session]("myplugin.session")

    @hookimpl
    def workflow_start(run):
        run.stash[SESSION] = Session()

    @hookimpl
    def workflow_finish(run, outcome):
        session = run.stash[SESSION]  # a type checker knows this is a Session

Two plugins cannot collide: each key is its own object, whatever its name says.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")
D = TypeVar("D")


class StashKey(Generic[T]):
    """A key into a :class:`Stash`; ``T`` is the type of the value stored under it.

    :param name: shown in errors and ``repr`` only; keys compare by identity.
    """

    __slots__ = ("name",)

    def __init__(self, name: str = "") -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"StashKey({self.name!r})"


class Stash:
    """A mapping from :class:`StashKey` objects to values of the key's type."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: dict[StashKey[Any], object] = {}

    def __setitem__(self, key: StashKey[T], value: T) -> None:
        self._values[key] = value

    def __getitem__(self, key: StashKey[T]) -> T:
        try:
            return cast("T", self._values[key])
        except KeyError:
            raise KeyError(f"nothing stashed under {key!r}") from None

    def get(self, key: StashKey[T], default: D) -> T | D:
        """The value under ``key``, or ``default`` when there is none."""
        return cast("T", self._values[key]) if key in self._values else default

    def setdefault(self, key: StashKey[T], default: T) -> T:
        """The value under ``key``, storing ``default`` first when there is none."""
        return cast("T", self._values.setdefault(key, default))

    def __delitem__(self, key: StashKey[Any]) -> None:
        del self._values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Stash({len(self)} values)"
