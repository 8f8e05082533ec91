"""Built-in plugin ``sources``: where workflows are found by name (project, user config)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from maverick_core import hookimpl

if TYPE_CHECKING:
    from maverick_core.engine.config import Config
    from maverick_core.engine.registries import RegisterWorkflowSource


@hookimpl
def register_workflow_sources(register: RegisterWorkflowSource, config: Config) -> None:
    """Project ``.maverick/workflows`` (10) and the user config directory (20)."""
    from maverick_core.engine.discovery import user_config_dir

    register("project", config.root / ".maverick" / "workflows", 10)
    register("user", user_config_dir() / "workflows", 20)
