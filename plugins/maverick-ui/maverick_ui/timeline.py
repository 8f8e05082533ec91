"""The run page's timeline: steps as bars over time, across the run's attempts.

Pure geometry, computed on the server and drawn by the template as inline SVG (no
script). A run resumed hours after it failed would leave the page mostly empty on one
linear axis, so each attempt gets a segment of its own, as wide as its share of the
time actually spent (never narrower than ``MIN_SHARE``), separated by a fixed gap.
"""

from __future__ import annotations

import time
from typing import Any

import attrs

WIDTH = 1000
"""Width of the SVG's coordinate system; the page scales it to the window."""
LABEL_WIDTH = 240
"""Room left of the bars for the step names."""
ROW_HEIGHT = 22
TOP = 34
"""Room above the first row for the attempts' headings."""
GAP = 18
"""Space between two attempts' segments."""
MIN_SHARE = 0.12
MIN_BAR = 2.0


@attrs.frozen
class Segment:
    """One attempt's stretch of the axis."""

    number: int
    start: float
    end: float
    x0: float
    x1: float
    label: str
    outcome: str


@attrs.frozen
class Bar:
    """One step's row, and its bar when it ran."""

    row: int
    y: float
    path: str
    label: str
    depth: int
    status: str
    restored: bool
    x: float | None
    width: float
    title: str


@attrs.frozen
class Marker:
    """A committed checkpoint."""

    x: float
    label: str
    title: str


@attrs.frozen
class Timeline:
    """Everything the template draws."""

    width: int
    height: float
    label_width: int
    segments: list[Segment]
    bars: list[Bar]
    markers: list[Marker]


def _spans(
    attempts: list[dict[str, Any]], steps: list[dict[str, Any]], now: float
) -> list[tuple[int, float, float, str]]:
    """(number, start, end, outcome) per attempt; one span for a run without attempts."""
    spans = []
    for position, attempt in enumerate(attempts, 1):
        start = _number(attempt.get("started_at"))
        if start is None:
            continue
        end = _number(attempt.get("ended_at"))
        outcome = str(attempt.get("outcome") or "running")
        spans.append((int(attempt.get("number") or position), start, end or now, outcome))
    if not spans:
        starts = [s for s in (_number(step.get("started_at")) for step in steps) if s is not None]
        ends = [_step_end(step, now) for step in steps if _number(step.get("started_at"))]
        if starts:
            spans.append((1, min(starts), max([*ends, min(starts)]), "?"))
    for i, (number, start, end, outcome) in enumerate(spans):
        spans[i] = (number, start, max(end, start + 1e-6), outcome)
    return spans


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _step_end(step: dict[str, Any], now: float) -> float:
    start = _number(step.get("started_at")) or now
    duration = _number(step.get("duration"))
    if duration is None:
        return now if step.get("shown", step.get("status")) == "running" else start
    return start + duration


def layout(
    attempts: list[dict[str, Any]],
    steps: list[dict[str, Any]],
    checkpoints: list[dict[str, Any]],
    now: float | None = None,
) -> Timeline:
    """Place the attempts, the steps' bars and the checkpoints' markers.

    :param attempts: ``describe_run``'s attempts (``number``, ``started_at``,
        ``ended_at``, ``outcome``).
    :param steps: its steps in workflow order (``path``, ``status``, ``restored``,
        ``started_at``, ``duration``).
    :param checkpoints: its checkpoints (``seq``, ``checkpoint_id``, ``created_at``).
    """
    now = time.time() if now is None else now
    spans = _spans(attempts, steps, now)
    plot = WIDTH - LABEL_WIDTH - GAP * max(len(spans) - 1, 0)
    total = sum(end - start for _, start, end, _ in spans) or 1.0
    shares = [max((end - start) / total, MIN_SHARE) for _, start, end, _ in spans]
    scale = sum(shares) or 1.0
    segments = []
    x = float(LABEL_WIDTH)
    for (number, start, end, outcome), share in zip(spans, shares, strict=True):
        width = plot * share / scale
        label = f"attempt {number}" + (f" ({outcome})" if outcome else "")
        segments.append(Segment(number, start, end, x, x + width, label, outcome))
        x += width + GAP

    def place(moment: float) -> float:
        for segment in reversed(segments):
            if moment >= segment.start:
                fraction = min((moment - segment.start) / (segment.end - segment.start), 1.0)
                return segment.x0 + fraction * (segment.x1 - segment.x0)
        return segments[0].x0 if segments else float(LABEL_WIDTH)

    bars = []
    for row, step in enumerate(steps):
        path = str(step.get("path", "?"))
        status = str(step.get("shown") or step.get("status") or "not_reached")
        restored = bool(step.get("restored"))
        began = _number(step.get("started_at"))
        y = TOP + row * ROW_HEIGHT
        given = step.get("depth")
        depth = given if isinstance(given, int) else path.count(".")
        name = str(step.get("name") or path.rsplit(".", 1)[-1])
        title = f"{path}: {status}" + (" (restored from a checkpoint)" if restored else "")
        if began is None or not segments:
            bars.append(Bar(row, y, path, name, depth, status, restored, None, 0.0, title))
            continue
        x0 = place(began)
        x1 = place(_step_end(step, now))
        duration = _number(step.get("duration"))
        if duration is not None:
            title += f", {duration:.2f}s"
        bars.append(
            Bar(row, y, path, name, depth, status, restored, x0, max(x1 - x0, MIN_BAR), title)
        )
    markers = []
    for checkpoint in checkpoints:
        created = _number(checkpoint.get("created_at"))
        if created is None or not segments:
            continue
        name = str(checkpoint.get("checkpoint_id", "?"))
        markers.append(Marker(place(created), name, f"checkpoint #{checkpoint.get('seq')} {name}"))
    height = TOP + max(len(steps), 1) * ROW_HEIGHT + 8
    return Timeline(WIDTH, height, LABEL_WIDTH, segments, bars, markers)
