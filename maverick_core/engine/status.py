"""A run's status, and whether a plugin made it resumable.

What commands that only read runs need (``runs list``, the reporters, the store
protocols), kept apart from :mod:`maverick_core.engine.run` so that they do not
build the run's attrs classes at start-up (each costs a compile; see
docs/benchmarks.md, start-up). :mod:`~maverick_core.engine.run` re-exports both.
"""

from __future__ import annotations

from enum import StrEnum

from maverick_core.engine.stash import StashKey


class Status(StrEnum):
    """The status of a run or of a step record.

    A :class:`~enum.StrEnum`: each member equals (and serializes as) its value, so
    records written before the enum existed read back unchanged.
    """

    RUNNING = "running"
    """A run executing (or killed while it was); a loop header still iterating."""
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    """A step whose ``when`` was false."""
    INTERRUPTED = "interrupted"
    """A run stopped by SIGINT, SIGTERM or SIGHUP."""

    @property
    def done(self) -> bool:
        """True for step statuses a resume restores instead of running again."""
        return self in (Status.COMPLETED, Status.SKIPPED)


RESUMABLE: StashKey[bool] = StashKey("resumable")
"""``run.stash[RESUMABLE]`` is true once a plugin persists the run so that ``--resume``
can continue it (the checkpoint plugin sets it; reporters then print the resume command)."""
