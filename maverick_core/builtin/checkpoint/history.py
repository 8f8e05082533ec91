"""A run's history: its attempts, its final state, its summary, and ``describe_run``.

What the checkpoint plugin keeps so that a person can be told what happened to a run:

- ``meta["attempts"]``: one entry per attempt (the first run and each resume), opened
  by ``open_run`` and closed by ``workflow_finish``. An attempt killed with SIGKILL is
  never closed by itself; the next resume closes it with outcome ``"killed"`` and the
  last moment the run was seen alive (the run record's last update).
- a *final* journal record (kind :data:`FINAL_KIND`) written when an attempt ends
  (completed, failed or interrupted): every step record, including steps after the
  last checkpoint, with the workflow's outputs and the error. ``load_state`` never
  restores from it, so what ``--resume`` restores is still exactly the last checkpoint;
  it is read only to show the run.
- ``meta["summary"]``: a few hundred bytes for listings (see :func:`summarize`).

:func:`describe_run` assembles all of it as plain data; ``maverick runs show --json``
prints exactly it and viewers render it.
"""

from __future__ import annotations

import contextlib
import re
import time
from typing import TYPE_CHECKING, Any, TypeGuard

from maverick_core.engine.run import Status, StepRecord

if TYPE_CHECKING:
    from maverick_core.engine.config import Config
    from maverick_core.engine.run import Run, RunOutcome
    from maverick_core.engine.storage import LockHolder, RunRecord, Store

FINAL_KIND = "final"
"""The journal record kind of a run's final state (never restored by a resume)."""
FINAL_ID = "(final)"
"""The checkpoint id a final record carries: never a valid checkpoint id, so
``--from-checkpoint`` can never name it."""
ATTEMPTS = "attempts"
SUMMARY = "summary"
RESUME_COMMAND = "resume_command"
KILLED = "killed"
"""The outcome of an attempt that ended without saying so (SIGKILL, power loss)."""
UNKNOWN = "unknown"
"""The outcome of an earlier attempt of a run written by the 0.1 release (not recorded)."""
SUMMARY_OUTPUTS = 10
SUMMARY_TEXT = 200

# ----------------------------------------------------------------------------- attempts


def new_attempt(
    number: int,
    started_at: float,
    holder: LockHolder,
    resumed_from: str | None = None,
    seq: int | None = None,
) -> dict[str, Any]:
    """The ``meta["attempts"]`` entry of an attempt that starts now."""
    return {
        "number": number,
        "started_at": started_at,
        "ended_at": None,
        "outcome": None,
        "resumed_from": resumed_from,
        "seq": seq,
        "pid": holder.pid,
        "host": holder.host,
        "error": None,
    }


def attempts_of(record: RunRecord) -> list[dict[str, Any]]:
    """The run's attempts; for a run written by the 0.1 release, made from ``resumes``.

    Such a run recorded only when each resume started and from where: its earlier
    attempts' ends and outcomes are ``unknown``, and only the latest attempt's process
    is known (the lock holder).
    """
    stored = record.meta.get(ATTEMPTS)
    if isinstance(stored, list) and all(isinstance(a, dict) for a in stored):
        return [dict(a) for a in stored]
    resumes = [r for r in _list(record.meta.get("resumes")) if isinstance(r, dict)]
    starts: list[tuple[float, str | None, int | None]] = [(record.created_at, None, None)]
    for resume in resumes:
        at = resume.get("at")
        starts.append(
            (
                float(at) if _is_number(at) else record.created_at,
                resume.get("from") if isinstance(resume.get("from"), str) else None,
                resume.get("seq") if isinstance(resume.get("seq"), int) else None,
            )
        )
    found = record.meta.get("holder")
    holder: dict[str, Any] = found if isinstance(found, dict) else {}
    attempts = []
    for number, (started, resumed_from, seq) in enumerate(starts, start=1):
        last = number == len(starts)
        finished = last and record.status != Status.RUNNING
        attempts.append(
            {
                "number": number,
                "started_at": started,
                "ended_at": record.updated_at if finished else None,
                "outcome": record.status if finished else (None if last else UNKNOWN),
                "resumed_from": resumed_from,
                "seq": seq,
                "pid": holder.get("pid") if last else None,
                "host": holder.get("host") if last else None,
                "error": record.meta.get("error") if finished else None,
            }
        )
    return attempts


def close_killed_attempts(attempts: list[dict[str, Any]], last_seen: float) -> None:
    """Close attempts that never ended (their process was killed) at ``last_seen``."""
    for attempt in attempts:
        if attempt.get("outcome") is None:
            attempt["outcome"] = KILLED
            started = attempt.get("started_at")
            attempt["ended_at"] = max(last_seen, started if _is_number(started) else 0.0)
            attempt["end_estimated"] = True


def finish_attempt(
    attempts: list[dict[str, Any]], ended_at: float, outcome: str, error: str | None
) -> None:
    """Close the latest attempt with how it ended."""
    if attempts and attempts[-1].get("outcome") is None:
        attempts[-1].update(ended_at=ended_at, outcome=outcome, error=error)


def attempts_duration(attempts: list[dict[str, Any]], now: float | None = None) -> float:
    """Seconds spent over every attempt (an attempt still running counts up to ``now``)."""
    total = 0.0
    for attempt in attempts:
        start, end = attempt.get("started_at"), attempt.get("ended_at")
        if end is None and attempt.get("outcome") is None and now is not None:
            end = now
        if _is_number(start) and _is_number(end):
            total += max(0.0, float(end) - float(start))
    return total


def _list(value: Any) -> list[Any]:
    """``value`` if it is a list, else empty (a run record's meta is free-form)."""
    return value if isinstance(value, list) else []


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ----------------------------------------------------------------------------- final state


def final_payload(
    run: Run, outcome: RunOutcome, attempt: int | None, base: int | None
) -> dict[str, Any]:
    """What a final record holds: the step records, the outputs and the error.

    With ``base`` (the seq of the checkpoint the run's state was last committed as),
    only the records that changed since that commit, so ending a run costs what it
    did after its last checkpoint; with None (a rewind that committed nothing yet),
    every record.
    """
    if base is None:
        records = run.state.snapshot()
    else:
        records, _ = run.state.take_changes()
    return {
        "base": base,
        "records": {p: r.to_plain() for p, r in records.items()},
        "status": outcome.status.value,
        "outputs": outcome.outputs,
        "error": outcome.error,
        "attempt": attempt,
    }


# ----------------------------------------------------------------------------- summary


def agent_cost(record: RunRecord) -> float | None:
    """What the run's agent calls cost over every attempt; None when no call said."""
    calls = [c for c in _list(record.meta.get("agent_calls")) if isinstance(c, dict)]
    costs = [float(c["cost_usd"]) for c in calls if _is_number(c.get("cost_usd"))]
    return round(sum(costs), 6) if costs else None


def ordered_outputs(outputs: dict[str, Any]) -> dict[str, Any]:
    """The outputs with the pull request first, then other links, then the rest."""

    def rank(item: tuple[str, Any]) -> int:
        key, value = item
        if key.lower() in {"pull_request", "pr", "pr_url", "pull_request_url"} or (
            isinstance(value, str) and "/pull/" in value
        ):
            return 0
        return 1 if isinstance(value, str) and value.startswith(("https://", "http://")) else 2

    return dict(sorted(outputs.items(), key=rank))


def summarize(
    record: RunRecord,
    attempts: list[dict[str, Any]],
    steps: dict[str, int],
    outputs: dict[str, Any],
) -> dict[str, Any]:
    """``meta["summary"]``: what a listing shows about a run, kept to a few hundred bytes.

    ``duration`` is seconds over every attempt, ``cost_usd`` the agent cost (None when
    unknown), ``steps`` the top-level steps by state (``done`` includes restored
    ones), ``outputs`` the workflow's scalar outputs (pull request first, at most
    :data:`SUMMARY_OUTPUTS`, text cut to :data:`SUMMARY_TEXT` characters; lists and
    mappings are left to ``runs show``), ``attempts`` how many there were.
    """
    small: dict[str, Any] = {}
    for key, value in ordered_outputs(outputs).items():
        if len(small) == SUMMARY_OUTPUTS:
            break
        if isinstance(value, str):
            small[key] = value if len(value) <= SUMMARY_TEXT else value[: SUMMARY_TEXT - 1] + "…"
        elif value is None or isinstance(value, bool | int | float):
            small[key] = value
    return {
        "duration": round(attempts_duration(attempts), 3),
        "cost_usd": agent_cost(record),
        "steps": steps,
        "outputs": small,
        "attempts": len(attempts),
    }


# ----------------------------------------------------------------------------- describe


def describe_run(config: Config, store: Store, run_id: str) -> dict[str, Any]:
    """Everything a person wants to see about one run, as plain, secret-masked data.

    Raises :class:`~maverick_core.engine.errors.MaverickError` for an unknown run id.
    The result (``maverick runs show --json`` prints exactly it):

    - ``run_id``, ``workflow``, ``source``, ``project``, ``status``, ``created_at``,
      ``updated_at``, ``inputs`` (secret inputs are never stored: ``secret_inputs``
      names them), ``error``;
    - ``outputs``: the workflow's outputs (pull request first), ``{}`` before the run ended;
    - ``attempts``: see ``meta["attempts"]``; ``outcome`` is ``completed``, ``failed``,
      ``interrupted``, ``killed`` (closed by the next resume; ``end_estimated``),
      ``unknown`` (an old run's earlier attempt) or None (running; ``holder_alive``
      False when its process is gone from this machine); ``duration`` added;
    - ``steps``: a list in workflow order of ``{path, name, parent, depth, status,
      state, restored, in_checkpoint, started_at, duration, output, error, attempts,
      agent}``. ``status`` is the step record's (``completed`` ...); ``state``
      is what to show: ``done``, ``restored`` (completed by an earlier attempt),
      ``failed``, ``skipped``, ``running``, ``interrupted``, ``not_reached``.
      ``in_checkpoint``: a resume restores it. In a run still running (or killed),
      steps under way (an agent session or retry progress kept in the run record)
      are ``running``, or ``interrupted`` once their process is gone. ``agent``: the
      step's agent activity, calls and cost, when it has any;
    - ``state_from``: ``"final"`` (the state recorded when the latest attempt ended)
      or ``"checkpoint"`` (the last checkpoint: the run is running or was killed);
    - ``checkpoints``: ``{seq, checkpoint_id, created_at, kind, size, intact}`` (or
      ``{damaged, reason}``); ``last_checkpoint``; ``damage``;
    - ``in_flight``: progress saved between checkpoints; ``agent_calls``;
    - ``totals``: ``duration`` (every attempt), ``cost_usd``, ``steps`` (top-level
      counts by state), ``agent_calls``;
    - ``resume_command``: the exact command that resumes the run (None once completed);
    - ``meta``: the run record's meta as stored (masked when written).
    """
    from maverick_core.builtin.checkpoint.journal import load_state
    from maverick_core.engine.errors import MaverickError
    from maverick_core.engine.storage import CheckpointRecord

    record = store.get_run(run_id)
    if record is None:
        raise MaverickError(f"unknown run id '{run_id}' (see: maverick runs list)")
    loaded = load_state(config, store, run_id)
    final = _read_final(config, loaded.final)
    checkpoints: list[dict[str, Any]] = []
    for item in store.read_checkpoints(run_id):
        if not isinstance(item, CheckpointRecord):
            checkpoints.append({"damaged": item.position, "reason": item.reason})
        elif item.kind != FINAL_KIND:
            checkpoints.append(
                {
                    "seq": item.seq,
                    "checkpoint_id": item.checkpoint_id,
                    "created_at": item.created_at,
                    "kind": item.kind,
                    "size": len(item.payload),
                    "intact": item.intact,
                }
            )

    now = time.time()
    attempts = attempts_of(record)
    holder_gone = _holder_gone(record)
    for attempt in attempts:
        start, end = attempt.get("started_at"), attempt.get("ended_at")
        running = attempt.get("outcome") is None
        if running and holder_gone:
            attempt["holder_alive"] = False
        end_at = now if running and not holder_gone else end
        attempt["duration"] = (
            round(float(end_at) - float(start), 3)
            if _is_number(start) and _is_number(end_at)
            else None
        )

    base = final.get("base") if final is not None else None
    restored = loaded.records
    if final is not None and base is None:
        records, state_from = final["records"], "final"
        attempt_number = final.get("attempt")
    elif final is not None and base == loaded.seq:
        records, state_from = {**restored, **final["records"]}, "final"
        attempt_number = final.get("attempt")
    else:
        records, state_from = dict(restored), "checkpoint"
        attempt_number = None
        records.update(_live_records(record, records))
    attempt_start = _attempt_start(attempts, attempt_number)
    calls = [c for c in _list(record.meta.get("agent_calls")) if isinstance(c, dict)]
    steps = _steps(
        records,
        list(record.fingerprints),
        {p for p, r in restored.items() if r.done},
        attempt_start,
        record.status,
        calls,
        _in_flight(record, state_from, holder_gone),
    )
    counts = _top_counts(steps)
    outputs = ordered_outputs(final.get("outputs") or {}) if final is not None else {}
    meta = record.meta
    command = meta.get(RESUME_COMMAND)
    if not (isinstance(command, str) and command):
        command = f"maverick run {record.workflow}"
    progress = meta.get("progress")
    last = loaded.history[-1] if loaded.history else None
    return {
        "run_id": record.run_id,
        "workflow": record.workflow,
        "source": record.source,
        "project": record.project,
        "status": record.status,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "inputs": record.inputs,
        "secret_inputs": record.secret_inputs,
        "error": meta.get("error"),
        "outputs": outputs,
        "attempts": attempts,
        "state_from": state_from,
        "steps": list(steps.values()),
        "checkpoints": checkpoints,
        "last_checkpoint": (
            None
            if last is None
            else {"seq": last[0], "checkpoint_id": last[1], "created_at": last[2]}
        ),
        "damage": loaded.damage,
        "in_flight": progress if isinstance(progress, dict) else {},
        "agent_calls": calls,
        "totals": {
            "duration": round(attempts_duration(attempts, None if holder_gone else now), 3),
            "cost_usd": agent_cost(record),
            "steps": counts,
            "agent_calls": len(calls),
        },
        "resume_command": (
            None if record.status == Status.COMPLETED else f"{command} --resume {record.run_id}"
        ),
        "meta": meta,
    }


def _read_final(config: Config, final: Any) -> dict[str, Any] | None:
    """The decoded final record, or None when there is none or it cannot be read."""
    if final is None:
        return None
    from maverick_core.builtin.checkpoint.journal import decode_record
    from maverick_core.engine.errors import MaverickError

    try:
        payload, records = decode_record(config, final)
    except (ValueError, TypeError, MaverickError):
        return None
    payload["records"] = records
    if not isinstance(payload.get("outputs"), dict):
        payload["outputs"] = {}
    return payload


def _live_records(record: RunRecord, known: dict[str, StepRecord]) -> dict[str, StepRecord]:
    """The steps the latest attempt finished after its last checkpoint (``meta["live"]``,
    kept while it runs; see :mod:`~maverick_core.builtin.checkpoint.live`)."""
    from maverick_core.builtin.checkpoint.live import LIVE

    live = record.meta.get(LIVE)
    found: dict[str, StepRecord] = {}
    for path, plain in live.items() if isinstance(live, dict) else ():
        if isinstance(path, str) and path not in known:
            with contextlib.suppress(ValueError):
                found[path] = StepRecord.from_plain(plain)
    return found


def _holder_gone(record: RunRecord) -> bool:
    """True when a running run's holder was on this machine and its process is gone."""
    if record.status != Status.RUNNING:
        return False
    holder = record.meta.get("holder")
    if not (isinstance(holder, dict) and isinstance(holder.get("pid"), int)):
        return False
    import socket

    from maverick_core.engine.liveness import process_alive

    return holder.get("host") == socket.gethostname() and not process_alive(holder["pid"], None)


def _in_flight(record: RunRecord, state_from: str, holder_gone: bool) -> dict[str, str]:
    """Steps the latest attempt started and recorded nothing for yet: the agent calls
    and retries under way (kept durably when they start), and their parents."""
    if state_from != "checkpoint":
        return {}
    state = "running" if record.status == Status.RUNNING and not holder_gone else "interrupted"
    found: dict[str, str] = {}
    for key in ("agent_sessions", "progress"):
        value = record.meta.get(key)
        for path in value if isinstance(value, dict) else {}:
            while path and path not in found:
                found[path] = state
                path = _parent(path) or ""
    return found


def _attempt_start(attempts: list[dict[str, Any]], number: Any) -> float:
    """When the attempt whose state is shown started (records older than it were restored)."""
    chosen = [a for a in attempts if a.get("number") == number] or attempts[-1:]
    start = chosen[0].get("started_at") if chosen else None
    return float(start) if _is_number(start) else 0.0


_SEGMENT = re.compile(r"\[(\d+)\]$")


def _parent(path: str) -> str | None:
    """``each[2].work`` -> ``each[2]``; ``each[2]`` -> ``each``; ``sub.a`` -> ``sub``."""
    if path.endswith("]"):
        return path[: path.rindex("[")]
    if "." in path:
        return path.rsplit(".", 1)[0]
    return None


def _name(path: str) -> str:
    match = _SEGMENT.search(path)
    if match:
        return f"[{match.group(1)}]"
    return path.rsplit(".", 1)[-1]


def _steps(
    records: dict[str, StepRecord],
    top_order: list[str],
    checkpointed: set[str],
    attempt_start: float,
    run_status: str,
    calls: list[dict[str, Any]],
    in_flight: dict[str, str],
) -> dict[str, dict[str, Any]]:
    """Step entries in workflow order: a tree walk (iterations by index, other
    children in the order they first ran, top-level steps in the workflow's order).

    ``in_flight`` maps the paths of steps that started but have no record (an agent
    call or retry under way) to their state (``running``, or ``interrupted`` when
    the process that ran them is gone)."""
    children: dict[str | None, list[str]] = {}
    known: set[str] = set()

    def add(path: str) -> None:
        if path in known:
            return
        known.add(path)
        parent = _parent(path)
        if parent is not None:
            add(parent)
        children.setdefault(parent, []).append(path)

    for name in top_order:
        add(name)
    for path in records:
        add(path)
    for path in in_flight:
        add(path)

    def index(path: str) -> int:
        match = _SEGMENT.search(path)
        return int(match.group(1)) if match else 0

    calls_by_path: dict[str, list[dict[str, Any]]] = {}
    for call in calls:
        calls_by_path.setdefault(str(call.get("path")), []).append(call)

    result: dict[str, dict[str, Any]] = {}

    def walk(parent: str | None, depth: int) -> None:
        kids = children.get(parent, [])
        if kids and all(p.endswith("]") for p in kids):
            kids = sorted(kids, key=index)
        for path in kids:
            result[path] = _step_entry(
                path,
                parent,
                depth,
                records.get(path),
                path in checkpointed,
                attempt_start,
                run_status,
                calls_by_path.get(path, []),
            )
            if path in in_flight and (path not in records or not records[path].done):
                result[path]["state"] = in_flight[path]
            walk(path, depth + 1)

    walk(None, 0)
    # a loop iteration's record has no start of its own: it was restored when all
    # its steps were
    for path in reversed(result):
        entry = result[path]
        kids = [result[k] for k in children.get(path, [])]
        whole = bool(kids) and all(k["restored"] for k in kids)
        if entry["state"] == "restored" and entry["started_at"] is None and not whole:
            entry.update(state="done", restored=False)
    return result


def _step_entry(
    path: str,
    parent: str | None,
    depth: int,
    record: StepRecord | None,
    in_checkpoint: bool,
    attempt_start: float,
    run_status: str,
    calls: list[dict[str, Any]],
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "path": path,
        "name": _name(path),
        "parent": parent,
        "depth": depth,
        "status": None if record is None else record.status.value,
        "state": "not_reached",
        "restored": False,
        "in_checkpoint": in_checkpoint,
        "started_at": None,
        "duration": None,
        "output": None,
        "error": None,
        "attempts": None,
    }
    if record is not None:
        restored = record.done and record.started_at < attempt_start
        entry.update(
            state=_state(record, restored, run_status),
            restored=restored,
            started_at=record.started_at or None,
            duration=record.duration,
            output=record.output,
            error=record.error,
            attempts=record.attempts,
        )
    agent = _agent(record.output if record is not None else None, calls)
    if agent:
        entry["agent"] = agent
    return entry


def _state(record: StepRecord, restored: bool, run_status: str) -> str:
    if record.status == Status.COMPLETED:
        return "restored" if restored else "done"
    if record.status == Status.RUNNING:
        # a loop header still iterating: what the run's end made of it
        if run_status == Status.RUNNING:
            return "running"
        return "failed" if run_status == Status.FAILED else "interrupted"
    return record.status.value


def _agent(output: Any, calls: list[dict[str, Any]]) -> dict[str, Any]:
    """An agent step's activity, calls and cost (every attempt)."""
    agent: dict[str, Any] = {}
    if isinstance(output, dict) and isinstance(output.get("activity"), list):
        agent["activity"] = output["activity"]
    if calls:
        costs = [float(c["cost_usd"]) for c in calls if _is_number(c.get("cost_usd"))]
        agent["calls"] = calls
        agent["cost_usd"] = round(sum(costs), 6) if costs else None
    return agent


def _top_counts(steps: dict[str, dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in steps.values():
        if entry["depth"] == 0:
            state = "done" if entry["state"] == "restored" else entry["state"]
            counts[state] = counts.get(state, 0) + 1
    return counts


def step_counts(run: Run, status: Status) -> dict[str, int]:
    """Top-level steps of a run that ended with ``status``, by state, for its summary."""
    records = run.state  # a record per top-level step, not a copy of every record
    counts: dict[str, int] = {}
    for step in run.workflow.steps:
        record = records.get(step.name)
        if record is None:
            state = "not_reached"
        elif record.status == Status.COMPLETED:
            state = "done"
        elif record.status == Status.RUNNING:
            state = "failed" if status == Status.FAILED else "interrupted"
        else:
            state = record.status.value
        counts[state] = counts.get(state, 0) + 1
    return counts
