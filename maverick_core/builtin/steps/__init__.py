"""Built-in plugin ``steps``: the ``shell``, ``python`` and ``checkpoint`` step types.

The step types live in :mod:`.types` (shell) and :mod:`.inprocess` (python,
checkpoint), each imported when a workflow first uses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maverick_core import hookimpl

if TYPE_CHECKING:
    from maverick_core.api import RegisterStepType


@hookimpl
def register_step_types(register: RegisterStepType) -> None:
    """Register shell, python and checkpoint."""
    from maverick_core.engine.registries import LazyStepType

    # each step type loads when a workflow uses it
    register(LazyStepType("shell", "maverick_core.builtin.steps.types:ShellStepType"))
    register(LazyStepType("python", "maverick_core.builtin.steps.inprocess:PythonStepType"))
    register(LazyStepType("checkpoint", "maverick_core.builtin.steps.inprocess:CheckpointStepType"))
