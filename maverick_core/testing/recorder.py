"""A plugin that records the hook calls of a run, for tests that assert on them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from maverick_core import hookimpl

if TYPE_CHECKING:
    from maverick_core.api import CheckpointInfo, Run, RunOutcome, RunState, Step, StepRecord


class HookRecorder:
    """Records each call of the run hooks as ``(hook, {what a test asserts on})``.

    Pass it to a run (``maverick_run(path, plugins=[recorder])``), then read
    :attr:`calls` in order, or :meth:`names` and :meth:`paths`.
    """

    name = "recorder"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def names(self) -> list[str]:
        """The hooks called, in order."""
        return [name for name, _ in self.calls]

    def paths(self, hook: str) -> list[str]:
        """The step paths ``hook`` was called for, in order."""
        return [args["path"] for name, args in self.calls if name == hook]

    def of(self, hook: str) -> list[dict[str, Any]]:
        """The recorded arguments of every call of ``hook``, in order."""
        return [args for name, args in self.calls if name == hook]

    @hookimpl
    def workflow_start(self, run: Run) -> None:
        """Record ``run_id``."""
        self.calls.append(("workflow_start", {"run_id": run.run_id}))

    @hookimpl
    def workflow_finish(self, run: Run, outcome: RunOutcome) -> None:
        """Record ``status`` and ``outputs``."""
        self.calls.append(
            ("workflow_finish", {"status": outcome.status, "outputs": outcome.outputs})
        )

    @hookimpl
    def on_workflow_error(self, run: Run, error: BaseException) -> None:
        """Record ``error``."""
        self.calls.append(("on_workflow_error", {"error": error}))

    @hookimpl
    def before_step(self, run: Run, step: Step, path: str) -> None:
        """Record ``path`` and the step's ``type``."""
        self.calls.append(("before_step", {"path": path, "type": step.type}))

    @hookimpl
    def after_step(self, run: Run, step: Step, path: str, record: StepRecord) -> None:
        """Record ``path`` and the record's ``status``, ``output`` and ``error``."""
        self.calls.append(
            (
                "after_step",
                {
                    "path": path,
                    "status": record.status,
                    "output": record.output,
                    "error": record.error,
                },
            )
        )

    @hookimpl
    def on_step_error(self, run: Run, step: Step, path: str, error: BaseException) -> None:
        """Record ``path`` and ``error``."""
        self.calls.append(("on_step_error", {"path": path, "error": error}))

    @hookimpl
    def on_step_skipped(self, run: Run, step: Step, path: str, reason: str) -> None:
        """Record ``path`` and ``reason``."""
        self.calls.append(("on_step_skipped", {"path": path, "reason": reason}))

    @hookimpl
    def on_loop_start(self, run: Run, step: Step, path: str, total: int, done: int) -> None:
        """Record ``path``, ``total`` and ``done``."""
        self.calls.append(("on_loop_start", {"path": path, "total": total, "done": done}))

    @hookimpl
    def on_iteration_finish(self, run: Run, step: Step, path: str, index: int, status: str) -> None:
        """Record ``path``, ``index`` and ``status``."""
        self.calls.append(("on_iteration_finish", {"path": path, "index": index, "status": status}))

    @hookimpl
    def after_checkpoint(self, run: Run, checkpoint: CheckpointInfo) -> None:
        """Record ``checkpoint_id`` and ``seq``."""
        self.calls.append(
            ("after_checkpoint", {"checkpoint_id": checkpoint.checkpoint_id, "seq": checkpoint.seq})
        )

    @hookimpl
    def on_resume(self, run: Run, state: RunState) -> None:
        """Record the run it resumes (``from``) and the step paths it restored."""
        self.calls.append(
            ("on_resume", {"from": run.resumed_from, "restored": sorted(state.done_paths())})
        )

    @hookimpl
    def on_notice(self, run: Run | None, message: str) -> None:
        """Record ``message``."""
        self.calls.append(("on_notice", {"message": message}))
