"""Property: a run crashed at any step and resumed ends exactly like an uninterrupted one."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maverick_core import hookimpl
from maverick_core.engine.config import make_config
from maverick_core.engine.dsl.loader import load_workflow_text
from maverick_core.engine.executor import Executor
from maverick_core.engine.pluginmanager import make_plugin_manager
from maverick_core.engine.run import RunRequest


class Crash(BaseException):
    """Stands for the process dying: nothing in the engine catches it."""


class CrashAt:
    """Raise Crash at the N-th after_step."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.seen = 0

    @hookimpl
    def after_step(self) -> None:
        self.seen += 1
        if self.seen == self.at:
            raise Crash()


class CountSteps:
    def __init__(self) -> None:
        self.count = 0

    @hookimpl
    def after_step(self) -> None:
        self.count += 1


def work(name: str, value: str, label: str | None = None) -> str:
    return (
        f"  - {{name: {name}, type: python, action: 'tests.unit.helpers:record', "
        f"kwargs: {{log: '${{{{ inputs.log }}}}', name: '{label or name}', "
        f"value: {value}}}}}\n"
    )


@st.composite
def workflows(draw: Any) -> str:
    lines = []
    previous = "1"
    for counter in range(1, draw(st.integers(1, 6)) + 1):
        kind = draw(st.sampled_from(["work", "work", "checkpoint", "loop"]))
        name = f"s{counter}"
        if kind == "work":
            lines.append(work(name, previous))
            previous = f"'${{{{ steps.{name}.output }}}}'"
        elif kind == "checkpoint":
            lines.append(f"  - {{name: {name}, type: checkpoint}}\n")
        else:
            size = draw(st.integers(0, 4))
            concurrency = draw(st.sampled_from([1, 1, 2, 3]))
            body = work(f"{name}_w", "'${{ item }}'", f"{name}_w_${{{{ index }}}}")
            body = body.replace("  - ", "      - ", 1)
            if draw(st.booleans()):
                body += (
                    f"      - {{name: {name}_c, type: checkpoint, "
                    f"checkpoint_id: '{name}_${{{{ index }}}}'}}\n"
                )
            lines.append(
                f"  - name: {name}\n    type: loop\n    for_each: {list(range(size))}\n"
                f"    max_concurrency: {concurrency}\n    steps:\n{body}"
            )
            if draw(st.booleans()):
                lines.append("    checkpoint: true\n")
    return (
        'version: "1.0"\nname: prop\ninputs:\n  log: {type: string, required: true}\n'
        "steps:\n" + "".join(lines) + "outputs:\n  all: ${{ steps }}\n"
    )


def execute(project: Path, text: str, log: Path, plugin: Any, resume: bool = False) -> Any:
    pm = make_plugin_manager(blocked=("terminal",), objects=(plugin,), autoload=False)
    config = make_config(pm, project)
    workflow = load_workflow_text(text, str(project / "wf.yaml"), pm.registries.step_models())
    request = RunRequest(
        workflow=workflow, inputs={"log": str(log)}, given_inputs=frozenset({"log"}), resume=resume
    )
    run = pm.hook.open_run(config=config, request=request)
    try:
        return Executor(run).execute()
    except Crash:
        from maverick_core.builtin.checkpoint.journal import SESSION

        run.stash[SESSION].store.close()  # the kernel would release the dead process's lock
        return None


def committed_leaves(project: Path) -> list[str]:
    from maverick_core.builtin.checkpoint.journal import load_state
    from maverick_core.builtin.filestore.store import FileStore
    from maverick_core.engine.storage import Project

    pm = make_plugin_manager(blocked=("terminal",), autoload=False)
    config = make_config(pm, project)
    store = FileStore.open("file:", Project(project, "p"))
    try:
        [run] = store.list_runs()
        state = load_state(config, store, run.run_id)
    finally:
        store.close()
    names = []
    for path, record in state.records.items():
        if record.status == "completed" and isinstance(record.output, int):
            # s3[1].s3_w logged itself as s3_w_1; a top-level step as its name
            loop, _, leaf = path.rpartition(".")
            names.append(f"{leaf}_{loop.rsplit('[', 1)[1].rstrip(']')}" if loop else leaf)
    return names


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=workflows(), data=st.data())
def test_resumed_runs_end_equal_to_uninterrupted_ones(text, data):
    with tempfile.TemporaryDirectory() as tmp:
        reference_dir = Path(tmp) / "reference"
        reference_dir.mkdir()
        (reference_dir / "maverick.yaml").write_text("project: p\n")
        counter = CountSteps()
        reference = execute(reference_dir, text, reference_dir / "log", counter)
        assert reference.status == "completed"
        expected_log = (
            Counter((reference_dir / "log").read_text().splitlines())
            if (reference_dir / "log").exists()
            else Counter()
        )

        crash_at = data.draw(st.integers(1, counter.count), label="crash_at")
        project = Path(tmp) / "crashed"
        project.mkdir()
        (project / "maverick.yaml").write_text("project: p\n")
        log = project / "log"
        assert execute(project, text, log, CrashAt(crash_at)) is None
        committed = committed_leaves(project)
        resumed = execute(project, text, log, CountSteps(), resume=True)

        assert resumed.status == "completed"
        assert resumed.outputs == reference.outputs
        got = Counter(log.read_text().splitlines()) if log.exists() else Counter()
        assert set(got) == set(expected_log)
        ran_twice = [name for name in committed if got[name] != 1]
        assert not ran_twice
