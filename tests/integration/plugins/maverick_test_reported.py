"""A test plugin (``-p maverick_test_reported``) that keeps what a run reported saved.

``after_checkpoint`` appends ``<seq> <checkpoint_id>`` to the file named by
``MAVERICK_TEST_REPORTED``, with one ``write`` to a file opened ``O_APPEND``: a line is
in the file as soon as the hook returned, even if the process is SIGKILLed right
after. The action ``note`` appends its ``index`` to ``log`` the same way: what ran.
"""

from __future__ import annotations

import os
from typing import Any

from maverick_core import hookimpl


def _append(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def note(index: int, log: str) -> dict[str, int]:
    """A step body: say that iteration ``index`` ran."""
    _append(log, f"{index}\n")
    return {"index": index}


@hookimpl
def after_checkpoint(run: Any, checkpoint: Any) -> None:
    _append(os.environ["MAVERICK_TEST_REPORTED"], f"{checkpoint.seq} {checkpoint.checkpoint_id}\n")
