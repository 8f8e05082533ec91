"""``maverick doctor`` and the preflight of ``fly`` and ``refuel``: is this setup ready?

Each check is a line, ``ok`` or ``FAIL``, and a failing one says how to fix it: git
knows who commits, the work tree is clean, every agent role a workflow needs is
served by a command that is installed, ``gh`` is logged in when the provider is
github, every validation stage's program exists, and the checkpoint store can be
written. ``fly`` and ``refuel`` run the same checks before they start a run
(``--no-preflight`` skips them), so an hour-long run does not stop at its last step
for want of a login.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import time
from pathlib import Path
from typing import Any

import attrs

from maverick_core.api import (
    CommandRunner,
    Config,
    MaverickError,
    RunRecord,
    Status,
    StepFailed,
    open_store,
)
from maverick_core.devflow.agents import missing_roles_message, resolve_role
from maverick_core.devflow.gitops import Git
from maverick_core.devflow.providers import GH_ENV, provider_name
from maverick_core.devflow.writer import resolve_writer

ENV_ASSIGNMENT = "="


@attrs.frozen
class Check:
    """One line of the report."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def lines(self) -> list[str]:
        """``ok   name: detail`` or ``FAIL name: detail`` and the fix, indented."""
        head = f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"
        if self.ok or not self.fix:
            return [head]
        return [head, *(f"       {line}" for line in self.fix.splitlines())]


# ----------------------------------------------------------------------------- checks


def git_identity(root: Path) -> Check:
    """git must know the author: commits are what fly and refuel make."""
    git = Git(root)
    name = os.environ.get("GIT_AUTHOR_NAME") or git.run("config", "user.name", check=False).stdout
    email = (
        os.environ.get("GIT_AUTHOR_EMAIL") or git.run("config", "user.email", check=False).stdout
    )
    if name.strip() and email.strip():
        return Check("git identity", True, f"{name.strip()} <{email.strip()}>")
    return Check(
        "git identity",
        False,
        "git does not know who commits (user.name / user.email are not set)",
        'git config --global user.name "Your Name"\n'
        'git config --global user.email "you@example.com"',
    )


def clean_tree(root: Path) -> Check:
    """fly and refuel start from a clean work tree (maverick's .maverick/ excepted)."""
    git = Git(root)
    if not git.run("rev-parse", "--is-inside-work-tree", check=False).ok:
        return Check(
            "work tree", False, f"{root} is not a git repository", "git init && git commit"
        )
    try:
        changes = git.status()
    except StepFailed as exc:
        return Check("work tree", False, exc.message, "check the repository with git status")
    if not changes:
        return Check("work tree", True, "clean")
    shown = "\n".join(changes[:10]) + (
        f"\n... and {len(changes) - 10} more" if len(changes) > 10 else ""
    )
    return Check(
        "work tree",
        False,
        f"uncommitted changes in {len(changes)} file(s)",
        f"commit or stash them first (git status):\n{shown}",
    )


def _program_of(command: Any) -> str | None:
    if isinstance(command, str):
        try:
            words = shlex.split(command)
        except ValueError:
            return None
    elif isinstance(command, list):
        words = [str(word) for word in command]
    else:
        return None
    words = [w for w in words if not (ENV_ASSIGNMENT in w and w.split("=", 1)[0].isidentifier())]
    return words[0] if words else None


def _installed(program: str, root: Path) -> bool:
    if "/" in program:
        path = Path(program) if Path(program).is_absolute() else root / program
        return path.is_file() and os.access(path, os.X_OK)
    return shutil.which(program) is not None


def agent_role(config: Config, role: str, *, required: bool, what: str = "") -> Check | None:
    """The agent serving ``role`` is configured and its command is installed.

    :param required: a missing role fails; otherwise it is reported as optional
        (None when ``what`` says nothing about it).
    """
    name = f"agent {role}"
    try:
        chosen = resolver(config, role)
    except StepFailed as exc:
        return Check(name, False, exc.message, "fix the agents section of maverick.yaml")
    if chosen is None:
        if not required:
            return Check(name, True, f"not configured ({what})") if what else None
        return Check(name, False, "no agent configured", missing_roles_message([role]))
    backend = chosen.backend
    registered = config.pm.registries.agents.get(backend)
    # a preset names the CLI it runs (its ``program``); the command backend runs ``command``
    program = getattr(getattr(registered, "value", None), "program", None)
    if not isinstance(program, str):
        program = _program_of(chosen.settings.get("command"))
    if registered is None:
        known = ", ".join(sorted(config.pm.registries.agents))
        return Check(
            name,
            False,
            f"{chosen.source}: unknown agent backend '{backend}'",
            f"use one of: {known} (or install the plugin that provides it)",
        )
    if program is None:
        return Check(name, True, f"{chosen.source} (backend {backend})")
    if not _installed(program, config.root):
        return Check(
            name,
            False,
            f"{chosen.source} runs '{program}', which is not installed (not on PATH)",
            f"install {program}, or point {chosen.source} at another agent",
        )
    return Check(name, True, f"{chosen.source}: {program}")


def resolver(config: Config, role: str) -> Any:
    """The settings serving ``role`` (the writer has aliases of its own)."""
    return resolve_writer(config) if role == "writer" else resolve_role(config, role)


def github_login(config: Config) -> Check | None:
    """``gh auth status`` when the provider is github (None for other providers)."""
    try:
        chosen = provider_name(config)
    except StepFailed as exc:
        return Check("provider", False, exc.message, "set provider: github or local")
    if chosen != "github":
        return Check("provider", True, chosen)
    if shutil.which("gh") is None:
        return Check("provider github", False, "gh is not installed", "install the GitHub CLI (gh)")
    result = CommandRunner(config.root, None, env=GH_ENV)(["gh", "auth", "status"])
    if result.returncode != 0:
        return Check(
            "provider github",
            False,
            "gh is not logged in (gh auth status failed)",
            "gh auth login",
        )
    return Check("provider github", True, "gh is logged in")


def validation_commands(config: Config) -> list[Check]:
    """Every validation stage's program exists."""
    section = config.settings.get("validation") or {}
    stages = section.get("stages") if isinstance(section, dict) else None
    if not stages:
        return [Check("validation", True, "no stages configured: validation passes with a notice")]
    if not isinstance(stages, dict):
        return [Check("validation", False, "validation.stages must be a mapping", "")]
    checks = []
    for stage, spec in stages.items():
        command = spec.get("command") if isinstance(spec, dict) else spec
        program = _program_of(command)
        name = f"validation stage {stage}"
        if program is None:
            checks.append(Check(name, False, f"no command: {command!r}", "give it a command"))
        elif not _installed(program, config.root) and not _shell_word(program):
            checks.append(
                Check(
                    name,
                    False,
                    f"'{program}' is not installed (not on PATH)",
                    f"install {program}, or change validation.stages.{stage}",
                )
            )
        else:
            checks.append(Check(name, True, str(command)))
    return checks


def _shell_word(program: str) -> bool:
    """Shell keywords and builtins a stage may start with (it runs in bash)."""
    return program in {"cd", "test", "[", "true", "false", "set", "export", "if", "for", "!"}


def store_writable(config: Config) -> Check:
    """The checkpoint store opens, takes a record and gives it back."""
    url = config.setting("store", env="MAVERICK_STORE", default="file:")
    name = "checkpoint store"
    probe = f"doctor-{secrets.token_hex(4)}"
    try:
        store = open_store(config.pm, str(url), config.project)
        try:
            now = time.time()
            # a valid record (stores check what they read back); a completed run is
            # never resumed, and it is deleted at once
            record = RunRecord(
                probe, "doctor", "doctor", config.project.name, Status.COMPLETED, now, now
            )
            store.create_run(record)
            try:
                found = store.get_run(probe) is not None
            finally:
                store.delete_run(probe)
        finally:
            store.close()
    except (MaverickError, OSError, StepFailed) as exc:
        return Check(name, False, f"{url}: {exc}", "fix --store / MAVERICK_STORE / store:")
    except Exception as exc:  # a store plugin's own error: still one line
        return Check(name, False, f"{url}: {type(exc).__name__}: {exc}", "check the store")
    if not found:
        return Check(name, False, f"{url}: a written record could not be read back", "")
    return Check(name, True, f"{url} is writable")


# ----------------------------------------------------------------------------- reports


def workflow_roles(config: Config, workflow: str, inputs: dict[str, Any]) -> list[str]:
    """The agent roles a built-in workflow needs for these inputs."""
    if workflow == "refuel":
        return ["issue_fixer"]
    if workflow == "review":
        return reviewer_roles(config)
    return ["implementer", *([] if inputs.get("skip_review") else reviewer_roles(config))]


def reviewer_roles(config: Config) -> list[str]:
    """The roles of ``review.reviewers`` (default: ``reviewer``)."""
    section = config.settings.get("review")
    entries = section.get("reviewers") if isinstance(section, dict) else None
    if not isinstance(entries, list) or not entries:
        return ["reviewer"]
    roles = [e if isinstance(e, str) else (e or {}).get("role") for e in entries]
    return [r for r in dict.fromkeys(roles) if isinstance(r, str)]


def doctor_checks(config: Config) -> list[Check]:
    """Everything ``maverick doctor`` looks at, for all three workflows."""
    checks = [git_identity(config.root), clean_tree(config.root)]
    roles = ["implementer", "issue_fixer", *reviewer_roles(config)]
    for role in dict.fromkeys(roles):
        found = agent_role(config, role, required=True)
        if found is not None:
            checks.append(found)
    optional = {
        "fixer": "a failing validation fails at once; review findings are not fixed",
        "writer": "maverick writes commit messages and pull requests itself",
    }
    for role, what in optional.items():
        found = agent_role(config, role, required=False, what=what)
        if found is not None:
            checks.append(found)
    provider = github_login(config)
    if provider is not None:
        checks.append(provider)
    checks += validation_commands(config)
    checks.append(store_writable(config))
    return checks


def preflight_checks(config: Config, workflow: str, inputs: dict[str, Any]) -> list[Check]:
    """What ``fly``/``refuel`` check before a run; roles left unconfigured are for the
    workflow's own ``agents`` step to report (it prints the YAML to add). With
    ``--worktree`` the checkout is left alone, so it may have uncommitted changes."""
    checks = [git_identity(config.root)]
    if not inputs.get("worktree"):
        checks.append(clean_tree(config.root))
    for role in [*workflow_roles(config, workflow, inputs), "fixer", "writer"]:
        found = agent_role(config, role, required=False)
        if found is not None:
            checks.append(found)
    provider = github_login(config)
    if provider is not None:
        checks.append(provider)
    checks += validation_commands(config)
    checks.append(store_writable(config))
    return checks


def report(checks: list[Check]) -> str:
    """The checks as lines, then a verdict."""
    lines = [line for check in checks for line in check.lines()]
    failed = sum(1 for check in checks if not check.ok)
    lines.append(f"{failed} check(s) failed" if failed else "all checks passed")
    return "\n".join(lines)
