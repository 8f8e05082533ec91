"""The built-in file store: layout, permissions, framing, damage and locks on disk.

The contract every store shares is checked by the conformance kit
(test_store_conformance_builtin.py); these tests pin what is particular to files.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maverick_core.builtin.filestore import segments
from maverick_core.builtin.filestore import store as store_module
from maverick_core.builtin.filestore.store import INDEX_DIR, ROTATE_BYTES, FileStore
from maverick_core.engine.errors import LockHeld, StoreError
from maverick_core.engine.storage import CheckpointRecord, DamagedRecord, LockHolder, Project
from maverick_core.testing.conformance import delta, make_run
from maverick_core.testing.platforms import FcntlRecorder, hide_proc, simulate_macos


@pytest.fixture(params=["native", "macos"])
def platform(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> FcntlRecorder:
    """Every test here runs twice: natively, and as on macOS (F_FULLFSYNC, no /proc)."""
    if request.param == "native":
        return FcntlRecorder(None)
    recorder = simulate_macos(monkeypatch)
    hide_proc(monkeypatch)
    return recorder


pytestmark = pytest.mark.usefixtures("platform")

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "proj"
    root.mkdir()
    return Project(root=root, name="proj")


@pytest.fixture
def store(project: Project) -> FileStore:
    return FileStore.open("file:", project)


@pytest.fixture
def run_dir(store: FileStore) -> Path:
    store.create_run(make_run("r1"))
    return store.base / "r1"


def journal(run_dir: Path) -> Path:
    [path] = run_dir.glob("journal-*.jnl")
    return path


def frames(path: Path) -> list[tuple[int, int]]:
    return segments.frame_spans(path.read_bytes())


def tear_after(path: Path, data: bytes) -> None:
    """Write ``data`` where the next frame goes: what a crash mid-write leaves."""
    end = frames(path)[-1][1]
    with open(path, "r+b") as handle:
        handle.seek(end)
        handle.write(data)


def write_line_journal(run_dir: Path, records: list[CheckpointRecord], tail: bytes = b"") -> Path:
    """A journal as releases up to 0.1.0 wrote it: one line per record."""
    path = run_dir / f"journal-{records[0].seq}.log"
    path.write_bytes(b"".join(store_module._frame(r) for r in records) + tail)
    path.chmod(0o600)
    return path


def records(store: FileStore, after_seq: int = 0) -> list[CheckpointRecord | DamagedRecord]:
    return list(store.read_checkpoints("r1", after_seq))


# ------------------------------------------------------------------- location


def test_default_url_keeps_state_under_dot_maverick(store: FileStore, project: Project) -> None:
    assert store.base == project.root / ".maverick" / "checkpoints"


def test_the_checkpoints_directory_ignores_itself_like_pytests_cache(
    store: FileStore, project: Project
) -> None:
    store.create_run(make_run("r1"))
    ignore = project.root / ".maverick" / "checkpoints" / ".gitignore"
    assert ignore.read_text().splitlines()[-1] == "*"
    assert not (project.root / ".maverick" / ".gitignore").exists()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_ignores_run_state_but_not_project_workflows(
    store: FileStore, project: Project
) -> None:
    subprocess.run(["git", "init", "-q"], cwd=project.root, check=True)
    store.create_run(make_run("r1"))
    store.append_checkpoint(delta("r1", 1))
    (project.root / ".maverick" / "workflows").mkdir()
    (project.root / ".maverick" / "workflows" / "mine.yaml").write_text("name: mine\n")
    listed = subprocess.run(
        ["git", "status", "--porcelain", "-uall"],
        cwd=project.root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert listed.splitlines() == ["?? .maverick/workflows/mine.yaml"]


def test_an_existing_gitignore_is_left_alone(project: Project) -> None:
    (project.root / ".maverick").mkdir()
    (project.root / ".maverick" / ".gitignore").write_text("mine\n")
    FileStore.open("file:", project).create_run(make_run("r1"))
    assert (project.root / ".maverick" / ".gitignore").read_text() == "mine\n"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("file:state/runs", "proj/state/runs"),
        ("file:/ABS/runs", "runs"),
        ("file:///ABS/runs", "runs"),
        ("file://localhost/ABS/runs", "runs"),
    ],
)
def test_urls_name_directories(project: Project, tmp_path: Path, url: str, expected: str) -> None:
    store = FileStore.open(url.replace("/ABS", str(tmp_path)), project)
    assert store.base == tmp_path / expected


def test_a_store_elsewhere_writes_no_gitignore(project: Project, tmp_path: Path) -> None:
    FileStore.open(f"file:{tmp_path}/runs", project).create_run(make_run("r1"))
    assert not (project.root / ".maverick").exists()


@pytest.mark.parametrize("url", ["file://server/share/runs", "sqlite:///x.db"])
def test_urls_this_store_cannot_serve_are_refused(project: Project, url: str) -> None:
    with pytest.raises(StoreError):
        FileStore.open(url, project)


@pytest.mark.parametrize("run_id", ["", ".", "..", ".hidden", "a/b", "../escape", "nul\0"])
def test_run_ids_that_are_not_plain_names_are_refused(store: FileStore, run_id: str) -> None:
    with pytest.raises(StoreError, match="invalid run id"):
        store.get_run(run_id)


# ---------------------------------------------------------------- permissions


def test_run_state_is_readable_by_the_owner_only(store: FileStore, project: Project) -> None:
    run = make_run("r1")
    store.create_run(run)
    store.append_checkpoint(delta("r1", 1))
    store.write_snapshot(delta("r1", 1, kind="full"))
    store.acquire_lock("r1", LockHolder.current(time.time()))
    store.update_run(run)
    modes = {
        str(path.relative_to(project.root)): stat.S_IMODE(path.stat().st_mode)
        for path in [project.root / ".maverick", *(project.root / ".maverick").rglob("*")]
        if path.name != ".gitignore"
    }
    assert modes == {name: 0o700 if (project.root / name).is_dir() else 0o600 for name in modes}
    # .maverick, checkpoints, r1, run.json, journal, snapshot, lock, .index and its marker
    assert len(modes) == 9


# -------------------------------------------------------------------- framing


def test_a_payload_is_stored_verbatim_in_its_frame(store: FileStore, run_dir: Path) -> None:
    store.append_checkpoint(delta("r1", 1, payload=b'{"greeting":"hi there"}'))
    store.append_checkpoint(delta("r1", 2, payload=b"a\nb\x00\x01c\n"))
    data = journal(run_dir).read_bytes()
    [(_, first_end), (second_start, _)] = frames(journal(run_dir))
    assert data[:first_end].endswith(b'{"greeting":"hi there"}')
    assert first_end == second_start
    assert records(store) == [
        delta("r1", 1, payload=b'{"greeting":"hi there"}'),
        delta("r1", 2, payload=b"a\nb\x00\x01c\n"),
    ]


def test_a_commit_overwrites_zeros_written_ahead_and_keeps_the_file_size(
    store: FileStore, run_dir: Path
) -> None:
    store.append_checkpoint(delta("r1", 1))
    path = journal(run_dir)
    size, before = path.stat().st_size, path.read_bytes()
    assert size >= segments.FIRST_CHUNK
    assert before[frames(path)[-1][1] :] == bytes(size - frames(path)[-1][1])
    store.append_checkpoint(delta("r1", 2))
    after = path.read_bytes()
    assert len(after) == size
    assert after.startswith(before[: frames(path)[0][1]])
    assert len(frames(path)) == 2


def test_the_journal_grows_by_whole_chunks_of_zeros_ahead_of_need(
    store: FileStore, run_dir: Path
) -> None:
    payload = b"x" * 1000
    for seq in range(1, 200):
        store.append_checkpoint(delta("r1", seq, payload=payload))
    path = journal(run_dir)
    end = frames(path)[-1][1]
    size = path.stat().st_size
    assert size - end >= segments.FIRST_CHUNK // 4
    assert path.read_bytes()[end:] == bytes(size - end)
    assert [r.seq for r in records(store)] == list(range(1, 200))


def test_closing_gives_back_the_zeros_after_the_last_frame(store: FileStore, run_dir: Path) -> None:
    store.append_checkpoint(delta("r1", 1))
    store.close()
    path = journal(run_dir)
    assert path.stat().st_size == frames(path)[-1][1]


# --------------------------------------------------------------------- damage


def test_zeros_after_the_last_frame_are_the_end_not_damage(store: FileStore, run_dir: Path) -> None:
    store.append_checkpoint(delta("r1", 1))
    assert records(store) == [delta("r1", 1)]


def test_a_torn_tail_reads_as_damaged_at_the_end(store: FileStore, run_dir: Path) -> None:
    store.append_checkpoint(delta("r1", 1))
    tear_after(journal(run_dir), segments.pack(delta("r1", 2))[:40])
    first, torn = records(store)
    assert first.intact
    assert isinstance(torn, DamagedRecord)
    assert torn.reason.startswith("torn")


def test_a_frame_missing_a_sector_in_the_middle_is_torn(store: FileStore, run_dir: Path) -> None:
    store.append_checkpoint(delta("r1", 1))
    frame = bytearray(segments.pack(delta("r1", 2, payload=b"y" * 3000)))
    start = frames(journal(run_dir))[-1][1]
    first_sector = -start % segments.SECTOR + segments.SECTOR
    frame[first_sector : first_sector + segments.SECTOR] = bytes(segments.SECTOR)
    tear_after(journal(run_dir), bytes(frame))
    assert records(store)[-1].reason.startswith("torn")  # type: ignore[union-attr]


def test_appending_after_a_torn_tail_overwrites_it(
    store: FileStore, run_dir: Path, project: Project
) -> None:
    store.append_checkpoint(delta("r1", 1))
    tear_after(journal(run_dir), segments.pack(delta("r1", 2, payload=b"z" * 900))[:700])
    store.close()
    reopened = FileStore.open("file:", project)
    reopened.append_checkpoint(delta("r1", 2))
    assert records(reopened) == [delta("r1", 1), delta("r1", 2)]
    assert len(list(run_dir.glob("journal-*"))) == 1


def test_a_frame_that_reached_the_disk_after_a_lost_one_is_never_read(
    store: FileStore, run_dir: Path, project: Project
) -> None:
    # A crash during a group commit may persist a later frame but not an earlier one.
    for seq in (1, 2, 3):
        store.append_checkpoint(delta("r1", seq))
    store.close()
    path = journal(run_dir)
    [_, (start, end), _] = frames(path)
    data = bytearray(path.read_bytes())
    data[start:end] = bytes(end - start)
    path.write_bytes(bytes(data))
    assert records(store) == [delta("r1", 1)]
    reopened = FileStore.open("file:", project)
    reopened.append_checkpoint(delta("r1", 2, payload=b"again"))
    reopened.close()
    assert records(reopened) == [delta("r1", 1), delta("r1", 2, payload=b"again")]
    assert delta("r1", 3).checksum.encode() not in path.read_bytes()


def test_an_edited_payload_on_disk_fails_the_checksum(store: FileStore, run_dir: Path) -> None:
    store.append_checkpoint(delta("r1", 1, payload=b'{"ok":true}'))
    path = journal(run_dir)
    path.write_bytes(path.read_bytes().replace(b"true", b"fals"))
    [read] = records(store)
    assert isinstance(read, CheckpointRecord)
    assert read.payload == b'{"ok":fals}'
    assert not read.intact


def test_after_an_edited_frame_appends_go_to_a_new_segment(
    store: FileStore, run_dir: Path, project: Project
) -> None:
    for seq in (1, 2, 3):
        store.append_checkpoint(delta("r1", seq, payload=b"payload %d" % seq))
    store.close()
    path = journal(run_dir)
    path.write_bytes(path.read_bytes().replace(b"payload 2", b"PAYLOAD 2"))
    reopened = FileStore.open("file:", project)
    reopened.append_checkpoint(delta("r1", 4))
    read = records(reopened)
    assert [(r.seq, r.intact) for r in read] == [(1, True), (2, False), (4, True)]
    assert b"PAYLOAD 2" in path.read_bytes()  # the evidence is kept


def test_a_damaged_snapshot_reads_as_damaged(store: FileStore, run_dir: Path) -> None:
    store.write_snapshot(delta("r1", 3, kind="full"))
    (run_dir / "snapshot").write_bytes(b"3 cut sho")
    assert isinstance(store.read_snapshot("r1"), DamagedRecord)


@settings(max_examples=60, deadline=None)
@given(
    cut=st.integers(min_value=0, max_value=2000),
    flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=6),
)
def test_reading_any_damaged_journal_never_raises(
    tmp_path_factory: pytest.TempPathFactory, cut: int, flips: list[tuple[int, int]]
) -> None:
    root = tmp_path_factory.mktemp("fuzz")
    store = FileStore.open("file:", Project(root=root, name="fuzz"))
    store.create_run(make_run("r1"))
    for seq in range(1, 8):
        store.append_checkpoint(delta("r1", seq, payload=b"x\n\x01" * seq * 10))
    store.close()  # the file ends at the last frame: cuts and flips hit frames
    path = journal(store.base / "r1")
    data = bytearray(path.read_bytes()[:cut])
    for position, value in flips:
        if position < len(data):
            data[position] = value
    path.write_bytes(bytes(data))
    read = records(store)
    assert all(isinstance(r, CheckpointRecord | DamagedRecord) for r in read)
    store.append_checkpoint(delta("r1", 100))
    assert records(store)[-1] == delta("r1", 100)


# ----------------------------------------------------- snapshots and segments


def test_a_snapshot_after_a_small_journal_keeps_one_segment(
    store: FileStore, run_dir: Path
) -> None:
    store.append_checkpoint(delta("r1", 1))
    store.write_snapshot(delta("r1", 1, kind="full"))
    store.append_checkpoint(delta("r1", 2))
    assert [p.name for p in run_dir.glob("journal-*")] == ["journal-1.jnl"]


def test_a_snapshot_after_a_large_journal_starts_a_new_segment(
    store: FileStore, run_dir: Path
) -> None:
    big = b"x" * (ROTATE_BYTES // 4)
    for seq in range(1, 6):
        store.append_checkpoint(delta("r1", seq, payload=big))
    store.write_snapshot(delta("r1", 5, kind="full"))
    store.append_checkpoint(delta("r1", 6))
    assert sorted(p.name for p in run_dir.glob("journal-*")) == [
        "journal-1.jnl",
        "journal-6.jnl",
    ]


def test_reading_after_the_snapshot_does_not_read_older_segments(
    store: FileStore, run_dir: Path
) -> None:
    big = b"x" * (ROTATE_BYTES // 4)
    for seq in range(1, 6):
        store.append_checkpoint(delta("r1", seq, payload=big))
    store.write_snapshot(delta("r1", 5, kind="full"))
    store.append_checkpoint(delta("r1", 6))
    # Were the old segment read at all, its garbage would show up as damage.
    (run_dir / "journal-1.jnl").write_bytes(b"garbage\n" * 100)
    assert records(store, 5) == [delta("r1", 6)]


def test_rotation_is_decided_the_same_by_a_new_instance(
    store: FileStore, run_dir: Path, project: Project
) -> None:
    for seq in range(1, 6):
        store.append_checkpoint(delta("r1", seq, payload=b"x" * (ROTATE_BYTES // 4)))
    store.write_snapshot(delta("r1", 5, kind="full"))
    store.close()
    FileStore.open("file:", project).append_checkpoint(delta("r1", 6))
    assert (run_dir / "journal-6.jnl").exists()


def test_a_torn_tail_is_cut_before_rotating_away_from_it(
    store: FileStore, run_dir: Path, project: Project
) -> None:
    for seq in range(1, 6):
        store.append_checkpoint(delta("r1", seq, payload=b"x" * (ROTATE_BYTES // 4)))
    store.write_snapshot(delta("r1", 5, kind="full"))
    store.close()
    with open(run_dir / "journal-1.jnl", "ab") as handle:
        handle.write(segments.pack(delta("r1", 6))[:30])
    reopened = FileStore.open("file:", project)
    reopened.append_checkpoint(delta("r1", 6))
    assert all(r.intact for r in records(reopened))


# ------------------------------------------------ journals of release 0.1.0


def test_a_line_journal_of_an_older_release_reads(store: FileStore, run_dir: Path) -> None:
    old = [delta("r1", 1, payload=b"a\nb"), delta("r1", 2)]
    write_line_journal(run_dir, old)
    assert records(store) == old


def test_appending_to_an_old_run_starts_a_framed_segment_after_its_lines(
    store: FileStore, run_dir: Path
) -> None:
    write_line_journal(run_dir, [delta("r1", 1), delta("r1", 2)], tail=b"3 torn li")
    store.append_checkpoint(delta("r1", 3))
    store.append_checkpoint(delta("r1", 4))
    assert sorted(p.name for p in run_dir.glob("journal-*")) == ["journal-1.log", "journal-3.jnl"]
    assert records(store) == [delta("r1", seq) for seq in (1, 2, 3, 4)]
    assert records(store, 2) == [delta("r1", 3), delta("r1", 4)]
    # the torn line is cut off: it would otherwise be damage in the middle
    assert (run_dir / "journal-1.log").read_bytes().endswith(b"\n")


def test_a_line_that_does_not_frame_is_damaged_and_later_lines_still_read(
    store: FileStore, run_dir: Path
) -> None:
    path = write_line_journal(run_dir, [delta("r1", 1)], tail=b"this is not a record\n")
    with open(path, "ab") as handle:
        handle.write(store_module._frame(delta("r1", 2)))
    assert [type(r).__name__ for r in records(store)] == [
        "CheckpointRecord",
        "DamagedRecord",
        "CheckpointRecord",
    ]


# ------------------------------------------------------------- group commit


def test_concurrent_commits_share_syncs_and_each_is_durable_when_its_wait_returns(
    store: FileStore, run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    syncs: list[int] = []
    real_sync = segments.sync_file

    def counted_sync(fd: int) -> None:
        syncs.append(fd)
        time.sleep(0.005)  # a slow disk: commits arrive while a sync is under way
        real_sync(fd)

    monkeypatch.setattr(segments, "sync_file", counted_sync)
    store.append_checkpoint(delta("r1", 1))
    syncs.clear()
    order = threading.Lock()
    durable: list[int] = []
    next_seq = iter(range(2, 82))

    def commit() -> None:
        for _ in range(10):
            with order:  # the executor orders writes; waits overlap
                seq = next(next_seq)
                wait = store.write_checkpoint(delta("r1", seq))
            wait()
            durable.append(seq)

    workers = [threading.Thread(target=commit) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(durable) == list(range(2, 82))
    assert len(syncs) < 80 / 2
    assert [r.seq for r in records(store)] == list(range(1, 82))


def test_a_failed_sync_fails_every_commit_it_covered_and_the_next_write_recovers(
    store: FileStore, run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.append_checkpoint(delta("r1", 1))
    first = store.write_checkpoint(delta("r1", 2))
    second = store.write_checkpoint(delta("r1", 3))

    def failing_sync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    with monkeypatch.context() as patch:
        patch.setattr(segments, "sync_file", failing_sync)
        with pytest.raises(StoreError, match="cannot append checkpoint step_2_done"):
            first()
    with pytest.raises(StoreError, match="Input/output error"):
        second()
    # what was not known durable is cut off, and the next writer is told so
    assert records(store) == [delta("r1", 1)]
    with pytest.raises(StoreError, match="records after the last good sync were cut off"):
        store.append_checkpoint(delta("r1", 4))
    store.append_checkpoint(delta("r1", 4, kind="full"))
    assert records(store) == [delta("r1", 1), delta("r1", 4, kind="full")]


# ---------------------------------------------------------------------- runs


def test_list_runs_reads_no_journal(store: FileStore, run_dir: Path) -> None:
    store.append_checkpoint(delta("r1", 1))
    journal(run_dir).unlink()
    # Opening a FIFO for reading blocks until a writer comes: a journal read hangs.
    os.mkfifo(run_dir / "journal-1.jnl")
    listed: list[str] = []
    lister = threading.Thread(
        target=lambda: listed.extend(r.run_id for r in store.list_runs()), daemon=True
    )
    lister.start()
    lister.join(timeout=10)
    assert listed == ["r1"]


def test_a_run_directory_without_run_json_is_no_run(store: FileStore) -> None:
    store.create_run(make_run("kept"))
    (store.base / "half-created").mkdir(mode=0o700)
    assert store.get_run("half-created") is None
    assert [r.run_id for r in store.list_runs()] == ["kept"]
    store.create_run(make_run("half-created"))
    assert store.get_run("half-created") is not None


def test_a_corrupt_run_json_is_a_store_error_naming_it(store: FileStore, run_dir: Path) -> None:
    (run_dir / "run.json").write_text("{not json")
    with pytest.raises(StoreError, match=r"run\.json"):
        store.get_run("r1")


def test_delete_leaves_nothing_behind(store: FileStore, run_dir: Path) -> None:
    store.append_checkpoint(delta("r1", 1))
    store.delete_run("r1")
    assert [name for name in os.listdir(store.base) if name not in (".gitignore", INDEX_DIR)] == []
    assert os.listdir(store.base / INDEX_DIR) == []  # nor its marker


def test_checkpoints_of_an_unknown_run_are_refused(store: FileStore) -> None:
    store.create_run(make_run("r1"))
    with pytest.raises(StoreError, match="no run r2"):
        store.append_checkpoint(delta("r2", 1))
    with pytest.raises(StoreError, match="no run r2"):
        store.write_snapshot(delta("r2", 1))
    with pytest.raises(StoreError, match="no run r2"):
        store.acquire_lock("r2", LockHolder.current(time.time()))


def test_a_failed_append_is_a_store_error_and_leaves_no_partial_line(
    store: FileStore, run_dir: Path
) -> None:
    store.append_checkpoint(delta("r1", 1))
    store.close()
    size = journal(run_dir).stat().st_size
    # A real write failure: the child may not grow any file past `size + 100`,
    # and the record needs more than the zeros written ahead.
    script = f"""
import resource, signal, sys
from pathlib import Path
from typing import Any
from maverick_core.builtin.filestore.store import FileStore
from maverick_core.engine.errors import StoreError
from maverick_core.testing.conformance import delta
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({size + 100}, {size + 100}))
store = FileStore(Path({str(store.base)!r}))
try:
    store.append_checkpoint(delta("r1", 2, payload=b"x" * 200_000))
except StoreError as error:
    print(error)
    sys.exit(0)
sys.exit(1)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "cannot append checkpoint step_2_done" in result.stdout
    assert journal(run_dir).stat().st_size <= size + 100
    assert records(store) == [delta("r1", 1)]


# --------------------------------------------------------------------- locks


def test_the_lock_file_names_the_holder_while_held(store: FileStore, run_dir: Path) -> None:
    holder = LockHolder.current(123.5, token="t")
    store.acquire_lock("r1", holder)
    assert json.loads((run_dir / "lock").read_text()) == {
        "pid": os.getpid(),
        "host": holder.host,
        "acquired_at": 123.5,
        "token": "t",
        "started_at": holder.started_at,
    }


def test_releasing_empties_the_lock_file(store: FileStore, run_dir: Path) -> None:
    holder = LockHolder.current(time.time())
    store.acquire_lock("r1", holder)
    store.release_lock("r1", holder)
    assert (run_dir / "lock").read_bytes() == b""


def test_a_lock_file_naming_an_unlocked_holder_is_a_takeover(
    store: FileStore, run_dir: Path
) -> None:
    dead = LockHolder(pid=999_999, host="gone", acquired_at=1.0, token="x")
    (run_dir / "lock").write_text(
        json.dumps({"pid": 999_999, "host": "gone", "acquired_at": 1.0, "token": "x"})
    )
    assert store.acquire_lock("r1", LockHolder.current(time.time())) == dead


def test_the_same_holder_acquiring_again_is_no_takeover(store: FileStore, run_dir: Path) -> None:
    holder = LockHolder.current(time.time(), token="same")
    store.acquire_lock("r1", holder)
    assert store.acquire_lock("r1", holder) is None


def test_another_holder_in_the_same_store_is_refused(store: FileStore, run_dir: Path) -> None:
    store.acquire_lock("r1", LockHolder.current(time.time(), token="one"))
    with pytest.raises(LockHeld):
        store.acquire_lock("r1", LockHolder.current(time.time(), token="two"))


def test_release_by_someone_else_keeps_the_lock(
    store: FileStore, run_dir: Path, project: Project
) -> None:
    store.acquire_lock("r1", LockHolder.current(time.time(), token="one"))
    store.release_lock("r1", LockHolder.current(time.time(), token="two"))
    with pytest.raises(LockHeld):
        FileStore.open("file:", project).acquire_lock("r1", LockHolder.current(time.time()))


def test_the_holder_may_delete_its_own_run(store: FileStore, run_dir: Path) -> None:
    store.acquire_lock("r1", LockHolder.current(time.time()))
    assert store.delete_run("r1")
    assert not run_dir.exists()


def test_the_builtin_plugin_registers_the_file_scheme(tmp_path: Path) -> None:
    from maverick_core.builtin import filestore as plugin

    registered: dict[str, Any] = {}
    plugin.register_stores(register=registered.__setitem__)
    assert list(registered) == ["file"]
    store = registered["file"]("file:", Project(tmp_path, "p"))
    assert isinstance(store, FileStore)
    store.close()


def test_appends_after_another_holder_wrote_go_to_the_journal_end(
    store: FileStore, run_dir: Path, project: Project
) -> None:
    mine = LockHolder.current(time.time(), token="mine")
    store.acquire_lock("r1", mine)
    store.append_checkpoint(delta("r1", 1, payload=b"x" * ROTATE_BYTES))
    store.release_lock("r1", mine)
    other = FileStore.open("file:", project)
    theirs = LockHolder.current(time.time(), token="theirs")
    other.acquire_lock("r1", theirs)
    other.write_snapshot(delta("r1", 1, kind="full"))
    other.append_checkpoint(delta("r1", 2))
    other.release_lock("r1", theirs)
    store.acquire_lock("r1", mine)
    store.append_checkpoint(delta("r1", 3))
    assert list(store.read_checkpoints("r1", 1)) == [delta("r1", 2), delta("r1", 3)]
