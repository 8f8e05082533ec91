"""Repo-wide fixtures: what maverick's pytest plugin (``maverick_core.testing``) does not do.

The fixtures themselves (project, workflow files, in-process and real-process runs,
the hook recorder, git repositories) come from that plugin, which every user of
maverick gets; here they get the short names our tests use, and every test, not only
those that ask for a project, is isolated from the user's settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from maverick_core.testing import ISOLATED_VARIABLES, HookRecorder, MaverickCLI, RunResult

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # a user's own config or store settings must never leak into a test
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    # the entry-point cache too: a test's plugins on its own sys.path stay its own
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    for name in ISOLATED_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def project(maverick_project: Path) -> Path:
    """``maverick_project``: an empty project directory."""
    return maverick_project


@pytest.fixture
def write_workflow(maverick_write_workflow: Callable[..., Path]) -> Callable[..., Path]:
    """``maverick_write_workflow``: ``write_workflow(text, name="wf.yaml") -> Path``."""
    return maverick_write_workflow


@pytest.fixture
def run_in_process(maverick_run: Callable[..., RunResult]) -> Callable[..., RunResult]:
    """``maverick_run``, taking the plugin objects as ``objects=``."""

    def run(path: Path, *args: Any, objects: tuple[object, ...] = (), **kwargs: Any) -> RunResult:
        return maverick_run(path, *args, plugins=objects, **kwargs)

    return run


@pytest.fixture
def cli(maverick_cli: MaverickCLI) -> MaverickCLI:
    """``maverick_cli``: the installed ``maverick`` in a real process."""
    return maverick_cli


@pytest.fixture
def recorder(maverick_recorder: HookRecorder) -> HookRecorder:
    """``maverick_recorder``: a fresh hook recorder."""
    return maverick_recorder
