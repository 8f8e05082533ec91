"""The file store against state files that are not what it wrote.

A link planted in a run directory must never be written through, a run directory
must be a real directory of the user's, temporary names must not be guessable, a
record with a valid frame but odd fields is refused with a message, and the lock
holds even when its file is deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from maverick_core.builtin.filestore.store import FileStore
from maverick_core.engine.errors import LockHeld, StoreError
from maverick_core.engine.storage import CheckpointRecord, DamagedRecord, LockHolder, Project
from maverick_core.testing.conformance import delta, make_run

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "proj"
    root.mkdir()
    return Project(root=root, name="proj")


@pytest.fixture
def store(project: Project) -> Iterator[FileStore]:
    opened = FileStore.open("file:", project)
    yield opened
    opened.close()


@pytest.fixture
def run_dir(store: FileStore) -> Path:
    store.create_run(make_run("r1"))
    return store.base / "r1"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "precious.txt"
    path.write_text("keep me\n")
    return path


def holder() -> LockHolder:
    return LockHolder.current(time.time(), token=os.urandom(4).hex())


# ------------------------------------------------------------------ links


def test_a_lock_link_is_refused_and_its_target_kept(
    store: FileStore, run_dir: Path, victim: Path
) -> None:
    (run_dir / "lock").symlink_to(victim)
    with pytest.raises(StoreError, match="lock is a symbolic link"):
        store.acquire_lock("r1", holder())
    assert victim.read_text() == "keep me\n"


@pytest.mark.parametrize("name", ["journal-1.jnl", "journal-1.log"])
def test_a_journal_link_is_refused_and_its_target_kept(
    store: FileStore, run_dir: Path, victim: Path, name: str
) -> None:
    (run_dir / name).symlink_to(victim)
    with pytest.raises(StoreError, match=rf"{re.escape(name)} is a symbolic link"):
        store.append_checkpoint(delta("r1", 1))
    assert victim.read_text() == "keep me\n"
    [damaged] = list(store.read_checkpoints("r1"))
    assert isinstance(damaged, DamagedRecord)
    assert "symbolic link" in damaged.reason


def test_a_snapshot_link_is_replaced_not_written_through(
    store: FileStore, run_dir: Path, victim: Path
) -> None:
    (run_dir / "snapshot").symlink_to(victim)
    assert isinstance(store.read_snapshot("r1"), DamagedRecord)
    store.write_snapshot(delta("r1", 1))
    assert victim.read_text() == "keep me\n"
    assert not (run_dir / "snapshot").is_symlink()
    assert store.read_snapshot("r1") == delta("r1", 1)


def test_snapshot_temporaries_have_unpredictable_names(
    store: FileStore, run_dir: Path, victim: Path
) -> None:
    # the name the store once used: a link there must change nothing
    (run_dir / ".snapshot.tmp").symlink_to(victim)
    store.write_snapshot(delta("r1", 1))
    assert victim.read_text() == "keep me\n"
    assert store.read_snapshot("r1") == delta("r1", 1)


def test_a_run_json_link_is_not_read(store: FileStore, run_dir: Path, tmp_path: Path) -> None:
    fake = tmp_path / "fake.json"
    fake.write_text((run_dir / "run.json").read_text())
    (run_dir / "run.json").unlink()
    (run_dir / "run.json").symlink_to(fake)
    with pytest.raises(StoreError, match=r"run\.json is a symbolic link"):
        store.get_run("r1")


def test_a_run_directory_that_is_a_link_is_refused(
    store: FileStore, run_dir: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    run_dir.rename(elsewhere)
    run_dir.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(StoreError, match="r1 is a symbolic link"):
        store.acquire_lock("r1", holder())
    with pytest.raises(StoreError, match="r1 is a symbolic link"):
        store.get_run("r1")


@pytest.mark.parametrize("name", ["journal-1.jnl", "journal-1.log"])
def test_a_fifo_in_place_of_the_journal_is_refused_without_blocking(
    store: FileStore, run_dir: Path, name: str
) -> None:
    os.mkfifo(run_dir / name)
    with pytest.raises(StoreError, match="not a file maverick wrote"):
        store.append_checkpoint(delta("r1", 1))
    [damaged] = list(store.read_checkpoints("r1"))
    assert isinstance(damaged, DamagedRecord)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory away needs root")
def test_a_run_directory_owned_by_someone_else_is_not_trusted(
    store: FileStore, run_dir: Path
) -> None:
    os.chown(run_dir, 65534, 65534)
    with pytest.raises(StoreError, match="not to you"):
        store.acquire_lock("r1", holder())


# ------------------------------------------------------------------ records


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"status": 3}, "field 'status' is int, not a string"),
        ({"status": "exploded"}, "field 'status' is 'exploded'"),
        ({"created_at": "yesterday"}, "field 'created_at' is str, not a number"),
        ({"inputs": []}, "field 'inputs' is list, not a mapping"),
        ({"meta": None}, "field 'meta' is NoneType, not a mapping"),
        ({"secret_inputs": [1]}, "'secret_inputs' holds a name that is not a string"),
        ({"bogus": 1}, "unknown field 'bogus'"),
    ],
)
def test_a_run_record_with_odd_fields_is_refused_naming_the_field(
    store: FileStore, run_dir: Path, change: dict[str, object], problem: str
) -> None:
    data = json.loads((run_dir / "run.json").read_text())
    data.update(change)
    (run_dir / "run.json").write_text(json.dumps(data))
    with pytest.raises(StoreError, match=r"cannot read .*run\.json") as caught:
        store.get_run("r1")
    assert problem in caught.value.message


def test_a_run_record_missing_a_field_is_refused(store: FileStore, run_dir: Path) -> None:
    data = json.loads((run_dir / "run.json").read_text())
    del data["workflow"]
    (run_dir / "run.json").write_text(json.dumps(data))
    with pytest.raises(StoreError, match="field 'workflow' is missing"):
        store.get_run("r1")


def test_a_too_long_run_id_is_refused_with_a_message(store: FileStore) -> None:
    with pytest.raises(StoreError, match="longer than 200"):
        store.delete_run("x" * 300)
    with pytest.raises(StoreError, match="longer than 200"):
        store.get_run("x" * 300)


# ------------------------------------------------------------------ the lock


def test_deleting_the_lock_file_does_not_free_the_run(store: FileStore, run_dir: Path) -> None:
    store.acquire_lock("r1", holder())
    (run_dir / "lock").unlink()
    other = FileStore(store.base)
    try:
        with pytest.raises(LockHeld, match="is being executed by"):
            other.acquire_lock("r1", holder())
        with pytest.raises(LockHeld):
            other.delete_run("r1")
    finally:
        other.close()


def test_a_crashed_holders_temporary_files_are_removed_by_the_next(
    store: FileStore, run_dir: Path
) -> None:
    (run_dir / ".snapshot.0123456789abcdef.tmp").write_bytes(b"half")
    store.acquire_lock("r1", holder())
    assert not list(run_dir.glob(".*.tmp"))


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A real, tiny file system (tmpfs), or skip where it cannot be mounted."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(mount: Path, leave: int = 0) -> None:
    """Fill the file system until only ``leave`` bytes are free."""
    info = os.statvfs(mount)
    with open(mount / "filler", "ab") as handle, contextlib.suppress(OSError):
        handle.write(b"x" * (info.f_bavail * info.f_frsize - leave))


def test_a_full_disk_while_the_holder_is_written_is_a_store_error(
    full_disk: Path, project: Project
) -> None:
    store = FileStore(full_disk / "runs")
    store.create_run(make_run("r1"))
    fill(full_disk)
    with pytest.raises(StoreError, match=r"cannot lock run r1 .*No space left"):
        store.acquire_lock("r1", holder())
    store.close()


def test_records_written_before_the_lock_still_read_back(store: FileStore, run_dir: Path) -> None:
    token = holder()
    store.acquire_lock("r1", token)
    store.append_checkpoint(delta("r1", 1))
    store.release_lock("r1", token)
    assert list(store.read_checkpoints("r1")) == [delta("r1", 1)]
    assert all(isinstance(r, CheckpointRecord) for r in store.read_checkpoints("r1"))


_READONLY_DELETE = """
import sys
from pathlib import Path
from maverick_core.builtin.filestore.store import FileStore
from maverick_core.engine.errors import StoreError
try:
    FileStore(Path(sys.argv[1])).delete_run("r1")
except StoreError as error:
    print(error)
"""


def test_deleting_from_a_read_only_store_is_a_store_error(
    full_disk: Path, project: Project
) -> None:
    store = FileStore(full_disk / "runs")
    store.create_run(make_run("r1"))
    store.close()
    subprocess.run(["mount", "-o", "remount,ro", str(full_disk)], check=True)
    result = subprocess.run(
        [sys.executable, "-c", _READONLY_DELETE, str(full_disk / "runs")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("cannot delete run r1: Read-only file system")
