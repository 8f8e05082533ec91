"""Values that may hold templates, handled without importing the expression engine.

A template exists only once the expression engine (:mod:`.expressions`: 2,000 lines,
two dozen functions registered when it is imported) has compiled one, and a workflow
without ``${{ }}`` compiles none. So the loader, the executor and the step context
ask here: until the engine is imported nothing is a template, and a value without
``${{`` in any string renders as the engine's
:func:`~maverick_core.engine.dsl.expressions.render_value` renders it (a string to
itself, lists and mappings to copies), without importing it (docs/benchmarks.md,
start-up). Anything else goes to the engine, which takes its test of what is a list
from here (:func:`is_list`), so both walk the same values.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    from maverick_core.engine.dsl.expressions import Template

ENGINE = "maverick_core.engine.dsl.expressions"
MARKER = "${{"
_NOT_LISTS = (str, bytes, bytearray, memoryview)


def is_template(value: Any) -> TypeGuard[Template]:
    """True when ``value`` is a compiled :class:`~.expressions.Template`."""
    engine = sys.modules.get(ENGINE)
    return engine is not None and isinstance(value, engine.Template)


def render_value(value: Any, names: Mapping[str, Any]) -> Any:
    """:func:`~maverick_core.engine.dsl.expressions.render_value`, importing the engine
    only for a value that may hold an expression.

    :raises EvaluationError: for every failure, as the engine's.
    """
    engine = sys.modules.get(ENGINE)
    if engine is None:
        try:
            if not _holds_marker(value):
                return _copied(value)
        except RecursionError:
            pass  # the engine says so, in its words
        engine = importlib.import_module(ENGINE)
    return engine.render_value(value, names)


def is_list(value: Any) -> bool:
    """What the engine renders item by item (and indexes, iterates, joins as a list)."""
    return type(value) is list or (
        isinstance(value, Sequence) and not isinstance(value, _NOT_LISTS)
    )


def _holds_marker(value: Any) -> bool:
    """True when a string the engine would render holds ``${{``."""
    if isinstance(value, str):
        return MARKER in value
    if isinstance(value, Mapping):
        return any(_holds_marker(item) for item in value.values())
    if is_list(value):
        return any(_holds_marker(item) for item in value)
    return False


def _copied(value: Any) -> Any:
    """What the engine renders a value without expressions to."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return {key: _copied(item) for key, item in value.items()}
    if is_list(value):
        return [_copied(item) for item in value]
    return value
