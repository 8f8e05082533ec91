"""Secret inputs are never stored and never printed: every sink, every form of the value."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from maverick_core.testing import maverick_executable

if TYPE_CHECKING:
    from pathlib import Path

Cli = Callable[..., subprocess.CompletedProcess[str]]


def stored(project: Path) -> bytes:
    """Every byte maverick keeps under ``.maverick/``."""
    return b"".join(p.read_bytes() for p in (project / ".maverick").rglob("*") if p.is_file())


def latest_run_id(cli: Cli) -> str:
    runs = json.loads(cli("runs", "list", "--json").stdout)["runs"]
    return str(runs[0]["run_id"])


def seen(project: Path, cli: Cli, *results: subprocess.CompletedProcess[str]) -> bytes:
    """What a user can ever see of the last run: its streams, ``runs show``, the store."""
    run_id = latest_run_id(cli)
    shown = [cli("runs", "show", run_id), cli("runs", "show", run_id, "--json")]
    texts = [part for r in (*results, *shown) for part in (r.stdout, r.stderr)]
    return "".join(texts).encode("utf-8") + stored(project)


def forms(secret: str) -> list[bytes]:
    """The byte sequences a leaked secret would show up as."""
    return sorted(
        {
            secret.encode(),
            json.dumps(secret)[1:-1].encode(),
            json.dumps(secret, ensure_ascii=False)[1:-1].encode(),
        }
    )


def assert_hidden(secret: str, data: bytes) -> None:
    for form in forms(secret):
        assert form not in data, f"{form!r} leaked"


FAILING = """
version: "1.0"
name: failing
inputs:
  token: {type: string, required: true, secret: true}
steps:
  - name: echo
    type: shell
    command: printf '%s' "$TOKEN"
    env: {TOKEN: "${{ inputs.token }}"}
    checkpoint: true
  - name: fail
    type: shell
    command: printf 'denied for %s\\n' "$TOKEN" >&2; exit 3
    env: {TOKEN: "${{ inputs.token }}"}
"""


def test_a_failing_steps_error_holding_the_secret_is_masked_in_the_record_and_runs_show(
    project: Path, cli: Cli
) -> None:
    (project / "wf.yaml").write_text(FAILING)
    secret = "hunter2-very-secret"
    result = cli("run", "wf.yaml", "-i", f"token={secret}")
    assert result.returncode == 1
    run_id = latest_run_id(cli)
    record = json.loads(cli("runs", "show", run_id, "--json").stdout)
    assert "denied for ***" in record["meta"]["error"]
    assert_hidden(secret, seen(project, cli, result))


def test_json_events_mask_values_before_encoding_so_escaped_forms_never_appear(
    project: Path, cli: Cli
) -> None:
    (project / "wf.yaml").write_text(FAILING)
    secret = 'sé"cr\\et ✓'
    result = cli("run", "wf.yaml", "--json", "-i", f"token={secret}")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    finish = events[-1]
    assert finish["event"] == "workflow_finish"
    assert "denied for ***" in finish["error"]
    assert_hidden(secret, seen(project, cli, result))


def test_a_secret_too_short_to_mask_leaves_json_events_intact_and_is_named(
    project: Path, cli: Cli
) -> None:
    (project / "wf.yaml").write_text(FAILING)
    result = cli("run", "wf.yaml", "--json", "-i", "token=17")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(isinstance(e["time"], float) for e in events)
    assert events[-1]["status"] == "failed"
    notices = [e["message"] for e in events if e["event"] == "notice"]
    assert notices == [
        "secret input 'token' holds a value shorter than 4 characters: such values are "
        "not masked in output (see docs/yaml.md)"
    ]


def test_every_scalar_of_an_object_secret_is_masked_in_outputs_and_the_store(
    project: Path, cli: Cli
) -> None:
    (project / "wf.yaml").write_text("""
version: "1.0"
name: creds
inputs:
  creds: {type: object, required: true, secret: true}
steps:
  - name: login
    type: shell
    command: printf '%s:%s' "$USER_NAME" "$PASSWORD"
    env: {USER_NAME: "${{ inputs.creds.user }}", PASSWORD: "${{ inputs.creds.password }}"}
    checkpoint: true
outputs:
  said: ${{ steps.login.output.stdout }}
  pin: ${{ inputs.creds.pin }}
""")
    result = cli(
        "run", "wf.yaml", "--json", "-i", "creds={user: robot-7, password: 'pa55 wörd', pin: 4821}"
    )
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout.splitlines()[-1])["outputs"]
    assert outputs == {"said": "***:***", "pin": "***"}
    data = seen(project, cli, result)
    for secret in ("robot-7", "pa55 wörd", "4821"):
        assert_hidden(secret, data)


def test_a_long_secret_cut_by_an_error_message_leaves_no_prefix(project: Path, cli: Cli) -> None:
    (project / "wf.yaml").write_text("""
version: "1.0"
name: convert
inputs:
  token: {type: string, required: true, secret: true}
steps:
  - name: convert
    type: shell
    command: echo "${{ int(inputs.token) }}"
""")
    secret = "tok-" + "x9" * 60
    result = cli("run", "wf.yaml", "-i", f"token={secret}")
    assert result.returncode == 1
    assert "cannot convert '***' to int" in result.stdout
    data = seen(project, cli, result)
    assert secret[:8].encode() not in data


def test_a_secret_used_as_a_mapping_key_is_masked(project: Path, cli: Cli) -> None:
    (project / "wf.yaml").write_text("""
version: "1.0"
name: keyed
inputs:
  token: {type: string, required: true, secret: true}
steps:
  - name: keep
    type: python
    action: "json:loads"
    kwargs: {s: '{"${{ inputs.token }}": 1}'}
    checkpoint: true
outputs:
  by_token: ${{ steps.keep.output }}
""")
    secret = "key-that-is-secret"
    result = cli("run", "wf.yaml", "--json", "-i", f"token={secret}")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["outputs"] == {"by_token": {"***": 1}}
    assert_hidden(secret, seen(project, cli, result))


def test_a_subworkflows_own_secret_input_is_masked_in_what_the_run_stores(
    project: Path, cli: Cli
) -> None:
    (project / "sub.yaml").write_text("""
version: "1.0"
name: inner
inputs:
  password: {type: string, required: true, secret: true}
steps:
  - name: use
    type: shell
    command: printf 'using %s' "$P"
    env: {P: "${{ inputs.password }}"}
outputs:
  said: ${{ steps.use.output.stdout }}
""")
    (project / "wf.yaml").write_text("""
version: "1.0"
name: outer
steps:
  - name: make
    type: shell
    command: printf 'generated-pass-%s' 8412
  - name: call
    type: subworkflow
    workflow: sub.yaml
    inputs: {password: "${{ steps.make.output.stdout }}"}
    checkpoint: true
  - name: fail
    type: shell
    command: exit 1
""")
    result = cli("run", "wf.yaml")
    assert result.returncode == 1
    data = stored(project)
    assert b"generated-pass-8412" not in data
    assert b"using ***" in data


def test_a_secret_input_is_read_from_maverick_input_variables(project: Path, cli: Cli) -> None:
    (project / "wf.yaml").write_text(FAILING)
    result = cli("run", "wf.yaml", env={"MAVERICK_INPUT_TOKEN": "from-the-environment"})
    assert result.returncode == 1
    record = json.loads(cli("runs", "show", latest_run_id(cli), "--json").stdout)
    assert next(s for s in record["steps"] if s["path"] == "echo")["status"] == "completed"
    assert "denied for ***" in record["meta"]["error"]
    resumed = cli(
        "run", "wf.yaml", "--resume", env={"MAVERICK_INPUT_TOKEN": "from-the-environment"}
    )
    assert resumed.returncode == 1  # the step still fails, but the secret was given again
    assert "resuming failing" in resumed.stdout
    assert_hidden("from-the-environment", seen(project, cli, result, resumed))


def test_an_input_declares_the_environment_variable_it_is_read_from(
    project: Path, cli: Cli
) -> None:
    (project / "wf.yaml").write_text("""
version: "1.0"
name: declared
inputs:
  token: {type: string, required: true, secret: true, env: DEPLOY_TOKEN}
steps:
  - name: check
    type: shell
    command: test "$T" = from-deploy-token
    env: {T: "${{ inputs.token }}"}
""")
    assert cli("run", "wf.yaml", env={"DEPLOY_TOKEN": "from-deploy-token"}).returncode == 0
    missing = cli("run", "wf.yaml", env={"DEPLOY_TOKEN": ""})
    assert missing.returncode == 2
    assert "missing required input: token" in missing.stderr


def test_an_env_declaration_that_is_not_a_variable_name_is_a_located_error(
    project: Path, cli: Cli
) -> None:
    (project / "wf.yaml").write_text(
        'version: "1.0"\nname: bad\ninputs:\n  t: {type: string, env: "A-B"}\n'
        "steps:\n  - {name: s, type: shell, command: 'true'}\n"
    )
    result = cli("validate", "wf.yaml")
    assert result.returncode == 2
    assert "wf.yaml:4:" in result.stderr and "not an environment variable name" in result.stderr


def test_a_secret_input_is_read_from_a_file_or_stdin(project: Path, cli: Cli) -> None:
    (project / "wf.yaml").write_text("""
version: "1.0"
name: fromfile
inputs:
  token: {type: string, required: true, secret: true}
steps:
  - name: check
    type: shell
    command: test "$T" = 'file-token "quoted"'
    env: {T: "${{ inputs.token }}"}
""")
    (project / "token.txt").write_text('file-token "quoted"\n')
    assert cli("run", "wf.yaml", "-i", "token=@token.txt").returncode == 0
    piped = subprocess.run(
        [*maverick_executable(), "run", "wf.yaml", "-i", "token=@-"],
        cwd=project,
        input='file-token "quoted"\n',
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert piped.returncode == 0, piped.stderr
    missing = cli("run", "wf.yaml", "-i", "token=@nowhere.txt")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: input 'token': cannot read nowhere.txt")


def test_a_literal_value_starting_with_at_is_given_as_double_at(project: Path, cli: Cli) -> None:
    (project / "wf.yaml").write_text("""
version: "1.0"
name: handle
inputs:
  who: {type: string}
steps:
  - {name: check, type: shell, command: 'test "$W" = @alice', env: {W: "${{ inputs.who }}"}}
""")
    assert cli("run", "wf.yaml", "-i", "who=@@alice").returncode == 0


@pytest.mark.parametrize("source", ["argument", "environment"])
def test_an_invalid_secret_value_is_refused_without_echoing_it(
    project: Path, cli: Cli, source: str
) -> None:
    (project / "wf.yaml").write_text("""
version: "1.0"
name: typed
inputs:
  pin: {type: integer, required: true, secret: true}
steps:
  - {name: s, type: shell, command: 'true'}
""")
    secret = "not-a-number-but-secret"
    if source == "argument":
        result = cli("run", "wf.yaml", "-i", f"pin={secret}")
    else:
        result = cli("run", "wf.yaml", env={"MAVERICK_INPUT_PIN": secret})
    assert result.returncode == 2
    assert "input 'pin'" in result.stderr and "expected integer" in result.stderr
    assert secret not in result.stdout + result.stderr
