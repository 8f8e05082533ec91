"""``--resume --explain`` describes exactly what ``--resume`` then does, at every crash point."""

from __future__ import annotations

import re
import signal
from typing import TYPE_CHECKING

import pytest

from maverick_core.testing import json_events

if TYPE_CHECKING:
    from tests.integration.conftest import Harness

TOP_LEVEL = ["prepare", "seq", "par", "choose", "nested", "finish"]
LOOPS = {"seq": 3, "par": 4}


def parse_plan(text: str) -> tuple[int, dict[str, str], dict[str, int]]:
    """Records restored, each top-level step's verdict, iterations restored per loop."""
    restored = re.search(r"^restores (\d+) completed step records?$", text, re.M)
    assert restored, text
    verdicts: dict[str, str] = {}
    iterations: dict[str, int] = {}
    for line in text.splitlines():
        match = re.match(r"^  (restored|partly|runs again) +(\w+)(?: \((.*)\))?$", line)
        if match:
            verdicts[match.group(2)] = match.group(1)
            counted = re.match(r"(\d+) of (\d+) iterations? restored", match.group(3) or "")
            if counted:
                iterations[match.group(2)] = int(counted.group(1))
    return int(restored.group(1)), verdicts, iterations


@pytest.mark.parametrize("checkpoint", range(1, 10))
def test_explain_matches_the_resume_after_a_kill_at_every_checkpoint(
    harness: Harness, checkpoint: int
) -> None:
    killed = harness.run(kill=f"after_checkpoint:{checkpoint}")
    assert killed.returncode == -signal.SIGKILL
    explained = harness.run("--resume", "--explain")
    assert explained.returncode == 0, explained.stderr
    restored, verdicts, iterations = parse_plan(explained.stdout)
    assert list(verdicts) == TOP_LEVEL

    resumed = harness.run("--resume")
    assert resumed.returncode == 0, resumed.stderr
    seen = json_events(resumed.stdout)
    resume = next(e for e in seen if e["event"] == "resume")
    assert restored == resume["restored"]
    started = {e["path"] for e in seen if e["event"] == "step_start"}
    for name, verdict in verdicts.items():
        assert (name in started) == (verdict != "restored"), (name, verdict)
    loop_starts = {e["path"]: e["restored"] for e in seen if e["event"] == "loop_start"}
    for loop in LOOPS:
        if verdicts[loop] != "restored":
            assert iterations.get(loop, 0) == loop_starts[loop], (loop, explained.stdout)


def test_a_loop_killed_after_its_second_iteration_is_explained_as_two_restored(
    harness: Harness,
) -> None:
    assert harness.run(kill="after_checkpoint:2").returncode == -signal.SIGKILL
    plan = harness.run("--resume", "--explain").stdout
    assert "  partly     seq (2 of 3 iterations restored; 1 run again)" in plan
