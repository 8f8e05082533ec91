"""Issue and pull-request providers: ``github`` (through ``gh``) and ``local`` (files).

``maverick.yaml`` chooses one::

    provider: local            # or github; default: github when gh is installed and
                               # origin points to GitHub, local otherwise
    github: {repo: acme/widgets}        # optional: the repository gh talks to
    issues: {directory: .maverick/issues}  # the local provider's issues

The ``local`` provider reads issues from markdown files with YAML front matter
(``number``, ``title``, ``labels``, optional ``state``) and writes a pull request as
``.maverick/prs/<branch>.md`` (front matter plus the body); the file's path is the
pull request's ``url``. The ``github`` provider runs ``gh`` with argument lists;
titles and bodies (untrusted: they come from issues and agents) travel as JSON on
stdin to ``gh api``, never on a command line.

Providers are registered by name through the ``register_providers`` hook (the
built-in ``providers`` plugin registers these two; a third-party plugin adds its own
the same way); the workflows use them through the ``provider.*`` actions.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import attrs
import yaml

from maverick_core.api import (
    CommandRunner,
    Config,
    InputError,
    StepFailed,
    atomic_write,
    origin_url,
    state_dir,
)

if TYPE_CHECKING:
    from pathlib import Path

STDERR_TAIL_LINES = 15
DEFAULT_ISSUES_DIR = ".maverick/issues"
PRS_DIR = ".maverick/prs"
GITHUB_URL_RE = re.compile(r"(^|[@/])github\.com[:/]", re.IGNORECASE)
LOCAL_NUMBERING = threading.Lock()
FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.DOTALL)


# ----------------------------------------------------------------------------- model


@attrs.frozen
class Issue:
    """An open issue."""

    number: int
    title: str
    body: str
    labels: tuple[str, ...]
    url: str


@attrs.frozen
class PullRequest:
    """A pull request (for ``local``: a file, whose path is the ``url``)."""

    provider: str
    number: int
    title: str
    url: str
    head: str
    base: str
    draft: bool


class Provider(Protocol):
    """What a provider offers the workflows."""

    name: str

    def list_issues(self, label: str, limit: int) -> list[Issue]:
        """Open issues carrying ``label``, lowest number first, at most ``limit``."""

    def find_pull_request(self, head: str) -> PullRequest | None:
        """The open pull request from branch ``head``, if there is one."""

    def create_pull_request(
        self, *, title: str, body: str, head: str, base: str, draft: bool
    ) -> PullRequest:
        """Open a pull request from ``head`` into ``base``."""

    def pull_request_changes(self, number: int) -> dict[str, Any]:
        """Pull request ``number``: ``head``, ``base``, ``title``, ``url``, and, when the
        provider knows them, ``diff``, ``files`` and ``commits`` (else None: use git)."""

    def pull_request_of_branch(self, branch: str) -> PullRequest | None:
        """The open pull request of the checked-out ``branch`` (``review`` without a number).

        Optional: a provider without it is asked :meth:`find_pull_request` instead.
        """


# ----------------------------------------------------------------------------- local


def _front_matter(path: Path) -> tuple[dict[str, Any], str]:
    text = path.read_text(encoding="utf-8")
    match = FRONT_MATTER_RE.match(text)
    if not match:
        raise StepFailed(f"{path}: expected YAML front matter between '---' lines")
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise StepFailed(f"{path}: invalid front matter: {exc}") from None
    if not isinstance(meta, dict):
        raise StepFailed(f"{path}: front matter must be a mapping")
    return meta, match.group(2)


def _write_front_matter(path: Path, meta: dict[str, Any], body: str) -> None:
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    header = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    text = f"---\n{header}---\n{body.rstrip()}\n"
    try:
        atomic_write(path, text.encode("utf-8"), mode=0o644)
    except OSError as exc:
        raise StepFailed(f"cannot write {path}: {exc}") from None


class LocalProvider:
    """Issues from markdown files; pull requests written as ``.maverick/prs/<branch>.md``."""

    name = "local"

    def __init__(self, config: Config, runner: CommandRunner) -> None:
        self.root = config.root.resolve()
        section = config.settings.get("issues") or {}
        directory = (
            section.get("directory", DEFAULT_ISSUES_DIR) if isinstance(section, dict) else None
        )
        if not isinstance(directory, str):
            raise StepFailed("maverick.yaml: issues.directory must be a path")
        self.issues_dir = self.root / directory
        self.prs_dir = self.root / PRS_DIR

    def _issue(self, path: Path) -> Issue | None:
        meta, body = _front_matter(path)
        number, title = meta.get("number"), meta.get("title")
        if isinstance(number, bool) or not isinstance(number, int):
            raise StepFailed(f"{path}: front matter needs 'number' (an integer)")
        if not isinstance(title, str) or not title.strip():
            raise StepFailed(f"{path}: front matter needs 'title'")
        if str(meta.get("state", "open")).lower() != "open":
            return None
        labels = meta.get("labels") or []
        if isinstance(labels, str):
            labels = [part.strip() for part in labels.split(",") if part.strip()]
        url = str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)
        return Issue(number, title.strip(), body.strip(), tuple(str(x) for x in labels), url)

    def list_issues(self, label: str, limit: int) -> list[Issue]:
        """Open issues with ``label`` from the issues directory."""
        if not self.issues_dir.is_dir():
            return []
        found: dict[int, Issue] = {}
        for path in sorted(self.issues_dir.glob("*.md")):
            issue = self._issue(path)
            if issue is None or label not in issue.labels:
                continue
            if issue.number in found:
                raise StepFailed(f"{path}: issue number {issue.number} is used twice")
            found[issue.number] = issue
        return [found[n] for n in sorted(found)][:limit]

    def _pr_path(self, head: str) -> Path:
        path = (self.prs_dir / f"{head}.md").resolve()
        if not path.is_relative_to(self.prs_dir.resolve()):
            raise StepFailed(f"invalid branch name for a pull request file: {head!r}")
        return path

    def _pull_request(self, path: Path) -> PullRequest:
        meta, _ = _front_matter(path)
        return PullRequest(
            provider=self.name,
            number=int(meta.get("number", 0)),
            title=str(meta.get("title", "")),
            url=str(path.relative_to(self.root)),
            head=str(meta.get("head", "")),
            base=str(meta.get("base", "")),
            draft=bool(meta.get("draft", False)),
        )

    def _all(self) -> list[Path]:
        return sorted(self.prs_dir.rglob("*.md")) if self.prs_dir.is_dir() else []

    def find_pull_request(self, head: str) -> PullRequest | None:
        """The pull request file of branch ``head``, unless its state is no longer open."""
        path = self._pr_path(head)
        if not path.is_file() or str(_front_matter(path)[0].get("state", "open")) != "open":
            return None
        return self._pull_request(path)

    def create_pull_request(
        self, *, title: str, body: str, head: str, base: str, draft: bool
    ) -> PullRequest:
        """Write ``.maverick/prs/<head>.md``; numbers count up from 1."""
        path = self._pr_path(head)
        state_dir(self.root, "prs")  # its .gitignore keeps pull request files out of git
        with LOCAL_NUMBERING:  # refuel --parallel opens pull requests from several threads
            numbers = [self._pull_request(p).number for p in self._all()]
            meta = {
                "number": max(numbers, default=0) + 1,
                "title": title,
                "head": head,
                "base": base,
                "draft": draft,
                "state": "open",
            }
            _write_front_matter(path, meta, body)
        return self._pull_request(path)

    def pull_request_of_branch(self, branch: str) -> PullRequest | None:
        """``.maverick/prs/<branch>.md``, when it is open."""
        return self.find_pull_request(branch)

    def pull_request_changes(self, number: int) -> dict[str, Any]:
        """Head and base of local pull request ``number`` (git computes the changes)."""
        for path in self._all():
            pr = self._pull_request(path)
            if pr.number == number:
                return {**attrs.asdict(pr), "diff": None, "files": None, "commits": None}
        raise StepFailed(f"no local pull request number {number} in {PRS_DIR}/")


# ----------------------------------------------------------------------------- github


class GitHubProvider:
    """Issues and pull requests through the ``gh`` command line."""

    name = "github"

    def __init__(self, config: Config, runner: CommandRunner) -> None:
        self.run = runner
        section = config.settings.get("github") or {}
        repo = section.get("repo") if isinstance(section, dict) else None
        if repo is not None and (not isinstance(repo, str) or repo.count("/") != 1):
            raise StepFailed("maverick.yaml: github.repo must be 'owner/name'")
        self.repo: str | None = repo

    def _gh(self, *args: str, input: str | None = None) -> Any:
        argv = ["gh", *args]
        if self.repo and args[0] in ("issue", "pr"):
            argv.append(f"--repo={self.repo}")
        result = self.run(argv, input)
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines()[-STDERR_TAIL_LINES:]
            raise StepFailed(
                f"gh {' '.join(args[:2])} failed (exit {result.returncode})"
                + ("\n" + "\n".join(lines) if lines else "")
            )
        return result.stdout

    def _json(self, *args: str, input: str | None = None) -> Any:
        return self._parse(args, self._gh(*args, input=input))

    def _parse(self, args: tuple[str, ...], text: str) -> Any:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise StepFailed(
                f"gh {' '.join(args[:2])} did not answer JSON: {text[:200]!r}"
            ) from None

    def list_issues(self, label: str, limit: int) -> list[Issue]:
        """``gh issue list --label L --state open --json ...``."""
        data = self._json(
            "issue",
            "list",
            "--state=open",
            f"--label={label}",
            f"--limit={limit}",
            "--json=number,title,body,labels,url",
        )
        issues = [
            Issue(
                int(item["number"]),
                str(item.get("title", "")),
                str(item.get("body") or ""),
                tuple(str(lbl.get("name", "")) for lbl in item.get("labels") or []),
                str(item.get("url", "")),
            )
            for item in data
        ]
        return sorted(issues, key=lambda issue: issue.number)[:limit]

    def _pr(self, item: dict[str, Any]) -> PullRequest:
        return PullRequest(
            provider=self.name,
            number=int(item["number"]),
            title=str(item.get("title", "")),
            url=str(item.get("url", "")),
            head=str(item.get("headRefName", "")),
            base=str(item.get("baseRefName", "")),
            draft=bool(item.get("isDraft", False)),
        )

    def find_pull_request(self, head: str) -> PullRequest | None:
        """``gh pr list --head H --state open``."""
        data = self._json(
            "pr",
            "list",
            "--state=open",
            f"--head={head}",
            "--json=number,title,url,headRefName,baseRefName,isDraft",
        )
        return self._pr(data[0]) if data else None

    def create_pull_request(
        self, *, title: str, body: str, head: str, base: str, draft: bool
    ) -> PullRequest:
        """``gh api --method POST repos/{owner}/{repo}/pulls`` with the fields as JSON on stdin."""
        endpoint = f"repos/{self.repo}/pulls" if self.repo else "repos/{owner}/{repo}/pulls"
        payload = json.dumps(
            {"title": title, "body": body, "head": head, "base": base, "draft": draft}
        )
        data = self._json("api", "--method=POST", endpoint, "--input=-", input=payload)
        return PullRequest(
            provider=self.name,
            number=int(data["number"]),
            title=str(data.get("title", title)),
            url=str(data.get("html_url", "")),
            head=str((data.get("head") or {}).get("ref", head)),
            base=str((data.get("base") or {}).get("ref", base)),
            draft=bool(data.get("draft", draft)),
        )

    def pull_request_of_branch(self, branch: str) -> PullRequest | None:
        """``gh pr view --json ...``: the pull request that belongs to the current branch.

        gh finds it itself; with ``github.repo`` set gh needs the branch named
        (``gh pr view BRANCH``). gh exits 1 saying "no pull requests found" when
        there is none: that is an answer, not a failure.
        """
        args = ["pr", "view", *([branch] if self.repo else [])]
        args.append("--json=number,title,url,headRefName,baseRefName,isDraft,state")
        argv = ["gh", *args] + ([f"--repo={self.repo}"] if self.repo else [])
        result = self.run(argv, None)
        if result.returncode != 0:
            if "no pull requests found" in result.stderr.lower():
                return None
            lines = result.stderr.strip().splitlines()[-STDERR_TAIL_LINES:]
            raise StepFailed(
                f"gh pr view failed (exit {result.returncode})"
                + ("\n" + "\n".join(lines) if lines else "")
            )
        data = self._parse(tuple(args), result.stdout)
        if str(data.get("state", "OPEN")).upper() != "OPEN":
            return None
        return self._pr(data)

    def pull_request_changes(self, number: int) -> dict[str, Any]:
        """``gh pr view N --json ...`` and ``gh pr diff N``."""
        data = self._json(
            "pr",
            "view",
            str(number),
            "--json=number,title,url,headRefName,baseRefName,isDraft,files,commits",
        )
        diff = self._gh("pr", "diff", str(number))
        files = [{"status": "M", "path": str(f.get("path", ""))} for f in data.get("files") or []]
        commits = [
            {"sha": str(c.get("oid", "")), "subject": str(c.get("messageHeadline", ""))}
            for c in data.get("commits") or []
        ]
        return {
            **attrs.asdict(self._pr(data)),
            "diff": diff,
            "files": files,
            "commits": commits,
        }


# ----------------------------------------------------------------------------- registry

GH_ENV = {"GH_PROMPT_DISABLED": "1", "NO_COLOR": "1", "GH_NO_UPDATE_NOTIFIER": "1"}
"""gh must never prompt, colour its output or check for updates inside a run."""

ProviderFactory = Callable[[Config, CommandRunner], Provider]
"""What a plugin registers through ``register_providers``: ``factory(config, runner)``."""


def github_available(config: Config) -> bool:
    """True when ``gh`` is installed and ``origin`` points to GitHub."""
    url = origin_url(config.root) or ""
    return shutil.which("gh") is not None and bool(GITHUB_URL_RE.search(url))


def provider_name(config: Config) -> str:
    """The provider maverick.yaml asks for, or the default (github if available, else local)."""
    chosen = config.settings.get("provider", "auto")
    if chosen in (None, "auto"):
        return "github" if github_available(config) else "local"
    providers = config.pm.registries.providers
    if not isinstance(chosen, str) or chosen not in providers:
        known = ", ".join(sorted(providers))
        raise StepFailed(f"maverick.yaml: unknown provider {chosen!r} (known: {known}, auto)")
    return chosen


def provider_for(ctx: Any) -> Provider:
    """The configured provider, running its commands through the run's process group."""
    runner = CommandRunner(ctx.config.root, ctx.processes, env=GH_ENV)
    factory: ProviderFactory = ctx.config.pm.registries.providers[provider_name(ctx.config)].value
    return factory(ctx.config, runner)


# ----------------------------------------------------------------------------- actions


def list_issues(ctx: Any, label: str, limit: int, skip_open_prs: str = "") -> dict[str, Any]:
    """Action ``provider.list_issues``: open issues with ``label``.

    :param skip_open_prs: a branch prefix; issues whose branch ``<prefix><number>``
        already has an open pull request are skipped (their fix awaits review).
    :returns: ``{provider, issues, skipped}``.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError(f"limit must be a positive integer, got {limit!r}")
    provider = provider_for(ctx)
    issues, skipped = [], []
    for issue in provider.list_issues(str(label), limit):
        if skip_open_prs and provider.find_pull_request(f"{skip_open_prs}{issue.number}"):
            skipped.append({"number": issue.number, "title": issue.title})
            continue
        issues.append(
            {
                "number": issue.number,
                "title": issue.title,
                "body": issue.body,
                "labels": list(issue.labels),
                "url": issue.url,
            }
        )
    if skipped:
        numbers = ", ".join(f"#{s['number']}" for s in skipped)
        ctx.notice(f"skipping issues that already have an open pull request: {numbers}")
    return {"provider": provider.name, "issues": issues, "skipped": skipped}


def open_pull_request(
    ctx: Any, title: str, body: str, head: str, base: str, draft: bool = False
) -> dict[str, Any]:
    """Action ``provider.open_pull_request``: the open PR from ``head``, creating it if needed.

    Finding an existing one first makes a resumed run (stopped right after creating
    it) end with one pull request, not two. A writer agent, when configured, writes
    the title and body from the given ones and the diff (see :mod:`.writer`).

    :returns: the pull request and ``created``.
    """
    provider = provider_for(ctx)
    existing = provider.find_pull_request(head)
    if existing is not None:
        return {**attrs.asdict(existing), "created": False}
    title, body = _written(ctx, title, body, head, base)
    created = provider.create_pull_request(
        title=title, body=body, head=head, base=base, draft=bool(draft)
    )
    ctx.notice(f"pull request #{created.number} opened: {created.url}")
    return {**attrs.asdict(created), "created": True}


def _written(ctx: Any, title: str, body: str, head: str, base: str) -> tuple[str, str]:
    """The writer agent's title and body for the pull request, when one is configured."""
    from maverick_core.devflow import gitops, writer

    if writer.resolve_writer(ctx.config) is None:
        return title, body
    git = gitops.Git.of(ctx)
    diff = git.run(
        "diff",
        "--no-color",
        "--stat",
        "--patch",
        f"{gitops.resolve_branch(git, base)}...{head}",
        check=False,
    ).stdout
    return writer.pull_request(ctx, title, body, diff)


def describe(ctx: Any) -> dict[str, Any]:
    """Action ``provider.describe``: which provider the project uses."""
    return {"provider": provider_name(ctx.config)}
