"""``maverick runs``: list, show, delete and prune runs in the configured store."""

from __future__ import annotations

import json
import re
import sys
import time
from typing import Any

import click

from maverick_core.engine.errors import LockHeld, MaverickError, StoreError
from maverick_core.engine.run import Status
from maverick_core.engine.storage import RUN_STATUSES


def _config(store: str | None) -> Any:
    from maverick_core.engine.cli import cli_state

    return cli_state().config(store=store)


def _store(store: str | None) -> Any:
    from maverick_core.builtin.checkpoint.journal import store_for

    return store_for(_config(store))


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def _complete_run_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    try:
        with ctx:  # completion resolves contexts without making them current
            store = _store(None)
        try:
            return [r.run_id for r in store.list_runs() if r.run_id.startswith(incomplete)]
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


@runs.command("list")
@click.option("--workflow", metavar="NAME", help="Only runs of this workflow.")
@click.option("--status", type=click.Choice([*(s.value for s in RUN_STATUSES), INCOMPLETE]))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_option
def list_runs(workflow: str | None, status: str | None, as_json: bool, store: str | None) -> None:
    """List runs, newest first.

    A run directory left without its record (maverick was killed while creating the
    run) is listed as ``incomplete``; ``maverick runs prune`` removes it.
    """
    opened = _store(store)
    try:
        found = opened.list_runs(workflow=workflow)
    finally:
        opened.close()
    rows = [
        {
            "run_id": r.run_id,
            "workflow": r.workflow,
            "status": r.status,
            "created_at": r.created_at,
            "updated_at": r.updated_at,
        }
        for r in found
    ]
    if workflow is None:
        rows += [
            {
                "run_id": i.run_id,
                "workflow": None,
                "status": INCOMPLETE,
                "created_at": i.modified_at,
                "updated_at": i.modified_at,
            }
            for i in getattr(opened, "incomplete", [])
        ]
        rows.sort(key=lambda row: (row["created_at"], row["run_id"]), reverse=True)
    rows = [row for row in rows if status in (None, row["status"])]
    for problem in getattr(opened, "unreadable", []):
        click.echo(f"note: skipped a damaged run: {problem}", err=True)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no runs")
        return
    for row in rows:
        name = row["workflow"] if row["workflow"] is not None else "?"
        line = f"{row['run_id']}  {name:<12} {row['status']:<11} {_when(row['created_at'])}"
        if row["status"] == INCOMPLETE:
            line += "  (no run record: killed while starting; maverick runs prune removes it)"
        click.echo(line)


@runs.command("show")
@click.argument("run_id", shell_complete=_complete_run_ids)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_option
def show_run(run_id: str, as_json: bool, store: str | None) -> None:
    """Show a run: inputs, steps with status and duration, checkpoints."""
    from maverick_core.builtin.checkpoint.journal import load_state
    from maverick_core.engine.storage import CheckpointRecord

    config = _config(store)
    opened = _store(store)
    try:
        record = opened.get_run(run_id)
        if record is None:
            raise MaverickError(f"unknown run id '{run_id}' (see: maverick runs list)")
        loaded = load_state(config, opened, run_id)
        checkpoints: list[dict[str, Any]] = []
        for item in opened.read_checkpoints(run_id):
            if isinstance(item, CheckpointRecord):
                checkpoints.append(
                    {
                        "seq": item.seq,
                        "checkpoint_id": item.checkpoint_id,
                        "created_at": item.created_at,
                        "size": len(item.payload),
                        "kind": item.kind,
                        "intact": item.intact,
                    }
                )
            else:
                checkpoints.append({"damaged": item.position, "reason": item.reason})
    finally:
        opened.close()
    steps: dict[str, dict[str, Any]] = {}
    for p, r in loaded.records.items():
        steps[p] = {"status": r.status, "duration": r.duration, "error": r.error}
        steps[p].update(_agent_of(r.output))
        if r.attempts:
            steps[p]["attempts"] = r.attempts
    calls = [c for c in record.meta.get("agent_calls") or [] if isinstance(c, dict)]
    data = {
        "run_id": record.run_id,
        "workflow": record.workflow,
        "status": record.status,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "inputs": record.inputs,
        "secret_inputs": record.secret_inputs,
        "steps": steps,
        "checkpoints": checkpoints,
        "meta": record.meta,
        "damage": loaded.damage,
        "agent_cost_usd": round(sum(float(c.get("cost_usd") or 0) for c in calls), 6),
    }
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        return
    click.echo(f"run {record.run_id}  workflow {record.workflow}  status {record.status}")
    click.echo(f"created {_when(record.created_at)}  updated {_when(record.updated_at)}")
    click.echo(
        f"inputs: {json.dumps(record.inputs, default=str)}"
        + (
            f" (secret, not stored: {', '.join(record.secret_inputs)})"
            if record.secret_inputs
            else ""
        )
    )
    holder = record.meta.get("holder")
    if record.status == Status.RUNNING and _is_holder(holder):
        click.echo(
            f"executed by pid {holder['pid']} on host {holder['host']} since "
            f"{_when(holder['since'])} (if that process is gone, --resume takes the run over)"
        )
    if record.meta.get("error"):
        click.echo(f"error: {record.meta['error']}")
    click.echo("steps (as of the last checkpoint):")
    for path, step in steps.items():
        tried = f", {len(step['attempts'])} attempts" if step.get("attempts") else ""
        click.echo(f"  {step['status']:<10} {path} ({step['duration']:.2f}s{tried})")
        for attempt in step.get("attempts", []):
            click.echo(_attempt_line(attempt))
        for action in step.get("activity", [])[-ACTIVITY_SHOWN:]:
            click.echo(f"               > {action.get('kind')} {action.get('detail')}")
    progress = record.meta.get("progress") or {}
    if progress:
        click.echo("in flight (saved between checkpoints; a resume continues from here):")
    for path, by_plugin in progress.items():
        attempts = (by_plugin.get("retry") or {}).get("attempts") or []
        if attempts:
            click.echo(f"  {path}: {len(attempts)} failed attempts, next is {len(attempts) + 1}")
            for attempt in attempts:
                click.echo(_attempt_line(attempt))
        else:
            click.echo(f"  {path}: {', '.join(sorted(by_plugin))}")
    if calls:
        _show_agent_calls(calls)
    click.echo("checkpoints:")
    for cp in checkpoints:
        if "damaged" in cp:
            click.echo(f"  DAMAGED at {cp['damaged']}: {cp['reason']}")
        else:
            flag = "" if cp["intact"] else "  DAMAGED (checksum mismatch)"
            click.echo(
                f"  #{cp['seq']:<4} {cp['checkpoint_id']:<28} {_when(cp['created_at'])} "
                f"{cp['size']} bytes {cp['kind']}{flag}"
            )


ACTIVITY_SHOWN = 10


def _agent_of(output: Any) -> dict[str, Any]:
    """An agent step's activity (what the agent did), for ``runs show``."""
    if isinstance(output, dict) and isinstance(output.get("activity"), list):
        return {"activity": output["activity"]}
    return {}


def _show_agent_calls(calls: list[dict[str, Any]]) -> None:
    """Agent calls per step, and the total: what the run cost (every attempt)."""
    from maverick_core.engine.units import elapsed, money, tokens

    per_step: dict[str, list[dict[str, Any]]] = {}
    for call in calls:
        per_step.setdefault(str(call.get("path")), []).append(call)
    click.echo("agent calls (every attempt):")
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
        click.echo(
            f"  {path}: {len(group)} call{'s' if len(group) != 1 else ''} ({who}), "
            f"{money(cost) if costs else '$?'}, {tokens(count)}, {elapsed(seconds)}"
        )
    plural = "s" if len(calls) != 1 else ""
    click.echo(f"  total: {money(total) if known else '$?'} in {len(calls)} call{plural}")


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
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhdw])", text.strip())
    if not match:
        raise click.BadParameter(f"{text!r}: use a number with s, m, h, d or w (e.g. 7d)")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
    return float(match.group(1)) * unit


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
