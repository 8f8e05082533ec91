"""A real, throwaway PostgreSQL server for tests and scripts.

Needs the ``test`` extra (``pip install maverick-postgres[test]``: pytest-postgresql)::

    with running_postgres_server() as server:
        subprocess.run(["maverick", "run", "demo.yaml", "--store", server.url], check=True)

pytest-postgresql does the work: its ``PostgreSQLExecutor`` initialises the cluster
(``pg_ctl initdb``), starts the server, waits until it accepts connections, stops it and
removes its data; its ``DatabaseJanitor`` creates databases. This module adds only what
that library does not do:

- finding the server binaries where Debian puts them (``/usr/lib/postgresql/<version>/bin``,
  off ``PATH``), besides ``$MAVERICK_PG_BINDIR`` and ``pg_ctl`` on ``PATH``;
- running the server as an unprivileged user when this process is root, as in CI
  containers (``initdb`` and ``postgres`` refuse root): every ``pg_ctl`` command goes
  through a small wrapper that drops to ``$MAVERICK_PG_USER``, else ``postgres``, else
  ``nobody`` (``setpriv``), in a temporary directory handed to that user;
- a password on TCP connections (``scram-sha-256``; the unix socket stays trusted), so
  URLs look like a real deployment's, set after start because the library's own
  password file cannot be read by that other user.

The session-scoped pytest fixture built on it lives in the plugin's ``tests/conftest.py``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shlex
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytest_postgresql.executors import PostgreSQLExecutor

SUPERUSER = "maverick"
DEFAULT_DATABASE = "maverick"
START_TIMEOUT = 60
_UNPRIVILEGED_USERS = ("postgres", "nobody")


class PostgresUnavailable(RuntimeError):
    """PostgreSQL server binaries are not installed (or no user may run them)."""


class PostgresStartError(RuntimeError):
    """The server is installed but could not be initialised or started."""


@dataclass(frozen=True)
class RunAs:
    """The account the server runs as; ``uid is None`` means this process's own."""

    uid: int | None = None
    gid: int | None = None
    name: str = ""


@dataclass
class PostgresServer:
    """A running throwaway server; :attr:`url` points at its default database."""

    executor: PostgreSQLExecutor = field(repr=False)
    directories: list[Path]
    port: int
    password: str = field(repr=False)
    host: str = "127.0.0.1"
    user: str = SUPERUSER
    dbname: str = DEFAULT_DATABASE
    stopped: bool = False

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
        from pytest_postgresql.janitor import DatabaseJanitor

        DatabaseJanitor(
            user=self.user, host=self.host, port=self.port, dbname=dbname, password=self.password
        ).init()
        return self.url_for(dbname)

    def stop(self) -> None:
        """Stop the server and delete its directory (idempotent)."""
        if self.stopped:
            return
        self.stopped = True
        try:
            self.executor.stop()
        finally:
            for directory in self.directories:
                shutil.rmtree(directory, ignore_errors=True)


def find_pg_ctl() -> Path:
    """The ``pg_ctl`` of the newest installed server.

    :raises PostgresUnavailable: naming every place that was looked at.
    """
    candidates: list[Path] = []
    if env := os.environ.get("MAVERICK_PG_BINDIR"):
        candidates.append(Path(env))
    if on_path := shutil.which("pg_ctl"):
        candidates.append(Path(on_path).resolve().parent)
    candidates.extend(
        sorted(
            Path("/usr/lib/postgresql").glob("*/bin"),
            key=lambda p: tuple(int(x) for x in p.parent.name.split(".") if x.isdigit()),
            reverse=True,
        )
    )
    for bindir in dict.fromkeys(candidates):
        if all(os.access(bindir / name, os.X_OK) for name in ("pg_ctl", "initdb", "postgres")):
            return bindir / "pg_ctl"
    looked = ", ".join(str(c) for c in candidates) or "nowhere (no pg_ctl on PATH)"
    raise PostgresUnavailable(
        f"PostgreSQL server binaries (pg_ctl, initdb, postgres) not found; looked in {looked}. "
        f"Install PostgreSQL (e.g. apt-get install postgresql) or set MAVERICK_PG_BINDIR"
    )


@contextlib.contextmanager
def postgres_for_tests() -> Iterator[PostgresServer]:
    """A started server for a test fixture, stopped after: the test skips when
    PostgreSQL is not installed here, and fails when that happens in CI."""
    import pytest

    from maverick_core.testing import in_ci

    try:
        server = start_postgres_server()
    except PostgresUnavailable as exc:
        if in_ci():
            pytest.fail(f"CI needs PostgreSQL: {exc}", pytrace=False)
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


def start_postgres_server(
    *, dbname: str = DEFAULT_DATABASE, durable: bool = False
) -> PostgresServer:
    """Initialise and start a server; the caller must :meth:`~PostgresServer.stop` it.

    :param durable: keep ``fsync`` on, as a real deployment has it (benchmarks); tests
        leave it off, as pytest-postgresql does, since a throwaway server's data need
        not survive a crash.

    :raises PostgresUnavailable: the binaries (or a user to run them as) are missing.
    :raises PostgresStartError: initdb or the server failed; the message has the log.
    """
    pg_ctl = find_pg_ctl()
    run_as = unprivileged_account()
    directories = [_make_base_dir(run_as)]
    try:
        if run_as.uid is not None:
            directories.append(Path(tempfile.mkdtemp(prefix="maverick-pg-ctl-")))
            pg_ctl = _pg_ctl_as(run_as, pg_ctl, directories[0], directories[1])
        return _start(pg_ctl, directories, dbname, durable)
    except BaseException:
        for directory in directories:
            shutil.rmtree(directory, ignore_errors=True)
        raise


@contextlib.contextmanager
def running_postgres_server(
    *, dbname: str = DEFAULT_DATABASE, durable: bool = False
) -> Iterator[PostgresServer]:
    """Context manager form of :func:`start_postgres_server`."""
    server = start_postgres_server(dbname=dbname, durable=durable)
    try:
        yield server
    finally:
        server.stop()


def unprivileged_account() -> RunAs:
    """Whom the server runs as: this process, or when it is root, an unprivileged user."""
    if os.geteuid() != 0:
        return RunAs()
    names = [os.environ["MAVERICK_PG_USER"]] if os.environ.get("MAVERICK_PG_USER") else []
    names.extend(_UNPRIVILEGED_USERS)
    for name in names:
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            if entry.pw_uid != 0:
                return RunAs(uid=entry.pw_uid, gid=entry.pw_gid, name=name)
    raise PostgresUnavailable(
        f"running as root, and none of the users {', '.join(names)} exists to run "
        f"PostgreSQL (it refuses to run as root); create one or set MAVERICK_PG_USER"
    )


def _make_base_dir(run_as: RunAs) -> Path:
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
    if run_as.uid is not None and run_as.gid is not None:
        os.chown(base_dir, run_as.uid, run_as.gid)
    return base_dir


def _traversable(path: Path, run_as: RunAs) -> bool:
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


def _pg_ctl_as(run_as: RunAs, pg_ctl: Path, base_dir: Path, wrapper_dir: Path) -> Path:
    """A ``pg_ctl`` that runs the real one as ``run_as``: every command the library runs
    (initdb, start, status, stop) goes through it. It lives in a directory of root's own,
    so the server's user cannot change what root executes."""
    wrapper = wrapper_dir / "pg_ctl"
    wrapper.write_text(
        "#!/bin/sh\n"
        # the caller's working directory may be closed to that user
        f"cd {shlex.quote(str(base_dir))} || exit 1\n"
        f"exec setpriv --reuid={run_as.uid} --regid={run_as.gid} --clear-groups -- "
        f'{shlex.quote(str(pg_ctl))} "$@"\n'
    )
    wrapper.chmod(0o700)
    return wrapper


def _start(pg_ctl: Path, directories: list[Path], dbname: str, durable: bool) -> PostgresServer:
    from mirakuru.exceptions import ExecutorError
    from port_for import get_port
    from pytest_postgresql.exceptions import ExecutableMissingException
    from pytest_postgresql.executors import PostgreSQLExecutor

    base_dir = directories[0]
    log = base_dir / "server.log"
    failure = PostgresStartError("PostgreSQL did not start")
    # A free port can be taken by someone else before the server binds it: retry.
    for _attempt in range(3):
        port = get_port(None)
        assert port is not None
        executor = PostgreSQLExecutor(
            executable=str(pg_ctl),
            host="127.0.0.1",
            port=port,
            datadir=str(base_dir / "data"),
            unixsocketdir=str(base_dir),
            logfile=str(log),
            startparams="-w",
            dbname=dbname,
            user=SUPERUSER,
            timeout=START_TIMEOUT,
            # the library starts the server with -F (no fsync); a later -c wins
            postgres_options="-c fsync=on" if durable else "",
        )
        try:
            executor.start()
            # The port opens before the server accepts sessions ("the database system is
            # starting up"); ``pg_ctl start -w`` exits only once it does.
            if executor.process is not None and executor.process.wait(START_TIMEOUT) != 0:
                raise subprocess.SubprocessError(
                    f"pg_ctl start exited {executor.process.returncode}"
                )
        except (ExecutorError, ExecutableMissingException, subprocess.SubprocessError) as exc:
            output = getattr(exc, "output", None) or b""
            text = output.decode(errors="replace") if isinstance(output, bytes) else str(output)
            tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
            failure = PostgresStartError(f"PostgreSQL did not start: {exc}\n{text}{tail}")
            with contextlib.suppress(Exception):
                executor.stop()
            continue
        server = PostgresServer(
            executor=executor,
            directories=directories,
            port=port,
            password=secrets.token_urlsafe(16),
            dbname=dbname,
        )
        try:
            _require_password(server)
            server.create_database(dbname)
        except BaseException:
            server.stop()
            raise
        return server
    raise failure


def _require_password(server: PostgresServer) -> None:
    """Give the superuser a password and make TCP connections need it.

    The cluster starts with ``trust`` everywhere (the library's password file is
    unreadable to the server's user when we are root); the socket stays trusted.
    """
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(server.user), sql.Literal(server.password)
            )
        )
        row = conn.execute("SHOW hba_file").fetchone()
        assert row is not None
        Path(row[0]).write_text("local all all trust\nhost all all all scram-sha-256\n")
        conn.execute("SELECT pg_reload_conf()")
