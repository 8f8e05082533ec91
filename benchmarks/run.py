"""maverick's benchmarks: what a durable checkpoint costs, and how it compares.

Run ``python benchmarks/run.py`` (full) or ``--quick`` (under two minutes on two
cores); ``--json`` prints one JSON object on stdout (the table then goes to
stderr). Every figure is a median over rounds, measured in this one process run
through the real executor and stores, in one temporary directory whose
filesystem is also where the fsync floor is measured. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import machine
import maverick_bench as mb
import peers
from harness import Spread, can_count_bytes, existing_directory, scrub_environment
from peers import PeerResult

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

T = TypeVar("T")

SCALING_ITERATIONS = 10_000
SCALING_WINDOW = 50
RESUME_SMALL = 10
CHAIN_STEPS = 300
ALTERNATED = "peer_ratio_burr_wal"
"""The peer whose chain rounds alternate with maverick's (see _alternating_with_burr_wal)."""

JSON_KEYS = (
    "fsync_floor_ms",
    "prealloc_floor_ms",
    "atomic_replace_ms",
    "checkpoint_commit_ms",
    "checkpoint_overhead_ratio",
    "group_commit_ratio",
    "scaling_ratio",
    "bytes_growth_ratio",
    "resume_ratio",
    "steps_per_second",
    "engine_overhead_ratio",
    "hook_overhead_us",
    "cli_startup_ratio",
    "peer_ratio_burr_wal",
    "peer_ratio_langgraph",
    "peer_ratio_dbos_sqlite",
    "peer_ratio_dbos_postgres",
    "peer_ratio_burr",
    "machine",
)

# key -> (comparison, threshold): issue 13's targets (and the earlier ones it keeps).
TARGETS: dict[str, tuple[str, float]] = {
    "checkpoint_overhead_ratio": ("<=", 1.3),
    "group_commit_ratio": ("<=", 0.5),
    "scaling_ratio": ("<=", 1.3),
    "bytes_growth_ratio": ("<=", 1.3),
    "resume_ratio": ("<=", 1.3),
    "steps_per_second": (">=", 20000.0),
    "hook_overhead_us": ("<=", 50.0),
    "cli_startup_ratio": ("<=", 1.15),
    "peer_ratio_burr_wal": ("<=", 0.8),
    "peer_ratio_langgraph": ("<=", 0.5),
    "peer_ratio_dbos_sqlite": ("<=", 0.8),
    "peer_ratio_dbos_postgres": ("<=", 0.8),
    "peer_ratio_burr": ("<=", 0.5),
    # issue 12: `maverick runs list --limit 50` and the viewer's first runs page among
    # 1,000 and 10,000 runs (table only)
    **{
        f"{what}_{store}_{size}_s": ("<=", 0.3)
        for what in ("runs_list", "ui_first_page")
        for store in ("file", "postgres")
        for size in (1000, 10000)
    },
}


@attrs.frozen
class Profile:
    """How much of each measurement to do: sizes and rounds."""

    name: str
    commit_iterations: int
    floor_records: int
    commit_rounds: int
    scaling_rounds: int
    resume_rounds: int
    throughput_steps: int
    throughput_rounds: int
    hook_rounds: int
    cli_rounds: int
    chain_rounds: int
    pair_rounds: int


FULL = Profile("full", 1000, 1000, 7, 5, 9, 5000, 7, 9, 15, 7, 15)
QUICK = Profile("quick", 300, 300, 3, 3, 5, 2000, 3, 3, 5, 3, 9)


@attrs.define
class Row:
    """One line of the table."""

    figure: str
    value: str
    target: str = ""
    verdict: str = ""


@attrs.define
class Results:
    """Everything measured: the JSON figures, the table rows, notes."""

    figures: dict[str, Any] = attrs.field(factory=dict)
    rows: list[Row] = attrs.field(factory=list)
    notes: list[str] = attrs.field(factory=list)

    def figure(self, key: str, value: float | None, shown: str, label: str) -> None:
        """Record a JSON figure with its table row and its verdict."""
        self.figures[key] = value
        target, verdict = "", ""
        if key in TARGETS:
            op, threshold = TARGETS[key]
            target = f"{op} {threshold:g}"
            if value is None:
                verdict = "n/a"
            else:
                met = value <= threshold if op == "<=" else value >= threshold
                verdict = "pass" if met else "FAIL"
        self.rows.append(Row(f"{label} [{key}]", shown, target, verdict))

    def info(self, label: str, shown: str) -> None:
        """A supporting row: no target, not in the JSON."""
        self.rows.append(Row(f"  {label}", shown))


class Progress:
    """Prints what is being measured, with the elapsed time, on stderr."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since the benchmarks started."""
        return time.perf_counter() - self.started

    def step(self, what: str, measure: Callable[[], T]) -> T:
        """Run one measurement, announcing it and its duration."""
        began = time.perf_counter()
        print(f"[{self.elapsed():6.1f}s] {what} ...", file=sys.stderr, flush=True)
        value = measure()
        print(
            f"[{self.elapsed():6.1f}s]   done in {time.perf_counter() - began:.1f}s",
            file=sys.stderr,
            flush=True,
        )
        return value


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.inf


def measure(base: Path, profile: Profile, progress: Progress, listing: bool = True) -> Results:
    """Run every measurement of ``profile`` in ``base`` and collect the results.

    ``listing`` False leaves out issue 12's listing among 10,000 runs (its stores
    take minutes to build).
    """
    results = Results()
    ms = 1000.0

    cost = progress.step(
        "fsync floor, atomic replace and checkpoint commit (interleaved rounds)",
        lambda: mb.commit_cost(
            base, profile.commit_iterations, profile.floor_records, profile.commit_rounds
        ),
    )
    results.figure(
        "fsync_floor_ms",
        cost.floor_seconds * ms,
        f"{cost.floor_seconds * ms:.3f} ms",
        f"floor: append {cost.record_size} B + fdatasync",
    )
    results.figure(
        "atomic_replace_ms",
        cost.atomic_replace_seconds * ms,
        f"{cost.atomic_replace_seconds * ms:.3f} ms",
        "write + fsync + rename + dir fsync",
    )
    results.figure(
        "checkpoint_commit_ms",
        cost.commit_seconds * ms,
        f"{cost.commit_seconds * ms:.3f} ms",
        "checkpoint commit (file store, json)",
    )
    overhead = _ratio(cost.commit_seconds, cost.floor_seconds)
    results.figure("checkpoint_overhead_ratio", overhead, f"{overhead:.2f}", "commit / floor")
    _measure_journal(base, profile, progress, results, cost)
    results.info(
        "mean loop iteration, step + checkpoint (fsync tail latency included)",
        f"{cost.step_with_checkpoint_seconds * ms:.3f} ms",
    )

    count_bytes = can_count_bytes()
    scale = progress.step(
        f"scaling: {SCALING_ITERATIONS:,}-iteration checkpointed loop x {profile.scaling_rounds}",
        lambda: mb.scaling(
            base, SCALING_ITERATIONS, SCALING_WINDOW, profile.scaling_rounds, count_bytes
        ),
    )
    scaling_ratio = _ratio(scale.late_seconds, scale.early_seconds)
    results.figure(
        "scaling_ratio",
        scaling_ratio,
        f"{scaling_ratio:.2f}",
        f"commit time near {SCALING_ITERATIONS:,} / near 10",
    )
    results.info(
        f"median commit, iterations 10-{10 + SCALING_WINDOW - 1} / last {SCALING_WINDOW}",
        f"{scale.early_seconds * ms:.3f} ms / {scale.late_seconds * ms:.3f} ms",
    )
    growth = _ratio(scale.late_bytes, scale.early_bytes)
    results.figure(
        "bytes_growth_ratio",
        growth,
        f"{growth:.2f}",
        f"bytes per commit near {SCALING_ITERATIONS:,} / near 10",
    )
    source = "write(2) bytes, /proc/self/io wchar" if scale.bytes_counted else "journal lines"
    results.info(
        f"median bytes per commit, same windows ({source})",
        f"{scale.early_bytes:.0f} B / {scale.late_bytes:.0f} B",
    )
    mean = "n/a" if scale.mean_bytes is None else f"{scale.mean_bytes:.0f} B"
    results.info(
        "mean bytes per commit over the run, snapshots included / journal line",
        f"{mean} / {scale.journal_bytes:.0f} B",
    )

    resume = progress.step(
        f"resume: {RESUME_SMALL} vs {SCALING_ITERATIONS:,} checkpoints x {profile.resume_rounds}",
        lambda: mb.resume_times(base, scale, RESUME_SMALL, profile.resume_rounds),
    )
    resume_ratio = _ratio(resume.large_seconds, resume.small_seconds)
    results.figure(
        "resume_ratio",
        resume_ratio,
        f"{resume_ratio:.2f}",
        f"resume to first step, {SCALING_ITERATIONS:,} / {RESUME_SMALL} checkpoints",
    )
    results.info(
        "launch -> first re-run step, 10 / 10,000 checkpoints",
        f"{resume.small_seconds * ms:.0f} ms / {resume.large_seconds * ms:.0f} ms",
    )

    rate = progress.step(
        f"throughput: {profile.throughput_steps:,} steps x {profile.throughput_rounds}",
        lambda: mb.steps_per_second(base, profile.throughput_steps, profile.throughput_rounds),
    )
    results.figure(
        "steps_per_second",
        rate.steps_per_second,
        f"{rate.steps_per_second:,.0f}",
        "trivial python steps/s, -p no:checkpoint",
    )
    results.figure(
        "engine_overhead_ratio",
        rate.overhead_ratio,
        f"{rate.overhead_ratio:,.0f}",
        "time per step / per call of the same function in a plain loop",
    )
    results.info(
        "per step through the engine / per plain call",
        f"{1e6 / rate.steps_per_second:.1f} us / {1e6 / rate.plain_calls_per_second:.2f} us",
    )
    hooks = progress.step(
        f"hook overhead: 5 no-op plugins x {profile.hook_rounds} pairs",
        lambda: mb.hook_overhead_seconds(base, profile.throughput_steps, profile.hook_rounds),
    )
    results.figure(
        "hook_overhead_us", hooks * 1e6, f"{hooks * 1e6:.1f} us", "per-step cost of 5 no-op plugins"
    )

    _measure_startup(base, profile, progress, results)
    _measure_peers(base, profile, progress, results)
    if listing:
        _measure_listing(profile, progress, results)
        _measure_viewer(profile, progress, results)
    else:
        results.notes.append(
            "runs list among 10,000 runs (issue 12): not measured in --quick (building the "
            "stores takes minutes): run without --quick, or add --listing"
        )
    results.figures["machine"] = machine.describe(base)
    return results


def _measure_journal(
    base: Path, profile: Profile, progress: Progress, results: Results, cost: mb.CommitCost
) -> None:
    """The preallocated-overwrite floor and group commit: the journal work's measurements.

    ``disk.prealloc_overwrite_seconds`` is timed in the commit-cost rounds; group
    commit comes from ``benchmarks/group_commit.py``'s ``measure_group_commit`` when
    that module is there. Whatever is missing is reported as not measured.
    """
    ms = 1000.0
    label = "floor: overwrite preallocated + fdatasync"
    if cost.prealloc_floor_seconds is None:
        results.figure("prealloc_floor_ms", None, "n/a, see below", label)
        results.notes.append(
            "prealloc_floor_ms: not measured: benchmarks/disk.py has no prealloc_overwrite_seconds"
        )
    else:
        prealloc = cost.prealloc_floor_seconds
        results.figure("prealloc_floor_ms", prealloc * ms, f"{prealloc * ms:.3f} ms", label)
        results.info(
            "commit / preallocated-overwrite floor",
            f"{_ratio(cost.commit_seconds, prealloc):.2f}",
        )
    if cost.after_work_floor_seconds is not None and cost.after_sync_slowdown is not None:
        after = cost.after_work_floor_seconds
        results.info(
            f"the same floor after {mb.WORK_BEFORE_SYNC_US} us of Python work; commit / it",
            f"{after * ms:.3f} ms, {_ratio(cost.commit_seconds, after):.2f}",
        )
        results.info(
            "Python work right after a sync / the same work again at once",
            f"{cost.after_sync_slowdown:.2f}",
        )
    label = "per checkpoint at concurrency 8 / floor"
    group = _optional_function("group_commit", "measure_group_commit")
    if group is None:
        results.figure("group_commit_ratio", None, "n/a, see below", label)
        results.notes.append(
            "group_commit_ratio: not measured: benchmarks/group_commit.py (the journal work "
            "of issue 13) is not in this tree yet"
        )
        return
    iterations = profile.commit_iterations
    try:
        # measure_group_commit(base, record_size, iterations, rounds) -> GroupCommit: the
        # parallel loop with and without its checkpoints and the floors, alternated
        measured = progress.step(
            f"group commit: parallel loop of {iterations} x {profile.commit_rounds}",
            lambda: group(base, cost.record_size, iterations, profile.commit_rounds),
        )
        ratio = float(measured.ratio)
        per_checkpoint = float(measured.per_checkpoint_seconds)
        prealloc_ratio = float(measured.prealloc_ratio)
    except Exception as error:  # another engineer's module: say what went wrong, go on
        results.figure("group_commit_ratio", None, "n/a, see below", label)
        results.notes.append(f"group_commit_ratio: failed: {_one_line(error)}")
        return
    results.figure("group_commit_ratio", ratio, f"{ratio:.2f}", label)
    results.info(
        "per checkpoint at concurrency 8; its ratio to the preallocated-overwrite floor",
        f"{per_checkpoint * ms:.3f} ms, {prealloc_ratio:.2f}",
    )


def _measure_listing(profile: Profile, progress: Progress, results: Results) -> None:
    """Issue 12: ``maverick runs list --limit 50`` among 1,000 and 10,000 runs.

    ``benchmarks/many_runs.py``'s ``listing_figures(rounds=N)`` builds the stores
    (file, and PostgreSQL when a server can start) and times the listing; these
    rows are in the table, not in the JSON object.
    """
    _measure_many_runs(
        profile, progress, results, "listing_figures", "runs_list", "runs list --limit 50"
    )


def _measure_viewer(profile: Profile, progress: Progress, results: Results) -> None:
    """Issue 12: the viewer's first runs page (HTTP GET ``/`` on ``maverick ui``) among
    1,000 and 10,000 runs, from ``benchmarks/many_runs.py``'s ``viewer_figures``."""
    if importlib.util.find_spec("maverick_ui") is None:
        results.notes.append(
            "the viewer's first page (issue 12): not measured: plugins/maverick-ui is not installed"
        )
        return
    _measure_many_runs(
        profile, progress, results, "viewer_figures", "ui_first_page", "the viewer's first page"
    )


def _measure_many_runs(
    profile: Profile, progress: Progress, results: Results, function: str, key: str, what: str
) -> None:
    """Put ``many_runs.<function>``'s ``<key>_<store>_<size>_s`` figures (and growth) in
    the table; what cannot be measured becomes a note."""
    measure = _optional_function("many_runs", function)
    if measure is None:
        results.notes.append(
            f"{what} among 10,000 runs (issue 12): not measured: benchmarks/many_runs.py "
            f"has no {function}"
        )
        return
    try:
        figures: dict[str, float] = progress.step(
            f"{what} among 1,000 and 10,000 runs x {profile.cli_rounds}",
            lambda: measure(rounds=profile.cli_rounds),
        )
    except Exception as error:  # another engineer's module: say what went wrong, go on
        results.notes.append(f"{what} among many runs: failed: {_one_line(error)}")
        return
    for store in ("file", "postgres"):
        if f"{key}_{store}_1000_s" not in figures:
            results.notes.append(f"{what} on the {store} store: not measured (no server)")
            continue
        for size in (1000, 10000):
            name = f"{key}_{store}_{size}_s"
            if name in figures:
                value = figures[name]
                label = f"{what}, {store} store, {size:,} runs (s)"
                results.figure(name, value, f"{value * 1000:.0f} ms", label)
        growth = figures.get(f"{key}_{store}_growth")
        if growth is not None:
            results.info(f"{what}, {store} store: 10,000 runs / 1,000 runs", f"{growth:.2f}")


def _one_line(error: BaseException) -> str:
    """``Type: message`` on one line, for a note under the table."""
    return " ".join(f"{type(error).__name__}: {error}".split())


def _optional_function(module: str, name: str) -> Callable[..., Any] | None:
    """``module.name`` from benchmarks/, or None when the module or function is not there."""
    if importlib.util.find_spec(module) is None:
        return None
    function = getattr(importlib.import_module(module), name, None)
    return function if callable(function) else None


def _measure_startup(base: Path, profile: Profile, progress: Progress, results: Results) -> None:
    """CLI start-up: ``benchmarks/startup.py``'s three commands when it is there.

    ``startup.measure_startup(base, rounds)`` times ``maverick --help``, ``maverick
    runs list`` and ``maverick run`` of a one-step workflow against the bare
    imports; without that module, ``maverick --help`` alone is timed here.
    """
    ms = 1000.0
    rounds = profile.cli_rounds
    if importlib.util.find_spec("startup") is None:
        startup = progress.step(
            f"CLI start-up x {rounds}", lambda: mb.cli_startup(base, profile.cli_rounds)
        )
        ratio = _ratio(startup.maverick_seconds, startup.baseline_seconds)
        results.figure("cli_startup_ratio", ratio, f"{ratio:.2f}", "maverick --help / bare imports")
        results.info(
            "maverick --help / python -c 'import click, pluggy, yaml, attrs, cattrs'",
            f"{startup.maverick_seconds * ms:.0f} ms / {startup.baseline_seconds * ms:.0f} ms",
        )
        results.info(
            "the same without a bytecode cache (PYTHONDONTWRITEBYTECODE=1)",
            f"{startup.maverick_uncached_seconds * ms:.0f} ms / "
            f"{startup.baseline_uncached_seconds * ms:.0f} ms",
        )
        return
    import startup as startup_module

    figures = progress.step(
        f"CLI start-up: 3 commands x {rounds}",
        lambda: startup_module.measure_startup(base, rounds),
    )
    ratio = figures.cli_startup_ratio
    results.figure("cli_startup_ratio", ratio, f"{ratio:.2f}", "worst of 3 commands / bare imports")
    cached, uncached = figures.ratios(), figures.ratios(cached=False)
    for name, value in figures.commands_ms.items():
        command = " ".join(startup_module.COMMANDS[name])
        results.info(
            f"maverick {command}: ms and ratio, cached / uncached",
            f"{value:.0f} ms {cached[name]:.2f} / "
            f"{figures.commands_uncached_ms[name]:.0f} ms {uncached[name]:.2f}",
        )
    results.info(
        "python -c 'import click, pluggy, yaml, attrs, cattrs' (cached / uncached)",
        f"{figures.baseline_ms:.0f} ms / {figures.baseline_uncached_ms:.0f} ms",
    )


def _measure_peers(base: Path, profile: Profile, progress: Progress, results: Results) -> None:
    """The chain of CHAIN_STEPS steps on maverick (each store) and on every peer.

    Each peer ratio divides maverick's time per durable step by the peer's, with
    maverick's default file store, except DBOS on PostgreSQL, which is compared
    with maverick's PostgreSQL store on the same server (like for like). The
    other stores' ratios are supporting rows.
    """
    rounds = profile.chain_rounds
    chain = f"chain of {CHAIN_STEPS} steps"
    ours, burr_wal, paired = progress.step(
        f"{chain}: maverick file store and Burr (WAL), alternating x {profile.pair_rounds}",
        lambda: _alternating_with_burr_wal(base, profile.pair_rounds),
    )
    measured: list[peers.PeerResult] = [ours]
    ours_sqlite: peers.PeerResult | None = None
    if importlib.util.find_spec("maverick_sqlite") is None:
        results.notes.append("maverick (sqlite store): pip install -e plugins/maverick-sqlite")
    else:
        ours_sqlite = progress.step(
            f"{chain}: maverick sqlite store x {rounds}",
            lambda: mb.maverick_chain(base, CHAIN_STEPS, rounds, mb.SQLITE_URL),
        )
        measured.append(ours_sqlite)
    dbos_sqlite_url = f"sqlite:///{base / 'dbos-system.sqlite'}"
    with mb.postgres_server(progress.elapsed) as server:
        ours_postgres: peers.PeerResult | None = None
        dbos_postgres: Callable[[], peers.PeerResult]
        if isinstance(server, str):
            results.notes.append(f"PostgreSQL rows: not measured: {server}")

            def dbos_postgres() -> peers.PeerResult:
                raise peers.PeerUnavailable(f"no PostgreSQL server: {server}")

        else:
            maverick_url = server.create_database("maverick_chain")
            dbos_url = server.create_database("dbos_chain")
            ours_postgres = progress.step(
                f"{chain}: maverick postgres store x {rounds}",
                lambda: mb.maverick_chain(base, CHAIN_STEPS, rounds, maverick_url),
            )
            measured.append(ours_postgres)

            def dbos_postgres() -> peers.PeerResult:
                return peers.dbos_chain(CHAIN_STEPS, rounds, dbos_url, "PostgreSQL")

        contenders: list[tuple[str, str, Callable[[], PeerResult], PeerResult | None]] = [
            (ALTERNATED, "Burr (WAL)", burr_wal, ours),
            (
                "peer_ratio_langgraph",
                "LangGraph",
                lambda: peers.langgraph_chain(base, CHAIN_STEPS, rounds),
                ours,
            ),
            (
                "peer_ratio_dbos_sqlite",
                "DBOS (SQLite)",
                lambda: peers.dbos_chain(CHAIN_STEPS, rounds, dbos_sqlite_url, "SQLite"),
                ours,
            ),
            ("peer_ratio_dbos_postgres", "DBOS (PostgreSQL)", dbos_postgres, ours_postgres),
            (
                "peer_ratio_burr",
                "Burr",
                lambda: peers.burr_chain(base, CHAIN_STEPS, rounds, None),
                ours,
            ),
        ]
        for key, label, run_peer, mine in contenders:
            _measure_peer(
                progress, results, rounds, key, label, run_peer, mine, ours_sqlite, measured
            )
            if key == ALTERNATED and paired is not None:
                results.info(
                    f"file store / Burr (WAL), round by round ({profile.pair_rounds} rounds)",
                    f"median {paired.median:.2f}, quartiles {paired.q1:.2f}-{paired.q3:.2f}",
                )
    for result in measured:
        results.info(
            f"{result.name} {result.version}: {result.settings}",
            f"{result.seconds_per_step * 1000:.3f} ms/step",
        )


def _alternating_with_burr_wal(
    base: Path, rounds: int
) -> tuple[peers.PeerResult, Callable[[], peers.PeerResult], Spread | None]:
    """maverick's file-store chain and Burr's with WAL, one round of each in turn.

    The two are the closest pair of the table (a ratio near its target), so their
    rounds alternate: a drift of the disk's sync time over the run then reaches
    both sides of the ratio alike, instead of whichever ran in the slower minute.
    Each round runs in its own directory after its own warm-up chain. Returns
    maverick's result, a function giving Burr's (or raising why it was not
    measured), and the spread of the rounds' own ratios (None without Burr): one
    round's ratio moves between about 0.6 and 1.4 here, so the pair takes more
    rounds than the other chains.
    """
    ours: list[peers.PeerResult] = []
    theirs: list[peers.PeerResult] = []
    missing: peers.PeerUnavailable | None = None
    for index in range(rounds):
        directory = base / f"chain-pair-{index}"
        directory.mkdir()
        ours.append(mb.maverick_chain(directory, CHAIN_STEPS, 1, None))
        if missing is None:
            try:
                theirs.append(peers.burr_chain(directory, CHAIN_STEPS, 1, "wal"))
            except peers.PeerUnavailable as error:
                missing = error

    def median_of(results: list[peers.PeerResult]) -> peers.PeerResult:
        per_step = statistics.median(result.seconds_per_step for result in results)
        return attrs.evolve(results[0], seconds_per_step=per_step)

    def burr() -> peers.PeerResult:
        if missing is not None:
            raise missing
        return median_of(theirs)

    paired = None
    if missing is None:
        pairs = zip(ours, theirs, strict=True)
        paired = Spread.of([a.seconds_per_step / b.seconds_per_step for a, b in pairs])
    return median_of(ours), burr, paired


def _measure_peer(
    progress: Progress,
    results: Results,
    rounds: int,
    key: str,
    label: str,
    run_peer: Callable[[], peers.PeerResult],
    mine: peers.PeerResult | None,
    ours_sqlite: peers.PeerResult | None,
    measured: list[peers.PeerResult],
) -> None:
    """One peer's chain, its ratio row and (against the SQLite store) a supporting row."""
    title = f"maverick {'file store' if mine is None else _store_of(mine)} / {label} per step"
    if mine is None:
        results.figure(key, None, "n/a, see below", title)
        results.notes.append(f"{label}: not measured: maverick's store for it is not available")
        return
    try:
        if key == ALTERNATED:  # measured already, its rounds alternating with maverick's
            peer = run_peer()
        else:
            peer = progress.step(f"chain of {CHAIN_STEPS} steps: {label} x {rounds}", run_peer)
    except peers.PeerUnavailable as error:
        results.figure(key, None, "n/a, see below", title)
        results.notes.append(f"{label}: not measured: {error}")
        return
    measured.append(peer)
    ratio = _ratio(mine.seconds_per_step, peer.seconds_per_step)
    results.figure(key, ratio, f"{ratio:.2f}", title)
    if ours_sqlite is not None and "PostgreSQL" not in label:
        sqlite_ratio = _ratio(ours_sqlite.seconds_per_step, peer.seconds_per_step)
        results.info(f"maverick sqlite store / {label} per step", f"{sqlite_ratio:.2f}")


def _store_of(result: peers.PeerResult) -> str:
    """'file store' from 'maverick (file store)'."""
    return result.name.partition("(")[2].rstrip(")") or result.name


def render(results: Results, profile: Profile, wall_seconds: float) -> str:
    """The table: figure, value, target, verdict."""
    rows = [Row("figure [json key]", "value", "target", "verdict"), *results.rows]
    widths = [max(len(getattr(row, f)) for row in rows) for f in ("figure", "value", "target")]
    lines = []
    for index, row in enumerate(rows):
        lines.append(
            f"{row.figure:<{widths[0]}}  {row.value:>{widths[1]}}  "
            f"{row.target:<{widths[2]}}  {row.verdict}".rstrip()
        )
        if index == 0:
            lines.append("-" * len(lines[0]))
    measured = [r for r in results.rows if r.verdict in ("pass", "FAIL")]
    passed = sum(r.verdict == "pass" for r in measured)
    unmeasured = sum(r.verdict == "n/a" for r in results.rows)
    skipped = f" ({unmeasured} not measured)" if unmeasured else ""
    host = results.figures["machine"]
    lines += [
        "",
        f"{passed}/{len(measured)} targets met{skipped}; "
        f"{profile.name} run took {wall_seconds:.0f} s "
        f"on {host['cpu']} x{host['cores']}, {host['filesystem']}, {host['python']}",
        *results.notes,
    ]
    return "\n".join(lines)


def json_object(results: Results) -> dict[str, Any]:
    """The JSON object: exactly :data:`JSON_KEYS`, floats rounded sensibly."""

    def clean(value: Any) -> Any:
        if isinstance(value, float):
            return None if not math.isfinite(value) else float(f"{value:.4g}")
        return value

    return {key: clean(results.figures.get(key)) for key in JSON_KEYS}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds: under two minutes")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout (table on stderr)"
    )
    parser.add_argument(
        "--tmpdir",
        type=existing_directory,
        default=None,
        help="where to create the stores (default: the system's temporary directory); "
        "the fsync floor is measured there too",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--listing",
        action="store_true",
        help="with --quick, also time runs list among 1,000 and 10,000 runs (minutes)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the table (and the JSON object with ``--json``)."""
    args = parse_args(argv)
    profile = QUICK if args.quick else FULL
    scrub_environment()
    base = Path(tempfile.mkdtemp(prefix="maverick-bench-", dir=args.tmpdir)).resolve()
    progress = Progress()
    try:
        results = measure(base, profile, progress, listing=not args.quick or args.listing)
    finally:
        if args.keep:
            print(f"kept {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)
    table = render(results, profile, progress.elapsed())
    if args.json:
        print(table, file=sys.stderr)
        print(json.dumps(json_object(results)))
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
