"""Review rounds: who reviews, what they found, what the strictest verdict is.

``maverick.yaml`` says who reviews and how far fixing goes::

    review:
      reviewers: [spec_reviewer, technical_reviewer]   # default: [reviewer]
      max_review_rounds: 2      # reviews at most this often (fixes in between)
      exclude: ["vendor/*", "*.lock"]   # paths kept out of the reviewers' diff

A reviewer is a role (served by ``agents.<role>``, else ``agents.default``) with a
prompt template (``<role>.md`` when one exists, else ``reviewer.md``); the mapping
form ``{name, role, template}`` sets them apart. Each round, every reviewer looks at
the change; their findings (the answer's list items) and recommendations are
combined here, the strictest recommendation winning, so one reviewer asking for
changes is enough to ask the fixer.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from maverick_core.api import StepFailed
from maverick_core.devflow.agents import missing_roles_message, resolve_role, template_text

DEFAULT_MAX_ROUNDS = 2
STRICTNESS = {"approve": 0, "comment": 1, "request_changes": 2}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
RECOMMENDATION_RE = re.compile(
    r"^[\s>*_#-]*recommendation[\s*_]*:[\s*_`]*(approve|request[ _-]?changes|comment)\b",
    re.IGNORECASE | re.MULTILINE,
)
FINDING_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?P<text>\S.*?)\s*$")


def recommendation_of(answer: str) -> str:
    """The reviewer's ``Recommendation: ...`` line (approve, request_changes, comment).

    A review without one is a ``comment``: it is never read as an approval.
    """
    match = RECOMMENDATION_RE.search(answer or "")
    if not match:
        return "comment"
    word = re.sub(r"[ _-]", "", match.group(1).lower())
    return "request_changes" if word == "requestchanges" else word


def findings_of(answer: str) -> list[str]:
    """The list items of a review (``- …``, ``* …``, ``1. …``): its findings."""
    found = []
    for line in (answer or "").splitlines():
        match = FINDING_RE.match(line)
        if match and not RECOMMENDATION_RE.match(line):
            found.append(match.group("text"))
    return found


def strictest(recommendations: list[str]) -> str:
    """The strictest of several recommendations (request_changes > comment > approve)."""
    return max(recommendations, key=lambda r: STRICTNESS.get(r, 1), default="comment")


# ----------------------------------------------------------------------------- settings


def _section(settings: dict[str, Any]) -> dict[str, Any]:
    section = settings.get("review") or {}
    if not isinstance(section, dict):
        raise StepFailed("maverick.yaml: 'review' must be a mapping (reviewers, exclude, ...)")
    return section


def _reviewer(root: Any, entry: Any, index: int) -> dict[str, str]:
    where = f"maverick.yaml: review.reviewers[{index}]"
    if isinstance(entry, str):
        entry = {"role": entry}
    if not isinstance(entry, dict) or not isinstance(entry.get("role"), str):
        raise StepFailed(f"{where}: expected a role name or {{role: NAME, template: NAME}}")
    unknown = sorted(set(entry) - {"name", "role", "template"})
    if unknown:
        raise StepFailed(f"{where}: unknown key '{unknown[0]}' (keys: name, role, template)")
    role = entry["role"]
    name = entry.get("name", role)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise StepFailed(f"{where}: name {name!r} must be letters, digits, '_' or '-'")
    template = entry.get("template")
    if template is None:
        try:
            template_text(root, role)
            template = role
        except StepFailed:
            template = "reviewer"
    if not isinstance(template, str):
        raise StepFailed(f"{where}: template must be a prompt template name")
    return {"name": name, "role": role, "template": template}


def review_settings(ctx: Any) -> dict[str, Any]:
    """Action ``review.settings``: reviewers, rounds and excluded paths from ``maverick.yaml``.

    Fails before any reviewer is asked when one of their roles has no agent.

    :returns: ``{reviewers: [{name, role, template}], max_rounds, exclude, fixer}``;
        ``fixer`` is false when no agent serves the ``fixer`` role (findings are
        then reported, not fixed).
    """
    section = _section(ctx.config.settings)
    entries = section.get("reviewers", ["reviewer"])
    if not isinstance(entries, list) or not entries:
        raise StepFailed("maverick.yaml: review.reviewers must be a non-empty list of roles")
    reviewers = [_reviewer(ctx.config.root, entry, i) for i, entry in enumerate(entries)]
    names = [r["name"] for r in reviewers]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise StepFailed(
            f"maverick.yaml: review.reviewers: '{twice[0]}' appears twice "
            "(give one of them a name: {name: other, role: ...})"
        )
    missing = sorted({r["role"] for r in reviewers if resolve_role(ctx.config, r["role"]) is None})
    if missing:
        raise StepFailed(missing_roles_message(missing))
    rounds = section.get("max_review_rounds", DEFAULT_MAX_ROUNDS)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise StepFailed(
            f"maverick.yaml: review.max_review_rounds must be a positive integer, got {rounds!r}"
        )
    exclude = section.get("exclude", [])
    if isinstance(exclude, str):
        exclude = [exclude]
    if not isinstance(exclude, list) or not all(isinstance(p, str) for p in exclude):
        raise StepFailed("maverick.yaml: review.exclude must be a list of glob patterns")
    return {
        "reviewers": reviewers,
        "max_rounds": rounds,
        "exclude": exclude,
        "fixer": resolve_role(ctx.config, "fixer") is not None,
    }


def excluded(path: str, patterns: list[str]) -> bool:
    """True when ``path`` matches one of the ``review.exclude`` globs.

    ``*`` matches across ``/`` (``vendor/*`` is everything under vendor/); a
    pattern without ``/`` also matches the file's name in any directory.
    """
    name = path.rsplit("/", 1)[-1]
    return any(
        fnmatch.fnmatchcase(path, pattern)
        or ("/" not in pattern and fnmatch.fnmatchcase(name, pattern))
        for pattern in patterns
    )


def drop_excluded(diff: str, patterns: list[str]) -> str:
    """``diff`` without the file sections of excluded paths."""
    if not patterns:
        return diff
    kept: list[str] = []
    keep = True
    for chunk in re.split(r"(?m)^(?=diff --git )", diff):
        if chunk.startswith("diff --git "):
            header = chunk.split("\n", 1)[0]
            match = re.match(r"diff --git a/(.*?) b/(.*)$", header)
            keep = not (match and excluded(match.group(2), patterns))
        if keep:
            kept.append(chunk)
    return "".join(kept)


# ----------------------------------------------------------------------------- verdicts


def combine_reviews(
    ctx: Any, reviews: list[Any] | None, reviewers: list[dict[str, Any]], round: int
) -> dict[str, Any]:
    """Action ``review.combine``: one round's reviews as one verdict.

    :param reviews: the reviewers loop's output (one ``{ask, ...}`` per reviewer).
    :returns: ``{round, recommendation, findings, needs_fix, reviewers: [{name, role,
        recommendation, findings, answer}]}``; ``needs_fix`` when the strictest
        recommendation is not approve and there are findings to act on.
    """
    per_reviewer = []
    for reviewer, result in zip(reviewers, reviews or [], strict=False):
        answer = str(((result or {}).get("ask") or {}).get("answer", ""))
        per_reviewer.append(
            {
                "name": reviewer["name"],
                "role": reviewer["role"],
                "recommendation": recommendation_of(answer),
                "findings": findings_of(answer),
                "answer": answer,
            }
        )
    recommendation = strictest([r["recommendation"] for r in per_reviewer])
    findings = [f"[{r['name']}] {f}" for r in per_reviewer for f in r["findings"]]
    verdict = ", ".join(f"{r['name']}: {r['recommendation']}" for r in per_reviewer)
    ctx.notice(f"review round {round}: {recommendation} ({verdict}; {len(findings)} finding(s))")
    return {
        "round": round,
        "recommendation": recommendation,
        "findings": findings,
        "findings_text": "\n".join(f"- {f}" for f in findings) or "(none)",
        "reviews_text": "\n\n".join(
            f"### {r['name']} ({r['recommendation']})\n\n{r['answer'].strip()}"
            for r in per_reviewer
        ),
        "needs_fix": recommendation != "approve" and bool(findings),
        "reviewers": per_reviewer,
    }


def plan_fix(
    ctx: Any,
    fix: bool,
    round: int,
    settings: dict[str, Any],
    verdict: dict[str, Any],
    changes: dict[str, Any],
) -> dict[str, Any]:
    """Action ``review.plan_fix``: do this round's findings go to the fixer?

    :returns: ``{fix, reason}``; ``reason`` says why findings stay unfixed (None when
        there is nothing to fix, or fixing was not asked for).
    """
    reason = None
    if not fix or not verdict.get("needs_fix"):
        return {"fix": False, "reason": None}
    if round >= settings["max_rounds"]:
        reason = f"round {round} was the last (review.max_review_rounds: {settings['max_rounds']})"
    elif not settings.get("fixer"):
        reason = "no agent serves the 'fixer' role (add agents.fixer or agents.default)"
    elif not changes.get("fixable"):
        reason = f"the reviewed branch {changes.get('head')} is not checked out here"
    if reason:
        ctx.notice(f"review round {round}: findings are reported, not fixed: {reason}")
        return {"fix": False, "reason": reason}
    ctx.notice(
        f"review round {round}: asking the fixer to address {len(verdict['findings'])} finding(s)"
    )
    return {"fix": True, "reason": None}
