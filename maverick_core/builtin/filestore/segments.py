"""Journal segments of the file store: preallocated files of checksummed frames.

A segment (``journal-<first_seq>.jnl``) is a file of frames followed by zeros.
The zeros are really written when the file is created or grown (not just reserved
with ``fallocate``, whose unwritten extents are converted, a metadata change, on
their first write), and synced by the commit that follows: the segment's first
record, or the one that grew it. Later commits *overwrite* synced zeros with one
frame and ``fdatasync``: the file's size and block map do not change, so the sync
flushes the data alone. A file grows by whole chunks (64 KiB, doubling up to 1 MiB)
in the commit that comes within a quarter chunk of its end.

A frame is ``magic (4 bytes) | body length (u32) | CRC-32 of the body (u32) |
body``, the body being ``seq (i64) | created_at (f64) | the byte lengths of
checkpoint_id, kind, serializer, checksum (u32 each) | those four UTF-8 texts |
payload``, little-endian. The record's own SHA-256 checksum is kept as written, so a
record a writer got wrong still reads back as not intact.

Reading stops at the first frame that is not intact: zeros where a header belongs
are the end; a frame whose CRC fails is damage, and nothing after it in the segment
is read. Damage is a *torn write* when part of the frame still holds the zeros it
was to overwrite: a killed process leaves a write cut short (the frame ends in
zeros, or past the end of the file), and a power loss persists whole disk sectors
(512 bytes) in any order, so the frame keeps at least one sector's share of zeros.
Otherwise it was edited (and a resume refuses rather than guess). Before the first append of a
process, the segment is *recovered*: bytes after the last intact frame are zeroed
and synced, so nothing stale can ever be read as a frame behind a newer one. After
an edit the damaged segment is kept as evidence and appends go to a new segment.

Group commit: :meth:`Segment.write` queues a frame in memory and returns its end
offset; :meth:`Segment.wait_durable` returns once the frame is in the file and a sync
that began after that has finished. The first waiter leads: it writes every frame
queued so far with one ``pwrite`` and syncs them; the waiters that arrive meanwhile
wait instead of syncing again, and the leader writes and syncs once more for them (up
to four rounds in all) before one of them has to lead. The writers never make a
system call themselves: under Python's GIL each one would let the other threads run
and then wait to get the GIL back, and with eight iterations committing at once
those hand-offs cost more than the frames' Python. A frame that is only queued was
never promised (its writer is still waiting), so a crash that loses it loses nothing
that was reported saved.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import zlib
from typing import TYPE_CHECKING

from maverick_core.engine.durability import sync_directory, sync_file
from maverick_core.engine.errors import StoreError
from maverick_core.engine.storage import CheckpointRecord, DamagedRecord

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

SUFFIX = ".jnl"
MAGIC = b"MVJ\x01"
FIRST_CHUNK = 64 * 1024
MAX_CHUNK = 1 << 20
SECTOR = 512
"""The unit a crash is assumed to write whole (what SQLite also assumes by default)."""

_LEADER_ROUNDS = 4
_HEADER = struct.Struct("<4sII")
_FIELDS = struct.Struct("<qdIIII")
_TEXT = "surrogatepass"


# ------------------------------------------------------------------ frames


def pack(record: CheckpointRecord) -> bytes:
    """The record as one frame."""
    texts = [
        record.checkpoint_id.encode("utf-8", _TEXT),
        record.kind.encode("utf-8", _TEXT),
        record.serializer.encode("utf-8", _TEXT),
        record.checksum.encode("utf-8", _TEXT),
    ]
    try:
        fields = _FIELDS.pack(record.seq, record.created_at, *map(len, texts))
    except struct.error as error:
        raise StoreError(f"checkpoint #{record.seq}: cannot frame: {error}") from None
    head = fields + b"".join(texts)
    payload = record.payload
    size = len(head) + len(payload)
    if size >= 1 << 32:
        raise StoreError(f"checkpoint #{record.seq}: a record of {size} bytes is too large")
    crc = zlib.crc32(payload, zlib.crc32(head))
    return b"".join((_HEADER.pack(MAGIC, size, crc), head, payload))


def unpack(run_id: str, body: bytes, position: str) -> CheckpointRecord | DamagedRecord:
    """A frame's body (its CRC checked) back into a record."""
    try:
        seq, created_at, *lengths = _FIELDS.unpack_from(body, 0)
        offset = _FIELDS.size
        texts = []
        for length in lengths:
            if offset + length > len(body):
                raise ValueError("a header text runs past the frame")
            texts.append(body[offset : offset + length].decode("utf-8", _TEXT))
            offset += length
    except (struct.error, ValueError) as error:  # UnicodeDecodeError is a ValueError
        return DamagedRecord(run_id, position, f"frame header does not parse: {error}")
    checkpoint_id, kind, serializer, checksum = texts
    return CheckpointRecord(
        run_id=run_id,
        seq=seq,
        checkpoint_id=checkpoint_id,
        kind=kind,
        created_at=created_at,
        serializer=serializer,
        payload=body[offset:],
        checksum=checksum,
    )


def walk(data: bytes) -> Iterator[tuple[int, bytes | None, str | None]]:
    """``(offset, body, None)`` per intact frame, then ``(offset, None, why)`` if the
    frames end in damage (``why`` starts with ``torn`` for a torn write)."""
    offset = 0
    end = len(data)
    size = _HEADER.size
    while offset < end:
        header = data[offset : offset + size]
        if not header.strip(b"\0"):
            return  # zeros (or the end of the file) where a frame would start
        if len(header) < size:
            yield offset, None, "torn write: the frame header runs past the end of the file"
            return
        magic, length, crc = _HEADER.unpack(header)
        stop = offset + size + length
        if magic != MAGIC:
            yield offset, None, _damage(data, offset, offset + size, "not a frame header")
            return
        if stop > end:
            yield offset, None, "torn write: the frame runs past the end of the file"
            return
        body = data[offset + size : stop]
        if zlib.crc32(body) != crc:
            yield offset, None, _damage(data, offset, stop, "frame checksum mismatch")
            return
        yield offset, body, None
        offset = stop


def frame_spans(data: bytes) -> list[tuple[int, int]]:
    """``(start, end)`` of each intact frame in a segment's bytes (for tests and tools)."""
    return [
        (offset, offset + _HEADER.size + len(body))
        for offset, body, _ in walk(data)
        if body is not None
    ]


def _damage(data: bytes, start: int, stop: int, what: str) -> str:
    """Why the frame at ``start`` is damaged: torn when it ends in zeros (a write cut
    short) or a sector's share of it is zeros (sectors that never reached the disk)."""
    if data[stop - 1] == 0:
        return f"torn write: {what}, the frame ends in the zeros it did not overwrite"
    sector = start - start % SECTOR
    while sector < stop:
        low, high = max(sector, start), min(sector + SECTOR, stop)
        if data.count(0, low, high) == high - low:
            return f"torn write: {what}, part of the frame never reached the disk"
        sector += SECTOR
    return f"edited: {what}"


def read_records(
    run_id: str, path: Path, data: bytes
) -> Iterator[CheckpointRecord | DamagedRecord]:
    """The records of a segment's bytes, ending with what damaged it (if anything).

    A damaged frame that is not torn is given back as the record it parses into
    (its SHA-256 then fails, so readers know it was edited), else as a
    :class:`DamagedRecord`.
    """
    for offset, body, why in walk(data):
        position = f"{path.name}@{offset}"
        if body is not None:
            yield unpack(run_id, body, position)
            continue
        assert why is not None
        if why.startswith("edited"):
            start = offset + _HEADER.size
            edited = unpack(
                run_id, data[start : start + _HEADER.unpack_from(data, offset)[1]], position
            )
            if isinstance(edited, CheckpointRecord):
                yield edited
                return
        yield DamagedRecord(run_id, position, why)


# ------------------------------------------------------------------ segments


class Segment:
    """One preallocated journal segment open for appending (see the module docstring).

    Every method is safe to call from several threads; :meth:`write` calls are
    applied in the order they take the segment's lock.
    """

    def __init__(self, fd: int, path: Path, first_seq: int, size: int, allocated: int) -> None:
        self.fd = fd
        self.path = path
        self.first_seq = first_seq
        self.size = size
        """Where the next frame goes: the end of the last one (queued or written)."""
        self.written = size
        """Bytes before this offset are in the file; the frames after it are queued."""
        self._queued: list[bytes] = []
        self.allocated = allocated
        # the commit whose frame ends past this grows the file (a quarter chunk early)
        self._grow_at = allocated - min(allocated, MAX_CHUNK) // 4
        self.synced = size
        """Bytes before this offset are durable."""
        self.rotate = False
        """Set when a snapshot made this segment long enough: the next record starts a new one."""
        self._syncing = False
        self._failed: str | None = None
        self._cond = threading.Condition()
        # threads waiting for a sync: (the end of their frame, the lock they wait on)
        self._waiters: list[tuple[int, threading.Lock]] = []

    # -------------------------------------------------------------- opening

    @classmethod
    def create(cls, path: Path, first_seq: int, opener: Callable[[Path, int], int]) -> Segment:
        """Create the segment file with its first chunk of zeros; its name is durable.

        The zeros are not synced here: a segment is created to take a record at once,
        and that record's sync (``synced`` is 0) covers them with it, as the sync of
        the commit that grows a segment covers the new chunk. Until that sync returns
        nothing in the file was promised, and a crash leaves it shorter or holding
        zeros where they were not yet written back, which read as its end.
        """
        fd = opener(path, os.O_RDWR | os.O_CREAT | os.O_EXCL)
        try:
            _fill_zeros(fd, 0, FIRST_CHUNK)
            sync_directory(path.parent)
        except OSError:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        return cls(fd, path, first_seq, 0, FIRST_CHUNK)

    @classmethod
    def recover(
        cls, path: Path, first_seq: int, opener: Callable[[Path, int], int]
    ) -> tuple[Segment, bool]:
        """Open an existing segment for appending after its last intact frame.

        :returns: the segment, and whether it ends in an edited frame (then it is
            left as it is and the caller appends elsewhere).
        """
        fd = opener(path, os.O_RDWR)
        try:
            data = read_fd(fd)
            end, edited = 0, False
            for offset, body, why in walk(data):
                if body is None:
                    edited = bool(why and why.startswith("edited"))
                    break
                end = offset + _HEADER.size + len(body)
            if not edited:
                stale = len(data[end:].rstrip(b"\0"))
                if stale:
                    _fill_zeros(fd, end, end + stale)
                    sync_file(fd)
        except OSError:
            os.close(fd)
            raise
        return cls(fd, path, first_seq, end, len(data)), edited

    # -------------------------------------------------------------- commits

    def write(self, frame: bytes) -> int:
        """Queue ``frame`` after the last one (growing the file ahead of need); the
        next sync writes it.

        :returns: the offset :meth:`wait_durable` needs.
        :raises OSError: the segment is then closed (see :meth:`fail`).
        """
        with self._cond:
            if self._failed is not None:  # closed, or failing under a leader
                raise OSError(f"journal segment {self.path.name} was closed: {self._failed}")
            end = self.size + len(frame)
            if end > self._grow_at:
                try:
                    self._grow(end)
                except OSError as error:
                    self._fail(str(error))
                    raise
            self._queued.append(frame)
            self.size = end
            return end

    def wait_durable(self, end: int) -> None:
        """Return once every byte before ``end`` is durable, syncing if no one else is.

        While one thread syncs (the leader), the others wait each on a lock of its
        own, and a finished sync wakes only those it made durable (a condition's
        ``notify_all`` would wake every one, each then taking the GIL to find it must
        wait on); when the leader stops, it hands over to the first still waiting.

        :raises OSError: when the sync that covers ``end`` failed.
        """
        with self._cond:
            while True:
                if self.synced >= end:
                    return
                if self._failed is not None:
                    raise OSError(self._failed)
                if not self._syncing:
                    break
                waiter = threading.Lock()
                waiter.acquire()
                self._waiters.append((end, waiter))
                self._cond.release()
                try:
                    waiter.acquire()  # released by _wake
                finally:
                    self._cond.acquire()
            self._syncing = True
            start, frames, target = self._take_queued()
        # The leader goes on writing and syncing while frames keep arriving (a few
        # rounds at most): their writers are waiting, and handing the next round to
        # one of them would first have to wake it. Only the leader (or close(), once
        # no one leads) writes queued frames, so they reach the file in order.
        rounds = 0
        while True:
            try:
                _write_all(self.fd, frames, start)
                sync_file(self.fd)
            except OSError as error:
                with self._cond:
                    self._syncing = False
                    self._fail(str(error))
                raise
            rounds += 1
            with self._cond:
                if self._failed is not None:  # a writer failed to grow the file meanwhile
                    self._syncing = False
                    self._fail(self._failed)
                    raise OSError(self._failed)
                self.synced = max(self.synced, target)
                if self.size <= self.synced or rounds == _LEADER_ROUNDS:
                    self._syncing = False
                    self._wake(handover=True)
                    return
                self._wake(handover=False)
                start, frames, target = self._take_queued()

    def _take_queued(self) -> tuple[int, bytes, int]:
        """The queued frames as one block, where it goes and where it ends (they count
        as written from here on). Called with the lock held."""
        start, frames = self.written, b"".join(self._queued)
        self._queued.clear()
        self.written = self.size
        return start, frames, self.size

    def _wake(self, handover: bool) -> None:
        """Wake the waiters whose frames are durable now; with ``handover`` (no sync is
        under way), the first other one too, to lead the next sync. Called with the
        lock held."""
        waiting = []
        for end, waiter in self._waiters:
            if end <= self.synced or self._failed is not None:
                waiter.release()
            elif handover:
                waiter.release()
                handover = False
            else:
                waiting.append((end, waiter))
        self._waiters = waiting
        self._cond.notify_all()  # close() waits for the sync under way to end

    def _grow(self, end: int) -> None:
        """Write zeros up to a whole chunk past ``end`` (64 KiB, doubling to 1 MiB)."""
        chunk = min(max(self.allocated, FIRST_CHUNK), MAX_CHUNK)
        grown = -(-(end + chunk) // 4096) * 4096
        _fill_zeros(self.fd, self.allocated, grown)
        self.allocated = grown
        self._grow_at = grown - min(grown, MAX_CHUNK) // 4

    # -------------------------------------------------------------- closing

    def close(self, trim: bool = True) -> None:
        """Sync what is written, give back the zeros after it (``trim``), close.

        :raises OSError: when that sync fails (the segment is closed anyway).
        """
        with self._cond:
            while self._syncing:
                self._cond.wait()
            if self.fd < 0:
                return
            try:
                start, frames, _ = self._take_queued()
                _write_all(self.fd, frames, start)
                if trim and self.allocated > self.size:
                    os.ftruncate(self.fd, self.size)
                    self.allocated = self.size
                # The cut itself is not synced: a crash that undoes it leaves the
                # zeros after the last frame, which is how a segment being written
                # ends anyway (reading stops at them, recovery appends over them).
                if self.synced < self.size:
                    sync_file(self.fd)
                    self.synced = self.size
            finally:
                os.close(self.fd)
                self.fd = -1
                self._failed = self._failed or "closed"
                self._wake(handover=False)

    def _fail(self, why: str) -> None:
        """After a failed write or sync the descriptor is not trusted again.

        Frames not yet known durable are cut off (the page cache may hold data the
        disk never got); whoever waits for them is told. While a leader writes or
        syncs outside the lock, it closes the descriptor itself when its round ends
        (closed now, the number could be reused by another file it would then write
        to). Called with the lock held.
        """
        self._failed = why
        if self.fd >= 0 and not self._syncing:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, self.synced)
            os.close(self.fd)
            self.fd = -1
        self._wake(handover=False)

    @property
    def closed(self) -> bool:
        """True once closed, by :meth:`close` or by a failure."""
        return self.fd < 0

    @property
    def failure(self) -> str | None:
        """Why the segment was closed."""
        return self._failed


def _write_all(fd: int, data: bytes, offset: int) -> None:
    """``pwrite`` all of ``data`` at ``offset`` (going on after a short write)."""
    written = os.pwrite(fd, data, offset) if data else 0
    while written < len(data):
        written += os.pwrite(fd, data[written:], offset + written)


def _fill_zeros(fd: int, start: int, stop: int) -> None:
    zeros = bytes(min(stop - start, MAX_CHUNK))
    while start < stop:
        start += os.pwrite(fd, zeros[: stop - start], start)


def read_fd(fd: int) -> bytes:
    """Everything in ``fd`` from its start."""
    chunks: list[bytes] = []
    offset = 0
    while True:
        chunk = os.pread(fd, 1 << 20, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)
