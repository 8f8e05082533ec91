"""Child processes of a run: started in their own session, terminated together.

Shell steps, agents and validation commands start processes through a
:class:`ProcessGroup`, so an interrupted run (SIGINT/SIGTERM) stops every process
tree it started instead of leaving orphans behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from maverick_core.engine.errors import StepFailed


class ProcessGroup:
    """Child processes of the run, terminated together when it is interrupted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()

    def popen(self, *args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start a process in its own session so the whole tree can be signalled."""
        kwargs.setdefault("start_new_session", True)
        proc: subprocess.Popen[bytes] = subprocess.Popen(*args, **kwargs)
        with self._lock:
            self._procs.add(proc)
        return proc

    def forget(self, proc: subprocess.Popen[bytes]) -> None:
        """Stop tracking a finished process."""
        with self._lock:
            self._procs.discard(proc)

    def terminate_all(self, grace: float = 3.0) -> None:
        """SIGTERM every live process group, then SIGKILL what is left after ``grace``."""
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            kill_tree(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            kill_tree(proc, signal.SIGKILL)


def kill_tree(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Signal a child's whole process group (it leads its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


@attrs.frozen
class CommandResult:
    """A finished command, its output decoded as UTF-8."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """True when the command exited with status 0."""
        return self.returncode == 0


class CommandRunner:
    """Runs a program with an argument list (never a shell), text on stdin.

    Untrusted text (issue bodies, diffs, agent answers) travels on stdin, never on
    a command line.

    :param root: the working directory.
    :param popen: starts the process: the run's ``ctx.popen`` in a step, so an
        interrupted run stops it too; ``subprocess.Popen`` outside a run.
    :param forget: called with each finished process (the run stops tracking it).
    :param env: variables added to the environment (e.g. to disable prompts).
    """

    def __init__(
        self,
        root: Path,
        popen: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen,
        forget: Callable[[subprocess.Popen[bytes]], None] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.root = root
        self.popen = popen
        self.forget = forget
        self.env = dict(env or {})

    def __call__(self, argv: list[str], input: str | None = None) -> CommandResult:
        """Run ``argv`` in ``root`` and wait for it."""
        try:
            proc = self.popen(
                argv,
                cwd=self.root,
                env={**os.environ, **self.env},
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise StepFailed(f"cannot run {argv[0]}: {exc}") from None
        try:
            out, err = proc.communicate(None if input is None else input.encode("utf-8"))
        finally:
            if proc.returncode is None:
                proc.kill()
                proc.wait()
            if self.forget is not None:
                self.forget(proc)
        return CommandResult(
            proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        )
