"""The two protocols through which checkpoints are persisted: Store and Serializer.

The checkpoint plugin never touches files or databases itself. It hands a
:class:`Store` plain records and a :class:`Serializer` plain data; plugins provide
both through the ``register_stores`` and ``register_serializers`` hooks, so a
third party swaps either by installing a distribution.

A run is kept as one :class:`RunRecord` (small, rewritten on status changes) and an
append-only sequence of :class:`CheckpointRecord` (one per commit, usually holding
only what changed since the previous commit), plus at most one snapshot: a full
record that lets resume skip the journal before it.

Checksums are computed and verified by the core (:func:`record_checksum`), so every
store gets torn/edited-record detection without doing anything but keeping the
bytes it was given. A store reports bytes it cannot even frame as a
:class:`DamagedRecord` instead of raising.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from maverick_core.engine.errors import MaverickError
from maverick_core.engine.liveness import host_name, process_alive, process_start_time
from maverick_core.engine.plainclass import FrozenClass, attrs_repr
from maverick_core.engine.status import Status

if TYPE_CHECKING:
    from pathlib import Path

    from maverick_core.engine.runquery import RunPage as RunPage
    from maverick_core.engine.runquery import RunQuery as RunQuery
    from maverick_core.engine.runquery import decode_cursor as decode_cursor
    from maverick_core.engine.runquery import encode_cursor as encode_cursor
    from maverick_core.engine.runquery import page_of as page_of
    from maverick_core.engine.runquery import query_runs as query_runs
    from maverick_core.engine.runquery import run_order_key as run_order_key

RUN_STATUSES = (Status.RUNNING, Status.FAILED, Status.INTERRUPTED, Status.COMPLETED)


class Project(FrozenClass):
    """The project a store is opened for.

    :ivar root: the project directory (where ``.maverick/`` lives).
    :ivar name: a name that is the same in every clone of the project; shared stores
        (PostgreSQL) namespace runs by it.
    """

    # a frozen class written out, not an attrs class: every command that opens a store
    # builds it (plainclass.py); nothing evolves it or asks attrs for its fields
    __slots__ = _FIELDS = ("root", "name")
    root: Path
    name: str

    def __init__(self, root: Path, name: str) -> None:
        self._set("root", root)
        self._set("name", name)


class LockHolder(FrozenClass):
    """Who holds a run's lock: enough to tell a user, and to tell if it died.

    :ivar started_at: when the holder's process started (psutil's ``create_time``),
        so a later process given the same pid is not taken for it; None when the
        store did not keep it. Not part of equality: a holder is its pid, host, token.
    """

    # written out, not attrs, as Project is (every run and listing builds the class)
    __slots__ = _FIELDS = ("pid", "host", "acquired_at", "token", "started_at")
    _COMPARED = ("pid", "host", "acquired_at", "token")
    pid: int
    host: str
    acquired_at: float
    token: str
    started_at: float | None

    def __init__(
        self,
        pid: int,
        host: str,
        acquired_at: float,
        token: str = "",
        started_at: float | None = None,
    ) -> None:
        self._set("pid", pid)
        self._set("host", host)
        self._set("acquired_at", acquired_at)
        self._set("token", token)
        self._set("started_at", started_at)

    def to_plain(self) -> dict[str, Any]:
        """Its fields as plain data (what ``attrs.asdict`` made of it)."""
        return dict(zip(self._FIELDS, self._values(), strict=True))

    @classmethod
    def current(cls, acquired_at: float, token: str = "") -> LockHolder:
        """The holder record for this process."""
        pid = os.getpid()
        return cls(
            pid=pid,
            host=host_name(),
            acquired_at=acquired_at,
            token=token,
            started_at=process_start_time(pid),
        )

    def describe(self) -> str:
        """``pid 123 on host x``: how the holder is named in messages."""
        return f"pid {self.pid} on host {self.host}"

    def is_local(self) -> bool:
        """True when the holder runs on this machine."""
        return self.host == host_name()

    def is_alive_locally(self) -> bool:
        """For a local holder: is its process still there (and not a reused pid)?"""
        return process_alive(self.pid, self.started_at)


@attrs.frozen
class RunRecord:
    """What a store keeps about a run besides its checkpoints.

    :ivar inputs: the run's inputs as plain data, secret inputs excluded.
    :ivar secret_inputs: names of the secret inputs (given again on resume).
    :ivar fingerprints: step path -> fingerprint of the step's definition.
    :ivar meta: free-form plain data (resume history, ``--force`` notes, errors).
    """

    __repr__ = attrs_repr  # attrs then builds none (engine/plainclass.py)

    run_id: str
    workflow: str
    source: str
    project: str
    status: str
    created_at: float
    updated_at: float
    inputs: dict[str, Any] = attrs.field(factory=dict)
    secret_inputs: list[str] = attrs.field(factory=list)
    fingerprints: dict[str, str] = attrs.field(factory=dict)
    meta: dict[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_plain(cls, data: Any) -> RunRecord:
        """A record from the plain data :func:`attrs.asdict` made of one.

        :raises ValueError: naming the first field that is missing or of the wrong
            type, so a stored record with a valid frame but odd content is refused
            with a message instead of failing later.
        """
        if not isinstance(data, dict):
            raise ValueError(f"a run record is a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - {f.name for f in attrs.fields(cls)})
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r}")
        for field in attrs.fields(cls):
            if field.name not in data:
                if field.default is attrs.NOTHING:
                    raise ValueError(f"field {field.name!r} is missing")
                continue
            value = data[field.name]
            kind, described = _RUN_FIELD_TYPES[field.name]
            if isinstance(value, bool) or not isinstance(value, kind):
                raise ValueError(f"field {field.name!r} is {type(value).__name__}, not {described}")
        if data["status"] not in RUN_STATUSES:
            raise ValueError(f"field 'status' is {data['status']!r}")
        if not all(isinstance(name, str) for name in data.get("secret_inputs", [])):
            raise ValueError("field 'secret_inputs' holds a name that is not a string")
        if not all(isinstance(value, str) for value in data.get("fingerprints", {}).values()):
            raise ValueError("field 'fingerprints' holds a value that is not a string")
        return cls(
            **{
                **data,
                "created_at": float(data["created_at"]),
                "updated_at": float(data["updated_at"]),
            }
        )


_RUN_FIELD_TYPES: dict[str, tuple[Any, str]] = {
    "run_id": (str, "a string"),
    "workflow": (str, "a string"),
    "source": (str, "a string"),
    "project": (str, "a string"),
    "status": (str, "a string"),
    "created_at": ((int, float), "a number"),
    "updated_at": ((int, float), "a number"),
    "inputs": (dict, "a mapping"),
    "secret_inputs": (list, "a list"),
    "fingerprints": (dict, "a mapping"),
    "meta": (dict, "a mapping"),
}


class CheckpointRecord(FrozenClass):
    """One committed checkpoint.

    :ivar seq: 1, 2, 3, ... within the run, assigned by the checkpoint plugin.
    :ivar kind: ``"delta"`` (apply on top of the previous record) or ``"full"``
        (the whole state; used by snapshots and when a resume rewinds).
    :ivar payload: the serializer's bytes.
    :ivar checksum: :func:`record_checksum` of all the other fields.
    """

    # written out, not attrs, as Project is (every run and listing builds the class)
    __slots__ = _FIELDS = (
        "run_id",
        "seq",
        "checkpoint_id",
        "kind",
        "created_at",
        "serializer",
        "payload",
        "checksum",
    )
    run_id: str
    seq: int
    checkpoint_id: str
    kind: str
    created_at: float
    serializer: str
    payload: bytes
    checksum: str

    def __init__(
        self,
        run_id: str,
        seq: int,
        checkpoint_id: str,
        kind: str,
        created_at: float,
        serializer: str,
        payload: bytes,
        checksum: str,
    ) -> None:
        put = object.__setattr__  # not self._set: a record per commit, and per record read
        put(self, "run_id", run_id)
        put(self, "seq", seq)
        put(self, "checkpoint_id", checkpoint_id)
        put(self, "kind", kind)
        put(self, "created_at", created_at)
        put(self, "serializer", serializer)
        put(self, "payload", payload)
        put(self, "checksum", checksum)

    @property
    def intact(self) -> bool:
        """True when the checksum matches the record's content."""
        return self.checksum == record_checksum(
            self.run_id,
            self.seq,
            self.checkpoint_id,
            self.kind,
            self.created_at,
            self.serializer,
            self.payload,
        )


class DamagedRecord(FrozenClass):
    """Bytes in a store that could not be read back as a record (a torn write)."""

    # written out, not attrs, as Project is
    __slots__ = _FIELDS = ("run_id", "position", "reason")
    run_id: str
    position: str
    reason: str

    def __init__(self, run_id: str, position: str, reason: str) -> None:
        self._set("run_id", run_id)
        self._set("position", position)
        self._set("reason", reason)

    @property
    def intact(self) -> bool:
        """Always False."""
        return False


_sha256_hex: Callable[..., str] | None = None
""":func:`maverick_core.engine.digest.sha256_hex`, imported by the first checksum
(listing runs verifies none); kept here because an import statement in the function
cost about 1 µs a call, and a resume checks a thousand journal records."""


def record_checksum(
    run_id: str,
    seq: int,
    checkpoint_id: str,
    kind: str,
    created_at: float,
    serializer: str,
    payload: bytes,
) -> str:
    """SHA-256 over a record's header fields and payload, as hex."""
    global _sha256_hex
    if _sha256_hex is None:
        from maverick_core.engine.digest import sha256_hex

        _sha256_hex = sha256_hex
    header = f"{run_id}\0{seq}\0{checkpoint_id}\0{kind}\0{created_at!r}\0{serializer}\0"
    return _sha256_hex(header.encode(), payload)


def make_record(
    run_id: str,
    seq: int,
    checkpoint_id: str,
    kind: str,
    created_at: float,
    serializer: str,
    payload: bytes,
) -> CheckpointRecord:
    """Build a record with its checksum filled in."""
    return CheckpointRecord(
        run_id=run_id,
        seq=seq,
        checkpoint_id=checkpoint_id,
        kind=kind,
        created_at=created_at,
        serializer=serializer,
        payload=payload,
        checksum=record_checksum(run_id, seq, checkpoint_id, kind, created_at, serializer, payload),
    )


# ------------------------------------------------------------------ run listing

MAX_QUERY_LIMIT = 1000
"""The most runs one :class:`RunQuery` page may ask for."""


class QueryError(MaverickError):
    """A :class:`RunQuery` that cannot be answered: a bad limit, status or cursor.

    It is the caller's mistake, never the store's, so it is a usage error (exit 2).
    """


# ----------------------------------------------------------- SQL stores' rows

RECORD_COLUMNS = ("seq", "checkpoint_id", "kind", "created_at", "serializer", "payload", "checksum")
"""The columns a SQL store keeps a :class:`CheckpointRecord` in (beside its run's key),
in the order of :func:`record_values` and :func:`record_from_row`."""


def record_values(record: CheckpointRecord) -> tuple[Any, ...]:
    """A record's values in :data:`RECORD_COLUMNS` order, for an ``INSERT``."""
    return tuple(getattr(record, column) for column in RECORD_COLUMNS)


def record_from_row(
    run_id: str, row: tuple[Any, ...], position: str
) -> CheckpointRecord | DamagedRecord:
    """A row selected in :data:`RECORD_COLUMNS` order back into a record.

    A binary column may come back as ``memoryview`` or ``bytearray`` (drivers differ);
    a row whose values have other types than the record's (an edited database) is a
    :class:`DamagedRecord` at ``position``, never an exception.
    """
    seq, checkpoint_id, kind, created_at, serializer, payload, checksum = row
    if isinstance(payload, memoryview | bytearray):
        payload = bytes(payload)
    if not (
        type(seq) is int
        and type(created_at) is float
        and type(payload) is bytes
        and all(type(v) is str for v in (checkpoint_id, kind, serializer, checksum))
    ):
        return DamagedRecord(run_id, position, "a column holds a value of the wrong type")
    values = (seq, checkpoint_id, kind, created_at, serializer, payload, checksum)
    return CheckpointRecord(run_id=run_id, **dict(zip(RECORD_COLUMNS, values, strict=True)))


@runtime_checkable
class Store(Protocol):
    """Where runs and their checkpoints live.

    Every method that writes is durable when it returns (fsync, a committed
    transaction). A store is used by one thread at a time per instance; the
    checkpoint plugin serializes its calls.

    Optional but recommended: ``query_runs(query: RunQuery) -> RunPage`` (see
    :class:`PagedStore`), one page of a run listing read through an index. Callers
    use the module function :func:`query_runs`, which falls back to ``list_runs``
    for a store without the method.
    """

    url: str

    def create_run(self, run: RunRecord) -> None:
        """Create a new run; :class:`~maverick_core.engine.errors.StoreError` if it exists."""

    def update_run(self, run: RunRecord) -> None:
        """Replace the run record atomically."""

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run record, or None if there is no such run."""

    def list_runs(self, workflow: str | None = None) -> list[RunRecord]:
        """All runs of this project (optionally of one workflow), newest first."""

    def delete_run(self, run_id: str) -> bool:
        """Delete a run and everything of it; False if it did not exist."""

    def append_checkpoint(self, record: CheckpointRecord) -> None:
        """Append one record to the run's journal, durably, in one atomic step.

        A store may also offer ``write_checkpoint(record) -> Callable[[], None]``
        (not part of this protocol): the write, and a function that returns once the
        record is durable, so concurrent commits can share a sync (group commit; see
        docs/plugins-storage.md). The checkpoint plugin uses it where it exists.
        """

    def read_checkpoints(
        self, run_id: str, after_seq: int = 0
    ) -> Iterator[CheckpointRecord | DamagedRecord]:
        """The run's journal in order, from the first record with ``seq > after_seq``.

        Damaged bytes are yielded as :class:`DamagedRecord`, never raised.
        """

    def write_snapshot(self, record: CheckpointRecord) -> None:
        """Keep ``record`` (a full state as of ``record.seq``) as the run's snapshot."""

    def read_snapshot(self, run_id: str) -> CheckpointRecord | DamagedRecord | None:
        """The run's latest snapshot, if any."""

    def acquire_lock(self, run_id: str, holder: LockHolder) -> LockHolder | None:
        """Take the run's lock for ``holder``.

        Returns the previous holder when a dead one was taken over, None when the
        lock was free. Raises :class:`~maverick_core.engine.errors.LockHeld` naming the
        holder when a live process holds it.
        """

    def release_lock(self, run_id: str, holder: LockHolder) -> None:
        """Release the lock if ``holder`` holds it."""

    def close(self) -> None:
        """Release resources (files, connections, heartbeat threads)."""


@runtime_checkable
class PagedStore(Store, Protocol):
    """A :class:`Store` that answers run listings page by page from an index."""

    def query_runs(self, query: RunQuery) -> RunPage:
        """One page of the runs ``query`` selects, newest first.

        ``(created_at, run_id)`` descending; the page holds only runs ordered after
        ``query.cursor``'s position, and its ``next_cursor`` is
        :func:`encode_cursor` of its last run when more runs follow. Its cost must
        not grow with the number of runs beyond the page (an index, a table).
        ``query`` has passed :meth:`RunQuery.check`; a store may call it again.

        :raises QueryError: for a bad cursor.
        """


class Serializer(Protocol):
    """Turns plain data (dict/list/str/int/float/bool/None) into bytes and back.

    ``loads(dumps(x)) == x`` must hold exactly for every plain value, with dict
    key order kept.
    """

    name: str

    def dumps(self, data: Any) -> bytes:
        """Encode plain data; raise ``ValueError``/``TypeError`` for what it cannot encode."""

    def loads(self, data: bytes) -> Any:
        """Decode bytes written by :meth:`dumps`."""


StoreFactory = Callable[[str, Project], Store]
"""Opens a store: ``factory(url, project)``."""


RUN_QUERY_NAMES = frozenset(
    {
        "RunPage",
        "RunQuery",
        "decode_cursor",
        "encode_cursor",
        "page_of",
        "query_runs",
        "run_order_key",
    }
)
"""Names of :mod:`~maverick_core.engine.runquery`, still importable from here: the run
listing's query and page live there so that a run, which lists nothing, does not build
their attrs classes at start-up."""


def __getattr__(name: str) -> Any:
    if name in RUN_QUERY_NAMES:
        from maverick_core.engine import runquery

        value = getattr(runquery, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
