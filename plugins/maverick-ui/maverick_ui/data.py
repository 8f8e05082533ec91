"""What the viewer reads: a read-only store, the runs listing and one run's page data."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from maverick_core.api import (
    CheckpointRecord,
    MaverickError,
    RunPage,
    RunQuery,
    RunRecord,
    StoreError,
    describe_run,
    open_store,
    query_runs,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from maverick_core.api import (
        Config,
        DamagedRecord,
        LockHolder,
        Store,
    )

DEFAULT_STORE = "file:"
PAGE_SIZE = 50


def store_url(config: Config) -> str:
    """The store the configuration names (``--store``, ``MAVERICK_STORE``, maverick.yaml)."""
    url = config.setting("store", env="MAVERICK_STORE", default=DEFAULT_STORE)
    if not isinstance(url, str):
        raise MaverickError(f"store must be a URL string, got {url!r}")
    return url


def display_url(url: str) -> str:
    """The store URL without its password, fit to show on a page."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class ReadOnlyStore:
    """A store the viewer can only read: every writing method raises :class:`StoreError`.

    The viewer and whatever it calls with this object (``describe_run``) get the read
    methods of the real store; a write, by mistake or through a bug, fails loudly
    instead of changing anyone's runs.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self.url = store.url

    @classmethod
    def open(cls, config: Config, url: str) -> ReadOnlyStore:
        """Open the store at ``url`` through the plugin that provides its scheme."""
        return cls(open_store(config.pm, url, config.project))

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run's record, or None."""
        return self._store.get_run(run_id)

    def list_runs(self, workflow: str | None = None) -> list[RunRecord]:
        """Every run (of ``workflow``), newest first."""
        return self._store.list_runs(workflow)

    def read_checkpoints(
        self, run_id: str, after_seq: int = 0
    ) -> Iterator[CheckpointRecord | DamagedRecord]:
        """The run's checkpoint records in order."""
        return self._store.read_checkpoints(run_id, after_seq)

    def query_runs(self, query: RunQuery) -> RunPage:
        """One page of runs, from the store's own index when it has one."""
        return query_runs(self._store, query)

    def read_snapshot(self, run_id: str) -> CheckpointRecord | DamagedRecord | None:
        """The run's latest snapshot, if the store keeps one."""
        return self._store.read_snapshot(run_id)

    def close(self) -> None:
        """Close the underlying store."""
        self._store.close()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise StoreError("maverick ui is read-only: it never writes to the store")

    def create_run(self, run: RunRecord) -> None:
        """Refused: the viewer never writes."""
        self._refuse(run)

    def update_run(self, run: RunRecord) -> None:
        """Refused: the viewer never writes."""
        self._refuse(run)

    def delete_run(self, run_id: str) -> bool:
        """Refused: the viewer never writes."""
        return bool(self._refuse(run_id))

    def append_checkpoint(self, record: CheckpointRecord) -> None:
        """Refused: the viewer never writes."""
        self._refuse(record)

    def write_snapshot(self, record: CheckpointRecord) -> None:
        """Refused: the viewer never writes."""
        self._refuse(record)

    def acquire_lock(self, run_id: str, holder: LockHolder) -> LockHolder | None:
        """Refused: the viewer never takes a run's lock."""
        return self._refuse(run_id, holder)  # type: ignore[no-any-return]

    def release_lock(self, run_id: str, holder: LockHolder) -> None:
        """Refused: the viewer never holds a run's lock."""
        self._refuse(run_id, holder)


# ----------------------------------------------------------------------------- the runs page


def runs_page(
    store: ReadOnlyStore,
    workflow: str | None,
    statuses: tuple[str, ...],
    cursor: str | None,
    limit: int = PAGE_SIZE,
) -> RunPage:
    """One page of runs, newest first, from the store's index (``query_runs``).

    :raises QueryError: for a cursor that is not one of the store's.
    """
    query = RunQuery(workflow=workflow, statuses=statuses, limit=limit, cursor=cursor)
    return query_runs(store, query)


def _summary(record: RunRecord) -> dict[str, Any]:
    summary = record.meta.get("summary")
    return summary if isinstance(summary, dict) else {}


def run_duration(record: RunRecord, now: float | None = None) -> float:
    """Seconds the run took (over all its attempts when the store recorded them)."""
    duration = _summary(record).get("duration")
    if isinstance(duration, int | float):
        return float(duration)
    end = (now or time.time()) if record.status == "running" else record.updated_at
    return max(end - record.created_at, 0.0)


def run_cost(record: RunRecord) -> float | None:
    """What the run's agent calls cost in USD, None when no call reported a cost."""
    summary = _summary(record)
    if "cost_usd" in summary:
        cost = summary["cost_usd"]
        return float(cost) if isinstance(cost, int | float) else None
    calls = [c for c in record.meta.get("agent_calls") or [] if isinstance(c, dict)]
    costs = [c["cost_usd"] for c in calls if isinstance(c.get("cost_usd"), int | float)]
    return float(sum(costs)) if costs else None


# ----------------------------------------------------------------------------- one run


def describe(config: Config, store: ReadOnlyStore, run_id: str) -> dict[str, Any] | None:
    """Everything the run page shows about one run (``describe_run``); None for an unknown id."""
    if store.get_run(run_id) is None:
        return None
    return describe_run(config, run_id, store=store)
