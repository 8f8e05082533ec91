"""Load workflow YAML into models, with errors that point at ``file:line:col``.

Loading happens in four passes, each keeping every node's position:

1. compose the YAML (``yaml.SafeLoader``) and build plain data, remembering the
   mark of every value and key by its path (``("steps", 2, "when")``); a text read
   before without error comes from the parse cache instead (:mod:`.parsecache`);
2. compile every string holding ``${{ … }}`` into a template, so expression syntax
   and sandbox errors surface at load time with their exact column;
3. structure the data into the models: a document the models accept as it is takes
   a short path (:class:`_Structurer`, no cattrs); any other goes through a strict
   cattrs converter (unknown keys, wrong types and missing fields become located
   errors, with did-you-mean suggestions);
4. check what the converter cannot: unique step names, references only to steps
   defined earlier, safe checkpoint ids.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import types
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast, get_args, get_origin

import attrs

from maverick_core.engine import parsecache, textfile
from maverick_core.engine.digest import sha256_hex
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
    RetryConditions,
    Seconds,
    Step,
    Text,
    Workflow,
    checkpoint_id_problem,
)
from maverick_core.engine.dsl.render import is_template
from maverick_core.engine.errors import (
    DefinitionError,
    DefinitionErrors,
    ExpressionError,
    Location,
    PluginError,
    closest,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    import cattrs
    import yaml

    from maverick_core.engine.dsl.expressions import Function, Template

SUPPORTED_VERSIONS = ("1.0",)
STEP_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

PathKey = tuple[str | int, ...]


def format_path(path: PathKey) -> str:
    """``("steps", 2, "when")`` → ``steps[2].when``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class _FieldError(ValueError):
    """A structure hook's complaint; its message is shown as is."""


class _Marks:
    """Where each value and key of a document is, by path.

    A plain class, not an attrs class: every run builds this class, and an attrs class
    costs a compile (docs/benchmarks.md, start-up).
    """

    __slots__ = ("filename", "keys", "raw", "values")

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.values: dict[PathKey, Location] = {}
        self.keys: dict[PathKey, Location] = {}
        # a template's path and place (and node, when read from YAML now)
        self.raw: dict[int, tuple[PathKey, Location, yaml.ScalarNode | None]] = {}

    def nearest(self, path: PathKey, *, key: bool = False) -> Location:
        """The mark of ``path`` (its key when ``key``), or of the closest parent."""
        if key and path in self.keys:
            return self.keys[path]
        probe = path
        while probe:
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), Location(self.filename, 1, 1))


# --------------------------------------------------------------------------- pass 1


class _Composer:
    """Builds plain data from YAML nodes, recording marks and rejecting duplicate keys."""

    def __init__(
        self,
        marks: _Marks,
        errors: list[DefinitionError],
        functions: Mapping[str, Function] | None = None,
    ) -> None:
        self.marks = marks
        self.errors = errors
        from maverick_core.engine import safeyaml  # here: a cached read needs no YAML

        self.functions = functions  # None: the built-in ones
        self.constructor = safeyaml.BoundedLoader("")

    def location(self, mark: yaml.Mark) -> Location:
        return Location(self.marks.filename, mark.line + 1, mark.column + 1)

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.marks.values[path] = self.location(node.start_mark)
        # the node's kind by its id ("mapping", "sequence", "scalar"): the same test as
        # isinstance on PyYAML's node classes, without importing them at start-up
        if getattr(node, "id", None) == "mapping":
            self.constructor.flatten_mapping(cast("yaml.MappingNode", node))
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self.constructor.construct_object(key_node, deep=True)
                if isinstance(key, bool) and getattr(key_node, "id", None) == "scalar":
                    # YAML 1.1 reads a bare `on:` (or `yes:`) as a boolean; in a workflow
                    # every key is a name, so keep the text (`retry: {on: [...]}`)
                    key = key_node.value
                key_path = (*path, key if isinstance(key, str) else str(key))
                if not isinstance(key, str):
                    self.errors.append(
                        DefinitionError(
                            f"keys must be strings, got {type(key).__name__} {key!r}",
                            self.location(key_node.start_mark),
                            format_path(key_path),
                        )
                    )
                    continue
                if key in result:
                    first = self.marks.keys[key_path]
                    self.errors.append(
                        DefinitionError(
                            f"duplicate key '{key}' (first at line {first.line})",
                            self.location(key_node.start_mark),
                            format_path(key_path),
                        )
                    )
                    continue
                self.marks.keys[key_path] = self.location(key_node.start_mark)
                result[key] = self.build(value_node, key_path)
            return result
        if getattr(node, "id", None) == "sequence":
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        value = self.constructor.construct_object(node, deep=True)
        if isinstance(value, str) and "${{" in value:
            assert getattr(node, "id", None) == "scalar"
            return self.compile_template(value, node, path)  # type: ignore[arg-type]
        return value

    def compile_template(self, text: str, node: yaml.ScalarNode, path: PathKey) -> Any:
        # here: a workflow without expressions never imports the engine (dsl/render.py)
        from maverick_core.engine.dsl import expressions

        functions = expressions.FUNCTIONS if self.functions is None else self.functions
        try:
            template = expressions.parse_template(text, functions=functions)
        except ExpressionError as exc:
            self.errors.append(
                DefinitionError(
                    f"invalid expression: {exc.message}",
                    self.offset_location(node, text, exc.offset),
                    format_path(path),
                )
            )
            return text
        if template is None:
            return text
        self.marks.raw[id(template)] = (path, self.location(node.start_mark), node)
        return template

    def offset_location(self, node: yaml.ScalarNode, text: str, offset: int | None) -> Location:
        """Map a character offset inside a scalar's value onto the file."""
        start = node.start_mark
        if offset is None or node.style in ("|", ">"):
            return self.location(start)
        quote = 1 if node.style in ("'", '"') else 0
        before = text[:offset]
        if "\n" not in before:
            return Location(self.marks.filename, start.line + 1, start.column + 1 + quote + offset)
        line_offset = before.count("\n")
        column = len(before) - before.rfind("\n") - 1
        return Location(self.marks.filename, start.line + 1 + line_offset, column + 1)


# --------------------------------------------------------------------------- pass 3


def _describe(value: Any) -> str:
    if is_template(value):
        return f"expression '{value.source}'"
    if value is None:
        return "null"
    kind = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "list",
        dict: "mapping",
    }.get(type(value), type(value).__name__)
    shown = repr(value) if isinstance(value, str | int | float | bool) else ""
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{kind} {shown}".strip()


def _strict(kind: str, accept: tuple[type, ...]) -> Any:
    def hook(value: Any, _: Any) -> Any:
        if is_template(value):
            raise _FieldError(f"expressions are not allowed here; expected {kind}")
        if isinstance(value, bool) and bool not in accept:
            raise _FieldError(f"expected {kind}, got {_describe(value)}")
        if not isinstance(value, accept):
            raise _FieldError(f"expected {kind}, got {_describe(value)}")
        return float(value) if float in accept else value  # type: ignore[arg-type]

    return hook


def _text_hook(value: Any, _: Any) -> Any:
    if isinstance(value, str) or is_template(value):
        return value
    raise _FieldError(f"expected a string, got {_describe(value)}")


def _condition_hook(value: Any, _: Any) -> Any:
    if is_template(value) and not value.is_whole:
        # text around an expression always renders to a non-empty (true) string
        raise _FieldError("a condition must be one whole expression: ${{ … }} and nothing else")
    if isinstance(value, bool) or is_template(value):
        return value
    raise _FieldError(f"expected a boolean or an expression, got {_describe(value)}")


def _count_hook(value: Any, _: Any) -> Any:
    if is_template(value):
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _FieldError(f"expected a positive integer, got {_describe(value)}")
    return value


def _seconds_hook(value: Any, _: Any) -> Any:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise _FieldError(f"expected a positive number of seconds, got {_describe(value)}")
    return float(value)


def _data_hook(value: Any, _: Any) -> Any:
    return value


def _attempts_hook(value: Any, _: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _FieldError(f"expected a number of attempts (1 or more), got {_describe(value)}")
    return value


def _delay_hook(value: Any, _: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _FieldError(f"expected a number of seconds (0 or more), got {_describe(value)}")
    return float(value)


def _factor_hook(value: Any, _: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 1:
        raise _FieldError(f"expected a factor of 1 or more, got {_describe(value)}")
    return float(value)


def _retry_condition(value: Any) -> str | int:
    if isinstance(value, str) and value in RETRY_KEYWORDS:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value != 0:
        return value
    hint = _did_you_mean(value, list(RETRY_KEYWORDS)) if isinstance(value, str) else ""
    raise _FieldError(
        f"unknown retry condition {_describe(value)}{hint} "
        "(use any, timeout or a non-zero exit code)"
    )


def _retry_conditions_hook(value: Any, _: Any) -> Any:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise _FieldError("expected at least one retry condition (any, timeout, exit codes)")
    conditions: list[str | int] = []
    errors: list[Exception] = []
    for index, item in enumerate(items):
        try:
            conditions.append(_retry_condition(item))
        except _FieldError as exc:
            if isinstance(value, list):
                from cattrs.errors import IterableValidationNote

                exc.add_note(IterableValidationNote(f"item {index}", index, object))
            errors.append(exc)
    if errors and not isinstance(value, list):
        raise errors[0]
    if errors:
        from cattrs.errors import IterableValidationError

        raise IterableValidationError("invalid retry conditions", errors, list)
    return RetryConditions(conditions)


_HOOKS: dict[Any, Callable[[Any, Any], Any]] = {
    str: _strict("a string", (str,)),
    bool: _strict("a boolean", (bool,)),
    int: _strict("an integer", (int,)),
    float: _strict("a number", (int, float)),
    Text: _text_hook,
    Condition: _condition_hook,
    Data: _data_hook,
    Count: _count_hook,
    Seconds: _seconds_hook,
    Any: _data_hook,
    Attempts: _attempts_hook,
    Delay: _delay_hook,
    Factor: _factor_hook,
    RetryConditions: _retry_conditions_hook,
}
"""The structure hook of each field type the models use (the converter's and the short path's)."""


def make_converter(step_models: Mapping[str, type[Step]]) -> cattrs.Converter:
    """The strict converter: no extra keys, no silent coercion, steps by ``type``."""
    import cattrs  # here: a document the models accept as it is never needs it (_Structurer)

    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    # cattrs generates (and compiles) a model's structure function when a function that
    # may need it is generated: a workflow's would bring those of every model and dict
    # its fields name, inputs and retries included. Generated on first use instead, a
    # workflow that has none compiles none (the same functions, a call later).
    converter.register_structure_hook_factory(
        attrs.has, _generated_on_first_use(converter.gen_structure_attrs_fromdict)
    )
    converter.register_structure_hook_factory(
        _is_dict,
        _generated_on_first_use(converter.gen_structure_mapping),
    )
    for kind, hook in _HOOKS.items():
        converter.register_structure_hook(kind, hook)

    def structure_step(value: Any, _: Any) -> Step:
        if not isinstance(value, dict):
            raise _FieldError(f"expected a step (a mapping), got {_describe(value)}")
        kind = value.get("type")
        if kind is None:
            raise _MissingKey("type")
        if not isinstance(kind, str):
            raise _FieldError(f"step type must be a string, got {_describe(kind)}")
        model = step_models.get(kind)
        if model is None:
            raise _UnknownType(kind, sorted(step_models))
        return converter.structure(value, model)

    # exact match only: a singledispatch hook on Step would also catch its subclasses
    converter.register_structure_hook_func(lambda cls: cls is Step, structure_step)
    return converter


def _is_dict(cls: Any) -> bool:
    origin: object = get_origin(cls)
    return origin is dict


def _generated_on_first_use(
    generate: Callable[[Any], Callable[[Any, Any], Any]],
) -> Callable[[Any], Callable[[Any, Any], Any]]:
    """A hook factory whose hooks call ``generate(cls)`` when first used, then its hook."""

    def factory(cls: Any) -> Callable[[Any, Any], Any]:
        generated: Callable[[Any, Any], Any] | None = None

        def structure(value: Any, type_: Any) -> Any:
            nonlocal generated
            if generated is None:
                generated = generate(cls)
            return generated(value, type_)

        return structure

    return factory


class _MissingKey(KeyError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _UnknownType(ValueError):
    def __init__(self, kind: str, known: list[str]) -> None:
        super().__init__(kind)
        self.kind = kind
        self.known = known


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = closest(word, choices)
    return f" (did you mean '{close}'?)" if close else ""


def _class_fields(cls: Any) -> list[str]:
    return [f.name for f in attrs.fields(cls)] if attrs.has(cls) else []


def _walk_errors(exc: BaseException, path: PathKey) -> Iterator[tuple[PathKey, BaseException]]:
    from cattrs.errors import ClassValidationError, IterableValidationError

    if isinstance(exc, ClassValidationError | IterableValidationError):
        for sub in exc.exceptions:
            sub_path = path
            for note in getattr(sub, "__notes__", []):
                if hasattr(note, "name"):
                    sub_path = (*path, note.name)
                elif hasattr(note, "index"):
                    sub_path = (*path, note.index)
            yield from _walk_errors(sub, sub_path)
    else:
        yield path, exc


def _convert_errors(exc: BaseException, marks: _Marks, data: Any) -> list[DefinitionError]:
    from cattrs.errors import ForbiddenExtraKeysError

    errors: list[DefinitionError] = []
    for path, err in _walk_errors(exc, ()):
        if isinstance(err, ForbiddenExtraKeysError):
            allowed = _class_fields(err.cl)
            for key in sorted(err.extra_fields):
                key_path = (*path, key)
                errors.append(
                    DefinitionError(
                        f"unknown key{_did_you_mean(key, allowed)}",
                        marks.nearest(key_path, key=True),
                        format_path(key_path),
                    )
                )
        elif isinstance(err, _MissingKey):
            key_path = (*path, err.key)
            errors.append(
                DefinitionError(
                    "required key is missing", marks.nearest(path), format_path(key_path)
                )
            )
        elif isinstance(err, KeyError):
            # cattrs reports a missing required attribute as KeyError on that attribute
            errors.append(
                DefinitionError(
                    "required key is missing", marks.nearest(path[:-1]), format_path(path)
                )
            )
        elif isinstance(err, _UnknownType):
            type_path = (*path, "type")
            errors.append(
                DefinitionError(
                    f"unknown step type '{err.kind}'{_did_you_mean(err.kind, err.known)}"
                    f" (known: {', '.join(err.known)})",
                    marks.nearest(type_path),
                    format_path(type_path),
                )
            )
        elif isinstance(err, _FieldError):
            errors.append(DefinitionError(str(err), marks.nearest(path), format_path(path)))
        else:
            errors.append(
                DefinitionError(f"invalid value: {err}", marks.nearest(path), format_path(path))
            )
    return errors


# --------------------------------------------------------------------------- pass 4


_TYPE_CHECKS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "list": (list,),
    "object": (dict,),
}


def input_value_matches(kind: str, value: Any) -> bool:
    """True when ``value`` is of the declared input ``kind``."""
    accept = _TYPE_CHECKS[kind]
    if isinstance(value, bool) and bool not in accept:
        return False
    return isinstance(value, accept)


class _Checker:
    """Semantic checks on structured data: names, references, ids."""

    def __init__(self, marks: _Marks, source_dir: Path | None, all_names: set[str]) -> None:
        self.marks = marks
        self.all_names = all_names
        self.errors: list[DefinitionError] = []
        self.names: dict[str, Location] = {}
        self.source_dir = source_dir

    def error(self, message: str, path: PathKey, *, key: bool = False) -> None:
        self.errors.append(
            DefinitionError(message, self.marks.nearest(path, key=key), format_path(path))
        )

    def check_inputs(self, inputs: dict[str, Any]) -> None:
        for name, spec in inputs.items():
            path: PathKey = ("inputs", name)
            if not isinstance(spec, dict):
                continue
            kind = spec.get("type", "string")
            if kind not in INPUT_TYPES:
                self.error(
                    f"unknown input type '{kind}'{_did_you_mean(str(kind), list(INPUT_TYPES))}"
                    f" (types: {', '.join(INPUT_TYPES)})",
                    (*path, "type"),
                )
                continue
            if (
                "default" in spec
                and spec["default"] is not None
                and not input_value_matches(kind, spec["default"])
            ):
                self.error(
                    f"default {_describe(spec['default'])} is not of type {kind}",
                    (*path, "default"),
                )
            env = spec.get("env")
            if isinstance(env, str) and not ENV_NAME.fullmatch(env):
                self.error(
                    f"env {env!r} is not an environment variable name "
                    "(letters, digits and '_', not starting with a digit)",
                    (*path, "env"),
                )

    def check_steps(self, steps: list[Any], path: PathKey, visible: set[str]) -> set[str]:
        """Check a list of steps; returns the names it defines for what follows."""
        defined = set(visible)
        for index, step in enumerate(steps):
            name = self.check_step(step, (*path, index), defined)
            if name is not None:
                defined.add(name)
        return defined

    def check_step(self, step: Any, step_path: PathKey, defined: set[str]) -> str | None:
        """Check one step (and what it nests); returns its name."""
        if not isinstance(step, dict):
            return None
        name = step.get("name")
        self.check_references(step, step_path, defined, skip=("steps", "options"))
        kind = step.get("type")
        if isinstance(step.get("steps"), list):
            # any composite type (loop, try, a plugin's own) nests its body under `steps`
            self.check_steps(step["steps"], (*step_path, "steps"), defined)
        if kind == "branch":
            for o_index, option in enumerate(step.get("options") or []):
                o_path: PathKey = (*step_path, "options", o_index)
                if isinstance(option, dict):
                    self.check_references(option, o_path, defined, skip=("step",))
                    self.check_step(option.get("step"), (*o_path, "step"), defined)
        elif kind == "checkpoint":
            self.check_checkpoint_id(step.get("checkpoint_id", name), step_path)
        elif kind == "subworkflow":
            self.check_subworkflow(step.get("workflow"), step_path)
        if not isinstance(name, str):
            return None
        self.check_name(name, step_path)
        return name

    def check_name(self, name: str, step_path: PathKey) -> None:
        name_path = (*step_path, "name")
        if not STEP_NAME_RE.match(name):
            self.error(
                f"invalid step name '{name}' (use letters, digits, '_' and '-', "
                "starting with a letter or '_')",
                name_path,
            )
        elif name in self.names:
            self.error(
                f"duplicate step name '{name}' (first defined at {self.names[name]})", name_path
            )
        else:
            self.names[name] = self.marks.nearest(name_path)

    def check_checkpoint_id(self, value: Any, step_path: PathKey) -> None:
        problem = checkpoint_id_problem(value) if isinstance(value, str) else None
        if problem is not None:
            self.error(problem, (*step_path, "checkpoint_id"))

    def check_subworkflow(self, ref: Any, step_path: PathKey) -> None:
        if not isinstance(ref, str) or self.source_dir is None or not looks_like_path(ref):
            return
        if not (self.source_dir / ref).is_file():
            self.error(
                f"workflow file '{ref}' not found (relative to {self.source_dir})",
                (*step_path, "workflow"),
            )

    def check_references(
        self, value: Any, path: PathKey, defined: set[str], skip: tuple[str, ...] = ()
    ) -> None:
        for template in _templates_in(value, skip):
            where = self.marks.raw.get(id(template))
            location = where[1] if where else self.marks.nearest(path)
            t_path = where[0] if where else path
            for ref in sorted(template.step_references):
                if ref not in defined:
                    hint = "" if ref in self.all_names else _did_you_mean(ref, sorted(defined))
                    what = (
                        "is not defined before this step (a step sees only the steps before it)"
                        if ref in self.all_names
                        else "is not defined"
                    )
                    self.errors.append(
                        DefinitionError(f"step '{ref}' {what}{hint}", location, format_path(t_path))
                    )


def _templates_in(value: Any, skip: tuple[str, ...] = ()) -> Iterator[Template]:
    if is_template(value):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in skip:
                yield from _templates_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _templates_in(item)


def _all_step_names(steps: Any) -> Iterator[str]:
    if not isinstance(steps, list):
        return
    for step in steps:
        if not isinstance(step, dict):
            continue
        if isinstance(step.get("name"), str):
            yield step["name"]
        yield from _all_step_names(step.get("steps"))
        for option in step.get("options") or []:
            if isinstance(option, dict) and isinstance(option.get("step"), dict):
                yield from _all_step_names([option["step"]])


def looks_like_path(ref: str) -> bool:
    """A subworkflow reference is a path when it has a slash or a YAML suffix."""
    return "/" in ref or ref.endswith((".yaml", ".yml"))


def _to_source(value: Any) -> Any:
    if is_template(value):
        return value.source
    if isinstance(value, dict):
        return {k: _to_source(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_source(v) for v in value]
    return value


def fingerprint(value: Any) -> str:
    """A short stable hash of a step's definition as written."""
    text = json.dumps(_to_source(value), sort_keys=True, default=repr, ensure_ascii=False)
    return sha256_hex(text.encode())[:16]


# --------------------------------------------------------------------------- entry points


def load_workflow(
    path: str | Path,
    step_models: Mapping[str, type[Step]],
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> Workflow:
    """Load and check a workflow file; raise DefinitionErrors naming file:line:col.

    :param step_models: YAML ``type`` -> step model (``registries.step_models()``).
    :param functions: expression functions plugins registered, by name.
    """
    file = Path(path)
    try:
        # a regular UTF-8 file within textfile.WORKFLOW_LIMITS only
        text = textfile.read_text(file)
    except DefinitionError as exc:
        raise DefinitionErrors([exc]) from None
    return load_workflow_text(
        text, str(path), step_models, source_dir=file.resolve().parent, functions=functions
    )


def load_workflow_text(
    text: str,
    filename: str,
    step_models: Mapping[str, type[Step]],
    source_dir: Path | None = None,
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> Workflow:
    """Load a workflow from YAML text (``filename`` is used in messages)."""
    table = None  # the built-in functions, for a workflow that has expressions
    if functions:
        from maverick_core.engine.dsl import expressions

        try:
            table = expressions.function_table(functions)
        except ValueError as exc:
            raise PluginError(str(exc)) from None
    entry = parsecache.lookup("workflow", text)
    if entry is not None:
        with contextlib.suppress(DefinitionErrors, _Declined):
            # any error: the YAML read below names it, with its positions
            data, marks = _restored(entry, filename, table)
            return _checked(data, marks, [], step_models, source_dir, filename)
    data, marks, errors = _composed(text, filename, table)
    workflow = _checked(data, marks, errors, step_models, source_dir, filename)
    parsecache.store(
        "workflow",
        text,
        _to_source(data),
        parsecache.positions(marks.values),
        parsecache.positions(marks.keys),
    )
    return workflow


def _composed(
    text: str, filename: str, table: Mapping[str, Function] | None
) -> tuple[Any, _Marks, list[DefinitionError]]:
    """Passes 1 and 2 through YAML: the data, its marks and the errors found so far."""
    import yaml  # here: a workflow read before takes _restored instead

    from maverick_core.engine import safeyaml

    marks = _Marks(filename)
    errors: list[DefinitionError] = []
    try:
        node = safeyaml.compose(text)
    except yaml.YAMLError as exc:
        raise DefinitionErrors([safeyaml.located(exc, filename)]) from None
    if node is None:
        raise DefinitionErrors([DefinitionError("the file is empty", Location(filename, 1, 1))])
    try:
        data = _Composer(marks, errors, table).build(node, ())
    except RecursionError:
        raise DefinitionErrors(
            [DefinitionError("the document is nested too deeply", Location(filename, 1, 1))]
        ) from None
    except yaml.YAMLError as exc:
        raise DefinitionErrors([safeyaml.located(exc, filename)]) from None
    return data, marks, errors


def _restored(
    entry: dict[str, Any], filename: str, table: Mapping[str, Function] | None
) -> tuple[Any, _Marks]:
    """Passes 1 and 2 from what the parse cache kept of an earlier read of the same text.

    :raises _Declined: when an expression no longer compiles (the YAML read says why).
    """
    marks = _Marks(filename)
    try:
        for path, line, column in entry["values"]:
            marks.values[tuple(path)] = Location(filename, line, column)
        for path, line, column in entry["keys"]:
            marks.keys[tuple(path)] = Location(filename, line, column)
    except (KeyError, TypeError, ValueError):  # an entry of another shape: read the YAML
        raise _Declined from None
    expressions: Any = None

    def restore(value: Any, path: PathKey) -> Any:
        nonlocal expressions
        if type(value) is dict:
            return {key: restore(item, (*path, key)) for key, item in value.items()}
        if type(value) is list:
            return [restore(item, (*path, index)) for index, item in enumerate(value)]
        if type(value) is not str or "${{" not in value:
            return value
        if expressions is None:
            from maverick_core.engine.dsl import expressions
        try:
            template = expressions.parse_template(
                value, functions=expressions.FUNCTIONS if table is None else table
            )
        except ExpressionError:
            raise _Declined from None
        marks.raw[id(template)] = (path, marks.nearest(path), None)
        return template

    return restore(entry.get("data"), ()), marks


def _checked(
    data: Any,
    marks: _Marks,
    errors: list[DefinitionError],
    step_models: Mapping[str, type[Step]],
    source_dir: Path | None,
    filename: str,
) -> Workflow:
    """Passes 3 and 4: the workflow, or every error with its position."""
    if not isinstance(data, dict):
        errors.append(
            DefinitionError(f"a workflow is a mapping, got {_describe(data)}", marks.nearest(()))
        )
        raise DefinitionErrors(errors)
    errors.extend(_check_header(data, marks))
    if errors:
        raise DefinitionErrors(_sorted(errors))

    body = {k: v for k, v in data.items() if k != "version"}
    body["version"] = str(data.get("version"))
    try:
        workflow: Workflow = _Structurer(step_models).structure(body, Workflow)
    except _Declined:
        workflow = _structure_with_cattrs(body, step_models, marks, data, filename)

    checker = _Checker(marks, source_dir, set(_all_step_names(data.get("steps"))))
    checker.check_inputs(data.get("inputs") or {})
    top_names = checker.check_steps(data.get("steps") or [], ("steps",), set())
    checker.check_references(data.get("outputs") or {}, ("outputs",), top_names)
    if checker.errors:
        raise DefinitionErrors(_sorted(checker.errors))
    fingerprints = {
        step["name"]: fingerprint({"step": step, "calls": _called_files(step, source_dir)})
        for step in data["steps"]
        if isinstance(step, dict)
    }
    return attrs.evolve(workflow, source=filename, fingerprints=fingerprints)


def _structure_with_cattrs(
    body: dict[str, Any],
    step_models: Mapping[str, type[Step]],
    marks: _Marks,
    data: dict[str, Any],
    filename: str,
) -> Workflow:
    """Structure through the strict converter: the models, or located errors."""
    from cattrs.errors import ClassValidationError, IterableValidationError

    try:
        workflow: Workflow = make_converter(step_models).structure(body, Workflow)
    except (ClassValidationError, IterableValidationError) as exc:
        raise DefinitionErrors(_sorted(_convert_errors(exc, marks, data))) from None
    except RecursionError:
        raise DefinitionErrors(
            [DefinitionError("the workflow is nested too deeply", Location(filename, 1, 1))]
        ) from None
    return workflow


class _Declined(Exception):
    """The short path does not take this document (the converter decides instead)."""


class _Structurer:
    """The converter's result for a document its models accept as it is, without cattrs.

    Importing cattrs and generating its structure functions was the largest part of
    loading a workflow (docs/benchmarks.md, start-up). This path takes exactly what
    the converter would accept: every value a hook of :data:`_HOOKS` accepts, ``X |
    None``, ``list``, ``dict`` and attrs models (steps picked by ``type``), no unknown
    or missing key; it builds the same objects the converter's generated functions
    do (a model from the fields present, new lists and dicts). On anything else (a
    refused value, a field type it does not know, a model with init aliases) it
    declines, and the converter structures the document or names every error.
    """

    __slots__ = ("_plans", "_step_models")

    def __init__(self, step_models: Mapping[str, type[Step]]) -> None:
        self._step_models = step_models
        self._plans: dict[type, tuple[frozenset[str], list[tuple[str, bool, Any]]]] = {}

    def structure(self, value: Any, cls: type) -> Any:
        """``value`` (a mapping) as an instance of attrs class ``cls``.

        :raises _Declined: when the converter must decide.
        """
        try:
            return self._model(value, cls)
        except Exception as exc:  # a hook's refusal, a model's own check, recursion
            raise _Declined from exc

    def _model(self, value: Any, cls: type) -> Any:
        if type(value) is not dict:
            raise _Declined
        plan = self._plans.get(cls)
        if plan is None:
            plan = self._plans[cls] = self._plan(cls)
        names, fields = plan
        if not value.keys() <= names:
            raise _Declined
        kwargs = {}
        for name, required, structure in fields:
            if name in value:
                kwargs[name] = structure(value[name])
            elif required:
                raise _Declined
        return cls(**kwargs)

    def _plan(self, cls: type) -> tuple[frozenset[str], list[tuple[str, bool, Any]]]:
        attrs.resolve_types(cls)
        fields = []
        for field in attrs.fields(cls):
            if not field.init or field.alias != field.name:
                raise _Declined
            fields.append((field.name, field.default is attrs.NOTHING, self._of(field.type)))
        return frozenset(name for name, _, _ in fields), fields

    def _of(self, kind: Any) -> Callable[[Any], Any]:
        """The function that structures a value of field type ``kind``."""
        hook = _HOOKS.get(kind)
        if hook is not None:
            return lambda value: hook(value, kind)
        if kind is Step:
            return self._step
        if isinstance(kind, type) and attrs.has(kind):
            return lambda value: self._model(value, kind)
        origin, args = get_origin(kind), get_args(kind)
        if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
            inner = self._of(args[0] if args[1] is type(None) else args[1])
            return lambda value: None if value is None else inner(value)
        if origin is list and len(args) == 1:
            item = self._of(args[0])
            return lambda value: [item(v) for v in _exactly(list, value)]
        if origin is dict and len(args) == 2:
            key, item = self._of(args[0]), self._of(args[1])
            return lambda value: {key(k): item(v) for k, v in _exactly(dict, value).items()}
        raise _Declined

    def _step(self, value: Any) -> Step:
        kind = value.get("type") if type(value) is dict else None
        model = self._step_models.get(kind) if type(kind) is str else None
        if model is None:
            raise _Declined
        step: Step = self._model(value, model)
        return step


def _exactly(kind: type, value: Any) -> Any:
    """``value`` when it is exactly of ``kind``; else the short path declines."""
    if type(value) is not kind:
        raise _Declined
    return value


def _called_files(step: Any, source_dir: Path | None) -> dict[str, str]:
    """Hashes of the workflow files a step calls by path, so editing one counts as
    changing the step (a workflow called by name is resolved only at run time)."""
    calls: dict[str, str] = {}
    if source_dir is None:
        return calls
    pending = [step]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            ref = item.get("workflow")
            if item.get("type") == "subworkflow" and isinstance(ref, str) and looks_like_path(ref):
                with contextlib.suppress(OSError):
                    calls[ref] = sha256_hex((source_dir / ref).read_bytes())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return calls


def _check_header(data: dict[str, Any], marks: _Marks) -> list[DefinitionError]:
    errors = []
    version = data.get("version")
    if version is None:
        errors.append(
            DefinitionError(
                'required key is missing (use version: "1.0")', marks.nearest(()), "version"
            )
        )
    elif str(version) not in SUPPORTED_VERSIONS:
        errors.append(
            DefinitionError(
                f"unsupported version {version!r} (supported: {', '.join(SUPPORTED_VERSIONS)})",
                marks.nearest(("version",)),
                "version",
            )
        )
    steps = data.get("steps")
    if isinstance(steps, list) and not steps:
        errors.append(
            DefinitionError(
                "a workflow needs at least one step", marks.nearest(("steps",)), "steps"
            )
        )
    return errors


def _sorted(errors: list[DefinitionError]) -> list[DefinitionError]:
    def key(e: DefinitionError) -> tuple[int, int]:
        return (e.location.line, e.location.column) if e.location else (0, 0)

    return sorted(errors, key=key)


def input_spec_for(workflow: Workflow, name: str) -> InputSpec | None:
    """The declared spec of input ``name``."""
    return workflow.inputs.get(name)
