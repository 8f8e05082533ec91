"""The msgpack serializer passes the conformance kit, and is strict where it differs."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import pytest
from maverick_msgpack import MsgpackSerializer

from maverick_core.testing.conformance import SerializerConformance

if TYPE_CHECKING:
    from maverick_core.engine.storage import Serializer


class TestMsgpackSerializerConformance(SerializerConformance):
    @pytest.fixture
    def serializer(self) -> MsgpackSerializer:
        return MsgpackSerializer()


def test_ints_beyond_64_bits_raise_value_error_naming_the_range() -> None:
    with pytest.raises(ValueError, match=r"-2\*\*63 \.\. 2\*\*64-1"):
        MsgpackSerializer().dumps({"n": 2**64})


def test_int_keys_raise_naming_the_path() -> None:
    with pytest.raises(TypeError, match=r"int key 1 at \$\.outer"):
        MsgpackSerializer().dumps({"outer": {1: "x"}})


def test_tuples_raise_naming_the_path() -> None:
    with pytest.raises(TypeError, match=r"tuple at \$\.a\[1\]"):
        MsgpackSerializer().dumps({"a": [0, (1, 2)]})


def test_enum_members_raise_instead_of_losing_their_type() -> None:
    class Color(enum.IntEnum):
        RED = 1

    with pytest.raises(TypeError, match="Color"):
        MsgpackSerializer().dumps([Color.RED])


def test_floats_are_packed_as_doubles() -> None:
    assert MsgpackSerializer().dumps(0.1)[:1] == b"\xcb"  # float 64


def test_strings_and_binary_are_distinct_types() -> None:
    serializer = MsgpackSerializer()
    assert serializer.loads(serializer.dumps(["text", b"bytes"])) == ["text", b"bytes"]


def test_is_registered_as_msgpack() -> None:
    import maverick_msgpack

    registered: list[Serializer] = []
    maverick_msgpack.register_serializers(register=registered.append)
    assert [s.name for s in registered] == ["msgpack"]
