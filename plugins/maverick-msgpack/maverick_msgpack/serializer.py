"""The ``msgpack`` serializer itself (imported when a command needs serializers)."""

from __future__ import annotations

from typing import Any

import msgpack

from maverick_core.api import find_non_plain

__all__ = ["MsgpackSerializer"]


class MsgpackSerializer:
    """Plain data as MessagePack bytes, exact on the round trip."""

    name = "msgpack"

    def dumps(self, data: Any) -> bytes:
        """Encode plain data.

        :raises TypeError: for a value that is not plain data (names where it is).
        :raises ValueError: for an integer outside msgpack's 64-bit range, or text
            that is not valid Unicode.
        """
        try:
            # strict_types: a tuple (or any subclass) is refused, not silently made a list.
            packed: bytes = msgpack.packb(data, use_bin_type=True, strict_types=True)
        except OverflowError as error:
            raise ValueError(
                "msgpack serializer: an integer is outside msgpack's range "
                f"(-2**63 .. 2**64-1): {error}"
            ) from None
        except UnicodeEncodeError as error:
            raise ValueError(f"msgpack serializer: text is not valid Unicode: {error}") from None
        except TypeError as error:
            problem = find_non_plain(data, exact=True, also=(bytes,))
            raise TypeError(f"msgpack serializer: {problem or error}") from None
        # msgpack happily packs non-str dict keys; unpacking again (in C) and
        # comparing catches them, and only then is the culprit searched in Python.
        try:
            same = self.loads(packed) == data
        except ValueError:
            same = False
        if not same:
            problem = find_non_plain(data, exact=True, also=(bytes,))
            if problem is not None:
                raise TypeError(f"msgpack serializer: {problem}")
        return packed

    def loads(self, data: bytes) -> Any:
        """Decode bytes written by :meth:`dumps`.

        :raises ValueError: when the bytes are not one msgpack value of plain data.
        """
        return msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
