"""Built-in plugin ``core`` (essential): the fallbacks every run needs.

It opens a fresh in-memory run when no plugin opens one, runs a step by
calling its step type (the innermost ``run_step``, which plugins wrap), and
declares the core's ``maverick.yaml`` sections. It lives
here rather than with the step types because step types come from several plugins
(``steps``, ``flow``, ``devflow``, third parties), and a step must run whichever of
them are blocked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from maverick_core import hookimpl
from maverick_core.engine.errors import ResumeRefused

if TYPE_CHECKING:
    from maverick_core.api import AddSettings
    from maverick_core.engine.config import Config
    from maverick_core.engine.context import StepContext
    from maverick_core.engine.dsl.model import Step
    from maverick_core.engine.run import Run, RunRequest


@hookimpl(trylast=True)
def open_run(config: Config, request: RunRequest) -> Run:
    """Start a fresh run; refuse resume requests nobody could handle."""
    from maverick_core.engine.inputs import complete_inputs
    from maverick_core.engine.run import Run, new_run_id

    if request.resume or request.from_checkpoint:
        blocked = "checkpoint" in config.pm.blocked_names
        why = (
            "the checkpoint plugin is blocked (-p no:checkpoint)"
            if blocked
            else "no plugin persists runs"
        )
        raise ResumeRefused(f"cannot resume: {why}")
    return Run(
        run_id=new_run_id(request.workflow.name),
        workflow=request.workflow,
        inputs=complete_inputs(request.workflow, request.inputs),
        config=config,
    )


@hookimpl(trylast=True)
def run_step(run: Run, step: Step, path: str, ctx: StepContext) -> Any:
    """Call the step type registered for ``step.type``."""
    registration = run.config.pm.registries.step_types.get(step.type)
    if registration is None:
        # imported here, off every step's path: a function-level import costs about
        # 0.7 µs a call
        from maverick_core.engine.errors import StepFailed

        raise StepFailed(f"no plugin provides step type '{step.type}'")
    return registration.value.run(ctx, step)


@hookimpl
def add_settings(add: AddSettings) -> None:
    """``project``, ``store``, ``serializer``, ``durability``: what every run is configured by."""
    add(
        "project",
        {"type": "string"},
        help="The project's name, the same in every clone (default: from the origin URL).",
    )
    add("store", {"type": "string"}, help="Checkpoint store URL (file: default).")
    add("serializer", {"type": "string"}, help="Checkpoint serializer name (json default).")
    add(
        "durability",
        {"enum": ["full", "fsync"]},
        help="How commits are synced on macOS: full (F_FULLFSYNC, default) or fsync.",
    )
