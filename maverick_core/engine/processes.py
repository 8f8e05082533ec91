"""Child processes of a run: one runner, started in their own session, killed as a tree.

Every command maverick starts (shell steps, validation stages, agent backends, git
and ``gh``) goes through :func:`run_process`: the child leads its own session, so a
timeout kills its whole process tree, and it is tracked by the run's
:class:`ProcessGroup`, so an interrupted run (SIGINT, SIGTERM, SIGHUP) stops every
tree it started instead of leaving orphans behind.

A SIGKILLed maverick cannot stop anything, so a resumable run also keeps a
:class:`ProcessLedger`: the process groups it started, written to a file as each
starts. The next executor of the run (``--resume``, which holds the lock, so the
previous holder is gone) terminates the groups still alive before running any step
(:func:`reap_orphans`), so the work never runs twice at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import threading
import time
from typing import IO, TYPE_CHECKING, Any

from maverick_core.engine.errors import StepFailed
from maverick_core.engine.liveness import process_start_time
from maverick_core.engine.plainclass import FrozenClass

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

# How long to wait for the output of a killed tree: a grandchild that left the
# process group (a daemon) may hold the pipes open forever.
DRAIN_AFTER_KILL = 5.0


MARKER_ENV = "MAVERICK_PROCESS_MARK"
"""Set in every child of a resumable run: how a later resume recognises its orphans."""


class ProcessGroup:
    """Child processes of the run, terminated together when it is interrupted.

    :param ledger: where the run records its process groups so a later resume can
        stop them if this process is SIGKILLed (None: not recorded).
    """

    def __init__(self, ledger: ProcessLedger | None = None) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()
        self.ledger = ledger

    def popen(self, *args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start a process in its own session so the whole tree can be signalled."""
        kwargs.setdefault("start_new_session", True)
        if self.ledger is not None:
            env = kwargs.get("env")
            kwargs["env"] = {**(os.environ if env is None else env), MARKER_ENV: self.ledger.mark}
            if not self.ledger.path.exists():
                # the mark is on disk before any child carries it: a kill right after
                # the start still leaves the child findable
                with self._lock:
                    self.ledger.record(self._procs)
        proc: subprocess.Popen[bytes] = subprocess.Popen(*args, **kwargs)
        with self._lock:
            self._procs.add(proc)
            if self.ledger is not None:
                self.ledger.record(self._procs)
        return proc

    def forget(self, proc: subprocess.Popen[bytes]) -> None:
        """Stop tracking a finished process.

        The ledger is not rewritten here (the next start rewrites it): a finished
        group it still names is passed over by a resume unless a member carrying the
        run's mark is left, which the resume finds by the mark anyway. One file
        replace per step fewer.
        """
        with self._lock:
            self._procs.discard(proc)

    def terminate_all(self, grace: float = 3.0) -> None:
        """SIGTERM every live process group, then SIGKILL what is left after ``grace``."""
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            kill_tree(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            kill_tree(proc, signal.SIGKILL)


def _drain(proc: subprocess.Popen[bytes]) -> tuple[bytes | None, bytes | None]:
    """What a killed process wrote, unless an escaped grandchild keeps its pipes open."""
    try:
        return proc.communicate(timeout=DRAIN_AFTER_KILL)
    except subprocess.TimeoutExpired:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        proc.wait()
        return b"", b""


def _stream(
    proc: subprocess.Popen[bytes],
    data: bytes | None,
    timeout: float | None,
    on_line: Callable[[str], None],
) -> tuple[bytes, bytes, bool]:
    """Feed stdin, hand stdout to ``on_line`` line by line as it arrives, keep stderr.

    Past ``timeout`` the tree is killed; what it wrote is read for at most
    ``DRAIN_AFTER_KILL`` more seconds (an escaped grandchild may hold the pipes).
    """
    if proc.stdin is not None:
        threading.Thread(target=_feed, args=(proc.stdin, data or b""), daemon=True).start()
    deadline = None if timeout is None else time.monotonic() + timeout
    out, err, pending = bytearray(), bytearray(), b""
    timed_out, killed_at = False, 0.0
    with selectors.DefaultSelector() as selector:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                selector.register(stream, selectors.EVENT_READ)
        while selector.get_map():
            now = time.monotonic()
            if deadline is not None and now >= deadline and not timed_out:
                timed_out, killed_at = True, now
                kill_tree(proc, signal.SIGKILL)
            if timed_out and now - killed_at > DRAIN_AFTER_KILL:
                break
            wait = 0.5 if deadline is None or timed_out else min(0.5, deadline - now)
            for key, _ in selector.select(max(0.0, wait)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.fileobj is proc.stdout:
                    out += chunk
                    *lines, pending = (pending + chunk).split(b"\n")
                    for line in lines:
                        on_line(line.decode("utf-8", "replace").rstrip("\r"))
                else:
                    err += chunk
    if pending:
        on_line(pending.decode("utf-8", "replace").rstrip("\r"))
    proc.wait()
    return bytes(out), bytes(err), timed_out


def _feed(stdin: IO[bytes], data: bytes) -> None:
    """Write ``data`` to a child's stdin and close it (a child that quit early is fine)."""
    with contextlib.suppress(BrokenPipeError, OSError):
        stdin.write(data)
    with contextlib.suppress(BrokenPipeError, OSError):
        stdin.close()


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    input: str | bytes | None = None,
    timeout: float | None = None,
    merge_stderr: bool = False,
    group: ProcessGroup | None = None,
    on_line: Callable[[str], None] | None = None,
) -> CommandResult:
    """Run ``argv`` in its own session and wait for it: the one way maverick starts a child.

    :param cwd: the working directory.
    :param env: the child's whole environment (default: this process's).
    :param input: text for stdin (UTF-8); stdin is empty when None.
    :param timeout: seconds; past it the whole process tree is killed and the
        result says ``timed_out``.
    :param merge_stderr: send stderr into stdout (one interleaved stream).
    :param group: the run's :class:`ProcessGroup` (``ctx.processes`` in a step), so
        an interrupted run stops the child too.
    :param on_line: called with each line of stdout (without its newline) as soon as
        it arrives, for a child that reports progress while it runs (an agent CLI's
        event stream); the result still holds the whole output.
    :returns: the exit status and the output decoded as UTF-8.
    :raises StepFailed: when the program cannot be started.
    """
    group = group or ProcessGroup()
    try:
        proc = group.popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        )
    except OSError as exc:
        raise StepFailed(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    data = input.encode("utf-8") if isinstance(input, str) else input
    timed_out = False
    out: bytes | None = b""
    err: bytes | None = b""
    try:
        if on_line is not None:
            out, err, timed_out = _stream(proc, data, timeout, on_line)
        else:
            try:
                out, err = proc.communicate(data, timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                kill_tree(proc, signal.SIGKILL)
                out, err = _drain(proc)
    finally:
        if proc.returncode is None:
            kill_tree(proc, signal.SIGKILL)
            proc.wait()
        group.forget(proc)
    return CommandResult(
        proc.returncode,
        (out or b"").decode("utf-8", "replace"),
        (err or b"").decode("utf-8", "replace"),
        timed_out,
    )


class ProcessLedger:
    """The process groups a run has started, kept in a file while they run.

    The file holds the run's :attr:`mark` (written before the first child starts) and
    each group id with its leader's start time; every child carries
    :data:`MARKER_ENV` set to the mark, so its group is recognised as the run's even
    after its leader exited, before it was listed, or when its id was reused.

    :param path: the ledger file (one per run, on this machine).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mark = os.urandom(8).hex()

    def record(self, procs: set[subprocess.Popen[bytes]]) -> None:
        """Replace the file with ``procs`` (no fsync: a machine crash kills them too)."""
        entries = {
            "mark": self.mark,
            "groups": [{"pgid": proc.pid, "start": process_start_time(proc.pid)} for proc in procs],
        }
        with contextlib.suppress(OSError):
            temp = self.path.with_name(f".{self.path.name}.{os.urandom(8).hex()}.tmp")
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(entries, handle)
            os.replace(temp, self.path)

    def remove(self) -> None:
        """The run's processes are gone: forget the file."""
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def reap_orphans(path: Path, grace: float = 3.0) -> list[int]:
    """Terminate the process groups a previous executor of the run left in ``path``.

    Only groups that are still the run's are signalled: a member carries the run's
    mark in its environment, or the leader is the very process recorded (same pid
    and start time). SIGTERM first, SIGKILL after ``grace`` seconds, then wait until
    they are gone. The ledger file is removed.

    :returns: the group ids that were terminated.
    """
    try:
        ledger = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        ledger = None
    if not isinstance(ledger, dict):
        ledger = {}
    mark = ledger.get("mark")
    entries = ledger.get("groups")
    if not isinstance(mark, str) and not entries:
        # nothing to look for (a fresh run has no ledger): spare the start psutil
        with contextlib.suppress(OSError):
            os.unlink(path)
        return []
    import psutil

    groups: set[int] = set()
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("pgid"), int):
            continue
        pgid, start = entry["pgid"], entry.get("start")
        if pgid > 1 and _is_ours(psutil, pgid, start, mark):
            groups.add(pgid)
    if isinstance(mark, str):
        # a child started just before the kill (not yet in "groups"), or one that
        # left its group, is found by the mark in its environment
        own = os.getpgrp()
        for proc in psutil.process_iter():
            try:
                if proc.environ().get(MARKER_ENV) == mark:
                    pgid = os.getpgid(proc.pid)
                    if pgid > 1 and pgid != own:
                        groups.add(pgid)
            except (OSError, psutil.Error):
                continue
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 10.0)
        while any(_members(psutil, pgid) for pgid in groups) and time.monotonic() < deadline:
            time.sleep(0.05)
    with contextlib.suppress(OSError):
        os.unlink(path)
    return sorted(groups)


def _members(psutil: Any, pgid: int) -> list[Any]:
    """The live (not zombie) processes of group ``pgid``."""
    found = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (OSError, psutil.Error):
            continue
    return found


def _is_ours(psutil: Any, pgid: int, start: Any, mark: Any) -> bool:
    for proc in _members(psutil, pgid):
        try:
            if proc.pid == pgid and start is not None and proc.create_time() == start:
                return True
            if isinstance(mark, str) and proc.environ().get(MARKER_ENV) == mark:
                return True
        except psutil.Error:
            continue
    return False


def kill_tree(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Signal a child's whole process group (it leads its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


class CommandResult(FrozenClass):
    """A finished command, its output decoded as UTF-8.

    :ivar timed_out: the command ran past its timeout and its tree was killed.
    """

    # a frozen class written out, not an attrs class: every shell step builds it
    # (plainclass.py); nothing evolves it or asks attrs for its fields
    __slots__ = _FIELDS = ("returncode", "stdout", "stderr", "timed_out")
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool

    def __init__(self, returncode: int, stdout: str, stderr: str, timed_out: bool = False) -> None:
        self._set("returncode", returncode)
        self._set("stdout", stdout)
        self._set("stderr", stderr)
        self._set("timed_out", timed_out)

    @property
    def ok(self) -> bool:
        """True when the command exited with status 0."""
        return self.returncode == 0 and not self.timed_out


class CommandRunner:
    """Runs programs with argument lists (never a shell) in one directory, text on stdin.

    Untrusted text (issue bodies, diffs, agent answers) travels on stdin, never on
    a command line.

    :param root: the working directory.
    :param processes: the run's :class:`ProcessGroup` in a step (``ctx.processes``),
        so an interrupted run stops the command too; None outside a run.
    :param env: variables added to the environment (e.g. to disable prompts).
    """

    def __init__(
        self,
        root: Path,
        processes: ProcessGroup | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.root = root
        self.processes = processes
        self.env = dict(env or {})

    def __call__(
        self, argv: list[str], input: str | None = None, timeout: float | None = None
    ) -> CommandResult:
        """Run ``argv`` in ``root`` and wait for it."""
        return run_process(
            argv,
            cwd=self.root,
            env={**os.environ, **self.env},
            input=input,
            timeout=timeout,
            group=self.processes,
        )
