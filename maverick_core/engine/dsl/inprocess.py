"""The models of the step types that run in maverick's process: ``python`` and ``checkpoint``.

Kept apart from :mod:`~maverick_core.engine.dsl.model`, like the composite step types'
models, so that a workflow that uses neither does not build their attrs classes at
start-up (each costs a compile; docs/benchmarks.md, start-up): their step types load
this module when a workflow first uses one of them.
"""

from __future__ import annotations

import attrs

from maverick_core.engine.dsl.model import Data, Step, Text


@attrs.frozen(kw_only=True)
class PythonStep(Step):
    """Call a registered action or ``module:function`` with evaluated kwargs."""

    action: str
    kwargs: dict[str, Data] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class CheckpointStep(Step):
    """Commit a checkpoint; ``checkpoint_id`` defaults to the step name."""

    checkpoint_id: Text | None = None
