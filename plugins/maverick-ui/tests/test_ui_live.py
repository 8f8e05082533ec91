"""A running run's page follows it: a finished step shows up without a reload, even one
no checkpoint holds yet (``first_gate`` has none)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page, Response

    from .conftest import BlockedRun, Viewer


def step_state(page: Page, path: str) -> str:
    """The state the steps list shows for ``path`` ('' while it is not listed)."""
    found = page.query_selector(f'details.step[data-path="{path}"] .status')
    return found.inner_text().strip() if found is not None else ""


def test_a_finished_step_appears_on_the_running_runs_page_without_a_reload(
    blocked_run: BlockedRun, viewer: Viewer, page: Page
) -> None:
    page.goto(viewer.url(f"/runs/{blocked_run.run_id}"))
    assert "running" in page.inner_text("h1")
    assert step_state(page, "start") == "done"
    assert step_state(page, "first_gate") != "done"
    page.evaluate("window.__samePage = 'yes'")
    live_requests: list[str] = []
    page.on("request", lambda r: live_requests.append(r.url) if "/live" in r.url else None)
    answers: list[Response] = []
    page.on("response", lambda r: answers.append(r) if "/live" in r.url else None)
    page.wait_for_timeout(1500)  # polls while nothing changes...
    assert answers and all("html" not in a.json() for a in answers)  # ...redraw nothing

    blocked_run.open_gate(1)
    page.wait_for_selector('details.step-done[data-path="first_gate"]', timeout=20_000)
    assert page.evaluate("window.__samePage") == "yes"  # updated in place, not reloaded
    bar = page.query_selector('g.row[data-path="first_gate"] rect.bar')
    assert bar is not None and "bar-done" in (bar.get_attribute("class") or "")
    # no checkpoint holds it yet: the run record's live view shows it
    assert "first_gate" not in page.inner_text("section.checkpoints")

    blocked_run.open_gate(2)
    page.wait_for_selector("h1 .status-completed", timeout=20_000)
    assert step_state(page, "second_gate") == "done"
    assert "Resume it with" not in page.inner_text("main")
    polled = len(live_requests)
    page.wait_for_timeout(1500)  # three polling periods: the page stopped asking
    assert len(live_requests) == polled


def test_a_run_whose_process_is_gone_is_not_followed(
    blocked_run: BlockedRun, viewer: Viewer, page: Page
) -> None:
    blocked_run.proc.kill()  # as a crash would: the store still says running
    blocked_run.proc.wait()
    page.goto(viewer.url(f"/runs/{blocked_run.run_id}"))
    assert "Its process is gone" in page.inner_text("section.summary")
    assert f"--resume {blocked_run.run_id}" in page.inner_text("p.resume")
    assert page.get_attribute("#run", "data-follow") == "no"
