"""Hook specifications: the public contract between maverick and its plugins.

Every hook is called with keyword arguments. A plugin implements any subset with
``@maverick_core.hookimpl`` and may accept fewer arguments than the spec names.
Hooks marked "Stops at first non-None result" are ``firstresult`` hooks.

The executor calls these hooks as it walks a workflow; it does no printing, no
persistence and knows no step type. Those are all plugins: see
``maverick_core/builtin/`` for the built-in ones and ``docs/hooks.md`` for the
reference with examples.

Naming scheme (hooks added from now on follow it; the design card's
``before_step``, ``after_step`` and ``on_resume`` keep their names):

- ``register_<things>(register)``: contribute named things to a registry (step
  types, actions, agents, providers, stores, serializers, expression functions,
  workflow sources); collected once per kind, when first needed.
- ``add_<things>(add)``: declare what the user can write (command-line options,
  ``maverick.yaml`` sections); called before the values are read.
- ``configure`` / ``open_run`` / ``commit_checkpoint`` / ``verify_resume``: a verb
  for a hook that does the work itself (``firstresult`` where one answer wins).
- ``workflow_<event>``, ``on_<event>``, ``before_<x>``/``after_<x>``: notifications
  of something that happened; they return nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from maverick_core.engine.config import Config
    from maverick_core.engine.context import StepContext
    from maverick_core.engine.dsl.model import Step
    from maverick_core.engine.registries import (
        AddOption,
        RegisterAction,
        RegisterAgent,
        RegisterExpressionFunction,
        RegisterProvider,
        RegisterSerializer,
        RegisterStepType,
        RegisterStore,
        RegisterWorkflowSource,
    )
    from maverick_core.engine.run import (
        CheckpointInfo,
        Run,
        RunOutcome,
        RunRequest,
        RunState,
        StepRecord,
    )
    from maverick_core.engine.settings import AddSettings
    from maverick_core.engine.storage import Store

hookspec = pluggy.HookspecMarker("maverick")


# -------------------------------------------------------------------------
# Registries: each kind is collected once, when first needed; each takes ``register``.
# -------------------------------------------------------------------------


@hookspec
def register_step_types(register: RegisterStepType) -> None:
    """Register step types (``shell``, ``loop``, ...).

    :param register: ``register(step_type)`` where ``step_type`` has ``name``
        (the YAML ``type:``), ``model`` (an attrs class deriving from
        :class:`maverick_core.engine.dsl.model.Step`) and ``run(ctx, step)`` returning the
        step's output. See :class:`maverick_core.engine.context.StepType`.
    """


@hookspec
def register_actions(register: RegisterAction) -> None:
    """Register named actions for ``python`` steps.

    :param register: ``register(name, function)``; ``function(**kwargs)`` returns the
        step's output.
    """


@hookspec
def register_agents(register: RegisterAgent) -> None:
    """Register agent backends for ``agent`` steps.

    :param register: ``register(name, factory)``; ``factory(config: dict)`` returns an
        object with ``ask(prompt: str, *, role: str, env: dict) -> str``. ``ask`` may
        also accept ``cwd`` (the project root), ``processes`` (the run's process group,
        for ``run_process(..., group=processes)``: an interrupt terminates its children),
        ``popen`` (starts a child process in that group) and ``timeout`` (seconds); they
        are passed only to backends whose ``ask`` declares them.
    """


@hookspec
def register_providers(register: RegisterProvider) -> None:
    """Register issue and pull-request providers (``provider:`` in maverick.yaml).

    :param register: ``register(name, factory)``; ``factory(config, runner)`` returns a
        provider with ``list_issues``, ``find_pull_request``, ``create_pull_request``
        and ``pull_request_changes`` (see
        :class:`maverick_core.devflow.providers.Provider`); ``runner`` runs its
        commands inside the run's process group.
    """


@hookspec
def register_stores(register: RegisterStore) -> None:
    """Register checkpoint stores by URL scheme.

    :param register: ``register(scheme, factory)``; ``factory(url, project)`` returns a
        :class:`maverick_core.engine.storage.Store`.
    """


@hookspec
def register_serializers(register: RegisterSerializer) -> None:
    """Register checkpoint serializers.

    :param register: ``register(serializer)``; the serializer has ``name``,
        ``dumps(data) -> bytes`` and ``loads(bytes) -> data``.
    """


@hookspec
def register_expression_functions(register: RegisterExpressionFunction) -> None:
    """Register functions that ``${{ }}`` expressions may call.

    The sandbox holds for them: called by name with positional arguments only,
    each a deep plain-data copy; the result must be plain data. A name must be a
    public identifier and may not replace a built-in function (``length``,
    ``format``, ...): either is an error naming the plugin. Calls are never
    computed at load time, even with constant arguments.

    :param register: ``register(name, function)``; ``function(*args)`` returns the
        value, or raises to fail the expression (the message names the function).
    """


@hookspec
def register_workflow_sources(register: RegisterWorkflowSource, config: Config) -> None:
    """Register places where workflows are found by name.

    :param register: ``register(name, directory, precedence)``; lower precedence
        numbers win (project 10, user 20, plugins 30 by default, built-in 40).
    :param config: the run's configuration (project root, options).
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands or groups to the ``maverick`` CLI.

    Called by every command, ``--help`` included: add a
    :class:`~maverick_core.engine.cli.LazyCommand` (name, summary, ``"module:attr"``)
    for a command whose module is costly to import; it loads when it runs.

    :param cli: the top-level click group; call ``cli.add_command(...)``.
    """


# -------------------------------------------------------------------------
# Configuration
# -------------------------------------------------------------------------


@hookspec
def add_run_options(add: AddOption) -> None:
    """Add command-line options to ``maverick run`` and the workflow commands.

    Called once per invocation, when one of those commands parses its command line
    (``maverick fly --help`` lists them). Values reach plugins as
    ``config.getoption(name)`` (also ``config.options[name]``), already set when
    ``configure`` is called. An option whose name or flag is taken (by a run option
    or another plugin) is an error naming the plugin.

    :param add: ``add(*flags, **attributes)`` with :class:`click.Option`'s arguments,
        e.g. ``add("--budget", type=float, help="...")``.
    """


@hookspec
def add_settings(add: AddSettings) -> None:
    """Declare a plugin's own top-level ``maverick.yaml`` sections, with a schema.

    ``maverick.yaml`` is checked against every declared section whenever a command
    reads it: an unknown section or key, or a value of the wrong type, is an error
    naming ``maverick.yaml:line:col`` (with a did-you-mean), exit 2. Two plugins
    declaring one section is an error naming both. Read the values from
    ``config.settings[name]`` (absent or None when the user wrote none).

    :param add: ``add(name, schema, help="")``; ``schema`` is a JSON-Schema subset
        (``type``, ``properties``, ``additionalProperties``, ``required``, ``items``,
        ``anyOf``, ``enum``, ``minimum``, ``exclusiveMinimum``) in which an object
        with ``properties`` refuses other keys unless ``additionalProperties`` allows
        them (see :mod:`maverick_core.engine.settings`).
    """


@hookspec(historic=True)
def configure(config: Config) -> None:
    """Called once after all plugins are loaded and the project is known.

    Historic: a plugin registered later (``config.pm.add_plugin(...)``, as the
    terminal reporter is) gets it at registration, with the same configuration.

    :param config: the configuration (project root, ``maverick.yaml`` settings,
        CLI options, the plugin manager).
    """


# -------------------------------------------------------------------------
# Runs: opening, starting, finishing
# -------------------------------------------------------------------------


@hookspec(firstresult=True)
def open_run(config: Config, request: RunRequest) -> Run | None:
    """Create the :class:`~maverick_core.engine.run.Run` that will execute, new or resumed.

    The checkpoint plugin implements this to create a run record, or to find,
    check and lock a run to resume (raising
    :class:`~maverick_core.engine.errors.ResumeRefused` with the reason when it cannot).
    The core's fallback (``trylast``) makes a fresh in-memory run and refuses
    ``--resume`` when no plugin handled it.

    Stops at first non-None result.

    :param config: the configuration.
    :param request: what the user asked for: workflow, inputs, resume options.
    :returns: the run, or None to let another plugin decide.
    """


@hookspec
def on_resume(run: Run, state: RunState) -> None:
    """Called once when a resumed run starts, before the first step runs again.

    Steps restored from the checkpoint get no ``before_step``/``after_step``.

    :param run: the resumed run (``run.resumed_from`` names the checkpoint).
    :param state: the restored state: every completed step's record.
    """


@hookspec
def workflow_start(run: Run) -> None:
    """Called when a run (fresh or resumed) starts executing its workflow.

    :param run: the run.
    """


@hookspec
def workflow_finish(run: Run, outcome: RunOutcome) -> None:
    """Called last for every run that started, whatever happened.

    :param run: the run.
    :param outcome: ``status`` (completed, failed, interrupted), ``outputs``,
        ``error`` and ``duration``.
    """


@hookspec
def on_workflow_error(run: Run, error: BaseException) -> None:
    """Called when a run fails or is interrupted, before ``workflow_finish``.

    :param run: the run.
    :param error: the step failure, checkpoint failure or
        :class:`~maverick_core.engine.errors.Interrupted`.
    """


@hookspec(firstresult=True)
def describe_run(config: Config, store: Store, run_id: str) -> dict[str, Any] | None:
    """Everything a person wants to see about one run in ``store``, as plain data.

    Implemented by the checkpoint plugin from what it recorded (the run record, its
    attempts, the journal and the final state); ``maverick runs show --json`` prints
    the answer and viewers render it. Values are secret-masked (they were masked
    when stored).

    Stops at first non-None result.

    :param config: the configuration (plugins, serializers).
    :param store: the open store that holds the run.
    :param run_id: the run's id.
    :returns: the description (see ``maverick_core.api.describe_run``), or None
        when this plugin does not keep runs.
    :raises MaverickError: for a run id the store does not know.
    """


# -------------------------------------------------------------------------
# Steps
# -------------------------------------------------------------------------


@hookspec
def before_step(run: Run, step: Step, path: str) -> None:
    """Called before a step runs (not for skipped or restored steps).

    :param run: the run.
    :param step: the step's model (``step.name``, ``step.type``, ...).
    :param path: the step's path in the run, e.g. ``build``, ``each[2].work``,
        ``sub.inner``.
    """


@hookspec(firstresult=True)
def run_step(run: Run, step: Step, path: str, ctx: StepContext) -> Any:
    """Run one step and return its output: wrap this to act around every step.

    The essential ``core`` plugin implements it (``trylast``) by calling the step
    type registered for ``step.type``. A plugin wraps it the way pytest's plugins
    wrap ``pytest_runtest_call``::

        @hookimpl(wrapper=True)
        def run_step(run, step, path, ctx):
            started = time.monotonic()
            try:
                return (yield)
            finally:
                timings[path] = time.monotonic() - started

    ``result = yield`` returns the step's output, or raises what the step raised:
    :class:`~maverick_core.engine.errors.StepFailed` or any other exception (the
    step fails), :class:`~maverick_core.engine.errors.WorkflowFailed` (a step nested
    in this one failed) or :class:`~maverick_core.engine.errors.Interrupted` (a stop
    signal; a ``BaseException``, so ``except Exception`` never swallows it). A
    wrapper may return a different output, raise (the step fails with that
    exception), or run the step again with ``ctx.call_again(skip=<itself>)`` (how
    the built-in ``retry`` plugin retries). The executor records what comes out of
    the outermost wrapper; ``before_step`` and ``after_step`` are called once
    around all of it.

    Stops at first non-None result: a plugin replacing how some steps run returns
    their output; None lets the next implementation (finally the step type) run.

    :param run: the run.
    :param step: the step's model (``step.name``, ``step.type``, its fields).
    :param path: the step's path in the run, e.g. ``build``, ``each[2].work``.
    :param ctx: the step's :class:`~maverick_core.engine.context.StepContext`
        (``ctx.render``, ``ctx.notice``, ``ctx.wait``, ``ctx.call_again``, ...).
    :returns: the step's output (made plain data by the executor).
    """


@hookspec
def after_step(run: Run, step: Step, path: str, record: StepRecord) -> None:
    """Called after a step ran, whether it completed or failed.

    :param run: the run.
    :param step: the step's model.
    :param path: the step's path.
    :param record: ``status`` (completed or failed), ``output`` (plain data),
        ``error`` and ``duration``.
    """


@hookspec
def on_step_error(run: Run, step: Step, path: str, error: BaseException) -> None:
    """Called when a step fails, before its ``after_step`` and the workflow error.

    :param run: the run.
    :param step: the step's model.
    :param path: the step's path.
    :param error: the exception that failed it.
    """


@hookspec
def on_step_skipped(run: Run, step: Step, path: str, reason: str) -> None:
    """Called for a step whose ``when`` was false (it gets no ``before_step``).

    :param run: the run.
    :param step: the step's model.
    :param path: the step's path.
    :param reason: why it was skipped (the ``when`` expression).
    """


@hookspec
def on_loop_start(run: Run, step: Step, path: str, total: int, done: int) -> None:
    """Called when a loop begins iterating.

    :param run: the run.
    :param step: the loop step's model.
    :param path: the loop's path.
    :param total: how many iterations the loop has.
    :param done: how many were restored from a checkpoint (not run again).
    """


@hookspec
def on_iteration_finish(run: Run, step: Step, path: str, index: int, status: str) -> None:
    """Called when one loop iteration ends.

    :param run: the run.
    :param step: the loop step's model.
    :param path: the loop's path.
    :param index: the iteration's index.
    :param status: completed or failed.
    """


# -------------------------------------------------------------------------
# Checkpoints
# -------------------------------------------------------------------------


@hookspec(firstresult=True)
def commit_checkpoint(run: Run, checkpoint_id: str, state: RunState) -> CheckpointInfo | None:
    """Persist the run's state as checkpoint ``checkpoint_id``.

    Implemented by the checkpoint plugin. An exception fails the run loudly; a
    checkpoint is never reported as saved unless this returned.

    Stops at first non-None result.

    :param run: the run.
    :param checkpoint_id: the evaluated id (safe characters only).
    :param state: the run's state; ``state.take_changes()`` returns the records that
        changed since the previous commit (and, with ``full=True``, a copy of all of
        them taken at the same instant, for a snapshot).
    :returns: what was written, or None when no plugin persists checkpoints.
    """


@hookspec(firstresult=True)
def sync_checkpoint(run: Run, checkpoint: CheckpointInfo) -> CheckpointInfo | None:
    """Wait until the checkpoint ``commit_checkpoint`` just wrote is durable.

    Called right after ``commit_checkpoint`` returned, outside the lock that orders
    commits, so that the commits of a parallel loop's iterations can share one sync
    (group commit): ``commit_checkpoint`` may write without syncing and leave the
    sync to this hook. An exception fails the checkpoint as one from
    ``commit_checkpoint`` does; ``after_checkpoint`` is called only after this
    returned. Signals are deferred while it runs.

    Stops at first non-None result.

    :param run: the run.
    :param checkpoint: what ``commit_checkpoint`` returned.
    :returns: the checkpoint as now durable (its ``duration`` including the wait),
        or None when there was nothing to wait for.
    """


@hookspec(firstresult=True)
def commit_progress(run: Run, progress: dict[str, dict[str, Any]]) -> bool | None:
    """Durably save the run's in-flight progress now, between checkpoints.

    Called when a plugin saves progress on an unfinished step
    (``ctx.save_progress``; the ``retry`` plugin does before each new attempt). The
    checkpoint plugin implements it by keeping ``progress`` with the run record, and
    gives it back as ``run.progress`` when the run resumes from its latest
    checkpoint. Unlike a checkpoint, it restores no step: a resumed step only finds
    its plugins' progress. Signals are deferred while it runs.

    Stops at first non-None result.

    :param run: the run.
    :param progress: the whole progress, step path -> plugin name -> plain data
        (empty when nothing is in flight any more).
    :returns: True once saved, or None when no plugin persists runs.
    """


@hookspec
def collect_checkpoint_data(run: Run, data: dict[str, Any]) -> None:
    """Add a plugin's own plain data to the checkpoint being committed.

    Write under a key of your own: ``data["myplugin"] = {...}``. The data comes back
    to ``verify_resume`` when the run is resumed.

    :param run: the run.
    :param data: the mapping to add to.
    """


@hookspec
def verify_resume(run: Run, data: dict[str, Any]) -> str | None:
    """Check a plugin's checkpoint data before a run is resumed.

    Raise :class:`~maverick_core.engine.errors.ResumeRefused` to refuse the resume (the
    message is shown, exit 2); return a string to warn and go on.

    :param run: the run about to resume.
    :param data: what ``collect_checkpoint_data`` stored at the restored checkpoint.
    :returns: a warning, or None.
    """


@hookspec
def after_checkpoint(run: Run, checkpoint: CheckpointInfo) -> None:
    """Called after a checkpoint was durably committed.

    :param run: the run.
    :param checkpoint: ``checkpoint_id``, ``seq``, ``size`` (bytes), ``duration``.
    """


# -------------------------------------------------------------------------
# Agents: sessions, activity and cost of agent calls
# -------------------------------------------------------------------------


@hookspec
def on_agent_session(run: Run, path: str, session: dict[str, Any] | None) -> None:
    """An agent call at ``path`` learnt its session id, or ended.

    Called as soon as a coding-agent CLI names its session (Claude Code's ``init``
    event, Codex's ``thread.started``), and with ``session=None`` when the call
    answered or failed for good. The checkpoint plugin keeps the record durably, so
    a run killed, interrupted or timed out during the call continues that session
    when resumed (see ``load_agent_records``) instead of paying for it again.

    :param run: the run.
    :param path: the step's path.
    :param session: ``session_id``, ``role``, ``backend``, ``digest`` (of the prompt)
        and ``fingerprint`` (of the step's definition), as plain data; None when
        nothing is in flight at ``path`` any more.
    """


@hookspec
def on_agent_activity(run: Run, path: str, role: str, action: dict[str, Any]) -> None:
    """An agent working at ``path`` did something: edited a file, ran a command, used a tool.

    Reporters show it under the running step; the whole list also ends up in the
    step's output (``activity``, the last 200 actions).

    :param run: the run.
    :param path: the step's path.
    :param role: the agent role (``implementer``, ``reviewer``, ...).
    :param action: ``kind`` (``edit``, ``command`` or ``tool``) and ``detail`` (the
        file, the command line, the tool and its target).
    """


@hookspec
def on_agent_usage(run: Run, path: str, usage: dict[str, Any]) -> None:
    """An agent call at ``path`` answered: what it used and cost.

    Reporters add it to the step line and the run's summary; the checkpoint plugin
    keeps it in the run record at once (money spent before a crash stays counted),
    so ``maverick runs show`` can total it and ``--max-cost`` can stop the run.

    :param run: the run.
    :param path: the step's path.
    :param usage: plain data: ``path``, ``role``, ``backend``, ``model``,
        ``session_id``, ``turns``, ``input_tokens``, ``output_tokens``,
        ``cached_tokens``, ``cost_usd`` (None when unknown), ``duration`` (seconds)
        and ``continued`` (true when it continued an interrupted session).
    """


@hookspec(firstresult=True)
def load_agent_records(run: Run) -> dict[str, Any] | None:
    """What earlier attempts of ``run`` recorded about its agent calls.

    Implemented by the checkpoint plugin from what ``on_agent_usage`` and
    ``on_agent_session`` stored and the ``--max-cost`` the run was given; a fresh
    run has no calls.

    Stops at first non-None result.

    :param run: the run (resumed or fresh).
    :returns: ``{"calls": [usage, ...], "sessions": {path: session},
        "max_cost_usd": the budget the run was started or resumed with}``, or None.
    """


# -------------------------------------------------------------------------
# Reporting
# -------------------------------------------------------------------------


@hookspec
def on_notice(run: Run | None, message: str) -> None:
    """Something the user should know that is not an error.

    Plugins call it (a lock takeover, a fallback to an older intact checkpoint,
    ``--force`` overriding a refusal); reporters print it.

    :param run: the run it concerns, if any.
    :param message: one line.
    """
