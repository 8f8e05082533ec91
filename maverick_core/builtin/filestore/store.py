"""The built-in ``file`` store: one directory per run under ``.maverick/checkpoints/``.

Layout of a run (directories 0700, files 0600)::

    <base>/<run_id>/
        run.json                 the RunRecord, replaced atomically
        journal-<first_seq>.jnl  journal segments: preallocated, one frame per record
        journal-<first_seq>.log  journal segments of releases up to 0.1.0, one line per record
        snapshot                 the latest snapshot, one record line, replaced atomically
        lock                     flock'ed by the holder, who is written inside as JSON

Beside the runs, ``<base>/.index/`` (0700) holds one empty marker file (0600) per
run, named ``<created_at key>-<status>-<workflow tag>-<run_id>``: the key is the
16 hex digits of ``created_at``'s bits, ordered as the float is, and the tag the
first 8 hex digits of the workflow name's SHA-256. A page of ``query_runs`` reads
the two directories' names and ``run.json`` only for the runs on the page. When the
index holds exactly one marker per run (the usual case) the names are sorted once in
C and only the markers from the cursor down to the page's end are parsed; otherwise
every marker is parsed and the index repaired as below, and the next listing is the
fast one. ``run.json`` is the truth, the index a hint kept in step with it:

- ``create_run`` writes ``run.json``, then the marker; a run without a marker (a
  crash between the two, a store written before the index existed, a run created
  by an older release) is found by comparing the names, read once and given one;
- ``update_run`` that changes the name creates the new marker and syncs the
  index before it replaces ``run.json``, and removes the old marker after: a crash
  leaves two markers for the run, never one that is wrong, and a reader resolves
  two by reading ``run.json``;
- ``delete_run`` removes the markers after the directory; a marker whose run
  directory is gone is removed by the next reader.

A run on a page whose ``run.json`` disagrees with its marker (changed by a release
older than the index, or by hand) is shown as ``run.json`` says and its marker
repaired (the page is selected again if that moves the run); until a listing reads
it, a filter may miss it.

The holder also flocks the run directory itself: an inode that is never replaced,
so deleting ``lock`` (a user reading "run is being executed by pid N" may well do
that) does not let a second process execute the run. Every state file is opened
without following symbolic links, and the run directory must be a real directory
owned by the user: a link placed there is refused with an error instead of being
written through. Temporary files have unpredictable names.

Journal segments and their frames are described in
:mod:`~maverick_core.builtin.filestore.segments`: a commit overwrites preallocated
zeros with one checksummed frame and syncs, so the sync has no size or block map to
flush; concurrent commits share one sync (:meth:`FileStore.write_checkpoint`).

The snapshot, and the journal segments written by releases up to 0.1.0 (``.log``,
read and never appended to again: the first append of a newer release to such a run
starts a ``.jnl`` segment), hold *lines*: ``<seq> <checkpoint_id> <created_at> <kind>
<serializer> <checksum> <enc> <payload>\\n``. Text fields are percent-quoted so they hold no
space or newline; ``created_at`` is the float's ``repr`` so the core's checksum
sees the same text. The payload is stored raw (``enc`` ``r``) when it contains no
newline, which compact JSON never does; otherwise (``enc`` ``x``) every ``\\x01``
becomes ``\\x01\\x02`` and every newline ``\\x01\\x03``, a reversible escape that
costs two ``bytes.replace`` calls instead of base64's third more bytes.

A line that does not end in a newline is a torn write: it is read back as a
:class:`~maverick_core.engine.storage.DamagedRecord`. Writing a snapshot once the
current segment is :data:`ROTATE_BYTES` long starts a new segment with the next
record, so reading "after the snapshot" opens only the segments written since.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import fcntl
import json
import os
import shutil
import stat
import struct
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple
from urllib.parse import quote, unquote

import attrs

from maverick_core.builtin.filestore import segments as framed
from maverick_core.builtin.filestore.segments import read_fd
from maverick_core.engine.config import state_dir
from maverick_core.engine.digest import sha256_hex
from maverick_core.engine.durability import atomic_write, sync_directory, sync_file
from maverick_core.engine.errors import LockHeld, MaverickError, StoreError
from maverick_core.engine.storage import (
    CheckpointRecord,
    DamagedRecord,
    LockHolder,
    Project,
    RunRecord,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from maverick_core.engine.runquery import RunPage, RunQuery

RUN_FILE = "run.json"
SNAPSHOT_FILE = "snapshot"
LOCK_FILE = "lock"
SEGMENT_PREFIX = "journal-"
SEGMENT_SUFFIX = framed.SUFFIX
LINE_SEGMENT_SUFFIX = ".log"
"""Segments of releases up to 0.1.0: read, never appended to again."""
ROTATE_BYTES = 256 << 10
"""A snapshot starts a new journal segment once the current one is this large.

A resume reads the segment the snapshot fell in from its start (checking and framing
every record before the snapshot to skip it), so this bounds what it reads for nothing
(about 800 records of a loop, 3 ms): at 1 MiB a 10,000-checkpoint resume framed some
1,200 records it then skipped. A snapshot of a large state comes every quarter of its
size of journal, so such a run starts a segment at about every snapshot."""

_DIR_MODE = 0o700
_FILE_MODE = 0o600
# Characters kept as-is in header fields; everything else (space, newline, '%',
# non-ASCII) is percent-quoted so a header never contains the field separator.
_SAFE = "-._~:/@+=,;!$&'()*[]{}<>|^`\"#?"
_RAW = b"r"
_ESCAPED = b"x"
# How long a refused acquirer waits for the holder to finish writing its name.
_HOLDER_READ_WAIT = 0.2
MAX_RUN_ID = 200
"""The longest run id: a directory name must fit the file system's 255 bytes."""
MAX_RUN_FILE_BYTES = 64 << 20
"""A ``run.json`` larger than this is not one maverick wrote."""
INDEX_DIR = ".index"
"""The directory of run markers (hidden, so releases before it skip it)."""
_STATUSES = ("running", "failed", "interrupted", "completed")


# NamedTuples, not attrs classes: every command that opens the store builds them, and an
# attrs class costs a compile (docs/benchmarks.md, start-up)


class IncompleteRun(NamedTuple):
    """A run directory without ``run.json``: what a kill during run creation leaves.

    :ivar modified_at: the directory's modification time (its age for ``runs prune``).
    """

    run_id: str
    modified_at: float


class _HeldLock(NamedTuple):
    fd: int
    holder: LockHolder
    dir_fd: int = -1


class FileStore:
    """Runs as directories of plain files; see the module docstring for the layout.

    Open with :meth:`open` (the ``file`` scheme's factory) or construct directly
    with the base directory. An instance keeps each run's current journal segment
    and each lock it holds open until :meth:`close`.
    """

    def __init__(self, base: Path, url: str = "file:", gitignore_dir: Path | None = None) -> None:
        """
        :param base: the directory that holds one subdirectory per run.
        :param url: the URL the store was opened with (shown to users).
        :param gitignore_dir: the ``.maverick`` directory ``base`` is inside: the
            state directory the store creates there gets a ``.gitignore``.
        """
        self.url = url
        self.base = base
        self._gitignore_dir = gitignore_dir
        self._segments: dict[str, framed.Segment] = {}
        self._segments_lock = threading.Lock()
        self.unreadable: list[str] = []
        self.incomplete: list[IncompleteRun] = []
        self._locks: dict[str, _HeldLock] = {}

    @classmethod
    def open(cls, url: str, project: Project) -> FileStore:
        """Open the store a ``file:`` URL names, for ``project``.

        ``file:`` is ``<project>/.maverick/checkpoints``; ``file:/abs``,
        ``file:///abs`` and ``file:relative`` (to the project root) name another
        directory.
        """
        root = Path(os.path.abspath(project.root))
        rest = url[len("file:") :] if url.startswith("file:") else None
        if rest is None:
            raise StoreError(f"not a file store URL: {url!r}")
        maverick_dir = root / ".maverick"
        if rest.startswith("//"):
            host, _, path = rest[2:].partition("/")
            if host not in ("", "localhost"):
                raise StoreError(
                    f"file store URL {url!r} names host {host!r}; only local paths work"
                )
            base = Path("/" + unquote(path))
        elif rest:
            base = root / Path(rest).expanduser()
        else:
            base = maverick_dir / "checkpoints"
        base = Path(os.path.abspath(base))
        gitignore_dir = maverick_dir if base.is_relative_to(maverick_dir) else None
        return cls(base, url=url, gitignore_dir=gitignore_dir)

    # ------------------------------------------------------------------ runs

    def create_run(self, run: RunRecord) -> None:
        """Create the run's directory and ``run.json``; StoreError if it exists."""
        run_dir = self._run_dir(run.run_id)
        self._ensure_base()
        try:
            os.mkdir(run_dir, _DIR_MODE)
        except FileExistsError:
            # A directory without run.json is what a crash during create leaves.
            if (run_dir / RUN_FILE).exists():
                raise StoreError(f"run {run.run_id} already exists in {self.base}") from None
        except OSError as error:
            raise StoreError(f"cannot create run directory {run_dir}: {error}") from None
        _check_run_dir(run_dir)
        try:
            self._write_run_file(run_dir, run)
            sync_directory(self.base)
        except (StoreError, OSError) as error:
            # a directory without run.json would be an empty husk in `runs list`
            with contextlib.suppress(OSError):
                os.rmdir(run_dir)
            raise StoreError(str(error)) from None
        # Not synced: a marker lost in a crash is made again from run.json.
        with self._index(create=True) as index_fd:
            if index_fd is not None:
                _add_marker(index_fd, marker_name(run))

    def update_run(self, run: RunRecord) -> None:
        """Replace ``run.json`` atomically; StoreError if the run does not exist.

        When the run's marker changes (its status), the new marker is made durable
        first and the old one removed after, so the index never holds only a wrong one.
        """
        run_dir = self._existing_run_dir(run.run_id)
        with self._index() as index_fd:
            new = marker_name(run)
            if index_fd is None or _marker_exists(index_fd, new):
                self._write_run_file(run_dir, run)
                return
            old = [n for n in _marker_variants(run) if n != new and _marker_exists(index_fd, n)]
            try:
                _add_marker(index_fd, new, strict=True)
                _sync_fd(index_fd)
            except OSError:
                # without a new marker the old one would be wrong: leave none, and
                # the next reader makes one from run.json
                _remove_markers(index_fd, old)
            self._write_run_file(run_dir, run)
            _remove_markers(index_fd, old)

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run record, or None."""
        run_dir = self._run_dir(run_id)
        if not os.path.lexists(run_dir):
            return None
        _check_run_dir(run_dir)
        return self._read_run_file(run_dir)

    def list_runs(self, workflow: str | None = None) -> list[RunRecord]:
        """Every run (of ``workflow``), newest first; reads only the ``run.json`` files.

        A run whose ``run.json`` cannot be read is left out and described in
        :attr:`unreadable` (``maverick runs list`` prints it); ``get_run`` of that run
        still raises. A run directory without ``run.json`` (a kill while the run was
        being created) is left out and named in :attr:`incomplete`, with its age, for
        ``runs list`` and ``runs prune``.
        """
        runs: list[RunRecord] = []
        self.unreadable = []
        self.incomplete = []
        try:
            entries = list(os.scandir(self.base))
        except FileNotFoundError:
            return []
        except OSError as error:
            raise StoreError(f"cannot list runs in {self.base}: {error}") from None
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            try:
                run = self._read_run_file(Path(entry.path))
            except StoreError as error:
                # one damaged run record must not hide every other run
                self.unreadable.append(str(error))
                continue
            if run is None:
                with contextlib.suppress(OSError):
                    self.incomplete.append(IncompleteRun(entry.name, entry.stat().st_mtime))
            elif workflow is None or run.workflow == workflow:
                runs.append(run)
        runs.sort(key=lambda r: (r.created_at, r.run_id), reverse=True)
        return runs

    def delete_run(self, run_id: str) -> bool:
        """Delete the run's directory; LockHeld if another live process holds its lock.

        The directory is first renamed to a hidden tombstone, so the run vanishes
        at once even if removing its files is interrupted.
        """
        run_dir = self._run_dir(run_id)
        try:
            info = os.lstat(run_dir)
        except FileNotFoundError:
            return False
        except OSError as error:
            raise StoreError(f"cannot delete run {run_id}: {error.strerror}") from None
        if not stat.S_ISDIR(info.st_mode):
            return False
        with contextlib.suppress(StoreError):
            self._close_segment(run_id)
        own = self._locks.pop(run_id, None)
        if own is not None:
            _close_lock(own)
        try:
            dir_fd = _open_state(run_dir, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            return False
        lock_fd = -1
        record: RunRecord | None = None
        try:
            _flock_or_held(dir_fd, run_id, run_dir)
            lock_fd = _flock_lock_file(run_dir, run_id)
            with contextlib.suppress(StoreError):
                record = self._read_run_file(run_dir)
            tombstone = self.base / f".deleted-{run_id[:40]}-{os.urandom(4).hex()}"
            try:
                os.rename(run_dir, tombstone)
            except FileNotFoundError:
                return False
            sync_directory(self.base)
            shutil.rmtree(tombstone, ignore_errors=True)
        except OSError as error:
            raise StoreError(f"cannot delete run {run_id}: {error.strerror}") from None
        finally:
            _close_fds(lock_fd, dir_fd)
        if record is not None:
            # a marker left behind (a crash now) is removed by the next reader
            with self._index() as index_fd:
                if index_fd is not None:
                    _remove_markers(index_fd, _marker_variants(record))
        return True

    def query_runs(self, query: RunQuery) -> RunPage:
        """One page of runs, newest first, read through the index (module docstring).

        Reads the names in the store and its index, and ``run.json`` only for the
        runs on the page, for runs without a marker (once: they are given one) and
        for runs with two (a crash during a status change; the wrong one is
        removed). Like :meth:`list_runs` it fills :attr:`unreadable` and
        :attr:`incomplete`.

        :raises QueryError: for a bad limit, status or cursor.
        """
        from maverick_core.engine.runquery import RunPage, page_of  # here: a run lists none

        query.check()
        after = query.after()
        self.unreadable = []
        self.incomplete = []
        with self._index(create=True) as index_fd:
            # The index is listed before the runs: a marker is made after its run's
            # run.json, so a marker whose run is not listed belongs to a deleted run.
            listed = _index_names(index_fd)
            try:
                names = {name for name in os.listdir(self.base) if not name.startswith(".")}
            except FileNotFoundError:
                return RunPage(runs=[], next_cursor=None)
            except OSError as error:
                raise StoreError(f"cannot list runs in {self.base}: {error}") from None
            page = self._consistent_page(listed, names, query, after, index_fd)
            if page is not None:
                return page
            markers = _markers_by_run(listed)
            known: dict[str, RunRecord | None] = {}
            for run_id in markers.keys() - names:
                _remove_markers(index_fd, [m.name for m in markers.pop(run_id)])
            for run_id in names:
                found = markers.get(run_id)
                if found is not None and len(found) == 1:
                    continue  # a marker is made only for a run directory
                run = self._read_for_index(run_id)
                if run is None:
                    markers.pop(run_id, None)
                    continue
                known[run_id] = run
                markers[run_id] = [_repair_markers(index_fd, run, found or [])]
            tag = None if query.workflow is None else workflow_tag(query.workflow)
            since = None if query.since is None else time_key(query.since)
            start = None if after is None else (time_key(after[0]), after[1])
            while True:
                # plain tuples compared in C: (key, run_id) first, as listings order
                candidates = [
                    marker
                    for (marker,) in markers.values()
                    if (tag is None or marker.tag == tag)
                    and (not query.statuses or marker.status in query.statuses)
                    and (since is None or marker.key >= since)
                    and (start is None or (marker.key, marker.run_id) < start)
                ]
                candidates.sort(reverse=True)
                runs = self._confirmed(candidates, markers, known, query, index_fd)
                if runs is not None:
                    return page_of(runs, query)

    def _consistent_page(
        self,
        listed: list[str],
        names: set[str],
        query: RunQuery,
        after: tuple[float, str] | None,
        index_fd: int | None,
    ) -> RunPage | None:
        """The page, parsing only the markers it passes over, when the index holds
        exactly one marker per run directory and nothing else; None otherwise (the
        caller then repairs the index from every name, as the first listing of a
        store written before the index does).

        The names sort as the listing orders runs up to ties of the time key (the
        status comes before the run id in a name), so they are sorted once in C, and
        walked from the cursor's position down, a group of equal keys at a time.
        """
        run_ids = [name.split("-", 3)[-1] for name in listed]
        if len(run_ids) != len(names) or set(run_ids) != names:
            return None  # a run without a marker, a run with two, a stray name
        listed.sort()
        end = len(listed)
        if after is not None:
            # every name whose key is at most the cursor's; its own key's group is
            # ordered by run id below
            end = bisect.bisect_right(listed, time_key(after[0]) + "~")
        start = None if after is None else (time_key(after[0]), after[1])
        tag = None if query.workflow is None else workflow_tag(query.workflow)
        since = None if query.since is None else time_key(query.since)

        def candidates() -> Iterator[_Marker]:
            index = end
            while index > 0:
                key = listed[index - 1][:16]
                first = index - 1
                while first > 0 and listed[first - 1][:16] == key:
                    first -= 1
                if since is not None and key < since:
                    return
                group: list[_Marker] = []
                for name in listed[first:index]:
                    parsed = _parse_marker(name)
                    if parsed is None:
                        raise _StaleIndexError
                    group.append(parsed)
                group.sort(reverse=True)  # (key, run id) descending, as listings order
                for marker in group:
                    if (
                        (tag is None or marker.tag == tag)
                        and (not query.statuses or marker.status in query.statuses)
                        and (start is None or (marker.key, marker.run_id) < start)
                    ):
                        yield marker
                index = first

        markers: dict[str, list[_Marker]] = {}
        try:
            runs = self._confirmed(candidates(), markers, {}, query, index_fd)
        except _StaleIndexError:
            return None
        from maverick_core.engine.runquery import page_of

        return None if runs is None else page_of(runs, query)

    def _confirmed(
        self,
        candidates: Iterable[_Marker],
        markers: dict[str, list[_Marker]],
        known: dict[str, RunRecord | None],
        query: RunQuery,
        index_fd: int | None,
    ) -> list[RunRecord] | None:
        """The page's runs (one more than the limit) as their ``run.json`` has them.

        A run whose ``run.json`` disagrees with its marker (changed by a writer that
        does not keep the index) gets its marker repaired; if that moves the run in
        the listing order, None: the caller selects again from the repaired markers.
        """
        runs: list[RunRecord] = []
        for marker in candidates:
            if marker.run_id in known:
                run = known[marker.run_id]
            else:
                try:
                    run = self._read_run_file(self.base / marker.run_id)
                except StoreError as error:
                    self.unreadable.append(str(error))
                    run = None
                known[marker.run_id] = run
            if run is None:
                continue  # unreadable, or deleted since the listing
            if marker_name(run) != marker.name:
                markers[run.run_id] = [_repair_markers(index_fd, run, [marker])]
                if (time_key(run.created_at), run.run_id) != (marker.key, marker.run_id):
                    return None
                if not query.matches(run):
                    continue
            elif query.workflow is not None and run.workflow != query.workflow:
                continue  # another workflow with the same tag
            runs.append(run)
            if len(runs) > query.limit:
                break
        return runs

    def _read_for_index(self, name: str) -> RunRecord | None:
        """A run's record for the index, noting an unreadable or incomplete run
        (anything that is not a real directory is passed over, as by ``list_runs``)."""
        path = self.base / name
        try:
            info = os.lstat(path)
        except OSError:
            return None
        if not stat.S_ISDIR(info.st_mode):
            return None
        try:
            run = self._read_run_file(path)
        except StoreError as error:
            self.unreadable.append(str(error))
            return None
        if run is None:
            self.incomplete.append(IncompleteRun(name, info.st_mtime))
        return run

    # ----------------------------------------------------------- checkpoints

    def append_checkpoint(self, record: CheckpointRecord) -> None:
        """Append one frame to the run's journal and sync it: one write, one sync."""
        self.write_checkpoint(record)()

    def write_checkpoint(self, record: CheckpointRecord) -> Callable[[], None]:
        """Put the record in the journal; the returned function makes it durable.

        The split is what lets concurrent commits share a sync (group commit):
        writes are ordered by the caller, while any number of threads may wait in
        the returned function at once, and one ``fdatasync`` then covers every
        record written before it began. A record is durable, and may be reported
        saved, only once the function returned.

        :raises StoreError: from either half; after a failure the records not yet
            durable are cut off, and the next write finds the journal's end afresh.
        """
        frame = framed.pack(record)
        with self._segments_lock:
            segment = self._segment_for(record)
            try:
                end = segment.write(frame)
            except OSError as error:
                self._segments.pop(record.run_id, None)
                raise self._append_error(record, segment, error) from None

        def wait_durable() -> None:
            try:
                segment.wait_durable(end)
            except OSError as error:
                raise self._append_error(record, segment, error) from None

        return wait_durable

    @staticmethod
    def _append_error(
        record: CheckpointRecord, segment: framed.Segment, error: OSError
    ) -> StoreError:
        return StoreError(
            f"cannot append checkpoint {record.checkpoint_id} of run {record.run_id} "
            f"to {segment.path}: {error}"
        )

    def read_checkpoints(
        self, run_id: str, after_seq: int = 0
    ) -> Iterator[CheckpointRecord | DamagedRecord]:
        """The journal from the first record with ``seq > after_seq``.

        Only segments that can hold such records are opened. A damaged line is
        reported unless a later intact line shows it lies before ``after_seq``.
        """
        run_dir = self._run_dir(run_id)
        segments = _list_segments(run_dir)
        start = 0
        for index, (first_seq, _) in enumerate(segments):
            if first_seq <= after_seq + 1:
                start = index
        return self._iter_segments(run_id, segments[start:], after_seq)

    def write_snapshot(self, record: CheckpointRecord) -> None:
        """Replace the run's snapshot atomically.

        When the current journal segment has grown past :data:`ROTATE_BYTES`, the
        next append starts a new one, so reading after the snapshot never scans
        more than that much history.
        """
        run_dir = self._existing_run_dir(record.run_id)
        _atomic_write(run_dir / SNAPSHOT_FILE, _frame(record))
        segment = self._segments.get(record.run_id)
        if segment is not None and segment.size >= ROTATE_BYTES:
            segment.rotate = True

    def read_snapshot(self, run_id: str) -> CheckpointRecord | DamagedRecord | None:
        """The run's snapshot, a DamagedRecord if it does not frame, or None."""
        path = self._run_dir(run_id) / SNAPSHOT_FILE
        try:
            data = _read_state_file(path)
        except FileNotFoundError:
            return None
        except (OSError, StoreError) as error:
            return DamagedRecord(run_id=run_id, position=str(path), reason=str(error))
        if not data.endswith(b"\n"):
            return DamagedRecord(run_id=run_id, position=str(path), reason="torn: no final newline")
        return _parse(run_id, data[:-1], str(path))

    # ------------------------------------------------------------------ locks

    def acquire_lock(self, run_id: str, holder: LockHolder) -> LockHolder | None:
        """flock the run's lock file and write ``holder`` into it.

        :returns: the holder the file still named (it died without releasing), or
            None.
        :raises LockHeld: when another open lock (any process, or another store
            instance in this one) holds it.
        """
        run_dir = self._existing_run_dir(run_id)
        held = self._locks.get(run_id)
        if held is not None:
            if _same_holder(held.holder, holder):
                return None
            raise LockHeld(_held_message(run_id, held.holder))
        path = run_dir / LOCK_FILE
        try:
            dir_fd = _open_state(run_dir, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as error:
            raise StoreError(f"cannot lock run {run_id}: {error.strerror}") from None
        fd = -1
        try:
            _flock_or_held(dir_fd, run_id, run_dir)
            fd = _open_state(path, os.O_RDWR | os.O_CREAT)
            # the lock file is flock'ed too, so a release before this one (which
            # locked only the file) still excludes this one and the other way round
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LockHeld(_held_message(run_id, _read_holder_waiting(fd))) from None
            # A concurrent delete_run may have moved the directory away between
            # open and flock; then this lock guards nothing.
            if os.fstat(dir_fd).st_ino != _inode(run_dir):
                raise StoreError(f"run {run_id} was deleted while its lock was being taken")
            previous = _parse_holder(read_fd(fd))
            _write_holder(fd, _holder_json(holder))
            _remove_stale_temporaries(run_dir)
        except OSError as error:
            _close_fds(fd, dir_fd)
            raise StoreError(f"cannot lock run {run_id} ({path}): {error.strerror}") from None
        except BaseException:
            _close_fds(fd, dir_fd)
            raise
        self._locks[run_id] = _HeldLock(fd=fd, holder=holder, dir_fd=dir_fd)
        # Another holder may have appended (and rotated segments) since this
        # instance last did: find the journal's end afresh.
        self._close_segment(run_id)
        return previous

    def release_lock(self, run_id: str, holder: LockHolder) -> None:
        """Empty the lock file and unlock it, if this store holds it for ``holder``."""
        held = self._locks.get(run_id)
        if held is None or not _same_holder(held.holder, holder):
            return
        del self._locks[run_id]
        try:
            self._close_segment(run_id)
        finally:
            try:
                # Empty means "released": the next acquirer reports no takeover. Not
                # synced, as the holder record is not (see _write_holder).
                os.ftruncate(held.fd, 0)
            except OSError as error:
                raise StoreError(f"cannot release the lock of run {run_id}: {error}") from None
            finally:
                _close_lock(held)

    def close(self) -> None:
        """Close journal segments and release every lock still held."""
        for run_id in list(self._segments):
            self._close_segment(run_id)
        for run_id, held in list(self._locks.items()):
            self.release_lock(run_id, held.holder)

    def __enter__(self) -> FileStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -------------------------------------------------------------- internals

    def _run_dir(self, run_id: str) -> Path:
        if (
            not isinstance(run_id, str)
            or not run_id
            or run_id.startswith(".")
            or "/" in run_id
            or "\0" in run_id
        ):
            raise StoreError(f"invalid run id {run_id!r}")
        if len(run_id) > MAX_RUN_ID:
            raise StoreError(f"invalid run id {run_id[:20]!r}...: longer than {MAX_RUN_ID}")
        return self.base / run_id

    def _existing_run_dir(self, run_id: str) -> Path:
        run_dir = self._run_dir(run_id)
        if not os.path.lexists(run_dir / RUN_FILE):
            raise StoreError(f"no run {run_id} in {self.base}")
        _check_run_dir(run_dir)
        return run_dir

    @contextlib.contextmanager
    def _index(self, create: bool = False) -> Iterator[int | None]:
        """The index directory, open (None when it cannot be had: a read-only store).

        :param create: make it when it is missing (readers build the index).
        """
        path = self.base / INDEX_DIR
        fd = None
        try:
            if create and self.base.is_dir():
                with contextlib.suppress(FileExistsError):
                    os.mkdir(path, _DIR_MODE)
            _check_run_dir(path)
            fd = _open_state(path, os.O_RDONLY | os.O_DIRECTORY)
        except (OSError, StoreError):
            # none (read-only, or something planted there, which is never followed):
            # every listing reads every run.json, slower but still correct
            fd = None
        try:
            yield fd
        finally:
            if fd is not None:
                os.close(fd)

    def _ensure_base(self) -> None:
        if self.base.is_dir():
            return
        if self._gitignore_dir is not None:
            # the state directory under .maverick/ (checkpoints/) ignores itself in git
            parts = self.base.relative_to(self._gitignore_dir).parts
            if parts:
                try:
                    state_dir(self._gitignore_dir.parent, parts[0])
                except MaverickError as error:
                    raise StoreError(error.message) from None
        _mkdirs(self.base)

    def _write_run_file(self, run_dir: Path, run: RunRecord) -> None:
        try:
            data = json.dumps(attrs.asdict(run), ensure_ascii=False, indent=1)
        except (TypeError, ValueError) as error:
            raise StoreError(
                f"run {run.run_id}: the run record is not plain data: {error}"
            ) from None
        _atomic_write(run_dir / RUN_FILE, data.encode("utf-8"))

    def _read_run_file(self, run_dir: Path) -> RunRecord | None:
        path = run_dir / RUN_FILE
        try:
            return RunRecord.from_plain(json.loads(_read_state_file(path, MAX_RUN_FILE_BYTES)))
        except FileNotFoundError:
            return None
        except RecursionError:
            raise StoreError(f"cannot read {path}: nested too deeply") from None
        except (OSError, ValueError, TypeError) as error:
            raise StoreError(f"cannot read {path}: {error}") from None

    def _segment_for(self, record: CheckpointRecord) -> framed.Segment:
        """The open segment ``record`` goes to (rotating first when one is due).

        :raises StoreError: once after a failed write or sync, so the writer knows
            records were cut off (the checkpoint plugin then writes a full record).
        """
        segment = self._segments.get(record.run_id)
        if segment is not None and segment.closed:
            del self._segments[record.run_id]
            raise StoreError(
                f"cannot append checkpoint {record.checkpoint_id} of run {record.run_id}: "
                f"an earlier write or sync of {segment.path} failed ({segment.failure}); "
                "the records after the last good sync were cut off"
            )
        if segment is not None and segment.rotate and record.seq > segment.first_seq:
            self._close_segment(record.run_id)
            segment = None
        if segment is None:
            segment = self._open_segment(record)
            self._segments[record.run_id] = segment
        return segment

    def _open_segment(self, record: CheckpointRecord) -> framed.Segment:
        """Open the segment ``record`` goes to, recovering its end first.

        A new segment starts when there is none, after a snapshot once the last
        one is :data:`ROTATE_BYTES` long, after a segment of an older release
        (``.log``, which stays as it is, its torn tail cut), and after a segment
        that ends in an edited frame (kept as evidence).
        """
        run_dir = self._existing_run_dir(record.run_id)
        segments = _list_segments(run_dir)
        try:
            if segments:
                last_first_seq, last_path = segments[-1]
                # A seq that does not grow cannot name a later segment.
                later = record.seq > last_first_seq
                if last_path.suffix == LINE_SEGMENT_SUFFIX:
                    _repair(last_path)
                else:
                    # recovering also zeroes a torn tail, which must not stay in the
                    # middle of the journal when a new segment follows
                    segment, edited = framed.Segment.recover(last_path, last_first_seq, _open_state)
                    rotate = later and self._rotation_due(run_dir, last_first_seq, segment.size)
                    if not (later and (edited or rotate)):
                        return segment
                    segment.close(trim=not edited)
            path = run_dir / f"{SEGMENT_PREFIX}{record.seq}{SEGMENT_SUFFIX}"
            if os.path.lexists(path):
                return framed.Segment.recover(path, record.seq, _open_state)[0]
            return framed.Segment.create(path, record.seq, _open_state)
        except OSError as error:
            raise StoreError(
                f"cannot prepare the journal of run {record.run_id}: {error}"
            ) from None

    @staticmethod
    def _rotation_due(run_dir: Path, last_first_seq: int, size: int) -> bool:
        snapshot_seq = _snapshot_seq(run_dir / SNAPSHOT_FILE)
        return snapshot_seq is not None and snapshot_seq >= last_first_seq and size >= ROTATE_BYTES

    def _close_segment(self, run_id: str) -> None:
        """Close the run's segment, giving back its preallocated zeros."""
        segment = self._segments.pop(run_id, None)
        if segment is None:
            return
        try:
            segment.close()
        except OSError as error:
            raise StoreError(f"cannot close journal {segment.path}: {error}") from None

    def _iter_segments(
        self, run_id: str, segments: list[tuple[int, Path]], after_seq: int
    ) -> Iterator[CheckpointRecord | DamagedRecord]:
        pending: list[DamagedRecord] = []
        for _, path in segments:
            try:
                handle = os.fdopen(_open_state(path, os.O_RDONLY), "rb")
            except FileNotFoundError:
                continue  # deleted since listing
            except (OSError, StoreError) as error:
                pending.append(DamagedRecord(run_id, str(path), str(error)))
                continue
            with handle:
                try:
                    if path.suffix == SEGMENT_SUFFIX:
                        read = framed.read_records(run_id, path, framed.read_fd(handle.fileno()))
                    else:
                        read = _line_records(run_id, handle, path.name)
                    for parsed in read:
                        if isinstance(parsed, DamagedRecord):
                            pending.append(parsed)
                        elif parsed.seq > after_seq:
                            yield from pending
                            pending.clear()
                            yield parsed
                        else:
                            pending.clear()
                except OSError as error:
                    pending.append(DamagedRecord(run_id, str(path), f"cannot read: {error}"))
        yield from pending


# ------------------------------------------------------------------- index

_SIGN = 1 << 63
_ALL_BITS = (1 << 64) - 1


class _Marker(NamedTuple):
    """A parsed index entry. As a tuple it orders as listings do: ``(key, run_id)``,
    the key being :func:`time_key` of ``created_at``."""

    key: str
    run_id: str
    status: str
    tag: str
    name: str


def time_key(created_at: float) -> str:
    """16 hex digits that sort as the float does (its bits, sign folded in)."""
    (bits,) = struct.unpack(">Q", struct.pack(">d", created_at))
    bits = bits ^ _ALL_BITS if bits & _SIGN else bits | _SIGN
    return f"{bits:016x}"


def workflow_tag(workflow: str) -> str:
    """The 8 hex digits a marker carries for its run's workflow."""
    return sha256_hex(workflow.encode("utf-8", "surrogatepass"))[:8]


def marker_name(run: RunRecord) -> str:
    """The name of ``run``'s index marker."""
    return f"{time_key(run.created_at)}-{run.status}-{workflow_tag(run.workflow)}-{run.run_id}"


def _marker_variants(run: RunRecord) -> list[str]:
    """The names ``run``'s marker has in each status."""
    return [marker_name(attrs.evolve(run, status=status)) for status in _STATUSES]


def _parse_marker(name: str) -> _Marker | None:
    parts = name.split("-", 3)
    if len(parts) != 4 or len(parts[0]) != 16 or parts[1] not in _STATUSES or len(parts[2]) != 8:
        return None
    if not parts[3] or parts[3].startswith("."):
        return None
    return _Marker(parts[0], parts[3], parts[1], parts[2], name)


class _StaleIndexError(Exception):
    """A name in the index is not a marker: list the slow way, which ignores it."""


def _index_names(index_fd: int | None) -> list[str]:
    """The names in the index (none when it cannot be listed)."""
    if index_fd is None:
        return []
    try:
        return os.listdir(index_fd)
    except OSError:
        return []


def _markers_by_run(names: list[str]) -> dict[str, list[_Marker]]:
    """The index's markers by run id (a name that is not a marker is ignored)."""
    markers: dict[str, list[_Marker]] = {}
    for name in names:
        marker = _parse_marker(name)
        if marker is not None:
            markers.setdefault(marker.run_id, []).append(marker)
    return markers


def _marker_exists(index_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=index_fd, follow_symlinks=False)
    except OSError:
        return False
    return True


def _add_marker(index_fd: int, name: str, strict: bool = False) -> None:
    """Create an empty marker (never through a link); errors only when ``strict``."""
    try:
        fd = os.open(
            name,
            os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
            _FILE_MODE,
            dir_fd=index_fd,
        )
    except OSError:
        if strict:
            raise
        return
    os.close(fd)


def _remove_markers(index_fd: int | None, names: list[str]) -> None:
    if index_fd is None:
        return
    for name in names:
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=index_fd)


def _repair_markers(index_fd: int | None, run: RunRecord, found: list[_Marker]) -> _Marker:
    """Leave exactly ``run``'s right marker in the index; returns it."""
    name = marker_name(run)
    if index_fd is not None:
        if name not in {m.name for m in found}:
            _add_marker(index_fd, name)
        _remove_markers(index_fd, [m.name for m in found if m.name != name])
    marker = _parse_marker(name)
    assert marker is not None  # a name marker_name made always parses
    return marker


def _sync_fd(fd: int) -> None:
    try:
        sync_file(fd)
    except OSError as error:
        if error.errno != errno.EINVAL:
            raise


# ------------------------------------------------------------------ framing


def _quote(text: str) -> bytes:
    return quote(text, safe=_SAFE).encode("ascii")


def _frame(record: CheckpointRecord) -> bytes:
    """The record as one journal line, newline included."""
    payload = record.payload
    if b"\n" in payload:
        payload = payload.replace(b"\x01", b"\x01\x02").replace(b"\n", b"\x01\x03")
        enc = _ESCAPED
    else:
        enc = _RAW
    # One formatting operation: the payload (possibly megabytes) is copied once.
    return b"%d %s %s %s %s %s %s %s\n" % (
        record.seq,
        _quote(record.checkpoint_id),
        repr(record.created_at).encode("ascii"),
        _quote(record.kind),
        _quote(record.serializer),
        _quote(record.checksum),
        enc,
        payload,
    )


def _parse(run_id: str, line: bytes, position: str) -> CheckpointRecord | DamagedRecord:
    """A line without its newline back into a record, or why it does not frame."""
    parts = line.split(b" ", 7)
    if len(parts) != 8:
        return DamagedRecord(run_id, position, f"expected 8 fields, found {len(parts)}")
    seq, checkpoint_id, created_at, kind, serializer, checksum, enc, payload = parts
    try:
        if enc == _ESCAPED:
            payload = payload.replace(b"\x01\x03", b"\n").replace(b"\x01\x02", b"\x01")
        elif enc != _RAW:
            return DamagedRecord(run_id, position, f"unknown payload encoding {enc!r}")
        return CheckpointRecord(
            run_id=run_id,
            seq=int(seq),
            checkpoint_id=unquote(checkpoint_id.decode("ascii"), errors="strict"),
            kind=unquote(kind.decode("ascii"), errors="strict"),
            created_at=float(created_at),
            serializer=unquote(serializer.decode("ascii"), errors="strict"),
            payload=payload,
            checksum=unquote(checksum.decode("ascii"), errors="strict"),
        )
    except ValueError as error:  # UnicodeDecodeError is one
        return DamagedRecord(run_id, position, f"header does not parse: {error}")


def _line_records(
    run_id: str, handle: BinaryIO, name: str
) -> Iterator[CheckpointRecord | DamagedRecord]:
    """The records of a line segment (or why a line does not frame)."""
    offset = 0
    for line in handle:
        position = f"{name}@{offset}"
        offset += len(line)
        if not line.endswith(b"\n"):
            yield DamagedRecord(run_id, position, "torn write: the line has no end")
        else:
            yield _parse(run_id, line[:-1], position)


def _list_segments(run_dir: Path) -> list[tuple[int, Path]]:
    """The run's journal segments as (first seq, path), in seq order.

    At the same first seq a line segment comes first: a release that writes frames
    starts its first segment in an old run with the record after the last line.
    """
    try:
        names = os.listdir(run_dir)
    except FileNotFoundError:
        return []
    except OSError as error:
        raise StoreError(f"cannot list {run_dir}: {error}") from None
    segments = []
    suffixes = (LINE_SEGMENT_SUFFIX, SEGMENT_SUFFIX)
    for name in names:
        stem, suffix = os.path.splitext(name)
        if stem.startswith(SEGMENT_PREFIX) and suffix in suffixes:
            try:
                first_seq = int(stem[len(SEGMENT_PREFIX) :])
            except ValueError:
                continue
            segments.append((first_seq, suffixes.index(suffix), run_dir / name))
    segments.sort()
    return [(first_seq, path) for first_seq, _, path in segments]


def _snapshot_seq(path: Path) -> int | None:
    """The snapshot's seq, from the first bytes of its line only."""
    try:
        fd = _open_state(path, os.O_RDONLY)
    except (OSError, StoreError):
        return None
    try:
        return int(os.read(fd, 32).split(b" ", 1)[0])
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def _repair(path: Path) -> None:
    """Cut a torn tail off a segment that will not be appended to any more."""
    fd = _open_state(path, os.O_RDWR)
    try:
        _cut_torn_tail(fd)
    finally:
        os.close(fd)


def _cut_torn_tail(fd: int) -> int:
    """Cut a last line that has no newline (a torn append); returns the new size."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    end = size
    chunk = 64 * 1024
    while end > 0:
        start = max(0, end - chunk)
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            break
        end = start
    os.ftruncate(fd, end)
    sync_file(fd)
    return end


# -------------------------------------------------------------------- files


def _mkdirs(path: Path) -> None:
    """Create ``path`` and its missing parents, each 0700 (``mkdir -p`` would give the
    parents the umask's mode)."""
    missing: list[Path] = []
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    try:
        for directory in reversed(missing):
            with contextlib.suppress(FileExistsError):
                os.mkdir(directory, _DIR_MODE)
        if not path.is_dir():
            raise NotADirectoryError(f"{path} is not a directory")
    except OSError as error:
        raise StoreError(f"cannot create directory {path}: {error}") from None


def _atomic_write(path: Path, data: bytes, mode: int = _FILE_MODE) -> None:
    """Write ``path`` so that a crash leaves either the old or the new content.

    The temporary file has an unpredictable name and is created exclusively, so a
    link planted in its place cannot redirect the write.
    """
    try:
        atomic_write(path, data, mode)
    except OSError as error:
        if error.errno == errno.ENOENT:
            raise StoreError(f"cannot write {path}: its directory does not exist") from None
        raise StoreError(f"cannot write {path}: {error}") from None


def _open_state(path: Path, flags: int) -> int:
    """Open a state file (or the run directory) without following a link to it.

    Opens never block (a FIFO planted as a state file is refused, not waited on)
    and what is opened must be what maverick makes: a regular file, or a
    directory when ``O_DIRECTORY`` is asked for.

    :raises StoreError: for a link or anything else maverick did not write.
    :raises OSError: for the other failures (FileNotFoundError included).
    """
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, _FILE_MODE)
    except OSError as error:
        if error.errno == errno.ELOOP or (
            error.errno == errno.ENOTDIR and flags & os.O_DIRECTORY and os.path.islink(path)
        ):
            raise StoreError(
                f"{path} is a symbolic link; maverick never makes one there, so it was "
                "not followed (remove it)"
            ) from None
        raise
    info = os.fstat(fd)
    want = stat.S_ISDIR if flags & os.O_DIRECTORY else stat.S_ISREG
    if not want(info.st_mode):
        os.close(fd)
        raise StoreError(f"{path} is not a file maverick wrote (remove it)")
    if not flags & os.O_DIRECTORY:
        os.set_blocking(fd, True)
    return fd


def _read_state_file(path: Path, limit: int | None = None) -> bytes:
    """A whole state file, opened as :func:`_open_state` does (at most ``limit`` bytes)."""
    fd = _open_state(path, os.O_RDONLY)
    try:
        if limit is not None and os.fstat(fd).st_size > limit:
            raise StoreError(f"{path} is larger than {limit} bytes: not a file maverick wrote")
        return read_fd(fd)
    finally:
        os.close(fd)


def _check_run_dir(run_dir: Path) -> None:
    """Refuse a run directory that is a link, not a directory, or someone else's."""
    try:
        info = os.lstat(run_dir)
    except FileNotFoundError:
        return
    except OSError as error:
        raise StoreError(f"cannot inspect {run_dir}: {error.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        raise StoreError(
            f"{run_dir} is a symbolic link; a run directory is never one, so it was "
            "not followed (remove it)"
        )
    if not stat.S_ISDIR(info.st_mode):
        raise StoreError(f"{run_dir} is not a directory maverick made (remove it)")
    if info.st_uid != os.geteuid():
        raise StoreError(
            f"{run_dir} belongs to user id {info.st_uid}, not to you; a run directory "
            "someone else can write to is not trusted"
        )


def _remove_stale_temporaries(run_dir: Path) -> None:
    """Remove temporary files a crashed holder left (only the holder calls this)."""
    for name in os.listdir(run_dir):
        if name.startswith(".") and name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                os.unlink(run_dir / name)


def _inode(path: Path) -> int:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return -1


def _write_holder(fd: int, data: bytes) -> None:
    # Not synced. What the lock file says serves two readers: one refused while the
    # holder lives (no machine crash since it was written, so the page cache has it)
    # and the next acquirer, which reports a takeover. Only a machine crash can lose
    # the write (or the release's truncation), and then every holder is dead: the
    # file reads as empty, the holder before, or unparsable, which changes only
    # whether that report names someone. The flock, not the file, excludes.
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


# -------------------------------------------------------------------- locks


def _holder_json(holder: LockHolder) -> bytes:
    return json.dumps(holder.to_plain()).encode()


def _parse_holder(data: bytes) -> LockHolder | None:
    if not data.strip():
        return None
    try:
        fields: dict[str, Any] = json.loads(data)
        started_at = fields.get("started_at")  # absent in lock files of older releases
        return LockHolder(
            pid=int(fields["pid"]),
            host=str(fields["host"]),
            acquired_at=float(fields["acquired_at"]),
            token=str(fields.get("token", "")),
            started_at=None if started_at is None else float(started_at),
        )
    except (ValueError, TypeError, KeyError):
        return None


def _flock_or_held(dir_fd: int, run_id: str, run_dir: Path) -> None:
    """flock the run directory; LockHeld naming the holder if another process has it."""
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = None
        try:
            fd = _open_state(run_dir / LOCK_FILE, os.O_RDONLY)
        except (OSError, StoreError):
            pass  # the lock file was removed: the holder is still known by the flock
        else:
            try:
                holder = _read_holder_waiting(fd)
            finally:
                os.close(fd)
        raise LockHeld(_held_message(run_id, holder or _holder_in_run_file(run_dir))) from None


def _holder_in_run_file(run_dir: Path) -> LockHolder | None:
    """The holder ``run.json`` names (when the lock file was removed under it)."""
    try:
        meta = json.loads(_read_state_file(run_dir / RUN_FILE, MAX_RUN_FILE_BYTES))["meta"]
        holder = meta["holder"]
        return LockHolder(pid=int(holder["pid"]), host=str(holder["host"]), acquired_at=0.0)
    except (OSError, StoreError, ValueError, TypeError, KeyError, RecursionError):
        return None


def _flock_lock_file(run_dir: Path, run_id: str) -> int:
    """flock the lock file too, as releases before this one locked only that file.

    :returns: its descriptor, to keep open while the lock is needed (-1 if absent).
    """
    try:
        fd = _open_state(run_dir / LOCK_FILE, os.O_RDWR)
    except FileNotFoundError:
        return -1
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder_waiting(fd)
        os.close(fd)
        raise LockHeld(_held_message(run_id, holder)) from None
    return fd


def _close_fds(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)


def _close_lock(held: _HeldLock) -> None:
    _close_fds(held.fd, held.dir_fd)


def _read_holder_waiting(fd: int) -> LockHolder | None:
    """The holder named in a busy lock file, waiting briefly for it to be written."""
    deadline = time.monotonic() + _HOLDER_READ_WAIT
    while True:
        holder = _parse_holder(read_fd(fd))
        if holder is not None or time.monotonic() > deadline:
            return holder
        time.sleep(0.01)


def _held_message(run_id: str, holder: LockHolder | None) -> str:
    who = holder.describe() if holder is not None else "another process (not yet named)"
    return f"run {run_id} is being executed by {who}"


def _same_holder(a: LockHolder, b: LockHolder) -> bool:
    return (a.pid, a.host, a.token) == (b.pid, b.host, b.token)
