"""Rendering a value without expressions needs no expression engine, and gives what it gives.

``engine/dsl/render.py`` stands in front of the engine so that a workflow without
``${{ }}`` never imports it (start-up, docs/benchmarks.md).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from hypothesis import given
from hypothesis import strategies as st

from maverick_core.engine.dsl import expressions, render

if TYPE_CHECKING:
    import pytest

TEXT = st.sampled_from(["", "echo hi", "a ${ b }", "{{ x }}", "$", "${{ 1 + 1 }}", "x ${{ 'y' }}"])
VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.sampled_from(["a", "b", "${{ k }}"]), inner, max_size=3),
    ),
    max_leaves=12,
)


@given(value=VALUES)
def test_a_value_without_expressions_renders_as_the_engine_renders_it(value: Any) -> None:
    if render._holds_marker(value):
        return  # the engine's to render
    ours, engines = render._copied(value), expressions.render_value(value, {})
    assert ours == engines and repr(ours) == repr(engines)  # lists, not tuples, both ways


@given(value=VALUES)
def test_a_value_is_handed_to_the_engine_when_a_string_in_it_holds_an_expression(
    value: Any,
) -> None:
    marked = "${{" in repr(render._copied(value)).replace("'${{ k }}'", "")
    assert render._holds_marker(value) == marked


def test_a_workflow_value_without_expressions_is_rendered_without_importing_the_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, render.ENGINE)
    value = {"command": "echo hi", "env": {"A": "b"}, "args": ("x", 1)}
    assert render.render_value(value, {}) == {
        "command": "echo hi",
        "env": {"A": "b"},
        "args": ["x", 1],
    }
    assert render.ENGINE not in sys.modules
    assert not render.is_template("${{ 1 }}")


def test_an_expression_is_rendered_by_the_engine() -> None:
    template = expressions.parse_template("n=${{ inputs.n + 1 }}")
    assert render.is_template(template)
    assert render.render_value([template, "${{ inputs.n }}"], {"inputs": {"n": 2}}) == ["n=3", 2]
