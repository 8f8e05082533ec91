"""fly, refuel and review through each preset's stand-in CLI (``claude``, ``codex``,
``gemini``, ``aider`` on PATH): command lines, permissions, parsed output, errors."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.fixtures.support import Maverick, git, history, make_repo, outputs, settings
from tests.e2e.test_fly import TASKS
from tests.e2e.test_refuel import ISSUES

AGENTS = Path(__file__).resolve().parent / "fixtures" / "agents"
PRESETS = ("claude", "codex", "gemini", "aider")


def preset_yaml(
    preset: str, extra: str = "", prices: dict[str, Any] | None = None, **settings: Any
) -> str:
    """maverick.yaml serving every role with ``preset`` and a compile stage that runs.

    The writer role is off: these tests compare maverick's own commit messages.
    """
    entry = json.dumps({"preset": preset, "timeout": 60, **settings})
    python = json.dumps(f"{sys.executable} -m compileall -q --invalidation-mode checked-hash src")
    table = f"  prices: {json.dumps(prices)}\n" if prices else ""
    return (
        f"project: e2e\nprovider: local\nagents:\n  default: {entry}\n  writer: false\n"
        f"{table}{extra}"
        f"validation:\n  stages:\n    compile: {python}\n"
    )


def on_path(env: dict[str, str] | None = None) -> dict[str, str]:
    """The stand-ins first on PATH."""
    return {"PATH": f"{AGENTS}{os.pathsep}{os.environ['PATH']}", **(env or {})}


def repo(tmp_path: Path, preset: str, tasks: str = TASKS, **kwargs: Any) -> Maverick:
    work = make_repo(tmp_path / preset, {"tasks.md": tasks}, preset_yaml(preset, **kwargs))
    return Maverick(work, on_path())


def calls(mav: Maverick, event: str = "start") -> list[dict[str, Any]]:
    return [e for e in mav.events() if e["event"] == event]


@pytest.mark.parametrize("preset", PRESETS)
def test_fly_implements_every_phase_through_the_preset(tmp_path: Path, preset: str) -> None:
    mav = repo(tmp_path, preset)
    result = mav.run("fly", "--branch-name", "feature", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [s for s, _ in history(mav.repo, "feature")] == [
        "Phase 1: Setup",
        "Phase 2: Core",
        "Phase 3: Polish",
    ]
    assert git(mav.repo, "show", "feature:src/t004.py") == "VALUE = 'T004'"
    assert outputs(result.stdout)["recommendation"] == "approve"
    started = calls(mav)
    assert {e["cli"] for e in started} == {preset}
    assert [e["role"] for e in started] == ["implementer"] * 3 + ["reviewer"]
    events = [json.loads(line) for line in result.stdout.splitlines()]
    usage = [e for e in events if e["event"] == "agent_usage"]
    assert [u["usage"]["role"] for u in usage] == ["implementer"] * 3 + ["reviewer"]
    assert all(u["usage"]["output_tokens"] == 300 for u in usage)


def test_claude_edits_with_accept_edits_and_reviews_read_only(tmp_path: Path) -> None:
    mav = repo(tmp_path, "claude", model="opus")
    assert mav.run("fly", "--branch-name", "feature").returncode == 0
    implementer, reviewer = calls(mav)[0]["argv"], calls(mav)[-1]["argv"]
    assert implementer[:4] == ["-p", "--output-format", "stream-json", "--verbose"]
    assert implementer[implementer.index("--permission-mode") + 1] == "acceptEdits"
    assert "Write" in implementer[implementer.index("--allowedTools") + 1]
    assert "Bash(git push:*)" in implementer[implementer.index("--disallowedTools") + 1]
    assert reviewer[reviewer.index("--permission-mode") + 1] == "default"
    assert "Write" in reviewer[reviewer.index("--disallowedTools") + 1]
    assert implementer[implementer.index("--model") + 1] == "opus"


def test_codex_writes_in_a_workspace_write_sandbox_and_reviews_read_only(tmp_path: Path) -> None:
    mav = repo(tmp_path, "codex")
    assert mav.run("fly", "--branch-name", "feature").returncode == 0
    implementer, reviewer = calls(mav)[0]["argv"], calls(mav)[-1]["argv"]
    assert implementer[:2] == ["exec", "--json"] and implementer[-1] == "-"
    assert implementer[implementer.index("--sandbox") + 1] == "workspace-write"
    assert reviewer[reviewer.index("--sandbox") + 1] == "read-only"
    assert implementer[implementer.index("--cd") + 1] == str(mav.repo)


def test_refuel_through_codex_prices_calls_from_the_price_table(tmp_path: Path) -> None:
    fixable = {k: v for k, v in ISSUES.items() if not k.endswith(("4.md", "5.md"))}
    prices = {"gpt-5-codex": {"input": 1.25, "output": 10, "cached": 0.125}}
    yaml = preset_yaml("codex", model="gpt-5-codex", prices=prices)
    mav = Maverick(make_repo(tmp_path / "r", fixable, yaml), on_path())
    result = mav.run("refuel")
    assert result.returncode == 0, result.stdout + result.stderr
    fixers = [e for e in calls(mav) if e["role"] == "issue_fixer"]
    assert len(fixers) == 3 and all("workspace-write" in e["argv"] for e in fixers)
    # 1200 input, 4000 cached, 300 output tokens per call (the stand-in's usage)
    per_call = (1200 * 1.25 + 4000 * 0.125 + 300 * 10) / 1_000_000
    assert f"agents: issue_fixer ${per_call * 3:.4f} (3 calls, 16k tokens)" in result.stdout


def test_review_through_gemini_answers_read_only(tmp_path: Path) -> None:
    mav = repo(tmp_path, "gemini")
    git(mav.repo, "switch", "-q", "-c", "topic")
    (mav.repo / "src" / "extra.py").write_text("X = 1\n")
    git(mav.repo, "add", "-A")
    git(mav.repo, "commit", "-q", "-m", "extra")
    result = mav.run("review", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    argv = calls(mav)[0]["argv"]
    assert argv[argv.index("--approval-mode") + 1] == "default"
    assert argv[argv.index("--output-format") + 1] == "json"


def test_a_missing_cli_is_a_one_line_error_naming_role_preset_and_install(tmp_path: Path) -> None:
    work = make_repo(tmp_path / "r", {"tasks.md": TASKS}, preset_yaml("claude"))
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("git", "python3"):
        found = shutil.which(tool)
        assert found
        (bare / tool).symlink_to(found)
    mav = Maverick(work, {"PATH": str(bare)})
    preflight = mav.run("fly", "--branch-name", "feature")
    assert preflight.returncode == 1  # the preflight names it before anything starts
    assert "FAIL agent implementer: agents.default runs 'claude', which is not installed" in (
        preflight.stdout
    )
    result = mav.run("fly", "--branch-name", "feature", "--no-preflight")
    assert result.returncode == 1
    line = next(x for x in result.stdout.splitlines() if x.startswith("error:"))
    assert "agent role 'implementer' uses preset 'claude', but `claude` is not on PATH" in line
    assert "npm install -g @anthropic-ai/claude-code" in line
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("preset", "message"),
    [
        ("claude", "Invalid API key · Please run /login"),
        ("codex", "unexpected status 401 Unauthorized"),
        ("gemini", "Request had invalid authentication credentials"),
        ("aider", "Incorrect API key provided"),
    ],
)
def test_an_authentication_error_fails_the_step_with_the_clis_message(
    tmp_path: Path, preset: str, message: str
) -> None:
    mav = repo(tmp_path, preset)
    mav.env["TEST_AGENT_ERROR"] = "implementer:phase-1"
    result = mav.run("fly", "--branch-name", "feature")
    assert result.returncode == 1
    error = next(x for x in result.stdout.splitlines() if x.startswith("error:"))
    assert message in result.stdout and "implement" in error
    assert "Traceback" not in result.stdout + result.stderr
    assert "resume with: maverick fly --resume" in result.stdout.splitlines()[-1]


def test_an_unknown_extra_argument_is_refused_the_way_the_cli_refuses_it(tmp_path: Path) -> None:
    mav = repo(tmp_path, "claude", args=["--no-such-flag"])
    result = mav.run("fly", "--branch-name", "feature")
    assert result.returncode == 1
    assert "error: unknown option '--no-such-flag'" in result.stdout


def test_on_agent_activity_shows_what_the_agent_does_under_its_step(tmp_path: Path) -> None:
    mav = repo(tmp_path, "claude")
    result = mav.run("fly", "--branch-name", "feature")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    edit = next(i for i, x in enumerate(lines) if x.strip().startswith("> edit"))
    assert lines[edit].strip().endswith("src/t001.py")
    step = next(x for x in lines[edit:] if "ok phases[0].implement" in x)
    assert "(agent, " in step and "$0.25, 6k tokens)" in step
    assert "agents: implementer $0.75 (3 calls, 16k tokens), reviewer $0.10" in result.stdout
    quiet = repo(tmp_path / "q", "claude").run("fly", "--branch-name", "feature", "-q")
    assert "> edit" not in quiet.stdout


def test_on_agent_usage_totals_in_runs_show_equal_what_the_clis_reported(tmp_path: Path) -> None:
    mav = repo(tmp_path, "claude")
    assert mav.run("fly", "--branch-name", "feature").returncode == 0
    shown = json.loads(mav.run("runs", "list", "--json").stdout)["runs"]
    run_id = shown[0]["run_id"]
    data = json.loads(mav.run("runs", "show", run_id, "--json").stdout)
    assert data["totals"]["cost_usd"] == pytest.approx(0.25 * 3 + 0.1)
    [first] = [s for s in data["steps"] if s["path"] == "phases[0].implement"]
    assert first["agent"]["cost_usd"] == pytest.approx(0.25)
    assert [c["path"] for c in data["meta"]["agent_calls"]] == [
        "phases[0].implement",
        "phases[1].implement",
        "phases[2].implement",
        "review.reviewers[0].ask",
    ]
    text = mav.run("runs", "show", run_id).stdout
    assert "total: $0.85 in 4 calls" in text
    assert "> edit" in text


def test_the_budget_stops_the_run_and_resume_with_a_higher_max_cost_finishes_it(
    tmp_path: Path,
) -> None:
    mav = repo(tmp_path, "claude")
    stopped = mav.run("fly", "--branch-name", "feature", "--max-cost", "0.3")
    assert stopped.returncode == 1
    error = next(x for x in stopped.stdout.splitlines() if x.startswith("error:"))
    assert "budget reached: agents spent $0.50 of the $0.30 allowed" in error
    assert "stopped before 'phases[1].implemented' with checkpoint 'budget_reached'" in error
    assert "resume with: maverick fly --resume" in stopped.stdout.splitlines()[-1]
    assert [s for s, _ in history(mav.repo, "feature")] == ["Phase 1: Setup"]

    still = mav.run("fly", "--resume")
    assert still.returncode == 1 and "budget reached" in still.stdout
    finished = mav.run("fly", "--resume", "--max-cost", "2")
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert [e["key"] for e in calls(mav)] == ["phase-1", "phase-2", "phase-3", "round-1"]


def test_budget_max_cost_usd_in_maverick_yaml_is_the_default(tmp_path: Path) -> None:
    mav = repo(tmp_path, "claude", extra="budget: {max_cost_usd: 0.2}\n")
    stopped = mav.run("fly", "--branch-name", "feature")
    assert stopped.returncode == 1
    assert "budget reached: agents spent $0.25 of the $0.20 allowed" in stopped.stdout


def test_malformed_output_is_a_clear_error_with_the_tail_of_what_arrived(tmp_path: Path) -> None:
    mav = repo(tmp_path, "claude")
    mav.env["TEST_AGENT_MALFORMED"] = "implementer:phase-1"
    result = mav.run("fly", "--branch-name", "feature")
    assert result.returncode == 1
    assert "the output is not Claude Code stream-json (no result event)" in result.stdout
    assert "<html>502 Bad Gateway</html>" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_timed_out_call_is_continued_on_resume(tmp_path: Path) -> None:
    mav = repo(tmp_path, "codex", timeout=2)
    mav.env["TEST_AGENT_HANG"] = "implementer:phase-2"
    failed = mav.run("fly", "--branch-name", "feature")
    assert failed.returncode == 1
    assert "agent 'implementer' (codex) timed out after 2s" in failed.stdout
    resumed = mav.run("fly", "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    phase_2 = [e for e in calls(mav) if e["key"] == "phase-2"]
    assert len(phase_2) == 2 and phase_2[1]["resumed"]
    assert phase_2[1]["session"] == phase_2[0]["session"]
    assert phase_2[1]["argv"][-3:] == ["resume", phase_2[0]["session"], "-"]


def test_on_a_terminal_a_status_line_shows_the_running_agent_step_and_its_time(
    tmp_path: Path,
) -> None:
    import pty
    import subprocess

    from maverick_core.testing import maverick_executable

    mav = repo(tmp_path, "claude")
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [*maverick_executable(), "fly", "--branch-name", "feature", "--skip-review"],
        cwd=mav.repo,
        env={**mav.env, "TEST_AGENT_SLOW": "2.5", "COLUMNS": "160"},
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    seen = b""
    with contextlib.suppress(OSError):  # EIO once the child closed its side
        while chunk := os.read(leader, 65536):
            seen += chunk
    os.close(leader)
    assert proc.wait(timeout=120) == 0, seen.decode(errors="replace")
    text = seen.decode(errors="replace")
    assert re.search(r"running phases\[0\]\.implement \d\.\ds", text), text


def test_a_spent_budget_starts_no_agent_call(tmp_path: Path) -> None:
    mav = repo(tmp_path, "claude")
    stopped = mav.run("fly", "--branch-name", "feature", "--max-cost", "0")
    assert stopped.returncode == 1
    assert "the agent call of 'phases[0].implement' was not started" in stopped.stdout
    assert calls(mav) == []


def test_a_command_backend_that_reports_no_usage_keeps_plain_step_lines(tmp_path: Path) -> None:
    mav = Maverick(make_repo(tmp_path / "r", {"tasks.md": TASKS}, settings()))
    result = mav.run("fly", "--branch-name", "feature")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "agents: implementer (3 calls), reviewer (1 call)\n" in result.stdout
    assert "$?" not in result.stdout and "0 tokens" not in result.stdout
