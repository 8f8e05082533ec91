"""The record/row mapping every SQL store shares (``maverick_core.api``)."""

from __future__ import annotations

from maverick_core.api import (
    RECORD_COLUMNS,
    DamagedRecord,
    make_record,
    record_from_row,
    record_values,
)


def test_a_record_round_trips_through_its_row() -> None:
    record = make_record("r1", 3, "cp", "delta", 1.5, "json", b'{"a":1}')
    row = record_values(record)
    assert len(row) == len(RECORD_COLUMNS)
    assert record_from_row("r1", row, "row 7") == record


def test_a_driver_s_memoryview_payload_comes_back_as_bytes() -> None:
    record = make_record("r1", 1, "cp", "full", 2.0, "json", b"{}")
    row = list(record_values(record))
    row[RECORD_COLUMNS.index("payload")] = memoryview(b"{}")
    restored = record_from_row("r1", tuple(row), "seq 1")
    assert restored == record and restored.intact


def test_a_column_of_the_wrong_type_is_a_damaged_record_at_its_position() -> None:
    record = make_record("r1", 1, "cp", "full", 2.0, "json", b"{}")
    row = list(record_values(record))
    row[RECORD_COLUMNS.index("payload")] = "text, not bytes"
    damaged = record_from_row("r1", tuple(row), "row 4")
    assert isinstance(damaged, DamagedRecord)
    assert (damaged.run_id, damaged.position) == ("r1", "row 4")
