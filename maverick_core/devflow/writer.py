"""Agent-written text: commit messages and pull request titles and bodies.

The ``writer`` role writes them when an agent serves it: ``agents.writer``, else
``agents.commit_message`` (the older name of the role, still honoured), else
``agents.default``. ``agents.writer: false`` keeps the deterministic text even when a
default agent exists. Whatever the writer answers, the deterministic text is the
fallback: an empty answer or a failed call (a missing CLI, a timeout) leaves a
notice and the text maverick built itself, never a failed step. Trailers that make
commits idempotent (``Maverick-Phase: 2``) are added by the caller after the
writer's text, so the writer cannot lose them.
"""

from __future__ import annotations

import re
from typing import Any

from maverick_core.api import StepFailed
from maverick_core.devflow.agents import AgentSettings, ask_agent, resolve_role

WRITER_ROLE = "writer"
ALIAS_ROLE = "commit_message"
MAX_DIFF_CHARS = 60_000
TITLE_PREFIX_RE = re.compile(r"^\s*(?:#+\s*|title\s*:\s*)", re.IGNORECASE)


def resolve_writer(config: Any) -> AgentSettings | None:
    """The agent serving ``writer`` (or its alias ``commit_message``, or the default)."""
    table = config.settings.get("agents") or {}
    if not isinstance(table, dict):
        return None
    if WRITER_ROLE in table:
        if table[WRITER_ROLE] in (False, None, "none"):
            return None
        return resolve_role(config, WRITER_ROLE, fallback=False)
    if table.get(ALIAS_ROLE) is not None:
        return resolve_role(config, ALIAS_ROLE, fallback=False)
    return resolve_role(config, WRITER_ROLE)


def _ask(ctx: Any, template: str, context: dict[str, Any], what: str) -> str | None:
    chosen = resolve_writer(ctx.config)
    if chosen is None:
        return None
    role = ALIAS_ROLE if chosen.source == f"agents.{ALIAS_ROLE}" else WRITER_ROLE
    try:
        answer = ask_agent(ctx, role, template=template, context=context, chosen=chosen)
    except StepFailed as exc:
        first = (exc.message.splitlines() or ["failed"])[0]
        ctx.notice(f"the {role} agent could not write the {what} ({first}); using maverick's")
        return None
    text = answer.answer.strip()
    if not text:
        ctx.notice(f"the {role} agent wrote an empty {what}; using maverick's")
        return None
    return text


def commit_message(ctx: Any, default: str, context: dict[str, Any], diff: str) -> str:
    """The commit message: the writer's, else ``default``."""
    text = _ask(
        ctx,
        "commit_message",
        {
            "subject": "",
            "details": "",
            **context,
            "default_message": default,
            "diff": diff[:MAX_DIFF_CHARS],
        },
        "commit message",
    )
    return _strip_fences(text) if text else default


def pull_request(ctx: Any, title: str, body: str, diff: str) -> tuple[str, str]:
    """The pull request's title and body: the writer's, else the given ones.

    The writer answers with the title on its first line and the body after it.
    """
    text = _ask(
        ctx,
        "pull_request",
        {"default_title": title, "default_body": body, "diff": diff[:MAX_DIFF_CHARS]},
        "pull request text",
    )
    if not text:
        return title, body
    lines = _strip_fences(text).splitlines()
    written_title = TITLE_PREFIX_RE.sub("", lines[0]).strip()
    written_body = "\n".join(lines[1:]).strip()
    if not written_title:
        return title, body
    return written_title[:200], (written_body or body)


def _strip_fences(text: str) -> str:
    """Agents like to wrap text in a code fence; a commit message has none."""
    lines = text.strip().splitlines()
    if len(lines) >= 2 and lines[0].startswith("```") and lines[-1].strip() == "```":
        lines = lines[1:-1]
    return "\n".join(lines).strip()
