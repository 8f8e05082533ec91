"""maverick: resumable YAML developer workflows on a pluggy plugin architecture."""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("maverick")
"""Marker for plugin hook implementations: ``@hookimpl`` (see docs/hooks.md)."""

__all__ = ["__version__", "hookimpl"]
