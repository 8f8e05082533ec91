"""Built-in plugin ``checkpoint``: persistence and resume, through hooks only.

Blocking it (``-p no:checkpoint``) leaves runs in memory and makes ``--resume`` a
clear error. The work is in :mod:`maverick_core.builtin.checkpoint.journal`, imported when a
run needs it so that commands like ``maverick --help`` stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maverick_core import hookimpl

if TYPE_CHECKING:
    import click

    from maverick_core.engine.config import Config
    from maverick_core.engine.run import CheckpointInfo, Run, RunOutcome, RunRequest, RunState


@hookimpl
def open_run(config: Config, request: RunRequest) -> Run:
    """Create a run record, or find, check and lock the run to resume."""
    from maverick_core.builtin.checkpoint import journal as checkpointing

    return checkpointing.open_run(config, request)


@hookimpl
def commit_checkpoint(run: Run, checkpoint_id: str, state: RunState) -> CheckpointInfo | None:
    """Append the changes since the previous commit to the run's journal."""
    from maverick_core.builtin.checkpoint import journal as checkpointing

    return checkpointing.commit_checkpoint(run, checkpoint_id, state)


@hookimpl
def workflow_finish(run: Run, outcome: RunOutcome) -> None:
    """Record how the run ended and release its lock."""
    from maverick_core.builtin.checkpoint import journal as checkpointing

    checkpointing.workflow_finish(run, outcome)


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``maverick runs``."""
    from maverick_core.builtin.checkpoint.commands import runs

    cli.add_command(runs)
