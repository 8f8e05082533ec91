"""Startup stays cheap: commands that run no workflow import no expression engine, no devflow,
no msgpack and no psutil; a run imports the step types its workflow uses and no others.

Checked in a real ``python -X importtime`` process running the console entry point on
a real project with a run in its store.
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

HEAVY = ("maverick_core.engine.dsl.expressions", "msgpack", "psutil")
"""Modules a command that runs no workflow must never import."""

GREET = """
version: "1.0"
name: greet
steps:
  - {name: hello, type: shell, command: echo hi}
"""


# an attrs class costs a compile when its module is imported; the child lists the ones
# maverick's modules hold at exit (module-level classes: all there are)
LIST_ATTRS_CLASSES_AT_EXIT = """
import atexit, sys
def report():
    import attrs
    for name, module in sorted(sys.modules.items()):
        if name.startswith("maverick") and module is not None:
            for value in list(vars(module).values()):
                if isinstance(value, type) and value.__module__ == name and attrs.has(value):
                    sys.stderr.write(f"attrs class: {name}.{value.__qualname__}\\n")
atexit.register(report)
from maverick_core.engine.cli import main
sys.argv[0] = "maverick"
main()
"""


def attrs_classes(project: Path, *args: str) -> list[str]:
    """The attrs classes ``maverick ARGS`` built (by module-qualified name)."""
    return [
        line.removeprefix("attrs class: ")
        for line in _child_stderr(project, ["-c", LIST_ATTRS_CLASSES_AT_EXIT], args)
        if line.startswith("attrs class: ")
    ]


def _child_stderr(project: Path, python: list[str], args: tuple[str, ...]) -> list[str]:
    """The stderr lines of ``python PYTHON ARGS`` run in ``project``, which must succeed."""
    result = subprocess.run(
        [sys.executable, *python, *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stderr.splitlines()


# ``-X importtime`` reports ``import`` statements, not ``importlib.import_module`` (how
# plugins and lazy commands are loaded), so the child also lists ``sys.modules`` at exit
LIST_MODULES_AT_EXIT = """
import atexit, sys
atexit.register(lambda: sys.stderr.write("".join(f"module: {m}\\n" for m in sorted(sys.modules))))
from maverick_core.engine.cli import main
sys.argv[0] = "maverick"
main()
"""


def imported_modules(project: Path, *args: str) -> set[str]:
    """The modules ``maverick ARGS`` imports: its ``-X importtime`` report and ``sys.modules``."""
    lines = _child_stderr(project, ["-X", "importtime", "-c", LIST_MODULES_AT_EXIT], args)
    reported = {
        line.rsplit("|", 1)[1].strip()
        for line in lines
        if line.startswith("import time:") and "|" in line
    }
    assert "maverick_core.engine.cli" in reported  # the report is real
    return reported | {
        line.removeprefix("module: ") for line in lines if line.startswith("module: ")
    }


@pytest.mark.parametrize(
    "args", [("--help",), ("runs", "list"), ("plugins",)], ids=["help", "runs-list", "plugins"]
)
def test_commands_that_run_no_workflow_import_no_expression_engine_and_no_devflow(
    cli, write_workflow, project: Path, args: tuple[str, ...]
) -> None:
    write_workflow(GREET, "greet.yaml")
    assert cli("run", "greet.yaml").returncode == 0  # a run in the store to list
    modules = imported_modules(project, *args)
    assert "maverick_core.devflow" in modules  # its hooks module is loaded, cheaply
    heavy = [m for m in modules if m in HEAVY or m.startswith("maverick_core.devflow.")]
    assert heavy == []


ONLY_WHEN_USED = (
    "maverick_core.builtin.flow.types",
    "maverick_core.engine.dsl.composite",
    "maverick_core.builtin.steps.inprocess",
    "maverick_core.engine.dsl.inprocess",
    "maverick_core.builtin.flow.trystep",
    "maverick_core.devflow.agents",
    "maverick_core.devflow.presets",
    "maverick_core.devflow.validation",
    "maverick_msgpack.serializer",
    "msgpack",
    "psutil",
    "hashlib",
    "secrets",
    "cattrs",
    "maverick_core.engine.dsl.expressions",
)
"""Modules a run of one ``shell`` step must not import: other step types (and the composite
and in-process step types' models), msgpack, psutil, OpenSSL's ``hashlib`` (its
digests are small: ``maverick_core.engine.digest``) or ``secrets`` (which imports it),
cattrs (a workflow the models accept as it is takes the loader's short path), and the
expression engine (the workflow holds no ``${{ }}``: ``engine/dsl/render.py``)."""


def test_running_a_shell_step_imports_no_other_step_type_no_msgpack_psutil_or_openssl(
    write_workflow, project: Path
) -> None:
    write_workflow(GREET, "greet.yaml")
    modules = imported_modules(project, "run", "greet.yaml")
    assert "maverick_core.builtin.steps.types" in modules  # the step type that ran
    assert sorted(m for m in modules if m in ONLY_WHEN_USED) == []


def test_a_workflow_and_settings_read_before_are_not_read_through_yaml_again(
    cli, write_workflow, project: Path
) -> None:
    # the parse cache (engine/parsecache.py): the first run reads both through YAML
    write_workflow(GREET, "greet.yaml")
    assert cli("run", "greet.yaml").returncode == 0
    ran = imported_modules(project, "run", "greet.yaml")
    assert "maverick_core.engine.dsl.loader" in ran  # the workflow was loaded
    assert [m for m in ran if m == "yaml" or m.startswith("yaml.")] == []
    assert "yaml" not in imported_modules(project, "runs", "list")


def test_a_workflow_loads_the_step_types_it_uses(write_workflow, project: Path) -> None:
    write_workflow(
        """
        version: "1.0"
        name: looping
        steps:
          - name: each
            type: loop
            for_each: [1, 2]
            steps:
              - {name: hello, type: shell, command: echo hi}
        """,
        "looping.yaml",
    )
    modules = imported_modules(project, "run", "looping.yaml")
    assert "maverick_core.builtin.flow.types" in modules
    assert "maverick_core.engine.dsl.composite" in modules
    assert "maverick_core.devflow.agents" not in modules


def test_a_checkpoint_step_loads_the_in_process_step_types_and_no_composite_one(
    write_workflow, project: Path
) -> None:
    write_workflow(
        """
        version: "1.0"
        name: marking
        steps:
          - {name: hello, type: shell, command: echo hi}
          - {name: mark, type: checkpoint}
        """,
        "marking.yaml",
    )
    modules = imported_modules(project, "run", "marking.yaml")
    assert "maverick_core.builtin.steps.inprocess" in modules
    assert "maverick_core.engine.dsl.inprocess" in modules
    assert "maverick_core.engine.dsl.composite" not in modules


def test_listing_runs_loads_no_checkpointing_code(cli, write_workflow, project: Path) -> None:
    write_workflow(GREET, "greet.yaml")
    assert cli("run", "greet.yaml").returncode == 0
    modules = imported_modules(project, "runs", "list")
    assert "maverick_core.builtin.filestore.store" in modules  # the runs were read
    assert "maverick_core.builtin.checkpoint.journal" not in modules
    assert "maverick_core.engine.run" not in modules  # Status comes from engine.status


def test_asking_for_a_store_collects_no_step_types(project: Path) -> None:
    from maverick_core.engine.pluginmanager import make_plugin_manager, open_store
    from maverick_core.engine.storage import Project

    pm = make_plugin_manager(autoload=False)
    open_store(pm, "file:", Project(project, "p")).close()
    assert pm.registries.collected() == ["stores"]


def test_plugins_lists_hooks_and_only_with_verbose_what_each_provides(cli) -> None:
    plain = cli("plugins").stdout
    assert "    hooks: register_step_types" in plain and "step types:" not in plain
    verbose = cli("plugins", "-v").stdout
    assert "    step types: checkpoint, python, shell" in verbose
    assert "    step types: agent, validate" in verbose
    assert "    settings: agents, budget, github, issues, provider, review, validation" in verbose


def test_help_loads_no_reporter(project: Path) -> None:
    # the terminal plugin's reporters (and the engine modules they need) load only when
    # a command configures a run; --help is the command users time
    assert "maverick_core.builtin.terminal.reporter" not in imported_modules(project, "--help")


def test_help_builds_no_attrs_class_and_runs_list_only_the_store_records_and_query(
    cli, write_workflow, project: Path
) -> None:
    # each attrs class costs a compile at start-up: records every command builds are
    # NamedTuples or plain classes (docs/benchmarks.md, start-up)
    write_workflow(GREET, "greet.yaml")
    assert cli("run", "greet.yaml").returncode == 0
    assert attrs_classes(project, "--help") == []
    listed = attrs_classes(project, "runs", "list")
    assert "maverick_core.engine.storage.RunRecord" in listed  # the report is real
    records = ("maverick_core.engine.storage.", "maverick_core.engine.runquery.")
    assert [name for name in listed if not name.startswith(records)] == []
    # a run lists none: the query and page classes are not built
    ran = attrs_classes(project, "run", "greet.yaml")
    assert [name for name in ran if name.startswith("maverick_core.engine.runquery.")] == []


def test_the_entry_point_leaves_start_up_objects_out_of_the_final_collections(
    project: Path,
) -> None:
    # the interpreter's final collections walked every class, hook and click parameter
    # start-up made: main() collects the garbage there is, then freezes the rest
    probe = """
import atexit, gc, sys
atexit.register(lambda: sys.stderr.write(f"frozen: {gc.get_freeze_count()}\\n"))
from maverick_core.engine.cli import main
sys.argv[0] = "maverick"
main()
"""
    stderr = "\n".join(_child_stderr(project, ["-c", probe], ("--help",)))
    frozen = int(stderr.rsplit("frozen: ", 1)[1].split()[0])
    assert frozen > 10_000


# the child counts the collections that start while the plugins load
COLLECTIONS_WHILE_LOADING = """
import gc, sys
from maverick_core.engine import pluginmanager
load = pluginmanager.make_plugin_manager
def counted(*args, **kwargs):
    started = []
    def note(phase, info):
        if phase == "start":
            started.append(info["generation"])
    gc.callbacks.append(note)
    try:
        return load(*args, **kwargs)
    finally:
        gc.callbacks.remove(note)
        sys.stderr.write(f"collections: {len(started)}\\n")
pluginmanager.make_plugin_manager = counted
from maverick_core.engine.cli import main
sys.argv[0] = "maverick"
main()
"""


def test_no_collection_walks_the_plugins_while_they_load(project: Path) -> None:
    # loading the plugins makes thousands of objects that live until exit: the young
    # collections they set off (about ten, 1-2 ms) found nothing to free
    lines = _child_stderr(project, ["-c", COLLECTIONS_WHILE_LOADING], ("--help",))
    assert "collections: 0" in lines


RESUMABLE = """
version: "1.0"
name: resumable
steps:
  - {name: first, type: shell, command: echo one, checkpoint: true}
  - {name: second, type: shell, command: test -f ready}
"""

# the child names the function that called gc.freeze, each time; any state read counts
# as a large one
FREEZE_CALLERS = """
import gc, sys
import maverick_core.builtin.checkpoint.journal as journal
journal.SETTLE_FROM = 0
freeze = gc.freeze
def noted():
    sys.stderr.write(f"freeze: {sys._getframe(1).f_code.co_name}\\n")
    freeze()
gc.freeze = noted
from maverick_core.engine.cli import main
sys.argv[0] = "maverick"
main()
"""


def test_a_resume_freezes_the_state_it_read_along_with_what_start_up_built(
    write_workflow, project: Path
) -> None:
    # the first young collection after a resume read its state walked every object of
    # it (20,000 and more for a long loop): the state lives as long as the run, as
    # start-up's objects do, so it is frozen with them; a fresh run reads no state
    write_workflow(RESUMABLE, "wf.yaml")

    def freeze_callers(*args: str) -> tuple[int, list[str]]:
        child = subprocess.run(
            [sys.executable, "-c", FREEZE_CALLERS, "run", "wf.yaml", *args],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        lines = child.stderr.splitlines()
        return child.returncode, [line[8:] for line in lines if line.startswith("freeze: ")]

    failed, callers = freeze_callers()
    assert failed != 0 and callers == ["main", "_skip_final_collections"]
    (project / "ready").touch()
    assert freeze_callers("--resume") == (
        0,
        ["main", "_settle_restored_state", "_skip_final_collections"],
    )
