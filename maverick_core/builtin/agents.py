"""Built-in plugin ``agents``: the ``agent`` step type, the ``command`` backend, roles.

Implemented in :mod:`maverick_core.devflow.agents`, imported only when registries are
collected (a workflow is loaded), so starting the CLI stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable

from maverick_core import hookimpl


@hookimpl
def register_step_types(register: Callable[..., None]) -> None:
    """Register the ``agent`` step type."""
    from maverick_core.devflow.agents import AgentStepType

    register(AgentStepType())


@hookimpl
def register_agents(register: Callable[..., None]) -> None:
    """Register the ``command`` backend (prompt on stdin, answer on stdout)."""
    from maverick_core.devflow.agents import CommandAgent

    register("command", CommandAgent)


@hookimpl
def register_actions(register: Callable[..., None]) -> None:
    """Register ``agents.require``: fail before any work when a role has no agent."""
    from maverick_core.devflow.agents import check_roles

    register("agents.require", check_roles)
