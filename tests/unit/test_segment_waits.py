"""A journal segment's group commit: threads that write at once share syncs, each
returns only once its frame is in the file and a sync covered it, and a failed write or
sync reaches every waiter."""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING

import pytest

from maverick_core.builtin.filestore import segments
from maverick_core.builtin.filestore.segments import Segment

if TYPE_CHECKING:
    from pathlib import Path

WRITERS = 8


def open_segment(tmp_path: Path) -> Segment:
    return Segment.create(tmp_path / "journal-1.jnl", 1, lambda path, flags: os.open(path, flags))


def commit_all(segment: Segment) -> tuple[list[tuple[int, int, bytes]], list[BaseException]]:
    """Each writer thread writes a frame and waits for it; returns (end, synced at
    return, what the file held at the frame's place then) per writer and the errors
    raised."""
    start = threading.Barrier(WRITERS)
    seen: list[tuple[int, int, bytes]] = []
    errors: list[BaseException] = []
    reader = os.open(segment.path, os.O_RDONLY)

    def writer(index: int) -> None:
        start.wait()
        try:
            frame = bytes([65 + index]) * 300
            end = segment.write(frame)
            segment.wait_durable(end)
            seen.append((end, segment.synced, os.pread(reader, 300, end - 300)))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive(), "a writer never returned"
    os.close(reader)
    return seen, errors


def test_concurrent_commits_share_syncs_and_each_returns_once_its_frame_is_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    syncs: list[int] = []
    real = segments.sync_file

    def slow_sync(fd: int) -> None:  # a real sync, long enough for the others to queue
        syncs.append(fd)
        real(fd)
        time.sleep(0.02)

    segment = open_segment(tmp_path)
    monkeypatch.setattr(segments, "sync_file", slow_sync)
    seen, errors = commit_all(segment)
    assert errors == []
    assert len(seen) == WRITERS
    assert all(synced >= end for end, synced, _ in seen)
    # the frame was in the file when its wait returned (the writer queues it and
    # the leader of the sync writes it)
    assert all(len(set(held)) == 1 and held[0] >= 65 for _, _, held in seen)
    assert len(syncs) < WRITERS  # shared
    segment.close()
    data = (tmp_path / "journal-1.jnl").read_bytes()
    assert sorted(data[i * 300 : i * 300 + 1] for i in range(WRITERS)) == [
        bytes([65 + i]) for i in range(WRITERS)
    ]


@pytest.mark.parametrize(
    ("failing", "error"),
    [
        ("sync_file", OSError(5, "Input/output error")),
        ("_write_all", OSError(28, "No space left on device")),  # the leader's write
    ],
)
def test_a_failed_write_or_sync_reaches_every_waiter_and_none_hangs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str, error: OSError
) -> None:
    def fail(*_: object) -> None:
        time.sleep(0.02)
        raise error

    segment = open_segment(tmp_path)
    monkeypatch.setattr(segments, failing, fail)
    seen, errors = commit_all(segment)
    # a writer that came after the failure is refused at write; every other one
    # that waited is told its write or sync failed; none returned as if durable
    assert seen == []
    assert len(errors) == WRITERS
    assert all(isinstance(error, OSError) for error in errors)
    assert segment.closed
    # nothing that was never durable is left in the file
    assert (tmp_path / "journal-1.jnl").read_bytes().strip(b"\0") == b""


def test_a_frame_written_and_not_yet_waited_for_reaches_the_file_at_close(
    tmp_path: Path,
) -> None:
    segment = open_segment(tmp_path)
    first = segment.write(b"A" * 300)
    segment.wait_durable(first)
    segment.write(b"B" * 300)
    assert (tmp_path / "journal-1.jnl").read_bytes()[300:600] == bytes(300)  # queued
    segment.close()
    assert (tmp_path / "journal-1.jnl").read_bytes() == b"A" * 300 + b"B" * 300
