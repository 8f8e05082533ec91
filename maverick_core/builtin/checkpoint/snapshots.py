"""Snapshots encoded a record at a time, for the built-in ``json`` serializer.

A snapshot holds every step record of the run as columns (see
:func:`~maverick_core.builtin.checkpoint.journal.snapshot_columns`), and one is
written each time the journal since the last has grown by a quarter of it. So a
long run encodes its early records again and again: about 15 ns a byte, some 45 µs
of every checkpoint in a parallel loop, more than the rest of the commit's Python.

A finished step's record does not change (records are frozen; a step run again gets
a new one), so :class:`ColumnEncoder` keeps the encoded entries of each record it
has written, and at the next snapshot encodes only the records that are new or
replaced, then joins the entries. What it writes is exactly what the ``json``
serializer makes of :func:`~maverick_core.builtin.checkpoint.journal.snapshot_payload`
(a test holds the two to each other), checked the same way: each entry passes the
serializer's check once, when it is first encoded.
"""

from __future__ import annotations

import array
import operator
from typing import TYPE_CHECKING, Any, NamedTuple

from maverick_core.builtin.checkpoint.journal import other_fields, pack_floats

if TYPE_CHECKING:
    from collections.abc import Callable

    from maverick_core.engine.run import StepRecord
    from maverick_core.engine.secrets import SecretMasker

# the text around the columns, in the order snapshot_payload's mapping encodes
_OPEN = '{"columns":{"path":['
_AFTER_PATHS = '],"status":['
_AFTER_STATUSES = '],"output":['
_AFTER_OUTPUTS = '],"started_at":"'
_AFTER_STARTED = '","duration":"'
_AFTER_DURATIONS = '","other":'
_BEFORE_DATA = ',"data":'
_CLOSE = "}"
_FIXED = "".join(
    (_OPEN, _AFTER_PATHS, _AFTER_STATUSES, _AFTER_OUTPUTS, _AFTER_STARTED, _AFTER_DURATIONS)
)


class _Chunk(NamedTuple):
    """The entries of the records one snapshot added: rows ``start`` to ``stop``."""

    start: int
    stop: int
    paths: str
    statuses: str
    outputs: str


class ColumnEncoder:
    """Encodes a run's snapshots, reusing the text of the records already encoded.

    It keeps, in order, the records of the snapshots it wrote and their entries in
    each column, a chunk per snapshot. The next snapshot's records are compared
    with those (object identity and path, in C); from the first one that differs,
    the rest are encoded in one call per column. In a run, records are added at the
    end and replaced rarely (a loop's header when it ends, a step run again), so a
    snapshot mostly encodes what the journal added since the last one.

    One per run (the checkpoint session's); snapshots are written under the
    executor's commit lock, one at a time.
    """

    def __init__(self, text: Callable[[Any], str]) -> None:
        self._text = text
        self._forms: tuple[str, ...] | None = None
        self._reset()

    def _reset(self) -> None:
        self._paths: list[str] = []
        self._records: list[StepRecord] = []
        self._chunks: list[_Chunk] = []
        self._started = array.array("d")
        self._durations = array.array("d")
        self._other: dict[int, dict[str, Any]] = {}

    def dumps(
        self, records: dict[str, StepRecord], data: dict[str, Any], masker: SecretMasker
    ) -> bytes | None:
        """The snapshot of ``records`` and ``data`` as the json serializer encodes it,
        or None when a secret could turn up in the text around the columns (the
        caller then encodes the whole payload).

        :raises TypeError, ValueError: as the serializer's ``dumps`` would.
        """
        forms = masker.forms
        if forms is not self._forms:
            # the entries were masked with other secrets (a subworkflow added some)
            if any(form in _FIXED for form in forms):
                return None
            self._reset()
            self._forms = forms
        paths, values = list(records), list(records.values())
        self._keep(self._unchanged(paths, values))
        start = len(self._records)
        if start < len(values):
            self._add(paths[start:], values[start:], masker)
        text = self._text
        chunks = self._chunks
        other = {str(index): fields for index, fields in self._other.items()}
        return _utf8(
            "".join(
                (
                    _OPEN,
                    ",".join(chunk.paths for chunk in chunks),
                    _AFTER_PATHS,
                    ",".join(chunk.statuses for chunk in chunks),
                    _AFTER_STATUSES,
                    ",".join(chunk.outputs for chunk in chunks),
                    _AFTER_OUTPUTS,
                    pack_floats(self._started),
                    _AFTER_STARTED,
                    pack_floats(self._durations),
                    _AFTER_DURATIONS,
                    text(masker.mask(other)),
                    _CLOSE,
                    _BEFORE_DATA,
                    text(masker.mask(data)),
                    _CLOSE,
                )
            )
        )

    def _unchanged(self, paths: list[str], values: list[StepRecord]) -> int:
        """How many of the records kept are still the first ones, at the same paths."""
        same_record = list(map(operator.is_, self._records, values))
        same_path = list(map(operator.eq, self._paths, paths))
        first = len(same_record)  # the shorter of the two
        for same in (same_record, same_path):
            if not all(same):
                first = min(first, same.index(False))
        return first

    def _keep(self, count: int) -> None:
        """Forget every chunk from the one holding row ``count`` on."""
        while self._chunks and self._chunks[-1].stop > count:
            self._chunks.pop()
        start = self._chunks[-1].stop if self._chunks else 0
        if start == len(self._records):
            return
        del self._paths[start:], self._records[start:]
        del self._started[start:], self._durations[start:]
        for index in [index for index in self._other if index >= start]:
            del self._other[index]

    def _add(self, paths: list[str], records: list[StepRecord], masker: SecretMasker) -> None:
        """Encode ``records`` (at ``paths``) as the next chunk: a call per column."""
        start = len(self._records)
        columns: list[list[Any]] = [
            paths,
            [record.status.value for record in records],
            [record.output for record in records],
        ]
        if masker:
            columns = [[masker.mask(value) for value in column] for column in columns]
        # "[a,b]" -> "a,b": the chunk's entries as they stand inside the column
        texts = [self._text(column)[1:-1] for column in columns]
        self._chunks.append(_Chunk(start, start + len(records), *texts))
        self._paths += paths
        self._records += records
        self._started.extend([record.started_at for record in records])
        self._durations.extend([record.duration for record in records])
        for index, record in enumerate(records, start):
            fields = other_fields(record)
            if fields is not None:
                self._other[index] = fields


def column_encoder(serializer: object) -> ColumnEncoder | None:
    """A :class:`ColumnEncoder` for the ``json`` serializer, which offers the text it
    encodes before making bytes of it (its ``text`` method: compact JSON, checked as
    its ``dumps`` checks); None for any other serializer (its own ``dumps`` then
    encodes each snapshot whole)."""
    text = getattr(serializer, "text", None)
    if getattr(serializer, "name", None) == "json" and callable(text):
        return ColumnEncoder(text)
    return None


def _utf8(text: str) -> bytes:
    """``text`` as UTF-8, refused as the json serializer's ``dumps`` refuses it (a
    plugin may not import another built-in plugin, hence this copy of its check)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(f"json serializer: text is not valid Unicode: {error}") from None
