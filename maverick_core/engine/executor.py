"""The executor: walks a workflow and calls hooks. Nothing else.

It knows no step type (they are plugins), prints nothing (reporters are plugins)
and persists nothing (the checkpoint plugin does, through ``commit_checkpoint``).
It keeps the run's state, restores completed steps of a resumed run without
running them, and turns SIGINT/SIGTERM into a clean stop.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

from maverick_core.engine.context import Scope, StepContext
from maverick_core.engine.dsl import expressions
from maverick_core.engine.dsl.model import Step, Workflow
from maverick_core.engine.errors import (
    EvaluationError,
    InputError,
    Interrupted,
    MaverickError,
    StepFailed,
)
from maverick_core.engine.normalize import normalize
from maverick_core.engine.processes import ProcessGroup
from maverick_core.engine.run import (
    COMPLETED,
    FAILED,
    INTERRUPTED,
    SKIPPED,
    CheckpointInfo,
    Run,
    RunOutcome,
    StepRecord,
)

CHECKPOINT_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class StepFailure(Exception):
    """A step failed; carries its path. Fails the workflow (exit 1).

    ``usage`` is set when the step refused a value the user gave (it raised
    :class:`~maverick_core.engine.errors.InputError`): the run then exits 2, like any
    other bad input.
    """

    def __init__(self, path: str, message: str, usage: bool = False) -> None:
        super().__init__(f"step '{path}' failed: {message}")
        self.path = path
        self.message = message
        self.usage = usage


class CheckpointFailure(StepFailure):
    """A checkpoint could not be written: the run fails loudly."""


class Executor:
    """Executes one run of a workflow."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.hook = run.config.pm.hook
        self.step_types = {
            name: reg.value for name, reg in run.config.pm.registries.step_types.items()
        }
        self.cancel = threading.Event()
        self.processes = ProcessGroup()
        self._critical = 0
        self._pending_signal: str | None = None
        self._commit_lock = threading.Lock()

    # ------------------------------------------------------------------ the run

    def execute(self) -> RunOutcome:
        """Run the workflow to its end; always calls ``workflow_finish``."""
        run = self.run
        started = time.monotonic()
        outputs: dict[str, Any] = {}
        error: BaseException | None = None
        self.hook.workflow_start(run=run)
        try:
            with self._signals():
                if run.resumed:
                    self.hook.on_resume(run=run, state=run.state)
                outputs = self.run_workflow(run.workflow, run.inputs, prefix="")
            status = COMPLETED
        except Interrupted as exc:
            self.cancel.set()
            self.processes.terminate_all()
            status, error = INTERRUPTED, exc
        except StepFailure as exc:
            status, error = FAILED, exc
        if error is not None:
            self.hook.on_workflow_error(run=run, error=error)
        outcome = RunOutcome(
            status=status,
            outputs=outputs,
            error=None if error is None else _describe_error(error),
            usage_error=isinstance(error, StepFailure) and error.usage,
            duration=time.monotonic() - started,
        )
        self.hook.workflow_finish(run=run, outcome=outcome)
        return outcome

    def run_workflow(self, workflow: Workflow, inputs: dict[str, Any], prefix: str) -> Any:
        """Run a workflow's steps (the top level, or a subworkflow under ``prefix``)."""
        scope = Scope(
            workflow,
            inputs,
            {"id": self.run.run_id, "workflow": self.run.workflow.name},
            prefix,
        )
        self.run_steps(workflow.steps, scope)
        try:
            rendered = expressions.render_value(workflow.outputs, scope.names())
        except EvaluationError as exc:
            raise StepFailure(prefix.rstrip(".") or "outputs", f"outputs: {exc}") from None
        try:
            return normalize(rendered, "outputs")
        except StepFailed as exc:
            raise StepFailure(prefix.rstrip(".") or "outputs", exc.message) from None

    def run_steps(self, steps: list[Step], scope: Scope) -> None:
        """Run ``steps`` in order; the first failure raises StepFailure."""
        for step in steps:
            self.run_step(step, scope)

    def run_step(self, step: Step, scope: Scope) -> None:
        """Run (or restore, or skip) one step and record what happened."""
        path = scope.prefix + step.name
        previous = self.run.state.get(path)
        if previous is not None and previous.done:
            scope.steps[step.name] = {"output": previous.output, "status": previous.status}
            return
        if self.cancel.is_set():
            raise Interrupted(self._pending_signal or "SIGINT")

        if step.when is not None:
            try:
                go = bool(expressions.render_value(step.when, scope.names()))
            except EvaluationError as exc:
                self._fail(step, path, StepFailed(f"when: {exc}"), time.time(), 0.0)
            if not go:
                reason = (
                    step.when.source if isinstance(step.when, expressions.Template) else "false"
                )
                self.run.state.set(path, StepRecord(SKIPPED, None, started_at=time.time()))
                scope.steps[step.name] = {"output": None, "status": SKIPPED}
                self.hook.on_step_skipped(run=self.run, step=step, path=path, reason=reason)
                return

        step_type = self.step_types.get(step.type)
        self.hook.before_step(run=self.run, step=step, path=path)
        started_at, started = time.time(), time.monotonic()
        ctx = StepContext(self, scope, path, step)
        try:
            if step_type is None:
                raise StepFailed(f"no plugin provides step type '{step.type}'")
            output = normalize(step_type.run(ctx, step), f"steps.{step.name}.output")
        except Interrupted:
            raise
        except CheckpointFailure as exc:
            if exc.path.startswith((path + ".", path + "[")):
                self._record_failure(
                    step, path, "a nested step failed", started_at, time.monotonic() - started
                )
                raise
            # a step type that committed by itself: the failure is this step's
            self._record_failure(step, path, exc.message, started_at, time.monotonic() - started)
            raise CheckpointFailure(path, exc.message) from None
        except StepFailure:
            # a child step failed: this composite step fails with it
            self._record_failure(
                step, path, "a nested step failed", started_at, time.monotonic() - started
            )
            raise
        except (StepFailed, MaverickError) as exc:
            self._fail(step, path, exc, started_at, time.monotonic() - started)
        except Exception as exc:
            if self.cancel.is_set():
                raise Interrupted(self._pending_signal or "SIGINT") from None
            self._fail(step, path, exc, started_at, time.monotonic() - started)

        record = StepRecord(
            COMPLETED, output, started_at=started_at, duration=time.monotonic() - started
        )
        self.run.state.set(path, record)
        scope.steps[step.name] = {"output": output, "status": COMPLETED}
        self.hook.after_step(run=self.run, step=step, path=path, record=record)
        pending = ctx.checkpoints + ([step.name] if step.checkpoint else [])
        for checkpoint_id in pending:
            try:
                self.commit_checkpoint(checkpoint_id)
            except CheckpointFailure as exc:
                self.run.state.set(path, StepRecord(FAILED, None, exc.message, started_at))
                raise CheckpointFailure(path, exc.message) from None

    def _fail(
        self, step: Step, path: str, exc: BaseException, started_at: float, duration: float
    ) -> Any:
        if self.cancel.is_set():
            raise Interrupted(self._pending_signal or "SIGINT")
        message = _describe_error(exc)
        self.hook.on_step_error(run=self.run, step=step, path=path, error=exc)
        self._record_failure(step, path, message, started_at, duration)
        raise StepFailure(path, message, usage=isinstance(exc, InputError)) from None

    def _record_failure(
        self, step: Step, path: str, message: str, started_at: float, duration: float
    ) -> None:
        record = StepRecord(FAILED, None, message, started_at, duration)
        self.run.state.set(path, record)
        self.hook.after_step(run=self.run, step=step, path=path, record=record)

    # ------------------------------------------------------------------ checkpoints

    def commit_checkpoint(self, checkpoint_id: str) -> CheckpointInfo | None:
        """Commit the run's state now; a failure raises CheckpointFailure."""
        if (
            not checkpoint_id
            or not set(checkpoint_id) <= CHECKPOINT_ID_CHARS
            or len(checkpoint_id) > 128
            or checkpoint_id[0] in ".-_"
        ):
            raise CheckpointFailure(
                checkpoint_id,
                f"invalid checkpoint id {checkpoint_id!r} (letters, digits, '.', '_' and '-' "
                "only, starting with a letter or digit)",
            )
        with self._commit_lock, self._critical_section():
            data: dict[str, Any] = {}
            try:
                self.hook.collect_checkpoint_data(run=self.run, data=data)
                self.run.checkpoint_data = data
                info: CheckpointInfo | None = self.hook.commit_checkpoint(
                    run=self.run, checkpoint_id=checkpoint_id, state=self.run.state
                )
            except Exception as exc:
                raise CheckpointFailure(
                    checkpoint_id,
                    f"checkpoint '{checkpoint_id}' was NOT saved: {_describe_error(exc)}",
                ) from None
        if info is not None:
            self.hook.after_checkpoint(run=self.run, checkpoint=info)
        return info

    # ------------------------------------------------------------------ signals

    @contextlib.contextmanager
    def _critical_section(self) -> Iterator[None]:
        """Defer SIGINT/SIGTERM while a checkpoint is being written."""
        self._critical += 1
        try:
            yield
        finally:
            self._critical -= 1
        if (
            self._critical == 0
            and self._pending_signal
            and threading.current_thread() is threading.main_thread()
        ):
            raise Interrupted(self._pending_signal)

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handle(signum: int, _frame: Any) -> None:
            name = signal.Signals(signum).name
            self._pending_signal = name
            self.cancel.set()
            if self._critical:
                return
            raise Interrupted(name)

        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, Interrupted):
        return f"interrupted by {exc.signal_name}"
    if isinstance(exc, StepFailure):
        return str(exc)
    if isinstance(exc, StepFailed):
        return exc.message
    if isinstance(exc, MaverickError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"
