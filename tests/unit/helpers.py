"""Actions used by test workflows (``python`` steps name them as module:function)."""

from __future__ import annotations

import datetime as dt
from typing import Any


def tell(ctx: Any) -> str:
    """Send a notice through the reporters."""
    ctx.notice("something worth knowing")
    return "told"


def aware_time() -> dict[str, Any]:
    """An output holding a value that cannot be persisted (a tzinfo)."""
    return {"report": {"when": dt.UTC}}


def stamp() -> dict[str, Any]:
    """An output holding values that normalize to plain data."""
    return {"at": dt.datetime(2026, 11, 26, 14, 5, 12), "tags": ("a", "b"), "ids": {3, 1, 2}}


def record(log: str, name: str, value: int) -> int:
    """Append ``name`` to the side-effect log; return a value derived from the input."""
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(name + "\n")
    return value * 3 + 1
