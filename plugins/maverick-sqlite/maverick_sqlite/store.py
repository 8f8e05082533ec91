"""The SQLite store: every run of every project in one database file.

``sqlite:///runs.db`` is relative to the project root, ``sqlite:////abs/runs.db``
absolute. Runs are namespaced by the project's name, so one file can serve many
projects. The database runs in WAL mode with ``synchronous=FULL``: every write
method is one committed, fsynced transaction when it returns.

Locks are rows naming their holder (pid, host, process start time). A holder on
this host whose process is gone (or whose pid now belongs to a younger process) is
dead, and its lock is taken over; a holder on another host is always presumed
alive, since it cannot be checked from here.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import attrs

from maverick_core.api import (
    RECORD_COLUMNS,
    CheckpointRecord,
    DamagedRecord,
    LockHeld,
    LockHolder,
    Project,
    RunPage,
    RunQuery,
    RunRecord,
    StoreError,
    durability,
    page_of,
    process_alive,
    process_start_time,
    record_from_row,
    record_values,
)
from maverick_sqlite.schema import migrate

if TYPE_CHECKING:
    from collections.abc import Iterator

BUSY_TIMEOUT_MS = 30_000
"""How long a write waits for another process's transaction before failing."""

_FETCH_BATCH = 64
_RECORD_COLUMNS = ", ".join(RECORD_COLUMNS)


class SQLiteStore:
    """A :class:`~maverick_core.engine.storage.Store` in one SQLite database file."""

    def __init__(self, path: Path, project: Project, url: str = "") -> None:
        """Open (creating, mode 0600) and migrate the database at ``path``.

        :raises StoreError: when it cannot be opened or its schema is too new.
        """
        self.url = url or f"sqlite:///{path}"
        self.path = path
        self.project = project.name
        self._held: dict[str, LockHolder] = {}
        self._process_start = _process_start(os.getpid())
        try:
            _create_private(path)
            # Autocommit mode: transactions are begun explicitly where one is needed,
            # and every single statement otherwise commits (and fsyncs) by itself.
            self._db = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"cannot open SQLite store {path}: {error}") from None
        try:
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            # macOS: flush the drive's cache on commit, as the file store's sync_file does
            fullfsync = "ON" if durability() == "full" else "OFF"
            self._db.execute(f"PRAGMA fullfsync = {fullfsync}")
            self._db.execute(f"PRAGMA checkpoint_fullfsync = {fullfsync}")
            self._db.execute("PRAGMA foreign_keys = ON")
            migrate(self._db, str(path))
        except sqlite3.Error as error:
            self._db.close()
            raise StoreError(f"cannot open SQLite store {path}: {error}") from None
        except StoreError:
            self._db.close()
            raise

    @classmethod
    def open(cls, url: str, project: Project) -> SQLiteStore:
        """The ``sqlite`` scheme's factory: ``sqlite:///rel/path.db``, ``sqlite:////abs.db``."""
        if not url.startswith("sqlite://"):
            raise StoreError(
                f"not a SQLite store URL: {url!r} (use sqlite:///relative.db or sqlite:////abs.db)"
            )
        rest = unquote(url[len("sqlite://") :])
        if not rest.startswith("/") or rest == "/":
            raise StoreError(
                f"SQLite store URL {url!r} names no file "
                "(use sqlite:///relative/path.db or sqlite:////absolute/path.db)"
            )
        relative = rest[1:]
        path = Path(relative) if relative.startswith("/") else Path(project.root) / relative
        return cls(Path(os.path.abspath(path)), project, url)

    # ------------------------------------------------------------------ runs

    def create_run(self, run: RunRecord) -> None:
        """Insert the run; StoreError if it exists."""
        try:
            self._db.execute(
                "INSERT INTO runs (project, run_id, workflow, status, created_at, record) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    self.project,
                    run.run_id,
                    run.workflow,
                    run.status,
                    run.created_at,
                    _run_json(run),
                ),
            )
        except sqlite3.IntegrityError:
            raise StoreError(f"run {run.run_id} already exists in {self.path}") from None
        except sqlite3.Error as error:
            raise self._error(f"create run {run.run_id}", error) from None

    def update_run(self, run: RunRecord) -> None:
        """Replace the run's record; StoreError if there is no such run."""
        try:
            cursor = self._db.execute(
                "UPDATE runs SET workflow = ?, status = ?, created_at = ?, record = ? "
                "WHERE project = ? AND run_id = ?",
                (
                    run.workflow,
                    run.status,
                    run.created_at,
                    _run_json(run),
                    self.project,
                    run.run_id,
                ),
            )
        except sqlite3.Error as error:
            raise self._error(f"update run {run.run_id}", error) from None
        if cursor.rowcount == 0:
            raise StoreError(f"no run {run.run_id} in {self.path}")

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run record, or None."""
        row = self._query_one(
            "SELECT record FROM runs WHERE project = ? AND run_id = ?", (self.project, run_id)
        )
        return None if row is None else self._run_from_json(row[0])

    def list_runs(self, workflow: str | None = None) -> list[RunRecord]:
        """This project's runs (of ``workflow``), newest first."""
        sql = "SELECT record FROM runs WHERE project = ?"
        params: tuple[Any, ...] = (self.project,)
        if workflow is not None:
            sql += " AND workflow = ?"
            params += (workflow,)
        try:
            rows = self._db.execute(
                sql + " ORDER BY created_at DESC, run_id DESC", params
            ).fetchall()
        except sqlite3.Error as error:
            raise self._error("list runs", error) from None
        return [self._run_from_json(row[0]) for row in rows]

    def query_runs(self, query: RunQuery) -> RunPage:
        """One page of runs, newest first: keyset paging over ``(created_at, run_id)``.

        The indexes ``(project[, workflow | status], created_at, run_id)`` serve each
        filter in listing order, so a page reads only its rows.

        :raises QueryError: for a bad limit, status or cursor.
        """
        query.check()
        sql = "SELECT record FROM runs WHERE project = ?"
        params: list[Any] = [self.project]
        if query.workflow is not None:
            sql += " AND workflow = ?"
            params.append(query.workflow)
        if query.statuses:
            sql += f" AND status IN ({', '.join('?' * len(query.statuses))})"
            params += query.statuses
        if query.since is not None:
            sql += " AND created_at >= ?"
            params.append(float(query.since))
        after = query.after()
        if after is not None:
            sql += " AND (created_at, run_id) < (?, ?)"
            params += after
        sql += " ORDER BY created_at DESC, run_id DESC LIMIT ?"
        params.append(query.limit + 1)
        try:
            rows = self._db.execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise self._error("list runs", error) from None
        return page_of((self._run_from_json(row[0]) for row in rows), query)

    def delete_run(self, run_id: str) -> bool:
        """Delete the run and (by cascade) its checkpoints, snapshot and lock.

        :raises LockHeld: when a live holder other than this store holds its lock.
        """
        try:
            with _transaction(self._db):
                holder = self._lock_row(run_id)
                if holder is not None and not self._holds(run_id, holder[0]) and _is_alive(*holder):
                    raise LockHeld(_held_message(run_id, holder[0]))
                deleted = self._db.execute(
                    "DELETE FROM runs WHERE project = ? AND run_id = ?", (self.project, run_id)
                ).rowcount
        except sqlite3.Error as error:
            raise self._error(f"delete run {run_id}", error) from None
        self._held.pop(run_id, None)
        return deleted > 0

    # ----------------------------------------------------------- checkpoints

    def append_checkpoint(self, record: CheckpointRecord) -> None:
        """Insert one journal row, committed (and fsynced) by itself.

        While this store holds the run's lock, the row goes in only if the lock row
        still names this holder (one statement, so no other writer slips between):
        a lock row deleted by hand and taken by a second process stops this one
        from writing instead of interleaving two executions in one journal.
        """
        held = self._held.get(record.run_id)
        try:
            if held is None:
                self._db.execute(
                    f"INSERT INTO checkpoints (project, run_id, {_RECORD_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (self.project, record.run_id, *record_values(record)),
                )
                return
            inserted = self._db.execute(
                f"INSERT INTO checkpoints (project, run_id, {_RECORD_COLUMNS}) "
                "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM locks "
                "WHERE project = ? AND run_id = ? AND pid = ? AND host = ? AND token = ?)",
                (
                    self.project,
                    record.run_id,
                    *record_values(record),
                    self.project,
                    record.run_id,
                    held.pid,
                    held.host,
                    held.token,
                ),
            ).rowcount
        except sqlite3.IntegrityError:
            raise StoreError(f"no run {record.run_id} in {self.path}") from None
        except sqlite3.Error as error:
            raise self._error(f"append checkpoint {record.checkpoint_id}", error) from None
        if not inserted:
            raise StoreError(
                f"run {record.run_id}: this process no longer holds the run's lock "
                "(its lock row was removed or taken over); checkpoint "
                f"{record.checkpoint_id} was not written"
            )

    def read_checkpoints(
        self, run_id: str, after_seq: int = 0
    ) -> Iterator[CheckpointRecord | DamagedRecord]:
        """The run's journal rows with ``seq > after_seq``, in append order."""
        try:
            cursor = self._db.execute(
                f"SELECT id, {_RECORD_COLUMNS} FROM checkpoints "
                "WHERE project = ? AND run_id = ? AND seq > ? ORDER BY id",
                (self.project, run_id, after_seq),
            )
        except sqlite3.Error as error:
            raise self._error(f"read checkpoints of run {run_id}", error) from None
        return self._iter_rows(run_id, cursor)

    def write_snapshot(self, record: CheckpointRecord) -> None:
        """Replace the run's snapshot row."""
        try:
            self._db.execute(
                f"INSERT OR REPLACE INTO snapshots (project, run_id, {_RECORD_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self.project, record.run_id, *record_values(record)),
            )
        except sqlite3.IntegrityError:
            raise StoreError(f"no run {record.run_id} in {self.path}") from None
        except sqlite3.Error as error:
            raise self._error(f"write snapshot of run {record.run_id}", error) from None

    def read_snapshot(self, run_id: str) -> CheckpointRecord | DamagedRecord | None:
        """The run's snapshot row, if any."""
        row = self._query_one(
            f"SELECT 'snapshot', {_RECORD_COLUMNS} FROM snapshots WHERE project = ? AND run_id = ?",
            (self.project, run_id),
        )
        return None if row is None else record_from_row(run_id, row[1:], str(row[0]))

    # ------------------------------------------------------------------ locks

    def acquire_lock(self, run_id: str, holder: LockHolder) -> LockHolder | None:
        """Write ``holder`` into the run's lock row, taking over a dead holder's.

        :returns: the dead holder taken over, or None when the lock was free.
        :raises LockHeld: when a live holder (or one on another host) has it.
        """
        held = self._held.get(run_id)
        if held is not None:
            if _same_holder(held, holder):
                return None
            raise LockHeld(_held_message(run_id, held))
        try:
            with _transaction(self._db):
                previous = self._lock_row(run_id)
                if previous is not None and _is_alive(*previous):
                    raise LockHeld(_held_message(run_id, previous[0]))
                self._db.execute(
                    "INSERT OR REPLACE INTO locks "
                    "(project, run_id, pid, host, acquired_at, token, process_start) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        self.project,
                        run_id,
                        holder.pid,
                        holder.host,
                        holder.acquired_at,
                        holder.token,
                        self._process_start if holder.pid == os.getpid() else None,
                    ),
                )
        except sqlite3.IntegrityError:
            raise StoreError(f"no run {run_id} in {self.path}") from None
        except sqlite3.Error as error:
            raise self._error(f"lock run {run_id}", error) from None
        self._held[run_id] = holder
        return None if previous is None else previous[0]

    def release_lock(self, run_id: str, holder: LockHolder) -> None:
        """Delete the lock row if this store holds it for ``holder``."""
        held = self._held.get(run_id)
        if held is None or not _same_holder(held, holder):
            return
        try:
            self._db.execute(
                "DELETE FROM locks WHERE project = ? AND run_id = ? "
                "AND pid = ? AND host = ? AND token = ?",
                (self.project, run_id, holder.pid, holder.host, holder.token),
            )
        except sqlite3.Error as error:
            raise self._error(f"unlock run {run_id}", error) from None
        del self._held[run_id]

    def close(self) -> None:
        """Release the locks this store still holds and close the connection."""
        try:
            for run_id, holder in list(self._held.items()):
                self.release_lock(run_id, holder)
        finally:
            self._db.close()

    # -------------------------------------------------------------- internals

    def _error(self, doing: str, error: sqlite3.Error) -> StoreError:
        return StoreError(f"SQLite store {self.path}: cannot {doing}: {error}")

    def _query_one(self, sql: str, params: tuple[Any, ...]) -> Any:
        try:
            return self._db.execute(sql, params).fetchone()
        except sqlite3.Error as error:
            raise self._error("read", error) from None

    def _run_from_json(self, text: str) -> RunRecord:
        try:
            return RunRecord.from_plain(json.loads(text))
        except (ValueError, TypeError) as error:
            raise StoreError(
                f"SQLite store {self.path}: a run record is corrupt: {error}"
            ) from None

    def _lock_row(self, run_id: str) -> tuple[LockHolder, str | None] | None:
        row = self._db.execute(
            "SELECT pid, host, acquired_at, token, process_start FROM locks "
            "WHERE project = ? AND run_id = ?",
            (self.project, run_id),
        ).fetchone()
        if row is None:
            return None
        pid, host, acquired_at, token, process_start = row
        return LockHolder(pid=pid, host=host, acquired_at=acquired_at, token=token), process_start

    def _holds(self, run_id: str, holder: LockHolder) -> bool:
        held = self._held.get(run_id)
        return held is not None and _same_holder(held, holder)

    def _iter_rows(
        self, run_id: str, cursor: sqlite3.Cursor
    ) -> Iterator[CheckpointRecord | DamagedRecord]:
        try:
            while True:
                try:
                    rows = cursor.fetchmany(_FETCH_BATCH)
                except sqlite3.Error as error:
                    yield DamagedRecord(run_id, "checkpoints", f"cannot read: {error}")
                    return
                if not rows:
                    return
                for row in rows:
                    yield record_from_row(run_id, row[1:], f"row {row[0]}")
        finally:
            cursor.close()


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception.

    IMMEDIATE takes the write lock up front, so a read-then-write (the lock check)
    cannot be invalidated by another process in between.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _create_private(path: Path) -> None:
    """Create the database file (and its directory) readable by the owner only.

    SQLite gives its -wal and -shm files the database file's permissions.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    os.close(fd)


def _run_json(run: RunRecord) -> str:
    try:
        return json.dumps(attrs.asdict(run), ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise StoreError(f"run {run.run_id}: the run record is not plain data: {error}") from None


def _process_start(pid: int) -> str | None:
    """The process's start time as stored in ``locks.process_start``: a float's repr."""
    started = process_start_time(pid)
    return None if started is None else repr(started)


def _stored_start(text: str | None) -> float | None:
    """A ``process_start`` value back as a time; None for a row of an older release.

    Older releases stored Linux ``/proc`` clock ticks (an integer): those are not
    comparable, so such a holder is judged by its pid alone, never wrongly taken over.
    """
    if text is None or text.isdigit():
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _is_alive(holder: LockHolder, process_start: str | None) -> bool:
    """Whether the holder may still be running (always True on another host)."""
    if holder.host != socket.gethostname():
        return True
    return process_alive(holder.pid, _stored_start(process_start))


def _held_message(run_id: str, holder: LockHolder) -> str:
    return f"run {run_id} is being executed by {holder.describe()}"


def _same_holder(a: LockHolder, b: LockHolder) -> bool:
    return (a.pid, a.host, a.token) == (b.pid, b.host, b.token)
