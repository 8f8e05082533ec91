"""A test store plugin (``-p maverick_test_tornstore``, ``--store tornfile:``).

It is the file store, except that the N-th checkpoint append (``MAVERICK_TEST_TEAR_AT=N``)
writes only the first half of its record's frame, makes that half durable, and then sends
SIGKILL to its own process: a crash in the middle of a commit, between two writes.
"""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING, Any

from maverick_core import hookimpl
from maverick_core.builtin.filestore import segments
from maverick_core.builtin.filestore import store as filestore

if TYPE_CHECKING:
    from collections.abc import Callable

    from maverick_core.engine.storage import CheckpointRecord, Project


class TornFileStore(filestore.FileStore):
    """The file store with a crash injected inside one append."""

    appends = 0

    def append_checkpoint(self, record: CheckpointRecord) -> None:
        TornFileStore.appends += 1
        if TornFileStore.appends == int(os.environ.get("MAVERICK_TEST_TEAR_AT", "0")):
            frame = segments.pack(record)
            segment = self._segment_for(record)
            os.pwrite(segment.fd, frame[: len(frame) // 2], segment.size)
            os.fdatasync(segment.fd)
            os.kill(os.getpid(), signal.SIGKILL)
        super().append_checkpoint(record)

    @classmethod
    def open_torn(cls, url: str, project: Project) -> Any:
        return cls.open("file:" + url.removeprefix("tornfile:"), project)


@hookimpl
def register_stores(register: Callable[..., None]) -> None:
    register("tornfile", TornFileStore.open_torn)
