"""Screenshots of the viewer for the README: ``docs/images/ui-runs.png``, ``ui-run.png``,
``ui-diagram.png``.

Makes real runs in a fresh copy of the fly demo (a fly interrupted with Ctrl-C in phase
2 and resumed, a completed fly, a failed run), starts ``maverick ui`` over them, and has
Debian's Chromium (driven by Playwright) take the pictures:

    python plugins/maverick-ui/scripts/screenshots.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from maverick_ui.testing import launch_chromium

REPO = Path(__file__).resolve().parents[3]
FAILING = """\
version: "1.0"
name: nightly
steps:
  - {name: fetch, type: shell, command: "echo fetched", checkpoint: true}
  - {name: build, type: shell, command: "echo 'compile error in calc/ops.py' >&2; exit 2"}
"""
ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("MAVERICK_")},
    "GIT_AUTHOR_NAME": "Fly Demo",
    "GIT_AUTHOR_EMAIL": "fly-demo@example.invalid",
    "GIT_COMMITTER_NAME": "Fly Demo",
    "GIT_COMMITTER_EMAIL": "fly-demo@example.invalid",
}


def maverick(project: Path, *args: str, check: bool = True) -> str:
    result = subprocess.run(
        ["maverick", *args], cwd=project, env=ENV, capture_output=True, text=True, timeout=300
    )
    if check and result.returncode != 0:
        sys.exit(f"maverick {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def interrupted_then_resumed_fly(project: Path) -> str:
    """A fly stopped with Ctrl-C after phase 1's checkpoint, then resumed to the end."""
    # from main again: the first fly's branch has every task checked off
    subprocess.run(["git", "checkout", "-q", "main"], cwd=project, check=True)
    proc = subprocess.Popen(
        ["maverick", "fly", "--branch-name", "resumed-feature"],
        cwd=project,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    run_id = ""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        listed = [
            r for r in json.loads(maverick(project, "runs", "list", "--json"))["runs"]
            if r["workflow"] == "fly" and r["status"] == "running"
        ]  # fmt: skip
        if listed:
            run_id = listed[0]["run_id"]
            shown = json.loads(maverick(project, "runs", "show", run_id, "--json"))
            if any(c.get("checkpoint_id") == "phase_1_complete" for c in shown["checkpoints"]):
                time.sleep(1.0)  # into phase 2 agent call
                proc.send_signal(signal.SIGINT)
                break
        time.sleep(0.1)
    proc.wait(timeout=60)
    if not run_id:
        sys.exit("the fly to interrupt never showed up in the store")
    maverick(project, "fly", "--resume", run_id)
    return run_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    out = parser.parse_args().out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="maverick-ui-shots-"))
    project = root / "fly-demo"
    viewer = None
    try:
        subprocess.run(
            [str(REPO / "examples" / "fly-demo" / "setup.sh"), str(project)],
            check=True,
            capture_output=True,
            env=ENV,
        )
        maverick(project, "fly", "--branch-name", "demo-feature")
        (root / "nightly.yaml").write_text(FAILING)
        maverick(project, "run", str(root / "nightly.yaml"), check=False)
        run_id = interrupted_then_resumed_fly(project)
        viewer = subprocess.Popen(
            ["maverick", "ui", "--port", "0"],
            cwd=project,
            env=ENV,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert viewer.stdout is not None
        url = re.search(r"(http://\S+)", viewer.stdout.readline())
        assert url, "maverick ui printed no URL"
        base = url.group(1).rstrip("/")
        print(json.dumps({"images": [str(p) for p in shoot(base, run_id, out)]}))
    finally:
        if viewer is not None:
            viewer.send_signal(signal.SIGINT)
            viewer.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(f"{project}.origin.git", ignore_errors=True)


def shoot(base: str, run_id: str, out: Path) -> list[Path]:
    """The runs page; the resumed fly's page (summary and timeline); its diagram."""
    from playwright.sync_api import sync_playwright

    shots = [out / "ui-runs.png", out / "ui-run.png", out / "ui-diagram.png"]
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1440, "height": 360})
        page.goto(base + "/")
        page.screenshot(path=str(shots[0]), full_page=True)
        page.set_viewport_size({"width": 1440, "height": 1000})
        page.goto(f"{base}/runs/{run_id}")
        page.wait_for_selector(".diagram svg", timeout=30_000)
        page.screenshot(path=str(shots[1]))
        page.locator("section.diagram").scroll_into_view_if_needed()
        page.locator("section.diagram").screenshot(path=str(shots[2]))
        browser.close()
    return shots


if __name__ == "__main__":
    main()
