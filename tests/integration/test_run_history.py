"""Run history: attempts, the final state recorded when a run ends, and ``runs show``.

Real ``maverick`` processes on a workflow whose steps append their name to a log: a
step after the last checkpoint is shown as done once the run ended, and still runs
again on resume (the final state is never restored from).
"""

from __future__ import annotations

import json
import re
import signal
import time
from typing import TYPE_CHECKING, Any

import pytest

from maverick_core.builtin.filestore import segments
from maverick_core.testing import read_until

if TYPE_CHECKING:
    from pathlib import Path

    from maverick_core.testing import MaverickCLI

SECRET = "hunter2-very-secret"
WORKFLOW = """
version: "1.0"
name: story
inputs:
  token: {type: string, secret: true, required: true}
steps:
  - name: first
    type: shell
    command: echo first >> log && echo one
    checkpoint: true
  - name: second
    type: shell
    command: echo second >> log && echo "two $TOKEN"
    env: {TOKEN: "${{ inputs.token }}"}
  - name: gate
    type: shell
    command: if [ -f hold ]; then sleep 30; fi; test -f ready && echo gate >> log
  - name: never
    type: shell
    when: ${{ false }}
    command: echo never
  - name: last
    type: shell
    command: echo last >> log && echo "https://github.com/o/r/pull/7"
outputs:
  note: ${{ steps.second.output.stdout }}
  pull_request: ${{ steps.last.output.stdout }}
"""


@pytest.fixture
def story(project: Path, cli: MaverickCLI) -> Path:
    (project / "wf.yaml").write_text(WORKFLOW)
    return project


def steps_of(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """describe_run's steps by path."""
    return {step["path"]: step for step in data["steps"]}


def ran(project: Path) -> list[str]:
    log = project / "log"
    return log.read_text().split() if log.exists() else []


def latest(cli: MaverickCLI) -> str:
    listed = json.loads(cli("runs", "list", "--json").stdout)["runs"]
    return str(listed[0]["run_id"])


def show(cli: MaverickCLI, run_id: str) -> dict[str, Any]:
    shown = cli("runs", "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    return dict(json.loads(shown.stdout))


def test_describe_run_of_a_failed_run_shows_every_step_and_the_error(story, cli):
    assert cli("run", "wf.yaml", "-i", f"token={SECRET}").returncode == 1
    data = show(cli, latest(cli))
    assert data["status"] == "failed" and data["state_from"] == "final"
    states = {path: step["state"] for path, step in steps_of(data).items()}
    # in workflow order, every step: the one after the checkpoint too
    assert states == {
        "first": "done",
        "second": "done",
        "gate": "failed",
        "never": "not_reached",
        "last": "not_reached",
    }
    assert steps_of(data)["first"]["in_checkpoint"] is True
    assert steps_of(data)["second"]["in_checkpoint"] is False
    assert steps_of(data)["second"]["output"]["stdout"] == "two ***"
    assert "command exited with status 1" in steps_of(data)["gate"]["error"]
    [attempt] = data["attempts"]
    assert attempt["outcome"] == "failed" and attempt["ended_at"] >= attempt["started_at"]
    assert attempt["resumed_from"] is None and isinstance(attempt["pid"], int)
    assert data["resume_command"] == f"maverick run wf.yaml --resume {data['run_id']}"
    assert data["totals"]["steps"] == {"done": 2, "failed": 1, "not_reached": 2}


def test_runs_show_of_a_failed_run_lists_every_step_its_error_and_the_resume_command(story, cli):
    assert cli("run", "wf.yaml", "-i", f"token={SECRET}").returncode == 1
    run_id = latest(cli)
    lines = cli("runs", "show", run_id).stdout.splitlines()
    assert lines[0] == f"run {run_id}  workflow story  status failed"
    assert lines[2] == "error: step 'gate' failed: command exited with status 1"
    at = lines.index("steps (as recorded when the run ended):")
    steps = lines[at + 1 : lines.index("checkpoints:")]
    assert [re.sub(r" \([0-9.]+s\)$", "", line) for line in steps] == [
        "  done        first",
        "  done        second",
        "  failed      gate",
        "      error: command exited with status 1",
        "  not reached never",
        "  not reached last",
    ]
    assert "      error: command exited with status 1" in lines
    assert lines[-1] == f"resume with: maverick run wf.yaml --resume {run_id}"
    attempt = lines[lines.index("attempts:") + 1]
    assert "  failed, pid " in attempt


def test_a_final_record_torn_by_a_kill_leaves_the_checkpoint_to_show_and_resume(story, cli):
    assert cli("run", "wf.yaml", "-i", f"token={SECRET}").returncode == 1
    run_id = latest(cli)
    [journal] = sorted((story / ".maverick" / "checkpoints" / run_id).glob("journal*"))
    # a kill while the final record was being written leaves the start of its frame
    data = bytearray(journal.read_bytes())
    start, end = segments.frame_spans(bytes(data))[-1]
    data[start + 40 : end] = bytes(end - start - 40)
    journal.write_bytes(bytes(data))
    shown = show(cli, run_id)
    assert shown["state_from"] == "checkpoint" and "damaged" in shown["damage"]
    assert steps_of(shown)["second"]["state"] == "not_reached"
    (story / "ready").touch()
    resumed = cli("run", "wf.yaml", "--resume", "-i", f"token={SECRET}")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert ran(story) == ["first", "second", "second", "gate", "last"]


def final_records(project: Path, run_id: str) -> list[dict[str, Any]]:
    """The run's final records, decoded."""
    return [json.loads(payload) for payload in final_payloads(project, run_id)]


def final_payloads(project: Path, run_id: str) -> list[bytes]:
    """The payloads of the run's final records, read through the store API."""
    from maverick_core.api import Project, open_store
    from maverick_core.engine.pluginmanager import make_plugin_manager

    store = open_store(make_plugin_manager(autoload=False), "file:", Project(project, "p"))
    try:
        return [
            record.payload
            for record in store.read_checkpoints(run_id)
            if getattr(record, "kind", None) == "final"
        ]
    finally:
        store.close()


def test_the_final_record_holds_only_what_changed_since_the_last_checkpoint(story, cli):
    assert cli("run", "wf.yaml", "-i", f"token={SECRET}").returncode == 1
    run_id = latest(cli)
    [final] = final_records(story, run_id)
    assert final["base"] == 1 and sorted(final["records"]) == ["gate", "second"]
    # a resume that fails at once adds only what it did
    assert cli("run", "wf.yaml", "--resume", "-i", f"token={SECRET}").returncode == 1
    first, again = final_records(story, run_id)
    assert again["base"] == 1 and sorted(again["records"]) == ["gate", "second"]
    assert first["attempt"] == 1 and again["attempt"] == 2


def test_after_a_rewind_that_committed_nothing_the_final_record_is_the_whole_state(story, cli):
    assert cli("run", "wf.yaml", "-i", f"token={SECRET}").returncode == 1
    run_id = latest(cli)
    rewound = cli(
        "run", "wf.yaml", "--resume", "--from-checkpoint", "first", "-i", f"token={SECRET}"
    )
    assert rewound.returncode == 1
    assert final_records(story, run_id)[-1]["base"] is None
    data = show(cli, run_id)
    assert data["state_from"] == "final" and len(data["attempts"]) == 2
    assert [s["state"] for s in data["steps"]][:3] == ["restored", "done", "failed"]


def test_resume_after_a_failure_restores_the_checkpoint_not_the_final_state(story, cli):
    assert cli("run", "wf.yaml", "-i", f"token={SECRET}").returncode == 1
    run_id = latest(cli)
    (story / "ready").touch()
    resumed = cli("run", "wf.yaml", "--resume", "-i", f"token={SECRET}")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    # 'second' finished after the last checkpoint: it is shown as done but runs again
    assert ran(story) == ["first", "second", "second", "gate", "last"]
    data = show(cli, run_id)
    assert data["status"] == "completed" and data["resume_command"] is None
    assert [s["state"] for s in steps_of(data).values()] == [
        "restored",
        "done",
        "done",
        "skipped",
        "done",
    ]
    assert list(data["outputs"]) == ["pull_request", "note"]
    assert data["outputs"]["pull_request"] == "https://github.com/o/r/pull/7"
    first, second = data["attempts"]
    assert (first["outcome"], second["outcome"]) == ("failed", "completed")
    assert second["resumed_from"] == "first" and second["seq"] == 1
    summary = data["meta"]["summary"]
    assert summary["attempts"] == 2 and summary["steps"] == {"done": 4, "skipped": 1}
    assert summary["outputs"]["pull_request"] == "https://github.com/o/r/pull/7"
    assert summary["duration"] == pytest.approx(first["duration"] + second["duration"], abs=0.01)

    text = cli("runs", "show", run_id).stdout
    lines = text.splitlines()
    assert lines[2] == "outputs:" and lines[3] == "  pull_request: https://github.com/o/r/pull/7"
    assert "  restored    first (" in text and "  skipped     never" in text
    assert "completed, resumed from 'first' (#1)" in text


def test_resume_after_an_interrupt_restores_the_checkpoint_not_the_final_state(story, cli):
    (story / "hold").touch()  # 'gate' waits: the interrupt comes while it runs
    proc = cli.start("run", "wf.yaml", "-i", f"token={SECRET}")
    read_until(proc, "ok second")
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    run_id = latest(cli)
    data = show(cli, run_id)
    assert data["status"] == "interrupted" and data["state_from"] == "final"
    assert steps_of(data)["second"]["state"] == "done"
    assert not steps_of(data)["second"]["in_checkpoint"]
    assert data["attempts"][0]["outcome"] == "interrupted"
    text = cli("runs", "show", run_id).stdout
    assert "status interrupted" in text and "  interrupted, pid " in text
    assert "  not reached gate" in text and "  done        second (" in text
    assert text.splitlines()[-1] == f"resume with: maverick run wf.yaml --resume {run_id}"

    (story / "hold").unlink()
    (story / "ready").touch()
    resumed = cli("run", "wf.yaml", "--resume", "-i", f"token={SECRET}")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert ran(story) == ["first", "second", "second", "gate", "last"]


def test_a_sigkilled_attempt_is_closed_by_the_resume_as_killed(story, cli):
    killed = cli("run", "wf.yaml", "-i", f"token={SECRET}", crash_at="after_step:2")
    assert killed.returncode == -signal.SIGKILL
    run_id = latest(cli)
    data = show(cli, run_id)
    # nothing recorded its end: the state is the last checkpoint's
    assert data["status"] == "running" and data["state_from"] == "checkpoint"
    assert data["attempts"][0]["outcome"] is None
    assert data["attempts"][0]["holder_alive"] is False
    assert "killed (unknown end)" in cli("runs", "show", run_id).stdout

    (story / "ready").touch()
    assert cli("run", "wf.yaml", "--resume", "-i", f"token={SECRET}").returncode == 0
    data = show(cli, run_id)
    first, second = data["attempts"]
    assert first["outcome"] == "killed" and first["end_estimated"] is True
    assert first["started_at"] <= first["ended_at"] <= second["started_at"]
    assert second["outcome"] == "completed" and second["resumed_from"] == "first"
    assert "killed (unknown end; last seen then)" in cli("runs", "show", run_id).stdout


def test_runs_show_never_prints_a_secret_input(story, cli):
    assert cli("run", "wf.yaml", "-i", f"token={SECRET}").returncode == 1
    run_id = latest(cli)
    for args in (("runs", "show", run_id), ("runs", "show", run_id, "--json")):
        shown = cli(*args)
        assert shown.returncode == 0
        assert SECRET not in shown.stdout + shown.stderr
    assert steps_of(show(cli, run_id))["second"]["output"]["stdout"] == "two ***"


def test_describe_run_is_the_public_api_and_runs_show_json_prints_it(story, cli):
    from maverick_core.api import describe_run
    from maverick_core.engine.config import make_config
    from maverick_core.engine.pluginmanager import make_plugin_manager

    assert cli("run", "wf.yaml", "-i", f"token={SECRET}").returncode == 1
    run_id = latest(cli)
    config = make_config(make_plugin_manager(blocked=("terminal",), autoload=False), story)
    assert json.loads(json.dumps(describe_run(config, run_id), default=str)) == show(cli, run_id)


@pytest.mark.parametrize("run_id", ["nope", ""])
def test_runs_show_of_an_unknown_run_is_one_line_and_exit_2(story, cli, run_id):
    shown = cli("runs", "show", run_id)
    assert shown.returncode == 2 and shown.stderr.count("\n") == 1
    assert shown.stderr.startswith("error: ")


RETRYING = """
version: "1.0"
name: retrying
steps:
  - name: prepare
    type: shell
    command: echo ready
    checkpoint: true
  - name: fetch
    type: shell
    command: echo "fetch failed" >&2; exit 7
    retry: {max_attempts: 3, backoff: 30, on: [7]}
  - name: after
    type: shell
    command: echo after
"""


def test_a_step_under_way_is_shown_running_and_interrupted_once_its_process_is_gone(project, cli):
    (project / "wf.yaml").write_text(RETRYING)
    proc = cli.start("run", "wf.yaml")
    try:
        read_until(proc, "note: fetch: attempt 1 of 3 failed")
        run_id = latest(cli)
        # between two attempts: the step has no record yet, its retry progress is saved
        states = {s["path"]: s["state"] for s in show(cli, run_id)["steps"]}
        assert states == {"prepare": "done", "fetch": "running", "after": "not_reached"}
    finally:
        proc.kill()
        proc.wait()
    states = {s["path"]: s["state"] for s in show(cli, run_id)["steps"]}
    assert states["fetch"] == "interrupted"
    assert "  interrupted fetch" in cli("runs", "show", run_id).stdout


def test_a_step_finished_after_the_last_checkpoint_shows_while_the_run_runs(story, cli):
    (story / "hold").touch()  # 'gate' waits: 'second' finished, no checkpoint holds it
    proc = cli.start("run", "wf.yaml", "-i", f"token={SECRET}")
    try:
        read_until(proc, "ok second")
        run_id = latest(cli)
        deadline = time.monotonic() + 20  # shown within half a second; a loaded machine waits
        while True:
            data = show(cli, run_id)
            second = steps_of(data)["second"]
            if second["state"] == "done" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert data["status"] == "running" and data["state_from"] == "checkpoint"
        assert second["state"] == "done" and not second["in_checkpoint"]
        assert second["output"]["stdout"].startswith("two ")
        assert steps_of(data)["gate"]["state"] == "not_reached"
        assert SECRET not in json.dumps(data)
    finally:
        proc.kill()
        proc.wait()
    stored = "".join(p.read_text() for p in (story / ".maverick").rglob("run.json"))
    assert SECRET not in stored

    # a view, never a resume point: the resume runs 'second' again, and forgets the view
    (story / "hold").unlink()
    (story / "ready").touch()
    resumed = cli("run", "wf.yaml", "--resume", "-i", f"token={SECRET}")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert ran(story) == ["first", "second", "second", "gate", "last"]
    assert "live" not in show(cli, run_id)["meta"]
