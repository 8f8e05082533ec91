"""The runs page in a real browser: every run, its columns, filters and pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from .conftest import Runs, Viewer


def rows(page: Page) -> list[list[str]]:
    """The runs table as a person reads it: one list of cell texts per row."""
    return [
        [cell.inner_text().strip() for cell in row.query_selector_all("td")]
        for row in page.query_selector_all("table.runs tbody tr")
    ]


def test_runs_page_lists_every_run_newest_first_with_the_columns_of_runs_list(
    runs: Runs, viewer: Viewer, page: Page
) -> None:
    page.goto(viewer.url("/"))
    headings = [th.inner_text().strip() for th in page.query_selector_all("table.runs th")]
    assert headings == ["id", "workflow", "status", "started", "duration", "cost"]
    shown = {row[0]: row for row in rows(page)}
    assert set(runs.ids.values()) <= set(shown)
    assert shown[runs.ids["fly"]][1:3] == ["fly", "completed"]
    assert shown[runs.ids["failed"]][1:3] == ["nightly", "failed"]
    assert shown[runs.ids["resumed"]][1:3] == ["release", "completed"]
    assert shown[runs.ids["running"]][1:3] == ["watch", "running"]
    assert shown[runs.ids["fly"]][4].endswith("s")  # a duration, e.g. 13.4s
    order = [row[0] for row in rows(page)]
    assert order.index(runs.ids["running"]) < order.index(runs.ids["fly"])  # newest first
    with page.expect_navigation():  # read the new page, not the old one
        page.click(f"text={runs.ids['failed']}")
    assert page.url == viewer.url(f"/runs/{runs.ids['failed']}")
    assert "nightly" in page.inner_text("h1")


def test_runs_page_filters_by_workflow_and_by_status(
    runs: Runs, viewer: Viewer, page: Page
) -> None:
    page.goto(viewer.url("/"))
    page.select_option("select[name=status]", "failed")
    with page.expect_navigation():  # read the new page, not the old one
        page.click("button[type=submit]")
    assert {row[2] for row in rows(page)} == {"failed"}
    assert runs.ids["failed"] in [row[0] for row in rows(page)]
    page.goto(viewer.url("/"))
    page.fill("input[name=workflow]", "release")
    with page.expect_navigation():  # read the new page, not the old one
        page.click("button[type=submit]")
    assert [row[0] for row in rows(page)] == [runs.ids["resumed"]]
    page.goto(viewer.url("/?workflow=no-such-workflow"))
    assert rows(page) == []
    assert "No runs match these filters" in page.inner_text("main")


def test_runs_page_pages_through_all_runs_with_a_cursor(
    runs: Runs, viewer: Viewer, page: Page
) -> None:
    page.goto(viewer.url("/"))
    everything = [row[0] for row in rows(page)]
    page.goto(viewer.url("/?limit=2"))
    seen: list[str] = []
    while True:
        shown = [row[0] for row in rows(page)]
        assert 1 <= len(shown) <= 2
        seen += shown
        older = page.query_selector("a[rel=next]")
        if older is None:
            break
        with page.expect_navigation():  # read the new page, not the old one
            older.click()
    assert seen == everything
    assert page.query_selector("text=newest") is not None


def test_a_cursor_that_is_not_the_stores_is_refused_with_a_message(
    viewer: Viewer, page: Page
) -> None:
    answer = page.goto(viewer.url("/?cursor=not-a-cursor"))
    assert answer is not None and answer.status == 400
    assert "This page of runs cannot be shown" in page.inner_text("main")
    answer = page.goto(viewer.url("/runs/no-such-run"))
    assert answer is not None and answer.status == 404
    assert "The store has no run no-such-run." in page.inner_text("main")
