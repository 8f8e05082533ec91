"""Continue, don't restart: a run killed during an agent call resumes the CLI's session."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from typing import TYPE_CHECKING, Any

import pytest

from maverick_core.testing import maverick_executable
from tests.e2e.fixtures.support import Maverick, end_state
from tests.e2e.test_agents_presets import calls, repo

if TYPE_CHECKING:
    from pathlib import Path


def kill_when_session_recorded(mav: Maverick, *args: str, hang: str) -> dict[str, Any]:
    """Run maverick with ``--json``; SIGKILL it (and the agent) once the hanging call
    (``implementer:phase-N``) recorded its session. Returns the ``agent_session`` event."""
    path = f"phases[{int(hang.rsplit('-', 1)[1]) - 1}].implement"
    proc = subprocess.Popen(
        [*maverick_executable(), *args, "--json"],
        cwd=mav.repo,
        env={**mav.env, "TEST_AGENT_HANG": hang},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            event = json.loads(line)
            if event["event"] == "agent_session" and event["path"] == path:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
                for started in calls(mav):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(started["pid"], signal.SIGKILL)
                return event
        raise AssertionError(f"maverick ended (status {proc.wait()}) before {hang} started")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("preset", ["claude", "codex"])
def test_load_agent_records_continues_the_session_a_sigkill_interrupted(
    tmp_path: Path, preset: str
) -> None:
    baseline = repo(tmp_path / "baseline", preset)
    assert baseline.run("fly", "--branch-name", "feature").returncode == 0

    mav = repo(tmp_path, preset)
    event = kill_when_session_recorded(
        mav, "fly", "--branch-name", "feature", hang="implementer:phase-2"
    )
    assert event["path"] == "phases[1].implement"
    resumed = mav.run("fly", "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    session = event["session_id"]
    assert f"continuing agent session {session[:8]}… of phases[1].implement" in resumed.stdout
    saved = "$0.25, " if preset == "claude" else ""  # Codex reports no cost, and no prices
    assert (
        f"restored 1 agent call from checkpoint phase_1_complete (saved {saved}" in resumed.stdout
    )
    phase_2 = [e for e in calls(mav) if e["key"] == "phase-2"]
    assert [(e["session"], e["resumed"]) for e in phase_2] == [(session, False), (session, True)]
    assert end_state(mav.repo, ["feature"]) == end_state(baseline.repo, ["feature"])


def test_on_agent_session_is_kept_until_the_call_answers(tmp_path: Path) -> None:
    mav = repo(tmp_path, "claude")
    event = kill_when_session_recorded(
        mav, "fly", "--branch-name", "feature", hang="implementer:phase-1"
    )
    run_id = json.loads(mav.run("runs", "list", "--json").stdout)["runs"][0]["run_id"]
    meta = json.loads(mav.run("runs", "show", run_id, "--json").stdout)["meta"]
    assert meta["agent_sessions"]["phases[0].implement"]["session_id"] == event["session_id"]
    assert mav.run("fly", "--resume").returncode == 0
    meta = json.loads(mav.run("runs", "show", run_id, "--json").stdout)["meta"]
    assert meta["agent_sessions"] == {}


def test_restart_step_starts_the_interrupted_call_fresh(tmp_path: Path) -> None:
    mav = repo(tmp_path, "claude")
    event = kill_when_session_recorded(
        mav, "fly", "--branch-name", "feature", hang="implementer:phase-2"
    )
    resumed = mav.run("fly", "--resume", "--restart-step")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "(--restart-step): starting it fresh" in resumed.stdout
    phase_2 = [e for e in calls(mav) if e["key"] == "phase-2"]
    assert phase_2[1]["session"] != event["session_id"] and not phase_2[1]["resumed"]


def test_aider_has_no_sessions_so_the_step_starts_over(tmp_path: Path) -> None:
    mav = repo(tmp_path, "aider")
    mav.run_killed("fly", "--branch-name", "feature", hang="implementer:phase-2")
    resumed = mav.run("fly", "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "continuing agent session" not in resumed.stdout
    assert [e["resumed"] for e in calls(mav) if e["key"] == "phase-2"] == [False, False]
