"""The SQLite store passes the conformance kit; plus what is particular to it."""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import attrs
import pytest
from maverick_sqlite import SQLiteStore
from maverick_sqlite.schema import MIGRATIONS, SCHEMA_VERSION

from maverick_core.engine.errors import LockHeld, StoreError
from maverick_core.engine.storage import (
    DamagedRecord,
    LockHolder,
    Project,
    RunQuery,
    encode_cursor,
    query_runs,
)
from maverick_core.testing.conformance import StoreConformance, delta, make_run
from maverick_core.testing.platforms import AsOnMacOS


class TestSQLiteStoreConformance(StoreConformance):
    @pytest.fixture
    def store_url(self) -> str:
        return "sqlite:///state/runs.db"


class TestSQLiteStoreAtAbsolutePathConformance(StoreConformance):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path}/shared/runs.db"


class TestSQLiteStoreConformanceOnMacOS(AsOnMacOS, StoreConformance):
    """The kit once more as on macOS: no /proc to read a holder's start time from."""

    @pytest.fixture
    def store_url(self) -> str:
        return "sqlite:///state/runs.db"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "proj"
    root.mkdir()
    return Project(root=root, name="proj")


@pytest.fixture
def store(project: Project) -> SQLiteStore:
    return SQLiteStore.open("sqlite:///runs.db", project)


def test_a_relative_url_is_under_the_project_root(project: Project) -> None:
    assert SQLiteStore.open("sqlite:///a/b.db", project).path == project.root / "a" / "b.db"


def test_an_absolute_url_is_used_as_is(project: Project, tmp_path: Path) -> None:
    store = SQLiteStore.open(f"sqlite:///{tmp_path}/abs.db", project)
    assert store.path == tmp_path / "abs.db"


@pytest.mark.parametrize("url", ["sqlite:", "sqlite://", "sqlite:///", "sqlite:runs.db"])
def test_a_url_without_a_file_is_refused(project: Project, url: str) -> None:
    with pytest.raises(StoreError, match="sqlite:///relative"):
        SQLiteStore.open(url, project)


def test_database_files_are_readable_by_the_owner_only(store: SQLiteStore) -> None:
    store.create_run(make_run("r1"))
    store.append_checkpoint(delta("r1", 1))
    files = [store.path, store.path.with_name("runs.db-wal"), store.path.with_name("runs.db-shm")]
    assert [stat.S_IMODE(f.stat().st_mode) for f in files] == [0o600] * 3


def test_the_database_is_in_wal_mode_with_full_sync(store: SQLiteStore) -> None:
    with sqlite3.connect(store.path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert store._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def test_fullfsync_follows_the_durability_setting(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAVERICK_DURABILITY", raising=False)
    full = SQLiteStore.open("sqlite:///full.db", project)
    assert full._db.execute("PRAGMA fullfsync").fetchone() == (1,)
    monkeypatch.setenv("MAVERICK_DURABILITY", "fsync")
    plain = SQLiteStore.open("sqlite:///plain.db", project)
    assert plain._db.execute("PRAGMA fullfsync").fetchone() == (0,)


def test_a_database_from_a_newer_plugin_is_refused(store: SQLiteStore, project: Project) -> None:
    store.close()
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE maverick_schema SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match=r"newer than .* upgrade maverick-sqlite"):
        SQLiteStore.open("sqlite:///runs.db", project)


def test_reopening_keeps_the_schema_version(store: SQLiteStore, project: Project) -> None:
    store.close()
    SQLiteStore.open("sqlite:///runs.db", project).close()
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT version FROM maverick_schema").fetchall() == [(SCHEMA_VERSION,)]


def test_projects_sharing_a_file_see_only_their_own_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    first = SQLiteStore.open(url, Project(root=tmp_path, name="first"))
    second = SQLiteStore.open(url, Project(root=tmp_path, name="second"))
    first.create_run(make_run("same-id", workflow="fly"))
    second.create_run(make_run("same-id", workflow="review"))
    first.append_checkpoint(delta("same-id", 1, payload=b'"first"'))
    assert [r.workflow for r in second.list_runs()] == ["review"]
    assert list(second.read_checkpoints("same-id")) == []
    assert second.delete_run("same-id")
    assert [r.workflow for r in first.list_runs()] == ["fly"]


def test_reading_after_a_seq_seeks_the_index(store: SQLiteStore) -> None:
    plan = store._db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM checkpoints "
        "WHERE project = ? AND run_id = ? AND seq > ? ORDER BY id",
        ("p", "r", 5),
    ).fetchall()
    assert "checkpoints_by_seq" in " ".join(str(step) for step in plan)


def test_a_row_with_wrong_types_reads_as_damaged(store: SQLiteStore) -> None:
    store.create_run(make_run("r1"))
    store.append_checkpoint(delta("r1", 1))
    store.append_checkpoint(delta("r1", 2))
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE checkpoints SET payload = 'text, not a blob' WHERE seq = 1")
    first, second = store.read_checkpoints("r1")
    assert isinstance(first, DamagedRecord)
    assert second.intact


def test_a_lock_held_on_another_host_is_never_taken_over(store: SQLiteStore) -> None:
    store.create_run(make_run("r1"))
    _write_lock_row(store, pid=1, host="elsewhere.example", process_start=None)
    with pytest.raises(LockHeld, match=r"pid 1 on host elsewhere\.example"):
        store.acquire_lock("r1", LockHolder.current(time.time()))


def test_a_lock_whose_pid_was_reused_is_taken_over(store: SQLiteStore) -> None:
    store.create_run(make_run("r1"))
    # pid 1 is alive, but it is not the process that took the lock.
    dead = LockHolder.current(time.time())
    _write_lock_row(store, pid=1, host=dead.host, process_start="-1")
    previous = store.acquire_lock("r1", dead)
    assert previous is not None
    assert previous.pid == 1


def test_a_lock_row_of_an_older_release_is_judged_by_its_pid(store: SQLiteStore) -> None:
    store.create_run(make_run("r1"))
    # older releases stored /proc clock ticks: not comparable, so pid 1 (alive) holds it
    _write_lock_row(store, pid=1, host=LockHolder.current(0.0).host, process_start="12345")
    with pytest.raises(LockHeld, match="pid 1 on host"):
        store.acquire_lock("r1", LockHolder.current(time.time()))


def _write_lock_row(store: SQLiteStore, pid: int, host: str, process_start: str | None) -> None:
    with sqlite3.connect(store.path) as db:
        db.execute(
            "INSERT INTO locks VALUES (?, ?, ?, ?, ?, ?, ?)",
            (store.project, "r1", pid, host, 1.0, "", process_start),
        )


def test_the_lock_of_a_holder_that_exited_but_was_not_reaped_is_taken_over(
    store: SQLiteStore, project: Project
) -> None:
    store.create_run(make_run("r1"))
    script = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from maverick_core.engine.storage import LockHolder, Project\n"
        "from maverick_sqlite import SQLiteStore\n"
        f"project = Project(Path({str(project.root)!r}), 'proj')\n"
        "store = SQLiteStore.open('sqlite:///runs.db', project)\n"
        "store.acquire_lock('r1', LockHolder.current(time.time()))\n"
        "os._exit(0)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        # Not reaped yet: the pid still answers signals, as a zombie.
        while _proc_state(child.pid) != "Z":
            time.sleep(0.02)
        previous = store.acquire_lock("r1", LockHolder.current(time.time()))
        assert previous is not None
        assert previous.pid == child.pid
    finally:
        child.wait()


def _proc_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]


def test_a_holder_whose_lock_row_was_taken_stops_writing(
    store: SQLiteStore, project: Project
) -> None:
    store.create_run(make_run("r1"))
    first = LockHolder.current(time.time(), token="first")
    store.acquire_lock("r1", first)
    store.append_checkpoint(delta("r1", 1))
    # a user deletes the lock row; a second executor takes the run
    with sqlite3.connect(store.path) as db:
        db.execute("DELETE FROM locks")
    second_store = SQLiteStore.open("sqlite:///runs.db", project)
    second_store.acquire_lock("r1", LockHolder.current(time.time(), token="second"))
    second_store.append_checkpoint(delta("r1", 2))
    with pytest.raises(StoreError, match="no longer holds the run's lock"):
        store.append_checkpoint(delta("r1", 2))
    assert [r.seq for r in second_store.read_checkpoints("r1")] == [1, 2]
    second_store.close()


@pytest.mark.parametrize(
    "query",
    [
        RunQuery(),
        RunQuery(workflow="fly"),
        RunQuery(statuses=("failed",)),
        RunQuery(statuses=("failed", "running")),
        RunQuery(workflow="fly", statuses=("failed",), since=1010.0),
        RunQuery(cursor=encode_cursor(1030.0, "r30")),
    ],
)
def test_a_page_of_runs_is_read_through_an_index_in_listing_order(
    store: SQLiteStore, query: RunQuery
) -> None:
    for index in range(40):
        status = ("running", "failed")[index % 2]
        workflow = ("fly", "review")[index // 2 % 2]
        store.create_run(make_run(f"r{index}", workflow, 1000.0 + index, status=status))
    executed: list[str] = []
    store._db.set_trace_callback(executed.append)
    query_runs(store, query)
    store._db.set_trace_callback(None)
    plan = [row[3] for row in store._db.execute("EXPLAIN QUERY PLAN " + executed[-1])]
    assert all("USING INDEX" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan


def test_a_version_1_database_upgrades_in_place(project: Project) -> None:
    """A database written by the release before run listings lists and pages by status."""
    path = project.root / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE maverick_schema (version INTEGER NOT NULL)")
        for statement in MIGRATIONS[0]:
            db.execute(statement)
        db.execute("INSERT INTO maverick_schema VALUES (1)")
        for index, status in enumerate(["completed", "failed", "running"]):
            run = make_run(f"old-{index}", "fly", 1000.0 + index, status=status)
            db.execute(
                "INSERT INTO runs (project, run_id, workflow, created_at, record) "
                "VALUES (?, ?, ?, ?, ?)",
                ("proj", run.run_id, run.workflow, run.created_at, json.dumps(attrs.asdict(run))),
            )
        db.execute(
            "INSERT INTO checkpoints (project, run_id, seq, checkpoint_id, kind, created_at,"
            " serializer, payload, checksum) VALUES ('proj', 'old-1', 1, 'a', 'delta', 1.0,"
            " 'json', x'7b7d', 'c')"
        )
    store = SQLiteStore.open("sqlite:///old.db", project)
    assert [r.run_id for r in query_runs(store, RunQuery(statuses=("failed",))).runs] == ["old-1"]
    assert [r.run_id for r in query_runs(store, RunQuery(limit=2)).runs] == ["old-2", "old-1"]
    assert [r.seq for r in store.read_checkpoints("old-1")] == [1]
    store.update_run(attrs.evolve(store.get_run("old-2"), status="completed"))
    done = query_runs(store, RunQuery(statuses=("completed",)))
    assert [r.run_id for r in done.runs] == ["old-2", "old-0"]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM maverick_schema").fetchall() == [(SCHEMA_VERSION,)]
