"""The durability helper: fdatasync on Linux, F_FULLFSYNC on macOS, atomic replaces."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import subprocess
import sys
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from maverick_core.api import Project, atomic_write, sync_directory, sync_file
from maverick_core.builtin.filestore.store import FileStore
from maverick_core.engine import durability
from maverick_core.testing.conformance import delta, make_run
from maverick_core.testing.platforms import FcntlRecorder, simulate_macos

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(autouse=True)
def _default_durability(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(durability.ENV_VAR, raising=False)
    monkeypatch.setattr(durability, "_mode", None)


@pytest.fixture
def macos(monkeypatch: pytest.MonkeyPatch) -> FcntlRecorder:
    return simulate_macos(monkeypatch)


def record_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(os, name)

    def recording(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, name, recording)
    return calls


def synced_file(directory: Path) -> int:
    """Write a file and sync it; returns the (now closed) descriptor number it had."""
    fd = os.open(directory / "f", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.write(fd, b"data")
        sync_file(fd)
    finally:
        os.close(fd)
    return fd


def test_on_linux_a_sync_is_fdatasync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = record_calls(monkeypatch, "fdatasync")
    fd = synced_file(tmp_path)
    assert calls == [fd]


def test_on_macos_a_sync_is_f_fullfsync(tmp_path: Path, macos: FcntlRecorder) -> None:
    fd = synced_file(tmp_path)
    assert macos.calls == [(fd, durability.F_FULLFSYNC)]
    assert getattr(fcntl, "F_FULLFSYNC", 51) == durability.F_FULLFSYNC


@pytest.mark.parametrize("how", ["env", "setting"])
def test_durability_fsync_trades_f_fullfsync_for_plain_fsync(
    tmp_path: Path, macos: FcntlRecorder, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "env":
        monkeypatch.setenv("MAVERICK_DURABILITY", "fsync")
    else:
        durability.set_durability("fsync")
    fsyncs = record_calls(monkeypatch, "fsync")
    fd = synced_file(tmp_path)
    assert macos.full_syncs == 0
    assert fsyncs == [fd]


def test_a_file_system_without_f_fullfsync_falls_back_to_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.delattr(os, "fdatasync")

    def refusing(fd: int, cmd: int, arg: Any = 0) -> int:
        raise OSError(errno.ENOTSUP, "Operation not supported")

    monkeypatch.setattr(fcntl, "fcntl", refusing)
    fsyncs = record_calls(monkeypatch, "fsync")
    fd = synced_file(tmp_path)
    assert fsyncs == [fd]


def test_a_failing_sync_is_an_error(tmp_path: Path, macos: FcntlRecorder) -> None:
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    with pytest.raises(OSError):
        sync_file(fd)  # a closed descriptor: EBADF is never swallowed


def test_atomic_write_on_macos_syncs_the_file_and_its_directory(
    tmp_path: Path, macos: FcntlRecorder
) -> None:
    target = tmp_path / "state"
    target.write_bytes(b"old")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert macos.full_syncs == 2  # the temporary file, then the directory after the rename
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]


def test_sync_directory_on_macos_is_f_fullfsync(tmp_path: Path, macos: FcntlRecorder) -> None:
    sync_directory(tmp_path)
    assert macos.full_syncs == 1


def test_a_failed_atomic_write_keeps_the_old_content_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "state"
    target.mkdir()  # the rename over a non-empty directory fails
    (target / "old").write_bytes(b"old")
    with pytest.raises(OSError):
        atomic_write(target, b"new")
    assert (target / "old").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]


def test_the_local_provider_writes_pull_requests_durably_on_macos(
    tmp_path: Path, macos: FcntlRecorder
) -> None:
    from maverick_core.devflow.providers import LocalProvider

    config: Any = SimpleNamespace(root=tmp_path, settings={})
    provider = LocalProvider(config, runner=None)  # type: ignore[arg-type]
    pr = provider.create_pull_request(title="t", body="b", head="feat", base="main", draft=False)
    assert (tmp_path / pr.url).read_text(encoding="utf-8").endswith("---\nb\n")
    assert macos.full_syncs >= 2


def test_an_unknown_durability_setting_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "maverick.yaml").write_text("project: p\ndurability: paranoid\n")
    result = subprocess.run(
        [sys.executable, "-c", "from maverick_core.engine.cli import main; main()", "runs", "list"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    # maverick.yaml is checked against the section the core declares: a located error
    assert result.stderr.strip().splitlines() == [
        f"{(tmp_path / 'maverick.yaml').resolve()}:2:13: durability: "
        "'paranoid' is not one of 'full', 'fsync'"
    ]


def test_on_macos_file_store_commits_flush_the_drive_cache(
    tmp_path: Path, macos: FcntlRecorder
) -> None:
    store = FileStore.open("file:", Project(tmp_path, "p"))
    store.create_run(make_run("r1"))
    before = macos.full_syncs
    store.append_checkpoint(delta("r1", 1))
    store.append_checkpoint(delta("r1", 2))
    assert macos.full_syncs - before >= 2
    before = macos.full_syncs
    store.write_snapshot(delta("r1", 2, kind="full"))
    assert macos.full_syncs - before == 2  # the temporary file, then the directory
    store.close()
