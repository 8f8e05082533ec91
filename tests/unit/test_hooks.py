"""Hook-level specifications: when each hook is called, with what, in which order."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from maverick_core import hookimpl
from maverick_core.engine.errors import ResumeRefused, StepFailed
from maverick_core.engine.pluginmanager import make_plugin_manager

SIMPLE = """
version: "1.0"
name: simple
steps:
  - name: first
    type: shell
    command: echo one
  - name: maybe
    type: shell
    when: ${{ false }}
    command: echo never
  - name: second
    type: shell
    command: echo "${{ steps.first.output.stdout }} two"
outputs:
  said: ${{ steps.second.output.stdout }}
"""

LOOP = """
version: "1.0"
name: looping
steps:
  - name: each
    type: loop
    for_each: [a, b, c]
    steps:
      - name: work
        type: shell
        command: echo "${{ index }}-${{ item }}"
      - name: mark
        type: checkpoint
        checkpoint_id: item_${{ index }}
"""

FAILING = """
version: "1.0"
name: failing
steps:
  - name: ok
    type: shell
    command: "true"
  - name: boom
    type: shell
    command: echo broken >&2; exit 3
  - name: never
    type: shell
    command: echo never
"""


def test_workflow_start_and_workflow_finish_bracket_every_step(
    write_workflow, run_in_process, recorder
):
    result = run_in_process(write_workflow(SIMPLE), objects=(recorder,))
    names = recorder.names()
    assert names[0] == "workflow_start"
    assert names[-1] == "workflow_finish"
    assert result.status == "completed"
    assert recorder.calls[-1][1]["outputs"] == {"said": "one two"}


def test_before_step_and_after_step_pair_up_in_order(write_workflow, run_in_process, recorder):
    run_in_process(write_workflow(SIMPLE), objects=(recorder,))
    steps = [(n, a["path"]) for n, a in recorder.calls if n in ("before_step", "after_step")]
    assert steps == [
        ("before_step", "first"),
        ("after_step", "first"),
        ("before_step", "second"),
        ("after_step", "second"),
    ]


def test_after_step_receives_the_plain_output(write_workflow, run_in_process, recorder):
    run_in_process(write_workflow(SIMPLE), objects=(recorder,))
    first = next(a for n, a in recorder.calls if n == "after_step" and a["path"] == "first")
    assert first["output"] == {"stdout": "one", "stderr": "", "returncode": 0}
    assert first["status"] == "completed"


def test_skipped_step_gets_on_step_skipped_and_no_before_step(
    write_workflow, run_in_process, recorder
):
    run_in_process(write_workflow(SIMPLE), objects=(recorder,))
    assert recorder.paths("on_step_skipped") == ["maybe"]
    assert "maybe" not in recorder.paths("before_step")
    assert "maybe" not in recorder.paths("after_step")


def test_on_step_error_precedes_after_step_and_on_workflow_error(
    write_workflow, run_in_process, recorder
):
    result = run_in_process(write_workflow(FAILING), objects=(recorder,))
    assert result.status == "failed"
    order = [
        n
        for n in recorder.names()
        if n in ("on_step_error", "after_step", "on_workflow_error", "workflow_finish")
    ]
    assert order == [
        "after_step",
        "on_step_error",
        "after_step",
        "on_workflow_error",
        "workflow_finish",
    ]
    failed = [a for n, a in recorder.calls if n == "after_step" and a["status"] == "failed"]
    assert failed[0]["path"] == "boom"
    assert "exited with status 3" in failed[0]["error"] and "broken" in failed[0]["error"]
    assert "never" not in recorder.paths("before_step")


def test_on_loop_start_and_on_iteration_finish_report_each_iteration(
    write_workflow, run_in_process, recorder
):
    run_in_process(write_workflow(LOOP), objects=(recorder,))
    starts = [a for n, a in recorder.calls if n == "on_loop_start"]
    assert starts == [{"path": "each", "total": 3, "done": 0}]
    finished = [(a["index"], a["status"]) for n, a in recorder.calls if n == "on_iteration_finish"]
    assert finished == [(0, "completed"), (1, "completed"), (2, "completed")]
    assert recorder.paths("before_step") == [
        "each",
        "each[0].work",
        "each[0].mark",
        "each[1].work",
        "each[1].mark",
        "each[2].work",
        "each[2].mark",
    ]


def test_after_checkpoint_follows_each_commit(write_workflow, run_in_process, recorder):
    run_in_process(write_workflow(LOOP), objects=(recorder,))
    commits = [(a["checkpoint_id"], a["seq"]) for n, a in recorder.calls if n == "after_checkpoint"]
    assert commits == [("item_0", 1), ("item_1", 2), ("item_2", 3)]


PARALLEL_CHECKPOINTS = """
version: "1.0"
name: group
steps:
  - name: each
    type: loop
    for_each: ${{ range(32) }}
    max_concurrency: 8
    steps:
      - name: work
        type: shell
        command: echo "${{ index }}"
      - name: done
        type: checkpoint
        checkpoint_id: item_${{ index }}
"""


def test_sync_checkpoint_shares_syncs_and_precedes_after_checkpoint(
    write_workflow, run_in_process, monkeypatch
):
    from maverick_core.builtin.filestore import segments

    real_sync = segments.sync_file
    durable: set[int] = set()
    syncs: list[int] = []

    def slow_sync(fd: int) -> None:
        # what is in the journal when a sync starts is durable when it returns
        written = {
            r.seq
            for r in segments.read_records("r", Path("journal"), segments.read_fd(fd))
            if hasattr(r, "seq")
        }
        time.sleep(0.004)  # a slow disk: other iterations commit meanwhile
        real_sync(fd)
        syncs.append(fd)
        durable.update(written)

    reported: list[tuple[int, bool]] = []

    class Reporter:
        @hookimpl
        def after_checkpoint(self, run: Any, checkpoint: Any) -> None:
            reported.append((checkpoint.seq, checkpoint.seq in durable))

    monkeypatch.setattr(segments, "sync_file", slow_sync)
    result = run_in_process(write_workflow(PARALLEL_CHECKPOINTS), objects=(Reporter(),))
    assert result.status == "completed"
    assert sorted(seq for seq, _ in reported) == list(range(1, 33))
    assert all(was_durable for _, was_durable in reported)
    assert len(syncs) < 32  # concurrent commits shared syncs


def test_sync_checkpoint_failure_fails_the_checkpoint_and_is_never_reported(
    write_workflow, run_in_process, recorder
):
    class FailingSync:
        @hookimpl(tryfirst=True)
        def sync_checkpoint(self, run: Any, checkpoint: Any) -> Any:
            raise OSError(5, "Input/output error")

    result = run_in_process(write_workflow(LOOP), objects=(FailingSync(), recorder))
    assert result.status == "failed"
    assert "was NOT saved" in (result.error or "")
    assert "Input/output error" in (result.error or "")
    assert not [n for n, _ in recorder.calls if n == "after_checkpoint"]


def test_commit_checkpoint_receives_the_state_with_the_checkpoint_step_in_it(
    write_workflow, run_in_process
):
    seen: list[list[str]] = []

    class Spy:
        @hookimpl(tryfirst=True)
        def commit_checkpoint(self, run: Any, checkpoint_id: str, state: Any) -> None:
            seen.append(sorted(state.done_paths()))

    run_in_process(write_workflow(LOOP), objects=(Spy(),))
    assert seen[0] == ["each[0].mark", "each[0].work"]


def test_collect_checkpoint_data_and_verify_resume_round_trip(
    write_workflow, run_in_process, project
):
    class Pinned:
        name = "pinned"

        def __init__(self, version: str) -> None:
            self.version = version
            self.seen: list[dict[str, Any]] = []

        @hookimpl
        def collect_checkpoint_data(self, run: Any, data: dict[str, Any]) -> None:
            data["pinned"] = {"tool_version": self.version}

        @hookimpl
        def verify_resume(self, run: Any, data: dict[str, Any]) -> str | None:
            self.seen.append(data)
            if data["pinned"]["tool_version"] != self.version:
                raise ResumeRefused(f"tool version changed to {self.version}")
            return None

    path = write_workflow(LOOP + "  - name: boom\n    type: shell\n    command: exit 1\n")
    first = run_in_process(path, objects=(Pinned("1.0"),))
    assert first.status == "failed"
    with pytest.raises(ResumeRefused, match=r"tool version changed to 2\.0"):
        run_in_process(path, objects=(Pinned("2.0"),), resume=True)
    same = Pinned("1.0")
    again = run_in_process(path, objects=(same,), resume=True)
    assert same.seen == [{"pinned": {"tool_version": "1.0"}}]
    assert again.status == "failed"


def test_on_resume_is_called_once_with_the_restored_state_and_restored_steps_get_no_hooks(
    write_workflow, run_in_process, recorder, project
):
    marker = project / "fail-once"
    marker.write_text("x")
    path = write_workflow(
        LOOP
        + f"""  - name: flaky
    type: shell
    command: test ! -e {marker}
"""
    )
    assert run_in_process(path).status == "failed"
    marker.unlink()
    result = run_in_process(path, objects=(recorder,), resume=True)
    assert result.status == "completed"
    resumes = [a for n, a in recorder.calls if n == "on_resume"]
    assert len(resumes) == 1
    assert resumes[0]["from"] == "item_2"
    assert "each[2].mark" in resumes[0]["restored"]
    assert recorder.names().index("on_resume") < recorder.names().index("before_step")
    assert recorder.paths("before_step") == ["each", "flaky"]
    # every iteration was committed (its last step is a checkpoint): all restored, none rerun
    assert [a for n, a in recorder.calls if n == "on_loop_start"] == [
        {"path": "each", "total": 3, "done": 3}
    ]
    assert "on_iteration_finish" not in recorder.names()


def test_open_run_can_be_provided_by_a_plugin(write_workflow, run_in_process):
    from maverick_core.engine.run import Run

    class Opener:
        @hookimpl(tryfirst=True)
        def open_run(self, config: Any, request: Any) -> Any:
            return Run(run_id="custom-id", workflow=request.workflow, inputs={}, config=config)

    result = run_in_process(write_workflow(SIMPLE), objects=(Opener(),))
    assert result.run.run_id == "custom-id"


def test_configure_is_called_once_with_the_project(project):
    from maverick_core.engine.config import make_config

    seen = []

    class Plugin:
        @hookimpl
        def configure(self, config: Any) -> None:
            seen.append(config.root)

    make_config(make_plugin_manager(objects=(Plugin(),), autoload=False), project)
    assert seen == [project.resolve()]


def test_configure_is_historic_so_a_plugin_registered_later_still_gets_it(project):
    from maverick_core.engine.config import make_config
    from maverick_core.engine.pluginmanager import PluginInfo

    seen = []

    class Late:
        @hookimpl
        def configure(self, config: Any) -> None:
            seen.append(config.root)

    pm = make_plugin_manager(autoload=False)
    config = make_config(pm, project)
    pm.add_plugin(Late(), PluginInfo("late", "object", __name__))
    assert seen == [config.root]
    assert "terminalreporter" in pm.infos  # the reporter registers through add_plugin too


def test_run_stash_keeps_typed_plugin_state_between_hooks(write_workflow, run_in_process):
    from maverick_core.api import RESUMABLE, StashKey

    started: StashKey[float] = StashKey("timer.started")
    finished = []

    class Timer:
        @hookimpl
        def workflow_start(self, run: Any) -> None:
            run.stash[started] = 1.5

        @hookimpl
        def workflow_finish(self, run: Any, outcome: Any) -> None:
            finished.append((run.stash[started], run.stash.get(RESUMABLE, False)))

    run_in_process(write_workflow(SIMPLE), objects=(Timer(),))
    assert finished == [(1.5, True)]  # and the checkpoint plugin marked it resumable


def test_on_notice_reaches_plugins(write_workflow, run_in_process, recorder):
    path = write_workflow("""
        version: "1.0"
        name: noisy
        steps:
          - {name: tell, type: python, action: "tests.unit.helpers:tell"}
    """)
    run_in_process(path, objects=(recorder,))
    assert ("on_notice", {"message": "something worth knowing"}) in recorder.calls


def test_register_step_types_adds_a_step_type(write_workflow, run_in_process):
    import attrs

    from maverick_core.engine.dsl.model import Step

    @attrs.frozen(kw_only=True)
    class ShoutStep(Step):
        text: str

    class Shout:
        name = "shout"
        model = ShoutStep

        def run(self, ctx: Any, step: Any) -> str:
            return step.text.upper()

    class Plugin:
        @hookimpl
        def register_step_types(self, register: Any) -> None:
            register(Shout())

    from maverick_core.engine.config import make_config
    from maverick_core.engine.dsl.loader import load_workflow_text
    from maverick_core.engine.executor import Executor
    from maverick_core.engine.run import RunRequest

    pm = make_plugin_manager(objects=(Plugin(),), blocked=("terminal",), autoload=False)
    wf = load_workflow_text(
        'version: "1.0"\nname: s\nsteps:\n  - {name: a, type: shout, text: hi}\n'
        "outputs: {x: '${{ steps.a.output }}'}\n",
        "s.yaml",
        pm.registries.step_models(),
    )
    config = make_config(pm, write_workflow("x: 1\n", "unused.yaml").parent)
    run = pm.hook.open_run(config=config, request=RunRequest(workflow=wf, inputs={}))
    assert Executor(run).execute().outputs == {"x": "HI"}


def test_register_actions_names_a_python_action(write_workflow, run_in_process):
    class Plugin:
        @hookimpl
        def register_actions(self, register: Any) -> None:
            register("double", lambda value: value * 2)

    path = write_workflow("""
        version: "1.0"
        name: act
        steps:
          - {name: d, type: python, action: double, kwargs: {value: 21}}
        outputs: {answer: "${{ steps.d.output }}"}
    """)
    assert run_in_process(path, objects=(Plugin(),)).outputs == {"answer": 42}


def test_register_agents_fills_the_agent_registry():
    class Plugin:
        @hookimpl
        def register_agents(self, register: Any) -> None:
            register("echo", lambda config: None)

    pm = make_plugin_manager(objects=(Plugin(),), autoload=False)
    assert "echo" in pm.registries.agents


def test_register_actions_of_a_later_plugin_override_a_built_in_and_name_their_plugin():
    class Plugin:
        name = "override"

        @hookimpl
        def register_actions(self, register: Any) -> None:
            register("git.push", print)

    pm = make_plugin_manager(objects=(Plugin(),), autoload=False)
    assert pm.registries.actions["git.push"].plugin == "override"
    assert pm.registries.actions["git.checkout"].plugin == "devflow"
    assert pm.registries.collected() == ["actions"]


def test_register_actions_goes_through_pluggy_so_a_wrapper_wraps_every_plugin():
    wrapped: list[str] = []

    class Extra:
        name = "extra"

        @hookimpl
        def register_actions(self, register: Any) -> None:
            register("extra.noop", print)

    class Tracer:
        @hookimpl(wrapper=True)
        def register_actions(self, register: Any) -> Any:
            result = yield
            wrapped.append("call")
            return result

    pm = make_plugin_manager(objects=(Extra(), Tracer()), autoload=False)
    assert {"extra.noop", "git.push"} <= set(pm.registries.actions)
    assert wrapped == ["call", "call"]  # devflow's registrations and extra's


class Slugs:
    """A plugin adding ``slug(text)`` to expressions."""

    name = "slugs"

    @hookimpl
    def register_expression_functions(self, register: Any) -> None:
        def slug(text: str, separator: str = "-") -> str:
            """Lower-case words joined by ``separator``."""
            return separator.join(text.lower().split())

        register("slug", slug)


def test_register_expression_functions_adds_a_function_workflows_call(
    write_workflow, run_in_process
):
    path = write_workflow("""
        version: "1.0"
        name: slugged
        inputs: {title: {type: string, default: Fix The Parser}}
        steps:
          - {name: s, type: shell, command: "echo ${{ slug(inputs.title) }}"}
        outputs:
          branch: ${{ steps.s.output.stdout }}
          joined: ${{ slug('A B', '_') }}
    """)
    result = run_in_process(path, objects=(Slugs(),))
    assert result.outputs == {"branch": "fix-the-parser", "joined": "a_b"}


def test_register_expression_functions_keeps_the_sandbox_rules(write_workflow, project):
    from maverick_core.engine.config import make_config
    from maverick_core.engine.discovery import load_named_workflow
    from maverick_core.engine.errors import DefinitionErrors, PluginError

    pm = make_plugin_manager(objects=(Slugs(),), blocked=("terminal",), autoload=False)
    config = make_config(pm, project)
    wrong = write_workflow("""
        version: "1.0"
        name: wrong
        steps:
          - {name: s, type: shell, command: "echo ${{ slug() }} ${{ slugg('x') }}"}
    """)
    with pytest.raises(DefinitionErrors) as caught:
        load_named_workflow(config, str(wrong))
    messages = [e.message for e in caught.value.errors]
    assert "slug() takes 1 to 2 arguments (0 given)" in messages[0]
    assert len(messages) == 1  # the first bad expression of a value is reported

    class Clash:
        name = "clash"

        @hookimpl
        def register_expression_functions(self, register: Any) -> None:
            register("length", len)

    clash = make_config(make_plugin_manager(objects=(Clash(),), autoload=False), project)
    with pytest.raises(PluginError, match=r"plugin 'clash': .*would replace the built-in length"):
        load_named_workflow(clash, str(wrong))


def test_an_expression_function_gets_copies_and_must_return_plain_data():
    from maverick_core.engine.dsl.expressions import compile_expression, function_table
    from maverick_core.engine.errors import EvaluationError

    def grab(value: Any) -> Any:
        value.append("changed")  # a copy: the run's data stays as it was
        return {"set": {1, 2}}  # not plain data

    table = function_table({"grab": grab})
    items = ["a"]
    with pytest.raises(EvaluationError, match=r"grab\(\) result is not plain data: set"):
        compile_expression("grab(inputs.items)", functions=table).evaluate(
            {"inputs": {"items": items}}
        )
    assert items == ["a"]


BUDGET_PLUGIN = """
from maverick_core import hookimpl

@hookimpl
def add_run_options(add):
    add("--budget", type=float, help="Stop when agent calls cost more (USD).")

@hookimpl
def configure(config):
    config.stash[SEEN] = config.getoption("budget", "unset")

@hookimpl
def workflow_finish(run, outcome):
    print(f"budget={run.config.getoption('budget')} at configure={run.config.stash[SEEN]}")

from maverick_core.api import StashKey
SEEN = StashKey("budget.seen")
"""


def test_add_run_options_adds_an_option_a_plugin_reads(cli, project, write_workflow):
    (project / "budget_plugin.py").write_text(BUDGET_PLUGIN)
    write_workflow('version: "1.0"\nname: w\nsteps:\n  - {name: a, type: shell, command: "true"}\n')
    env = {"PYTHONPATH": os.pathsep.join([str(project), os.environ.get("PYTHONPATH", "")])}
    given = cli("-p", "budget_plugin", "run", "wf.yaml", "-q", "--budget", "2.5", env=env)
    assert given.returncode == 0, given.stderr
    assert "budget=2.5 at configure=2.5" in given.stdout
    absent = cli("-p", "budget_plugin", "run", "wf.yaml", "-q", env=env)
    assert "budget=None at configure=unset" in absent.stdout
    assert "--budget FLOAT" in cli("-p", "budget_plugin", "fly", "--help", env=env).stdout
    assert cli("run", "wf.yaml", "--budget", "1").returncode == 2  # without the plugin


def test_add_run_options_refuses_an_option_that_is_taken():
    from maverick_core.engine.cli import collect_run_options
    from maverick_core.engine.errors import PluginError

    class Clash:
        name = "clash"

        @hookimpl
        def add_run_options(self, add: Any) -> None:
            add("--store", help="mine")

    with pytest.raises(PluginError, match="plugin 'clash': run option flag --store is already"):
        collect_run_options(make_plugin_manager(objects=(Clash(),), autoload=False))


class Budgets:
    """A plugin declaring the ``budget`` section of maverick.yaml."""

    name = "budgets"

    @hookimpl
    def add_settings(self, add: Any) -> None:
        add("spend", {"type": "object", "properties": {"usd": {"type": "number"}}})


def test_add_settings_declares_a_section_that_is_then_checked(project):
    from maverick_core.engine.config import make_config
    from maverick_core.engine.errors import DefinitionErrors

    (project / "maverick.yaml").write_text("spend: {usd: 2.5}\n")
    pm = make_plugin_manager(objects=(Budgets(),), blocked=("terminal",), autoload=False)
    assert make_config(pm, project).settings["spend"] == {"usd": 2.5}
    (project / "maverick.yaml").write_text("spend: {usd: lots}\n")
    with pytest.raises(DefinitionErrors, match=r"maverick.yaml:1:14: spend.usd: expected a num"):
        make_config(make_plugin_manager(objects=(Budgets(),), autoload=False), project)


def test_add_settings_refuses_a_section_two_plugins_declare(project):
    from maverick_core.engine.config import make_config
    from maverick_core.engine.errors import PluginError

    class Again(Budgets):
        name = "again"

    (project / "maverick.yaml").write_text("project: p\n")
    pm = make_plugin_manager(objects=(Budgets(), Again()), autoload=False)
    with pytest.raises(PluginError, match="section 'spend' is already declared by plugin 'budg"):
        make_config(pm, project)


def test_register_stores_and_register_serializers_select_by_scheme_and_name(project):
    from maverick_core.engine.pluginmanager import get_serializer, open_store
    from maverick_core.engine.storage import Project

    class Plugin:
        @hookimpl
        def register_stores(self, register: Any) -> None:
            register("memory", lambda url, project: ("memory-store", url))

        @hookimpl
        def register_serializers(self, register: Any) -> None:
            class Upper:
                name = "upper"

                def dumps(self, data: Any) -> bytes:
                    return json.dumps(data).encode()

                def loads(self, data: bytes) -> Any:
                    return json.loads(data)

            register(Upper())

    pm = make_plugin_manager(objects=(Plugin(),), autoload=False)
    assert open_store(pm, "memory://x", Project(project, "p")) == ("memory-store", "memory://x")
    assert get_serializer(pm, "upper").name == "upper"


def test_register_workflow_sources_adds_a_directory_by_precedence(project, tmp_path):
    from maverick_core.engine.config import make_config
    from maverick_core.engine.discovery import find_workflow

    shared = tmp_path / "shared-workflows"
    shared.mkdir()
    (shared / "team.yaml").write_text('version: "1.0"\nname: team\nsteps: []\n')

    class Plugin:
        @hookimpl
        def register_workflow_sources(self, register: Any, config: Any) -> None:
            register("team", shared, 30)

    config = make_config(make_plugin_manager(objects=(Plugin(),), autoload=False), project)
    assert find_workflow(config, "team") == shared / "team.yaml"


def test_register_commands_adds_a_cli_command():
    from maverick_core.engine.cli import CliState, build_cli

    class Plugin:
        @hookimpl
        def register_commands(self, cli: click.Group) -> None:
            @cli.command("hello-plugin")
            def hello() -> None:
                click.echo("hello from a plugin")

    pm = make_plugin_manager(objects=(Plugin(),), autoload=False)
    group = build_cli(pm)
    result = CliRunner().invoke(group, ["hello-plugin"], obj=CliState(pm, None))
    assert result.output == "hello from a plugin\n"


def test_every_hookspec_has_a_test_and_a_docs_entry():
    import ast

    from maverick_core import hookspecs

    specs = [n for n in dir(hookspecs) if hasattr(getattr(hookspecs, n), "maverick_spec")]
    assert len(specs) >= 20
    test_names = [
        node.name
        for file in Path(__file__).resolve().parents[1].rglob("test_*.py")
        for node in ast.walk(ast.parse(file.read_text()))
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    ]
    docs = (Path(__file__).resolve().parents[2] / "docs" / "hooks.md").read_text()
    untested = [n for n in specs if not any(n in name for name in test_names)]
    undocumented = [n for n in specs if f"### `{n}`" not in docs]
    assert not untested, f"hooks without a test named after them: {untested}"
    assert not undocumented, f"hooks missing from docs/hooks.md: {undocumented}"


def test_register_providers_makes_a_provider_selectable_in_maverick_yaml(project):
    from maverick_core.devflow.providers import provider_name
    from maverick_core.engine.config import make_config

    class Plugin:
        @hookimpl
        def register_providers(self, register: Any) -> None:
            register("gitlab", lambda config, runner: ("gitlab", config.root))

    (project / "maverick.yaml").write_text("provider: gitlab\n")
    pm = make_plugin_manager(objects=(Plugin(),), autoload=False)
    config = make_config(pm, project)
    assert provider_name(config) == "gitlab"
    assert set(pm.registries.providers) == {"github", "local", "gitlab"}
    assert pm.registries.providers["gitlab"].value(config, None) == ("gitlab", project.resolve())


def test_a_failed_checkpoint_write_fails_the_run_and_is_never_reported_saved(
    write_workflow, run_in_process, recorder, tmp_path
):
    from maverick_core.builtin.filestore.store import FileStore
    from maverick_core.engine.errors import StoreError

    class FullDisk(FileStore):
        def append_checkpoint(self, record: Any) -> None:
            if record.seq == 2:
                raise StoreError("No space left on device")
            super().append_checkpoint(record)

    class Plugin:
        @hookimpl
        def register_stores(self, register: Any) -> None:
            register("fulldisk", lambda url, project: FullDisk(tmp_path / "state"))

    result = run_in_process(
        write_workflow(LOOP), objects=(Plugin(), recorder), options={"store": "fulldisk:"}
    )
    assert result.status == "failed"
    assert result.error == (
        "step 'each[1].mark' failed: checkpoint 'item_1' was NOT saved: No space left on device"
    )
    saved = [a["checkpoint_id"] for n, a in recorder.calls if n == "after_checkpoint"]
    assert saved == ["item_0"]
    assert "each[2].work" not in recorder.paths("before_step")


def test_run_step_wrapper_sees_every_step_output_and_may_change_it(
    write_workflow, run_in_process, recorder
):
    seen: list[tuple[str, Any]] = []

    class Shouter:
        @hookimpl(wrapper=True)
        def run_step(self, run: Any, step: Any, path: str, ctx: Any) -> Any:
            output = yield
            seen.append((path, output))
            if step.name == "second":
                return {**output, "stdout": output["stdout"].upper()}
            return output

    result = run_in_process(write_workflow(SIMPLE), objects=(Shouter(), recorder))
    assert [path for path, _ in seen] == ["first", "second"]
    assert seen[0][1]["stdout"] == "one"
    assert result.outputs == {"said": "ONE TWO"}
    # before_step / after_step still bracket the wrapped call once per step
    assert recorder.paths("before_step") == ["first", "second"]
    assert recorder.paths("after_step") == ["first", "second"]


def test_run_step_wrapper_receives_the_step_failure_and_may_recover_it(
    write_workflow, run_in_process
):
    caught: list[tuple[str, str, int | None]] = []

    class Forgiving:
        @hookimpl(wrapper=True)
        def run_step(self, run: Any, step: Any, path: str, ctx: Any) -> Any:
            try:
                return (yield)
            except StepFailed as exc:
                caught.append((path, exc.message.splitlines()[0], exc.exit_code))
                return {"forgiven": True}

    result = run_in_process(write_workflow(FAILING), objects=(Forgiving(),))
    assert result.status == "completed"
    assert caught == [("boom", "command exited with status 3: broken", 3)]
    assert result.run.state.get("boom").output == {"forgiven": True}
    assert result.run.state.get("never").status == "completed"


def test_run_step_wrapper_that_raises_fails_the_step_with_its_error(write_workflow, run_in_process):
    class Gate:
        @hookimpl(wrapper=True)
        def run_step(self, run: Any, step: Any, path: str, ctx: Any) -> Any:
            if step.name == "second":
                raise StepFailed("refused by the gate")
            return (yield)

    result = run_in_process(write_workflow(SIMPLE), objects=(Gate(),))
    assert result.status == "failed"
    assert result.error == "step 'second' failed: refused by the gate"
    assert result.run.state.get("first").status == "completed"


def test_run_step_implementation_may_replace_how_a_step_runs(write_workflow, run_in_process):
    class DryRun:
        @hookimpl
        def run_step(self, run: Any, step: Any, path: str, ctx: Any) -> Any:
            if step.type == "shell":
                return {"stdout": f"dry:{step.name}", "stderr": "", "returncode": 0}
            return None

    result = run_in_process(write_workflow(SIMPLE), objects=(DryRun(),))
    assert result.outputs == {"said": "dry:second"}


def test_run_step_call_again_runs_the_step_once_more_through_the_other_wrappers(
    write_workflow, run_in_process, project
):
    counter = project / "count.txt"
    path = write_workflow(f"""
        version: "1.0"
        name: again
        steps:
          - name: flaky
            type: shell
            command: echo x >> {counter}; test $(wc -l < {counter}) -ge 2
    """)
    inner_calls: list[str] = []

    class Again:
        name = "again"

        @hookimpl(wrapper=True, tryfirst=True)
        def run_step(self, run: Any, step: Any, path: str, ctx: Any) -> Any:
            try:
                return (yield)
            except StepFailed:
                return ctx.call_again(skip="again")

    class Counting:
        @hookimpl(wrapper=True)
        def run_step(self, run: Any, step: Any, path: str, ctx: Any) -> Any:
            inner_calls.append(path)
            return (yield)

    result = run_in_process(path, objects=(Again(), Counting()))
    assert result.status == "completed"
    assert counter.read_text() == "x\nx\n"
    assert inner_calls == ["flaky", "flaky"]


def test_step_context_offers_interrupt_and_keeps_the_executor_private(
    write_workflow, run_in_process
):
    class Stopper:
        @hookimpl
        def register_actions(self, register: Any) -> None:
            def stop(ctx: Any) -> str:
                assert not hasattr(ctx, "executor")
                ctx.interrupt()
                return "stopped"

            register("stop", stop)

    path = write_workflow("""
        version: "1.0"
        name: stopping
        steps:
          - {name: stop, type: python, action: stop}
          - {name: after, type: shell, command: echo never}
    """)
    result = run_in_process(path, objects=(Stopper(),))
    assert result.status == "interrupted"
    assert result.run.state.get("stop").status == "completed"
    assert result.run.state.get("after") is None


def test_a_checkpoint_id_computed_at_run_time_follows_the_loaders_rule(
    write_workflow, run_in_process
):
    path = write_workflow("""
        version: "1.0"
        name: ids
        inputs:
          where: {type: string, default: ../../etc}
        steps:
          - {name: mark, type: checkpoint, checkpoint_id: "${{ inputs.where }}"}
    """)
    result = run_in_process(path)
    assert result.status == "failed"
    assert result.error == (
        "step 'mark' failed: invalid checkpoint id '../../etc' (letters, digits, '.', '_' "
        "and '-' only, starting with a letter or digit, at most 128 characters)"
    )
