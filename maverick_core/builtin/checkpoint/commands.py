"""``maverick runs``: list, show, delete and prune runs in the configured store."""

from __future__ import annotations

import json
import re
import shlex
import sys
import time
from typing import Any

import click

from maverick_core.engine.errors import LockHeld, MaverickError, StoreError
from maverick_core.engine.status import Status
from maverick_core.engine.storage import RUN_STATUSES


def _config(store: str | None) -> Any:
    from maverick_core.engine.cli import cli_state

    return cli_state().config(store=store)


def _store(store: str | None) -> Any:
    # describe's, not the journal's: listing runs needs no checkpointing code
    from maverick_core.engine.describe import configured_store

    return configured_store(_config(store))


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def _complete_run_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    from maverick_core.engine.runquery import RunQuery, query_runs
    from maverick_core.engine.storage import MAX_QUERY_LIMIT

    try:
        with ctx:  # completion resolves contexts without making them current
            store = _store(None)
        try:
            # the newest runs, from the store's index: completing must stay instant
            page = query_runs(store, RunQuery(limit=MAX_QUERY_LIMIT))
            return [r.run_id for r in page.runs if r.run_id.startswith(incomplete)]
        finally:
            store.close()
    except Exception:  # completion must never fail, whatever the store holds
        return []


store_option = click.option("--store", metavar="URL", help="The store (default: the configured).")
INCOMPLETE = "incomplete"
"""The status ``runs list`` shows for a run directory without a run record."""


@click.group()
def runs() -> None:
    """Runs kept in the checkpoint store."""


def _complete_statuses(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    return [s for s in (*(s.value for s in RUN_STATUSES), INCOMPLETE) if s.startswith(incomplete)]


@runs.command("list")
@click.option("--workflow", metavar="NAME", help="Only runs of this workflow.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    metavar="STATUS",
    shell_complete=_complete_statuses,
    help="Only runs in this status: running, failed, interrupted, completed or "
    "incomplete (repeat for several).",
)
@click.option(
    "--since",
    metavar="WHEN",
    help="Only runs created since WHEN: an age (30m, 2h, 3d, 1w) or an ISO date or "
    "date-time (2026-12-01, 2026-12-01T09:30).",
)
@click.option(
    "--limit", default="50", show_default=True, metavar="N", help="Runs per page (1 to 1000)."
)
@click.option("--cursor", metavar="CURSOR", help="Show the page after the one that printed it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {runs, next_cursor}.")
@store_option
def list_runs(
    workflow: str | None,
    statuses: tuple[str, ...],
    since: str | None,
    limit: str,
    cursor: str | None,
    as_json: bool,
    store: str | None,
) -> None:
    """List runs, newest first, a page at a time, with duration and agent cost.

    When more runs follow, the last line gives the command for the next page
    (``--json``: ``next_cursor``). A run directory left without its record
    (maverick was killed while creating the run) is listed as ``incomplete`` on the
    first page; ``maverick runs prune`` removes it.
    """
    from maverick_core.builtin.checkpoint.listing import parse_since, row_line, run_row
    from maverick_core.engine.runquery import RunQuery, query_runs
    from maverick_core.engine.storage import MAX_QUERY_LIMIT, QueryError

    now = time.time()
    known = [*(s.value for s in RUN_STATUSES), INCOMPLETE]
    for status in statuses:
        if status not in known:
            raise QueryError(f"--status {status!r}: use one of {', '.join(known)}")
    if not re.fullmatch(r"\s*\d+\s*", limit) or not 1 <= int(limit) <= MAX_QUERY_LIMIT:
        raise QueryError(f"--limit {limit!r}: use a whole number from 1 to {MAX_QUERY_LIMIT}")
    query = RunQuery(
        workflow=workflow,
        statuses=tuple(s for s in statuses if s != INCOMPLETE),
        since=None if since is None else parse_since(since, now),
        limit=int(limit),
        cursor=cursor,
    )
    query.check()
    only_incomplete = bool(statuses) and not query.statuses
    opened = _store(store)
    try:
        page = query_runs(opened, query)
    finally:
        opened.close()
    rows = [] if only_incomplete else [run_row(run, now) for run in page.runs]
    if cursor is None and workflow is None and (not statuses or INCOMPLETE in statuses):
        rows += [
            {
                "run_id": i.run_id,
                "workflow": None,
                "status": INCOMPLETE,
                "created_at": i.modified_at,
                "updated_at": i.modified_at,
                "duration": None,
                "cost_usd": None,
            }
            for i in getattr(opened, "incomplete", [])
            if query.since is None or i.modified_at >= query.since
        ]
        rows.sort(key=lambda row: (row["created_at"], row["run_id"]), reverse=True)
    next_cursor = None if only_incomplete else page.next_cursor
    for problem in getattr(opened, "unreadable", []):
        click.echo(f"note: skipped a damaged run: {problem}", err=True)
    if as_json:
        click.echo(json.dumps({"runs": rows, "next_cursor": next_cursor}, indent=2))
        return
    if not rows:
        click.echo("no runs")
        return
    for row in rows:
        line = row_line(row)
        if row["status"] == INCOMPLETE:
            line += "  (no run record: killed while starting; maverick runs prune removes it)"
        click.echo(line)
    if next_cursor is not None:
        again = ["maverick", "runs", "list"]
        for flag, values in (
            ("--workflow", [workflow]),
            ("--status", list(statuses)),
            ("--since", [since]),
            ("--limit", [limit.strip()] if limit.strip() != "50" else []),
            ("--store", [store]),
        ):
            again += [part for value in values if value is not None for part in (flag, value)]
        click.echo(f"more runs: {shlex.join([*again, '--cursor', next_cursor])}")


@runs.command("show")
@click.argument("run_id", shell_complete=_complete_run_ids)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (describe_run's data).")
@store_option
def show_run(run_id: str, as_json: bool, store: str | None) -> None:
    """Show a run: outputs, attempts, every step with status, duration and cost."""
    from maverick_core.engine.describe import describe_run

    data = describe_run(_config(store), run_id)
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        return
    for line in show_lines(data):
        click.echo(line)


def show_lines(data: dict[str, Any]) -> list[str]:
    """``maverick runs show`` as text, from :func:`describe_run`'s data."""
    from maverick_core.engine.units import elapsed, money

    totals = data["totals"]
    attempts = data["attempts"]
    lines = [
        f"run {data['run_id']}  workflow {data['workflow']}  status {data['status']}",
        f"created {_when(data['created_at'])}  updated {_when(data['updated_at'])}  "
        f"{len(attempts)} attempt{'s' if len(attempts) != 1 else ''}, "
        f"{elapsed(totals['duration'])}"
        + (f", agent cost {money(totals['cost_usd'])}" if totals["cost_usd"] is not None else ""),
    ]
    if data["outputs"]:
        lines.append("outputs:")
        lines += [f"  {key}: {_short(value)}" for key, value in data["outputs"].items()]
    if data["error"]:
        lines.append(f"error: {data['error']}")
    secret = data["secret_inputs"]
    lines.append(
        f"inputs: {json.dumps(data['inputs'], default=str)}"
        + (f" (secret, not stored: {', '.join(secret)})" if secret else "")
    )
    holder = data["meta"].get("holder")
    if data["status"] == Status.RUNNING and _is_holder(holder):
        lines.append(
            f"executed by pid {holder['pid']} on host {holder['host']} since "
            f"{_when(holder['since'])} (if that process is gone, --resume takes the run over)"
        )
    lines.append("attempts:")
    lines += [_attempt_summary(attempt) for attempt in attempts]
    where = (
        "as recorded when the run ended"
        if data["state_from"] == "final"
        else "as of the last checkpoint"
    )
    lines.append(f"steps ({where}):")
    for step in data["steps"]:
        lines.append(_step_line(step["path"], step))
        for attempt in step.get("attempts") or []:
            lines.append(_attempt_line(attempt))
        for action in (step.get("agent") or {}).get("activity", [])[-ACTIVITY_SHOWN:]:
            lines.append(f"               > {action.get('kind')} {action.get('detail')}")
        if step["error"] and step["state"] == "failed":
            lines.append(f"      {'  ' * step['depth']}error: {step['error']}")
    progress = data["in_flight"]
    if progress:
        lines.append("in flight (saved between checkpoints; a resume continues from here):")
    for path, by_plugin in progress.items():
        if not isinstance(by_plugin, dict):
            continue
        tried = (by_plugin.get("retry") or {}).get("attempts") or []
        if tried:
            lines.append(f"  {path}: {len(tried)} failed attempts, next is {len(tried) + 1}")
            lines += [_attempt_line(attempt) for attempt in tried]
        else:
            lines.append(f"  {path}: {', '.join(sorted(by_plugin))}")
    if data["agent_calls"]:
        lines += _agent_call_lines(data["agent_calls"])
    lines.append("checkpoints:")
    for cp in data["checkpoints"]:
        if "damaged" in cp:
            lines.append(f"  DAMAGED at {cp['damaged']}: {cp['reason']}")
        else:
            flag = "" if cp["intact"] else "  DAMAGED (checksum mismatch)"
            lines.append(
                f"  #{cp['seq']:<4} {cp['checkpoint_id']:<28} {_when(cp['created_at'])} "
                f"{cp['size']} bytes {cp['kind']}{flag}"
            )
    if data["resume_command"]:
        lines.append(f"resume with: {data['resume_command']}")
    return lines


SHOWN_TEXT = 120
STATE_WORDS = {"not_reached": "not reached"}


def _short(value: Any) -> str:
    """A value on one line, cut to :data:`SHOWN_TEXT` characters (--json has it all)."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= SHOWN_TEXT else text[: SHOWN_TEXT - 1] + "…"


def _attempt_summary(attempt: dict[str, Any]) -> str:
    from maverick_core.engine.units import elapsed

    started = attempt.get("started_at")
    ended = attempt.get("ended_at")
    outcome = attempt.get("outcome")
    if outcome is None:
        outcome = "running" if attempt.get("holder_alive", True) else "killed (unknown end)"
    elif outcome == "killed":
        outcome = "killed (unknown end; last seen then)"
    span = _when(started) if isinstance(started, int | float) else "?"
    if isinstance(ended, int | float):
        same_day = isinstance(started, int | float) and _when(started)[:10] == _when(ended)[:10]
        span += f" -> {_when(ended)[11:] if same_day else _when(ended)}"
    else:
        span += " -> ?"
    duration = attempt.get("duration")
    if isinstance(duration, int | float):
        span += f" ({elapsed(duration)})"
    line = f"  #{attempt.get('number')} {span}  {outcome}"
    if attempt.get("resumed_from"):
        line += f", resumed from '{attempt['resumed_from']}'"
        if attempt.get("seq"):
            line += f" (#{attempt['seq']})"
    elif attempt.get("number", 1) != 1:
        line += ", resumed from the start"
    if attempt.get("pid") is not None:
        line += f", pid {attempt['pid']} on {attempt.get('host')}"
    if attempt.get("error"):
        line += f": {_short(attempt['error'])}"
    return line


def _step_line(path: str, step: dict[str, Any]) -> str:
    from maverick_core.engine.units import elapsed, money

    state = STATE_WORDS.get(step["state"], step["state"])
    details = []
    if step["duration"] is not None and step["state"] not in ("not_reached", "skipped"):
        details.append(elapsed(step["duration"]))
    if step.get("attempts"):
        details.append(f"{len(step['attempts'])} attempts")
    cost = (step.get("agent") or {}).get("cost_usd")
    if cost is not None:
        details.append(money(cost))
    shown = f" ({', '.join(details)})" if details else ""
    return f"  {state:<12}{'  ' * step['depth']}{path}{shown}"


ACTIVITY_SHOWN = 10


def _agent_call_lines(calls: list[dict[str, Any]]) -> list[str]:
    """Agent calls per step, and the total: what the run cost (every attempt)."""
    from maverick_core.engine.units import elapsed, money, tokens

    per_step: dict[str, list[dict[str, Any]]] = {}
    for call in calls:
        per_step.setdefault(str(call.get("path")), []).append(call)
    lines = ["agent calls (every attempt):"]
    total = 0.0
    known = False
    for path, group in per_step.items():
        costs = [float(c["cost_usd"]) for c in group if c.get("cost_usd") is not None]
        cost = sum(costs)
        total += cost
        known = known or bool(costs)
        count = sum(int(c.get(k) or 0) for c in group for k in TOKEN_KEYS)
        seconds = sum(float(c.get("duration") or 0) for c in group)
        who = ", ".join(sorted({f"{c.get('role')} via {c.get('backend')}" for c in group}))
        lines.append(
            f"  {path}: {len(group)} call{'s' if len(group) != 1 else ''} ({who}), "
            f"{money(cost) if costs else '$?'}, {tokens(count)}, {elapsed(seconds)}"
        )
    plural = "s" if len(calls) != 1 else ""
    lines.append(f"  total: {money(total) if known else '$?'} in {len(calls)} call{plural}")
    return lines


TOKEN_KEYS = ("input_tokens", "output_tokens", "cached_tokens")


def _is_holder(holder: Any) -> bool:
    """True for the holder meta maverick writes (a run record's meta is free-form)."""
    return (
        isinstance(holder, dict)
        and isinstance(holder.get("pid"), int)
        and isinstance(holder.get("host"), str)
        and isinstance(holder.get("since"), int | float)
    )


@runs.command("delete")
@click.argument("run_ids", nargs=-1, required=True, shell_complete=_complete_run_ids)
@store_option
def delete_run(run_ids: tuple[str, ...], store: str | None) -> None:
    """Delete runs and all their checkpoints."""
    opened = _store(store)
    missing = []
    try:
        for run_id in run_ids:
            if opened.delete_run(run_id):
                click.echo(f"deleted {run_id}")
            else:
                missing.append(run_id)
    finally:
        opened.close()
    if missing:
        raise MaverickError(f"unknown run id: {', '.join(missing)}")


def parse_age(text: str) -> float:
    """``7d``, ``12h``, ``30m``, ``45s`` → seconds."""
    from maverick_core.builtin.checkpoint.listing import age_seconds

    seconds = age_seconds(text)
    if seconds is None:
        raise click.BadParameter(f"{text!r}: use a number with s, m, h, d or w (e.g. 7d)")
    return seconds


@runs.command("prune")
@click.option(
    "--older-than",
    "older_than",
    default="7d",
    show_default=True,
    metavar="AGE",
    help="Delete runs last updated longer ago than AGE (s, m, h, d, w).",
)
@click.option(
    "--keep",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Always keep the newest N runs of each workflow.",
)
@click.option("--dry-run", is_flag=True, help="Only print what would be deleted.")
@store_option
def prune_runs(older_than: str, keep: int, dry_run: bool, store: str | None) -> None:
    """Delete old runs; runs being executed are never deleted.

    Run directories left without a run record (a kill while a run was starting) are
    deleted once older than AGE too; ``--keep`` does not count them.
    """
    cutoff = time.time() - parse_age(older_than)
    opened = _store(store)
    deleted = failed = 0
    try:
        seen: dict[str, int] = {}
        doomed: list[str] = []
        for record in opened.list_runs():
            seen[record.workflow] = seen.get(record.workflow, 0) + 1
            if seen[record.workflow] <= keep or record.updated_at > cutoff:
                continue
            doomed.append(record.run_id)
        doomed += [i.run_id for i in getattr(opened, "incomplete", []) if i.modified_at <= cutoff]
        for run_id in doomed:
            if dry_run:
                click.echo(f"would delete {run_id}")
                continue
            try:
                opened.delete_run(run_id)
            except LockHeld as exc:
                click.echo(f"kept {run_id}: {exc}", err=True)
                continue
            except MaverickError as exc:
                # one run that cannot be removed (a read-only store) does not stop the rest
                click.echo(f"kept {record.run_id}: {exc}", err=True)
                failed += 1
                continue
            deleted += 1
            click.echo(f"deleted {run_id}")
    finally:
        opened.close()
    if not dry_run:
        click.echo(f"{deleted} run{'s' if deleted != 1 else ''} deleted")
    sys.stdout.flush()
    if failed:
        raise StoreError(f"{failed} run{'s' if failed != 1 else ''} could not be deleted")


def _attempt_line(attempt: dict[str, Any]) -> str:
    outcome = attempt.get("error") or "ok"
    return f"      attempt {attempt.get('attempt')}: {outcome} ({attempt.get('duration', 0):.2f}s)"
