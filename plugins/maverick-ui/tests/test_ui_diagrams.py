"""The workflow diagrams as the viewer draws them: ``workflow_mermaid``'s text through the
viewer's own script (``static/app.js``) and its vendored Mermaid, in real Chromium.

The diagram's unit tests check the text's structure without a parser; here the real
parser and renderer say whether the library workflows draw, whether status colours
arrive, and whether hostile names stay text.
"""

from __future__ import annotations

import html
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from maverick_core.api import Workflow, workflow_mermaid
from maverick_core.engine.dsl.composite import LoopStep
from maverick_core.engine.dsl.model import ShellStep
from maverick_core.testing import maverick_executable

if TYPE_CHECKING:
    from playwright.sync_api import Page

STATIC = Path(__file__).resolve().parents[1] / "maverick_ui" / "static"
HOSTILE = '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> "q" #lt; $$x$$'


def shown_text(page: Page) -> str:
    """The diagram's text without whitespace (Mermaid wraps labels where it likes)."""
    return "".join((page.text_content("pre.mermaid svg") or "").split())


def draw(page: Page, tmp_path: Path, text: str) -> None:
    """Open a page holding ``text`` as the viewer's templates do, and let app.js draw it."""
    document = tmp_path / "diagram.html"
    document.write_text(
        "<!doctype html><html><body><main>"
        f'<pre class="mermaid">{html.escape(text)}</pre></main>'
        f'<script src="{(STATIC / "vendor" / "mermaid.min.js").as_uri()}"></script>'
        f'<script src="{(STATIC / "app.js").as_uri()}"></script>'
        "</body></html>"
    )
    page.goto(document.as_uri())
    page.wait_for_selector("pre.mermaid svg, pre.mermaid.diagram-error", timeout=20_000)
    error = page.get_attribute("pre.mermaid", "title")
    assert page.query_selector("pre.mermaid.diagram-error") is None, error


@pytest.mark.parametrize("name", ["fly", "refuel", "review"])
def test_the_library_workflows_draw(page: Page, tmp_path: Path, name: str) -> None:
    shown = subprocess.run(
        [*maverick_executable(), "workflows", "show", name, "--mermaid"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    draw(page, tmp_path, shown)
    text = shown_text(page)
    assert "validation" in text  # the fragments are drawn with their steps
    assert "Syntaxerror" not in text


def test_statuses_colour_the_nodes_and_a_legend_names_them(page: Page, tmp_path: Path) -> None:
    loop = LoopStep(
        name="each",
        type="loop",
        for_each=[1, 2],
        steps=[ShellStep(name="work", type="shell", command="echo")],
    )
    first = ShellStep(name="first", type="shell", command="echo")
    workflow = Workflow(version="1.0", name="coloured", steps=[first, loop])
    statuses = {"first": "restored", "each": "failed", "each[0].work": "done"}
    draw(page, tmp_path, workflow_mermaid(workflow, statuses))
    assert page.locator("pre.mermaid svg .node.st_restored").count() == 2  # node + legend
    assert page.locator("pre.mermaid svg .node.st_failed").count() == 2
    assert "restoredfromacheckpoint" in shown_text(page)


def test_markup_in_step_names_is_drawn_as_text(page: Page, tmp_path: Path) -> None:
    step = ShellStep(name=HOSTILE, type="shell", command="echo")
    draw(page, tmp_path, workflow_mermaid(Workflow(version="1.0", name="w", steps=[step])))
    text = shown_text(page)
    assert '<imgsrc=xonerror="window.__pwned=1">' in text
    assert "<script>window.__pwned=2</script>" in text
    assert '"q"#lt;' in text
    assert page.query_selector("pre.mermaid img, pre.mermaid script, pre.mermaid math") is None
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.dialogs == []  # type: ignore[attr-defined]
