"""The one plain-data walk: what normalizing, the serializers and secret masking share."""

from __future__ import annotations

import collections
import enum
from typing import Any

import pytest

from maverick_core.api import NotPlainData, StepFailed, find_non_plain, walk_plain
from maverick_core.builtin.json import JsonSerializer
from maverick_core.engine.normalize import normalize
from maverick_core.engine.plaindata import MAX_DEPTH
from maverick_core.engine.secrets import SecretMasker


class Color(enum.IntEnum):
    RED = 1


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def test_a_walk_rebuilds_dicts_and_lists_and_hands_on_every_leaf_with_its_path() -> None:
    seen: list[tuple[Any, str]] = []

    def leaf(value: Any, path: str) -> Any:
        seen.append((value, path))
        return value

    data = {"a": [1, {"b": None}], "c": "x"}
    copy = walk_plain(data, leaf)
    assert copy == data and copy is not data and copy["a"] is not data["a"]
    assert seen == [(1, "$.a[0]"), (None, "$.a[1].b"), ("x", "$.c")]


def test_the_serializers_and_normalize_name_the_same_path() -> None:
    # a tuple: JSON would silently make it a list; normalize would convert it
    data = {"steps": {"fetch": {"items": [1, (2, 3)]}}}
    assert find_non_plain(data) == (
        "cannot encode tuple at $.steps.fetch.items[1] (plain data only: dict with str "
        "keys, list, str, int, float, bool, None)"
    )
    with pytest.raises(TypeError, match=r"tuple at \$\.steps\.fetch\.items\[1\]"):
        JsonSerializer().dumps(data)
    data["steps"]["fetch"]["items"][1] = object()
    with pytest.raises(StepFailed, match=r"^out\.steps\.fetch\.items\[1\]: object is not"):
        normalize(data, "out")


def test_a_non_str_key_is_named_with_the_dict_that_holds_it() -> None:
    assert find_non_plain({"a": {1: "x"}}) == "cannot encode int key 1 at $.a (keys must be str)"


def test_exact_refuses_subclasses_that_a_lenient_check_accepts() -> None:
    data = {"n": Color.RED, "d": collections.OrderedDict(a=1)}
    assert find_non_plain(data) is None
    assert find_non_plain(data, exact=True) == (
        "cannot encode Color at $.n (plain data only: dict with str keys, list, str, int, "
        "float, bool, None)"
    )
    assert find_non_plain([b"raw"], exact=True, also=(bytes,)) is None


def test_normalize_refuses_data_nested_past_the_limit_naming_where() -> None:
    assert normalize(nested(MAX_DEPTH), "o") == nested(MAX_DEPTH)
    with pytest.raises(StepFailed, match=r"nested too deeply \(more than 200 levels\)"):
        normalize(nested(MAX_DEPTH + 1), "o")


def test_normalize_counts_converted_containers_towards_the_limit() -> None:
    value: Any = "bottom"
    for _ in range(MAX_DEPTH + 1):
        value = (value,)  # tuples become lists one level at a time
    with pytest.raises(StepFailed, match="nested too deeply"):
        normalize(value, "o")


def test_walks_over_normalized_data_have_no_depth_limit() -> None:
    deep = {"data": nested(MAX_DEPTH + 5)}
    assert find_non_plain(deep) is None
    bottom = SecretMasker(["bottom"]).mask(deep)["data"]
    for _ in range(MAX_DEPTH + 5):
        [bottom] = bottom
    assert bottom == "***"


def test_secret_masking_walks_keys_values_and_tuples() -> None:
    data = {"token-abc": ["use token-abc", 3, ("token-abc!",)]}
    masked = SecretMasker(["token-abc"]).mask(data)
    assert masked == {"***": ["use ***", 3, ("***!",)]}


def test_a_leaf_may_refuse_a_value() -> None:
    def refuse(value: Any, path: str) -> Any:
        raise NotPlainData(path, "no")

    with pytest.raises(NotPlainData) as refused:
        walk_plain({"a": [None]}, refuse)
    assert (refused.value.path, refused.value.reason) == ("$.a[0]", "no")
