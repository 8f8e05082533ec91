"""The built-in json serializer: compact UTF-8, exact, strict about non-plain data.

Round-trip properties shared by every serializer are in the conformance kit
(test_store_conformance_builtin.py).
"""

from __future__ import annotations

import collections
import enum
import math
from typing import TYPE_CHECKING

import pytest

from maverick_core.builtin import json as jsonserializer
from maverick_core.builtin.json import JsonSerializer

if TYPE_CHECKING:
    from maverick_core.engine.storage import Serializer


@pytest.fixture
def json_() -> JsonSerializer:
    return JsonSerializer()


def test_output_is_compact_json(json_: JsonSerializer) -> None:
    assert json_.dumps({"a": [1, 2.5, None, True], "b": {}}) == b'{"a":[1,2.5,null,true],"b":{}}'


def test_text_is_utf8_not_escaped(json_: JsonSerializer) -> None:
    assert json_.dumps("zoë ✓") == '"zoë ✓"'.encode()


def test_compact_output_never_contains_a_newline(json_: JsonSerializer) -> None:
    assert b"\n" not in json_.dumps({"text": "line one\nline two", "list": ["\n"]})


def test_nan_and_infinities_round_trip(json_: JsonSerializer) -> None:
    nan, inf, ninf = json_.loads(json_.dumps([math.nan, math.inf, -math.inf]))
    assert math.isnan(nan)
    assert (inf, ninf) == (math.inf, -math.inf)


def test_ints_of_any_size_round_trip(json_: JsonSerializer) -> None:
    assert json_.loads(json_.dumps([2**100, -(2**70)])) == [2**100, -(2**70)]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": [0, (1, 2)]}, r"tuple at \$\.a\[1\]"),
        ({"outer": {1: "x"}}, r"int key 1 at \$\.outer"),
        ([math.nan, (1,)], r"tuple at \$\[1\]"),
        ({"s": {1, 2}}, "set"),
    ],
)
def test_non_plain_values_raise_type_error_naming_them(
    json_: JsonSerializer, value: object, message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        json_.dumps(value)


def test_lone_surrogates_raise_value_error(json_: JsonSerializer) -> None:
    with pytest.raises(ValueError, match="not valid Unicode"):
        json_.dumps({"bad": "\ud800"})


def test_circular_data_raises_value_error(json_: JsonSerializer) -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError):
        json_.dumps(loop)


def test_subclasses_of_plain_types_encode_as_their_value(json_: JsonSerializer) -> None:
    class Level(enum.IntEnum):
        HIGH = 3

    data = collections.OrderedDict(level=Level.HIGH)
    assert json_.loads(json_.dumps(data)) == {"level": 3}


def test_invalid_bytes_raise_value_error(json_: JsonSerializer) -> None:
    with pytest.raises(ValueError):
        json_.loads(b"\xff not json")


def test_the_module_registers_the_json_serializer() -> None:
    registered: list[Serializer] = []
    jsonserializer.register_serializers(register=registered.append)
    assert [s.name for s in registered] == ["json"]


@pytest.mark.parametrize(
    ("data", "value"),
    [(b'{"a":[1,2.5,null]}', {"a": [1, 2.5, None]}), (b" [1] \n", [1]), (b'"x"', "x")],
)
def test_what_loads_reads_does_not_depend_on_whitespace_around_it(
    json_: JsonSerializer, data: bytes, value: object
) -> None:
    assert json_.loads(data) == value


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "Expecting value"), (b"{} {}", "Extra data"), (b"[1,", "Expecting value")],
)
def test_text_that_is_not_one_json_value_is_refused_as_json_refuses_it(
    json_: JsonSerializer, data: bytes, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        json_.loads(data)
