"""The viewer reads any store: SQLite and PostgreSQL as well as the default file store."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pytest

from .conftest import maverick, run_id_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from maverick_postgres.testing import PostgresServer
    from playwright.sync_api import Page

    from .conftest import Viewer

WORKFLOW = """
version: "1.0"
name: stored
steps:
  - {name: one, type: shell, command: "echo one", checkpoint: true}
  - {name: two, type: shell, command: "echo two; exit 4"}
"""


def runs_in(project: Path, store: str) -> tuple[str, str]:
    """A completed and a failed run of the same workflow in ``store``."""
    (project / "stored.yaml").write_text(textwrap.dedent(WORKFLOW))
    failed = run_id_of(maverick(project, "run", "stored.yaml", "--store", store, check=False))
    (project / "ok.yaml").write_text(textwrap.dedent(WORKFLOW).replace("exit 4", "exit 0"))
    done = run_id_of(maverick(project, "run", "ok.yaml", "--store", store))
    return failed, done


def assert_viewer_shows(page: Page, viewer: Viewer, failed: str, done: str) -> None:
    page.goto(viewer.url("/"))
    table = page.inner_text("table.runs")
    assert failed in table and done in table
    page.goto(viewer.url("/?status=failed"))
    assert page.inner_text("table.runs tbody").split()[0] == failed
    with page.expect_navigation():  # read the new page, not the old one
        page.click(f"text={failed}")
    assert "failed" in page.inner_text("h1")
    assert "one" in page.inner_text("section.checkpoints")


def test_the_viewer_reads_a_sqlite_store(
    tmp_path: Path, start_viewer: Callable[..., Viewer], page: Page
) -> None:
    store = "sqlite:///.maverick/runs.db"
    failed, done = runs_in(tmp_path, store)
    viewer = start_viewer(tmp_path, "--store", store)
    assert_viewer_shows(page, viewer, failed, done)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server (``maverick_postgres.testing``); required in CI."""
    from maverick_postgres.testing import postgres_for_tests

    with postgres_for_tests() as server:
        yield server


@pytest.mark.postgres
def test_the_viewer_reads_a_postgresql_store_and_never_shows_its_password(
    tmp_path: Path, postgres: PostgresServer, start_viewer: Callable[..., Viewer], page: Page
) -> None:
    store = postgres.url
    failed, done = runs_in(tmp_path, store)
    viewer = start_viewer(tmp_path, "--store", store)
    assert_viewer_shows(page, viewer, failed, done)
    password = store.split("://", 1)[1].split("@", 1)[0].partition(":")[2]
    assert password and password not in page.content()
    assert password not in viewer.line and "store postgresql://" in viewer.line
