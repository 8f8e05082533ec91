"""A real, throwaway PostgreSQL server for tests and scripts.

``initdb`` + ``pg_ctl`` in a temporary directory, listening on a free loopback port,
with a password-protected superuser and one database; everything is removed when the
server stops. Used by the ``maverick-postgres`` tests and by integration tests that
need a shared store::

    with running_postgres_server() as server:
        subprocess.run(["maverick", "run", "demo.yaml", "--store", server.url])

or, in pytest, the session-scoped :func:`postgres_server` fixture (one server per test
session)::

    def test_something(postgres_server: PostgresServer) -> None:
        url = postgres_server.create_database("isolated")

PostgreSQL refuses to run as root. When this process is root, the server runs as an
unprivileged user instead (``$MAVERICK_PG_USER``, else ``postgres``, else ``nobody``):
the temporary directory is handed to that user and every server command runs with its
uid and gid (``subprocess`` ``user=``/``group=``), so CI containers that run as root
work on a fresh clone.

The binaries are looked up in ``$MAVERICK_PG_BINDIR``, next to ``pg_ctl`` on ``PATH``,
in ``pg_config --bindir`` and in ``/usr/lib/postgresql/<newest>/bin``. When they are
missing the fixture skips with the reason, except in CI (``$CI`` set and not
``false``/``0``), where it fails: a CI job must never pass by skipping its database
tests. A server that is installed but does not start is always an error.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import attrs
import pytest

SUPERUSER = "maverick"
DEFAULT_DATABASE = "maverick"
START_TIMEOUT = 60
_UNPRIVILEGED_USERS = ("postgres", "nobody")
_REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres", "createdb")


class PostgresUnavailable(RuntimeError):
    """PostgreSQL binaries are not installed (or cannot be used by this user)."""


class PostgresStartError(RuntimeError):
    """The server is installed but could not be initialised, started or stopped."""


@attrs.frozen
class _RunAs:
    """The account server commands run as; ``uid is None`` means this process's own."""

    uid: int | None = None
    gid: int | None = None
    name: str = ""


@attrs.define
class PostgresServer:
    """A running throwaway server; :attr:`url` points at its default database."""

    bindir: Path
    base_dir: Path
    port: int
    password: str
    run_as: _RunAs
    host: str = "127.0.0.1"
    user: str = SUPERUSER
    dbname: str = DEFAULT_DATABASE
    stopped: bool = False

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        """Where the server's unix socket lives (inside the temporary directory)."""
        return self.base_dir / "sock"

    @property
    def log_file(self) -> Path:
        """The server log (kept until the server stops)."""
        return self.base_dir / "server.log"

    @property
    def url(self) -> str:
        """``postgresql://maverick:PASSWORD@127.0.0.1:PORT/maverick``."""
        return self.url_for(self.dbname)

    def url_for(self, dbname: str) -> str:
        """The URL of another database on this server."""
        return (
            f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(dbname, safe='')}"
        )

    def create_database(self, dbname: str) -> str:
        """Create a fresh database (e.g. one a test may break) and return its URL."""
        _run(
            [
                str(self.bindir / "createdb"),
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                self.user,
                dbname,
            ],
            self.run_as,
            self.base_dir,
            f"createdb {dbname}",
        )
        return self.url_for(dbname)

    def stop(self) -> None:
        """Stop the server and delete its directory (idempotent)."""
        if self.stopped:
            return
        self.stopped = True
        try:
            pg_ctl = str(self.bindir / "pg_ctl")
            try:
                _run(
                    [pg_ctl, "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30"],
                    self.run_as,
                    self.base_dir,
                    "pg_ctl stop",
                )
            except PostgresStartError:
                _run(
                    [pg_ctl, "stop", "-D", str(self.data_dir), "-m", "immediate", "-w"],
                    self.run_as,
                    self.base_dir,
                    "pg_ctl stop -m immediate",
                )
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)


def find_bindir() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``.

    :raises PostgresUnavailable: naming every place that was looked at.
    """
    candidates: list[Path] = []
    if env := os.environ.get("MAVERICK_PG_BINDIR"):
        candidates.append(Path(env))
    if pg_ctl := shutil.which("pg_ctl"):
        candidates.append(Path(pg_ctl).resolve().parent)
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
            candidates.append(Path(out))
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: _version_key(p.parent.name),
        reverse=True,
    )
    candidates.extend(versions)
    candidates = list(dict.fromkeys(candidates))
    for bindir in candidates:
        if all(os.access(bindir / name, os.X_OK) for name in _REQUIRED_BINARIES):
            return bindir
    looked = ", ".join(str(c) for c in candidates) or "nowhere (no pg_ctl on PATH, no pg_config)"
    raise PostgresUnavailable(
        f"PostgreSQL server binaries ({', '.join(_REQUIRED_BINARIES)}) not found; looked in "
        f"{looked}. Install PostgreSQL (e.g. apt-get install postgresql) or set "
        f"MAVERICK_PG_BINDIR"
    )


def start_postgres_server(*, dbname: str = DEFAULT_DATABASE) -> PostgresServer:
    """Initialise and start a server; the caller must :meth:`~PostgresServer.stop` it.

    :raises PostgresUnavailable: the binaries (or a user to run them as) are missing.
    :raises PostgresStartError: initdb or the server failed; the message has the log.
    """
    bindir = find_bindir()
    run_as = _unprivileged_account()
    base_dir = _make_base_dir(run_as)
    password = secrets.token_urlsafe(16)
    server = PostgresServer(
        bindir=bindir, base_dir=base_dir, port=0, password=password, run_as=run_as, dbname=dbname
    )
    try:
        _initdb(server)
        _start(server)
        server.create_database(dbname)
    except BaseException:
        if server.port:
            server.stop()
        else:
            shutil.rmtree(base_dir, ignore_errors=True)
        raise
    return server


@contextlib.contextmanager
def running_postgres_server(*, dbname: str = DEFAULT_DATABASE) -> Iterator[PostgresServer]:
    """Context manager form of :func:`start_postgres_server` for scripts."""
    server = start_postgres_server(dbname=dbname)
    try:
        yield server
    finally:
        server.stop()


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole test session.

    Skips when PostgreSQL is not installed, except in CI, where that fails the test.
    """
    unavailable = ""
    try:
        server = start_postgres_server()
    except PostgresUnavailable as exc:
        unavailable = str(exc)
    if unavailable:
        if _in_ci():
            pytest.fail(f"CI needs PostgreSQL: {unavailable}", pytrace=False)
        pytest.skip(unavailable)
    try:
        yield server
    finally:
        server.stop()


def _version_key(name: str) -> tuple[int, ...]:
    parts = name.split(".")
    return tuple(int(p) for p in parts if p.isdigit())


def _unprivileged_account() -> _RunAs:
    if os.geteuid() != 0:
        return _RunAs()
    names = [os.environ["MAVERICK_PG_USER"]] if os.environ.get("MAVERICK_PG_USER") else []
    names.extend(_UNPRIVILEGED_USERS)
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return _RunAs(uid=entry.pw_uid, gid=entry.pw_gid, name=name)
    raise PostgresUnavailable(
        f"running as root, and none of the users {', '.join(names)} exists to run "
        f"PostgreSQL (it refuses to run as root); create one or set MAVERICK_PG_USER"
    )


def _make_base_dir(run_as: _RunAs) -> Path:
    parent = Path(tempfile.gettempdir())
    if run_as.uid is not None and not _traversable(parent, run_as):
        # $TMPDIR may sit under /root; the server's user must reach its own directory.
        parent = Path("/tmp")
        if not _traversable(parent, run_as):
            raise PostgresUnavailable(
                f"no temporary directory the user {run_as.name} can reach "
                f"({tempfile.gettempdir()} and /tmp are closed to it)"
            )
    base_dir = Path(tempfile.mkdtemp(prefix="maverick-pg-", dir=parent))
    (base_dir / "sock").mkdir()
    if run_as.uid is not None and run_as.gid is not None:
        for path in (base_dir, base_dir / "sock"):
            os.chown(path, run_as.uid, run_as.gid)
    return base_dir


def _traversable(path: Path, run_as: _RunAs) -> bool:
    for directory in (path.resolve(), *path.resolve().parents):
        info = directory.stat()
        if info.st_uid == run_as.uid:
            needed = stat.S_IXUSR
        elif info.st_gid == run_as.gid:
            needed = stat.S_IXGRP
        else:
            needed = stat.S_IXOTH
        if not info.st_mode & needed:
            return False
    return True


def _run(args: list[str], run_as: _RunAs, cwd: Path, what: str) -> str:
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    env.pop("PGDATA", None)
    try:
        proc = subprocess.run(
            args,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            user=run_as.uid,
            group=run_as.gid,
            extra_groups=[] if run_as.uid is not None else None,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PostgresStartError(f"{what} failed: {exc}") from exc
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()
        raise PostgresStartError(f"{what} failed (exit {proc.returncode}):\n{output}")
    return proc.stdout


def _initdb(server: PostgresServer) -> None:
    pwfile = server.base_dir / "pwfile"
    pwfile.write_text(server.password + "\n")
    os.chmod(pwfile, 0o600)
    if server.run_as.uid is not None and server.run_as.gid is not None:
        os.chown(pwfile, server.run_as.uid, server.run_as.gid)
    try:
        _run(
            [
                str(server.bindir / "initdb"),
                "-D",
                str(server.data_dir),
                "-U",
                server.user,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            server.run_as,
            server.base_dir,
            "initdb",
        )
    finally:
        pwfile.unlink(missing_ok=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(server: PostgresServer) -> None:
    conf = server.data_dir / "postgresql.conf"
    base_conf = conf.read_text()
    last_error: PostgresStartError | None = None
    # A free port can be taken by someone else before the server binds it: retry.
    for _attempt in range(3):
        server.port = _free_port()
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(server.port),
            "unix_socket_directories": "'" + str(server.socket_dir).replace("'", "''") + "'",
            "logging_collector": "off",
        }
        conf.write_text(base_conf + "".join(f"\n{k} = {v}" for k, v in settings.items()) + "\n")
        try:
            _run(
                [
                    str(server.bindir / "pg_ctl"),
                    "start",
                    "-D",
                    str(server.data_dir),
                    "-l",
                    str(server.log_file),
                    "-w",
                    "-t",
                    str(START_TIMEOUT),
                ],
                server.run_as,
                server.base_dir,
                "pg_ctl start",
            )
            return
        except PostgresStartError as exc:
            log = server.log_file.read_text(errors="replace") if server.log_file.exists() else ""
            last_error = PostgresStartError(f"{exc}\nserver log:\n{log[-4000:]}")
    server.port = 0
    assert last_error is not None
    raise last_error
