"""Built-in plugin ``filestore``: the default ``file:`` store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from maverick_core import hookimpl

if TYPE_CHECKING:
    from maverick_core.engine.registries import RegisterStore
    from maverick_core.engine.storage import Project, Store


def open_file_store(url: str, project: Project) -> Store:
    """Open a :class:`~maverick_core.builtin.filestore.store.FileStore` (imported on first use)."""
    from maverick_core.builtin.filestore.store import FileStore

    return FileStore.open(url, project)


@hookimpl
def register_stores(register: RegisterStore) -> None:
    """Register the ``file`` scheme."""
    register("file", open_file_store)
