"""maverick-postgres: a checkpoint store in PostgreSQL, for runs shared by many machines.

Installing the distribution registers the ``postgresql://`` and ``postgres://`` store
URL schemes through the ``register_stores`` hook (entry point group ``maverick``)::

    maverick run fly --store "postgresql://ci@db.internal:5432/maverick?lease=30"

See ``docs/postgres.md`` for namespacing, leases, migrations and errors.
"""

from __future__ import annotations

from collections.abc import Callable

from maverick_core import hookimpl
from maverick_postgres.schema import SCHEMA_VERSION
from maverick_postgres.store import PostgresStore

__all__ = ["SCHEMA_VERSION", "PostgresStore", "register_stores"]


@hookimpl
def register_stores(register: Callable[..., None]) -> None:
    """Register :meth:`PostgresStore.open` for ``postgresql://`` and ``postgres://``."""
    register("postgresql", PostgresStore.open)
    register("postgres", PostgresStore.open)
