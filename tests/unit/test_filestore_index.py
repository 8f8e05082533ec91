"""The file store's run index: markers that let a page of runs skip reading every run.

``run.json`` is the truth; these tests break the index the ways a crash, an older
release or a person can, and check that listings stay right and the index heals.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import attrs
import pytest

from maverick_core.builtin.filestore.store import INDEX_DIR, FileStore, marker_name
from maverick_core.engine.storage import Project, RunQuery, query_runs
from maverick_core.testing.conformance import make_run

COMPAT_STORE = Path(__file__).resolve().parents[1] / "fixtures" / "stores" / "file-0.1.0"
COMPAT_RUN = "compat-20261201-155829-0de6"


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    root = tmp_path / "proj"
    root.mkdir()
    return FileStore.open("file:", Project(root=root, name="proj"))


def markers(store: FileStore) -> list[str]:
    return sorted(os.listdir(store.base / INDEX_DIR))


def ids(store: FileStore, **query: object) -> list[str]:
    return [r.run_id for r in query_runs(store, RunQuery(**query)).runs]


def test_a_store_of_the_previous_release_lists_and_gets_its_index(tmp_path: Path) -> None:
    shutil.copytree(COMPAT_STORE / "state", tmp_path / ".maverick")
    for path in (tmp_path / ".maverick").rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)  # git keeps no modes
    store = FileStore.open("file:", Project(root=tmp_path, name="compat"))
    assert not (store.base / INDEX_DIR).exists()
    assert ids(store, statuses=("failed",)) == [COMPAT_RUN]
    run = store.get_run(COMPAT_RUN)
    assert run is not None and markers(store) == [marker_name(run)]
    assert ids(store, workflow=run.workflow) == [COMPAT_RUN]
    assert ids(store, statuses=("completed",)) == []


def test_markers_are_private_files_in_a_private_directory(store: FileStore) -> None:
    store.create_run(make_run("r1"))
    assert (store.base / INDEX_DIR).stat().st_mode & 0o777 == 0o700
    [name] = markers(store)
    assert (store.base / INDEX_DIR / name).stat().st_mode & 0o777 == 0o600


def test_a_page_reads_only_the_runs_on_it(store: FileStore) -> None:
    for index in range(10):
        store.create_run(make_run(f"r{index}", created_at=1000.0 + index))
    for index in range(5):  # the oldest runs' records are now unreadable
        (store.base / f"r{index}" / "run.json").write_text("{damaged")
    assert ids(store, limit=3) == ["r9", "r8", "r7"]
    assert store.unreadable == []


def test_a_status_change_moves_the_marker(store: FileStore) -> None:
    run = make_run("r1")
    store.create_run(run)
    store.update_run(attrs.evolve(run, status="completed"))
    assert markers(store) == [marker_name(attrs.evolve(run, status="completed"))]


def test_a_run_created_without_a_marker_is_listed_and_given_one(store: FileStore) -> None:
    store.create_run(make_run("r1", created_at=1000.0))
    shutil.rmtree(store.base / INDEX_DIR)  # as a crash before the marker, or an old release
    store.create_run(make_run("r2", created_at=2000.0))
    (store.base / INDEX_DIR / marker_name(make_run("r2", created_at=2000.0))).unlink()
    assert ids(store) == ["r2", "r1"]
    assert len(markers(store)) == 2


def test_two_markers_left_by_a_crash_during_a_status_change_resolve_to_run_json(
    store: FileStore,
) -> None:
    run = make_run("r1")
    store.create_run(run)
    failed = attrs.evolve(run, status="failed")
    (store.base / INDEX_DIR / marker_name(failed)).touch()  # the new marker, run.json not yet
    assert ids(store, statuses=("failed",)) == []
    assert ids(store, statuses=("running",)) == ["r1"]
    assert markers(store) == [marker_name(run)]


def test_a_status_changed_behind_the_index_s_back_is_shown_as_run_json_says(
    store: FileStore,
) -> None:
    run = make_run("r1")
    store.create_run(run)
    # an older release rewrites run.json without knowing about the index
    other = FileStore(store.base)
    (store.base / INDEX_DIR).rename(store.base / "saved-index")
    other.update_run(attrs.evolve(run, status="completed"))
    (store.base / "saved-index").rename(store.base / INDEX_DIR)
    [listed] = query_runs(store, RunQuery()).runs
    assert listed.status == "completed"
    assert markers(store) == [marker_name(listed)]
    assert ids(store, statuses=("completed",)) == ["r1"]


def test_a_created_at_edited_by_hand_moves_the_run_in_the_listing(store: FileStore) -> None:
    for index in range(4):
        store.create_run(make_run(f"r{index}", created_at=1000.0 + index))
    record = store.base / "r3" / "run.json"
    record.write_text(record.read_text().replace('"created_at": 1003.0', '"created_at": 10.0'))
    assert ids(store, limit=2) == ["r2", "r1"]
    assert ids(store) == ["r2", "r1", "r0", "r3"]
    assert len(markers(store)) == 4


def test_a_marker_of_a_deleted_run_is_removed_by_the_next_listing(store: FileStore) -> None:
    store.create_run(make_run("r1"))
    name = markers(store)[0]
    store.delete_run("r1")
    assert markers(store) == []
    (store.base / INDEX_DIR / name).touch()  # as a crash between the delete and its marker
    assert ids(store) == []
    assert markers(store) == []


def test_names_in_the_index_that_are_not_markers_are_ignored(store: FileStore) -> None:
    store.create_run(make_run("r1"))
    (store.base / INDEX_DIR / "notes.txt").write_text("hello")
    assert ids(store) == ["r1"]


def test_an_index_replaced_by_a_link_is_not_followed(store: FileStore, tmp_path: Path) -> None:
    store.create_run(make_run("r1", created_at=1000.0))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(store.base / INDEX_DIR)
    (store.base / INDEX_DIR).symlink_to(elsewhere)
    store.create_run(make_run("r2", created_at=2000.0))
    assert ids(store) == ["r2", "r1"]
    assert os.listdir(elsewhere) == []


def test_incomplete_and_damaged_runs_are_reported_by_a_listing(store: FileStore) -> None:
    store.create_run(make_run("r1"))
    (store.base / "half").mkdir(mode=0o700)
    (store.base / "bad").mkdir(mode=0o700)
    (store.base / "bad" / "run.json").write_text("[")
    assert ids(store) == ["r1"]
    assert [i.run_id for i in store.incomplete] == ["half"]
    assert len(store.unreadable) == 1 and "bad" in store.unreadable[0]


def pages(store: FileStore, **query: object) -> list[str]:
    """Every run the query lists, page by page (limit 7), in listing order."""
    listed: list[str] = []
    cursor = None
    while True:
        page = query_runs(store, RunQuery(limit=7, cursor=cursor, **query))  # type: ignore[arg-type]
        listed += [r.run_id for r in page.runs]
        if page.next_cursor is None:
            return listed
        cursor = page.next_cursor


@pytest.mark.parametrize("broken", [False, True], ids=["consistent-index", "repaired-index"])
def test_pages_follow_created_at_then_run_id_whether_the_index_is_whole_or_repaired(
    store: FileStore, broken: bool
) -> None:
    # ties of created_at across statuses and workflows: the names' own order
    # (key, status, tag, id) is not the listing's (key, id)
    statuses = ("running", "completed", "failed", "interrupted")
    records = [
        make_run(
            f"run-{index:03d}",
            workflow="fly" if index % 3 else "review",
            created_at=1_780_000_000.0 + index // 4,
            status=statuses[(index * 7) % 4],
        )
        for index in range(60)
    ]
    for record in records:
        store.create_run(record)
    if broken:  # a lost marker and a stray name: the listing repairs, then answers
        os.unlink(store.base / INDEX_DIR / marker_name(records[5]))
        (store.base / INDEX_DIR / "not-a-marker").touch()

    def expected(keep: object = lambda r: True) -> list[str]:
        chosen = [r for r in records if keep(r)]  # type: ignore[operator]
        return [r.run_id for r in sorted(chosen, key=lambda r: (r.created_at, r.run_id))][::-1]

    assert pages(store) == expected()
    assert pages(store, statuses=("failed", "running")) == expected(
        lambda r: r.status in ("failed", "running")
    )
    assert pages(store, workflow="review") == expected(lambda r: r.workflow == "review")
    since = 1_780_000_000.0 + 7
    assert pages(store, since=since) == expected(lambda r: r.created_at >= since)
