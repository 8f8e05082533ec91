"""A JSON Schema of the workflow language, generated from the models.

Editors (yaml-language-server) use it for completion and checks; it is generated
from the same attrs models the loader structures into, so it cannot drift.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import attrs

from maverick_core.engine.dsl.composite import BranchOption
from maverick_core.engine.dsl.model import (
    ENV_NAME,
    INPUT_TYPES,
    RETRY_KEYWORDS,
    Attempts,
    Condition,
    Count,
    Data,
    Delay,
    Factor,
    InputSpec,
    Retry,
    RetryConditions,
    Seconds,
    Step,
    Text,
    Workflow,
)

if typing.TYPE_CHECKING:
    from collections.abc import Mapping

EXPRESSION = {"type": "string", "pattern": r"\$\{\{.*\}\}"}
RETRY_CONDITION = {
    "anyOf": [{"enum": list(RETRY_KEYWORDS)}, {"type": "integer", "not": {"const": 0}}]
}


def _type_schema(tp: Any) -> dict[str, Any]:
    if tp is Text or tp is str:
        return {"type": "string"}
    if tp is Condition:
        return {"anyOf": [{"type": "boolean"}, EXPRESSION]}
    if tp is Count:
        return {"anyOf": [{"type": "integer", "minimum": 1}, EXPRESSION]}
    if tp is Seconds:
        return {"type": "number", "exclusiveMinimum": 0}
    if tp is Attempts:
        return {"type": "integer", "minimum": 1}
    if tp is Delay:
        return {"type": "number", "minimum": 0}
    if tp is Factor:
        return {"type": "number", "minimum": 1}
    if tp is RetryConditions:
        return {
            "anyOf": [RETRY_CONDITION, {"type": "array", "items": RETRY_CONDITION, "minItems": 1}]
        }
    if tp is Retry:
        return {"$ref": "#/$defs/retry"}
    if tp is Data or tp is Any or tp is object:
        return {}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is Step:
        return {"$ref": "#/$defs/step"}
    if tp is BranchOption:
        return {"$ref": "#/$defs/branch_option"}
    if tp is InputSpec:
        return {"$ref": "#/$defs/input"}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is list:
        return {"type": "array", "items": _type_schema(args[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": _type_schema(args[1])}
    if origin in (typing.Union, types.UnionType):
        options = [_type_schema(a) for a in args if a is not type(None)]
        return options[0] if len(options) == 1 else {"anyOf": options}
    raise TypeError(f"no schema for {tp!r}")


def _object_schema(cls: type, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in attrs.fields(cls):
        if field.name in skip:
            continue
        properties[field.name] = _type_schema(hints[field.name])
        if field.default is attrs.NOTHING:
            required.append(field.name)
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


def workflow_schema(step_models: Mapping[str, type[Step]]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) for workflows using ``step_models``."""
    steps = []
    for name, model in sorted(step_models.items()):
        schema = _object_schema(model)
        schema["properties"]["type"] = {"const": name}
        schema["title"] = f"{name} step"
        steps.append(schema)
    input_schema = _object_schema(InputSpec)
    input_schema["properties"]["type"] = {"enum": list(INPUT_TYPES)}
    input_schema["properties"]["env"] = {"type": "string", "pattern": ENV_NAME.pattern}
    workflow = _object_schema(Workflow, skip=("source", "fingerprints"))
    workflow["properties"]["version"] = {"const": "1.0"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://maverick.dev/schema/workflow-1.0.json",
        "title": "maverick workflow",
        **workflow,
        "$defs": {
            "step": {"anyOf": steps},
            "branch_option": _object_schema(BranchOption),
            "input": input_schema,
            "retry": _object_schema(Retry),
        },
    }
