"""The step types that run in maverick's process: ``python`` and ``checkpoint``.

Apart from :mod:`.types` (``shell``) so that a workflow that uses neither builds
neither model (:mod:`maverick_core.engine.dsl.inprocess`) at start-up.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
from typing import TYPE_CHECKING, Any

from maverick_core.builtin.steps.types import _text
from maverick_core.engine.dsl.inprocess import CheckpointStep, PythonStep
from maverick_core.engine.errors import StepFailed
from maverick_core.engine.stash import StashKey

if TYPE_CHECKING:
    from collections.abc import Callable

    from maverick_core.engine.context import StepContext


def resolve_action(ctx: StepContext, action: str) -> Callable[..., Any]:
    """A registered action by name, or ``module:function``."""
    registered = ctx.config.pm.registries.actions.get(action)
    if registered is not None:
        function: Callable[..., Any] = registered.value
        return function
    module_name, sep, attr = action.partition(":")
    if not sep:
        known = ", ".join(sorted(ctx.config.pm.registries.actions)) or "none"
        raise StepFailed(f"unknown action '{action}' (registered: {known}; or use module:function)")
    root = str(ctx.config.root)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise StepFailed(f"action '{action}': cannot import {module_name}: {exc}") from None
    target: Any = module
    for part in attr.split("."):
        if part.startswith("_") or not hasattr(target, part):
            raise StepFailed(f"action '{action}': {module_name} has no '{attr}'")
        target = getattr(target, part)
    if not callable(target):
        raise StepFailed(f"action '{action}' is not callable")
    result: Callable[..., Any] = target
    return result


_ACTIONS: StashKey[dict[str, Callable[..., Any]]] = StashKey("python.actions")
"""The actions a run's ``python`` steps resolved, by name: each is looked up once per
run (registry, import, attribute walk), not once per step."""


def _takes_ctx(function: Callable[..., Any]) -> bool:
    """True when ``function`` declares a parameter named ``ctx``.

    ``inspect.signature`` costs more than a trivial step's whole run, so the
    answer is kept per function (an unhashable callable is asked every time).
    """
    try:
        return _takes_ctx_cached(function)
    except TypeError:
        return _declares_ctx(function)


def _declares_ctx(function: Callable[..., Any]) -> bool:
    try:
        return "ctx" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


_takes_ctx_cached = functools.lru_cache(maxsize=1024)(_declares_ctx)


class PythonStepType:
    """Call an action with the step's evaluated ``kwargs``.

    An action that declares a parameter named ``ctx`` also receives the
    :class:`~maverick_core.engine.context.StepContext`.
    """

    name = "python"
    model = PythonStep

    def run(self, ctx: StepContext, step: PythonStep) -> Any:
        """Call the action and return its result."""
        resolved = ctx.run.stash.setdefault(_ACTIONS, {})
        function = resolved.get(step.action)
        if function is None:
            function = resolved[step.action] = resolve_action(ctx, step.action)
        kwargs = ctx.render(dict(step.kwargs))
        if _takes_ctx(function):
            kwargs["ctx"] = ctx
        try:
            return function(**kwargs)
        except TypeError as exc:
            raise StepFailed(f"action '{step.action}': {exc}") from exc


class CheckpointStepType:
    """Commit a checkpoint once this step is recorded (persistence is the plugin's)."""

    name = "checkpoint"
    model = CheckpointStep

    def run(self, ctx: StepContext, step: CheckpointStep) -> dict[str, Any]:
        """Evaluate the id and ask for a commit after this step."""
        checkpoint_id = _text(ctx.render(step.checkpoint_id or step.name), "checkpoint_id")
        ctx.request_checkpoint(checkpoint_id)
        return {"checkpoint_id": checkpoint_id}
