"""Steps that finished since the last checkpoint, kept where a viewer can see them.

A run checkpoints where its workflow says so; between two checkpoints its finished
steps live only in memory, so ``maverick runs show`` and the viewer would not see them
until the run ends. :class:`LiveSteps` keeps a short summary of each in the run
record's ``meta["live"]``, written off the step's path: ``after_step`` notes the step
in memory and a timer writes what changed at most every :data:`LIVE_INTERVAL` seconds.

It is a view, never a resume point: resume restores only checkpoints, a new attempt
starts with an empty ``live``, and the run's end replaces it with the final record.
A write that fails is dropped (the next one, the next checkpoint or the final record
says the same thing durably).
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from maverick_core.engine.run import StepRecord

LIVE = "live"
"""The run record's meta key."""

LIVE_INTERVAL = 0.5
"""Seconds between a step's end and the write that shows it (at most two writes a second)."""

MAX_LIVE = 500
"""Steps kept at most (the most recent): a long loop without checkpoints stays cheap to write."""

MAX_OUTPUT_CHARS = 4096
"""An output whose JSON is longer is left out of the summary (it is in the next checkpoint)."""

MAX_ERROR_CHARS = 2000


def summary(record: StepRecord) -> dict[str, Any]:
    """What ``meta["live"]`` keeps of a finished step: a valid plain step record."""
    entry: dict[str, Any] = {"status": record.status.value, "output": None}
    try:
        if len(json.dumps(record.output)) <= MAX_OUTPUT_CHARS:
            entry["output"] = record.output
    except (TypeError, ValueError):
        pass
    if record.error is not None:
        entry["error"] = record.error[:MAX_ERROR_CHARS]
    if record.started_at:
        entry["started_at"] = record.started_at
    if record.duration:
        entry["duration"] = record.duration
    return entry


class LiveSteps:
    """The finished steps of one executing run not yet in a checkpoint.

    :param write: called (on a timer thread) with the summaries to keep, or None
        when there are none left; it saves them in the run record.
    """

    def __init__(self, write: Callable[[dict[str, Any] | None], None]) -> None:
        self._write = write
        # the records themselves: their summaries are made on the timer's thread
        self._steps: dict[str, StepRecord] = {}
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._pending = False
        self._closed = False
        # whether the record shows steps now: clearing a view already empty is no write
        self._shown = False

    def note(self, path: str, record: StepRecord) -> None:
        """Keep ``path``'s record; the timer writes it within :data:`LIVE_INTERVAL`."""
        with self._lock:
            if self._closed:
                return
            self._steps.pop(path, None)
            self._steps[path] = record
            while len(self._steps) > MAX_LIVE:
                del self._steps[next(iter(self._steps))]
            self._schedule()

    def committed(self, paths: Iterable[str]) -> None:
        """Forget the steps a checkpoint now holds (others may still be finishing)."""
        with self._lock:
            if self._closed or not self._steps:
                return
            before = len(self._steps)
            for path in paths:
                self._steps.pop(path, None)
            if len(self._steps) != before:
                self._schedule()

    def close(self) -> None:
        """Stop writing; wait for a write under way, so nothing is written after this."""
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            if timer.ident is not None and timer is not threading.current_thread():
                timer.join()

    def _schedule(self) -> None:
        if not self._pending:
            # Started before it is kept: a stop signal raises in the main thread between
            # any two lines, and close() must never find a timer that never started.
            timer = threading.Timer(LIVE_INTERVAL, self._flush)
            timer.daemon = True
            timer.start()
            self._timer, self._pending = timer, True

    def _flush(self) -> None:
        with self._lock:
            self._pending = False
            if self._closed:
                return
            records = dict(self._steps)
        if not records and not self._shown:
            return  # every noted step is in a checkpoint, and the record shows none
        try:
            steps = {path: summary(record) for path, record in records.items()}
            self._write(steps or None)
            self._shown = bool(steps)
        except Exception:
            # a view: the next write, checkpoint or final record says it durably
            return
