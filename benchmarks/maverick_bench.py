"""The maverick measurements: commit cost, scaling, resume, throughput, hooks, CLI.

Every function takes the directory to work in (one filesystem for all, the one
the fsync floor is measured on) and returns plain numbers; ``run.py`` turns them
into the table and the JSON object. Runs go through the real executor and the
real stores (see :mod:`harness`); subprocesses run the installed ``maverick``.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import disk
from disk import append_fdatasync_seconds, atomic_replace_seconds
from harness import (
    BENCH_DIR,
    install_workflow,
    journal_line_sizes,
    make_project,
    run_workflow,
)
from peers import PeerResult

from maverick_core import hookimpl
from maverick_core.api import Status

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

LOOP = "loop.yaml"
LOOP_PLAIN = "loop_nockpt.yaml"
SQLITE_URL = "sqlite:///bench.sqlite"


def _median(values: list[float]) -> float:
    return statistics.median(values)


def maverick_command() -> list[str]:
    """The installed ``maverick`` console script of this interpreter.

    The script next to ``sys.executable`` is preferred over ``PATH``: a version
    manager's shim there (pyenv's is a shell script running ``pyenv exec``)
    would add its own start-up time to every measurement.
    """
    beside = Path(sys.executable).parent / "maverick"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("maverick")
    return [found] if found else [sys.executable, "-m", "maverick_core.engine.cli"]


def subprocess_env(base: Path, bytecode_cache: bool = True) -> dict[str, str]:
    """The environment for ``maverick`` and ``python`` subprocesses.

    ``bench_actions`` is made importable. With ``bytecode_cache`` (the normal
    state of an installed package), compiled bytecode is cached under ``base``
    (``PYTHONPYCACHEPREFIX``) even where the environment sets
    ``PYTHONDONTWRITEBYTECODE``, which would otherwise make every start compile
    maverick's sources again; the cache lives outside the source tree. Without
    it, ``PYTHONDONTWRITEBYTECODE=1`` and no prefix: every start compiles
    whatever has no ``__pycache__`` entry (an editable install's sources).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAVERICK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH_DIR), env.get("PYTHONPATH")]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    if bytecode_cache:
        env["PYTHONPYCACHEPREFIX"] = str(base / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


# ----------------------------------------------------------------------------- commit cost


def typical_record_size(base: Path) -> int:
    """The median journal line of a short checkpointed loop: the floor's record size."""
    project = make_project(base, "calibrate")
    workflow = install_workflow(project, LOOP)
    run_workflow(project, workflow, {"count": 100})
    sizes = journal_line_sizes(project)
    if not sizes:
        raise RuntimeError("the calibration run wrote no journal: is the file store in use?")
    return int(statistics.median(sizes))


@attrs.frozen
class CommitCost:
    """The floor, the atomic-replace cost and maverick's commit, medians over rounds."""

    record_size: int
    floor_seconds: float
    atomic_replace_seconds: float
    commit_seconds: float
    step_with_checkpoint_seconds: float
    prealloc_floor_seconds: float | None = None
    """Overwrite of preallocated space + sync (None where ``disk`` cannot measure it)."""
    after_work_floor_seconds: float | None = None
    """The same with :data:`WORK_BEFORE_SYNC_US` of Python work before each sync."""
    after_sync_slowdown: float | None = None
    """How much slower a fixed piece of Python work runs right after a sync."""


WORK_BEFORE_SYNC_US = 50
"""About the CPU time one loop iteration of ``loop.yaml`` spends between two commits."""


def commit_cost(base: Path, iterations: int, floor_count: int, rounds: int) -> CommitCost:
    """Interleave rounds of the bare-disk floor and of maverick's commit.

    Interleaving lets a drift in the disk's speed (writeback, another tenant)
    hit both sides of the ratio alike. Each maverick round is a fresh run of a
    loop of ``iterations`` trivial python steps with a checkpoint after each,
    default file store and json serializer; its figure is the median commit.
    """
    record_size = typical_record_size(base)
    project = make_project(base, "commit")
    workflow = install_workflow(project, LOOP)
    # the journal work's floor (issue 13), measured in the same rounds once it exists
    prealloc = getattr(disk, "prealloc_overwrite_seconds", None)
    floors: list[float] = []
    preallocs: list[float] = []
    after_work: list[tuple[float, float]] = []
    replaces: list[float] = []
    commits: list[float] = []
    per_step: list[float] = []
    for _ in range(rounds):
        floors.append(append_fdatasync_seconds(base, record_size, floor_count))
        if prealloc is not None:
            preallocs.append(prealloc(base, record_size, floor_count))
            after_work.append(
                disk.prealloc_after_work_seconds(
                    base, record_size, floor_count, WORK_BEFORE_SYNC_US
                )
            )
        replaces.append(atomic_replace_seconds(base, record_size, max(50, floor_count // 4)))
        result = run_workflow(project, workflow, {"count": iterations})
        _expect(result.outcome.status, Status.FAILED, "commit loop")  # the final marker step fails
        commits.append(_median(result.commit_seconds))
        per_step.append(result.seconds / iterations)
    return CommitCost(
        record_size=record_size,
        floor_seconds=_median(floors),
        atomic_replace_seconds=_median(replaces),
        commit_seconds=_median(commits),
        step_with_checkpoint_seconds=_median(per_step),
        prealloc_floor_seconds=_median(preallocs) if preallocs else None,
        after_work_floor_seconds=_median([s for s, _ in after_work]) if after_work else None,
        after_sync_slowdown=_median([r for _, r in after_work]) if after_work else None,
    )


# ----------------------------------------------------------------------------- scaling


@attrs.frozen
class Scaling:
    """Per-commit time and bytes near the start and near the end of a long loop."""

    iterations: int
    window: int
    early_seconds: float
    late_seconds: float
    early_bytes: float
    late_bytes: float
    mean_bytes: float | None
    journal_bytes: float
    bytes_counted: bool
    project: Path
    workflow: Path
    marker: Path


def scaling(base: Path, iterations: int, window: int, rounds: int, count_bytes: bool) -> Scaling:
    """Run a loop of ``iterations`` checkpointed steps ``rounds`` times.

    "Near 10" is the window of ``window`` commits from iteration 10 on; "near
    10,000" the last ``window`` commits. Each window's figure is the median
    commit in it, then the median over rounds. ``mean_bytes`` is every byte
    the run's commits wrote divided by their number: unlike the medians it
    includes the snapshots (None without /proc/self/io); ``journal_bytes`` is
    the mean journal line.
    """
    early: list[float] = []
    late: list[float] = []
    early_bytes: list[float] = []
    late_bytes: list[float] = []
    means: list[float] = []
    journal: list[float] = []
    project = workflow = marker = Path()
    for index in range(rounds):
        project = make_project(base, f"scaling-{index}")
        workflow = install_workflow(project, LOOP)
        marker = project / "marker.txt"
        result = run_workflow(
            project,
            workflow,
            {"count": iterations, "marker": str(marker)},
            count_bytes=count_bytes,
        )
        _expect(result.outcome.status, Status.FAILED, "scaling loop")
        times = result.commit_seconds
        if len(times) != iterations:
            raise RuntimeError(f"expected {iterations} commits, timed {len(times)}")
        early.append(_median(times[10 : 10 + window]))
        late.append(_median(times[-window:]))
        if count_bytes:
            sizes = [float(b) for b in result.commit_bytes]
            early_bytes.append(_median(sizes[10 : 10 + window]))
            late_bytes.append(_median(sizes[-window:]))
            means.append(statistics.fmean(sizes))
        lines = [float(size) for size in journal_line_sizes(project)]
        journal.append(statistics.fmean(lines))
        if not count_bytes:
            # Without /proc/self/io, the journal tells: one line per commit.
            early_bytes.append(_median(lines[10 : 10 + window]))
            late_bytes.append(_median(lines[-window:]))
    return Scaling(
        iterations=iterations,
        window=window,
        early_seconds=_median(early),
        late_seconds=_median(late),
        early_bytes=_median(early_bytes),
        late_bytes=_median(late_bytes),
        mean_bytes=_median(means) if means else None,
        journal_bytes=_median(journal),
        bytes_counted=count_bytes,
        project=project,
        workflow=workflow,
        marker=marker,
    )


# ----------------------------------------------------------------------------- resume


@attrs.frozen
class ResumeTimes:
    """Seconds from launching ``maverick run --resume`` to its first re-run step."""

    small_checkpoints: int
    large_checkpoints: int
    small_seconds: float
    large_seconds: float
    large_process_seconds: float


def _resume_once(
    project: Path, workflow: Path, marker: Path, env: dict[str, str]
) -> tuple[float, float]:
    """Launch one resume; return (seconds to the first re-run step, process wall time).

    The project's state is first put back as the run left it (see
    :func:`_keep_state`), so every resume reads the same state.
    """
    marker.unlink(missing_ok=True)
    _restore_state(project)
    command = [*maverick_command(), "--project-dir", str(project), "run", str(workflow)]
    launched = time.monotonic()
    proc = subprocess.run(
        [*command, "--resume", "-q"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    finished = time.monotonic()
    if not marker.exists():
        raise RuntimeError(
            f"the resumed run never reached its first re-run step (exit {proc.returncode}):\n"
            f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    return float(marker.read_text(encoding="ascii")) - launched, finished - launched


PRISTINE = ".maverick-as-the-run-left-it"


def _keep_state(project: Path) -> None:
    """Copy the project's state directory aside, as the measured run left it."""
    shutil.copytree(project / ".maverick", project / PRISTINE, symlinks=True)


def _restore_state(project: Path) -> None:
    """Put the state kept by :func:`_keep_state` back (nothing when none was kept)."""
    if (project / PRISTINE).is_dir():
        shutil.rmtree(project / ".maverick")
        shutil.copytree(project / PRISTINE, project / ".maverick", symlinks=True)


def resume_times(base: Path, large: Scaling, small_count: int, rounds: int) -> ResumeTimes:
    """Resume a run with ``small_count`` checkpoints and the scaling run, alternately.

    Both runs end in a step that stamps the time and fails, so a resume commits no
    checkpoint; but each attempt's end is recorded (the run record's attempts, the
    final state appended to the journal), so each resume would read a little more
    than the one before. The state is therefore copied aside once and put back
    before every resume: every round resumes exactly the same state.
    """
    project = make_project(base, "resume-small")
    workflow = install_workflow(project, LOOP)
    marker = project / "marker.txt"
    result = run_workflow(project, workflow, {"count": small_count, "marker": str(marker)})
    _expect(result.outcome.status, Status.FAILED, "small resume run")
    env = subprocess_env(base)
    _keep_state(project)
    _keep_state(large.project)
    # One warm-up each: the first start fills the page and bytecode caches.
    _resume_once(project, workflow, marker, env)
    _resume_once(large.project, large.workflow, large.marker, env)
    small: list[float] = []
    big: list[float] = []
    big_wall: list[float] = []
    for _ in range(rounds):
        small.append(_resume_once(project, workflow, marker, env)[0])
        seconds, wall = _resume_once(large.project, large.workflow, large.marker, env)
        big.append(seconds)
        big_wall.append(wall)
    return ResumeTimes(
        small_checkpoints=small_count,
        large_checkpoints=large.iterations,
        small_seconds=_median(small),
        large_seconds=_median(big),
        large_process_seconds=_median(big_wall),
    )


# ----------------------------------------------------------------------------- throughput, hooks


class NoopPlugin:
    """A plugin implementing every per-run and per-step notification hook, doing nothing."""

    def __init__(self, index: int) -> None:
        self.name = f"bench-noop-{index}"

    @hookimpl
    def workflow_start(self, run: Any) -> None:
        """Nothing."""

    @hookimpl
    def workflow_finish(self, run: Any, outcome: Any) -> None:
        """Nothing."""

    @hookimpl
    def before_step(self, run: Any, step: Any, path: str) -> None:
        """Nothing."""

    @hookimpl
    def after_step(self, run: Any, step: Any, path: str, record: Any) -> None:
        """Nothing."""

    @hookimpl
    def on_step_skipped(self, run: Any, step: Any, path: str, reason: str) -> None:
        """Nothing."""

    @hookimpl
    def on_step_error(self, run: Any, step: Any, path: str, error: BaseException) -> None:
        """Nothing."""

    @hookimpl
    def on_loop_start(self, run: Any, step: Any, path: str, total: int, done: int) -> None:
        """Nothing."""

    @hookimpl
    def on_iteration_finish(self, run: Any, step: Any, path: str, index: int, status: str) -> None:
        """Nothing."""

    @hookimpl
    def collect_checkpoint_data(self, run: Any, data: dict[str, Any]) -> None:
        """Nothing."""

    @hookimpl
    def after_checkpoint(self, run: Any, checkpoint: Any) -> None:
        """Nothing."""


def _plain_loop_seconds(project: Path, workflow: Path, count: int, objects: list[object]) -> float:
    result = run_workflow(
        project, workflow, {"count": count}, blocked=("terminal", "checkpoint"), objects=objects
    )
    _expect(result.outcome.status, Status.COMPLETED, "plain loop")
    return result.seconds


@attrs.frozen
class Throughput:
    """Trivial steps per second through the engine, and the same calls in a plain loop."""

    steps_per_second: float
    plain_calls_per_second: float

    @property
    def overhead_ratio(self) -> float:
        """Time per step through the engine / time per call in the plain loop."""
        return self.plain_calls_per_second / self.steps_per_second


def plain_loop_seconds(count: int) -> float:
    """Seconds to call the steps' action ``count`` times in a plain Python loop.

    The same function (``bench_actions.noop``) with the same keyword argument
    the workflow's step passes, and its result kept, as the step's is.
    """
    from bench_actions import noop

    results: list[int] = []
    keep = results.append
    gc.collect()
    started = time.perf_counter()
    for index in range(count):
        keep(noop(n=index))
    return time.perf_counter() - started


def steps_per_second(base: Path, count: int, rounds: int) -> Throughput:
    """Trivial python steps per second, checkpoint plugin blocked; median over rounds.

    Each round also times the plain loop calling the same function, so the ratio
    of the two (``engine_overhead_ratio``) is measured side by side.
    """
    project = make_project(base, "throughput")
    workflow = install_workflow(project, LOOP_PLAIN)
    _plain_loop_seconds(project, workflow, min(count, 500), [])  # warm-up
    rates: list[float] = []
    plain: list[float] = []
    for _ in range(rounds):
        rates.append(count / _plain_loop_seconds(project, workflow, count, []))
        plain.append(count / plain_loop_seconds(count))
    return Throughput(_median(rates), _median(plain))


def hook_overhead_seconds(base: Path, count: int, rounds: int, plugins: int = 5) -> float:
    """Per-step cost of ``plugins`` extra no-op plugins: loop time with them minus without.

    The two runs of a round alternate their order from round to round, so a
    slow drift of the machine does not favour either side.
    """
    project = make_project(base, "hooks")
    workflow = install_workflow(project, LOOP_PLAIN)
    extra: list[object] = [NoopPlugin(i) for i in range(plugins)]
    _plain_loop_seconds(project, workflow, min(count, 500), extra)  # warm-up
    differences: list[float] = []
    for index in range(rounds):
        if index % 2:
            with_plugins = _plain_loop_seconds(project, workflow, count, extra)
            without = _plain_loop_seconds(project, workflow, count, [])
        else:
            without = _plain_loop_seconds(project, workflow, count, [])
            with_plugins = _plain_loop_seconds(project, workflow, count, extra)
        differences.append((with_plugins - without) / count)
    return _median(differences)


# ----------------------------------------------------------------------------- CLI start-up


@attrs.frozen
class Startup:
    """Median wall times of ``maverick --help`` and of importing its libraries.

    ``*_uncached`` are the same without a bytecode cache (``PYTHONDONTWRITEBYTECODE=1``),
    where an editable install compiles maverick's sources at every start.
    """

    maverick_seconds: float
    baseline_seconds: float
    maverick_uncached_seconds: float
    baseline_uncached_seconds: float


def wall_seconds(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall seconds of one run of ``command`` (output discarded; it must succeed)."""
    started = time.perf_counter()
    subprocess.run(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


def cli_startup(base: Path, rounds: int) -> Startup:
    """Alternate ``maverick --help`` with ``python -c "import click, pluggy, yaml, ..."``.

    Both run with the same environment; the figure that counts has bytecode
    cached, as after any ordinary install.
    """
    maverick = [*maverick_command(), "--help"]
    baseline = [sys.executable, "-c", "import click, pluggy, yaml, attrs, cattrs"]
    times: dict[tuple[bool, bool], list[float]] = {}
    for cached in (True, False):
        env = subprocess_env(base, bytecode_cache=cached)
        for _ in range(2):  # warm the page and bytecode caches for both
            wall_seconds(maverick, base, env)
            wall_seconds(baseline, base, env)
        for _ in range(rounds):
            times.setdefault((cached, True), []).append(wall_seconds(maverick, base, env))
            times.setdefault((cached, False), []).append(wall_seconds(baseline, base, env))
    return Startup(
        maverick_seconds=_median(times[True, True]),
        baseline_seconds=_median(times[True, False]),
        maverick_uncached_seconds=_median(times[False, True]),
        baseline_uncached_seconds=_median(times[False, False]),
    )


# ----------------------------------------------------------------------------- the chain


def chain_workflow(steps: int) -> str:
    """YAML of ``steps`` top-level python steps, each adding one and checkpointing."""
    lines = ['version: "1.0"', "name: bench_chain", "steps:"]
    for index in range(steps):
        n = "0" if index == 0 else f'"${{{{ steps.s{index - 1}.output }}}}"'
        lines += [
            f"  - name: s{index}",
            "    type: python",
            "    action: bench_actions:inc",
            f"    kwargs: {{n: {n}}}",
            "    checkpoint: true",
        ]
    return "\n".join(lines) + "\n"


def maverick_chain(
    base: Path, steps: int, rounds: int, store: str | None, objects: Sequence[object] = ()
) -> PeerResult:
    """The peers' chain on maverick: median seconds per checkpointed step.

    ``store`` None is the default file store; ``SQLITE_URL`` is maverick-sqlite
    (WAL, ``synchronous=FULL``), loaded as ``-p maverick_sqlite``; a
    ``postgresql://`` URL is maverick-postgres (``-p maverick_postgres``).
    ``objects`` are plugins registered beside the built-in ones.
    """
    label = "file" if store is None else store.split(":", 1)[0].removesuffix("ql")
    project = make_project(base, f"chain-{label}")
    workflow = install_workflow(project, "chain.yaml", chain_workflow(steps))
    options = {"store": store} if store else {}
    plugins = {"file": (), "sqlite": ("maverick_sqlite",), "postgres": ("maverick_postgres",)}

    def once() -> float:
        result = run_workflow(
            project, workflow, options=options, plugins=plugins[label], objects=objects
        )
        _expect(result.outcome.status, Status.COMPLETED, f"chain on the {label} store")
        if result.outcome.outputs != {} or len(result.commit_seconds) != steps:
            raise RuntimeError(f"the chain committed {len(result.commit_seconds)} of {steps}")
        return result.seconds / steps

    once()  # warm-up, as for the peers
    seconds = _median([once() for _ in range(rounds)])
    if label == "file":
        settings = "file store (preallocated journal: pwrite + fdatasync per commit), json"
    elif label == "sqlite":
        settings = "maverick-sqlite store, checkpoint: true on every step, WAL, synchronous=FULL"
    else:
        shown = postgres_settings(store or "")
        settings = f"maverick-postgres store, checkpoint: true on every step, {shown}"
    name = f"maverick ({'postgresql' if label == 'postgres' else label} store)"
    return PeerResult(name, _maverick_version(), seconds, settings)


def postgres_settings(url: str) -> str:
    """The server's durability settings as a session on ``url`` sees them."""
    import psycopg

    with psycopg.connect(url) as connection:
        shown = {
            name: connection.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in ("server_version", "fsync", "synchronous_commit")
        }
    return (
        f"PostgreSQL {str(shown['server_version']).split()[0]}, fsync={shown['fsync']}, "
        f"synchronous_commit={shown['synchronous_commit']}"
    )


@contextlib.contextmanager
def postgres_server(elapsed: Callable[[], float]) -> Iterator[Any]:
    """A throwaway local PostgreSQL server with ``fsync`` on, or why there is none (a str).

    ``maverick_postgres.testing`` starts it (the ``test`` extra of maverick-postgres:
    pytest-postgresql, and the server binaries); it is stopped and removed on exit.
    """
    if importlib.util.find_spec("maverick_postgres") is None:
        yield "maverick-postgres is not installed (pip install -e plugins/maverick-postgres[test])"
        return
    try:
        from maverick_postgres.testing import start_postgres_server

        began = elapsed()
        server = start_postgres_server(durable=True)
    except Exception as error:  # binaries missing, or the server would not start
        yield f"{type(error).__name__}: {error}"
        return
    print(f"[{elapsed():6.1f}s]   PostgreSQL started in {elapsed() - began:.1f}s", file=sys.stderr)
    try:
        yield server
    finally:
        server.stop()


def _maverick_version() -> str:
    from maverick_core import __version__

    return str(__version__)


def _expect(status: str, expected: str, what: str) -> None:
    if status != expected:
        raise RuntimeError(f"{what}: the run ended {status}, expected {expected}")
