"""Python actions of the built-in workflows (fly, refuel, review).

The YAML files say *what* happens and where the checkpoints are; these actions do
the parts that are easier to read in Python: parsing the tasks file, committing a
phase, gathering a change for review, writing the review report, building pull
request text and refuel's summary. Git runs through :mod:`~maverick_core.devflow.gitops`
(argument lists, messages on stdin); text from issues, diffs and agents is only
ever data here.

Every action that changes something is safe to run twice: a resumed run repeats
the steps after its last checkpoint, and may repeat one that had finished just
before the interruption.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from maverick_core.api import StepFailed, state_dir
from maverick_core.devflow import gitops, tasks, writer
from maverick_core.devflow.agents import check_roles, resolve_role
from maverick_core.devflow.providers import provider_for, provider_name
from maverick_core.devflow.review import drop_excluded, excluded, findings_of, recommendation_of

if TYPE_CHECKING:
    from pathlib import Path

# ----------------------------------------------------------------------------- tasks


def parse_tasks(ctx: Any, branch_name: str, task_file: str | None = None) -> dict[str, Any]:
    """Action ``tasks.parse``: find and parse the tasks file.

    :returns: ``{path, title, phases, pending, total_tasks, done_tasks}``; ``pending``
        holds the phases with unchecked tasks (the ones fly implements).
    """
    root: Path = ctx.config.root
    path = tasks.resolve_task_file(root, task_file, branch_name)
    relative = str(path.relative_to(root))
    parsed = tasks.parse_tasks(path.read_text(encoding="utf-8"), relative)
    plain = parsed.to_plain(relative)
    if parsed.implicit:
        ctx.notice(
            f"{relative} has no '## Phase N: Title' headings: its "
            f"{plain['total_tasks']} task(s) are one implicit phase 1"
        )
    for phase in (*plain["phases"], *plain["pending"]):
        phase["commit_message"] = phase_message(phase)
    return plain


def mark_tasks_done(ctx: Any, path: str, task_ids: list[str]) -> dict[str, Any]:
    """Action ``tasks.mark_done``: check the phase's tasks in the tasks file (of the work tree)."""
    file = gitops.work_root(ctx) / path
    text = file.read_text(encoding="utf-8")
    updated = tasks.mark_done(text, list(task_ids))
    if updated != text:
        file.write_text(updated, encoding="utf-8")
    return {"path": path, "changed": updated != text, "task_ids": list(task_ids)}


# ----------------------------------------------------------------------------- agents


def require_agents(ctx: Any, roles: list[str]) -> dict[str, Any]:
    """Action ``agents.require``: fail before any work unless every role is served.

    ``reviewer`` stands for the reviewers ``review.reviewers`` names (by default the
    one ``reviewer`` role), so a project reviewing with ``spec_reviewer`` and
    ``technical_reviewer`` needs no ``reviewer`` entry.
    """
    if isinstance(roles, list) and "reviewer" in roles:
        section = ctx.config.settings.get("review")
        entries = section.get("reviewers") if isinstance(section, dict) else None
        if isinstance(entries, list) and entries:
            named = [e if isinstance(e, str) else (e or {}).get("role") for e in entries]
            expanded = [r for r in named if isinstance(r, str)]
            index = roles.index("reviewer")
            roles = roles[:index] + expanded + roles[index + 1 :]
    return check_roles(ctx, list(dict.fromkeys(roles)))


# ----------------------------------------------------------------------------- commits


def phase_message(phase: dict[str, Any]) -> str:
    """The deterministic commit message of a phase: its number, title and tasks."""
    lines = [f"Phase {phase['number']}: {phase['title']}", ""]
    lines += [f"- {task['id']} {task['text']}".rstrip() for task in phase["tasks"]]
    return "\n".join(lines)


def commit_changes(
    ctx: Any,
    message: str,
    marker: str,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Action ``devflow.commit``: commit everything; idempotent through ``marker``.

    The message is ``message`` unless a writer agent is configured (``agents.writer``,
    its alias ``agents.commit_message``, or ``agents.default``): then that agent
    writes it from the staged diff, ``message`` being the fallback. The ``marker``
    trailer is always appended.
    """
    if not isinstance(message, str) or not message.strip():
        raise StepFailed("commit message must be non-empty text")
    git = gitops.Git.of(ctx)

    def write_message() -> str:
        if writer.resolve_writer(ctx.config) is None:
            return message
        diff = git.run("diff", "--cached", "--no-color", "--stat", "--patch").stdout
        return writer.commit_message(ctx, message, dict(context or {}), diff)

    return gitops.commit_all(git, write_message, marker)


# ----------------------------------------------------------------------------- review


def gather_changes(
    ctx: Any,
    base_branch: str,
    pr_number: int | None = None,
    find_pull_request: bool = False,
    exclude: list[str] | None = None,
) -> dict[str, Any]:
    """Action ``review.gather``: diff, changed files and commits to review.

    Without ``pr_number``: the current branch against ``base_branch``. With it: that
    pull request, from the provider (``gh pr diff`` for github) or, for local pull
    requests, from git between its base and head branches.

    :param find_pull_request: without ``pr_number``, review the open pull request of
        the current branch when the provider has one (``maverick review``).
    :param exclude: ``review.exclude`` globs: those files are left out of the diff
        and the file list (the report names them).
    :returns: ``{base, head, diff, truncated, files, commits, pull_request, fixable,
        excluded, commits_text, files_text}``; ``fixable`` when the reviewed head is
        the checked-out branch (a fixer's commit lands on it).
    """
    git = gitops.Git.of(ctx)
    git.require_repository()
    pull_request = None
    if pr_number is None and find_pull_request and git.current_branch():
        found = _pull_request_of_branch(ctx, git.current_branch())
        if found is not None:
            ctx.notice(
                f"reviewing pull request #{found.number} of branch {found.head}: {found.url}"
            )
            pr_number = found.number
    if pr_number is not None:
        pull_request = provider_for(ctx).pull_request_changes(int(pr_number))
        if pull_request.get("diff") is not None:
            return _with_text(
                ctx,
                {
                    "base": pull_request["base"],
                    "head": pull_request["head"],
                    "diff": str(pull_request["diff"]),
                    "files": pull_request.get("files") or [],
                    "commits": pull_request.get("commits") or [],
                    "pull_request": _pr_summary(pull_request),
                    "fixable": pull_request["head"] == git.current_branch(),
                },
                exclude or [],
            )
        base, head = (
            gitops.resolve_branch(git, pull_request["base"]),
            gitops.resolve_branch(git, pull_request["head"]),
        )
    else:
        base, head = gitops.resolve_branch(git, base_branch), "HEAD"
    found = gitops.changes(git, base, head, max_chars=None)
    found["base"] = pull_request["base"] if pull_request else base_branch
    found["head"] = pull_request["head"] if pull_request else (git.current_branch() or "HEAD")
    found["pull_request"] = _pr_summary(pull_request) if pull_request else None
    found["fixable"] = bool(git.current_branch()) and found["head"] == git.current_branch()
    return _with_text(ctx, found, exclude or [])


def _pull_request_of_branch(ctx: Any, branch: str) -> Any:
    provider = provider_for(ctx)
    lookup = getattr(provider, "pull_request_of_branch", None)
    return lookup(branch) if lookup is not None else provider.find_pull_request(branch)


def _with_text(ctx: Any, found: dict[str, Any], exclude: list[str]) -> dict[str, Any]:
    """Leave out excluded files, cut the diff, add the commit and file lists as text."""
    found["excluded"] = [f["path"] for f in found["files"] if excluded(f["path"], exclude)]
    found["files"] = [f for f in found["files"] if f["path"] not in found["excluded"]]
    diff = drop_excluded(found["diff"], exclude)
    found["diff"] = diff[: gitops.MAX_DIFF_CHARS]
    found["truncated"] = len(diff) > gitops.MAX_DIFF_CHARS
    found["commits_text"] = (
        "\n".join(f"- {c['sha'][:10]} {c['subject']}" for c in found["commits"]) or "(none)"
    )
    found["files_text"] = (
        "\n".join(f"- {f['status']} {f['path']}" for f in found["files"]) or "(none)"
    )
    if not found["commits"]:
        ctx.notice(f"nothing to review: {found['head']} has no commits on top of {found['base']}")
    return found


def _pr_summary(pr: dict[str, Any]) -> dict[str, Any]:
    keys = ("provider", "number", "title", "url", "head", "base")
    return {key: pr.get(key) for key in keys}


def _legacy_verdict(review: dict[str, Any]) -> dict[str, Any]:
    """A single reviewer agent's output (a run of an earlier release) as a verdict."""
    answer = str(review.get("answer", ""))
    recommendation = recommendation_of(answer)
    name = str(review.get("role", "reviewer"))
    return {
        "round": 1,
        "recommendation": recommendation,
        "findings": findings_of(answer),
        "reviewers": [
            {"name": name, "role": name, "recommendation": recommendation, "answer": answer}
        ],
    }


def _round_lines(item: dict[str, Any]) -> list[str]:
    verdict = item.get("verdict") or {}
    lines = ["", f"## Round {verdict.get('round', '?')}: {verdict.get('recommendation')}"]
    for reviewer in verdict.get("reviewers") or []:
        lines += [
            "",
            f"### {reviewer['name']} ({reviewer['recommendation']})",
            "",
            str(reviewer.get("answer") or "").strip() or "(empty)",
        ]
    fix = item.get("fix")
    if fix:
        commit = ((item.get("commit") or {}).get("commit")) or {}
        validation = (item.get("commit") or {}).get("validation")
        done = (
            f"committed {str(commit.get('sha'))[:10]} {commit.get('subject')}"
            if commit.get("committed")
            else "nothing to commit"
        )
        lines += [
            "",
            "### Fixed",
            "",
            f"- {done}; validation {_validation_line(validation)}",
            "",
            str(fix.get("answer") or "").strip() or "(the fixer said nothing)",
        ]
    elif item.get("unfixed_reason"):
        lines += ["", f"Not fixed: {item['unfixed_reason']}"]
    return lines


def review_report(
    ctx: Any,
    review: dict[str, Any],
    changes: dict[str, Any],
    title: str = "",
    rounds: list[Any] | None = None,
) -> dict[str, Any]:
    """Action ``review.report``: write ``.maverick/reviews/<run_id>.md`` and print it.

    :param review: the last round's verdict (``review.combine``'s output).
    :param changes: ``review.gather``'s output for the last round.
    :param rounds: every round: ``{verdict, fix, commit, unfixed_reason}``.
    :returns: ``{path, recommendation, rounds, fixed_rounds, commits, files}``.
    """
    verdict = review if "reviewers" in review else _legacy_verdict(review)
    rounds = [r for r in rounds or [] if r] or [{"verdict": verdict}]
    recommendation = str(verdict.get("recommendation"))
    run_id = ctx.run.run_id
    fixed = sum(1 for r in rounds if r.get("fix"))
    lines = [
        f"# Review: {title or changes.get('head')} against {changes.get('base')}",
        "",
        f"- Run: {run_id}",
        f"- Recommendation: **{recommendation}**",
        f"- Rounds: {len(rounds)}; fixed after {fixed} of them",
        f"- Commits: {len(changes.get('commits') or [])}; "
        f"files changed: {len(changes.get('files') or [])}",
    ]
    pr = changes.get("pull_request")
    if pr:
        lines.append(f"- Pull request: #{pr.get('number')} {pr.get('title')} ({pr.get('url')})")
    if changes.get("truncated"):
        lines.append("- Note: the diff was too long and was cut for the reviewer")
    if changes.get("excluded"):
        lines.append(f"- Not shown to the reviewers: {', '.join(changes['excluded'])}")
    lines += ["", "## Commits", ""]
    lines += [changes.get("commits_text") or "(none)"]
    lines += ["", "## Changed files", ""]
    lines += [changes.get("files_text") or "(none)"]
    for item in rounds:
        lines += _round_lines(item)
    text = "\n".join(lines) + "\n"
    directory = state_dir(ctx.config.root, "reviews")
    path = directory / f"{run_id}.md"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    relative = str(path.relative_to(ctx.config.root))
    ctx.notice(f"review report written to {relative}:\n{text.rstrip()}")
    return {
        "path": relative,
        "recommendation": recommendation,
        "rounds": len(rounds),
        "fixed_rounds": fixed,
        "commits": len(changes.get("commits") or []),
        "files": len(changes.get("files") or []),
    }


# ----------------------------------------------------------------------------- fly


def fly_plan(
    ctx: Any,
    tasks_data: dict[str, Any],
    branch_name: str,
    base_branch: str,
    work_tree: dict[str, Any],
    skip_review: bool,
    skip_pr: bool,
    draft_pr: bool,
) -> dict[str, Any]:
    """Action ``fly.plan``: what ``fly`` would do (``dry_run``); changes nothing."""
    lines = [
        f"fly plan (dry run, nothing is changed): {tasks_data['path']}"
        + (f" - {tasks_data['title']}" if tasks_data.get("title") else ""),
        f"  branch {branch_name} from {base_branch}",
    ]
    if not work_tree.get("clean", True):
        lines.append(
            f"  WARNING: {len(work_tree['changes'])} uncommitted change(s): a real run refuses"
        )
    for phase in tasks_data["phases"]:
        state = "done, skipped" if phase["done"] else "implement, validate, commit"
        lines.append(f"  phase {phase['number']}: {phase['title']} ({state})")
        lines += [f"      {line}" for line in phase["text"].splitlines()]
    lines.append("  final validation, push to origin (when it exists)")
    lines.append("  review: " + ("skipped" if skip_review else "reviewer agent"))
    provider = provider_name(ctx.config)
    pr = "skipped" if skip_pr else f"{'draft ' if draft_pr else ''}via the {provider} provider"
    lines.append(f"  pull request: {pr}")
    missing = [
        role
        for role in ["implementer", *([] if skip_review else ["reviewer"])]
        if resolve_role(ctx.config, role) is None
    ]
    if missing:
        lines.append(f"  WARNING: no agent configured for: {', '.join(missing)}")
    text = "\n".join(lines)
    ctx.notice(text)
    return {"plan": text, "phases": len(tasks_data["pending"])}


def _validation_line(validation: dict[str, Any] | None) -> str:
    if not validation:
        return "not run"
    attempts = validation.get("attempts") or []
    stages = ", ".join(validation.get("stages") or []) or "no stages configured"
    fixes = validation.get("fixes", 0)
    verdict = "passed" if validation.get("passed") else "failed"
    extra = f" after {fixes} fix(es)" if fixes else ""
    return f"{verdict}{extra} ({stages}; {len(attempts)} attempt(s))"


def fly_pull_request(
    ctx: Any,
    tasks_data: dict[str, Any],
    branch_name: str,
    phases: list[Any] | None,
    validation: dict[str, Any] | None,
    review: dict[str, Any] | None,
    rounds: list[Any] | None = None,
) -> dict[str, Any]:
    """Action ``fly.pull_request_text``: the pull request's title and body."""
    title = tasks_data.get("title") or branch_name
    lines = [
        f"Implements `{tasks_data['path']}` phase by phase (maverick fly).",
        "",
        "## Phases",
        "",
    ]
    for iteration in phases or []:
        outputs = (iteration or {}).get("commit") or {}
        commit = (outputs.get("commit") or {}) if isinstance(outputs, dict) else {}
        phase_validation = (outputs.get("validation") or {}) if isinstance(outputs, dict) else {}
        subject = commit.get("subject") or "(no changes)"
        lines.append(f"- {subject} - validation {_validation_line(phase_validation)}")
    lines += ["", "## Final validation", "", _validation_line(validation)]
    if review:
        lines += ["", "## Review", "", f"Recommendation: **{review.get('recommendation')}**"]
        for item in rounds or []:
            verdict = (item or {}).get("verdict") or {}
            who = ", ".join(
                f"{r['name']}: {r['recommendation']}" for r in verdict.get("reviewers") or []
            )
            commit = (((item or {}).get("commit") or {}).get("commit")) or {}
            fixed = f"; fixed in {str(commit.get('sha'))[:10]}" if commit.get("committed") else ""
            findings = len(verdict.get("findings") or [])
            lines.append(
                f"- Round {verdict.get('round')}: {verdict.get('recommendation')} ({who}; "
                f"{findings} finding(s){fixed})"
            )
    return {"title": title, "body": "\n".join(lines) + "\n"}


# ----------------------------------------------------------------------------- refuel


def refuel_plan(
    ctx: Any, listing: dict[str, Any], label: str, base_branch: str, parallel: int = 1
) -> dict[str, Any]:
    """Action ``refuel.plan``: the issues refuel would fix (``dry_run``)."""
    how = (
        f"{parallel} at a time, each in its own worktree under .maverick/worktrees/"
        if parallel > 1
        else "one at a time in the work tree"
    )
    lines = [
        f"refuel plan (dry run, nothing is changed): label '{label}', "
        f"provider {listing['provider']}, base {base_branch}, {how}"
    ]
    for issue in listing["issues"]:
        lines.append(f"  #{issue['number']} {issue['title']} -> branch fix/issue-{issue['number']}")
    if not listing["issues"]:
        lines.append("  no open issues with that label")
    text = "\n".join(lines)
    ctx.notice(text)
    return {"plan": text, "issues": len(listing["issues"])}


def finish_issue(
    ctx: Any, issue: dict[str, Any], outcome: dict[str, Any], base_branch: str
) -> dict[str, Any]:
    """Action ``refuel.finish_issue``: record one issue's result and tidy up after it.

    A failed issue's uncommitted work is committed on its branch (never pushed) so
    nothing is lost. One at a time (no worktree), the work tree goes back to the
    base branch for the next issue. In a worktree (``--parallel``), a fixed issue's
    worktree is removed and a failed one's is kept for a person to look at.
    """
    branch = f"fix/issue-{issue['number']}"
    ok = bool(outcome.get("ok"))
    outputs = outcome.get("outputs") or {}
    worktree = outputs.get("worktree") if isinstance(outputs.get("worktree"), dict) else None
    main = gitops.Git(ctx.config.root, ctx.processes)
    git = gitops.Git(ctx.config.root / worktree["path"], ctx.processes) if worktree else main
    kept = None
    if not ok and git.root.is_dir() and git.current_branch() == branch and git.status():
        kept = gitops.commit_all(
            git,
            f"WIP: fix #{issue['number']} (unfinished: maverick refuel failed)",
            f"Maverick-Issue: {issue['number']}",
        )
    kept_worktree = None
    if worktree is not None:
        if ok:
            gitops.remove_worktree(main, worktree["path"])
        elif git.root.is_dir():
            kept_worktree = worktree["path"]
    else:
        git.check_branch_name(base_branch)
        if git.current_branch() != base_branch:
            git.run("switch", "--quiet", base_branch)
    pr = outputs.get("pull_request") or {}
    return {
        "number": issue["number"],
        "title": issue["title"],
        "status": "fixed" if ok else "failed",
        "branch": branch,
        "pull_request": pr.get("url"),
        "error": None if ok else (str(outcome.get("error") or "").splitlines() or ["failed"])[0],
        "kept_commit": kept.get("sha") if kept else None,
        "kept_worktree": kept_worktree,
    }


def refuel_summary(
    ctx: Any, results: list[Any] | None, skipped: list[Any], label: str
) -> dict[str, Any]:
    """Action ``refuel.summary``: print the table of issues and their results."""
    rows: list[dict[str, Any]] = [
        iteration["finish"] for iteration in results or [] if iteration and iteration.get("finish")
    ]
    lines = [f"refuel summary (label '{label}'):"]
    lines.append(f"  {'issue':<7} {'status':<8} {'branch':<18} pull request / error")
    for row in rows:
        detail = row["pull_request"] if row["status"] == "fixed" else row["error"]
        lines.append(f"  #{row['number']:<6} {row['status']:<8} {row['branch']:<18} {detail}")
    for item in skipped or []:
        lines.append(f"  #{item['number']:<6} {'skipped':<8} {'':<18} an open pull request exists")
    if not rows and not skipped:
        lines.append("  no open issues with that label")
    fixed = sum(1 for row in rows if row["status"] == "fixed")
    failed = [row["number"] for row in rows if row["status"] == "failed"]
    lines.append(f"  {fixed} fixed, {len(failed)} failed, {len(skipped or [])} skipped")
    kept = [row for row in rows if row.get("kept_worktree")]
    for row in kept:
        lines.append(
            f"  kept worktree of #{row['number']}: {row['kept_worktree']} ({row['branch']}); "
            f"remove it with: git worktree remove --force {row['kept_worktree']}"
        )
    ctx.notice("\n".join(lines))
    return {
        "rows": rows,
        "fixed": fixed,
        "failed": failed,
        "skipped": len(skipped or []),
        "kept_worktrees": [row["kept_worktree"] for row in kept],
    }


def require_all_fixed(summary: dict[str, Any]) -> dict[str, Any]:
    """Action ``refuel.require_all_fixed``: fail the run (exit 1) when an issue failed."""
    failed = summary.get("failed") or []
    if failed:
        numbers = ", ".join(f"#{n}" for n in failed)
        raise StepFailed(
            f"{len(failed)} issue(s) could not be fixed: {numbers} (see the summary above; "
            "their work is kept on their fix/issue-N branches)"
        )
    return {"failed": 0}
