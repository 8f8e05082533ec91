"""The conformance kit: the tests every store and serializer plugin must pass.

Subclass a suite in your test module and override one fixture::

    from maverick_core.testing.conformance import SerializerConformance, StoreConformance

    class TestMyStore(StoreConformance):
        @pytest.fixture
        def store_url(self) -> str:
            return "mystore:///runs.db"     # opened for the kit's ``project`` fixture

    class TestMySerializer(SerializerConformance):
        @pytest.fixture
        def serializer(self) -> Serializer:
            return MySerializer()

Stores are opened by URL through the plugin manager, as ``maverick --store URL``
does, so the plugin must be installed (its entry point) or named by overriding
``store_plugins`` (modules loaded as with ``-p``). Several tests start real child
processes (``python -m maverick_core.testing._store_child``) that open the store
the same way, hold its locks, append to it concurrently and are killed with
SIGKILL in the middle of commits.

See ``docs/plugins-storage.md`` for the contract the tests check.
"""

from __future__ import annotations

import json
import math
import os
import random
import secrets
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from typing import IO, TYPE_CHECKING, Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maverick_core.engine.errors import LockHeld, StoreError
from maverick_core.engine.run import Status
from maverick_core.engine.storage import (
    MAX_QUERY_LIMIT,
    CheckpointRecord,
    DamagedRecord,
    LockHolder,
    Project,
    QueryError,
    RunQuery,
    RunRecord,
    Serializer,
    Store,
    encode_cursor,
    make_record,
    query_runs,
    record_checksum,
)
from maverick_core.testing._store_child import open_store_by_url, payload_for_seq
from maverick_core.testing.runner import MaverickCLI

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

__all__ = ["SerializerConformance", "StoreConformance"]

# A child that has not said "ready"/"locked" by then is reported with its stderr.
_CHILD_START_TIMEOUT = 60.0
_CRASH_ROUNDS = 5


def make_run(
    run_id: str, workflow: str = "demo", created_at: float | None = None, **changes: Any
) -> RunRecord:
    """A run record with plausible defaults, for tests of stores."""
    now = time.time() if created_at is None else created_at
    fields: dict[str, Any] = {
        "run_id": run_id,
        "workflow": workflow,
        "source": f"/work/{workflow}.yaml",
        "project": "conformance",
        "status": Status.RUNNING.value,
        "created_at": now,
        "updated_at": now,
        "inputs": {"count": 3, "name": "zoë", "tags": ["a", "b"], "opts": {"x": None}},
        "secret_inputs": ["token"],
        "fingerprints": {"build": "f" * 64, "each[0].work": "0" * 64},
        "meta": {"resumes": []},
    }
    fields.update(changes)
    return RunRecord(**fields)


def new_run_id() -> str:
    """A run id in the style maverick makes them."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"


def delta(run_id: str, seq: int, payload: bytes | None = None, **changes: Any) -> CheckpointRecord:
    """A well-formed record; ``changes`` override header fields (checksum recomputed)."""
    fields: dict[str, Any] = {
        "run_id": run_id,
        "seq": seq,
        "checkpoint_id": f"step_{seq}_done",
        "kind": "delta",
        "created_at": 1_700_000_000.0 + seq + 0.123456,
        "serializer": "json",
        "payload": b'{"seq":%d}' % seq if payload is None else payload,
    }
    fields.update(changes)
    return make_record(**fields)


class _Child:
    """A child process running the kit's store child, spoken to over stdout."""

    def __init__(self, spec: dict[str, Any]) -> None:
        env = dict(os.environ)
        # The child must import what this process imports (the plugin under test).
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "maverick_core.testing._store_child", json.dumps(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_for(self, word: str) -> None:
        """Block until the child prints ``word``; fail with its stderr if it does not."""
        stdout: IO[bytes] | None = self.process.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], _CHILD_START_TIMEOUT)
        line = stdout.readline().decode().strip() if ready else "(nothing in time)"
        if line != word:
            pytest.fail(f"store child did not say {word!r} (said {line!r}): {self.stderr()}")

    def kill(self) -> None:
        """SIGKILL the child and reap it."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def kill_mid_work(self) -> None:
        """SIGKILL a child that should still be working; fail if it had already died."""
        if self.process.poll() is not None:
            pytest.fail(f"store child died by itself ({self.process.returncode}): {self.stderr()}")
        self.kill()

    def finish(self, timeout: float = 60.0) -> None:
        """Wait for a child that exits by itself; fail unless it exited 0."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"store child did not finish in {timeout} s")
        if code != 0:
            pytest.fail(f"store child exited {code}: {self.stderr()}")

    def stderr(self) -> str:
        stream = self.process.stderr
        if stream is None:
            return ""
        if self.process.poll() is None:
            self.kill()
        return stream.read().decode(errors="replace")[-4000:]

    def close(self) -> None:
        self.kill()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


class StoreConformance:
    """Tests of the :class:`~maverick_core.engine.storage.Store` contract.

    Override :meth:`store_url`; optionally :meth:`store_plugins` (modules to load as
    with ``-p``) and :meth:`project`.
    """

    # ---------------------------------------------------------------- fixtures

    @pytest.fixture
    def store_url(self) -> str:
        """The URL of the store under test. Override this."""
        pytest.fail("override the store_url fixture in your StoreConformance subclass")

    @pytest.fixture
    def store_plugins(self) -> Sequence[str]:
        """Plugin modules to load as with ``-p`` (also in child processes)."""
        return ()

    @pytest.fixture
    def project(self, tmp_path: Path) -> Project:
        """A fresh project directory; its name is unique so shared servers isolate tests."""
        root = tmp_path / "proj"
        root.mkdir()
        return Project(root=root, name=f"conformance-{secrets.token_hex(6)}")

    @pytest.fixture
    def make_store(
        self, store_url: str, project: Project, store_plugins: Sequence[str]
    ) -> Iterator[Callable[[], Store]]:
        """Opens a new store instance on each call; all are closed after the test."""
        opened: list[Store] = []

        def make() -> Store:
            store = open_store_by_url(store_url, project, store_plugins)
            opened.append(store)
            return store

        yield make
        for store in opened:
            store.close()

    @pytest.fixture
    def store(self, make_store: Callable[[], Store]) -> Store:
        """One store instance."""
        return make_store()

    @pytest.fixture
    def spawn(
        self, store_url: str, project: Project, store_plugins: Sequence[str]
    ) -> Iterator[Callable[..., _Child]]:
        """Starts store child processes for this test; kills leftovers afterwards."""
        children: list[_Child] = []

        def start(command: str, **spec: Any) -> _Child:
            child = _Child(
                {
                    "command": command,
                    "url": store_url,
                    "root": str(project.root),
                    "name": project.name,
                    "plugins": list(store_plugins),
                    **spec,
                }
            )
            children.append(child)
            return child

        yield start
        for child in children:
            child.close()

    def created(self, store: Store, **changes: Any) -> RunRecord:
        """Create a run in ``store`` and return its record."""
        run = make_run(changes.pop("run_id", None) or new_run_id(), **changes)
        store.create_run(run)
        return run

    # -------------------------------------------------------------------- runs

    def test_the_store_implements_the_protocol(self, store: Store) -> None:
        assert isinstance(store, Store)
        assert isinstance(store.url, str)

    def test_closing_twice_is_harmless(self, store: Store) -> None:
        store.close()
        store.close()

    def test_created_run_reads_back_equal(self, store: Store) -> None:
        run = self.created(store)
        assert store.get_run(run.run_id) == run

    def test_created_run_is_visible_to_another_instance(
        self, store: Store, make_store: Callable[[], Store]
    ) -> None:
        run = self.created(store)
        assert make_store().get_run(run.run_id) == run

    def test_creating_an_existing_run_raises_store_error(self, store: Store) -> None:
        run = self.created(store)
        with pytest.raises(StoreError):
            store.create_run(run)

    def test_unknown_run_is_none(self, store: Store) -> None:
        assert store.get_run(new_run_id()) is None

    def test_update_replaces_the_run_record(self, store: Store) -> None:
        run = self.created(store)
        changed = make_run(
            run.run_id,
            created_at=run.created_at,
            status=Status.COMPLETED.value,
            updated_at=run.updated_at + 5.5,
            meta={"resumes": [{"at": 1.5, "forced": True}], "note": "ünï"},
        )
        store.update_run(changed)
        assert store.get_run(run.run_id) == changed

    def test_an_in_flight_agent_session_reads_back_from_another_instance(
        self, store: Store, make_store: Callable[[], Store]
    ) -> None:
        """The checkpoint plugin keeps a running agent call's session in the run record's
        meta (``on_agent_session``); a resume, in another process, must find it, then not."""
        run = self.created(store)
        session = {
            "session_id": "3f2a9c1e-7b4d-4e0a-9c55-1d2e3f4a5b6c",
            "role": "implementer",
            "backend": "claude",
            "digest": "ab" * 8,
            "fingerprint": "f" * 64,
        }
        for sessions in ({"phases[1].implement": session}, {}):
            updated = make_run(
                run.run_id,
                created_at=run.created_at,
                meta={**run.meta, "agent_sessions": sessions},
            )
            store.update_run(updated)
            assert make_store().get_run(run.run_id) == updated

    def test_agent_calls_recorded_one_by_one_read_back_in_order(
        self, store: Store, make_store: Callable[[], Store]
    ) -> None:
        """Each agent call's usage is added to the run record at once (``on_agent_usage``)."""
        run = self.created(store)
        calls: list[dict[str, Any]] = []
        for index in range(5):
            calls.append({"path": f"phases[{index}].implement", "cost_usd": 0.25 * index})
            store.update_run(
                make_run(run.run_id, created_at=run.created_at, meta={"agent_calls": list(calls)})
            )
        found = make_store().get_run(run.run_id)
        assert found is not None and found.meta["agent_calls"] == calls

    def test_updating_an_unknown_run_raises_store_error(self, store: Store) -> None:
        with pytest.raises(StoreError):
            store.update_run(make_run(new_run_id()))

    def test_list_runs_is_newest_first(self, store: Store) -> None:
        middle = self.created(store, created_at=2000.0)
        newest = self.created(store, created_at=3000.0)
        oldest = self.created(store, created_at=1000.0)
        assert [r.run_id for r in store.list_runs()] == [
            newest.run_id,
            middle.run_id,
            oldest.run_id,
        ]

    def test_list_runs_filters_by_workflow(self, store: Store) -> None:
        fly = self.created(store, workflow="fly")
        self.created(store, workflow="review")
        assert store.list_runs("fly") == [fly]
        assert store.list_runs("nothing") == []

    def test_empty_store_lists_no_runs(self, store: Store) -> None:
        assert store.list_runs() == []

    def test_delete_removes_the_run_and_its_checkpoints(self, store: Store) -> None:
        run = self.created(store)
        kept = self.created(store)
        store.append_checkpoint(delta(run.run_id, 1))
        store.write_snapshot(delta(run.run_id, 1, kind="full"))
        assert store.delete_run(run.run_id) is True
        assert store.get_run(run.run_id) is None
        assert list(store.read_checkpoints(run.run_id)) == []
        assert store.read_snapshot(run.run_id) is None
        assert store.list_runs() == [kept]

    def test_deleting_an_unknown_run_returns_false(self, store: Store) -> None:
        assert store.delete_run(new_run_id()) is False

    def test_delete_refuses_a_run_locked_by_another_holder(
        self, store: Store, make_store: Callable[[], Store]
    ) -> None:
        run = self.created(store)
        store.acquire_lock(run.run_id, LockHolder.current(time.time(), "holder"))
        with pytest.raises(LockHeld):
            make_store().delete_run(run.run_id)
        assert store.get_run(run.run_id) == run

    def test_a_deleted_run_id_can_be_created_again(self, store: Store) -> None:
        run = self.created(store)
        store.append_checkpoint(delta(run.run_id, 1))
        store.delete_run(run.run_id)
        store.create_run(run)
        store.append_checkpoint(delta(run.run_id, 1, payload=b"{}"))
        assert [r.payload for r in _intact(store.read_checkpoints(run.run_id))] == [b"{}"]

    # ------------------------------------------------------------- checkpoints

    def test_appended_records_read_back_in_order(self, store: Store) -> None:
        run = self.created(store)
        records = [delta(run.run_id, seq) for seq in range(1, 21)]
        for record in records:
            store.append_checkpoint(record)
        assert list(store.read_checkpoints(run.run_id)) == records

    def test_records_read_back_from_another_instance(
        self, store: Store, make_store: Callable[[], Store]
    ) -> None:
        run = self.created(store)
        records = [delta(run.run_id, seq) for seq in range(1, 6)]
        for record in records:
            store.append_checkpoint(record)
        assert list(make_store().read_checkpoints(run.run_id)) == records

    def test_read_after_seq_starts_after_it(self, store: Store) -> None:
        run = self.created(store)
        for seq in range(1, 11):
            store.append_checkpoint(delta(run.run_id, seq))
        assert [r.seq for r in _intact(store.read_checkpoints(run.run_id, 7))] == [8, 9, 10]
        assert list(store.read_checkpoints(run.run_id, 10)) == []

    def test_runs_keep_separate_journals(self, store: Store) -> None:
        first, second = self.created(store), self.created(store)
        store.append_checkpoint(delta(first.run_id, 1, payload=b'"first"'))
        store.append_checkpoint(delta(second.run_id, 1, payload=b'"second"'))
        store.append_checkpoint(delta(first.run_id, 2, payload=b'"first again"'))
        assert [r.payload for r in _intact(store.read_checkpoints(second.run_id))] == [b'"second"']
        assert [r.seq for r in _intact(store.read_checkpoints(first.run_id))] == [1, 2]

    def test_reading_an_unknown_run_yields_nothing(self, store: Store) -> None:
        assert list(store.read_checkpoints(new_run_id())) == []

    @pytest.mark.parametrize(
        "payload",
        [
            b"",
            b'{"a":1}',
            bytes(range(256)),
            b"\n\n line\nbreaks\r\n",
            b"\x01\x02\x03\x01\x01\n\x00",
            b"ends with a space ",
            "ünïcödé ✓ 🚀".encode(),
        ],
        ids=["empty", "json", "all-bytes", "newlines", "escape-like", "space", "utf8"],
    )
    def test_payload_round_trips_byte_exact(self, store: Store, payload: bytes) -> None:
        run = self.created(store)
        record = delta(run.run_id, 1, payload=payload)
        store.append_checkpoint(record)
        [read] = store.read_checkpoints(run.run_id)
        assert read == record
        assert read.intact

    @pytest.mark.parametrize(
        "changes",
        [
            {"checkpoint_id": "item 3 done\nwith % odd\tchars ü"},
            {"checkpoint_id": ""},
            {"kind": "full"},
            {"serializer": "msgpack"},
            {"created_at": 0.1 + 0.2},
            {"created_at": 1e-300},
            {"created_at": 1732630000.123456789},
        ],
        ids=["odd-id", "empty-id", "full", "serializer", "float", "tiny-float", "precise"],
    )
    def test_header_fields_round_trip_exactly(self, store: Store, changes: dict[str, Any]) -> None:
        run = self.created(store)
        record = delta(run.run_id, 1, **changes)
        store.append_checkpoint(record)
        [read] = store.read_checkpoints(run.run_id)
        assert read == record
        assert read.intact

    def test_an_edited_payload_is_detected_by_its_checksum(self, store: Store) -> None:
        run = self.created(store)
        good = delta(run.run_id, 1, payload=b'{"ok":true}')
        # What an edit leaves behind: content that no longer matches the checksum.
        edited = CheckpointRecord(**{**_fields(good), "payload": b'{"ok":false}'})
        store.append_checkpoint(edited)
        [read] = store.read_checkpoints(run.run_id)
        assert isinstance(read, CheckpointRecord)
        assert read.payload == b'{"ok":false}'
        assert read.intact is False

    def test_an_edited_checksum_is_detected(self, store: Store) -> None:
        run = self.created(store)
        good = delta(run.run_id, 1)
        edited = CheckpointRecord(**{**_fields(good), "checksum": "0" * 64})
        store.append_checkpoint(edited)
        [read] = store.read_checkpoints(run.run_id)
        assert read == edited
        assert read.intact is False

    def test_an_edited_header_is_detected(self, store: Store) -> None:
        run = self.created(store)
        good = delta(run.run_id, 2)
        edited = CheckpointRecord(**{**_fields(good), "checkpoint_id": "someone_elses"})
        store.append_checkpoint(edited)
        [read] = store.read_checkpoints(run.run_id)
        assert isinstance(read, CheckpointRecord)
        assert read.intact is False
        assert read.checksum == record_checksum(
            good.run_id, 2, good.checkpoint_id, "delta", good.created_at, "json", good.payload
        )

    def test_a_damaged_record_does_not_hide_later_ones(self, store: Store) -> None:
        run = self.created(store)
        store.append_checkpoint(delta(run.run_id, 1))
        store.append_checkpoint(
            CheckpointRecord(**{**_fields(delta(run.run_id, 2)), "checksum": ""})
        )
        store.append_checkpoint(delta(run.run_id, 3))
        assert [r.intact for r in store.read_checkpoints(run.run_id)] == [True, False, True]

    # --------------------------------------------------------------- snapshots

    def test_no_snapshot_before_one_is_written(self, store: Store) -> None:
        run = self.created(store)
        assert store.read_snapshot(run.run_id) is None

    def test_snapshot_reads_back_equal(self, store: Store) -> None:
        run = self.created(store)
        snapshot = delta(run.run_id, 4, kind="full", payload=b'{"state":{"a":1}}')
        store.write_snapshot(snapshot)
        assert store.read_snapshot(run.run_id) == snapshot

    def test_a_new_snapshot_replaces_the_old(self, store: Store) -> None:
        run = self.created(store)
        store.write_snapshot(delta(run.run_id, 4, kind="full"))
        newer = delta(run.run_id, 9, kind="full", payload=b"\n binary \x00\x01")
        store.write_snapshot(newer)
        assert store.read_snapshot(run.run_id) == newer

    def test_reading_after_the_snapshot_yields_only_newer_records(self, store: Store) -> None:
        run = self.created(store)
        for seq in range(1, 6):
            store.append_checkpoint(delta(run.run_id, seq))
        store.write_snapshot(delta(run.run_id, 5, kind="full"))
        for seq in range(6, 9):
            store.append_checkpoint(delta(run.run_id, seq))
        snapshot = store.read_snapshot(run.run_id)
        assert isinstance(snapshot, CheckpointRecord)
        assert [r.seq for r in _intact(store.read_checkpoints(run.run_id, snapshot.seq))] == [
            6,
            7,
            8,
        ]
        assert [r.seq for r in _intact(store.read_checkpoints(run.run_id))] == list(range(1, 9))

    def test_appends_continue_after_a_snapshot_in_another_instance(
        self, store: Store, make_store: Callable[[], Store]
    ) -> None:
        run = self.created(store)
        store.append_checkpoint(delta(run.run_id, 1))
        store.write_snapshot(delta(run.run_id, 1, kind="full"))
        store.close()
        other = make_store()
        other.append_checkpoint(delta(run.run_id, 2))
        other.write_snapshot(delta(run.run_id, 2, kind="full"))
        other.append_checkpoint(delta(run.run_id, 3))
        assert [r.seq for r in _intact(other.read_checkpoints(run.run_id))] == [1, 2, 3]
        assert [r.seq for r in _intact(other.read_checkpoints(run.run_id, 2))] == [3]

    def test_a_large_state_round_trips(self, store: Store) -> None:
        run = self.created(store)
        payload = random.Random(7).randbytes(6 * 1024 * 1024)
        record = delta(run.run_id, 1, payload=payload, kind="full")
        store.append_checkpoint(record)
        store.write_snapshot(record)
        [read] = store.read_checkpoints(run.run_id)
        assert read == record
        assert store.read_snapshot(run.run_id) == record

    # ------------------------------------------------------------- run listing

    def test_query_runs_is_newest_first_with_the_run_id_breaking_ties(self, store: Store) -> None:
        self.created(store, run_id="b-tie", created_at=2000.0)
        self.created(store, run_id="a-old", created_at=1000.0)
        self.created(store, run_id="c-new", created_at=3000.0)
        self.created(store, run_id="a-tie", created_at=2000.0)
        self.created(store, run_id="Z-tie", created_at=2000.0)
        page = query_runs(store, RunQuery())
        # run ids compare as code points ('Z' < 'a'), whatever a database's collation
        assert [r.run_id for r in page.runs] == ["c-new", "b-tie", "a-tie", "Z-tie", "a-old"]
        assert page.next_cursor is None

    def test_query_runs_returns_the_records_as_stored(self, store: Store) -> None:
        run = self.created(store, meta={"resumes": [], "note": "ünï"})
        assert query_runs(store, RunQuery()).runs == [run]

    def test_query_runs_of_an_empty_store_is_one_empty_page(self, store: Store) -> None:
        assert query_runs(store, RunQuery()) == query_runs(store, RunQuery(statuses=("failed",)))
        assert query_runs(store, RunQuery()).runs == []
        assert query_runs(store, RunQuery()).next_cursor is None

    def test_query_runs_filters_by_workflow(self, store: Store) -> None:
        fly = self.created(store, workflow="fly", created_at=1000.0)
        self.created(store, workflow="review", created_at=2000.0)
        self.created(store, workflow="fly-2", created_at=3000.0)
        assert query_runs(store, RunQuery(workflow="fly")).runs == [fly]
        assert query_runs(store, RunQuery(workflow="nothing")).runs == []

    def test_query_runs_filters_by_any_of_the_statuses(self, store: Store) -> None:
        failed = self.created(store, status=Status.FAILED.value, created_at=1000.0)
        self.created(store, status=Status.RUNNING.value, created_at=2000.0)
        done = self.created(store, status=Status.COMPLETED.value, created_at=3000.0)
        stopped = self.created(store, status=Status.INTERRUPTED.value, created_at=4000.0)
        assert query_runs(store, RunQuery(statuses=("failed",))).runs == [failed]
        both = RunQuery(statuses=("completed", "interrupted"))
        assert query_runs(store, both).runs == [stopped, done]

    def test_query_runs_filters_by_since_inclusively(self, store: Store) -> None:
        self.created(store, created_at=1000.0)
        edge = self.created(store, created_at=2000.0)
        late = self.created(store, created_at=3000.0)
        assert query_runs(store, RunQuery(since=2000.0)).runs == [late, edge]
        assert query_runs(store, RunQuery(since=3000.5)).runs == []

    def test_query_runs_combines_the_filters(self, store: Store) -> None:
        wanted = []
        for index in range(24):
            run = self.created(
                store,
                workflow=("fly", "review", "refuel")[index % 3],
                status=(Status.FAILED.value, Status.COMPLETED.value)[index % 2],
                created_at=1000.0 + index,
            )
            if run.workflow == "fly" and run.status == "failed" and run.created_at >= 1006:
                wanted.append(run)
        query = RunQuery(workflow="fly", statuses=("failed",), since=1006.0, limit=2)
        first = query_runs(store, query)
        second = query_runs(store, attrs.evolve(query, cursor=first.next_cursor))
        assert first.runs + second.runs == sorted(wanted, key=lambda r: -r.created_at)
        assert second.next_cursor is None

    def test_query_runs_pages_cover_every_run_once_while_runs_are_added(
        self, store: Store, make_store: Callable[[], Store]
    ) -> None:
        existing = [self.created(store, created_at=1000.0 + i // 2) for i in range(23)]
        writer = make_store()
        seen: list[str] = []
        cursor = None
        for page_number in range(20):
            page = query_runs(store, RunQuery(limit=5, cursor=cursor))
            seen += [r.run_id for r in page.runs]
            # a new run (newest of all, as real runs are) arrives between pages
            self.created(writer, created_at=5000.0 + page_number)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        expected = sorted(existing, key=lambda r: (r.created_at, r.run_id), reverse=True)
        assert seen == [r.run_id for r in expected]

    def test_query_runs_ends_with_no_cursor_when_the_last_page_is_full(self, store: Store) -> None:
        for index in range(4):
            self.created(store, created_at=1000.0 + index)
        first = query_runs(store, RunQuery(limit=2))
        second = query_runs(store, RunQuery(limit=2, cursor=first.next_cursor))
        assert len(second.runs) == 2 and second.next_cursor is None

    def test_query_runs_honours_the_limit(self, store: Store) -> None:
        for index in range(3):
            self.created(store, created_at=1000.0 + index)
        assert len(query_runs(store, RunQuery(limit=1)).runs) == 1
        assert len(query_runs(store, RunQuery(limit=MAX_QUERY_LIMIT)).runs) == 3

    @pytest.mark.parametrize("limit", [0, -1, MAX_QUERY_LIMIT + 1])
    def test_query_runs_refuses_a_limit_out_of_range(self, store: Store, limit: int) -> None:
        with pytest.raises(QueryError, match="limit"):
            query_runs(store, RunQuery(limit=limit))

    def test_query_runs_refuses_an_unknown_status(self, store: Store) -> None:
        with pytest.raises(QueryError, match="unknown status 'done'"):
            query_runs(store, RunQuery(statuses=("done",)))

    @pytest.mark.parametrize("cursor", ["", "not a cursor", "WzEsIDEwMDQuMCwgInI0Il", "e30"])
    def test_query_runs_refuses_a_bad_cursor(self, store: Store, cursor: str) -> None:
        self.created(store)
        with pytest.raises(QueryError, match="invalid cursor"):
            query_runs(store, RunQuery(cursor=cursor))

    def test_query_runs_after_a_deleted_run_s_cursor_goes_on(self, store: Store) -> None:
        runs = [self.created(store, created_at=1000.0 + index) for index in range(4)]
        first = query_runs(store, RunQuery(limit=2))
        store.delete_run(first.runs[-1].run_id)
        rest = query_runs(store, RunQuery(limit=2, cursor=first.next_cursor))
        assert rest.runs == [runs[1], runs[0]]

    def test_query_runs_shows_a_status_change_from_another_instance(
        self, store: Store, make_store: Callable[[], Store]
    ) -> None:
        run = self.created(store, created_at=1000.0)
        other = self.created(store, created_at=2000.0)
        assert query_runs(store, RunQuery(statuses=("running",))).runs == [other, run]
        failed = attrs.evolve(run, status=Status.FAILED.value, updated_at=run.updated_at + 1)
        make_store().update_run(failed)
        assert query_runs(store, RunQuery(statuses=("running",))).runs == [other]
        assert query_runs(store, RunQuery(statuses=("failed",))).runs == [failed]
        assert query_runs(store, RunQuery()).runs == [other, failed]

    def test_query_runs_leaves_out_deleted_runs(self, store: Store) -> None:
        gone = self.created(store, created_at=1000.0)
        kept = self.created(store, created_at=2000.0)
        store.delete_run(gone.run_id)
        assert query_runs(store, RunQuery()).runs == [kept]
        store.create_run(attrs.evolve(gone, created_at=3000.0, status=Status.FAILED.value))
        assert [r.created_at for r in query_runs(store, RunQuery()).runs] == [3000.0, 2000.0]

    def test_a_cursor_from_a_page_of_another_instance_works(
        self, store: Store, make_store: Callable[[], Store]
    ) -> None:
        runs = [self.created(store, created_at=1000.0 + index) for index in range(3)]
        cursor = encode_cursor(runs[2].created_at, runs[2].run_id)
        assert query_runs(make_store(), RunQuery(cursor=cursor)).runs == [runs[1], runs[0]]

    # ------------------------------------------------------------------- locks

    def test_a_free_lock_is_acquired_without_a_previous_holder(self, store: Store) -> None:
        run = self.created(store)
        assert store.acquire_lock(run.run_id, LockHolder.current(time.time(), "a")) is None

    def test_a_held_lock_refuses_a_second_holder_naming_the_first(
        self, store: Store, make_store: Callable[[], Store]
    ) -> None:
        run = self.created(store)
        store.acquire_lock(run.run_id, LockHolder.current(time.time(), "first"))
        with pytest.raises(LockHeld) as refused:
            make_store().acquire_lock(run.run_id, LockHolder.current(time.time(), "second"))
        assert f"pid {os.getpid()}" in str(refused.value)
        assert socket.gethostname() in str(refused.value)

    def test_a_released_lock_is_acquired_again_without_a_takeover(
        self, store: Store, make_store: Callable[[], Store]
    ) -> None:
        run = self.created(store)
        first = LockHolder.current(time.time(), "first")
        store.acquire_lock(run.run_id, first)
        store.release_lock(run.run_id, first)
        assert make_store().acquire_lock(run.run_id, LockHolder.current(time.time(), "b")) is None

    def test_closing_a_store_releases_its_locks(
        self, store: Store, make_store: Callable[[], Store]
    ) -> None:
        run = self.created(store)
        store.acquire_lock(run.run_id, LockHolder.current(time.time(), "first"))
        store.close()
        assert make_store().acquire_lock(run.run_id, LockHolder.current(time.time(), "b")) is None

    def test_a_lock_held_by_another_process_is_refused_naming_it(
        self, store: Store, spawn: Callable[..., _Child]
    ) -> None:
        run = self.created(store)
        child = spawn("lock", run_id=run.run_id, token="child")
        child.wait_for("locked")
        with pytest.raises(LockHeld) as refused:
            store.acquire_lock(run.run_id, LockHolder.current(time.time(), "parent"))
        assert f"pid {child.pid}" in str(refused.value)
        assert socket.gethostname() in str(refused.value)

    def test_the_lock_of_a_killed_holder_is_taken_over(
        self, store: Store, spawn: Callable[..., _Child]
    ) -> None:
        run = self.created(store)
        child = spawn("lock", run_id=run.run_id, token="child")
        child.wait_for("locked")
        child.kill()
        previous = store.acquire_lock(run.run_id, LockHolder.current(time.time(), "parent"))
        assert previous is not None
        assert (previous.pid, previous.host) == (child.pid, socket.gethostname())

    # ----------------------------------------------------- processes and crashes

    def test_concurrent_writers_to_different_runs(
        self, store: Store, spawn: Callable[..., _Child]
    ) -> None:
        runs = [self.created(store) for _ in range(4)]
        children = [
            spawn("append", run_id=run.run_id, start_seq=1, count=25, snapshot_every=10)
            for run in runs
        ]
        for child in children:
            child.finish()
        for run in runs:
            records = list(store.read_checkpoints(run.run_id))
            assert [r.seq for r in _intact(records)] == list(range(1, 26))
            assert all(r.payload == payload_for_seq(r.seq) for r in _intact(records))
            assert len(records) == 25

    def test_killed_writers_leave_intact_records_and_at_most_a_torn_tail(
        self, store: Store, make_store: Callable[[], Store], spawn: Callable[..., _Child]
    ) -> None:
        run = self.created(store)
        rng = random.Random()
        next_seq = 1
        for _ in range(_CRASH_ROUNDS):
            child = spawn("append", run_id=run.run_id, start_seq=next_seq, snapshot_every=5)
            child.wait_for("ready")
            time.sleep(rng.uniform(0.0, 0.15))
            child.kill_mid_work()
            next_seq = _check_after_crash(make_store(), run.run_id) + 1
        # The store stays usable: appending after a torn tail frames correctly.
        after = make_store()
        after.append_checkpoint(delta(run.run_id, next_seq))
        records = list(after.read_checkpoints(run.run_id))
        assert all(r.intact for r in records), [r for r in records if not r.intact]
        assert [r.seq for r in _intact(records)] == list(range(1, next_seq + 1))

    def test_resume_through_the_real_executor(
        self, store_url: str, project: Project, store_plugins: Sequence[str]
    ) -> None:
        """A run SIGKILLed after its 2nd checkpoint resumes from this store.

        Drives the real ``maverick`` CLI with ``--store`` set to the store under
        test: the resumed run's outputs equal an uninterrupted run's, and the loop
        iterations committed before the kill do not run again.
        """
        root = project.root
        (root / "maverick.yaml").write_text(f"project: {project.name}\n")
        (root / "kit.yaml").write_text(_KIT_WORKFLOW)
        plugins = [arg for name in store_plugins for arg in ("-p", name)]
        cli = MaverickCLI(root)

        def run(log: str, *args: str, kill: int = 0) -> subprocess.CompletedProcess[str]:
            return cli(
                *plugins,
                *("run", "kit.yaml", "--json", "--store", store_url, "-i", f"log={log}", *args),
                timeout=120,
                crash_at=f"after_checkpoint:{kill}" if kill else None,
            )

        reference = run(str(root / "reference.log"))
        assert reference.returncode == 0, reference.stderr
        log = root / "resumed.log"
        killed = run(str(log), kill=2)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        resumed = run(str(log), "--resume")
        assert resumed.returncode == 0, resumed.stderr
        assert _outputs(resumed.stdout) == _outputs(reference.stdout)
        lines = log.read_text().splitlines()
        assert sorted(set(lines)) == sorted(set((root / "reference.log").read_text().split()))
        assert lines.count("each[0].work") == 1 and lines.count("each[1].work") == 1


_KIT_WORKFLOW = """\
version: "1.0"
name: kit
inputs:
  log: {type: string, required: true}
steps:
  - name: each
    type: loop
    for_each: [a, b, c, d]
    steps:
      - name: work
        type: shell
        command: echo "$MAVERICK_STEP" >> "$LOG" && echo "did $ITEM"
        env: {LOG: "${{ inputs.log }}", ITEM: "${{ item }}"}
      - name: done
        type: checkpoint
        checkpoint_id: item_${{ index }}
outputs:
  said: ${{ steps.each.output }}
"""


def _outputs(stdout: str) -> Any:
    """The outputs of a ``--json`` run's workflow_finish event."""
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return [e for e in events if e["event"] == "workflow_finish"][-1].get("outputs")


def _check_after_crash(store: Store, run_id: str) -> int:
    """Assert the crash invariants on the run's journal; the last intact seq."""
    records = list(store.read_checkpoints(run_id))
    seqs = [r.seq for r in _intact(records)]
    for index, record in enumerate(records):
        if not record.intact:
            assert index == len(records) - 1, f"damage before the tail: {record}"
            assert isinstance(record, DamagedRecord), (
                f"an intact-framed record is not intact: {record}"
            )
    assert seqs == list(range(1, len(seqs) + 1)), "a fully written record is missing"
    for record in _intact(records):
        assert record.payload == payload_for_seq(record.seq)
    snapshot = store.read_snapshot(run_id)
    if snapshot is not None:
        assert snapshot.intact, f"a snapshot write was not atomic: {snapshot}"
        assert isinstance(snapshot, CheckpointRecord)
        after = [r.seq for r in _intact(store.read_checkpoints(run_id, snapshot.seq))]
        assert after == [s for s in seqs if s > snapshot.seq]
    store.close()
    return seqs[-1] if seqs else 0


def _intact(records: Any) -> list[CheckpointRecord]:
    """The intact records among ``records`` (DamagedRecords and bad checksums left out)."""
    return [r for r in records if isinstance(r, CheckpointRecord) and r.intact]


def _fields(record: CheckpointRecord) -> dict[str, Any]:
    return {
        "run_id": record.run_id,
        "seq": record.seq,
        "checkpoint_id": record.checkpoint_id,
        "kind": record.kind,
        "created_at": record.created_at,
        "serializer": record.serializer,
        "payload": record.payload,
        "checksum": record.checksum,
    }


# ------------------------------------------------------------------ serializers

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
_plain = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=40,
)


def same_plain(a: Any, b: Any) -> bool:
    """Exact equality of plain data: types, dict key order, -0.0 and NaN included."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_plain(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_plain(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


class SerializerConformance:
    """Tests of the :class:`~maverick_core.engine.storage.Serializer` contract.

    Override :meth:`serializer`.
    """

    @pytest.fixture
    def serializer(self) -> Serializer:
        """The serializer under test. Override this."""
        pytest.fail("override the serializer fixture in your SerializerConformance subclass")

    def round_trip(self, serializer: Serializer, value: Any) -> Any:
        """``loads(dumps(value))``, checking that ``dumps`` gives bytes."""
        data = serializer.dumps(value)
        assert isinstance(data, bytes)
        return serializer.loads(data)

    def test_has_a_name(self, serializer: Serializer) -> None:
        assert isinstance(serializer.name, str)
        assert serializer.name

    def test_plain_data_round_trips_exactly(self, serializer: Serializer) -> None:
        # An inner test, so each subclass's serializer gets its own Hypothesis run.
        @settings(max_examples=150, deadline=None)
        @given(value=_plain)
        def round_trips(value: Any) -> None:
            assert same_plain(self.round_trip(serializer, value), value)

        round_trips()

    def test_dict_key_order_is_kept(self, serializer: Serializer) -> None:
        value = {"zeta": 1, "alpha": {"y": 2, "b": 3, "x": 4}, "": 0, "10": 1, "9": 2}
        assert same_plain(self.round_trip(serializer, value), value)

    def test_unicode_round_trips(self, serializer: Serializer) -> None:
        value = {"ünï": "cödé ✓ 🚀 \u0000 \u2028 \ud7ff \ue000 \U0010ffff", "日本": ["語"]}
        assert same_plain(self.round_trip(serializer, value), value)

    @pytest.mark.parametrize(
        "number", [0, 1, -1, 2**31, 2**32 + 1, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1]
    )
    def test_64_bit_ints_round_trip(self, serializer: Serializer, number: int) -> None:
        assert same_plain(self.round_trip(serializer, [number]), [number])

    def test_ints_beyond_64_bits_round_trip_or_raise_value_error(
        self, serializer: Serializer
    ) -> None:
        for number in (2**64, -(2**63) - 1, 2**100):
            try:
                data = serializer.dumps({"n": number})
            except ValueError:
                continue
            assert same_plain(serializer.loads(data), {"n": number})

    @pytest.mark.parametrize(
        "number",
        [0.0, -0.0, 0.1, 1.0, -1.5, 5e-324, 1.7976931348623157e308, math.inf, -math.inf, math.nan],
        ids=repr,
    )
    def test_floats_round_trip_bit_exact(self, serializer: Serializer, number: float) -> None:
        assert same_plain(self.round_trip(serializer, {"f": number}), {"f": number})

    def test_floats_that_are_whole_stay_floats(self, serializer: Serializer) -> None:
        assert same_plain(self.round_trip(serializer, [1.0, 2**60 * 1.0]), [1.0, 2**60 * 1.0])

    @pytest.mark.parametrize("value", [{}, [], "", {"a": {}}, [[], {}]], ids=repr)
    def test_empty_containers_round_trip(self, serializer: Serializer, value: Any) -> None:
        assert same_plain(self.round_trip(serializer, value), value)

    def test_bools_stay_bools(self, serializer: Serializer) -> None:
        assert same_plain(self.round_trip(serializer, [True, False, 1, 0]), [True, False, 1, 0])

    @pytest.mark.parametrize(
        "value",
        [
            object(),
            {1, 2},
            1 + 2j,
            (1, 2),
            {1: "int key"},
            {"nested": [1, {"deep": object()}]},
            {"nested": [(1, 2)]},
        ],
        ids=["object", "set", "complex", "tuple", "int-key", "nested-object", "nested-tuple"],
    )
    def test_non_plain_values_raise(self, serializer: Serializer, value: Any) -> None:
        with pytest.raises((TypeError, ValueError)):
            serializer.dumps(value)
