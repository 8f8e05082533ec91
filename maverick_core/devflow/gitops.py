"""Git for the built-in workflows: real ``git`` subprocesses with argument lists.

Everything goes through :class:`Git`, which starts ``git`` through the run's process
group (so an interrupt stops it) with an argument list, never a shell. Text that
came from outside (commit messages built from issue titles, agent answers) travels
on stdin (``git commit -F -``), never on a command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from maverick_core.api import CommandResult, CommandRunner, ProcessGroup, StepFailed

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

STDERR_TAIL_LINES = 15
MAX_DIFF_CHARS = 200_000
WORKTREES_DIR = ".maverick/worktrees"
WORKTREE_STEPS = ("worktree", "branch")
WORKTREE_INPUT = "worktree"
# The whole work tree except maverick's own directory: run state is never committed,
# and a state directory maverick creates there does not make the tree "dirty".
WORK_TREE = (":/", ":(exclude).maverick")


class Git:
    """Runs ``git`` in one repository.

    :param root: the work tree.
    :param processes: the run's process group (``ctx.processes``, so an interrupted
        run stops git too); None outside a run.
    """

    def __init__(self, root: Path, processes: ProcessGroup | None = None) -> None:
        self.root = root
        # never wait for a password prompt nobody will answer (a push to https)
        self.runner = CommandRunner(root, processes, env={"GIT_TERMINAL_PROMPT": "0"})

    @classmethod
    def of(cls, ctx: Any) -> Git:
        """The git of a step's work tree (see :func:`work_root`), through the run's processes."""
        return cls(work_root(ctx), ctx.processes)

    def run(self, *args: str, input: str | None = None, check: bool = True) -> CommandResult:
        """Run ``git ARGS``; with ``check``, a non-zero exit fails the step."""
        result = self.runner(["git", *args], input)
        if check and not result.ok:
            lines = result.stderr.strip().splitlines()[-STDERR_TAIL_LINES:]
            detail = ("\n" + "\n".join(lines)) if lines else ""
            raise StepFailed(f"git {args[0]} failed (exit {result.returncode}){detail}")
        return result

    def out(self, *args: str) -> str:
        """Run git and return its stdout without the trailing newline."""
        return self.run(*args).stdout.rstrip("\n")

    # ------------------------------------------------------------------ questions

    def require_repository(self) -> None:
        """Fail unless the project root is inside a git work tree."""
        result = self.run("rev-parse", "--is-inside-work-tree", check=False)
        if not result.ok or result.stdout.strip() != "true":
            raise StepFailed(
                f"{self.root} is not a git repository (run 'git init' and commit first)"
            )

    def current_branch(self) -> str:
        """The checked-out branch ("" when HEAD is detached)."""
        return self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False).stdout.strip()

    def has_ref(self, ref: str) -> bool:
        """True when ``ref`` names a commit."""
        return self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).ok

    def branch_exists(self, branch: str) -> bool:
        """True when a local branch ``branch`` exists."""
        return self.run("show-ref", "--verify", "--quiet", f"refs/heads/{branch}", check=False).ok

    def head(self) -> str:
        """The commit HEAD points to."""
        return self.out("rev-parse", "HEAD")

    def status(self) -> list[str]:
        """``git status --porcelain`` lines: uncommitted changes outside ``.maverick/``."""
        text = self.run(
            "status", "--porcelain=v1", "--untracked-files=all", "--", *WORK_TREE
        ).stdout
        return [line for line in text.splitlines() if line.strip()]

    def has_remote(self, name: str) -> bool:
        """True when remote ``name`` is configured."""
        return name in self.out("remote").split()

    def message(self, ref: str = "HEAD") -> str:
        """The full message of a commit."""
        return self.out("log", "-1", "--format=%B", ref)

    def check_branch_name(self, branch: str) -> None:
        """Fail when ``branch`` is not a valid branch name (before git sees it as an option)."""
        if not branch or branch.startswith("-"):
            raise StepFailed(f"invalid branch name {branch!r}")
        if not self.run("check-ref-format", "--branch", branch, check=False).ok:
            raise StepFailed(f"invalid branch name {branch!r}")


# ----------------------------------------------------------------------------- work trees


def work_root(ctx: Any) -> Path:
    """Where a step works: the project root, or the git worktree its block created.

    A step named ``worktree`` (action ``git.worktree``), or a ``branch`` step that
    made one (``fly --worktree``), makes every later step of its block, and the steps
    nested in them, work in that worktree: git, agents and validation stages run
    there. The lookup goes through the run's state (the step's output holds
    ``work_tree``), so a resumed run finds the worktree of a step it restored.
    """
    root: Path = ctx.config.root
    path: str = ctx.path
    prefixes = [path[: i + 1] for i, char in enumerate(path) if char == "."]
    for prefix in [*reversed(prefixes), ""]:
        for name in WORKTREE_STEPS:
            record = ctx.run.state.get(prefix + name)
            output = getattr(record, "output", None)
            if isinstance(output, dict) and isinstance(output.get("work_tree"), str):
                return root / str(output["work_tree"])
    return root


def wants_worktree(ctx: Any) -> bool:
    """True when the run has a true input named ``worktree`` (``maverick fly --worktree``)."""
    return bool(ctx.run.inputs.get(WORKTREE_INPUT))


def add_worktree(ctx: Any, branch: str, base: str, name: str) -> dict[str, Any]:
    """Action ``git.worktree``: a git worktree ``.maverick/worktrees/<name>`` on ``branch``.

    The branch is created from ``base`` when it does not exist. An existing worktree
    of that name (a resumed run's) is used as it is, with whatever work it holds.

    :returns: ``{path, work_tree, branch, created}``; ``path`` (= ``work_tree``) is
        relative to the project root.
    """
    git = Git(ctx.config.root, ctx.processes)
    git.check_branch_name(branch)
    if not name or "/" in name or name.startswith("."):
        raise StepFailed(f"invalid worktree name {name!r}")
    relative = f"{WORKTREES_DIR}/{name}"
    target = ctx.config.root / relative
    if target.is_dir() and (target / ".git").exists():
        there = Git(target, ctx.processes)
        current = there.current_branch()
        if current != branch:
            raise StepFailed(
                f"worktree {relative} is on branch '{current}', not '{branch}' "
                f"(remove it: git worktree remove --force {relative})"
            )
        ctx.notice(f"working in the existing worktree {relative} ({branch})")
        return {"path": relative, "work_tree": relative, "branch": branch, "created": False}
    target.parent.mkdir(parents=True, exist_ok=True)
    if git.branch_exists(branch):
        args = ["worktree", "add", "--quiet", str(target), branch]
    else:
        args = ["worktree", "add", "--quiet", "-b", branch, str(target), resolve_branch(git, base)]
    if not git.run(*args, check=False).ok:
        # a worktree deleted by hand is still registered: forget it, then try again
        git.run("worktree", "prune")
        git.run(*args)
    return {"path": relative, "work_tree": relative, "branch": branch, "created": True}


def remove_worktree(git: Git, relative: str) -> None:
    """Remove a worktree maverick made (its work is committed; build files may remain)."""
    git.run("worktree", "remove", "--force", relative)


def finish_worktree(ctx: Any) -> dict[str, Any]:
    """Action ``git.remove_worktree``: remove the worktree this run worked in (if any).

    The branch stays; only the extra checkout under ``.maverick/worktrees/`` goes.
    """
    root = work_root(ctx)
    if root == ctx.config.root:
        return {"removed": None}
    relative = str(root.relative_to(ctx.config.root))
    if root.is_dir():
        remove_worktree(Git(ctx.config.root, ctx.processes), relative)
    ctx.notice(f"removed the worktree {relative} (the branch stays)")
    return {"removed": relative}


# ----------------------------------------------------------------------------- actions


def require_clean(ctx: Any, allow_dirty: bool = False) -> dict[str, Any]:
    """Action ``git.require_clean``: refuse to start on uncommitted changes.

    :param allow_dirty: report the changes instead of failing (``dry_run``).
    :returns: ``{branch, head, clean, changes}``.
    """
    git = Git.of(ctx)
    git.require_repository()
    changes = git.status()
    if changes and wants_worktree(ctx):
        ctx.notice(f"{len(changes)} uncommitted change(s) here stay as they are (--worktree)")
        allow_dirty = True
    if changes and not allow_dirty:
        shown = "\n".join(f"  {line}" for line in changes[:20])
        more = f"\n  ... and {len(changes) - 20} more" if len(changes) > 20 else ""
        raise StepFailed(
            "the work tree has uncommitted changes; commit or stash them first "
            f"(git status):\n{shown}{more}"
        )
    return {
        "branch": git.current_branch(),
        "head": git.head() if git.has_ref("HEAD") else None,
        "clean": not changes,
        "changes": changes,
    }


def switch_branch(ctx: Any, branch: str, base: str) -> dict[str, Any]:
    """Action ``git.switch_branch``: check out ``branch``, creating it from ``base``.

    Running it again (a resumed run) on the branch it created is a no-op. When the
    run has a true ``worktree`` input (``fly --worktree``), the branch is checked
    out in a worktree ``.maverick/worktrees/<branch>`` instead, and the steps after
    this one work there (see :func:`work_root`); the current checkout is left alone.

    :returns: ``{branch, base, base_commit, created}`` (and ``work_tree``).
    """
    if wants_worktree(ctx):
        made = add_worktree(ctx, branch, base, branch.replace("/", "-"))
        there = Git(ctx.config.root / made["path"], ctx.processes)
        base_commit = there.out("merge-base", resolve_branch(there, base), "HEAD")
        return {
            "branch": branch,
            "base": base,
            "base_commit": base_commit,
            "created": made["created"],
            "work_tree": made["work_tree"],
        }
    git = Git.of(ctx)
    git.check_branch_name(branch)
    created = False
    if git.current_branch() != branch:
        if git.branch_exists(branch):
            git.run("switch", "--quiet", branch)
        else:
            start = resolve_branch(git, base)
            git.run("switch", "--quiet", "--create", branch, start)
            created = True
    base_commit = git.out("merge-base", resolve_branch(git, base), "HEAD")
    return {"branch": branch, "base": base, "base_commit": base_commit, "created": created}


def resolve_branch(git: Git, branch: str) -> str:
    """The ref of ``branch``: the local branch, else ``origin``'s."""
    git.check_branch_name(branch)
    for ref in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"):
        if git.has_ref(ref):
            return ref
    raise StepFailed(f"branch '{branch}' does not exist (locally or on origin)")


def checkout(ctx: Any, branch: str) -> dict[str, Any]:
    """Action ``git.checkout``: switch to an existing branch (a no-op when on it)."""
    git = Git.of(ctx)
    git.check_branch_name(branch)
    if git.current_branch() != branch:
        git.run("switch", "--quiet", branch)
    return {"branch": branch, "head": git.head()}


def commit_all(git: Git, message: str | Callable[[], str], marker: str) -> dict[str, Any]:
    """Commit every change with ``message`` (ending in the ``marker`` trailer).

    Idempotent for a resumed run: when nothing is left to commit and HEAD already
    carries ``marker``, that commit is the result (the interrupted run made it just
    before it was stopped). With nothing to commit otherwise, no commit is made.

    :param message: the message, or a function making it (called only when there
        is something to commit: it may ask an agent).
    :returns: ``{committed, created, sha, subject, files}``.
    """
    git.run("add", "--all", "--", *WORK_TREE)
    staged = git.run("diff", "--cached", "--name-only", "-z").stdout.split("\0")
    files = [name for name in staged if name]
    if not files:
        if marker and git.has_ref("HEAD") and marker in git.message().splitlines():
            return {
                "committed": True,
                "created": False,
                "sha": git.head(),
                "subject": git.out("log", "-1", "--format=%s"),
                "files": _files_of(git, "HEAD"),
            }
        return {"committed": False, "created": False, "sha": None, "subject": None, "files": []}
    full = (message() if callable(message) else message).strip("\n")
    if marker and marker not in full.splitlines():
        full = f"{full}\n\n{marker}"
    git.run("commit", "--quiet", "--file=-", input=full + "\n")
    return {
        "committed": True,
        "created": True,
        "sha": git.head(),
        "subject": full.splitlines()[0],
        "files": sorted(files),
    }


def _files_of(git: Git, ref: str) -> list[str]:
    text = git.run("show", "--name-only", "--format=", "-z", ref).stdout
    return sorted(name.strip("\n") for name in text.split("\0") if name.strip("\n"))


def push(ctx: Any, branch: str, remote: str = "origin") -> dict[str, Any]:
    """Action ``git.push``: push ``branch`` to ``remote`` when that remote exists.

    Pushing again what was pushed is a no-op, so a resumed run may repeat it.

    :returns: ``{pushed, remote, branch, reason}``.
    """
    git = Git.of(ctx)
    git.check_branch_name(branch)
    if not git.has_remote(remote):
        ctx.notice(f"no '{remote}' remote: {branch} stays local (not pushed)")
        return {"pushed": False, "remote": remote, "branch": branch, "reason": "no remote"}
    git.run("push", "--quiet", "--set-upstream", remote, f"refs/heads/{branch}:refs/heads/{branch}")
    return {"pushed": True, "remote": remote, "branch": branch, "reason": None}


def changes(
    git: Git, base: str, head: str = "HEAD", max_chars: int | None = MAX_DIFF_CHARS
) -> dict[str, Any]:
    """The diff, changed files and commits of ``head`` against ``base`` (merge base).

    :param max_chars: cut the diff there (None: the caller cuts it).
    """
    diff = git.run("diff", "--no-color", "--no-ext-diff", f"{base}...{head}").stdout
    names = git.run("diff", "--name-status", "-z", f"{base}...{head}").stdout.split("\0")
    files = _name_status(names)
    log = git.run("log", "--reverse", "--format=%H%x00%s", f"{base}..{head}").stdout
    commits = []
    for line in log.splitlines():
        sha, _, subject = line.partition("\0")
        commits.append({"sha": sha, "subject": subject})
    truncated = max_chars is not None and len(diff) > max_chars
    return {
        "base": base,
        "head": head,
        "diff": diff[:max_chars] if max_chars is not None else diff,
        "truncated": truncated,
        "files": files,
        "commits": commits,
    }


def _name_status(parts: list[str]) -> list[dict[str, str]]:
    files = []
    index = 0
    while index < len(parts) and parts[index]:
        status = parts[index]
        if status[:1] in ("R", "C") and index + 2 < len(parts):
            files.append({"status": status[:1], "path": parts[index + 2]})
            index += 3
        else:
            files.append({"status": status[:1], "path": parts[index + 1]})
            index += 2
    return files
