"""What a run's agent calls cost, which sessions are in flight, and the budget.

Every finished agent call is announced through ``on_agent_usage`` (the checkpoint
plugin keeps it in the run record at once, so money spent before a crash is still
counted); a session id learnt while a call runs goes through ``on_agent_session``
(an in-flight record a resumed run continues). A resumed run gets both back from
``load_agent_records``. The :class:`Ledger` joins them for one run: the budget
(``--max-cost``, ``budget.max_cost_usd``) is checked against it at every step
boundary (past it, the run stops there, checkpointed) and before every call.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from maverick_core.api import Run, RunState, StashKey, StepContext, StepFailed, money

# the checkpoint a run stopped by its budget resumes from
BUDGET_CHECKPOINT = "budget_reached"
_LEDGERS: weakref.WeakKeyDictionary[Run, Ledger] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


class Ledger:
    """A run's agent calls (earlier attempts' and this one's) and in-flight sessions.

    A plain class, not an attrs class: every run's first step loads this module, and an
    attrs class costs a compile (docs/benchmarks.md, start-up).
    """

    __slots__ = ("calls", "earlier", "max_cost", "sessions")

    def __init__(
        self,
        calls: list[dict[str, Any]],
        sessions: dict[str, dict[str, Any]],
        earlier: int,
        max_cost: Any,
    ) -> None:
        self.calls = calls
        self.sessions = sessions
        self.earlier = earlier
        self.max_cost = max_cost

    @property
    def spent(self) -> float:
        """USD spent by every call of the run, in every attempt."""
        return round(sum(float(c.get("cost_usd") or 0.0) for c in self.calls), 6)


def ledger_for(run: Run) -> Ledger:
    """The run's ledger, loaded on first use from what earlier attempts recorded."""
    with _LOCK:
        ledger = _LEDGERS.get(run)
        if ledger is None:
            records = run.config.pm.hook.load_agent_records(run=run) or {}
            calls = [c for c in records.get("calls") or [] if isinstance(c, dict)]
            sessions = {
                str(p): s for p, s in (records.get("sessions") or {}).items() if isinstance(s, dict)
            }
            ledger = Ledger(calls, sessions, len(calls), records.get("max_cost_usd"))
            _LEDGERS[run] = ledger
        return ledger


def max_cost(run: Run) -> float | None:
    """The budget in USD: ``--max-cost`` (given now, or when the run started or was last
    resumed with it), else ``budget.max_cost_usd``; None when unlimited."""
    value = run.config.options.get("max_cost")
    if value is None:
        value = ledger_for(run).max_cost
    if value is None:
        budget = run.config.settings.get("budget") or {}
        value = budget.get("max_cost_usd") if isinstance(budget, dict) else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise StepFailed(f"maverick.yaml: budget.max_cost_usd must be a number of USD: {value!r}")
    return float(value)


_LIMIT: StashKey[tuple[float | None]] = StashKey("devflow.budget")
"""The run's budget as :func:`max_cost` worked it out (in a 1-tuple: None is "unlimited")."""


def budget(run: Run) -> float | None:
    """:func:`max_cost`, worked out once per run: every step boundary asks for it.

    Its sources (the options, what earlier attempts recorded, maverick.yaml) do not
    change while a run executes.
    """
    known = run.stash.get(_LIMIT, None)
    if known is None:
        known = (max_cost(run),)
        run.stash[_LIMIT] = known
    return known[0]


def check_budget(run: Run, path: str) -> None:
    """Refuse to start another agent call once the run spent its whole budget."""
    limit = budget(run)
    if limit is None:
        return
    spent = ledger_for(run).spent
    if spent >= limit:
        raise StepFailed(
            f"budget reached: agents spent {money(spent)} of the {money(limit)} allowed "
            f"(--max-cost / budget.max_cost_usd); the agent call of '{path}' was not "
            "started. Resume with a higher --max-cost to go on"
        )


def stop_past_budget(ctx: StepContext) -> None:
    """At a step boundary past the budget: checkpoint what is done, then stop the run.

    The checkpoint keeps every finished step (the agent work that crossed the limit
    included), so ``--resume --max-cost HIGHER`` goes on from exactly here.
    """
    limit = budget(ctx.run)
    if limit is None:
        return
    spent = ledger_for(ctx.run).spent
    if spent <= limit:
        return
    ctx.commit_checkpoint(BUDGET_CHECKPOINT)
    raise StepFailed(
        f"budget reached: agents spent {money(spent)} of the {money(limit)} allowed "
        f"(--max-cost / budget.max_cost_usd); stopped before '{ctx.path}' with checkpoint "
        f"'{BUDGET_CHECKPOINT}' saved. Resume with a higher --max-cost to go on"
    )


def restored_calls(run: Run, state: RunState) -> tuple[int, float | None, float]:
    """Calls of earlier attempts whose step is restored: (count, USD or None, seconds).

    Each call's step is looked up in ``state``: a resumed run may restore tens of
    thousands of records, and has few agent calls, if any.
    """
    ledger = ledger_for(run)
    count, cost, seconds = 0, None, 0.0
    for call in ledger.calls[: ledger.earlier]:
        path = call.get("path")
        record = state.get(path) if isinstance(path, str) else None
        if record is not None and record.done:
            count += 1
            if call.get("cost_usd") is not None:
                cost = (cost or 0.0) + float(call["cost_usd"])
            seconds += float(call.get("duration") or 0.0)
    return count, cost, seconds
