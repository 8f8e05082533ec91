"""Specification of the sandboxed ``${{ ... }}`` expression language."""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maverick_core.engine.dsl.expressions import (
    DEFAULT_NAMES,
    FUNCTIONS,
    Expression,
    compile_expression,
    parse_template,
    render_value,
)
from maverick_core.engine.errors import EvaluationError, ExpressionError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "expressions.md"

NAMES: dict[str, Any] = {
    "inputs": {"count": 3, "name": "World", "items": [1, 2, 3], "flag": False, "none": None},
    "steps": {
        "hello": {"output": {"stdout": "hi", "stderr": "", "returncode": 0}},
        "each": {"output": [{"n": 1}, {"n": 2}]},
    },
    "run": {"id": "run-1", "workflow": "demo"},
    "item": "apple",
    "index": 2,
}


def evaluate(text: str, names: Mapping[str, Any] = NAMES) -> Any:
    return compile_expression(text).evaluate(names)


def compile_error(text: str, allowed_names: tuple[str, ...] = DEFAULT_NAMES) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text, allowed_names)
    return info.value


def evaluation_error(text: str, names: Mapping[str, Any] = NAMES) -> str:
    expression = compile_expression(text)
    with pytest.raises(EvaluationError) as info:
        expression.evaluate(names)
    return info.value.message


def render(text: str, names: Mapping[str, Any] = NAMES) -> Any:
    template = parse_template(text)
    assert template is not None
    return template.render(names)


# --------------------------------------------------------------------------- templates


def test_text_without_expression_is_not_a_template() -> None:
    assert parse_template("echo hello ${ HOME } {{ x }}") is None


def test_whole_template_keeps_the_value_type() -> None:
    value = render("${{ inputs.items }}")
    assert value == [1, 2, 3]
    assert isinstance(value, list)


def test_whole_template_returns_the_value_itself_not_a_copy() -> None:
    items = [1, 2]
    assert render("${{ inputs.items }}", {"inputs": {"items": items}}) is items


def test_whole_template_allows_surrounding_whitespace() -> None:
    template = parse_template("  ${{ inputs.count }}\n")
    assert template is not None
    assert template.is_whole
    assert template.render(NAMES) == 3


def test_two_expressions_are_not_a_whole_template() -> None:
    template = parse_template("${{ index }}${{ index }}")
    assert template is not None
    assert not template.is_whole
    assert template.render(NAMES) == "22"


def test_embedded_expression_is_interpolated_as_text() -> None:
    assert render("hi ${{ inputs.name }} x${{ inputs.count }}") == "hi World x3"


def test_interpolation_renders_null_as_empty_text() -> None:
    assert render("[${{ inputs.none }}]") == "[]"


def test_interpolation_renders_booleans_in_lower_case() -> None:
    assert render("${{ inputs.flag }}/${{ true }}") == "false/true"


def test_interpolation_renders_numbers_with_str() -> None:
    assert render("${{ 1.5 }} ${{ -7 }} ${{ 2 ** 10 }}") == "1.5 -7 1024"


def test_interpolation_renders_lists_and_dicts_as_compact_json() -> None:
    assert render("v=${{ [1, 'é', {'a': null}] }}") == 'v=[1,"é",{"a":null}]'


def test_template_records_each_expression_with_its_offset() -> None:
    template = parse_template("a ${{ index }} b ${{  item }}")
    assert template is not None
    assert [(e.source, offset) for e, offset in template.expressions] == [
        ("index", 6),
        ("item", 22),
    ]


def test_unterminated_template_is_refused_at_its_offset() -> None:
    with pytest.raises(ExpressionError) as info:
        parse_template("echo ${{ inputs.name }} and ${{ inputs.count")
    assert "unterminated '${{'" in info.value.message
    assert info.value.offset == 28


def test_closing_braces_inside_a_string_literal_do_not_end_the_expression() -> None:
    assert render("${{ '}}' + inputs.name }}") == "}}World"


def test_nested_dict_literal_braces_do_not_end_the_expression() -> None:
    assert render("${{ {'a': {'b': 1}} }}") == {"a": {"b": 1}}


def test_literal_dollar_braces_can_be_written_as_a_string_expression() -> None:
    assert render("${{ '${{' }} x }}") == "${{ x }}"


def test_unterminated_string_in_template_is_refused_at_the_quote() -> None:
    with pytest.raises(ExpressionError) as info:
        parse_template("say ${{ 'hello }}")
    assert info.value.offset == 8


def test_template_error_offset_is_relative_to_the_whole_string() -> None:
    with pytest.raises(ExpressionError) as info:
        parse_template("echo ${{ inputs.x }} ${{ foo }}")
    assert info.value.offset == 25
    assert "unknown name 'foo'" in info.value.message


def test_empty_expression_in_template_is_refused() -> None:
    with pytest.raises(ExpressionError, match="empty expression"):
        parse_template("x ${{   }}")


def test_template_collects_names_and_step_references_of_all_parts() -> None:
    template = parse_template("${{ steps.a.output }} ${{ inputs.x }} ${{ steps['b'] }}")
    assert template is not None
    assert template.step_references == {"a", "b"}
    assert template.root_names == {"steps", "inputs"}


def test_render_value_renders_nested_structures() -> None:
    value = {"cmd": ["${{ inputs.count }}", "n=${{ index }}"], "keep": 1, "${{ k }}": "v"}
    assert render_value(value, NAMES) == {"cmd": [3, "n=2"], "keep": 1, "${{ k }}": "v"}


def test_render_value_accepts_parsed_templates() -> None:
    template = parse_template("${{ inputs.name }}!")
    assert render_value([template, (1, 2)], NAMES) == ["World!", [1, 2]]


def test_render_value_reports_compile_errors_as_evaluation_errors() -> None:
    with pytest.raises(EvaluationError, match="unknown name 'nope'"):
        render_value({"a": "${{ nope }}"}, NAMES)


# --------------------------------------------------------------------------- names


def test_unknown_name_is_refused_with_the_names_expressions_see() -> None:
    error = compile_error("inputs.x + foo")
    assert error.message == "unknown name 'foo' (expressions see inputs, steps, item, index, run)"
    assert error.offset == 11


def test_unknown_name_suggests_a_close_match() -> None:
    assert "did you mean 'inputs'?" in compile_error("input.count").message


def test_allowed_names_narrow_what_an_expression_sees() -> None:
    error = compile_error("item", ("inputs", "steps", "run"))
    assert "expressions see inputs, steps, run" in error.message


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("false", False), ("null", None), ("True", True), ("None", None)],
)
def test_constants_are_available_in_both_spellings(text: str, value: Any) -> None:
    assert evaluate(text) is value


def test_name_missing_at_run_time_is_an_evaluation_error() -> None:
    assert evaluation_error("item", {"inputs": {}}) == "item: not available here"


def test_root_names_lists_the_top_level_names_used() -> None:
    assert compile_expression("inputs.a if item else run.id").root_names == {
        "inputs",
        "item",
        "run",
    }


# --------------------------------------------------------------------------- lookups


def test_attribute_syntax_looks_up_mapping_keys() -> None:
    assert evaluate("steps.hello.output.stdout") == "hi"


def test_subscript_reads_keys_and_negative_indexes() -> None:
    assert evaluate("steps['each'].output[-1]['n']") == 2


def test_slices_work_on_lists_and_strings() -> None:
    assert evaluate("[inputs.items[1:], inputs.name[::-1]]") == [[2, 3], "dlroW"]


def test_missing_key_message_names_the_path_and_the_available_keys() -> None:
    assert evaluation_error("steps.hello.output.nope") == (
        "steps.hello.output.nope: no key 'nope' (available: returncode, stderr, stdout)"
    )


def test_missing_key_message_suggests_a_close_key() -> None:
    assert "did you mean 'stdout'?" in evaluation_error("steps.hello.output.stdot")


def test_missing_step_names_the_steps_that_exist() -> None:
    assert evaluation_error("steps.nope.output") == (
        "steps.nope: no key 'nope' (available: each, hello)"
    )


def test_index_out_of_range_names_the_path() -> None:
    assert evaluation_error("inputs.items[7]") == (
        "inputs.items[7]: index 7 out of range (length 3)"
    )


def test_attribute_syntax_on_a_list_is_an_evaluation_error() -> None:
    assert "a list has no key 'n'" in evaluation_error("steps.each.output.n")


def test_dynamic_subscript_names_its_expression_in_errors() -> None:
    assert evaluation_error("inputs[inputs.name]").startswith("inputs[inputs.name]: no key")


def test_any_mapping_and_sequence_are_treated_as_dict_and_list() -> None:
    names = {"inputs": MappingProxyType({"pair": ("a", "b")})}
    assert evaluate("inputs.pair[1:] + ['c']", names) == ["b", "c"]


def test_attribute_syntax_never_reads_python_attributes() -> None:
    class Probe:
        touched = False

        @property
        def upper(self) -> str:
            Probe.touched = True
            return "leaked"

    assert "cannot get key 'upper' from Probe" in evaluation_error(
        "inputs.probe.upper", {"inputs": {"probe": Probe()}}
    )
    assert not Probe.touched


# --------------------------------------------------------------------------- operators


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("inputs.count + 1", 4),
        ("inputs.count - 5", -2),
        ("inputs.count * 2.5", 7.5),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 % 3", 2),
        ("2 ** -1", 0.5),
        ("-inputs.count", -3),
        ("+inputs.count", 3),
        ("'ab' + 'c'", "abc"),
        ("[1] + [2]", [1, 2]),
        ("'ab' * 2", "abab"),
        ("2 * [0]", [0, 0]),
        ("not inputs.flag", True),
    ],
)
def test_arithmetic_follows_python(text: str, value: Any) -> None:
    assert evaluate(text) == value


def test_and_or_return_operand_values() -> None:
    assert evaluate("[inputs.items and inputs.name, inputs.none or 'fallback', 0 and 1]") == [
        "World",
        "fallback",
        0,
    ]


def test_and_short_circuits() -> None:
    assert evaluate("inputs.flag and inputs.missing.key") is False


def test_or_short_circuits() -> None:
    assert evaluate("inputs.count or inputs.missing.key") == 3


def test_conditional_expression_evaluates_only_the_chosen_branch() -> None:
    assert evaluate("'big' if inputs.count > 2 else inputs.missing") == "big"


def test_chained_comparison_holds_only_when_every_link_holds() -> None:
    assert evaluate("[1 < inputs.count <= 3, 1 < inputs.count < 2]") == [True, False]


def test_in_operator_covers_strings_lists_and_dict_keys() -> None:
    assert evaluate("['orl' in inputs.name, 2 in inputs.items, 'name' in inputs]") == [
        True,
        True,
        True,
    ]


def test_not_in_operator_negates_membership() -> None:
    assert evaluate("4 not in inputs.items") is True


def test_ordering_mismatched_types_names_the_operand() -> None:
    assert evaluation_error("inputs.count < 'a'") == "inputs.count: cannot compare int with str"


def test_adding_mismatched_types_names_the_expression() -> None:
    assert evaluation_error("inputs.count + inputs.name") == (
        "inputs.count + inputs.name: cannot add int and str"
    )


def test_division_by_zero_is_an_evaluation_error() -> None:
    assert evaluation_error("inputs.count / (index - 2)").endswith("division by zero")


def test_tuples_evaluate_to_lists() -> None:
    assert evaluate("(1, inputs.count)") == [1, 3]


def test_string_percent_formatting_is_refused() -> None:
    assert "cannot take the remainder of str" in evaluation_error("inputs.name % 1")


def test_power_with_a_huge_run_time_exponent_fails_at_run_time() -> None:
    assert "exponent 100 is too large" in evaluation_error("2 ** (inputs.count * 33 + 1)")


def test_power_result_size_is_bounded_at_run_time() -> None:
    assert "integer result too large" in evaluation_error("(10 ** 60) ** (inputs.count * 20)")


def test_negative_base_to_a_fractional_power_is_refused() -> None:
    assert "not a real number" in evaluation_error("(-inputs.count) ** 0.5")


def test_repetition_over_the_size_limit_fails_at_run_time() -> None:
    assert "limit 1,000,000" in evaluation_error("'ab' * (inputs.count * 200000)")


def test_concatenation_over_the_size_limit_fails_at_run_time() -> None:
    names = {"inputs": {"big": "x" * 600_000}}
    assert "limit 1,000,000" in evaluation_error("inputs.big + inputs.big", names)


def test_repetition_counts_elements_of_nested_lists() -> None:
    names = {"inputs": {"n": 1000}}
    assert "limit 1,000,000" in evaluation_error("[[0] * inputs.n] * inputs.n * 2", names)


def test_one_evaluation_cannot_build_more_than_its_allocation_budget() -> None:
    text = "length([" + ", ".join(["'a' * inputs.n"] * 21) + "])"
    assert "builds more than 20,000,000" in evaluation_error(text, {"inputs": {"n": 1_000_000}})


# --------------------------------------------------------------------------- the sandbox


@pytest.mark.parametrize(
    ("text", "offset", "message"),
    [
        ("__class__", 0, "private name '__class__'"),
        ("().__class__", 3, "private name '__class__'"),
        ("inputs.__class__", 7, "private name '__class__'"),
        ("inputs.a.__globals__['os']", 9, "private name '__globals__'"),
        ("__import__('os')", 0, "private name '__import__'"),
        ("inputs.x.upper()", 9, "method calls are not allowed; write upper(inputs.x)"),
        ("(lambda: 1)()", 1, "lambda expressions are not allowed"),
        ("[x for x in inputs]", 0, "comprehensions are not allowed"),
        ("{k: 1 for k in inputs}", 0, "comprehensions are not allowed"),
        ("length(x for x in inputs)", 6, "generator expressions are not allowed"),
        ("9**9**9", 0, "exponent 387420489 is too large"),
        ("10**100000", 0, "exponent 100000 is too large"),
        ("'a' * 10**8", 0, "limit 1,000,000"),
        ("range(10**9)", 0, "limit 100,000"),
        ("f'{inputs}'", 0, "f-strings are not allowed"),
        ("(y := 1)", 1, "assignment expressions"),
        ("[*inputs.items]", 1, "'*' unpacking"),
        ("{**inputs}", 3, "'**' unpacking"),
        ("{1, 2}", 0, "set literals"),
        ("await inputs", 0, "'await'"),
        ("(yield)", 1, "'yield'"),
        ("inputs['f'](1)", 0, "only the built-in functions can be called"),
        ("length)(inputs", 6, "unmatched ')'"),
        ("inputs | 1", 0, "operator '|' is not allowed"),
        ("~inputs.count", 0, "operator '~' is not allowed"),
        ("inputs is null", 0, "'is' is not allowed"),
        ("b'x'", 0, "bytes literals"),
        ("1j", 0, "complex numbers"),
    ],
)
def test_sandbox_escape_is_refused_at_compile_time(text: str, offset: int, message: str) -> None:
    error = compile_error(text)
    assert message in error.message
    assert error.offset == offset


def test_private_attribute_is_refused_even_on_an_allowed_name() -> None:
    error = compile_error("x._private", ("x",))
    assert "private name '_private'" in error.message
    assert error.offset == 2


def test_format_placeholders_cannot_reach_attributes() -> None:
    message = evaluation_error("format('{0.__class__}', inputs)")
    assert "unsupported placeholder '{0.__class__}'" in message


def test_too_long_expression_is_refused() -> None:
    assert "too long" in compile_error("1 + " * 2500 + "1").message


@pytest.mark.parametrize(
    "text",
    ["(" * 300 + ")" * 300, "-" * 5000 + "1", "1+" * 4000 + "1", "not " * 150 + "1", "[" * 150],
)
def test_deep_nesting_is_refused_without_crashing(text: str) -> None:
    compile_error(text)


def test_nesting_limit_names_its_offset() -> None:
    error = compile_error("not " * 150 + "1")
    assert "nested too deeply" in error.message
    assert error.offset == 404


def test_syntax_error_offset_counts_characters_not_bytes() -> None:
    error = compile_error("'ééé' + 1 2")
    assert error.message.startswith("syntax error")
    assert error.offset == 10


def test_node_offset_counts_characters_not_bytes() -> None:
    assert compile_error("'ééé' +\n  unknown").offset == 10


def test_template_offset_counts_characters_not_bytes() -> None:
    with pytest.raises(ExpressionError) as info:
        parse_template("héllo ${{ 'ü' + nope }}")
    assert info.value.offset == 16


def test_multi_line_expression_is_accepted() -> None:
    assert evaluate("inputs.count\n  + index  # the position\n") == 5


def test_nul_character_is_refused() -> None:
    assert compile_error("inputs\x00").offset == 6


def test_invalid_escape_in_a_string_literal_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert evaluate("'a\\d'") == "a\\d"


def test_constant_part_that_always_fails_is_refused_at_compile_time() -> None:
    error = compile_error("inputs.count + 1 / 0")
    assert error.message == "1 / 0: division by zero"
    assert error.offset == 15


def test_constant_failure_inside_default_is_left_to_run_time() -> None:
    assert evaluate("default({'a': 1}.b, 'fallback')") == "fallback"


def test_misbehaving_mapping_surfaces_as_evaluation_error() -> None:
    class Broken(Mapping[str, Any]):
        def __getitem__(self, key: str) -> Any:
            raise RuntimeError("backend down")

        def __iter__(self) -> Iterator[str]:
            return iter(())

        def __len__(self) -> int:
            return 0

    assert "RuntimeError: backend down" in evaluation_error("inputs.x", {"inputs": Broken()})


# --------------------------------------------------------------------------- functions


FUNCTION_EXAMPLES = [
    pytest.param(text, value, id=text)
    for function in FUNCTIONS.values()
    for text, value in function.examples
]


@pytest.mark.parametrize(("text", "value"), FUNCTION_EXAMPLES)
def test_function_example_holds(text: str, value: Any) -> None:
    result = evaluate(text)
    assert result == value
    assert type(result) is type(value)


def test_every_function_has_an_example() -> None:
    assert [name for name, function in FUNCTIONS.items() if not function.examples] == []


def test_every_function_is_documented() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    assert [name for name in FUNCTIONS if f"`{name}(" not in docs] == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("length()", "length() takes 1 argument (0 given)"),
        ("join(inputs.items, ',', 'x')", "join() takes 1 to 2 arguments (3 given)"),
        ("replace('a', 'b')", "replace() takes 3 arguments (2 given)"),
        ("format()", "format() takes at least 1 argument (0 given)"),
    ],
)
def test_wrong_argument_count_is_refused_at_compile_time(text: str, message: str) -> None:
    error = compile_error(text)
    assert error.message == message
    assert error.offset == 0


def test_unknown_function_suggests_a_close_name() -> None:
    assert "did you mean 'length'?" in compile_error("len(inputs.items)").message


def test_keyword_arguments_are_refused() -> None:
    error = compile_error("join(inputs.items, sep='-')")
    assert "keyword arguments are not allowed" in error.message
    assert error.offset == 19


def test_calling_a_name_that_is_not_a_function_is_refused() -> None:
    assert compile_error("inputs(1)").message == "'inputs' is not a function"


def test_default_falls_back_on_a_missing_key() -> None:
    assert evaluate("default(steps.hello.output.nope, 'none')") == "none"


def test_default_falls_back_on_null() -> None:
    assert evaluate("default(inputs.none, 5)") == 5


def test_default_keeps_falsy_values() -> None:
    assert evaluate("[default(0, 5), default('', 'x'), default(false, true)]") == [0, "", False]


def test_default_evaluates_the_fallback_only_when_needed() -> None:
    assert evaluate("default(inputs.count, inputs.missing.key)") == 3


def test_join_uses_a_comma_by_default() -> None:
    assert evaluate("join(inputs.items)") == "1,2,3"


def test_join_renders_nested_values_as_json() -> None:
    assert evaluate("join([[1], {'a': true}], ';')") == '[1];{"a":true}'


def test_format_substitutes_positional_placeholders_as_text() -> None:
    assert evaluate("format('{1}:{0}:{1}', null, [1])") == "[1]::[1]"


def test_format_refuses_a_missing_argument() -> None:
    assert "placeholder {2} has no argument" in evaluation_error("format('{2}', inputs.count)")


def test_bool_refuses_unrecognised_text() -> None:
    names = {"inputs": {"word": "maybe"}}
    assert "cannot convert 'maybe' to bool" in evaluation_error("bool(inputs.word)", names)


def test_range_over_the_cap_fails_at_run_time() -> None:
    assert "limit 100,000" in evaluation_error("range(inputs.count * 100000)")


def test_from_json_invalid_text_is_an_evaluation_error() -> None:
    assert "invalid JSON" in evaluation_error("from_json(inputs.name)")


def test_function_type_error_names_the_call() -> None:
    assert evaluation_error("length(inputs.count)") == "length(inputs.count): int has no length"


def test_replace_growth_is_bounded() -> None:
    names = {"inputs": {"text": "a" * 1000, "new": "b" * 20_000}}
    assert "limit 10,000,000" in evaluation_error("replace(inputs.text, 'a', inputs.new)", names)


def test_to_json_refuses_nan() -> None:
    names = {"inputs": {"ratio": float("nan")}}
    assert "cannot convert to JSON" in evaluation_error("to_json(inputs.ratio)", names)


def test_int_truncates_and_parses_text() -> None:
    assert evaluate("[int('-12'), int(-2.7), int(true)]") == [-12, -2, 1]


def test_min_and_max_refuse_an_empty_list() -> None:
    assert "min() of an empty list" in evaluation_error("min(inputs.items[5:])")


# --------------------------------------------------------------------------- references


def test_step_references_come_from_attributes_and_constant_subscripts() -> None:
    expression = compile_expression("steps.a.output + steps['b'].output")
    assert expression.step_references == {"a", "b"}


def test_step_references_include_default_arguments() -> None:
    assert compile_expression("default(steps.c.output, 1)").step_references == {"c"}


def test_dynamic_step_subscript_is_not_a_reference() -> None:
    expression = compile_expression("steps[inputs.which].output")
    assert expression.step_references == frozenset()
    assert "steps" in expression.root_names


def test_keys_below_the_step_name_are_not_references() -> None:
    assert compile_expression("steps.a.output.b").step_references == {"a"}


# --------------------------------------------------------------------------- compiled form


def test_expression_is_immutable() -> None:
    expression = compile_expression("index")
    with pytest.raises(dataclasses.FrozenInstanceError):
        expression.source = "run"  # type: ignore[misc]


def test_evaluations_do_not_share_mutable_results() -> None:
    expression = compile_expression("[1, {'a': [2]}]")
    first = expression.evaluate(NAMES)
    first[1]["a"].append(3)
    assert expression.evaluate(NAMES) == [1, {"a": [2]}]


def test_expression_can_be_evaluated_from_many_threads() -> None:
    expression = compile_expression("format('{0}-{1}', item, index * 2)")

    def run(number: int) -> Any:
        return expression.evaluate({"item": f"i{number}", "index": number})

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, range(200)))
    assert results == [f"i{n}-{n * 2}" for n in range(200)]


def test_compiled_expression_keeps_its_source_text() -> None:
    assert isinstance(compile_expression(" index "), Expression)
    assert compile_expression(" index ").source == " index "


# --------------------------------------------------------------------------- properties

TOKENS = [
    *DEFAULT_NAMES,
    *FUNCTIONS,
    "true",
    "null",
    "foo",
    "_x",
    "__class__",
    "lambda",
    "for",
    "in",
    "if",
    "else",
    "not",
    "and",
    "is",
    "await",
    "yield",
    ":=",
    "0",
    "1",
    "9",
    "-1",
    "0.5",
    "1e308",
    "10**100",
    "10**8",
    "'a'",
    '"b"',
    "'''c'''",
    "'",
    '"',
    "f'",
    "b'",
    "\\",
    "${{",
    "}}",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    ".",
    "#",
    "+",
    "-",
    "*",
    "**",
    "/",
    "//",
    "%",
    "|",
    "~",
    "<",
    "==",
    "!=",
    " ",
    "\n",
    "\r",
    "\t",
    "é",
    "\u2028",
    "\x00",
]

token_text = st.lists(st.sampled_from(TOKENS), max_size=25).map("".join)
spaced_token_text = st.lists(st.sampled_from(TOKENS), max_size=25).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), token_text, spaced_token_text))
def test_compile_expression_raises_only_expression_error(text: str) -> None:
    try:
        compile_expression(text)
    except ExpressionError as error:
        assert error.offset is not None
        assert 0 <= error.offset <= len(text)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.text(max_size=10), token_text, st.just("${{"), st.just("}}")), max_size=8
    ).map("".join)
)
def test_parse_template_raises_only_expression_error(text: str) -> None:
    try:
        template = parse_template(text)
    except ExpressionError as error:
        assert error.offset is not None
        assert 0 <= error.offset <= len(text)
    else:
        assert (template is None) == ("${{" not in text)


PATHS = [
    "inputs",
    "inputs.a",
    "inputs['b']",
    "inputs.a[0]",
    "inputs.a[1:]",
    "steps.s.output",
    "steps.s.output.a",
    "item",
    "item[-1]",
    "index",
    "run.id",
]
LITERALS = ["0", "1", "-3", "2.5", "'ab'", "''", "true", "false", "null", "[]", "{}", "[1, 'a']"]
OPERATORS = ["+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", ">=", "in", "not in", "and"]


def _expression_forms(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from([*OPERATORS, "or"]), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(st.sampled_from(["-", "not "]), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(sorted(FUNCTIONS)), st.lists(children, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"
        ),
        st.lists(children, max_size=3).map(lambda items: f"[{', '.join(items)}]"),
        st.tuples(children, children).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(children, st.sampled_from(["a", "b", "output", "id"])).map(
            lambda t: f"({t[0]}).{t[1]}"
        ),
        st.tuples(children, children).map(lambda t: f"{{{t[0]}: {t[1]}}}"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
    )


expressions = st.recursive(st.sampled_from(PATHS + LITERALS), _expression_forms, max_leaves=10)
plain_data = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**20), 10**20),
        st.floats(),
        st.text(max_size=5),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "output", "id", "x"]), children, max_size=3),
    ),
    max_leaves=8,
)
namespaces = st.fixed_dictionaries(
    {},
    optional={
        "inputs": st.dictionaries(st.sampled_from(["a", "b"]), plain_data, max_size=2),
        "steps": st.fixed_dictionaries({"s": st.fixed_dictionaries({"output": plain_data})}),
        "item": plain_data,
        "index": st.integers(-3, 3),
        "run": st.fixed_dictionaries({"id": st.text(max_size=4)}),
    },
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions, namespaces)
def test_compiled_random_expressions_raise_only_evaluation_error(
    text: str, names: dict[str, Any]
) -> None:
    try:
        expression = compile_expression(text)
    except ExpressionError:
        return
    with contextlib.suppress(EvaluationError):
        expression.evaluate(names)


@settings(max_examples=200, deadline=None)
@given(expressions, namespaces)
def test_rendered_random_templates_raise_only_evaluation_error(
    text: str, names: dict[str, Any]
) -> None:
    try:
        template = parse_template(f"value: ${{{{ {text} }}}} end")
    except ExpressionError:
        return
    assert template is not None
    with contextlib.suppress(EvaluationError):
        assert isinstance(template.render(names), str)
