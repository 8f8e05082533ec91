"""The remembered entry points follow what is installed: a plugin is found once installed
and forgotten once removed, and a start that trusts the cache reads no distribution metadata.

Real ``maverick`` processes with a directory on ``PYTHONPATH`` into which a distribution
is written (``*.dist-info`` with ``METADATA`` and ``entry_points.txt``, as pip installs
one) and from which it is removed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from typing import TYPE_CHECKING

from tests.integration.test_startup_imports import imported_modules

if TYPE_CHECKING:
    from pathlib import Path

    from maverick_core.testing import MaverickCLI

PLUGIN = """
from maverick_core import hookimpl


@hookimpl
def register_actions(register):
    register("cached.hello", lambda: "hello")
"""


def install(site: Path, version: str = "1.0") -> None:
    """Install distribution ``maverick-cached`` (entry point ``cached``) into ``site``."""
    (site / "maverick_cached_plugin.py").write_text(PLUGIN)
    info = site / f"maverick_cached-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: maverick-cached\nVersion: {version}\n"
    )
    (info / "entry_points.txt").write_text("[maverick]\ncached = maverick_cached_plugin\n")


def uninstall(site: Path) -> None:
    for info in site.glob("maverick_cached-*.dist-info"):
        shutil.rmtree(info)


def settle(*directories: Path) -> None:
    """Date the directories a minute back: a directory changed just now is never cached."""
    past = time.time() - 60
    for directory in directories:
        os.utime(directory, (past, past))


def listed(cli: MaverickCLI, site: Path) -> dict[str, tuple[str, str]]:
    result = cli("plugins", "--json", env={"PYTHONPATH": os.pathsep.join([str(site), *PATH])})
    assert result.returncode == 0, result.stderr
    return {p["name"]: (p["distribution"], p["version"]) for p in json.loads(result.stdout)}


PATH = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
"""The test run's own path (a worktree's sources), kept in the children's."""


def cache_files() -> list[Path]:
    from maverick_core.engine.entrypoints import user_cache_dir

    return sorted(user_cache_dir().glob("entry-points-*.json"))


def test_a_distribution_installed_after_a_cached_start_is_found_and_one_removed_is_not(
    cli, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    settle(site)
    assert "cached" not in listed(cli, site)
    assert cache_files()  # what the group resolved to was remembered
    install(site)
    assert listed(cli, site)["cached"] == ("maverick-cached", "1.0")
    settle(site)
    assert listed(cli, site)["cached"] == ("maverick-cached", "1.0")  # remembered
    assert listed(cli, site)["cached"] == ("maverick-cached", "1.0")  # from the cache
    uninstall(site)
    install(site, "2.0")
    assert listed(cli, site)["cached"] == ("maverick-cached", "2.0")
    uninstall(site)
    assert "cached" not in listed(cli, site)


def test_a_cached_start_reads_no_distribution_metadata(project: Path) -> None:
    settle(project)  # the child's sys.path starts with its working directory
    assert "importlib.metadata" in imported_modules(project, "--help")  # then remembered
    assert "importlib.metadata" not in imported_modules(project, "--help")


def test_an_unreadable_cache_is_ignored(cli, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install(site)
    settle(site)
    assert "cached" in listed(cli, site)
    for file in cache_files():
        file.write_text("{not json")
    assert listed(cli, site)["cached"] == ("maverick-cached", "1.0")


def test_a_cache_directory_that_cannot_be_made_is_no_error(cli, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install(site)
    settle(site)
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    env = {"PYTHONPATH": os.pathsep.join([str(site), *PATH]), "XDG_CACHE_HOME": str(blocked)}
    result = cli("plugins", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert "cached" in {p["name"] for p in json.loads(result.stdout)}
