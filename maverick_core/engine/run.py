"""A run and its state: what the executor records and the checkpoint plugin persists.

The state is a flat mapping of step *paths* to :class:`StepRecord`. Paths name a
step's place in the run: ``build`` at the top level, ``each[2].work`` inside
iteration 2 of loop ``each``, ``each[2]`` for the iteration itself, ``sub.inner``
inside subworkflow step ``sub``, ``pick.fast`` for branch ``pick``'s chosen step.
Every change is also appended to a change log that a checkpoint commit drains, so
a commit costs what changed, not the run's history.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any

import attrs

from maverick_core.engine.plainclass import FrozenClass, PlainClass, attrs_repr
from maverick_core.engine.secrets import SecretMasker
from maverick_core.engine.stash import Stash

# re-exported: the run module is where code that runs workflows finds them
from maverick_core.engine.status import RESUMABLE as RESUMABLE
from maverick_core.engine.status import Status as Status

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from maverick_core.engine.config import Config
    from maverick_core.engine.dsl.model import Workflow


_STATUS_BY_VALUE: dict[str, Status] = {member.value: member for member in Status}


def _as_status(value: Any) -> Status:
    """``Status(value)``, without the enum lookup when ``value`` is a member already."""
    return value if type(value) is Status else Status(value)


def _checked_status(value: Any) -> Status:
    """A record's status that is not exactly a status string: a member, or ValueError."""
    if isinstance(value, str) and value in _STATUS_BY_VALUE:
        return Status(value)
    raise ValueError(f"step record field 'status' is {value!r}, not a step status")


def _checked_number(key: str, number: Any) -> float:
    """A record's ``started_at`` or ``duration`` that is not a float: an int, or ValueError."""
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise ValueError(f"step record field {key!r} is {number!r}, not a number")
    return float(number)


@attrs.frozen
class StepRecord:
    """What happened to one step (or loop iteration, or loop header).

    :ivar status: running (loop headers), completed, skipped or failed.
    :ivar output: the step's output as plain data.
    :ivar error: the failure message, if it failed.
    :ivar duration: seconds spent.
    :ivar items: for a loop header, the items it iterates (fixed at its first run).
    :ivar attempts: for a step that was retried, one ``{attempt, error, duration}``
        per attempt (``error`` None for the one that succeeded).
    """

    __repr__ = attrs_repr  # attrs then builds none (engine/plainclass.py)

    status: Status = attrs.field(converter=_as_status)
    output: Any = None
    error: str | None = None
    started_at: float = 0.0
    duration: float = 0.0
    items: list[Any] | None = None
    attempts: list[dict[str, Any]] | None = None

    def to_plain(self) -> dict[str, Any]:
        """The record as plain data for a serializer."""
        plain: dict[str, Any] = {"status": self.status.value, "output": self.output}
        if self.error is not None:
            plain["error"] = self.error
        if self.started_at:
            plain["started_at"] = self.started_at
        if self.duration:
            plain["duration"] = self.duration
        if self.items is not None:
            plain["items"] = self.items
        if self.attempts:
            plain["attempts"] = self.attempts
        return plain

    @classmethod
    def from_plain(cls, plain: Any) -> StepRecord:
        """Inverse of :meth:`to_plain`.

        A resume decodes every record of the state (tens of thousands in a long
        loop), so the common shape (exact types) is checked with one ``type()``
        test per field; anything else takes the careful path.

        :raises ValueError: naming the field, when ``plain`` is not what
            :meth:`to_plain` makes (a record with a valid checksum can still have
            been written by a buggy plugin or a hand edit).
        """
        if type(plain) is not dict and not isinstance(plain, dict):
            raise ValueError(f"a step record is a mapping, got {type(plain).__name__}")
        get = plain.get
        raw_status = get("status")
        status = _STATUS_BY_VALUE.get(raw_status) if type(raw_status) is str else None
        if status is None:
            status = _checked_status(raw_status)
        error = get("error")
        if error is not None and not isinstance(error, str):
            raise ValueError(f"step record field 'error' is {type(error).__name__}, not a string")
        started_at = get("started_at", 0.0)
        if type(started_at) is not float:
            started_at = _checked_number("started_at", started_at)
        duration = get("duration", 0.0)
        if type(duration) is not float:
            duration = _checked_number("duration", duration)
        items = get("items")
        if items is not None and not isinstance(items, list):
            raise ValueError(f"step record field 'items' is {type(items).__name__}, not a list")
        attempts = get("attempts")
        if attempts is not None and not (
            isinstance(attempts, list) and all(isinstance(a, dict) for a in attempts)
        ):
            raise ValueError("step record field 'attempts' is not a list of mappings")
        return cls(status, get("output"), error, started_at, duration, items, attempts)

    @property
    def done(self) -> bool:
        """True for records a resume restores instead of running again."""
        # Status.done, without a second property call: asked of every restored record
        return self.status is Status.COMPLETED or self.status is Status.SKIPPED


_DONE_VALUES = frozenset({Status.COMPLETED.value, Status.SKIPPED.value})
_SIMPLE_KEYS = frozenset({"status", "output", "started_at", "duration"})


def check_plain_records(plains: dict[str, Any]) -> None:
    """Check that :meth:`StepRecord.from_plain` accepts every record of ``plains``.

    A checkpoint's records are checked when it is read, so a refused one makes the
    whole record damaged there (never a failure half-way through the resumed run),
    yet they are turned into :class:`StepRecord` objects only when something reads
    them (see :class:`RunState`). The common shape (a status string, an output,
    float times) costs a few dict operations; any other record is checked by
    ``from_plain`` itself.

    :raises ValueError: naming the step of the first refused record.
    """
    statuses, simple, number = _STATUS_BY_VALUE, _SIMPLE_KEYS, float
    for path, plain in plains.items():
        if (
            type(plain) is dict
            and plain.keys() <= simple
            and type(status := plain.get("status")) is str
            and status in statuses
            and type(plain.get("started_at", 0.0)) is number
            and type(plain.get("duration", 0.0)) is number
        ):
            continue
        try:
            StepRecord.from_plain(plain)
        except ValueError as exc:
            raise ValueError(f"record of step {path!r}: {exc}") from None


Restored = dict[str, Any] | tuple[str, Any, float, float]
"""A step record as read from a checkpoint, before anything asks for it: its plain
mapping (as :meth:`StepRecord.to_plain` writes it, checked with
:func:`check_plain_records`), or the row ``(status, output, started_at, duration)``
of a record that has no other field (a snapshot's columns, checked as they are read)."""


def restored_record(value: Restored) -> StepRecord:
    """The :class:`StepRecord` of a restored record."""
    if isinstance(value, tuple):
        status, output, started_at, duration = value
        return StepRecord(_STATUS_BY_VALUE[status], output, None, started_at, duration)
    return StepRecord.from_plain(value)


class _NotDone:
    """The type of :data:`NOT_DONE`."""

    def __repr__(self) -> str:
        return "NOT_DONE"


NOT_DONE: Any = _NotDone()
"""What :meth:`RunState.done_outputs` gives for a path without a completed record
(an output can be None, so None cannot say it)."""


class RunState:
    """Step records of a run, safe to update from loop worker threads.

    ``restored`` holds a resumed run's records as read from its checkpoint (see
    :data:`Restored`); each becomes a :class:`StepRecord` when first read, so a
    resume of a long run does not build tens of thousands of objects for records
    nothing asks about (a restored loop asks only for outputs, see
    :meth:`done_output`). A record set later wins over a restored one. The
    ``restored`` mapping is kept, not copied (the state never changes it).
    """

    def __init__(
        self,
        records: dict[str, StepRecord] | None = None,
        restored: dict[str, Restored] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, StepRecord] = dict(records or {})
        # taken as it is: the state never changes it, and a resume hands over tens of
        # thousands of records (a copy would be a young object every collection walks)
        self._restored: dict[str, Restored] = {} if restored is None else restored
        self._changes: dict[str, StepRecord] = {}

    def get(self, path: str) -> StepRecord | None:
        """The record at ``path``, if any."""
        record = self._records.get(path)
        if record is None and self._restored:
            plain = self._restored.get(path)
            if plain is not None:
                # setdefault: a record set meanwhile by another thread wins
                record = self._records.setdefault(path, restored_record(plain))
        return record

    def done_output(self, path: str) -> tuple[bool, Any]:
        """``(True, output)`` when the record at ``path`` is completed or skipped,
        else ``(False, None)``; a restored record is not turned into an object."""
        record = self._records.get(path)
        if record is not None:
            return (True, record.output) if record.done else (False, None)
        plain = self._restored.get(path) if self._restored else None
        if plain is None:
            return False, None
        if isinstance(plain, tuple):
            return (True, plain[1]) if plain[0] in _DONE_VALUES else (False, None)
        if plain["status"] in _DONE_VALUES:
            return True, plain.get("output")
        return False, None

    def done_outputs(self, paths: list[str]) -> tuple[list[Any], int]:
        """:meth:`done_output` of each of ``paths`` at once: the output of each
        completed or skipped record, :data:`NOT_DONE` for the others; and how many
        are done.

        A resumed loop asks this for its ten thousand iterations: one pass over
        them, restored records not turned into objects, instead of a call each.
        """
        records, restored = self._records, self._restored
        rows: list[Any] = list(map(restored.get, paths)) if restored else [None] * len(paths)
        if records and not records.keys().isdisjoint(paths):
            for index, path in enumerate(paths):
                record = records.get(path)
                if record is not None:
                    rows[index] = (record.status.value, record.output)
        done, not_done = _DONE_VALUES, NOT_DONE
        outputs: list[Any] = []
        add = outputs.append
        missing = 0
        for row in rows:
            if type(row) is tuple:
                if row[0] in done:
                    add(row[1])
                    continue
            elif row is not None and row["status"] in done:  # a mapping (see Restored)
                add(row.get("output"))
                continue
            add(not_done)
            missing += 1
        return outputs, len(outputs) - missing

    def set(self, path: str, record: StepRecord) -> None:
        """Record ``path`` and remember the change for the next commit."""
        with self._lock:
            self._records[path] = record
            self._changes[path] = record

    def _everything(self) -> dict[str, StepRecord]:
        """Every record, restored ones made objects once (the caller holds the lock)."""
        if self._restored:
            records = self._records
            merged = {
                path: records.get(path) or restored_record(plain)
                for path, plain in self._restored.items()
            }
            merged.update(records)
            self._records, self._restored = merged, {}
        return self._records

    def take_changes(
        self, full: bool = False
    ) -> tuple[dict[str, StepRecord], dict[str, StepRecord]]:
        """Drain what changed since the previous call (a checkpoint commit's delta).

        With ``full``, also return a copy of every record taken at the same instant
        (for a snapshot); otherwise the second item is empty.
        """
        with self._lock:
            changes, self._changes = self._changes, {}
            return changes, (dict(self._everything()) if full else {})

    def snapshot(self) -> dict[str, StepRecord]:
        """A copy of every record."""
        with self._lock:
            return dict(self._everything())

    def __len__(self) -> int:
        with self._lock:
            records, restored = self._records, self._restored
            return len(restored) + sum(1 for path in records if path not in restored)

    def __contains__(self, path: object) -> bool:
        return path in self._records or path in self._restored

    def done_paths(self) -> list[str]:
        """Paths of completed or skipped records, in insertion order."""
        with self._lock:
            records, restored = self._records, self._restored
            paths = []
            for path, plain in restored.items():
                record = records.get(path)
                if record is not None:
                    done = record.done
                else:
                    done = (
                        plain[0] if isinstance(plain, tuple) else plain["status"]
                    ) in _DONE_VALUES
                if done:
                    paths.append(path)
            paths += [p for p, r in records.items() if r.done and p not in restored]
            return paths


class RunRequest(FrozenClass):
    """What the user asked for when starting or resuming a run.

    :ivar resume: continue an unfinished run (``--resume``).
    :ivar run_id: the run to resume, or None for the latest unfinished one.
    :ivar from_checkpoint: resume from this earlier checkpoint instead of the latest.
    :ivar given_inputs: names of inputs the user gave explicitly (``-i``, options).
    :ivar force: resume despite changed inputs or steps.
    :ivar explain: print the resume plan, run nothing.
    """

    # a frozen class written out, not an attrs class: every run builds these classes
    # (plainclass.py); nothing evolves them or asks attrs for their fields
    __slots__ = _FIELDS = (
        "workflow",
        "inputs",
        "given_inputs",
        "resume",
        "run_id",
        "from_checkpoint",
        "force",
        "explain",
    )
    workflow: Workflow
    inputs: dict[str, Any]
    given_inputs: frozenset[str]
    resume: bool
    run_id: str | None
    from_checkpoint: str | None
    force: bool
    explain: bool

    def __init__(
        self,
        workflow: Workflow,
        inputs: dict[str, Any],
        given_inputs: frozenset[str] = frozenset(),
        resume: bool = False,
        run_id: str | None = None,
        from_checkpoint: str | None = None,
        force: bool = False,
        explain: bool = False,
    ) -> None:
        self._set("workflow", workflow)
        self._set("inputs", inputs)
        self._set("given_inputs", given_inputs)
        self._set("resume", resume)
        self._set("run_id", run_id)
        self._set("from_checkpoint", from_checkpoint)
        self._set("force", force)
        self._set("explain", explain)


class CheckpointInfo(FrozenClass):
    """A committed checkpoint as reported to hooks."""

    __slots__ = _FIELDS = ("checkpoint_id", "seq", "size", "duration", "created_at")
    checkpoint_id: str
    seq: int
    size: int
    duration: float
    created_at: float

    def __init__(
        self, checkpoint_id: str, seq: int, size: int, duration: float, created_at: float
    ) -> None:
        self._set("checkpoint_id", checkpoint_id)
        self._set("seq", seq)
        self._set("size", size)
        self._set("duration", duration)
        self._set("created_at", created_at)


class RunOutcome(FrozenClass):
    """How a run ended.

    ``usage_error`` is true when it failed on a value the user gave (exit 2).
    """

    __slots__ = _FIELDS = ("status", "outputs", "error", "duration", "usage_error")
    status: Status
    outputs: dict[str, Any]
    error: str | None
    duration: float
    usage_error: bool

    def __init__(
        self,
        status: Status,
        outputs: dict[str, Any] | None = None,
        error: str | None = None,
        duration: float = 0.0,
        usage_error: bool = False,
    ) -> None:
        self._set("status", status)
        self._set("outputs", {} if outputs is None else outputs)
        self._set("error", error)
        self._set("duration", duration)
        self._set("usage_error", usage_error)


class Run(PlainClass):
    """A run being executed: its identity, workflow, inputs and state.

    ``resumed_from`` names the checkpoint it resumed from (None for a fresh run).
    ``stash`` holds plugins' own state under their :class:`StashKey` objects;
    ``plan`` holds the text ``--resume --explain`` prints. ``secrets`` masks the
    values of its secret inputs (and of its subworkflows') in whatever is shown or stored.
    ``progress`` holds the in-flight progress of unfinished steps (step path -> plugin
    name -> plain data, see
    :meth:`~maverick_core.engine.context.StepContext.save_progress`), restored when the
    run resumes.
    """

    # a plain class, not an attrs class: every run builds this class (plainclass.py)
    __slots__ = _FIELDS = (
        "run_id",
        "workflow",
        "inputs",
        "config",
        "state",
        "resumed_from",
        "checkpoint_data",
        "stash",
        "plan",
        "progress",
        "started_at",
        "lock",
        "secrets",
    )

    def __init__(
        self,
        run_id: str,
        workflow: Workflow,
        inputs: dict[str, Any],
        config: Config,
        state: RunState | None = None,
        resumed_from: str | None = None,
        checkpoint_data: dict[str, Any] | None = None,
        stash: Stash | None = None,
        plan: str | None = None,
        progress: dict[str, dict[str, Any]] | None = None,
        started_at: float | None = None,
        lock: threading.Lock | None = None,
        secrets: SecretMasker | None = None,
    ) -> None:
        self.run_id = run_id
        self.workflow = workflow
        self.inputs = inputs
        self.config = config
        self.state = RunState() if state is None else state
        self.resumed_from = resumed_from
        self.checkpoint_data: dict[str, Any] = {} if checkpoint_data is None else checkpoint_data
        self.stash = Stash() if stash is None else stash
        self.plan = plan
        self.progress: dict[str, dict[str, Any]] = {} if progress is None else progress
        self.started_at = time.time() if started_at is None else started_at
        self.lock = threading.Lock() if lock is None else lock
        self.secrets = SecretMasker.for_inputs(workflow, inputs) if secrets is None else secrets

    @property
    def resumed(self) -> bool:
        """True when this run continues from a checkpoint."""
        return self.resumed_from is not None


def new_run_id(workflow_name: str, now: float | None = None) -> str:
    """A unique, sortable, readable id: ``fly-20261126-140512-3f9a``.

    It starts with a letter or digit (``run-`` when the name gives none), never with
    ``-``: the printed ``--resume RUN_ID`` must not read as an option.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now if now is not None else time.time()))
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in workflow_name)
    safe = safe.lstrip("-_")[:40] or "run"
    # os.urandom is what secrets.token_hex reads, without importing hashlib at start-up
    return f"{safe}-{stamp}-{os.urandom(2).hex()}"


def finished_iteration(
    restored: Callable[[str], StepRecord | None], path: str, children: Iterable[str]
) -> StepRecord | None:
    """The record of loop iteration ``path`` (``each[2]``) if a resume restores it whole.

    ``restored(path)`` gives a completed or skipped record, else None. A checkpoint
    that ends an iteration commits before the iteration's own record exists, so an
    iteration is also finished when every one of its ``children`` (step names) is;
    its record is then rebuilt from theirs. The loop step and ``--resume --explain``
    both decide with this function, so the plan says what the resume does.
    """
    record = restored(path)
    if record is not None:
        return record
    outputs = {}
    for name in children:
        child = restored(f"{path}.{name}")
        if child is None:
            return None
        outputs[name] = child.output
    return StepRecord(Status.COMPLETED, outputs)


def paths_under(paths: Iterable[str], prefix: str) -> list[str]:
    """The paths inside ``prefix`` (``each`` → ``each[0]``, ``each[0].x``; ``sub`` → ``sub.a``)."""
    return [p for p in paths if p.startswith((prefix + ".", prefix + "["))]
