"""Outputs become plain data at step completion, the same in every run."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from pathlib import PurePosixPath

import attrs
import pytest

from maverick_core.engine.errors import StepFailed
from maverick_core.engine.normalize import normalize


@attrs.frozen
class Report:
    title: str
    lines: tuple[str, ...]


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Color(enum.Enum):
    RED = "red"


def test_containers_and_models_become_plain_data():
    value = {
        "report": Report("t", ("a", "b")),
        "point": Point(1, 2),
        "ids": {3, 1, 2},
        "color": Color.RED,
        "path": PurePosixPath("/tmp/x"),
        7: "seven",
    }
    assert normalize(value, "steps.s.output") == {
        "report": {"title": "t", "lines": ["a", "b"]},
        "point": {"x": 1, "y": 2},
        "ids": [1, 2, 3],
        "color": "red",
        "path": "/tmp/x",
        "7": "seven",
    }


def test_datetimes_become_iso_text():
    assert normalize(dt.datetime(2026, 11, 26, 14, 5, 12), "p") == "2026-11-26T14:05:12"
    assert normalize(dt.timedelta(minutes=2), "p") == 120.0


def test_a_value_that_cannot_be_persisted_names_its_path():
    with pytest.raises(StepFailed) as info:
        normalize({"report": {"when": dt.UTC}}, "steps.analyze.output")
    assert (
        info.value.message
        == "steps.analyze.output.report.when: datetime.timezone is not serializable"
    )


def test_plain_output_is_copied_so_a_later_change_by_the_step_cannot_reach_the_record():
    produced = {"files": ["a.py", {"name": "b.py", "lines": [1, 2]}], "ok": True, "n": None}
    normalized = normalize(produced, "steps.s.output")
    produced["files"][1]["lines"].append(3)  # the action keeps and changes its own value
    produced["ok"] = False
    assert normalized == {
        "files": ["a.py", {"name": "b.py", "lines": [1, 2]}],
        "ok": True,
        "n": None,
    }


def test_too_deep_plain_output_still_names_where_it_is_too_deep():
    value: list[object] = []
    inner = value
    for _ in range(250):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]
    with pytest.raises(StepFailed) as info:
        normalize(value, "steps.deep.output")
    assert info.value.message.startswith("steps.deep.output[0][0]")
    assert "nested too deeply" in info.value.message


def test_a_plain_container_with_a_non_plain_value_inside_names_that_value():
    with pytest.raises(StepFailed) as info:
        normalize({"rows": [{"ok": 1}, {"ok": object()}]}, "steps.s.output")
    assert info.value.message == "steps.s.output.rows[1].ok: object is not serializable"


def test_a_step_whose_output_cannot_be_persisted_fails_with_the_path(
    write_workflow, run_in_process
):
    path = write_workflow("""
        version: "1.0"
        name: bad-output
        steps:
          - {name: analyze, type: python, action: "tests.unit.helpers:aware_time"}
    """)
    result = run_in_process(path)
    assert result.status == "failed"
    assert result.error == (
        "step 'analyze' failed: steps.analyze.output.report.when: "
        "datetime.timezone is not serializable"
    )


def test_resumed_and_uninterrupted_runs_see_the_same_normalized_values(
    write_workflow, run_in_process
):
    path = write_workflow("""
        version: "1.0"
        name: stamps
        steps:
          - {name: s, type: python, action: "tests.unit.helpers:stamp", checkpoint: true}
          - {name: t, type: shell, command: "test -e go"}
        outputs: {s: "${{ steps.s.output }}"}
    """)
    first = run_in_process(path)
    assert first.status == "failed"
    (path.parent / "go").write_text("")
    resumed = run_in_process(path, resume=True)
    fresh = run_in_process(path)
    expected = {"s": {"at": "2026-11-26T14:05:12", "tags": ["a", "b"], "ids": [1, 2, 3]}}
    assert resumed.outputs == fresh.outputs == expected


def test_a_long_list_of_flat_mappings_is_copied_mapping_by_mapping():
    # a resumed loop's results: the copy must not share a mapping with the records
    produced = [{"work": i, "name": f"n{i}", "ok": i % 2 == 0, "x": None} for i in range(1500)]
    normalized = normalize(produced, "steps.each.output")
    assert normalized == produced
    assert all(a is not b for a, b in zip(normalized, produced, strict=True))
    produced[3]["work"] = "changed"
    assert normalized[3]["work"] == 3


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({1: "int key"}, {"1": "int key"}),
        ({"t": (1, 2)}, {"t": [1, 2]}),
        ({"nested": {"deep": [1]}}, {"nested": {"deep": [1]}}),
        ({"c": Color.RED}, {"c": "red"}),
    ],
)
def test_a_long_list_of_mappings_that_are_not_flat_plain_data_is_still_converted(
    item: dict[object, object], expected: dict[str, object]
) -> None:
    produced = [{"work": i} for i in range(1500)] + [item]
    normalized = normalize(produced, "steps.each.output")
    assert normalized[-1] == expected
    assert normalized[:-1] == produced[:-1]


def test_a_long_list_of_mappings_with_something_unpersistable_names_it():
    produced = [{"work": i} for i in range(1500)] + [{"work": object()}]
    with pytest.raises(StepFailed) as info:
        normalize(produced, "steps.each.output")
    assert info.value.message == "steps.each.output[1500].work: object is not serializable"


def test_a_list_of_plain_scalars_is_a_copy():
    produced = [1, "two", 3.0, None, True]
    normalized = normalize(produced, "steps.s.output")
    produced.append(6)
    assert normalized == [1, "two", 3.0, None, True]
