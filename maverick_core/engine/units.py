"""How amounts read in maverick's output: money, token counts, durations.

One place, so the step line, the run's summary, ``maverick runs show`` and the
devflow messages (budget, resume) all say ``$0.84``, ``38k tokens`` and ``4m12s``.
"""

from __future__ import annotations


def money(value: float) -> str:
    """``$0.84``; an amount under ten cents keeps four decimals (``$0.0042``)."""
    return f"${value:.2f}" if value >= 0.1 or value == 0 else f"${value:.4f}"


def tokens(count: int) -> str:
    """``950 tokens``, ``38k tokens``, ``1.2M tokens``."""
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f}M tokens"
    if count >= 1000:
        return f"{round(count / 1000)}k tokens"
    return f"{count} tokens"


def elapsed(seconds: float) -> str:
    """``2.5s``, ``42s``, ``4m12s``, ``1h02m``."""
    whole = int(seconds)
    if whole >= 3600:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    if whole >= 60:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{seconds:.1f}s" if seconds < 10 else f"{whole}s"
