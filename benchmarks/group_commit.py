"""Group commit and the preallocated-journal floor: issue 13, targets 2 and 3.

Functions for ``benchmarks/run.py`` (each takes the directory the stores use):

- ``prealloc_floor_ms`` comes from :func:`disk.prealloc_overwrite_seconds`
  ``(base, record_size, count)``: the median ``pwrite`` of one record over zeros
  written and synced ahead, plus ``sync_file``: the floor of a commit to the file
  store's preallocated journal, beside ``fsync_floor_ms`` (append + ``sync_file``).
- ``group_commit_ratio(base, rounds, floor_seconds)``: cost per checkpoint in a
  parallel loop (``workflows/parallel.yaml``: ``max_concurrency: 8``, a checkpoint
  per iteration) divided by ``floor_seconds``, the append floor the caller measured
  in the same run (measured here when None). Target <= 0.5.
- ``measure_group_commit(base, record_size, iterations, rounds)``: the same
  measurement with its parts, a :class:`GroupCommit` (``.ratio``,
  ``.per_checkpoint_seconds``, ``.prealloc_ratio``): what ``run.py`` calls.

*Cost per checkpoint* is what the checkpoints add to the loop: (wall time of the
loop committing after every iteration - wall time of the same loop whose
checkpoint step is skipped) / iterations, medians over rounds that alternate the
two loops and the floor. While one commit waits for its sync, the other iterations
go on and their commits share the next sync, so the cost falls below one sync.

``python benchmarks/group_commit.py [--iterations N] [--rounds R] [--json]`` prints
the figures (and with ``--json`` one JSON object on stdout).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
from disk import append_fdatasync_seconds, prealloc_overwrite_seconds
from harness import (
    existing_directory,
    install_workflow,
    make_project,
    run_workflow,
    scrub_environment,
)

from maverick_core.api import Status

if TYPE_CHECKING:
    from collections.abc import Sequence

PARALLEL = "parallel.yaml"


ITERATIONS = 400
RECORD_SIZE = 300
"""About the size of one iteration's journal frame in this workflow."""


def group_commit_ratio(base: Path, rounds: int, floor_seconds: float | None = None) -> float:
    """Cost per checkpoint at concurrency 8 / the append + fdatasync floor."""
    result = measure_group_commit(base, RECORD_SIZE, ITERATIONS, rounds)
    return result.per_checkpoint_seconds / (floor_seconds or result.floor_seconds)


@attrs.frozen
class GroupCommit:
    """Per-checkpoint cost at concurrency 8 against the floors, medians over rounds."""

    iterations: int
    with_checkpoints_seconds: float
    without_checkpoints_seconds: float
    floor_seconds: float
    prealloc_floor_seconds: float

    @property
    def per_checkpoint_seconds(self) -> float:
        """What one checkpoint adds to the loop's wall time."""
        added = self.with_checkpoints_seconds - self.without_checkpoints_seconds
        return max(added, 0.0) / self.iterations

    @property
    def ratio(self) -> float:
        """``group_commit_ratio``: cost per checkpoint / append + fdatasync floor."""
        return self.per_checkpoint_seconds / self.floor_seconds

    @property
    def prealloc_ratio(self) -> float:
        """The same cost against the preallocated-overwrite floor."""
        return self.per_checkpoint_seconds / self.prealloc_floor_seconds


def parallel_loop_seconds(
    directory: Path, iterations: int, checkpoints: bool, objects: Sequence[object] = ()
) -> float:
    """Wall time of one run of the parallel loop in a new project at ``directory``.

    ``objects`` are plugins registered beside the built-in ones (``benchmarks/bounds.py``
    passes commits of its own that way).
    """
    project = make_project(directory.parent, directory.name)
    workflow = install_workflow(project, PARALLEL)
    result = run_workflow(
        project, workflow, {"count": iterations, "checkpoints": checkpoints}, objects=objects
    )
    if result.outcome.status != Status.COMPLETED:
        raise RuntimeError(f"the parallel loop ended {result.outcome.status}")
    if checkpoints and len(result.commit_seconds) != iterations:
        raise RuntimeError(f"expected {iterations} commits, timed {len(result.commit_seconds)}")
    return result.seconds


def measure_group_commit(base: Path, record_size: int, iterations: int, rounds: int) -> GroupCommit:
    """Alternate the floors, the checkpointing loop and the loop without checkpoints."""
    with_checkpoints: list[float] = []
    without: list[float] = []
    floors: list[float] = []
    preallocs: list[float] = []
    for index in range(rounds):
        floors.append(append_fdatasync_seconds(base, record_size, 100))
        preallocs.append(prealloc_overwrite_seconds(base, record_size, 100))
        for checkpoints, times in ((True, with_checkpoints), (False, without)):
            name = f"group-{index}-{int(checkpoints)}"
            times.append(parallel_loop_seconds(base / name, iterations, checkpoints))
    return GroupCommit(
        iterations=iterations,
        with_checkpoints_seconds=statistics.median(with_checkpoints),
        without_checkpoints_seconds=statistics.median(without),
        floor_seconds=statistics.median(floors),
        prealloc_floor_seconds=statistics.median(preallocs),
    )


def main(argv: list[str] | None = None) -> None:
    """Print the figures (and with --json, one JSON object on stdout)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=ITERATIONS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--record-size", type=int, default=RECORD_SIZE)
    parser.add_argument(
        "--tmpdir",
        type=existing_directory,
        help="directory for the stores (default: the system's)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    scrub_environment()
    with tempfile.TemporaryDirectory(prefix="maverick-group-", dir=args.tmpdir) as tmp:
        result = measure_group_commit(Path(tmp), args.record_size, args.iterations, args.rounds)
    out = sys.stderr if args.json else sys.stdout
    rows = [
        ("fsync_floor_ms (append + fdatasync)", result.floor_seconds * 1000),
        ("prealloc_floor_ms (overwrite + fdatasync)", result.prealloc_floor_seconds * 1000),
        (
            "loop with checkpoints, ms per iteration",
            result.with_checkpoints_seconds * 1000 / args.iterations,
        ),
        (
            "loop without, ms per iteration",
            result.without_checkpoints_seconds * 1000 / args.iterations,
        ),
        ("ms per checkpoint at concurrency 8", result.per_checkpoint_seconds * 1000),
        ("group_commit_ratio (target <= 0.5)", result.ratio),
        ("  against the prealloc floor", result.prealloc_ratio),
    ]
    for label, value in rows:
        print(f"{label:<44} {value:8.3f}", file=out)
    if args.json:
        print(
            json.dumps(
                {
                    "fsync_floor_ms": result.floor_seconds * 1000,
                    "prealloc_floor_ms": result.prealloc_floor_seconds * 1000,
                    "group_commit_ms": result.per_checkpoint_seconds * 1000,
                    "group_commit_ratio": result.ratio,
                    "iterations": args.iterations,
                    "rounds": args.rounds,
                }
            )
        )


if __name__ == "__main__":
    main()
