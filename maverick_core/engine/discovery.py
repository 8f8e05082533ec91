"""Finding workflows by name: project, user config, plugins, built-in library."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from maverick_core.engine.dsl.loader import load_workflow, looks_like_path
from maverick_core.engine.errors import DefinitionError, MaverickError, PluginError

if TYPE_CHECKING:
    from collections.abc import Callable

    from maverick_core.engine.config import Config
    from maverick_core.engine.dsl.model import Workflow
    from maverick_core.engine.pluginmanager import MaverickPluginManager

SUFFIXES = (".yaml", ".yml")


# NamedTuples, not attrs classes: every run imports this module, and an attrs class
# costs a compile (docs/benchmarks.md, start-up)


class WorkflowSource(NamedTuple):
    """A directory of workflows; lower precedence numbers win (they sort first)."""

    precedence: int
    name: str
    directory: Path


class WorkflowEntry(NamedTuple):
    """A workflow found in a source, for ``maverick workflows list``."""

    name: str
    source: str
    path: Path
    description: str
    shadowed_by: str | None = None
    problem: str | None = None
    """Why the file cannot be read as a workflow (``file:line:col: what``), or None."""


def user_config_dir() -> Path:
    """``$XDG_CONFIG_HOME/maverick`` (``~/.config/maverick``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "maverick"


def sources(config: Config) -> list[WorkflowSource]:
    """Every registered workflow source, by precedence."""
    found: list[WorkflowSource] = []

    def register(name: str, directory: str | Path, precedence: int = 30) -> None:
        found.append(WorkflowSource(precedence, name, Path(directory)))

    config.pm.hook.register_workflow_sources(register=register, config=config)
    return sorted(found)


def _candidates(directory: Path) -> dict[str, Path]:
    try:
        paths = sorted(directory.iterdir())
    except OSError:  # missing, not a directory, unreadable: it offers no workflows
        return {}
    result: dict[str, Path] = {}
    for path in paths:
        if path.suffix in SUFFIXES and path.is_file():
            result.setdefault(path.stem, path)
    return result


def find_workflow(config: Config, name_or_path: str) -> Path:
    """The file for a workflow path or name; MaverickError listing what exists."""
    as_path = Path(name_or_path)
    if looks_like_path(name_or_path) or as_path.is_file():
        # a relative path stays relative, so messages name the file as the user did
        if not as_path.is_file():
            raise MaverickError(f"workflow file '{name_or_path}' not found")
        return as_path
    for source in sources(config):
        path = _candidates(source.directory).get(name_or_path)
        if path is not None:
            return path
    known = sorted({e.name for e in list_workflows(config)})
    raise MaverickError(
        f"no workflow named '{name_or_path}' (known: {', '.join(known) or 'none'}); "
        "give a path to a YAML file or add .maverick/workflows/{name_or_path}.yaml"
    )


def list_workflows(config: Config) -> list[WorkflowEntry]:
    """Every workflow in every source; later ones of the same name are shadowed."""
    entries: list[WorkflowEntry] = []
    winners: dict[str, str] = {}
    for source in sources(config):
        for name, path in _candidates(source.directory).items():
            description, problem = _description(path)
            entries.append(
                WorkflowEntry(
                    name, source.name, path, description, winners.get(name), problem=problem
                )
            )
            winners.setdefault(name, source.name)
    return entries


def _description(path: Path) -> tuple[str, str | None]:
    """The first line of a workflow's description, and why the file is bad (or None).

    Read within the same limits as a workflow, so one hostile file cannot stall or
    break listing the others.
    """
    import yaml  # here: running a workflow read before reads no YAML

    from maverick_core.engine import safeyaml

    try:
        data: Any = safeyaml.load(safeyaml.read_text(path))
    except DefinitionError as exc:
        return "(cannot be read)", exc.message
    except yaml.YAMLError as exc:
        return "(invalid YAML)", safeyaml.located(exc, str(path)).message
    if not isinstance(data, dict):
        return "(not a workflow)", f"{path}:1:1: a workflow is a mapping"
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        return "", None
    return description.strip().splitlines()[0], None


def load_named_workflow(config: Config, name_or_path: str) -> Workflow:
    """Find and load a workflow with the step types the plugins registered."""
    path = find_workflow(config, name_or_path)
    return load_workflow(path, config.pm.registries.step_models(), expression_functions(config.pm))


def load_called_workflow(config: Config, caller_source: str, ref: str) -> Workflow:
    """The workflow a ``subworkflow`` step calls: a path relative to the calling file
    (``caller_source``), or a workflow name.

    :raises MaverickError: when it cannot be found or loaded.
    """
    if looks_like_path(ref) and caller_source:
        return load_named_workflow(config, str(Path(caller_source).parent / ref))
    return load_named_workflow(config, str(find_workflow(config, ref)))


def expression_functions(pm: MaverickPluginManager) -> dict[str, Callable[..., Any]]:
    """The expression functions plugins registered, checked against the sandbox's rules.

    :raises PluginError: naming the plugin whose function is misnamed or would
        replace a built-in function.
    """
    functions: dict[str, Callable[..., Any]] = {}
    for name, registration in pm.registries.expression_functions.items():
        # here: without functions from plugins, a run imports the expression engine
        # only for a workflow that holds an expression (dsl/render.py)
        from maverick_core.engine.dsl.expressions import plugin_function

        try:
            plugin_function(name, registration.value)
        except ValueError as exc:
            raise PluginError(f"plugin '{registration.plugin}': {exc}") from None
        functions[name] = registration.value
    return functions
