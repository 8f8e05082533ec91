"""Step types registered by reference load when a workflow uses them, and only then."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import pytest

from maverick_core import hookimpl
from maverick_core.api import LazyStepType, PluginError
from maverick_core.engine.dsl.loader import load_workflow_text
from maverick_core.engine.errors import DefinitionErrors
from maverick_core.engine.pluginmanager import make_plugin_manager

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

STEP_MODULE = """
import attrs

from maverick_core.api import Step, Text


@attrs.frozen
class GreetStep(Step):
    who: Text = "world"


class GreetStepType:
    name = "greet"
    model = GreetStep

    def run(self, ctx, step):
        return f"hello {ctx.render(step.who)}"
"""

USES_GREET = 'version: "1.0"\nname: g\nsteps:\n  - {name: a, type: greet, who: you}\n'
USES_SHELL = 'version: "1.0"\nname: s\nsteps:\n  - {name: a, type: shell, command: "true"}\n'


@pytest.fixture
def greet_module(tmp_path: Path) -> Iterator[str]:
    """An importable module ``lazy_greet_steps`` defining the ``greet`` step type."""
    (tmp_path / "lazy_greet_steps.py").write_text(STEP_MODULE)
    sys.path.insert(0, str(tmp_path))
    yield "lazy_greet_steps"
    sys.path.remove(str(tmp_path))
    sys.modules.pop("lazy_greet_steps", None)


def plugin_registering(reference: str, name: str = "greet") -> object:
    class Plugin:
        @hookimpl
        def register_step_types(self, register: Any) -> None:
            register(LazyStepType(name, reference))

    return Plugin()


def test_a_lazy_step_type_is_listed_without_importing_its_module(greet_module: str) -> None:
    pm = make_plugin_manager(objects=[plugin_registering(f"{greet_module}:GreetStepType")])
    assert "greet" in pm.registries.step_types
    load_workflow_text(USES_SHELL, "s.yaml", pm.registries.step_models())
    assert greet_module not in sys.modules


def test_a_lazy_step_type_loads_when_a_workflow_uses_it(greet_module: str) -> None:
    pm = make_plugin_manager(objects=[plugin_registering(f"{greet_module}:GreetStepType")])
    workflow = load_workflow_text(USES_GREET, "g.yaml", pm.registries.step_models())
    assert type(workflow.steps[0]).__name__ == "GreetStep"
    assert greet_module in sys.modules


def test_a_lazy_step_type_that_cannot_be_imported_is_an_error_at_the_step_using_it() -> None:
    pm = make_plugin_manager(objects=[plugin_registering("no_such_module_here:GreetStepType")])
    with pytest.raises(DefinitionErrors) as caught:
        load_workflow_text(USES_GREET, "g.yaml", pm.registries.step_models())
    assert [e.message for e in caught.value.errors] == [
        "g.yaml:4:5: steps[0]: invalid value: step type 'greet': cannot load "
        "no_such_module_here:GreetStepType: No module named 'no_such_module_here'"
    ]


def test_a_lazy_step_type_must_make_the_type_it_names(greet_module: str) -> None:
    pm = make_plugin_manager(
        objects=[plugin_registering(f"{greet_module}:GreetStepType", name="wave")]
    )
    with pytest.raises(PluginError, match=r"step type 'wave': .* makes step type 'greet'"):
        pm.registries.step_types["wave"].value.model  # noqa: B018 (loading is the point)
