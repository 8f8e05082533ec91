"""Review rounds in fly and ``review --fix``: findings go to the fixer, reviewers look again.

The stand-in reviewers ask for changes while the diff adds a ``TODO(review)`` line
(a task marked REVIEWME makes the implementer write one) and approve once the fixer
removed it, so a run of two rounds is: request_changes, fix, approve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.e2e.fixtures.support import (
    Maverick,
    end_state,
    git,
    history,
    make_repo,
    outputs,
    settings,
)

if TYPE_CHECKING:
    from pathlib import Path

TASKS = """\
# Tasks: Widget

## Phase 1: Setup
- [ ] T001 Create the first module

## Phase 2: Core
- [ ] T002 Implement the core REVIEWME
"""
TWO_REVIEWERS = """\
review:
  reviewers: [spec_reviewer, technical_reviewer]
"""


def fly_repo(tmp_path: Path, name: str = "repo", extra: str = "") -> Maverick:
    return Maverick(make_repo(tmp_path / name, {"tasks.md": TASKS}, settings(extra=extra)))


def test_a_round_that_requests_changes_is_fixed_and_the_second_approves(tmp_path: Path) -> None:
    mav = fly_repo(tmp_path)
    result = mav.run("fly", "--branch-name", "feature", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "review round 1: request_changes (reviewer: request_changes; 1 finding(s))" in (
        result.stdout
    )
    assert "review round 2: approve" in result.stdout
    out = outputs(result.stdout)
    assert out["recommendation"] == "approve"
    assert [s for s, _ in history(mav.repo, "feature")] == [
        "Phase 1: Setup",
        "Phase 2: Core",
        "Address review round 1 of feature",
    ]
    assert git(mav.repo, "show", "feature:src/t002.py") == "VALUE = 'T002'"
    origin = mav.repo.parent / "origin.git"
    assert git(origin, "rev-parse", "feature") == git(mav.repo, "rev-parse", "feature")
    assert mav.counts("start") == {
        "implementer:phase-1": 1,
        "implementer:phase-2": 1,
        "reviewer:round-1": 1,
        "fixer:review-1": 1,
        "reviewer:round-2": 1,
    }
    fixer_prompt = mav.prompt("fixer", "review-1")
    assert "- [reviewer] src/t002.py:1: resolve the TODO(review) comment" in fixer_prompt

    report = (mav.repo / out["report"]).read_text()
    assert "- Rounds: 2; fixed after 1 of them" in report
    assert "## Round 1: request_changes" in report and "## Round 2: approve" in report
    assert "### Fixed" in report and "addressed t002.py" in report
    assert "Address review round 1 of feature; validation passed" in report
    pr = (mav.repo / ".maverick" / "prs" / "feature.md").read_text()
    assert "- Round 1: request_changes (reviewer: request_changes; 1 finding(s); fixed in" in pr
    assert "- Round 2: approve (reviewer: approve; 0 finding(s))" in pr


def test_killed_in_the_second_round_resumes_without_asking_round_1_again(tmp_path: Path) -> None:
    baseline = fly_repo(tmp_path, "baseline")
    assert baseline.run("fly", "--branch-name", "feature").returncode == 0

    mav = fly_repo(tmp_path, "killed")
    mav.run_killed("fly", "--branch-name", "feature", hang="reviewer:round-2")
    explained = mav.run("fly", "--resume", "--explain")
    assert "resumes after checkpoint 'review_round_1_complete'" in explained.stdout
    resumed = mav.run("fly", "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr

    assert end_state(mav.repo, ["feature"]) == end_state(baseline.repo, ["feature"])
    assert mav.counts("start") == {
        "implementer:phase-1": 1,
        "implementer:phase-2": 1,
        "reviewer:round-1": 1,  # its round was checkpointed: not asked again
        "fixer:review-1": 1,
        "reviewer:round-2": 2,  # killed while reviewing, then asked again
    }


def test_two_reviewers_run_at_once_and_the_strictest_recommendation_wins(
    tmp_path: Path,
) -> None:
    extra = TWO_REVIEWERS + "  max_review_rounds: 1\n"
    mav = fly_repo(tmp_path, extra=extra)
    result = mav.run("fly", "--branch-name", "feature", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    out = outputs(result.stdout)
    assert out["recommendation"] == "request_changes"
    assert "findings are reported, not fixed: round 1 was the last" in result.stdout
    report = (mav.repo / out["report"]).read_text()
    assert "### spec_reviewer (request_changes)" in report
    assert "### technical_reviewer (request_changes)" in report
    assert "Not fixed: round 1 was the last (review.max_review_rounds: 1)" in report
    assert "spec reviewer" in mav.prompt("spec_reviewer", "round-1")
    assert "technical reviewer" in mav.prompt("technical_reviewer", "round-1")
    assert mav.counts("start")["fixer:review-1"] == 0


def test_a_resume_after_one_reviewer_finished_asks_only_the_other(tmp_path: Path) -> None:
    mav = fly_repo(tmp_path, extra=TWO_REVIEWERS)
    mav.run_killed(
        "fly",
        "--branch-name",
        "feature",
        hang="spec_reviewer:round-1",
        after=lambda: mav.committed("review_round_1_technical_reviewer_done"),
    )
    resumed = mav.run("fly", "--resume", "--json")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert outputs(resumed.stdout)["recommendation"] == "approve"
    starts = mav.counts("start")
    assert starts["technical_reviewer:round-1"] == 1  # answered before the kill
    assert starts["spec_reviewer:round-1"] == 2
    assert starts["fixer:review-1"] == 1
    assert (starts["spec_reviewer:round-2"], starts["technical_reviewer:round-2"]) == (1, 1)


def test_excluded_paths_are_kept_from_the_reviewers(tmp_path: Path) -> None:
    extra = 'review:\n  exclude: ["vendor/*", "*.lock"]\n'
    repo = make_repo(tmp_path / "repo", {}, settings(extra=extra))
    git(repo, "switch", "-q", "-c", "feature")
    for name, text in {
        "vendor/lib.py": "LIB = 1\n",
        "poetry.lock": "locked\n",
        "src/own.py": "OWN = 1\n",
    }.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Add code")
    mav = Maverick(repo)
    result = mav.run("review", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    prompt = mav.prompt("reviewer", "round-1")
    assert "src/own.py" in prompt
    assert "vendor/lib.py" not in prompt and "poetry.lock" not in prompt
    report = (repo / outputs(result.stdout)["report"]).read_text()
    assert "- Not shown to the reviewers: poetry.lock, vendor/lib.py" in report


def test_review_fix_commits_and_pushes_the_fixes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {}, settings())
    git(repo, "switch", "-q", "-c", "feature")
    (repo / "src" / "core.py").write_text("CORE = 1  # TODO(review): name this better\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Add the core")
    mav = Maverick(repo)
    only = mav.run("review", "--json")
    assert outputs(only.stdout)["recommendation"] == "request_changes"
    assert [s for s, _ in history(repo, "feature")] == ["Add the core"]  # review only reports

    fixed = mav.run("review", "--fix", "--json")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert outputs(fixed.stdout)["recommendation"] == "approve"
    assert [s for s, _ in history(repo, "feature")] == [
        "Add the core",
        "Address review round 1 of feature",
    ]
    assert git(repo, "show", "feature:src/core.py") == "CORE = 1"
    origin = repo.parent / "origin.git"
    assert git(origin, "rev-parse", "feature") == git(repo, "rev-parse", "feature")
