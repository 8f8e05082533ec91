"""Loader errors: one test per kind, with the exact file:line:col and message."""

from __future__ import annotations

import contextlib
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maverick_core.engine.dsl.composite import BUILTIN_STEP_MODELS, LoopStep
from maverick_core.engine.dsl.loader import load_workflow_text
from maverick_core.engine.dsl.model import ShellStep
from maverick_core.engine.errors import DefinitionError, DefinitionErrors


def load(text: str):
    return load_workflow_text(textwrap.dedent(text).lstrip(), "wf.yaml", BUILTIN_STEP_MODELS)


def errors_of(text: str) -> list[str]:
    with pytest.raises(DefinitionErrors) as info:
        load(text)
    return [e.message for e in info.value.errors]


def test_a_valid_workflow_loads_into_models():
    wf = load("""
        version: "1.0"
        name: ok
        inputs:
          count: {type: integer, default: 3}
        steps:
          - name: hello
            type: shell
            command: echo hi
            timeout: 5
          - name: each
            type: loop
            for_each: ${{ [1, 2] }}
            steps:
              - {name: work, type: shell, command: "echo ${{ item }}"}
    """)
    assert wf.name == "ok" and wf.inputs["count"].default == 3
    assert isinstance(wf.steps[0], ShellStep) and wf.steps[0].timeout == 5.0
    assert isinstance(wf.steps[1], LoopStep) and wf.steps[1].steps[0].name == "work"
    assert set(wf.fingerprints) == {"hello", "each"}


def test_unknown_key_names_location_and_suggests_the_right_one():
    assert errors_of("""
        version: "1.0"
        name: x
        steps:
          - name: a
            type: shell
            command: echo
            timout: 3
    """) == ["wf.yaml:7:5: steps[0].timout: unknown key (did you mean 'timeout'?)"]


def test_unknown_step_type_lists_the_known_ones():
    [message] = errors_of("""
        version: "1.0"
        name: x
        steps:
          - name: a
            type: shel
            command: echo
    """)
    assert message.startswith(
        "wf.yaml:5:11: steps[0].type: unknown step type 'shel' (did you mean 'shell'?)"
    )


def test_missing_required_field_is_reported_at_the_step():
    assert errors_of("""
        version: "1.0"
        name: x
        steps:
          - name: a
            type: shell
    """) == ["wf.yaml:4:5: steps[0].command: required key is missing"]


def test_wrong_type_is_not_coerced():
    assert errors_of("""
        version: "1.0"
        name: x
        steps:
          - name: a
            type: shell
            command: 42
    """) == ["wf.yaml:6:14: steps[0].command: expected a string, got integer 42"]


def test_duplicate_step_names_are_refused_inside_loops_too():
    assert errors_of("""
        version: "1.0"
        name: x
        steps:
          - name: a
            type: shell
            command: echo
          - name: each
            type: loop
            for_each: [1]
            steps:
              - name: a
                type: shell
                command: echo
    """) == [
        "wf.yaml:11:15: steps[1].steps[0].name: duplicate step name 'a' "
        "(first defined at wf.yaml:4:11)"
    ]


def test_duplicate_step_names_are_refused_in_branches():
    [message] = errors_of("""
        version: "1.0"
        name: x
        steps:
          - name: a
            type: shell
            command: echo
          - name: pick
            type: branch
            options:
              - step: {name: a, type: shell, command: echo}
    """)
    assert message.startswith("wf.yaml:10:22: steps[1].options[0].step.name: duplicate step name")


def test_reference_to_a_later_step_is_refused():
    assert errors_of("""
        version: "1.0"
        name: x
        steps:
          - name: a
            type: shell
            command: echo ${{ steps.b.output.stdout }}
          - name: b
            type: shell
            command: echo
    """) == [
        "wf.yaml:6:14: steps[0].command: step 'b' is not defined before this step "
        "(a step sees only the steps before it)"
    ]


def test_reference_to_an_unknown_step_suggests_a_name():
    assert errors_of("""
        version: "1.0"
        name: x
        steps:
          - name: build
            type: shell
            command: echo
          - name: b
            type: shell
            command: echo ${{ steps.biuld.output }}
    """) == ["wf.yaml:9:14: steps[1].command: step 'biuld' is not defined (did you mean 'build'?)"]


def test_expression_syntax_error_points_inside_the_expression():
    [message] = errors_of("""
        version: "1.0"
        name: x
        steps:
          - name: a
            type: shell
            when: ${{ inputs.x == }}
            command: echo
    """)
    assert message.startswith("wf.yaml:6:")
    assert "steps[0].when: invalid expression" in message


def test_private_names_are_refused_at_load_time():
    [message] = errors_of("""
        version: "1.0"
        name: x
        steps:
          - name: a
            type: shell
            command: echo ${{ inputs.__class__ }}
    """)
    assert message.startswith("wf.yaml:6:") and "steps[0].command: invalid expression" in message


def test_invalid_yaml_points_at_the_problem():
    [message] = errors_of("""
        version: "1.0"
        name: x
        steps: [
    """)
    assert message.startswith("wf.yaml:4:") and "invalid YAML" in message


def test_duplicate_yaml_keys_are_refused():
    assert errors_of("""
        version: "1.0"
        name: x
        name: y
        steps:
          - {name: a, type: shell, command: echo}
    """) == ["wf.yaml:3:1: name: duplicate key 'name' (first at line 2)"]


def test_unsupported_version_is_refused():
    assert errors_of("""
        version: "2.0"
        name: x
        steps:
          - {name: a, type: shell, command: echo}
    """) == ["wf.yaml:1:10: version: unsupported version '2.0' (supported: 1.0)"]


def test_unknown_input_type_and_bad_default():
    assert errors_of("""
        version: "1.0"
        name: x
        inputs:
          n: {type: integr}
          m: {type: integer, default: "three"}
        steps:
          - {name: a, type: shell, command: echo}
    """) == [
        "wf.yaml:4:13: inputs.n.type: unknown input type 'integr' (did you mean 'integer'?) "
        "(types: string, integer, number, boolean, list, object)",
        "wf.yaml:5:31: inputs.m.default: default string 'three' is not of type integer",
    ]


def test_checkpoint_ids_must_be_safe():
    assert errors_of("""
        version: "1.0"
        name: x
        steps:
          - name: a
            type: checkpoint
            checkpoint_id: ../../etc
    """) == [
        "wf.yaml:6:20: steps[0].checkpoint_id: invalid checkpoint id '../../etc' "
        "(letters, digits, '.', '_' and '-' only, starting with a letter or digit, "
        "at most 128 characters)"
    ]


def test_several_errors_are_all_reported_in_file_order():
    messages = errors_of("""
        version: "1.0"
        name: x
        steps:
          - name: a
            type: shell
            comand: echo
          - name: b
            type: shell
            command: echo
            retries: 3
    """)
    assert [m.split(": ")[0] for m in messages] == ["wf.yaml:4:5", "wf.yaml:6:5", "wf.yaml:10:5"]


def test_a_top_level_list_is_not_a_workflow():
    assert errors_of("- a\n- b\n") == ["wf.yaml:1:1: a workflow is a mapping, got list"]


YAML_ATOMS = st.one_of(
    st.text(max_size=8),
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.sampled_from(["${{ inputs.x }}", "${{", "}}", "${{ steps.a.output }}", "shell", "loop"]),
)
KEYS = st.sampled_from(
    [
        "version",
        "name",
        "steps",
        "type",
        "command",
        "inputs",
        "outputs",
        "when",
        "for_each",
        "options",
        "step",
        "x",
        "checkpoint_id",
        "1.0",
    ]
)
DOCS = st.recursive(
    YAML_ATOMS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=DOCS)
def test_random_documents_raise_only_definition_errors(doc):
    import yaml

    text = yaml.safe_dump(
        {"version": "1.0", "name": "fuzz", "steps": doc} if isinstance(doc, list) else doc
    )
    with contextlib.suppress(DefinitionErrors, DefinitionError):
        load_workflow_text(text, "fuzz.yaml", BUILTIN_STEP_MODELS)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200))
def test_random_text_raises_only_definition_errors(text):
    with contextlib.suppress(DefinitionErrors, DefinitionError):
        load_workflow_text(text, "fuzz.yaml", BUILTIN_STEP_MODELS)


def test_a_condition_must_be_one_whole_expression():
    assert errors_of("""
        version: "1.0"
        name: x
        steps:
          - name: a
            type: shell
            when: yes ${{ true }}
            command: echo
    """) == [
        "wf.yaml:6:11: steps[0].when: a condition must be one whole expression: "
        "${{ … }} and nothing else"
    ]


def test_project_names_are_the_same_for_every_spelling_of_the_remote():
    from maverick_core.engine.config import normalize_remote

    spellings = [
        "git@github.com:o/r.git",
        "ssh://git@github.com/o/r",
        "https://TOKEN@github.com/o/r.git",
        "https://github.com/o/r/",
    ]
    assert {normalize_remote(u) for u in spellings} == {"github.com/o/r"}


def test_steps_nested_in_any_composite_type_are_checked_at_load_time():
    from maverick_core.engine.pluginmanager import make_plugin_manager

    models = make_plugin_manager(autoload=False).registries.step_models()
    text = textwrap.dedent("""
        version: "1.0"
        name: x
        steps:
          - name: attempt
            type: try
            steps:
              - name: inner
                type: shell
                command: echo ${{ steps.later.output }}
          - name: later
            type: shell
            command: echo
    """).lstrip()
    with pytest.raises(DefinitionErrors) as info:
        load_workflow_text(text, "wf.yaml", models)
    assert [e.message for e in info.value.errors] == [
        "wf.yaml:9:18: steps[0].steps[0].command: step 'later' is not defined before this "
        "step (a step sees only the steps before it)"
    ]
