"""The store's tables, and the migrations that create and upgrade them.

``maverick_schema`` holds one row per applied migration. Opening a store brings the
database to :data:`SCHEMA_VERSION` in one transaction under an advisory lock, so
processes that start at the same moment neither race nor half-apply a migration.
A database already at a newer version is refused: this plugin cannot know what the
newer tables mean.

Migrations are append-only: never edit a released one, add the next version.
"""

from __future__ import annotations

import psycopg

from maverick_core.api import StoreError
from maverick_postgres.connection import Connection, first_line

# One advisory-lock key for every maverick-postgres process on a database ("maverick").
MIGRATION_LOCK_KEY = 0x6D6176657269636B

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        # project is the namespace (the store's Project.name); record_project is
        # RunRecord.project as written, normally the same. Plain-data fields are JSON
        # kept as text, not jsonb: jsonb reorders keys and rejects NaN, and a run
        # record must come back exactly as it was written.
        """
        CREATE TABLE maverick_runs (
            project        text             NOT NULL,
            run_id         text             NOT NULL,
            workflow       text             NOT NULL,
            source         text             NOT NULL,
            record_project text             NOT NULL,
            status         text             NOT NULL,
            created_at     double precision NOT NULL,
            updated_at     double precision NOT NULL,
            inputs         text             NOT NULL,
            secret_inputs  text             NOT NULL,
            fingerprints   text             NOT NULL,
            meta           text             NOT NULL,
            PRIMARY KEY (project, run_id)
        )
        """,
        "CREATE INDEX maverick_runs_newest ON maverick_runs (project, created_at DESC)",
        # The primary key is the (project, run_id, seq) index resume reads through.
        """
        CREATE TABLE maverick_checkpoints (
            project       text             NOT NULL,
            run_id        text             NOT NULL,
            seq           bigint           NOT NULL,
            checkpoint_id text             NOT NULL,
            kind          text             NOT NULL,
            created_at    double precision NOT NULL,
            serializer    text             NOT NULL,
            payload       bytea            NOT NULL,
            checksum      text             NOT NULL,
            PRIMARY KEY (project, run_id, seq),
            FOREIGN KEY (project, run_id) REFERENCES maverick_runs ON DELETE CASCADE
        )
        """,
        """
        CREATE TABLE maverick_snapshots (
            project       text             NOT NULL,
            run_id        text             NOT NULL,
            seq           bigint           NOT NULL,
            checkpoint_id text             NOT NULL,
            kind          text             NOT NULL,
            created_at    double precision NOT NULL,
            serializer    text             NOT NULL,
            payload       bytea            NOT NULL,
            checksum      text             NOT NULL,
            PRIMARY KEY (project, run_id),
            FOREIGN KEY (project, run_id) REFERENCES maverick_runs ON DELETE CASCADE
        )
        """,
        # expires_at is in the database's clock, so machines with skewed clocks agree.
        """
        CREATE TABLE maverick_leases (
            project     text             NOT NULL,
            run_id      text             NOT NULL,
            pid         integer          NOT NULL,
            host        text             NOT NULL,
            token       text             NOT NULL,
            acquired_at double precision NOT NULL,
            expires_at  timestamptz      NOT NULL,
            PRIMARY KEY (project, run_id)
        )
        """,
    ),
    # 2: run listings page by page (query_runs): keyset paging over (created_at,
    # run_id) in listing order for each filter. The run id is compared bytewise
    # (COLLATE "C"), as every store orders it, whatever the database's collation.
    2: (
        "DROP INDEX maverick_runs_newest",
        "CREATE INDEX maverick_runs_listing ON maverick_runs"
        ' (project, created_at DESC, run_id COLLATE "C" DESC)',
        "CREATE INDEX maverick_runs_by_workflow ON maverick_runs"
        ' (project, workflow, created_at DESC, run_id COLLATE "C" DESC)',
        "CREATE INDEX maverick_runs_by_status ON maverick_runs"
        ' (project, status, created_at DESC, run_id COLLATE "C" DESC)',
    ),
}

SCHEMA_VERSION = max(MIGRATIONS)
"""The newest schema this plugin knows."""


def ensure_schema(conn: Connection, where: str) -> None:
    """Create or upgrade the tables to :data:`SCHEMA_VERSION`.

    :raises StoreError: the database is newer than this plugin, or a migration failed
        (e.g. the user may not create tables).
    """
    try:
        with conn.transaction():
            current = _current_version(conn)
        if current == SCHEMA_VERSION:
            return
        _refuse_newer(current, where)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            conn.execute(
                """
                CREATE TABLE IF NOT EXISTS maverick_schema (
                    version    integer     PRIMARY KEY,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """
            )
            # Re-read under the lock: another process may have migrated meanwhile.
            current = _current_version(conn)
            _refuse_newer(current, where)
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
                conn.execute("INSERT INTO maverick_schema (version) VALUES (%s)", (version,))
    except psycopg.Error as exc:
        raise StoreError(
            f"PostgreSQL store at {where}: could not create or migrate the maverick tables: "
            f"{first_line(exc)}"
        ) from None


def _current_version(conn: Connection) -> int:
    row = conn.execute("SELECT to_regclass('maverick_schema') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM maverick_schema").fetchone()
    return int(row[0]) if row else 0


def _refuse_newer(current: int, where: str) -> None:
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"PostgreSQL store at {where}: schema version {current} is newer than this "
            f"maverick-postgres (knows {SCHEMA_VERSION}); upgrade the plugin"
        )
