"""``maverick refuel --parallel N``: each issue in its own git worktree, N at once."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tests.e2e.fixtures.support import Maverick, git, history, make_repo, settings
from tests.e2e.test_refuel import issue

if TYPE_CHECKING:
    from pathlib import Path

SIX = {f".maverick/issues/{n}.md": issue(n, f"Tidy module {n}") for n in (1, 2, 3, 5, 6)}
SIX[".maverick/issues/4.md"] = issue(4, "Cannot be fixed", "BROKEN UNFIXABLE")
BRANCHES = [f"fix/issue-{n}" for n in range(1, 7)]


def parallel_repo(tmp_path: Path, name: str = "repo") -> Maverick:
    return Maverick(make_repo(tmp_path / name, SIX, settings()))


def worktrees(repo: Path) -> list[str]:
    directory = repo / ".maverick" / "worktrees"
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def test_parallel_refuel_fixes_in_worktrees_and_keeps_the_failed_one(tmp_path: Path) -> None:
    mav = parallel_repo(tmp_path)
    result = mav.run("refuel", "--parallel", "3", "--max-fix-attempts", "1", "--limit", "10")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "5 fixed, 1 failed, 0 skipped" in result.stdout
    assert "1 issue(s) could not be fixed: #4" in result.stdout
    assert "kept worktree of #4: .maverick/worktrees/issue-4 (fix/issue-4)" in result.stdout

    repo = mav.repo
    # the user's checkout was never touched
    assert git(repo, "branch", "--show-current") == "main"
    assert git(repo, "status", "--porcelain", "--", ":/", ":(exclude).maverick") == ""
    assert not (repo / "src" / "issue_1.py").exists()
    prs = sorted(p.name for p in (repo / ".maverick" / "prs" / "fix").glob("*.md"))
    assert prs == [f"issue-{n}.md" for n in (1, 2, 3, 5, 6)]
    numbers = sorted(
        int(line.split(":")[1])
        for p in (repo / ".maverick" / "prs" / "fix").glob("*.md")
        for line in p.read_text().splitlines()
        if line.startswith("number:")
    )
    assert numbers == [1, 2, 3, 4, 5]  # opened from several threads, numbered once each
    assert worktrees(repo) == ["issue-4"]
    kept = repo / ".maverick" / "worktrees" / "issue-4"
    assert git(kept, "branch", "--show-current") == "fix/issue-4"
    assert [s for s, _ in history(repo, "fix/issue-4")] == [
        "WIP: fix #4 (unfinished: maverick refuel failed)"
    ]
    for n in (1, 2, 3, 5, 6):
        assert [s for s, _ in history(repo, f"fix/issue-{n}")] == [f"Fix #{n}: Tidy module {n}"]
        files = git(repo, "ls-tree", "-r", "--name-only", f"fix/issue-{n}", "src").split()
        assert files == ["src/__init__.py", f"src/issue_{n}.py"]  # its own fix only
    origin = sorted(git(repo.parent / "origin.git", "branch", "--format=%(refname:short)").split())
    assert origin == [f"fix/issue-{n}" for n in (1, 2, 3, 5, 6)] + ["main"]


def test_parallel_refuel_killed_resumes_only_the_unfinished_issues(tmp_path: Path) -> None:
    mav = parallel_repo(tmp_path)
    mav.run_killed(
        "refuel",
        "--parallel",
        "3",
        "--max-fix-attempts",
        "1",
        "--limit",
        "10",
        hang="issue_fixer:issue-5",
        after=lambda: all(mav.committed(f"issue_{n}_done") for n in (1, 2, 3)),
    )
    resumed = mav.run("refuel", "--resume")
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    # issue 4 always fails; issue 6 was being worked on when the kill came, and now and
    # then its worktree is left unusable by the killed agent (a git lock), so the resumed
    # attempt may fail too: the promise pinned here is that finished issues are not redone
    summary = re.search(r"(\d+) fixed, (\d+) failed, 0 skipped", resumed.stdout)
    assert summary is not None, resumed.stdout
    fixed, failed = int(summary[1]), int(summary[2])
    assert fixed + failed == 6 and fixed >= 4, resumed.stdout

    starts = mav.counts("start")
    for n in (1, 2, 3):  # checkpointed before the kill: never asked again
        assert starts[f"issue_fixer:issue-{n}"] == 1
    assert starts["issue_fixer:issue-5"] == 2  # killed while it worked, asked again
    for n in (4, 6):  # running beside issue 5: asked again unless checkpointed first
        assert 1 <= starts[f"issue_fixer:issue-{n}"] <= 2
    assert worktrees(mav.repo) == ["issue-4"]
    prs = sorted(p.name for p in (mav.repo / ".maverick" / "prs" / "fix").glob("*.md"))
    assert prs == [f"issue-{n}.md" for n in (1, 2, 3, 5, 6)]
    for n in (1, 2, 3, 5, 6):
        assert [s for s, _ in history(mav.repo, f"fix/issue-{n}")] == [f"Fix #{n}: Tidy module {n}"]
    assert git(mav.repo, "branch", "--show-current") == "main"
