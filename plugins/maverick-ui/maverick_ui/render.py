"""Run data shaped for the templates: times, values, links, the page's fingerprint."""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from maverick_core.api import MaverickError, load_named_workflow, workflow_mermaid

if TYPE_CHECKING:
    from collections.abc import Callable

    from maverick_core.api import Config, Workflow
    from maverick_ui.timeline import Timeline

LINK_SCHEMES = ("http", "https")
MAX_SHOWN = 20_000
"""Characters of one value shown on the page; the rest is cut with a note."""


def when(stamp: Any) -> str:
    """A timestamp as local date and time (as ``maverick runs list`` shows it)."""
    if not isinstance(stamp, int | float) or isinstance(stamp, bool):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def is_link(value: Any) -> bool:
    """True for an http(s) URL: only those become clickable (never ``javascript:``)."""
    if not isinstance(value, str) or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in LINK_SCHEMES and bool(parts.netloc)


def pretty(value: Any) -> str:
    """A value as text: strings as they are, anything else as indented JSON; long ones cut."""
    text = value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
    if len(text) > MAX_SHOWN:
        return text[:MAX_SHOWN] + f"\n… ({len(text) - MAX_SHOWN} more characters not shown)"
    return text


def digest(value: Any) -> str:
    """A short fingerprint of the page's data: the live view redraws when it changes."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def steps_of(described: dict[str, Any]) -> list[dict[str, Any]]:
    """``describe_run``'s steps (path -> entry, in workflow order) as a list of entries.

    Each gets its ``path`` and ``shown``: the state a person reads (``done``,
    ``restored``, ``failed``, ``running``, ``skipped``, ``interrupted``, ``not_reached``).
    """
    steps = described.get("steps") or {}
    pairs = steps.items() if isinstance(steps, dict) else ((s.get("path"), s) for s in steps)
    result = []
    for path, entry in pairs:
        if not isinstance(entry, dict):
            continue
        shown = entry.get("state") or _state_of(entry)
        result.append({**entry, "path": str(path), "shown": str(shown)})
    return result


def _state_of(entry: dict[str, Any]) -> str:
    status = str(entry.get("status") or "not_reached")
    if status == "completed":
        return "restored" if entry.get("restored") else "done"
    return status


def run_context(
    described: dict[str, Any],
    config: Config,
    layout: Callable[..., Timeline],
) -> dict[str, Any]:
    """The run page's data: ``described`` plus its timeline, diagram and fingerprint."""
    steps = steps_of(described)
    attempts = [a for a in described.get("attempts") or [] if isinstance(a, dict)]
    checkpoints = [
        c for c in described.get("checkpoints") or [] if isinstance(c, dict) and "seq" in c
    ]
    given = described.get("totals")
    totals: dict[str, Any] = given if isinstance(given, dict) else {}
    context = dict(described)
    # what changes with the clock alone (a running attempt's duration, the totals) is
    # left out: the page is redrawn when the run changes, not at every poll
    steady = {k: v for k, v in described.items() if k != "totals"}
    steady["attempts"] = [{k: v for k, v in a.items() if k != "duration"} for a in attempts]
    context["digest"] = digest(steady)
    context["steps"] = steps
    context["attempts"] = attempts
    context["checkpoints"] = checkpoints
    context["duration"] = totals.get("duration", described.get("duration"))
    context["cost_usd"] = totals.get("cost_usd", described.get("cost_usd"))
    gone = any(a.get("holder_alive") is False for a in attempts)
    context["holder_gone"] = described.get("status") == "running" and gone
    context["following"] = described.get("status") == "running" and not gone
    context["timeline"] = layout(attempts, steps, checkpoints)
    context["mermaid"], context["diagram_note"] = diagram(config, described, steps)
    return context


_WORKFLOWS: dict[tuple[str, int], Workflow] = {}


def _workflow(config: Config, source: str) -> Workflow:
    """The workflow at ``source``, loaded once per version of its file (live pages poll)."""
    try:
        version = os.stat(source).st_mtime_ns
    except OSError:
        version = -1
    key = (source, version)
    if key not in _WORKFLOWS:
        _WORKFLOWS[key] = load_named_workflow(config, source)
    return _WORKFLOWS[key]


def diagram(
    config: Config, described: dict[str, Any], steps: list[dict[str, Any]]
) -> tuple[str | None, str | None]:
    """The run's Mermaid diagram coloured by its steps' statuses, or None and why not."""
    source = str(described.get("source") or described.get("workflow") or "")
    try:
        workflow = _workflow(config, source)
    except (MaverickError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"No diagram: the workflow definition cannot be loaded ({first})."
    statuses = {s["path"]: s["shown"] for s in steps}
    return workflow_mermaid(workflow, statuses if steps else None, config=config), None
