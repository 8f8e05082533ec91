"""Built-in workflow sources: project, user config directory, built-in library."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from maverick_core import hookimpl

if TYPE_CHECKING:
    from maverick_core.config import Config

LIBRARY = Path(__file__).resolve().parent.parent / "library" / "workflows"


@hookimpl
def register_workflow_sources(register: Callable[..., None], config: Config) -> None:
    """Project ``.maverick/workflows`` (10), user config (20), built-in library (40)."""
    from maverick_core.discovery import user_config_dir

    register("project", config.root / ".maverick" / "workflows", 10)
    register("user", user_config_dir() / "workflows", 20)
    register("built-in", LIBRARY, 40)
