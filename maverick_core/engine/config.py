"""The project and its settings: root discovery, ``maverick.yaml``, CLI options."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from maverick_core.engine import textfile
from maverick_core.engine.durability import ENV_VAR, set_durability
from maverick_core.engine.errors import DefinitionError, MaverickError, StepFailed
from maverick_core.engine.stash import Stash
from maverick_core.engine.storage import Project

if TYPE_CHECKING:
    from maverick_core.engine.pluginmanager import MaverickPluginManager

PROJECT_MARKERS = ("maverick.yaml", ".maverick", ".git")
STATE_GITIGNORE = "# Created by maverick: run state is never committed.\n*\n"
"""What each state directory's ``.gitignore`` holds (as pytest does for its cache)."""
LEGACY_GITIGNORE = (
    "# maverick's run state (checkpoints, locks, reviews) must never be committed.\n"
    "*\n"
    "# What a project keeps here on purpose is meant to be shared.\n"
    "!/.gitignore\n"
    "!/workflows/\n"
    "!/workflows/**\n"
    "!/prompts/\n"
    "!/prompts/**\n"
    "!/issues/\n"
    "!/issues/**\n"
)
"""The ``.maverick/.gitignore`` earlier releases wrote; it un-ignored itself."""
STATE_DIR_MODE = 0o700
STATE_FILE_MODE = 0o600
SETTINGS_FILE = "maverick.yaml"


def find_project_root(start: Path) -> Path:
    """Walk up from ``start`` to a directory holding maverick.yaml, .maverick/ or .git."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if any((directory / marker).exists() for marker in PROJECT_MARKERS):
            return directory
    return start


def read_settings(root: Path, pm: MaverickPluginManager | None = None) -> dict[str, Any]:
    """``maverick.yaml`` as a mapping ({} when absent).

    With ``pm``, every section is checked against the schema the core or a plugin
    declared (``add_settings``): unknown sections and keys, and wrong types, are
    located errors. Bad YAML and non-UTF-8 text are located errors too.
    """
    from maverick_core.engine import settings as checks

    settings = checks.read_settings_file(root / SETTINGS_FILE)
    if pm is not None and settings.data:
        blocked, unknowable = checks.sections_of_blocked_plugins(pm)
        checks.check_settings(settings, checks.collect_sections(pm), blocked, unknowable)
    return settings.data


def origin_url(root: Path) -> str | None:
    """The ``origin`` remote's URL from .git/config, without running git.

    git itself accepts any bytes in its config (a Latin-1 ``user.name``), so the
    file is decoded leniently: the URL is ASCII in practice, and an unreadable or
    odd config only means there is no URL to name the project by.
    """
    config_path = root / ".git" / "config"
    try:
        text = textfile.read_text(config_path, textfile.Limits(max_bytes=1 << 20))
    except DefinitionError as exc:
        if "not UTF-8" not in exc.reason:
            return None
        try:
            text = config_path.read_bytes()[: 1 << 20].decode("utf-8", "surrogateescape")
        except OSError:
            return None
    import configparser  # here: most projects name themselves in maverick.yaml

    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(text, source=str(config_path))
    except configparser.Error:
        return None
    section = 'remote "origin"'
    url = parser.get(section, "url", fallback=None) if parser.has_section(section) else None
    if url is None:
        return None
    # a name made of undecodable bytes could not be printed or stored: use the directory
    try:
        url.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return url


def project_name(root: Path, settings: dict[str, Any]) -> str:
    """A name that is the same in every clone: settings ``project``, origin URL, or dir name."""
    name = settings.get("project")
    if isinstance(name, str) and name:
        return name
    url = origin_url(root)
    if url:
        return normalize_remote(url)
    return root.name


def normalize_remote(url: str) -> str:
    """``host/owner/repo`` for any spelling of a remote, without credentials.

    ``git@github.com:o/r.git``, ``ssh://git@github.com/o/r`` and
    ``https://TOKEN@github.com/o/r.git`` all name one project; a token must never
    become a project name in a shared store.
    """
    text = url.strip()
    scp = re.match(r"^(?:[^@/]+@)?([^:/]+):(?!//)(.+)$", text)
    if "://" in text:
        parts = urlsplit(text)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        text = f"{host}{port}{parts.path}" if host else parts.path
    elif scp:
        text = f"{scp.group(1)}/{scp.group(2)}"
    return text.removesuffix("/").removesuffix(".git").strip("/")


class Config:
    """Everything a run is configured by.

    A plain class, not an attrs class: every command builds this class, and an attrs
    class costs a compile (docs/benchmarks.md, start-up).

    :ivar options: CLI options (``store``, ``serializer``, ``quiet``, ``json``,
        ``resume_command``, ...).
    :ivar stash: plugins' own state for this invocation, under their
        :class:`~maverick_core.engine.stash.StashKey` objects (``run.stash`` is per run).
    """

    __slots__ = ("__weakref__", "options", "pm", "project", "settings", "stash")

    def __init__(
        self,
        project: Project,
        settings: dict[str, Any],
        pm: MaverickPluginManager,
        options: dict[str, Any] | None = None,
        stash: Stash | None = None,
    ) -> None:
        self.project = project
        self.settings = settings
        self.pm = pm
        self.options: dict[str, Any] = {} if options is None else options
        self.stash = Stash() if stash is None else stash

    def __repr__(self) -> str:
        return f"Config(project={self.project!r}, options={self.options!r})"

    @property
    def root(self) -> Path:
        """The project root."""
        return self.project.root

    def getoption(self, name: str, default: Any = None) -> Any:
        """The value of command-line option ``name`` (its click parameter name), or
        ``default`` when it was not given (a plugin's own option from
        ``add_run_options``, or a built-in such as ``store``)."""
        value = self.options.get(name)
        return default if value is None else value

    def setting(self, key: str, env: str | None = None, default: Any = None) -> Any:
        """A value from CLI options, then the environment, then maverick.yaml."""
        if self.options.get(key) is not None:
            return self.options[key]
        if env and os.environ.get(env):
            return os.environ[env]
        return self.settings.get(key, default)


def make_config(
    pm: MaverickPluginManager,
    project_dir: str | Path | None = None,
    options: dict[str, Any] | None = None,
) -> Config:
    """Find the project, read its settings and call the ``configure`` hook."""
    project, settings = open_project(project_dir, pm)
    config = Config(project, settings, pm, dict(options or {}))
    set_durability(config.setting("durability", env=ENV_VAR))
    # historic: a plugin registered later (the reporter, a plugin's own helper
    # plugin) still gets configure, with this configuration
    pm.hook.configure.call_historic(kwargs={"config": config})
    return config


def open_project(
    project_dir: str | Path | None = None, pm: MaverickPluginManager | None = None
) -> tuple[Project, dict[str, Any]]:
    """The project (``--project-dir``, else found from the current directory) and its
    ``maverick.yaml`` settings, without configuring any plugin.

    :param pm: when given, the settings are checked against the sections its
        plugins declare (see :func:`read_settings`).
    """
    root = Path(project_dir).resolve() if project_dir else find_project_root(Path.cwd())
    if project_dir and not root.is_dir():
        raise MaverickError(f"--project-dir {project_dir}: not a directory")
    settings = read_settings(root, pm)
    return Project(root, project_name(root, settings)), settings


def state_dir(root: Path, name: str | None = None) -> Path:
    """``<root>/.maverick``, or its state directory ``name`` (``checkpoints``, ``reviews``).

    Directories are created 0700. A state directory gets a ``.gitignore`` holding
    ``*`` (0600), like pytest's cache, so what maverick writes there never reaches
    git and never shows in ``git status``, while ``.maverick/workflows/``,
    ``prompts/`` and ``issues/`` stay committable. The ``.maverick/.gitignore`` of
    earlier releases is removed when git does not track it (see
    :func:`retire_legacy_gitignore`).
    """
    directory = root / ".maverick"
    try:
        directory.mkdir(mode=STATE_DIR_MODE, parents=True, exist_ok=True)
        retire_legacy_gitignore(directory)
        if name is None:
            return directory
        state = directory / name
        state.mkdir(mode=STATE_DIR_MODE, exist_ok=True)
        write_gitignore(state)
    except OSError as exc:
        raise MaverickError(f"cannot create {directory / (name or '')}: {exc}") from None
    return state


def write_gitignore(directory: Path) -> None:
    """Give ``directory`` a ``.gitignore`` that ignores all of it (kept if present)."""
    path = directory / ".gitignore"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, STATE_FILE_MODE)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(STATE_GITIGNORE)


def retire_legacy_gitignore(directory: Path) -> None:
    """Remove the ``.maverick/.gitignore`` an earlier release wrote, unless git tracks it.

    It un-ignored itself, so every repository showed ``?? .maverick/``. Only the exact
    text maverick wrote is removed: a file the user edited is theirs. A tracked copy
    is left (removing it would dirty the tree); it ignores the same state.
    """
    path = directory / ".gitignore"
    try:
        if path.read_text(encoding="utf-8") != LEGACY_GITIGNORE:
            return
    except (OSError, UnicodeDecodeError):
        return
    from maverick_core.engine.processes import run_process

    try:
        tracked = run_process(
            ["git", "ls-files", "--error-unmatch", "--", ".gitignore"],
            cwd=directory,
            timeout=30,
        )
    except StepFailed:  # no git here: nothing can be tracked
        tracked = None
    if tracked is not None and tracked.ok:
        return
    path.unlink(missing_ok=True)
