"""Built-in plugin ``steps``: the ``shell``, ``python`` and ``checkpoint`` step types."""

from __future__ import annotations

from collections.abc import Callable

from maverick_core import hookimpl


@hookimpl
def register_step_types(register: Callable[..., None]) -> None:
    """Register shell, python and checkpoint (imported only when steps are needed)."""
    from maverick_core.steptypes.basic import CheckpointStepType, PythonStepType, ShellStepType

    register(ShellStepType())
    register(PythonStepType())
    register(CheckpointStepType())
