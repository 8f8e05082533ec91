"""The ``shell`` step type (``python`` and ``checkpoint``: :mod:`.inprocess`)."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any

from maverick_core.engine.dsl.model import ShellStep
from maverick_core.engine.errors import StepFailed
from maverick_core.engine.processes import run_process

if TYPE_CHECKING:
    from maverick_core.engine.context import StepContext

STDERR_TAIL_LINES = 20


def tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    """The last ``lines`` lines of ``text``, stripped."""
    return "\n".join(text.strip().splitlines()[-lines:])


def _text(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise StepFailed(f"{what} must be text, got {type(value).__name__}")


class ShellStepType:
    """Run a command with bash (sh when bash is missing) in the project root."""

    name = "shell"
    model = ShellStep

    def run(self, ctx: StepContext, step: ShellStep) -> dict[str, Any]:
        """Run the command; non-zero exit or timeout fails the step."""
        command = _text(ctx.render(step.command), "command")
        env = dict(os.environ)
        env.update({k: _text(ctx.render(v), f"env.{k}") for k, v in step.env.items()})
        env["MAVERICK_RUN_ID"] = ctx.run.run_id
        env["MAVERICK_STEP"] = ctx.path
        cwd = ctx.config.root
        if step.cwd is not None:
            cwd = cwd / _text(ctx.render(step.cwd), "cwd")
            if not cwd.is_dir():
                raise StepFailed(f"cwd {cwd} is not a directory")
        shell = shutil.which("bash") or "/bin/sh"
        result = run_process(
            [shell, "-c", command], cwd=cwd, env=env, timeout=step.timeout, group=ctx.processes
        )
        if result.timed_out:
            raise StepFailed(
                f"timed out after {step.timeout:g}s" + _stderr_suffix(ctx, result.stderr),
                timed_out=True,
            )
        if result.returncode != 0:
            suffix = _stderr_suffix(ctx, result.stderr)
            raise StepFailed(
                f"command exited with status {result.returncode}{suffix}",
                exit_code=result.returncode,
            )
        stdout = result.stdout.rstrip("\n")
        return {"stdout": stdout, "stderr": result.stderr, "returncode": result.returncode}


def _stderr_suffix(ctx: StepContext, err: str) -> str:
    # masked before the tail is cut, so no part of a secret survives the cut
    text = tail(ctx.run.secrets.mask_text(err))
    return f": {text}" if text else ""
