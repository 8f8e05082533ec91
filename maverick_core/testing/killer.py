"""A plugin that SIGKILLs its own process at an exact hook call: a crash for resume tests.

Load it with ``-p maverick_core.testing.killer`` and set ``MAVERICK_TEST_KILL=HOOK:N``:
the process dies at the N-th call of HOOK (``before_step``, ``after_step`` or
``after_checkpoint``), with no chance for the run to clean up.
The :func:`~maverick_core.testing.maverick_cli` fixture does both with ``crash_at=``.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from maverick_core import hookimpl

ENV = "MAVERICK_TEST_KILL"
"""The variable that says where to die: ``HOOK:N``."""

_lock = threading.Lock()
_counts: dict[str, int] = {}


def _maybe_die(hook: str) -> None:
    target, _, count = os.environ.get(ENV, "").partition(":")
    if target != hook:
        return
    with _lock:
        _counts[hook] = _counts.get(hook, 0) + 1
        if _counts[hook] == int(count):
            os.kill(os.getpid(), signal.SIGKILL)


@hookimpl
def before_step(run: Any, step: Any, path: str) -> None:
    """Die before the N-th step starts."""
    _maybe_die("before_step")


@hookimpl
def after_step(run: Any, step: Any, path: str, record: Any) -> None:
    """Die after the N-th step finished, before anything else hears of it."""
    _maybe_die("after_step")


@hookimpl
def after_checkpoint(run: Any, checkpoint: Any) -> None:
    """Die right after the N-th checkpoint is committed."""
    _maybe_die("after_checkpoint")
