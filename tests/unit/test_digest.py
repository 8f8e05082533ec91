"""SHA-256 digests without OpenSSL for small inputs: the same digests hashlib gives."""

from __future__ import annotations

import hashlib

import pytest

from maverick_core.engine.digest import OPENSSL_FROM, sha256_hex


@pytest.mark.parametrize("size", [0, 1, 300, OPENSSL_FROM - 1, OPENSSL_FROM, 3 * OPENSSL_FROM + 7])
def test_sha256_hex_is_hashlib_sha256_on_both_sides_of_the_openssl_threshold(size: int) -> None:
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    assert sha256_hex(data) == hashlib.sha256(data).hexdigest()


def test_sha256_hex_of_parts_is_the_digest_of_their_concatenation() -> None:
    header, payload = b"run-1\x002\x00cp\x00delta\x00", b"\x00payload" * 10_000
    assert sha256_hex(header, b"") == hashlib.sha256(header).hexdigest()
    assert sha256_hex(header, payload) == hashlib.sha256(header + payload).hexdigest()
    assert sha256_hex(header, payload[:100]) == hashlib.sha256(header + payload[:100]).hexdigest()
