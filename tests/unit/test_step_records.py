"""A step record read back from a checkpoint is exactly what was written, or refused by name.

``StepRecord.from_plain`` decodes every record a resume restores, so it takes a fast
path for records as ``to_plain`` writes them; these tests pin that the fast path and
the careful one agree, and that a record a buggy plugin or a hand edit left behind
is refused naming its field.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from maverick_core.engine.run import Status, StepRecord

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


@pytest.mark.parametrize(
    ("plain", "message"),
    [
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
    ],
)
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
