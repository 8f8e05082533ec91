"""maverick-msgpack: the ``msgpack`` checkpoint serializer (``--serializer msgpack``).

MessagePack is smaller and faster than JSON for large outputs. Strings are str,
binary is bin (``use_bin_type=True``, ``raw=False``), floats stay 64-bit doubles,
dict key order is kept. Integers are limited to the 64-bit range msgpack can
store; a larger one is a :class:`ValueError` naming the limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from maverick_core import hookimpl

if TYPE_CHECKING:
    from collections.abc import Callable

    from maverick_core.api import Serializer
    from maverick_msgpack.serializer import MsgpackSerializer

__all__ = ["MsgpackSerializer", "register_serializers"]


def __getattr__(name: str) -> Any:
    # the serializer (and msgpack) load when asked for, not when maverick starts
    if name == "MsgpackSerializer":
        from maverick_msgpack.serializer import MsgpackSerializer

        return MsgpackSerializer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _DeferredMsgpack:
    """The registered serializer: loads :class:`MsgpackSerializer` (and msgpack) on first use.

    Every command that opens a store collects the serializers; only one that reads or
    writes msgpack checkpoints should pay for importing msgpack.
    """

    name = "msgpack"

    def __init__(self) -> None:
        self._serializer: MsgpackSerializer | None = None

    def _load(self) -> MsgpackSerializer:
        if self._serializer is None:
            from maverick_msgpack.serializer import MsgpackSerializer

            self._serializer = MsgpackSerializer()
        return self._serializer

    def dumps(self, data: Any) -> bytes:
        """:meth:`MsgpackSerializer.dumps`."""
        return self._load().dumps(data)

    def loads(self, data: bytes) -> Any:
        """:meth:`MsgpackSerializer.loads`."""
        return self._load().loads(data)


@hookimpl
def register_serializers(register: Callable[[Serializer], None]) -> None:
    """Register the ``msgpack`` serializer."""
    register(_DeferredMsgpack())
