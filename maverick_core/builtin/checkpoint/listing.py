"""``maverick runs list``: the values its options take and what a row shows."""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from typing import TYPE_CHECKING, Any

from maverick_core.engine.status import Status
from maverick_core.engine.storage import QueryError

if TYPE_CHECKING:
    from maverick_core.engine.storage import RunRecord

_AGE = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def age_seconds(text: str) -> float | None:
    """``7d``, ``12h``, ``30m``, ``45s``, ``2w`` → seconds; None for anything else."""
    match = _AGE.fullmatch(text.strip())
    if not match:
        return None
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def parse_since(text: str, now: float) -> float:
    """``--since``: an age (``2h``, ``3d``) before ``now``, or an ISO date or date-time.

    A date or date-time without a UTC offset is local time, as ``runs list`` prints it.

    :raises QueryError: for anything else, saying what is accepted.
    """
    age = age_seconds(text)
    if age is not None:
        return now - age
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise QueryError(
            f"--since {text!r}: use an ISO date or date-time (2026-12-01, "
            "2026-12-01T09:30, 2026-12-01T09:30+01:00) or an age (30m, 2h, 3d, 1w)"
        ) from None
    return when.timestamp()  # naive: local time


def run_duration(run: RunRecord, now: float) -> float:
    """Seconds the run took over every attempt.

    From ``meta["summary"]`` when the run has one (written when an attempt ends);
    otherwise the span from creation to its last update (to now while running),
    which counts the pauses between attempts too.
    """
    summary = run.meta.get("summary")
    if isinstance(summary, dict) and _is_number(summary.get("duration")):
        return float(summary["duration"])
    end = now if run.status == Status.RUNNING else run.updated_at
    return max(0.0, end - run.created_at)


def run_cost(run: RunRecord) -> float | None:
    """What the run's agent calls cost (every attempt); None when nothing says."""
    summary = run.meta.get("summary")
    if isinstance(summary, dict) and "cost_usd" in summary:
        cost = summary["cost_usd"]
        return float(cost) if _is_number(cost) else None
    calls = [c for c in run.meta.get("agent_calls") or [] if isinstance(c, dict)]
    costs = [float(c["cost_usd"]) for c in calls if _is_number(c.get("cost_usd"))]
    return round(sum(costs), 6) if costs else None


def run_row(run: RunRecord, now: float) -> dict[str, Any]:
    """One run as ``runs list --json`` prints it."""
    return {
        "run_id": run.run_id,
        "workflow": run.workflow,
        "status": run.status,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "duration": round(run_duration(run, now), 3),
        "cost_usd": run_cost(run),
    }


def row_line(row: dict[str, Any]) -> str:
    """One row of the table ``runs list`` prints: id, workflow, status, created, duration, cost."""
    from maverick_core.engine.units import elapsed, money

    name = row["workflow"] if row["workflow"] is not None else "?"
    created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["created_at"]))
    duration = "-" if row.get("duration") is None else elapsed(row["duration"])
    cost = "-" if row.get("cost_usd") is None else money(row["cost_usd"])
    return f"{row['run_id']}  {name:<12} {row['status']:<11} {created}  {duration:>6}  {cost:>7}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
