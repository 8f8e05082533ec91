"""The sandboxed ``${{ ... }}`` expression language.

An expression is parsed with :func:`ast.parse` and then compiled, once, into a tree
of small closures over a whitelist of node types; user text is never handed to
``eval``/``exec``/``compile``. Attribute access ``a.b`` is a mapping lookup
``a["b"]`` -- no Python attribute of any object is ever read -- and only the
functions in :data:`FUNCTIONS` can be called. Everything else (lambdas,
comprehensions, private names, method calls, huge powers ...) is refused when the
expression is compiled, with the character offset of the offending part.

Run-time failures are :class:`~maverick_core.engine.errors.EvaluationError` naming the path
that failed (``steps.hello.output.nope: no key 'nope' (available: ...)``); no other
exception type leaves :meth:`Expression.evaluate` or :meth:`Template.render`.

See ``docs/expressions.md`` for the user-facing reference.
"""

from __future__ import annotations

import ast
import inspect
import json
import operator
import re
import threading
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import FrozenInstanceError
from functools import lru_cache, partial
from types import MappingProxyType
from typing import Any, NamedTuple, NoReturn, Self, TypeVar

from maverick_core.engine.dsl.render import is_list as _is_list
from maverick_core.engine.errors import EvaluationError, ExpressionError, closest
from maverick_core.engine.secrets import shorten_value

__all__ = [
    "DEFAULT_NAMES",
    "FUNCTIONS",
    "Expression",
    "Function",
    "Template",
    "compile_expression",
    "function_table",
    "parse_template",
    "plugin_function",
    "render_value",
]

DEFAULT_NAMES: tuple[str, ...] = ("inputs", "steps", "item", "index", "run")
"""The top-level names an expression may use unless the caller narrows them."""

MAX_EXPRESSION_LENGTH = 10_000
"""Longest expression text accepted, in characters."""

MAX_NESTING = 100
"""Deepest nesting of operators/calls/literals; keeps compilation and evaluation
well inside Python's recursion limit."""

MAX_SIZE = 1_000_000
"""Largest string (characters) or list (elements, nested lists counted through)
that one ``+`` or ``*`` may produce."""

MAX_TEXT = 10_000_000
"""Longest text a template or a text function (join, format, to_json ...) may produce."""

MAX_ALLOCATION = 20_000_000
"""Characters plus list elements one evaluation may build in total."""

MAX_RANGE = 100_000
"""Most items ``range()`` may produce."""

MAX_EXPONENT = 64
"""Largest absolute exponent ``**`` accepts."""

MAX_INT_BITS = 4096
"""Largest integer ``*`` and ``**`` may produce, in bits."""

# Folding a huge constant string would keep it alive inside the compiled expression.
_FOLD_MAX_STR = 4096

_CONSTANT_NAMES: Mapping[str, Any] = MappingProxyType({"true": True, "false": False, "null": None})

# The source handed to ast.parse is "(" + text + "\n)": the parentheses give
# multi-line expressions implicit line joining, the newline keeps a trailing
# "# comment" from swallowing the closing parenthesis.
_WRAP_PREFIX = 1

_PARSE_LOCK = threading.Lock()
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})
_UNSET: Any = object()


# --------------------------------------------------------------------------- values


class _Fault(Exception):
    """A run-time failure without its location; the node that catches it adds the path."""


class _Scope:
    """The names of one evaluation and what it may still allocate."""

    __slots__ = ("budget", "names")

    def __init__(self, names: Mapping[str, Any]) -> None:
        self.names = names
        self.budget = MAX_ALLOCATION

    def charge(self, units: int) -> None:
        """Account for ``units`` newly built characters or list elements."""
        self.budget -= units
        if self.budget < 0:
            raise _Fault(
                f"the expression builds more than {MAX_ALLOCATION:,} characters or elements"
            )


_Run = Callable[[_Scope], Any]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float))


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, Mapping):
        return "dict"
    if _is_list(value):
        return "list"
    return type(value).__name__


def _short_repr(value: Any, limit: int = 60) -> str:
    # masked before it is cut, so a secret's prefix never survives the cut
    return shorten_value(value, limit)


def _element_count(value: Any, limit: int) -> int:
    """Characters of a string, or elements of a list/dict counted through nested containers.

    A sub-list shared by many elements counts every time: a later comparison or JSON
    dump walks it that many times. Counting stops once past ``limit``.
    """
    if isinstance(value, str):
        return len(value)
    total = 0
    pending = [value]
    while pending:
        item = pending.pop()
        children: Collection[Any]
        if isinstance(item, Mapping):
            children = item.values()
        elif _is_list(item):
            children = item
        else:
            continue
        total += len(children)
        if total > limit:
            break
        pending.extend(child for child in children if type(child) not in _SCALAR_TYPES)
    return total


def _text_size(value: Any, limit: int) -> int:
    """Roughly how long ``value`` is as JSON text; counting stops once past ``limit``."""
    total = 0
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            total += 1 + item.bit_length() // 3
        elif isinstance(item, Mapping):
            total += len(item)
            if total <= limit:
                pending.extend(item.keys())
                pending.extend(item.values())
        elif _is_list(item):
            total += len(item)
            if total <= limit:
                pending.extend(item)
        else:
            total += 1
        if total > limit:
            break
    return total


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if _is_list(value):
        return list(value)
    raise TypeError(f"{_type_name(value)} is not JSON data")


def _to_json(value: Any) -> str:
    if _text_size(value, MAX_TEXT) > MAX_TEXT:
        raise _Fault(f"value is too large to turn into text (limit {MAX_TEXT:,} characters)")
    try:
        text = json.dumps(
            value,
            ensure_ascii=False,
            separators=(",", ":"),
            allow_nan=False,
            default=_json_default,
        )
    except (TypeError, ValueError, RecursionError) as exc:
        raise _Fault(f"cannot convert to JSON: {exc}") from None
    if len(text) > MAX_TEXT:
        raise _Fault(f"value is too large to turn into text (limit {MAX_TEXT:,} characters)")
    return text


def _to_text(value: Any) -> str:
    """The text interpolation puts in place of ``value``."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        try:
            return str(value)
        except ValueError as exc:  # an int past sys.get_int_max_str_digits()
            raise _Fault(str(exc)) from None
    if isinstance(value, Mapping) or _is_list(value):
        return _to_json(value)
    return str(value)


def _check_size(size: int, noun: str) -> None:
    if size > MAX_SIZE:
        raise _Fault(f"result would have {size:,} {noun} (limit {MAX_SIZE:,})")


def _available_keys(mapping: Mapping[Any, Any]) -> str:
    names = sorted(key if isinstance(key, str) else repr(key) for key in mapping)
    if not names:
        return "the dict is empty"
    shown = ", ".join(names[:20])
    more = f", ... ({len(names) - 20} more)" if len(names) > 20 else ""
    return f"available: {shown}{more}"


def _missing_key(mapping: Mapping[Any, Any], key: Any) -> str:
    hint = ""
    if isinstance(key, str):
        close = closest(key, [k for k in mapping if isinstance(k, str)])
        if close:
            hint = f"did you mean {close!r}? "
    return f"no key {_short_repr(key)} ({hint}{_available_keys(mapping)})"


def _lookup(container: Any, key: Any, attribute: bool) -> Any:
    """``container[key]``; ``attribute`` when written ``container.key`` (mappings only)."""
    if type(container) is dict or isinstance(container, Mapping):
        try:
            return container[key]
        except KeyError:
            raise _Fault(_missing_key(container, key)) from None
        except TypeError:
            raise _Fault(f"{_type_name(key)} cannot be a dict key") from None
    if attribute:
        if _is_list(container):
            raise _Fault(f"a list has no key {_short_repr(key)} (use an index such as [0])")
        raise _Fault(f"cannot get key {_short_repr(key)} from {_type_name(container)}")
    if isinstance(container, str) or _is_list(container):
        if isinstance(key, bool) or not isinstance(key, int):
            raise _Fault(f"a {_type_name(container)} index must be an int, not {_type_name(key)}")
        try:
            return container[key]
        except IndexError:
            raise _Fault(f"index {key} out of range (length {len(container)})") from None
    raise _Fault(f"cannot index {_type_name(container)}")


def _slice(container: Any, lower: Any, upper: Any, step: Any) -> Any:
    for bound in (lower, upper, step):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
            raise _Fault(f"slice bounds must be ints or null, not {_type_name(bound)}")
    if step == 0:
        raise _Fault("slice step cannot be zero")
    window = slice(lower, upper, step)
    if isinstance(container, str):
        return container[window]
    if type(container) is list:
        return container[window]
    if _is_list(container):
        return list(container)[window]
    raise _Fault(f"cannot slice {_type_name(container)}")


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        if not isinstance(item, str):
            raise _Fault(f"cannot look for {_type_name(item)} in a str")
        return item in container
    if isinstance(container, Mapping):
        try:
            return item in container
        except TypeError:
            raise _Fault(f"{_type_name(item)} cannot be a dict key") from None
    if _is_list(container):
        return item in container
    raise _Fault(f"cannot look for a value in {_type_name(container)}")


# --------------------------------------------------------------------------- operators


def _add(left: Any, right: Any, scope: _Scope) -> Any:
    if _is_number(left) and _is_number(right):
        return left + right
    if isinstance(left, str) and isinstance(right, str):
        _check_size(len(left) + len(right), "characters")
        scope.charge(len(left) + len(right))
        return left + right
    if _is_list(left) and _is_list(right):
        _check_size(_element_count(left, MAX_SIZE) + _element_count(right, MAX_SIZE), "elements")
        scope.charge(len(left) + len(right))
        return [*left, *right]
    raise _Fault(f"cannot add {_type_name(left)} and {_type_name(right)}")


def _subtract(left: Any, right: Any, scope: _Scope) -> Any:
    if _is_number(left) and _is_number(right):
        return left - right
    raise _Fault(f"cannot subtract {_type_name(right)} from {_type_name(left)}")


def _multiply(left: Any, right: Any, scope: _Scope) -> Any:
    if _is_number(left) and _is_number(right):
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() + right.bit_length() > MAX_INT_BITS
        ):
            raise _Fault(f"integer result too large (limit {MAX_INT_BITS} bits)")
        return left * right
    sequence, count = (right, left) if isinstance(left, int) else (left, right)
    if isinstance(count, int) and (isinstance(sequence, str) or _is_list(sequence)):
        times = max(count, 0)
        noun = "characters" if isinstance(sequence, str) else "elements"
        if times:
            _check_size(times * _element_count(sequence, MAX_SIZE), noun)
        scope.charge(times * len(sequence))
        return sequence * times if isinstance(sequence, (str, list)) else list(sequence) * times
    raise _Fault(f"cannot multiply {_type_name(left)} and {_type_name(right)}")


def _numbers_only(verb: str, left: Any, right: Any) -> None:
    if not (_is_number(left) and _is_number(right)):
        raise _Fault(f"cannot {verb} {_type_name(left)} by {_type_name(right)}")


def _divide(left: Any, right: Any, scope: _Scope) -> Any:
    _numbers_only("divide", left, right)
    try:
        return left / right
    except ZeroDivisionError:
        raise _Fault("division by zero") from None
    except OverflowError:
        raise _Fault("result too large") from None


def _floor_divide(left: Any, right: Any, scope: _Scope) -> Any:
    _numbers_only("divide", left, right)
    try:
        return left // right
    except ZeroDivisionError:
        raise _Fault("division by zero") from None
    except OverflowError:
        raise _Fault("result too large") from None


def _modulo(left: Any, right: Any, scope: _Scope) -> Any:
    # Numbers only: "%" on a string would be printf-style formatting of user text.
    _numbers_only("take the remainder of", left, right)
    try:
        return left % right
    except ZeroDivisionError:
        raise _Fault("division by zero") from None
    except OverflowError:
        raise _Fault("result too large") from None


def _power(base: Any, exponent: Any, scope: _Scope) -> Any:
    if not (_is_number(base) and _is_number(exponent)):
        raise _Fault(f"cannot raise {_type_name(base)} to {_type_name(exponent)}")
    if abs(exponent) > MAX_EXPONENT:
        raise _Fault(f"exponent {exponent} is too large (limit {MAX_EXPONENT})")
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and base.bit_length() * exponent > MAX_INT_BITS
    ):
        raise _Fault(f"integer result too large (limit {MAX_INT_BITS} bits)")
    try:
        result = base**exponent
    except ZeroDivisionError:
        raise _Fault("zero cannot be raised to a negative power") from None
    except OverflowError:
        raise _Fault("result too large") from None
    if isinstance(result, complex):
        raise _Fault("result is not a real number")
    return result


_BINARY: Mapping[type[ast.operator], Callable[[Any, Any, _Scope], Any]] = {
    ast.Add: _add,
    ast.Sub: _subtract,
    ast.Mult: _multiply,
    ast.Div: _divide,
    ast.FloorDiv: _floor_divide,
    ast.Mod: _modulo,
    ast.Pow: _power,
}

_REFUSED_OPERATORS: Mapping[type[ast.AST], str] = {
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.MatMult: "@",
    ast.Invert: "~",
}


def _ordered(compare: Callable[[Any, Any], Any]) -> Callable[[Any, Any], bool]:
    def check(left: Any, right: Any) -> bool:
        try:
            return bool(compare(left, right))
        except TypeError:
            raise _Fault(f"cannot compare {_type_name(left)} with {_type_name(right)}") from None

    return check


_COMPARISONS: Mapping[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: lambda left, right: bool(left == right),
    ast.NotEq: lambda left, right: bool(left != right),
    ast.Lt: _ordered(operator.lt),
    ast.LtE: _ordered(operator.le),
    ast.Gt: _ordered(operator.gt),
    ast.GtE: _ordered(operator.ge),
    ast.In: lambda left, right: _contains(right, left),
    ast.NotIn: lambda left, right: not _contains(right, left),
}


# --------------------------------------------------------------------------- functions


class Function(NamedTuple):
    """One entry of the function table: how it is called and what it does.

    ``examples`` are ``(expression, result)`` pairs; the test suite evaluates each one,
    so the documentation cannot drift from the behaviour.

    A ``NamedTuple`` (immutable, compared by value), not a dataclass: building a
    dataclass compiles its methods, about 0.7 ms of every ``maverick run``.
    """

    name: str
    signature: str
    summary: str
    examples: tuple[tuple[str, Any], ...]
    min_args: int
    max_args: int | None
    call: Callable[..., Any]
    lazy: bool = False
    """Arguments arrive as zero-argument callables, evaluated only when needed."""
    impure: bool = False
    """Never computed at load time, even with constant arguments (plugin functions)."""

    def __repr__(self) -> str:
        return f"Function(name={self.name!r}, signature={self.signature!r})"

    def arity_text(self) -> str:
        """How many arguments the function takes, in words."""
        if self.max_args is None:
            return f"at least {self.min_args} argument{'s' if self.min_args != 1 else ''}"
        if self.min_args == self.max_args:
            return f"{self.min_args} argument{'s' if self.min_args != 1 else ''}"
        return f"{self.min_args} to {self.max_args} arguments"


_MISSING: Any = object()
_Impl = TypeVar("_Impl", bound=Callable[..., Any])
_TABLE: dict[str, Function] = {}


def _function(
    signature: str, summary: str, *examples: tuple[str, Any], lazy: bool = False
) -> Callable[[_Impl], _Impl]:
    """Register the decorated implementation in :data:`FUNCTIONS`.

    The name comes from ``signature``; the arity from the implementation's parameters
    after ``scope`` (a default makes one optional, ``*rest`` makes it variadic).
    """

    def register(call: _Impl) -> _Impl:
        parameters = list(inspect.signature(call).parameters.values())[1:]
        fixed = [p for p in parameters if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        variadic = len(fixed) < len(parameters)
        name = signature.split("(", 1)[0]
        _TABLE[name] = Function(
            name=name,
            signature=signature,
            summary=summary,
            examples=examples,
            min_args=sum(1 for p in fixed if p.default is inspect.Parameter.empty),
            max_args=None if variadic else len(fixed),
            call=call,
            lazy=lazy,
        )
        return call

    return register


def _need_str(function: str, value: Any, what: str = "argument") -> str:
    if not isinstance(value, str):
        raise _Fault(f"{function}() needs a str {what}, not {_type_name(value)}")
    return value


def _need_list(function: str, value: Any) -> Sequence[Any]:
    if not _is_list(value):
        raise _Fault(f"{function}() needs a list, not {_type_name(value)}")
    return value  # type: ignore[no-any-return]


def _need_int(function: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Fault(f"{function}() needs an int, not {_type_name(value)}")
    return value


def _need_mapping(function: str, value: Any) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise _Fault(f"{function}() needs a dict, not {_type_name(value)}")
    return value


@_function(
    "length(value)",
    "Number of characters of a string, items of a list, or keys of a dict.",
    ("length([1, 2, 3])", 3),
    ("length('héllo')", 5),
    ("length({'a': 1})", 1),
)
def _fn_length(scope: _Scope, value: Any) -> int:
    if isinstance(value, (str, Mapping)) or _is_list(value):
        return len(value)
    raise _Fault(f"{_type_name(value)} has no length")


@_function(
    "join(list, sep=',')",
    "The items as text (the interpolation rules), separated by sep (positional).",
    ("join(['a', 'b', 'c'])", "a,b,c"),
    ("join([1, null, true], ' ')", "1  true"),
)
def _fn_join(scope: _Scope, items: Any, separator: Any = ",") -> str:
    sequence = _need_list("join", items)
    _need_str("join", separator, "separator")
    pieces: list[str] = []
    size = 0
    for item in sequence:
        piece = _to_text(item)
        size += len(piece) + len(separator)
        if size > MAX_TEXT:
            raise _Fault(f"result is too long (limit {MAX_TEXT:,} characters)")
        pieces.append(piece)
    scope.charge(size)
    return str(separator).join(pieces)


@_function(
    "contains(container, value)",
    "Substring test for a string, key test for a dict, membership test for a list.",
    ("contains('hello', 'ell')", True),
    ("contains([1, 2], 3)", False),
    ("contains({'a': 1}, 'a')", True),
)
def _fn_contains(scope: _Scope, container: Any, value: Any) -> bool:
    return _contains(container, value)


@_function(
    "default(value, fallback)",
    "fallback when value is null or fails to evaluate (a missing key ...); "
    "fallback is evaluated only when needed.",
    ("default(null, 'x')", "x"),
    ("default({'a': 1}.b, 0)", 0),
    ("default(2, 0)", 2),
    lazy=True,
)
def _fn_default(scope: _Scope, value: Callable[[], Any], fallback: Callable[[], Any]) -> Any:
    try:
        result = value()
    except EvaluationError:
        return fallback()
    return fallback() if result is None else result


@_function("lower(text)", "The string in lower case.", ("lower('MiXed')", "mixed"))
def _fn_lower(scope: _Scope, text: Any) -> str:
    return _need_str("lower", text).lower()


@_function("upper(text)", "The string in upper case.", ("upper('MiXed')", "MIXED"))
def _fn_upper(scope: _Scope, text: Any) -> str:
    return _need_str("upper", text).upper()


@_function(
    "trim(text)",
    "The string without leading and trailing whitespace.",
    ("trim('  a b \\n')", "a b"),
)
def _fn_trim(scope: _Scope, text: Any) -> str:
    return _need_str("trim", text).strip()


@_function(
    "split(text, sep=null)",
    "The string cut at each sep; without sep (or with null), at runs of whitespace.",
    ("split('a,b,c', ',')", ["a", "b", "c"]),
    ("split(' a  b ')", ["a", "b"]),
)
def _fn_split(scope: _Scope, text: Any, separator: Any = None) -> list[str]:
    _need_str("split", text)
    if separator is not None:
        _need_str("split", separator, "separator")
        if not separator:
            raise _Fault("split() separator cannot be empty")
    parts = str(text).split(separator)
    scope.charge(len(parts))
    return parts


@_function(
    "replace(text, old, new)",
    "The string with every occurrence of old replaced by new.",
    ("replace('a-b-c', '-', '+')", "a+b+c"),
)
def _fn_replace(scope: _Scope, text: Any, old: Any, new: Any) -> str:
    _need_str("replace", text)
    _need_str("replace", old)
    _need_str("replace", new)
    count = text.count(old) if old else len(text) + 1
    size = len(text) + count * (len(new) - len(old))
    if size > MAX_TEXT:
        raise _Fault(f"result would have {size:,} characters (limit {MAX_TEXT:,})")
    scope.charge(size)
    return str(text).replace(old, new)


@_function(
    "startswith(text, prefix)",
    "Whether the string starts with prefix.",
    ("startswith('release-1.2', 'release-')", True),
)
def _fn_startswith(scope: _Scope, text: Any, prefix: Any) -> bool:
    return _need_str("startswith", text).startswith(_need_str("startswith", prefix))


@_function(
    "endswith(text, suffix)",
    "Whether the string ends with suffix.",
    ("endswith('notes.md', '.md')", True),
)
def _fn_endswith(scope: _Scope, text: Any, suffix: Any) -> bool:
    return _need_str("endswith", text).endswith(_need_str("endswith", suffix))


@_function(
    "to_json(value)",
    "Compact JSON text of the value.",
    ("to_json({'a': [1, true, null]})", '{"a":[1,true,null]}'),
)
def _fn_to_json(scope: _Scope, value: Any) -> str:
    text = _to_json(value)
    scope.charge(len(text))
    return text


@_function(
    "from_json(text)",
    "The value the JSON text describes.",
    ("from_json('{\"a\": [1, 2]}')", {"a": [1, 2]}),
)
def _fn_from_json(scope: _Scope, text: Any) -> Any:
    _need_str("from_json", text)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Fault(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:
        raise _Fault(f"invalid JSON: {exc}") from None


@_function(
    "keys(dict)",
    "The keys of a dict, as a list, in order.",
    ("keys({'a': 1, 'b': 2})", ["a", "b"]),
)
def _fn_keys(scope: _Scope, mapping: Any) -> list[Any]:
    return list(_need_mapping("keys", mapping).keys())


@_function(
    "values(dict)",
    "The values of a dict, as a list, in order.",
    ("values({'a': 1, 'b': 2})", [1, 2]),
)
def _fn_values(scope: _Scope, mapping: Any) -> list[Any]:
    return list(_need_mapping("values", mapping).values())


@_function(
    "str(value)",
    "The text interpolation would produce: null is '', booleans are 'true'/'false', "
    "lists and dicts are compact JSON.",
    ("str(null)", ""),
    ("str(true)", "true"),
    ("str([1, 'a'])", '[1,"a"]'),
)
def _fn_str(scope: _Scope, value: Any) -> str:
    text = _to_text(value)
    scope.charge(len(text))
    return text


@_function(
    "int(value)",
    "An integer from a number (truncated toward zero), a bool, or a decimal string.",
    ("int('42')", 42),
    ("int(3.9)", 3),
)
def _fn_int(scope: _Scope, value: Any) -> int:
    if isinstance(value, (int, float, str)):
        try:
            return int(value)
        except (ValueError, OverflowError):
            raise _Fault(f"cannot convert {_short_repr(value)} to int") from None
    raise _Fault(f"cannot convert {_type_name(value)} to int")


@_function(
    "float(value)",
    "A floating-point number from a number, a bool, or a string.",
    ("float('2.5')", 2.5),
    ("float(2)", 2.0),
)
def _fn_float(scope: _Scope, value: Any) -> float:
    if isinstance(value, (int, float, str)):
        try:
            return float(value)
        except (ValueError, OverflowError):
            raise _Fault(f"cannot convert {_short_repr(value)} to float") from None
    raise _Fault(f"cannot convert {_type_name(value)} to float")


_TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
_FALSE_WORDS = frozenset({"false", "no", "off", "0", ""})


@_function(
    "bool(value)",
    "For a string: true/yes/on/1 or false/no/off/0/'' (any case; other text is an "
    "error). For anything else: truthiness (0, null, empty list/dict are false).",
    ("bool('false')", False),
    ("bool('Yes')", True),
    ("bool([])", False),
)
def _fn_bool(scope: _Scope, value: Any) -> bool:
    # Python's bool("false") is True, which no workflow author means.
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise _Fault(f"cannot convert {_short_repr(value)} to bool")
    return bool(value)


def _extremes(function: str, pick: Callable[[Sequence[Any]], Any], arguments: Sequence[Any]) -> Any:
    values = _need_list(function, arguments[0]) if len(arguments) == 1 else arguments
    if not values:
        raise _Fault(f"{function}() of an empty list")
    try:
        return pick(values)
    except TypeError:
        kinds = ", ".join(sorted({_type_name(value) for value in values}))
        raise _Fault(f"{function}() cannot compare values of types {kinds}") from None


@_function(
    "min(list) or min(a, b, ...)",
    "The smallest item.",
    ("min([3, 1, 2])", 1),
    ("min(4, 2)", 2),
)
def _fn_min(scope: _Scope, first: Any, *rest: Any) -> Any:
    return _extremes("min", min, (first, *rest))


@_function(
    "max(list) or max(a, b, ...)",
    "The largest item.",
    ("max([3, 1, 2])", 3),
    ("max(4, 2)", 4),
)
def _fn_max(scope: _Scope, first: Any, *rest: Any) -> Any:
    return _extremes("max", max, (first, *rest))


@_function(
    "sum(list)",
    "The sum of a list of numbers.",
    ("sum([1, 2, 3.5])", 6.5),
    ("sum([])", 0),
)
def _fn_sum(scope: _Scope, items: Any) -> Any:
    sequence = _need_list("sum", items)
    for item in sequence:
        if not _is_number(item):
            raise _Fault(f"sum() needs numbers, found {_type_name(item)}")
    return sum(sequence)


@_function(
    "range(stop) or range(start, stop)",
    f"The integers from start (default 0) up to, not including, stop; at most "
    f"{MAX_RANGE:,} of them.",
    ("range(3)", [0, 1, 2]),
    ("range(2, 5)", [2, 3, 4]),
)
def _fn_range(scope: _Scope, first: Any, second: Any = _MISSING) -> list[int]:
    if second is _MISSING:
        start, stop = 0, _need_int("range", first)
    else:
        start, stop = _need_int("range", first), _need_int("range", second)
    count = max(stop - start, 0)
    if count > MAX_RANGE:
        raise _Fault(f"range of {count:,} items is too long (limit {MAX_RANGE:,})")
    scope.charge(count)
    return list(range(start, stop))


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


@_function(
    "format(template, arg0, arg1, ...)",
    "The template with {0}, {1} ... replaced by the arguments as text (the "
    "interpolation rules); {{ and }} are literal braces.",
    ("format('{0}-{1}-{0}', 'a', 1)", "a-1-a"),
    ("format('{{x}} {0}', 7)", "{x} 7"),
)
def _fn_format(scope: _Scope, template: Any, *arguments: Any) -> str:
    # Substituted by hand: str.format on user text can reach attributes ("{0.__class__}").
    _need_str("format", template, "template")
    texts: dict[int, str] = {}
    pieces: list[str] = []
    size = 0
    last = 0
    for match in _PLACEHOLDER.finditer(template):
        token = match.group(0)
        if token == "{{":
            piece = "{"
        elif token == "}}":
            piece = "}"
        else:
            field_name = match.group(1)
            if not (field_name.isascii() and field_name.isdigit() and len(field_name) <= 6):
                raise _Fault(
                    f"unsupported placeholder {_short_repr(token)}: only {{0}}, {{1}}, ... "
                    "are allowed (write {{ and }} for literal braces)"
                )
            position = int(field_name)
            if position >= len(arguments):
                raise _Fault(f"placeholder {token} has no argument ({len(arguments)} given)")
            if position not in texts:
                texts[position] = _to_text(arguments[position])
            piece = texts[position]
        size += match.start() - last + len(piece)
        if size > MAX_TEXT:
            raise _Fault(f"result is too long (limit {MAX_TEXT:,} characters)")
        pieces.append(template[last : match.start()])
        pieces.append(piece)
        last = match.end()
    pieces.append(template[last:])
    result = "".join(pieces)
    scope.charge(len(result))
    return result


FUNCTIONS: Mapping[str, Function] = MappingProxyType(_TABLE)
"""The functions expressions may call, by name. Nothing else is callable."""


_PLAIN_SCALARS = (str, int, float, bool, type(None))


def _plain_copy(value: Any, function: str, what: str, depth: int = 0) -> Any:
    """A deep copy of ``value`` as plain data (dict with str keys, list, scalars)."""
    if depth > MAX_NESTING:
        raise _Fault(f"{function}() {what} is nested too deeply")
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, _PLAIN_SCALARS):
        return value
    if isinstance(value, Mapping):
        copied: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Fault(f"{function}() {what} has a {_type_name(key)} key (plain data only)")
            copied[key] = _plain_copy(item, function, what, depth + 1)
        return copied
    if isinstance(value, list | tuple):
        return [_plain_copy(item, function, what, depth + 1) for item in value]
    raise _Fault(f"{function}() {what} is not plain data: {_type_name(value)}")


def plugin_function(name: str, call: Callable[..., Any], summary: str = "") -> Function:
    """Wrap a plugin's Python function as an expression function.

    The sandbox rules hold for it as for the built-ins: it is called by name with
    positional arguments only, each a deep plain-data copy (it cannot change the
    run's data), and it must return plain data, which is charged to the
    expression's allocation budget. Its exceptions fail the expression with a
    message naming it. Calls are never computed at load time (a plugin function
    may read the clock or the environment).

    :raises ValueError: for a name that is not a public identifier or is a built-in.
    """
    if not name.isidentifier() or name.startswith("_") or name in _CONSTANT_NAMES:
        raise ValueError(f"expression function name {name!r} is not a public identifier")
    if name in FUNCTIONS:
        raise ValueError(f"expression function {name!r} would replace the built-in {name}()")
    try:
        parameters = list(inspect.signature(call).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature: any arity
        parameters = [inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL)]
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    fixed = [p for p in parameters if p.kind in positional]
    variadic = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)

    def run(scope: _Scope, *arguments: Any) -> Any:
        copies = [_plain_copy(a, name, f"argument {i + 1}") for i, a in enumerate(arguments)]
        try:
            result = call(*copies)
        except EvaluationError:
            raise
        except Exception as exc:
            raise _Fault(f"{name}() failed: {type(exc).__name__}: {exc}") from None
        plain = _plain_copy(result, name, "result")
        if not isinstance(plain, _PLAIN_SCALARS):
            scope.charge(_element_count(plain, MAX_ALLOCATION))
        elif isinstance(plain, str):
            scope.charge(len(plain))
        return plain

    doc = inspect.getdoc(call) or ""
    return Function(
        name=name,
        signature=f"{name}({', '.join(p.name for p in fixed)}{', ...' if variadic else ''})",
        summary=summary or (doc.splitlines()[0] if doc else ""),
        examples=(),
        min_args=sum(1 for p in fixed if p.default is inspect.Parameter.empty),
        max_args=None if variadic else len(fixed),
        call=run,
        impure=True,
    )


def function_table(extra: Mapping[str, Callable[..., Any]] | None = None) -> Mapping[str, Function]:
    """The built-in functions plus ``extra`` (name -> plain Python function) from plugins.

    :raises ValueError: when an extra name is invalid or collides with a built-in.
    """
    if not extra:
        return FUNCTIONS
    table = dict(FUNCTIONS)
    for name, call in extra.items():
        table[name] = plugin_function(name, call)
    return MappingProxyType(table)


# --------------------------------------------------------------------------- compiled forms


def _guarded(run: _Run, names: Mapping[str, Any], where: str | ast.AST) -> Any:
    """Run compiled code; every failure leaves as an EvaluationError.

    :param where: what failures are attributed to when no node named a path: the
        expression text, or a node (described only if something fails).
    """
    try:
        return run(_Scope(names))
    except EvaluationError:
        raise
    except Exception as exc:
        # _Fault is expected here only for limits hit outside any node; the rest is a
        # safety net for values that are not plain data (a Mapping whose methods
        # raise, ...): the executor relies on evaluate() raising EvaluationError only.
        label = where.strip() if isinstance(where, str) else _describe(where)
        if isinstance(exc, _Fault):
            reason = str(exc)
        elif isinstance(exc, RecursionError):
            reason = "nested too deeply to evaluate"
        elif isinstance(exc, MemoryError):
            reason = "out of memory"
        else:
            reason = f"{type(exc).__name__}: {exc}"
        raise EvaluationError(f"{label}: {reason}") from exc


class _Frozen:
    """An immutable value compared, hashed and shown by its :attr:`_FIELDS`.

    What a frozen dataclass gives, written out: building a dataclass compiles its
    methods, about 0.7 ms each at every start that loads this module (every run).
    """

    __slots__ = ()
    _FIELDS: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Frozen) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS)
        return f"{type(self).__name__}({shown})"

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __copy__(self) -> Self:
        return self  # immutable: a copy would be the same value

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self


class Expression(_Frozen):
    """A compiled expression: immutable, reusable, safe to share between threads.

    Build one with :func:`compile_expression`.
    """

    __slots__ = ("_run", "root_names", "source", "step_references")
    _FIELDS = ("source", "step_references", "root_names")

    source: str
    """The expression text, without ``${{ }}``."""
    step_references: frozenset[str]
    """Step names used as ``steps.NAME`` or ``steps['NAME']`` (a constant key)."""
    root_names: frozenset[str]
    """The top-level names used (``inputs``, ``steps``, ``item`` ...)."""
    _run: _Run

    def __init__(
        self, source: str, step_references: frozenset[str], root_names: frozenset[str], _run: _Run
    ) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "step_references", step_references)
        object.__setattr__(self, "root_names", root_names)
        object.__setattr__(self, "_run", _run)

    def evaluate(self, names: Mapping[str, Any]) -> Any:
        """The value of the expression over ``names``.

        :param names: the top-level names (``inputs``, ``steps`` ...) and their values.
        :raises EvaluationError: for every failure (a missing key, a type mismatch ...).
        """
        return _guarded(self._run, names, self.source)


class Template(_Frozen):
    """A string value holding at least one ``${{ }}``. Build one with :func:`parse_template`."""

    __slots__ = ("_parts", "expressions", "is_whole", "root_names", "source", "step_references")
    _FIELDS = ("source", "is_whole", "expressions", "step_references", "root_names")

    source: str
    """The whole string, as written."""
    is_whole: bool
    """The string is exactly one ``${{ expr }}`` (surrounding whitespace allowed):
    :meth:`render` returns the value with its type."""
    expressions: tuple[tuple[Expression, int], ...]
    """Each expression with the offset in ``source`` of its first character (so an
    offset inside the expression plus this is an offset inside ``source``)."""
    step_references: frozenset[str]
    """The union of the expressions' step references."""
    root_names: frozenset[str]
    """The union of the expressions' root names."""
    _parts: tuple[str | Expression, ...]

    def __init__(
        self,
        source: str,
        is_whole: bool,
        expressions: tuple[tuple[Expression, int], ...],
        step_references: frozenset[str],
        root_names: frozenset[str],
        _parts: tuple[str | Expression, ...],
    ) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "is_whole", is_whole)
        object.__setattr__(self, "expressions", expressions)
        object.__setattr__(self, "step_references", step_references)
        object.__setattr__(self, "root_names", root_names)
        object.__setattr__(self, "_parts", _parts)

    def render(self, names: Mapping[str, Any]) -> Any:
        """The value of the template over ``names``.

        A whole template returns the expression's value unchanged (a list stays a
        list; the very object, not a copy). Otherwise each value is interpolated as
        text: strings as they are, null as '', booleans as 'true'/'false', numbers
        with ``str()``, lists and dicts as compact JSON.

        :raises EvaluationError: for every failure.
        """
        if self.is_whole:
            return self.expressions[0][0].evaluate(names)
        pieces: list[str] = []
        size = 0
        for part in self._parts:
            if isinstance(part, str):
                text = part
            else:
                value = part.evaluate(names)
                try:
                    text = _to_text(value)
                except _Fault as fault:
                    raise EvaluationError(f"{part.source}: {fault}") from None
                except Exception as exc:  # str() of a value that is not plain data
                    raise EvaluationError(
                        f"{part.source}: cannot turn {_type_name(value)} into text: {exc}"
                    ) from exc
            size += len(text)
            if size > MAX_TEXT:
                raise EvaluationError(
                    f"{_short_repr(self.source)}: rendered text is too long "
                    f"(limit {MAX_TEXT:,} characters)"
                )
            pieces.append(text)
        return "".join(pieces)


# --------------------------------------------------------------------------- parsing


def _skip_string(text: str, start: int) -> int:
    """Index just past the string literal whose quote is at ``start``; -1 if it never ends."""
    quote = text[start]
    delimiter = quote * 3 if text.startswith(quote * 3, start) else quote
    index = start + len(delimiter)
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if text.startswith(delimiter, index):
            return index + len(delimiter)
        if len(delimiter) == 1 and char in "\r\n":
            return -1
        index += 1
    return -1


def _check_brackets(text: str) -> None:
    """Refuse a closing bracket with no opening one.

    Without this, the parentheses wrapped around the text for parsing would pair with
    the user's: "length)(x" would compile as "(length)(x)".
    """
    depth = 0
    index = 0
    while index < len(text):
        char = text[index]
        if char in "'\"":
            index = _skip_string(text, index)
            if index < 0:
                return
            continue
        if char == "#":
            found = _LINE_BREAK.search(text, index)
            if found is None:
                return
            index = found.start()
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                raise ExpressionError(f"unmatched {char!r}", index)
            depth -= 1
        index += 1


class _Positions:
    """Turns parser positions in the wrapped source into character offsets in the text."""

    __slots__ = ("_limit", "_source", "_starts")

    def __init__(self, source: str, limit: int) -> None:
        self._source = source
        self._starts = [0, *(found.end() for found in _LINE_BREAK.finditer(source))]
        self._limit = limit

    def offset(self, lineno: int | None, column: int | None, *, in_bytes: bool) -> int:
        """The character offset in the text of (1-based line, 0-based column)."""
        if not lineno:
            return 0
        row = min(max(lineno, 1), len(self._starts)) - 1
        start = self._starts[row]
        column = max(column or 0, 0)
        if in_bytes:
            # ast columns count UTF-8 bytes; the first `column` bytes of a line span at
            # most `column` characters.
            head = self._source[start : start + column].encode("utf-8", "surrogatepass")
            column = len(head[:column].decode("utf-8", "ignore"))
        return min(max(start + column - _WRAP_PREFIX, 0), self._limit)


def _allowed_tuple(allowed_names: Collection[str]) -> tuple[str, ...]:
    if isinstance(allowed_names, Sequence) and not isinstance(allowed_names, str):
        return tuple(allowed_names)
    return tuple(sorted(allowed_names))


def _describe(node: ast.AST) -> str:
    """Source-like text of a node for error messages."""
    try:
        text = ast.unparse(node)
    except (RecursionError, ValueError):
        return "expression"
    return text if len(text) <= 80 else text[:77] + "..."


def _check_characters(text: str) -> None:
    if "\x00" in text:
        raise ExpressionError("expression contains a NUL character", text.index("\x00"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ExpressionError("expression contains an unpaired surrogate", exc.start) from None


def _parse_quietly(source: str) -> ast.Expression:
    # The lock: catch_warnings() swaps process-wide state, and ast.parse warns (or,
    # under -W error, fails) on things like invalid escapes in string literals.
    with _PARSE_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source, mode="eval")


def _syntax_error(exc: SyntaxError, offset: int) -> ExpressionError:
    message = exc.msg
    if "Exceeds the limit" in message:  # int digits limit: the advice would be Python's
        message = "integer literal is too long"
    return ExpressionError(f"syntax error: {message}", offset)


def _parse(text: str, positions: _Positions) -> ast.Expression:
    try:
        return _parse_quietly(f"({text}\n)")
    except SyntaxError as exc:
        wrapped_error = exc
    except (RecursionError, MemoryError):
        raise ExpressionError("expression is nested too deeply", 0) from None
    except ValueError as exc:
        raise ExpressionError(f"syntax error: {exc}", 0) from None
    if "forgot a comma" in wrapped_error.msg and not _LINE_BREAK.search(text):
        # Inside parentheses Python reports two juxtaposed terms ("a b") at the
        # opening parenthesis; a one-line text parsed bare is reported at the second.
        bare = text.lstrip()
        try:
            _parse_quietly(bare)
        except SyntaxError as exc:
            column = (exc.offset or 1) - 1 + len(text) - len(bare)
            raise _syntax_error(wrapped_error, min(max(column, 0), len(text))) from None
        except (RecursionError, MemoryError, ValueError):
            pass
    offset = positions.offset(wrapped_error.lineno, (wrapped_error.offset or 1) - 1, in_bytes=False)
    raise _syntax_error(wrapped_error, offset)


class _Code(NamedTuple):
    """A compiled node: how to run it, and whether it depends on no name."""

    run: _Run
    constant: bool
    value: Any = _UNSET
    """The value, when the node was computed at compile time."""


_LinkStep = Callable[[Any, _Scope], Any]

_REFUSED_NODES: Mapping[type[ast.AST], str] = {
    ast.Lambda: "lambda expressions are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.JoinedStr: "f-strings are not allowed (use format() or +)",
    ast.FormattedValue: "f-strings are not allowed (use format() or +)",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
    ast.Set: "set literals are not allowed (use a list)",
    ast.Slice: "a slice is only allowed directly inside [...]",
}


def _constant_run(value: Any) -> _Run:
    def run(scope: _Scope) -> Any:
        return value

    return run


def _is_foldable(value: Any) -> bool:
    # Lists and dicts are rebuilt on every evaluation so that no caller can mutate a
    # value shared by later evaluations.
    if isinstance(value, str):
        return len(value) <= _FOLD_MAX_STR
    return type(value) in _SCALAR_TYPES


class _Compiler:
    """Turns a checked AST into closures, recording names and step references."""

    def __init__(
        self,
        positions: _Positions,
        allowed: tuple[str, ...],
        functions: Mapping[str, Function] = FUNCTIONS,
    ) -> None:
        self._positions = positions
        self._functions = functions
        self._allowed = allowed
        self._allowed_set = frozenset(allowed)
        self.step_references: set[str] = set()
        self.root_names: set[str] = set()
        # Above zero inside default()'s first argument: a literal-only part that fails
        # there is the fallback's business at run time, not a compile error.
        self._lenient = 0

    # ----------------------------------------------------------------- positions, refusal

    def _offset(self, node: ast.AST) -> int:
        return self._positions.offset(
            getattr(node, "lineno", None), getattr(node, "col_offset", None), in_bytes=True
        )

    def _attribute_offset(self, node: ast.Attribute) -> int:
        end = self._positions.offset(node.end_lineno, node.end_col_offset, in_bytes=True)
        return max(end - len(node.attr), 0)

    def _refuse(self, message: str, where: ast.AST | int) -> NoReturn:
        offset = where if isinstance(where, int) else self._offset(where)
        raise ExpressionError(message, offset)

    def _check_public(self, name: str, where: ast.AST | int) -> None:
        if name.startswith("_"):
            self._refuse(
                f"private name {name!r} is not allowed (names starting with '_' are refused)",
                where,
            )

    # ----------------------------------------------------------------- dispatch

    def compile(self, node: ast.expr, depth: int) -> _Code:
        """Compile ``node``; parts that use no name are computed now."""
        if depth > MAX_NESTING:
            self._refuse(f"expression is nested too deeply (limit {MAX_NESTING} levels)", node)
        kind = type(node)
        if kind in _REFUSED_NODES:
            self._refuse(_REFUSED_NODES[kind], node)
        handler = self._HANDLERS.get(kind)
        if handler is None:
            self._refuse(f"{kind.__name__} is not allowed in expressions", node)
        return self._fold(handler(self, node, depth + 1), node)

    def _fold(self, code: _Code, node: ast.expr) -> _Code:
        if not code.constant or code.value is not _UNSET:
            return code
        try:
            value = _guarded(code.run, {}, node)
        except EvaluationError as exc:
            if self._lenient:
                return _Code(code.run, constant=False)
            raise ExpressionError(exc.message, self._offset(node)) from None
        if _is_foldable(value):
            return _Code(_constant_run(value), True, value)
        return code

    # ----------------------------------------------------------------- leaves

    def _constant(self, node: ast.Constant, depth: int) -> _Code:
        value = node.value
        if isinstance(value, bytes):
            self._refuse("bytes literals are not allowed", node)
        if isinstance(value, complex):
            self._refuse("complex numbers are not allowed", node)
        if value is Ellipsis:
            self._refuse("'...' is not allowed", node)
        return _Code(_constant_run(value), True, value)

    def _name(self, node: ast.Name, depth: int) -> _Code:
        name = node.id
        self._check_public(name, node)
        if name in _CONSTANT_NAMES:
            value = _CONSTANT_NAMES[name]
            return _Code(_constant_run(value), True, value)
        if name not in self._allowed_set:
            self._refuse(self._unknown_name(name), node)
        self.root_names.add(name)

        def run(scope: _Scope) -> Any:
            try:
                return scope.names[name]
            except KeyError:
                raise EvaluationError(f"{name}: not available here") from None

        return _Code(run, constant=False)

    def _unknown_name(self, name: str) -> str:
        if name in self._functions:
            return f"{name!r} is a function; call it, e.g. {name}(...)"
        close = closest(name, [*self._allowed, *_CONSTANT_NAMES])
        hint = f"did you mean {close!r}? " if close else ""
        seen = ", ".join(self._allowed) if self._allowed else "no names here"
        return f"unknown name {name!r} ({hint}expressions see {seen})"

    # ----------------------------------------------------------------- lookups

    def _chain(self, node: ast.Attribute | ast.Subscript, depth: int) -> _Code:
        # a.b['c'][0] is compiled as one loop over its links rather than nested
        # closures: faster, and error messages name the exact prefix that failed.
        links: list[ast.Attribute | ast.Subscript] = []
        base: ast.expr = node
        while isinstance(base, (ast.Attribute, ast.Subscript)):
            links.append(base)
            base = base.value
        links.reverse()
        base_code = self.compile(base, depth)
        steps: list[_LinkStep] = []
        suffixes: list[str] = []
        codes: list[_Code] = [base_code]
        first_key: Any = _UNSET
        for position, link in enumerate(links):
            if isinstance(link, ast.Attribute):
                self._check_public(link.attr, self._attribute_offset(link))
                steps.append(_key_step(link.attr, attribute=True))
                suffixes.append(f".{link.attr}")
                key: Any = link.attr
            elif isinstance(link.slice, ast.Slice):
                bounds = tuple(
                    None if part is None else self.compile(part, depth)
                    for part in (link.slice.lower, link.slice.upper, link.slice.step)
                )
                codes.extend(code for code in bounds if code is not None)
                steps.append(_slice_step(bounds))
                suffixes.append(f"[{_describe(link.slice)}]")
                key = _UNSET
            else:
                key_code = self.compile(link.slice, depth)
                codes.append(key_code)
                key = key_code.value
                if key is _UNSET:
                    steps.append(_dynamic_key_step(key_code.run))
                    suffixes.append(f"[{_describe(link.slice)}]")
                else:
                    steps.append(_key_step(key, attribute=False))
                    suffixes.append(f"[{_short_repr(key)}]")
            if position == 0:
                first_key = key
        if isinstance(base, ast.Name) and base.id == "steps" and isinstance(first_key, str):
            self.step_references.add(first_key)

        base_run = base_code.run
        link_steps = tuple(steps)
        base_text = base.id if isinstance(base, ast.Name) else None

        def path(position: int) -> str:
            head = base_text if base_text is not None else _describe(base)
            return head + "".join(suffixes[: position + 1])

        def run(scope: _Scope) -> Any:
            value = base_run(scope)
            for position, step in enumerate(link_steps):
                try:
                    value = step(value, scope)
                except _Fault as fault:
                    raise EvaluationError(f"{path(position)}: {fault}") from None
            return value

        return _Code(run, all(code.constant for code in codes))

    # ----------------------------------------------------------------- literals

    def _sequence(self, node: ast.List | ast.Tuple, depth: int) -> _Code:
        codes = [self.compile(element, depth) for element in node.elts]
        runs = tuple(code.run for code in codes)

        def run(scope: _Scope) -> Any:
            items = [item(scope) for item in runs]
            try:
                scope.charge(len(items))
            except _Fault as fault:
                raise EvaluationError(f"{_describe(node)}: {fault}") from None
            return items

        return _Code(run, all(code.constant for code in codes))

    def _dict(self, node: ast.Dict, depth: int) -> _Code:
        pairs: list[tuple[_Run, _Run, ast.expr]] = []
        codes: list[_Code] = []
        for key_node, value_node in zip(node.keys, node.values, strict=True):
            if key_node is None:
                self._refuse("'**' unpacking is not allowed", value_node)
            key_code = self.compile(key_node, depth)
            value_code = self.compile(value_node, depth)
            codes += (key_code, value_code)
            pairs.append((key_code.run, value_code.run, key_node))

        def run(scope: _Scope) -> Any:
            result: dict[Any, Any] = {}
            for key_run, value_run, key_node in pairs:
                key = key_run(scope)
                value = value_run(scope)
                try:
                    result[key] = value
                except TypeError:
                    raise EvaluationError(
                        f"{_describe(key_node)}: {_type_name(key)} cannot be a dict key"
                    ) from None
            try:
                scope.charge(len(result))
            except _Fault as fault:
                raise EvaluationError(f"{_describe(node)}: {fault}") from None
            return result

        return _Code(run, all(code.constant for code in codes))

    # ----------------------------------------------------------------- operators

    def _bool_op(self, node: ast.BoolOp, depth: int) -> _Code:
        codes = [self.compile(value, depth) for value in node.values]
        runs = tuple(code.run for code in codes)
        stop_when = not isinstance(node.op, ast.And)  # "or" stops at a truthy value

        def run(scope: _Scope) -> Any:
            value: Any = None
            for operand in runs:
                value = operand(scope)
                if bool(value) is stop_when:
                    return value
            return value

        return _Code(run, all(code.constant for code in codes))

    def _unary(self, node: ast.UnaryOp, depth: int) -> _Code:
        kind = type(node.op)
        if kind in _REFUSED_OPERATORS:
            self._refuse(f"operator {_REFUSED_OPERATORS[kind]!r} is not allowed", node)
        operand = self.compile(node.operand, depth)
        operand_run = operand.run
        if isinstance(node.op, ast.Not):

            def run_not(scope: _Scope) -> Any:
                return not operand_run(scope)

            return _Code(run_not, operand.constant)
        negate = isinstance(node.op, ast.USub)

        def run(scope: _Scope) -> Any:
            value = operand_run(scope)
            if not _is_number(value):
                raise EvaluationError(
                    f"{_describe(node)}: cannot apply unary "
                    f"{'-' if negate else '+'} to {_type_name(value)}"
                )
            return -value if negate else +value

        return _Code(run, operand.constant)

    def _binary(self, node: ast.BinOp, depth: int) -> _Code:
        kind = type(node.op)
        if kind not in _BINARY:
            symbol = _REFUSED_OPERATORS.get(kind, kind.__name__)
            self._refuse(
                f"operator {symbol!r} is not allowed (bitwise and matrix operators are refused)",
                node,
            )
        apply = _BINARY[kind]
        left = self.compile(node.left, depth)
        right = self.compile(node.right, depth)
        left_run, right_run = left.run, right.run

        def run(scope: _Scope) -> Any:
            left_value = left_run(scope)
            right_value = right_run(scope)
            try:
                return apply(left_value, right_value, scope)
            except _Fault as fault:
                raise EvaluationError(f"{_describe(node)}: {fault}") from None

        return _Code(run, left.constant and right.constant)

    def _compare(self, node: ast.Compare, depth: int) -> _Code:
        for operator_node in node.ops:
            if isinstance(operator_node, (ast.Is, ast.IsNot)):
                self._refuse("'is' is not allowed; use == or !=", node)
        first = self.compile(node.left, depth)
        operands = [node.left, *node.comparators]
        links: list[tuple[Callable[[Any, Any], bool], _Run, ast.expr]] = []
        codes = [first]
        for index, (operator_node, comparator) in enumerate(
            zip(node.ops, node.comparators, strict=True)
        ):
            code = self.compile(comparator, depth)
            codes.append(code)
            # Name the side that is not a literal: "inputs.count: cannot compare ...".
            left_node = operands[index]
            named = comparator if isinstance(left_node, ast.Constant) else left_node
            links.append((_COMPARISONS[type(operator_node)], code.run, named))
        first_run = first.run

        def run(scope: _Scope) -> Any:
            left = first_run(scope)
            for check, right_run, named in links:
                right = right_run(scope)
                try:
                    holds = check(left, right)
                except _Fault as fault:
                    raise EvaluationError(f"{_describe(named)}: {fault}") from None
                if not holds:
                    return False
                left = right
            return True

        return _Code(run, all(code.constant for code in codes))

    def _if(self, node: ast.IfExp, depth: int) -> _Code:
        test = self.compile(node.test, depth)
        body = self.compile(node.body, depth)
        orelse = self.compile(node.orelse, depth)
        test_run, body_run, orelse_run = test.run, body.run, orelse.run

        def run(scope: _Scope) -> Any:
            return body_run(scope) if test_run(scope) else orelse_run(scope)

        return _Code(run, test.constant and body.constant and orelse.constant)

    # ----------------------------------------------------------------- calls

    def _call(self, node: ast.Call, depth: int) -> _Code:
        callee = node.func
        if isinstance(callee, ast.Attribute):
            self._check_public(callee.attr, self._attribute_offset(callee))
            hint = ""
            if callee.attr in self._functions:
                more = "" if self._functions[callee.attr].max_args == 1 else ", ..."
                hint = f"; write {callee.attr}({_describe(callee.value)}{more})"
            self._refuse(f"method calls are not allowed{hint}", self._attribute_offset(callee))
        if not isinstance(callee, ast.Name):
            self.compile(callee, depth)
            self._refuse("only the built-in functions can be called, by name", callee)
        self._check_public(callee.id, callee)
        function = self._functions.get(callee.id)
        if function is None:
            self._refuse(self._unknown_function(callee.id), callee)
        if node.keywords:
            self._refuse(
                f"keyword arguments are not allowed ({function.name}() takes positional ones)",
                node.keywords[0],
            )
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                self._refuse(_REFUSED_NODES[ast.Starred], argument)
        given = len(node.args)
        if given < function.min_args or (
            function.max_args is not None and given > function.max_args
        ):
            self._refuse(f"{function.name}() takes {function.arity_text()} ({given} given)", node)
        codes: list[_Code] = []
        for index, argument in enumerate(node.args):
            lenient = function.lazy and index == 0
            self._lenient += lenient
            try:
                codes.append(self.compile(argument, depth))
            finally:
                self._lenient -= lenient
        runs = tuple(code.run for code in codes)
        call = function.call

        def fail(reason: object) -> NoReturn:
            raise EvaluationError(f"{_describe(node)}: {reason}") from None

        if function.lazy:

            def run_lazy(scope: _Scope) -> Any:
                return call(scope, *(partial(argument, scope) for argument in runs))

            return _Code(run_lazy, all(code.constant for code in codes))

        constant = not function.impure and all(code.constant for code in codes)

        def run(scope: _Scope) -> Any:
            values = [argument(scope) for argument in runs]
            try:
                return call(scope, *values)
            except _Fault as fault:
                fail(fault)
            except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
                fail(f"{function.name}() failed: {exc}")

        return _Code(run, constant)

    def _unknown_function(self, name: str) -> str:
        if name in self._allowed_set or name in _CONSTANT_NAMES:
            return f"{name!r} is not a function"
        close = closest(name, self._functions)
        hint = f"did you mean {close!r}? " if close else ""
        return f"unknown function {name!r} ({hint}see the function table in the docs)"

    _HANDLERS: Mapping[type[ast.AST], Callable[[_Compiler, Any, int], _Code]] = {
        ast.Constant: _constant,
        ast.Name: _name,
        ast.Attribute: _chain,
        ast.Subscript: _chain,
        ast.List: _sequence,
        ast.Tuple: _sequence,
        ast.Dict: _dict,
        ast.BoolOp: _bool_op,
        ast.UnaryOp: _unary,
        ast.BinOp: _binary,
        ast.Compare: _compare,
        ast.IfExp: _if,
        ast.Call: _call,
    }


def _key_step(key: Any, attribute: bool) -> _LinkStep:
    def step(value: Any, scope: _Scope) -> Any:
        return _lookup(value, key, attribute)

    return step


def _dynamic_key_step(key_run: _Run) -> _LinkStep:
    def step(value: Any, scope: _Scope) -> Any:
        return _lookup(value, key_run(scope), attribute=False)

    return step


def _slice_step(bounds: tuple[_Code | None, ...]) -> _LinkStep:
    runs = tuple(None if code is None else code.run for code in bounds)

    def step(value: Any, scope: _Scope) -> Any:
        lower, upper, stride = (None if run is None else run(scope) for run in runs)
        return _slice(value, lower, upper, stride)

    return step


# --------------------------------------------------------------------------- public API


def compile_expression(
    text: str,
    allowed_names: Collection[str] = DEFAULT_NAMES,
    functions: Mapping[str, Function] = FUNCTIONS,
) -> Expression:
    """Compile the text of one expression (without ``${{ }}``).

    Parts made only of literals are computed now, so an expression that always fails
    (``1/0``, ``9**9**9``, ``range(10**9)``) is refused here -- except inside the
    first argument of ``default()``, whose failures are the fallback's business.

    :param text: the expression; may span several lines.
    :param allowed_names: the top-level names it may use, besides true/false/null.
    :param functions: the functions it may call (:func:`function_table` adds plugins').
    :raises ExpressionError: with the 0-based character offset of the problem in ``text``.
    """
    allowed = _allowed_tuple(allowed_names)
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            f"expression is too long ({len(text):,} characters; "
            f"the limit is {MAX_EXPRESSION_LENGTH:,})",
            MAX_EXPRESSION_LENGTH,
        )
    if not text.strip():
        raise ExpressionError("empty expression", 0)
    _check_characters(text)
    _check_brackets(text)
    positions = _Positions(f"({text}\n)", limit=len(text))
    tree = _parse(text, positions)
    compiler = _Compiler(positions, allowed, functions)
    try:
        code = compiler.compile(tree.body, 0)
    except (RecursionError, MemoryError):
        raise ExpressionError("expression is nested too deeply", 0) from None
    return Expression(
        source=text,
        step_references=frozenset(compiler.step_references),
        root_names=frozenset(compiler.root_names),
        _run=code.run,
    )


def _expression_end(text: str, opening: int) -> int:
    """Index of the ``}}`` that closes the ``${{`` at ``opening``.

    Braces of dict literals nest, and quoted strings are skipped, so neither
    ``{'a': {'b': 1}}`` nor ``'}}'`` ends the expression early.
    """
    index = opening + 3
    depth = 0
    while index < len(text):
        char = text[index]
        if char in "'\"":
            end = _skip_string(text, index)
            if end < 0:
                raise ExpressionError("unterminated string literal in expression", index)
            index = end
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            if depth:
                depth -= 1
            elif text.startswith("}}", index):
                return index
        index += 1
    raise ExpressionError("unterminated '${{' (no closing '}}')", opening)


def parse_template(
    text: str,
    allowed_names: Collection[str] = DEFAULT_NAMES,
    functions: Mapping[str, Function] = FUNCTIONS,
) -> Template | None:
    """Parse a string value that may hold ``${{ expr }}`` parts.

    :param text: the string as written in the workflow file.
    :param allowed_names: the top-level names its expressions may use.
    :param functions: the functions they may call.
    :returns: ``None`` when ``text`` holds no ``${{``, else the compiled template.
    :raises ExpressionError: with the 0-based character offset of the problem in ``text``.
    """
    if "${{" not in text:
        return None
    allowed = _allowed_tuple(allowed_names)
    parts: list[str | Expression] = []
    expressions: list[tuple[Expression, int]] = []
    position = 0
    while (opening := text.find("${{", position)) >= 0:
        closing = _expression_end(text, opening)
        inner = text[opening + 3 : closing]
        start = opening + 3 + len(inner) - len(inner.lstrip())
        try:
            expression = compile_expression(inner.strip(), allowed, functions)
        except ExpressionError as exc:
            raise ExpressionError(exc.message, start + (exc.offset or 0)) from None
        if opening > position:
            parts.append(text[position:opening])
        parts.append(expression)
        expressions.append((expression, start))
        position = closing + 2
    if position < len(text):
        parts.append(text[position:])
    is_whole = len(expressions) == 1 and all(
        isinstance(part, Expression) or not part.strip() for part in parts
    )
    return Template(
        source=text,
        is_whole=is_whole,
        expressions=tuple(expressions),
        step_references=frozenset[str]().union(*(e.step_references for e, _ in expressions)),
        root_names=frozenset[str]().union(*(e.root_names for e, _ in expressions)),
        _parts=tuple(parts),
    )


@lru_cache(maxsize=1024)
def _cached_template(text: str, allowed: frozenset[str]) -> Template | None:
    return parse_template(text, allowed)


def _render(value: Any, names: Mapping[str, Any], allowed: frozenset[str]) -> Any:
    if isinstance(value, Template):
        return value.render(names)
    if isinstance(value, Expression):
        return value.evaluate(names)
    if isinstance(value, str):
        if "${{" not in value:
            return value
        try:
            template = _cached_template(value, allowed)
        except ExpressionError as exc:
            raise EvaluationError(
                f"cannot compile {_short_repr(value)}: {exc.message} (at offset {exc.offset})"
            ) from None
        return value if template is None else template.render(names)
    if isinstance(value, Mapping):
        return {key: _render(item, names, allowed) for key, item in value.items()}
    if _is_list(value):
        return [_render(item, names, allowed) for item in value]
    return value


def render_value(value: Any, names: Mapping[str, Any]) -> Any:
    """Render every template inside ``value``: a convenience for the executor.

    Strings (plain, or :class:`Template`), lists and dict values are rendered
    recursively; dict keys are left as they are; other values are returned unchanged.
    A plain string is compiled (and cached) with the names in ``names`` plus
    :data:`DEFAULT_NAMES` allowed.

    :raises EvaluationError: for every failure, compile errors in plain strings included.
    """
    allowed = frozenset(names).union(DEFAULT_NAMES)
    try:
        return _render(value, names, allowed)
    except RecursionError:
        raise EvaluationError("value is nested too deeply to render") from None
