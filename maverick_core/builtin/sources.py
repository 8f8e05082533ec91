"""Built-in workflow sources: project, user config directory, built-in library."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from maverick_core import hookimpl
from maverick_core.config import Config
from maverick_core.discovery import user_config_dir

LIBRARY = Path(__file__).resolve().parent.parent / "library" / "workflows"


@hookimpl
def register_workflow_sources(register: Callable[..., None], config: Config) -> None:
    """Project ``.maverick/workflows`` (10), user config (20), built-in library (40)."""
    register("project", config.root / ".maverick" / "workflows", 10)
    register("user", user_config_dir() / "workflows", 20)
    register("built-in", LIBRARY, 40)
