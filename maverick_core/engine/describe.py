"""Looking at a run from outside it: the configured store and ``describe_run``.

What a run looks like is the business of the plugin that persisted it (the built-in
``checkpoint`` plugin answers the ``describe_run`` hook); this module only opens the
store and asks, so commands and viewers (``maverick runs show``, ``maverick ui``)
need nothing but the public API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from maverick_core.engine.errors import MaverickError

if TYPE_CHECKING:
    from maverick_core.engine.config import Config
    from maverick_core.engine.storage import Store

DEFAULT_STORE = "file:"


def configured_store(config: Config) -> Store:
    """Open the store the configuration names (``--store``, ``MAVERICK_STORE``,
    ``store:`` in maverick.yaml; the file store by default). The caller closes it."""
    from maverick_core.engine.pluginmanager import open_store

    url = config.setting("store", env="MAVERICK_STORE", default=DEFAULT_STORE)
    if not isinstance(url, str):
        raise MaverickError(f"store must be a URL string, got {url!r}")
    return open_store(config.pm, url, config.project)


def describe_run(config: Config, run_id: str, store: Store | None = None) -> dict[str, Any]:
    """Everything a person wants to see about one run, as plain, secret-masked data.

    ``store`` defaults to the configured one (opened and closed here). The keys are
    documented in docs/design-notes.md ("Run history"); ``maverick runs show --json``
    prints exactly this.

    :raises MaverickError: for an unknown run id, or when no plugin keeps runs.
    """
    opened = store if store is not None else configured_store(config)
    try:
        described: dict[str, Any] | None = config.pm.hook.describe_run(
            config=config, store=opened, run_id=run_id
        )
    finally:
        if store is None:
            opened.close()
    if described is None:
        raise MaverickError("no plugin keeps runs (is the checkpoint plugin blocked?)")
    return described
