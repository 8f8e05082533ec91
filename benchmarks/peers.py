"""The same chain of N trivial steps on LangGraph, Apache Burr and DBOS, durably per step.

Each step reads the counter ``n`` and writes ``n + 1``; each engine commits its
state after every step with an fsync per commit: to SQLite with ``PRAGMA
synchronous = FULL``, or (DBOS) to PostgreSQL with ``fsync=on`` and
``synchronous_commit=on``. What is timed is one execution of the whole chain
(LangGraph's ``invoke``, Burr's ``run``, the DBOS workflow), building the graph
or application and launching DBOS off the clock, after one warm-up execution; the
figure is that time divided by N, the median over rounds.

A peer that cannot be imported or run raises :class:`PeerUnavailable` with the
reason; the caller reports it instead of a number.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable

DBOS_SCRIPT = Path(__file__).resolve().parent / "dbos_chain.py"


class Counter(TypedDict):
    """The chain's state: one counter.

    LangGraph resolves the nodes' annotations at run time, so this lives at module
    level, where the string annotations (``from __future__``) can find it.
    """

    n: int


class PeerUnavailable(Exception):
    """The peer cannot be measured here; the message says why."""


@attrs.frozen
class PeerResult:
    """A peer's median seconds per durably committed step, and how it was set up."""

    name: str
    version: str
    seconds_per_step: float
    settings: str


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "?"


def _pragmas(connection: sqlite3.Connection) -> str:
    journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
    synchronous = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(
        connection.execute("PRAGMA synchronous").fetchone()[0], "?"
    )
    return f"journal_mode={journal}, synchronous={synchronous}"


def _median_per_step(peer: str, run_once: Callable[[int], float], steps: int, rounds: int) -> float:
    """Median over ``rounds`` of one chain's execution seconds / steps, after a warm-up.

    ``run_once(index)`` executes chain ``index`` and returns the seconds its
    execution took (set-up such as building an application is not included). Any
    failure of the peer becomes :class:`PeerUnavailable` naming ``peer``.
    """
    try:
        run_once(-1)
        return statistics.median(run_once(index) / steps for index in range(rounds))
    except PeerUnavailable:
        raise
    except Exception as error:
        raise PeerUnavailable(f"{peer} failed: {type(error).__name__}: {error}") from None


def langgraph_chain(directory: Path, steps: int, rounds: int) -> PeerResult:
    """LangGraph ``StateGraph`` of ``steps`` nodes, ``SqliteSaver``, ``durability="sync"``.

    ``durability="sync"`` makes ``invoke`` wait for each step's checkpoint to be
    written before the next step starts; the saver's connection commits each write.
    """
    try:
        from langgraph.checkpoint.sqlite import SqliteSaver
        from langgraph.graph import END, START, StateGraph
    except ImportError as error:
        raise PeerUnavailable(
            f"langgraph / langgraph-checkpoint-sqlite not importable ({error}); "
            "pip install -e .[bench]"
        ) from None

    def increment(state: Counter) -> dict[str, int]:
        return {"n": state["n"] + 1}

    graph: Any = StateGraph(Counter)
    previous = START
    for index in range(steps):
        graph.add_node(f"s{index}", increment)
        graph.add_edge(previous, f"s{index}")
        previous = f"s{index}"
    graph.add_edge(previous, END)

    connection = sqlite3.connect(directory / "langgraph.sqlite", check_same_thread=False)
    try:
        saver = SqliteSaver(connection)
        saver.setup()  # creates the tables and sets journal_mode=WAL, as LangGraph does itself
        connection.execute("PRAGMA synchronous = FULL")
        app = graph.compile(checkpointer=saver)

        def run_once(index: int) -> float:
            thread = {"thread_id": f"chain-{index}"}
            config = {"configurable": thread, "recursion_limit": steps + 10}
            started = time.perf_counter()
            result = app.invoke({"n": 0}, config, durability="sync")
            seconds = time.perf_counter() - started
            if result["n"] != steps:
                raise PeerUnavailable(f"LangGraph chain ended at n={result['n']}, not {steps}")
            return seconds

        seconds = _median_per_step("LangGraph", run_once, steps, rounds)
        settings = f"SqliteSaver, durability=sync, {_pragmas(connection)}"
    finally:
        connection.close()
    return PeerResult("LangGraph", _version("langgraph"), seconds, settings)


def burr_chain(directory: Path, steps: int, rounds: int, journal_mode: str | None) -> PeerResult:
    """Apache Burr application of ``steps`` actions, ``SQLitePersister`` saving each step.

    With ``journal_mode`` None the persister's database keeps SQLite's default
    rollback journal, as ``SQLitePersister.from_values`` creates it; ``"wal"``
    switches it to write-ahead logging (what LangGraph and maverick-sqlite use).
    """
    try:
        from burr.core import ApplicationBuilder, State, action
        from burr.core.persistence import SQLitePersister
    except ImportError as error:
        raise PeerUnavailable(
            f"apache-burr not importable ({error}); pip install -e .[bench]"
        ) from None

    @action(reads=["n"], writes=["n"])
    def increment(state: State[Any]) -> State[Any]:
        return state.update(n=state["n"] + 1)

    name = "burr-wal" if journal_mode else "burr"
    # Burr's persister and builder are untyped: handled as Any here
    persister: Any = SQLitePersister.from_values(db_path=str(directory / f"{name}.sqlite"))
    try:
        if journal_mode:
            persister.connection.execute(f"PRAGMA journal_mode = {journal_mode}")
        persister.connection.execute("PRAGMA synchronous = FULL")
        persister.initialize()
        names = [f"s{index}" for index in range(steps)]

        def run_once(index: int) -> float:
            builder: Any = ApplicationBuilder()  # type: ignore[no-untyped-call]
            app: Any = (
                builder.with_actions(**{step: increment for step in names})
                .with_transitions(*itertools.pairwise(names))
                .with_state(n=0)
                .with_entrypoint(names[0])
                .with_state_persister(persister)
                .with_identifiers(app_id=f"chain-{index}")
                .build()
            )
            # Building the application is set-up, not execution: off the clock.
            started = time.perf_counter()
            _, _, state = app.run(halt_after=[names[-1]])
            seconds = time.perf_counter() - started
            if state["n"] != steps:
                raise PeerUnavailable(f"Burr chain ended at n={state['n']}, not {steps}")
            return seconds

        seconds = _median_per_step("Burr", run_once, steps, rounds)
        settings = f"SQLitePersister saving every step, {_pragmas(persister.connection)}"
    finally:
        persister.connection.close()
    return PeerResult(
        "Burr" + (" (WAL)" if journal_mode else ""), _version("apache-burr"), seconds, settings
    )


def dbos_chain(steps: int, rounds: int, system_database_url: str, label: str) -> PeerResult:
    """DBOS Transact: a ``@DBOS.workflow()`` calling a ``@DBOS.step()`` ``steps`` times.

    It runs in a subprocess (``benchmarks/dbos_chain.py``, which see): DBOS is a
    process-wide singleton. ``system_database_url`` is a ``sqlite:///`` file (DBOS
    3.x supports a SQLite system database; the script sets WAL and
    ``synchronous=FULL``) or a ``postgresql://`` database on a server with
    ``fsync`` and ``synchronous_commit`` on. ``label`` names the row.
    """
    try:
        version = metadata.version("dbos")
    except metadata.PackageNotFoundError:
        raise PeerUnavailable("dbos not installed; pip install -e .[bench]") from None
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBOS_")}
    try:
        proc = subprocess.run(
            [sys.executable, str(DBOS_SCRIPT), system_database_url, str(steps), str(rounds)],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PeerUnavailable(f"DBOS ({label}) took over 600 s") from None
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        reason = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        raise PeerUnavailable(f"DBOS {version} ({label}) failed: {reason}")
    result = json.loads(lines[-1])
    return PeerResult(
        f"DBOS ({label})", result["version"], float(result["seconds_per_step"]), result["settings"]
    )
