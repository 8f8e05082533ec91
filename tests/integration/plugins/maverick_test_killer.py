"""A test plugin (loaded with ``-p maverick_test_killer``) that kills its own process.

``MAVERICK_TEST_KILL=HOOK:N`` sends SIGKILL to this process at the N-th call of
HOOK (``after_step``, ``before_step`` or ``after_checkpoint``): a crash at an exact
step boundary, with no chance for the run to clean up.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from maverick_core import hookimpl

_lock = threading.Lock()
_counts: dict[str, int] = {}


def _maybe_die(hook: str) -> None:
    target, _, count = os.environ.get("MAVERICK_TEST_KILL", "").partition(":")
    if target != hook:
        return
    with _lock:
        _counts[hook] = _counts.get(hook, 0) + 1
        if _counts[hook] == int(count):
            os.kill(os.getpid(), signal.SIGKILL)


@hookimpl
def before_step(run: Any, step: Any, path: str) -> None:
    _maybe_die("before_step")


@hookimpl
def after_step(run: Any, step: Any, path: str, record: Any) -> None:
    _maybe_die("after_step")


@hookimpl
def after_checkpoint(run: Any, checkpoint: Any) -> None:
    _maybe_die("after_checkpoint")
