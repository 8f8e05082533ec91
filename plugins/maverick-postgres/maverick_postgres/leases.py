"""Run locks as leases: rows that expire unless their holder keeps renewing them.

A lock on a shared database cannot be judged by asking whether a pid is alive: the
holder may run on another machine. So a lock is a lease with an expiry in the
database's clock; the holder's :class:`Heartbeat` renews it every ``lease / 3``
seconds on its own connection, and a crashed holder's lease simply runs out.

Every write the store makes to a leased run re-checks, in the write's own
transaction, that the lease row still carries this process's token (a fencing
token): a process that was paused past its lease and taken over can never write
into the run again, even before its heartbeat notices.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

import attrs
import psycopg

from maverick_core.api import LockHolder, StoreError
from maverick_postgres.connection import Connection, connect, first_line

if TYPE_CHECKING:
    from maverick_postgres.settings import ConnectionSettings

log = logging.getLogger("maverick_postgres")


@attrs.define
class Lease:
    """A lease this store holds; ``lost`` says why it is no longer ours."""

    run_id: str
    token: str
    holder: LockHolder
    lost: str | None = None


def holder_from_row(row: tuple[Any, ...]) -> LockHolder:
    """A :class:`LockHolder` from ``SELECT pid, host, token, acquired_at``."""
    pid, host, token, acquired_at = row[:4]
    return LockHolder(
        pid=int(pid), host=str(host), acquired_at=float(acquired_at), token=str(token)
    )


def lost_message(run_id: str, taker: LockHolder | None) -> str:
    """Why a write into a run whose lease was lost is refused."""
    detail = f"{taker.describe()} took it over" if taker else "its lock was removed"
    return f"lost the lease on run {run_id} ({detail}); this process may not write to it"


class Heartbeat:
    """A daemon thread that keeps a store's leases from expiring.

    It works on a snapshot of ``leases`` taken under ``lock``. A renewal that finds
    the row gone or carrying another token marks the lease ``lost``; the store then
    refuses every further write into that run. A failed renewal (database down) is
    logged and retried on the next beat with a new connection.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        project: str,
        leases: dict[str, Lease],
        lock: threading.Lock,
    ) -> None:
        self._settings = settings
        self._project = project
        self._leases = leases
        self._lock = lock
        self._interval = settings.lease / 3
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"maverick-postgres-heartbeat[{project}]", daemon=True
        )

    def start(self) -> None:
        """Start beating."""
        self._thread.start()

    def stop(self) -> None:
        """Stop beating; waits briefly for an in-flight renewal to finish."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self._interval + 10)

    def _run(self) -> None:
        conn: Connection | None = None
        try:
            while not self._stop.wait(self._interval):
                conn = self._renew_all(conn)
        finally:
            if conn is not None:
                conn.close()

    def _renew_all(self, conn: Connection | None) -> Connection | None:
        with self._lock:
            leases = [lease for lease in self._leases.values() if lease.lost is None]
        if not leases:
            return conn
        try:
            if conn is None or conn.closed or conn.broken:
                conn = connect(self._settings)
            for lease in leases:
                self._renew(conn, lease)
        except (psycopg.Error, StoreError) as exc:
            log.warning(
                "could not renew the lease on %s at %s: %s (retrying in %.1fs)",
                ", ".join(lease.run_id for lease in leases),
                self._settings.where,
                first_line(exc),
                self._interval,
            )
            if conn is not None:
                conn.close()
            return None
        return conn

    def _renew(self, conn: Connection, lease: Lease) -> None:
        with conn.transaction():
            renewed = conn.execute(
                "UPDATE maverick_leases"
                " SET expires_at = clock_timestamp() + make_interval(secs => %s)"
                " WHERE project = %s AND run_id = %s AND token = %s RETURNING 1",
                (self._settings.lease, self._project, lease.run_id, lease.token),
            ).fetchone()
            if renewed:
                return
            row = conn.execute(
                "SELECT pid, host, token, acquired_at FROM maverick_leases"
                " WHERE project = %s AND run_id = %s",
                (self._project, lease.run_id),
            ).fetchone()
        message = lost_message(lease.run_id, holder_from_row(row) if row else None)
        with self._lock:
            if self._leases.get(lease.run_id) is not lease:
                return  # released while this renewal was under way: not a loss
            lease.lost = message
        log.error("%s", message)
