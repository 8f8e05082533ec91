"""Run ids and run records at the edges: odd names, empty ids, damaged and missing records."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from maverick_core.engine.run import new_run_id

if TYPE_CHECKING:
    from pathlib import Path

Cli = Callable[..., subprocess.CompletedProcess[str]]

FAILING = """
version: "1.0"
name: {name}
steps:
  - {{name: one, type: shell, command: "true", checkpoint: true}}
  - {{name: two, type: shell, command: "exit 1"}}
"""


@pytest.mark.parametrize("name", ["-x", "--", "_private", "-", "été"])
def test_a_run_id_never_starts_with_a_dash(name: str) -> None:
    run_id = new_run_id(name)
    assert run_id[0].isalnum(), run_id


def test_the_printed_resume_command_of_a_workflow_named_dash_x_works(
    project: Path, cli: Cli
) -> None:
    (project / "wf.yaml").write_text(FAILING.format(name="'-x'"))
    failed = cli("run", "wf.yaml")
    assert failed.returncode == 1
    command = failed.stdout.strip().splitlines()[-1].removeprefix("resume with: ")
    resumed = cli(*shlex.split(command)[1:])
    assert resumed.returncode == 1, resumed.stderr
    assert "resuming -x (run x-" in resumed.stdout


def test_resume_with_an_empty_run_id_is_refused_like_runs_show(project: Path, cli: Cli) -> None:
    (project / "wf.yaml").write_text(FAILING.format(name="empty"))
    assert cli("run", "wf.yaml").returncode == 1
    refused = cli("run", "wf.yaml", "--resume", "")
    shown = cli("runs", "show", "")
    assert refused.returncode == shown.returncode == 2
    assert refused.stderr == shown.stderr == "error: invalid run id ''\n"


def test_a_damaged_run_record_is_named_by_resume(project: Path, cli: Cli) -> None:
    (project / "wf.yaml").write_text(FAILING.format(name="damaged"))
    assert cli("run", "wf.yaml").returncode == 1
    run_id = json.loads(cli("runs", "list", "--json").stdout)["runs"][0]["run_id"]
    (project / ".maverick" / "checkpoints" / run_id / "run.json").write_text("{")
    refused = cli("run", "wf.yaml", "--resume")
    assert refused.returncode == 2
    assert "nothing to resume" not in refused.stderr
    assert "damaged" in refused.stderr and run_id in refused.stderr
    by_id = cli("run", "wf.yaml", "--resume", run_id)
    assert by_id.returncode == 2
    assert f"{run_id}/run.json" in by_id.stderr


def test_a_run_directory_without_a_record_is_listed_as_incomplete_and_pruned(
    project: Path, cli: Cli
) -> None:
    (project / "wf.yaml").write_text(FAILING.format(name="partial"))
    assert cli("run", "wf.yaml").returncode == 1
    # what a kill between creating the run's directory and writing run.json leaves
    checkpoints = project / ".maverick" / "checkpoints"
    old = checkpoints / "partial-20260101-000000-dead"
    old.mkdir(mode=0o700)
    day_ago = time.time() - 86400 * 2
    os.utime(old, (day_ago, day_ago))
    fresh = checkpoints / "partial-20991231-000000-beef"
    fresh.mkdir(mode=0o700)

    listed = cli("runs", "list")
    assert f"{old.name}  ?" in listed.stdout and "incomplete" in listed.stdout
    rows = json.loads(cli("runs", "list", "--json", "--status", "incomplete").stdout)["runs"]
    assert {r["run_id"] for r in rows} == {old.name, fresh.name}

    pruned = cli("runs", "prune", "--older-than", "1d")
    assert pruned.returncode == 0, pruned.stderr
    assert f"deleted {old.name}" in pruned.stdout
    assert not old.exists()
    assert fresh.exists()  # it may be a run being created right now
    assert len(json.loads(cli("runs", "list", "--json", "--status", "failed").stdout)["runs"]) == 1


def test_resume_without_an_id_takes_the_newest_unfinished_run_of_the_workflow(
    project: Path, cli: Cli
) -> None:
    (project / "wf.yaml").write_text(FAILING.format(name="pick"))
    (project / "ok.yaml").write_text(
        'version: "1.0"\nname: pick\nsteps:\n  - {name: one, type: shell, command: "true"}\n'
    )
    assert cli("run", "wf.yaml").returncode == 1  # older unfinished
    assert cli("run", "wf.yaml").returncode == 1  # newest unfinished
    assert cli("run", "ok.yaml").returncode == 0  # newer, but completed
    runs = json.loads(cli("runs", "list", "--json").stdout)["runs"]
    assert [r["status"] for r in runs] == ["completed", "failed", "failed"]
    resumed = cli("run", "wf.yaml", "--resume")
    assert resumed.returncode == 1, resumed.stderr
    assert f"(run {runs[1]['run_id']}" in resumed.stdout
