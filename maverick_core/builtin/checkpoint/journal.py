"""Persistence and resume: what the built-in ``checkpoint`` plugin does in its hooks.

It opens runs (fresh or resumed) in ``open_run``, commits state in
``commit_checkpoint`` and keeps the run record's status in ``workflow_finish``
(see :mod:`maverick_core.builtin.checkpoint` for the hooks themselves). Storage and
serialization go through the :class:`~maverick_core.engine.storage.Store` and
:class:`~maverick_core.engine.storage.Serializer` that plugins register.

A run's journal holds one record per commit: a *delta* (the step records that
changed since the previous commit) or a *full* state (after a rewind). Every so
often the full state is also written as a snapshot, once the journal since the
last snapshot has grown to an eighth of the snapshot's size (see
:data:`JOURNAL_READ_WEIGHT`); so a commit costs what changed, and a resume reads the
state plus at most that much journal, never the whole history.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import re
import threading
import time
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

import attrs

from maverick_core.builtin.checkpoint.history import (
    ATTEMPTS,
    FINAL_ID,
    FINAL_KIND,
    RESUME_COMMAND,
    SUMMARY,
    attempts_of,
    close_killed_attempts,
    final_payload,
    finish_attempt,
    new_attempt,
    step_counts,
    summarize,
)
from maverick_core.builtin.checkpoint.live import LIVE, LiveSteps
from maverick_core.engine.collector import collector_paused
from maverick_core.engine.config import Config, state_dir
from maverick_core.engine.describe import configured_store
from maverick_core.engine.errors import MaverickError, ResumeRefused, StoreError
from maverick_core.engine.plainclass import PlainClass
from maverick_core.engine.pluginmanager import get_serializer
from maverick_core.engine.run import (
    RESUMABLE,
    CheckpointInfo,
    Restored,
    Run,
    RunOutcome,
    RunRequest,
    RunState,
    Status,
    StepRecord,
    check_plain_records,
    finished_iteration,
    new_run_id,
    paths_under,
    restored_record,
)
from maverick_core.engine.secrets import SecretMasker
from maverick_core.engine.stash import StashKey
from maverick_core.engine.storage import (
    RUN_STATUSES,
    CheckpointRecord,
    DamagedRecord,
    LockHolder,
    RunRecord,
    Serializer,
    Store,
    make_record,
)

# keys of the run record's meta holding agent calls and in-flight agent sessions
AGENT_CALLS = "agent_calls"
AGENT_SESSIONS = "agent_sessions"
MAX_COST = "max_cost_usd"
DEFAULT_SERIALIZER = "json"
MIN_SNAPSHOT_BYTES = 64 * 1024
"""A snapshot is never due before the journal since the last one holds this many bytes."""
JOURNAL_READ_WEIGHT = 8
"""How many bytes of snapshot are worth one byte of journal to read back.

A journal record is framed, checksummed, decoded and applied on its own (about 10 µs
for a 330-byte delta), a snapshot in a few large passes: on a 20,000-record state a
journal byte costs a resume about five snapshot bytes (45 ns against 8.5). With the
journal since the last snapshot kept to an eighth of the snapshot's size, a resume
reads it in well under the snapshot's own read time (10,000 checkpoints: 1,269 records
after the snapshot at a weight of 4, 53 at 8; 56.6 -> 44.3 ms to the first re-run
step). Writing twice as many snapshots costs little since a snapshot encodes only the
records new since the last one (``snapshots.py``): about 6 µs per commit on average
over a 10,000-iteration run, the median commit unchanged."""
# a plain record's status when a resume restores it
DONE_VALUES = frozenset({Status.COMPLETED.value, Status.SKIPPED.value})


if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from maverick_core.builtin.checkpoint.snapshots import ColumnEncoder

P = ParamSpec("P")
R = TypeVar("R")

SESSION: StashKey[Session] = StashKey("checkpoint.session")
"""Where the plugin keeps a run's :class:`Session` (``run.stash[SESSION]``)."""


# ----------------------------------------------------------------------------- loading state


class LoadedState(PlainClass):
    """A run's state as read back from its store.

    ``plains`` holds the step records as read (see
    :data:`~maverick_core.engine.run.Restored`), each checked to be one that
    :meth:`StepRecord.from_plain` accepts; the resumed run makes objects of those
    it reads, ``records`` of them all. ``final`` is the latest final record (how an
    attempt ended), when newer than the last checkpoint.
    """

    # a plain class, not an attrs class: every run builds it (engine/plainclass.py)
    __slots__ = _FIELDS = (
        "plains",
        "data",
        "checkpoint_id",
        "seq",
        "max_seq",
        "created_at",
        "damage",
        "torn",
        "history",
        "final",
    )

    def __init__(self) -> None:
        self.plains: dict[str, Restored] = {}
        self.data: dict[str, Any] = {}
        self.checkpoint_id: str | None = None
        self.seq = 0
        self.max_seq = 0
        self.created_at = 0.0
        self.damage: str | None = None
        self.torn = False
        self.history: list[tuple[int, str, float]] = []
        self.final: CheckpointRecord | None = None

    def copy(self) -> LoadedState:
        """A copy whose records, data and history can change without changing these."""
        copied = LoadedState()
        for name, value in zip(self._FIELDS, self._values(), strict=True):
            setattr(copied, name, value)
        copied.plains, copied.data = dict(self.plains), dict(self.data)
        copied.history = list(self.history)
        return copied

    @property
    def records(self) -> dict[str, StepRecord]:
        """Every step record as an object (built on each call: keep the result)."""
        return {path: restored_record(plain) for path, plain in self.plains.items()}


def store_for(config: Config) -> Store:
    """Open the store the configuration names (--store, MAVERICK_STORE, maverick.yaml)."""
    return configured_store(config)


def serializer_for(config: Config) -> Serializer:
    """The serializer the configuration names (--serializer, MAVERICK_SERIALIZER, maverick.yaml)."""
    name = config.setting("serializer", env="MAVERICK_SERIALIZER", default=DEFAULT_SERIALIZER)
    return get_serializer(config.pm, str(name))


def decode_record(
    config: Config, record: CheckpointRecord
) -> tuple[dict[str, Any], dict[str, StepRecord]]:
    """The record's payload and its step records, checked to be a checkpoint
    (ValueError otherwise): a valid checksum proves the bytes are as written, not
    that their writer was right."""
    payload, plains = decode_plain(config, record)
    return payload, {path: restored_record(plain) for path, plain in plains.items()}


def decode_plain(
    config: Config, record: CheckpointRecord, serializers: dict[str, Serializer] | None = None
) -> tuple[dict[str, Any], dict[str, Restored]]:
    """:func:`decode_record` without making objects of the step records: each is
    checked (:func:`check_plain_records`, :func:`rows_from_columns`) and returned
    as read (see :data:`~maverick_core.engine.run.Restored`).

    A snapshot holds its records as columns (:func:`snapshot_columns`); any other
    record, and a snapshot written before columns, a mapping per record.
    ``serializers`` keeps the serializers found by name across calls (a resume
    decodes hundreds of journal records)."""
    serializer = serializers.get(record.serializer) if serializers is not None else None
    if serializer is None:
        serializer = get_serializer(config.pm, record.serializer)
        if serializers is not None:
            serializers[record.serializer] = serializer
    try:
        payload = serializer.loads(record.payload)
    except RecursionError:
        raise ValueError("payload is nested too deeply") from None
    if not isinstance(payload, dict):
        raise ValueError("payload is not a checkpoint")
    if "data" in payload and not isinstance(payload["data"], dict):
        raise ValueError("payload field 'data' is not a mapping")
    plains = payload.get("records")
    if isinstance(plains, dict):
        check_plain_records(plains)
        return payload, plains
    columns = payload.get("columns")
    if isinstance(columns, dict):
        return payload, rows_from_columns(columns)
    raise ValueError("payload is not a checkpoint")


# the columns of a snapshot: every record has these (to_plain leaves out zero times)
COLUMNS = ("path", "status", "output", "started_at", "duration")
# the other fields, kept per row that has any (``"other": {"row index": {...}}``)
OTHER_FIELDS = ("error", "items", "attempts")


def snapshot_columns(records: dict[str, StepRecord]) -> dict[str, Any]:
    """A snapshot's step records as columns: one list per field of every record, and
    the few fields most records lack (an error, a loop's items, attempts) by row.

    Decoding a list per field is about twice as fast as a mapping per record, and
    checking a column takes one pass in C (:func:`rows_from_columns`): what a
    resume of a long run spends most of its time on. The two columns of times are
    the floats' bytes (IEEE 754 doubles, little-endian) in base64 (see
    :func:`pack_floats`): JSON parses a number an order of magnitude slower than it
    decodes base64.
    """
    values = list(records.values())
    other: dict[str, dict[str, Any]] = {}
    for row, record in enumerate(values):
        fields = other_fields(record)
        if fields is not None:
            other[str(row)] = fields
    return {
        "path": list(records),
        "status": [record.status.value for record in values],
        "output": [record.output for record in values],
        "started_at": pack_floats([record.started_at for record in values]),
        "duration": pack_floats([record.duration for record in values]),
        "other": other,
    }


def other_fields(record: StepRecord) -> dict[str, Any] | None:
    """A record's fields outside a snapshot's columns (error, items, attempts), or None
    when it has none, as most records do."""
    if record.error is None and record.items is None and not record.attempts:
        return None
    plain = record.to_plain()
    return {key: plain[key] for key in OTHER_FIELDS if key in plain}


PACKED_COLUMNS = ("started_at", "duration")
"""The columns :func:`snapshot_columns` packs as base64: times, never user data."""


def snapshot_payload(
    records: dict[str, StepRecord], data: dict[str, Any], masker: SecretMasker
) -> dict[str, Any]:
    """A snapshot's payload, secrets masked everywhere but in the packed times.

    Masking is text replacement; in base64 a short secret (four characters will do)
    turns up by chance, and replacing it would break the times' column, so those two
    columns (machine-made times) are put back as they were packed.
    """
    columns = snapshot_columns(records)
    masked: dict[str, Any] = masker.mask({"columns": columns, "data": data})
    for name in PACKED_COLUMNS:
        masked["columns"][name] = columns[name]
    return masked


def pack_floats(values: Iterable[float]) -> str:
    """``values`` as the base64 of their IEEE 754 doubles, little-endian: exact, and
    read back (:func:`unpack_floats`) without parsing a number."""
    import array  # here: only a snapshot needs it
    import binascii
    import sys

    data = array.array("d", values)
    if sys.byteorder == "big":
        data.byteswap()
    return binascii.b2a_base64(data.tobytes(), newline=False).decode("ascii")


def unpack_floats(text: str) -> list[float]:
    """The floats :func:`pack_floats` wrote (ValueError for text it did not write)."""
    import array
    import binascii
    import sys

    try:
        raw = binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"snapshot column of times is not base64: {exc}") from None
    if len(raw) % 8:
        raise ValueError("snapshot column of times is not a whole number of doubles")
    data = array.array("d")
    data.frombytes(raw)
    if sys.byteorder == "big":
        data.byteswap()
    return data.tolist()


_ROW_STATUSES = frozenset(member.value for member in Status)


def rows_from_columns(columns: dict[str, Any]) -> dict[str, Restored]:
    """The records of :func:`snapshot_columns`, checked (ValueError naming the step of
    a refused one, as :func:`check_plain_records`): a row per record that has only
    the columns, its plain mapping for a record with other fields."""
    lists: list[Any] = [columns.get(name) for name in COLUMNS]
    packed = 0
    for index in (COLUMNS.index("started_at"), COLUMNS.index("duration")):
        if type(lists[index]) is str:  # packed (a list of numbers is read as well)
            lists[index] = unpack_floats(lists[index])
            packed += 1
    other = columns.get("other", {})
    if not all(type(column) is list for column in lists) or type(other) is not dict:
        raise ValueError("snapshot columns are not lists")
    if len({len(column) for column in lists}) != 1:
        raise ValueError("snapshot columns differ in length")
    paths, statuses, outputs, started, durations = lists

    def plain(row: int) -> dict[str, Any]:
        fields = (statuses[row], outputs[row], started[row], durations[row])
        found = dict(zip(COLUMNS[1:], fields, strict=True))
        extra = other.get(str(row))
        if extra is not None:
            if type(extra) is not dict or not extra.keys() <= set(OTHER_FIELDS):
                raise ValueError(f"record of step {paths[row]!r}: its other fields are refused")
            found.update(extra)
        return found

    # each column checked in one pass in C (unpacked times are floats by
    # construction; paths are unique when the mapping has one row per path); a
    # column that fails is checked the long way, record by record, to name the step
    str_, float_ = str, float
    rows: dict[str, Restored] = {}
    if (
        set(map(type, paths)) <= {str_}
        and set(map(type, statuses)) <= {str_}
        and set(statuses) <= _ROW_STATUSES
        and (
            packed == 2
            or (set(map(type, started)) <= {float_} and set(map(type, durations)) <= {float_})
        )
    ):
        rows = dict(
            zip(paths, zip(statuses, outputs, started, durations, strict=True), strict=True)
        )
    if len(rows) != len(paths):
        plains: dict[Any, Any] = {}
        for row, path in enumerate(paths):
            if type(path) is not str or path in plains:
                raise ValueError(f"snapshot path {path!r} is not a unique string")
            plains[path] = plain(row)
        check_plain_records(plains)
        return plains
    if other:
        count = len(paths)
        fuller = {}
        for key in other:
            if type(key) is not str or not key.isdecimal() or int(key) >= count:
                raise ValueError(f"snapshot row {key!r} of other fields is not a row")
            fuller[paths[int(key)]] = plain(int(key))
        check_plain_records(fuller)
        rows.update(fuller)
    return rows


def _without_cycle_collection(read: Callable[P, R]) -> Callable[P, R]:
    """Run ``read`` with Python's cyclic garbage collector paused (as it was, after).

    Reading a long run's state creates a hundred thousand objects or more (decoded
    JSON, step records) and no reference cycles; with the collector running, their
    allocation alone triggers dozens of collections and a full one that walks
    every object of the process. Measured on a resume of 10,000 checkpoints: 136
    young, 12 middle and 1 full collection during the resume, against 71, 6 and 0
    with the collector paused while the state is read (the 10-checkpoint resume
    makes 58, 5 and 0). Reference counting still frees everything as usual.

    Paused, the collector still counts those objects as young: see
    :func:`_settle_restored_state`.
    """

    @functools.wraps(read)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        with collector_paused():
            return read(*args, **kwargs)

    return paused


SETTLE_FROM = 10_000
"""Young objects a resume's read must leave for :func:`_settle_restored_state` to act."""


def _settle_restored_state() -> None:
    """Keep the state a resume just read out of the collector's young collections.

    :func:`load_state` reads with the collector paused, but what it made is still
    young to it: the first young collection after a long run's read walked all of it
    (20,000 objects and more, 3.3 ms of the 10,000-checkpoint resume), the first
    middle one again. The state lives as long as the run: where the process froze
    what start-up built (maverick's entry point does; the process ends with the run)
    it is frozen with them; where nothing is frozen (maverick used as a library) it
    goes to the oldest generation at once (``gc.freeze()`` then ``gc.unfreeze()``:
    two list splices, nothing left frozen). Only after a large read (counting frozen
    objects walks them all, about 0.3 ms), and only for a resume: a reader in a
    long-lived process (the viewer's server) freezes nothing.

    Called with the collector paused (after a young collection it would be too late,
    and any allocation with the collector running may set one off).
    """
    if gc.get_count()[0] < SETTLE_FROM:
        return
    frozen = gc.get_freeze_count()
    gc.freeze()
    if not frozen:
        gc.unfreeze()


@_without_cycle_collection
def load_state(config: Config, store: Store, run_id: str, until: str | None = None) -> LoadedState:
    """Read a run's state: the snapshot, then the journal after it.

    With ``until`` (``--from-checkpoint``), read the whole journal and stop at the
    latest record with that checkpoint id. Damaged records are skipped; the state
    is then the last intact one before the damage, and ``damage`` says what
    happened. A later ``full`` record (a rewind) makes the journal usable again.
    """
    loaded = LoadedState()
    after = 0
    final: CheckpointRecord | None = None
    serializers: dict[str, Serializer] = {}
    if until is None:
        snapshot = store.read_snapshot(run_id)
        if isinstance(snapshot, CheckpointRecord) and snapshot.intact:
            try:
                decoded = decode_plain(config, snapshot)
            except (ValueError, TypeError, MaverickError):
                decoded = None
            if decoded is not None:
                _apply_full(loaded, snapshot, *decoded)
                after = snapshot.seq
    expected = after + 1
    broken = False
    candidate: LoadedState | None = None
    # a resume reads up to a thousand records here: the common one (an intact delta
    # right after the one before) takes a short path, its bookkeeping done inline
    max_seq = loaded.max_seq
    history = loaded.history
    for record in store.read_checkpoints(run_id, after_seq=after):
        if isinstance(record, DamagedRecord) or not record.intact:
            if not broken:
                broken = True
                where = record.position if isinstance(record, DamagedRecord) else f"#{record.seq}"
                why = record.reason if isinstance(record, DamagedRecord) else "checksum mismatch"
                loaded.damage = f"checkpoint record {where} is damaged ({why})"
                loaded.torn = isinstance(record, DamagedRecord)
            continue
        seq = record.seq
        if seq > max_seq:
            max_seq = seq
        if seq <= after:
            continue
        kind = record.kind
        if kind == FINAL_KIND:
            # how an attempt ended, for `runs show`: never restored, never in the chain
            final = record
            continue
        try:
            payload, records = decode_plain(config, record, serializers)
        except (ValueError, TypeError, MaverickError) as exc:
            if not broken:
                broken = True
                loaded.damage = f"checkpoint record #{seq} cannot be decoded ({exc})"
            continue
        if kind == "full":
            _apply_full(loaded, record, payload, records)
            broken, loaded.damage = False, None
        elif broken or seq != expected:
            if not broken:
                broken = True
                loaded.damage = f"checkpoint record #{expected} is missing"
            continue
        else:
            # a delta: its records over the state's
            loaded.plains.update(records)
            if "data" in payload:
                loaded.data = dict(payload["data"])
            loaded.checkpoint_id = record.checkpoint_id
            loaded.seq = seq
            loaded.created_at = record.created_at
            history.append((seq, record.checkpoint_id, record.created_at))
        expected = seq + 1
        if until is not None and record.checkpoint_id == until:
            candidate = loaded.copy()
    loaded.max_seq = max(max_seq, loaded.seq)
    if final is not None and final.seq > loaded.seq:
        loaded.final = final
    if until is not None:
        if candidate is None:
            known = sorted({cid for _, cid, _ in loaded.history})
            raise ResumeRefused(
                f"run {run_id} has no checkpoint '{until}' "
                f"(its checkpoints: {', '.join(known) or 'none'})"
            )
        candidate.max_seq = loaded.max_seq
        return candidate
    return loaded


def _apply_full(
    loaded: LoadedState,
    record: CheckpointRecord,
    payload: dict[str, Any],
    records: dict[str, Restored],
) -> None:
    loaded.plains = records
    loaded.data = dict(payload.get("data") or {})
    _note(loaded, record)


def _note(loaded: LoadedState, record: CheckpointRecord) -> None:
    loaded.checkpoint_id = record.checkpoint_id
    loaded.seq = record.seq
    loaded.created_at = record.created_at
    loaded.history.append((record.seq, record.checkpoint_id, record.created_at))


# ----------------------------------------------------------------------------- the session


class Session:
    """The checkpoint plugin's bookkeeping for one executing run (``run.stash[SESSION]``).

    A plain class: every run builds this one, and building an attrs class costs a
    compile at import (nothing compares or prints sessions).
    """

    __slots__ = (
        "agents",
        "base_seq",
        "bytes_since_snapshot",
        "columns",
        "holder",
        "last_data",
        "live",
        "lock",
        "masker",
        "record",
        "rewind",
        "seq",
        "serializer",
        "snapshot_bytes",
        "store",
        "waits",
    )

    def __init__(
        self,
        store: Store,
        serializer: Serializer,
        record: RunRecord,
        holder: LockHolder,
        seq: int = 0,
        rewind: bool = False,
        base_seq: int | None = 0,
        last_data: dict[str, Any] | None = None,
        snapshot_bytes: int = 0,
        bytes_since_snapshot: int = 0,
        masker: SecretMasker | None = None,
        agents: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.serializer = serializer
        self.record = record
        self.holder = holder
        self.seq = seq
        self.rewind = rewind
        # the seq of the checkpoint the in-memory state was last committed as (the final
        # record holds only what changed since); None after --from-checkpoint until a commit
        self.base_seq = base_seq
        self.last_data = last_data
        self.snapshot_bytes = snapshot_bytes
        self.bytes_since_snapshot = bytes_since_snapshot
        self.masker = SecretMasker() if masker is None else masker
        # what earlier attempts recorded about agent calls (load_agent_records)
        self.agents: dict[str, Any] = {} if agents is None else agents
        self.lock = threading.Lock()
        # records written but not yet known durable: seq -> (wait for it, commit start)
        self.waits: dict[int, tuple[Callable[[], None], float]] = {}
        # finished steps not yet in a checkpoint, shown while the run runs (meta["live"])
        self.live: LiveSteps | None = None
        # encodes snapshots reusing unchanged records' text (json serializer; False for others)
        self.columns: ColumnEncoder | Literal[False] | None = None

    def note_step(self, path: str, record: StepRecord) -> None:
        """Show a finished step before the next checkpoint holds it (best effort)."""
        if self.live is None:
            self.live = LiveSteps(lambda steps: self.update_meta(LIVE, lambda _old: steps))
        self.live.note(path, record)

    def save_run(self, **changes: Any) -> None:
        """Update the run record (status, meta...) durably; secrets never reach it."""
        for field in ("inputs", "meta"):
            if field in changes:
                changes[field] = self.masker.mask(changes[field])
        with self.lock:
            self.record = attrs.evolve(self.record, updated_at=time.time(), **changes)
            self.store.update_run(self.record)

    def update_meta(self, key: str, change: Any) -> None:
        """Apply ``change(value)`` to ``meta[key]`` and save the run record durably.

        A change to None removes the key.
        """
        with self.lock:
            meta = dict(self.record.meta)
            value = change(meta.get(key))
            if value is None:
                meta.pop(key, None)
            else:
                meta[key] = self.masker.mask(value)
            self.record = attrs.evolve(self.record, updated_at=time.time(), meta=meta)
            self.store.update_run(self.record)


def _top_level(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]


def _restored_top_level(plains: dict[str, Restored]) -> set[str]:
    """The top-level steps with a completed (or skipped) record at or under them.

    Paths under one step come in runs (``each[0].work``, ``each[0]``, ``each[1]...``),
    so a path that starts with the previous one's top-level name and a separator
    is not split again: ten thousand loop records cost a prefix test each.
    """
    tops: set[str] = set()
    top, dot, bracket = "", "", ""
    for path, plain in plains.items():
        if top and path.startswith((dot, bracket)):
            continue  # under the top-level step found last (already in tops)
        if (plain[0] if isinstance(plain, tuple) else plain["status"]) not in DONE_VALUES:
            continue  # not done
        top = _top_level(path)
        dot, bracket = top + ".", top + "["
        tops.add(top)
    return tops


# ----------------------------------------------------------------------------- hooks


def open_run(config: Config, request: RunRequest) -> Run:
    """Create a run record, or find, check and lock the run to resume."""
    store = store_for(config)
    serializer = serializer_for(config)
    try:
        if request.resume:
            return _resume(config, request, store, serializer)
        return _fresh(config, request, store, serializer)
    except BaseException:
        store.close()
        raise


def _fresh(config: Config, request: RunRequest, store: Store, serializer: Serializer) -> Run:
    # inputs pulls in the loader and the expression engine: `maverick runs` needs neither
    from maverick_core.engine.inputs import complete_inputs

    workflow = request.workflow
    inputs = complete_inputs(workflow, request.inputs)
    now = time.time()
    run_id = new_run_id(workflow.name, now)
    secret_names = [n for n, spec in workflow.inputs.items() if spec.secret]
    masker = SecretMasker.for_inputs(workflow, inputs)
    holder = LockHolder.current(now, os.urandom(8).hex())
    record = RunRecord(
        run_id=run_id,
        workflow=workflow.name,
        source=workflow.source,
        project=config.project.name,
        status=Status.RUNNING.value,
        created_at=now,
        updated_at=now,
        inputs=masker.mask({k: v for k, v in inputs.items() if k not in secret_names}),
        secret_inputs=secret_names,
        fingerprints=dict(workflow.fingerprints),
        meta={
            "store": getattr(store, "url", ""),
            "serializer": serializer.name,
            "holder": _holder_meta(holder),
            ATTEMPTS: [new_attempt(1, now, holder)],
            **_resume_command(config),
            **_budget(config),
        },
    )
    state_dir(config.root)
    store.create_run(record)
    try:
        store.acquire_lock(run_id, holder)
    except BaseException:
        # nothing ran yet: a run left "running" with no holder would only mislead
        with contextlib.suppress(MaverickError):
            store.delete_run(run_id)
        raise
    run = Run(run_id=run_id, workflow=workflow, inputs=inputs, config=config, secrets=masker)
    run.stash[SESSION] = Session(
        store, serializer, record, holder, masker=masker, agents=_budget(config)
    )
    run.stash[RESUMABLE] = True
    return run


def _budget(config: Config) -> dict[str, Any]:
    """``--max-cost`` as the run keeps it: a resume without the option keeps the budget."""
    limit = config.options.get("max_cost")
    return {} if limit is None else {MAX_COST: limit}


def _resume_command(config: Config) -> dict[str, Any]:
    """The command (without ``--resume RUN_ID``) that resumes the run, as the CLI built it;
    a password in a ``--store`` URL is not kept."""
    base = config.options.get("resume_command")
    if not isinstance(base, str) or not base:
        return {}
    return {RESUME_COMMAND: re.sub(r"(://[^/:@\s]*:)[^@\s]*@", r"\1***@", base)}


def _holder_meta(holder: LockHolder) -> dict[str, Any]:
    """Who executes the run, as shown by ``maverick runs show``."""
    return {"pid": holder.pid, "host": holder.host, "since": holder.acquired_at}


def _find_run(store: Store, request: RunRequest) -> RunRecord:
    name = request.workflow.name
    if request.run_id is not None:
        # '' included: an empty id is refused by the store, never "the latest run"
        found = store.get_run(request.run_id)
        if found is None:
            raise ResumeRefused(f"unknown run id '{request.run_id}' (see: maverick runs list)")
        if found.workflow != name:
            raise ResumeRefused(
                f"run {found.run_id} is a run of workflow '{found.workflow}', not '{name}'"
            )
        if found.status == Status.COMPLETED:
            raise ResumeRefused(
                f"run {found.run_id} completed; a completed run is never "
                "resumed (start a new run without --resume)"
            )
        return found
    # the store's index answers: the cost does not grow with the workflow's runs
    from maverick_core.engine.runquery import RunQuery, query_runs

    unfinished = tuple(s.value for s in RUN_STATUSES if s != Status.COMPLETED)
    page = query_runs(store, RunQuery(workflow=name, statuses=unfinished, limit=1))
    if page.runs:
        return page.runs[0]
    # none: read every run, so an unreadable record (perhaps the one) is named
    for candidate in store.list_runs(workflow=name):
        if candidate.status != Status.COMPLETED:
            return candidate
    damaged = list(getattr(store, "unreadable", []))
    if damaged:
        # the run to resume may be the one whose record is damaged: say so
        raise ResumeRefused(
            f"no readable unfinished run of workflow '{name}', and a run record is "
            f"damaged: {'; '.join(damaged)} (resume another run by id, or delete the "
            "damaged one with: maverick runs delete RUN_ID)"
        )
    raise ResumeRefused(
        f"nothing to resume: workflow '{name}' has no unfinished run (start one without --resume)"
    )


def _resume(config: Config, request: RunRequest, store: Store, serializer: Serializer) -> Run:
    workflow = request.workflow
    found = _find_run(store, request)
    with collector_paused() as collecting:
        loaded = load_state(config, store, found.run_id, until=request.from_checkpoint)
        if collecting:
            _settle_restored_state()
    notices: list[str] = []
    if loaded.damage and loaded.checkpoint_id is None:
        if not loaded.torn:
            # an edited record is not a crash: refuse rather than guess
            raise ResumeRefused(
                f"run {found.run_id} has no intact checkpoint: {loaded.damage}; start a new run"
            )
        notices.append(f"{loaded.damage}; no earlier checkpoint, so the run starts over")
    elif loaded.damage:
        notices.append(
            f"{loaded.damage}; resuming from the newest intact checkpoint "
            f"'{loaded.checkpoint_id}' (#{loaded.seq})"
        )

    inputs, input_notes = _resolve_inputs(workflow, found, request)
    notices += input_notes
    restored_top = _restored_top_level(loaded.plains)
    changed = _changed_steps(workflow, found, restored_top)
    if changed and not request.force:
        raise ResumeRefused(
            f"cannot resume run {found.run_id}: steps at or before the resume point changed: "
            f"{'; '.join(changed)} (revert them, or --force to resume anyway)"
        )
    if changed:
        notices.append(f"--force: resuming although steps changed: {'; '.join(changed)}")

    run = Run(
        run_id=found.run_id,
        workflow=workflow,
        inputs=inputs,
        config=config,
        state=RunState(restored=loaded.plains),
        resumed_from=loaded.checkpoint_id or "(start)",
        # progress belongs to the latest attempt at the run; a rewind starts it afresh
        progress={} if request.from_checkpoint else dict(found.meta.get("progress") or {}),
    )
    if request.explain:
        run.plan = _explain(run, found, loaded, notices)
        return run

    for warning in config.pm.hook.verify_resume(run=run, data=loaded.data):
        if warning:
            notices.append(str(warning))
    holder = LockHolder.current(time.time(), os.urandom(8).hex())
    previous = store.acquire_lock(found.run_id, holder)
    if previous is not None:
        notices.append(
            f"took over the lock of run {found.run_id} from {previous.describe()} "
            "(that process is gone)"
        )
    if loaded.checkpoint_id is None and not loaded.damage:
        notices.append(f"run {found.run_id} committed no checkpoint; running it from the start")
    session = Session(
        store,
        serializer,
        found,
        holder,
        seq=loaded.max_seq,
        rewind=True,
        base_seq=None if request.from_checkpoint else loaded.seq,
        last_data=loaded.data,
        masker=run.secrets,
        agents={
            "calls": list(found.meta.get(AGENT_CALLS) or []),
            "sessions": dict(found.meta.get(AGENT_SESSIONS) or {}),
            MAX_COST: _budget(config).get(MAX_COST, found.meta.get(MAX_COST)),
        },
    )
    run.stash[SESSION] = session
    meta = dict(found.meta)
    resumes = list(meta.get("resumes", []))
    resumes.append(
        {
            "at": time.time(),
            "from": loaded.checkpoint_id,
            "seq": loaded.seq,
            "forced": bool(request.force and (changed or input_notes)),
        }
    )
    meta["resumes"] = resumes
    attempts = attempts_of(found)
    # an attempt that never ended was killed: it was last seen when it last wrote
    close_killed_attempts(attempts, max(found.updated_at, loaded.created_at))
    attempts.append(
        new_attempt(
            len(attempts) + 1,
            holder.acquired_at,
            holder,
            resumed_from=loaded.checkpoint_id,
            seq=loaded.seq or None,
        )
    )
    meta[ATTEMPTS] = attempts
    meta.update(_resume_command(config))
    # what the killed attempt finished after its last checkpoint runs again now
    meta.pop(LIVE, None)
    if request.from_checkpoint:
        meta.pop("progress", None)
    meta["holder"] = _holder_meta(holder)
    meta.update(_budget(config))
    session.save_run(
        status=Status.RUNNING.value,
        meta=meta,
        fingerprints=dict(workflow.fingerprints),
        inputs={k: v for k, v in inputs.items() if k not in found.secret_inputs},
    )
    run.stash[RESUMABLE] = True
    for notice in notices:
        config.pm.hook.on_notice(run=run, message=notice)
    return run


def _resolve_inputs(
    workflow: Any, found: RunRecord, request: RunRequest
) -> tuple[dict[str, Any], list[str]]:
    from maverick_core.engine.inputs import complete_inputs

    stored = dict(found.inputs)
    differing = []
    for key in sorted(request.given_inputs):
        if key in found.secret_inputs:
            continue
        if key in stored and stored[key] != request.inputs[key]:
            differing.append(f"{key}: {stored[key]!r} -> {request.inputs[key]!r}")
    if differing and not request.force:
        raise ResumeRefused(
            f"inputs differ from run {found.run_id}: {'; '.join(differing)} "
            "(resume without -i to reuse the stored inputs, or --force)"
        )
    notes = [f"--force: inputs changed: {'; '.join(differing)}"] if differing else []
    merged = {**stored, **{k: request.inputs[k] for k in request.given_inputs}}
    merged = {k: v for k, v in merged.items() if k in workflow.inputs}
    missing_secrets = [
        n
        for n in found.secret_inputs
        if n not in request.given_inputs and n in workflow.inputs and workflow.inputs[n].required
    ]
    if missing_secrets:
        flags = " ".join(f"-i {n}=..." for n in missing_secrets)
        raise ResumeRefused(f"secret inputs are never stored; give them again: {flags}")
    return complete_inputs(workflow, merged), notes


def _changed_steps(workflow: Any, found: RunRecord, restored: set[str]) -> list[str]:
    if not restored:
        return []
    current = workflow.fingerprints
    order = [step.name for step in workflow.steps]
    last_restored = max((order.index(n) for n in restored if n in order), default=-1)
    changed = []
    for name in sorted(restored):
        if name not in current:
            changed.append(f"'{name}' was removed")
        elif found.fingerprints.get(name) != current[name]:
            changed.append(f"'{name}' changed")
    for name in order[: last_restored + 1]:
        if name not in found.fingerprints:
            changed.append(f"'{name}' was added before the resume point")
    return changed


def _explain(run: Run, found: RunRecord, loaded: LoadedState, notices: list[str]) -> str:
    """What ``--resume`` will do, decided by the rules the resume itself uses."""
    lines = [f"run {found.run_id} of workflow {found.workflow} (status {found.status})"]
    if loaded.checkpoint_id:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(loaded.created_at))
        lines.append(f"resumes after checkpoint '{loaded.checkpoint_id}' (#{loaded.seq}, {stamp})")
    else:
        lines.append("no checkpoint was committed: everything runs again")
    lines += [f"note: {n}" for n in notices]
    done = run.state.done_paths()
    lines.append(f"restores {_count(len(done), 'completed step record')}")
    for step in run.workflow.steps:
        lines.append(_explain_step(run, step))
    shown = {k: v for k, v in run.inputs.items() if k not in found.secret_inputs}
    lines.append(f"inputs: {run.secrets.mask(shown)}")
    return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _explain_step(run: Run, step: Any) -> str:
    from maverick_core.engine.dsl.composite import LoopStep  # here: runs list needs no model

    state = run.state

    def restored(path: str) -> StepRecord | None:
        record = state.get(path)
        return record if record is not None and record.done else None

    record = restored(step.name)
    if record is not None:
        return f"  restored   {step.name} ({record.status})"
    header = state.get(step.name)
    if isinstance(step, LoopStep) and header is not None and header.items is not None:
        children = [child.name for child in step.steps]
        total = len(header.items)
        finished = sum(
            finished_iteration(restored, f"{step.name}[{i}]", children) is not None
            for i in range(total)
        )
        if finished:
            return (
                f"  partly     {step.name} ({finished} of {_count(total, 'iteration')} "
                f"restored; {total - finished} run again)"
            )
    inner = [p for p in paths_under(state.done_paths(), step.name)]
    if inner:
        return (
            f"  partly     {step.name} ({_count(len(inner), 'nested step')} restored; "
            "the rest runs again)"
        )
    return f"  runs again {step.name}"


def commit_checkpoint(run: Run, checkpoint_id: str, state: RunState) -> CheckpointInfo | None:
    """Append a delta (or, after a rewind, a full) record; snapshot when due."""
    session = run.stash.get(SESSION, None)
    if session is None:
        return None
    started = time.perf_counter()
    full = session.rewind
    since = session.bytes_since_snapshot
    due = since >= MIN_SNAPSHOT_BYTES and since * JOURNAL_READ_WEIGHT >= session.snapshot_bytes
    changes, everything = state.take_changes(full=full or due)
    records = everything if full else changes
    payload: dict[str, Any] = {"records": {p: r.to_plain() for p, r in records.items()}}
    if full or run.checkpoint_data != session.last_data:
        payload["data"] = run.checkpoint_data
    body = session.serializer.dumps(session.masker.mask(payload))
    now = time.time()
    record = make_record(
        run.run_id,
        session.seq + 1,
        checkpoint_id,
        "full" if full else "delta",
        now,
        session.serializer.name,
        body,
    )
    write = _group_writer(session.store)
    try:
        if write is None:
            session.store.append_checkpoint(record)
        else:
            # durable in sync_checkpoint, outside the executor's commit lock
            session.waits[record.seq] = (write(record), started)
    except BaseException:
        # the changes taken for this record are in no record now: the next is full
        session.rewind = True
        raise
    session.seq += 1
    session.rewind = False
    session.base_seq = session.seq
    if session.live is not None:
        session.live.committed(records)
    session.last_data = dict(run.checkpoint_data)
    session.bytes_since_snapshot += len(body)
    if due or full:
        _write_snapshot(session, run, checkpoint_id, now, everything)
    return CheckpointInfo(
        checkpoint_id=checkpoint_id,
        seq=session.seq,
        size=len(body),
        duration=time.perf_counter() - started,
        created_at=now,
    )


_GROUP_WRITERS: dict[type, bool] = {}


def _group_writer(store: Store) -> Callable[[CheckpointRecord], Callable[[], None]] | None:
    """The store's ``write_checkpoint``, unless its class overrides ``append_checkpoint``
    below the class that defines ``write_checkpoint`` (a store that wraps appends,
    such as a test store injecting a crash, keeps being called through them)."""
    write = getattr(store, "write_checkpoint", None)
    if write is None:
        return None
    kind = type(store)
    usable = _GROUP_WRITERS.get(kind)
    if usable is None:
        owners = {
            name: next((k for k in kind.__mro__ if name in vars(k)), object)
            for name in ("write_checkpoint", "append_checkpoint")
        }
        usable = issubclass(owners["write_checkpoint"], owners["append_checkpoint"])
        _GROUP_WRITERS[kind] = usable
    return write if usable else None


def sync_checkpoint(run: Run, checkpoint: CheckpointInfo) -> CheckpointInfo | None:
    """Wait until the checkpoint's record is durable; concurrent waits share a sync."""
    session = run.stash.get(SESSION, None)
    if session is None:
        return None
    pending = session.waits.pop(checkpoint.seq, None)
    if pending is None:
        return None
    wait, started = pending
    try:
        wait()
    except BaseException:
        session.rewind = True
        raise
    return CheckpointInfo(
        checkpoint_id=checkpoint.checkpoint_id,
        seq=checkpoint.seq,
        size=checkpoint.size,
        duration=time.perf_counter() - started,
        created_at=checkpoint.created_at,
    )


def _write_snapshot(
    session: Session, run: Run, checkpoint_id: str, now: float, everything: dict[str, StepRecord]
) -> None:
    if session.columns is None:
        from maverick_core.builtin.checkpoint.snapshots import column_encoder  # snapshots only

        session.columns = column_encoder(session.serializer) or False
    body = None
    if session.columns:
        body = session.columns.dumps(everything, run.checkpoint_data, session.masker)
    if body is None:
        payload = snapshot_payload(everything, run.checkpoint_data, session.masker)
        body = session.serializer.dumps(payload)
    session.store.write_snapshot(
        make_record(
            run.run_id, session.seq, checkpoint_id, "full", now, session.serializer.name, body
        )
    )
    session.snapshot_bytes = len(body)
    session.bytes_since_snapshot = 0


def commit_progress(run: Run, progress: dict[str, dict[str, Any]]) -> bool | None:
    """Write the in-flight progress into the run record (``meta["progress"]``)."""
    session = run.stash.get(SESSION, None)
    if session is None:
        return None
    session.update_meta("progress", lambda _previous: dict(progress) or None)
    return True


def workflow_finish(run: Run, outcome: RunOutcome) -> None:
    """Record how the run ended, release its lock, close the store."""
    session = run.stash.get(SESSION, None)
    if session is None:
        return
    if session.live is not None:
        session.live.close()
    try:
        now = time.time()
        attempts = attempts_of(session.record)
        number = attempts[-1].get("number") if attempts else None
        try:
            _append_final(session, run, outcome, number, now)
        except (StoreError, ValueError, TypeError) as exc:
            run.config.pm.hook.on_notice(
                run=run, message=f"could not record the run's final state: {exc}"
            )
        meta = dict(session.record.meta)
        if outcome.error:
            meta["error"] = outcome.error
        else:
            meta.pop("error", None)
        finish_attempt(attempts, now, outcome.status.value, outcome.error)
        meta[ATTEMPTS] = attempts
        meta.pop(LIVE, None)  # the final record holds every step now
        meta[SUMMARY] = summarize(
            session.record, attempts, step_counts(run, outcome.status), outcome.outputs
        )
        session.save_run(status=outcome.status.value, meta=meta)
    except StoreError as exc:
        run.config.pm.hook.on_notice(run=run, message=f"could not record the run's status: {exc}")
    finally:
        try:
            session.store.release_lock(run.run_id, session.holder)
        finally:
            session.store.close()


def _append_final(
    session: Session, run: Run, outcome: RunOutcome, attempt: Any, now: float
) -> None:
    """Append the run's final state as a record that ``load_state`` never restores."""
    payload = final_payload(run, outcome, attempt, session.base_seq)
    body = session.serializer.dumps(session.masker.mask(payload))
    record = make_record(
        run.run_id, session.seq + 1, FINAL_ID, FINAL_KIND, now, session.serializer.name, body
    )
    session.store.append_checkpoint(record)
    session.seq += 1


# ----------------------------------------------------------------------------- agent calls


def record_agent_usage(run: Run, usage: dict[str, Any]) -> None:
    """Append an agent call's usage to the run record, durably (before any checkpoint)."""
    session = run.stash.get(SESSION, None)
    if session is None:
        return
    entry = session.masker.mask(dict(usage))
    session.update_meta(AGENT_CALLS, lambda calls: [*(calls or []), entry])


def record_agent_session(run: Run, path: str, record: dict[str, Any] | None) -> None:
    """Keep (or, with None, drop) the in-flight agent session at ``path``, durably."""
    session = run.stash.get(SESSION, None)
    if session is None:
        return

    def change(sessions: Any) -> dict[str, Any]:
        updated = dict(sessions or {})
        if record is None:
            updated.pop(path, None)
        else:
            updated[path] = session.masker.mask(dict(record))
        return updated

    if record is None and path not in (session.record.meta.get(AGENT_SESSIONS) or {}):
        return
    session.update_meta(AGENT_SESSIONS, change)


def agent_records(run: Run) -> dict[str, Any] | None:
    """What earlier attempts recorded about agent calls, and the run's budget (or None)."""
    session = run.stash.get(SESSION, None)
    if session is None or not session.agents:
        return None
    return session.agents


def note_step(run: Run, path: str, record: StepRecord) -> None:
    """Keep a finished step where ``runs show`` and the viewer see it before a checkpoint."""
    session = run.stash.get(SESSION, None)
    if session is not None:
        session.note_step(path, record)
