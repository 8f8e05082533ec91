"""The registries: what plugins contribute through the ``register_*`` hooks.

Each kind (step types, actions, agents, providers, stores, serializers,
expression functions) is collected the first time something asks for it, by
calling its hook through pluggy, so asking for a store imports no step type and
a plugin's implementation modules load only when their kind is needed.

Which plugin registered what is kept (``maverick plugins`` shows it). To know it
without reaching into pluggy's internals, each plugin's implementations are
called on their own through :meth:`pluggy.PluginManager.subset_hook_caller`,
plugins in registration order (built-ins first, ``tryfirst`` implementations
last), so a later registration of the same name overrides an earlier one. That
is a public pluggy call: hook-call monitoring (tracing) sees every call, pluggy
passes each implementation the spec arguments it declares, and a plugin that
only *wraps* a ``register_*`` hook (``wrapper=True``) stays in every subset, so
it wraps every plugin's registrations.

A plugin annotates its hook with the typed callbacks below so a type checker
tells it what to pass::

    @hookimpl
    def register_actions(register: RegisterAction) -> None:
        register("myplugin.greet", greet)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Protocol, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import pluggy

    from maverick_core.engine.context import StepContext, StepType
    from maverick_core.engine.dsl.model import Step
    from maverick_core.engine.storage import Project, Serializer, Store

T = TypeVar("T")


# ----------------------------------------------------------------------------- callbacks


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


class RegisterExpressionFunction(Protocol):
    """``register(name, function)``: ``name(...)`` becomes callable in ``${{ }}``."""

    def __call__(self, name: str, function: Callable[..., Any], /) -> None: ...


class AddOption(Protocol):
    """``add(*flags, **attributes)``: a ``click.Option`` for ``run`` and the workflow commands.

    ``add("--budget", type=float, help="Stop when agent calls cost more (USD).")``;
    the value reaches plugins as ``config.getoption("budget")``.
    """

    def __call__(self, *flags: str, **attributes: Any) -> None: ...


class RegisterWorkflowSource(Protocol):
    """``register(name, directory, precedence)``: lower precedence numbers win."""

    def __call__(self, name: str, directory: Path, precedence: int, /) -> None: ...


# ----------------------------------------------------------------------------- lazy step types


class LazyStepType:
    """A step type named now and imported when a workflow first uses it.

    ``register(LazyStepType("agent", "myplugin.agents:AgentStepType"))`` registers
    the YAML ``type: agent`` without importing ``myplugin.agents``; the reference
    (``"module:attribute"``, a class or factory called with no arguments) is loaded
    the first time the loader asks for the step's ``model`` or a step of that type
    runs. So ``maverick run`` of a workflow that uses only ``shell`` steps imports no
    other step type's module.
    """

    def __init__(self, name: str, reference: str) -> None:
        self.name = name
        self.reference = reference
        self._loaded: StepType | None = None
        self._lock = threading.Lock()

    def load(self) -> StepType:
        """The real step type (imported and made on first use).

        :raises PluginError: when the reference cannot be imported or names another type.
        """
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._make()
        return self._loaded

    def _make(self) -> StepType:
        from importlib import import_module

        from maverick_core.engine.errors import PluginError

        module_name, _, attribute = self.reference.partition(":")
        try:
            factory = getattr(import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise PluginError(
                f"step type '{self.name}': cannot load {self.reference}: {exc}"
            ) from None
        step_type: StepType = factory()
        if step_type.name != self.name:
            raise PluginError(
                f"step type '{self.name}': {self.reference} makes step type '{step_type.name}'"
            )
        return step_type

    @property
    def model(self) -> type[Step]:
        """The attrs model the loader structures steps of this type into."""
        return self.load().model

    def run(self, ctx: StepContext, step: Any) -> Any:
        """Run ``step`` with the real step type."""
        return self.load().run(ctx, step)

    def __repr__(self) -> str:
        return f"LazyStepType({self.name!r}, {self.reference!r})"


class StepModels(Mapping[str, "type[Step]"]):
    """YAML ``type`` -> step model, loading a lazy step type's model when it is looked up."""

    def __init__(self, step_types: Mapping[str, Registration[StepType]]) -> None:
        self._step_types = step_types

    def __getitem__(self, name: str) -> type[Step]:
        return self._step_types[name].value.model

    def __iter__(self) -> Iterator[str]:
        return iter(self._step_types)

    def __len__(self) -> int:
        return len(self._step_types)


# ----------------------------------------------------------------------------- collection


class Registration(NamedTuple, Generic[T]):
    """One thing a plugin registered (a step type, a store scheme, ...).

    A NamedTuple, not an attrs class: every start builds this class, and an attrs
    class costs a compile (docs/benchmarks.md, start-up).
    """

    key: str
    value: T
    plugin: str


def _named(item: Any) -> tuple[str, Any]:
    """``register(thing)`` where ``thing.name`` is its key."""
    return str(item.name), item


def _pair(key: str, value: Any) -> tuple[str, Any]:
    """``register(key, value)``."""
    return key, value


KINDS: dict[str, tuple[str, Callable[..., tuple[str, Any]]]] = {
    "step_types": ("register_step_types", _named),
    "actions": ("register_actions", _pair),
    "agents": ("register_agents", _pair),
    "providers": ("register_providers", _pair),
    "stores": ("register_stores", _pair),
    "serializers": ("register_serializers", _named),
    "expression_functions": ("register_expression_functions", _pair),
}
"""Registry kind -> (its hook, how a ``register(...)`` call gives key and value)."""


def call_each_plugin(
    pm: pluggy.PluginManager, hook_name: str, callback_for: Callable[[str], Callable[..., Any]]
) -> None:
    """Call ``hook_name`` once per implementing plugin, in registration order.

    Each call gets ``register=callback_for(plugin_name)`` (or ``add=``, whichever the
    spec names), so what a plugin contributes is known to come from it.
    """
    caller = getattr(pm.hook, hook_name)
    argument = "add" if "add" in (caller.spec.argnames if caller.spec else ()) else "register"
    owners: list[object] = []
    for impl in caller.get_hookimpls():
        if not (impl.wrapper or impl.hookwrapper) and impl.plugin not in owners:
            owners.append(impl.plugin)
    for plugin in owners:
        others = [other for other in owners if other is not plugin]
        callback = callback_for(pm.get_name(plugin) or "?")
        pm.subset_hook_caller(hook_name, remove_plugins=others)(**{argument: callback})


def collect(
    pm: pluggy.PluginManager, hook_name: str, entry: Callable[..., tuple[str, Any]]
) -> dict[str, Registration[Any]]:
    """Call ``hook_name`` plugin by plugin; later registrations of a key win."""
    found: dict[str, Registration[Any]] = {}

    def callback_for(plugin_name: str) -> Callable[..., None]:
        def register(*args: Any) -> None:
            key, value = entry(*args)
            found[key] = Registration(key, value, plugin_name)

        return register

    call_each_plugin(pm, hook_name, callback_for)
    return found


class Registries:
    """Everything plugins registered, one kind at a time, each collected on first use.

    ``registries.stores`` calls ``register_stores`` (once) and nothing else.
    """

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._pm = pm
        self._kinds: dict[str, dict[str, Registration[Any]]] = {}
        self._lock = threading.Lock()  # loop workers may ask at the same time

    def kind(self, name: str) -> dict[str, Registration[Any]]:
        """The registry of kind ``name`` (a key of :data:`KINDS`), collected once."""
        with self._lock:
            if name not in self._kinds:
                hook_name, entry = KINDS[name]
                self._kinds[name] = collect(self._pm, hook_name, entry)
            return self._kinds[name]

    def collected(self) -> list[str]:
        """The kinds collected so far (for tests of what a command loads)."""
        return sorted(self._kinds)

    @property
    def step_types(self) -> dict[str, Registration[StepType]]:
        """YAML ``type`` -> step type."""
        return self.kind("step_types")

    @property
    def actions(self) -> dict[str, Registration[Callable[..., Any]]]:
        """Action name -> function, for ``python`` steps."""
        return self.kind("actions")

    @property
    def agents(self) -> dict[str, Registration[Callable[..., Any]]]:
        """Backend name -> agent factory."""
        return self.kind("agents")

    @property
    def providers(self) -> dict[str, Registration[Callable[..., Any]]]:
        """Provider name -> provider factory."""
        return self.kind("providers")

    @property
    def stores(self) -> dict[str, Registration[Callable[[str, Project], Store]]]:
        """URL scheme -> store factory."""
        return self.kind("stores")

    @property
    def serializers(self) -> dict[str, Registration[Serializer]]:
        """Name -> serializer."""
        return self.kind("serializers")

    @property
    def expression_functions(self) -> dict[str, Registration[Callable[..., Any]]]:
        """Name -> plain Python function callable in ``${{ }}`` expressions."""
        return self.kind("expression_functions")

    def step_models(self) -> Mapping[str, type[Step]]:
        """YAML ``type`` -> step model class, for the loader (each loaded when looked up)."""
        return StepModels(self.step_types)
