"""Secret masking: the one place that knows a run's secret values and hides them.

Every sink (the terminal and ``--json`` reporters, the run record, the journal and
snapshots, error messages) masks *values* with :meth:`SecretMasker.mask` before it
encodes or shortens them, so a secret never leaks in an escaped form (a JSON
``\\u00e9`` or ``\\"``) or as the prefix left by truncation.

What counts as a secret value: every string of at least :data:`MIN_SECRET_CHARS`
characters (not counting surrounding whitespace) inside a ``secret: true`` input (the
input itself, or any key or scalar nested in an object or list secret) and the text
forms of its integers and numbers of that length. Shorter values are not masked:
``17``, ``yes`` or ``abc`` occur by chance in unrelated text (timestamps, durations,
words), so replacing them would corrupt output (a timestamp, a JSON event) while
hiding nothing a guess would not find.
Booleans and nulls are never secret text.

A masker is created with each run (``run.secrets``) and gains the values of a
subworkflow's own secret inputs when that subworkflow starts. Maskers of live runs
are also reachable through :func:`mask_active`, for messages built where no run is
at hand (an expression error that shows a value, the command line's last error line).
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from maverick_core.engine.plaindata import Descend, walk_plain

if TYPE_CHECKING:
    from maverick_core.engine.dsl.model import Workflow

MIN_SECRET_CHARS = 4
"""Shortest string (or number's text) that is masked; see the module docstring."""

MASK = "***"

_LIVE: weakref.WeakSet[SecretMasker] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


def secret_texts(value: Any) -> set[str]:
    """Every text of a secret value that must never be shown.

    Strings (keys included) and the text forms of numbers, found recursively in
    mappings and lists; only those of at least :data:`MIN_SECRET_CHARS` characters
    besides surrounding whitespace (which output often loses).
    """
    found: set[str] = set()
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, bool) or item is None:
            continue
        if isinstance(item, str):
            found.add(item)
        elif isinstance(item, int):
            found.add(str(item))
        elif isinstance(item, float):
            found.add(repr(item))
            if item.is_integer():
                found.add(str(int(item)))
        elif isinstance(item, Mapping):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return {text for text in found if len(text.strip()) >= MIN_SECRET_CHARS}


def _forms(text: str) -> set[str]:
    """The raw text, the text as output stripping leaves it, and the escaped forms it
    takes inside JSON or a Python repr."""
    forms = {
        text,
        text.strip(),
        text.rstrip("\n"),
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        repr(text)[1:-1],
    }
    return {form for form in forms if len(form) >= MIN_SECRET_CHARS}


class SecretMasker:
    """Replaces a run's secret values with ``***`` in text and in plain data.

    Thread-safe: loop iterations mask concurrently, and a subworkflow may add its
    secrets while other iterations run.
    """

    def __init__(self, values: Iterable[Any] = ()) -> None:
        self._lock = threading.Lock()
        self._texts: frozenset[str] = frozenset()
        # every form of every secret, longest first, so a secret containing another is
        # replaced whole
        self._forms: tuple[str, ...] = ()
        for value in values:
            self.add(value)
        with _LIVE_LOCK:
            _LIVE.add(self)

    @classmethod
    def for_inputs(cls, workflow: Workflow, inputs: Mapping[str, Any]) -> SecretMasker:
        """A masker for the values of ``workflow``'s secret inputs."""
        masker = cls()
        masker.add_inputs(workflow, inputs)
        return masker

    def add_inputs(self, workflow: Workflow, inputs: Mapping[str, Any]) -> None:
        """Add the values of ``workflow``'s secret inputs found in ``inputs``."""
        for name, spec in workflow.inputs.items():
            if spec.secret and name in inputs:
                self.add(inputs[name])

    def add(self, value: Any) -> None:
        """Treat ``value`` (and every key and scalar inside it) as secret from now on."""
        texts = secret_texts(value)
        if not texts or texts <= self._texts:
            return
        with self._lock:
            self._texts = self._texts | texts
            forms = set().union(*(_forms(text) for text in self._texts))
            self._forms = tuple(sorted(forms, key=lambda f: (-len(f), f)))

    def __bool__(self) -> bool:
        return bool(self._forms)

    @property
    def forms(self) -> tuple[str, ...]:
        """Every form of every secret, longest first: a new tuple whenever a secret is
        added (so a cache of masked text can tell it is stale)."""
        return self._forms

    def mask_text(self, text: str) -> str:
        """``text`` with every secret (raw, JSON-escaped or repr-escaped) replaced."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def mask(self, value: Any) -> Any:
        """A copy of plain data with secrets masked in every string, key and number.

        A number equal to a secret number becomes ``"***"``; anything that is not
        plain data is returned as is (encoders mask its text form themselves).
        """
        if not self._forms:
            return value
        return walk_plain(value, self._mask_leaf, key=self._mask_key)

    def _mask_leaf(self, value: Any, path: str) -> Any:
        if isinstance(value, str):
            return self.mask_text(value)
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int | float):
            text = repr(value) if isinstance(value, float) else str(value)
            return MASK if text in self._texts else value
        if isinstance(value, Mapping):
            return Descend(dict(value.items()))
        if isinstance(value, tuple):
            return Descend(list(value), then=tuple)
        return value

    def _mask_key(self, key: Any, path: str) -> Any:
        return self.mask_text(key) if isinstance(key, str) else self._mask_leaf(key, path)

    def shorten(self, value: Any, limit: int = 60) -> str:
        """``repr(value)`` masked, then cut to ``limit`` characters (masking first, so
        no prefix of a secret survives the cut)."""
        return shorten(repr(self.mask(value)), limit)


def unmasked_secret_inputs(workflow: Workflow, inputs: Mapping[str, Any]) -> list[str]:
    """Names of secret inputs holding a value too short to be masked (``17``, ``abc``).

    The run says so once, rather than letting a user believe such a value is hidden.
    Keys are not looked at: short keys are names (``id``, ``pin``), not news.
    """
    short = []
    for name, spec in workflow.inputs.items():
        if not spec.secret or inputs.get(name) is None:
            continue
        if any(
            isinstance(v, str | int | float)
            and not isinstance(v, bool)
            and 0 < len(str(v).strip()) < MIN_SECRET_CHARS
            for v in _scalars(inputs[name])
        ):
            short.append(name)
    return short


def _scalars(value: Any) -> list[Any]:
    found: list[Any] = []
    walk_plain(value, lambda leaf, _path: found.append(leaf))
    return found


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with ``...``."""
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."


def mask_active(value: Any) -> Any:
    """``value`` masked with the secrets of every live run in this process.

    For messages built where no run is at hand; sinks that have a run use
    ``run.secrets``.
    """
    with _LIVE_LOCK:
        maskers = list(_LIVE)
    for masker in maskers:
        value = masker.mask(value)
    return value


def shorten_value(value: Any, limit: int = 60) -> str:
    """``repr(value)`` for an error message: masked (every live run's secrets), then cut."""
    return shorten(repr(mask_active(value)), limit)
