"""Agent presets: Claude Code, Codex CLI, Gemini CLI and aider as agent backends.

A preset owns one coding-agent CLI's headless command line per role (edit
permissions only for the roles that edit), reads its structured output into an
:class:`AgentReply` (answer, session id, model, turns, tokens, cost), reports what
the agent does while it works, and, where the CLI can continue a session, resumes
an interrupted one. ``docs/agents.md`` lists each command line with the reason for
every flag and the documentation it was taken from.

The prompt never travels on a command line (it holds text from issues and diffs):
Claude Code, Codex and Gemini CLI read it on stdin, aider from ``--message-file``.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import attrs

from maverick_core.api import CommandResult, ProcessGroup, StepFailed, mask_active, run_process

if TYPE_CHECKING:
    from collections.abc import Iterator

# roles that change the project; every other role is read-only
EDITING_ROLES = frozenset({"implementer", "fixer", "issue_fixer"})
DEFAULT_TIMEOUT = 1800.0
ACTIVITY_LIMIT = 200
TAIL_LINES = 20
SETTINGS = ("preset", "backend", "model", "timeout", "args", "env")

CONTINUATION = """\
You were working on the task below when your work was interrupted (the run that \
asked you was stopped before you answered). The project may already hold part of \
your changes. Check where the work stands, finish the task, and answer exactly as \
the task asks.

The task, as it was first given:

{prompt}"""


class AgentTimedOut(StepFailed):
    """The CLI ran past its timeout and was killed: its session stays resumable."""


def continuation_prompt(prompt: str) -> str:
    """The prompt that continues an interrupted session: what was asked, and to finish it."""
    return CONTINUATION.format(prompt=prompt)


@attrs.define
class AgentReply:
    """What a preset read from its CLI's output.

    Token counts are normalized across CLIs: ``input_tokens`` are input tokens not
    read from a cache (cache writes included), ``cached_tokens`` those read from one.

    :ivar cost_usd: the cost the CLI reported; None when it reports none.
    :ivar activity: the agent's actions (``{"kind", "detail", "time"}``), the last 200.
    """

    answer: str
    session_id: str | None = None
    model: str | None = None
    turns: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float | None = None
    activity: list[dict[str, Any]] = attrs.field(factory=list)


class AgentEvents(Protocol):
    """What a backend reports while its agent works (``events=`` of ``ask``)."""

    def session(self, session_id: str) -> None:
        """The CLI named its session: record it so an interruption can continue it."""

    def activity(self, kind: str, detail: str) -> None:
        """The agent did something: ``edit`` a file, run a ``command``, use a ``tool``."""


class NoEvents:
    """Events nobody listens to (a backend asked outside a run)."""

    def session(self, session_id: str) -> None:
        """Ignore the session id."""

    def activity(self, kind: str, detail: str) -> None:
        """Ignore the action."""


@attrs.define
class Transcript:
    """What has arrived from the CLI so far."""

    events: AgentEvents
    reply: AgentReply = attrs.field(factory=lambda: AgentReply(""))
    lines: collections.deque[str] = attrs.field(
        factory=lambda: collections.deque(maxlen=TAIL_LINES)
    )
    error: str | None = None
    finished: bool = False
    result: dict[str, Any] | None = None

    def act(self, kind: str, detail: str) -> None:
        """Record one action and report it."""
        # secrets are masked before the text is folded and cut, or a part of one survives
        detail = " ".join(mask_active(detail).split())[:200]
        self.reply.activity.append({"kind": kind, "detail": detail, "time": round(time.time(), 3)})
        del self.reply.activity[:-ACTIVITY_LIMIT]
        self.events.activity(kind, detail)

    def session(self, session_id: Any) -> None:
        """Remember the CLI's session id (once) and report it."""
        if isinstance(session_id, str) and session_id and self.reply.session_id != session_id:
            self.reply.session_id = session_id
            self.events.session(session_id)

    def tail(self) -> str:
        """The last lines that arrived, for error messages."""
        return "\n".join(list(self.lines)[-TAIL_LINES:]) or "(nothing)"


class CliPreset:
    """A coding-agent CLI run headless: command line per role, output parsed.

    Settings (``agents.<role>`` in ``maverick.yaml``): ``preset``, ``model``,
    ``timeout`` (seconds, default 1800), ``args`` (extra arguments, placed before
    the prompt), ``env`` (extra variables).
    """

    name: ClassVar[str]
    program: ClassVar[str]
    install: ClassVar[str]
    # whether the CLI can continue a session by id
    resumable: ClassVar[bool] = False
    # stdout lines kept: the tail for error messages, or all of a plain-text answer
    keep_lines: ClassVar[int] = TAIL_LINES

    def __init__(self, settings: dict[str, Any]) -> None:
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise StepFailed(
                f"agent preset '{self.name}': unknown setting '{unknown[0]}' "
                "(settings: preset, model, timeout, args, env)"
            )
        model = settings.get("model")
        if model is not None and (not isinstance(model, str) or not model):
            raise StepFailed(f"agent preset '{self.name}': 'model' must be a model name")
        self.model: str | None = model
        timeout = settings.get("timeout", DEFAULT_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise StepFailed(f"agent 'timeout' must be a positive number of seconds: {timeout!r}")
        self.timeout = float(timeout)
        args = settings.get("args") or []
        if not isinstance(args, list) or not all(isinstance(a, str | int | float) for a in args):
            raise StepFailed(f"agent preset '{self.name}': 'args' must be a list of arguments")
        self.args = [str(a) for a in args]
        extra_env = settings.get("env") or {}
        if not isinstance(extra_env, dict):
            raise StepFailed("agent 'env' must be a mapping of NAME: value")
        self.env = {str(k): str(v) for k, v in extra_env.items()}

    # ------------------------------------------------------------------ per CLI

    def command(
        self, role: str, cwd: Path, resume: str | None, message_file: Path | None
    ) -> list[str]:
        """The arguments after the program name."""
        raise NotImplementedError

    def stdin(self, prompt: str) -> bytes | None:
        """What the CLI reads on stdin (None: nothing, stdin is empty)."""
        return prompt.encode("utf-8")

    def line(self, text: str, transcript: Transcript) -> None:
        """Read one line of the CLI's stdout as it arrives."""

    def finish(self, role: str, returncode: int, stderr: str, transcript: Transcript) -> AgentReply:
        """The reply once the CLI exited; raises StepFailed for a failure it reported."""
        raise NotImplementedError

    # ------------------------------------------------------------------ running

    def ask(
        self,
        prompt: str,
        *,
        role: str,
        env: dict[str, str],
        cwd: Path,
        processes: ProcessGroup | None = None,
        timeout: float | None = None,
        events: AgentEvents | None = None,
        resume: str | None = None,
    ) -> AgentReply:
        """Run the CLI headless for ``role`` in ``cwd``; continue session ``resume`` if given."""
        program = shutil.which(self.program, path=os.environ.get("PATH"))
        if program is None:
            raise StepFailed(
                f"agent role '{role}' uses preset '{self.name}', but `{self.program}` is not on "
                f"PATH (install it: {self.install})"
            )
        if resume is not None:
            prompt = continuation_prompt(prompt)
        limit = timeout if timeout is not None else self.timeout
        transcript = Transcript(
            events or NoEvents(), lines=collections.deque(maxlen=self.keep_lines)
        )
        with self._message_file(prompt) as message_file:
            argv = [program, *self.command(role, cwd, resume, message_file)]
            result = self._run(
                argv, {**os.environ, **self.env, **env}, cwd, processes, prompt, limit, transcript
            )
        if result.timed_out:
            raise AgentTimedOut(
                f"agent '{role}' ({self.name}) timed out after {limit:g}s; last output:\n"
                + transcript.tail()
            )
        reply = self.finish(role, result.returncode, result.stderr, transcript)
        reply.activity = transcript.reply.activity
        if reply.model is None:
            reply.model = self.model
        return reply

    @contextlib.contextmanager
    def _message_file(self, prompt: str) -> Iterator[Path | None]:
        yield None

    def _run(
        self,
        argv: list[str],
        env: dict[str, str],
        cwd: Path,
        processes: ProcessGroup | None,
        prompt: str,
        limit: float,
        transcript: Transcript,
    ) -> CommandResult:
        """Run the CLI, reading its stdout line by line as it arrives."""

        def line(text: str) -> None:
            if text.strip():
                transcript.lines.append(text)
                self.line(text, transcript)

        return run_process(
            argv,
            cwd=cwd,
            env=env,
            input=self.stdin(prompt),
            timeout=limit,
            group=processes,
            on_line=line,
        )

    def _failed(self, role: str, message: str) -> StepFailed:
        return StepFailed(f"agent '{role}' ({self.name}) failed: {message.strip()}")

    def _exit_failure(
        self, role: str, returncode: int, stderr: str, transcript: Transcript
    ) -> StepFailed:
        tail = "\n".join(stderr.strip().splitlines()[-TAIL_LINES:]) or transcript.tail()
        return StepFailed(f"agent '{role}' ({self.name}) exited with status {returncode}:\n{tail}")

    def _malformed(self, role: str, expected: str, transcript: Transcript) -> StepFailed:
        return StepFailed(
            f"agent '{role}' ({self.name}): the output is not {expected}; the last lines were:\n"
            + transcript.tail()
        )


def _json_line(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# ----------------------------------------------------------------------------- Claude Code


class ClaudePreset(CliPreset):
    """Claude Code in print mode, streaming JSON events (``claude -p``)."""

    name = "claude"
    program = "claude"
    install = "npm install -g @anthropic-ai/claude-code, then run `claude` once to log in"
    resumable = True

    EDIT_TOOLS = "Read,Glob,Grep,LS,Edit,MultiEdit,Write,NotebookEdit,TodoWrite,Bash"
    READ_TOOLS = "Read,Glob,Grep,LS,Bash(git diff:*),Bash(git log:*),Bash(git show:*)"
    NEVER = "Bash(git commit:*),Bash(git push:*),Bash(git reset:*),Bash(git checkout:*)"
    READ_NEVER = "Edit,MultiEdit,Write,NotebookEdit"
    FILE_TOOLS = frozenset({"Edit", "MultiEdit", "Write", "NotebookEdit"})

    def command(
        self, role: str, cwd: Path, resume: str | None, message_file: Path | None
    ) -> list[str]:
        """``claude -p --output-format stream-json --verbose`` with the role's permissions."""
        argv = ["-p", "--output-format", "stream-json", "--verbose"]
        if role in EDITING_ROLES:
            argv += ["--permission-mode", "acceptEdits", "--allowedTools", self.EDIT_TOOLS]
            argv += ["--disallowedTools", self.NEVER]
        else:
            argv += ["--permission-mode", "default", "--allowedTools", self.READ_TOOLS]
            argv += ["--disallowedTools", f"{self.READ_NEVER},{self.NEVER}"]
        if self.model:
            argv += ["--model", self.model]
        if resume:
            argv += ["--resume", resume]
        return argv + self.args

    def line(self, text: str, transcript: Transcript) -> None:
        """system/init → session; assistant tool_use → activity; result → the answer."""
        event = _json_line(text)
        if event is None:
            return
        kind = event.get("type")
        if kind == "system" and event.get("subtype") == "init":
            transcript.session(event.get("session_id"))
            if isinstance(event.get("model"), str):
                transcript.reply.model = event["model"]
        elif kind == "assistant":
            message = event.get("message") or {}
            for block in message.get("content") or []:
                if isinstance(block, dict) and block.get("type") == "tool_use":
                    self._tool(block, transcript)
        elif kind == "result":
            transcript.finished = True
            transcript.session(event.get("session_id"))
            transcript.result = event

    def _tool(self, block: dict[str, Any], transcript: Transcript) -> None:
        name = str(block.get("name", "tool"))
        tool_input = _dict(block.get("input"))
        if name in self.FILE_TOOLS:
            transcript.act(
                "edit", str(tool_input.get("file_path") or tool_input.get("notebook_path") or "")
            )
        elif name == "Bash":
            transcript.act("command", str(tool_input.get("command", "")))
        else:
            target = (
                tool_input.get("file_path")
                or tool_input.get("pattern")
                or tool_input.get("path")
                or ""
            )
            transcript.act("tool", f"{name} {target}".strip())

    def finish(self, role: str, returncode: int, stderr: str, transcript: Transcript) -> AgentReply:
        """Read the ``result`` event: ``is_error`` fails the step with Claude Code's message."""
        result = transcript.result
        if result is None:
            if returncode != 0:
                raise self._exit_failure(role, returncode, stderr, transcript)
            raise self._malformed(role, "Claude Code stream-json (no result event)", transcript)
        if result.get("is_error") or result.get("subtype") != "success":
            message = (
                result.get("result")
                or "; ".join(map(str, result.get("errors") or []))
                or str(result.get("subtype"))
            )
            raise self._failed(role, str(message))
        usage = _dict(result.get("usage"))
        cost = result.get("total_cost_usd")
        reply = transcript.reply
        return AgentReply(
            answer=str(result.get("result") or "").rstrip("\n"),
            session_id=reply.session_id,
            model=reply.model,
            turns=_int(result.get("num_turns")) or None,
            input_tokens=_int(usage.get("input_tokens"))
            + _int(usage.get("cache_creation_input_tokens")),
            output_tokens=_int(usage.get("output_tokens")),
            cached_tokens=_int(usage.get("cache_read_input_tokens")),
            cost_usd=float(cost)
            if isinstance(cost, int | float) and not isinstance(cost, bool)
            else None,
        )


# ----------------------------------------------------------------------------- Codex CLI


class CodexPreset(CliPreset):
    """Codex CLI non-interactive mode with JSONL events (``codex exec --json``)."""

    name = "codex"
    program = "codex"
    install = "npm install -g @openai/codex, then `codex login`"
    resumable = True

    def command(
        self, role: str, cwd: Path, resume: str | None, message_file: Path | None
    ) -> list[str]:
        """``codex exec --json --sandbox workspace-write|read-only ... -`` (prompt on stdin)."""
        sandbox = "workspace-write" if role in EDITING_ROLES else "read-only"
        argv = ["exec", "--json", "--sandbox", sandbox, "--skip-git-repo-check", "--cd", str(cwd)]
        if self.model:
            argv += ["--model", self.model]
        argv += self.args
        if resume:
            argv += ["resume", resume]
        return [*argv, "-"]

    def line(self, text: str, transcript: Transcript) -> None:
        """thread.started → session; items → activity and answer; turn.* → usage or failure."""
        event = _json_line(text)
        if event is None:
            return
        kind = event.get("type")
        reply = transcript.reply
        if kind == "thread.started":
            transcript.session(event.get("thread_id"))
        elif kind in ("item.started", "item.completed"):
            item = _dict(event.get("item"))
            self._item(kind, item, transcript)
        elif kind == "turn.completed":
            usage = _dict(event.get("usage"))
            cached = _int(usage.get("cached_input_tokens"))
            reply.input_tokens += max(0, _int(usage.get("input_tokens")) - cached)
            reply.cached_tokens += cached
            reply.output_tokens += _int(usage.get("output_tokens"))
            reply.turns = (reply.turns or 0) + 1
            transcript.finished = True
        elif kind == "turn.failed":
            error = _dict(event.get("error"))
            transcript.error = str(error.get("message") or "turn failed")
        elif kind == "error":
            transcript.error = str(event.get("message") or "error")

    def _item(self, kind: str, item: dict[str, Any], transcript: Transcript) -> None:
        item_type = item.get("type")
        if item_type == "command_execution" and kind == "item.started":
            transcript.act("command", str(item.get("command", "")))
        elif item_type == "file_change" and kind == "item.completed":
            for change in item.get("changes") or []:
                if isinstance(change, dict):
                    transcript.act(
                        "edit", f"{change.get('kind', 'update')} {change.get('path', '')}"
                    )
        elif item_type == "mcp_tool_call" and kind == "item.started":
            transcript.act("tool", f"{item.get('server', '')}.{item.get('tool', '')}")
        elif item_type == "web_search" and kind == "item.started":
            transcript.act("tool", f"web search {item.get('query', '')}")
        elif item_type == "agent_message" and kind == "item.completed":
            transcript.reply.answer = str(item.get("text", ""))

    def finish(self, role: str, returncode: int, stderr: str, transcript: Transcript) -> AgentReply:
        """A turn.failed or error event fails the step with Codex's own message."""
        if transcript.error is not None:
            raise self._failed(role, transcript.error)
        if returncode != 0:
            raise self._exit_failure(role, returncode, stderr, transcript)
        if not transcript.finished:
            raise self._malformed(role, "Codex JSONL events (no turn.completed)", transcript)
        reply = transcript.reply
        reply.answer = reply.answer.rstrip("\n")
        return reply


# ----------------------------------------------------------------------------- Gemini CLI


class GeminiPreset(CliPreset):
    """Gemini CLI headless mode with one JSON result (``gemini --output-format json``)."""

    name = "gemini"
    program = "gemini"
    install = "npm install -g @google/gemini-cli, then run `gemini` once to sign in"
    # the prompt arrives on stdin; -p makes the run headless and is appended to it
    HEADLESS_PROMPT = "Do the task described above."
    # the JSON document spans many lines: keep all of it
    keep_lines = 100_000

    def command(
        self, role: str, cwd: Path, resume: str | None, message_file: Path | None
    ) -> list[str]:
        """``gemini --output-format json --approval-mode auto_edit|default -p ...``."""
        mode = "auto_edit" if role in EDITING_ROLES else "default"
        argv = ["--output-format", "json", "--approval-mode", mode]
        if self.model:
            argv += ["--model", self.model]
        return argv + self.args + ["--prompt", self.HEADLESS_PROMPT]

    def finish(self, role: str, returncode: int, stderr: str, transcript: Transcript) -> AgentReply:
        """Read ``response``, ``stats.models.*.tokens`` and ``error``."""
        text = "\n".join(transcript.lines)
        result = _json_line(text[text.find("{") :]) if "{" in text else None
        if result is not None and isinstance(result.get("error"), dict):
            raise self._failed(role, str(result["error"].get("message") or result["error"]))
        if returncode != 0:
            raise self._exit_failure(role, returncode, stderr, transcript)
        if result is None or not isinstance(result.get("response"), str):
            raise self._malformed(role, "Gemini CLI JSON (no response)", transcript)
        reply = AgentReply(answer=result["response"].rstrip("\n"))
        if isinstance(result.get("session_id"), str):
            reply.session_id = result["session_id"]
        stats = _dict(result.get("stats"))
        models = _dict(stats.get("models"))
        busiest = 0
        for name, model_stats in models.items():
            tokens = (model_stats or {}).get("tokens") or {}
            cached = _int(tokens.get("cached"))
            reply.input_tokens += max(0, _int(tokens.get("prompt")) - cached)
            reply.cached_tokens += cached
            reply.output_tokens += _int(tokens.get("candidates")) + _int(tokens.get("thoughts"))
            if _int(tokens.get("total")) >= busiest:
                busiest, reply.model = _int(tokens.get("total")), name
        return reply


# ----------------------------------------------------------------------------- aider


class AiderPreset(CliPreset):
    """aider scripted with one message (``aider --message-file``); plain text output."""

    name = "aider"
    program = "aider"
    install = "python -m pip install aider-install && aider-install (then set your model's API key)"
    TOKENS = re.compile(
        r"^Tokens: ([\d.]+)(k?) sent, ([\d.]+)(k?) received\."
        r"(?: Cost: \$([\d.]+) message, \$([\d.]+) session\.)?"
    )
    APPLIED = re.compile(r"^Applied edit to (.+)$")
    MODEL = re.compile(r"^(?:Main )?[Mm]odel: (\S+)")
    # the whole stdout is the answer
    keep_lines = 100_000

    def command(
        self, role: str, cwd: Path, resume: str | None, message_file: Path | None
    ) -> list[str]:
        """``aider --message-file F --yes-always --no-auto-commits --no-pretty --no-stream``."""
        argv = ["--message-file", str(message_file), "--yes-always", "--no-auto-commits"]
        argv += ["--no-pretty", "--no-stream", "--no-check-update"]
        if role not in EDITING_ROLES:
            argv += ["--chat-mode", "ask"]
        if self.model:
            argv += ["--model", self.model]
        return argv + self.args

    def stdin(self, prompt: str) -> bytes | None:
        """Nothing: the message is in the file."""
        return None

    @contextlib.contextmanager
    def _message_file(self, prompt: str) -> Iterator[Path | None]:
        with tempfile.TemporaryDirectory(prefix="maverick-aider-") as directory:
            path = Path(directory) / "message.md"
            path.write_text(prompt, encoding="utf-8")
            yield path

    def line(self, text: str, transcript: Transcript) -> None:
        """``Applied edit to F`` → activity; ``Tokens: ... Cost: ...`` → usage."""
        reply = transcript.reply
        if match := self.APPLIED.match(text):
            transcript.act("edit", match.group(1))
        elif match := self.TOKENS.match(text):
            sent, sent_k, received, received_k, _, session = match.groups()
            reply.input_tokens += int(float(sent) * (1000 if sent_k else 1))
            reply.output_tokens += int(float(received) * (1000 if received_k else 1))
            if session is not None:
                reply.cost_usd = float(session)
            reply.turns = (reply.turns or 0) + 1
        elif (match := self.MODEL.match(text)) and reply.model is None:
            reply.model = match.group(1)

    def finish(self, role: str, returncode: int, stderr: str, transcript: Transcript) -> AgentReply:
        """The whole stdout is the answer; a non-zero exit fails with aider's message."""
        if returncode != 0:
            raise self._exit_failure(role, returncode, stderr, transcript)
        reply = transcript.reply
        reply.answer = "\n".join(transcript.lines)
        return reply


PRESETS: tuple[type[CliPreset], ...] = (ClaudePreset, CodexPreset, GeminiPreset, AiderPreset)


# ----------------------------------------------------------------------------- prices


def price_of(prices: Any, model: str | None, reply: AgentReply) -> float | None:
    """The cost of ``reply`` by ``agents.prices`` (USD per million tokens), if it has the model.

    ``prices: {gpt-5-codex: {input: 1.25, output: 10, cached: 0.125}}``; ``cached``
    defaults to ``input``.
    """
    if model is None or not isinstance(prices, dict) or not isinstance(prices.get(model), dict):
        return None
    entry = prices[model]
    try:
        per_input = float(entry.get("input", 0))
        per_output = float(entry.get("output", 0))
        per_cached = float(entry.get("cached", per_input))
    except (TypeError, ValueError):
        raise StepFailed(
            f"maverick.yaml: agents.prices.{model} must give numbers (USD per million tokens) "
            "for input, output and cached"
        ) from None
    total = (
        reply.input_tokens * per_input
        + reply.output_tokens * per_output
        + reply.cached_tokens * per_cached
    )
    return round(total / 1_000_000, 6)
