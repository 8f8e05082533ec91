"""A snapshot holds its step records as columns: they read back as the records written,
and a column a buggy plugin or a hand edit broke is refused, naming the step where
there is one (the snapshot is then damaged, and the resume reads the journal)."""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest

from maverick_core.builtin.checkpoint.journal import (
    SETTLE_FROM,
    _settle_restored_state,
    _without_cycle_collection,
    decode_plain,
    pack_floats,
    rows_from_columns,
    snapshot_columns,
    unpack_floats,
)
from maverick_core.engine.run import RunState, Status, StepRecord, restored_record

from .test_step_records import REFUSED

RECORDS = {
    "greet": StepRecord(Status.COMPLETED, {"stdout": "hi", "n": [1, 2.5, None]}, None, 17.5, 0.25),
    "maybe": StepRecord(Status.SKIPPED, None, None, 18.0),
    "each": StepRecord(Status.RUNNING, items=["a", {"b": 1}]),
    "each[0].work": StepRecord(Status.COMPLETED, "a"),
    "each[0]": StepRecord(Status.COMPLETED, {"work": "a"}),
    "each[1].work": StepRecord(
        Status.FAILED, None, "boom", 19.0, 1.0, attempts=[{"attempt": 1, "error": "boom"}]
    ),
    "retried": StepRecord(Status.COMPLETED, 3, None, 20.0, 2.0, attempts=[{"attempt": 2}]),
}


def through_json(columns: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(columns))  # type: ignore[no-any-return]


def as_lists(columns: dict[str, Any]) -> dict[str, Any]:
    """The columns with the times as lists of numbers (read as well as packed ones)."""
    for name in ("started_at", "duration"):
        columns[name] = unpack_floats(columns[name])
    return columns


def test_records_read_back_from_columns_as_they_were_written() -> None:
    rows = rows_from_columns(through_json(snapshot_columns(RECORDS)))
    assert list(rows) == list(RECORDS)
    assert {path: restored_record(row) for path, row in rows.items()} == RECORDS
    # records with nothing but the columns stay rows; the others are their mappings
    assert isinstance(rows["each[0]"], tuple) and isinstance(rows["each"], dict)
    state = RunState(restored=rows)
    assert state.done_paths() == ["greet", "maybe", "each[0].work", "each[0]", "retried"]
    assert state.done_output("each[0]") == (True, {"work": "a"})
    assert state.get("each[1].work") == RECORDS["each[1].work"]
    assert state.snapshot() == RECORDS


def test_a_snapshot_in_columns_decodes_through_the_serializer(maverick_project: Any) -> None:
    from maverick_core.engine.config import make_config
    from maverick_core.engine.pluginmanager import make_plugin_manager
    from maverick_core.engine.storage import make_record

    body = json.dumps({"columns": snapshot_columns(RECORDS), "data": {"k": 1}}).encode()
    record = make_record("run-1", 9, "work", "full", 1.0, "json", body)
    payload, rows = decode_plain(make_config(make_plugin_manager(), maverick_project), record)
    assert payload["data"] == {"k": 1}
    assert {path: restored_record(row) for path, row in rows.items()} == RECORDS


@pytest.mark.parametrize(("plain", "message"), [r for r in REFUSED if isinstance(r[0], dict)])
def test_a_refused_record_in_columns_is_refused_naming_the_step(
    plain: dict[str, Any], message: str
) -> None:
    columns = as_lists(through_json(snapshot_columns(RECORDS)))
    row = columns["path"].index("each[0]")
    for name in ("status", "output", "started_at", "duration"):
        if name in plain:
            columns[name][row] = plain[name]
        elif name == "status":
            columns[name][row] = None
    others = {k: v for k, v in plain.items() if k in ("error", "items", "attempts")}
    if others:
        columns["other"][str(row)] = others
    with pytest.raises(ValueError) as info:
        rows_from_columns(columns)
    assert str(info.value).startswith("record of step 'each[0]': ")
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(status="completed"), "snapshot columns are not lists"),
        (lambda c: c["status"].pop(), "snapshot columns differ in length"),
        (lambda c: c["path"].__setitem__(1, "greet"), "snapshot path 'greet' is not a unique"),
        (lambda c: c["path"].__setitem__(1, 7), "snapshot path 7 is not a unique string"),
        (lambda c: c["other"].update({"99": {"error": "x"}}), "snapshot row '99' of other"),
        (lambda c: c["other"].update({"1": {"colour": "x"}}), "its other fields are refused"),
        (lambda c: c.update(other=[]), "snapshot columns are not lists"),
        (lambda c: c.update(duration="AAAA*AAA"), "snapshot column of times is not base64"),
        (lambda c: c.update(duration="AAAA"), "is not a whole number of doubles"),
        (lambda c: c.update(duration="é"), "snapshot column of times is not base64"),
        (lambda c: c.update(duration=pack_floats([1.0])), "snapshot columns differ in length"),
    ],
)
def test_broken_columns_are_refused(change: Any, message: str) -> None:
    columns = through_json(snapshot_columns(RECORDS))
    change(columns)
    with pytest.raises(ValueError) as info:
        rows_from_columns(columns)
    assert message in str(info.value)


def test_whole_number_times_are_accepted_as_from_plain_accepts_them() -> None:
    columns = as_lists(
        through_json(snapshot_columns({"a": StepRecord(Status.COMPLETED, 1, None, 5.0)}))
    )
    columns["started_at"][0] = 5
    rows = rows_from_columns(columns)
    assert restored_record(rows["a"]) == StepRecord(Status.COMPLETED, 1, None, 5.0)


def test_a_snapshot_whose_columns_are_refused_is_passed_over_for_the_journal(
    maverick_project: Any,
) -> None:
    from maverick_core.builtin.checkpoint.journal import load_state
    from maverick_core.builtin.filestore.store import FileStore
    from maverick_core.engine.config import make_config
    from maverick_core.engine.pluginmanager import make_plugin_manager
    from maverick_core.engine.storage import Project
    from maverick_core.testing.conformance import delta, make_run

    config = make_config(make_plugin_manager(), maverick_project)
    store = FileStore.open("file:", Project(maverick_project, "p"))
    try:
        store.create_run(make_run("r1"))
        journal = [
            {"greet": RECORDS["greet"], "maybe": RECORDS["maybe"]},
            {"each": RECORDS["each"], "each[0].work": RECORDS["each[0].work"]},
        ]
        for seq, records in enumerate(journal, start=1):
            plain = {"records": {p: r.to_plain() for p, r in records.items()}}
            store.append_checkpoint(delta("r1", seq, json.dumps(plain).encode()))
        expected = {**journal[0], **journal[1]}

        def snapshot(columns: dict[str, Any]) -> None:
            body = json.dumps({"columns": columns, "data": {}}).encode()
            store.write_snapshot(delta("r1", 2, body, kind="full"))

        # a snapshot that holds less than the journal shows which one was read
        snapshot(snapshot_columns({"greet": RECORDS["greet"]}))
        assert load_state(config, store, "r1").records == {"greet": RECORDS["greet"]}

        broken = snapshot_columns({"greet": RECORDS["greet"]})
        broken["status"] = ["done"]  # a valid checksum over a refused record
        snapshot(broken)
        loaded = load_state(config, store, "r1")
        assert loaded.records == expected
        assert loaded.seq == 2 and loaded.damage is None
    finally:
        store.close()


@pytest.mark.parametrize(
    "values",
    [[], [0.0, 1796156077.3867192, 1e-300, 1.7976931348623157e308, -2.5], [float("inf")]],
)
def test_packed_times_read_back_bit_for_bit(values: list[float]) -> None:
    text = pack_floats(values)
    assert isinstance(text, str) and text.isascii()
    assert [v.hex() for v in unpack_floats(text)] == [v.hex() for v in values]


def test_a_snapshot_whose_times_are_lists_of_numbers_reads_as_well() -> None:
    columns = as_lists(through_json(snapshot_columns(RECORDS)))
    rows = rows_from_columns(columns)
    assert {path: restored_record(row) for path, row in rows.items()} == RECORDS


def test_a_secret_that_turns_up_in_the_packed_times_leaves_them_intact() -> None:
    from maverick_core.builtin.checkpoint.journal import snapshot_payload
    from maverick_core.engine.secrets import SecretMasker

    records = {
        "login": StepRecord(Status.COMPLETED, {"token": "s3cr3t-value"}, None, 17.5, 0.25),
        "later": StepRecord(Status.COMPLETED, "ok", None, 18.0, 1.0),
    }
    packed = snapshot_columns(records)["started_at"]
    # the four characters masking would replace inside the base64, had it looked there
    chance = packed[4:8]
    payload = snapshot_payload(records, {}, SecretMasker(["s3cr3t-value", chance]))
    text = json.dumps(payload)
    assert "s3cr3t-value" not in text
    assert payload["columns"]["started_at"] == packed
    rows = rows_from_columns(through_json(payload["columns"]))
    assert [restored_record(row).started_at for row in rows.values()] == [17.5, 18.0]
    assert [restored_record(row).duration for row in rows.values()] == [0.25, 1.0]


def _reads_lists(made: list[list[int]]) -> Any:
    def read() -> bool:
        made.extend([index] for index in range(SETTLE_FROM + 1000))
        return gc.isenabled()

    return _without_cycle_collection(read)


def test_reading_state_pauses_the_collector_and_leaves_it_as_it_was() -> None:
    made: list[list[int]] = []
    frozen = gc.get_freeze_count()
    assert _reads_lists(made)() is False  # paused while reading
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    gc.disable()
    try:
        assert _reads_lists(made)() is False
        assert not gc.isenabled()  # left as it was
    finally:
        gc.enable()


def test_a_large_state_read_leaves_nothing_young_and_nothing_frozen_in_a_library() -> None:
    gc.unfreeze()  # as in a process that froze nothing (harmless: into the oldest generation)
    made: list[list[int]] = []
    gc.disable()  # as a resume settles its state: before the collector runs again
    try:
        _reads_lists(made)()
        assert gc.get_count()[0] >= SETTLE_FROM
        _settle_restored_state()
        assert gc.get_count()[0] < 100 and gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_a_large_state_read_is_frozen_where_the_entry_point_froze_start_up() -> None:
    gc.freeze()  # what maverick's entry point does once start-up is done
    try:
        before = gc.get_freeze_count()
        made: list[list[int]] = []
        gc.disable()
        _reads_lists(made)()
        _settle_restored_state()
        assert gc.get_freeze_count() >= before + SETTLE_FROM
    finally:
        gc.enable()
        gc.unfreeze()


def test_a_small_state_read_is_left_to_the_collector() -> None:
    gc.freeze()
    try:
        gc.collect(0)
        before = gc.get_freeze_count()
        gc.disable()
        made = [[index] for index in range(100)]
        _settle_restored_state()
        assert gc.get_freeze_count() == before and len(made) == 100
    finally:
        gc.enable()
        gc.unfreeze()
