"""The terminal and JSON reporters of the ``terminal`` plugin (see its ``__init__``).

Like pytest's terminal reporter it is an ordinary plugin (block it with
``-p no:terminal``). ``--quiet`` prints only problems and the summary;
``--json`` prints one JSON event per line instead (the machine interface).
Secret values are masked (``run.secrets``) in every value before it is formatted or
JSON-encoded, so no escaped or split form of a secret reaches the output.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any, TextIO

from maverick_core import hookimpl
from maverick_core.engine.secrets import mask_active, shorten
from maverick_core.engine.status import RESUMABLE, Status
from maverick_core.engine.units import elapsed, money, tokens

if TYPE_CHECKING:
    from maverick_core.engine.config import Config
    from maverick_core.engine.dsl.model import Step
    from maverick_core.engine.run import CheckpointInfo, Run, RunOutcome, RunState, StepRecord

MARKS = {Status.COMPLETED: "ok", Status.FAILED: "FAILED", Status.SKIPPED: "skipped"}


def masked(run: Run | None, value: Any) -> Any:
    """``value`` with the run's secrets masked (every live run's when there is none)."""
    return run.secrets.mask(value) if run is not None else mask_active(value)


def resume_command(run: Run) -> str:
    """The exact command that resumes ``run``."""
    base = run.config.options.get("resume_command") or f"maverick run {run.workflow.name}"
    return f"{base} --resume {run.run_id}"


class TerminalReporter:
    """Human-readable progress: a line per step, indented by nesting."""

    def __init__(self, config: Config, out: TextIO, quiet: bool) -> None:
        self.config = config
        self.out = out
        self.quiet = quiet
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.checkpoints = 0
        self.run: Run | None = None
        # a live progress bar only on a terminal: pipes and CI logs get plain lines
        self.bars = LoopProgress(out) if out.isatty() and not quiet else None
        self.agents = AgentUsage()
        self.running = RunningAgents(self, out.isatty())

    def write(self, line: str) -> None:
        # values are masked before they are formatted; this catches what a plugin's
        # notice or a step path carries in text
        line = masked(self.run, line)
        with self.lock:
            if self.bars is not None and self.bars.active:
                self.bars.print(line)
            else:
                self.out.write(line + "\n")
                self.out.flush()

    @staticmethod
    def indent(path: str) -> str:
        return "  " * (path.count(".") + 1)

    @hookimpl
    def workflow_start(self, run: Run) -> None:
        self.run = run
        if not self.quiet:
            verb = "resuming" if run.resumed else "running"
            self.write(f"{verb} {run.workflow.name} (run {run.run_id})")

    @hookimpl
    def on_resume(self, run: Run, state: RunState) -> None:
        if not self.quiet:
            restored = len(state.done_paths())
            records = "record" if restored == 1 else "records"
            self.write(
                f"  restored {restored} completed step {records} "
                f"from checkpoint '{run.resumed_from}'"
            )

    @hookimpl
    def after_step(self, run: Run, step: Step, path: str, record: StepRecord) -> None:
        if self.bars is not None:
            with self.lock:
                self.bars.finish(path)
        self.running.stop(path)
        self.counts[record.status] = self.counts.get(record.status, 0) + 1
        if self.quiet and record.status != Status.FAILED:
            return
        tried = f", {len(record.attempts)} attempts" if record.attempts else ""
        line = (
            f"{self.indent(path)}{MARKS.get(record.status, record.status)} {path} "
            f"({self.agents.step_details(path, step.type, record.duration)}{tried})"
        )
        if record.error:
            # masked before it is split: a secret spanning lines must go whole
            first, *rest = masked(run, record.error).splitlines() or [""]
            line += f": {first}"
            if rest:
                line += "\n" + "\n".join(f"{self.indent(path)}  | {r}" for r in rest)
        self.write(line)

    @hookimpl
    def before_step(self, run: Run, step: Step, path: str) -> None:
        if step.type == "agent" and not self.quiet:
            self.running.start(path)

    @hookimpl
    def on_agent_activity(self, path: str, action: dict[str, Any]) -> None:
        if not self.quiet:
            self.running.activity(path, action)

    @hookimpl
    def on_agent_usage(self, path: str, usage: dict[str, Any]) -> None:
        self.agents.add(path, usage)

    @hookimpl
    def on_step_skipped(self, run: Run, step: Step, path: str, reason: str) -> None:
        self.counts[Status.SKIPPED] = self.counts.get(Status.SKIPPED, 0) + 1
        if not self.quiet:
            self.write(f"{self.indent(path)}skipped {path} (when: {reason})")

    @hookimpl
    def on_loop_start(self, run: Run, step: Step, path: str, total: int, done: int) -> None:
        if not self.quiet:
            restored = f", {done} restored" if done else ""
            self.write(f"{self.indent(path)}loop {path}: {total} iterations{restored}")
        if self.bars is not None:
            with self.lock:
                self.bars.start(path, total, done)

    @hookimpl
    def on_iteration_finish(self, run: Run, step: Step, path: str, index: int, status: str) -> None:
        if self.bars is not None:
            with self.lock:
                self.bars.advance(path)

    @hookimpl
    def after_checkpoint(self, run: Run, checkpoint: CheckpointInfo) -> None:
        self.checkpoints += 1
        if not self.quiet:
            self.write(
                f"  checkpoint {checkpoint.checkpoint_id} saved "
                f"(#{checkpoint.seq}, {checkpoint.size} bytes, "
                f"{checkpoint.duration * 1000:.1f} ms)"
            )

    @hookimpl
    def on_notice(self, run: Run | None, message: str) -> None:
        # a multi-line notice (a report, a summary table) stays one indented block
        first, *rest = masked(run, message).splitlines() or [""]
        self.write("\n".join([f"note: {first}", *(f"      {line}" for line in rest)]))

    @hookimpl
    def workflow_finish(self, run: Run, outcome: RunOutcome) -> None:
        parts = [f"{n} {s}" for s, n in sorted(self.counts.items())]
        if self.checkpoints:
            parts.append(f"{self.checkpoints} checkpoints")
        summary = ", ".join(parts) or "no steps"
        self.running.stop_all()
        agents = self.agents.summary()
        if agents:
            self.write(agents)
        self.write(f"{run.workflow.name} {outcome.status} in {outcome.duration:.2f}s ({summary})")
        if outcome.status != Status.COMPLETED:
            if outcome.error:
                self.write(f"error: {masked(run, outcome.error).splitlines()[0]}")
            if run.stash.get(RESUMABLE, False) and not outcome.usage_error:
                self.write(f"resume with: {resume_command(run)}")


class AgentUsage:
    """Agent calls' cost and tokens: per step (for its line) and per role (the summary)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.steps: dict[str, list[dict[str, Any]]] = {}
        self.roles: dict[str, list[dict[str, Any]]] = {}

    def add(self, path: str, usage: dict[str, Any]) -> None:
        with self.lock:
            self.steps.setdefault(path, []).append(usage)
            self.roles.setdefault(str(usage.get("role")), []).append(usage)

    def step_details(self, path: str, kind: str, duration: float) -> str:
        """``agent, 4m12s, $0.84, 38k tokens`` for a step that asked agents."""
        with self.lock:
            calls = self.steps.pop(path, [])
        if not _reported(calls):
            return f"{kind}, {duration:.2f}s"
        return f"{kind}, {elapsed(duration)}, {_cost_and_tokens(calls)}"

    def summary(self) -> str:
        """``agents: implementer $0.75 (3 calls, 16k tokens), ...; total $0.85``."""
        with self.lock:
            roles = dict(self.roles)
        if not roles:
            return ""
        parts = []
        for role, calls in roles.items():
            count = f"{len(calls)} call{'s' if len(calls) != 1 else ''}"
            if not _reported(calls):  # a backend that tells nothing (``command``)
                parts.append(f"{role} ({count})")
                continue
            cost, tokens = _cost_and_tokens(calls).split(", ", 1)
            parts.append(f"{role} {cost} ({count}, {tokens})")
        every = [c for calls in roles.values() for c in calls]
        if not _reported(every):
            return f"agents: {', '.join(parts)}"
        known = [c for c in every if c.get("cost_usd") is not None]
        total = money(sum(_cost(c) for c in known)) if known else "$?"
        return f"agents: {', '.join(parts)}; total {total}"


def _reported(calls: list[dict[str, Any]]) -> bool:
    """True when some call reported a cost or tokens (``$?`` then means: set a price)."""
    return any(c.get("cost_usd") is not None or call_tokens(c) for c in calls)


def _cost(usage: dict[str, Any]) -> float:
    return float(usage.get("cost_usd") or 0.0)


def _cost_and_tokens(calls: list[dict[str, Any]]) -> str:
    known = [c for c in calls if c.get("cost_usd") is not None]
    cost = money(sum(_cost(c) for c in known)) if known else "$?"
    return f"{cost}, {tokens(sum(call_tokens(c) for c in calls))}"


def call_tokens(usage: dict[str, Any]) -> int:
    """Input, cached and output tokens of one agent call together."""
    return sum(int(usage.get(k) or 0) for k in ("input_tokens", "output_tokens", "cached_tokens"))


class RunningAgents:
    """Agent steps at work: elapsed time and their latest actions, under the step.

    On a terminal one status line is redrawn every second; elsewhere (pipes, CI logs)
    a plain line every ``PLAIN_EVERY`` seconds says the step is still running.
    """

    PLAIN_EVERY = 30.0

    def __init__(self, reporter: TerminalReporter, tty: bool) -> None:
        self.reporter = reporter
        self.tty = tty
        self.lock = threading.Lock()
        self.started: dict[str, float] = {}
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None
        self.status_shown = False

    def start(self, path: str) -> None:
        with self.lock:
            self.started[path] = time.monotonic()
            if self.thread is None:
                self.stopped.clear()
                self.thread = threading.Thread(target=self._tick, daemon=True)
                self.thread.start()

    def stop(self, path: str) -> None:
        with self.lock:
            self.started.pop(path, None)
            self._clear_status()

    def stop_all(self) -> None:
        with self.lock:
            self.started.clear()
            self._clear_status()
        self.stopped.set()

    def activity(self, path: str, action: dict[str, Any]) -> None:
        with self.lock:
            self._clear_status()
        # masked before it is cut, so no prefix of a secret survives the cut
        detail = shorten(masked(self.reporter.run, str(action.get("detail", ""))), 160)
        self.reporter.write(f"{self.reporter.indent(path)}  > {action.get('kind')} {detail}")

    def _clear_status(self) -> None:
        bars = self.reporter.bars
        if bars is not None and bars.active:
            with self.reporter.lock:
                bars.status(None)
        if self.status_shown:
            self.reporter.out.write("\r\033[K")
            self.reporter.out.flush()
            self.status_shown = False

    def _tick(self) -> None:
        last_plain = time.monotonic()
        while not self.stopped.wait(1.0):
            with self.lock:
                running = dict(self.started)
                if not running:
                    continue
                now = time.monotonic()
                text = ", ".join(f"{p} {elapsed(now - t)}" for p, t in running.items())
                bars = self.reporter.bars
                if bars is not None and bars.active:
                    with self.reporter.lock:
                        bars.status(f"running {text}")
                    continue
                if self.tty:
                    self.reporter.out.write(f"\r\033[K  running {text}")
                    self.reporter.out.flush()
                    self.status_shown = True
                    continue
                if now - last_plain < self.PLAIN_EVERY:
                    continue
                last_plain = now
            self.reporter.write(f"  still running {text}")


# the key of the running agents' status line among the loop bars (no path has a space)
STATUS_TASK = " status"


class LoopProgress:
    """Rich progress bars for running loops, above which step lines keep scrolling."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.progress: Any = None
        self.tasks: dict[str, Any] = {}

    @property
    def active(self) -> bool:
        return self.progress is not None

    def start(self, path: str, total: int, done: int) -> None:
        if self.progress is None:
            # rich is imported only when a loop runs on a terminal: startup stays cheap
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=Console(file=self.out),
                transient=True,
            )
            self.progress.start()
        self.tasks[path] = self.progress.add_task(path, total=total, completed=done)

    def advance(self, path: str) -> None:
        if path in self.tasks:
            self.progress.advance(self.tasks[path])

    def finish(self, path: str) -> None:
        task = self.tasks.pop(path, None)
        if task is not None:
            self.progress.remove_task(task)
        if self.progress is not None and set(self.tasks) <= {STATUS_TASK}:
            self.tasks.clear()
            self.progress.stop()
            self.progress = None

    def print(self, line: str) -> None:
        self.progress.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def status(self, text: str | None) -> None:
        """Show one status line (a running agent step) under the bars; None removes it."""
        if self.progress is None:
            return
        task = self.tasks.get(STATUS_TASK)
        if text is None:
            if task is not None:
                self.progress.remove_task(self.tasks.pop(STATUS_TASK))
        elif task is None:
            self.tasks[STATUS_TASK] = self.progress.add_task(text, total=None)
        else:
            self.progress.update(task, description=text)


class JsonReporter:
    """One JSON object per line on stdout: the machine interface for UIs and CI."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.lock = threading.Lock()

    def emit(self, event: str, run: Run | None = None, **fields: Any) -> None:
        """Print one event; its values are masked before they are encoded, never after."""
        values = {name: masked(run, value) for name, value in fields.items()}
        line = json.dumps(
            {"event": event, "time": time.time(), **values},
            default=lambda obj: masked(run, str(obj)),
        )
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()

    @hookimpl
    def workflow_start(self, run: Run) -> None:
        self.emit(
            "workflow_start",
            run,
            run_id=run.run_id,
            workflow=run.workflow.name,
            resumed_from=run.resumed_from,
        )

    @hookimpl
    def on_resume(self, run: Run, state: RunState) -> None:
        self.emit(
            "resume",
            run,
            run_id=run.run_id,
            checkpoint=run.resumed_from,
            restored=len(state.done_paths()),
        )

    @hookimpl
    def before_step(self, run: Run, step: Step, path: str) -> None:
        self.emit("step_start", run, run_id=run.run_id, path=path, type=step.type)

    @hookimpl
    def after_step(self, run: Run, step: Step, path: str, record: StepRecord) -> None:
        extra = {"attempts": record.attempts} if record.attempts else {}
        self.emit(
            "step_finish",
            run,
            run_id=run.run_id,
            path=path,
            type=step.type,
            status=record.status,
            duration=record.duration,
            error=record.error,
            **extra,
        )

    @hookimpl
    def on_step_skipped(self, run: Run, step: Step, path: str, reason: str) -> None:
        self.emit("step_skipped", run, run_id=run.run_id, path=path, reason=reason)

    @hookimpl
    def on_loop_start(self, run: Run, step: Step, path: str, total: int, done: int) -> None:
        self.emit("loop_start", run, run_id=run.run_id, path=path, total=total, restored=done)

    @hookimpl
    def after_checkpoint(self, run: Run, checkpoint: CheckpointInfo) -> None:
        self.emit(
            "checkpoint",
            run,
            run_id=run.run_id,
            checkpoint_id=checkpoint.checkpoint_id,
            seq=checkpoint.seq,
            size=checkpoint.size,
            duration=checkpoint.duration,
        )

    @hookimpl
    def on_notice(self, run: Run | None, message: str) -> None:
        self.emit("notice", run, run_id=run.run_id if run else None, message=message)

    @hookimpl
    def on_agent_session(self, run: Run, path: str, session: dict[str, Any] | None) -> None:
        if session is not None:
            self.emit("agent_session", run, run_id=run.run_id, path=path, **session)

    @hookimpl
    def on_agent_activity(self, run: Run, path: str, role: str, action: dict[str, Any]) -> None:
        self.emit("agent_activity", run, run_id=run.run_id, path=path, role=role, action=action)

    @hookimpl
    def on_agent_usage(self, run: Run, path: str, usage: dict[str, Any]) -> None:
        self.emit("agent_usage", run, run_id=run.run_id, path=path, usage=usage)

    @hookimpl
    def workflow_finish(self, run: Run, outcome: RunOutcome) -> None:
        fields: dict[str, Any] = {
            "run_id": run.run_id,
            "status": outcome.status,
            "duration": outcome.duration,
            "error": outcome.error,
        }
        if outcome.status == Status.COMPLETED:
            fields["outputs"] = outcome.outputs
        elif run.stash.get(RESUMABLE, False) and not outcome.usage_error:
            fields["resume_command"] = resume_command(run)
        self.emit("workflow_finish", run, **fields)
