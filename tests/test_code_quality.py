"""The code stays lint-clean and type-clean: CI runs these with the rest of the suite."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("args", [("check", "."), ("format", "--check", ".")])
def test_ruff_is_clean(args):
    ruff = shutil.which("ruff")
    assert ruff, "ruff is a test dependency (pip install -e .[test])"
    result = run(ruff, *args)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_checks_every_first_party_plugin():
    mypy = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mypy"]
    search_path = mypy["mypy_path"].split(":")
    for package in REPO.glob("plugins/*/maverick_*/__init__.py"):
        distribution = package.parent.parent.relative_to(REPO).as_posix()
        assert package.parent.name in mypy["packages"], f"mypy skips {package.parent.name}"
        assert distribution in search_path, f"{distribution} is not on mypy_path"


def test_mypy_strict_is_clean():
    result = run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr
