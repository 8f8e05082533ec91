"""Review verdicts: findings, the strictest recommendation, excluded paths."""

from __future__ import annotations

from maverick_core.devflow.review import (
    drop_excluded,
    excluded,
    findings_of,
    recommendation_of,
    strictest,
)

ANSWER = """\
Looks mostly fine.

- src/a.py:3: the loop never ends
* src/b.py:9: missing test
1. docs are stale
Recommendation: request_changes
"""


def test_findings_are_the_list_items_of_a_review() -> None:
    assert findings_of(ANSWER) == [
        "src/a.py:3: the loop never ends",
        "src/b.py:9: missing test",
        "docs are stale",
    ]
    assert findings_of("- **Recommendation**: approve") == []


def test_the_strictest_recommendation_wins() -> None:
    assert strictest(["approve", "request_changes", "comment"]) == "request_changes"
    assert strictest(["approve", "comment"]) == "comment"
    assert strictest(["approve", "approve"]) == "approve"
    assert recommendation_of("no verdict line") == "comment"


def test_exclude_globs_match_paths_and_names() -> None:
    assert excluded("vendor/pkg/mod.py", ["vendor/*"])
    assert excluded("sub/poetry.lock", ["*.lock"])
    assert not excluded("src/vendor.py", ["vendor/*"])


def test_excluded_files_are_dropped_from_a_diff() -> None:
    diff = (
        "diff --git a/src/a.py b/src/a.py\n+A = 1\n"
        "diff --git a/vendor/x.py b/vendor/x.py\n+X = 1\n"
        "diff --git a/src/b.py b/src/b.py\n+B = 1\n"
    )
    kept = drop_excluded(diff, ["vendor/*"])
    assert "vendor/x.py" not in kept and "+X = 1" not in kept
    assert "+A = 1" in kept and "+B = 1" in kept
