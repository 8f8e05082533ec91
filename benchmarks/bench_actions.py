"""Actions the benchmark workflows call (``bench_actions:NAME`` python steps).

They are as cheap as a step can be, so what a benchmark measures is the engine
and its store, not the work.
"""

from __future__ import annotations

import os
import time


class BenchmarkStop(RuntimeError):
    """Raised on purpose so a run stays unfinished (and resumable)."""


def noop(n: int = 0) -> int:
    """Return ``n``: a trivial step with a small, varying output."""
    return n


def inc(n: int = 0) -> int:
    """Return ``n + 1``: one link of the chain the peers run too."""
    return n + 1


def mark(path: str) -> None:
    """Write ``time.monotonic()`` to ``path``, then fail the step.

    CLOCK_MONOTONIC is system-wide on Linux, so the launching process can
    subtract its own reading taken just before it started the resuming process.
    Failing keeps the run unfinished, so the same state can be resumed again in
    the next round without committing anything new.
    """
    if path:
        with open(path, "w", encoding="ascii") as handle:
            handle.write(repr(time.monotonic()))
            handle.flush()
            os.fsync(handle.fileno())
    raise BenchmarkStop("stopped on purpose so the run stays resumable")
