"""SHA-256 hex digests, without loading OpenSSL at start-up for small inputs.

``hashlib`` imports ``_hashlib`` first, which loads OpenSSL's libcrypto: about 3 ms of a
``maverick run`` on the machines we measure (``secrets`` pays it too, through ``hmac``).
CPython's own SHA-256 (``_sha2`` from 3.12, ``_sha256`` before) is a small extension
that loads in under 0.5 ms and gives the same digests. Per byte it is about five times
slower than OpenSSL's (3 ms a MB here, against 0.6), which does not matter for workflow
texts, step definitions, names and journal records of a few hundred bytes (about 1 µs
each, against 0.5): inputs from :data:`OPENSSL_FROM` bytes on (snapshots) go to
``hashlib``, and once it is loaded every input does. A Python built without its own
SHA-256 always uses ``hashlib``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["OPENSSL_FROM", "sha256_hex"]

OPENSSL_FROM = 64 * 1024
"""Inputs of this many bytes or more are hashed by OpenSSL (``hashlib``)."""

_small: Callable[[bytes], Any] | None = None


def _builtin_sha256() -> Callable[[bytes], Any]:
    for name in ("_sha2", "_sha256"):
        try:
            constructor: Callable[[bytes], Any] = import_module(name).sha256
        except (ImportError, AttributeError):
            continue
        return constructor
    from hashlib import sha256

    return sha256


def sha256_hex(*parts: bytes) -> str:
    """The SHA-256 digest of ``parts`` (concatenated) as 64 hex digits.

    The same as ``hashlib.sha256(b"".join(parts)).hexdigest()``.
    """
    global _small
    if sum(map(len, parts)) >= OPENSSL_FROM:
        import hashlib

        # OpenSSL is loaded now: small inputs go to it too (a resume hashes a
        # snapshot, then a thousand journal records after it, 1 µs each saved)
        _small = hashlib.sha256
        large = hashlib.sha256()
        for part in parts:
            large.update(part)
        return large.hexdigest()
    if _small is None:
        _small = _builtin_sha256()
    digest: str = _small(b"".join(parts)).hexdigest()
    return digest
