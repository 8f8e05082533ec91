"""A run's page in a real browser: timeline, diagram, outputs, attempts, the resume command."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from .conftest import Runs, Viewer


def open_run(page: Page, viewer: Viewer, run_id: str) -> None:
    """Open the run's page and wait for Mermaid to draw its diagram."""
    page.goto(viewer.url(f"/runs/{run_id}"))
    page.wait_for_selector("section.diagram pre.mermaid svg", timeout=30_000)


def bar_paths(page: Page, css: str = "") -> list[str]:
    """The steps that have a bar on the timeline (``css`` narrows the rows)."""
    rows = page.query_selector_all(f"svg.timeline-chart g.row{css}")
    return [r.get_attribute("data-path") or "" for r in rows if r.query_selector("rect.bar")]


def test_the_fly_run_shows_its_steps_on_a_timeline_and_a_coloured_diagram(
    runs: Runs, viewer: Viewer, page: Page
) -> None:
    open_run(page, viewer, runs.ids["fly"])
    assert "completed" in page.inner_text("h1")
    drawn = bar_paths(page)
    for step in ("agents", "phases[0].implement", "phases[2].commit", "pull_request"):
        assert step in drawn
    checkpoints = page.query_selector_all("section.checkpoints tbody tr")
    markers = page.query_selector_all("svg.timeline-chart g.checkpoint-marker")
    assert len(markers) == len(checkpoints) == 11
    assert page.locator("section.diagram svg .node.st_done").count() > 10
    assert page.locator("section.diagram svg .node.st_failed").count() == 1  # the legend's
    outputs = page.inner_text("section.outputs")
    assert "pull_request" in outputs and ".maverick/prs/demo-feature.md" in outputs
    implement = page.locator('details.step[data-path="phases[0].implement"]')
    assert "1 agent call" in implement.inner_text()
    implement.locator("summary").click()
    assert "implementer via command" in implement.inner_text()
    assert "Resume it with" not in page.inner_text("main")  # completed: nothing to resume


def test_a_resumed_run_shows_both_attempts_and_its_restored_steps(
    runs: Runs, viewer: Viewer, page: Page
) -> None:
    open_run(page, viewer, runs.ids["resumed"])
    attempts = [
        [cell.inner_text().strip() for cell in row.query_selector_all("td")]
        for row in page.query_selector_all("section.attempts tbody tr")
    ]
    assert [a[0] for a in attempts] == ["1", "2"]
    assert [a[3] for a in attempts] == ["failed", "completed"]
    assert attempts[1][5] == "prepare"  # resumed from the checkpoint after 'prepare'
    assert len(page.query_selector_all("svg.timeline-chart g.segment")) == 2
    assert bar_paths(page, ".restored") == ["prepare"]
    assert "publish" in bar_paths(page, ".step-done")
    assert page.locator("section.diagram svg .node.st_restored").count() == 2  # + legend
    link = page.locator('section.outputs a[href="https://example.org/releases/1"]')
    assert link.count() == 1


def test_a_failed_run_shows_its_error_and_the_exact_command_that_resumes_it(
    runs: Runs, viewer: Viewer, page: Page
) -> None:
    open_run(page, viewer, runs.ids["failed"])
    assert page.inner_text("p.resume code") == (
        f"maverick run ui-workflows/failing.yaml --resume {runs.ids['failed']}"
    )
    build = page.locator('details.step[data-path="build"]')
    assert build.get_attribute("open") is not None  # a failed step opens by itself
    assert "the build broke" in build.inner_text()
    assert bar_paths(page, ".step-failed") == ["build"]
    assert page.locator("section.diagram svg .node.st_failed").count() == 2  # + legend
