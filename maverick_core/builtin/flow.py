"""Built-in plugin ``flow``: the ``loop``, ``branch`` and ``subworkflow`` step types."""

from __future__ import annotations

from collections.abc import Callable

from maverick_core import hookimpl


@hookimpl
def register_step_types(register: Callable[..., None]) -> None:
    """Register loop, branch and subworkflow (imported only when steps are needed)."""
    from maverick_core.steptypes.flow import BranchStepType, LoopStepType, SubworkflowStepType

    register(LoopStepType())
    register(BranchStepType())
    register(SubworkflowStepType())
