"""What a step type sees: the StepType protocol, scopes and the step context.

A step type is a plugin object with a ``name``, a ``model`` (an attrs subclass of
:class:`~maverick_core.engine.dsl.model.Step`) and ``run(ctx, step)`` returning the
step's output. Composite types (loop, branch, subworkflow) run their children
through the context, so the executor itself knows no step type.
"""

from __future__ import annotations

from collections import ChainMap
from typing import TYPE_CHECKING, Any, Protocol

from maverick_core.engine.dsl.render import is_template, render_value
from maverick_core.engine.plainclass import PlainClass

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Mapping

    from maverick_core.engine.config import Config
    from maverick_core.engine.dsl.model import Step, Workflow
    from maverick_core.engine.executor import Executor
    from maverick_core.engine.processes import ProcessGroup
    from maverick_core.engine.run import CheckpointInfo, Run, StepRecord


class StepType(Protocol):
    """A step type contributed through ``register_step_types``."""

    @property
    def name(self) -> str:
        """The YAML ``type:`` this step type handles."""

    @property
    def model(self) -> type[Step]:
        """The attrs model (a subclass of :class:`Step`) the loader structures into."""

    def run(self, ctx: StepContext, step: Any) -> Any:
        """Run ``step`` and return its output (made plain data by the executor).

        Raise :class:`~maverick_core.engine.errors.StepFailed` to fail it with a message.
        """


class Scope(PlainClass):
    """What expressions see at one level of a run.

    ``steps`` holds ``{"output": ..., "status": ...}`` by step name for this level;
    a loop iteration's scope also sees its parent's steps.
    """

    # a plain class, not an attrs class: every run builds it (engine/plainclass.py)
    __slots__ = _FIELDS = (
        "workflow",
        "inputs",
        "run_info",
        "prefix",
        "steps",
        "parent",
        "item",
        "index",
    )

    def __init__(
        self,
        workflow: Workflow,
        inputs: dict[str, Any],
        run_info: dict[str, Any],
        prefix: str = "",
        steps: dict[str, dict[str, Any]] | None = None,
        parent: Scope | None = None,
        item: Any = None,
        index: int | None = None,
    ) -> None:
        self.workflow = workflow
        self.inputs = inputs
        self.run_info = run_info
        self.prefix = prefix
        self.steps: dict[str, dict[str, Any]] = {} if steps is None else steps
        self.parent = parent
        self.item = item
        self.index = index

    def names(self) -> dict[str, Any]:
        """The names visible to expressions here."""
        visible: Mapping[str, Any] = self.steps
        if self.parent is not None:
            visible = ChainMap(self.steps, self.parent.names()["steps"])
        names: dict[str, Any] = {"inputs": self.inputs, "steps": visible, "run": self.run_info}
        if self.index is not None:
            names["item"] = self.item
            names["index"] = self.index
        elif self.parent is not None:
            parent_names = self.parent.names()
            if "index" in parent_names:
                names["item"] = parent_names["item"]
                names["index"] = parent_names["index"]
        return names

    def iteration(self, prefix: str, item: Any, index: int) -> Scope:
        """A child scope for one loop iteration."""
        return Scope(self.workflow, self.inputs, self.run_info, prefix, {}, self, item, index)

    def nested(self, prefix: str) -> Scope:
        """A child scope that shares this scope's names (a branch's chosen step)."""
        return Scope(self.workflow, self.inputs, self.run_info, prefix, {}, self)


class StepContext(PlainClass):
    """What the executor offers one step: its place, its scope and the run's services.

    Step types and ``run_step`` wrappers use these methods; the executor behind
    them is private, so nothing outside the engine depends on how it works.

    :ivar attempts: attempts made so far, by a wrapper that retries: ``{attempt,
        error, duration}`` each; the executor keeps them in the step's record.
    """

    # a plain class, not an attrs class: every run builds it (engine/plainclass.py)
    __slots__ = _FIELDS = ("_executor", "scope", "path", "step", "checkpoints", "attempts")

    def __init__(
        self,
        executor: Executor,
        scope: Scope,
        path: str,
        step: Step,
        checkpoints: list[str] | None = None,
        attempts: list[dict[str, Any]] | None = None,
    ) -> None:
        self._executor = executor
        self.scope = scope
        self.path = path
        self.step = step
        self.checkpoints: list[str] = [] if checkpoints is None else checkpoints
        self.attempts: list[dict[str, Any]] = [] if attempts is None else attempts

    @property
    def run(self) -> Run:
        """The run."""
        return self._executor.run

    @property
    def config(self) -> Config:
        """The configuration."""
        return self._executor.run.config

    def render(self, value: Any) -> Any:
        """Evaluate the expressions in ``value`` against this scope."""
        if isinstance(value, str | list | dict) or is_template(value):
            return render_value(value, self.scope.names())
        return value

    def restored(self, path: str) -> StepRecord | None:
        """The completed record at ``path`` when restored from a checkpoint."""
        record = self._executor.run.state.get(path)
        return record if record is not None and record.done else None

    def record(self, path: str, record: StepRecord) -> None:
        """Record progress that is not a step (a loop header, an iteration)."""
        self._executor.run.state.set(path, record)

    def run_steps(self, steps: list[Step], scope: Scope) -> None:
        """Run ``steps`` in order in ``scope``; a failure raises WorkflowFailed."""
        self._executor.run_steps(steps, scope)

    def run_workflow(self, workflow: Workflow, inputs: dict[str, Any], prefix: str) -> Any:
        """Run another workflow's steps under ``prefix``; returns its outputs.

        Its own ``secret: true`` inputs are masked from then on, like the run's.
        """
        self._executor.run.secrets.add_inputs(workflow, inputs)
        return self._executor.run_workflow(workflow, inputs, prefix)

    def call_again(self, skip: object | str) -> Any:
        """Run this step once more through every ``run_step`` implementation but ``skip``.

        How a ``run_step`` wrapper retries: its own ``yield`` ran the first attempt,
        this runs another (the wrappers other than ``skip`` wrap it as they wrapped
        the first). Returns the step's output or raises its failure.

        :param skip: the calling plugin (the object registered) or its name.
        """
        pm = self.config.pm
        plugin = pm.get_plugin(skip) if isinstance(skip, str) else skip
        caller = pm.subset_hook_caller("run_step", remove_plugins=[plugin] if plugin else [])
        self.checkpoints.clear()
        return caller(run=self.run, step=self.step, path=self.path, ctx=self)

    def saved_progress(self, plugin: str) -> Any:
        """What ``plugin`` saved with :meth:`save_progress` for this step, or None.

        In a resumed run, this is what the interrupted process saved last.
        """
        return self._executor.run.progress.get(self.path, {}).get(plugin)

    def save_progress(self, plugin: str, value: Any) -> None:
        """Save ``plugin``'s in-flight progress on this step durably, right now.

        For what must survive a crash between checkpoints (a retry's attempt count):
        the ``commit_progress`` hook writes it (the checkpoint plugin keeps it with
        the run record) and a resumed run gets it back from :meth:`saved_progress`.
        ``value`` is small plain data; None removes the entry (do that when the step
        is finished with it).
        """
        self._executor.save_progress(self.path, plugin, value)

    def request_checkpoint(self, checkpoint_id: str) -> None:
        """Commit checkpoint ``checkpoint_id`` right after this step is recorded."""
        self.checkpoints.append(checkpoint_id)

    def commit_checkpoint(self, checkpoint_id: str) -> CheckpointInfo | None:
        """Commit a checkpoint now (the step's own record is not in it yet)."""
        return self._executor.commit_checkpoint(checkpoint_id)

    @property
    def processes(self) -> ProcessGroup:
        """The run's child processes: pass it to :func:`run_process` as ``group``."""
        return self._executor.processes

    def popen(self, *args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start a child process that is terminated if the run is interrupted.

        Prefer :func:`~maverick_core.engine.processes.run_process` with
        ``group=ctx.processes``: it also applies a timeout to the whole tree.
        """
        return self._executor.processes.popen(*args, **kwargs)

    def forget(self, proc: subprocess.Popen[bytes]) -> None:
        """Stop tracking a child process that has finished."""
        self._executor.processes.forget(proc)

    def cancelled(self) -> bool:
        """True once the run is being interrupted."""
        return self._executor.cancel.is_set()

    def interrupt(self) -> None:
        """Stop the run as an interrupt does: no new step starts, children are terminated.

        For a step type whose own waiting was interrupted (a parallel loop waiting
        for its workers): it calls this, then lets the interrupt go on unwinding.
        """
        self._executor.interrupt()

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or raise :class:`~maverick_core.engine.errors.Interrupted`
        as soon as the run is interrupted (also in a loop's worker thread)."""
        self._executor.wait(seconds)

    def notice(self, message: str) -> None:
        """Tell the user something through the reporters."""
        self._executor.run.config.pm.hook.on_notice(run=self._executor.run, message=message)
