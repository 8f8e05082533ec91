"""LiveSteps: finished steps shown before a checkpoint holds them, written off the step's path."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from maverick_core.builtin.checkpoint import live
from maverick_core.builtin.checkpoint.live import LiveSteps
from maverick_core.engine.run import Status, StepRecord


class Writes:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any] | None] = []
        self.event = threading.Event()

    def __call__(self, steps: dict[str, Any] | None) -> None:
        self.seen.append(steps)
        self.event.set()

    def next(self) -> dict[str, Any] | None:
        assert self.event.wait(10), "nothing was written"
        self.event.clear()
        return self.seen[-1]


def done(output: Any = "ok") -> StepRecord:
    return StepRecord(status=Status.COMPLETED, output=output, started_at=1.0, duration=0.5)


def test_steps_noted_together_are_written_once_as_valid_step_records(monkeypatch):
    monkeypatch.setattr(live, "LIVE_INTERVAL", 0.05)
    writes = Writes()
    steps = LiveSteps(writes)
    steps.note("a", done())
    steps.note("b", StepRecord(status=Status.FAILED, error="boom"))
    written = writes.next()
    assert written is not None and list(written) == ["a", "b"]
    assert StepRecord.from_plain(written["a"]) == done()
    assert StepRecord.from_plain(written["b"]).error == "boom"
    steps.close()
    assert len(writes.seen) == 1


def test_a_checkpoint_takes_its_steps_out_and_the_last_one_empties_the_view(monkeypatch):
    monkeypatch.setattr(live, "LIVE_INTERVAL", 0.05)
    writes = Writes()
    steps = LiveSteps(writes)
    steps.note("a", done())
    steps.note("b", done())
    writes.next()
    steps.committed(["a"])
    assert list(writes.next() or {}) == ["b"]
    steps.committed(["b"])
    assert writes.next() is None
    steps.close()


def test_steps_a_checkpoint_took_before_any_write_cost_no_write(monkeypatch):
    # a loop whose every iteration checkpoints: the view never shows a step, so the
    # timer has nothing to write (each write is a durable run-record update)
    monkeypatch.setattr(live, "LIVE_INTERVAL", 0.05)
    writes = Writes()
    steps = LiveSteps(writes)
    steps.note("a", done())
    steps.committed(["a"])
    assert not writes.event.wait(0.3)
    steps.note("b", done())  # one that stays shows, and its checkpoint empties the view
    assert list(writes.next() or {}) == ["b"]
    steps.committed(["b"])
    assert writes.next() is None
    steps.close()
    assert writes.seen == [{"b": live.summary(done())}, None]


def test_a_stop_signal_while_the_timer_starts_leaves_a_view_that_closes(monkeypatch):
    # SIGINT raises in the main thread wherever it is; in note() it once left a timer
    # kept but never started, and close() then raised "cannot join thread before it
    # is started" from the run's end (a traceback and exit 1 instead of 130)
    monkeypatch.setattr(live, "LIVE_INTERVAL", 0.05)
    writes = Writes()
    steps = LiveSteps(writes)
    start = threading.Timer.start

    def interrupted(self: threading.Timer) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(threading.Timer, "start", interrupted)
    with pytest.raises(KeyboardInterrupt):
        steps.note("a", done())
    monkeypatch.setattr(threading.Timer, "start", start)
    steps.close()  # does not raise
    assert writes.seen == []


def test_only_the_latest_steps_are_kept_and_big_outputs_left_out(monkeypatch):
    monkeypatch.setattr(live, "LIVE_INTERVAL", 0.05)
    monkeypatch.setattr(live, "MAX_LIVE", 3)
    writes = Writes()
    steps = LiveSteps(writes)
    for index in range(5):
        steps.note(f"each[{index}]", done("x" * (live.MAX_OUTPUT_CHARS if index == 4 else 1)))
    written = writes.next() or {}
    assert list(written) == ["each[2]", "each[3]", "each[4]"]
    assert written["each[3]"]["output"] == "x" and written["each[4]"]["output"] is None
    steps.close()


def test_nothing_is_written_after_close_and_a_failing_write_is_dropped(monkeypatch):
    monkeypatch.setattr(live, "LIVE_INTERVAL", 0.05)
    calls: list[Any] = []

    def failing(steps: Any) -> None:
        calls.append(steps)
        raise OSError("disk full")

    steps = LiveSteps(failing)
    steps.note("a", done())
    steps.close()  # cancelled before the timer fired, or waited for
    steps.note("b", done())
    threading.Event().wait(0.2)
    assert all("b" not in (c or {}) for c in calls)
