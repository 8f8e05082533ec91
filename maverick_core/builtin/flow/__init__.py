"""Built-in plugin ``flow``: the ``loop``, ``branch``, ``subworkflow`` and ``try`` step types.

Flow control that any workflow can use. The step types live in
:mod:`.types` and :mod:`.trystep`, imported only when registries are collected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maverick_core import hookimpl

if TYPE_CHECKING:
    from maverick_core.api import RegisterStepType


@hookimpl
def register_step_types(register: RegisterStepType) -> None:
    """Register loop, branch, subworkflow and try."""
    from maverick_core.engine.registries import LazyStepType

    # each step type loads when a workflow uses it
    register(LazyStepType("loop", "maverick_core.builtin.flow.types:LoopStepType"))
    register(LazyStepType("branch", "maverick_core.builtin.flow.types:BranchStepType"))
    register(LazyStepType("subworkflow", "maverick_core.builtin.flow.types:SubworkflowStepType"))
    register(LazyStepType("try", "maverick_core.builtin.flow.trystep:TryStepType"))
