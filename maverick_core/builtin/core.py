"""Essential fallbacks: a fresh in-memory run when no plugin opens one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from maverick_core import hookimpl
from maverick_core.engine.errors import ResumeRefused

if TYPE_CHECKING:
    from maverick_core.engine.config import Config
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
