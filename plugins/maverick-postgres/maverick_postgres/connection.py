"""Opening connections and turning driver errors into one-line StoreErrors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
from psycopg.rows import TupleRow

from maverick_core.api import StoreError

if TYPE_CHECKING:
    from maverick_postgres.settings import ConnectionSettings

Connection = psycopg.Connection[TupleRow]


def connect(settings: ConnectionSettings) -> Connection:
    """A new connection in transaction mode (``autocommit=False``).

    ``synchronous_commit`` is turned back on for the session if the server has it
    ``off``: a commit that returns must survive a database crash.

    :raises StoreError: ``cannot connect to PostgreSQL at host:port/db: reason``.
    """
    try:
        conn = psycopg.connect(settings.conninfo, autocommit=False)
    except psycopg.Error as exc:
        raise StoreError(
            f"cannot connect to PostgreSQL at {settings.where}: {connect_failure_reason(exc)}"
        ) from None
    try:
        with conn.transaction():
            row = conn.execute("SHOW synchronous_commit").fetchone()
            if row and row[0] == "off":
                conn.execute("SET synchronous_commit TO on")
    except psycopg.Error as exc:
        conn.close()
        raise StoreError(f"PostgreSQL store at {settings.where}: {first_line(exc)}") from None
    return conn


def connect_failure_reason(exc: BaseException) -> str:
    """The reason in libpq's connection error, without the "connection to server" preamble.

    ``connection failed: connection to server at "10.0.0.5", port 5432 failed: Connection
    refused\\n\\tIs the server running...`` becomes ``Connection refused``.
    """
    line = first_line(exc)
    reason = line.rsplit(" failed: ", 1)[-1].strip()
    for prefix in ("FATAL:", "ERROR:"):
        if reason.startswith(prefix):
            reason = reason[len(prefix) :].strip()
    return reason or line


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an error message (driver errors span several)."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__
