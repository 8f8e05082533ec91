"""``maverick init`` and ``maverick doctor``, and the preflight of fly and refuel."""

from __future__ import annotations

import json
import os
import subprocess
from typing import TYPE_CHECKING

import yaml

from maverick_core.testing import maverick_executable
from tests.e2e.fixtures.support import Maverick, git, install_gh, make_repo, settings

if TYPE_CHECKING:
    from pathlib import Path


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    git(root, "init", "-q", "-b", "main")
    return root


def maverick(root: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path or os.environ["PATH"]}
    return subprocess.run(
        [*maverick_executable(), *args], cwd=root, env=env, capture_output=True, text=True
    )


def agent_bin(tmp_path: Path, *names: str) -> str:
    """A PATH with fake agent CLIs ``names`` (and the rest of the real PATH)."""
    directory = tmp_path / "agents-bin"
    directory.mkdir(exist_ok=True)
    for name in names:
        (directory / name).write_text("#!/bin/sh\nexit 0\n")
        (directory / name).chmod(0o755)
    return f"{directory}{os.pathsep}{os.environ['PATH']}"


def stages(root: Path) -> dict[str, str]:
    return yaml.safe_load((root / "maverick.yaml").read_text())["validation"]["stages"]


def test_init_on_a_python_project(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "w"\n[tool.ruff]\n[tool.mypy]\nstrict = true\n'
            '[tool.pytest.ini_options]\naddopts = "-q"\n'
        },
    )
    result = maverick(root, "init", path=agent_bin(tmp_path, "claude", "codex"))
    assert result.returncode == 0, result.stderr
    assert "validation stages: lint (pyproject.toml), format (pyproject.toml)" in result.stdout
    assert stages(root) == {
        "lint": "ruff check .",
        "format": "ruff format --check .",
        "typecheck": "mypy",
        "test": "python -m pytest -q",
    }
    settings_text = (root / "maverick.yaml").read_text()
    data = yaml.safe_load(settings_text)
    assert data["provider"] == "local"
    assert data["agents"]["default"] == {"preset": "claude"}
    assert "# found on PATH: claude" in settings_text and "also found: codex" in settings_text

    again = maverick(root, "init")
    assert again.returncode == 2
    assert "maverick.yaml exists; `maverick init --force` overwrites it" in again.stderr
    (root / "maverick.yaml").write_text("project: mine\n")
    assert maverick(root, "init", "--force").returncode == 0
    assert "ruff check ." in (root / "maverick.yaml").read_text()


def test_init_on_a_node_project(tmp_path: Path) -> None:
    package = {"name": "w", "scripts": {"lint": "eslint .", "test": "jest", "start": "node ."}}
    root = project(tmp_path, {"package.json": json.dumps(package), "yarn.lock": ""})
    result = maverick(root, "init", path=agent_bin(tmp_path))
    assert result.returncode == 0, result.stderr
    assert stages(root) == {"lint": "yarn run lint", "test": "yarn test"}


def test_init_on_a_go_project_with_a_makefile(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {"go.mod": "module example.com/w\n\ngo 1.22\n", "Makefile": "test:\n\tgo test ./...\n"},
    )
    result = maverick(root, "init", path=f"{tmp_path / 'nothing'}{os.pathsep}/usr/bin:/bin")
    assert result.returncode == 0, result.stderr
    assert stages(root) == {
        "vet": "go vet ./...",
        "test": "go test ./...",
        "test_makefile": "make test",
    }
    assert "no coding-agent CLI (claude, codex, gemini, aider) was found" in (
        (root / "maverick.yaml").read_text()
    )


def test_init_chooses_github_when_gh_is_installed_and_origin_is_on_github(
    tmp_path: Path,
) -> None:
    root = project(tmp_path, {})
    git(root, "remote", "add", "origin", "git@github.com:acme/widgets.git")
    env = install_gh(tmp_path)
    assert maverick(root, "init", path=env["PATH"]).returncode == 0
    assert yaml.safe_load((root / "maverick.yaml").read_text())["provider"] == "github"


def test_the_written_settings_pass_doctor_in_a_ready_project(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {}, settings())
    result = Maverick(repo).run("doctor")
    assert result.returncode == 0, result.stdout
    assert "ok   work tree: clean" in result.stdout
    assert "ok   agent implementer: agents.default" in result.stdout
    assert "ok   checkpoint store: file: is writable" in result.stdout
    assert result.stdout.endswith("all checks passed\n")


def test_doctor_names_a_missing_agent_cli_and_a_dirty_tree(tmp_path: Path) -> None:
    extra = "  reviewer: {command: [no-such-agent-cli, --print]}\n"
    yaml_text = settings().replace("agents:\n", "agents:\n" + extra)
    repo = make_repo(tmp_path / "repo", {}, yaml_text)
    (repo / "notes.txt").write_text("work in progress\n")
    result = Maverick(repo).run("doctor")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "FAIL work tree: uncommitted changes in 1 file(s)" in lines
    assert "       ?? notes.txt" in lines
    assert (
        "FAIL agent reviewer: agents.reviewer runs 'no-such-agent-cli', which is not installed "
        "(not on PATH)" in lines
    )
    assert "       install no-such-agent-cli, or point agents.reviewer at another agent" in lines
    assert "ok   agent implementer: agents.default: " in result.stdout
    assert lines[-1] == "2 check(s) failed"


def test_doctor_checks_gh_login_for_the_github_provider(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {}, settings(provider="github"))
    env = install_gh(tmp_path)
    mav = Maverick(repo, env)
    assert "ok   provider github: gh is logged in" in mav.run("doctor").stdout
    mav.env["GH_STANDIN_LOGGED_OUT"] = "1"
    result = mav.run("doctor")
    assert result.returncode == 1
    assert "FAIL provider github: gh is not logged in (gh auth status failed)" in result.stdout
    assert "       gh auth login" in result.stdout


def test_fly_stops_before_touching_anything_when_a_preflight_check_fails(
    tmp_path: Path,
) -> None:
    yaml_text = settings() + "    lint: no-such-linter --strict .\n"
    repo = make_repo(tmp_path / "repo", {"tasks.md": "- [ ] T001 Do it\n"}, yaml_text)
    mav = Maverick(repo)
    result = mav.run("fly", "--branch-name", "feature")
    assert result.returncode == 1
    assert "FAIL validation stage lint: 'no-such-linter' is not installed" in result.stdout
    assert "maverick fly did not start" in result.stdout and "--no-preflight" in result.stdout
    assert git(repo, "branch", "--format=%(refname:short)") == "main"
    assert mav.events() == []
    assert json.loads(mav.run("runs", "list", "--json").stdout) == {"runs": [], "next_cursor": None}

    skipped = mav.run("refuel", "--no-preflight", "--dry-run")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert "preflight" not in skipped.stdout
