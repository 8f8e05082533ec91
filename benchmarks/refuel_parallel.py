"""refuel --parallel: wall time of 6 issues at --parallel 3 against --parallel 1.

Run ``python benchmarks/refuel_parallel.py`` from the repository root. It builds
two identical git repositories (a local bare origin each) with 6 local issues, runs
the installed ``maverick refuel`` on each (``--parallel 1``, then ``--parallel 3``)
with the deterministic stand-in agent taking a fixed 2 s per call, and prints a
table with the ratio. The issue's target: parallel 3 takes at most 0.45 of the
sequential time. ``--delay S`` changes the agent's time per call, ``--json``
prints the figures as one JSON object.

Agent calls dominate a real refuel (minutes each), so a fixed delay per call is the
honest model: the ratio shows how much of the wall time the worktrees let overlap,
and what maverick itself adds (worktrees, git, validation, checkpoints) does not.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.fixtures.support import Maverick, make_repo, settings  # noqa: E402

ISSUES = 6
TARGET = 0.45


def issue_file(number: int) -> str:
    return (
        f"---\nnumber: {number}\ntitle: Tidy module {number}\nlabels: [tech-debt]\n---\n"
        "It is untidy.\n"
    )


def refuel_seconds(root: Path, parallel: int, delay: float) -> float:
    """Wall time of one ``maverick refuel --parallel N`` over the 6 issues."""
    files = {f".maverick/issues/{n}.md": issue_file(n) for n in range(1, ISSUES + 1)}
    mav = Maverick(make_repo(root, files, settings()), {"TEST_AGENT_DELAY": str(delay)})
    started = time.monotonic()
    result = mav.run("refuel", "--parallel", str(parallel), "--limit", str(ISSUES), timeout=600)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"refuel --parallel {parallel} failed:\n{result.stdout}{result.stderr}")
    calls = sum(mav.counts("end").values())
    if calls != ISSUES:
        raise SystemExit(f"expected {ISSUES} agent calls, saw {calls}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=2.0, help="seconds per agent call")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="maverick-refuel-bench-") as tmp:
        sequential = refuel_seconds(Path(tmp) / "p1", 1, args.delay)
        parallel = refuel_seconds(Path(tmp) / "p3", 3, args.delay)
    ratio = parallel / sequential
    figures = {
        "issues": ISSUES,
        "agent_delay_s": args.delay,
        "parallel_1_s": round(sequential, 2),
        "parallel_3_s": round(parallel, 2),
        "ratio": round(ratio, 3),
        "target": TARGET,
        "met": ratio <= TARGET,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"refuel over {ISSUES} local issues, stand-in agent {args.delay:g} s per call")
        print(f"  {'--parallel 1':<14} {sequential:8.2f} s")
        print(f"  {'--parallel 3':<14} {parallel:8.2f} s")
        verdict = "met" if ratio <= TARGET else "NOT met"
        print(f"  {'ratio':<14} {ratio:8.3f}   (target <= {TARGET}: {verdict})")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
