"""Repo-wide fixtures: temporary projects, in-process runs, real CLI subprocesses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from maverick_core import hookimpl

REPO = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # a user's own config or store settings must never leak into a test
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for name in ("MAVERICK_STORE", "MAVERICK_SERIALIZER", "MAVERICK_DURABILITY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory (it has a maverick.yaml, so it is its own root)."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "maverick.yaml").write_text("project: test-project\n")
    return root


@pytest.fixture
def write_workflow(project: Path) -> Callable[..., Path]:
    """Write a workflow file into the project: ``write_workflow(text, name="wf.yaml")``."""

    def write(text: str, name: str = "wf.yaml") -> Path:
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return write


class Recorder:
    """A plugin that records every hook call: (hook, selected arguments)."""

    name = "recorder"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def paths(self, hook: str) -> list[str]:
        return [args["path"] for name, args in self.calls if name == hook]

    @hookimpl
    def workflow_start(self, run: Any) -> None:
        self.calls.append(("workflow_start", {"run_id": run.run_id}))

    @hookimpl
    def workflow_finish(self, run: Any, outcome: Any) -> None:
        self.calls.append(
            ("workflow_finish", {"status": outcome.status, "outputs": outcome.outputs})
        )

    @hookimpl
    def on_workflow_error(self, run: Any, error: BaseException) -> None:
        self.calls.append(("on_workflow_error", {"error": error}))

    @hookimpl
    def before_step(self, run: Any, step: Any, path: str) -> None:
        self.calls.append(("before_step", {"path": path, "type": step.type}))

    @hookimpl
    def after_step(self, run: Any, step: Any, path: str, record: Any) -> None:
        self.calls.append(
            (
                "after_step",
                {
                    "path": path,
                    "status": record.status,
                    "output": record.output,
                    "error": record.error,
                },
            )
        )

    @hookimpl
    def on_step_error(self, run: Any, step: Any, path: str, error: BaseException) -> None:
        self.calls.append(("on_step_error", {"path": path, "error": error}))

    @hookimpl
    def on_step_skipped(self, run: Any, step: Any, path: str, reason: str) -> None:
        self.calls.append(("on_step_skipped", {"path": path, "reason": reason}))

    @hookimpl
    def on_loop_start(self, run: Any, step: Any, path: str, total: int, done: int) -> None:
        self.calls.append(("on_loop_start", {"path": path, "total": total, "done": done}))

    @hookimpl
    def on_iteration_finish(self, run: Any, step: Any, path: str, index: int, status: str) -> None:
        self.calls.append(("on_iteration_finish", {"path": path, "index": index, "status": status}))

    @hookimpl
    def after_checkpoint(self, run: Any, checkpoint: Any) -> None:
        self.calls.append(
            ("after_checkpoint", {"checkpoint_id": checkpoint.checkpoint_id, "seq": checkpoint.seq})
        )

    @hookimpl
    def on_resume(self, run: Any, state: Any) -> None:
        self.calls.append(
            ("on_resume", {"from": run.resumed_from, "restored": sorted(state.done_paths())})
        )

    @hookimpl
    def on_notice(self, run: Any, message: str) -> None:
        self.calls.append(("on_notice", {"message": message}))


@pytest.fixture
def recorder() -> Recorder:
    """A fresh hook recorder."""
    return Recorder()


@pytest.fixture
def run_in_process(project: Path) -> Callable[..., Any]:
    """Run a workflow in this process: ``run_in_process(path, inputs={}, plugins=[...])``.

    Returns the outcome's fields plus ``run``; the terminal reporter is blocked so tests stay quiet.
    """
    from maverick_core.engine.config import make_config
    from maverick_core.engine.dsl.loader import load_workflow
    from maverick_core.engine.executor import Executor
    from maverick_core.engine.pluginmanager import make_plugin_manager
    from maverick_core.engine.run import RunRequest

    def run(
        path: Path,
        inputs: dict[str, Any] | None = None,
        objects: tuple[Any, ...] = (),
        blocked: tuple[str, ...] = ("terminal",),
        resume: bool = False,
        run_id: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> Any:
        pm = make_plugin_manager(blocked=blocked, objects=objects, autoload=False)
        config = make_config(pm, project, options or {})
        workflow = load_workflow(path, pm.registries.step_models())
        given = dict(inputs or {})
        request = RunRequest(
            workflow=workflow,
            inputs=given,
            given_inputs=frozenset(given),
            resume=resume,
            run_id=run_id,
        )
        run_ = pm.hook.open_run(config=config, request=request)
        outcome = Executor(run_).execute()
        return SimpleNamespace(
            status=outcome.status, outputs=outcome.outputs, error=outcome.error, run=run_
        )

    return run


def maverick_executable() -> list[str]:
    """The installed ``maverick`` console script (the real entry point)."""
    found = shutil.which("maverick")
    return [found] if found else [sys.executable, "-m", "maverick_core.engine.cli"]


@pytest.fixture
def cli(project: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed ``maverick`` in a real subprocess in the project directory."""

    def run(
        *args: str, timeout: float = 60, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **(env or {})}
        return subprocess.run(
            [*maverick_executable(), *args],
            cwd=cwd or project,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            stdin=subprocess.DEVNULL,
        )

    return run


@pytest.fixture
def git_repo(tmp_path: Path) -> Iterator[Path]:
    """A real git repository with one commit on main and a local bare ``origin``."""
    origin = tmp_path / "origin.git"
    work = tmp_path / "work"
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True, env=env)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True, env=env)
    for key, value in (("user.name", "t"), ("user.email", "t@example.com")):
        subprocess.run(["git", "-C", str(work), "config", key, value], check=True)
    (work / "README.md").write_text("# test project\n")
    subprocess.run(["git", "-C", str(work), "add", "."], check=True, env=env)
    subprocess.run(["git", "-C", str(work), "commit", "-q", "-m", "initial"], check=True, env=env)
    subprocess.run(["git", "-C", str(work), "remote", "add", "origin", str(origin)], check=True)
    subprocess.run(["git", "-C", str(work), "push", "-q", "origin", "main"], check=True, env=env)
    yield work
