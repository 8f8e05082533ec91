"""Run a store's tests as if on macOS, or on a system without ``/proc``, here on Linux.

For plugin authors and our own tests: ``simulate_macos(monkeypatch)`` makes
``sys.platform`` ``"darwin"``, removes ``os.fdatasync`` (Python has none on macOS)
and wraps ``fcntl.fcntl`` in a recorder, so a test can assert that every commit
asked for ``F_FULLFSYNC``. Linux has no ``F_FULLFSYNC``: the recorder answers that
command itself with an ``fsync`` instead of passing it to the kernel, which would
refuse the unknown command. ``hide_proc(monkeypatch)`` makes every read under
``/proc`` fail as it does where there is none. Mix :class:`AsOnMacOS` into a
conformance test class to run the whole kit that way.
"""

from __future__ import annotations

import builtins
import fcntl
import os
import sys
from typing import Any

import pytest

from maverick_core.engine.durability import F_FULLFSYNC


class FcntlRecorder:
    """Stands in for ``fcntl.fcntl``: records each command, performs all but F_FULLFSYNC."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: list[tuple[int, int]] = []

    def __call__(self, fd: Any, cmd: int, arg: Any = 0) -> Any:
        number = fd if isinstance(fd, int) else fd.fileno()
        self.calls.append((number, cmd))
        if cmd == F_FULLFSYNC:
            os.fsync(number)  # what F_FULLFSYNC does, short of the drive's cache
            return 0
        return self.real(fd, cmd, arg)

    @property
    def full_syncs(self) -> int:
        """How many times ``F_FULLFSYNC`` was asked for."""
        return sum(1 for _, cmd in self.calls if cmd == F_FULLFSYNC)


def simulate_macos(monkeypatch: pytest.MonkeyPatch) -> FcntlRecorder:
    """Look like macOS to maverick's durability helper; returns the fcntl recorder."""
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.delattr(os, "fdatasync", raising=False)
    recorder = FcntlRecorder(fcntl.fcntl)
    monkeypatch.setattr(fcntl, "fcntl", recorder)
    return recorder


def hide_proc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make opening anything under ``/proc`` fail, as on a system without it."""
    real_open = builtins.open
    real_os_open = os.open

    def refuse(path: Any) -> None:
        text = os.fsdecode(path) if isinstance(path, str | bytes | os.PathLike) else ""
        if text == "/proc" or text.startswith("/proc/"):
            raise FileNotFoundError(2, "No such file or directory (simulated)", text)

    def guarded_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        refuse(file)
        return real_open(file, *args, **kwargs)

    def guarded_os_open(path: Any, *args: Any, **kwargs: Any) -> int:
        refuse(path)
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)


class AsOnMacOS:
    """Mixin for a test class: every test runs as on macOS (F_FULLFSYNC, no /proc).

    ``class TestMyStoreOnMacOS(AsOnMacOS, StoreConformance): ...``
    """

    @pytest.fixture(autouse=True)
    def _as_on_macos(self, monkeypatch: pytest.MonkeyPatch) -> FcntlRecorder:
        recorder = simulate_macos(monkeypatch)
        hide_proc(monkeypatch)
        return recorder
