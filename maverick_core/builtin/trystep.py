"""Built-in plugin ``try``: the ``try`` step type (a failure is recorded, the run goes on).

Implemented in :mod:`maverick_core.devflow.trystep` (imported when needed).
"""

from __future__ import annotations

from collections.abc import Callable

from maverick_core import hookimpl


@hookimpl
def register_step_types(register: Callable[..., None]) -> None:
    """Register the ``try`` step type."""
    from maverick_core.devflow.trystep import TryStepType

    register(TryStepType())
