"""Workflow inputs: parsing ``-i KEY=VALUE``, type checks, defaults.

A value given as ``@path`` is read from that file (``@-``: from standard input;
``@@text`` is the literal ``@text``), and an input not given with ``-i`` is read from
``MAVERICK_INPUT_<NAME>`` or the variable its ``env:`` names: either way a secret
never appears on a command line (``ps``, shell history). The value of a secret input
is never echoed in an error.
"""

from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from maverick_core.engine.dsl.loader import input_value_matches
from maverick_core.engine.errors import InputError, closest
from maverick_core.engine.secrets import shorten_value

if TYPE_CHECKING:
    from collections.abc import Mapping

    from maverick_core.engine.dsl.model import Workflow

ENV_PREFIX = "MAVERICK_INPUT_"
MAX_FILE_BYTES = 1 << 20
"""Largest value read from ``@file`` or ``@-``."""


def parse_assignment(text: str) -> tuple[str, str]:
    """Split ``KEY=VALUE``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"-i {text!r}: expected KEY=VALUE")
    return key.strip(), value


def parse_value(workflow: Workflow, key: str, text: str) -> Any:
    """Parse one CLI value as YAML and check it against the declared type.

    A string input keeps the text exactly as given (``-i name=007`` is ``"007"``);
    ``@path``, ``@-`` and ``@@text`` are read as the module docstring says.
    """
    _spec(workflow, key)
    return parse_text(workflow, key, read_value_source(key, text))


def parse_text(workflow: Workflow, key: str, text: str, origin: str = "") -> Any:
    """Parse a value's text (already read from its source) and check its type.

    :param origin: where the text came from, for errors (``MAVERICK_INPUT_TOKEN``).
    """
    spec = _spec(workflow, key)
    if spec.type == "string":
        return text
    where = f"input '{key}'" + (f" (from {origin})" if origin else "")
    # a secret's value is never echoed, not even in the error that refuses it
    shown = "a value that is not shown (secret)" if spec.secret else repr(text)
    import yaml  # here: a run given no typed input reads no YAML (docs/benchmarks.md)

    from maverick_core.engine import safeyaml

    try:
        # bounded: an alias bomb or deep nesting is refused, not expanded into the run record
        value = safeyaml.load(text, safeyaml.INPUT_LIMITS) if text.strip() else None
    except safeyaml.YAMLLimitError as exc:
        raise InputError(f"{where}: {exc.problem}") from None
    except yaml.YAMLError:
        raise InputError(f"{where}: {shown} is not a valid {spec.type}") from None
    if spec.type == "number" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not input_value_matches(spec.type, value):
        raise InputError(f"{where}: expected {spec.type}, got {shown}")
    if not _finite(value):
        raise InputError(f"{where}: numbers must be finite (not .nan or .inf)")
    return value


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(item) for item in value)
    if isinstance(value, dict):
        return all(_finite(item) for item in value.values())
    return True


def _spec(workflow: Workflow, key: str) -> Any:
    spec = workflow.inputs.get(key)
    if spec is None:
        raise _unknown_input(workflow, key)
    return spec


def read_value_source(key: str, text: str, stdin: BinaryIO | None = None) -> str:
    """The value ``text`` stands for: ``@path`` a file's content, ``@-`` standard
    input's, ``@@text`` the literal ``@text``; anything else itself.

    One trailing newline is dropped from what is read (``echo token > file``).
    """
    if not text.startswith("@"):
        return text
    if text.startswith("@@"):
        return text[1:]
    name = text[1:]
    try:
        if name == "-":
            source = stdin if stdin is not None else sys.stdin.buffer
            data = source.read(MAX_FILE_BYTES + 1)
            where = "standard input"
        else:
            if not name:
                raise InputError(f"input '{key}': '@' needs a file name (@path, or @- for stdin)")
            where = name
            with open(os.path.expanduser(name), "rb") as file:
                data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"input '{key}': cannot read {name}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"input '{key}': {where} holds more than {MAX_FILE_BYTES} bytes")
    try:
        value = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"input '{key}': {where} is not UTF-8 text") from None
    return value.removesuffix("\n").removesuffix("\r")


def env_name(key: str) -> str:
    """``MAVERICK_INPUT_<NAME>`` for input ``key`` (upper case, other characters ``_``)."""
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", key).upper()


def environment_inputs(
    workflow: Workflow, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Inputs given through the environment, parsed and type-checked.

    For each declared input: ``MAVERICK_INPUT_<NAME>``, else the variable its
    ``env:`` names. An empty variable counts as unset (CI systems set secrets that
    are unavailable to a build as empty).
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for key, spec in workflow.inputs.items():
        for variable in (env_name(key), spec.env):
            if variable and environ.get(variable):
                values[key] = parse_text(workflow, key, environ[variable], origin=variable)
                break
    return values


def _unknown_input(workflow: Workflow, key: str) -> InputError:
    known = sorted(workflow.inputs)
    close = closest(key, known)
    hint = f" (did you mean '{close}'?)" if close else ""
    return InputError(
        f"unknown input '{key}'{hint}; {workflow.name} takes: {', '.join(known) or 'none'}"
    )


def check_value(workflow: Workflow, key: str, value: Any) -> Any:
    """Check an already-typed value (from a subworkflow call or stored inputs)."""
    spec = workflow.inputs.get(key)
    if spec is None:
        raise _unknown_input(workflow, key)
    if spec.type == "number" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if value is not None and not input_value_matches(spec.type, value):
        shown = "(a secret, not shown)" if spec.secret else shorten_value(value)
        raise InputError(f"input '{key}': expected {spec.type}, got {type(value).__name__} {shown}")
    return value


def complete_inputs(workflow: Workflow, given: dict[str, Any]) -> dict[str, Any]:
    """Given values plus defaults; a missing required input is an error."""
    values: dict[str, Any] = {}
    missing = []
    for name, spec in workflow.inputs.items():
        if name in given:
            values[name] = check_value(workflow, name, given[name])
        elif spec.has_default:
            values[name] = spec.default
        elif spec.required:
            missing.append(name)
        else:
            values[name] = None
    unknown = sorted(set(given) - set(workflow.inputs))
    if unknown:
        check_value(workflow, unknown[0], given[unknown[0]])
    if missing:
        flags = " ".join(f"-i {name}=..." for name in missing)
        raise InputError(
            f"missing required input{'s' if len(missing) > 1 else ''}: "
            f"{', '.join(missing)} (give {flags})"
        )
    return values


def read_input_file(workflow: Workflow, file: str) -> dict[str, Any]:
    """Input values from a YAML or JSON mapping (``--input-file FILE``), type-checked.

    Every bad key is reported, each on its own line as ``FILE:line:col: inputs.KEY:
    what is wrong``; values keep the types YAML gives them (quote a string such as
    ``"007"`` that would otherwise read as a number).
    """
    import yaml

    from maverick_core.engine import safeyaml
    from maverick_core.engine.errors import DefinitionError, DefinitionErrors, Location

    # bounded like a workflow file: a FIFO, an alias bomb or deep nesting is a located error
    try:
        text = safeyaml.read_text(Path(file))
    except DefinitionError as exc:
        raise InputError(f"--input-file {file}: cannot read it ({exc.reason})") from None
    try:
        root = safeyaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise InputError(f"{where}: {problem}") from None
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        start = root.start_mark
        raise InputError(
            f"{file}:{start.line + 1}:{start.column + 1}: expected a mapping of input names "
            "to values"
        )
    loader = safeyaml.BoundedLoader("")
    values: dict[str, Any] = {}
    errors: list[DefinitionError] = []
    for key_node, value_node in root.value:
        mark = key_node.start_mark
        at = Location(file, mark.line + 1, mark.column + 1)
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if not isinstance(key, str) or key_node.tag != "tag:yaml.org,2002:str":
            errors.append(DefinitionError("an input name must be text", at, "inputs"))
            continue
        try:
            value = loader.construct_object(value_node, deep=True)
            values[key] = check_value(workflow, key, value)
        except InputError as exc:
            reason = exc.message.removeprefix(f"input '{key}': ")
            errors.append(DefinitionError(reason, at, f"inputs.{key}"))
        except yaml.YAMLError as exc:
            errors.append(DefinitionError(str(exc).splitlines()[0], at, f"inputs.{key}"))
    if errors:
        raise DefinitionErrors(errors)
    return values
