"""What maverick leaves in a project: a clean ``git status``, private files under any umask."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from maverick_core.engine.config import LEGACY_GITIGNORE
from maverick_core.testing import maverick_executable

if TYPE_CHECKING:
    from pathlib import Path

Cli = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

WORKFLOW = """
version: "1.0"
name: tidy
steps:
  - {name: one, type: shell, command: "true", checkpoint: true}
  - {name: two, type: shell, command: "exit 1"}
"""


def git(project: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=project, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(project: Path) -> Path:
    """The project as a git repository with everything committed."""
    (project / "wf.yaml").write_text(WORKFLOW)
    git(project, "init", "-q")
    git(project, "add", ".")
    git(project, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "start")
    return project


def test_running_maverick_leaves_git_status_clean(repo: Path, cli: Cli) -> None:
    assert cli("run", "wf.yaml").returncode == 1
    assert cli("run", "wf.yaml", "--resume").returncode == 1
    assert (repo / ".maverick" / "checkpoints").is_dir()
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""


def test_project_workflows_prompts_and_issues_stay_committable(repo: Path, cli: Cli) -> None:
    assert cli("run", "wf.yaml").returncode == 1
    for name in ("workflows/mine.yaml", "prompts/implementer.md", "issues/1.md"):
        path = repo / ".maverick" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")
    listed = git(repo, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert sorted(listed) == [
        "?? .maverick/issues/1.md",
        "?? .maverick/prompts/implementer.md",
        "?? .maverick/workflows/mine.yaml",
    ]


def test_the_gitignore_of_an_earlier_release_is_retired_when_git_does_not_track_it(
    repo: Path, cli: Cli
) -> None:
    (repo / ".maverick").mkdir()
    (repo / ".maverick" / ".gitignore").write_text(LEGACY_GITIGNORE)
    assert cli("run", "wf.yaml").returncode == 1
    assert not (repo / ".maverick" / ".gitignore").exists()
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""


def test_a_committed_gitignore_of_an_earlier_release_is_left_in_place(repo: Path, cli: Cli) -> None:
    (repo / ".maverick").mkdir()
    (repo / ".maverick" / ".gitignore").write_text(LEGACY_GITIGNORE)
    git(repo, "add", ".maverick/.gitignore")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "old")
    assert cli("run", "wf.yaml").returncode == 1
    assert (repo / ".maverick" / ".gitignore").read_text() == LEGACY_GITIGNORE
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""


def test_everything_maverick_writes_is_private_even_under_umask_000(project: Path) -> None:
    (project / "wf.yaml").write_text(WORKFLOW)
    result = subprocess.run(
        [*maverick_executable(), "run", "wf.yaml"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: os.umask(0),
    )
    assert result.returncode == 1, result.stderr
    paths = [project / ".maverick", *(project / ".maverick").rglob("*")]
    modes = {str(p.relative_to(project)): stat.S_IMODE(p.lstat().st_mode) for p in paths}
    expected = {name: 0o700 if (project / name).is_dir() else 0o600 for name in modes}
    assert modes == expected
    assert ".maverick/checkpoints/.gitignore" in modes


def test_a_store_directory_elsewhere_is_created_private_with_its_parents(project: Path) -> None:
    (project / "wf.yaml").write_text(WORKFLOW)
    result = subprocess.run(
        [*maverick_executable(), "run", "wf.yaml", "--store", "file:state/deep/runs"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: os.umask(0),
    )
    assert result.returncode == 1, result.stderr
    for name in ("state", "state/deep", "state/deep/runs"):
        assert stat.S_IMODE((project / name).stat().st_mode) == 0o700, name
