"""The ``validate`` step type: run the project's validation stages, let a fixer repair them.

Stages come from ``maverick.yaml``, run in the order written::

    validation:
      timeout: 600            # per stage, optional
      stages:
        lint: ruff check .
        test: {command: pytest -q, timeout: 1200}

Each attempt runs the stages in order and stops at the first failure. With a fixer
role configured and attempts left, the fixer is given the failing stage's output
and validation runs again from the first stage (a fix for one stage can break an
earlier one). The output records every stage's result per attempt; the step fails
when the attempts run out.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

import attrs

from maverick_core.api import (
    Config,
    Count,
    Data,
    InputError,
    Seconds,
    Step,
    StepContext,
    StepFailed,
    Text,
    run_process,
)
from maverick_core.devflow.agents import AgentSettings, ask_agent, render_context, resolve_role
from maverick_core.devflow.gitops import work_root

DEFAULT_STAGE_TIMEOUT = 1800.0
OUTPUT_TAIL_LINES = 200
OUTPUT_TAIL_CHARS = 20_000
ONE_ATTEMPT = Count(1)


@attrs.frozen
class Stage:
    """One configured validation stage."""

    name: str
    command: str
    timeout: float


@attrs.frozen(kw_only=True)
class ValidateStep(Step):
    """Run validation stages, with fixes between attempts.

    :ivar stages: a list of stage names to run (a subset, in this order), or a
        mapping ``name: command`` replacing the configured stages.
    :ivar fixer: the role asked to fix a failure (fixing is off when no agent serves it).
    :ivar max_attempts: how many times validation may run (fixes = attempts - 1).
    :ivar context: extra values for the fixer's prompt template.
    :ivar timeout: default seconds per stage.
    """

    stages: Data | None = None
    fixer: Text | None = None
    max_attempts: Count = ONE_ATTEMPT
    context: Data | None = None
    timeout: Seconds | None = None


def configured_stages(config: Config, default_timeout: float | None = None) -> list[Stage]:
    """The stages of ``maverick.yaml`` ``validation.stages``, in order."""
    section = config.settings.get("validation") or {}
    if not isinstance(section, dict):
        raise StepFailed("maverick.yaml: 'validation' must be a mapping with 'stages'")
    fallback = section.get("timeout", default_timeout or DEFAULT_STAGE_TIMEOUT)
    return parse_stages(section.get("stages") or {}, fallback, "validation.stages")


def parse_stages(table: Any, default_timeout: Any, where: str) -> list[Stage]:
    """Stages from a ``name: command`` (or ``name: {command, timeout}``) mapping."""
    if not isinstance(table, dict):
        raise StepFailed(f"{where} must be a mapping of stage name -> shell command")
    stages = []
    for name, entry in table.items():
        timeout = default_timeout
        if isinstance(entry, dict):
            unknown = sorted(set(entry) - {"command", "timeout"})
            if unknown:
                raise StepFailed(f"{where}.{name}: unknown key '{unknown[0]}' (command, timeout)")
            timeout = entry.get("timeout", timeout)
            entry = entry.get("command")
        if not isinstance(entry, str) or not entry.strip():
            raise StepFailed(f"{where}.{name}: expected a shell command, got {entry!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise StepFailed(f"{where}.{name}: timeout must be a positive number of seconds")
        stages.append(Stage(str(name), entry, float(timeout)))
    return stages


def select_stages(config: Config, chosen: Any, default_timeout: float | None) -> list[Stage]:
    """The stages a step runs: all configured ones, a named subset, or its own mapping."""
    if isinstance(chosen, dict):
        return parse_stages(chosen, default_timeout or DEFAULT_STAGE_TIMEOUT, "stages")
    stages = configured_stages(config, default_timeout)
    if chosen is None:
        return stages
    if not isinstance(chosen, list) or not all(isinstance(n, str) for n in chosen):
        raise StepFailed("stages must be a list of stage names or a mapping name -> command")
    by_name = {stage.name: stage for stage in stages}
    unknown = [name for name in chosen if name not in by_name]
    if unknown:
        known = ", ".join(by_name) or "none configured"
        raise StepFailed(f"unknown validation stage '{unknown[0]}' (validation.stages: {known})")
    return [by_name[name] for name in chosen]


def tail(text: str) -> str:
    """The end of a stage's output: what a person (or a fixer) needs to see."""
    lines = text.rstrip().splitlines()[-OUTPUT_TAIL_LINES:]
    joined = "\n".join(lines)
    return joined[-OUTPUT_TAIL_CHARS:]


def run_stage(ctx: StepContext, stage: Stage) -> dict[str, Any]:
    """Run one stage with bash in the step's work tree; never raises for a failing command."""
    shell = shutil.which("bash") or "/bin/sh"
    env = {**os.environ, "MAVERICK_RUN_ID": ctx.run.run_id, "MAVERICK_STEP": ctx.path}
    started = time.monotonic()
    result = run_process(
        [shell, "-c", stage.command],
        cwd=work_root(ctx),
        env=env,
        timeout=stage.timeout,
        merge_stderr=True,
        group=ctx.processes,
    )
    timed_out = result.timed_out
    output = tail(ctx.run.secrets.mask_text(result.stdout))
    if timed_out:
        output = f"{output}\n(timed out after {stage.timeout:g}s)".lstrip("\n")
    return {
        "name": stage.name,
        "command": stage.command,
        "passed": result.ok,
        "returncode": result.returncode,
        "timed_out": timed_out,
        "duration": round(time.monotonic() - started, 3),
        "output": output,
    }


def run_attempt(ctx: StepContext, stages: list[Stage], number: int) -> dict[str, Any]:
    """Run ``stages`` in order until one fails."""
    results = []
    for stage in stages:
        result = run_stage(ctx, stage)
        results.append(result)
        if not result["passed"]:
            break
    failed = next((r for r in results if not r["passed"]), None)
    return {
        "attempt": number,
        "passed": failed is None,
        "failed_stage": failed["name"] if failed else None,
        "stages": results,
    }


def _failure_message(failed: dict[str, Any]) -> str:
    why = "timed out" if failed["timed_out"] else f"exited with status {failed['returncode']}"
    return f"stage '{failed['name']}' ({failed['command']}) {why}"


class ValidateStepType:
    """Run the ``validate`` step."""

    name = "validate"
    model = ValidateStep

    def run(self, ctx: StepContext, step: ValidateStep) -> dict[str, Any]:
        """Validate, fixing between attempts; fail when the attempts run out."""
        stages = select_stages(ctx.config, ctx.render(step.stages), step.timeout)
        max_attempts = ctx.render(step.max_attempts)
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise InputError(f"max_attempts must be a positive integer, got {max_attempts!r}")
        fixer_role = ctx.render(step.fixer) if step.fixer is not None else None
        fixer: AgentSettings | None = None
        if fixer_role:
            fixer = resolve_role(ctx.config, str(fixer_role))
        context = render_context(ctx, step.context)
        if not stages:
            ctx.notice(
                "no validation stages configured; add validation.stages to maverick.yaml "
                "(e.g. 'test: pytest -q')"
            )
            return {"passed": True, "attempts": [], "fixes": 0, "stages": []}

        attempts: list[dict[str, Any]] = []
        for number in range(1, max_attempts + 1):
            attempt = run_attempt(ctx, stages, number)
            attempts.append(attempt)
            if attempt["passed"]:
                return {
                    "passed": True,
                    "attempts": attempts,
                    "fixes": number - 1,
                    "stages": [s.name for s in stages],
                }
            failed = attempt["stages"][-1]
            if fixer is None or number == max_attempts:
                break
            ctx.notice(
                f"{ctx.path}: {_failure_message(failed)} (attempt {number} of {max_attempts}); "
                f"asking the {fixer.role}"
            )
            answer = ask_agent(
                ctx,
                fixer.role,
                chosen=fixer,
                context={
                    # the built-in fixer prompt names these; a caller may describe more
                    "subject": "",
                    "details": "",
                    **context,
                    "stage": failed["name"],
                    "command": failed["command"],
                    "output": failed["output"],
                    "attempt": number,
                    "max_attempts": max_attempts,
                },
            )
            attempt["fix"] = {"role": fixer.role, "answer": answer.answer}
        failed = attempts[-1]["stages"][-1]
        if fixer is None:
            advice = (
                f"no '{fixer_role}' agent is configured to fix it (add agents.{fixer_role} "
                "to maverick.yaml)"
                if fixer_role
                else "no fixer was asked"
            )
        else:
            advice = f"{len(attempts) - 1} fix attempt(s) by the {fixer.role} did not fix it"
        raise StepFailed(
            f"validation failed after {len(attempts)} attempt(s): {_failure_message(failed)}; "
            f"{advice}\n{failed['output']}"
        )
