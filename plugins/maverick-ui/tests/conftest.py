"""Fixtures of the viewer's browser tests: real runs, a real ``maverick ui``, real Chromium.

Everything a person would have is real: the fly demo project (``examples/fly-demo``,
its deterministic example agent) run by the installed ``maverick``, runs that fail, are
resumed and are still running, the ``maverick ui`` command in its own process on a
free port, and Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from maverick_ui.testing import CHROMIUM, launch_chromium

from maverick_core.testing import (
    GIT_IDENTITY,
    ISOLATED_VARIABLES,
    in_ci,
    maverick_executable,
    read_until,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from playwright.sync_api import Browser, Page

REPO = Path(__file__).resolve().parents[3]
FLY_DEMO = REPO / "examples" / "fly-demo"
URL_LINE = re.compile(r"maverick ui: (http://\S+)")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a child ``maverick``: no user store settings, a git identity."""
    env = {k: v for k, v in os.environ.items() if k not in ISOLATED_VARIABLES}
    return {**env, **GIT_IDENTITY, **extra}


def maverick(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the installed ``maverick`` in ``project`` to its end."""
    result = subprocess.run(
        [*maverick_executable(), *args],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def run_id_of(result: subprocess.CompletedProcess[str]) -> str:
    """The run id a ``maverick run``/``fly`` printed on its first line."""
    found = re.search(r"\(run (\S+)\)", result.stdout)
    assert found, result.stdout + result.stderr
    return found.group(1)


class Viewer:
    """A ``maverick ui`` process serving on a free port."""

    def __init__(self, project: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*maverick_executable(), "ui", "--port", "0", *args],
            cwd=project,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            lines = read_until(self.proc, "maverick ui:", timeout=60)
        except AssertionError:
            self.stop()
            raise AssertionError(f"maverick ui did not start: {self.proc.stderr.read()}") from None
        self.line = lines[-1]
        found = URL_LINE.search(self.line)
        assert found, lines
        self.printed = found.group(1)
        port = re.search(r":(\d+)/", self.printed)
        assert port
        self.port = int(port.group(1))
        token = re.search(r"[?&]token=([\w-]+)", self.printed)
        self.token = token.group(1) if token else None
        # a wildcard bind prints the machine's name; the tests reach it on loopback
        self.base = f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        """An absolute URL on this viewer."""
        return self.base + path

    def stop(self) -> None:
        """Ctrl-C, as a person stops it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def start_viewer() -> Iterator[Callable[..., Viewer]]:
    """``start_viewer(project, *args)``: a running ``maverick ui``, stopped after the test."""
    started: list[Viewer] = []

    def start(project: Path, *args: str) -> Viewer:
        viewer = Viewer(project, *args)
        started.append(viewer)
        return viewer

    yield start
    for viewer in started:
        viewer.stop()


# ----------------------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser)."""
    reason = None
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api
        except ImportError:
            reason = "playwright is not installed (pip install -e 'plugins/maverick-ui[test]')"
    if reason is not None:
        if in_ci():
            pytest.fail(f"CI runs the browser tests: {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = launch_chromium(playwright)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser tab; ``page.dialogs`` lists every dialog a script opened."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    tab.on("dialog", dismiss)
    tab.dialogs = dialogs  # type: ignore[attr-defined]
    yield tab
    context.close()


# ----------------------------------------------------------------------------- the runs

FAILING = """
version: "1.0"
name: nightly
steps:
  - {name: fetch, type: shell, command: "echo fetched", checkpoint: true}
  - name: build
    type: shell
    command: >-
      echo 'the build broke: <script>window.__pwned=1</script><img src=x onerror=alert(6)>' >&2;
      exit 2
"""

RESUMABLE = """
version: "1.0"
name: release
steps:
  - {name: prepare, type: shell, command: "echo prepared", checkpoint: true}
  - {name: publish, type: shell, command: "test -f published.ok && echo published"}
outputs:
  url: https://example.org/releases/1
"""

BLOCKED = """
version: "1.0"
name: watch
inputs:
  gates: {type: string, description: the directory whose gate files let the steps finish}
# each gate gives up after two minutes: a test session killed mid-test leaks no endless loop
steps:
  - {name: start, type: shell, command: "echo started", checkpoint: true}
  - name: first_gate
    type: shell
    env: {GATES: "${{ inputs.gates }}"}
    command: >-
      for i in $(seq 2400); do [ -f "$GATES/gate-1" ] && break; sleep 0.05; done;
      echo gate one open
  - name: second_gate
    type: shell
    env: {GATES: "${{ inputs.gates }}"}
    command: >-
      for i in $(seq 2400); do [ -f "$GATES/gate-2" ] && break; sleep 0.05; done;
      echo gate two open
    checkpoint: true
"""

PWN = "window.__pwned=1"
XSS = f"""
version: "1.0"
name: "<script>{PWN}</script><img src=x onerror={PWN}>"
inputs:
  note: {{type: string, default: "<script>{PWN}</script>"}}
steps:
  - name: echo_markup
    type: shell
    command: "printf '%s' \\"<img src=x onerror=alert(1)><script>alert(2)</script>\\""
    checkpoint: true
  - name: guarded
    type: shell
    when: ${{{{ inputs.note != '<img src=x onerror=alert(3)>' }}}}
    command: "echo guarded"
outputs:
  link: "javascript:alert(5)"
  page: "https://example.org/?q=<script>"
  markup: "${{{{ steps.echo_markup.output.stdout }}}}"
"""


class BlockedRun:
    """A ``watch`` run executing in its own process, each step waiting for its gate file."""

    def __init__(self, project: Path, gates: Path) -> None:
        self.project = project
        self.gates = gates
        gates.mkdir()
        known = running_runs(project, "watch")
        self.proc = subprocess.Popen(
            [*maverick_executable(), "run", "ui-workflows/blocked.yaml", "-i", f"gates={gates}"],
            cwd=project,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.run_id = _wait_for_run(project, "watch", self.proc, known)
        self._wait_for_checkpoint("start")

    def _wait_for_checkpoint(self, checkpoint_id: str) -> None:
        """Until the run has committed ``checkpoint_id`` (its first step is then done)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            shown = json.loads(maverick(self.project, "runs", "show", self.run_id, "--json").stdout)
            if any(c.get("checkpoint_id") == checkpoint_id for c in shown["checkpoints"]):
                return
            time.sleep(0.1)
        raise AssertionError(f"run {self.run_id} never committed {checkpoint_id}")

    def open_gate(self, number: int) -> None:
        """Let gate step ``number`` finish."""
        (self.gates / f"gate-{number}").write_text("open\n")

    def finish(self) -> None:
        """Open every gate and wait for the run to end."""
        for number in (1, 2):
            self.open_gate(number)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Runs:
    """The runs of the viewer's tests, all in the fly demo project's store."""

    def __init__(self, project: Path, ids: dict[str, str]) -> None:
        self.project = project
        self.ids = ids


def running_runs(project: Path, workflow: str) -> set[str]:
    """The ids of ``workflow``'s runs the store lists as running."""
    listing = maverick(project, "runs", "list", "--workflow", workflow, "--json")
    shown = json.loads(listing.stdout)
    rows = shown["runs"] if isinstance(shown, dict) else shown  # {runs, next_cursor}
    return {row["run_id"] for row in rows if row["status"] == "running"}


def _wait_for_run(
    project: Path, workflow: str, proc: subprocess.Popen[bytes], known: set[str]
) -> str:
    """The id of the run ``proc`` started: running, and not among ``known``."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        new = running_runs(project, workflow) - known
        if new:
            return new.pop()
        time.sleep(0.1)
    raise AssertionError(f"no new {workflow} run appeared (exit status {proc.poll()})")


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    """A completed fly of the fly demo, a failed run, a resumed one, a running one, an XSS one."""
    project = tmp_path_factory.mktemp("ui") / "fly-demo"
    subprocess.run(
        ["bash", str(FLY_DEMO / "setup.sh"), str(project)],
        check=True,
        capture_output=True,
        env=clean_env(),
        timeout=60,
    )
    ids = {"fly": run_id_of(maverick(project, "fly", "--branch-name", "demo-feature"))}
    flows = project / "ui-workflows"
    flows.mkdir()
    for name, text in {
        "failing": FAILING,
        "resumable": RESUMABLE,
        "blocked": BLOCKED,
        "xss": XSS,
    }.items():
        (flows / f"{name}.yaml").write_text(textwrap.dedent(text))
    ids["failed"] = run_id_of(maverick(project, "run", "ui-workflows/failing.yaml", check=False))
    ids["resumed"] = run_id_of(maverick(project, "run", "ui-workflows/resumable.yaml", check=False))
    (project / "published.ok").write_text("ok\n")
    maverick(project, "run", "ui-workflows/resumable.yaml", "--resume", ids["resumed"])
    ids["xss"] = run_id_of(maverick(project, "run", "ui-workflows/xss.yaml"))
    blocked = BlockedRun(project, project / "session-gates")
    try:
        ids["running"] = blocked.run_id
        yield Runs(project, ids)
    finally:
        blocked.finish()
        shutil.rmtree(project.parent, ignore_errors=True)


@pytest.fixture
def blocked_run(runs: Runs, tmp_path: Path) -> Iterator[BlockedRun]:
    """A run of its own for this test, executing, its steps waiting for their gates."""
    started = BlockedRun(runs.project, tmp_path / "gates")
    try:
        yield started
    finally:
        started.finish()


@pytest.fixture(scope="session")
def viewer(runs: Runs) -> Iterator[Viewer]:
    """``maverick ui`` over the runs' project, on loopback (no token)."""
    started = Viewer(runs.project)
    try:
        yield started
    finally:
        started.stop()
