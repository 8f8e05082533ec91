"""``maverick ui`` as a command: cheap to list, honest errors, the parts behind the pages."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from maverick_ui.command import is_loopback, page_url
from maverick_ui.data import display_url
from maverick_ui.render import is_link
from maverick_ui.timeline import LABEL_WIDTH, WIDTH, layout

from maverick_core.testing import maverick_executable

PACKAGE = Path(__file__).resolve().parents[1] / "maverick_ui"
WEB_MODULES = ("starlette", "uvicorn", "jinja2", "maverick_ui.app", "maverick_ui.command")

LIST_MODULES_AT_EXIT = """
import atexit, sys
atexit.register(lambda: sys.stderr.write("".join(f"module: {m}\\n" for m in sorted(sys.modules))))
from maverick_core.engine.cli import main
sys.argv[0] = "maverick"
main()
"""


def test_maverick_help_lists_ui_without_importing_the_web_stack(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", LIST_MODULES_AT_EXIT, "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\s+ui\s+Browse the store's runs", result.stdout, re.MULTILINE)
    modules = [line.removeprefix("module: ") for line in result.stderr.splitlines()]
    assert "maverick_ui" in modules  # the plugin's hooks are loaded, cheaply
    assert [m for m in modules if m.split(".")[0] in WEB_MODULES or m in WEB_MODULES] == []


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*maverick_executable(), "ui", "--port", str(port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("myhost", False)],
)  # fmt: skip
def test_only_loopback_addresses_go_without_a_token(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_printed_url_carries_the_token_and_brackets_ipv6() -> None:
    assert page_url("127.0.0.1", 8765, None) == "http://127.0.0.1:8765/"
    assert page_url("::1", 9, "abc") == "http://[::1]:9/?token=abc"
    assert page_url("0.0.0.0", 9, "t").endswith(":9/?token=t")


def test_a_store_password_is_never_shown() -> None:
    shown = display_url("postgresql://maverick:s3cret@db.internal:5432/runs")
    assert shown == "postgresql://maverick:***@db.internal:5432/runs"
    assert display_url("sqlite:///.maverick/runs.db") == "sqlite:///.maverick/runs.db"


@pytest.mark.parametrize(
    ("value", "link"),
    [("https://example.org/pr/1", True), ("http://host/x", True), ("javascript:alert(1)", False),
     ("JavaScript:alert(1)", False), ("data:text/html,<b>", False), ("//evil.example", False),
     ("https://", False), ("https://a b", False), (".maverick/prs/x.md", False), (3, False)],
)  # fmt: skip
def test_only_http_and_https_urls_become_links(value: object, link: bool) -> None:
    assert is_link(value) is link


def test_no_template_marks_a_value_safe() -> None:
    # autoescape is on; `|safe` or Markup would let a run value through unescaped
    for template in (PACKAGE / "templates").glob("*.html"):
        assert "|safe" not in template.read_text().replace(" ", ""), template.name
    for module in PACKAGE.glob("*.py"):
        assert "Markup(" not in module.read_text(), module.name


def test_the_timeline_gives_each_attempt_a_segment_and_places_steps_within_it() -> None:
    attempts = [
        {"number": 1, "started_at": 100.0, "ended_at": 110.0, "outcome": "failed"},
        {"number": 2, "started_at": 5000.0, "ended_at": 5010.0, "outcome": "completed"},
    ]
    steps = [
        {"path": "prepare", "status": "completed", "restored": True,
         "started_at": 100.0, "duration": 5.0},
        {"path": "publish", "status": "completed", "started_at": 5005.0, "duration": 5.0},
        {"path": "later", "status": "not_reached"},
    ]  # fmt: skip
    checkpoints = [{"seq": 1, "checkpoint_id": "prepare", "created_at": 105.0}]
    timeline = layout(attempts, steps, checkpoints, now=6000.0)
    first, second = timeline.segments
    assert LABEL_WIDTH == first.x0 < first.x1 < second.x0 < second.x1 <= WIDTH
    assert first.x1 - first.x0 == pytest.approx(second.x1 - second.x0)  # equal time, equal room
    prepare, publish, later = timeline.bars
    assert prepare.restored and prepare.x == first.x0
    assert prepare.width == pytest.approx((first.x1 - first.x0) / 2)
    assert publish.x == pytest.approx((second.x0 + second.x1) / 2)
    assert later.x is None and later.status == "not_reached"
    (marker,) = timeline.markers
    assert marker.x == pytest.approx(prepare.x + prepare.width)
