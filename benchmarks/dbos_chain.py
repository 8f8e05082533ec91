"""The peers' chain on DBOS Transact: one workflow of N steps, each a ``@DBOS.step()``.

Run by :func:`peers.dbos_chain` in a subprocess of its own, because DBOS is a
process-wide singleton (its registry, its background threads, its logging), so
launching it for SQLite and then for PostgreSQL, and keeping it away from the
other engines, takes a fresh interpreter each time::

    python benchmarks/dbos_chain.py SYSTEM_DATABASE_URL STEPS ROUNDS

prints one JSON object: ``seconds_per_step`` (median over ROUNDS executions of the
workflow, after one warm-up; launching DBOS is off the clock), ``settings`` (the
durability settings read back from the database DBOS writes to) and ``version``.

Durability is set as for the other peers: a SQLite system database gets
``journal_mode=WAL`` and ``synchronous=FULL`` on every connection DBOS opens (DBOS
sets neither itself: SQLite's defaults would be a rollback journal, which costs
several fsyncs per commit); a PostgreSQL one runs on a server with ``fsync=on``
and ``synchronous_commit=on``. DBOS commits each step's output in its own
transaction before the workflow goes on, which is its durability per step.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
import time
import uuid
from importlib import metadata
from typing import Any

import sqlalchemy as sa
from dbos import DBOS, SetWorkflowID
from sqlalchemy import event


@event.listens_for(sa.engine.Engine, "connect")
def _durable_sqlite(connection: Any, _record: Any) -> None:
    """WAL and synchronous=FULL on every SQLite connection of this process (DBOS's)."""
    if isinstance(connection, sqlite3.Connection):
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")


@DBOS.step()
def increment(n: int) -> int:
    """The chain's step body: read the counter, return it plus one."""
    return n + 1


@DBOS.workflow()
def chain(steps: int) -> int:
    """``steps`` durable steps, each adding one to the counter."""
    n = 0
    for _ in range(steps):
        n = increment(n)
    return n


def _settings(dbos: DBOS, url: str) -> str:
    """The durability settings as the database reports them to DBOS's own engine."""
    engine = dbos._sys_db.engine  # the engine DBOS writes through
    with engine.connect() as connection:
        if url.startswith("sqlite"):
            journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
            level = connection.exec_driver_sql("PRAGMA synchronous").scalar()
            names: dict[Any, str] = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
            synchronous = names.get(level, str(level))
            return f"SQLite system database, journal_mode={journal}, synchronous={synchronous}"
        fsync = connection.exec_driver_sql("SHOW fsync").scalar()
        commit = connection.exec_driver_sql("SHOW synchronous_commit").scalar()
        version = connection.exec_driver_sql("SHOW server_version").scalar()
        return (
            f"PostgreSQL {str(version).split()[0]} system database, "
            f"fsync={fsync}, synchronous_commit={commit}"
        )


def main(argv: list[str]) -> int:
    """Launch DBOS on the given system database, run the chain, print the JSON result."""
    url, steps, rounds = argv[0], int(argv[1]), int(argv[2])
    dbos = DBOS(
        config={"name": "maverick-bench-chain", "system_database_url": url, "log_level": "ERROR"}
    )
    DBOS.launch()
    try:

        def once() -> float:
            with SetWorkflowID(f"chain-{uuid.uuid4().hex}"):
                started = time.perf_counter()
                result = chain(steps)
                seconds = time.perf_counter() - started
            if result != steps:
                raise RuntimeError(f"DBOS chain ended at n={result}, not {steps}")
            return seconds / steps

        once()  # warm-up, as for the other engines
        per_step = statistics.median(once() for _ in range(rounds))
        settings = _settings(dbos, url)
    finally:
        DBOS.destroy()
    print(
        json.dumps(
            {
                "seconds_per_step": per_step,
                "settings": f"@DBOS.step() per step in one @DBOS.workflow(), {settings}",
                "version": metadata.version("dbos"),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
