"""A damaged store is a message on the page, never a traceback, and the viewer keeps serving."""

from __future__ import annotations

import json
import textwrap
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

from maverick_core.api import make_record
from maverick_core.builtin.filestore.store import FileStore

from .conftest import maverick, run_id_of

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from .conftest import Viewer

WORKFLOW = """
version: "1.0"
name: fragile
steps:
  - {name: one, type: shell, command: "echo one", checkpoint: true}
  - {name: two, type: shell, command: "exit 3"}
"""


def set_field(run_dir: Path, **changes: object) -> None:
    data = json.loads((run_dir / "run.json").read_text())
    data.update(changes)
    (run_dir / "run.json").write_text(json.dumps(data))


def append_record(run_dir: Path, payload: bytes) -> None:
    store = FileStore(run_dir.parent)
    store.append_checkpoint(
        make_record(run_dir.name, 2, "odd", "delta", time.time(), "json", payload)
    )
    store.close()


DAMAGE: dict[str, Callable[[Path], object]] = {
    "status-unknown": lambda d: set_field(d, status="exploded"),
    "inputs-a-list": lambda d: set_field(d, inputs=[1]),
    "not-json": lambda d: (d / "run.json").write_bytes(b"\xff\xfe{"),
    "record-not-a-checkpoint": lambda d: append_record(d, b"[1, 2, 3]"),
    "record-step-status-int": lambda d: append_record(d, b'{"records": {"a": {"status": 5}}}'),
    "journal-garbage": lambda d: [p.write_bytes(b"\x00garbage") for p in d.glob("journal-*")],
}


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_damaged_runs_are_messages_and_the_viewer_keeps_serving(
    tmp_path: Path, start_viewer: Callable[..., Viewer]
) -> None:
    (tmp_path / "fragile.yaml").write_text(textwrap.dedent(WORKFLOW))
    damaged = {}
    for kind, damage in DAMAGE.items():
        run_id = run_id_of(maverick(tmp_path, "run", "fragile.yaml", check=False))
        damage(tmp_path / ".maverick" / "checkpoints" / run_id)
        damaged[kind] = run_id
    viewer = start_viewer(tmp_path)
    for kind, run_id in damaged.items():
        for path in ("/", f"/runs/{run_id}", f"/runs/{run_id}/live?digest=x"):
            status, body = fetch(viewer.url(path))
            assert status in (200, 404, 500), (kind, path, status)
            assert "Traceback" not in body and "Internal Server Error" not in body, (kind, path)
    status, body = fetch(viewer.url(f"/runs/{damaged['journal-garbage']}"))
    assert status == 200 and "The run's checkpoints are damaged: checkpoint record" in body
    status, body = fetch(viewer.url(f"/runs/{damaged['status-unknown']}"))
    assert status == 500 and "field &#39;status&#39; is &#39;exploded&#39;" in body
    assert viewer.proc.poll() is None
    status, body = fetch(viewer.url("/"))
    assert status == 200 and "Runs" in body
