"""CLI start-up: three everyday commands against importing the libraries they build on.

``benchmarks/run.py`` calls :func:`measure_startup` (``measure_startup(base, rounds)``
returns a :class:`StartupFigures`; its ``cli_startup_ratio`` is the JSON key). Run
on its own, ``python benchmarks/startup.py [--rounds N] [--json]`` prints the figures.

Each command is the installed ``maverick`` console script (the one next to
``sys.executable``, as a user's shell runs it) started as a real subprocess:

- ``maverick --help``;
- ``maverick runs list`` in a project whose store holds one finished run;
- ``maverick run one_step.yaml``: a workflow of one ``shell`` step, in a project of
  its own (its store gains a run per round; ``runs list`` keeps its one).

The baseline is ``python -c "import click, pluggy, yaml, attrs, cattrs"``. Every round
starts each command once with bytecode cached (``PYTHONPYCACHEPREFIX`` under ``base``,
as after an ordinary install) and once without (``PYTHONDONTWRITEBYTECODE=1``: an
editable install then compiles maverick's sources at every start), the eight starts
in an order that rotates from round to round so a drift in the machine's load hits
every command alike. Figures are medians over rounds, after two warm-up rounds.
``cli_startup_ratio`` is the worst of the three cached commands over the cached
baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import attrs
from harness import install_workflow, make_project
from maverick_bench import maverick_command, subprocess_env, wall_seconds

BASELINE_IMPORTS = "import click, pluggy, yaml, attrs, cattrs"
ONE_STEP = """\
version: "1.0"
name: one_step
steps:
  - {name: hello, type: shell, command: echo hi}
"""
COMMANDS: dict[str, list[str]] = {
    "help": ["--help"],
    "runs_list": ["runs", "list"],
    "run": ["run", "one_step.yaml"],
}
"""Command name (as in the figures) -> ``maverick`` arguments."""
WARMUP_ROUNDS = 2


@attrs.frozen
class StartupFigures:
    """Median wall times in milliseconds, with and without a bytecode cache."""

    commands_ms: dict[str, float]  # command name -> median, bytecode cached
    commands_uncached_ms: dict[str, float]
    baseline_ms: float  # the bare imports, cached
    baseline_uncached_ms: float

    def ratios(self, cached: bool = True) -> dict[str, float]:
        """Command name -> its median over the baseline's."""
        commands = self.commands_ms if cached else self.commands_uncached_ms
        baseline = self.baseline_ms if cached else self.baseline_uncached_ms
        return {name: ms / baseline for name, ms in commands.items()}

    @property
    def cli_startup_ratio(self) -> float:
        """The worst cached command over the cached baseline (target <= 1.15)."""
        return max(self.ratios().values())

    @property
    def cli_startup_ratio_uncached(self) -> float:
        """The same without a bytecode cache."""
        return max(self.ratios(cached=False).values())

    def as_dict(self) -> dict[str, object]:
        """Plain data (for ``--json``)."""
        return {
            "commands_ms": self.commands_ms,
            "commands_uncached_ms": self.commands_uncached_ms,
            "baseline_ms": self.baseline_ms,
            "baseline_uncached_ms": self.baseline_uncached_ms,
            "cli_startup_ratio": self.cli_startup_ratio,
            "cli_startup_ratio_uncached": self.cli_startup_ratio_uncached,
        }


def _wall_ms(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    return wall_seconds(command, cwd, env) * 1000


def measure_startup(base: Path, rounds: int) -> StartupFigures:
    """Time the three commands and the bare imports, interleaved, ``rounds`` times each."""
    maverick = maverick_command()
    listing = make_project(base, "startup-list")
    running = make_project(base, "startup-run")
    for project in (listing, running):
        install_workflow(project, "one_step.yaml", ONE_STEP)
    env = {cached: subprocess_env(base, bytecode_cache=cached) for cached in (True, False)}
    _wall_ms([*maverick, *COMMANDS["run"]], listing, env[True])  # the run runs list shows

    starts: list[tuple[str, bool, list[str], Path]] = [
        ("baseline", cached, [sys.executable, "-c", BASELINE_IMPORTS], base)
        for cached in (True, False)
    ]
    for name, args in COMMANDS.items():
        cwd = running if name == "run" else listing
        starts += [(name, cached, [*maverick, *args], cwd) for cached in (True, False)]

    times: dict[tuple[str, bool], list[float]] = {}
    for index in range(WARMUP_ROUNDS + rounds):
        shift = index % len(starts)
        for name, cached, command, cwd in starts[shift:] + starts[:shift]:
            ms = _wall_ms(command, cwd, env[cached])
            if index >= WARMUP_ROUNDS:
                times.setdefault((name, cached), []).append(ms)

    def median(name: str, cached: bool) -> float:
        return statistics.median(times[name, cached])

    return StartupFigures(
        commands_ms={name: median(name, True) for name in COMMANDS},
        commands_uncached_ms={name: median(name, False) for name in COMMANDS},
        baseline_ms=median("baseline", True),
        baseline_uncached_ms=median("baseline", False),
    )


def format_figures(figures: StartupFigures) -> str:
    """The figures as a small table, one line per command."""
    lines = [f"{'command':<12} {'cached':>16} {'uncached':>16}"]
    cached, uncached = figures.ratios(), figures.ratios(cached=False)
    for name in COMMANDS:
        lines.append(
            f"{name:<12} {figures.commands_ms[name]:7.1f} ms {cached[name]:5.2f}x"
            f" {figures.commands_uncached_ms[name]:7.1f} ms {uncached[name]:5.2f}x"
        )
    lines.append(
        f"{'baseline':<12} {figures.baseline_ms:7.1f} ms {'':6} "
        f"{figures.baseline_uncached_ms:7.1f} ms"
    )
    lines.append(f"cli_startup_ratio {figures.cli_startup_ratio:.2f} (target <= 1.15)")
    return "\n".join(lines)


def main() -> None:
    """``python benchmarks/startup.py [--rounds N] [--json]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21, help="rounds after the warm-up")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="maverick-startup-") as tmp:
        figures = measure_startup(Path(tmp), options.rounds)
    print(json.dumps(figures.as_dict(), indent=2) if options.json else format_figures(figures))


if __name__ == "__main__":
    main()
