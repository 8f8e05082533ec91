"""Fixtures for the PostgreSQL store tests: one real server per session."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from maverick_postgres import PostgresStore
from maverick_postgres.testing import PostgresServer, postgres_for_tests

from maverick_core.engine.storage import Project

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole session (``maverick_postgres.testing``).

    Skips when PostgreSQL is not installed, except in CI, where that fails the test.
    """
    with postgres_for_tests() as server:
        yield server


@pytest.fixture(scope="session")
def pg_url(postgres_server: PostgresServer) -> str:
    """The URL of the session server's shared database."""
    return postgres_server.url


@pytest.fixture
def fresh_db_url(postgres_server: PostgresServer) -> str:
    """A new, empty database for a test that inspects or breaks the schema."""
    return postgres_server.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def project_name() -> str:
    """A project name no other test uses, so tests sharing the database stay apart."""
    return f"proj-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def open_store(
    pg_url: str, project_name: str, tmp_path: Path
) -> Iterator[Callable[..., PostgresStore]]:
    """``open_store(name=..., query=...)``: stores on the session database, closed after."""
    opened: list[PostgresStore] = []

    def _open(name: str | None = None, query: str = "", root: Path | None = None) -> PostgresStore:
        project = Project(root=root or tmp_path, name=name or project_name)
        store = PostgresStore.open(pg_url + (f"?{query}" if query else ""), project)
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., PostgresStore]) -> PostgresStore:
    """A store for this test's own project."""
    return open_store()
