"""Built-in plugin ``devflow``: the python actions fly, refuel and review call.

Implemented in :mod:`maverick_core.devflow.actions` and
:mod:`maverick_core.devflow.gitops` (imported when needed).
"""

from __future__ import annotations

from collections.abc import Callable

from maverick_core import hookimpl


@hookimpl
def register_actions(register: Callable[..., None]) -> None:
    """Register git.*, devflow.commit, tasks.*, review.*, fly.* and refuel.* actions."""
    from maverick_core.devflow import actions, gitops

    register("git.require_clean", gitops.require_clean)
    register("git.switch_branch", gitops.switch_branch)
    register("git.checkout", gitops.checkout)
    register("git.push", gitops.push)
    register("devflow.commit", actions.commit_changes)
    register("tasks.parse", actions.parse_tasks)
    register("tasks.mark_done", actions.mark_tasks_done)
    register("review.gather", actions.gather_changes)
    register("review.report", actions.review_report)
    register("fly.plan", actions.fly_plan)
    register("fly.pull_request_text", actions.fly_pull_request)
    register("refuel.plan", actions.refuel_plan)
    register("refuel.finish_issue", actions.finish_issue)
    register("refuel.summary", actions.refuel_summary)
    register("refuel.require_all_fixed", actions.require_all_fixed)
