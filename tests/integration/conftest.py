"""Fixtures for crash/resume tests that drive the installed ``maverick`` for real."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conftest import maverick_executable

HERE = Path(__file__).resolve().parent


class Harness:
    """Runs ``maverick`` on the resumable workflow in a project, like a user would."""

    def __init__(self, project: Path, extra_args: tuple[str, ...] = ()) -> None:
        self.project = project
        self.log = project / "side-effects.log"
        self.extra_args = list(extra_args)
        shutil.copy(HERE / "workflows" / "resumable.yaml", project / "wf.yaml")
        shutil.copy(HERE / "workflows" / "sub.yaml", project / "sub.yaml")
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(HERE / "plugins"), os.environ.get("PYTHONPATH", "")]
            ),
        }

    def args(self, *args: str, inputs: dict[str, Any] | None = None) -> list[str]:
        given = {"log": str(self.log), **(inputs or {})}
        flags = [f"-i{k}={v}" for k, v in given.items()]
        return [
            *maverick_executable(),
            "-p",
            "maverick_test_killer",
            *self.extra_args,
            "run",
            "wf.yaml",
            *flags,
            *args,
        ]

    def run(
        self,
        *args: str,
        kill: str | None = None,
        inputs: dict[str, Any] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        env = dict(self.env)
        if kill:
            env["MAVERICK_TEST_KILL"] = kill
        return subprocess.run(
            self.args("--json", *args, inputs=inputs),
            cwd=self.project,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def start(self, *args: str, inputs: dict[str, Any] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.args("--json", *args, inputs=inputs),
            cwd=self.project,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )

    def maverick(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*maverick_executable(), *self.extra_args, *args],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def counts(self) -> Counter[str]:
        return Counter(self.lines())

    def latest_run(self) -> dict[str, Any]:
        result = self.maverick("runs", "list", "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)[0]

    def show(self, run_id: str) -> dict[str, Any]:
        result = self.maverick("runs", "show", run_id, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def committed_leaf_steps(self, run_id: str) -> list[str]:
        """Shell steps recorded as completed in the run's latest checkpoint."""
        steps = self.show(run_id)["steps"]
        leaves = {"prepare", "seq_work", "par_work", "four", "other", "first", "second", "finish"}
        return [
            p
            for p, s in steps.items()
            if s["status"] == "completed" and p.rsplit(".", 1)[-1] in leaves
        ]

    def journal(self, run_id: str) -> list[Path]:
        return sorted((self.project / ".maverick" / "checkpoints" / run_id).glob("journal*"))


def events(output: str) -> list[dict[str, Any]]:
    """The JSON events a ``--json`` run printed."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def final_outputs(output: str) -> Any:
    finish = [e for e in events(output) if e["event"] == "workflow_finish"]
    assert finish, output
    return finish[-1].get("outputs")


def wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> list[str]:
    """Read the process's stdout until a line contains ``needle``."""
    assert proc.stdout is not None
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} not seen in {seen}")


@pytest.fixture
def harness(project: Path) -> Harness:
    return Harness(project)


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An uninterrupted run: its outputs, its side effects and its number of steps."""
    root = tmp_path_factory.mktemp("reference")
    (root / "maverick.yaml").write_text("project: reference\n")
    ref = Harness(root)
    result = ref.run()
    assert result.returncode == 0, result.stderr
    finished = [e for e in events(result.stdout) if e["event"] == "step_finish"]
    checkpoints = [e for e in events(result.stdout) if e["event"] == "checkpoint"]
    return {
        "outputs": final_outputs(result.stdout),
        "lines": sorted(ref.lines()),
        "steps": len(finished),
        "checkpoints": len(checkpoints),
    }


__all__ = ["Harness", "events", "final_outputs", "signal", "wait_for_line"]
