"""``maverick refuel``: one branch, commit, push and PR per issue; failures recorded; resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from tests.e2e.fixtures.support import (
    Maverick,
    end_state,
    gh_calls,
    git,
    history,
    install_gh,
    make_repo,
    outputs,
    settings,
)

if TYPE_CHECKING:
    import pytest

BRANCHES = [f"fix/issue-{n}" for n in (1, 2, 3, 4)]


def issue(number: int, title: str, body: str = "It is wrong.", label: str = "tech-debt") -> str:
    return f"---\nnumber: {number}\ntitle: {json.dumps(title)}\nlabels: [{label}]\n---\n{body}\n"


ISSUES = {
    ".maverick/issues/1.md": issue(1, "Tidy the first module"),
    ".maverick/issues/2.md": issue(2, "Tidy the second module"),
    ".maverick/issues/3.md": issue(3, "Tidy the third module"),
    ".maverick/issues/4.md": issue(4, "Cannot be fixed", "BROKEN UNFIXABLE"),
    ".maverick/issues/5.md": issue(5, "A feature request", label="feature"),
}


def refuel_repo(tmp_path: Path, name: str = "repo") -> Maverick:
    return Maverick(make_repo(tmp_path / name, ISSUES, settings()))


def test_refuel_fixes_each_issue_on_its_own_branch_and_records_a_failing_one(
    tmp_path: Path,
) -> None:
    mav = refuel_repo(tmp_path)
    result = mav.run("refuel", "--max-fix-attempts", "1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "#1      fixed    fix/issue-1        .maverick/prs/fix/issue-1.md" in result.stdout
    assert "#4      failed   fix/issue-4        " in result.stdout
    assert "3 fixed, 1 failed, 0 skipped" in result.stdout
    assert "1 issue(s) could not be fixed: #4" in result.stdout

    state = end_state(mav.repo, BRANCHES)
    assert state["current"] == "main" and state["status"] == ""
    assert state["origin"] == ["fix/issue-1", "fix/issue-2", "fix/issue-3", "main"]
    assert [s for s, _ in state["history"]["fix/issue-2"]] == ["Fix #2: Tidy the second module"]
    assert git(mav.repo, "show", "fix/issue-2:src/issue_2.py") == "ISSUE = 2"
    assert "src/issue_1.py" not in git(mav.repo, "ls-tree", "-r", "--name-only", "fix/issue-2")
    # the failed attempt's work is kept on its branch, not pushed, no pull request
    assert [s for s, _ in state["history"]["fix/issue-4"]] == [
        "WIP: fix #4 (unfinished: maverick refuel failed)"
    ]
    assert sorted(state["prs"]) == ["fix/issue-1.md", "fix/issue-2.md", "fix/issue-3.md"]
    pr = state["prs"]["fix/issue-3.md"]
    assert "title: 'Fix #3: Tidy the third module'" in pr and "Fixes #3" in pr
    assert "wrote issue_3.py" in pr
    assert mav.counts("start") == {
        "issue_fixer:issue-1": 1,
        "issue_fixer:issue-2": 1,
        "issue_fixer:issue-3": 1,
        "issue_fixer:issue-4": 1,
        "fixer:fix-compile": 1,  # --max-fix-attempts 1: one try at issue 4, in vain
    }


def test_refuel_killed_during_issue_3_resumes_to_the_same_end_state(tmp_path: Path) -> None:
    baseline = refuel_repo(tmp_path, "baseline")
    assert baseline.run("refuel", "--max-fix-attempts", "1").returncode == 1

    mav = refuel_repo(tmp_path, "killed")
    mav.run_killed("refuel", "--max-fix-attempts", "1", hang="issue_fixer:issue-3")
    explained = mav.run("refuel", "--resume", "--explain")
    assert "resumes after checkpoint 'issue_2_done'" in explained.stdout
    resumed = mav.run("refuel", "--resume")
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    assert "3 fixed, 1 failed, 0 skipped" in resumed.stdout

    assert end_state(mav.repo, BRANCHES) == end_state(baseline.repo, BRANCHES)
    finished = mav.counts("end")
    assert all(count == 1 for count in finished.values()), finished
    assert mav.counts("start") == {
        "issue_fixer:issue-1": 1,
        "issue_fixer:issue-2": 1,
        "issue_fixer:issue-3": 2,  # killed while running, then asked again
        "issue_fixer:issue-4": 1,
        "fixer:fix-compile": 1,
    }


def test_refuel_uses_github_when_gh_is_installed_and_origin_is_on_github(
    tmp_path: Path,
) -> None:
    untrusted = 'Quote "$(touch pwned)"; rm -rf ~ `id`'
    env = install_gh(
        tmp_path,
        [
            {
                "number": 7,
                "title": untrusted,
                "body": "Body with $(touch pwned2) in it.",
                "labels": [{"name": "tech-debt"}],
                "url": "https://github.com/acme/widgets/issues/7",
            },
            {
                "number": 8,
                "title": "Not ours",
                "body": "",
                "labels": [{"name": "feature"}],
                "url": "https://github.com/acme/widgets/issues/8",
            },
        ],
    )
    repo = make_repo(tmp_path / "repo", {}, settings(provider=None))
    origin = str(repo.parent / "origin.git")
    git(repo, "remote", "set-url", "origin", "https://github.com/acme/widgets.git")
    git(repo, "remote", "set-url", "--push", "origin", origin)
    mav = Maverick(repo, env)

    result = mav.run("refuel", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = outputs(result.stdout)["issues"]
    assert [(r["number"], r["status"]) for r in rows] == [(7, "fixed")]
    assert rows[0]["pull_request"] == "https://github.com/acme/widgets/pull/100"

    calls = gh_calls(env)
    assert calls[0]["argv"] == ["auth", "status"]  # the preflight
    calls = calls[1:]
    argvs = [call["argv"] for call in calls]
    assert argvs[0][:2] == ["issue", "list"] and "--label=tech-debt" in argvs[0]
    assert argvs[1][:4] == ["pr", "list", "--state=open", "--head=fix/issue-7"]
    create = [c for c in calls if c["argv"][0] == "api"]
    assert create[0]["argv"] == ["api", "--method=POST", "repos/{owner}/{repo}/pulls", "--input=-"]
    sent = json.loads(create[0]["stdin"])
    assert sent["title"] == f"Fix #7: {untrusted}" and sent["head"] == "fix/issue-7"
    assert "Fixes #7" in sent["body"] and sent["base"] == "main"
    # untrusted text only ever travelled on stdin
    assert not any(untrusted in arg or "pwned" in arg for argv in argvs for arg in argv)
    assert not list(tmp_path.rglob("pwned*"))
    assert [s for s, _ in history(repo, "fix/issue-7")] == [f"Fix #7: {untrusted}"]
    assert git(Path(origin), "rev-parse", "fix/issue-7") == git(repo, "rev-parse", "fix/issue-7")


def test_refuel_dry_run_lists_the_issues_and_changes_nothing(tmp_path: Path) -> None:
    mav = refuel_repo(tmp_path)
    result = mav.run("refuel", "--dry-run", "--limit", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "refuel plan (dry run, nothing is changed): label 'tech-debt'" in result.stdout
    assert "#1 Tidy the first module -> branch fix/issue-1" in result.stdout
    assert "#3" not in result.stdout
    assert git(mav.repo, "branch", "--format=%(refname:short)") == "main"
    assert mav.events() == []


def test_the_provider_is_local_unless_gh_is_installed_and_origin_is_on_github(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from maverick_core.devflow.providers import provider_name
    from maverick_core.engine.config import make_config
    from maverick_core.engine.pluginmanager import make_plugin_manager

    repo = make_repo(tmp_path / "repo", {}, "project: p\n")
    pm = make_plugin_manager(blocked=("terminal",), autoload=False)
    monkeypatch.setenv("PATH", install_gh(tmp_path)["PATH"])
    assert provider_name(make_config(pm, repo)) == "local"  # origin is a local path
    git(repo, "remote", "set-url", "origin", "git@github.com:acme/widgets.git")
    assert provider_name(make_config(pm, repo)) == "github"
    (repo / "maverick.yaml").write_text("provider: local\n")
    assert provider_name(make_config(pm, repo)) == "local"
    (repo / "maverick.yaml").write_text("project: p\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert provider_name(make_config(pm, repo)) == "local"  # no gh installed
