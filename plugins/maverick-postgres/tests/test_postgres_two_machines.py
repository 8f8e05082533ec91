"""Two "machines" share one PostgreSQL store: one dies mid-run, the other finishes the run.

Machine A is a real ``maverick`` process in its own UTS namespace (``unshare -u``)
with the hostname ``machine-a``, working in its own clone of the project; machine B
is a second clone on this host. They share the database and, through the origin
URL, the project name.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from typing import TYPE_CHECKING

import pytest

from maverick_core.testing import git, json_events, make_git_repo, maverick_executable

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.postgres

LEASE = 12

WORKFLOW = """\
version: "1.0"
name: shared
inputs:
  log: {type: string, required: true}
steps:
  - name: each
    type: loop
    for_each: [0, 1, 2, 3, 4, 5]
    steps:
      - name: work
        type: shell
        command: echo "$MAVERICK_STEP" >> "$LOG" && sleep 0.3 && echo "item $ITEM"
        env: {LOG: "${{ inputs.log }}", ITEM: "${{ item }}"}
      - name: done
        type: checkpoint
        checkpoint_id: item_${{ index }}
outputs:
  items: ${{ steps.each.output }}
"""


@pytest.fixture
def clones(tmp_path: Path) -> tuple[Path, Path]:
    """Two clones of one project whose shared origin makes them one maverick project."""
    make_git_repo(tmp_path / "seed", {"wf.yaml": WORKFLOW})
    a, b = tmp_path / "machine-a", tmp_path / "machine-b"
    for clone in (a, b):
        git(tmp_path, "clone", "-q", str(tmp_path / "seed" / "origin.git"), str(clone))
    return a, b


def maverick(*args: str) -> list[str]:
    return [*maverick_executable(), *args]


def test_a_run_killed_on_one_machine_is_finished_by_another_after_the_lease_expires(
    clones: tuple[Path, Path], fresh_db_url: str, tmp_path: Path
) -> None:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare(1) to give machine A its own hostname")
    machine_a, machine_b = clones
    # A dead holder's lease runs out 2/3 to 3/3 of LEASE after its last renewal; machine B
    # must ask before that even on a machine whose other work slows each process start.
    url = f"{fresh_db_url}?lease={LEASE}"
    log = tmp_path / "side-effects.log"

    worker_a = subprocess.Popen(
        [
            "unshare",
            "-u",
            "sh",
            "-c",
            'hostname machine-a && exec "$@"',
            "sh",
            *maverick("run", "wf.yaml", "--json", "--store", url, "-i", f"log={log}"),
        ],
        cwd=machine_a,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker_a.stdout is not None
    for line in worker_a.stdout:
        if '"checkpoint_id": "item_1"' in line:
            break
    worker_a.send_signal(signal.SIGKILL)
    worker_a.wait()
    killed_at = time.monotonic()

    listed = subprocess.run(
        maverick("runs", "list", "--json", "--store", url),
        cwd=machine_b,
        capture_output=True,
        text=True,
        check=True,
    )
    [run] = json.loads(listed.stdout)["runs"]
    assert run["status"] == "running"

    refused = subprocess.run(
        maverick("run", "wf.yaml", "--resume", "--store", url),
        cwd=machine_b,
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2, refused.stdout
    assert f"pid {worker_a.pid}" in refused.stderr and "on host machine-a" in refused.stderr

    time.sleep(max(0.0, LEASE + 0.5 - (time.monotonic() - killed_at)))
    resumed = subprocess.run(
        maverick("run", "wf.yaml", "--resume", "--json", "--store", url),
        cwd=machine_b,
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    notices = [e["message"] for e in json_events(resumed.stdout) if e["event"] == "notice"]
    assert any("took over the lock" in n and "machine-a" in n for n in notices), notices
    finish = next(e for e in json_events(resumed.stdout) if e["event"] == "workflow_finish")
    outputs = finish["outputs"]
    assert [item["work"]["stdout"] for item in outputs["items"]] == [f"item {i}" for i in range(6)]
    lines = log.read_text().splitlines()
    assert lines.count("each[0].work") == 1 and lines.count("each[1].work") == 1
    assert sorted(set(lines)) == [f"each[{i}].work" for i in range(6)]
    shown = subprocess.run(
        maverick("runs", "show", run["run_id"], "--json", "--store", url),
        cwd=machine_a,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(shown.stdout)["status"] == "completed"
    assert socket.gethostname() != "machine-a"
