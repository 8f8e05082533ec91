"""The ``agent`` step type, the ``command`` backend, roles and prompt templates."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from maverick_core.devflow.agents import fill_template, missing_roles_message, template_text
from maverick_core.devflow.tasks import parse_tasks
from maverick_core.engine.errors import StepFailed

ECHO_AGENT = """\
import json, os, sys
prompt = sys.stdin.read()
print(json.dumps({
    "prompt": prompt,
    "role": os.environ["MAVERICK_AGENT"],
    "run_id": os.environ["MAVERICK_RUN_ID"],
    "step": os.environ["MAVERICK_STEP"],
    "cwd": os.getcwd(),
}))
"""

ASK = """
version: "1.0"
name: ask
steps:
  - name: ask
    type: agent
    role: {role}
    {extra}
outputs:
  answer: ${{{{ steps.ask.output.answer }}}}
  backend: ${{{{ steps.ask.output.backend }}}}
  source: ${{{{ steps.ask.output.source }}}}
"""

Run = Callable[..., Any]


def configure(project: Path, agents: dict[str, Any]) -> None:
    (project / "maverick.yaml").write_text(json.dumps({"project": "t", "agents": agents}))


def agent(project: Path, code: str, **settings: Any) -> dict[str, Any]:
    """Settings of a ``command`` agent running ``code`` with this Python."""
    script = project / f"agent_{abs(hash(code))}.py"
    script.write_text(code)
    return {"command": [sys.executable, str(script)], **settings}


def message(result: Any) -> str:
    """The step's failure message (the outcome names the step first)."""
    prefix, _, rest = result.error.partition(" failed: ")
    assert prefix.startswith("step '"), result.error
    return rest


def ask(write_workflow: Callable[..., Path], run: Run, role: str, extra: str = "") -> Any:
    return run(write_workflow(ASK.format(role=role, extra=extra)))


# ----------------------------------------------------------------------------- templates


def test_placeholders_are_filled_in_one_pass() -> None:
    filled = fill_template("{a} and {b}", {"a": "{b}", "b": "B"})
    assert filled == "{b} and B"


def test_double_braces_are_literal_braces() -> None:
    assert fill_template("{{a}} {a} {{", {"a": 1}) == "{a} 1 {"


def test_data_values_appear_as_yaml_and_none_as_nothing() -> None:
    assert fill_template("{x}|{y}|{z}", {"x": ["a", "b"], "y": None, "z": True}) == (
        "- a\n- b||true"
    )


def test_a_placeholder_without_a_value_fails_naming_the_template() -> None:
    with pytest.raises(StepFailed, match=r"prompt template 'fixer' uses \{stage\} but no value"):
        fill_template("run {stage}", {"output": ""}, "fixer")


def test_the_implementer_prompt_holds_its_phase_title_and_only_its_own_tasks() -> None:
    tasks = (
        "## Phase 1: Setup\n- [ ] T001 one\n## Phase 2: Core\n- [ ] T002 two\n- [ ] T003 three\n"
    )
    phase = parse_tasks(tasks).to_plain("tasks.md")["phases"][1]
    text, _ = template_text(Path("/nonexistent"), "implementer")
    prompt = fill_template(
        text,
        {
            "project_root": "/p",
            "branch": "feat",
            "feature": "F",
            "task_file": "tasks.md",
            "phase_number": phase["number"],
            "phase_title": phase["title"],
            "notes": phase["notes"],
            "tasks": phase["text"],
        },
    )
    assert "## Phase 2: Core" in prompt
    assert "- [ ] T002 two\n- [ ] T003 three" in prompt
    assert "T001" not in prompt and "Setup" not in prompt


def test_a_project_prompt_overrides_the_built_in_one(tmp_path: Path) -> None:
    override = tmp_path / ".maverick" / "prompts" / "reviewer.md"
    override.parent.mkdir(parents=True)
    override.write_text("be brief about {diff}")
    assert template_text(tmp_path, "reviewer") == ("be brief about {diff}", override)
    with pytest.raises(StepFailed, match="invalid prompt template name"):
        template_text(tmp_path, "../secrets")


# ----------------------------------------------------------------------------- roles


def test_the_command_backend_sends_the_prompt_on_stdin_and_returns_stdout(
    project: Path, write_workflow: Callable[..., Path], run_in_process: Run
) -> None:
    configure(project, {"reviewer": agent(project, ECHO_AGENT)})
    result = ask(write_workflow, run_in_process, "reviewer", 'prompt: "look at {step} $(rm -rf /)"')
    assert result.status == "completed", result.error
    said = json.loads(result.outputs["answer"])
    assert said["prompt"] == "look at ask $(rm -rf /)"
    assert said["role"] == "reviewer" and said["step"] == "ask"
    assert said["run_id"] == result.run.run_id
    assert Path(said["cwd"]) == project
    assert result.outputs["backend"] == "command" and result.outputs["source"] == "agents.reviewer"


def test_a_role_without_an_entry_uses_agents_default(
    project: Path, write_workflow: Callable[..., Path], run_in_process: Run
) -> None:
    configure(project, {"default": agent(project, ECHO_AGENT)})
    result = ask(write_workflow, run_in_process, "fixer", 'prompt: "hi"')
    assert result.status == "completed", result.error
    assert result.outputs["source"] == "agents.default"
    assert json.loads(result.outputs["answer"])["role"] == "fixer"


def test_a_role_with_no_agent_fails_before_running_saying_what_to_add(
    project: Path, write_workflow: Callable[..., Path], run_in_process: Run
) -> None:
    marker = project / "ran"
    configure(project, {"reviewer": agent(project, f"open({str(marker)!r}, 'w')")})
    result = ask(write_workflow, run_in_process, "implementer", 'prompt: "hi"')
    assert result.status == "failed"
    assert message(result) == (
        "no agent configured for role 'implementer'. Add to maverick.yaml:\n"
        "  agents:\n"
        "    implementer: {preset: claude, timeout: 1800}\n"
        "(or an 'agents.default' entry that serves every role; presets: claude, codex, "
        "gemini, aider, or {command: [...]}; see docs/agents.md)"
    )
    assert not marker.exists()


def test_agents_require_lists_every_missing_role(
    project: Path, write_workflow: Callable[..., Path], run_in_process: Run
) -> None:
    configure(project, {"reviewer": {"command": ["true"]}})
    path = write_workflow(
        """
        version: "1.0"
        name: check
        steps:
          - name: roles
            type: python
            action: agents.require
            kwargs: {roles: [implementer, reviewer, issue_fixer]}
        """
    )
    result = run_in_process(path)
    assert result.status == "failed"
    assert message(result) == missing_roles_message(["implementer", "issue_fixer"])
    assert "    issue_fixer: {preset: claude, timeout: 1800}" in result.error


def test_a_non_zero_exit_fails_the_step_with_the_stderr_tail(
    project: Path, write_workflow: Callable[..., Path], run_in_process: Run
) -> None:
    code = "import sys\nfor i in range(40):\n    print(f'line {i}', file=sys.stderr)\nsys.exit(4)"
    configure(project, {"fixer": agent(project, code)})
    result = ask(write_workflow, run_in_process, "fixer", 'prompt: "hi"')
    assert result.status == "failed"
    assert message(result).startswith("agent 'fixer' (")
    assert "exited with status 4:\nline 20\n" in result.error
    assert result.error.endswith("line 39") and "line 19" not in result.error


def test_an_agent_that_takes_too_long_is_stopped(
    project: Path, write_workflow: Callable[..., Path], run_in_process: Run
) -> None:
    configure(project, {"fixer": agent(project, "import time; time.sleep(30)", timeout=0.3)})
    result = ask(write_workflow, run_in_process, "fixer", 'prompt: "hi"')
    assert result.status == "failed"
    assert "timed out after 0.3s" in result.error


def test_the_step_timeout_overrides_the_configured_one(
    project: Path, write_workflow: Callable[..., Path], run_in_process: Run
) -> None:
    configure(project, {"fixer": agent(project, "import time; time.sleep(30)")})
    result = ask(write_workflow, run_in_process, "fixer", 'prompt: "hi"\n    timeout: 0.2')
    assert "timed out after 0.2s" in result.error


def test_an_unknown_backend_names_the_installed_ones(
    project: Path, write_workflow: Callable[..., Path], run_in_process: Run
) -> None:
    configure(project, {"fixer": {"backend": "telepathy"}})
    result = ask(write_workflow, run_in_process, "fixer", 'prompt: "hi"')
    installed = "aider, claude, codex, command, gemini"
    assert message(result) == (
        f"agents.fixer: unknown agent backend 'telepathy' (installed: {installed})"
    )


def test_a_template_is_filled_from_the_step_context(
    project: Path, write_workflow: Callable[..., Path], run_in_process: Run
) -> None:
    configure(project, {"default": agent(project, ECHO_AGENT)})
    prompts = project / ".maverick" / "prompts"
    prompts.mkdir(parents=True)
    (prompts / "greeter.md").write_text("hello {name} from {role}")
    extra = "template: greeter\n    context: {name: '${{ run.workflow }}'}"
    result = ask(write_workflow, run_in_process, "greeter", extra)
    assert result.status == "completed", result.error
    assert json.loads(result.outputs["answer"])["prompt"] == "hello ask from greeter"


# ----------------------------------------------------------------------------- commit messages

COMMIT = """
version: "1.0"
name: commit
steps:
  - name: commit
    type: python
    action: devflow.commit
    kwargs: {message: "Phase 1: Setup", marker: "Maverick-Phase: 1"}
outputs:
  commit: ${{ steps.commit.output }}
"""


def git_project(project: Path) -> None:
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "t"],
        ["config", "user.email", "t@example.com"],
        ["add", "-A"],
        ["commit", "-q", "-m", "initial"],
    ):
        subprocess.run(["git", *args], cwd=project, check=True)
    (project / "new.py").write_text("NEW = 1\n")


def last_message(project: Path) -> str:
    return subprocess.run(
        ["git", "log", "-1", "--format=%B"], cwd=project, capture_output=True, text=True
    ).stdout.strip()


def test_a_commit_message_agent_writes_the_commit_message(
    project: Path, write_workflow: Callable[..., Path], run_in_process: Run
) -> None:
    writer = (
        "import sys\nprompt = sys.stdin.read()\nprint('Add NEW' if 'NEW = 1' in prompt else '?')"
    )
    configure(project, {"commit_message": agent(project, writer)})
    path = write_workflow(COMMIT)
    git_project(project)
    result = run_in_process(path)
    assert result.status == "completed", result.error
    assert last_message(project) == "Add NEW\n\nMaverick-Phase: 1"
    assert result.outputs["commit"]["subject"] == "Add NEW"


def test_the_default_agent_writes_commit_messages_unless_writer_is_false(
    project: Path, write_workflow: Callable[..., Path], run_in_process: Run
) -> None:
    configure(project, {"default": agent(project, "print('Written by default')")})
    path = write_workflow(COMMIT)
    git_project(project)
    result = run_in_process(path)
    assert result.status == "completed", result.error
    assert last_message(project) == "Written by default\n\nMaverick-Phase: 1"


def test_a_failing_writer_falls_back_to_the_deterministic_message(
    project: Path, write_workflow: Callable[..., Path], run_in_process: Run
) -> None:
    configure(project, {"writer": agent(project, "import sys; sys.exit(4)")})
    path = write_workflow(COMMIT)
    git_project(project)
    result = run_in_process(path)
    assert result.status == "completed", result.error
    assert last_message(project) == "Phase 1: Setup\n\nMaverick-Phase: 1"


def test_without_a_writer_the_message_is_deterministic(
    project: Path, write_workflow: Callable[..., Path], run_in_process: Run
) -> None:
    configure(project, {"default": agent(project, "print('never asked')"), "writer": False})
    path = write_workflow(COMMIT)
    git_project(project)
    result = run_in_process(path)
    assert result.status == "completed", result.error
    assert last_message(project) == "Phase 1: Setup\n\nMaverick-Phase: 1"
    again = run_in_process(path)  # a resumed run repeating the commit makes no second one
    assert again.outputs["commit"]["created"] is False
    assert again.outputs["commit"]["sha"] == result.outputs["commit"]["sha"]
