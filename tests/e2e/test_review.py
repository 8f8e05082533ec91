"""``maverick review``: gather a change, ask the reviewer, write the report; crash and resume."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.fixtures.support import (
    Maverick,
    gh_calls,
    git,
    install_gh,
    last_run,
    make_repo,
    outputs,
    settings,
)


def feature_repo(tmp_path: Path, name: str = "repo", yaml: str = "") -> Maverick:
    """A repository on branch ``feature``, two commits ahead of main."""
    repo = make_repo(tmp_path / name, {"src/core.py": "CORE = 1\n"}, yaml or settings())
    mav = Maverick(repo)
    git(repo, "switch", "-q", "-c", "feature")
    for file, text, subject in (
        ("src/core.py", "CORE = 2\n", "Raise the core"),
        ("src/extra.py", "EXTRA = 1\n", "Add the extra module"),
    ):
        (repo / file).write_text(text)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", subject)
    return mav


def test_review_writes_a_report_with_a_recommendation(tmp_path: Path) -> None:
    mav = feature_repo(tmp_path)
    result = mav.run("review", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    out = outputs(result.stdout)
    run_id = last_run(mav)["run_id"]
    assert out == {"report": f".maverick/reviews/{run_id}.md", "recommendation": "approve"}
    report = (mav.repo / out["report"]).read_text()
    assert report.startswith("# Review: feature against main\n")
    assert "- Recommendation: **approve**" in report
    assert "- Commits: 2; files changed: 2" in report
    assert "Raise the core" in report and "Add the extra module" in report
    assert "- M src/core.py" in report and "- A src/extra.py" in report
    assert "reviewer: the change is small and tested." in report
    assert mav.counts("start") == {"reviewer:round-1": 1}


def test_review_killed_during_the_agent_step_resumes_to_the_same_report(tmp_path: Path) -> None:
    baseline = feature_repo(tmp_path, "baseline")
    assert baseline.run("review").returncode == 0
    expected_id = last_run(baseline)["run_id"]
    expected = (baseline.repo / ".maverick" / "reviews" / f"{expected_id}.md").read_text()

    mav = feature_repo(tmp_path, "killed")
    mav.run_killed("review", hang="reviewer:round-1")
    killed_id = last_run(mav)["run_id"]
    assert not (mav.repo / ".maverick" / "reviews").exists()
    resumed = mav.run("review", "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "review report written to" in resumed.stdout

    report = (mav.repo / ".maverick" / "reviews" / f"{killed_id}.md").read_text()
    assert report == expected.replace(expected_id, killed_id)
    assert mav.counts("start") == {"reviewer:round-1": 2}
    assert mav.counts("end") == {"reviewer:round-1": 1}
    assert last_run(mav)["status"] == "completed"


def test_review_of_a_github_pull_request(tmp_path: Path) -> None:
    env = install_gh(tmp_path)
    mav = feature_repo(tmp_path, yaml=settings(provider="github"))
    mav.env.update(env)
    git(mav.repo, "switch", "-q", "main")
    prs = Path(env["GH_STANDIN_DIR"]) / "prs.json"
    prs.write_text(
        json.dumps(
            [
                {
                    "number": 12,
                    "title": "Core changes",
                    "url": "https://github.com/acme/widgets/pull/12",
                    "headRefName": "feature",
                    "baseRefName": "main",
                    "isDraft": False,
                }
            ]
        )
    )
    result = mav.run("review", "--pr-number", "12", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = (mav.repo / outputs(result.stdout)["report"]).read_text()
    assert "- Pull request: #12 Core changes (https://github.com/acme/widgets/pull/12)" in report
    assert "- Commits: 2; files changed: 2" in report
    argvs = [call["argv"] for call in gh_calls(env)]
    assert argvs[0][:3] == ["pr", "view", "12"] and argvs[1] == ["pr", "diff", "12"]


def test_review_finds_the_github_pull_request_of_the_current_branch(tmp_path: Path) -> None:
    env = install_gh(tmp_path)
    mav = feature_repo(tmp_path, yaml=settings(provider="github"))
    mav.env.update(env)
    prs = Path(env["GH_STANDIN_DIR"]) / "prs.json"
    prs.write_text(
        json.dumps(
            [
                {
                    "number": 14,
                    "title": "Core changes",
                    "url": "https://github.com/acme/widgets/pull/14",
                    "headRefName": "feature",
                    "baseRefName": "main",
                    "isDraft": False,
                }
            ]
        )
    )
    result = mav.run("review", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reviewing pull request #14 of branch feature" in result.stdout
    report = (mav.repo / outputs(result.stdout)["report"]).read_text()
    assert "- Pull request: #14 Core changes (https://github.com/acme/widgets/pull/14)" in report
    argvs = [call["argv"] for call in gh_calls(env)]
    assert argvs[0][:2] == ["pr", "view"] and argvs[0][2].startswith("--json=number,")
    assert ["pr", "diff", "14"] in argvs


def test_review_without_a_pull_request_reviews_the_branch(tmp_path: Path) -> None:
    env = install_gh(tmp_path)
    mav = feature_repo(tmp_path, yaml=settings(provider="github"))
    mav.env.update(env)
    result = mav.run("review", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = (mav.repo / outputs(result.stdout)["report"]).read_text()
    assert "Pull request:" not in report and "- Commits: 2; files changed: 2" in report
    assert [call["argv"][:2] for call in gh_calls(env)] == [["pr", "view"]]


def test_review_finds_the_local_pull_request_of_the_current_branch(tmp_path: Path) -> None:
    mav = feature_repo(tmp_path)
    pr = mav.repo / ".maverick" / "prs" / "feature.md"
    pr.parent.mkdir(parents=True)
    pr.write_text(
        "---\nnumber: 3\ntitle: Local change\nhead: feature\nbase: main\nstate: open\n---\nBody\n"
    )
    result = mav.run("review", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reviewing pull request #3 of branch feature" in result.stdout
    report = (mav.repo / outputs(result.stdout)["report"]).read_text()
    assert "- Pull request: #3 Local change (.maverick/prs/feature.md)" in report
    assert "- Commits: 2; files changed: 2" in report
