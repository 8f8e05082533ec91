"""``maverick runs``: list, show, delete and prune, and choosing the store."""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING

import pytest

from tests.integration.conftest import run_dirs

if TYPE_CHECKING:
    from pathlib import Path

WF = """
version: "1.0"
name: {name}
steps:
  - {{name: a, type: shell, command: "echo a", checkpoint: true}}
  - {{name: b, type: shell, command: "{b}"}}
"""


@pytest.fixture
def runs(cli, write_workflow):
    """Three runs: two of 'good' (completed), one of 'bad' (failed)."""
    write_workflow(WF.format(name="good", b="echo b"), "good.yaml")
    write_workflow(WF.format(name="bad", b="exit 1"), "bad.yaml")
    assert cli("run", "good.yaml").returncode == 0
    assert cli("run", "bad.yaml").returncode == 1
    assert cli("run", "good.yaml").returncode == 0
    return json.loads(cli("runs", "list", "--json").stdout)


def test_runs_list_is_newest_first_and_filters(cli, runs):
    assert [r["workflow"] for r in runs] == ["good", "bad", "good"]
    assert [r["status"] for r in runs] == ["completed", "failed", "completed"]
    failed = json.loads(cli("runs", "list", "--status", "failed", "--json").stdout)
    assert [r["workflow"] for r in failed] == ["bad"]
    good = json.loads(cli("runs", "list", "--workflow", "good", "--json").stdout)
    assert len(good) == 2
    text = cli("runs", "list").stdout.splitlines()
    assert text[0].startswith(runs[0]["run_id"]) and "completed" in text[0]


def test_runs_show_has_steps_checkpoints_and_inputs(cli, runs):
    bad = runs[1]["run_id"]
    shown = json.loads(cli("runs", "show", bad, "--json").stdout)
    assert shown["status"] == "failed"
    assert next(s for s in shown["steps"] if s["path"] == "a")["status"] == "completed"
    [checkpoint] = shown["checkpoints"]
    assert checkpoint["checkpoint_id"] == "a" and checkpoint["size"] > 0 and checkpoint["intact"]
    assert "step 'b' failed" in shown["meta"]["error"]
    text = cli("runs", "show", bad).stdout
    assert f"run {bad}  workflow bad  status failed" in text
    assert "#1    a " in text


def test_runs_show_of_an_unknown_run_is_a_one_line_error(cli, runs):
    result = cli("runs", "show", "nope")
    assert result.returncode == 2
    assert result.stderr == "error: unknown run id 'nope' (see: maverick runs list)\n"


def test_runs_delete_removes_the_run_and_its_files(cli, runs, project):
    victim = runs[0]["run_id"]
    result = cli("runs", "delete", victim)
    assert result.returncode == 0 and result.stdout == f"deleted {victim}\n"
    assert not (project / ".maverick" / "checkpoints" / victim).exists()
    assert len(json.loads(cli("runs", "list", "--json").stdout)) == 2
    again = cli("runs", "delete", victim)
    assert again.returncode == 2 and f"unknown run id: {victim}" in again.stderr


def _age(project: Path, run_id: str, seconds: float) -> None:
    record = project / ".maverick" / "checkpoints" / run_id / "run.json"
    data = json.loads(record.read_text())
    data["updated_at"] -= seconds
    data["created_at"] -= seconds
    record.write_text(json.dumps(data))


def test_runs_prune_deletes_old_runs_but_keeps_the_newest(cli, runs, project):
    for run in runs:
        _age(project, run["run_id"], 10 * 86400)
    dry = cli("runs", "prune", "--older-than", "7d", "--keep", "1", "--dry-run")
    assert dry.stdout.splitlines() == [f"would delete {runs[2]['run_id']}"]
    result = cli("runs", "prune", "--older-than", "7d", "--keep", "1")
    assert result.stdout.splitlines()[-1] == "1 run deleted"
    left = [r["run_id"] for r in json.loads(cli("runs", "list", "--json").stdout)]
    assert left == [runs[0]["run_id"], runs[1]["run_id"]]


def test_runs_prune_keeps_recent_runs(cli, runs):
    result = cli("runs", "prune", "--older-than", "1h")
    assert result.stdout == "0 runs deleted\n"


def test_runs_prune_rejects_a_bad_age(cli, runs):
    result = cli("runs", "prune", "--older-than", "soon")
    assert result.returncode == 2
    assert "use a number with s, m, h, d or w" in result.stderr


def test_the_store_comes_from_the_environment_or_maverick_yaml(cli, project, write_workflow):
    write_workflow(WF.format(name="good", b="echo b"), "good.yaml")
    other = project.parent / "elsewhere"
    assert cli("run", "good.yaml", env={"MAVERICK_STORE": f"file:{other}"}).returncode == 0
    assert len(run_dirs(other)) == 1
    assert not (project / ".maverick" / "checkpoints").exists()
    (project / "maverick.yaml").write_text(f"project: p\nstore: file:{project / 'state'}\n")
    assert cli("run", "good.yaml").returncode == 0
    assert len(run_dirs(project / "state")) == 1
    listed = json.loads(cli("runs", "list", "--json").stdout)
    assert len(listed) == 1


def test_a_bad_maverick_yaml_is_a_located_error(cli, project, write_workflow):
    write_workflow(WF.format(name="good", b="echo b"), "good.yaml")
    (project / "maverick.yaml").write_text("store: [unclosed\n")
    result = cli("run", "good.yaml")
    assert result.returncode == 2
    assert result.stderr.startswith(f"{project / 'maverick.yaml'}:2:1: invalid YAML")
    assert "Traceback" not in result.stderr


def test_runs_work_from_a_subdirectory_of_the_project(cli, project, write_workflow):
    write_workflow(WF.format(name="good", b="echo b"), "good.yaml")
    assert cli("run", "good.yaml").returncode == 0
    sub = project / "src" / "deep"
    sub.mkdir(parents=True)
    listed = json.loads(cli("runs", "list", "--json", cwd=sub).stdout)
    assert [r["workflow"] for r in listed] == ["good"]
    assert os.path.isdir(project / ".maverick")
    assert time.time() - listed[0]["created_at"] < 300


def test_runs_show_names_the_process_executing_a_running_run(cli, write_workflow, project):
    import subprocess

    from maverick_core.testing import maverick_executable

    write_workflow(
        """
        version: "1.0"
        name: slow
        steps:
          - {name: a, type: shell, command: "echo a", checkpoint: true}
          - {name: b, type: shell, command: "sleep 30"}
    """,
        "slow.yaml",
    )
    proc = subprocess.Popen(
        [*maverick_executable(), "run", "slow.yaml"], cwd=project, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "checkpoint a saved" in line:
                break
        run_id = json.loads(cli("runs", "list", "--json").stdout)[0]["run_id"]
        shown = cli("runs", "show", run_id).stdout
        assert f"executed by pid {proc.pid} on host " in shown
    finally:
        proc.kill()
        proc.wait()


def test_a_damaged_run_record_does_not_hide_the_other_runs(cli, runs, project):
    damaged = runs[0]["run_id"]
    (project / ".maverick" / "checkpoints" / damaged / "run.json").write_text("{garbage")
    listed = cli("runs", "list", "--json")
    assert listed.returncode == 0
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [
        runs[1]["run_id"],
        runs[2]["run_id"],
    ]
    assert "note: skipped a damaged run: cannot read " in listed.stderr
    assert damaged in listed.stderr
    shown = cli("runs", "show", damaged)
    assert shown.returncode == 2 and shown.stderr.startswith("error: cannot read ")
    resumed = cli("run", "bad.yaml", "--resume")
    assert resumed.returncode == 1  # the failed run is still found and resumed (and fails again)
    assert "resuming bad" in resumed.stdout
