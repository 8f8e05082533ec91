"""The ``validate`` step type: stages in order, fixes between attempts, results per attempt."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from maverick_core.devflow.validation import Stage, select_stages

if TYPE_CHECKING:
    from pathlib import Path

Run = Callable[..., Any]

# The fixer stand-in: it records its prompt, then creates ok.flag when it can.
FIXER = """\
import os, pathlib, sys
prompt = sys.stdin.read()
with open("fixer.log", "a") as log:
    log.write(prompt.replace("\\n", " ") + "\\n")
if not os.path.exists("unfixable"):
    pathlib.Path("ok.flag").write_text("fixed")
print("created ok.flag")
"""

VALIDATE = """
version: "1.0"
name: check
steps:
  - name: check
    type: validate
    {extra}
outputs:
  result: ${{{{ steps.check.output }}}}
"""


def configure(project: Path, stages: dict[str, Any], fixer: bool = True) -> None:
    settings: dict[str, Any] = {"project": "t", "validation": {"stages": stages}}
    if fixer:
        (project / "fixer.py").write_text(FIXER)
        settings["agents"] = {"fixer": {"command": [sys.executable, "fixer.py"]}}
    (project / "maverick.yaml").write_text(json.dumps(settings))


def validate(write_workflow: Callable[..., Path], run: Run, extra: str = "") -> Any:
    return run(write_workflow(VALIDATE.format(extra=extra)))


def message(result: Any) -> str:
    return str(result.error).partition(" failed: ")[2]


def test_stages_run_in_the_configured_order(
    project: Path, write_workflow: Callable[..., Path], run_in_process: Run
) -> None:
    configure(project, {"lint": "echo lint >> order", "test": "echo test >> order; echo done"})
    result = validate(write_workflow, run_in_process)
    assert result.status == "completed", result.error
    assert (project / "order").read_text() == "lint\ntest\n"
    output = result.outputs["result"]
    assert output["passed"] is True and output["fixes"] == 0
    assert output["stages"] == ["lint", "test"]
    (attempt,) = output["attempts"]
    assert [(s["name"], s["passed"], s["returncode"]) for s in attempt["stages"]] == [
        ("lint", True, 0),
        ("test", True, 0),
    ]
    assert attempt["stages"][1]["output"] == "done"


def test_a_failing_stage_without_a_fixer_fails_the_step_with_its_output(
    project: Path, write_workflow: Callable[..., Path], run_in_process: Run
) -> None:
    configure(project, {"lint": "echo bad style; exit 3", "test": "touch tested"}, fixer=False)
    result = validate(write_workflow, run_in_process, "fixer: fixer\n    max_attempts: 3")
    assert result.status == "failed"
    assert message(result) == (
        "validation failed after 1 attempt(s): stage 'lint' (echo bad style; exit 3) exited "
        "with status 3; no 'fixer' agent is configured to fix it (add agents.fixer to "
        "maverick.yaml)\nbad style"
    )
    assert not (project / "tested").exists()


def test_the_fixer_gets_the_failing_output_and_validation_runs_again(
    project: Path, write_workflow: Callable[..., Path], run_in_process: Run
) -> None:
    configure(
        project, {"build": "true", "test": "test -f ok.flag || (echo missing ok.flag; exit 1)"}
    )
    extra = "fixer: fixer\n    max_attempts: 3\n    context: {subject: 'Phase 2: Core'}"
    result = validate(write_workflow, run_in_process, extra)
    assert result.status == "completed", result.error
    output = result.outputs["result"]
    assert output["fixes"] == 1
    first, second = output["attempts"]
    assert first["passed"] is False and first["failed_stage"] == "test"
    assert first["fix"] == {"role": "fixer", "answer": "created ok.flag"}
    assert second["passed"] is True and [s["name"] for s in second["stages"]] == ["build", "test"]
    prompt = (project / "fixer.log").read_text()
    assert "Stage `test` ran" in prompt and "missing ok.flag" in prompt
    assert "Work in progress: Phase 2: Core" in prompt and "attempt 1 of 3" in prompt


def test_the_step_fails_when_the_attempts_run_out(
    project: Path, write_workflow: Callable[..., Path], run_in_process: Run
) -> None:
    configure(project, {"test": "test -f ok.flag || (echo still failing; exit 1)"})
    (project / "unfixable").write_text("")
    result = validate(write_workflow, run_in_process, "fixer: fixer\n    max_attempts: 3")
    assert result.status == "failed"
    assert message(result).startswith("validation failed after 3 attempt(s): stage 'test'")
    assert "2 fix attempt(s) by the fixer did not fix it\nstill failing" in message(result)
    assert len((project / "fixer.log").read_text().splitlines()) == 2


def test_no_configured_stages_pass_with_a_notice(
    project: Path,
    write_workflow: Callable[..., Path],
    run_in_process: Run,
    recorder: Any,
) -> None:
    configure(project, {}, fixer=False)
    result = run_in_process(write_workflow(VALIDATE.format(extra="")), objects=(recorder,))
    assert result.status == "completed", result.error
    assert result.outputs["result"] == {"passed": True, "attempts": [], "fixes": 0, "stages": []}
    notices = [args["message"] for name, args in recorder.calls if name == "on_notice"]
    assert any("add validation.stages to maverick.yaml" in n for n in notices)


def test_a_step_may_run_a_subset_of_the_stages(
    project: Path, write_workflow: Callable[..., Path], run_in_process: Run
) -> None:
    configure(project, {"a": "echo a >> order", "b": "echo b >> order"}, fixer=False)
    result = validate(write_workflow, run_in_process, "stages: [b]")
    assert result.status == "completed", result.error
    assert (project / "order").read_text() == "b\n"
    unknown = validate(write_workflow, run_in_process, "stages: [c]")
    assert message(unknown) == "unknown validation stage 'c' (validation.stages: a, b)"


def test_a_stage_that_runs_too_long_fails(
    project: Path, write_workflow: Callable[..., Path], run_in_process: Run
) -> None:
    configure(project, {"slow": {"command": "echo started; sleep 30", "timeout": 0.3}}, fixer=False)
    result = validate(write_workflow, run_in_process)
    assert result.status == "failed"
    assert "stage 'slow' (echo started; sleep 30) timed out" in message(result)
    assert message(result).endswith("started\n(timed out after 0.3s)")


def test_stage_settings_keep_their_order_and_timeouts(project: Path) -> None:
    from maverick_core.engine.config import make_config
    from maverick_core.engine.pluginmanager import make_plugin_manager

    configure(project, {"z": "true", "a": {"command": "false", "timeout": 5}}, fixer=False)
    config = make_config(make_plugin_manager(blocked=("terminal",), autoload=False), project)
    assert select_stages(config, None, 60.0) == [Stage("z", "true", 60.0), Stage("a", "false", 5.0)]
