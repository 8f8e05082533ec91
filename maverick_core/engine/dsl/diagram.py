"""A workflow as a Mermaid ``flowchart TD``, optionally coloured by step status.

The diagram is drawn from the model alone, generically: a step whose model has
``children()`` is drawn as a group of those steps; the engine's own composite models
say more (a loop's ``for_each`` and ``max_concurrency``, a branch's options, a
subworkflow's called workflow), and a step type that catches its children's failures
(``try``) says so through :meth:`~maverick_core.engine.dsl.model.Step.failure_handling`.

Every node id is derived from the step's *path* with loop indexes removed (``each.work``
for ``each[2].work``), so a viewer can map a run's step records onto the diagram; see
:func:`mermaid_node_id`. Every piece of text comes from the workflow file or a run and is
treated as hostile: labels are quoted and every character outside a small safe set is
written as a named HTML entity (``&lt;``, ``&quot;``, ``&num;``), so a step name or
condition such as ``<img src=x onerror=alert(1)>`` is shown as text and never becomes
markup. The only markup in a label is the ``<br/>`` line break this module writes.

Why HTML entities and not Mermaid's ``#60;`` codes: Mermaid turns ``#…;`` into private
placeholders before parsing, and the Mermaid the viewer vendors (12.3) leaves those
placeholders in the rendered labels (``ﬂ°°60¶ß`` on screen). Named HTML entities carry
no ``#``, so Mermaid passes them through and the browser shows the character; with no
``#`` in any label, Mermaid's entity and ``style``/``classDef`` rewriting never touches
label text.
"""

from __future__ import annotations

import os
import re
import string
from typing import TYPE_CHECKING, Any

import attrs

from maverick_core.engine.dsl.composite import BranchStep, LoopStep, SubworkflowStep
from maverick_core.engine.dsl.inprocess import CheckpointStep

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from maverick_core.engine.config import Config
    from maverick_core.engine.dsl.model import Step, Workflow

STATUSES = ("done", "restored", "failed", "interrupted", "running", "skipped", "not_reached")
"""The step statuses a diagram can be coloured by (``describe_run``'s step ``state`` values)."""

STATUS_ALIASES = {
    "completed": "done",
    "not reached": "not_reached",
}
"""Run record statuses accepted for the diagram's own words (``completed`` is ``done``)."""

# (fill, stroke, text colour, extra) — the fills differ in lightness as well as hue and
# the borders differ in style, so the states stay apart when printed in grey
_STYLES = {
    "done": ("#a5d6a7", "#1b5e20", "#000000", "stroke-width:2px"),
    "restored": ("#e3f2fd", "#0d47a1", "#000000", "stroke-width:2px,stroke-dasharray:2 2"),
    "failed": ("#b71c1c", "#4a0000", "#ffffff", "stroke-width:4px"),
    "interrupted": ("#8d6e63", "#3e2723", "#ffffff", "stroke-width:3px,stroke-dasharray:8 3"),
    "running": ("#ffca28", "#e65100", "#000000", "stroke-width:4px,stroke-dasharray:6 3"),
    "skipped": ("#eeeeee", "#757575", "#424242", "stroke-width:1px,stroke-dasharray:1 3"),
    "not_reached": ("#ffffff", "#9e9e9e", "#757575", "stroke-width:1px,stroke-dasharray:4 4"),
}
_LEGEND = {
    "done": "done",
    "restored": "restored from a checkpoint",
    "failed": "failed",
    "interrupted": "interrupted (resumable)",
    "running": "running",
    "skipped": "skipped (when: false)",
    "not_reached": "not reached",
}

CLASS_PREFIX = "st_"
"""A status's ``classDef`` name is this prefix and the status (``st_done``)."""

MAX_SUBWORKFLOW_DEPTH = 8
"""Subworkflows nested deeper than this are drawn as one node each."""

_LABEL_LIMIT = 120
_SAFE = frozenset(string.ascii_letters + string.digits + " .,:/_-+=!?'@^~*()")
_ENTITIES = {
    '"': "&quot;",
    "#": "&num;",
    "$": "&dollar;",
    "%": "&percnt;",
    "&": "&amp;",
    ";": "&semi;",
    "<": "&lt;",
    ">": "&gt;",
    "[": "&lsqb;",
    "\\": "&bsol;",
    "]": "&rsqb;",
    "`": "&grave;",
    "{": "&lcub;",
    "|": "&vert;",
    "}": "&rcub;",
}
"""Every printable ASCII character outside ``_SAFE``, as an HTML5 named character reference."""
_INDEX = re.compile(r"\[\d+\]")


def mermaid_node_id(path: str) -> str:
    """The Mermaid node id of the step at ``path`` (loop indexes are ignored).

    Letters and digits stay; ``_`` is written ``__``, ``-`` as ``_h``, the path's
    ``.`` as ``_o`` and any other character as ``_x`` and its code point in hex and
    ``_``: distinct paths get distinct ids, all of them safe in Mermaid (never a
    keyword such as ``end``: every id starts with ``s_``).
    """
    out = ["s_"]
    for char in _INDEX.sub("", path):
        if char.isascii() and char.isalnum():
            out.append(char)
        elif char == "_":
            out.append("__")
        elif char == "-":
            out.append("_h")
        elif char == ".":
            out.append("_o")
        else:
            out.append(f"_x{ord(char):x}_")
    return "".join(out)


def escape_label(text: str, limit: int = _LABEL_LIMIT) -> str:
    """``text`` as the inside of a quoted Mermaid label: inert, one line, at most ``limit`` chars.

    Characters outside a small safe set become named HTML entities (``<`` is ``&lt;``,
    ``"`` is ``&quot;``, ``#`` is ``&num;``; ``$$`` gets a zero-width space between its
    dollars, so it never starts a formula), so nothing in the text can end the label,
    start markup, a formula or a Markdown string, or be read as an entity; control
    characters are dropped.
    """
    flat = " ".join(str(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    out = []
    for position, char in enumerate(flat):
        if char == "$" and flat[position + 1 : position + 2] == "$":
            # Mermaid renders $$…$$ as a formula (entities decoded first): keep them apart
            out.append("&dollar;&ZeroWidthSpace;")
        elif char in _SAFE or (not char.isascii() and char.isprintable()):
            out.append(char)
        elif char in _ENTITIES:
            out.append(_ENTITIES[char])
    return "".join(out)


def _label(*lines: str) -> str:
    return '"' + "<br/>".join(escape_label(line) for line in lines if line) + '"'


def condition_text(value: Any) -> str:
    """A ``when`` (or ``for_each``…) value as written; a whole expression without its ``${{ }}``."""
    source = getattr(value, "source", None)
    if not isinstance(source, str):
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    stripped = source.strip()
    if getattr(value, "is_whole", False) and stripped.startswith("${{") and stripped.endswith("}}"):
        return stripped[3:-2].strip()
    return source


def _file_key(source: str) -> str:
    """One name per file however it was reached (relative, absolute, through a link)."""
    return os.path.realpath(source)


def _is_always(value: Any) -> bool:
    return value is None or value is True


@attrs.frozen
class _Exit:
    """A way out of what was drawn so far: an edge from ``source`` to whatever comes next."""

    source: str
    label: str | None = None
    dashed: bool = False


def _summarize(statuses: Iterable[str]) -> str | None:
    seen = set(statuses)
    if not seen:
        return None
    for urgent in ("failed", "interrupted", "running"):
        if urgent in seen:
            return urgent
    for only in ("skipped", "restored", "not_reached"):
        if seen == {only}:
            return only
    if seen <= {"done", "restored", "skipped"}:
        return "done"
    return "running"  # some steps done, others not reached yet


class _Statuses:
    """Step records' statuses grouped by step path without loop indexes."""

    def __init__(self, statuses: Mapping[str, str]) -> None:
        self.by_path: dict[str, list[str]] = {}
        self.iterations: dict[str, list[str]] = {}
        for path, raw in statuses.items():
            status = STATUS_ALIASES.get(str(raw), str(raw))
            if status not in STATUSES:
                continue
            plain = _INDEX.sub("", path)
            self.by_path.setdefault(plain, []).append(status)
            if path.endswith("]"):
                self.iterations.setdefault(plain, []).append(status)

    def of(self, path: str) -> str:
        return _summarize(self.by_path.get(path, ())) or "not_reached"

    def under(self, path: str) -> str:
        """The status of ``path`` and everything inside it (a subworkflow drawn as one node)."""
        found = [
            status
            for key, values in self.by_path.items()
            if key == path or key.startswith(path + ".")
            for status in values
        ]
        return _summarize(found) or "not_reached"

    def iteration_counts(self, path: str) -> str:
        values = self.iterations.get(path, [])
        if not values:
            return ""
        counts = [f"{values.count(s)} {s.replace('_', ' ')}" for s in STATUSES if s in values]
        return "iterations: " + ", ".join(counts)


class _Drawing:
    """The flowchart being written: node declarations (nested in subgraphs), then edges."""

    def __init__(
        self,
        statuses: _Statuses | None,
        load: Callable[[Workflow, SubworkflowStep], Workflow | str] | None,
        workflow: Workflow,
    ) -> None:
        self.current = workflow
        """The workflow whose steps are being drawn (a subworkflow's file is relative to it)."""
        self.lines: list[str] = []
        self.edges: list[str] = []
        self.classes: dict[str, str] = {}
        self.statuses = statuses
        self.load = load
        self.depth = 1

    # -- writing

    def declare(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def node(self, ident: str, shape: str, label: str, status: str | None = None) -> None:
        opening, closing = shape.split("|")
        self.declare(f"{ident}{opening}{label}{closing}")
        if status is not None:
            self.classes[ident] = status

    def edge(
        self, source: str, target: str, label: str | None = None, dashed: bool = False
    ) -> None:
        arrow = "-.->" if dashed else "-->"
        text = f'|"{escape_label(label)}"|' if label else ""
        self.edges.append(f"    {source} {arrow}{text} {target}")

    def connect(self, exits: list[_Exit], target: str, label: str | None = None) -> None:
        for exit_ in exits:
            self.edge(exit_.source, target, label or exit_.label, exit_.dashed)

    def open_group(self, ident: str, *title: str) -> None:
        self.declare(f"subgraph {ident}[{_label(*title)}]")
        self.depth += 1

    def close_group(self) -> None:
        self.depth -= 1
        self.declare("end")

    def status(self, path: str) -> str | None:
        return None if self.statuses is None else self.statuses.of(path)

    # -- walking

    def sequence(
        self, steps: list[Step], prefix: str, exits: list[_Exit], stack: tuple[str, ...]
    ) -> list[_Exit]:
        """Draw ``steps`` one after another, joined to ``exits``; the exits after them."""
        for step in steps:
            path = prefix + step.name
            ident = mermaid_node_id(path)  # every step's entry is its own node
            if _is_always(step.when):
                self.connect(exits, ident)
                exits = self.step(step, path, stack)
                continue
            if len(exits) != 1 or exits[0].label or exits[0].dashed:
                junction = ident + "_j"
                self.node(junction, "((|))", '" "')
                self.connect(exits, junction)
                exits = [_Exit(junction)]
            self.edge(exits[0].source, ident, f"if {condition_text(step.when)}")
            exits = [*self.step(step, path, stack), _Exit(exits[0].source, "else: skipped", True)]
        return exits

    def step(self, step: Step, path: str, stack: tuple[str, ...]) -> list[_Exit]:
        """Draw one step (entered at its own node); the exits after it."""
        ident = mermaid_node_id(path)
        notes = self.notes(step)
        if isinstance(step, LoopStep):
            return self.loop(step, path, notes, stack)
        if isinstance(step, BranchStep):
            return self.branch(step, path, notes, stack)
        if isinstance(step, SubworkflowStep):
            return self.subworkflow(step, path, notes, stack)
        if isinstance(step, CheckpointStep):
            checkpoint_id = (
                f"id: {condition_text(step.checkpoint_id)}"
                if step.checkpoint_id is not None
                else ""
            )
            label = _label(f"⚑ {step.name}", "checkpoint", checkpoint_id, *notes)
            self.node(ident, ">|]", label, self.status(path))
            return [_Exit(ident)]
        children = step.children()
        if children:
            return self.group(step, path, children, notes, stack)
        self.node(ident, "[|]", _label(step.name, step.type, *notes), self.status(path))
        return [_Exit(ident)]

    def notes(self, step: Step) -> list[str]:
        notes = []
        if step.checkpoint:
            notes.append("⚑ checkpoint after")
        if step.retry is not None:
            notes.append(f"retry: up to {step.retry.max_attempts} attempts")
        return notes

    def loop(
        self, step: LoopStep, path: str, notes: list[str], stack: tuple[str, ...]
    ) -> list[_Exit]:
        ident = mermaid_node_id(path)
        concurrency = condition_text(step.max_concurrency)
        self.open_group(
            ident + "_g",
            f"loop {step.name}: for each of {condition_text(step.for_each)}",
            f"max_concurrency: {concurrency}",
        )
        counts = self.statuses.iteration_counts(path) if self.statuses is not None else ""
        self.node(ident, "{{|}}", _label(step.name, "loop", counts, *notes), self.status(path))
        body = self.sequence(step.steps, path + ".", [_Exit(ident, "each item")], stack)
        self.close_group()
        if body and body != [_Exit(ident, "each item")]:
            self.connect(body, ident, "next item")
        return [_Exit(ident, "all items done")]

    def branch(
        self, step: BranchStep, path: str, notes: list[str], stack: tuple[str, ...]
    ) -> list[_Exit]:
        ident = mermaid_node_id(path)
        self.node(ident, "{|}", _label(step.name, "branch", *notes), self.status(path))
        exits: list[_Exit] = []
        for option in step.options:
            option_path = path + "." + option.step.name
            label = "otherwise" if _is_always(option.when) else f"if {condition_text(option.when)}"
            self.edge(ident, mermaid_node_id(option_path), label)
            exits.extend(self.step(option.step, option_path, stack))
        if not step.options or not _is_always(step.options[-1].when):
            exits.append(_Exit(ident, "no option: null", dashed=True))
        return exits

    def group(
        self, step: Step, path: str, children: list[Step], notes: list[str], stack: tuple[str, ...]
    ) -> list[_Exit]:
        """A step of another type that holds steps (``try``): its children in a group."""
        ident = mermaid_node_id(path)
        handling = step.failure_handling()
        self.open_group(ident + "_g", f"{step.type} {step.name}")
        self.node(ident, "[[|]]", _label(step.name, step.type, *notes), self.status(path))
        exits = self.sequence(children, path + ".", [_Exit(ident)], stack)
        self.close_group()
        if handling:
            handler = ident + "_caught"
            self.node(handler, "[/|/]", _label(handling))
            self.edge(ident, handler, "a step fails", dashed=True)
            exits = [*exits, _Exit(handler)]
        return exits

    def subworkflow(
        self, step: SubworkflowStep, path: str, notes: list[str], stack: tuple[str, ...]
    ) -> list[_Exit]:
        ident = mermaid_node_id(path)
        called: Workflow | None = None
        extra = ""
        if self.load is not None and len(stack) < MAX_SUBWORKFLOW_DEPTH:
            loaded = self.load(self.current, step)
            if isinstance(loaded, str):
                extra = f"not loaded: {loaded}"
            elif loaded.source and _file_key(loaded.source) in stack:
                extra = "↻ calls itself again"
            else:
                called = loaded
        title = f"subworkflow → {step.workflow}"
        if called is None:
            status = None if self.statuses is None else self.statuses.under(path)
            self.node(ident, "[[|]]", _label(step.name, title, extra, *notes), status)
            return [_Exit(ident)]
        self.open_group(ident + "_g", f"{step.name} → {called.name}")
        self.node(ident, "[[|]]", _label(step.name, title, *notes), self.status(path))
        caller = self.current
        self.current = called
        inside = (*stack, _file_key(called.source))
        exits = self.sequence(called.steps, path + ".", [_Exit(ident)], inside)
        self.current = caller
        self.close_group()
        return exits


def workflow_mermaid(
    workflow: Workflow,
    statuses: Mapping[str, str] | None = None,
    *,
    config: Config | None = None,
) -> str:
    """The workflow as a Mermaid ``flowchart TD`` text.

    :param workflow: a loaded workflow.
    :param statuses: step path (as a run's step records name it: ``each[2].work``) ->
        ``done``, ``restored``, ``failed``, ``interrupted``, ``running``, ``skipped`` or
        ``not_reached`` (``completed`` is read as ``done``): ``describe_run``'s step
        ``state`` values as they are. Given, every node gets a ``class`` line
        for its status (a step with no entry is ``not_reached``; a loop and a step inside
        a loop summarize their iterations) and a legend is added.
    :param config: with it, subworkflows are loaded and drawn with their steps;
        without it, or when one cannot be loaded, a subworkflow is one node.
    """
    load = None
    if config is not None:
        load = _subworkflow_loader(config)
    drawing = _Drawing(None if statuses is None else _Statuses(statuses), load, workflow)
    drawing.node("wf_start", "([|])", _label(workflow.name, "start"))
    top = (_file_key(workflow.source),) if workflow.source else ()
    exits = drawing.sequence(workflow.steps, "", [_Exit("wf_start")], top)
    drawing.node("wf_end", "([|])", _label("end"))
    drawing.connect(exits, "wf_end")
    lines = ["flowchart TD", *drawing.lines, *drawing.edges]
    if statuses is not None:
        lines.extend(_legend(drawing))
    return "\n".join(lines) + "\n"


def _legend(drawing: _Drawing) -> list[str]:
    lines = [f'    subgraph legend["{escape_label("legend")}"]']
    for status in STATUSES:
        lines.append(f'        legend_{status}["{escape_label(_LEGEND[status])}"]')
        drawing.classes[f"legend_{status}"] = status
    lines.append("    end")
    for status in STATUSES:
        fill, stroke, color, extra = _STYLES[status]
        lines.append(
            f"    classDef {CLASS_PREFIX}{status} fill:{fill},stroke:{stroke},color:{color},{extra}"
        )
    for status in STATUSES:
        members = [ident for ident, value in drawing.classes.items() if value == status]
        if members:
            lines.append(f"    class {','.join(members)} {CLASS_PREFIX}{status}")
    return lines


def _subworkflow_loader(config: Config) -> Callable[[Workflow, SubworkflowStep], Workflow | str]:
    """Load a called workflow; why not, as a short text, when it cannot be."""
    from maverick_core.engine.discovery import load_called_workflow
    from maverick_core.engine.errors import DefinitionErrors, MaverickError

    def load(caller: Workflow, step: SubworkflowStep) -> Workflow | str:
        try:
            return load_called_workflow(config, caller.source, step.workflow)
        except DefinitionErrors as exc:
            return exc.errors[0].message if exc.errors else exc.message
        except MaverickError as exc:
            return exc.message

    return load
