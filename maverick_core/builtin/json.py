"""The built-in ``json`` serializer: compact UTF-8 JSON, exact for plain data.

Plain data is dict (str keys, order kept), list, str, int, float (NaN and the
infinities included), bool and None. The standard library silently turns a tuple
into a list and an int key into a string, which would make a resumed run see a
different value than the uninterrupted one; :meth:`JsonSerializer.dumps` refuses
those instead.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from maverick_core import hookimpl
from maverick_core.engine.plaindata import find_non_plain

if TYPE_CHECKING:
    from collections.abc import Callable

    from maverick_core.engine.registries import RegisterSerializer

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=True)
_decoder = json.JSONDecoder()
# the decoder's C scanner (an instance attribute that typeshed does not declare)
_scan: Callable[[str, int], tuple[Any, int]] = vars(_decoder)["scan_once"]


def _decode(text: str) -> Any:
    """``_decoder.decode(text)``: what the encoder wrote (no whitespace around the
    value) is scanned at once; anything else takes ``decode()``, which skips
    whitespace or says what is wrong."""
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        return _decoder.decode(text)
    return value if end == len(text) else _decoder.decode(text)


class JsonSerializer:
    """Compact JSON (``separators=(",", ":")``, ``ensure_ascii=False``) as UTF-8 bytes."""

    name = "json"

    def dumps(self, data: Any) -> bytes:
        """Encode plain data.

        :raises TypeError: for a value that is not plain data (names where it is).
        :raises ValueError: for text that is not valid Unicode (lone surrogates) or
            an integer too large to print.
        """
        return _utf8(self.text(data))

    def text(self, data: Any) -> str:
        """:meth:`dumps` before the UTF-8 encoding (the checkpoint plugin joins the
        text of a snapshot's entries, see ``builtin/checkpoint/snapshots.py``).

        :raises TypeError: for a value that is not plain data (names where it is).
        :raises ValueError: for an integer too large to print.
        """
        text = _encoder.encode(data)
        # Decoding again and comparing runs in C and catches what the encoder
        # silently changes (tuples, non-str keys); the Python walk that names the
        # culprit only runs when they differ.
        if _decode(text) != data:
            problem = find_non_plain(data)
            if problem is not None:
                raise TypeError(f"json serializer: {problem}")
        return text

    def loads(self, data: bytes) -> Any:
        """Decode bytes written by :meth:`dumps`.

        :raises ValueError: when the bytes are not UTF-8 JSON.
        """
        # A resume decodes hundreds of journal records: scanning what dumps wrote at
        # once (see _decode) saves about 1 µs each.
        return _decode(data.decode("utf-8"))


def _utf8(text: str) -> bytes:
    """``text`` as UTF-8 (ValueError, as :meth:`JsonSerializer.dumps` says, for a lone
    surrogate)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(f"json serializer: text is not valid Unicode: {error}") from None


@hookimpl
def register_serializers(register: RegisterSerializer) -> None:
    """Register the ``json`` serializer."""
    register(JsonSerializer())
