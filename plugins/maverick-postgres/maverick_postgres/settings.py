"""Reading a ``postgresql://`` store URL: what goes to libpq and what is ours."""

from __future__ import annotations

import math
import os
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

import attrs
import psycopg
from psycopg.conninfo import conninfo_to_dict

from maverick_core.api import StoreError

DEFAULT_LEASE = 30.0
DEFAULT_CONNECT_TIMEOUT = "5"
SCHEMES = ("postgresql", "postgres")


@attrs.frozen
class ConnectionSettings:
    """A parsed store URL.

    :ivar conninfo: the URL handed to libpq (our own parameters removed, defaults added).
    :ivar where: ``host:port/dbname``, for messages (never the password).
    :ivar redacted_url: the URL as given, with any password replaced by ``***``.
    :ivar lease: seconds a run lock lasts without a heartbeat.
    """

    conninfo: str
    where: str
    redacted_url: str
    lease: float


def parse_url(url: str) -> ConnectionSettings:
    """Split a store URL into libpq's part and the store's own ``lease`` parameter.

    Every other query parameter (``sslmode``, ``connect_timeout``, ``options`` ...) is
    passed to libpq unchanged; ``connect_timeout`` defaults to 5 seconds and
    ``application_name`` to ``maverick``.

    :raises StoreError: the URL is not a PostgreSQL URL or has a bad parameter.
    """
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    redacted = _redact(parts, query)
    if parts.scheme not in SCHEMES:
        raise StoreError(f"not a PostgreSQL store URL: {redacted} (use postgresql://...)")
    lease = _parse_lease(query.pop("lease", None), redacted)
    query.setdefault("connect_timeout", DEFAULT_CONNECT_TIMEOUT)
    query.setdefault("application_name", "maverick")
    conninfo = urlunsplit(parts._replace(query=urlencode(query)))
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.Error as exc:
        raise StoreError(f"invalid PostgreSQL store URL {redacted}: {exc}") from None
    # What libpq will use: the URL, else its PG* environment variables, else defaults.
    host = str(params.get("host") or os.environ.get("PGHOST") or "localhost")
    port = str(params.get("port") or os.environ.get("PGPORT") or "5432")
    dbname = str(params.get("dbname") or os.environ.get("PGDATABASE") or params.get("user") or "")
    return ConnectionSettings(
        conninfo=conninfo, where=f"{host}:{port}/{dbname}", redacted_url=redacted, lease=lease
    )


def _parse_lease(value: str | None, redacted: str) -> float:
    if value is None:
        return DEFAULT_LEASE
    try:
        lease = float(value)
    except ValueError:
        lease = math.nan
    if not (math.isfinite(lease) and lease > 0):
        raise StoreError(f"invalid lease={value!r} in {redacted}: expected seconds > 0")
    return lease


def _redact(parts: SplitResult, query: dict[str, str]) -> str:
    netloc = parts.netloc
    userinfo, at, hostinfo = netloc.rpartition("@")
    user, colon, _password = userinfo.partition(":")
    if at and colon:
        netloc = f"{user}:***@{hostinfo}"
    if "password" in query:
        shown = {k: ("***" if k == "password" else v) for k, v in query.items()}
        return urlunsplit(parts._replace(netloc=netloc, query=urlencode(shown, safe="*")))
    return urlunsplit(parts._replace(netloc=netloc))
