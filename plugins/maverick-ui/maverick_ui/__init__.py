"""maverick-ui: ``maverick ui``, a local, read-only run viewer in the browser.

A third-party-style plugin: it reaches maverick only through the ``register_commands``
hook and :mod:`maverick_core.api`. Its command loads Starlette, Jinja2 and uvicorn when
it runs, so ``maverick --help`` imports none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maverick_core import hookimpl

if TYPE_CHECKING:
    import click


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``maverick ui`` (loaded when it runs)."""
    from maverick_core.api import LazyCommand

    cli.add_command(
        LazyCommand(
            "ui",
            "Browse the store's runs in the browser: timelines, diagrams, live progress.",
            "maverick_ui.command:ui_command",
        )
    )
