"""The arrows of docs/architecture.md, enforced: which part may import which.

Every module's imports are parsed (``ast``, type-only imports included: an arrow is an
arrow even when only a type checker follows it) and checked against the rules below.
``RULES`` is the executable version of the table in docs/architecture.md; keep them
saying the same thing.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Rule:
    """Modules whose files match ``files`` may import from ``maverick_core`` only what
    ``allowed`` names (when given) and never what ``forbidden`` names.

    A pattern is a dotted module name, or a name ending in ``.*`` for a package and all
    its submodules, or the ``{own}`` placeholder for the module's own built-in plugin.
    """

    says: str
    files: tuple[str, ...]
    forbidden: tuple[str, ...] = ()
    allowed: tuple[str, ...] | None = None


RULES = (
    Rule(
        "maverick_core/__init__.py loads in every process: it imports nothing of maverick",
        files=("maverick_core/__init__.py",),
        forbidden=("maverick_core.*",),
    ),
    Rule(
        "the engine never imports a built-in plugin, devflow or the test kit",
        files=("maverick_core/engine/**",),
        forbidden=("maverick_core.builtin.*", "maverick_core.devflow.*", "maverick_core.testing.*"),
    ),
    Rule(
        "the hook specs and the public API never import a plugin",
        files=("maverick_core/hookspecs.py", "maverick_core/api.py"),
        forbidden=("maverick_core.builtin.*", "maverick_core.devflow.*"),
    ),
    Rule(
        "a built-in plugin never imports devflow",
        files=("maverick_core/builtin/**",),
        forbidden=("maverick_core.devflow.*",),
    ),
    Rule(
        "a built-in plugin never imports another built-in plugin",
        files=("maverick_core/builtin/**",),
        allowed=(
            "maverick_core",
            "maverick_core.api",
            "maverick_core.hookspecs",
            "maverick_core.engine.*",
            "{own}",
        ),
    ),
    Rule(
        "the test kit builds on the engine and the API, never on a plugin's internals",
        files=("maverick_core/testing/**",),
        forbidden=("maverick_core.builtin.*", "maverick_core.devflow.*"),
    ),
    Rule(
        "devflow imports only the public API, maverick_core and its own modules",
        files=("maverick_core/devflow/**",),
        allowed=(
            "maverick_core",
            "maverick_core.api",
            "maverick_core.testing.*",
            "maverick_core.devflow.*",
        ),
    ),
    Rule(
        "first-party plugins import only the public API, maverick_core and the test kit",
        files=("plugins/*/maverick_*/**",),
        allowed=("maverick_core", "maverick_core.api", "maverick_core.testing.*"),
    ),
)


def module_name(path: Path) -> str:
    """``maverick_core/engine/cli.py`` -> ``maverick_core.engine.cli``; plugins likewise."""
    relative = path.relative_to(REPO)
    if relative.parts[0] == "plugins":
        relative = relative.relative_to(*relative.parts[:2])
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def imported_modules(source: str, module: str, package: bool) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for every import in ``source``.

    Relative imports are resolved against ``module``; ``from pkg import sub`` yields
    ``pkg.sub`` when ``sub`` is a module of this repository, else ``pkg``.
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                if not package:
                    anchor.pop()
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield node.lineno, candidate if _is_repo_module(candidate) else base


def _is_repo_module(name: str) -> bool:
    relative = Path(*name.split("."))
    roots = [REPO, *(p for p in (REPO / "plugins").iterdir() if p.is_dir())]
    return any(
        (root / relative).with_suffix(".py").is_file()
        or (root / relative / "__init__.py").is_file()
        for root in roots
    )


def matches(name: str, pattern: str) -> bool:
    if pattern.endswith(".*"):
        package = pattern[:-2]
        return name == package or name.startswith(package + ".")
    return name == pattern


def own_plugin(module: str) -> str:
    """``maverick_core.builtin.checkpoint.journal`` -> ``maverick_core.builtin.checkpoint.*``."""
    parts = module.split(".")
    return ".".join(parts[:3]) + ".*" if len(parts) >= 3 else module


def files_of(rule: Rule) -> list[Path]:
    found = set()
    for pattern in rule.files:
        for path in REPO.glob(pattern if pattern.endswith(".py") else pattern + "/*.py"):
            found.add(path)
    return sorted(found)


def violations(rule: Rule, path: Path, source: str) -> list[str]:
    """One ``file:line: imports X`` line for each import that breaks ``rule``."""
    module = module_name(path)
    allowed = [own_plugin(module) if p == "{own}" else p for p in rule.allowed or ()]
    found = []
    for line, name in imported_modules(source, module, is_package(path)):
        if not matches(name, "maverick_core.*"):
            continue
        broken = any(matches(name, p) for p in rule.forbidden) or (
            rule.allowed is not None and not any(matches(name, p) for p in allowed)
        )
        if broken:
            found.append(f"{path.relative_to(REPO)}:{line}: imports {name}")
    return found


def rule_saying(start: str) -> Rule:
    return next(rule for rule in RULES if rule.says.startswith(start))


@pytest.mark.parametrize("rule", RULES, ids=[r.says for r in RULES])
def test_import_arrows(rule: Rule) -> None:
    paths = files_of(rule)
    assert paths, f"no module matches {rule.files}: the rule is stale"
    broken = [v for path in paths for v in violations(rule, path, path.read_text())]
    assert not broken, f"{rule.says}:\n" + "\n".join(broken)


def test_a_forbidden_import_is_reported_with_its_line() -> None:
    engine = REPO / "maverick_core" / "engine" / "executor.py"
    source = "import os\n\nif True:\n    from maverick_core.builtin.flow import types\n"
    assert violations(rule_saying("the engine"), engine, source) == [
        "maverick_core/engine/executor.py:4: imports maverick_core.builtin.flow.types"
    ]


def test_relative_imports_are_resolved_against_the_module() -> None:
    devflow = REPO / "maverick_core" / "devflow" / "agents.py"
    assert violations(
        rule_saying("devflow"), devflow, "from ..engine import executor\nfrom . import tasks\n"
    ) == ["maverick_core/devflow/agents.py:1: imports maverick_core.engine.executor"]


def test_a_plugin_that_imports_an_engine_module_is_reported() -> None:
    plugin = REPO / "plugins" / "maverick-sqlite" / "maverick_sqlite" / "store.py"
    source = "from maverick_core.api import Store\nfrom maverick_core.engine import storage\n"
    assert violations(rule_saying("first-party"), plugin, source) == [
        "plugins/maverick-sqlite/maverick_sqlite/store.py:2: imports maverick_core.engine.storage"
    ]


def test_a_built_in_plugin_may_import_its_own_modules_only() -> None:
    journal = REPO / "maverick_core" / "builtin" / "checkpoint" / "journal.py"
    source = (
        "from maverick_core.builtin.checkpoint.commands import runs\n"
        "from maverick_core.builtin.json import JsonSerializer\n"
    )
    rule = rule_saying("a built-in plugin never imports another")
    assert violations(rule, journal, source) == [
        "maverick_core/builtin/checkpoint/journal.py:2: imports maverick_core.builtin.json"
    ]


def test_the_rules_cover_every_part_of_the_tree() -> None:
    covered = {path for rule in RULES for path in files_of(rule)}
    parts = [
        "maverick_core/engine",
        "maverick_core/builtin",
        "maverick_core/devflow",
        "maverick_core/testing",
        *(str(p.relative_to(REPO)) for p in REPO.glob("plugins/*/maverick_*")),
    ]
    for part in parts:
        modules = set((REPO / part).rglob("*.py"))
        assert modules <= covered, f"{part}: {sorted(map(str, modules - covered))} unchecked"


def runtime_imports(source: str) -> list[tuple[int, str]]:
    """Imports that run when the module loads: all but those under ``if TYPE_CHECKING:``."""
    tree = ast.parse(source)
    hidden = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("module", ["maverick_core/hookspecs.py", "maverick_core/api.py"])
def test_the_contract_modules_import_the_engine_only_for_type_checkers(module: str) -> None:
    # both load in every process that loads a plugin; the engine loads when it is used
    source = (REPO / module).read_text()
    eager = [f"{module}:{line}: {name}" for line, name in runtime_imports(source)]
    assert not [e for e in eager if ": maverick_core." in e], eager


def test_every_public_api_name_loads_and_type_checkers_see_the_same_names() -> None:
    import maverick_core.api as api

    exports = dict(api._EXPORTS)
    assert sorted(api.__all__) == sorted(exports)
    for name, module in exports.items():
        assert getattr(api, name) is getattr(importlib.import_module(module), name), name
    typed = {
        alias.asname or alias.name: node.module
        for node in ast.walk(ast.parse((REPO / "maverick_core" / "api.py").read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("maverick_core.")
        for alias in node.names
    }
    differ = sorted(set(typed.items()) ^ set(exports.items()))
    assert not differ, f"the type checker's and the run time's (name, module) differ: {differ}"


def test_a_type_only_import_is_not_a_runtime_import() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from maverick_core.engine.run import Run\n"
        "from maverick_core.engine import errors\n"
    )
    assert runtime_imports(source) == [(1, "typing"), (4, "maverick_core.engine")]
