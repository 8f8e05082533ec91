"""Run history pieces that need no process: the stored resume command, old runs' attempts."""

from __future__ import annotations

from types import SimpleNamespace

from maverick_core.builtin.checkpoint.history import attempts_of
from maverick_core.builtin.checkpoint.journal import _resume_command
from maverick_core.engine.storage import RunRecord


def test_the_stored_resume_command_keeps_no_store_password() -> None:
    base = "maverick run wf.yaml --store postgresql://me:s3cret-pw@db.example/runs"
    stored = _resume_command(SimpleNamespace(options={"resume_command": base}))  # type: ignore[arg-type]
    assert stored == {
        "resume_command": "maverick run wf.yaml --store postgresql://me:***@db.example/runs"
    }


def test_attempts_of_a_run_written_before_attempts_come_from_its_resumes() -> None:
    record = RunRecord(
        run_id="r",
        workflow="w",
        source="w.yaml",
        project="p",
        status="completed",
        created_at=10.0,
        updated_at=50.0,
        meta={
            "resumes": [{"at": 30.0, "from": "cp", "seq": 2, "forced": False}],
            "holder": {"pid": 7, "host": "h", "since": 30.0},
        },
    )
    first, second = attempts_of(record)
    assert (first["started_at"], first["outcome"], first["pid"]) == (10.0, "unknown", None)
    assert (second["started_at"], second["ended_at"], second["outcome"]) == (
        30.0,
        50.0,
        "completed",
    )
    assert (second["resumed_from"], second["seq"], second["pid"]) == ("cp", 2, 7)
