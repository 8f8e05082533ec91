"""``query_runs``: the one way callers list runs page by page, with or without an index."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import pytest

from maverick_core.builtin.filestore.store import FileStore
from maverick_core.engine.storage import (
    PagedStore,
    Project,
    QueryError,
    RunQuery,
    Store,
    decode_cursor,
    encode_cursor,
    query_runs,
)
from maverick_core.testing.conformance import make_run

if TYPE_CHECKING:
    from pathlib import Path


class ListingOnlyStore:
    """A third-party store written before ``query_runs``: it has only ``list_runs``."""

    def __init__(self, inner: FileStore) -> None:
        self._inner = inner
        self.url = inner.url

    def __getattr__(self, name: str) -> Any:
        if name == "query_runs":
            raise AttributeError(name)
        return getattr(self._inner, name)


@pytest.fixture
def file_store(tmp_path: Path) -> FileStore:
    root = tmp_path / "proj"
    root.mkdir()
    store = FileStore.open("file:", Project(root=root, name="proj"))
    for index in range(7):
        store.create_run(
            make_run(
                f"r{index}",
                workflow=("fly", "review")[index % 2],
                status=("running", "failed", "completed")[index % 3],
                created_at=1000.0 + index // 2,
            )
        )
    return store


def test_the_built_in_file_store_pages_through_its_index(file_store: FileStore) -> None:
    assert isinstance(file_store, PagedStore)
    assert not isinstance(ListingOnlyStore(file_store), PagedStore)


@pytest.mark.parametrize(
    "query",
    [
        RunQuery(limit=2),
        RunQuery(limit=3, workflow="fly"),
        RunQuery(limit=1, statuses=("failed", "completed")),
        RunQuery(limit=2, since=1001.0, workflow="review"),
    ],
)
def test_a_store_without_query_runs_pages_as_one_with_it(
    file_store: FileStore, query: RunQuery
) -> None:
    def every_page(store: Store) -> list[list[str]]:
        pages, cursor = [], None
        while True:
            page = query_runs(store, attrs.evolve(query, cursor=cursor))
            pages.append([r.run_id for r in page.runs])
            if page.next_cursor is None:
                return pages
            cursor = page.next_cursor

    fallback = ListingOnlyStore(file_store)
    assert every_page(fallback) == every_page(file_store)


def test_a_cursor_round_trips_its_position_exactly() -> None:
    position = (1733070000.123456789, "20261201-1200-ab ü")
    assert decode_cursor(encode_cursor(*position)) == position


def test_the_fallback_refuses_bad_queries_as_the_stores_do(file_store: FileStore) -> None:
    with pytest.raises(QueryError, match="invalid cursor"):
        query_runs(ListingOnlyStore(file_store), RunQuery(cursor="garbage!"))
    with pytest.raises(QueryError, match="limit must be between 1 and 1000, not 0"):
        query_runs(ListingOnlyStore(file_store), RunQuery(limit=0))
