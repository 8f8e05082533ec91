"""The executor: walks a workflow and calls hooks. Nothing else.

It knows no step type (they are plugins), prints nothing (reporters are plugins)
and persists nothing (the checkpoint plugin does, through ``commit_checkpoint``).
It keeps the run's state, restores completed steps of a resumed run without
running them, runs every other step through the ``run_step`` hook (so plugins can
wrap it) and turns SIGINT, SIGTERM and SIGHUP into a clean stop.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

from maverick_core.engine.context import Scope, StepContext
from maverick_core.engine.digest import sha256_hex
from maverick_core.engine.dsl.model import Step, Workflow, checkpoint_id_problem
from maverick_core.engine.dsl.render import is_template, render_value
from maverick_core.engine.errors import (
    CheckpointNotSaved,
    EvaluationError,
    InputError,
    Interrupted,
    MaverickError,
    StepFailed,
    WorkflowFailed,
    describe_error,
)
from maverick_core.engine.normalize import normalize
from maverick_core.engine.processes import ProcessGroup, ProcessLedger, reap_orphans
from maverick_core.engine.run import RESUMABLE, CheckpointInfo, Run, RunOutcome, Status, StepRecord

if TYPE_CHECKING:
    from collections.abc import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Signals that interrupt a run: it is marked interrupted and can be resumed (exit 130).

SIGHUP is among them because closing the terminal (or losing an ssh session) must
not leave a run half-written with its children still running.
"""


class Executor:
    """Executes one run of a workflow."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.hook = run.config.pm.hook
        self.cancel = threading.Event()
        self.ledger = _ledger_for(run)
        self.processes = ProcessGroup(self.ledger)
        self._critical = 0
        self._critical_guard = _CriticalSection(self)
        self._pending_signal: str | None = None
        self._commit_lock = threading.Lock()
        self._progress_lock = threading.Lock()

    # ------------------------------------------------------------------ the run

    def execute(self) -> RunOutcome:
        """Run the workflow to its end; always calls ``workflow_finish``."""
        run = self.run
        started = time.monotonic()
        outputs: dict[str, Any] = {}
        error: BaseException | None = None
        if self.ledger is not None:
            self._reap_orphans(self.ledger)
        self.hook.workflow_start(run=run)
        try:
            with self._signals():
                if run.resumed:
                    self.hook.on_resume(run=run, state=run.state)
                outputs = self.run_workflow(run.workflow, run.inputs, prefix="")
            status = Status.COMPLETED
        except Interrupted as exc:
            self.interrupt()
            status, error = Status.INTERRUPTED, exc
        except WorkflowFailed as exc:
            status, error = Status.FAILED, exc
        if error is not None:
            self.hook.on_workflow_error(run=run, error=error)
        outcome = RunOutcome(
            status=status,
            outputs=outputs,
            error=None if error is None else describe_error(error),
            usage_error=isinstance(error, WorkflowFailed) and error.usage,
            duration=time.monotonic() - started,
        )
        self.hook.workflow_finish(run=run, outcome=outcome)
        if self.ledger is not None:
            self.ledger.remove()
        return outcome

    def _reap_orphans(self, ledger: ProcessLedger) -> None:
        """Stop what a SIGKILLed earlier executor of this run left running."""
        groups = reap_orphans(ledger.path)
        if groups:
            shown = ", ".join(str(g) for g in groups)
            self.hook.on_notice(
                run=self.run,
                message=f"terminated processes the previous attempt left running "
                f"(process group{'s' if len(groups) > 1 else ''} {shown})",
            )

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
            rendered = render_value(workflow.outputs, scope.names())
        except EvaluationError as exc:
            raise WorkflowFailed(prefix.rstrip(".") or "outputs", f"outputs: {exc}") from None
        try:
            return normalize(rendered, "outputs")
        except StepFailed as exc:
            raise WorkflowFailed(prefix.rstrip(".") or "outputs", exc.message) from None

    def run_steps(self, steps: list[Step], scope: Scope) -> None:
        """Run ``steps`` in order; the first failure raises WorkflowFailed."""
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
                go = bool(render_value(step.when, scope.names()))
            except EvaluationError as exc:
                self._fail(step, path, StepFailed(f"when: {exc}"), time.time(), 0.0)
            if not go:
                reason = step.when.source if is_template(step.when) else "false"
                self.run.state.set(path, StepRecord(Status.SKIPPED, None, started_at=time.time()))
                scope.steps[step.name] = {"output": None, "status": Status.SKIPPED}
                if _listened(self.hook.on_step_skipped):
                    self.hook.on_step_skipped(run=self.run, step=step, path=path, reason=reason)
                return

        if _listened(self.hook.before_step):
            self.hook.before_step(run=self.run, step=step, path=path)
        started_at, started = time.time(), time.monotonic()
        ctx = StepContext(self, scope, path, step)
        try:
            output = normalize(
                self.hook.run_step(run=self.run, step=step, path=path, ctx=ctx),
                f"steps.{step.name}.output",
            )
        except Interrupted:
            raise
        except CheckpointNotSaved as exc:
            if exc.path.startswith((path + ".", path + "[")):
                self._record_failure(
                    step, path, "a nested step failed", started_at, time.monotonic() - started
                )
                raise
            # a step type that committed by itself: the failure is this step's
            self._record_failure(step, path, exc.message, started_at, time.monotonic() - started)
            raise CheckpointNotSaved(path, exc.message) from None
        except WorkflowFailed:
            # a child step failed: this composite step fails with it
            self._record_failure(
                step,
                path,
                "a nested step failed",
                started_at,
                time.monotonic() - started,
                ctx.attempts,
            )
            raise
        except (StepFailed, MaverickError) as exc:
            self._fail(step, path, exc, started_at, time.monotonic() - started, ctx.attempts)
        except Exception as exc:
            if self.cancel.is_set():
                raise Interrupted(self._pending_signal or "SIGINT") from None
            self._fail(step, path, exc, started_at, time.monotonic() - started, ctx.attempts)

        record = StepRecord(
            Status.COMPLETED,
            output,
            started_at=started_at,
            duration=time.monotonic() - started,
            attempts=ctx.attempts or None,
        )
        self.run.state.set(path, record)
        scope.steps[step.name] = {"output": output, "status": Status.COMPLETED}
        if _listened(self.hook.after_step):
            self.hook.after_step(run=self.run, step=step, path=path, record=record)
        pending = ctx.checkpoints + ([step.name] if step.checkpoint else [])
        for checkpoint_id in pending:
            try:
                self.commit_checkpoint(checkpoint_id)
            except CheckpointNotSaved as exc:
                self.run.state.set(path, StepRecord(Status.FAILED, None, exc.message, started_at))
                raise CheckpointNotSaved(path, exc.message) from None

    def _fail(
        self,
        step: Step,
        path: str,
        exc: BaseException,
        started_at: float,
        duration: float,
        attempts: list[dict[str, Any]] | None = None,
    ) -> Any:
        if self.cancel.is_set():
            raise Interrupted(self._pending_signal or "SIGINT")
        message = describe_error(exc)
        self.hook.on_step_error(run=self.run, step=step, path=path, error=exc)
        self._record_failure(step, path, message, started_at, duration, attempts)
        raise WorkflowFailed(
            path,
            message,
            usage=isinstance(exc, InputError),
            exit_code=getattr(exc, "exit_code", None),
            timed_out=getattr(exc, "timed_out", False),
        ) from None

    def _record_failure(
        self,
        step: Step,
        path: str,
        message: str,
        started_at: float,
        duration: float,
        attempts: list[dict[str, Any]] | None = None,
    ) -> None:
        record = StepRecord(
            Status.FAILED, None, message, started_at, duration, attempts=attempts or None
        )
        self.run.state.set(path, record)
        self.hook.after_step(run=self.run, step=step, path=path, record=record)

    # ------------------------------------------------------------------ checkpoints

    def commit_checkpoint(self, checkpoint_id: str) -> CheckpointInfo | None:
        """Commit the run's state now; a failure raises CheckpointNotSaved."""
        problem = checkpoint_id_problem(checkpoint_id)
        if problem is not None:
            raise CheckpointNotSaved(checkpoint_id, problem)
        with self._critical_section():
            try:
                # The lock orders the writes; the wait for durability is outside
                # it, so concurrent commits can share one sync (group commit).
                with self._commit_lock:
                    data: dict[str, Any] = {}
                    if _listened(self.hook.collect_checkpoint_data):
                        self.hook.collect_checkpoint_data(run=self.run, data=data)
                    self.run.checkpoint_data = data
                    info: CheckpointInfo | None = self.hook.commit_checkpoint(
                        run=self.run, checkpoint_id=checkpoint_id, state=self.run.state
                    )
                if info is not None:
                    info = self.hook.sync_checkpoint(run=self.run, checkpoint=info) or info
            except Exception as exc:
                raise CheckpointNotSaved(
                    checkpoint_id,
                    f"checkpoint '{checkpoint_id}' was NOT saved: {describe_error(exc)}",
                ) from None
        if info is not None and _listened(self.hook.after_checkpoint):
            self.hook.after_checkpoint(run=self.run, checkpoint=info)
        return info

    def save_progress(self, path: str, plugin: str, value: Any) -> None:
        """Set (or, with None, drop) a plugin's progress on a step and commit it now."""
        with self._progress_lock, self._critical_section():
            progress = self.run.progress
            entry = dict(progress.get(path, {}))
            if value is None:
                if plugin not in entry:
                    return
                entry.pop(plugin)
            else:
                entry[plugin] = normalize(value, f"progress.{plugin}")
            if entry:
                progress[path] = entry
            else:
                progress.pop(path, None)
            self.hook.commit_progress(run=self.run, progress=dict(progress))

    # ------------------------------------------------------------------ interrupts

    def interrupt(self) -> None:
        """Stop the run: no new step starts and every child process is terminated."""
        self.cancel.set()
        self.processes.terminate_all()

    def wait(self, seconds: float) -> None:
        """Sleep, unless the run is (or gets) interrupted: then raise Interrupted."""
        if self.cancel.wait(seconds):
            raise Interrupted(self._pending_signal or "SIGINT")

    # ------------------------------------------------------------------ signals

    def _critical_section(self) -> _CriticalSection:
        """Defer the stop signals while a checkpoint is being written."""
        return self._critical_guard

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

        previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class _CriticalSection:
    """``with executor._critical_section():`` defers the stop signals while a checkpoint
    is written; leaving the outermost one raises the signal that came meanwhile (on the
    main thread, and only when the block ended normally).

    A class rather than a ``contextlib.contextmanager`` generator: every checkpoint
    commit enters it, and a generator-based one costs four times as much.
    """

    __slots__ = ("_executor",)

    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    def __enter__(self) -> None:
        self._executor._critical += 1

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        executor = self._executor
        executor._critical -= 1
        if (
            kind is None
            and executor._critical == 0
            and executor._pending_signal
            and threading.current_thread() is threading.main_thread()
        ):
            raise Interrupted(executor._pending_signal)


def _listened(caller: Any) -> bool:
    """True when some plugin implements the notification hook ``caller``.

    Calling a hook nobody implements still costs pluggy about a microsecond
    (argument checks, a copy of the empty implementation list, the call loop):
    more than a trivial step's own work. The executor asks before each per-step
    notification, every time (a plugin registered mid-run is heard at once).
    """
    return bool(caller.get_hookimpls())


def _ledger_for(run: Run) -> ProcessLedger | None:
    """A resumable run records its process groups under ``.maverick/processes/``."""
    if not run.stash.get(RESUMABLE, False):
        return None
    from maverick_core.engine.config import state_dir

    # a store may accept run ids that are not file names
    name = sha256_hex(run.run_id.encode("utf-8", "surrogatepass"))[:32]
    return ProcessLedger(state_dir(run.config.root, "processes") / f"{name}.json")
