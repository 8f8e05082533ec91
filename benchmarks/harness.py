"""Run maverick workflows in this process, through the real executor and stores.

This is what ``maverick_core.testing.run_workflow`` (the ``maverick_run`` fixture) does
(plugin manager, config, loader, ``open_run``,
:class:`~maverick_core.engine.executor.Executor`), plus timing:
:class:`TimedExecutor` is the real executor with a stopwatch (and a byte counter)
around each ``commit_checkpoint`` call, so what is timed is the engine's whole
commit path — id check, ``collect_checkpoint_data``, the checkpoint plugin's
delta, serializer, checksum, store append and fsync, ``after_checkpoint``.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from maverick_core.builtin.filestore.segments import frame_spans
from maverick_core.engine.config import make_config
from maverick_core.engine.dsl.loader import load_workflow
from maverick_core.engine.executor import Executor
from maverick_core.engine.pluginmanager import make_plugin_manager
from maverick_core.engine.run import CheckpointInfo, Run, RunOutcome, RunRequest

if TYPE_CHECKING:
    from collections.abc import Sequence

BENCH_DIR = Path(__file__).resolve().parent
WORKFLOWS = BENCH_DIR / "workflows"
PROC_IO = Path("/proc/self/io")


def bytes_written() -> int:
    """Bytes this process has handed to ``write(2)`` and friends so far (``wchar``).

    Every byte a store writes (journal line, snapshot, run record, lock file)
    passes through a write system call, so the difference across a commit is what
    that commit wrote, before the page cache and the filesystem add their own.
    """
    with open(PROC_IO, "rb") as handle:
        for line in handle:
            if line.startswith(b"wchar:"):
                return int(line.split()[1])
    raise RuntimeError(f"{PROC_IO} has no wchar line")


def can_count_bytes() -> bool:
    """True where ``/proc/self/io`` exists (Linux)."""
    try:
        bytes_written()
    except (OSError, RuntimeError, ValueError):
        return False
    return True


class TimedExecutor(Executor):
    """The real executor, timing each checkpoint commit (and its bytes, if asked)."""

    def __init__(self, run: Run, count_bytes: bool = False) -> None:
        super().__init__(run)
        self.count_bytes = count_bytes
        self.commit_seconds: list[float] = []
        self.commit_bytes: list[int] = []

    def commit_checkpoint(self, checkpoint_id: str) -> CheckpointInfo | None:
        """Commit through the engine; note the wall time and bytes it took."""
        # The byte counter is read outside the timed interval so that reading
        # /proc does not inflate the commit time.
        before = bytes_written() if self.count_bytes else 0
        started = time.perf_counter()
        info = super().commit_checkpoint(checkpoint_id)
        self.commit_seconds.append(time.perf_counter() - started)
        if self.count_bytes:
            self.commit_bytes.append(bytes_written() - before)
        return info


def existing_directory(text: str) -> Path:
    """An argparse ``type`` for ``--tmpdir``: a directory that exists, or a usage error
    (exit 2, one line) instead of a traceback from ``tempfile`` later."""
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"not an existing directory: {text!r}")
    return Path(text)


def make_project(base: Path, name: str) -> Path:
    """An empty project directory that is its own root (it holds maverick.yaml)."""
    root = base / name
    root.mkdir(parents=True)
    (root / "maverick.yaml").write_text("project: maverick-benchmarks\n", encoding="utf-8")
    return root


def install_workflow(project: Path, name: str, text: str | None = None) -> Path:
    """Copy ``benchmarks/workflows/NAME`` (or write ``text``) into the project."""
    path = project / name
    path.write_text(text if text is not None else (WORKFLOWS / name).read_text("utf-8"), "utf-8")
    return path


@attrs.frozen
class Spread:
    """The median of some per-round ratios and their quartiles."""

    median: float
    q1: float
    q3: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """Median and quartiles (both quartiles the median with fewer than two values)."""
        if len(values) < 2:
            only = statistics.median(values)
            return cls(only, only, only)
        q1, median, q3 = statistics.quantiles(values, n=4)
        return cls(median, q1, q3)


@attrs.frozen
class InProcessRun:
    """What one in-process run produced."""

    outcome: RunOutcome
    run: Run
    seconds: float
    commit_seconds: list[float]
    commit_bytes: list[int]


def run_workflow(
    project: Path,
    workflow_path: Path,
    inputs: dict[str, Any] | None = None,
    *,
    blocked: Sequence[str] = ("terminal",),
    plugins: Sequence[str] = (),
    objects: Sequence[object] = (),
    options: dict[str, Any] | None = None,
    count_bytes: bool = False,
) -> InProcessRun:
    """Run a workflow to its end in this process; time ``Executor.execute()``.

    The terminal reporter is blocked by default: printing a line per step would
    measure the terminal. Entry-point plugins are not autoloaded; ``plugins``
    names the modules to load (``-p``), e.g. ``maverick_sqlite``.
    """
    pm = make_plugin_manager(plugins=plugins, blocked=blocked, objects=objects, autoload=False)
    config = make_config(pm, project, dict(options or {}))
    workflow = load_workflow(workflow_path, pm.registries.step_models())
    given = dict(inputs or {})
    request = RunRequest(workflow=workflow, inputs=given, given_inputs=frozenset(given))
    run = pm.hook.open_run(config=config, request=request)
    executor = TimedExecutor(run, count_bytes=count_bytes)
    # Start every timed run with the same heap, so one run's garbage is not
    # collected on the next one's clock.
    gc.collect()
    started = time.perf_counter()
    outcome = executor.execute()
    seconds = time.perf_counter() - started
    return InProcessRun(outcome, run, seconds, executor.commit_seconds, executor.commit_bytes)


def journal_line_sizes(project: Path) -> list[int]:
    """Sizes of every journal record the file store wrote under ``project``: its
    frames (``.jnl``), or its lines in a journal of release 0.1.0 (``.log``)."""
    sizes: list[int] = []
    for journal in sorted((project / ".maverick" / "checkpoints").glob("*/journal-*")):
        data = journal.read_bytes()
        if journal.suffix == ".log":
            sizes.extend(len(line) for line in data.splitlines(keepends=True))
        else:
            sizes.extend(end - start for start, end in frame_spans(data))
    return sizes


def scrub_environment() -> None:
    """Keep a user's store or serializer settings out of the measurements."""
    for name in ("MAVERICK_STORE", "MAVERICK_SERIALIZER"):
        os.environ.pop(name, None)
