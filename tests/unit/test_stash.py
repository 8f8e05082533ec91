"""The typed stash plugins keep their state in (``run.stash``, ``config.stash``)."""

from __future__ import annotations

import pytest

from maverick_core.api import Stash, StashKey


def test_a_value_is_found_under_its_own_key_only() -> None:
    stash = Stash()
    count: StashKey[int] = StashKey("count")
    other: StashKey[int] = StashKey("count")  # same name, another key: no collision
    stash[count] = 3
    assert stash[count] == 3
    assert other not in stash
    assert stash.get(other, None) is None


def test_a_missing_key_names_itself() -> None:
    with pytest.raises(KeyError, match="nothing stashed under StashKey\\('session'\\)"):
        Stash()[StashKey[str]("session")]


def test_setdefault_stores_once_and_del_removes() -> None:
    stash = Stash()
    seen: StashKey[list[str]] = StashKey("seen")
    stash.setdefault(seen, []).append("a")
    stash.setdefault(seen, []).append("b")
    assert stash[seen] == ["a", "b"] and len(stash) == 1
    del stash[seen]
    assert len(stash) == 0
