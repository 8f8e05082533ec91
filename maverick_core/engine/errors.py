"""Error types that reach users.

Every error a person can cause (bad YAML, a bad expression, a bad CLI value, a
refused resume, a broken plugin) is a :class:`MaverickError`. The CLI prints its
one-line message and exits with its ``exit_code``; no traceback reaches the user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable


class MaverickError(Exception):
    """A user-facing error: one line, an exit code (2 = usage/definition/refusal)."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Location:
    """A position in a source file, 1-based, printed as ``file:line:col``."""

    __slots__ = ("column", "file", "line")

    def __init__(self, file: str, line: int, column: int) -> None:
        self.file = file
        self.line = line
        self.column = column

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def __repr__(self) -> str:
        return f"Location({self.file!r}, {self.line}, {self.column})"


class DefinitionError(MaverickError):
    """A workflow file is invalid; the message names ``file:line:col: path: what``."""

    def __init__(self, message: str, location: Location | None = None, path: str = "") -> None:
        self.location = location
        self.path = path
        self.reason = message
        prefix = f"{location}: " if location else ""
        where = f"{path}: " if path else ""
        super().__init__(f"{prefix}{where}{message}")


class DefinitionErrors(MaverickError):
    """Several definition errors found in one pass; printed one per line."""

    def __init__(self, errors: list[DefinitionError]) -> None:
        self.errors = errors
        super().__init__("\n".join(e.message for e in errors))


class ExpressionError(MaverickError):
    """An expression could not be parsed, or was refused by the sandbox.

    ``offset`` is the 0-based character offset inside the expression text where
    the problem is, when known; the loader turns it into a file position.
    """

    def __init__(self, message: str, offset: int | None = None) -> None:
        self.offset = offset
        super().__init__(message)


class EvaluationError(MaverickError):
    """An expression failed at run time (a missing key, a type mismatch)."""


class InputError(MaverickError):
    """A workflow input value is missing or of the wrong type."""


class PluginError(MaverickError):
    """A plugin failed to load or is invalid; names the plugin/distribution."""


class ResumeRefused(MaverickError):
    """A resume cannot go ahead (changed inputs or steps, nothing to resume, ...)."""


class LockHeld(ResumeRefused):
    """Another live process holds the run's lock."""


class StoreError(MaverickError):
    """A checkpoint store failed (unreachable, corrupt, unwritable).

    A failed write during a run fails that run loudly (exit 1 through the
    executor); outside a run (``runs list``) it is a one-line error, exit 2.
    """


class StepFailed(Exception):
    """Raised by a step type to fail its step with a message (not a traceback).

    This is what step types (and ``run_step`` wrappers) raise. ``exit_code`` and
    ``timed_out`` say why a step running a command failed, so that ``retry: {on: ...}``
    can tell a timeout or a given exit status from any other failure.

    :param message: one line (or a few) for the user.
    :param exit_code: the failing command's exit status, if a command failed.
    :param timed_out: True when the step ran out of time.
    """

    def __init__(
        self, message: str, *, exit_code: int | None = None, timed_out: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.timed_out = timed_out


class WorkflowFailed(Exception):
    """The executor's propagation of a failed step: the workflow fails with it (exit 1).

    Step types never raise it; the executor does, once it has recorded the failed
    step, and it unwinds through the composite steps around it (a loop, a branch, a
    subworkflow) to the run. A ``try`` step catches it to record the failure and go
    on. ``path`` names the step that failed, ``message`` says why; ``exit_code`` and
    ``timed_out`` are copied from the :class:`StepFailed` that started it.
    ``usage`` is set when the step refused a value the user gave (it raised
    :class:`InputError`): the run then exits 2, like any other bad input.
    """

    def __init__(
        self,
        path: str,
        message: str,
        *,
        usage: bool = False,
        exit_code: int | None = None,
        timed_out: bool = False,
    ) -> None:
        super().__init__(f"step '{path}' failed: {message}")
        self.path = path
        self.message = message
        self.usage = usage
        self.exit_code = exit_code
        self.timed_out = timed_out


class CheckpointNotSaved(WorkflowFailed):
    """A checkpoint could not be written: the run fails loudly; nothing catches it."""


class Interrupted(BaseException):
    """Raised inside the run on SIGINT, SIGTERM or SIGHUP; unwinds to the executor.

    A :class:`BaseException`, so code that catches ``Exception`` (a step type, a
    ``run_step`` wrapper) cannot swallow an interrupt by accident.
    """

    def __init__(self, signal_name: str = "SIGINT") -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


def describe_error(exc: BaseException) -> str:
    """The message a user sees for ``exc``: ours as written, others with their type."""
    if isinstance(exc, Interrupted):
        return f"interrupted by {exc.signal_name}"
    if isinstance(exc, WorkflowFailed):
        return str(exc)
    if isinstance(exc, StepFailed | MaverickError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most like ``word`` (a misspelling's likely meaning), or None.

    Only a mistake needs a suggestion, so :mod:`difflib` is imported here, not by
    every command that might one day report one.
    """
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1)
    return close[0] if close else None
