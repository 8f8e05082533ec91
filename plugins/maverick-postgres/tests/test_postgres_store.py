"""The PostgreSQL store against a real server: protocol, namespacing, schema, leases."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import attrs
import maverick_postgres
import psycopg
import pytest
from maverick_postgres import SCHEMA_VERSION, PostgresStore
from maverick_postgres.schema import MIGRATIONS
from maverick_postgres.store import READ_BATCH, listing_sql

from maverick_core.engine.errors import LockHeld, StoreError
from maverick_core.engine.storage import (
    CheckpointRecord,
    LockHolder,
    Project,
    RunQuery,
    RunRecord,
    Store,
    encode_cursor,
    make_record,
    query_runs,
)
from maverick_core.testing.conformance import StoreConformance

if TYPE_CHECKING:
    from pathlib import Path

    from maverick_postgres.testing import PostgresServer

pytestmark = pytest.mark.postgres

OpenStore = Callable[..., PostgresStore]

# A process holding a run's lease, driven over stdin: "append SEQ" -> "ok" / "error MSG".
HOLDER_SCRIPT = """
import os, socket, sys, time
from pathlib import Path
from maverick_core.engine.errors import StoreError
from maverick_core.engine.storage import LockHolder, Project, make_record
from maverick_postgres import PostgresStore

url, project, run_id, host = sys.argv[1:5]
store = PostgresStore.open(url, Project(root=Path.cwd(), name=project))
holder = LockHolder(pid=os.getpid(), host=host or socket.gethostname(), acquired_at=time.time())
store.acquire_lock(run_id, holder)
print("locked", flush=True)
for line in sys.stdin:
    seq = int(line.split()[1])
    try:
        store.append_checkpoint(make_record(run_id, seq, "c", "delta", time.time(), "json", b"x"))
        print("ok", flush=True)
    except StoreError as exc:
        print("error", exc, flush=True)
"""

# Opens a store once told to, so several processes open one fresh database at once.
OPENER_SCRIPT = """
import sys
from pathlib import Path
from maverick_core.engine.storage import Project
from maverick_postgres import PostgresStore

print("ready", flush=True)
sys.stdin.readline()
PostgresStore.open(sys.argv[1], Project(root=Path.cwd(), name="race")).close()
print("opened", flush=True)
"""


def a_run(
    project: str,
    run_id: str = "run-1",
    *,
    workflow: str = "fly",
    created_at: float = 1.0,
    status: str = "running",
) -> RunRecord:
    """A run record with every field set to something non-default."""
    return RunRecord(
        run_id=run_id,
        workflow=workflow,
        source="/repo/fly.yaml",
        project=project,
        status=status,
        created_at=created_at,
        updated_at=created_at + 0.5,
        inputs={"zeta": 1, "alpha": [1.5, None, True], "text": "héllo \u0000 wörld"},
        secret_inputs=["token"],
        fingerprints={"steps.build": "abc123"},
        meta={"resumes": [{"at": 2.0, "force": False}]},
    )


def a_record(
    run_id: str, seq: int, payload: bytes = b"{}", kind: str = "delta"
) -> CheckpointRecord:
    """A journal record with a valid checksum."""
    return make_record(run_id, seq, f"cp_{seq}", kind, 1700000000.0 + seq / 7, "json", payload)


def holder_at(host: str, pid: int | None = None) -> LockHolder:
    """A lock holder claiming to run on ``host``."""
    return LockHolder(pid=pid or os.getpid(), host=host, acquired_at=time.time())


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start helper Python processes; every one still running is killed afterwards."""
    procs: list[subprocess.Popen[str]] = []

    def _spawn(script: str, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", script, *args],
            cwd=tmp_path,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        procs.append(proc)
        return proc

    yield _spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def read_line(proc: subprocess.Popen[str]) -> str:
    """The child's next output line; fails with its stderr if it died instead."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        assert proc.stderr is not None
        pytest.fail(f"helper process exited {proc.returncode}: {proc.stderr.read()}")
    return line.strip()


def start_holder(
    spawn: Callable[..., subprocess.Popen[str]],
    url: str,
    project: str,
    run_id: str,
    host: str = "",
) -> subprocess.Popen[str]:
    """A child process that holds ``run_id``'s lease (as ``host`` if given)."""
    proc = spawn(HOLDER_SCRIPT, url, project, run_id, host)
    assert read_line(proc) == "locked"
    return proc


def ask(proc: subprocess.Popen[str], command: str) -> str:
    """Send the holder a command and return its answer."""
    assert proc.stdin is not None
    proc.stdin.write(command + "\n")
    proc.stdin.flush()
    return read_line(proc)


def acquire_when_free(
    store: PostgresStore, run_id: str, holder: LockHolder, timeout: float
) -> tuple[LockHolder | None, float]:
    """Retry until the lock is taken; the previous holder and when it was taken."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return store.acquire_lock(run_id, holder), time.monotonic()
        except LockHeld:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def schema_versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT version FROM maverick_schema ORDER BY 1")]


# -- the store protocol --------------------------------------------------------


def test_store_satisfies_the_store_protocol(store: PostgresStore) -> None:
    assert isinstance(store, Store)


def test_created_run_reads_back_with_every_field(store: PostgresStore) -> None:
    run = a_run(store.project.name)
    store.create_run(run)
    read = store.get_run("run-1")
    assert read == run
    assert read is not None and list(read.inputs) == ["zeta", "alpha", "text"]


def test_get_run_of_unknown_id_is_none(store: PostgresStore) -> None:
    assert store.get_run("nope") is None


def test_creating_an_existing_run_is_refused(store: PostgresStore) -> None:
    store.create_run(a_run(store.project.name))
    with pytest.raises(StoreError, match="run run-1 already exists"):
        store.create_run(a_run(store.project.name))


def test_update_run_replaces_the_record(store: PostgresStore) -> None:
    store.create_run(a_run(store.project.name))
    done = attrs.evolve(
        a_run(store.project.name),
        status="completed",
        updated_at=99.0,
        inputs={},
        meta={"finished": True},
    )
    store.update_run(done)
    assert store.get_run("run-1") == done


def test_updating_an_unknown_run_is_refused(store: PostgresStore) -> None:
    with pytest.raises(StoreError, match="no such run"):
        store.update_run(a_run(store.project.name, "ghost"))


def test_list_runs_is_newest_first_and_filters_by_workflow(store: PostgresStore) -> None:
    name = store.project.name
    store.create_run(a_run(name, "old", created_at=10.0))
    store.create_run(a_run(name, "new", created_at=30.0))
    store.create_run(a_run(name, "mid", workflow="review", created_at=20.0))
    assert [r.run_id for r in store.list_runs()] == ["new", "mid", "old"]
    assert [r.run_id for r in store.list_runs("fly")] == ["new", "old"]
    assert store.list_runs("refuel") == []


def test_delete_run_removes_journal_snapshot_and_lease(
    store: PostgresStore, open_store: OpenStore
) -> None:
    store.create_run(a_run(store.project.name))
    store.append_checkpoint(a_record("run-1", 1))
    store.write_snapshot(a_record("run-1", 1, kind="full"))
    store.acquire_lock("run-1", holder_at("far-away"))
    assert store.delete_run("run-1") is True
    assert store.get_run("run-1") is None
    assert list(store.read_checkpoints("run-1")) == []
    assert store.read_snapshot("run-1") is None
    assert open_store().acquire_lock("run-1", holder_at("here")) is None
    assert store.delete_run("run-1") is False


def test_read_checkpoints_streams_in_order_after_seq(store: PostgresStore) -> None:
    store.create_run(a_run(store.project.name))
    total = READ_BATCH + 44  # more than one batch
    for seq in range(1, total + 1):
        store.append_checkpoint(a_record("run-1", seq, f"payload {seq}".encode()))
    assert [r.seq for r in store.read_checkpoints("run-1")] == list(range(1, total + 1))
    tail = list(store.read_checkpoints("run-1", after_seq=total - 3))
    assert [r.seq for r in tail] == [total - 2, total - 1, total]
    assert list(store.read_checkpoints("run-1", after_seq=total)) == []


def test_payload_and_checksum_round_trip_byte_exact(store: PostgresStore) -> None:
    store.create_run(a_run(store.project.name))
    payloads = [bytes(range(256)) * 4, b"", b"\x00" * 10, "ünïcode ✓".encode()]
    written = [
        make_record("run-1", seq, f"id {seq} ✓", "full", 0.1 + 0.2 * seq, "msgpack", payload)
        for seq, payload in enumerate(payloads, start=1)
    ]
    for record in written:
        store.append_checkpoint(record)
    read = list(store.read_checkpoints("run-1"))
    assert read == written
    assert all(record.intact for record in read)


def test_a_checkpoint_seq_is_written_once(store: PostgresStore) -> None:
    store.create_run(a_run(store.project.name))
    store.append_checkpoint(a_record("run-1", 1))
    with pytest.raises(StoreError, match="already has a checkpoint with seq 1"):
        store.append_checkpoint(a_record("run-1", 1, b"other"))
    assert [
        r.payload for r in store.read_checkpoints("run-1") if isinstance(r, CheckpointRecord)
    ] == [b"{}"]


def test_appending_to_an_unknown_run_is_refused(store: PostgresStore) -> None:
    with pytest.raises(StoreError, match="cannot append to run ghost: no such run"):
        store.append_checkpoint(a_record("ghost", 1))


def test_write_snapshot_replaces_the_previous_one(store: PostgresStore) -> None:
    store.create_run(a_run(store.project.name))
    assert store.read_snapshot("run-1") is None
    store.write_snapshot(a_record("run-1", 3, b"state 3", kind="full"))
    latest = a_record("run-1", 9, b"state 9", kind="full")
    store.write_snapshot(latest)
    assert store.read_snapshot("run-1") == latest


# -- namespacing ---------------------------------------------------------------


def test_clones_with_the_same_project_name_share_runs(
    open_store: OpenStore, tmp_path: Path
) -> None:
    first = open_store(root=tmp_path / "clone-a")
    second = open_store(root=tmp_path / "clone-b")
    first.create_run(a_run(first.project.name))
    first.append_checkpoint(a_record("run-1", 1))
    assert second.get_run("run-1") == first.get_run("run-1")
    assert [r.seq for r in second.read_checkpoints("run-1")] == [1]


def test_projects_with_different_names_never_see_each_others_runs(
    open_store: OpenStore,
) -> None:
    mine = open_store(name="mine-" + uuid.uuid4().hex)
    theirs = open_store(name="theirs-" + uuid.uuid4().hex)
    mine.create_run(a_run(mine.project.name))
    mine.append_checkpoint(a_record("run-1", 1))
    mine.write_snapshot(a_record("run-1", 1, kind="full"))
    mine.acquire_lock("run-1", holder_at("elsewhere"))

    assert theirs.get_run("run-1") is None
    assert theirs.list_runs() == []
    assert list(theirs.read_checkpoints("run-1")) == []
    assert theirs.read_snapshot("run-1") is None
    assert theirs.delete_run("run-1") is False
    assert theirs.acquire_lock("run-1", holder_at("here")) is None
    theirs.create_run(a_run(theirs.project.name))  # the same run id, its own run
    assert mine.get_run("run-1") == a_run(mine.project.name)


def test_runs_are_namespaced_by_the_stores_project_not_the_records(
    open_store: OpenStore,
) -> None:
    store = open_store()
    named_in_record = "recorded-" + uuid.uuid4().hex
    run = a_run(named_in_record)
    store.create_run(run)
    assert store.get_run("run-1") == run
    assert open_store(name=named_in_record).get_run("run-1") is None


# -- opening: URL, schema, errors ------------------------------------------------


def test_the_plugin_registers_both_url_schemes() -> None:
    registered: dict[str, object] = {}
    maverick_postgres.register_stores(
        register=lambda scheme, factory: registered.update({scheme: factory})
    )
    assert registered == {
        "postgresql": maverick_postgres.open_store,
        "postgres": maverick_postgres.open_store,
    }
    points = importlib.metadata.entry_points(group="maverick")
    assert any(p.name == "postgres" and p.value == "maverick_postgres" for p in points)


def test_the_url_shown_never_contains_the_password(
    open_store: OpenStore, postgres_server: PostgresServer
) -> None:
    store = open_store(query="lease=7")
    assert store.lease == 7
    assert "***" in store.url
    assert postgres_server.password not in store.url


def test_an_invalid_lease_is_refused(pg_url: str, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"invalid lease='soon'.*expected seconds > 0"):
        PostgresStore.open(pg_url + "?lease=soon", Project(root=tmp_path, name="p"))


def test_schema_is_created_once_when_processes_open_at_once(
    fresh_db_url: str, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    openers = [spawn(OPENER_SCRIPT, fresh_db_url) for _ in range(4)]
    for proc in openers:
        assert read_line(proc) == "ready"
    for proc in openers:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in openers:
        assert read_line(proc) == "opened"
    assert schema_versions(fresh_db_url) == list(range(1, SCHEMA_VERSION + 1))


def test_opening_an_up_to_date_database_changes_nothing(fresh_db_url: str, tmp_path: Path) -> None:
    for _ in range(2):
        PostgresStore.open(fresh_db_url, Project(root=tmp_path, name="p")).close()
    assert schema_versions(fresh_db_url) == list(range(1, SCHEMA_VERSION + 1))


def test_a_newer_schema_is_refused(fresh_db_url: str, tmp_path: Path) -> None:
    PostgresStore.open(fresh_db_url, Project(root=tmp_path, name="p")).close()
    with psycopg.connect(fresh_db_url) as conn:
        conn.execute("INSERT INTO maverick_schema (version) VALUES (%s)", (SCHEMA_VERSION + 1,))
    expected = (
        f"schema version {SCHEMA_VERSION + 1} is newer than this maverick-postgres "
        f"(knows {SCHEMA_VERSION}); upgrade the plugin"
    )
    with pytest.raises(StoreError, match=re.escape(expected)):
        PostgresStore.open(fresh_db_url, Project(root=tmp_path, name="p"))


def test_a_version_1_database_upgrades_in_place(fresh_db_url: str, tmp_path: Path) -> None:
    """A database written by the release before run listings lists and pages by status."""
    with psycopg.connect(fresh_db_url) as conn:
        conn.execute(
            "CREATE TABLE maverick_schema"
            " (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for statement in MIGRATIONS[1]:
            conn.execute(statement)
        conn.execute("INSERT INTO maverick_schema (version) VALUES (1)")
        for index, status in enumerate(["completed", "failed", "running"]):
            run = a_run("p", f"old-{index}", created_at=1000.0 + index, status=status)
            conn.execute(
                "INSERT INTO maverick_runs VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                ("p", *PostgresStore._run_values(run)),
            )
    store = PostgresStore.open(fresh_db_url, Project(root=tmp_path, name="p"))
    try:
        assert schema_versions(fresh_db_url) == list(range(1, SCHEMA_VERSION + 1))
        failed = query_runs(store, RunQuery(statuses=("failed",)))
        assert [r.run_id for r in failed.runs] == ["old-1"]
        first = query_runs(store, RunQuery(limit=2))
        assert [r.run_id for r in first.runs] == ["old-2", "old-1"]
        rest = query_runs(store, RunQuery(limit=2, cursor=first.next_cursor))
        assert [r.run_id for r in rest.runs] == ["old-0"] and rest.next_cursor is None
    finally:
        store.close()


@pytest.mark.parametrize(
    "query",
    [
        RunQuery(),
        RunQuery(workflow="fly"),
        RunQuery(statuses=("failed",)),
        RunQuery(workflow="fly", statuses=("failed",), since=1010.0),
        RunQuery(cursor=encode_cursor(1030.0, "r30")),
    ],
)
def test_a_page_of_runs_is_read_through_an_index_in_listing_order(
    store: PostgresStore, pg_url: str, query: RunQuery
) -> None:
    name = store.project.name
    for index in range(40):
        status = ("running", "failed")[index % 2]
        workflow = ("fly", "review")[index // 2 % 2]
        store.create_run(
            a_run(name, f"r{index}", workflow=workflow, created_at=1000.0 + index, status=status)
        )
    sql, params = listing_sql(name, query)
    with psycopg.connect(pg_url) as conn:
        # with scans and sorts priced out, a plan still holding one has no index to use
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_sort = off")
        plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + sql, params))
    assert "Index" in plan and "Sort" not in plan and "Seq Scan" not in plan, plan


def test_run_ids_page_in_code_point_order_in_a_database_with_a_language_collation(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    dbname = f"icu_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute(
            f"CREATE DATABASE {dbname} LOCALE_PROVIDER icu ICU_LOCALE 'en' TEMPLATE template0"
        )
    url = postgres_server.url_for(dbname)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 'Z' > 'a'").fetchone() == (True,)  # English, not bytes
    store = PostgresStore.open(url, Project(root=tmp_path, name="p"))
    try:
        for run_id in ("a-tie", "Z-tie", "b-tie"):
            store.create_run(a_run("p", run_id, created_at=1000.0))
        seen, cursor = [], None
        for _ in range(3):
            page = query_runs(store, RunQuery(limit=1, cursor=cursor))
            seen += [r.run_id for r in page.runs]
            cursor = page.next_cursor
        assert seen == ["b-tie", "a-tie", "Z-tie"] and cursor is None
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_an_unreachable_database_is_a_quick_one_line_error(tmp_path: Path) -> None:
    port = free_port()
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        PostgresStore.open(
            f"postgresql://ci:s3cret@127.0.0.1:{port}/db", Project(root=tmp_path, name="p")
        )
    assert time.monotonic() - started < 3
    message = str(caught.value)
    assert message == f"cannot connect to PostgreSQL at 127.0.0.1:{port}/db: Connection refused"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_silent_server_times_out_with_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as listener:  # accepts TCP connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(StoreError) as caught:
            PostgresStore.open(
                f"postgresql://ci:s3cret@127.0.0.1:{port}/db?connect_timeout=2",
                Project(root=tmp_path, name="p"),
            )
        elapsed = time.monotonic() - started
    assert elapsed < 5
    message = str(caught.value)
    assert message.startswith(f"cannot connect to PostgreSQL at 127.0.0.1:{port}/db: ")
    assert "timeout" in message and "\n" not in message and "s3cret" not in message


def test_a_wrong_password_is_named_without_showing_it(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    bad = postgres_server.url.replace(postgres_server.password, "wrong-pw")
    with pytest.raises(StoreError, match="password authentication failed") as caught:
        PostgresStore.open(bad, Project(root=tmp_path, name="p"))
    assert "wrong-pw" not in str(caught.value)


# -- leases ----------------------------------------------------------------------


def test_a_live_holder_in_another_process_is_refused_naming_pid_and_host(
    store: PostgresStore, pg_url: str, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    holder = start_holder(spawn, pg_url, store.project.name, "run-1")
    with pytest.raises(LockHeld) as caught:
        store.acquire_lock("run-1", LockHolder.current(time.time()))
    assert re.fullmatch(
        rf"run run-1 is being executed by pid {holder.pid} on host "
        rf"{re.escape(socket.gethostname())} \(lease expires in \d+s\)",
        str(caught.value),
    )


def test_a_dead_holder_on_this_machine_is_taken_over_at_once(
    store: PostgresStore, pg_url: str, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    holder = start_holder(spawn, pg_url, store.project.name, "run-1")
    holder.kill()
    holder.wait()
    previous = store.acquire_lock("run-1", LockHolder.current(time.time()))
    assert previous is not None
    assert (previous.pid, previous.host) == (holder.pid, socket.gethostname())


def test_a_killed_holder_on_another_host_is_taken_over_only_after_its_lease_expires(
    open_store: OpenStore, pg_url: str, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    store = open_store(query="lease=2")
    holder = start_holder(spawn, pg_url + "?lease=2", store.project.name, "run-1", "far-away")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    killed_at = time.monotonic()
    with pytest.raises(LockHeld, match=rf"pid {holder.pid} on host far-away \(lease expires"):
        store.acquire_lock("run-1", LockHolder.current(time.time()))
    previous, taken_at = acquire_when_free(store, "run-1", LockHolder.current(time.time()), 5)
    # Killed right after locking, the lease had most of its 2 s left: no shortcut was taken.
    assert taken_at - killed_at >= 1.0
    assert previous is not None and (previous.pid, previous.host) == (holder.pid, "far-away")


def test_the_heartbeat_keeps_a_live_lease_past_several_periods(open_store: OpenStore) -> None:
    holding = open_store(query="lease=2")
    waiting = open_store(query="lease=2")
    holding.acquire_lock("run-1", holder_at("far-away"))
    time.sleep(3 * 2 + 0.5)
    with pytest.raises(LockHeld, match=r"on host far-away \(lease expires in [12]s\)"):
        waiting.acquire_lock("run-1", holder_at("here"))


def test_a_paused_process_that_lost_its_lease_cannot_append(
    open_store: OpenStore, pg_url: str, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    store = open_store(query="lease=1")
    store.create_run(a_run(store.project.name))
    holder = start_holder(spawn, pg_url + "?lease=1", store.project.name, "run-1", "far-away")
    assert ask(holder, "append 1") == "ok"
    holder.send_signal(signal.SIGSTOP)  # a long GC pause, a suspended VM...
    me = LockHolder.current(time.time())
    acquire_when_free(store, "run-1", me, 5)
    holder.send_signal(signal.SIGCONT)
    answer = ask(holder, "append 2")
    assert answer == (
        f"error lost the lease on run run-1 ({me.describe()} took it over);"
        " this process may not write to it"
    )
    assert [r.seq for r in store.read_checkpoints("run-1")] == [1]
    store.append_checkpoint(a_record("run-1", 2))


def test_the_heartbeat_notices_a_takeover(
    open_store: OpenStore, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(query="lease=1")
    store.create_run(a_run(store.project.name))
    store.acquire_lock("run-1", holder_at("far-away"))
    with psycopg.connect(pg_url) as conn:  # what a takeover does to the row
        conn.execute(
            "UPDATE maverick_leases SET pid = 4242, host = 'thief', token = 'theirs'"
            " WHERE project = %s AND run_id = 'run-1'",
            (store.project.name,),
        )
    with caplog.at_level(logging.ERROR, logger="maverick_postgres"):
        deadline = time.monotonic() + 3
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "lost the lease on run run-1 (pid 4242 on host thief took it over)" in caplog.text
    with pytest.raises(StoreError, match="lost the lease on run run-1"):
        store.update_run(a_run(store.project.name, status="failed"))


def test_a_released_lock_is_free_for_the_next_holder(open_store: OpenStore) -> None:
    first, second = open_store(), open_store()
    mine = holder_at("far-away")
    first.acquire_lock("run-1", mine)
    first.release_lock("run-1", mine)
    assert second.acquire_lock("run-1", holder_at("other")) is None


def test_delete_refuses_a_run_leased_by_a_live_holder(open_store: OpenStore) -> None:
    holding, deleting = open_store(), open_store()
    holding.create_run(a_run(holding.project.name))
    holding.acquire_lock("run-1", holder_at("far-away"))
    with pytest.raises(LockHeld, match=r"pid \d+ on host far-away"):
        deleting.delete_run("run-1")
    assert holding.delete_run("run-1") is True


def test_the_same_holder_may_acquire_again(store: PostgresStore) -> None:
    mine = LockHolder(pid=os.getpid(), host="far-away", acquired_at=1.0, token="t-1")
    assert store.acquire_lock("run-1", mine) is None
    assert store.acquire_lock("run-1", mine) is None


def test_closing_a_store_gives_up_its_leases(open_store: OpenStore) -> None:
    first, second = open_store(), open_store()
    first.acquire_lock("run-1", holder_at("far-away"))
    first.close()
    assert second.acquire_lock("run-1", holder_at("other")) is None


class TestPostgresConformance(StoreConformance):
    """The store contract every maverick store must meet, on the session server."""

    @pytest.fixture
    def store_url(self, pg_url: str) -> str:
        return pg_url
