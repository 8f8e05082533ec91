"""The workflow language as frozen attrs models.

Values that may hold ``${{ … }}`` are typed with the NewTypes below; the loader
turns such strings into compiled :class:`~maverick_core.engine.dsl.expressions.Template`
objects before structuring, so a model field holds either a plain value or a
template, and the executor renders it when the step runs.

Step types form a tagged union on ``type``: each step type's plugin registers a
subclass of :class:`Step`; the loader picks the class by the ``type`` key.
"""

from __future__ import annotations

import re
from typing import Any, NewType

import attrs

from maverick_core.engine.plainclass import attrs_repr

Text = NewType("Text", str)
"""A string that may contain expressions (interpolated as text)."""

Condition = NewType("Condition", object)
"""A boolean, or an expression evaluated for its truth."""

Data = NewType("Data", object)
"""Any YAML value; strings in it may contain expressions."""

Count = NewType("Count", int)
"""A positive integer, or an expression that evaluates to one."""

Seconds = NewType("Seconds", float)
"""A positive number of seconds."""

Attempts = NewType("Attempts", int)
"""A number of attempts: an integer of at least 1 (no expressions)."""

Delay = NewType("Delay", float)
"""A number of seconds that may be zero, never negative."""

Factor = NewType("Factor", float)
"""A multiplier of at least 1."""

RetryConditions = NewType("RetryConditions", list)  # type: ignore[type-arg]
"""Which failures are retried: ``any``, ``timeout`` and non-zero exit codes (one or a list)."""

RETRY_KEYWORDS = ("any", "timeout")

INPUT_TYPES = ("string", "integer", "number", "boolean", "list", "object")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
"""What an input's ``env:`` may name: a portable environment variable name."""

CHECKPOINT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def checkpoint_id_problem(checkpoint_id: str) -> str | None:
    """Why ``checkpoint_id`` is not a valid checkpoint id, or None when it is.

    The one rule, used by the loader for literal ids and by the executor for ids
    computed at run time: ids become file names and appear in commands.
    """
    if CHECKPOINT_ID_RE.match(checkpoint_id):
        return None
    return (
        f"invalid checkpoint id {checkpoint_id!r} (letters, digits, '.', '_' and '-' only, "
        "starting with a letter or digit, at most 128 characters)"
    )


class _Missing:
    """Sentinel type for "no default given"."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


@attrs.frozen(kw_only=True)
class InputSpec:
    """A declared workflow input.

    :ivar secret: never stored, never printed (masked by ``run.secrets``).
    :ivar env: an environment variable the value is read from when ``-i`` does not
        give it (after ``MAVERICK_INPUT_<NAME>``), so a secret stays off command lines.
    """

    __repr__ = attrs_repr  # attrs then builds none (engine/plainclass.py)

    type: str = "string"
    required: bool = False
    default: Any = MISSING
    description: str = ""
    secret: bool = False
    env: str | None = None

    @property
    def has_default(self) -> bool:
        """True when a default was declared."""
        return self.default is not MISSING


@attrs.frozen(kw_only=True)
class Retry:
    """``retry:`` on a step: run it again when it fails (the built-in ``retry`` plugin).

    :ivar max_attempts: attempts in all, the first one included.
    :ivar backoff: seconds to wait before the second attempt.
    :ivar factor: the wait is multiplied by this before each further attempt.
    :ivar on: the failures retried: ``any``, ``timeout`` (the step ran out of time)
        and exit codes of a failing command.
    """

    __repr__ = attrs_repr  # attrs then builds none (engine/plainclass.py)

    max_attempts: Attempts
    backoff: Delay = Delay(0.0)
    factor: Factor = Factor(2.0)
    on: RetryConditions = attrs.field(factory=lambda: RetryConditions(["any"]))

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt`` (2 or more)."""
        return float(self.backoff * self.factor ** max(0, attempt - 2))


@attrs.frozen(kw_only=True)
class Step:
    """Fields every step has. Step types subclass this with their own fields."""

    __repr__ = attrs_repr  # attrs then builds none (engine/plainclass.py)

    name: str
    type: str
    when: Condition | None = None
    checkpoint: bool = False
    description: str = ""
    retry: Retry | None = None

    def children(self) -> list[Step]:
        """Steps nested inside this one (loop bodies, branch options)."""
        return []

    def failure_handling(self) -> str | None:
        """What this step does when one of its children fails, if it catches the failure.

        None (the default): a child's failure fails this step. A step type that catches
        it (``try``) says in a few words what happens instead; diagrams draw that path.
        """
        return None


@attrs.frozen(kw_only=True)
class ShellStep(Step):
    """Run a shell command; output ``{stdout, stderr, returncode}``."""

    __repr__ = attrs_repr  # attrs then builds none (engine/plainclass.py)

    command: Text
    env: dict[str, Text] = attrs.field(factory=dict)
    cwd: Text | None = None
    timeout: Seconds | None = None


@attrs.frozen(kw_only=True)
class Workflow:
    """A loaded workflow.

    :ivar source: the file it was loaded from ("" for in-memory definitions).
    :ivar fingerprints: top-level step name -> hash of its definition (nested steps
        included), used to refuse resuming across a changed step.
    """

    __repr__ = attrs_repr  # attrs then builds none (engine/plainclass.py)

    version: str
    name: str
    steps: list[Step]
    description: str = ""
    inputs: dict[str, InputSpec] = attrs.field(factory=dict)
    outputs: dict[str, Data] = attrs.field(factory=dict)
    source: str = ""
    fingerprints: dict[str, str] = attrs.field(factory=dict)
