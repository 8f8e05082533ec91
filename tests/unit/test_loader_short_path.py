"""The loader's short path (no cattrs) builds exactly what the strict converter builds.

A document the models accept as it is is structured without cattrs (start-up:
docs/benchmarks.md); anything else goes through the converter, which names the errors.
Each test loads the same text both ways and compares the outcomes: the models, or the
located error messages.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maverick_core.engine.discovery import expression_functions
from maverick_core.engine.dsl import loader
from maverick_core.engine.errors import DefinitionErrors
from maverick_core.engine.pluginmanager import make_plugin_manager

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(
    [
        *(ROOT / "maverick_core" / "library" / "workflows").rglob("*.yaml"),
        *(ROOT / "examples" / "demo").glob("*.yaml"),
        *(ROOT / "benchmarks" / "workflows").glob("*.yaml"),
        *(ROOT / "tests" / "integration" / "workflows").glob("*.yaml"),
    ]
)


@pytest.fixture(scope="module")
def step_types() -> tuple[Any, Any]:
    pm = make_plugin_manager(autoload=False)
    return pm.registries.step_models(), expression_functions(pm)


def outcome(text: str, step_types: tuple[Any, Any], *, short_path: bool) -> tuple[Any, bool]:
    """What loading ``text`` gives (the workflow, or its error messages), and whether the
    short path built it; without ``short_path`` the converter structures every document."""
    models, functions = step_types
    taken = []
    real = loader._Structurer.structure

    def structure(self: loader._Structurer, value: Any, cls: type) -> Any:
        if not short_path:
            raise loader._Declined
        result = real(self, value, cls)
        taken.append(cls)
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loader._Structurer, "structure", structure)
        try:
            loaded: Any = loader.load_workflow_text(text, "wf.yaml", models, None, functions)
        except DefinitionErrors as exc:
            loaded = [error.message for error in exc.errors]
    return loaded, bool(taken)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_workflow_takes_the_short_path_to_the_converters_models(
    path: Path, step_types: tuple[Any, Any]
) -> None:
    text = path.read_text(encoding="utf-8")
    short, taken = outcome(text, step_types, short_path=True)
    assert taken, "the short path declined a shipped workflow"
    assert short == outcome(text, step_types, short_path=False)[0]
    assert type(short).__name__ == "Workflow"


def test_every_field_kind_is_built_as_the_converter_builds_it(
    step_types: tuple[Any, Any],
) -> None:
    text = textwrap.dedent("""
        version: "1.0"
        name: kinds
        description: all of them
        inputs:
          count: {type: integer, default: 3, description: how many}
          token: {type: string, required: true, secret: true, env: TOKEN}
          ratio: {type: number, default: 1}
        steps:
          - name: hello
            type: shell
            command: echo "${{ inputs.count }}"
            env: {A: a, B: "${{ inputs.token }}"}
            cwd: sub
            timeout: 5
            when: ${{ inputs.count > 1 }}
            checkpoint: true
            retry: {max_attempts: 3, backoff: 1, factor: 2, on: [timeout, 2]}
          - name: each
            type: loop
            for_each: [1, 2]
            max_concurrency: 2
            steps:
              - {name: work, type: shell, command: "echo ${{ item }}", retry: {max_attempts: 2}}
              - {name: mark, type: checkpoint, checkpoint_id: "item_${{ index }}"}
          - name: pick
            type: branch
            options:
              - when: ${{ steps.hello.output.returncode == 0 }}
                step: {name: yes_, type: shell, command: echo yes}
              - step: {name: no_, type: python, action: os.getcwd, kwargs: {}}
          - name: guarded
            type: try
            steps:
              - {name: inner, type: shell, command: "true"}
        outputs:
          greeting: ${{ steps.hello.output.stdout }}
          fixed: [1, {a: b}]
    """).lstrip()
    short, taken = outcome(text, step_types, short_path=True)
    assert taken
    assert short == outcome(text, step_types, short_path=False)[0]
    assert type(short).__name__ == "Workflow"


def mostly(valid: st.SearchStrategy[Any], invalid: st.SearchStrategy[Any]) -> Any:
    """``valid`` values, and now and then one from ``invalid``."""
    return st.one_of(valid, valid, valid, valid, valid, valid, invalid)


NAMES = st.text("abcdefgh", min_size=1, max_size=3)
TEXT = st.sampled_from(["echo hi", "echo ${{ 1 + 2 }}", "", "x", "${{ 'a' }}"])
ANY_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-2, 3), st.floats(-1, 5), TEXT)
SHELL = st.fixed_dictionaries(
    {"name": NAMES, "type": st.just("shell"), "command": mostly(TEXT, ANY_VALUE)},
    optional={
        "env": mostly(st.dictionaries(st.sampled_from(["A", "B"]), TEXT), ANY_VALUE),
        "cwd": mostly(TEXT, ANY_VALUE),
        "timeout": mostly(st.integers(1, 9) | st.floats(0.5, 9), ANY_VALUE),
        "when": mostly(st.just("${{ 1 > 0 }}") | st.booleans(), ANY_VALUE),
        "checkpoint": mostly(st.booleans(), ANY_VALUE),
        "description": mostly(TEXT, ANY_VALUE),
        "retry": mostly(
            st.fixed_dictionaries(
                {"max_attempts": mostly(st.integers(1, 3), ANY_VALUE)},
                optional={
                    "backoff": mostly(st.integers(0, 3) | st.floats(0, 3), ANY_VALUE),
                    "factor": mostly(st.integers(1, 3) | st.floats(1, 3), ANY_VALUE),
                    "on": mostly(
                        st.sampled_from(["any", "timeout", 2])
                        | st.lists(st.sampled_from(["any", "timeout", 1, 3]), min_size=1),
                        st.lists(ANY_VALUE),
                    ),
                },
            ),
            ANY_VALUE,
        ),
    },
)
STEPS = st.recursive(
    mostly(SHELL, st.just({"name": "typo", "type": "shell", "command": "x", "timout": 1})),
    lambda inner: (
        st.fixed_dictionaries(
            {
                "name": NAMES,
                "type": st.just("loop"),
                "for_each": mostly(st.lists(ANY_VALUE), ANY_VALUE),
                "steps": st.lists(inner, min_size=1),
            },
        )
        | st.fixed_dictionaries({"name": NAMES, "type": st.just("try"), "steps": st.lists(inner)})
    ),
    max_leaves=6,
)
INPUT = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["string", "integer", "number", "boolean", "list", "object"]),
        "default": ANY_VALUE,
        "required": mostly(st.booleans(), ANY_VALUE),
        "secret": mostly(st.booleans(), ANY_VALUE),
        "description": mostly(TEXT, ANY_VALUE),
    },
)
DOCUMENTS = st.fixed_dictionaries(
    {
        "version": st.just("1.0"),
        "name": mostly(TEXT, ANY_VALUE),
        "steps": st.lists(STEPS, min_size=1, max_size=4),
    },
    optional={
        "inputs": mostly(st.dictionaries(st.sampled_from(["n", "m"]), INPUT), ANY_VALUE),
        "outputs": st.dictionaries(NAMES, ANY_VALUE),
        "description": mostly(TEXT, ANY_VALUE),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=DOCUMENTS)
def test_any_document_loads_or_fails_the_same_on_both_paths(
    document: dict[str, Any], step_types: tuple[Any, Any]
) -> None:
    text = yaml.safe_dump(document, sort_keys=False)
    short, _ = outcome(text, step_types, short_path=True)
    assert short == outcome(text, step_types, short_path=False)[0]
