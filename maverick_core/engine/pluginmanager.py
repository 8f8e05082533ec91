"""The plugin manager: built-in plugins, entry points, ``-p``, and the registries.

Built-in behaviour is made of ordinary named plugins (pytest's ``default_plugins``);
any of them but the essential ``core`` can be blocked with ``-p no:NAME``.
Third-party plugins arrive through the entry-point group ``maverick``; setting
``MAVERICK_DISABLE_PLUGIN_AUTOLOAD=1`` skips them (``-p`` still loads one).
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

import pluggy

from maverick_core import hookspecs
from maverick_core.engine.entrypoints import entry_points
from maverick_core.engine.errors import MaverickError, PluginError, closest
from maverick_core.engine.registries import Registries

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from maverick_core.engine.storage import Project, Serializer, Store

ENTRY_POINT_GROUP = "maverick"
AUTOLOAD_ENV = "MAVERICK_DISABLE_PLUGIN_AUTOLOAD"

ESSENTIAL_PLUGINS: dict[str, str] = {"core": "maverick_core.builtin.core"}
DEFAULT_PLUGINS: dict[str, str] = {
    "steps": "maverick_core.builtin.steps",
    "flow": "maverick_core.builtin.flow",
    "retry": "maverick_core.builtin.retry",
    "checkpoint": "maverick_core.builtin.checkpoint",
    "filestore": "maverick_core.builtin.filestore",
    "json": "maverick_core.builtin.json",
    "sources": "maverick_core.builtin.sources",
    "terminal": "maverick_core.builtin.terminal",
    "devflow": "maverick_core.devflow",
}

PLUGIN_REQUIRES: dict[str, tuple[str, ...]] = {
    "devflow": ("steps", "flow"),
}
"""Built-in plugins that cannot work without others: blocking one blocks these too."""


def _with_dependents(blocked: set[str]) -> dict[str, str]:
    """Every plugin blocked, directly or through what it requires: name -> reason."""
    reasons = {name: "" for name in blocked}
    changed = True
    while changed:
        changed = False
        for name, requires in PLUGIN_REQUIRES.items():
            missing = [r for r in requires if r in reasons]
            if name not in reasons and missing:
                reasons[name] = f"needs {missing[0]}"
                changed = True
    return reasons


class PluginInfo(NamedTuple):
    """Where a registered plugin came from, for ``maverick plugins``.

    A NamedTuple, not an attrs class: every start builds this class, and an attrs
    class costs a compile (docs/benchmarks.md, start-up).
    """

    name: str
    origin: str  # "built-in", "entry point" or "-p"
    module: str
    distribution: str = ""
    version: str = ""


class MaverickPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers plugin origins and caches the registries."""

    def __init__(self) -> None:
        super().__init__("maverick")
        self.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.blocked_names: set[str] = set()
        self.blocked_reasons: dict[str, str] = {}
        self._registries: Registries | None = None

    @property
    def registries(self) -> Registries:
        """The registries; each kind is collected through its hook on first use."""
        if self._registries is None:
            self._registries = Registries(self)
        return self._registries

    def add_plugin(self, plugin: object, info: PluginInfo) -> None:
        """Register ``plugin`` under ``info.name``, turning pluggy errors into one line."""
        try:
            self.register(plugin, name=info.name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {_describe_plugin(info)} is invalid: {exc}") from None
        except ValueError as exc:
            raise PluginError(f"plugin {_describe_plugin(info)}: {exc}") from None
        self.infos[info.name] = info
        self._registries = None


def _describe_plugin(info: PluginInfo) -> str:
    if info.distribution:
        return f"'{info.name}' (distribution {info.distribution} {info.version})"
    return f"'{info.name}' ({info.origin} module {info.module})"


def make_plugin_manager(
    plugins: Sequence[str] = (),
    blocked: Iterable[str] = (),
    autoload: bool | None = None,
    objects: Sequence[object] = (),
) -> MaverickPluginManager:
    """Build the plugin manager: essentials, built-ins, entry points, ``-p`` modules.

    :param plugins: modules to load (``-p MODULE``); ``no:NAME`` entries block.
    :param blocked: names to block, as with ``-p no:NAME``.
    :param autoload: load entry points; default: unless MAVERICK_DISABLE_PLUGIN_AUTOLOAD.
    :param objects: extra plugin objects to register (tests, embedding).
    """
    pm = MaverickPluginManager()
    blocked_names = set(blocked)
    modules: list[str] = []
    for spec in plugins:
        if spec.startswith("no:"):
            blocked_names.add(spec[3:])
        else:
            modules.append(spec)
    for name in blocked_names:
        if name in ESSENTIAL_PLUGINS:
            raise PluginError(f"plugin '{name}' is essential and cannot be blocked")
    pm.blocked_reasons = _with_dependents(blocked_names)
    blocked_names = set(pm.blocked_reasons)
    for name in blocked_names:
        pm.set_blocked(name)
    pm.blocked_names = blocked_names

    for name, module in {**ESSENTIAL_PLUGINS, **DEFAULT_PLUGINS}.items():
        if name not in blocked_names:
            pm.add_plugin(importlib.import_module(module), PluginInfo(name, "built-in", module))

    if autoload is None:
        autoload = not os.environ.get(AUTOLOAD_ENV)
    if autoload:
        _load_entry_points(pm, blocked_names)

    for module_name in modules:
        if module_name in pm.infos or module_name in blocked_names:
            continue
        try:
            loaded = importlib.import_module(module_name)
        except Exception as exc:
            raise PluginError(
                f"-p {module_name}: cannot import: {type(exc).__name__}: {exc}"
            ) from None
        pm.add_plugin(loaded, PluginInfo(module_name, "-p", module_name))

    for index, obj in enumerate(objects):
        name = getattr(obj, "name", None) or f"object-{index}-{type(obj).__name__}"
        pm.add_plugin(obj, PluginInfo(str(name), "object", type(obj).__module__))

    check_pending(pm)
    return pm


def _load_entry_points(pm: MaverickPluginManager, blocked: set[str]) -> None:
    for ep in sorted(entry_points(ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in blocked or ep.name in pm.infos:
            continue
        info = PluginInfo(
            name=ep.name,
            origin="entry point",
            module=ep.value,
            distribution=ep.distribution,
            version=ep.version,
        )
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PluginError(
                f"plugin {_describe_plugin(info)} failed to import: {type(exc).__name__}: {exc}"
            ) from None
        pm.add_plugin(plugin, info)


def check_pending(pm: MaverickPluginManager) -> None:
    """Refuse hook implementations that match no hookspec (a misspelled hook)."""
    known = [name for name in dir(pm.hook) if not name.startswith("_")]
    for name in known:
        caller = getattr(pm.hook, name)
        if caller.spec is not None:
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            plugin_name = pm.get_name(impl.plugin) or "?"
            info = pm.infos.get(plugin_name, PluginInfo(plugin_name, "?", "?"))
            specs = [n for n in known if getattr(pm.hook, n).spec is not None]
            close = closest(name, specs)
            hint = f" (did you mean '{close}'?)" if close else ""
            raise PluginError(
                f"plugin {_describe_plugin(info)} implements unknown hook '{name}'{hint}"
            )


def _provider_hint(kind: str, known: Iterable[str]) -> str:
    names = ", ".join(sorted(known)) or "none"
    extra = {
        "store": " (install maverick-sqlite for sqlite:, maverick-postgres for postgresql:)",
        "serializer": " (install maverick-msgpack for msgpack)",
    }[kind]
    return f"installed: {names}{extra}"


def open_store(pm: MaverickPluginManager, url: str, project: Project) -> Store:
    """Open the store for ``url`` through the plugin that registered its scheme."""
    scheme = urlsplit(url).scheme or url.rstrip(":")
    registration = pm.registries.stores.get(scheme)
    if registration is None:
        raise MaverickError(
            f"unknown store '{url}': no plugin provides the '{scheme}:' scheme; "
            + _provider_hint("store", (f"{s}:" for s in pm.registries.stores))
        )
    store: Store = registration.value(url, project)
    return store


def get_serializer(pm: MaverickPluginManager, name: str) -> Serializer:
    """The serializer registered as ``name``."""
    registration = pm.registries.serializers.get(name)
    if registration is None:
        raise MaverickError(
            f"unknown serializer '{name}'; "
            + _provider_hint("serializer", pm.registries.serializers)
        )
    serializer: Serializer = registration.value
    return serializer


def hooks_of(pm: MaverickPluginManager, plugin: object) -> list[str]:
    """Names of the hooks ``plugin`` implements."""
    callers = pm.get_hookcallers(plugin) or []
    return sorted(caller.name for caller in callers)
