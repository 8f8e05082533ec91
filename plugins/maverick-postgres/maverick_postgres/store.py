"""PostgresStore: runs, checkpoints, snapshots and run leases in one shared database."""

from __future__ import annotations

import contextlib
import json
import math
import threading
import uuid
from typing import TYPE_CHECKING, Any

import psycopg
import psycopg.errors

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
    page_of,
    record_from_row,
    record_values,
)
from maverick_postgres.connection import Connection, connect, first_line
from maverick_postgres.leases import Heartbeat, Lease, holder_from_row, lost_message
from maverick_postgres.schema import ensure_schema
from maverick_postgres.settings import ConnectionSettings, parse_url

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import TracebackType

READ_BATCH = 256
"""Checkpoints fetched per round trip while streaming a journal."""

_RUN_COLUMNS = (
    "run_id, workflow, source, record_project, status, created_at, updated_at,"
    " inputs, secret_inputs, fingerprints, meta"
)
_RECORD_COLUMNS = ", ".join(RECORD_COLUMNS)


def listing_sql(project: str, query: RunQuery) -> tuple[str, list[Any]]:
    """The ``SELECT`` (and its parameters) of one page of ``query`` in ``project``.

    Takes one row more than the limit, so :func:`~maverick_core.api.page_of` knows
    whether another page follows.
    """
    sql = "SELECT " + _RUN_COLUMNS + " FROM maverick_runs WHERE project = %s"
    params: list[Any] = [project]
    if query.workflow is not None:
        sql += " AND workflow = %s"
        params.append(query.workflow)
    if query.statuses:
        sql += " AND status = ANY(%s)"
        params.append(list(query.statuses))
    if query.since is not None:
        sql += " AND created_at >= %s"
        params.append(float(query.since))
    after = query.after()
    if after is not None:
        sql += ' AND (created_at, run_id COLLATE "C") < (%s, %s)'
        params += after
    sql += ' ORDER BY created_at DESC, run_id COLLATE "C" DESC LIMIT %s'
    params.append(query.limit + 1)
    return sql, params


class PostgresStore:
    """A :class:`~maverick_core.engine.storage.Store` in PostgreSQL, shared by many machines.

    Every row carries the project name, so clones of one project share their runs
    and different projects never see each other's. Each write is one committed
    transaction. Run locks are leases (see :mod:`maverick_postgres.leases`).

    Open it with :meth:`open`; one instance is used by one thread at a time, apart
    from its heartbeat thread, which has its own connection.
    """

    url: str
    """The store URL with any password replaced by ``***`` (safe to print)."""

    def __init__(self, settings: ConnectionSettings, project: Project, conn: Connection) -> None:
        self.url = settings.redacted_url
        self.project = project
        self._name = project.name
        self._settings = settings
        self._conn: Connection | None = conn
        self._leases: dict[str, Lease] = {}
        self._leases_lock = threading.Lock()
        self._heartbeat: Heartbeat | None = None
        self._closed = False

    @classmethod
    def open(cls, url: str, project: Project) -> PostgresStore:
        """Connect, create or migrate the tables, and return the store.

        :param url: ``postgresql://user:pass@host:port/dbname?lease=30``.
        :raises StoreError: bad URL, unreachable database, or a schema newer than this
            plugin.
        """
        if not project.name:
            raise StoreError("the PostgreSQL store needs a project name to keep runs apart")
        settings = parse_url(url)
        conn = connect(settings)
        try:
            ensure_schema(conn, settings.where)
        except BaseException:
            conn.close()
            raise
        return cls(settings, project, conn)

    @property
    def lease(self) -> float:
        """Seconds a run lease lasts without being renewed."""
        return self._settings.lease

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- runs -----------------------------------------------------------------

    def create_run(self, run: RunRecord) -> None:
        """Insert the run record; StoreError if this project already has the run id."""
        values = self._run_values(run)
        with self._transaction(f"creating run {run.run_id}") as conn:
            self._check_lease(conn, run.run_id)
            try:
                conn.execute(
                    "INSERT INTO maverick_runs (project, " + _RUN_COLUMNS + ")"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (self._name, *values),
                )
            except psycopg.errors.UniqueViolation:
                raise StoreError(f"run {run.run_id} already exists") from None

    def update_run(self, run: RunRecord) -> None:
        """Replace the run record in one transaction; StoreError if there is no such run."""
        run_id, *fields = self._run_values(run)
        with self._transaction(f"updating run {run_id}") as conn:
            self._check_lease(conn, run_id)
            updated = conn.execute(
                "UPDATE maverick_runs SET workflow = %s, source = %s, record_project = %s,"
                " status = %s, created_at = %s, updated_at = %s, inputs = %s,"
                " secret_inputs = %s, fingerprints = %s, meta = %s"
                " WHERE project = %s AND run_id = %s RETURNING 1",
                (*fields, self._name, run_id),
            ).fetchone()
            if updated is None:
                raise StoreError(f"cannot update run {run.run_id}: no such run")

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run record, or None."""
        with self._transaction(f"reading run {run_id}") as conn:
            row = conn.execute(
                "SELECT " + _RUN_COLUMNS + " FROM maverick_runs WHERE project = %s AND run_id = %s",
                (self._name, run_id),
            ).fetchone()
        return self._run_from_row(row) if row else None

    def list_runs(self, workflow: str | None = None) -> list[RunRecord]:
        """This project's runs (of one workflow if given), newest first; no checkpoints read."""
        with self._transaction("listing runs") as conn:
            if workflow is None:
                rows = conn.execute(
                    "SELECT " + _RUN_COLUMNS + " FROM maverick_runs WHERE project = %s"
                    " ORDER BY created_at DESC, run_id DESC",
                    (self._name,),
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT " + _RUN_COLUMNS + " FROM maverick_runs"
                    " WHERE project = %s AND workflow = %s"
                    " ORDER BY created_at DESC, run_id DESC",
                    (self._name, workflow),
                ).fetchall()
        return [self._run_from_row(row) for row in rows]

    def query_runs(self, query: RunQuery) -> RunPage:
        """One page of runs, newest first: keyset paging over ``(created_at, run_id)``.

        The run id is ordered bytewise (``COLLATE "C"``), as the indexes are, so each
        filter is served by an index in listing order and a page reads only its rows.

        :raises QueryError: for a bad limit, status or cursor.
        """
        query.check()
        sql, params = listing_sql(self._name, query)
        with self._transaction("listing runs") as conn:
            rows = conn.execute(sql, params).fetchall()
        return page_of((self._run_from_row(row) for row in rows), query)

    def delete_run(self, run_id: str) -> bool:
        """Delete the run, its journal, snapshot and lease; False if there was no run.

        :raises LockHeld: another live holder has the run's lease (this store's own
            lease does not stop it).
        """
        with self._leases_lock:
            own = self._leases.get(run_id)
        with self._transaction(f"deleting run {run_id}") as conn:
            exists = conn.execute(
                "SELECT 1 FROM maverick_runs WHERE project = %s AND run_id = %s FOR UPDATE",
                (self._name, run_id),
            ).fetchone()
            if exists is None:
                return False
            row = self._lock_lease_row(conn, run_id)
            if row is not None and (own is None or row[2] != own.token):
                self._judge_holder(run_id, row)
            # The journal and snapshot go with the run (ON DELETE CASCADE).
            conn.execute(
                "DELETE FROM maverick_runs WHERE project = %s AND run_id = %s",
                (self._name, run_id),
            )
            conn.execute(
                "DELETE FROM maverick_leases WHERE project = %s AND run_id = %s",
                (self._name, run_id),
            )
        if own is not None:
            self._forget_lease(own)
        return True

    # -- checkpoints ----------------------------------------------------------

    def append_checkpoint(self, record: CheckpointRecord) -> None:
        """Insert one journal record, committed before returning.

        :raises StoreError: the lease on the run was lost, the run does not exist, or
            it already has a record with this ``seq``.
        """
        with self._transaction(f"appending checkpoint {record.seq} to run {record.run_id}") as conn:
            self._check_lease(conn, record.run_id)
            try:
                conn.execute(
                    "INSERT INTO maverick_checkpoints (project, run_id, " + _RECORD_COLUMNS + ")"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (self._name, record.run_id, *record_values(record)),
                )
            except psycopg.errors.UniqueViolation:
                raise StoreError(
                    f"run {record.run_id} already has a checkpoint with seq {record.seq}"
                ) from None
            except psycopg.errors.ForeignKeyViolation:
                raise StoreError(f"cannot append to run {record.run_id}: no such run") from None

    def read_checkpoints(
        self, run_id: str, after_seq: int = 0
    ) -> Iterator[CheckpointRecord | DamagedRecord]:
        """The journal in ``seq`` order from ``after_seq``, fetched in batches.

        Each batch is its own short transaction along the (project, run_id, seq) key,
        so a long journal is never held in memory nor in an open transaction.
        A row is whole or absent in PostgreSQL, so a :class:`DamagedRecord` is yielded
        only for a column edited to another type; other edits fail the checksum.
        """
        last = after_seq
        while True:
            with self._transaction(f"reading the checkpoints of run {run_id}") as conn:
                rows = conn.execute(
                    "SELECT " + _RECORD_COLUMNS + " FROM maverick_checkpoints"
                    " WHERE project = %s AND run_id = %s AND seq > %s"
                    " ORDER BY seq LIMIT %s",
                    (self._name, run_id, last, READ_BATCH),
                ).fetchall()
            for row in rows:
                yield record_from_row(run_id, row, f"seq {row[0]}")
            if len(rows) < READ_BATCH:
                return
            last = rows[-1][0]

    def write_snapshot(self, record: CheckpointRecord) -> None:
        """Replace the run's snapshot with ``record`` in one transaction."""
        with self._transaction(f"writing the snapshot of run {record.run_id}") as conn:
            self._check_lease(conn, record.run_id)
            try:
                conn.execute(
                    "INSERT INTO maverick_snapshots (project, run_id, " + _RECORD_COLUMNS + ")"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (project, run_id) DO UPDATE SET"
                    " seq = EXCLUDED.seq, checkpoint_id = EXCLUDED.checkpoint_id,"
                    " kind = EXCLUDED.kind, created_at = EXCLUDED.created_at,"
                    " serializer = EXCLUDED.serializer, payload = EXCLUDED.payload,"
                    " checksum = EXCLUDED.checksum",
                    (self._name, record.run_id, *record_values(record)),
                )
            except psycopg.errors.ForeignKeyViolation:
                raise StoreError(
                    f"cannot write a snapshot of run {record.run_id}: no such run"
                ) from None

    def read_snapshot(self, run_id: str) -> CheckpointRecord | DamagedRecord | None:
        """The run's snapshot, or None."""
        with self._transaction(f"reading the snapshot of run {run_id}") as conn:
            row = conn.execute(
                "SELECT " + _RECORD_COLUMNS + " FROM maverick_snapshots"
                " WHERE project = %s AND run_id = %s",
                (self._name, run_id),
            ).fetchone()
        return record_from_row(run_id, row, "snapshot") if row else None

    # -- locks ----------------------------------------------------------------

    def acquire_lock(self, run_id: str, holder: LockHolder) -> LockHolder | None:
        """Take the run's lease for ``holder`` and keep it renewed until released.

        The lease is free when there is no row, when it has expired, or when its holder
        ran on this machine and its process is gone.

        :returns: the previous holder when its lease was taken over, else None.
        :raises LockHeld: a live holder has the lease (message names pid and host).
        """
        token = holder.token or uuid.uuid4().hex
        with self._transaction(f"locking run {run_id}") as conn:
            previous = self._take_lease(conn, run_id, holder, token)
        with self._leases_lock:
            self._leases[run_id] = Lease(run_id=run_id, token=token, holder=holder)
            if self._heartbeat is None:
                self._heartbeat = Heartbeat(
                    self._settings, self._name, self._leases, self._leases_lock
                )
                self._heartbeat.start()
        return previous

    def release_lock(self, run_id: str, holder: LockHolder) -> None:
        """Drop the lease if ``holder`` (matched by token, else pid and host) holds it."""
        with self._leases_lock:
            lease = self._leases.get(run_id)
            token = holder.token
            if not token and lease and lease.holder.describe() == holder.describe():
                token = lease.token  # the holder as passed to acquire_lock, without a token
        if lease is not None and lease.token == token:
            self._forget_lease(lease)
        if token:
            self._delete_lease(run_id, token)

    def close(self) -> None:
        """Stop the heartbeat, give up held leases (best effort), close the connection."""
        if self._closed:
            return
        with self._leases_lock:
            leases = [lease for lease in self._leases.values() if lease.lost is None]
            self._leases.clear()
            heartbeat = self._stop_heartbeat_if_idle()
        if heartbeat is not None:
            heartbeat.stop()
        for lease in leases:
            # A closed store cannot write, so its leases only delay whoever comes next.
            with contextlib.suppress(StoreError):
                self._delete_lease(lease.run_id, lease.token)
        self._closed = True
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- internals ------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[Connection]:
        """One committed transaction; driver errors become one-line StoreErrors."""
        if self._closed:
            raise StoreError(f"the PostgreSQL store at {self._settings.where} is closed")
        if self._conn is None or self._conn.closed or self._conn.broken:
            # A dropped connection fails the call that saw it; the next call reconnects
            # (never a silent retry: a write whose commit was lost cannot be replayed).
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            self._conn = connect(self._settings)
        conn = self._conn
        try:
            with conn.transaction():
                yield conn
        except psycopg.Error as exc:
            raise StoreError(
                f"PostgreSQL store at {self._settings.where}: {what} failed: {first_line(exc)}"
            ) from None

    def _take_lease(
        self, conn: Connection, run_id: str, holder: LockHolder, token: str
    ) -> LockHolder | None:
        """Insert or take over the lease row, in the caller's transaction."""
        key = (self._name, run_id)
        mine = (holder.pid, holder.host, token, holder.acquired_at, self.lease)
        while True:
            row = self._lock_lease_row(conn, run_id)
            if row is None:
                inserted = conn.execute(
                    "INSERT INTO maverick_leases"
                    " (project, run_id, pid, host, token, acquired_at, expires_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s,"
                    " clock_timestamp() + make_interval(secs => %s))"
                    " ON CONFLICT (project, run_id) DO NOTHING RETURNING 1",
                    (*key, *mine),
                ).fetchone()
                if inserted:
                    return None
                continue  # another process inserted it meanwhile: judge that holder
            same = row[2] == token
            previous = None if same else self._judge_holder(run_id, row)
            conn.execute(
                "UPDATE maverick_leases SET pid = %s, host = %s, token = %s,"
                " acquired_at = %s, expires_at = clock_timestamp() + make_interval(secs => %s)"
                " WHERE project = %s AND run_id = %s",
                (*mine, *key),
            )
            return previous

    def _lock_lease_row(self, conn: Connection, run_id: str) -> tuple[Any, ...] | None:
        """The run's lease row (holder columns, seconds left), locked for update."""
        return conn.execute(
            "SELECT pid, host, token, acquired_at,"
            " extract(epoch FROM expires_at - clock_timestamp())::float8"
            " FROM maverick_leases WHERE project = %s AND run_id = %s FOR UPDATE",
            (self._name, run_id),
        ).fetchone()

    @staticmethod
    def _judge_holder(run_id: str, row: tuple[Any, ...]) -> LockHolder:
        """The holder in a lease row if it may be overridden; LockHeld if it is live.

        A holder is gone when its lease expired, or when it ran on this machine and its
        process no longer exists (no need to wait out the lease then).
        """
        holder = holder_from_row(row)
        remaining = float(row[4])
        if remaining <= 0 or (holder.is_local() and not holder.is_alive_locally()):
            return holder
        raise LockHeld(
            f"run {run_id} is being executed by {holder.describe()}"
            f" (lease expires in {max(1, math.ceil(remaining))}s)"
        )

    def _delete_lease(self, run_id: str, token: str) -> None:
        with self._transaction(f"unlocking run {run_id}") as conn:
            conn.execute(
                "DELETE FROM maverick_leases WHERE project = %s AND run_id = %s AND token = %s",
                (self._name, run_id, token),
            )

    def _check_lease(self, conn: Connection, run_id: str) -> None:
        """Refuse a write into a run whose lease this store held and lost.

        Runs inside the write's transaction; ``FOR SHARE`` makes a concurrent takeover
        wait for this write to commit, so the check cannot go stale before it lands.
        """
        with self._leases_lock:
            lease = self._leases.get(run_id)
            lost = lease.lost if lease else None
        if lease is None:
            return
        if lost:
            raise StoreError(lost)
        row = conn.execute(
            "SELECT pid, host, token, acquired_at FROM maverick_leases"
            " WHERE project = %s AND run_id = %s FOR SHARE",
            (self._name, run_id),
        ).fetchone()
        if row is not None and row[2] == lease.token:
            return
        message = lost_message(run_id, holder_from_row(row) if row else None)
        with self._leases_lock:
            lease.lost = message
        raise StoreError(message)

    def _forget_lease(self, lease: Lease) -> None:
        """Stop renewing ``lease``; stop the heartbeat when it was the last one."""
        with self._leases_lock:
            if self._leases.get(lease.run_id) is lease:
                del self._leases[lease.run_id]
            heartbeat = self._stop_heartbeat_if_idle()
        if heartbeat is not None:
            heartbeat.stop()

    def _stop_heartbeat_if_idle(self) -> Heartbeat | None:
        """Detach the heartbeat when no lease is held (caller holds the leases lock)."""
        if self._leases or self._heartbeat is None:
            return None
        heartbeat, self._heartbeat = self._heartbeat, None
        return heartbeat

    @staticmethod
    def _run_values(run: RunRecord) -> tuple[Any, ...]:
        try:
            data = tuple(
                _dump_json(value)
                for value in (run.inputs, run.secret_inputs, run.fingerprints, run.meta)
            )
        except (TypeError, ValueError) as exc:
            raise StoreError(f"run {run.run_id}: the run record is not plain data: {exc}") from None
        return (
            run.run_id,
            run.workflow,
            run.source,
            run.project,
            run.status,
            run.created_at,
            run.updated_at,
            *data,
        )

    def _run_from_row(self, row: tuple[Any, ...]) -> RunRecord:
        run_id, workflow, source, record_project, status, created_at, updated_at, *data = row
        inputs, secret_inputs, fingerprints, meta = (json.loads(text) for text in data)
        return RunRecord(
            run_id=run_id,
            workflow=workflow,
            source=source,
            project=record_project,
            status=status,
            created_at=created_at,
            updated_at=updated_at,
            inputs=inputs,
            secret_inputs=secret_inputs,
            fingerprints=fingerprints,
            meta=meta,
        )


def _dump_json(value: object) -> str:
    """JSON text that keeps key order and NaN; lone surrogates escaped (not UTF-8)."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value)
    return text
