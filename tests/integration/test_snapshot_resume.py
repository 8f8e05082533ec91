"""A long run writes many snapshots, each encoding only what is new since the last
(``builtin/checkpoint/snapshots.py``); a resume restores from the latest one exactly
the state the run had, secrets masked, and re-runs nothing it restored."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from maverick_core.builtin.checkpoint import journal, snapshots
from maverick_core.engine.run import restored_record
from maverick_core.engine.storage import CheckpointRecord
from maverick_core.testing import HookRecorder

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import pytest

ITERATIONS = 240
WORKFLOW = """\
version: "1.0"
name: many_snapshots
inputs:
  token: {{type: string, required: true, secret: true}}
steps:
  - name: first
    type: checkpoint
    checkpoint_id: first
  - name: each
    type: loop
    for_each: ${{{{ range({n}) }}}}
    steps:
      - name: saved
        type: checkpoint
        checkpoint_id: item_${{{{ index }}}}
  - name: gate
    type: shell
    command: test -f {marker} && echo token=${{{{ inputs.token }}}}
outputs:
  seen: ${{{{ steps.each.output[{last}].saved.checkpoint_id }}}}
"""


def test_a_run_of_many_snapshots_resumes_from_the_latest_restoring_everything(
    maverick_project: Path,
    maverick_run: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # snapshots every few kilobytes of journal: dozens in one run, each after the
    # loop's records grew, the first one before the loop header was replaced
    monkeypatch.setattr(journal, "MIN_SNAPSHOT_BYTES", 2048)
    encoded: list[bytes | None] = []
    encode = snapshots.ColumnEncoder.dumps

    def counted(self: snapshots.ColumnEncoder, *args: Any) -> bytes | None:
        encoded.append(encode(self, *args))
        return encoded[-1]

    monkeypatch.setattr(snapshots.ColumnEncoder, "dumps", counted)
    marker = maverick_project / "gate.ok"
    (maverick_project / "snaps.yaml").write_text(
        WORKFLOW.format(n=ITERATIONS, last=ITERATIONS - 1, marker=marker)
    )
    inputs = {"token": "sekrit-token-42"}
    failed = maverick_run("snaps.yaml", inputs)
    assert failed.status == "failed"
    run_dir = next((maverick_project / ".maverick" / "checkpoints").glob("many_snapshots-*"))
    snapshot = (run_dir / "snapshot").read_bytes()
    assert len(encoded) >= 10 and None not in encoded  # all by the encoder
    assert encoded[-1] is not None and snapshot.endswith(encoded[-1] + b"\n")
    assert b"sekrit-token-42" not in snapshot
    # the latest snapshot reads back as the run's records up to its checkpoint
    store = journal.configured_store(failed.run.config)
    record = store.read_snapshot(failed.run.run_id)
    assert isinstance(record, CheckpointRecord)
    _payload, rows = journal.decode_plain(failed.run.config, record)
    restored = {path: restored_record(row) for path, row in rows.items()}
    last = int(record.checkpoint_id.removeprefix("item_"))
    assert last > ITERATIONS // 2
    assert restored["each[0]"].output == {"saved": {"checkpoint_id": "item_0"}}
    assert restored[f"each[{last}].saved"].output == {"checkpoint_id": record.checkpoint_id}
    assert len(restored) == 2 + 2 * last + 1  # first, the header, each iteration and its step

    marker.write_text("ok")
    recorder = HookRecorder()
    resumed = maverick_run("snaps.yaml", inputs, resume=True, plugins=[recorder])
    assert resumed.status == "completed", resumed.error
    assert resumed.outputs == {"seen": f"item_{ITERATIONS - 1}"}
    # nothing restored ran again: the loop (its own end was in no checkpoint) found
    # every iteration restored, the gate ran, and no checkpoint was committed again
    assert recorder.paths("before_step") == ["each", "gate"]
    assert not recorder.of("after_checkpoint")
    assert not [n for n in recorder.of("on_notice") if "snapshot" in n["message"]]
