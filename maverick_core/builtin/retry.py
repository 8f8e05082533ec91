"""Built-in plugin ``retry``: ``retry:`` on any step, through the ``run_step`` wrapper.

``retry: {max_attempts: 3, backoff: 2, factor: 2, on: [timeout, 75]}`` runs a failing
step again: up to ``max_attempts`` attempts in all, waiting ``backoff`` seconds
before the second and ``factor`` times longer before each further one, for the
failures ``on`` names (``any``, ``timeout``, exit codes; default ``any``).

Never retried: an interrupt (SIGINT, SIGTERM, SIGHUP, and a failure that happened
because the run is being interrupted), a checkpoint that was not saved (the run
must fail loudly) and a value the user gave that the step refused (exit 2: the same
value would fail again).

Each attempt is kept in the step's record (``attempts``: number, error, duration;
``maverick runs show`` lists them). Before waiting for the next attempt the plugin
saves the attempts so far as the step's progress (``ctx.save_progress``, written at
once by the checkpoint plugin), so a run killed between attempts resumes at the
attempt it was on, not at attempt 1, and waits out only what is left of the
backoff. The progress is dropped once the step completes or runs out of attempts.

Blocking it (``-p no:retry``) makes ``retry:`` a no-op: each step runs once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from maverick_core import hookimpl

if TYPE_CHECKING:
    from collections.abc import Generator

    from maverick_core.engine.context import StepContext
    from maverick_core.engine.dsl.model import Retry, Step
    from maverick_core.engine.run import Run

PLUGIN = "retry"


@hookimpl(wrapper=True, tryfirst=True)
def run_step(run: Run, step: Step, path: str, ctx: StepContext) -> Generator[None, Any, Any]:
    """Run the step; while it fails in a way ``step.retry`` names, run it again."""
    policy = step.retry
    if policy is None:
        return (yield)
    saved = ctx.saved_progress(PLUGIN) or {}
    ctx.attempts[:] = list(saved.get("attempts", []))
    attempt = len(ctx.attempts) + 1
    if ctx.attempts:
        _wait_what_is_left(ctx, policy, attempt, saved.get("retry_at", 0.0))
    started = time.monotonic()
    try:
        output = yield
    except Exception as exc:
        error: Exception = exc
    else:
        return _succeeded(ctx, attempt, started, output)
    while True:
        message = _first_line(error)
        ctx.attempts.append(
            {"attempt": attempt, "error": message, "duration": time.monotonic() - started}
        )
        if attempt >= policy.max_attempts or not _retryable(ctx, policy, error):
            ctx.save_progress(PLUGIN, None)
            raise error
        delay = policy.delay_before(attempt + 1)
        ctx.save_progress(PLUGIN, {"attempts": list(ctx.attempts), "retry_at": time.time() + delay})
        wait = f"; retrying in {delay:g}s" if delay else "; retrying"
        ctx.notice(f"{path}: attempt {attempt} of {policy.max_attempts} failed: {message}{wait}")
        ctx.wait(delay)
        attempt += 1
        started = time.monotonic()
        try:
            output = ctx.call_again(skip=PLUGIN)
        except Exception as exc:
            error = exc
        else:
            return _succeeded(ctx, attempt, started, output)


def _succeeded(ctx: StepContext, attempt: int, started: float, output: Any) -> Any:
    if ctx.attempts:
        ctx.attempts.append(
            {"attempt": attempt, "error": None, "duration": time.monotonic() - started}
        )
        ctx.save_progress(PLUGIN, None)
    return output


def _wait_what_is_left(ctx: StepContext, policy: Retry, attempt: int, retry_at: float) -> None:
    """A resumed step waits what was left of its backoff (at most the current one)."""
    left = min(retry_at - time.time(), policy.delay_before(attempt))
    ctx.notice(f"{ctx.path}: resuming at attempt {attempt} of {policy.max_attempts}")
    if left > 0:
        ctx.wait(left)


def _retryable(ctx: StepContext, policy: Retry, error: Exception) -> bool:
    """True when ``error`` is a failure ``policy.on`` names (and no interrupt is under way)."""
    from maverick_core.engine.errors import CheckpointNotSaved, InputError, WorkflowFailed

    if ctx.cancelled() or isinstance(error, CheckpointNotSaved | InputError):
        return False
    if isinstance(error, WorkflowFailed) and error.usage:
        return False
    timed_out = bool(getattr(error, "timed_out", False))
    exit_code = getattr(error, "exit_code", None)
    for condition in policy.on:
        if condition == "any":
            return True
        if condition == "timeout" and timed_out:
            return True
        if isinstance(condition, int) and condition == exit_code:
            return True
    return False


def _first_line(error: Exception) -> str:
    from maverick_core.engine.errors import describe_error

    lines = describe_error(error).splitlines()
    return lines[0] if lines else type(error).__name__
