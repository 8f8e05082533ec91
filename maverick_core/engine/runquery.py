"""Run listing, page by page: :class:`RunQuery`, :class:`RunPage` and the cursor.

Apart from :mod:`~maverick_core.engine.storage` (which still answers for these names)
so that ``maverick run``, which lists no runs, does not build their attrs classes at
start-up (each costs a compile; docs/benchmarks.md, start-up).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import TYPE_CHECKING

import attrs

from maverick_core.engine.plainclass import attrs_repr
from maverick_core.engine.storage import (
    MAX_QUERY_LIMIT,
    RUN_QUERY_NAMES,
    RUN_STATUSES,
    QueryError,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from maverick_core.engine.storage import RunRecord, Store

# the names storage.py still re-exports (one list, kept there)
__all__ = sorted(RUN_QUERY_NAMES)

_CURSOR_VERSION = 1


@attrs.frozen
class RunQuery:
    """One page of a run listing: which runs, how many, and where the page starts.

    :ivar workflow: only runs of this workflow (exact name); None for all.
    :ivar statuses: only runs in one of these :class:`~maverick_core.engine.run.Status`
        values; ``()`` for all.
    :ivar since: only runs created at or after this time (epoch seconds).
    :ivar limit: the most runs on the page, 1 to :data:`MAX_QUERY_LIMIT`.
    :ivar cursor: :attr:`RunPage.next_cursor` of the previous page; None for the first.
    """

    __repr__ = attrs_repr  # attrs then builds none (engine/plainclass.py)

    workflow: str | None = None
    statuses: tuple[str, ...] = ()
    since: float | None = None
    limit: int = 50
    cursor: str | None = None

    def check(self) -> None:
        """Refuse a query no store can answer.

        :raises QueryError: naming the bad field and what it may be.
        """
        if isinstance(self.limit, bool) or not isinstance(self.limit, int):
            raise QueryError(f"limit must be a whole number, not {self.limit!r}")
        if not 1 <= self.limit <= MAX_QUERY_LIMIT:
            raise QueryError(f"limit must be between 1 and {MAX_QUERY_LIMIT}, not {self.limit}")
        known = [s.value for s in RUN_STATUSES]
        for status in self.statuses:
            if status not in known:
                raise QueryError(f"unknown status {status!r} (one of: {', '.join(known)})")
        if self.since is not None and (
            isinstance(self.since, bool)
            or not isinstance(self.since, int | float)
            or not math.isfinite(self.since)
        ):
            raise QueryError(f"since must be a time in epoch seconds, not {self.since!r}")
        if self.workflow is not None and not isinstance(self.workflow, str):
            raise QueryError(f"workflow must be a name, not {self.workflow!r}")
        self.after()

    def after(self) -> tuple[float, str] | None:
        """The cursor's position: the page holds only runs ordered after it.

        :raises QueryError: for a cursor no page handed out.
        """
        return None if self.cursor is None else decode_cursor(self.cursor)

    def matches(self, run: RunRecord) -> bool:
        """True when ``run`` belongs in this query's listing (the cursor aside)."""
        return (
            (self.workflow is None or run.workflow == self.workflow)
            and (not self.statuses or run.status in self.statuses)
            and (self.since is None or run.created_at >= self.since)
        )


@attrs.frozen
class RunPage:
    """One page of runs, newest first (``created_at`` descending, then ``run_id``).

    :ivar next_cursor: pass it as :attr:`RunQuery.cursor` for the next page; None on
        the last page.
    """

    __repr__ = attrs_repr  # attrs then builds none (engine/plainclass.py)

    runs: list[RunRecord]
    next_cursor: str | None


def run_order_key(run: RunRecord) -> tuple[float, str]:
    """The key listings sort by, descending: ``(created_at, run_id)``."""
    return (run.created_at, run.run_id)


def encode_cursor(created_at: float, run_id: str) -> str:
    """The opaque cursor of a page that ended with this run.

    The next page holds the runs ordered after ``(created_at, run_id)``, so runs
    created between two pages (newer, so ordered before) never shift the pages.
    """
    text = json.dumps([_CURSOR_VERSION, created_at, run_id], ensure_ascii=True)
    return base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """``(created_at, run_id)`` from :func:`encode_cursor`'s text.

    :raises QueryError: for anything else.
    """
    problem = f"invalid cursor {cursor[:40]!r}" if isinstance(cursor, str) else "invalid cursor"
    problem += ": pass the next_cursor a listing printed, unchanged"
    if not isinstance(cursor, str) or not 0 < len(cursor) <= 2048:
        raise QueryError(problem)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, created_at, run_id = json.loads(raw.decode("ascii"))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise QueryError(problem) from None
    if (
        version != _CURSOR_VERSION
        or isinstance(created_at, bool)
        or not isinstance(created_at, int | float)
        or not math.isfinite(created_at)
        or not isinstance(run_id, str)
        or not run_id
    ):
        raise QueryError(problem)
    return float(created_at), run_id


def page_of(runs: Iterable[RunRecord], query: RunQuery) -> RunPage:
    """The page ``query`` asks for, from ``runs`` already in listing order and filtered.

    Takes one run more than the limit to know whether a next page exists; stores
    hand it an iterator so that is all they read.
    """
    taken: list[RunRecord] = []
    more = False
    for run in runs:
        if len(taken) == query.limit:
            more = True
            break
        taken.append(run)
    last = taken[-1] if more else None
    return RunPage(
        runs=taken,
        next_cursor=None if last is None else encode_cursor(last.created_at, last.run_id),
    )


def query_runs(store: Store, query: RunQuery) -> RunPage:
    """One page of ``store``'s runs, newest first: what every caller uses.

    A store with a ``query_runs`` method answers from its index; any other store
    (a third party's written before the method existed) is answered from
    ``list_runs()``, filtered here, which reads every run but stays correct.

    :raises QueryError: for a bad limit, status or cursor.
    """
    query.check()
    method = getattr(store, "query_runs", None)
    if callable(method):
        page: RunPage = method(query)
        return page
    after = query.after()
    listed = sorted(store.list_runs(query.workflow), key=run_order_key, reverse=True)
    selected = (
        run
        for run in listed
        if query.matches(run) and (after is None or run_order_key(run) < after)
    )
    return page_of(selected, query)
