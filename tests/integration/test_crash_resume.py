"""Crash and resume through the CLI: real processes, real signals, real files.

Each test drives the installed ``maverick`` on a workflow with a loop, a parallel
loop, a branch and a subworkflow whose steps append their path to a log. After the
resume, the outputs and side effects must equal an uninterrupted run's, and no step
recorded in the committed checkpoint may have run twice.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from maverick_core.testing import json_events, maverick_executable, read_until
from tests.integration.conftest import Harness, final_outputs


def assert_resumed_like_reference(
    harness: Harness, run_id: str, committed: list[str], resumed_stdout: str, reference: dict
) -> None:
    assert final_outputs(resumed_stdout) == reference["outputs"]
    assert sorted(set(harness.lines())) == sorted(set(reference["lines"]))
    counts = harness.counts()
    twice = [path for path in committed if counts[path] != 1]
    assert not twice, f"steps before the committed checkpoint ran again: {twice}"
    assert harness.latest_run()["status"] == "completed"


def test_reference_run_completes_with_every_kind_of_step(reference_run):
    assert reference_run["outputs"]["choose"] == "four"
    assert reference_run["outputs"]["nested"] == {"joined": "one+two"}
    assert reference_run["outputs"]["par"] == [
        {
            "par_work": {"stdout": f"p{i}", "stderr": "", "returncode": 0},
            "par_done": {"checkpoint_id": f"par_{i}"},
        }
        for i in range(4)
    ]
    assert reference_run["checkpoints"] == 3 + 4 + 2


@pytest.mark.parametrize("boundary", range(1, 22))
def test_sigkill_at_every_step_boundary_then_resume_matches_an_uninterrupted_run(
    harness, reference_run, boundary
):
    if boundary > reference_run["steps"]:
        pytest.skip(f"the workflow has only {reference_run['steps']} step boundaries")
    killed = harness.run(kill=f"after_step:{boundary}")
    assert killed.returncode == -signal.SIGKILL
    run = harness.latest_run()
    assert run["status"] == "running"  # it never got the chance to say otherwise
    committed = harness.committed_leaf_steps(run["run_id"])

    resumed = harness.run("--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert_resumed_like_reference(harness, run["run_id"], committed, resumed.stdout, reference_run)


def test_sigkill_right_after_a_checkpoint_commit_restores_that_checkpoint(harness, reference_run):
    killed = harness.run(kill="after_checkpoint:5")  # seq_0..2, then two of the parallel loop
    assert killed.returncode == -signal.SIGKILL
    run = harness.latest_run()
    show = harness.show(run["run_id"])
    # after_checkpoint runs outside the commit lock: the parallel loop's other worker
    # may commit one more checkpoint before the SIGKILL lands, never two
    assert len([c for c in show["checkpoints"] if "seq" in c]) in (5, 6)
    committed = harness.committed_leaf_steps(run["run_id"])
    assert sum(1 for p in committed if p.startswith("par[")) >= 2

    resumed = harness.run("--resume", run["run_id"])
    assert resumed.returncode == 0, resumed.stderr
    resume = [e for e in json_events(resumed.stdout) if e["event"] == "resume"]
    assert resume and resume[0]["checkpoint"].startswith("par_")
    assert_resumed_like_reference(harness, run["run_id"], committed, resumed.stdout, reference_run)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_marks_the_run_interrupted_and_prints_the_resume_command(
    harness, reference_run, sig
):
    proc = harness.start(inputs={"pause": 0.4})
    read_until(proc, '"checkpoint_id": "seq_0"')
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130
    run = harness.latest_run()
    assert run["status"] == "interrupted"
    finish = [e for e in json_events(out) if e["event"] == "workflow_finish"][-1]
    assert finish["status"] == "interrupted"
    assert finish["resume_command"].endswith(f"--resume {run['run_id']}")
    committed = harness.committed_leaf_steps(run["run_id"])

    resumed = harness.run("--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert_resumed_like_reference(harness, run["run_id"], committed, resumed.stdout, reference_run)


def test_interrupt_terminates_the_running_shell_command(harness, project):
    marker = project / "child-finished"
    (project / "slow.yaml").write_text(f"""
version: "1.0"
name: slow
steps:
  - name: wait
    type: shell
    command: echo started && sleep 5 && touch {marker}
""")
    proc = subprocess.Popen(
        [*maverick_executable(), "run", "slow.yaml"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    read_until(proc, "running slow")
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 130
    assert out.splitlines()[-1].startswith("resume with: maverick run slow.yaml --resume slow-")
    time.sleep(5.5)
    assert not marker.exists(), "the shell step's child outlived the interrupted run"


def test_a_failing_step_fails_the_run_and_resume_after_the_fix_finishes_it(harness, project):
    flag = project / "broken"
    flag.write_text("yes")
    wf = (
        (project / "wf.yaml")
        .read_text()
        .replace(
            "  - name: finish\n    type: shell\n    command: ",
            f"  - name: finish\n    type: shell\n    command: test ! -e {flag} && ",
        )
    )
    (project / "wf.yaml").write_text(wf)
    failed = harness.run()
    assert failed.returncode == 1
    finish = [e for e in json_events(failed.stdout) if e["event"] == "workflow_finish"][-1]
    assert finish["status"] == "failed" and "finish" in finish["error"]
    run = harness.latest_run()
    assert run["status"] == "failed"
    before = harness.counts()
    flag.unlink()
    resumed = harness.run("--resume")
    assert resumed.returncode == 0, resumed.stderr
    after = harness.counts()
    assert after["finish"] == 1 and before["finish"] == 0
    assert after["prepare"] == 1 and after["nested.second"] == 1


def test_a_completed_run_is_never_resumed(harness):
    assert harness.run().returncode == 0
    run = harness.latest_run()
    again = harness.run("--resume", run["run_id"])
    assert again.returncode == 2
    assert f"run {run['run_id']} completed; a completed run is never resumed" in again.stderr
    nothing = harness.run("--resume")
    assert nothing.returncode == 2
    assert "nothing to resume" in nothing.stderr


def test_unknown_run_id_and_unknown_checkpoint_are_refused(harness):
    assert harness.run(kill="after_step:4").returncode == -signal.SIGKILL
    unknown = harness.run("--resume", "no-such-run")
    assert unknown.returncode == 2 and "unknown run id 'no-such-run'" in unknown.stderr
    bad = harness.run("--resume", "--from-checkpoint", "nope")
    assert bad.returncode == 2
    assert "has no checkpoint 'nope' (its checkpoints: seq_0)" in bad.stderr


def test_from_checkpoint_reruns_everything_after_it(harness, reference_run):
    assert harness.run(kill="after_step:12").returncode == -signal.SIGKILL
    resumed = harness.run("--resume", "--from-checkpoint", "seq_0")
    assert resumed.returncode == 0, resumed.stderr
    counts = harness.counts()
    assert counts["prepare"] == 1 and counts["seq[0].seq_work"] == 1
    assert counts["seq[1].seq_work"] == 2
    assert final_outputs(resumed.stdout) == reference_run["outputs"]


def test_changed_inputs_are_refused_listing_each_key(harness):
    assert harness.run(kill="after_step:4").returncode == -signal.SIGKILL
    changed = harness.run("--resume", inputs={"n": 5})
    assert changed.returncode == 2
    assert "inputs differ from run" in changed.stderr and "n: 3 -> 5" in changed.stderr
    forced = harness.run("--resume", "--force", inputs={"n": 5})
    assert forced.returncode == 0, forced.stderr
    notices = [e["message"] for e in json_events(forced.stdout) if e["event"] == "notice"]
    assert any("--force: inputs changed: n: 3 -> 5" in n for n in notices)


def test_a_changed_step_before_the_resume_point_is_refused(harness, project):
    assert harness.run(kill="after_step:4").returncode == -signal.SIGKILL
    wf = project / "wf.yaml"
    wf.write_text(wf.read_text().replace("&& echo ready", "&& echo READY"))
    refused = harness.run("--resume")
    assert refused.returncode == 2
    assert "steps at or before the resume point changed: 'prepare' changed" in refused.stderr


def test_a_changed_step_after_the_resume_point_is_allowed(harness, project):
    assert harness.run(kill="after_step:4").returncode == -signal.SIGKILL
    wf = project / "wf.yaml"
    wf.write_text(wf.read_text().replace('echo "done ', 'echo "finished '))
    resumed = harness.run("--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert final_outputs(resumed.stdout)["finish"] == "finished one+two"


def test_two_processes_cannot_execute_one_run(harness):
    # each remaining iteration of the first process sleeps 3 s: the second process must
    # start (slow on a loaded machine) while the first still holds the run
    assert harness.run(kill="after_step:2", inputs={"pause": 3}).returncode == -signal.SIGKILL
    first = harness.start("--resume")
    read_until(first, '"event": "resume"')
    second = harness.run("--resume")
    first.communicate(timeout=60)
    assert second.returncode == 2
    assert f"pid {first.pid} on host {socket.gethostname()}" in second.stderr
    assert first.returncode == 0


def test_a_dead_holders_lock_is_taken_over_and_reported(harness):
    assert harness.run(kill="after_step:2").returncode == -signal.SIGKILL
    resumed = harness.run("--resume")
    assert resumed.returncode == 0
    notices = [e["message"] for e in json_events(resumed.stdout) if e["event"] == "notice"]
    assert any("took over the lock" in n and "that process is gone" in n for n in notices)


def test_torn_journal_tail_falls_back_to_the_newest_intact_checkpoint(harness, reference_run):
    assert harness.run(kill="after_checkpoint:3").returncode == -signal.SIGKILL
    run_id = harness.latest_run()["run_id"]
    harness.tear_last_record(run_id)  # seq_2
    resumed = harness.run("--resume")
    assert resumed.returncode == 0, resumed.stderr
    notices = [e["message"] for e in json_events(resumed.stdout) if e["event"] == "notice"]
    assert any("damaged" in n and "'seq_1'" in n for n in notices), notices
    assert harness.counts()["seq[1].seq_work"] == 1
    assert harness.counts()["seq[2].seq_work"] == 2
    assert final_outputs(resumed.stdout) == reference_run["outputs"]


def test_an_edited_record_is_detected_by_its_checksum(harness, reference_run):
    assert harness.run(kill="after_checkpoint:3").returncode == -signal.SIGKILL
    run_id = harness.latest_run()["run_id"]
    [journal] = harness.journal(run_id)[-1:]
    text = journal.read_bytes()
    assert b"w1" in text
    journal.write_bytes(text.replace(b"w1", b"w9", 1))  # an edit inside record #2
    resumed = harness.run("--resume")
    assert resumed.returncode == 0, resumed.stderr
    notices = [e["message"] for e in json_events(resumed.stdout) if e["event"] == "notice"]
    assert any("damaged" in n and "'seq_0'" in n for n in notices), notices
    assert final_outputs(resumed.stdout) == reference_run["outputs"]


def test_no_intact_checkpoint_refuses_with_a_clear_message(harness):
    assert harness.run(kill="after_checkpoint:1").returncode == -signal.SIGKILL
    run_id = harness.latest_run()["run_id"]
    for journal in harness.journal(run_id):
        journal.write_bytes(journal.read_bytes().replace(b"ready", b"READY"))
    refused = harness.run("--resume")
    assert refused.returncode == 2
    assert f"run {run_id} has no intact checkpoint" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_checkpoint_files_are_private_and_state_is_git_ignored(harness, project):
    assert harness.run().returncode == 0
    state = project / ".maverick"
    assert (state / "checkpoints" / ".gitignore").read_text().strip().endswith("*")
    run_dir = state / "checkpoints" / harness.latest_run()["run_id"]
    assert oct(run_dir.stat().st_mode & 0o777) == "0o700"
    for file in run_dir.iterdir():
        assert oct(file.stat().st_mode & 0o777) == "0o600", file


def test_blocking_the_checkpoint_plugin_makes_resume_a_clear_error(harness):
    result = harness.maverick("-p", "no:checkpoint", "run", "wf.yaml", "--resume")
    assert result.returncode == 2
    assert "cannot resume: the checkpoint plugin is blocked (-p no:checkpoint)" in result.stderr


def test_resume_explain_prints_the_plan_and_runs_nothing(harness):
    assert harness.run(kill="after_checkpoint:2").returncode == -signal.SIGKILL
    before = harness.lines()
    result = harness.maverick("run", "wf.yaml", "--resume", "--explain")
    assert result.returncode == 0, result.stderr
    assert "resumes after checkpoint 'seq_1'" in result.stdout
    assert "restored   prepare" in result.stdout
    assert "partly     seq" in result.stdout
    assert "runs again par" in result.stdout
    assert harness.lines() == before


def test_secret_inputs_never_reach_the_store(project, cli):
    (project / "secret.yaml").write_text("""
version: "1.0"
name: secretive
inputs:
  token: {type: string, required: true, secret: true}
steps:
  - name: use
    type: shell
    command: echo "token is $TOKEN"
    env: {TOKEN: "${{ inputs.token }}"}
    checkpoint: true
  - name: fail
    type: shell
    command: exit 1
""")
    result = cli("run", "secret.yaml", "-i", "token=hunter2-very-secret")
    assert result.returncode == 1
    assert "hunter2-very-secret" not in result.stdout + result.stderr
    stored = b"".join(p.read_bytes() for p in (project / ".maverick").rglob("*") if p.is_file())
    assert b"hunter2-very-secret" not in stored
    refused = cli("run", "secret.yaml", "--resume")
    assert refused.returncode == 2
    assert "secret inputs are never stored; give them again: -i token=..." in refused.stderr
    resumed = cli("run", "secret.yaml", "--resume", "-i", "token=hunter2-very-secret")
    assert resumed.returncode == 1  # 'fail' still fails, but the resume was accepted
    assert "resuming secretive" in resumed.stdout


@pytest.mark.parametrize("tear_at", [1, 4, 8])
def test_sigkill_in_the_middle_of_a_checkpoint_commit_keeps_the_previous_checkpoint(
    project, reference_run, tear_at
):
    harness = Harness(project, ("-p", "maverick_test_tornstore"))
    harness.env["MAVERICK_TEST_TEAR_AT"] = str(tear_at)
    killed = harness.run("--store", "tornfile:")
    assert killed.returncode == -signal.SIGKILL
    run_id = harness.latest_run()["run_id"]
    show = harness.show(run_id)
    assert any("damaged" in c for c in show["checkpoints"])
    committed = harness.committed_leaf_steps(run_id)

    harness.env.pop("MAVERICK_TEST_TEAR_AT")
    resumed = harness.run("--resume", "--store", "tornfile:")
    assert resumed.returncode == 0, resumed.stderr
    if tear_at > 1:
        notices = [e["message"] for e in json_events(resumed.stdout) if e["event"] == "notice"]
        assert any("damaged" in n and f"(#{tear_at - 1})" in n for n in notices), notices
    assert_resumed_like_reference(harness, run_id, committed, resumed.stdout, reference_run)


def test_an_exception_in_a_python_step_fails_the_run_and_resume_finishes_it(project, cli):
    (project / "flaky_action.py").write_text(
        "import pathlib\n"
        "def check(flag):\n"
        "    if pathlib.Path(flag).exists():\n"
        "        raise ValueError('the flag is still there')\n"
        "    return 'passed'\n"
    )
    flag = project / "flag"
    flag.write_text("")
    (project / "py.yaml").write_text(f"""
version: "1.0"
name: pyfail
steps:
  - {{name: before, type: shell, command: "echo before >> log", checkpoint: true}}
  - {{name: check, type: python, action: "flaky_action:check", kwargs: {{flag: "{flag}"}}}}
outputs: {{result: "${{{{ steps.check.output }}}}"}}
""")
    failed = cli("run", "py.yaml")
    assert failed.returncode == 1
    assert "error: step 'check' failed: ValueError: the flag is still there" in failed.stdout
    assert "Traceback" not in failed.stdout + failed.stderr
    flag.unlink()
    resumed = cli("run", "py.yaml", "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert final_outputs(resumed.stdout) == {"result": "passed"}
    assert (project / "log").read_text() == "before\n"


def test_editing_a_called_workflow_file_counts_as_changing_its_step(harness, project):
    assert harness.run(kill="after_checkpoint:8").returncode == -signal.SIGKILL  # in `nested`
    sub = project / "sub.yaml"
    sub.write_text(sub.read_text().replace("echo one", "echo ONE"))
    refused = harness.run("--resume")
    assert refused.returncode == 2
    assert "steps at or before the resume point changed: 'nested' changed" in refused.stderr


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_sighup_interrupts_the_run_kills_the_step_child_and_leaves_it_resumable(project):
    child_pid = project / "child.pid"
    (project / "slow.yaml").write_text(f"""
version: "1.0"
name: hangup
steps:
  - name: before
    type: shell
    command: echo ready
    checkpoint: true
  - name: long
    type: shell
    command: |
      if [ -f {child_pid} ]; then echo second time; exit 0; fi
      sleep 300 & echo $! > {child_pid}; echo started; wait
""")
    proc = subprocess.Popen(
        [*maverick_executable(), "run", "slow.yaml"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    read_until(proc, "checkpoint before saved")
    deadline = time.monotonic() + 30
    while not (child_pid.exists() and child_pid.read_text().strip()):
        assert time.monotonic() < deadline, "the long step never started its child"
        time.sleep(0.05)
    pid = int(child_pid.read_text())
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    lines = out.splitlines()
    assert "error: interrupted by SIGHUP" in lines
    assert lines[-1].startswith("resume with: maverick run slow.yaml --resume hangup-")
    deadline = time.monotonic() + 10
    while _alive(pid):
        assert time.monotonic() < deadline, f"the step's child {pid} outlived the run"
        time.sleep(0.05)

    listed = subprocess.run(
        [*maverick_executable(), "runs", "list", "--json"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(listed.stdout)["runs"][0]["status"] == "interrupted"
    resumed = subprocess.run(
        [*maverick_executable(), "run", "slow.yaml", "--resume"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "restored 1 completed step record from checkpoint 'before'" in resumed.stdout
