"""maverick-postgres: a checkpoint store in PostgreSQL, for runs shared by many machines.

Installing the distribution registers the ``postgresql://`` and ``postgres://`` store
URL schemes through the ``register_stores`` hook (entry point group ``maverick``)::

    maverick run fly --store "postgresql://ci@db.internal:5432/maverick?lease=30"

See ``docs/postgres.md`` for namespacing, leases, migrations and errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from maverick_core import hookimpl

if TYPE_CHECKING:
    from maverick_core.api import Project, RegisterStore, Store
    from maverick_postgres.schema import SCHEMA_VERSION
    from maverick_postgres.store import PostgresStore

__all__ = ["SCHEMA_VERSION", "PostgresStore", "register_stores"]


def open_store(url: str, project: Project) -> Store:
    """Open a PostgreSQL store; psycopg is imported only now, so ``maverick`` starts fast."""
    from maverick_postgres.store import PostgresStore

    return PostgresStore.open(url, project)


@hookimpl
def register_stores(register: RegisterStore) -> None:
    """Register :func:`open_store` for ``postgresql://`` and ``postgres://``."""
    register("postgresql", open_store)
    register("postgres", open_store)


def __getattr__(name: str) -> Any:
    # the public names load lazily: every maverick command imports this plugin
    if name == "PostgresStore":
        from maverick_postgres.store import PostgresStore

        return PostgresStore
    if name == "SCHEMA_VERSION":
        from maverick_postgres.schema import SCHEMA_VERSION

        return SCHEMA_VERSION
    raise AttributeError(f"module 'maverick_postgres' has no attribute {name!r}")
