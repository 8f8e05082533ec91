"""maverick's pytest plugin (entry point ``pytest11``): fixtures for testing plugins.

It loads in every pytest session wherever maverick is installed, so it defines no
autouse fixture and imports only the standard library, pytest and ``maverick_core``;
the engine loads when a fixture runs a workflow. Every fixture's name starts with
``maverick_``, so none hides a test suite's own ``project`` or ``cli``.

- ``maverick_project``: an empty project directory, with the environment isolated.
- ``maverick_write_workflow``: writes a workflow file into it.
- ``maverick_run``: runs a workflow in this process (:class:`RunResult`).
- ``maverick_cli``: runs the installed ``maverick`` in a real process (:class:`MaverickCLI`).
- ``maverick_recorder``: a :class:`HookRecorder` plugin to pass to ``maverick_run``.
- ``maverick_git_repo``: a real git repository with a local bare ``origin``.

The store and serializer conformance kit is :mod:`maverick_core.testing.conformance`;
:mod:`maverick_core.testing.killer` crashes a ``maverick`` process at a given hook call.
docs/plugins.md ("Testing your plugin") shows them at work.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import pytest

from maverick_core.testing.gitrepo import GIT_IDENTITY, git, make_git_repo
from maverick_core.testing.recorder import HookRecorder
from maverick_core.testing.runner import (
    MaverickCLI,
    RunResult,
    json_events,
    maverick_executable,
    read_until,
    run_workflow,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

ISOLATED_VARIABLES = ("MAVERICK_STORE", "MAVERICK_SERIALIZER", "MAVERICK_DURABILITY")
"""Environment variables that say how a user's runs are stored; a test must not inherit them."""


def in_ci() -> bool:
    """``$CI`` is set (and not false): a test whose prerequisite is missing there must
    fail, not skip (CI runs everything)."""
    import os

    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture
def maverick_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory, ``tmp_path / "proj"``, with a ``maverick.yaml``.

    The user's configuration directory (``$XDG_CONFIG_HOME``) points into
    ``tmp_path``, and ``$MAVERICK_STORE``, ``$MAVERICK_SERIALIZER`` and
    ``$MAVERICK_DURABILITY`` are unset for the test: no user's settings or runs reach it.
    """
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for name in ISOLATED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "maverick.yaml").write_text("project: test-project\n")
    return root


@pytest.fixture
def maverick_write_workflow(maverick_project: Path) -> Callable[..., Path]:
    """``maverick_write_workflow(text, name="wf.yaml") -> Path``: write a workflow file.

    The text is dedented, so a test can indent it with its code.
    """

    def write(text: str, name: str = "wf.yaml") -> Path:
        path = maverick_project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return write


@pytest.fixture
def maverick_run(maverick_project: Path) -> Callable[..., RunResult]:
    """``maverick_run(workflow, inputs=None, *, plugins=(), ...) -> RunResult``.

    Runs a workflow file in this process, in the project, with the built-in plugins
    and ``plugins`` (objects); the arguments are :func:`run_workflow`'s.
    """

    def run(workflow: str | Path, inputs: dict[str, Any] | None = None, **kwargs: Any) -> RunResult:
        return run_workflow(maverick_project, workflow, inputs, **kwargs)

    return run


@pytest.fixture
def maverick_cli(maverick_project: Path) -> MaverickCLI:
    """The installed ``maverick``, run in a real process in the project directory."""
    return MaverickCLI(maverick_project)


@pytest.fixture
def maverick_recorder() -> HookRecorder:
    """A fresh :class:`HookRecorder`."""
    return HookRecorder()


@pytest.fixture
def maverick_git_repo(tmp_path: Path) -> Path:
    """A git work tree with one commit on ``main``, pushed to a local bare ``origin``.

    The repository is ``tmp_path / "git" / "work"``, its origin
    ``tmp_path / "git" / "origin.git"``; :func:`git` runs more git commands in it.
    """
    return make_git_repo(tmp_path / "git")


__all__ = [
    "GIT_IDENTITY",
    "ISOLATED_VARIABLES",
    "HookRecorder",
    "MaverickCLI",
    "RunResult",
    "git",
    "in_ci",
    "json_events",
    "make_git_repo",
    "maverick_cli",
    "maverick_executable",
    "maverick_git_repo",
    "maverick_project",
    "maverick_recorder",
    "maverick_run",
    "maverick_write_workflow",
    "read_until",
    "run_workflow",
]
