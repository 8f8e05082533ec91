"""Runs checkpointed with ``--serializer msgpack`` resume through the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pathlib import Path

WORKFLOW = """\
version: "1.0"
name: packed
steps:
  - name: each
    type: loop
    for_each: [1, 2.5, "three", [4], {five: 5}, null]
    steps:
      - name: work
        type: shell
        command: echo "$MAVERICK_STEP" >> log.txt && echo "$ITEM"
        env: {ITEM: "${{ to_json(item) }}"}
      - name: keep
        type: python
        action: maverick_core.examples:numbers
        kwargs: {count: 2}
      - name: done
        type: checkpoint
        checkpoint_id: item_${{ index }}
outputs:
  items: ${{ steps.each.output }}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "maverick.yaml").write_text("project: packed\n")
    (root / "wf.yaml").write_text(WORKFLOW)
    return root


def run(project: Path, *args: str, kill: int = 0) -> subprocess.CompletedProcess[str]:
    maverick = shutil.which("maverick")
    assert maverick
    env = {**os.environ, "MAVERICK_TEST_KILL": f"after_checkpoint:{kill}"}
    return subprocess.run(
        [maverick, "-p", "maverick_core.testing.killer", "run", "wf.yaml", "--json", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def outputs(result: subprocess.CompletedProcess[str]) -> Any:
    events = [json.loads(line) for line in result.stdout.splitlines()]
    return [e for e in events if e["event"] == "workflow_finish"][-1].get("outputs")


def serializers_used(project: Path) -> set[str]:
    """The serializer of every journal record, read through the store API."""
    from maverick_core.api import CheckpointRecord, Project, open_store
    from maverick_core.engine.pluginmanager import make_plugin_manager

    store = open_store(make_plugin_manager(autoload=False), "file:", Project(project, "p"))
    try:
        return {
            record.serializer
            for run in store.list_runs()
            for record in store.read_checkpoints(run.run_id)
            if isinstance(record, CheckpointRecord)
        }
    finally:
        store.close()


def test_msgpack_is_listed_as_a_serializer() -> None:
    maverick = shutil.which("maverick")
    assert maverick
    listed = json.loads(
        subprocess.run(
            [maverick, "plugins", "--json"], capture_output=True, text=True, check=True
        ).stdout
    )
    provided = {p["name"]: p["provides"] for p in listed}
    assert provided["msgpack"] == {"serializers": ["msgpack"]}


def test_a_killed_msgpack_run_resumes_with_the_same_outputs(project: Path) -> None:
    reference = run(project, "--serializer", "msgpack")
    assert reference.returncode == 0, reference.stderr
    (project / "log.txt").unlink()
    killed = run(project, "--serializer", "msgpack", kill=3)
    assert killed.returncode == -signal.SIGKILL
    resumed = run(project, "--serializer", "msgpack", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert outputs(resumed) == outputs(reference)
    lines = (project / "log.txt").read_text().splitlines()
    assert [lines.count(f"each[{i}].work") for i in range(6)] == [1, 1, 1, 1, 1, 1]
    assert serializers_used(project) == {"msgpack"}


def test_a_json_run_can_be_resumed_writing_msgpack(project: Path) -> None:
    reference = run(project)
    killed = run(project, kill=2)
    assert killed.returncode == -signal.SIGKILL
    resumed = run(project, "--serializer", "msgpack", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert outputs(resumed) == outputs(reference)
    assert serializers_used(project) == {"json", "msgpack"}
