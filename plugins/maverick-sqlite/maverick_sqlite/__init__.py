"""maverick-sqlite: a checkpoint store in one SQLite file (``--store sqlite:///runs.db``).

Installing the distribution registers the ``sqlite`` URL scheme through the
``maverick`` entry point group; see README.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from maverick_core import hookimpl

if TYPE_CHECKING:
    from maverick_core.api import Project, RegisterStore, Store
    from maverick_sqlite.store import SQLiteStore

__all__ = ["SQLiteStore", "register_stores"]


def open_store(url: str, project: Project) -> Store:
    """Open an SQLite store (the store module loads on first use: fast startup)."""
    from maverick_sqlite.store import SQLiteStore

    return SQLiteStore.open(url, project)


@hookimpl
def register_stores(register: RegisterStore) -> None:
    """Register the ``sqlite`` scheme."""
    register("sqlite", open_store)


def __getattr__(name: str) -> Any:
    if name == "SQLiteStore":
        from maverick_sqlite.store import SQLiteStore

        return SQLiteStore
    raise AttributeError(f"module 'maverick_sqlite' has no attribute {name!r}")
