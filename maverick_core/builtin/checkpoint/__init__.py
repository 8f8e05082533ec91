"""Built-in plugin ``checkpoint``: persistence and resume, through hooks only.

Blocking it (``-p no:checkpoint``) leaves runs in memory and makes ``--resume`` a
clear error. The work is in :mod:`maverick_core.builtin.checkpoint.journal`, imported when a
run needs it so that commands like ``maverick --help`` stay fast.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from maverick_core import hookimpl

if TYPE_CHECKING:
    from types import ModuleType

    import click

    from maverick_core.engine.config import Config
    from maverick_core.engine.dsl.model import Step
    from maverick_core.engine.run import (
        CheckpointInfo,
        Run,
        RunOutcome,
        RunRequest,
        RunState,
        StepRecord,
    )
    from maverick_core.engine.storage import Store


@functools.cache
def _journal() -> ModuleType:
    """The journal module, imported once: the per-step hooks below call this every step,
    and a cached call costs a tenth of an import statement's module lookup."""
    from maverick_core.builtin.checkpoint import journal

    return journal


@hookimpl
def open_run(config: Config, request: RunRequest) -> Run:
    """Create a run record, or find, check and lock the run to resume."""
    from maverick_core.builtin.checkpoint import journal as checkpointing

    return checkpointing.open_run(config, request)


@hookimpl
def commit_checkpoint(run: Run, checkpoint_id: str, state: RunState) -> CheckpointInfo | None:
    """Append the changes since the previous commit to the run's journal."""
    info: CheckpointInfo | None = _journal().commit_checkpoint(run, checkpoint_id, state)
    return info


@hookimpl
def sync_checkpoint(run: Run, checkpoint: CheckpointInfo) -> CheckpointInfo | None:
    """Wait until the checkpoint is durable (sharing a sync with concurrent commits)."""
    synced: CheckpointInfo | None = _journal().sync_checkpoint(run, checkpoint)
    return synced


@hookimpl
def commit_progress(run: Run, progress: dict[str, dict[str, Any]]) -> bool | None:
    """Keep the in-flight progress with the run record, durably."""
    from maverick_core.builtin.checkpoint import journal as checkpointing

    return checkpointing.commit_progress(run, progress)


@hookimpl
def after_step(run: Run, step: Step, path: str, record: StepRecord) -> None:
    """Show the finished step in the run record within half a second (off its path)."""
    # the executor commits it right after this hook: the checkpoint shows it (the status
    # is a StrEnum: compared as text, so that `maverick --help` imports no enum module)
    if step.checkpoint and record.status == "completed":
        return
    _journal().note_step(run, path, record)


@hookimpl
def workflow_finish(run: Run, outcome: RunOutcome) -> None:
    """Record how the run ended and release its lock."""
    from maverick_core.builtin.checkpoint import journal as checkpointing

    checkpointing.workflow_finish(run, outcome)


@hookimpl(tryfirst=True)
def on_agent_usage(run: Run, usage: dict[str, Any]) -> None:
    """Keep the call's usage in the run record at once: spent money stays counted."""
    from maverick_core.builtin.checkpoint import journal as checkpointing

    checkpointing.record_agent_usage(run, usage)


@hookimpl(tryfirst=True)
def on_agent_session(run: Run, path: str, session: dict[str, Any] | None) -> None:
    """Keep the in-flight agent session durably (before reporters tell about it)."""
    from maverick_core.builtin.checkpoint import journal as checkpointing

    checkpointing.record_agent_session(run, path, session)


@hookimpl
def load_agent_records(run: Run) -> dict[str, Any] | None:
    """The agent calls and in-flight sessions earlier attempts of the run recorded."""
    from maverick_core.builtin.checkpoint import journal as checkpointing

    return checkpointing.agent_records(run)


@hookimpl
def describe_run(config: Config, store: Store, run_id: str) -> dict[str, Any] | None:
    """The run's record, attempts, steps (final state) and checkpoints, as plain data."""
    from maverick_core.builtin.checkpoint import history

    return history.describe_run(config, store, run_id)


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``maverick runs`` (imported when it runs: ``--help`` stays cheap)."""
    from maverick_core.engine.cli import LazyCommand

    cli.add_command(
        LazyCommand(
            "runs",
            "Runs kept in the checkpoint store.",
            "maverick_core.builtin.checkpoint.commands:runs",
        )
    )
