"""The models of the composite step types: ``loop``, ``branch`` and ``subworkflow``.

Kept apart from :mod:`~maverick_core.engine.dsl.model` so that a workflow that uses
none of them does not build their attrs classes at start-up (each costs a compile;
docs/benchmarks.md, start-up): the ``flow`` plugin's step types load this module
when a workflow first uses one of them.
"""

from __future__ import annotations

import attrs

from maverick_core.engine.dsl.inprocess import CheckpointStep, PythonStep
from maverick_core.engine.dsl.model import (
    Condition,
    Count,
    Data,
    ShellStep,
    Step,
)

ONE_AT_A_TIME = Count(1)
"""A loop's default ``max_concurrency``."""
ALWAYS = Condition(True)
"""A branch option's default ``when``."""


@attrs.frozen(kw_only=True)
class LoopStep(Step):
    """Run ``steps`` once per item of ``for_each``; output is the list of iteration results."""

    for_each: Data
    steps: list[Step]
    max_concurrency: Count = ONE_AT_A_TIME

    def children(self) -> list[Step]:
        return list(self.steps)


@attrs.frozen(kw_only=True)
class BranchOption:
    """One option of a branch: its ``step`` runs when ``when`` is true."""

    step: Step
    when: Condition = ALWAYS


@attrs.frozen(kw_only=True)
class BranchStep(Step):
    """Run the step of the first option whose ``when`` is true."""

    options: list[BranchOption]

    def children(self) -> list[Step]:
        return [option.step for option in self.options]


@attrs.frozen(kw_only=True)
class SubworkflowStep(Step):
    """Run another workflow (a name or a path relative to this file)."""

    workflow: str
    inputs: dict[str, Data] = attrs.field(factory=dict)


BUILTIN_STEP_MODELS: dict[str, type[Step]] = {
    "shell": ShellStep,
    "python": PythonStep,
    "loop": LoopStep,
    "branch": BranchStep,
    "checkpoint": CheckpointStep,
    "subworkflow": SubworkflowStep,
}
"""Models of the built-in step types (their plugins register them with run logic)."""
