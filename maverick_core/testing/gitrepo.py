"""A real git repository with a local bare ``origin``, for plugins that work with git."""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "maverick-test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "maverick-test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_AUTHOR_DATE": "2026-01-02T03:04:05Z",
    "GIT_COMMITTER_DATE": "2026-01-02T03:04:05Z",
}
"""Author, committer and date of test commits, independent of the user's git config:
the same work makes the same commit ids in every repository."""


def git(cwd: Path, *args: str) -> str:
    """Run ``git ARGS`` in ``cwd``; return its stdout (stripped); raise on failure."""
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_IDENTITY},
        stdin=subprocess.DEVNULL,
        check=True,
    )
    return result.stdout.strip()


def make_git_repo(root: Path, files: dict[str, str] | None = None) -> Path:
    """``root/work``: ``files`` (default a README) committed on ``main`` and pushed to
    ``root/origin.git``, a bare repository set as ``origin``. Returns the work tree.
    """
    work, origin = root / "work", root / "origin.git"
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "--bare", "-b", "main", str(origin))
    git(root, "init", "-q", "-b", "main", str(work))
    git(work, "config", "user.name", GIT_IDENTITY["GIT_AUTHOR_NAME"])
    git(work, "config", "user.email", GIT_IDENTITY["GIT_AUTHOR_EMAIL"])
    for name, text in (files or {"README.md": "# test project\n"}).items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "initial")
    git(work, "remote", "add", "origin", str(origin))
    git(work, "push", "-q", "origin", "main")
    return work
