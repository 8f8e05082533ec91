"""Bounded YAML: hostile documents are refused with a located error, in bounded memory.

Every YAML maverick reads goes through :mod:`maverick_core.engine.safeyaml`; these
tests feed it the inputs that exhausted the machine before (alias bombs, deep
nesting, devices, FIFOs) and check the refusal is a one-line ``file:line:col`` error.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maverick_core.engine import safeyaml
from maverick_core.engine.config import origin_url, read_settings
from maverick_core.engine.dsl.composite import BUILTIN_STEP_MODELS
from maverick_core.engine.dsl.loader import load_workflow, load_workflow_text
from maverick_core.engine.errors import DefinitionError, DefinitionErrors

if TYPE_CHECKING:
    from pathlib import Path


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs" document: ``width ** levels`` values in a few hundred bytes."""
    lines = ['version: "1.0"', "name: lol", 'a0: &a0 ["lol"]']
    for level in range(1, levels + 1):
        refs = ",".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append("steps: [{name: x, type: shell, command: echo}]")
    return "\n".join(lines) + "\n"


def only_error(exc: DefinitionErrors) -> str:
    [error] = exc.errors
    return error.message


def test_an_alias_bomb_is_refused_where_it_explodes() -> None:
    text = alias_bomb()
    assert len(text) < 600
    with pytest.raises(DefinitionErrors) as caught:
        load_workflow_text(text, "lol.yaml", BUILTIN_STEP_MODELS)
    assert only_error(caught.value).startswith("lol.yaml:")
    assert "expands to more than 20000 values" in only_error(caught.value)


def test_an_alias_to_the_value_that_contains_it_is_refused() -> None:
    with pytest.raises(yaml.YAMLError, match="refers to a value that contains it"):
        safeyaml.load("&a [1, *a]")


def test_aliases_within_the_limit_still_work() -> None:
    assert safeyaml.load("a: &x {k: 1}\nb: *x\n") == {"a": {"k": 1}, "b": {"k": 1}}


def test_deep_nesting_is_refused_before_the_stack_is() -> None:
    text = "a: " + "[" * 450 + "]" * 450 + "\n"
    with pytest.raises(DefinitionErrors) as caught:
        load_workflow_text(text, "deep.yaml", BUILTIN_STEP_MODELS)
    assert "deep.yaml:1:" in only_error(caught.value)
    assert "nested more than 100 levels deep" in only_error(caught.value)


def test_a_million_open_brackets_are_refused_as_they_are_read() -> None:
    # the scanner's look-ahead over open brackets is quadratic: it must stop early
    with pytest.raises(yaml.YAMLError, match="nested more than 100 levels deep"):
        safeyaml.load("a: " + "[" * 200_000)


def test_text_over_the_size_limit_is_refused_before_parsing() -> None:
    with pytest.raises(yaml.YAMLError, match="longer than 262144 characters"):
        safeyaml.load("a: " + "x" * (256 << 10))


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_not_a_workflow(device: str) -> None:
    with pytest.raises(DefinitionErrors) as caught:
        load_workflow(device, BUILTIN_STEP_MODELS)
    assert only_error(caught.value) == f"{device}:1:1: not a regular file"


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "wf.yaml"
    os.mkfifo(fifo)
    with pytest.raises(DefinitionErrors) as caught:
        load_workflow(fifo, BUILTIN_STEP_MODELS)
    assert only_error(caught.value).endswith("wf.yaml:1:1: not a regular file")


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (safeyaml.WORKFLOW_LIMITS.max_bytes + 1))
    with pytest.raises(DefinitionErrors, match="larger than 262144 bytes"):
        load_workflow(big, BUILTIN_STEP_MODELS)


def test_a_byte_that_is_not_utf8_is_located(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(b'version: "1.0"\nname: caf\xe9\n')
    with pytest.raises(DefinitionErrors) as caught:
        load_workflow(path, BUILTIN_STEP_MODELS)
    assert only_error(caught.value) == f"{path}:2:10: not UTF-8 text (byte 0xe9)"


def test_integers_beyond_64_bits_are_refused_without_converting_them() -> None:
    with pytest.raises(yaml.YAMLError, match="integer too large"):
        safeyaml.load("n: " + "9" * 5000)
    with pytest.raises(yaml.YAMLError, match="integer too large"):
        safeyaml.load(f"n: {2**63}")
    assert safeyaml.load(f"n: {2**63 - 1}") == {"n": 2**63 - 1}


def test_dates_stay_the_text_that_was_written() -> None:
    assert safeyaml.load("[2024-01-01, 2024-01-01 10:00:00]") == [
        "2024-01-01",
        "2024-01-01 10:00:00",
    ]


@pytest.mark.parametrize("tag", ["!!binary aGk=", "!!set {a: null}", "!!omap [a: 1]"])
def test_tags_that_build_values_no_store_keeps_are_refused(tag: str) -> None:
    with pytest.raises(yaml.YAMLError, match="is not supported here"):
        safeyaml.load(f"x: {tag}")


def test_nan_and_infinite_timeouts_are_refused_at_load_time() -> None:
    for value in (".nan", ".inf"):
        text = textwrap.dedent(f"""\
            version: "1.0"
            name: t
            steps:
              - {{name: a, type: shell, command: echo, timeout: {value}}}
            """)
        with pytest.raises(DefinitionErrors, match="expected a positive number of seconds"):
            load_workflow_text(text, "t.yaml", BUILTIN_STEP_MODELS)


def test_settings_that_are_not_utf8_are_a_located_error(tmp_path: Path) -> None:
    (tmp_path / "maverick.yaml").write_bytes(b"store: file:\nagents: caf\xe9\n")
    with pytest.raises(DefinitionError) as caught:
        read_settings(tmp_path)
    assert caught.value.message == f"{tmp_path / 'maverick.yaml'}:2:12: not UTF-8 text (byte 0xe9)"


def test_settings_with_an_alias_bomb_are_refused(tmp_path: Path) -> None:
    (tmp_path / "maverick.yaml").write_text(alias_bomb())
    with pytest.raises(DefinitionError, match="expands to more than"):
        read_settings(tmp_path)


def test_a_latin1_git_config_still_names_the_origin(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_bytes(
        b'[user]\n\tname = Jos\xe9\n[remote "origin"]\n\turl = https://example.com/o/r.git\n'
    )
    assert origin_url(tmp_path) == "https://example.com/o/r.git"


# ------------------------------------------------------------------ fuzzing with a bound

_BOUNDED_CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from maverick_core.engine.dsl.loader import load_workflow_text
from maverick_core.engine.dsl.composite import BUILTIN_STEP_MODELS
from maverick_core.engine.errors import DefinitionError, DefinitionErrors
text = sys.stdin.read()
try:
    load_workflow_text(text, "fuzz.yaml", BUILTIN_STEP_MODELS)
except (DefinitionError, DefinitionErrors) as exc:
    print(exc.message.splitlines()[0])
"""


def load_bounded(text: str) -> subprocess.CompletedProcess[str]:
    """Load ``text`` in a child limited to 1 GiB of address space and 20 seconds."""
    return subprocess.run(
        [sys.executable, "-c", _BOUNDED_CHILD],
        input=text,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


HOSTILE_PARTS = st.one_of(
    st.builds(alias_bomb, st.integers(3, 12), st.integers(2, 12)),
    st.integers(50, 3000).map(lambda depth: "a: " + "[" * depth + "]" * depth),
    st.integers(50, 1000).map(
        lambda depth: "a:\n" + "".join(f"{' ' * (i + 1)}k{i}:\n" for i in range(depth))
    ),
    st.integers(50, 600).map(lambda depth: "a: " + "{k: " * depth + "1" + "}" * depth),
    st.integers(4300, 20000).map(lambda digits: "a: " + "7" * digits),
    st.just("a: &x [*x]"),
    st.just("a: !!binary aGk=\n"),
    st.just("a: [2024-01-01]\n"),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(HOSTILE_PARTS, min_size=1, max_size=3))
def test_hostile_documents_load_in_bounded_memory_and_time(parts: list[str]) -> None:
    text = 'version: "1.0"\nname: h\n' + "\n".join(parts) + "\n"
    result = load_bounded(text)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith("fuzz.yaml:"), result.stdout


AGREEING = [
    'version: "1.0"\nname: x\nsteps: [{name: a, type: shell, command: echo}]\n',
    "a: &x {k: [1, 2.5, true, null, '2024-01-01']}\nb: *x\nc: 2024-01-01\n",
    "a: " + "[" * 150 + "]" * 150,
    "a: " + "[" * 200_000,
    alias_bomb(),
    "&a [1, *a]",
    "a: !!binary aGk=\n",
    "a: " + "7" * 5000,
    "a:\n  - b: 1\n    c: [x, {d: e}]\n",
]


@pytest.mark.skipif(safeyaml._CPARSER is None, reason="PyYAML here has no libyaml parser")
@pytest.mark.parametrize("text", AGREEING, ids=range(len(AGREEING)))
def test_libyaml_and_the_pure_python_parser_give_the_same_values_and_refusals(text: str) -> None:
    def load(pure: bool) -> object:
        loader = safeyaml.bounded_loader(safeyaml.WORKFLOW_LIMITS, pure=pure)(text)
        try:
            return loader.get_single_data()
        except safeyaml.YAMLLimitError as refused:
            # the line, not the column: the pure-Python scanner refuses deep brackets
            # as it reads them, one column before the composer would
            mark = refused.problem_mark
            return ("refused", refused.problem, mark and mark.line)
        finally:
            loader.dispose()

    assert safeyaml.bounded_loader(safeyaml.WORKFLOW_LIMITS) is not safeyaml.BoundedLoader
    assert load(pure=False) == load(pure=True)
