"""``maverick runs list --limit 50`` over 1,000 and 10,000 runs, file store and PostgreSQL.

``python benchmarks/many_runs.py [--sizes 1000 10000] [--rounds 5] [--json]`` builds a
store of N runs for the built-in file store and for maverick-postgres (a throwaway
local PostgreSQL server, started as the plugin's tests start theirs, with ``fsync``
on), then times ``maverick runs list --limit 50`` as a real subprocess in the
project, at each size, side by side. The store grows from one size to the next, so
the same runs are listed at 1,000 and then among 10,000. The issue's target: each
listing at most 0.3 s, and about flat from 1,000 to 10,000 runs.

For ``run.py`` (the ``bench`` table): :func:`listing_figures` returns the figures as
a flat mapping (``runs_list_file_1000_s``, ``runs_list_file_10000_s``,
``runs_list_file_growth``, and the same for ``postgres``). To time another reader of
the same stores (the viewer's first page), build them with :func:`build_store`
(N realistic runs at a store URL, for a project directory) and time it against them.

The viewer's first runs page (``maverick ui``, plugins/maverick-ui): an HTTP GET of
``/`` on a running viewer over the same kind of stores, at the same sizes, is
:func:`viewer_figures` (``ui_first_page_file_1000_s``, ``ui_first_page_file_10000_s``,
``ui_first_page_file_growth``, and the same for ``postgres``; target 0.3 s each);
``python benchmarks/many_runs.py --viewer`` prints both tables.

Runs are written through the Store API (``create_run``, ``append_checkpoint``,
``update_run``), so each store holds exactly the files or rows its real code
writes: run records shaped as the checkpoint plugin shapes them (inputs,
fingerprints, holder, attempts, summary, agent calls) and a journal record each.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from harness import make_project, scrub_environment
from maverick_bench import maverick_command, subprocess_env

from maverick_core.api import RunQuery, RunRecord, Store, make_record, open_project, query_runs

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

SIZES = (1000, 10_000)
LIMIT = 50
TARGET_SECONDS = 0.3
WORKFLOWS = ("fly", "refuel", "review", "release-notes")
OUTCOMES = ("completed", "completed", "completed", "failed", "interrupted")
STEPS = (
    "preflight",
    "create_branch",
    "phases[0].implement",
    "phases[0].validate",
    "phases[0].commit",
    "review",
    "fix_review",
    "report",
    "pull_request",
)


def run_record(index: int, project: str, created_at: float, rng: random.Random) -> RunRecord:
    """Run ``index`` as the checkpoint plugin leaves one that ended (or still runs)."""
    workflow = WORKFLOWS[index % len(WORKFLOWS)]
    status = "running" if index % 97 == 0 else rng.choice(OUTCOMES)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(created_at))
    run_id = f"{workflow}-{stamp}-{index:06x}"
    duration = rng.uniform(60, 3600)
    calls: list[dict[str, Any]] = [
        {
            "path": f"phases[{n}].implement",
            "role": "implementer",
            "backend": "claude",
            "input_tokens": rng.randrange(5000, 90_000),
            "output_tokens": rng.randrange(500, 9000),
            "cost_usd": round(rng.uniform(0.05, 1.5), 4),
            "duration": round(rng.uniform(20, 400), 3),
        }
        for n in range(rng.randrange(1, 4))
    ]
    holder = {"pid": 4242 + index, "host": "build-7", "since": created_at}
    attempt = {
        "number": 1,
        "started_at": created_at,
        "ended_at": None if status == "running" else created_at + duration,
        "outcome": None if status == "running" else status,
        "resumed_from": None,
        "seq": None,
        "pid": holder["pid"],
        "host": holder["host"],
        "error": "step 'review' failed: exit status 1" if status == "failed" else None,
    }
    meta: dict[str, Any] = {"resumes": [], "holder": holder, "attempts": [attempt]}
    meta["agent_calls"] = calls
    if status != "running":
        meta["summary"] = {
            "duration": round(duration, 3),
            "cost_usd": round(sum(c["cost_usd"] for c in calls), 6),
            "steps": {"done": len(STEPS) - 2, "failed": int(status == "failed")},
            "outputs": {"pull_request": f"https://github.com/acme/app/pull/{index}"},
            "attempts": 1,
        }
    return RunRecord(
        run_id=run_id,
        workflow=workflow,
        source=f"/home/dev/app/.maverick/workflows/{workflow}.yaml",
        project=project,
        status="running",
        created_at=created_at,
        updated_at=created_at,
        inputs={"branch_name": f"feature-{index}", "task_file": "tasks.md", "max_cost": 5.0},
        secret_inputs=["github_token"],
        fingerprints={s: hashlib.sha256(f"{workflow}/{s}".encode()).hexdigest() for s in STEPS},
        meta=meta,
    )


def add_runs(store: Store, project: str, start: int, count: int, seed: int = 12) -> None:
    """Write runs ``start`` .. ``start + count - 1`` the way a run writes them.

    Each is created running, gets one journal record (the first checkpoint), and
    all but a few end: their record is replaced with the final status.
    """
    rng = random.Random(seed + start)
    first = 1_780_000_000.0
    for index in range(start, start + count):
        run = run_record(index, project, first + index * 61.0, rng)
        store.create_run(run)
        payload = json.dumps({"steps": {"preflight": {"status": "completed"}}}).encode()
        store.append_checkpoint(
            make_record(run.run_id, 1, "preflight", "delta", run.created_at + 5, "json", payload)
        )
        final = run.meta.get("attempts", [{}])[0].get("outcome")
        if final is not None:
            ended = run.meta["attempts"][0]["ended_at"]
            store.update_run(attrs.evolve(run, status=final, updated_at=ended))


def open_bench_store(url: str, root: Path) -> Store:
    """The store at ``url`` for the project at ``root``, opened by its plugin's class."""
    project, _ = open_project(root)
    if url.startswith("file:"):
        from maverick_core.builtin.filestore.store import FileStore

        return FileStore.open(url, project)
    from maverick_postgres import PostgresStore

    return PostgresStore.open(url, project)


def build_store(url: str, root: Path, count: int, start: int = 0) -> None:
    """Put ``count`` runs (numbered from ``start``) into the store at ``url`` for ``root``.

    ``root`` is a project directory (:func:`harness.make_project`); ``url`` is
    ``file:`` or a ``postgresql://`` URL. Call again with ``start`` to grow a store.
    """
    store = open_bench_store(url, root)
    try:
        project, _ = open_project(root)
        add_runs(store, project.name, start, count)
    finally:
        store.close()


def time_listing(root: Path, url: str, rounds: int, env: dict[str, str]) -> tuple[float, float]:
    """``maverick runs list --limit 50 --store URL`` in ``root``: median wall and CPU seconds.

    CPU (user + system, of the process and its children) is reported beside the wall
    time because on a shared machine the wall time also counts waiting for a core.
    """
    command = [*maverick_command(), "runs", "list", "--limit", str(LIMIT), "--store", url]
    walls, cpus = [], []
    for round_index in range(rounds + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0 or len(done.stdout.splitlines()) != LIMIT + 1:
            raise RuntimeError(f"runs list failed ({done.returncode}): {done.stderr[-2000:]}")
        if round_index:  # the first round warms the page cache
            walls.append(elapsed)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def time_query(root: Path, url: str, rounds: int) -> float:
    """Median CPU seconds of ``query_runs(store, RunQuery(limit=50))`` in this process:
    the store's own share of a listing, without the interpreter's start (CPU time, as
    the wall time of so short a call on a shared machine is mostly waiting)."""
    store = open_bench_store(url, root)
    try:
        times = []
        for round_index in range(rounds + 1):
            started = time.process_time()
            page = query_runs(store, RunQuery(limit=LIMIT))
            if round_index:
                times.append(time.process_time() - started)
            if len(page.runs) != LIMIT:
                raise RuntimeError(f"query_runs returned {len(page.runs)} runs")
        return statistics.median(times)
    finally:
        store.close()


@contextlib.contextmanager
def _postgres_url() -> Iterator[str | None]:
    try:
        from maverick_postgres.testing import running_postgres_server

        context = running_postgres_server(durable=True)
        server = context.__enter__()
    except Exception as exc:  # not installed, or the server cannot start here
        print(f"no PostgreSQL row: {exc}", file=sys.stderr)
        yield None
        return
    try:
        yield server.url
    finally:
        context.__exit__(None, None, None)


def listing_figures(sizes: Sequence[int] = SIZES, rounds: int = 5) -> dict[str, float]:
    """``runs list --limit 50`` seconds per store and size, and the growth first → last.

    Keys, ``<store>`` being ``file`` and, when a PostgreSQL server can be started
    here, ``postgres``: ``runs_list_<store>_<size>_s`` (wall, the issue's figure),
    ``runs_list_<store>_<size>_cpu_s`` (its CPU time), ``query_runs_<store>_<size>_ms``
    (the store's share: CPU milliseconds of ``query_runs`` in process) and
    ``runs_list_<store>_growth`` (the largest size's wall time over the smallest's).
    """
    scrub_environment()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="maverick-many-runs-") as tmp, _postgres_url() as pg:
        base = Path(tmp)
        env = subprocess_env(base)
        stores = [("file", "file:")] + ([("postgres", pg)] if pg else [])
        for label, url in stores:
            root = make_project(base, label)
            built = 0
            for size in sorted(sizes):
                build_store(url, root, size - built, start=built)
                built = size
                wall, cpu = time_listing(root, url, rounds, env)
                figures[f"runs_list_{label}_{size}_s"] = round(wall, 4)
                figures[f"runs_list_{label}_{size}_cpu_s"] = round(cpu, 4)
                query = time_query(root, url, rounds)
                figures[f"query_runs_{label}_{size}_ms"] = round(query * 1000, 2)
            first, last = min(sizes), max(sizes)
            figures[f"runs_list_{label}_growth"] = round(
                figures[f"runs_list_{label}_{last}_s"] / figures[f"runs_list_{label}_{first}_s"],
                3,
            )
    return figures


# ----------------------------------------------------------------------------- the viewer

VIEWER_PAGE_ROWS = 50
"""Runs on the viewer's first page (``maverick ui``'s default page size)."""


def time_viewer_page(root: Path, url: str, rounds: int, env: dict[str, str]) -> float:
    """Median seconds of an HTTP GET of ``/`` on ``maverick ui --store URL`` in ``root``.

    The viewer runs as a person starts it (a real subprocess on a free port); the
    first request warms it and is not counted. Each answer must hold a full page.
    """
    command = [*maverick_command(), "ui", "--port", "0", "--store", url]
    proc = subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        found = re.search(r"(http://\S+)", proc.stdout.readline())
        if found is None:
            raise RuntimeError(f"maverick ui did not start: {proc.stderr.read()[-2000:]}")
        times = []
        for round_index in range(rounds + 1):
            started = time.perf_counter()
            with urllib.request.urlopen(found.group(1), timeout=60) as answer:
                body = answer.read().decode()
            elapsed = time.perf_counter() - started
            rows = body.count('<tr>\n      <td><a href="/runs/')
            if rows != VIEWER_PAGE_ROWS:
                raise RuntimeError(f"the viewer's first page held {rows} runs")
            if round_index:
                times.append(elapsed)
        return statistics.median(times)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def viewer_figures(sizes: Sequence[int] = SIZES, rounds: int = 5) -> dict[str, float]:
    """The viewer's first runs page (``maverick ui``, HTTP GET ``/``) per store and size.

    Needs ``plugins/maverick-ui`` installed. Keys, ``<store>`` being ``file`` and, when
    a PostgreSQL server can be started here, ``postgres``:
    ``ui_first_page_<store>_<size>_s`` (wall seconds, median) and
    ``ui_first_page_<store>_growth`` (the largest size's over the smallest's). The
    target: each at most 0.3 s, about flat.
    """
    scrub_environment()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="maverick-many-runs-ui-") as tmp, _postgres_url() as pg:
        base = Path(tmp)
        env = subprocess_env(base)
        stores = [("file", "file:")] + ([("postgres", pg)] if pg else [])
        for label, url in stores:
            root = make_project(base, f"ui-{label}")
            built = 0
            for size in sorted(sizes):
                build_store(url, root, size - built, start=built)
                built = size
                page = time_viewer_page(root, url, rounds, env)
                figures[f"ui_first_page_{label}_{size}_s"] = round(page, 4)
            first, last = min(sizes), max(sizes)
            figures[f"ui_first_page_{label}_growth"] = round(
                figures[f"ui_first_page_{label}_{last}_s"]
                / figures[f"ui_first_page_{label}_{first}_s"],
                3,
            )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--viewer", action="store_true", help="also time maverick ui's first runs page"
    )
    args = parser.parse_args()
    figures = listing_figures(args.sizes, args.rounds)
    if args.viewer:
        figures.update(viewer_figures(args.sizes, args.rounds))
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    sizes = sorted(args.sizes)
    print(f"maverick runs list --limit {LIMIT} (median of {args.rounds}, seconds)")
    header = "".join(f"{f'{size:,} runs':>30}" for size in sizes)
    print(f"{'store':<10}{header}    growth")
    print(f"{'':<10}" + f"{'wall s   cpu s  query cpu ms':>30}" * len(sizes))
    for label in ("file", "postgres"):
        if f"runs_list_{label}_growth" not in figures:
            continue
        cells = "".join(
            f"{figures[f'runs_list_{label}_{size}_s']:>14.3f}"
            f"{figures[f'runs_list_{label}_{size}_cpu_s']:>8.3f}"
            f"{figures[f'query_runs_{label}_{size}_ms']:>8.1f}"
            for size in sizes
        )
        print(f"{label:<10}{cells}{figures[f'runs_list_{label}_growth']:>9.2f}x")
    worst = max(v for k, v in figures.items() if k.startswith("runs_list") and k.endswith("0_s"))
    print(f"target: each <= {TARGET_SECONDS} s, about flat; slowest {worst:.3f} s")
    if args.viewer:
        print(f"maverick ui, GET / (first page; median of {args.rounds}, seconds)")
        for label in ("file", "postgres"):
            if f"ui_first_page_{label}_growth" not in figures:
                continue
            cells = "".join(
                f"{figures[f'ui_first_page_{label}_{size}_s']:>14.3f}" for size in sizes
            )
            print(f"{label:<10}{cells}{figures[f'ui_first_page_{label}_growth']:>9.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
