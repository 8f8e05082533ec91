"""The ``agent`` step type, the built-in ``command`` backend, roles and prompt templates.

An agent step names a *role* (``implementer``, ``fixer``, ``reviewer``,
``issue_fixer``, ...). ``maverick.yaml`` maps roles to backends::

    agents:
      implementer: {preset: claude, model: sonnet, timeout: 1800}
      reviewer: {command: [my-reviewer, --strict]}
      default: {preset: codex}

A role without an entry uses ``agents.default``; with neither, the step fails before
anything runs, printing the YAML to add. The prompt is a template per role
(``maverick_core/library/prompts/<role>.md``, overridden by
``<project>/.maverick/prompts/<role>.md``) filled by single-pass ``{name}``
substitution: values are never re-scanned, so text from an issue or a diff cannot
inject placeholders, and no ``str.format`` ever sees untrusted text.

Backends come from the ``register_agents`` hook: ``factory(settings)`` returns an
object with ``ask(prompt, *, role, env) -> str``. A backend whose ``ask`` also takes
``cwd``, ``processes`` and/or ``popen`` receives the project root and the run's
process group (children started through it are stopped when the run is interrupted;
``run_process(argv, group=processes, timeout=...)`` also kills a timed-out tree); one
that takes ``events`` and ``resume`` reports its session and activity and can continue
an interrupted session, and may return an :class:`~.presets.AgentReply` (usage, cost)
instead of text. The presets (``claude``, ``codex``, ``gemini``, ``aider``) are in
:mod:`.presets`; cost, in-flight sessions and the budget in :mod:`.ledger`.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import shlex
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import yaml

from maverick_core.api import (
    Config,
    Data,
    Interrupted,
    ProcessGroup,
    Seconds,
    Step,
    StepContext,
    StepFailed,
    Text,
    run_process,
)
from maverick_core.devflow import ledger
from maverick_core.devflow.gitops import work_root
from maverick_core.devflow.presets import AgentReply, AgentTimedOut, price_of

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable, Mapping

PROMPTS = Path(__file__).resolve().parent.parent / "library" / "prompts"
DEFAULT_BACKEND = "command"
DEFAULT_TIMEOUT = 1800.0
STDERR_TAIL_LINES = 20
TEMPLATE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
PLACEHOLDER_RE = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
ROLE_EXAMPLES: dict[str, str] = {
    "implementer": "{preset: claude, timeout: 1800}",
    "fixer": "{preset: claude}",
    "reviewer": "{preset: claude}",
    "issue_fixer": "{preset: claude, timeout: 1800}",
    "commit_message": "{preset: claude, timeout: 120}",
}
# settings of the agents table that are not roles
NOT_ROLES = frozenset({"prices"})


# ----------------------------------------------------------------------------- roles


@attrs.frozen
class AgentSettings:
    """How one role is served: the backend name and its settings from ``maverick.yaml``.

    :ivar source: where the settings came from (``agents.fixer`` or ``agents.default``).
    """

    role: str
    backend: str
    settings: dict[str, Any]
    source: str


def _agents_table(config: Config) -> dict[str, Any]:
    table = config.settings.get("agents") or {}
    if not isinstance(table, dict):
        raise StepFailed("maverick.yaml: 'agents' must be a mapping of role -> settings")
    return table


def resolve_role(config: Config, role: str, *, fallback: bool = True) -> AgentSettings | None:
    """The settings serving ``role``: ``agents.<role>``, else ``agents.default``.

    :param fallback: use ``agents.default`` when the role has no entry.
    :returns: None when neither is configured.
    """
    table = _agents_table(config)
    for key in (role, "default") if fallback else (role,):
        entry = table.get(key)
        if entry is None:
            continue
        if isinstance(entry, str | list):
            entry = {"command": entry}
        if not isinstance(entry, dict):
            raise StepFailed(
                f"maverick.yaml: agents.{key} must be a mapping like {ROLE_EXAMPLES['fixer']}"
            )
        preset = entry.get("preset")
        backend = entry.get("backend", preset if preset is not None else DEFAULT_BACKEND)
        if not isinstance(backend, str):
            raise StepFailed(f"maverick.yaml: agents.{key}.backend must be a name")
        if preset is not None and preset != backend:
            raise StepFailed(
                f"maverick.yaml: agents.{key} names preset '{preset}' and backend '{backend}'; "
                "give one"
            )
        settings = {k: v for k, v in entry.items() if k not in ("backend", "preset")}
        return AgentSettings(role, backend, settings, f"agents.{key}")
    return None


def missing_roles_message(roles: list[str]) -> str:
    """What to add to ``maverick.yaml`` so ``roles`` are served, as YAML."""
    lines = [f"    {role}: {ROLE_EXAMPLES.get(role, '{preset: claude}')}" for role in roles]
    names = ", ".join(f"'{role}'" for role in roles)
    plural = "s" if len(roles) > 1 else ""
    return (
        f"no agent configured for role{plural} {names}. Add to maverick.yaml:\n"
        "  agents:\n" + "\n".join(lines) + "\n"
        "(or an 'agents.default' entry that serves every role; presets: claude, codex, "
        "gemini, aider, or {command: [...]}; see docs/agents.md)"
    )


def require_role(config: Config, role: str) -> AgentSettings:
    """The settings serving ``role``; fails saying exactly what YAML to add."""
    found = resolve_role(config, role)
    if found is None:
        raise StepFailed(missing_roles_message([role]))
    return found


def check_roles(ctx: StepContext, roles: list[str]) -> dict[str, Any]:
    """Action ``agents.require``: fail before any work unless every role is served.

    :returns: ``{role: source}`` for each role (``agents.x`` or ``agents.default``).
    """
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise StepFailed("roles must be a list of role names")
    missing = [role for role in roles if resolve_role(ctx.config, role) is None]
    if missing:
        raise StepFailed(missing_roles_message(missing))
    return {role: require_role(ctx.config, role).source for role in roles}


# ----------------------------------------------------------------------------- prompts


def template_text(root: Path, name: str) -> tuple[str, Path]:
    """A prompt template by name: the project's override, else the built-in one."""
    if not TEMPLATE_NAME_RE.match(name):
        raise StepFailed(
            f"invalid prompt template name {name!r} (letters, digits, '_' and '-' only)"
        )
    for directory in (root / ".maverick" / "prompts", PROMPTS):
        path = directory / f"{name}.md"
        if path.is_file():
            return path.read_text(encoding="utf-8"), path
    raise StepFailed(
        f"no prompt template '{name}' (add .maverick/prompts/{name}.md, or use one of: "
        f"{', '.join(sorted(p.stem for p in PROMPTS.glob('*.md')))})"
    )


def as_prompt_text(value: Any) -> str:
    """How a context value appears in a prompt: text as is, data as YAML."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True).rstrip("\n")


def fill_template(text: str, values: Mapping[str, Any], name: str = "prompt") -> str:
    """Replace each ``{name}`` with its value, in one pass; ``{{``/``}}`` are braces.

    Substituted values are never scanned again, so a value holding ``{x}`` stays
    literal. A placeholder with no value fails, naming the template.
    """
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        key = match.group(1)
        if key not in values:
            missing.append(key)
            return token
        return as_prompt_text(values[key])

    filled = PLACEHOLDER_RE.sub(substitute, text)
    if missing:
        known = ", ".join(sorted(values)) or "none"
        raise StepFailed(
            f"prompt template '{name}' uses {{{missing[0]}}} but no value is given "
            f"(available: {known}; write {{{{ and }}}} for literal braces)"
        )
    return filled


# ----------------------------------------------------------------------------- asking


@attrs.frozen
class Answer:
    """What an agent said, with how it was asked and what it cost.

    :ivar cost_usd: as the CLI reported it, else from ``agents.prices``; None if unknown.
    :ivar continued: the call continued an interrupted session instead of starting over.
    :ivar activity: the agent's actions (the last 200), for ``maverick runs show``.
    """

    role: str
    backend: str
    source: str
    template: str
    answer: str
    duration: float
    session_id: str | None = None
    model: str | None = None
    turns: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float | None = None
    continued: bool = False
    activity: list[dict[str, Any]] = attrs.field(factory=list)

    def to_plain(self) -> dict[str, Any]:
        """The agent step's output."""
        return attrs.asdict(self)

    def usage(self, path: str) -> dict[str, Any]:
        """The call's usage as ``on_agent_usage`` reports it."""
        plain = self.to_plain()
        for key in ("answer", "activity", "template", "source"):
            plain.pop(key)
        return {"path": path, **plain}


def make_backend(ctx: StepContext, chosen: AgentSettings) -> Any:
    """Instantiate the backend registered under ``chosen.backend``."""
    registered = ctx.config.pm.registries.agents.get(chosen.backend)
    if registered is None:
        known = ", ".join(sorted(ctx.config.pm.registries.agents)) or "none"
        raise StepFailed(
            f"{chosen.source}: unknown agent backend '{chosen.backend}' (installed: {known})"
        )
    return registered.value(dict(chosen.settings))


class StepEvents:
    """Reports a running call's session and activity through the hooks."""

    def __init__(self, ctx: StepContext, role: str, backend: str, record: dict[str, Any]) -> None:
        self.ctx = ctx
        self.role = role
        self.backend = backend
        self.record = record
        self.session_id: str | None = None

    def session(self, session_id: str) -> None:
        """Durably record the in-flight session, so an interruption can continue it."""
        self.session_id = session_id
        record = {**self.record, "session_id": session_id}
        ledger.ledger_for(self.ctx.run).sessions[self.ctx.path] = record
        self.ctx.config.pm.hook.on_agent_session(
            run=self.ctx.run, path=self.ctx.path, session=record
        )

    def activity(self, kind: str, detail: str) -> None:
        """Tell the reporters what the agent just did."""
        self.ctx.config.pm.hook.on_agent_activity(
            run=self.ctx.run,
            path=self.ctx.path,
            role=self.role,
            action={"kind": kind, "detail": detail},
        )

    def forget(self) -> None:
        """The call ended (answered or failed for good): nothing is in flight."""
        if ledger.ledger_for(self.ctx.run).sessions.pop(self.ctx.path, None) is not None or (
            self.session_id is not None
        ):
            self.ctx.config.pm.hook.on_agent_session(
                run=self.ctx.run, path=self.ctx.path, session=None
            )


def session_to_continue(
    ctx: StepContext, role: str, backend: str, digest: str, resumable: bool
) -> str | None:
    """The session an earlier attempt left in flight at this step, if it may be continued.

    Only for the same role, backend and prompt, a step whose definition did not
    change, and unless ``--restart-step`` or ``--force`` asked for a fresh start.
    """
    found = ledger.ledger_for(ctx.run).sessions.get(ctx.path)
    if found is None or not resumable or not found.get("session_id"):
        return None
    why = None
    if ctx.config.options.get("restart_step"):
        why = "--restart-step"
    elif ctx.config.options.get("force"):
        why = "--force"
    elif (found.get("role"), found.get("backend")) != (role, backend):
        why = "the role is served by another backend now"
    elif found.get("fingerprint") != _fingerprint(ctx) or found.get("digest") != digest:
        why = "the step or its prompt changed"
    if why is not None:
        ctx.notice(
            f"not continuing agent session {str(found['session_id'])[:8]}… of {ctx.path} ({why}): "
            "starting it fresh"
        )
        return None
    return str(found["session_id"])


def _fingerprint(ctx: StepContext) -> str | None:
    top = ctx.path.split(".", 1)[0].split("[", 1)[0]
    value = ctx.run.workflow.fingerprints.get(top)
    return None if value is None else str(value)


def ask_agent(
    ctx: StepContext,
    role: str,
    *,
    template: str | None = None,
    inline: str | None = None,
    context: Mapping[str, Any] | None = None,
    chosen: AgentSettings | None = None,
    timeout: float | None = None,
) -> Answer:
    """Fill the role's prompt and ask the agent serving it (fails before asking if none).

    Checks the budget first; continues the session an interrupted attempt left at
    this step when the backend can; reports usage through ``on_agent_usage``.
    """
    chosen = chosen or require_role(ctx.config, role)
    values = {
        "role": role,
        "run_id": ctx.run.run_id,
        "step": ctx.path,
        "project_root": str(ctx.config.root),
        **dict(context or {}),
    }
    if inline is not None:
        name, text = "inline", inline
    else:
        name = template or role
        text, _ = template_text(ctx.config.root, name)
    prompt = fill_template(text, values, name)
    backend = make_backend(ctx, chosen)
    ledger.check_budget(ctx.run, ctx.path)
    env = {"MAVERICK_AGENT": role, "MAVERICK_RUN_ID": ctx.run.run_id, "MAVERICK_STEP": ctx.path}
    children: list[subprocess.Popen[bytes]] = []

    def popen(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        # through the run's process group, so an interrupt stops the agent too
        proc = ctx.popen(*args, **kwargs)
        children.append(proc)
        return proc

    digest = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]
    events = StepEvents(
        ctx,
        role,
        chosen.backend,
        {
            "role": role,
            "backend": chosen.backend,
            "digest": digest,
            "fingerprint": _fingerprint(ctx),
        },
    )
    extras: dict[str, Any] = {
        "cwd": work_root(ctx),
        "popen": popen,
        "processes": ctx.processes,
        "events": events,
    }
    if timeout is not None:
        extras["timeout"] = timeout
    accepted = _accepted_keywords(backend.ask)
    resume = session_to_continue(
        ctx, role, chosen.backend, digest, "resume" in accepted and _resumable(backend)
    )
    if resume is not None:
        extras["resume"] = resume
        ctx.notice(f"continuing agent session {resume[:8]}… of {ctx.path}")
    started = time.monotonic()
    try:
        reply = backend.ask(
            prompt, role=role, env=env, **{k: v for k, v in extras.items() if k in accepted}
        )
    except (Interrupted, AgentTimedOut):
        # still in flight: a resumed run continues its session
        raise
    except StepFailed:
        events.forget()
        raise
    finally:
        for proc in children:
            if proc.poll() is not None:
                ctx.forget(proc)
    duration = round(time.monotonic() - started, 3)
    if isinstance(reply, str):
        reply = AgentReply(reply)
    if not isinstance(reply, AgentReply):
        raise StepFailed(f"agent backend '{chosen.backend}' returned {type(reply).__name__}")
    cost = reply.cost_usd
    if cost is None:
        cost = price_of(_agents_table(ctx.config).get("prices"), reply.model, reply)
    answer = Answer(
        role,
        chosen.backend,
        chosen.source,
        name,
        reply.answer,
        duration,
        session_id=reply.session_id,
        model=reply.model,
        turns=reply.turns,
        input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens,
        cached_tokens=reply.cached_tokens,
        cost_usd=cost,
        continued=resume is not None,
        activity=list(reply.activity),
    )
    usage = answer.usage(ctx.path)
    ledger.ledger_for(ctx.run).calls.append(usage)
    ctx.config.pm.hook.on_agent_usage(run=ctx.run, path=ctx.path, usage=usage)
    events.forget()
    return answer


def _resumable(backend: Any) -> bool:
    return bool(getattr(backend, "resumable", False))


def _accepted_keywords(function: Callable[..., Any]) -> set[str]:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return set()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return {"cwd", "popen", "processes", "timeout", "events", "resume"}
    return {p.name for p in parameters}


# ----------------------------------------------------------------------------- backend


class CommandAgent:
    """Backend ``command``: run a command line, prompt on stdin, answer on stdout.

    Settings: ``command`` (a list, or a string split like a shell would, never run by
    one), ``timeout`` in seconds (default 1800), ``env`` (extra variables). The
    command runs in the project root; a non-zero exit or a timeout fails the step
    with the tail of its stderr.
    """

    def __init__(self, settings: dict[str, Any]) -> None:
        command = settings.get("command")
        if isinstance(command, str):
            command = shlex.split(command)
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(part, str | int | float) for part in command)
        ):
            raise StepFailed(
                "agent backend 'command' needs 'command': a list like [claude, -p] "
                f"(got {command!r})"
            )
        self.command = [str(part) for part in command]
        timeout = settings.get("timeout", DEFAULT_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise StepFailed(f"agent 'timeout' must be a positive number of seconds: {timeout!r}")
        self.timeout = float(timeout)
        extra_env = settings.get("env") or {}
        if not isinstance(extra_env, dict):
            raise StepFailed("agent 'env' must be a mapping of NAME: value")
        self.env = {str(k): str(v) for k, v in extra_env.items()}
        unknown = sorted(set(settings) - {"command", "timeout", "env"})
        if unknown:
            raise StepFailed(
                f"agent backend 'command': unknown setting '{unknown[0]}' "
                "(settings: command, timeout, env)"
            )

    def ask(
        self,
        prompt: str,
        *,
        role: str,
        env: dict[str, str],
        cwd: Path,
        processes: ProcessGroup | None = None,
        timeout: float | None = None,
    ) -> str:
        """Run the command with ``prompt`` on stdin; return its stdout."""
        program = shutil.which(self.command[0], path=os.environ.get("PATH"))
        if program is None and not (cwd / self.command[0]).is_file():
            raise StepFailed(
                f"agent command '{self.command[0]}' for role '{role}' was not found on PATH"
            )
        limit = timeout if timeout is not None else self.timeout
        try:
            result = run_process(
                self.command,
                cwd=cwd,
                env={**os.environ, **self.env, **env},
                input=prompt,
                timeout=limit,
                group=processes,
            )
        except StepFailed as exc:
            raise StepFailed(f"agent command {self.command[0]!r} could not start: {exc}") from None
        if result.timed_out:
            raise StepFailed(
                f"agent '{role}' ({self.command[0]}) timed out after {limit:g}s"
                + _tail_suffix(result.stderr),
                timed_out=True,
            )
        if result.returncode != 0:
            raise StepFailed(
                f"agent '{role}' ({self.command[0]}) exited with status {result.returncode}"
                + _tail_suffix(result.stderr),
                exit_code=result.returncode,
            )
        return result.stdout.rstrip("\n")


def _tail_suffix(err: str) -> str:
    lines = err.strip().splitlines()[-STDERR_TAIL_LINES:]
    return (":\n" + "\n".join(lines)) if lines else ""


# ----------------------------------------------------------------------------- step type


@attrs.frozen(kw_only=True)
class AgentStep(Step):
    """Ask the agent serving ``role``; output ``{role, backend, source, template, answer}``.

    :ivar template: the prompt template's name (default: the role).
    :ivar prompt: an inline template instead of a file.
    :ivar context: values for the template's ``{name}`` placeholders.
    :ivar timeout: overrides the role's configured timeout.
    """

    role: Text
    template: Text | None = None
    prompt: Text | None = None
    context: Data | None = None
    timeout: Seconds | None = None


def render_context(ctx: StepContext, context: Any) -> dict[str, Any]:
    """A step's ``context`` evaluated: a mapping of placeholder names to values."""
    rendered = ctx.render(context)
    if rendered is None:
        return {}
    if not isinstance(rendered, dict) or not all(isinstance(k, str) for k in rendered):
        raise StepFailed(f"context must be a mapping of names to values, got {rendered!r:.80}")
    return rendered


class AgentStepType:
    """Run an agent step: resolve the role, fill the prompt, ask the backend."""

    name = "agent"
    model = AgentStep

    def run(self, ctx: StepContext, step: AgentStep) -> dict[str, Any]:
        """Ask the agent and return its answer."""
        role = ctx.render(step.role)
        if not isinstance(role, str) or not role:
            raise StepFailed(f"role must be a role name, got {role!r}")
        if step.template is not None and step.prompt is not None:
            raise StepFailed("give either 'template' or 'prompt', not both")
        template = ctx.render(step.template) if step.template is not None else None
        inline = ctx.render(step.prompt) if step.prompt is not None else None
        context = render_context(ctx, step.context)
        answer = ask_agent(
            ctx,
            role,
            template=template,
            inline=inline,
            context=context,
            timeout=step.timeout,
        )
        return answer.to_plain()
