"""Arithmetic operations of the calculator."""


def add(a: int, b: int) -> int:
    """The sum of a and b."""
    return a + b


def subtract(a: int, b: int) -> int:
    """The difference a - b."""
    return a - b
