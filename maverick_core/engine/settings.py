"""``maverick.yaml``: read with positions, checked against the sections plugins declare.

Every top-level key of ``maverick.yaml`` is a *section* that the core or a plugin
declares through the ``add_settings`` hook, with a schema (pytest's ``addini``).
The file is checked as strictly as a workflow file: an unknown section or key, or
a value of the wrong type, is an error naming ``maverick.yaml:line:col`` and the
path, with a did-you-mean where one is close.

Schemas are a small subset of JSON Schema, written as plain dicts:

- ``type``: ``string``, ``integer``, ``number``, ``boolean``, ``object``, ``array``,
  ``null``, or a list of those;
- ``anyOf``: a list of schemas, one of which must match;
- ``enum``: the allowed values; ``exclusiveMinimum``, ``minimum`` for numbers;
- for objects: ``properties`` (key -> schema), ``required``, and
  ``additionalProperties`` (a schema, or ``true``/``false``). Unlike JSON Schema,
  an object schema with ``properties`` refuses other keys unless
  ``additionalProperties`` says otherwise: that is what catches a misspelled key;
- for arrays: ``items``.

A section may also be empty (``agents:`` with nothing after it is null): that is
the same as leaving it out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from maverick_core.engine import parsecache
from maverick_core.engine.errors import (
    DefinitionError,
    DefinitionErrors,
    Location,
    PluginError,
    closest,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping
    from pathlib import Path

    import pluggy
    import yaml

MAX_VALUES = 100_000
"""Most values a settings file may hold once aliases are expanded."""

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists in a settings file."""

_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}
_NOUNS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "empty",
}


class AddSettings(Protocol):
    """``add(name, schema, help)``: declare the top-level ``maverick.yaml`` section ``name``."""

    def __call__(self, name: str, schema: Mapping[str, Any], /, help: str = "") -> None: ...


class Section(NamedTuple):
    """A ``maverick.yaml`` section and the plugin that declared it.

    A NamedTuple, not an attrs class: every command that reads ``maverick.yaml``
    builds this class, and an attrs class costs a compile (docs/benchmarks.md, start-up).
    """

    name: str
    schema: Mapping[str, Any]
    help: str
    plugin: str


def collect_sections(pm: pluggy.PluginManager) -> dict[str, Section]:
    """Call ``add_settings`` plugin by plugin; two plugins may not declare one section."""
    from maverick_core.engine.registries import call_each_plugin

    sections: dict[str, Section] = {}

    def callback_for(plugin: str) -> Callable[..., None]:
        def add(name: str, schema: Mapping[str, Any], help: str = "") -> None:
            if not isinstance(name, str) or not name:
                raise PluginError(f"plugin '{plugin}': a settings section needs a name")
            taken = sections.get(name)
            if taken is not None:
                raise PluginError(
                    f"plugin '{plugin}': maverick.yaml section '{name}' is already "
                    f"declared by plugin '{taken.plugin}'"
                )
            sections[name] = Section(name, dict(schema), help, plugin)

        return add

    call_each_plugin(pm, "add_settings", callback_for)
    return sections


# ----------------------------------------------------------------------------- reading


class SettingsFile:
    """A settings file's data, and where each key and value was written.

    A plain class, not an attrs class: every command that reads ``maverick.yaml``
    builds this class, and an attrs class costs a compile (docs/benchmarks.md, start-up).
    """

    __slots__ = ("data", "filename", "keys", "values")

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.data: dict[str, Any] = {}
        self.keys: dict[tuple[Any, ...], Location] = {}
        self.values: dict[tuple[Any, ...], Location] = {}

    def key_location(self, path: tuple[Any, ...]) -> Location:
        """Where the key at ``path`` was written (its value's place when unknown)."""
        return self.keys.get(path) or self.value_location(path)

    def value_location(self, path: tuple[Any, ...]) -> Location:
        """Where the value at ``path`` (or its nearest parent) was written."""
        while path and path not in self.values:
            path = path[:-1]
        return self.values.get(path, Location(self.filename, 1, 1))


def parse_settings(text: str, filename: str) -> SettingsFile:
    """Parse settings text keeping positions; bad YAML is a located error.

    :raises DefinitionError: for invalid YAML, duplicate keys, a document that is not
        a mapping, or one too large or too deeply nested once aliases are expanded.
    """
    settings = SettingsFile(filename)
    entry = parsecache.lookup("settings", text)
    if entry is not None and type(entry.get("data")) is dict:  # read before, without error
        try:
            for path, line, column in entry["values"]:
                settings.values[tuple(path)] = Location(filename, line, column)
            for path, line, column in entry["keys"]:
                settings.keys[tuple(path)] = Location(filename, line, column)
            settings.data = entry["data"]
            return settings
        except (KeyError, TypeError, ValueError):  # an entry of another shape
            settings = SettingsFile(filename)
    _parse_yaml(text, settings)
    parsecache.store(
        "settings",
        text,
        settings.data,
        parsecache.positions(settings.values),
        parsecache.positions(settings.keys),
    )
    return settings


def _parse_yaml(text: str, settings: SettingsFile) -> None:
    import yaml  # here: settings read before come from the parse cache

    from maverick_core.engine import safeyaml

    filename = settings.filename
    try:
        # bounded: flow nesting, expanded size and integers are limited while parsing
        node = safeyaml.compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        location = Location(filename, mark.line + 1, mark.column + 1) if mark else None
        raise DefinitionError(f"invalid YAML: {exc.problem or exc.context}", location) from None
    except yaml.YAMLError as exc:
        raise DefinitionError(f"invalid YAML: {exc}", Location(filename, 1, 1)) from None
    if node is None:
        return
    builder = _Builder(settings)
    try:
        data = builder.build(node, (), 0)
    except yaml.YAMLError as exc:
        raise DefinitionError(f"invalid YAML: {exc}", Location(filename, 1, 1)) from None
    if data is None:
        return
    if not isinstance(data, dict):
        raise DefinitionError("maverick.yaml must be a mapping", Location(filename, 1, 1))
    settings.data = data


class _Builder:
    """Plain data from YAML nodes, recording positions, counting expanded values."""

    def __init__(self, settings: SettingsFile) -> None:
        import yaml  # here: settings read before come from the parse cache

        from maverick_core.engine import safeyaml

        self.settings = settings
        self.constructor = safeyaml.BoundedLoader("")
        self.count = 0
        self.mapping, self.sequence = yaml.MappingNode, yaml.SequenceNode

    def location(self, mark: yaml.Mark) -> Location:
        return Location(self.settings.filename, mark.line + 1, mark.column + 1)

    def build(self, node: yaml.Node, path: tuple[Any, ...], depth: int) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise DefinitionError(
                f"maverick.yaml holds more than {MAX_VALUES:,} values (aliases expanded)",
                self.location(node.start_mark),
            )
        if depth > MAX_DEPTH:
            raise DefinitionError(
                f"maverick.yaml is nested more than {MAX_DEPTH} levels deep",
                self.location(node.start_mark),
            )
        self.settings.values[path] = self.location(node.start_mark)
        if isinstance(node, self.mapping):
            self.constructor.flatten_mapping(node)  # merge keys (<<: *base)
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.constructor.construct_object(key_node, deep=True)
                if isinstance(key, list | dict):
                    raise DefinitionError(
                        "a key must be a plain value", self.location(key_node.start_mark)
                    )
                if key in result:
                    first = self.settings.keys[(*path, key)]
                    raise DefinitionError(
                        f"duplicate key '{key}' (first at line {first.line})",
                        self.location(key_node.start_mark),
                        _format(path),
                    )
                self.settings.keys[(*path, key)] = self.location(key_node.start_mark)
                result[key] = self.build(value_node, (*path, key), depth + 1)
            return result
        if isinstance(node, self.sequence):
            return [self.build(child, (*path, i), depth + 1) for i, child in enumerate(node.value)]
        return self.constructor.construct_object(node, deep=True)


def read_settings_file(path: Path) -> SettingsFile:
    """Read ``path`` (a missing file is empty settings).

    :raises DefinitionError: for a file that is not UTF-8 or not valid YAML.
    :raises MaverickError: for a file that cannot be read.
    """
    from maverick_core.engine.errors import MaverickError

    if not path.is_file():
        return SettingsFile(str(path))
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MaverickError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DefinitionError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x})", Location(str(path), line, column)
        ) from None
    return parse_settings(text, str(path))


# ----------------------------------------------------------------------------- checking


def sections_of_blocked_plugins(pm: Any) -> tuple[set[str], bool]:
    """Sections that belong to blocked plugins, and whether some are unknowable.

    A blocked built-in plugin's hooks module is cheap to import, so its
    ``add_settings`` is asked what it declares (its sections are then accepted
    unchecked: ``-p no:devflow`` must not make a project's ``agents:`` an error). A
    blocked third-party plugin is never imported, so its sections cannot be known.
    """
    import importlib

    from maverick_core.engine.pluginmanager import DEFAULT_PLUGINS

    names: set[str] = set()
    unknowable = False
    for blocked in pm.blocked_names:
        module = DEFAULT_PLUGINS.get(blocked)
        if module is None:
            unknowable = True
            continue
        declare = getattr(importlib.import_module(module), "add_settings", None)
        if declare is not None:
            declare(add=lambda name, schema, help="": names.add(name))
    return names, unknowable


def check_settings(
    settings: SettingsFile,
    sections: Mapping[str, Section],
    blocked_sections: Collection[str] = (),
    lenient_sections: bool = False,
) -> None:
    """Check every section against its schema; raise all problems at once.

    :param blocked_sections: sections of blocked plugins: accepted, not checked.
    :param lenient_sections: accept an unknown section unless it is a close
        misspelling of a declared one (when a blocked third-party plugin may own it).
    :raises DefinitionErrors: one located error per problem, in file order.
    """
    errors: list[DefinitionError] = []
    for name, value in settings.data.items():
        path = (name,)
        section = sections.get(name)
        if section is None and name in blocked_sections:
            continue
        if section is None:
            close = closest(str(name), sections)
            if lenient_sections and not close:
                continue
            hint = (
                f"did you mean '{close}'?" if close else f"sections: {', '.join(sorted(sections))}"
            )
            errors.append(
                DefinitionError(
                    f"unknown section ({hint})", settings.key_location(path), _format(path)
                )
            )
            continue
        if value is not None:
            _check(value, section.schema, path, settings, errors)
    if errors:
        errors.sort(key=lambda e: (e.location.line, e.location.column) if e.location else (0, 0))
        raise DefinitionErrors(errors)


def _check(
    value: Any,
    schema: Mapping[str, Any],
    path: tuple[Any, ...],
    settings: SettingsFile,
    errors: list[DefinitionError],
) -> None:
    def fail(message: str, at_key: bool = False) -> None:
        where = settings.key_location(path) if at_key else settings.value_location(path)
        errors.append(DefinitionError(message, where, _format(path)))

    if "anyOf" in schema:
        options = schema["anyOf"]
        trials = []
        for option in options:
            found: list[DefinitionError] = []
            _check(value, option, path, settings, found)
            if not found:
                return
            trials.append(found)
        # the option of the value's own type explains best; else list what fits
        matching = [t for o, t in zip(options, trials, strict=True) if _type_matches(value, o)]
        if len(matching) == 1:
            errors.extend(matching[0])
        else:
            fail(f"expected {' or '.join(_describe(o) for o in options)}, got {_kind(value)}")
        return
    if not _type_matches(value, schema):
        fail(f"expected {_describe(schema)}, got {_kind(value)}")
        return
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(repr(v) for v in schema["enum"])
        fail(f"{value!r} is not one of {allowed}")
        return
    if _TYPES["number"](value):
        if "exclusiveMinimum" in schema and not value > schema["exclusiveMinimum"]:
            fail(f"must be greater than {schema['exclusiveMinimum']}, got {value}")
        if "minimum" in schema and not value >= schema["minimum"]:
            fail(f"must be at least {schema['minimum']}, got {value}")
    if isinstance(value, dict):
        properties: Mapping[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties", "properties" not in schema)
        for key, item in value.items():
            child = (*path, key)
            if key in properties:
                _check(item, properties[key], child, settings, errors)
            elif isinstance(extra, dict):
                _check(item, extra, child, settings, errors)
            elif not extra:
                close = closest(str(key), properties)
                hint = f"did you mean '{close}'?" if close else f"keys: {', '.join(properties)}"
                errors.append(
                    DefinitionError(
                        f"unknown key ({hint})", settings.key_location(child), _format(child)
                    )
                )
        for key in schema.get("required", ()):
            if key not in value:
                fail(f"missing key '{key}'")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _check(item, schema["items"], (*path, index), settings, errors)


def _type_matches(value: Any, schema: Mapping[str, Any]) -> bool:
    kinds = schema.get("type")
    if kinds is None:
        return True
    if isinstance(kinds, str):
        kinds = [kinds]
    return any(_TYPES[kind](value) for kind in kinds)


def _describe(schema: Mapping[str, Any]) -> str:
    if "anyOf" in schema:
        return " or ".join(_describe(option) for option in schema["anyOf"])
    kinds = schema.get("type")
    if kinds is None:
        return "any value"
    if isinstance(kinds, str):
        kinds = [kinds]
    return " or ".join(_NOUNS[kind] for kind in kinds)


def _kind(value: Any) -> str:
    for kind, matches in _TYPES.items():
        if kind != "number" and matches(value):
            return _NOUNS[kind]
    if isinstance(value, float):
        return "a number"
    return type(value).__name__


def _format(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
