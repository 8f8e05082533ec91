"""Built-in plugin ``terminal``: the only plugin that prints during a run.

Like pytest's terminal reporter it is an ordinary plugin (block it with
``-p no:terminal``). ``--quiet`` prints only problems and the summary;
``--json`` prints one JSON event per line instead (the machine interface).
The reporters live in :mod:`.reporter`, imported when a run configures them, so
commands that run nothing (``maverick --help``) never load them.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from maverick_core import hookimpl

if TYPE_CHECKING:
    from maverick_core.engine.config import Config


@hookimpl
def configure(config: Config) -> None:
    """Register the reporter that fits the options (--json, --quiet).

    It is registered like any plugin (``add_plugin``), so ``configure`` being
    historic reaches it too, and it is listed among the run's plugins.
    """
    from maverick_core.builtin.terminal.reporter import JsonReporter, TerminalReporter
    from maverick_core.engine.pluginmanager import PluginInfo

    reporter: object
    if config.options.get("json"):
        reporter = JsonReporter(sys.stdout)
    else:
        reporter = TerminalReporter(config, sys.stdout, bool(config.options.get("quiet")))
    config.pm.add_plugin(reporter, PluginInfo("terminalreporter", "built-in", __name__))
