"""Checkpoint commit cost of each store and serializer, side by side in one run.

``python benchmarks/stores.py [--iterations N] [--rounds R] [--json]`` runs the same
workflow (``workflows/loop.yaml``: a loop of trivial ``python`` steps, a checkpoint
after each) through the real executor with every store and serializer installed
here: the built-in file store, maverick-sqlite, maverick-postgres (a throwaway local
PostgreSQL 15 server started for the run), each with json and, when installed,
msgpack. Rounds alternate between the stores, so disk drift hits them all alike;
each figure is the median commit over a round, then the median over rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import install_workflow, make_project, run_workflow, scrub_environment

if TYPE_CHECKING:
    from collections.abc import Iterator


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@contextlib.contextmanager
def _postgres() -> Iterator[str | None]:
    """A local server's URL, or None (with the reason on stderr) when none can start."""
    if not _installed("maverick_postgres"):
        print("maverick-postgres is not installed: no PostgreSQL row", file=sys.stderr)
        yield None
        return
    try:
        from maverick_postgres.testing import running_postgres_server

        server_context = running_postgres_server(durable=True)
        server = server_context.__enter__()
    except Exception as exc:  # the binaries are missing or the server did not start
        print(f"no PostgreSQL server: {exc}", file=sys.stderr)
        yield None
        return
    try:
        yield server.url
    finally:
        server_context.__exit__(None, None, None)


def configurations(postgres_url: str | None) -> list[tuple[str, str, str, list[str]]]:
    """(label, store URL, serializer, plugin modules) for everything installed here."""
    serializers = ["json"] + (["msgpack"] if _installed("maverick_msgpack") else [])
    stores: list[tuple[str, str, list[str]]] = [("file", "file:", [])]
    if _installed("maverick_sqlite"):
        stores.append(("sqlite", "sqlite:///runs.db", ["maverick_sqlite"]))
    if postgres_url:
        stores.append(("postgresql", postgres_url, ["maverick_postgres"]))
    result = []
    for label, url, plugins in stores:
        for serializer in serializers:
            extra = ["maverick_msgpack"] if serializer == "msgpack" else []
            result.append((f"{label} + {serializer}", url, serializer, plugins + extra))
    return result


def measure(iterations: int, rounds: int) -> dict[str, float]:
    """Median commit milliseconds per configuration."""
    scrub_environment()
    per_config: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="maverick-stores-") as tmp, _postgres() as pg:
        base = Path(tmp)
        configs = configurations(pg)
        for round_index in range(rounds):
            for number, (label, url, serializer, plugins) in enumerate(configs):
                project = make_project(base, f"r{round_index}-c{number}")
                workflow = install_workflow(project, "loop.yaml")
                result = run_workflow(
                    project,
                    workflow,
                    {"count": iterations},
                    plugins=plugins,
                    options={"store": url, "serializer": serializer},
                )
                commits = result.commit_seconds[5:]  # the first commits open files/tables
                per_config.setdefault(label, []).append(statistics.median(commits) * 1000)
    return {label: statistics.median(values) for label, values in per_config.items()}


def main(argv: list[str] | None = None) -> None:
    """Print the table (and with --json, one JSON object on stdout)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    figures = measure(args.iterations, args.rounds)
    out = sys.stderr if args.json else sys.stdout
    base = figures["file + json"]
    print(f"{'store + serializer':<24} {'ms per commit':>14} {'vs file + json':>15}", file=out)
    for label, value in figures.items():
        print(f"{label:<24} {value:>14.3f} {value / base:>14.2f}x", file=out)
    if args.json:
        result: dict[str, Any] = {
            "commit_ms": figures,
            "iterations": args.iterations,
            "rounds": args.rounds,
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()
