"""maverick-steptimer: time every step by wrapping ``run_step``; summarize at the end.

The summary goes to ``.maverick/steptimer.txt`` (slowest first) and, in one line, to
the reporters. A retried step is timed once per attempt and summed; a composite
step's time includes its children's.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from maverick_core import hookimpl
from maverick_core.api import Run, RunOutcome, Step, StepContext, state_dir

if TYPE_CHECKING:
    from collections.abc import Generator

_lock = threading.Lock()
_timings: dict[str, dict[str, float]] = {}  # run id -> step path -> seconds


@hookimpl(wrapper=True)
def run_step(run: Run, step: Step, path: str, ctx: StepContext) -> Generator[None, Any, Any]:
    """Time the step, whether it completes or fails."""
    started = time.perf_counter()
    try:
        return (yield)
    finally:
        elapsed = time.perf_counter() - started
        with _lock:
            timings = _timings.setdefault(run.run_id, {})
            timings[path] = timings.get(path, 0.0) + elapsed


@hookimpl
def workflow_finish(run: Run, outcome: RunOutcome) -> None:
    """Write the summary and tell the user where it is."""
    with _lock:
        timings = _timings.pop(run.run_id, {})
    if not timings:
        return
    slowest = sorted(timings.items(), key=lambda item: item[1], reverse=True)
    lines = [f"run {run.run_id} ({run.workflow.name}, {outcome.status})"]
    lines += [f"{seconds:10.3f}s  {path}" for path, seconds in slowest]
    report = state_dir(run.config.root) / "steptimer.txt"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path, seconds = slowest[0]
    run.config.pm.hook.on_notice(
        run=run,
        message=f"steptimer: {len(timings)} steps timed, slowest {path} ({seconds:.2f}s); "
        f"see {report}",
    )
