"""A plugin the conformance kit loads with ``-p``: it SIGKILLs its own process.

``MAVERICK_KIT_KILL_AFTER_CHECKPOINT=N`` kills the process right after the N-th
checkpoint is committed: a crash the run gets no chance to clean up after.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from maverick_core import hookimpl

_lock = threading.Lock()
_seen = [0]


@hookimpl
def after_checkpoint(run: Any, checkpoint: Any) -> None:
    """Die at the configured checkpoint."""
    target = int(os.environ.get("MAVERICK_KIT_KILL_AFTER_CHECKPOINT", "0"))
    with _lock:
        _seen[0] += 1
        if _seen[0] == target:
            os.kill(os.getpid(), signal.SIGKILL)
