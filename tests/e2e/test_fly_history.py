"""``maverick runs show`` after real ``fly`` runs: every step, the outputs, the attempts, cost.

The fly runs use the ``claude`` stand-in on PATH (it reports a cost per call), a real
git repository and its local origin.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.test_agents_presets import repo

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.fixtures.support import Maverick

AFTER_REVIEW = ("push", "report", "pr_text", "pull_request")


def steps_of(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """describe_run's steps by path."""
    return {step["path"]: step for step in data["steps"]}


def shown(mav: Maverick) -> tuple[dict[str, Any], str]:
    run_id = json.loads(mav.run("runs", "list", "--json").stdout)["runs"][0]["run_id"]
    as_json = mav.run("runs", "show", run_id, "--json")
    assert as_json.returncode == 0, as_json.stderr
    text = mav.run("runs", "show", run_id)
    assert text.returncode == 0, text.stderr
    return json.loads(as_json.stdout), text.stdout


def test_runs_show_after_a_completed_fly_has_the_steps_after_the_last_checkpoint(
    tmp_path: Path,
) -> None:
    mav = repo(tmp_path, "claude")
    assert mav.run("fly", "--branch-name", "feature").returncode == 0
    data, text = shown(mav)

    assert data["status"] == "completed" and data["state_from"] == "final"
    for name in AFTER_REVIEW:
        step = steps_of(data)[name]
        assert step["state"] == "done" and not step["in_checkpoint"], name
    assert steps_of(data)["review_complete"]["in_checkpoint"]
    assert steps_of(data)["pull_request"]["output"]
    assert next(iter(data["outputs"])) == "pull_request"
    assert data["outputs"]["pull_request"] == ".maverick/prs/feature.md"
    assert data["totals"]["cost_usd"] == pytest.approx(0.25 * 3 + 0.1)
    assert data["totals"]["steps"].get("failed", 0) == 0
    [attempt] = data["attempts"]
    assert attempt["outcome"] == "completed" and attempt["resumed_from"] is None
    assert data["resume_command"] is None

    lines = text.splitlines()
    assert lines[2:4] == ["outputs:", "  pull_request: .maverick/prs/feature.md"]
    assert "agent cost $0.85" in lines[1]
    assert "steps (as recorded when the run ended):" in lines
    order = [line.split()[1] for line in lines if line.startswith("  done ")]
    assert order.index("review_complete") < order.index("report") < order.index("pull_request")
    implement = next(line for line in lines if line.split()[1:2] == ["phases[0].implement"])
    assert implement.endswith(", $0.25)")

    summary = json.loads(mav.run("runs", "list", "--json").stdout)["runs"][0]
    assert summary["status"] == "completed"
    # the listing's columns come from the summary the run wrote when it ended
    assert summary["cost_usd"] == data["totals"]["cost_usd"]
    assert summary["duration"] == pytest.approx(data["totals"]["duration"], abs=0.01)


def test_runs_show_tells_a_killed_then_resumed_fly_as_two_attempts(tmp_path: Path) -> None:
    mav = repo(tmp_path, "claude")
    mav.run_killed("fly", "--branch-name", "feature", hang="implementer:phase-2")
    data, text = shown(mav)
    assert data["status"] == "running" and data["state_from"] == "checkpoint"
    assert "killed (unknown end)" in text
    assert data["resume_command"] == f"maverick fly --resume {data['run_id']}"

    assert mav.run("fly", "--resume").returncode == 0
    data, text = shown(mav)
    first, second = data["attempts"]
    assert first["outcome"] == "killed" and first["end_estimated"] is True
    assert second["outcome"] == "completed"
    assert second["resumed_from"] == "phase_1_complete"
    assert first["pid"] != second["pid"]
    assert steps_of(data)["phases[0].implement"]["state"] == "restored"
    assert steps_of(data)["phases[1].implement"]["state"] == "done"
    # the killed call to phase 2 was paid for and counted
    assert len(steps_of(data)["phases[1].implement"]["agent"]["calls"]) >= 1
    assert data["meta"]["summary"]["attempts"] == 2
    assert "killed (unknown end; last seen then)" in text
    assert "completed, resumed from 'phase_1_complete'" in text
