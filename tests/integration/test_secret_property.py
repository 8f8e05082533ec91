"""Property: no form of a secret ever reaches a file under ``.maverick/`` or an output stream.

Hypothesis generates secrets (unicode, quotes, backslashes, newlines, short and long,
nested in objects and lists); each example drives real ``maverick`` processes through
a run that prints the secret, stores it in step outputs, fails with it in its error,
and a run that completes and prints it in its outputs; then ``runs list`` and
``runs show`` (text and ``--json``). Every byte they wrote or printed is searched for
the secret raw, JSON-escaped (with and without ``ensure_ascii``), and for its first
8 characters (what a cut error message would leave).

Each secret text starts with a character maverick never prints on its own, so a
match is a leak, never a coincidence with a timestamp or a word.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maverick_core.engine.secrets import MIN_SECRET_CHARS, secret_texts
from maverick_core.testing import maverick_executable

WORKFLOW = """
version: "1.0"
name: leak
inputs:
  token: {type: string, required: true, secret: true}
  creds: {type: object, required: true, secret: true}
  fail: {type: boolean, default: true}
steps:
  - name: print
    type: shell
    command: printf '%s' "$TOKEN"; printf '%s' "$CREDS" >&2
    env: {TOKEN: "${{ inputs.token }}", CREDS: "${{ to_json(inputs.creds) }}"}
    checkpoint: true
  - name: parse
    type: python
    action: "json:loads"
    kwargs: {s: "${{ to_json(inputs.creds) }}"}
    checkpoint: true
  - name: fail
    type: shell
    when: ${{ inputs.fail }}
    command: printf 'refused %s\\n' "$TOKEN" >&2; printf '%s' "$CREDS" >&2; exit 3
    env: {TOKEN: "${{ inputs.token }}", CREDS: "${{ to_json(inputs.creds) }}"}
outputs:
  token: ${{ steps.print.output.stdout }}
  creds: ${{ steps.parse.output }}
  keyed: "${{ {inputs.token: inputs.creds} }}"
"""

# characters maverick never prints by itself: one starts every secret text
MARKS = "秘Ωç✓ß"
# every character a YAML or JSON reader and an environment variable accept, in the
# Basic Multilingual Plane (astral characters travel as JSON surrogate pairs)
CHARS = st.one_of(
    st.characters(codec="utf-8", max_codepoint=0xFFFF, exclude_categories=("Cs", "Cc")),
    st.sampled_from(['"', "\\", "'", " ", "\n", "\t", "$", "{", "}", "`"]),
)


def secret_text(max_size: int) -> st.SearchStrategy[str]:
    # the minimum does not count surrounding whitespace: output often strips it
    return st.builds(
        lambda mark, rest: mark + rest,
        st.sampled_from(MARKS),
        st.text(CHARS, min_size=MIN_SECRET_CHARS - 1, max_size=max_size),
    ).filter(lambda text: len(text.strip()) >= MIN_SECRET_CHARS)


leaves = secret_text(24)
nested = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3)
        | st.dictionaries(leaves, inner, min_size=1, max_size=3)
    ),
    max_leaves=6,
)
creds_values = st.dictionaries(leaves, nested, min_size=1, max_size=3)


def leaked_forms(text: str) -> set[bytes]:
    forms: set[bytes] = set()
    for part in (text, text[:8]) if len(text) >= 8 else (text,):
        forms.add(part.encode())
        forms.add(json.dumps(part)[1:-1].encode())
        forms.add(json.dumps(part, ensure_ascii=False)[1:-1].encode())
    return forms


def maverick(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*maverick_executable(), *args],
        cwd=project,
        env=env,
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def everything_a_user_sees(token: str, creds: dict[str, Any]) -> tuple[bytes, list[Any]]:
    """Run the workflow twice (failing, then completing) and collect every byte."""
    project = Path(tempfile.mkdtemp(prefix="maverick-secret-"))
    try:
        (project / "maverick.yaml").write_text("project: secrets\n")
        (project / "wf.yaml").write_text(WORKFLOW)
        env = {
            **os.environ,
            "MAVERICK_INPUT_TOKEN": token,
            "MAVERICK_INPUT_CREDS": json.dumps(creds),
        }
        results = [
            maverick(project, env, "run", "wf.yaml"),
            maverick(project, env, "run", "wf.yaml", "--json"),
            maverick(project, env, "run", "wf.yaml", "--json", "-i", "fail=false"),
        ]
        assert [r.returncode for r in results] == [1, 1, 0], results[0].stderr
        listed = maverick(project, env, "runs", "list", "--json")
        results.append(listed)
        for run in json.loads(listed.stdout)["runs"]:
            results.append(maverick(project, env, "runs", "show", run["run_id"]))
            results.append(maverick(project, env, "runs", "show", run["run_id"], "--json"))
        finish = json.loads(results[2].stdout.splitlines()[-1])
        streams = b"".join(r.stdout + r.stderr for r in results)
        files = b"".join(p.read_bytes() for p in (project / ".maverick").rglob("*") if p.is_file())
        return streams + files, [finish["outputs"]]
    finally:
        shutil.rmtree(project, ignore_errors=True)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(token=st.one_of(secret_text(8), secret_text(300)), creds=creds_values)
def test_no_form_of_a_secret_reaches_a_file_or_an_output_stream(
    token: str, creds: dict[str, Any]
) -> None:
    seen, outputs = everything_a_user_sees(token, creds)
    assert outputs[0]["token"] == "***"
    for text in secret_texts(token) | secret_texts(creds):
        for form in leaked_forms(text):
            assert form not in seen, f"{form!r} of secret {text!r} leaked"
