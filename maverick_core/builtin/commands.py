"""Built-in plugin ``commands``: ``maverick fly``, ``maverick refuel``, ``maverick review``.

Each runs the workflow of its name, with options derived from the workflow's
inputs (see :mod:`maverick_core.devflow.commands`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maverick_core import hookimpl

if TYPE_CHECKING:
    import click


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``fly``, ``refuel`` and ``review``."""
    from maverick_core.devflow.commands import WORKFLOW_COMMANDS, WorkflowCommand

    for name, summary in WORKFLOW_COMMANDS.items():
        cli.add_command(WorkflowCommand(name, summary))
