"""The terminal reporter: the only plugin that prints during a run.

Like pytest's terminal reporter it is an ordinary plugin (block it with
``-p no:terminal``). ``--quiet`` prints only problems and the summary;
``--json`` prints one JSON event per line instead (the machine interface).
Secret input values are masked in everything it prints.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, TextIO

from maverick_core import hookimpl
from maverick_core.engine.run import Status

if TYPE_CHECKING:
    from maverick_core.engine.config import Config
    from maverick_core.engine.run import CheckpointInfo, Run, RunOutcome, RunState, StepRecord

MARKS = {Status.COMPLETED: "ok", Status.FAILED: "FAILED", Status.SKIPPED: "skipped"}


def secret_values(run: Run) -> list[str]:
    """The run's secret input values (masked in output)."""
    return [
        str(run.inputs[name])
        for name, spec in run.workflow.inputs.items()
        if spec.secret and run.inputs.get(name) not in (None, "")
    ]


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
        self.secrets: list[str] = []
        # a live progress bar only on a terminal: pipes and CI logs get plain lines
        self.bars = LoopProgress(out) if out.isatty() and not quiet else None

    def write(self, line: str) -> None:
        for secret in self.secrets:
            line = line.replace(secret, "***")
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
        self.secrets = secret_values(run)
        if not self.quiet:
            verb = "resuming" if run.resumed else "running"
            self.write(f"{verb} {run.workflow.name} (run {run.run_id})")

    @hookimpl
    def on_resume(self, run: Run, state: RunState) -> None:
        if not self.quiet:
            restored = len(state.done_paths())
            self.write(
                f"  restored {restored} completed step records from checkpoint '{run.resumed_from}'"
            )

    @hookimpl
    def after_step(self, run: Run, step: Any, path: str, record: StepRecord) -> None:
        if self.bars is not None:
            with self.lock:
                self.bars.finish(path)
        self.counts[record.status] = self.counts.get(record.status, 0) + 1
        if self.quiet and record.status != Status.FAILED:
            return
        line = (
            f"{self.indent(path)}{MARKS.get(record.status, record.status)} {path} "
            f"({step.type}, {record.duration:.2f}s)"
        )
        if record.error:
            line += f": {record.error.splitlines()[0] if record.error else ''}"
            rest = record.error.splitlines()[1:]
            if rest:
                line += "\n" + "\n".join(f"{self.indent(path)}  | {r}" for r in rest)
        self.write(line)

    @hookimpl
    def on_step_skipped(self, run: Run, step: Any, path: str, reason: str) -> None:
        self.counts[Status.SKIPPED] = self.counts.get(Status.SKIPPED, 0) + 1
        if not self.quiet:
            self.write(f"{self.indent(path)}skipped {path} (when: {reason})")

    @hookimpl
    def on_loop_start(self, run: Run, step: Any, path: str, total: int, done: int) -> None:
        if not self.quiet:
            restored = f", {done} restored" if done else ""
            self.write(f"{self.indent(path)}loop {path}: {total} iterations{restored}")
        if self.bars is not None:
            with self.lock:
                self.bars.start(path, total, done)

    @hookimpl
    def on_iteration_finish(self, run: Run, step: Any, path: str, index: int, status: str) -> None:
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
        first, *rest = message.splitlines() or [""]
        self.write("\n".join([f"note: {first}", *(f"      {line}" for line in rest)]))

    @hookimpl
    def workflow_finish(self, run: Run, outcome: RunOutcome) -> None:
        parts = [f"{n} {s}" for s, n in sorted(self.counts.items())]
        if self.checkpoints:
            parts.append(f"{self.checkpoints} checkpoints")
        summary = ", ".join(parts) or "no steps"
        self.write(f"{run.workflow.name} {outcome.status} in {outcome.duration:.2f}s ({summary})")
        if outcome.status != Status.COMPLETED:
            if outcome.error:
                self.write(f"error: {outcome.error.splitlines()[0]}")
            if run.config.options.get("resumable") and not outcome.usage_error:
                self.write(f"resume with: {resume_command(run)}")


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
        if self.progress is not None and not self.tasks:
            self.progress.stop()
            self.progress = None

    def print(self, line: str) -> None:
        self.progress.console.print(line, markup=False, highlight=False, soft_wrap=True)


class JsonReporter:
    """One JSON object per line on stdout: the machine interface for UIs and CI."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.lock = threading.Lock()
        self.secrets: list[str] = []

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, "time": time.time(), **fields}, default=str)
        for secret in self.secrets:
            line = line.replace(secret, "***")
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()

    @hookimpl
    def workflow_start(self, run: Run) -> None:
        self.secrets = secret_values(run)
        self.emit(
            "workflow_start",
            run_id=run.run_id,
            workflow=run.workflow.name,
            resumed_from=run.resumed_from,
        )

    @hookimpl
    def on_resume(self, run: Run, state: RunState) -> None:
        self.emit(
            "resume",
            run_id=run.run_id,
            checkpoint=run.resumed_from,
            restored=len(state.done_paths()),
        )

    @hookimpl
    def before_step(self, run: Run, step: Any, path: str) -> None:
        self.emit("step_start", run_id=run.run_id, path=path, type=step.type)

    @hookimpl
    def after_step(self, run: Run, step: Any, path: str, record: StepRecord) -> None:
        self.emit(
            "step_finish",
            run_id=run.run_id,
            path=path,
            type=step.type,
            status=record.status,
            duration=record.duration,
            error=record.error,
        )

    @hookimpl
    def on_step_skipped(self, run: Run, step: Any, path: str, reason: str) -> None:
        self.emit("step_skipped", run_id=run.run_id, path=path, reason=reason)

    @hookimpl
    def on_loop_start(self, run: Run, step: Any, path: str, total: int, done: int) -> None:
        self.emit("loop_start", run_id=run.run_id, path=path, total=total, restored=done)

    @hookimpl
    def after_checkpoint(self, run: Run, checkpoint: CheckpointInfo) -> None:
        self.emit(
            "checkpoint",
            run_id=run.run_id,
            checkpoint_id=checkpoint.checkpoint_id,
            seq=checkpoint.seq,
            size=checkpoint.size,
            duration=checkpoint.duration,
        )

    @hookimpl
    def on_notice(self, run: Run | None, message: str) -> None:
        self.emit("notice", run_id=run.run_id if run else None, message=message)

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
        elif run.config.options.get("resumable") and not outcome.usage_error:
            fields["resume_command"] = resume_command(run)
        self.emit("workflow_finish", **fields)


@hookimpl
def configure(config: Config) -> None:
    """Register the reporter that fits the options (--json, --quiet)."""
    reporter: object
    if config.options.get("json"):
        reporter = JsonReporter(sys.stdout)
    else:
        reporter = TerminalReporter(config, sys.stdout, bool(config.options.get("quiet")))
    config.pm.register(reporter, name="terminalreporter")
