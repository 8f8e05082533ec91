"""maverick-sqlite: a checkpoint store in one SQLite file (``--store sqlite:///runs.db``).

Installing the distribution registers the ``sqlite`` URL scheme through the
``maverick`` entry point group; see README.md.
"""

from __future__ import annotations

from collections.abc import Callable

from maverick_core import hookimpl
from maverick_core.storage import StoreFactory
from maverick_sqlite.store import SQLiteStore

__all__ = ["SQLiteStore", "register_stores"]


@hookimpl
def register_stores(register: Callable[[str, StoreFactory], None]) -> None:
    """Register the ``sqlite`` scheme."""
    register("sqlite", SQLiteStore.open)
