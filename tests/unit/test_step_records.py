"""A step record read back from a checkpoint is exactly what was written, or refused by name.

A resume checks every record it restores (``check_plain_records``, a fast path for
records as ``to_plain`` writes them) and makes a ``StepRecord`` of each only when
the run reads it (``RunState``); these tests pin that the fast paths and the careful
one agree, that a record a buggy plugin or a hand edit left behind is refused naming
its field, and that a restored record reads back as the record that was written.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from maverick_core.engine.run import (
    NOT_DONE,
    RunState,
    Status,
    StepRecord,
    check_plain_records,
)

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize(
    "record",
    [
        StepRecord(Status.COMPLETED, {"stdout": "hi", "returncode": 0}, None, 1796.5, 0.25),
        StepRecord(Status.SKIPPED),
        StepRecord(Status.FAILED, None, "boom", 12.0, 3.0, attempts=[{"attempt": 1}]),
        StepRecord(Status.RUNNING, items=[1, "two", {"three": 3}]),
    ],
)
def test_a_record_reads_back_as_written(record: StepRecord) -> None:
    assert StepRecord.from_plain(record.to_plain()) == record


def test_whole_numbers_and_status_members_are_accepted_as_written_by_older_releases() -> None:
    plain: dict[str, Any] = {
        "status": Status.COMPLETED,
        "output": 1,
        "started_at": 17,
        "duration": 0,
    }
    record = StepRecord.from_plain(plain)
    assert record == StepRecord(Status.COMPLETED, 1, started_at=17.0)
    assert type(record.started_at) is float
    assert record.status is Status.COMPLETED


REFUSED: list[tuple[Any, str]] = [
    (["completed"], "a step record is a mapping, got list"),
    ({"status": "done"}, "step record field 'status' is 'done', not a step status"),
    (
        {"status": ["completed"]},
        "step record field 'status' is ['completed'], not a step status",
    ),
    ({}, "step record field 'status' is None, not a step status"),
    ({"status": "failed", "error": 3}, "step record field 'error' is int, not a string"),
    ({"status": "completed", "started_at": True}, "field 'started_at' is True, not a number"),
    ({"status": "completed", "duration": "1s"}, "field 'duration' is '1s', not a number"),
    ({"status": "running", "items": "abc"}, "step record field 'items' is str, not a list"),
    ({"status": "failed", "attempts": [1]}, "field 'attempts' is not a list of mappings"),
]


@pytest.mark.parametrize(("plain", "message"), REFUSED)
def test_a_record_that_is_not_what_to_plain_writes_is_refused_naming_its_field(
    plain: Any, message: str
) -> None:
    with pytest.raises(ValueError) as info:
        StepRecord.from_plain(plain)
    assert message in str(info.value)


def test_a_checkpoint_holding_a_refused_record_names_the_step(maverick_project: Path) -> None:
    from maverick_core.builtin.checkpoint.journal import decode_record
    from maverick_core.engine.config import make_config
    from maverick_core.engine.pluginmanager import make_plugin_manager
    from maverick_core.engine.storage import make_record

    records = {
        "each[0].work": {"status": "completed", "output": 0},
        "each[1].work": {"status": "done", "output": 1},
    }
    payload = json.dumps({"records": records}).encode()
    record = make_record("run-1", 3, "work", "delta", 1.0, "json", payload)
    config = make_config(make_plugin_manager(), maverick_project)
    with pytest.raises(ValueError) as info:
        decode_record(config, record)
    assert str(info.value) == (
        "record of step 'each[1].work': step record field 'status' is 'done', not a step status"
    )


@pytest.mark.parametrize(("plain", "message"), REFUSED)
def test_checking_a_checkpoints_plain_records_refuses_what_from_plain_refuses(
    plain: Any, message: str
) -> None:
    plains = {"each[0].work": {"status": "completed", "output": 0}, "each[1].work": plain}
    with pytest.raises(ValueError) as info:
        check_plain_records(plains)
    assert str(info.value).startswith("record of step 'each[1].work': ")
    assert message in str(info.value)


def test_checking_accepts_every_shape_to_plain_writes() -> None:
    records = [
        StepRecord(Status.COMPLETED, {"stdout": "hi"}, None, 1796.5, 0.25),
        StepRecord(Status.SKIPPED),
        StepRecord(Status.FAILED, None, "boom", 12.0, 3.0, attempts=[{"attempt": 1}]),
        StepRecord(Status.RUNNING, items=[1, "two"]),
    ]
    check_plain_records({f"s{i}": r.to_plain() for i, r in enumerate(records)})
    check_plain_records({"old": {"status": "completed", "output": 1, "started_at": 17}})


def test_restored_records_read_as_the_records_they_were_and_a_later_record_wins() -> None:
    written = {
        "each": StepRecord(Status.RUNNING, items=[0, 1, 2]),
        "each[0].work": StepRecord(Status.COMPLETED, "zero", None, 5.5, 0.5),
        "each[0]": StepRecord(Status.COMPLETED, {"work": "zero"}),
        "each[1].work": StepRecord(Status.FAILED, None, "boom", 6.0, 1.0),
        "gate": StepRecord(Status.SKIPPED),
    }
    state = RunState(restored={p: r.to_plain() for p, r in written.items()})
    assert len(state) == 5 and "each[0]" in state and "each[2]" not in state
    assert state.get("each[0].work") == written["each[0].work"]
    assert state.get("nowhere") is None
    assert state.done_output("each[0]") == (True, {"work": "zero"})
    assert state.done_output("each[1].work") == (False, None)
    assert state.done_output("each") == (False, None)
    assert state.done_paths() == ["each[0].work", "each[0]", "gate"]

    again = StepRecord(Status.COMPLETED, "one")
    state.set("each[1].work", again)
    state.set("each[1]", StepRecord(Status.COMPLETED, {"work": "one"}))
    assert state.get("each[1].work") == again
    assert state.done_output("each[1].work") == (True, "one")
    assert state.done_paths() == ["each[0].work", "each[0]", "each[1].work", "gate", "each[1]"]
    assert len(state) == 6

    changes, everything = state.take_changes(full=True)
    assert list(changes) == ["each[1].work", "each[1]"]
    assert everything == {**written, "each[1].work": again, "each[1]": changes["each[1]"]}
    assert state.snapshot() == everything
    assert state.done_output("each[0]") == (True, {"work": "zero"})


def test_done_outputs_reads_many_paths_as_done_output_reads_each() -> None:
    written = {
        "each[0]": StepRecord(Status.COMPLETED, {"work": "zero"}),
        "each[1].work": StepRecord(Status.COMPLETED, "one"),
        "each[2]": StepRecord(Status.FAILED, None, "boom"),
        "each[3]": StepRecord(Status.SKIPPED),
        "each[4]": StepRecord(Status.COMPLETED, None),
    }
    # snapshot rows (tuples) and journal mappings, as a resume restores them
    restored: dict[str, Any] = {p: r.to_plain() for p, r in written.items()}
    restored["each[5]"] = ("completed", {"work": "five"}, 1.0, 2.0)
    restored["each[6]"] = ("failed", None, 1.0, 2.0)
    state = RunState(restored=restored)
    state.set("each[2]", StepRecord(Status.COMPLETED, {"work": "two again"}))
    state.set("each[5]", StepRecord(Status.FAILED, None, "later"))
    paths = [f"each[{i}]" for i in range(8)]
    outputs, done = state.done_outputs(paths)
    expected = [state.done_output(path) for path in paths]
    assert outputs == [output if ok else NOT_DONE for ok, output in expected]
    assert outputs == [
        {"work": "zero"},
        NOT_DONE,
        {"work": "two again"},
        None,
        None,
        NOT_DONE,
        NOT_DONE,
        NOT_DONE,
    ]
    assert done == 4
    assert RunState().done_outputs(paths) == ([NOT_DONE] * 8, 0)
