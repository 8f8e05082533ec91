"""A text read before comes from the parse cache: the same workflow or settings, no YAML.

The cache (``engine/parsecache.py``) keeps what a read without error gave; a later read
of the same text restores it, and any error on that path is named by a read of the
YAML itself, with the same message and position as always.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from maverick_core.engine import parsecache, settings
from maverick_core.engine.dsl import loader
from maverick_core.engine.errors import DefinitionErrors
from maverick_core.engine.pluginmanager import make_plugin_manager

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "maverick_core" / "library" / "workflows").rglob("*.yaml"))
WITH_EXPRESSIONS = textwrap.dedent("""
    version: "1.0"
    name: cached
    inputs:
      n: {type: integer, default: 2}
    steps:
      - name: first
        type: shell
        command: echo "${{ inputs.n }}"
        env: {A: "${{ inputs.n + 1 }}"}
      - name: second
        type: shell
        command: echo "${{ steps.first.output.stdout }}"
        when: ${{ inputs.n > 1 }}
    outputs:
      out: ${{ steps.second.output.stdout }}
""").lstrip()


@pytest.fixture(scope="module")
def models() -> Any:
    return make_plugin_manager(autoload=False).registries.step_models()


def load(text: str, models: Any, *, yaml_allowed: bool = True) -> Any:
    """Load ``text``; without ``yaml_allowed``, a read through YAML fails the test."""
    with pytest.MonkeyPatch.context() as patch:
        if not yaml_allowed:
            patch.setattr(loader, "_composed", lambda *a: pytest.fail("read through YAML"))
        try:
            return loader.load_workflow_text(text, "wf.yaml", models)
        except DefinitionErrors as exc:
            return [error.message for error in exc.errors]


@pytest.mark.parametrize(
    "text",
    [WITH_EXPRESSIONS, *(path.read_text(encoding="utf-8") for path in SHIPPED)],
    ids=["expressions", *(path.name for path in SHIPPED)],
)
def test_a_workflow_read_again_comes_from_the_cache_and_is_the_same(text: str, models: Any) -> None:
    first = load(text, models)
    assert type(first).__name__ == "Workflow"
    assert load(text, models, yaml_allowed=False) == first


def test_an_error_on_the_cached_path_is_named_by_reading_the_yaml(models: Any) -> None:
    # cached with every step type; loaded again where the shell type is blocked
    text = "version: '1.0'\nname: x\nsteps:\n  - {name: a, type: shell, command: echo}\n"
    without_shell = {name: model for name, model in models.items() if name != "shell"}
    before = load(text, without_shell)
    assert before[0].startswith("wf.yaml:4:21: steps[0].type: unknown step type 'shell'")
    assert type(load(text, models)).__name__ == "Workflow"
    assert parsecache.lookup("workflow", text) is not None
    assert load(text, without_shell) == before


def test_a_read_with_errors_is_not_kept(models: Any) -> None:
    text = "version: '1.0'\nname: x\nsteps:\n  - {name: a, type: shell, comand: echo}\n"
    errors = load(text, models)
    assert errors == [
        "wf.yaml:4:5: steps[0].command: required key is missing",
        "wf.yaml:4:28: steps[0].comand: unknown key (did you mean 'command'?)",
    ]
    assert parsecache.lookup("workflow", text) is None
    assert load(text, models) == errors


def test_a_cache_entry_is_readable_by_its_owner_only(models: Any) -> None:
    load(WITH_EXPRESSIONS, models)
    file = parsecache._file("workflow", WITH_EXPRESSIONS)
    assert file.stat().st_mode & 0o777 == 0o600


def test_a_damaged_cache_entry_is_read_past(models: Any) -> None:
    first = load(WITH_EXPRESSIONS, models)
    file = parsecache._file("workflow", WITH_EXPRESSIONS)
    file.write_text("{not json", encoding="utf-8")
    assert load(WITH_EXPRESSIONS, models) == first
    entry = json.loads(file.read_text(encoding="utf-8"))  # written again, whole
    entry["text"] = "something else"
    file.write_text(json.dumps(entry), encoding="utf-8")
    assert load(WITH_EXPRESSIONS, models) == first


def test_an_entry_of_another_shape_or_from_other_reader_sources_is_read_past(
    models: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load(WITH_EXPRESSIONS, models)
    file = parsecache._file("workflow", WITH_EXPRESSIONS)
    entry = json.loads(file.read_text(encoding="utf-8"))
    file.write_text(json.dumps({**entry, "values": [[1, 2]], "keys": None}), encoding="utf-8")
    assert load(WITH_EXPRESSIONS, models) == first
    settings_text = "project: demo\n"
    settings.parse_settings(settings_text, "maverick.yaml")
    settings_file = parsecache._file("settings", settings_text)
    shaped = json.loads(settings_file.read_text(encoding="utf-8"))
    settings_file.write_text(json.dumps({**shaped, "values": 3}), encoding="utf-8")
    assert settings.parse_settings(settings_text, "maverick.yaml").data == {"project": "demo"}
    # an edited or upgraded reader module reads the YAML again
    stamps = parsecache._readers()
    monkeypatch.setattr(parsecache, "_readers", lambda: [[0, 0], *stamps[1:]])
    assert parsecache.lookup("workflow", WITH_EXPRESSIONS) is None


def test_settings_read_again_come_from_the_cache_with_their_positions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "project: demo\nagents:\n  implementer: {backend: claude}\n  list: [1, 2.5, true]\n"
    first = settings.parse_settings(text, "maverick.yaml")
    monkeypatch.setattr(settings, "_parse_yaml", lambda *a: pytest.fail("read through YAML"))
    again = settings.parse_settings(text, "maverick.yaml")

    def shown(places: dict[Any, Any]) -> dict[Any, str]:
        return {path: str(place) for path, place in places.items()}

    assert again.data == first.data
    assert shown(again.keys) == shown(first.keys) and shown(again.values) == shown(first.values)
    assert again.key_location(("agents", "implementer")).line == 3


def test_settings_that_json_cannot_hold_exactly_are_not_kept() -> None:
    text = "retries:\n  1: once\n"  # an integer key: JSON would give back a string
    assert settings.parse_settings(text, "maverick.yaml").data == {"retries": {1: "once"}}
    assert parsecache.lookup("settings", text) is None


def test_the_cache_keeps_a_bounded_number_of_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parsecache, "MAX_ENTRIES", 4)
    for index in range(9):
        parsecache.store("settings", f"n: {index}\n", {"n": index}, [], [])
    directory = parsecache._file("settings", "").parent
    assert 2 <= len(list(directory.iterdir())) <= 4
    assert parsecache.lookup("settings", "n: 8\n") is not None
