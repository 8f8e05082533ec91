"""Small actions used by the bundled example workflows (``python`` steps)."""

from __future__ import annotations

from typing import Any


def numbers(count: int) -> list[int]:
    """``[1, 2, …, count]``."""
    return list(range(1, count + 1))


def square(value: int) -> int:
    """``value`` squared."""
    return value * value


def total(values: list[dict[str, Any]]) -> int:
    """The sum of the ``square`` outputs of a loop's iterations."""
    return sum(int(v["square"]) for v in values)
