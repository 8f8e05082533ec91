"""The typed ``register`` callbacks that the ``register_*`` hooks receive.

A plugin annotates its hook with these so a type checker tells it what to pass::

    @hookimpl
    def register_actions(register: RegisterAction) -> None:
        register("myplugin.greet", greet)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from maverick_core.engine.context import StepType
    from maverick_core.engine.storage import Project, Serializer, Store


class RegisterStepType(Protocol):
    """``register(step_type)``: a step type with ``name``, ``model`` and ``run``."""

    def __call__(self, step_type: StepType, /) -> None: ...


class RegisterAction(Protocol):
    """``register(name, function)``: a named action for ``python`` steps."""

    def __call__(self, name: str, function: Callable[..., Any], /) -> None: ...


class RegisterAgent(Protocol):
    """``register(name, factory)``: an agent backend; ``factory(settings)`` makes one."""

    def __call__(self, name: str, factory: Callable[..., Any], /) -> None: ...


class RegisterProvider(Protocol):
    """``register(name, factory)``: an issue/pull-request provider."""

    def __call__(self, name: str, factory: Callable[..., Any], /) -> None: ...


class RegisterStore(Protocol):
    """``register(scheme, factory)``: ``factory(url, project)`` opens a store."""

    def __call__(self, scheme: str, factory: Callable[[str, Project], Store], /) -> None: ...


class RegisterSerializer(Protocol):
    """``register(serializer)``: a serializer with ``name``, ``dumps`` and ``loads``."""

    def __call__(self, serializer: Serializer, /) -> None: ...


class RegisterWorkflowSource(Protocol):
    """``register(name, directory, precedence)``: lower precedence numbers win."""

    def __call__(self, name: str, directory: Path, precedence: int, /) -> None: ...
