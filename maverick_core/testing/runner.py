"""Running a workflow in tests: in this process, or as a real ``maverick`` process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from maverick_core.api import Run


@dataclass(frozen=True)
class RunResult:
    """What an in-process run ended with: its outcome's fields and the run itself."""

    status: str
    outputs: dict[str, Any]
    error: str | None
    run: Run


def run_workflow(
    project: Path,
    workflow: str | Path,
    inputs: dict[str, Any] | None = None,
    *,
    plugins: Sequence[object] = (),
    blocked: Iterable[str] = ("terminal",),
    resume: bool = False,
    run_id: str | None = None,
    options: dict[str, Any] | None = None,
) -> RunResult:
    """Load ``workflow`` (a file) and execute it in this process, in ``project``.

    :param plugins: plugin objects to register besides the built-ins, e.g. a
        :class:`~maverick_core.testing.HookRecorder` or the plugin under test.
        Entry-point plugins are not loaded: a test says what it runs with.
    :param blocked: built-in plugins to block; the terminal reporter by default,
        so tests stay quiet.
    :param resume: continue the latest unfinished run (or ``run_id``).
    :param options: run options, as the CLI would set them (``store``, ``serializer``).
    """
    from maverick_core.engine.config import make_config
    from maverick_core.engine.discovery import expression_functions
    from maverick_core.engine.dsl.loader import load_workflow
    from maverick_core.engine.executor import Executor
    from maverick_core.engine.pluginmanager import make_plugin_manager
    from maverick_core.engine.run import RunRequest

    pm = make_plugin_manager(blocked=tuple(blocked), objects=tuple(plugins), autoload=False)
    config = make_config(pm, project, options or {})
    loaded = load_workflow(
        Path(project, workflow), pm.registries.step_models(), expression_functions(pm)
    )
    given = dict(inputs or {})
    request = RunRequest(
        workflow=loaded,
        inputs=given,
        given_inputs=frozenset(given),
        resume=resume,
        run_id=run_id,
    )
    run = pm.hook.open_run(config=config, request=request)
    outcome = Executor(run).execute()
    return RunResult(status=outcome.status, outputs=outcome.outputs, error=outcome.error, run=run)


def maverick_executable() -> list[str]:
    """The command line of the installed ``maverick`` console script (the real entry point)."""
    found = shutil.which("maverick")
    return [found] if found else [sys.executable, "-m", "maverick_core.engine.cli"]


class MaverickCLI:
    """Runs the installed ``maverick`` in a real process, in a project directory.

    ``cli("run", "wf.yaml", "-i", "n=3")`` runs it to its end and returns the
    :class:`subprocess.CompletedProcess` (text output, no stdin); :meth:`start` returns
    the running :class:`subprocess.Popen` for a test that signals it.
    ``crash_at="after_checkpoint:2"`` loads :mod:`maverick_core.testing.killer`, which
    SIGKILLs the process at that hook call.
    """

    def __init__(self, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.cwd = cwd
        self.env = dict(env or {})

    def command(self, *args: str, crash_at: str | None = None) -> list[str]:
        """The full command line for ``maverick ARGS``."""
        killer = ["-p", "maverick_core.testing.killer"] if crash_at else []
        return [*maverick_executable(), *killer, *args]

    def environment(self, env: dict[str, str] | None, crash_at: str | None) -> dict[str, str]:
        """This process's environment, plus the CLI's and the call's additions."""
        from maverick_core.testing.killer import ENV

        return {**os.environ, **self.env, **(env or {}), **({ENV: crash_at} if crash_at else {})}

    def __call__(
        self,
        *args: str,
        timeout: float = 60,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        crash_at: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``maverick ARGS`` to its end (or until ``timeout`` seconds, then raise)."""
        return subprocess.run(
            self.command(*args, crash_at=crash_at),
            cwd=cwd or self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.environment(env, crash_at),
            stdin=subprocess.DEVNULL,
        )

    def start(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        crash_at: str | None = None,
    ) -> subprocess.Popen[str]:
        """Start ``maverick ARGS`` with its stdout and stderr on pipes; the caller waits."""
        return subprocess.Popen(
            self.command(*args, crash_at=crash_at),
            cwd=cwd or self.cwd,
            env=self.environment(env, crash_at),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )


def json_events(output: str) -> list[dict[str, Any]]:
    """The events a ``maverick run --json`` printed, one JSON object a line."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def read_until(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> list[str]:
    """Read ``proc``'s stdout up to the first line containing ``needle``; return the lines.

    :raises AssertionError: the output ended, or ``timeout`` passed, without it.
    """
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} not seen in {seen}")
