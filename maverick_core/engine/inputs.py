"""Workflow inputs: parsing ``-i KEY=VALUE``, type checks, defaults."""

from __future__ import annotations

import difflib
from typing import Any

import yaml

from maverick_core.engine.dsl.loader import input_value_matches
from maverick_core.engine.dsl.model import Workflow
from maverick_core.engine.errors import InputError


def parse_assignment(text: str) -> tuple[str, str]:
    """Split ``KEY=VALUE``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"-i {text!r}: expected KEY=VALUE")
    return key.strip(), value


def parse_value(workflow: Workflow, key: str, text: str) -> Any:
    """Parse one CLI value as YAML and check it against the declared type.

    A string input keeps the text exactly as given (``-i name=007`` is ``"007"``).
    """
    spec = workflow.inputs.get(key)
    if spec is None:
        known = sorted(workflow.inputs)
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise InputError(
            f"unknown input '{key}'{hint}; {workflow.name} takes: {', '.join(known) or 'none'}"
        )
    if spec.type == "string":
        return text
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        raise InputError(f"input '{key}': {text!r} is not a valid {spec.type}") from None
    if spec.type == "number" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not input_value_matches(spec.type, value):
        raise InputError(f"input '{key}': expected {spec.type}, got {text!r}")
    return value


def check_value(workflow: Workflow, key: str, value: Any) -> Any:
    """Check an already-typed value (from a subworkflow call or stored inputs)."""
    spec = workflow.inputs.get(key)
    if spec is None:
        raise InputError(
            f"unknown input '{key}'; {workflow.name} takes: "
            f"{', '.join(sorted(workflow.inputs)) or 'none'}"
        )
    if spec.type == "number" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if value is not None and not input_value_matches(spec.type, value):
        raise InputError(
            f"input '{key}': expected {spec.type}, got {type(value).__name__} {value!r}"
        )
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
