"""The tasks file: ``## Phase N: Title`` headings and ``- [ ] T001 …`` task lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from maverick_core.devflow.tasks import TasksError, mark_done, parse_tasks, resolve_task_file

if TYPE_CHECKING:
    from pathlib import Path

SPEC_KIT = """\
# Tasks: Photo albums

**Input**: design documents

## Phase 1: Setup (Shared Infrastructure)

**Purpose**: project initialization

- [ ] T001 Create project structure per implementation plan
- [X] T002 [P] Initialize the project with dependencies

## Phase 2: Foundational

### Tests for User Story 1
- [ ] T003 [P] [US1] Contract test in tests/contract/test_albums.py
* [x] T004 Album model in src/models/album.py

```
- [ ] T999 an example inside a code fence is not a task
## Phase 9: not a heading either
```

## Dependencies & Execution Order

- T001 before T003
- [ ] T005 a task-like line in a closing section is not planned work
"""


def test_phases_have_their_number_title_and_own_tasks() -> None:
    parsed = parse_tasks(SPEC_KIT)
    assert parsed.title == "Photo albums"
    assert [(p.number, p.title) for p in parsed.phases] == [
        (1, "Setup (Shared Infrastructure)"),
        (2, "Foundational"),
    ]
    assert [t.id for t in parsed.phases[0].tasks] == ["T001", "T002"]
    assert [t.id for t in parsed.phases[1].tasks] == ["T003", "T004"]


def test_task_lines_keep_their_text_checkbox_and_line_number() -> None:
    task = parse_tasks(SPEC_KIT).phases[1].tasks[0]
    assert task.text == "[P] [US1] Contract test in tests/contract/test_albums.py"
    assert task.done is False and task.line == 15
    assert parse_tasks(SPEC_KIT).phases[0].tasks[1].done is True


def test_a_phase_text_is_its_task_lines_and_its_notes_are_the_rest() -> None:
    phase = parse_tasks(SPEC_KIT).to_plain("tasks.md")["phases"][0]
    assert phase["text"] == (
        "- [ ] T001 Create project structure per implementation plan\n"
        "- [X] T002 [P] Initialize the project with dependencies"
    )
    assert phase["notes"] == "**Purpose**: project initialization"
    assert phase["task_ids"] == ["T001", "T002"]


def test_code_fences_and_closing_sections_hold_no_tasks() -> None:
    ids = [t.id for p in parse_tasks(SPEC_KIT).phases for t in p.tasks]
    assert "T999" not in ids and "T005" not in ids
    assert [p.number for p in parse_tasks(SPEC_KIT).phases] == [1, 2]


def test_pending_phases_are_those_with_unchecked_tasks() -> None:
    text = SPEC_KIT.replace("- [ ] T001", "- [x] T001")
    plain = parse_tasks(text).to_plain("tasks.md")
    assert [p["number"] for p in plain["pending"]] == [2]
    assert (plain["total_tasks"], plain["done_tasks"]) == (4, 3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- [ ] T001 orphan\n## Phase 1: A\n- [ ] T002 x\n", "tasks.md:1: task T001 is not under"),
        ("## Phase 1: A\n- [ ] T001 x\n- [ ] T001 y\n", "tasks.md:3: task T001 appears twice"),
        ("## Phase 1: A\n- [ ] T001 x\n## Phase 1: B\n- [ ] T002 y\n", "phase 1 appears twice"),
        ("# Tasks\nnothing here\n", "tasks.md: no task lines found"),
        ("## Phase 1: A\n## Phase 2: B\n- [ ] T001 x\n", "tasks.md:1: phase 1 has no task lines"),
    ],
)
def test_a_file_that_cannot_be_used_is_refused_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(TasksError, match=message.replace("'", ".").replace("[", ".")):
        parse_tasks(text)


def test_a_file_without_phase_headings_is_one_implicit_phase() -> None:
    text = (
        "# Tasks: Checklist\n\nSome context.\n## Setup\n- [x] T001 First\n"
        "## Core\n- [ ] T002 Second\n```\n- [ ] T900 an example, not a task\n```\n"
    )
    parsed = parse_tasks(text)
    assert parsed.implicit is True
    (phase,) = parsed.phases
    assert (phase.number, phase.title, phase.line) == (1, "Checklist", 5)
    assert [t.id for t in phase.tasks] == ["T001", "T002"]
    plain = parsed.to_plain("tasks.md")
    assert plain["implicit_phase"] is True
    assert [p["task_ids"] for p in plain["pending"]] == [["T001", "T002"]]
    assert "Some context." in plain["phases"][0]["notes"]


def test_an_implicit_phase_without_a_title_is_called_all_tasks() -> None:
    assert parse_tasks("- [ ] T001 only\n").phases[0].title == "All tasks"
    assert parse_tasks(SPEC_KIT).implicit is False


def test_mark_done_checks_only_the_given_tasks() -> None:
    updated = mark_done(SPEC_KIT, ["T001", "T003"])
    assert "- [x] T001 Create project" in updated
    assert "- [x] T003 [P] [US1]" in updated
    assert "- [ ] T999" in updated and "- [ ] T005" in updated
    assert mark_done(updated, ["T001"]) == updated


def test_the_tasks_file_defaults_to_the_branch_spec_then_the_root(tmp_path: Path) -> None:
    (tmp_path / "tasks.md").write_text("x")
    assert resolve_task_file(tmp_path, None, "feat") == tmp_path / "tasks.md"
    spec = tmp_path / "specs" / "feat" / "tasks.md"
    spec.parent.mkdir(parents=True)
    spec.write_text("x")
    assert resolve_task_file(tmp_path, None, "feat") == spec
    assert resolve_task_file(tmp_path, "tasks.md", "feat") == tmp_path / "tasks.md"
    with pytest.raises(TasksError, match=r"task file 'nope\.md' not found"):
        resolve_task_file(tmp_path, "nope.md", "feat")
    with pytest.raises(TasksError, match=r"tried specs/other/tasks\.md"):
        resolve_task_file(tmp_path / "specs", None, "other")
