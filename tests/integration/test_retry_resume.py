"""``retry:`` across processes: a run killed between attempts keeps its attempt count."""

from __future__ import annotations

import json
import signal
import subprocess
from typing import TYPE_CHECKING

import pytest

from maverick_core.testing import json_events, maverick_executable, read_until

if TYPE_CHECKING:
    from pathlib import Path

ALWAYS_FAILS = """
version: "1.0"
name: retrying
steps:
  - name: prepare
    type: shell
    command: echo ready
    checkpoint: true
  - name: fetch
    type: shell
    command: echo x >> {counter}; echo "fetch failed" >&2; exit 7
    retry: {{max_attempts: 3, backoff: {backoff}, on: [7]}}
"""


def maverick(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*maverick_executable(), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_a_run_stopped_between_attempts_resumes_at_the_attempt_it_was_on(project, sig):
    counter = project / "count"
    workflow = project / "wf.yaml"
    workflow.write_text(ALWAYS_FAILS.format(counter=counter, backoff=600))
    proc = subprocess.Popen(
        [*maverick_executable(), "run", "wf.yaml"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    read_until(proc, "note: fetch: attempt 1 of 3 failed: command exited with status 7")
    proc.send_signal(sig)
    proc.communicate(timeout=30)
    assert proc.returncode == (-9 if sig == signal.SIGKILL else 130)
    assert counter.read_text().count("x") == 1

    run_id = json.loads(maverick(project, "runs", "list", "--json").stdout)["runs"][0]["run_id"]
    shown = maverick(project, "runs", "show", run_id)
    assert "  fetch: 1 failed attempts, next is 2" in shown.stdout
    assert "      attempt 1: command exited with status 7: fetch failed" in shown.stdout

    # the step is after the resume point, so its backoff may change before resuming
    workflow.write_text(ALWAYS_FAILS.format(counter=counter, backoff=0.01))
    resumed = maverick(project, "run", "wf.yaml", "--resume", "--json")
    assert resumed.returncode == 1, resumed.stderr
    assert counter.read_text().count("x") == 3, "the resumed run started again at attempt 1"
    finished = [e for e in json_events(resumed.stdout) if e["event"] == "step_finish"]
    fetch = next(e for e in finished if e["path"] == "fetch")
    assert [a["attempt"] for a in fetch["attempts"]] == [1, 2, 3]
    notices = [e["message"] for e in json_events(resumed.stdout) if e["event"] == "notice"]
    assert "fetch: resuming at attempt 2 of 3" in notices

    # the attempts are used up: the next resume gives the step a fresh budget
    after = json.loads(maverick(project, "runs", "show", run_id, "--json").stdout)
    assert "progress" not in after["meta"]


def test_runs_show_lists_the_attempts_of_a_retried_step(project):
    counter = project / "count"
    (project / "wf.yaml").write_text(f"""
version: "1.0"
name: flaky
steps:
  - name: fetch
    type: shell
    command: echo x >> {counter}; test $(wc -l < {counter}) -ge 2 || exit 3
    retry: {{max_attempts: 2}}
    checkpoint: true
""")
    ran = maverick(project, "run", "wf.yaml")
    assert ran.returncode == 0, ran.stderr
    assert "ok fetch (shell, " in ran.stdout and ", 2 attempts)" in ran.stdout
    run_id = json.loads(maverick(project, "runs", "list", "--json").stdout)["runs"][0]["run_id"]
    shown = maverick(project, "runs", "show", run_id).stdout.splitlines()
    at = next(i for i, line in enumerate(shown) if " fetch (" in line)
    assert shown[at].startswith("  done        fetch (") and shown[at].endswith(", 2 attempts)")
    assert shown[at + 1].startswith("      attempt 1: command exited with status 3 (")
    assert shown[at + 2].startswith("      attempt 2: ok (")
