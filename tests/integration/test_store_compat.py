"""Never strand a user's runs: a run checkpointed by the previous release resumes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from maverick_core.testing import json_events

STORE = Path(__file__).resolve().parents[1] / "fixtures" / "stores" / "file-0.1.0"
RUN_ID = "compat-20261201-155829-0de6"


def install_store(store: Path, project: Path) -> None:
    """Put a fixture store's workflow and state into ``project``, as the old release left them."""
    shutil.copy(store / "wf.yaml", project / "wf.yaml")
    shutil.copytree(store / "state", project / ".maverick", dirs_exist_ok=True)
    for path in (project / ".maverick").rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)  # git keeps no modes; the store wants these


def test_a_run_checkpointed_by_the_previous_release_resumes_with_this_one(cli, project):
    install_store(STORE, project)

    shown = cli("runs", "show", RUN_ID, "--json")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    steps = {s["path"]: s for s in record["steps"]}
    assert record["status"] == "failed"
    assert steps["each[1].work"]["status"] == "completed"
    assert steps["maybe"]["status"] == "skipped"
    # the previous release recorded no attempts and no final state: both are made up
    # from what it did record, and the steps are those of its last checkpoint
    assert record["state_from"] == "checkpoint"
    [attempt] = record["attempts"]
    assert attempt["outcome"] == "failed" and attempt["pid"] == 8637
    assert steps["gate"]["state"] == "not_reached"

    (project / "ready").touch()
    resumed = cli("run", "wf.yaml", "--resume", "--json")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    events = json_events(resumed.stdout)
    ran = [e["path"] for e in events if e["event"] == "step_start"]
    # both iterations are restored; the loop itself finishes (it ended after item_1)
    assert ran == ["each", "gate", "finish"]
    assert events[-1]["outputs"] == {"said": "hello world / 1-b"}

    after = json.loads(cli("runs", "show", RUN_ID, "--json").stdout)
    assert [a["outcome"] for a in after["attempts"]] == ["failed", "completed"]
    assert after["attempts"][1]["resumed_from"] == "item_1"
    assert after["outputs"] == {"said": "hello world / 1-b"}
    assert next(s for s in after["steps"] if s["path"] == "greet")["state"] == "restored"


def test_a_run_begun_by_the_previous_release_goes_on_in_the_new_journal_format(cli, project):
    install_store(STORE, project)
    # a step added after the resume point commits the run's first framed record
    workflow = (STORE / "wf.yaml").read_text()
    (project / "wf.yaml").write_text(
        workflow.replace(
            "  - name: gate\n",
            "  - name: note\n    type: shell\n    command: echo noted\n    checkpoint: true\n"
            "  - name: gate\n",
        )
    )
    failed = cli("run", "wf.yaml", "--resume", "--json")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    run_dir = project / ".maverick" / "checkpoints" / RUN_ID
    assert sorted(p.name for p in run_dir.glob("journal-*")) == ["journal-1.log", "journal-3.jnl"]

    (project / "ready").touch()
    resumed = cli("run", "wf.yaml", "--resume", "--json")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    events = json_events(resumed.stdout)
    assert [e["path"] for e in events if e["event"] == "step_start"] == ["gate", "finish"]
    assert events[-1]["outputs"] == {"said": "hello world / 1-b"}


ROW_STORE = Path(__file__).resolve().parents[1] / "fixtures" / "stores" / "file-row-snapshot"
ROW_RUN_ID = "snapcompat-20261201-201236-a895"


def test_a_run_whose_snapshot_holds_a_mapping_per_record_resumes(cli, project):
    install_store(ROW_STORE, project)
    snapshot = project / ".maverick" / "checkpoints" / ROW_RUN_ID / "snapshot"
    assert b' {"records":{"greet":{"status":"completed"' in snapshot.read_bytes()

    shown = json.loads(cli("runs", "show", ROW_RUN_ID, "--json").stdout)
    steps = {s["path"]: s for s in shown["steps"]}
    assert steps["each[2].work"]["status"] == "completed"
    assert steps["maybe"]["status"] == "skipped"
    assert steps["gate"]["status"] == "failed"

    (project / "ready").touch()
    resumed = cli("run", "wf.yaml", "--resume", "--json")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    events = json_events(resumed.stdout)
    # the snapshot (#5) and the delta after it (#6) restore everything before gate
    assert [e["path"] for e in events if e["event"] == "step_start"] == ["gate", "finish"]
    assert events[-1]["outputs"] == {"said": "hello world / 2-c"}
