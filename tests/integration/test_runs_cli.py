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
    return json.loads(cli("runs", "list", "--json").stdout)["runs"]


def test_runs_list_is_newest_first_and_filters(cli, runs):
    assert [r["workflow"] for r in runs] == ["good", "bad", "good"]
    assert [r["status"] for r in runs] == ["completed", "failed", "completed"]
    failed = json.loads(cli("runs", "list", "--status", "failed", "--json").stdout)["runs"]
    assert [r["workflow"] for r in failed] == ["bad"]
    good = json.loads(cli("runs", "list", "--workflow", "good", "--json").stdout)["runs"]
    assert len(good) == 2
    text = cli("runs", "list").stdout.splitlines()
    assert text[0].startswith(runs[0]["run_id"]) and "completed" in text[0]


def test_runs_list_pages_and_prints_the_command_for_the_next_page(cli, runs):
    first = cli("runs", "list", "--limit", "2")
    lines = first.stdout.splitlines()
    assert [line.split()[0] for line in lines[:2]] == [runs[0]["run_id"], runs[1]["run_id"]]
    assert lines[2].startswith("more runs: maverick runs list --limit 2 --cursor ")
    second = cli(*lines[2].split()[3:])
    assert [line.split()[0] for line in second.stdout.splitlines()] == [runs[2]["run_id"]]
    page = json.loads(cli("runs", "list", "--limit", "2", "--json").stdout)
    assert [r["run_id"] for r in page["runs"]] == [runs[0]["run_id"], runs[1]["run_id"]]
    rest = json.loads(cli("runs", "list", "--json", "--cursor", page["next_cursor"]).stdout)
    assert rest == {"runs": [runs[2]], "next_cursor": None}


def test_runs_list_takes_several_statuses_and_a_since(cli, runs, project):
    both = cli("runs", "list", "--status", "failed", "--status", "completed", "--json")
    assert len(json.loads(both.stdout)["runs"]) == 3
    _age(project, runs[2]["run_id"], 3 * 86400)
    recent = json.loads(cli("runs", "list", "--since", "2d", "--json").stdout)["runs"]
    assert [r["run_id"] for r in recent] == [runs[0]["run_id"], runs[1]["run_id"]]
    today = time.strftime("%Y-%m-%d", time.localtime(runs[1]["created_at"]))
    dated = json.loads(cli("runs", "list", "--since", today, "--json").stdout)["runs"]
    assert [r["run_id"] for r in dated] == [runs[0]["run_id"], runs[1]["run_id"]]


def test_runs_list_shows_each_run_s_duration_and_agent_cost(cli, runs, project):
    row = runs[0]
    assert 0 <= row["duration"] < 60 and row["cost_usd"] is None
    record = project / ".maverick" / "checkpoints" / row["run_id"] / "run.json"
    data = json.loads(record.read_text())
    data["meta"]["agent_calls"] = [{"path": "a", "cost_usd": 0.25}, {"path": "b", "cost_usd": 0.5}]
    data["updated_at"] = data["created_at"] + 252.0
    data["meta"].pop("summary", None)
    record.write_text(json.dumps(data))
    [listed] = json.loads(cli("runs", "list", "--limit", "1", "--json").stdout)["runs"]
    assert (listed["duration"], listed["cost_usd"]) == (252.0, 0.75)
    assert cli("runs", "list", "--limit", "1").stdout.split()[5:7] == ["4m12s", "$0.75"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "yesterday"), "error: --since 'yesterday': use an ISO date or date-time"),
        (("--limit", "0"), "error: --limit '0': use a whole number from 1 to 1000"),
        (("--limit", "many"), "error: --limit 'many': use a whole number from 1 to 1000"),
        (("--cursor", "nope"), "error: invalid cursor 'nope'"),
        (("--status", "done"), "error: --status 'done': use one of running, failed,"),
    ],
)
def test_runs_list_refuses_a_bad_value_in_one_line(cli, runs, args, message):
    result = cli("runs", "list", *args)
    assert result.returncode == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1


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
    assert len(json.loads(cli("runs", "list", "--json").stdout)["runs"]) == 2
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
    left = [r["run_id"] for r in json.loads(cli("runs", "list", "--json").stdout)["runs"]]
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
    listed = json.loads(cli("runs", "list", "--json").stdout)["runs"]
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
    listed = json.loads(cli("runs", "list", "--json", cwd=sub).stdout)["runs"]
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
        run_id = json.loads(cli("runs", "list", "--json").stdout)["runs"][0]["run_id"]
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
    assert [r["run_id"] for r in json.loads(listed.stdout)["runs"]] == [
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
