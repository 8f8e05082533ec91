"""What ``maverick runs list`` shows about a run, and the values its options take."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from maverick_core.builtin.checkpoint.listing import parse_since, run_cost, run_duration
from maverick_core.engine.storage import QueryError
from maverick_core.testing.conformance import make_run

NOW = 1_800_000_000.0


def test_duration_and_cost_come_from_the_summary_when_the_run_has_one() -> None:
    summary = {"duration": 42.5, "cost_usd": 1.25, "steps": {}, "outputs": {}, "attempts": 2}
    run = make_run("r", created_at=NOW - 9999, status="completed", meta={"summary": summary})
    assert (run_duration(run, NOW), run_cost(run)) == (42.5, 1.25)


def test_an_unknown_cost_in_the_summary_stays_unknown() -> None:
    summary = {"duration": 1.0, "cost_usd": None}
    calls = [{"cost_usd": 3.0}]  # the summary, written when the run ended, has the last word
    run = make_run("r", status="completed", meta={"summary": summary, "agent_calls": calls})
    assert run_cost(run) is None


def test_without_a_summary_a_run_s_span_and_its_agent_calls_are_used() -> None:
    calls = [{"cost_usd": 0.5}, {"cost_usd": None}, {"cost_usd": 0.25}]
    done = make_run("r", created_at=NOW - 100, status="failed", meta={"agent_calls": calls})
    done = attrs.evolve(done, updated_at=NOW - 40)
    assert (run_duration(done, NOW), run_cost(done)) == (60.0, 0.75)
    running = make_run("s", created_at=NOW - 30, status="running")
    assert (run_duration(running, NOW), run_cost(running)) == (30.0, None)


@pytest.mark.parametrize(
    ("text", "seconds_ago"), [("30m", 1800), ("2h", 7200), ("3d", 3 * 86400), ("1w", 604800)]
)
def test_since_takes_an_age(text: str, seconds_ago: float) -> None:
    assert parse_since(text, NOW) == NOW - seconds_ago


def test_since_takes_an_iso_date_in_local_time_or_a_date_time_with_an_offset() -> None:
    assert parse_since("2026-12-01", NOW) == dt.datetime(2026, 12, 1).timestamp()
    assert (
        parse_since("2026-12-01T09:30+00:00", NOW)
        == dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC).timestamp()
    )


@pytest.mark.parametrize("text", ["yesterday", "2h ago", "-3d", "2026-13-01", ""])
def test_since_refuses_anything_else_saying_what_it_takes(text: str) -> None:
    with pytest.raises(QueryError, match="use an ISO date or date-time"):
        parse_since(text, NOW)
