"""Built-in plugin ``devflow``: the developer workflows fly, refuel and review.

Everything those workflows are made of lives in this package and is registered
here, through the same hooks a third-party plugin uses; the implementation
modules import only :mod:`maverick_core.api` and are loaded inside the hook
bodies, so starting the CLI imports none of them:

- :mod:`.agents`: the ``agent`` step type, the ``command`` backend, roles, prompt templates;
- :mod:`.presets`: the ``claude``, ``codex``, ``gemini`` and ``aider`` backends;
- :mod:`.ledger`: what agent calls cost, in-flight sessions, the budget;
- :mod:`.validation`: the ``validate`` step type;
- :mod:`.gitops`: git through argument lists; :mod:`.tasks`: the tasks file;
- :mod:`.providers`: issue and pull-request providers (``github``, ``local``);
- :mod:`.review`: reviewers, review rounds and their verdicts;
- :mod:`.actions`: the python actions the workflows call;
- :mod:`.init`, :mod:`.doctor`: ``maverick init`` and ``maverick doctor`` (the
  preflight of fly and refuel);
- :mod:`.commands`: ``maverick fly``, ``refuel``, ``review``, ``init`` and ``doctor``.

The workflows themselves (``fly.yaml``, ``refuel.yaml``, ``review.yaml``) and their
prompt templates are data in ``maverick_core/library/``; this plugin registers that
directory as the ``built-in`` workflow source.
"""

from __future__ import annotations

import functools
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maverick_core import hookimpl

if TYPE_CHECKING:
    from collections.abc import Generator
    from types import ModuleType

    import click

    from maverick_core.api import (
        AddSettings,
        Config,
        RegisterAction,
        RegisterAgent,
        RegisterProvider,
        RegisterStepType,
        RegisterWorkflowSource,
        Run,
        RunState,
        Step,
        StepContext,
    )

LIBRARY = Path(__file__).resolve().parent.parent / "library" / "workflows"

WORKFLOW_COMMANDS: dict[str, str] = {
    "fly": "Implement a tasks file phase by phase on a branch (the fly workflow).",
    "refuel": "Fix open issues with a label, one branch and pull request each (refuel).",
    "review": "Review the current branch or a pull request with the reviewer agent (review).",
}
"""The workflow commands and their one-line summaries (``maverick --help``)."""


@hookimpl
def register_step_types(register: RegisterStepType) -> None:
    """Register the ``agent`` and ``validate`` step types (each loads when a workflow uses it)."""
    from maverick_core.api import LazyStepType

    register(LazyStepType("agent", "maverick_core.devflow.agents:AgentStepType"))
    register(LazyStepType("validate", "maverick_core.devflow.validation:ValidateStepType"))


@hookimpl
def register_agents(register: RegisterAgent) -> None:
    """Register ``command`` (prompt on stdin, answer on stdout) and the CLI presets."""
    from maverick_core.devflow.agents import CommandAgent
    from maverick_core.devflow.presets import PRESETS

    register("command", CommandAgent)
    for preset in PRESETS:
        register(preset.name, preset)


@hookimpl(wrapper=True)
def run_step(run: Run, step: Step, path: str, ctx: StepContext) -> Generator[None, Any, Any]:
    """Stop the run at the first step boundary once its agents spent past the budget."""
    _ledger().stop_past_budget(ctx)
    return (yield)


@functools.cache
def _ledger() -> ModuleType:
    """The ledger module, imported on the first step: every step calls this, and a
    cached call costs less than an import statement (about 0.5 µs)."""
    from maverick_core.devflow import ledger

    return ledger


@hookimpl
def on_resume(run: Run, state: RunState) -> None:
    """Say how many agent calls the restored steps saved, and what they cost."""
    from maverick_core.api import elapsed, money
    from maverick_core.devflow import ledger

    count, cost, seconds = ledger.restored_calls(run, state)
    if count:
        saved = f"{money(cost)}, " if cost is not None else ""
        run.config.pm.hook.on_notice(
            run=run,
            message=(
                f"restored {count} agent call{'s' if count != 1 else ''} from checkpoint "
                f"{run.resumed_from} (saved {saved}{elapsed(seconds)})"
            ),
        )


@hookimpl
def register_providers(register: RegisterProvider) -> None:
    """Register the ``github`` and ``local`` providers."""
    from maverick_core.devflow.providers import GitHubProvider, LocalProvider

    register("github", GitHubProvider)
    register("local", LocalProvider)


@hookimpl
def register_actions(register: RegisterAction) -> None:
    """Register the python actions fly, refuel and review call."""
    from maverick_core.devflow import actions, gitops, providers, review

    register("agents.require", actions.require_agents)
    register("git.require_clean", gitops.require_clean)
    register("git.switch_branch", gitops.switch_branch)
    register("git.checkout", gitops.checkout)
    register("git.push", gitops.push)
    register("git.worktree", gitops.add_worktree)
    register("git.remove_worktree", gitops.finish_worktree)
    register("devflow.commit", actions.commit_changes)
    register("tasks.parse", actions.parse_tasks)
    register("tasks.mark_done", actions.mark_tasks_done)
    register("review.gather", actions.gather_changes)
    register("review.report", actions.review_report)
    register("review.settings", review.review_settings)
    register("review.combine", review.combine_reviews)
    register("review.plan_fix", review.plan_fix)
    register("fly.plan", actions.fly_plan)
    register("fly.pull_request_text", actions.fly_pull_request)
    register("refuel.plan", actions.refuel_plan)
    register("refuel.finish_issue", actions.finish_issue)
    register("refuel.summary", actions.refuel_summary)
    register("refuel.require_all_fixed", actions.require_all_fixed)
    register("provider.list_issues", providers.list_issues)
    register("provider.open_pull_request", providers.open_pull_request)
    register("provider.describe", providers.describe)


@hookimpl
def register_workflow_sources(register: RegisterWorkflowSource, config: Config) -> None:
    """The built-in library: fly, refuel, review (precedence 40: anything overrides it)."""
    register("built-in", LIBRARY, 40)


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``maverick fly``, ``refuel``, ``review``, ``init`` and ``doctor``.

    Each loads :mod:`.commands` (and a workflow command its workflow) only when it runs.
    """
    from maverick_core.api import LazyCommand

    for name, summary in WORKFLOW_COMMANDS.items():
        cli.add_command(LazyCommand(name, summary, partial(_workflow_command, name, summary)))
    cli.add_command(
        LazyCommand(
            "init",
            "Write a commented maverick.yaml for this project (validation, agents, provider).",
            "maverick_core.devflow.commands:init_command",
        )
    )
    cli.add_command(
        LazyCommand(
            "doctor",
            "Check the setup before a long run; each check ok or FAIL with how to fix it.",
            "maverick_core.devflow.commands:doctor_command",
        )
    )


def _workflow_command(name: str, summary: str) -> click.Command:
    from maverick_core.devflow.commands import WorkflowCommand

    return WorkflowCommand(name, summary)


_SECONDS = {"type": "number", "exclusiveMinimum": 0}
_COMMAND_LINE = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
_AGENT = {
    "anyOf": [
        {"type": "boolean"},  # false: the role is switched off
        {"type": "string"},
        {"type": "array", "items": {"type": ["string", "number"]}},
        {
            "type": "object",
            "properties": {
                "preset": {"type": "string"},
                "backend": {"type": "string"},
                "model": {"type": "string"},
                "args": {"type": "array", "items": {"type": ["string", "number"]}},
                "command": {
                    "anyOf": [
                        {"type": "string"},
                        {"type": "array", "items": {"type": ["string", "number"]}},
                    ]
                },
                "timeout": _SECONDS,
                "env": {
                    "type": "object",
                    "additionalProperties": {"type": ["string", "number", "boolean"]},
                },
            },
            # a backend a plugin registers reads settings of its own: it checks them
            "additionalProperties": True,
        },
    ]
}
_PRICE = {
    "type": "object",
    "properties": {
        "input": {"type": "number", "minimum": 0},
        "output": {"type": "number", "minimum": 0},
        "cached": {"type": "number", "minimum": 0},
    },
}
_STAGE = {
    "anyOf": [
        {"type": "string"},
        {
            "type": "object",
            "properties": {"command": {"type": "string"}, "timeout": _SECONDS},
            "required": ["command"],
        },
    ]
}


@hookimpl
def add_settings(add: AddSettings) -> None:
    """The sections fly, refuel and review read: agents, budget, validation, provider,
    github, issues."""
    add(
        "agents",
        {
            "type": "object",
            "properties": {"prices": {"type": "object", "additionalProperties": _PRICE}},
            "additionalProperties": _AGENT,
        },
        help="Role -> the agent serving it (preset or command, model, timeout, env, ...); "
        "prices: model -> USD per million tokens.",
    )
    add(
        "budget",
        {"type": "object", "properties": {"max_cost_usd": {"type": "number", "minimum": 0}}},
        help="The default --max-cost of a run's agent calls, in USD.",
    )
    add(
        "validation",
        {
            "type": "object",
            "properties": {
                "timeout": _SECONDS,
                "stages": {"type": "object", "additionalProperties": _STAGE},
            },
        },
        help="Validation stages (name -> shell command) and their default timeout.",
    )
    add(
        "review",
        {
            "type": "object",
            "properties": {
                "reviewers": {
                    "type": "array",
                    "items": {
                        "anyOf": [
                            {"type": "string"},
                            {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string"},
                                    "role": {"type": "string"},
                                    "template": {"type": "string"},
                                },
                                "required": ["role"],
                            },
                        ]
                    },
                },
                "max_review_rounds": {"type": "integer", "minimum": 1},
                "exclude": {"type": "array", "items": {"type": "string"}},
            },
        },
        help="Who reviews (roles), how many review rounds, which paths they never see.",
    )
    add("provider", {"type": "string"}, help="Issue and pull-request provider (github, local).")
    add(
        "github",
        {"type": "object", "properties": {"repo": {"type": "string"}}},
        help="The repository gh talks to (owner/name).",
    )
    add(
        "issues",
        {"type": "object", "properties": {"directory": {"type": "string"}}},
        help="Where the local provider keeps issues.",
    )
