"""The composite step types: ``loop``, ``branch`` and ``subworkflow``.

They run their children through the step context, so restoring a resumed run's
completed steps (and loop iterations) happens in the executor, not here.
"""

from __future__ import annotations

import concurrent.futures
import threading
from typing import TYPE_CHECKING, Any

from maverick_core.engine.discovery import load_called_workflow
from maverick_core.engine.dsl.composite import BranchStep, LoopStep, SubworkflowStep
from maverick_core.engine.errors import InputError, MaverickError, StepFailed
from maverick_core.engine.inputs import complete_inputs
from maverick_core.engine.normalize import normalize
from maverick_core.engine.run import NOT_DONE, Status, StepRecord, finished_iteration

if TYPE_CHECKING:
    from collections.abc import Callable

    from maverick_core.engine.context import StepContext
    from maverick_core.engine.dsl.model import Workflow


class LoopStepType:
    """Run the body once per item; with ``max_concurrency > 1`` in threads.

    The items are fixed at the loop's first run (recorded in the loop's header
    record), so a resumed loop iterates exactly what the interrupted one did.
    Results stay in item order whatever order iterations finish in.
    """

    name = "loop"
    model = LoopStep

    def run(self, ctx: StepContext, step: LoopStep) -> list[Any]:
        """Run every iteration that is not restored; return their results in order."""
        header = ctx.run.state.get(ctx.path)
        if header is not None and header.items is not None:
            items = header.items
        else:
            items = ctx.render(step.for_each)
            if isinstance(items, dict):
                items = list(items)
            if not isinstance(items, list):
                raise StepFailed(f"for_each must be a list, got {type(items).__name__}")
            items = normalize(items, f"steps.{step.name}.for_each")
            ctx.record(ctx.path, StepRecord(Status.RUNNING, items=items))
        concurrency = ctx.render(step.max_concurrency)
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise StepFailed(f"max_concurrency must be a positive integer, got {concurrency!r}")

        hook = ctx.config.pm.hook

        children = [child.name for child in step.steps]
        finished, done, rebuilt = _finished_iterations(ctx, len(items), children)
        hook.on_loop_start(run=ctx.run, step=step, path=ctx.path, total=len(items), done=done)
        if done == len(items):
            # a resume that restores every iteration: nothing to run, no call per item
            for index, record in rebuilt.items():
                ctx.record(f"{ctx.path}[{index}]", record)
            return finished
        stop = threading.Event()

        def iteration(index: int) -> Any:
            ipath = f"{ctx.path}[{index}]"
            output = finished[index]
            if output is not NOT_DONE:
                if index in rebuilt:
                    ctx.record(ipath, rebuilt[index])
                return output
            if stop.is_set():
                return None
            scope = ctx.scope.iteration(ipath + ".", items[index], index)
            try:
                ctx.run_steps(step.steps, scope)
            except Exception:
                stop.set()
                hook.on_iteration_finish(
                    run=ctx.run, step=step, path=ctx.path, index=index, status=Status.FAILED
                )
                raise
            result = {name: value["output"] for name, value in scope.steps.items()}
            ctx.record(ipath, StepRecord(Status.COMPLETED, result))
            if hook.on_iteration_finish.get_hookimpls():  # an empty hook call costs a µs
                hook.on_iteration_finish(
                    run=ctx.run, step=step, path=ctx.path, index=index, status=Status.COMPLETED
                )
            return result

        if concurrency == 1 or len(items) <= 1:
            return [iteration(i) for i in range(len(items))]
        return _run_parallel(ctx, iteration, len(items), concurrency)


def _finished_iterations(
    ctx: StepContext, count: int, children: list[str]
) -> tuple[list[Any], int, dict[int, StepRecord]]:
    """The outputs of the iterations a resume restores (by index,
    :data:`~maverick_core.engine.run.NOT_DONE` for the others), how many there are,
    and the records of those that must be rebuilt from their children's (see
    :func:`finished_iteration`).

    A resumed loop of ten thousand iterations asks the run's state for all their
    outputs at once (:meth:`~maverick_core.engine.run.RunState.done_outputs`),
    without making an object of any restored record.
    """
    path = ctx.path
    outputs, done = ctx.run.state.done_outputs([f"{path}[{index}]" for index in range(count)])
    rebuilt: dict[int, StepRecord] = {}
    if done == count:
        return outputs, done, rebuilt
    restored = ctx.restored
    for index, output in enumerate(outputs):
        if output is NOT_DONE:
            record = finished_iteration(restored, f"{path}[{index}]", children)
            if record is not None:
                rebuilt[index] = record
                outputs[index] = record.output
                done += 1
    return outputs, done, rebuilt


def _run_parallel(
    ctx: StepContext, iteration: Callable[[int], Any], count: int, concurrency: int
) -> list[Any]:
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=concurrency, thread_name_prefix="maverick-loop"
    )
    futures = [pool.submit(iteration, i) for i in range(count)]
    try:
        concurrent.futures.wait(futures)
    except BaseException:
        # interrupted while waiting: stop the children so the workers can finish
        ctx.interrupt()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    for error in errors:
        if not isinstance(error, Exception):
            raise error  # Interrupted from a worker wins over failures
    if errors:
        raise errors[0]
    return [f.result() for f in futures]


class BranchStepType:
    """Run the step of the first option whose ``when`` is true; output is its output."""

    name = "branch"
    model = BranchStep

    def run(self, ctx: StepContext, step: BranchStep) -> Any:
        """Pick and run one option (or none: output null)."""
        for option in step.options:
            if ctx.render(option.when):
                scope = ctx.scope.nested(ctx.path + ".")
                ctx.run_steps([option.step], scope)
                return scope.steps[option.step.name]["output"]
        return None


class SubworkflowStepType:
    """Run another workflow; its outputs are this step's output."""

    name = "subworkflow"
    model = SubworkflowStep

    def run(self, ctx: StepContext, step: SubworkflowStep) -> Any:
        """Load the called workflow, check its inputs, run it under this step's path."""
        workflow = self.load(ctx, step.workflow)
        given = ctx.render(dict(step.inputs))
        try:
            inputs = complete_inputs(workflow, given)
        except InputError as exc:
            raise StepFailed(f"workflow '{workflow.name}': {exc}") from None
        return ctx.run_workflow(workflow, inputs, ctx.path + ".")

    def load(self, ctx: StepContext, ref: str) -> Workflow:
        """Resolve ``ref``: a path relative to the calling file, or a workflow name."""
        try:
            return load_called_workflow(ctx.config, ctx.scope.workflow.source, ref)
        except MaverickError as exc:
            raise StepFailed(f"workflow '{ref}': {exc}") from None
