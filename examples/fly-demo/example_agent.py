#!/usr/bin/env python3
"""EXAMPLE AGENT for the fly demo: a deterministic stand-in, NOT an AI.

maverick's ``command`` agent backend runs this script with the prompt on stdin
and the role in ``MAVERICK_AGENT``. It "works" by copying prepared files:

- implementer: for each task id in the prompt (``T003``), copies
  ``example_edits/T003/`` over the project;
- fixer: for each task id in the prompt, copies ``example_fixes/<id>/`` if there is one;
- issue_fixer: for ``Issue #N`` in the prompt, copies ``example_edits/issue-N/``;
- reviewer: prints a short review ending in a recommendation.

It waits EXAMPLE_AGENT_DELAY seconds (default 2) first, like a real agent would
think, so there is time to press Ctrl-C and try ``maverick fly --resume``.
Replace it with a real agent in maverick.yaml, e.g. ``command: [claude, -p]``.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def apply(prepared: Path) -> list[str]:
    """Copy every file under ``prepared`` into the project; return their paths."""
    copied = []
    for source in sorted(p for p in prepared.rglob("*") if p.is_file()):
        relative = source.relative_to(prepared)
        target = HERE / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        copied.append(str(relative))
    return copied


def apply_each(kind: str, names: list[str]) -> str:
    """Apply the prepared edits of each name, and say what was done."""
    lines = []
    for name in names:
        prepared = HERE / kind / name
        if prepared.is_dir():
            lines.append(f"{name}: changed {', '.join(apply(prepared))}")
        else:
            lines.append(f"{name}: nothing prepared in {kind}/")
    return "\n".join(lines) or "no task ids in the prompt: nothing to do"


def main() -> int:
    prompt = sys.stdin.read()
    role = os.environ.get("MAVERICK_AGENT", "")
    time.sleep(float(os.environ.get("EXAMPLE_AGENT_DELAY", "2")))
    task_ids = list(dict.fromkeys(re.findall(r"\bT\d{3}\b", prompt)))
    if role == "implementer":
        print(apply_each("example_edits", task_ids))
    elif role == "fixer":
        print(apply_each("example_fixes", task_ids))
    elif role == "issue_fixer":
        issues = re.findall(r"Issue #(\d+)", prompt)[:1]
        print(apply_each("example_edits", [f"issue-{n}" for n in issues]))
    elif role == "reviewer":
        files = len(re.findall(r"^- [AMDR] ", prompt, re.MULTILINE))
        print(f"The example reviewer read {files} changed file(s); the tests cover them.")
        print("Recommendation: approve")
    else:
        print(f"example agent: unknown role {role!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
