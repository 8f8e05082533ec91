"""The database schema and its migrations.

Version ``n`` of the schema is reached by running ``MIGRATIONS[0:n]`` in order; the
version a database has reached is kept in ``maverick_schema``. A database whose
version is newer than ``len(MIGRATIONS)`` was written by a newer maverick-sqlite
and is refused rather than misread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from maverick_core.api import StoreError

if TYPE_CHECKING:
    import sqlite3

MIGRATIONS: list[list[str]] = [
    # 1: runs, an append-only checkpoint journal, snapshots and locks, per project.
    [
        """CREATE TABLE runs (
            project    TEXT NOT NULL,
            run_id     TEXT NOT NULL,
            workflow   TEXT NOT NULL,
            created_at REAL NOT NULL,
            record     TEXT NOT NULL,  -- the RunRecord as JSON
            PRIMARY KEY (project, run_id)
        )""",
        "CREATE INDEX runs_newest_first ON runs (project, created_at)",
        """CREATE TABLE checkpoints (
            id            INTEGER PRIMARY KEY,  -- append order
            project       TEXT NOT NULL,
            run_id        TEXT NOT NULL,
            seq           INTEGER NOT NULL,
            checkpoint_id TEXT NOT NULL,
            kind          TEXT NOT NULL,
            created_at    REAL NOT NULL,
            serializer    TEXT NOT NULL,
            payload       BLOB NOT NULL,
            checksum      TEXT NOT NULL,
            FOREIGN KEY (project, run_id) REFERENCES runs (project, run_id) ON DELETE CASCADE
        )""",
        # Reading "after the snapshot" seeks here instead of scanning the journal.
        "CREATE INDEX checkpoints_by_seq ON checkpoints (project, run_id, seq)",
        """CREATE TABLE snapshots (
            project       TEXT NOT NULL,
            run_id        TEXT NOT NULL,
            seq           INTEGER NOT NULL,
            checkpoint_id TEXT NOT NULL,
            kind          TEXT NOT NULL,
            created_at    REAL NOT NULL,
            serializer    TEXT NOT NULL,
            payload       BLOB NOT NULL,
            checksum      TEXT NOT NULL,
            PRIMARY KEY (project, run_id),
            FOREIGN KEY (project, run_id) REFERENCES runs (project, run_id) ON DELETE CASCADE
        )""",
        """CREATE TABLE locks (
            project       TEXT NOT NULL,
            run_id        TEXT NOT NULL,
            pid           INTEGER NOT NULL,
            host          TEXT NOT NULL,
            acquired_at   REAL NOT NULL,
            token         TEXT NOT NULL,
            process_start TEXT,  -- tells a reused pid from the holder's
            PRIMARY KEY (project, run_id),
            FOREIGN KEY (project, run_id) REFERENCES runs (project, run_id) ON DELETE CASCADE
        )""",
    ],
    # 2: run listings page by page (query_runs): the status as a column, filled from
    # the records already there, and indexes in listing order for each filter.
    [
        "ALTER TABLE runs ADD COLUMN status TEXT NOT NULL DEFAULT ''",
        """UPDATE runs SET status = CASE
            WHEN json_valid(record) THEN coalesce(json_extract(record, '$.status'), '')
            ELSE '' END""",
        "DROP INDEX runs_newest_first",
        "CREATE INDEX runs_newest_first ON runs (project, created_at DESC, run_id DESC)",
        "CREATE INDEX runs_by_workflow ON runs (project, workflow, created_at DESC, run_id DESC)",
        "CREATE INDEX runs_by_status ON runs (project, status, created_at DESC, run_id DESC)",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(connection: sqlite3.Connection, path: str) -> None:
    """Bring the database to :data:`SCHEMA_VERSION`, in one transaction.

    :raises StoreError: when the database's schema is newer than this plugin's.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute("CREATE TABLE IF NOT EXISTS maverick_schema (version INTEGER NOT NULL)")
        row = connection.execute("SELECT max(version) FROM maverick_schema").fetchone()
        version = int(row[0] or 0)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"SQLite store {path} has schema version {version}, newer than the "
                f"{SCHEMA_VERSION} this maverick-sqlite understands; upgrade maverick-sqlite"
            )
        for number in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[number]:
                connection.execute(statement)
        if version < SCHEMA_VERSION:
            connection.execute("DELETE FROM maverick_schema")
            connection.execute("INSERT INTO maverick_schema VALUES (?)", (SCHEMA_VERSION,))
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
