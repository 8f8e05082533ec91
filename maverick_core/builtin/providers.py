"""Built-in plugin ``providers``: issues and pull requests (``github`` via gh, ``local``).

Implemented in :mod:`maverick_core.devflow.providers` (imported when needed); a
provider is chosen by ``provider:`` in maverick.yaml.
"""

from __future__ import annotations

from collections.abc import Callable

from maverick_core import hookimpl


@hookimpl
def register_actions(register: Callable[..., None]) -> None:
    """Register ``provider.list_issues``, ``provider.open_pull_request``, ``provider.describe``."""
    from maverick_core.devflow import providers

    register("provider.list_issues", providers.list_issues)
    register("provider.open_pull_request", providers.open_pull_request)
    register("provider.describe", providers.describe)


@hookimpl
def register_providers(register: Callable[..., None]) -> None:
    """Register the ``github`` and ``local`` providers."""
    from maverick_core.devflow.providers import GitHubProvider, LocalProvider

    register("github", GitHubProvider)
    register("local", LocalProvider)
