"""The ``try`` step type: run steps, and record a failure instead of failing the run.

``refuel`` fixes a batch of issues; one issue that cannot be fixed must not stop the
others. A ``try`` step runs its ``steps`` like a branch runs its chosen step (same
names visible, paths ``<try>.<child>``); when one of them fails, the try step still
completes, with ``ok: false`` and the failure in its output, so the loop around it
goes on and a checkpoint after it records the issue as done (failed).

Interrupts and checkpoint failures are never caught: a run stopped by Ctrl-C stays
resumable, and a checkpoint that was not saved still fails the run loudly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from maverick_core.engine.dsl.model import Step
from maverick_core.engine.errors import CheckpointNotSaved, WorkflowFailed

if TYPE_CHECKING:
    from maverick_core.engine.context import StepContext


@attrs.frozen(kw_only=True)
class TryStep(Step):
    """Run ``steps``; output ``{ok, error, failed_step, outputs}``."""

    steps: list[Step]

    def children(self) -> list[Step]:
        return list(self.steps)

    def failure_handling(self) -> str:
        return "failure recorded (ok: false); the run goes on"


class TryStepType:
    """Run the children; a child's failure becomes this step's output."""

    name = "try"
    model = TryStep

    def run(self, ctx: StepContext, step: TryStep) -> dict[str, Any]:
        """Run the steps in a nested scope; catch a step failure."""
        scope = ctx.scope.nested(ctx.path + ".")
        try:
            ctx.run_steps(step.steps, scope)
        except CheckpointNotSaved:
            raise
        except WorkflowFailed as failure:
            ctx.notice(f"{failure.path} failed; {ctx.path} records it and the run goes on")
            return {
                "ok": False,
                "error": failure.message,
                "failed_step": failure.path,
                "outputs": _outputs(scope.steps),
            }
        return {"ok": True, "error": None, "failed_step": None, "outputs": _outputs(scope.steps)}


def _outputs(steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {name: value["output"] for name, value in steps.items()}
