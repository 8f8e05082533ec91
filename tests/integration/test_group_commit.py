"""Group commit under SIGKILL: a parallel loop's concurrent checkpoints share syncs,
and a checkpoint the run reported saved is never lost.

A real ``maverick`` runs a loop of 300 iterations, 8 at a time, each committing a
checkpoint; it is SIGKILLed at a random instant while commits are under way, then
resumed and killed again, round after round, and finally resumed to the end. The
test plugin ``maverick_test_reported`` records every ``after_checkpoint`` (what the
run reported saved) and every iteration that ran.
"""

from __future__ import annotations

import json
import os
import random
import time
from typing import TYPE_CHECKING, Any

from maverick_core.testing import MaverickCLI
from tests.integration.conftest import HERE

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

WORKFLOW = """
version: "1.0"
name: group
inputs:
  log: {type: string, required: true}
steps:
  - name: each
    type: loop
    for_each: ${{ range(300) }}
    max_concurrency: 8
    steps:
      - name: work
        type: python
        action: maverick_test_reported:note
        kwargs: {index: "${{ index }}", log: "${{ inputs.log }}"}
      - name: done
        type: checkpoint
        checkpoint_id: item_${{ index }}
"""
ROUNDS = 8


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _the_run(cli: MaverickCLI) -> dict[str, Any]:
    """The project's one run, as `runs list --json` shows it."""
    listed = cli("runs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [run] = json.loads(listed.stdout)["runs"]
    return dict(run)


def _status(cli: MaverickCLI) -> str:
    """The run's status as `runs list` shows it."""
    return str(_the_run(cli)["status"])


def _committed(cli: MaverickCLI) -> set[int]:
    """Iterations whose step the latest checkpoint holds as completed."""
    shown = cli("runs", "show", _the_run(cli)["run_id"], "--json")
    assert shown.returncode == 0, shown.stderr
    return {
        int(step["path"][len("each[") : step["path"].index("]")])
        for step in json.loads(shown.stdout)["steps"]
        if step["path"].endswith("].work")
        and step["status"] == "completed"
        and step["in_checkpoint"]
    }


def _wait_for_commits(process: subprocess.Popen[str], reported: Path, before: int) -> bool:
    """Wait until the process reported a checkpoint; False if it ended first."""
    deadline = time.monotonic() + 120
    while len(_lines(reported)) <= before:
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def test_sigkill_during_group_commits_loses_no_reported_checkpoint_and_reruns_no_committed_step(
    project: Path,
) -> None:
    (project / "group.yaml").write_text(WORKFLOW)
    reported = project / "reported.txt"
    log = project / "ran.txt"
    pythonpath = os.pathsep.join([str(HERE / "plugins"), os.environ.get("PYTHONPATH", "")])
    cli = MaverickCLI(
        project, env={"PYTHONPATH": pythonpath, "MAVERICK_TEST_REPORTED": str(reported)}
    )
    args = ["-p", "maverick_test_reported", "run", "group.yaml", "-q", "-i", f"log={log}"]
    rng = random.Random()
    committed: set[int] = set()
    kills = 0
    out = err = ""
    for round_number in range(ROUNDS):
        ran_before = len(_lines(log))
        process = cli.start(*args, *(["--resume"] if round_number else []))
        if not _wait_for_commits(process, reported, len(_lines(reported))):
            break
        time.sleep(rng.uniform(0.0, 0.02))
        process.kill()
        out, err = process.communicate(timeout=60)
        if process.returncode == 0 or _status(cli) == "completed":
            break  # it finished before the kill landed: nothing is left to resume
        kills += 1
        ran = {int(line) for line in _lines(log)[ran_before:]}
        assert not ran & committed, f"committed iterations ran again: {sorted(ran & committed)}"
        committed = _committed(cli)
        said = {int(line.split()[1].removeprefix("item_")) for line in _lines(reported)}
        assert said <= committed, f"reported but lost: {sorted(said - committed)}"
    else:
        ran_before = len(_lines(log))
        process = cli.start(*args, "--resume")
    if process.returncode is None or (process.returncode != 0 and _status(cli) != "completed"):
        # the last round's run (or a final resume) goes on to the end
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, out + err
    assert _status(cli) == "completed", out + err
    assert kills >= 2, "the run ended before it could be killed twice"
    ran = {int(line) for line in _lines(log)[ran_before:]}
    assert not ran & committed, f"committed iterations ran again: {sorted(ran & committed)}"
    assert {int(line) for line in _lines(log)} == set(range(300))
