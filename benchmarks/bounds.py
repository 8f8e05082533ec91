"""What issue 13's targets 1 and 3 leave to the store, measured with stand-in commits.

Targets 1 (per durable step, <= 0.8x Apache Burr with WAL) and 3 (group commit: a
checkpoint at concurrency 8 costs <= 0.5x the append + fdatasync floor) are ratios
of whole runs: the engine's steps, its hooks and its threads are inside them, and
so is the disk. This script asks how much of each ratio the store is, by measuring
the same runs with commits that do less and less, plugged in through the same hooks
the checkpoint plugin implements (``commit_checkpoint`` and ``sync_checkpoint``,
tried first, so they answer instead of it):

- :class:`BareCommit`: each commit overwrites the next slot of a preallocated
  file with one fixed frame and syncs it. Durable, but nothing about the state is
  written: no serialization, no checksum, no framing, no group commit. No store can
  make a step durable for less.
- :class:`BareGroupCommit`: the same frames queued under one lock; the first commit
  to wait writes everything queued with one ``pwrite`` and syncs it for all (the
  file store's group commit, without its records).
- :class:`NoCommit`: answers at once; nothing is written.

Rows (medians over rounds; the variants of a round run one after the other, their
order rotated from round to round):

- the 300-step chain of ``benchmarks/peers.py``, ms per step: maverick's file store,
  maverick with :class:`BareCommit`, Burr with WAL; the ratios to Burr are the
  medians of each round's ratio, with their quartiles.
- the parallel loop of ``benchmarks/group_commit.py`` (``max_concurrency: 8``, a
  checkpoint per iteration): cost per checkpoint (the loop's time minus the same
  loop without its checkpoint step, per iteration) with the file store,
  :class:`BareGroupCommit` and :class:`NoCommit`, each over the append floor.

``python benchmarks/bounds.py [--chain-rounds N] [--group-rounds N] [--json]``;
``docs/benchmarks.md`` ("Bounds") explains what the figures say.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import maverick_bench
import peers
from disk import append_fdatasync_seconds
from group_commit import RECORD_SIZE, parallel_loop_seconds
from harness import Spread, existing_directory, scrub_environment

from maverick_core import hookimpl
from maverick_core.api import CheckpointInfo
from maverick_core.engine.durability import sync_file

if TYPE_CHECKING:
    from maverick_core.api import Run, RunState

CHAIN_STEPS = 300
LOOP_ITERATIONS = 400
CAPACITY = 1 << 20
"""Bytes of zeros each stand-in writes and syncs ahead; frames wrap around inside it."""


class _Slots:
    """A file of ``CAPACITY`` zeros, written and synced, handed out slot by slot.

    Overwriting synced bytes changes neither the file's size nor its block map, so a
    sync flushes the data alone: the file store's journal does the same.
    """

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        os.pwrite(self.fd, bytes(CAPACITY), 0)
        os.fsync(self.fd)
        self.offset = 0

    def close(self) -> None:
        """Close the file (it stays where it is, for the temporary directory to remove)."""
        os.close(self.fd)

    def claim(self, size: int) -> int:
        """The offset of the next ``size`` bytes, from the start again at the end."""
        if self.offset + size > CAPACITY:
            self.offset = 0
        offset = self.offset
        self.offset += size
        return offset


def _info(checkpoint_id: str, seq: int, size: int) -> CheckpointInfo:
    return CheckpointInfo(
        checkpoint_id=checkpoint_id, seq=seq, size=size, duration=0.0, created_at=0.0
    )


class NoCommit:
    """A commit that writes nothing: what a checkpoint costs the engine without a store."""

    @hookimpl(tryfirst=True)
    def commit_checkpoint(self, run: Run, checkpoint_id: str, state: RunState) -> CheckpointInfo:
        """Answer at once."""
        return _info(checkpoint_id, 0, 0)


class BareCommit:
    """One fixed frame written over synced zeros and synced, per commit; nothing else."""

    def __init__(self, path: Path, frame_size: int = RECORD_SIZE) -> None:
        self.slots = _Slots(path)
        self.frame = b"\xa5" * frame_size
        self.seq = 0

    @hookimpl(tryfirst=True)
    def commit_checkpoint(self, run: Run, checkpoint_id: str, state: RunState) -> CheckpointInfo:
        """Write the frame and wait for the disk."""
        os.pwrite(self.slots.fd, self.frame, self.slots.claim(len(self.frame)))
        sync_file(self.slots.fd)
        self.seq += 1
        return _info(checkpoint_id, self.seq, len(self.frame))


class BareGroupCommit:
    """Fixed frames queued under one lock; the first waiter writes and syncs them all.

    ``commit_checkpoint`` runs under the executor's commit lock and only queues;
    ``sync_checkpoint`` runs outside it, so commits that wait at the same time share
    one ``pwrite`` and one sync, as in the file store's segments.
    """

    def __init__(self, path: Path, frame_size: int = RECORD_SIZE) -> None:
        self.slots = _Slots(path)
        self.frame = b"\xa5" * frame_size
        self.changed = threading.Condition()
        self.queued: list[bytes] = []
        self.seq = 0
        self.durable_seq = 0
        self.leading = False

    @hookimpl(tryfirst=True)
    def commit_checkpoint(self, run: Run, checkpoint_id: str, state: RunState) -> CheckpointInfo:
        """Queue the frame."""
        with self.changed:
            self.queued.append(self.frame)
            self.seq += 1
            return _info(checkpoint_id, self.seq, len(self.frame))

    @hookimpl(tryfirst=True)
    def sync_checkpoint(self, run: Run, checkpoint: CheckpointInfo) -> CheckpointInfo:
        """Return once the frame is synced: lead the next sync, or wait for the leader's."""
        with self.changed:
            while self.durable_seq < checkpoint.seq:
                if self.leading:
                    self.changed.wait()
                    continue
                self.leading = True
                data, target = b"".join(self.queued), self.seq
                self.queued.clear()
                offset = self.slots.claim(len(data))
                synced = False
                self.changed.release()
                try:
                    os.pwrite(self.slots.fd, data, offset)
                    sync_file(self.slots.fd)
                    synced = True
                finally:
                    self.changed.acquire()
                    self.leading = False
                    if synced:
                        self.durable_seq = target
                    self.changed.notify_all()
        return checkpoint


@attrs.frozen
class Bounds:
    """Every figure of the script, in milliseconds or as ratios."""

    chain_file_ms: float
    chain_bare_ms: float
    chain_burr_wal_ms: float
    file_over_burr_wal: Spread
    bare_over_burr_wal: Spread
    fsync_floor_ms: float
    group_file_ms: float
    group_bare_ms: float
    group_no_commit_ms: float

    def group_ratio(self, per_checkpoint_ms: float) -> float:
        """A cost per checkpoint over the append floor (target 3 asks <= 0.5)."""
        return per_checkpoint_ms / self.fsync_floor_ms


def _rotated(variants: list[str], index: int) -> list[str]:
    shift = index % len(variants)
    return variants[shift:] + variants[:shift]


def measure_chain(base: Path, rounds: int) -> dict[str, list[float]]:
    """Seconds per step of the chain, per variant, one entry per round."""
    seconds: dict[str, list[float]] = {"file": [], "bare": [], "burr": []}
    for index in range(rounds):
        directory = base / f"chain-{index}"
        for variant in _rotated(list(seconds), index):
            where = directory / variant
            where.mkdir(parents=True)
            seconds[variant].append(_chain_seconds(variant, where))
    return seconds


def _chain_seconds(variant: str, directory: Path) -> float:
    if variant == "burr":
        return peers.burr_chain(directory, CHAIN_STEPS, 1, "wal").seconds_per_step
    if variant == "file":
        return maverick_bench.maverick_chain(directory, CHAIN_STEPS, 1, None).seconds_per_step
    bare = BareCommit(directory / "bare.frames")
    try:
        chain = maverick_bench.maverick_chain(directory, CHAIN_STEPS, 1, None, objects=[bare])
    finally:
        bare.slots.close()
    return chain.seconds_per_step


def measure_group(base: Path, rounds: int) -> tuple[dict[str, list[float]], list[float]]:
    """Seconds per parallel loop, per variant, one entry per round; and the floors."""
    seconds: dict[str, list[float]] = {"file": [], "bare": [], "none": [], "without": []}
    floors: list[float] = []
    for index in range(rounds):
        directory = base / f"group-{index}"
        directory.mkdir(parents=True)
        floors.append(append_fdatasync_seconds(directory, RECORD_SIZE, 100))
        for variant in _rotated(list(seconds), index):
            seconds[variant].append(_loop_seconds(variant, directory))
    return seconds, floors


def _loop_seconds(variant: str, directory: Path) -> float:
    checkpoints = variant != "without"
    if variant != "bare":
        objects = [NoCommit()] if variant == "none" else []
        return parallel_loop_seconds(directory / variant, LOOP_ITERATIONS, checkpoints, objects)
    bare = BareGroupCommit(directory / "bare.frames")
    try:
        return parallel_loop_seconds(directory / variant, LOOP_ITERATIONS, checkpoints, [bare])
    finally:
        bare.slots.close()


def measure(base: Path, chain_rounds: int, group_rounds: int) -> Bounds:
    """Both measurements, after a warm-up of each (Burr's import among them)."""
    measure_chain(base / "warm", 1)
    measure_group(base / "warm", 1)
    chain = measure_chain(base, chain_rounds)
    loops, floors = measure_group(base, group_rounds)
    median = statistics.median
    without = median(loops["without"])

    def per_checkpoint_ms(variant: str) -> float:
        return max(median(loops[variant]) - without, 0.0) / LOOP_ITERATIONS * 1000

    def over_burr(variant: str) -> Spread:
        pairs = zip(chain[variant], chain["burr"], strict=True)
        return Spread.of([ours / burr for ours, burr in pairs])

    return Bounds(
        chain_file_ms=median(chain["file"]) * 1000,
        chain_bare_ms=median(chain["bare"]) * 1000,
        chain_burr_wal_ms=median(chain["burr"]) * 1000,
        file_over_burr_wal=over_burr("file"),
        bare_over_burr_wal=over_burr("bare"),
        fsync_floor_ms=median(floors) * 1000,
        group_file_ms=per_checkpoint_ms("file"),
        group_bare_ms=per_checkpoint_ms("bare"),
        group_no_commit_ms=per_checkpoint_ms("none"),
    )


def table(bounds: Bounds) -> list[tuple[str, str]]:
    """The rows printed, label and value."""

    def spread(value: Spread) -> str:
        return f"{value.median:.2f} (quartiles {value.q1:.2f}-{value.q3:.2f})"

    def group(per_checkpoint_ms: float) -> str:
        return f"{per_checkpoint_ms:.3f} ms, {bounds.group_ratio(per_checkpoint_ms):.2f}x floor"

    return [
        (f"chain of {CHAIN_STEPS}: maverick file store, ms/step", f"{bounds.chain_file_ms:.3f}"),
        ("chain: maverick, BareCommit, ms/step", f"{bounds.chain_bare_ms:.3f}"),
        ("chain: Burr with WAL, ms/step", f"{bounds.chain_burr_wal_ms:.3f}"),
        ("file store / Burr with WAL (target 1: <= 0.8)", spread(bounds.file_over_burr_wal)),
        ("BareCommit / Burr with WAL", spread(bounds.bare_over_burr_wal)),
        ("fsync_floor_ms (append + fdatasync)", f"{bounds.fsync_floor_ms:.3f}"),
        ("group commit, per checkpoint: file store (target <= 0.5)", group(bounds.group_file_ms)),
        ("group commit, per checkpoint: BareGroupCommit", group(bounds.group_bare_ms)),
        ("group commit, per checkpoint: NoCommit", group(bounds.group_no_commit_ms)),
    ]


def as_json(bounds: Bounds) -> dict[str, float]:
    """The figures as one flat JSON object."""
    figures = attrs.asdict(bounds, recurse=False)
    flat: dict[str, float] = {}
    for key, value in figures.items():
        if isinstance(value, Spread):
            flat.update({key: value.median, f"{key}_q1": value.q1, f"{key}_q3": value.q3})
        else:
            flat[key] = value
    for key in ("group_file", "group_bare", "group_no_commit"):
        flat[f"{key}_ratio"] = bounds.group_ratio(figures[f"{key}_ms"])
    return flat


def main(argv: list[str] | None = None) -> None:
    """Measure and print the table (and with --json, one JSON object on stdout)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chain-rounds", type=int, default=30)
    parser.add_argument("--group-rounds", type=int, default=9)
    parser.add_argument(
        "--tmpdir",
        type=existing_directory,
        help="directory for the stores (default: the system's)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.chain_rounds < 1 or args.group_rounds < 1:
        parser.error("rounds must be at least 1")
    scrub_environment()
    with tempfile.TemporaryDirectory(prefix="maverick-bounds-", dir=args.tmpdir) as tmp:
        try:
            bounds = measure(Path(tmp), args.chain_rounds, args.group_rounds)
        except peers.PeerUnavailable as error:
            parser.exit(2, f"bounds.py: {error}\n")
    out = sys.stderr if args.json else sys.stdout
    for label, value in table(bounds):
        print(f"{label:<64} {value}", file=out)
    if args.json:
        print(json.dumps(as_json(bounds)))


if __name__ == "__main__":
    main()
