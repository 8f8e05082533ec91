"""Fixtures for crash/resume tests that drive the installed ``maverick`` for real."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from maverick_core.builtin.filestore import segments
from maverick_core.testing import MaverickCLI, json_events

if TYPE_CHECKING:
    import subprocess

HERE = Path(__file__).resolve().parent


def run_dirs(base: Path) -> list[Path]:
    """The run directories of a file store (its hidden entries, such as the index, left out)."""
    return sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))


class Harness:
    """Runs ``maverick`` on the resumable workflow in a project, like a user would.

    ``kill="HOOK:N"`` crashes the run at that hook call (:mod:`maverick_core.testing.killer`);
    ``tests/integration/plugins`` is on the path for the test store plugins.
    """

    def __init__(self, project: Path, extra_args: tuple[str, ...] = ()) -> None:
        self.project = project
        self.log = project / "side-effects.log"
        self.extra_args = list(extra_args)
        shutil.copy(HERE / "workflows" / "resumable.yaml", project / "wf.yaml")
        shutil.copy(HERE / "workflows" / "sub.yaml", project / "sub.yaml")
        pythonpath = os.pathsep.join([str(HERE / "plugins"), os.environ.get("PYTHONPATH", "")])
        self.cli = MaverickCLI(project, env={"PYTHONPATH": pythonpath})
        self.env = self.cli.env  # what a test adds here reaches every later command

    def args(self, *args: str, inputs: dict[str, Any] | None = None) -> list[str]:
        given = {"log": str(self.log), **(inputs or {})}
        flags = [f"-i{k}={v}" for k, v in given.items()]
        return [*self.extra_args, "run", "wf.yaml", "--json", *flags, *args]

    def run(
        self,
        *args: str,
        kill: str | None = None,
        inputs: dict[str, Any] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        return self.cli(*self.args(*args, inputs=inputs), timeout=timeout, crash_at=kill)

    def start(self, *args: str, inputs: dict[str, Any] | None = None) -> subprocess.Popen[str]:
        return self.cli.start(*self.args(*args, inputs=inputs))

    def maverick(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cli(*self.extra_args, *args)

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def counts(self) -> Counter[str]:
        return Counter(self.lines())

    def latest_run(self) -> dict[str, Any]:
        result = self.maverick("runs", "list", "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)["runs"][0]

    def show(self, run_id: str) -> dict[str, Any]:
        result = self.maverick("runs", "show", run_id, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def committed_leaf_steps(self, run_id: str) -> list[str]:
        """Shell steps recorded as completed in the run's latest checkpoint (what a
        resume restores; ``runs show`` also shows steps the run finished after it)."""
        steps = self.show(run_id)["steps"]
        leaves = {"prepare", "seq_work", "par_work", "four", "other", "first", "second", "finish"}
        return [
            p
            for p, s in ((s["path"], s) for s in steps)
            if s["status"] == "completed" and s["in_checkpoint"] and p.rsplit(".", 1)[-1] in leaves
        ]

    def journal(self, run_id: str) -> list[Path]:
        return sorted((self.project / ".maverick" / "checkpoints" / run_id).glob("journal*"))

    def tear_last_record(self, run_id: str, keep: int = 40) -> None:
        """Leave only the first ``keep`` bytes of the run's last journal frame, the
        rest zeros: what a crash in the middle of writing it leaves."""
        [journal] = self.journal(run_id)[-1:]
        data = bytearray(journal.read_bytes())
        start, end = segments.frame_spans(bytes(data))[-1]
        data[start + keep : end] = bytes(end - start - keep)
        journal.write_bytes(bytes(data))


def final_outputs(output: str) -> Any:
    finish = [e for e in json_events(output) if e["event"] == "workflow_finish"]
    assert finish, output
    return finish[-1].get("outputs")


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
    finished = [e for e in json_events(result.stdout) if e["event"] == "step_finish"]
    checkpoints = [e for e in json_events(result.stdout) if e["event"] == "checkpoint"]
    return {
        "outputs": final_outputs(result.stdout),
        "lines": sorted(ref.lines()),
        "steps": len(finished),
        "checkpoints": len(checkpoints),
    }
