"""``maverick init``: a commented ``maverick.yaml`` for the project at hand.

It looks at what the project has and writes settings that work for it:

- validation stages: a ``pyproject.toml`` that uses ruff, mypy or pytest; a
  ``package.json``'s ``lint``, ``typecheck``, ``build`` and ``test`` scripts (run with
  the package manager its lock file names); ``Cargo.toml``; ``go.mod``; a
  ``Makefile``'s ``test`` target;
- agents: the coding-agent CLIs found on PATH (claude, codex, gemini, aider), as
  that preset (``{preset: claude}``) when one by that name is installed, else
  through the ``command`` backend;
- the provider: github when ``gh`` is installed and ``origin`` is on GitHub, else
  local.

An existing ``maverick.yaml`` is never overwritten without ``--force``.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from typing import TYPE_CHECKING

from maverick_core.api import Config, MaverickError
from maverick_core.devflow.providers import github_available

if TYPE_CHECKING:
    from pathlib import Path

SETTINGS = "maverick.yaml"
# headless command lines of the agent CLIs, for the generic ``command`` backend
COMMAND_LINES: dict[str, list[str]] = {
    "claude": ["claude", "-p"],
    "codex": ["codex", "exec", "--full-auto", "-"],
    "gemini": ["gemini", "--yolo"],
    "aider": ["aider", "--yes-always", "--no-auto-commits", "--message-file", "/dev/stdin"],
}
AGENT_ORDER = ("claude", "codex", "gemini", "aider")


def _python_stages(root: Path) -> dict[str, str]:
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}
    text = path.read_text(encoding="utf-8")
    tools = data.get("tool") or {}

    def uses(name: str) -> bool:
        return name in tools or re.search(rf"[\"'\s]{re.escape(name)}\b", text) is not None

    stages: dict[str, str] = {}
    if uses("ruff"):
        stages["lint"] = "ruff check ."
        stages["format"] = "ruff format --check ."
    if uses("mypy"):
        stages["typecheck"] = "mypy"
    if uses("pytest") or (root / "tests").is_dir():
        stages["test"] = "python -m pytest -q"
    return stages


def _node_stages(root: Path) -> dict[str, str]:
    path = root / "package.json"
    if not path.is_file():
        return {}
    try:
        scripts = json.loads(path.read_text(encoding="utf-8")).get("scripts") or {}
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return {}
    if (root / "pnpm-lock.yaml").is_file():
        runner = "pnpm"
    elif (root / "yarn.lock").is_file():
        runner = "yarn"
    else:
        runner = "npm"
    stages = {}
    for script in ("lint", "typecheck", "build", "test"):
        if script in scripts:
            stages[script] = f"{runner} test" if script == "test" else f"{runner} run {script}"
    return stages


def _cargo_stages(root: Path) -> dict[str, str]:
    if not (root / "Cargo.toml").is_file():
        return {}
    return {"lint": "cargo clippy -- -D warnings", "test": "cargo test"}


def _go_stages(root: Path) -> dict[str, str]:
    if not (root / "go.mod").is_file():
        return {}
    return {"vet": "go vet ./...", "test": "go test ./..."}


def _make_stages(root: Path) -> dict[str, str]:
    path = root / "Makefile"
    if path.is_file() and re.search(r"^test\s*:", path.read_text(errors="replace"), re.M):
        return {"test": "make test"}
    return {}


def detect_stages(root: Path) -> list[tuple[str, dict[str, str]]]:
    """Validation stages per kind of project found, in the order they are written."""
    found = [
        ("pyproject.toml", _python_stages(root)),
        ("package.json", _node_stages(root)),
        ("Cargo.toml", _cargo_stages(root)),
        ("go.mod", _go_stages(root)),
        ("Makefile", _make_stages(root)),
    ]
    return [(source, stages) for source, stages in found if stages]


def detect_agents() -> list[str]:
    """The agent CLIs on PATH, in maverick's order of preference."""
    return [name for name in AGENT_ORDER if shutil.which(name)]


def _agent_entry(config: Config, name: str) -> str:
    if name in config.pm.registries.agents:
        return f"{{preset: {name}}}"
    return "{command: " + json.dumps(COMMAND_LINES[name]) + "}"


def settings_text(config: Config) -> str:
    """The commented ``maverick.yaml`` for ``config.root``."""
    root = config.root
    lines = [
        "# maverick settings, written by `maverick init`. Check them with `maverick doctor`;",
        "# docs/workflows.md explains every key.",
        f"project: {json.dumps(root.name)}",
        "",
    ]
    provider = "github" if github_available(config) else "local"
    why = (
        "gh is installed and origin is on GitHub"
        if provider == "github"
        else "pull requests become files in .maverick/prs/, issues are read from .maverick/issues/"
    )
    lines += [f"provider: {provider}            # {why}", ""]
    agents = detect_agents()
    lines.append("agents:                     # role -> the coding agent serving it")
    if agents:
        first, *others = agents
        lines.append(f"  default: {_agent_entry(config, first)}   # found on PATH: {first}")
        for other in others:
            lines.append(
                f"  # reviewer: {_agent_entry(config, other)}   # also found: {other}; "
                "a second opinion"
            )
    else:
        lines += [
            "  # no coding-agent CLI (claude, codex, gemini, aider) was found on PATH:",
            "  # install one and name it here, e.g.",
            '  default: {command: ["claude", "-p"]}',
        ]
    lines += [
        "  # implementer, fixer, reviewer, issue_fixer and writer use `default` unless",
        "  # named; `writer: false` keeps maverick's own commit messages and PR text.",
        "",
    ]
    found = detect_stages(root)
    lines.append("validation:                 # run in this order after every change")
    if found:
        lines.append("  stages:")
        seen: set[str] = set()
        for source, stages in found:
            lines.append(f"    # from {source}")
            for name, command in stages.items():
                key = name if name not in seen else f"{name}_{source.split('.')[0].lower()}"
                seen.add(key)
                lines.append(f"    {key}: {json.dumps(command)}")
    else:
        lines += [
            "  stages: {}                # nothing detected: add your lint and test commands,",
            "                            # e.g. {lint: make lint, test: make test}",
        ]
    lines += [
        "",
        "review:",
        "  reviewers: [reviewer]      # or [spec_reviewer, technical_reviewer]",
        "  max_review_rounds: 2       # reviews at most this often, fixes in between",
        "  exclude: []                # globs kept out of the reviewers' diff, e.g. vendor/*",
    ]
    return "\n".join(lines) + "\n"


def write_settings(config: Config, force: bool) -> Path:
    """Write ``maverick.yaml``; an existing one only with ``force``."""
    path = config.root / SETTINGS
    if path.exists() and not force:
        raise MaverickError(f"{path} exists; `maverick init --force` overwrites it")
    text = settings_text(config)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def describe(config: Config) -> str:
    """What init found, one line per finding (printed after writing)."""
    found = detect_stages(config.root)
    stages = ", ".join(f"{name} ({source})" for source, s in found for name in s) or "none"
    agents = ", ".join(detect_agents()) or "none on PATH"
    return f"validation stages: {stages}\nagent CLIs: {agents}"
