"""``maverick.yaml`` is checked as strictly as a workflow file, by every command that reads it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

GREET = 'version: "1.0"\nname: greet\nsteps:\n  - {name: a, type: shell, command: "true"}\n'


@pytest.mark.parametrize(
    "command",
    [("run", "greet.yaml"), ("runs", "list"), ("workflows", "list"), ("fly", "--help")],
    ids=["run", "runs-list", "workflows-list", "fly-help"],
)
def test_unknown_sections_and_keys_are_located_errors_with_did_you_mean(
    cli, project: Path, command: tuple[str, ...]
) -> None:
    (project / "greet.yaml").write_text(GREET)
    settings = project / "maverick.yaml"
    settings.write_text("project: p\nagnets:\n  fixer: [true]\nbogus: 1\nvalidation: {stage: {}}\n")
    result = cli(*command)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{settings}:2:1: agnets: unknown section (did you mean 'agents'?)",
        f"{settings}:4:1: bogus: unknown section (sections: agents, budget, durability, github, "
        "issues, project, provider, review, serializer, store, validation)",
        f"{settings}:5:14: validation.stage: unknown key (did you mean 'stages'?)",
    ]
    assert "Traceback" not in result.stderr


def test_a_value_of_the_wrong_type_names_its_path(cli, project: Path) -> None:
    (project / "greet.yaml").write_text(GREET)
    settings = project / "maverick.yaml"
    settings.write_text("validation:\n  stages:\n    lint: {command: ruff, timeout: soon}\n")
    result = cli("run", "greet.yaml")
    assert result.returncode == 2
    assert result.stderr == (
        f"{settings}:3:36: validation.stages.lint.timeout: expected a number, got a string\n"
    )


def test_a_maverick_yaml_that_is_not_utf8_is_one_line(cli, project: Path) -> None:
    (project / "maverick.yaml").write_bytes(b"project: caf\xe9\n")
    result = cli("runs", "list")
    assert result.returncode == 2
    assert result.stderr == f"{project / 'maverick.yaml'}:1:13: not UTF-8 text (byte 0xe9)\n"


def test_a_plugin_section_is_known_once_the_plugin_declares_it(cli, project: Path) -> None:
    (project / "greet.yaml").write_text(GREET)
    (project / "budgets.py").write_text(
        "from maverick_core import hookimpl\n"
        "@hookimpl\n"
        "def add_settings(add):\n"
        "    add('spend', {'type': 'object', 'properties': {'usd': {'type': 'number'}}})\n"
    )
    (project / "maverick.yaml").write_text("spend: {usd: 3, usb: 2}\n")
    env = {"PYTHONPATH": os.pathsep.join([str(project), os.environ.get("PYTHONPATH", "")])}
    assert "spend: unknown section" in cli("runs", "list").stderr
    result = cli("-p", "budgets", "runs", "list", env=env)
    assert result.returncode == 2
    assert result.stderr.endswith("spend.usb: unknown key (did you mean 'usd'?)\n")
    (project / "maverick.yaml").write_text("spend: {usd: 3}\n")
    assert cli("-p", "budgets", "run", "greet.yaml", env=env).returncode == 0


def test_blocking_a_built_in_plugin_keeps_its_sections_valid(cli, project: Path) -> None:
    settings = project / "maverick.yaml"
    settings.write_text("agents: {default: [claude, -p]}\nbogus: 1\n")
    result = cli("-p", "no:devflow", "runs", "list")
    assert result.returncode == 2
    assert result.stderr == (
        f"{settings}:2:1: bogus: unknown section "
        "(sections: durability, project, serializer, store)\n"
    )
