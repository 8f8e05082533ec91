"""The tasks file that ``fly`` implements: ``## Phase N: Title`` headings with task lines.

The format is the common one (spec-kit and friends)::

    # Tasks: Calculator

    ## Phase 1: Setup
    **Purpose**: project skeleton
    - [ ] T001 Create the package
    - [x] T002 [P] Add the test scaffold

    ## Phase 2: Core operations
    - [ ] T003 Implement add() in calc/ops.py

A phase runs from its heading to the next ``##`` heading; ``###`` subheadings stay
inside it. Lines that are neither headings nor tasks are the phase's notes. A file
with task lines but no ``## Phase N:`` heading at all is one implicit phase 1 (titled
after the file's ``# Tasks: Title``), so a plain checklist works too. Parsing is pure
(no I/O beyond reading the text given) so it is easy to specify in tests.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import attrs

from maverick_core.api import StepFailed

if TYPE_CHECKING:
    from pathlib import Path

PHASE_RE = re.compile(r"^##\s+Phase\s+(\d+)\s*[:.\-\u2013\u2014]\s*(.*?)\s*#*\s*$", re.IGNORECASE)
SECTION_RE = re.compile(r"^##(?!#)\s*(.*?)\s*$")
TITLE_RE = re.compile(r"^#(?!#)\s*(.*?)\s*$")
TASK_RE = re.compile(r"^\s*[-*]\s+\[(?P<mark>[ xX])\]\s+(?P<id>T\d+)\b[ \t]*(?P<text>.*?)\s*$")
UNCHECKED_RE = r"^(\s*[-*]\s+\[) (\]\s+{id}\b)"


class TasksError(StepFailed):
    """The tasks file cannot be used; the message names the file and line."""


@attrs.frozen
class Task:
    """One ``- [ ] T001 text`` line."""

    id: str
    text: str
    done: bool
    line: int


@attrs.frozen
class Phase:
    """One ``## Phase N: Title`` section."""

    number: int
    title: str
    line: int
    tasks: tuple[Task, ...]
    notes: tuple[str, ...]
    task_lines: tuple[str, ...]

    @property
    def done(self) -> bool:
        """True when every task of the phase is checked."""
        return all(task.done for task in self.tasks)

    def to_plain(self) -> dict[str, Any]:
        """The phase as plain data for step outputs (and the implementer's prompt)."""
        return {
            "number": self.number,
            "title": self.title,
            "line": self.line,
            "done": self.done,
            "tasks": [attrs.asdict(task) for task in self.tasks],
            "task_ids": [task.id for task in self.tasks],
            "text": "\n".join(self.task_lines),
            "notes": "\n".join(self.notes),
        }


@attrs.frozen
class TaskList:
    """A parsed tasks file."""

    title: str
    phases: tuple[Phase, ...]
    implicit: bool = False
    """True when the file had no phase headings: its tasks are one implicit phase."""

    def to_plain(self, path: str) -> dict[str, Any]:
        """Plain data: every phase, the pending ones, and counts."""
        tasks = [task for phase in self.phases for task in phase.tasks]
        return {
            "path": path,
            "title": self.title,
            "phases": [phase.to_plain() for phase in self.phases],
            "pending": [phase.to_plain() for phase in self.phases if not phase.done],
            "total_tasks": len(tasks),
            "done_tasks": sum(1 for task in tasks if task.done),
            "implicit_phase": self.implicit,
        }


@attrs.define
class _Open:
    number: int
    title: str
    line: int
    tasks: list[Task] = attrs.field(factory=list)
    notes: list[str] = attrs.field(factory=list)
    task_lines: list[str] = attrs.field(factory=list)

    def close(self) -> Phase:
        return Phase(
            self.number,
            self.title,
            self.line,
            tuple(self.tasks),
            tuple(self.notes),
            tuple(self.task_lines),
        )


def parse_tasks(text: str, filename: str = "tasks.md") -> TaskList:
    """Parse a tasks file; a problem raises :class:`TasksError` naming ``file:line``."""
    title = ""
    phases: list[Phase] = []
    current: _Open | None = None
    # tasks before any phase heading: the implicit phase when no heading ever comes
    loose = _Open(1, "", 0)
    seen_ids: dict[str, int] = {}
    seen_phases: dict[int, int] = {}
    in_fence = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if line.lstrip().startswith(("```", "~~~")):
            # a fenced example in the notes is text, never headings or tasks
            in_fence = not in_fence
        if in_fence or line.lstrip().startswith(("```", "~~~")):
            (current or loose).notes.append(line)
            continue
        phase = PHASE_RE.match(line)
        if phase:
            if current is not None:
                phases.append(current.close())
            phase_number = int(phase.group(1))
            if phase_number in seen_phases:
                raise TasksError(
                    f"{filename}:{number}: phase {phase_number} appears twice "
                    f"(first at line {seen_phases[phase_number]})"
                )
            seen_phases[phase_number] = number
            current = _Open(phase_number, phase.group(2) or f"Phase {phase_number}", number)
            continue
        if SECTION_RE.match(line):
            # any other level-2 heading (Dependencies, Notes ...) ends the phase
            if current is not None:
                phases.append(current.close())
            current = None
            continue
        heading = TITLE_RE.match(line)
        if heading and not title and not phases and current is None:
            title = re.sub(r"^tasks\s*:\s*", "", heading.group(1), flags=re.IGNORECASE)
            continue
        task = TASK_RE.match(line)
        if task:
            task_id = task.group("id")
            if current is None and phases:
                continue  # a task-like line in a closing section is not planned work
            if task_id in seen_ids:
                raise TasksError(
                    f"{filename}:{number}: task {task_id} appears twice "
                    f"(first at line {seen_ids[task_id]})"
                )
            seen_ids[task_id] = number
            target = current or loose
            target.tasks.append(
                Task(task_id, task.group("text"), task.group("mark") != " ", number)
            )
            target.task_lines.append(line.strip())
        elif line.strip() and (current is not None or not phases):
            (current or loose).notes.append(line)
    if current is not None:
        phases.append(current.close())
    if loose.tasks and phases:
        first = loose.tasks[0]
        raise TasksError(
            f"{filename}:{first.line}: task {first.id} is not under a '## Phase N: Title' heading"
        )
    if loose.tasks:
        loose.title = title or "All tasks"
        loose.line = loose.tasks[0].line
        return TaskList(title, (loose.close(),), implicit=True)
    if not phases:
        raise TasksError(
            f"{filename}: no task lines found ('- [ ] T001 what to do', optionally under "
            "'## Phase N: Title' headings)"
        )
    empty = [phase for phase in phases if not phase.tasks]
    if empty:
        raise TasksError(
            f"{filename}:{empty[0].line}: phase {empty[0].number} has no task lines "
            "('- [ ] T001 what to do')"
        )
    return TaskList(title, tuple(phases))


def mark_done(text: str, task_ids: list[str]) -> str:
    """``text`` with the given tasks checked (``- [ ]`` → ``- [x]``); nothing else changes."""
    for task_id in task_ids:
        pattern = re.compile(UNCHECKED_RE.format(id=re.escape(task_id)), re.MULTILINE)
        text = pattern.sub(r"\1x\2", text, count=1)
    return text


def resolve_task_file(root: Path, task_file: str | None, branch_name: str) -> Path:
    """The tasks file: the given one, else ``specs/<branch>/tasks.md``, else ``tasks.md``."""
    if task_file:
        path = root / task_file
        if not path.is_file():
            raise TasksError(f"task file '{task_file}' not found (relative to {root})")
        return path
    candidates = [root / "specs" / branch_name / "tasks.md", root / "tasks.md"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c.relative_to(root)) for c in candidates)
    raise TasksError(f"no tasks file found (tried {tried}); give one with --task-file")
