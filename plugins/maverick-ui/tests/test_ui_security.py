"""The viewer is safe by default: run values never execute, a token guards non-loopback binds,
nothing is written, nothing is fetched from anywhere else."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from playwright.sync_api import Page

    from .conftest import Runs, Viewer

PAYLOAD = "<script>window.__pwned=1</script>"


def status_of(url: str, method: str = "GET") -> int:
    """The HTTP status a plain client (no cookie, no token) gets."""
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def assert_nothing_ran(page: Page) -> None:
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.dialogs == []  # type: ignore[attr-defined]
    assert page.query_selector("main script, main img") is None


def test_markup_in_the_workflow_name_and_inputs_is_shown_as_text(
    runs: Runs, viewer: Viewer, page: Page
) -> None:
    page.goto(viewer.url(f"/runs/{runs.ids['xss']}"))
    page.wait_for_load_state("networkidle")
    assert_nothing_ran(page)
    text = page.inner_text("main")
    assert f"{PAYLOAD}<img src=x onerror=window.__pwned=1>" in text  # the workflow name
    assert PAYLOAD in page.inner_text("section.inputs")
    page.goto(viewer.url("/"))
    assert_nothing_ran(page)
    assert f"{PAYLOAD}<img src=x onerror=window.__pwned=1>" in page.inner_text("table.runs")


def test_markup_in_outputs_and_step_output_is_shown_as_text_and_no_script_link(
    runs: Runs, viewer: Viewer, page: Page
) -> None:
    page.goto(viewer.url(f"/runs/{runs.ids['xss']}"))
    page.wait_for_selector("section.diagram pre.mermaid svg", timeout=30_000)
    assert_nothing_ran(page)
    outputs = page.inner_text("section.outputs")
    assert "<img src=x onerror=alert(1)><script>alert(2)</script>" in outputs
    assert "javascript:alert(5)" in outputs
    links = [a.get_attribute("href") or "" for a in page.query_selector_all("main a")]
    assert not any(href.strip().lower().startswith("javascript:") for href in links)
    assert "https://example.org/?q=<script>" in links  # an http(s) output is a link
    step = page.locator('details.step[data-path="echo_markup"]')
    step.locator("summary").click()
    assert "<img src=x onerror=alert(1)><script>alert(2)</script>" in step.inner_text()
    diagram = page.text_content("section.diagram svg") or ""
    assert "onerror=alert(3)" in diagram  # the `when` condition, drawn as text
    assert page.query_selector("section.diagram svg img, section.diagram svg script") is None
    assert_nothing_ran(page)


def test_markup_in_an_error_is_shown_as_text(runs: Runs, viewer: Viewer, page: Page) -> None:
    page.goto(viewer.url(f"/runs/{runs.ids['failed']}"))
    page.wait_for_load_state("networkidle")
    assert_nothing_ran(page)
    error = page.inner_text("pre.run-error")
    assert f"the build broke: {PAYLOAD}<img src=x onerror=alert(6)>" in error


def test_pages_carry_a_strict_content_security_policy(runs: Runs, viewer: Viewer) -> None:
    with urllib.request.urlopen(viewer.url(f"/runs/{runs.ids['fly']}"), timeout=10) as answer:
        policy = answer.headers["Content-Security-Policy"]
        body = answer.read().decode()
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "unsafe-eval" not in policy and "'unsafe-inline'" not in policy.split("style-src")[0]
    assert "<script>" not in body  # no inline script: every script is a file of the viewer


def test_the_viewer_fetches_nothing_from_anywhere_else(
    runs: Runs, viewer: Viewer, page: Page
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    for run in ("fly", "resumed", "xss"):
        page.goto(viewer.url(f"/runs/{runs.ids[run]}"))
        page.wait_for_load_state("networkidle")
    assert requested and all(url.startswith(viewer.base + "/") for url in requested)


def test_the_viewer_refuses_every_write_method(runs: Runs, viewer: Viewer) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert status_of(viewer.url(f"/runs/{runs.ids['failed']}"), method) == 405
    assert status_of(viewer.url(f"/runs/{runs.ids['failed']}")) == 200


def test_a_request_for_another_host_name_is_refused_on_loopback(viewer: Viewer) -> None:
    # a page elsewhere that rebinds its own name to 127.0.0.1 sends its name as Host
    request = urllib.request.Request(viewer.url("/"), headers={"Host": "attacker.example"})
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("served a foreign Host")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403


def test_binding_all_addresses_needs_the_printed_token(
    runs: Runs, start_viewer: Callable[..., Viewer], page: Page
) -> None:
    open_viewer = start_viewer(runs.project, "--host", "0.0.0.0")
    assert open_viewer.token and f"?token={open_viewer.token}" in open_viewer.printed
    assert status_of(open_viewer.url("/")) == 403
    assert status_of(open_viewer.url("/?token=wrong")) == 403
    assert status_of(open_viewer.url("/static/app.js")) == 403
    refused = page.goto(open_viewer.url(f"/runs/{runs.ids['fly']}"))
    assert refused is not None and refused.status == 403
    answer = page.goto(open_viewer.url(f"/?token={open_viewer.token}"))
    assert answer is not None and answer.status == 200
    assert "token" not in page.url  # kept in a cookie, out of the address bar
    assert runs.ids["fly"] in page.inner_text("table.runs")
    with page.expect_navigation():  # read the new page, not the old one
        page.click(f"text={runs.ids['fly']}")  # the cookie carries on
    assert page.url.endswith(f"/runs/{runs.ids['fly']}") and "fly" in page.inner_text("h1")
