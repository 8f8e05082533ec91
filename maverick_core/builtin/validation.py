"""Built-in plugin ``validation``: the ``validate`` step type.

Implemented in :mod:`maverick_core.devflow.validation` (imported when needed).
"""

from __future__ import annotations

from collections.abc import Callable

from maverick_core import hookimpl


@hookimpl
def register_step_types(register: Callable[..., None]) -> None:
    """Register the ``validate`` step type."""
    from maverick_core.devflow.validation import ValidateStepType

    register(ValidateStepType())
