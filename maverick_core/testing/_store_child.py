"""The child process of the store conformance kit (private).

The kit runs ``python -m maverick_core.testing._store_child SPEC`` where ``SPEC`` is
JSON naming the store (URL, project, plugin modules) and a command:

``lock``
    acquire the run's lock, print ``locked``, then wait to be killed.
``append``
    append records ``start_seq, start_seq + 1, ...`` (every ``snapshot_every``-th
    also as the snapshot) in a tight loop, printing ``ready`` after the first,
    until killed; or exactly ``count`` records, then exit 0.

It opens the store through the plugin manager, by URL, exactly as ``maverick``
does, so the store under test must be installed (entry point) or named in
``plugins`` (``-p`` modules).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maverick_core.engine.pluginmanager import make_plugin_manager, open_store
from maverick_core.engine.storage import LockHolder, Project, Store, make_record

if TYPE_CHECKING:
    from collections.abc import Sequence


def open_store_by_url(url: str, project: Project, plugins: Sequence[str] = ()) -> Store:
    """Open ``url`` the way ``maverick --store URL -p PLUGIN...`` would."""
    return open_store(make_plugin_manager(plugins=list(plugins)), url, project)


def payload_for_seq(seq: int) -> bytes:
    """A payload that depends only on ``seq``: sizes from 0 to 256 KiB, some binary.

    Large payloads make a kill in the middle of a write likely; binary ones (with
    newlines and every byte value) exercise a store's framing.
    """
    size = (seq * 7919) % 5 * 64 * 1024 + (seq * 104729) % 4096
    head = b'{"seq":%d,"pad":"' % seq
    body = (bytes(range(256)) * (size // 256 + 1))[:size] if seq % 3 == 0 else b"x" * size
    return head + body + b'"}'


def _append(store: Store, spec: dict[str, Any]) -> None:
    run_id: str = spec["run_id"]
    seq: int = spec["start_seq"]
    count: int | None = spec.get("count")
    snapshot_every: int = spec.get("snapshot_every", 0)
    written = 0
    while count is None or written < count:
        record = make_record(
            run_id, seq, f"cp-{seq}", "delta", time.time(), "json", payload_for_seq(seq)
        )
        store.append_checkpoint(record)
        if snapshot_every and seq % snapshot_every == 0:
            store.write_snapshot(
                make_record(run_id, seq, f"cp-{seq}", "full", time.time(), "json", record.payload)
            )
        if written == 0:
            print("ready", flush=True)
        written += 1
        seq += 1


def main(argv: Sequence[str]) -> int:
    """Run the command the JSON spec in ``argv[0]`` names."""
    spec: dict[str, Any] = json.loads(argv[0])
    project = Project(root=Path(spec["root"]), name=spec["name"])
    store = open_store_by_url(spec["url"], project, spec.get("plugins", ()))
    if spec["command"] == "lock":
        store.acquire_lock(spec["run_id"], LockHolder.current(time.time(), spec.get("token", "")))
        print("locked", flush=True)
        while True:
            time.sleep(60)
    elif spec["command"] == "append":
        _append(store, spec)
    else:
        print(f"unknown command {spec['command']!r}", file=sys.stderr)
        return 2
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
