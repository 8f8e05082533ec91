"""The CLI as a user drives it: real subprocesses of the installed ``maverick``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"

GOOD = """
version: "1.0"
name: greet
description: Say hello
inputs:
  who: {type: string, default: world}
  times: {type: integer, default: 1}
  loud: {type: boolean, default: false}
steps:
  - name: say
    type: shell
    command: echo "hello $WHO x${{ inputs.times }}"
    env: {WHO: "${{ inputs.who }}"}
outputs:
  said: ${{ steps.say.output.stdout }}
"""


@pytest.fixture
def good(write_workflow):
    return write_workflow(GOOD, "greet.yaml")


def test_help_lists_core_and_plugin_commands(cli):
    result = cli("--help")
    assert result.returncode == 0
    for command in ("run", "runs", "validate", "schema", "workflows", "plugins"):
        assert f"  {command}" in result.stdout


def test_run_prints_steps_and_exits_zero(cli, good):
    result = cli("run", "greet.yaml", "-i", "who=maverick", "-i", "times=2")
    assert result.returncode == 0, result.stderr
    assert "ok say (shell" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("greet completed in")


def test_run_json_prints_one_event_per_line_with_the_outputs(cli, good):
    result = cli("run", "greet.yaml", "--json", "-i", "who=json")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event"] for e in events] == [
        "workflow_start",
        "step_start",
        "step_finish",
        "workflow_finish",
    ]
    assert events[-1]["outputs"] == {"said": "hello json x1"}


def test_quiet_prints_only_the_summary(cli, good):
    result = cli("run", "greet.yaml", "-q")
    assert result.stdout.splitlines() == [result.stdout.splitlines()[-1]]


def test_a_string_input_keeps_the_text_as_given(cli, good):
    result = cli("run", "greet.yaml", "--json", "-i", "who=007")
    assert json.loads(result.stdout.splitlines()[-1])["outputs"]["said"] == "hello 007 x1"


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("times=three", "input 'times': expected integer, got 'three'"),
        ("loud=maybe", "input 'loud': expected boolean, got 'maybe'"),
        ("whom=x", "unknown input 'whom' (did you mean 'who'?); greet takes: loud, times, who"),
        ("novalue", "-i 'novalue': expected KEY=VALUE"),
    ],
)
def test_bad_input_values_exit_2_with_one_line(cli, good, flag, message):
    result = cli("run", "greet.yaml", "-i", flag)
    assert result.returncode == 2
    assert result.stderr == f"error: {message}\n"


def test_an_input_file_gives_inputs_that_explicit_values_override(cli, good, project):
    (project / "in.yaml").write_text("who: file\ntimes: 2\n")
    (project / "in.json").write_text('{"who": "json", "loud": true}')
    result = cli("run", "greet.yaml", "--json", "--input-file", "in.yaml", "-i", "times=3")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["outputs"]["said"] == "hello file x3"
    result = cli("run", "greet.yaml", "--json", "--input-file", "in.json")
    assert json.loads(result.stdout.splitlines()[-1])["outputs"]["said"] == "hello json x1"


def test_an_input_file_names_each_bad_key_with_its_line(cli, good, project):
    (project / "in.yaml").write_text("who: ok\ntimes: three\nwhom: x\n")
    result = cli("run", "greet.yaml", "--input-file", "in.yaml")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "in.yaml:2:1: inputs.times: expected integer, got str 'three'",
        "in.yaml:3:1: inputs.whom: unknown input 'whom' (did you mean 'who'?); "
        "greet takes: loud, times, who",
    ]
    (project / "list.yaml").write_text("- a\n")
    result = cli("run", "greet.yaml", "--input-file", "list.yaml")
    assert result.returncode == 2
    assert result.stderr == "error: list.yaml:1:1: expected a mapping of input names to values\n"
    result = cli("run", "greet.yaml", "--input-file", "missing.yaml")
    assert result.returncode == 2 and "error: --input-file missing.yaml: cannot read it" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_missing_required_input_names_it(cli, write_workflow):
    write_workflow(
        """
        version: "1.0"
        name: needs
        inputs:
          branch: {type: string, required: true}
        steps:
          - {name: a, type: shell, command: "true"}
    """,
        "needs.yaml",
    )
    result = cli("run", "needs.yaml")
    assert result.returncode == 2
    assert result.stderr == "error: missing required input: branch (give -i branch=...)\n"


def test_a_failing_workflow_exits_1_and_the_last_line_resumes_it(cli, write_workflow):
    write_workflow(
        """
        version: "1.0"
        name: fails
        steps:
          - {name: a, type: shell, command: "exit 4"}
    """,
        "fails.yaml",
    )
    result = cli("run", "fails.yaml")
    assert result.returncode == 1
    last = result.stdout.splitlines()[-1]
    assert last.startswith("resume with: maverick run fails.yaml --resume fails-")


def test_validate_reports_every_error_with_its_location_and_exits_2(cli, write_workflow, good):
    write_workflow(
        """
        version: "1.0"
        name: bad
        steps:
          - name: a
            type: shell
            command: echo
            timout: 3
    """,
        "bad.yaml",
    )
    result = cli("validate", "greet.yaml", "bad.yaml")
    assert result.returncode == 2
    assert "greet.yaml: ok" in result.stdout
    assert result.stderr == "bad.yaml:7:5: steps[0].timout: unknown key (did you mean 'timeout'?)\n"


def test_running_a_bad_workflow_is_a_located_error_never_a_traceback(cli, write_workflow):
    write_workflow(
        'version: "1.0"\nname: x\nsteps:\n  - {name: a, type: shell, command: [}\n', "broken.yaml"
    )
    result = cli("run", "broken.yaml")
    assert result.returncode == 2
    assert result.stderr.startswith("broken.yaml:4:")
    assert "Traceback" not in result.stderr


def test_unknown_workflow_name_lists_the_known_ones(cli):
    result = cli("run", "no-such-workflow")
    assert result.returncode == 2
    assert result.stderr.startswith("error: no workflow named 'no-such-workflow' (known: ")


def test_schema_is_json_schema_that_accepts_the_bundled_workflows(cli):
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a test dependency")
    import yaml

    result = cli("schema")
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    files = [
        *(REPO / "maverick_core" / "library" / "workflows").glob("*.yaml"),
        *(REPO / "examples").rglob("*.yaml"),
        *(REPO / "tests" / "integration" / "workflows").glob("*.yaml"),
    ]
    workflows = [f for f in files if f.name != "maverick.yaml"]
    assert workflows
    for file in workflows:
        errors = list(validator.iter_errors(yaml.safe_load(file.read_text())))
        assert not errors, f"{file}: {errors[0].message}"
    bad = {
        "version": "1.0",
        "name": "x",
        "steps": [{"name": "a", "type": "shell", "comand": "echo"}],
    }
    assert list(validator.iter_errors(bad))


def test_workflows_list_shows_name_source_and_description_with_overrides(cli, project):
    (project / ".maverick" / "workflows").mkdir(parents=True)
    (project / ".maverick" / "workflows" / "greet.yaml").write_text(GOOD)
    user = project.parent / "xdg" / "maverick" / "workflows"
    user.mkdir(parents=True)
    (user / "greet.yaml").write_text(GOOD.replace("Say hello", "User's greeting"))
    result = cli(
        "workflows", "list", "--json", env={"XDG_CONFIG_HOME": str(project.parent / "xdg")}
    )
    entries = {(e["name"], e["source"]): e for e in json.loads(result.stdout)}
    assert entries[("greet", "project")]["description"] == "Say hello"
    assert entries[("greet", "project")]["shadowed_by"] is None
    assert entries[("greet", "user")]["shadowed_by"] == "project"
    run = cli("run", "greet", "--json", env={"XDG_CONFIG_HOME": str(project.parent / "xdg")})
    assert run.returncode == 0, run.stderr


def test_plugins_lists_built_ins_with_their_hooks_and_what_they_provide(cli):
    result = cli("plugins", "--json")
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["checkpoint"]["origin"] == "built-in"
    assert "commit_checkpoint" in plugins["checkpoint"]["hooks"]
    assert plugins["steps"]["provides"]["step_types"] == ["checkpoint", "python", "shell"]
    assert plugins["filestore"]["provides"]["stores"] == ["file"]
    text = cli("plugins").stdout
    assert "checkpoint 0.1.0 (built-in)" in text


def test_blocking_a_built_in_plugin_removes_what_it_provides(cli, good):
    result = cli("-p", "no:terminal", "run", "greet.yaml")
    assert result.returncode == 0 and result.stdout == ""
    listed = json.loads(cli("-p", "no:filestore", "plugins", "--json").stdout)
    assert "filestore" not in {p["name"] for p in listed}
    essential = cli("-p", "no:core", "plugins")
    assert essential.returncode == 2
    assert essential.stderr == "error: plugin 'core' is essential and cannot be blocked\n"


def test_a_plugin_module_that_fails_to_import_is_one_line(cli):
    result = cli("-p", "no_such_plugin_module", "plugins")
    assert result.returncode == 2
    assert result.stderr == (
        "error: -p no_such_plugin_module: cannot import: "
        "ModuleNotFoundError: No module named 'no_such_plugin_module'\n"
    )


@pytest.fixture(scope="module")
def installed_plugins(tmp_path_factory) -> Path:
    """The fixture plugin distributions, really installed (pip --target) into a directory."""
    target = tmp_path_factory.mktemp("site")
    sources = tmp_path_factory.mktemp("sources")
    for name in ("maverick-hello", "maverick-typo", "maverick-broken"):
        # build from a copy: setuptools leaves build/ and egg-info beside the sources
        shutil.copytree(FIXTURES / name, sources / name)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--no-build-isolation",
                "--target",
                str(target / name),
                str(sources / name),
            ],
            check=True,
            capture_output=True,
        )
    return target


def test_an_installed_distribution_is_discovered_listed_and_used(
    cli, installed_plugins, write_workflow
):
    env = {"PYTHONPATH": str(installed_plugins / "maverick-hello")}
    listed = {p["name"]: p for p in json.loads(cli("plugins", "--json", env=env).stdout)}
    hello = listed["hello"]
    assert (hello["origin"], hello["distribution"], hello["version"]) == (
        "entry point",
        "maverick-hello",
        "1.2.3",
    )
    assert hello["provides"] == {"step_types": ["greet"], "actions": ["hello.shout"]}
    write_workflow(
        """
        version: "1.0"
        name: uses-plugin
        steps:
          - {name: g, type: greet, who: plugins}
          - {name: s, type: python, action: hello.shout, kwargs: {text: "${{ steps.g.output }}"}}
        outputs: {said: "${{ steps.s.output }}"}
    """,
        "uses.yaml",
    )
    result = cli("run", "uses.yaml", "--json", env=env)
    assert json.loads(result.stdout.splitlines()[-1])["outputs"] == {"said": "HELLO, PLUGINS"}


def test_an_installed_distribution_can_be_blocked_or_not_autoloaded(cli, installed_plugins):
    env = {"PYTHONPATH": str(installed_plugins / "maverick-hello")}
    blocked = json.loads(cli("-p", "no:hello", "plugins", "--json", env=env).stdout)
    assert "hello" not in {p["name"] for p in blocked}
    off = json.loads(
        cli("plugins", "--json", env={**env, "MAVERICK_DISABLE_PLUGIN_AUTOLOAD": "1"}).stdout
    )
    assert "hello" not in {p["name"] for p in off}
    explicit = json.loads(
        cli(
            "-p",
            "maverick_hello",
            "plugins",
            "--json",
            env={**env, "MAVERICK_DISABLE_PLUGIN_AUTOLOAD": "1"},
        ).stdout
    )
    assert {p["name"]: p["origin"] for p in explicit}["maverick_hello"] == "-p"


def test_a_misspelled_hook_names_the_distribution_and_the_hook(cli, installed_plugins):
    env = {"PYTHONPATH": str(installed_plugins / "maverick-typo")}
    result = cli("plugins", env=env)
    assert result.returncode == 2
    assert result.stderr == (
        "error: plugin 'typo' (distribution maverick-typo 0.0.1) implements "
        "unknown hook 'befor_step' (did you mean 'before_step'?)\n"
    )


def test_unknown_store_scheme_lists_the_installed_ones(cli, good):
    result = cli("run", "greet.yaml", "--store", "redis://localhost")
    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: unknown store 'redis://localhost': no plugin provides the 'redis:' scheme; "
        "installed: file:"
    )


def test_unknown_serializer_names_the_distribution_to_install(cli, good):
    result = cli("run", "greet.yaml", "--serializer", "yaml")
    assert result.returncode == 2
    assert "unknown serializer 'yaml'" in result.stderr and "json" in result.stderr


def test_cli_runner_validate_in_process(project, good):
    from maverick_core.engine.cli import CliState, build_cli
    from maverick_core.engine.pluginmanager import make_plugin_manager

    pm = make_plugin_manager(autoload=False)
    os.chdir(project)
    result = CliRunner().invoke(build_cli(pm), ["validate", str(good)], obj=CliState(pm, None))
    assert result.exit_code == 0
    assert result.output == f"{good}: ok\n"


def test_a_plugin_distribution_that_fails_to_import_is_named_in_one_line(cli, installed_plugins):
    env = {"PYTHONPATH": str(installed_plugins / "maverick-broken")}
    result = cli("plugins", env=env)
    assert result.returncode == 2
    assert result.stderr == (
        "error: plugin 'broken' (distribution maverick-broken 0.0.2) failed to import: "
        "ModuleNotFoundError: No module named 'maverick_missing_dependency'\n"
    )
    blocked = cli("-p", "no:broken", "plugins", env=env)
    assert blocked.returncode == 0


def test_blocking_a_plugin_blocks_the_plugins_that_need_it(cli):
    listed = {p["name"] for p in json.loads(cli("-p", "no:flow", "plugins", "--json").stdout)}
    assert {"flow", "devflow"}.isdisjoint(listed)
    assert "steps" in listed
    text = cli("-p", "no:flow", "plugins").stdout
    assert text.splitlines()[-1] == "blocked: devflow (needs flow), flow"
    assert "  fly " not in cli("-p", "no:flow", "--help").stdout


def test_a_step_that_refuses_a_user_value_exits_2_without_a_resume_hint(
    cli, write_workflow, project
):
    (project / "checks.py").write_text(
        "from maverick_core.engine.errors import InputError\n"
        "def positive(n):\n"
        "    if n < 1:\n"
        "        raise InputError(f'n must be a positive integer, got {n}')\n"
        "    return n\n"
    )
    write_workflow(
        """
        version: "1.0"
        name: checked
        inputs: {n: {type: integer, default: 1}}
        steps:
          - {name: check, type: python, action: "checks:positive", kwargs: {n: "${{ inputs.n }}"}}
    """,
        "checked.yaml",
    )
    result = cli("run", "checked.yaml", "-i", "n=-1")
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    assert lines[-1] == "error: step 'check' failed: n must be a positive integer, got -1"
    assert "resume with" not in result.stdout


def test_shell_completion_offers_workflow_names_and_run_ids(cli, good):
    assert cli("run", "greet.yaml").returncode == 0
    run_id = json.loads(cli("runs", "list", "--json").stdout)["runs"][0]["run_id"]
    names = cli(
        env={
            "COMP_WORDS": "maverick run f",
            "COMP_CWORD": "2",
            "_MAVERICK_COMPLETE": "bash_complete",
        }
    )
    assert names.stdout.splitlines() == ["plain,fly"]
    ids = cli(
        env={
            "COMP_WORDS": "maverick runs show gr",
            "COMP_CWORD": "3",
            "_MAVERICK_COMPLETE": "bash_complete",
        }
    )
    assert ids.stdout.splitlines() == [f"plain,{run_id}"]
