"""``retry:`` on a step: the loader's rules and what the built-in ``retry`` plugin does."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from maverick_core import hookimpl
from maverick_core.engine.dsl.composite import BUILTIN_STEP_MODELS
from maverick_core.engine.dsl.loader import load_workflow_text
from maverick_core.engine.dsl.model import Retry
from maverick_core.engine.dsl.schema import workflow_schema
from maverick_core.engine.errors import DefinitionErrors


def load(text: str):
    return load_workflow_text(textwrap.dedent(text).lstrip(), "wf.yaml", BUILTIN_STEP_MODELS)


def errors_of(retry: str) -> list[str]:
    with pytest.raises(DefinitionErrors) as info:
        load(f"""
            version: "1.0"
            name: x
            steps:
              - name: a
                type: shell
                command: "true"
                retry: {retry}
        """)
    return [e.message for e in info.value.errors]


def flaky(counter: Any, succeed_at: int, code: int = 1) -> str:
    """A command that fails with ``code`` until its ``succeed_at``-th run."""
    return f"echo x >> {counter}; test $(wc -l < {counter}) -ge {succeed_at} || exit {code}"


# ----------------------------------------------------------------------------- the loader


def test_retry_loads_with_its_defaults_and_a_bare_on_key():
    wf = load("""
        version: "1.0"
        name: x
        steps:
          - name: a
            type: shell
            command: "true"
            retry: {max_attempts: 3}
          - name: b
            type: shell
            command: "true"
            retry:
              max_attempts: 4
              backoff: 0.5
              factor: 3
              on: [timeout, 75]
          - name: c
            type: loop
            for_each: [1]
            retry: {max_attempts: 2, on: timeout}
            steps:
              - {name: inner, type: shell, command: "true"}
    """)
    a, b, c = wf.steps
    assert a.retry == Retry(max_attempts=3)
    assert (a.retry.backoff, a.retry.factor, a.retry.on) == (0.0, 2.0, ["any"])
    assert b.retry == Retry(max_attempts=4, backoff=0.5, factor=3.0, on=["timeout", 75])
    assert c.retry.on == ["timeout"]


def test_the_wait_starts_at_backoff_and_grows_by_factor():
    policy = Retry(max_attempts=4, backoff=2.0, factor=2.0)
    assert [policy.delay_before(n) for n in (2, 3, 4)] == [2.0, 4.0, 8.0]


def test_zero_max_attempts_is_a_located_error():
    assert errors_of("{max_attempts: 0}") == [
        "wf.yaml:7:27: steps[0].retry.max_attempts: expected a number of attempts "
        "(1 or more), got integer 0"
    ]


def test_a_negative_backoff_is_a_located_error():
    assert errors_of("{max_attempts: 2, backoff: -1}") == [
        "wf.yaml:7:39: steps[0].retry.backoff: expected a number of seconds (0 or more), "
        "got integer -1"
    ]


def test_a_factor_below_one_is_a_located_error():
    assert errors_of("{max_attempts: 2, factor: 0.5}") == [
        "wf.yaml:7:38: steps[0].retry.factor: expected a factor of 1 or more, got number 0.5"
    ]


def test_an_unknown_retry_condition_names_the_item_and_suggests_one():
    assert errors_of("{max_attempts: 2, on: [any, timout, 0]}") == [
        "wf.yaml:7:40: steps[0].retry.on[1]: unknown retry condition string 'timout' "
        "(did you mean 'timeout'?) (use any, timeout or a non-zero exit code)",
        "wf.yaml:7:48: steps[0].retry.on[2]: unknown retry condition integer 0 "
        "(use any, timeout or a non-zero exit code)",
    ]


def test_unknown_and_missing_retry_keys_are_located_errors():
    assert errors_of("{max_attemps: 2}") == [
        "wf.yaml:7:12: steps[0].retry.max_attempts: required key is missing",
        "wf.yaml:7:13: steps[0].retry.max_attemps: unknown key (did you mean 'max_attempts'?)",
    ]


def test_the_json_schema_knows_retry():
    schema = workflow_schema(BUILTIN_STEP_MODELS)
    retry = schema["$defs"]["retry"]
    assert retry["required"] == ["max_attempts"]
    assert retry["properties"]["max_attempts"] == {"type": "integer", "minimum": 1}
    assert retry["properties"]["backoff"] == {"type": "number", "minimum": 0}
    shell = next(s for s in schema["$defs"]["step"]["anyOf"] if s["title"] == "shell step")
    assert shell["properties"]["retry"] == {"$ref": "#/$defs/retry"}


# ----------------------------------------------------------------------------- running


def test_a_flaky_step_succeeds_on_a_later_attempt_and_records_each(
    write_workflow, run_in_process, project
):
    counter = project / "count"
    path = write_workflow(f"""
        version: "1.0"
        name: flaky
        steps:
          - name: fetch
            type: shell
            command: {flaky(counter, 3)}
            retry: {{max_attempts: 5}}
    """)
    result = run_in_process(path)
    assert result.status == "completed"
    assert counter.read_text().count("x") == 3
    attempts = result.run.state.get("fetch").attempts
    assert [(a["attempt"], a["error"]) for a in attempts] == [
        (1, "command exited with status 1"),
        (2, "command exited with status 1"),
        (3, None),
    ]
    assert result.run.progress == {}


def test_a_step_that_keeps_failing_fails_after_max_attempts(
    write_workflow, run_in_process, project, recorder
):
    counter = project / "count"
    path = write_workflow(f"""
        version: "1.0"
        name: hopeless
        steps:
          - name: fetch
            type: shell
            command: {flaky(counter, 99, code=4)}
            retry: {{max_attempts: 3, backoff: 0.01, factor: 3}}
    """)
    result = run_in_process(path, objects=(recorder,))
    assert result.status == "failed"
    assert result.error == "step 'fetch' failed: command exited with status 4"
    assert counter.read_text().count("x") == 3
    record = result.run.state.get("fetch")
    assert [a["attempt"] for a in record.attempts] == [1, 2, 3]
    notices = [a["message"] for n, a in recorder.calls if n == "on_notice"]
    assert notices == [
        "fetch: attempt 1 of 3 failed: command exited with status 4; retrying in 0.01s",
        "fetch: attempt 2 of 3 failed: command exited with status 4; retrying in 0.03s",
    ]
    # one step, one before_step/after_step pair, whatever the attempts
    assert recorder.paths("after_step") == ["fetch"]


@pytest.mark.parametrize(
    ("on", "code", "attempts"),
    [("[3]", 3, 2), ("[3]", 4, 1), ("[timeout]", 3, 1), ("[any]", 4, 2), ("[5, 3]", 3, 2)],
)
def test_on_selects_which_exit_codes_are_retried(
    write_workflow, run_in_process, project, on, code, attempts
):
    counter = project / "count"
    path = write_workflow(f"""
        version: "1.0"
        name: codes
        steps:
          - name: s
            type: shell
            command: {flaky(counter, 2, code=code)}
            retry: {{max_attempts: 2, on: {on}}}
    """)
    result = run_in_process(path)
    assert counter.read_text().count("x") == attempts
    assert result.status == ("completed" if attempts == 2 else "failed")


def test_on_timeout_retries_a_step_that_ran_out_of_time(write_workflow, run_in_process, project):
    counter = project / "count"
    path = write_workflow(f"""
        version: "1.0"
        name: slow
        steps:
          - name: s
            type: shell
            command: echo x >> {counter}; test $(wc -l < {counter}) -ge 2 || sleep 30
            timeout: 0.5
            retry: {{max_attempts: 2, on: [timeout]}}
    """)
    result = run_in_process(path)
    assert result.status == "completed"
    first = result.run.state.get("s").attempts[0]
    assert first["error"] == "timed out after 0.5s"


def test_a_retried_loop_runs_again_only_what_did_not_complete(
    write_workflow, run_in_process, project
):
    log = project / "log"
    counter = project / "count"
    path = write_workflow(f"""
        version: "1.0"
        name: loops
        steps:
          - name: each
            type: loop
            for_each: [a, b, c]
            retry: {{max_attempts: 2}}
            steps:
              - name: work
                type: shell
                command: |
                  echo ${{{{ item }}}} >> {log}
                  if [ "${{{{ item }}}}" = b ]; then {flaky(counter, 2)}; fi
    """)
    result = run_in_process(path)
    assert result.status == "completed"
    assert log.read_text().split() == ["a", "b", "b", "c"]
    assert [a["attempt"] for a in result.run.state.get("each").attempts] == [1, 2]


def test_blocking_the_retry_plugin_runs_each_step_once(write_workflow, run_in_process, project):
    counter = project / "count"
    path = write_workflow(f"""
        version: "1.0"
        name: blocked
        steps:
          - name: s
            type: shell
            command: {flaky(counter, 2)}
            retry: {{max_attempts: 3}}
    """)
    result = run_in_process(path, blocked=("terminal", "retry"))
    assert result.status == "failed"
    assert counter.read_text().count("x") == 1


def test_a_refused_input_is_never_retried(write_workflow, run_in_process):
    calls: list[int] = []

    class Plugin:
        @hookimpl
        def register_actions(self, register: Any) -> None:
            from maverick_core.api import InputError

            def picky() -> None:
                calls.append(1)
                raise InputError("count must be positive")

            register("picky", picky)

    path = write_workflow("""
        version: "1.0"
        name: picky
        steps:
          - {name: p, type: python, action: picky, retry: {max_attempts: 3}}
    """)
    result = run_in_process(path, objects=(Plugin(),))
    assert result.status == "failed"
    assert calls == [1]


def test_commit_progress_saves_the_attempts_before_each_retry_and_clears_them(
    write_workflow, run_in_process, project
):
    saved: list[dict[str, Any]] = []

    class Spy:
        @hookimpl(tryfirst=True)
        def commit_progress(self, run: Any, progress: dict[str, Any]) -> None:
            saved.append(progress)

    counter = project / "count"
    path = write_workflow(f"""
        version: "1.0"
        name: progress
        steps:
          - name: s
            type: shell
            command: {flaky(counter, 3)}
            retry: {{max_attempts: 3}}
    """)
    result = run_in_process(path, objects=(Spy(),))
    assert result.status == "completed"
    attempts = [[a["attempt"] for a in p["s"]["retry"]["attempts"]] for p in saved[:-1]]
    assert attempts == [[1], [1, 2]]
    assert saved[-1] == {}
    # the checkpoint plugin kept it with the run record, and dropped it at the end
    from maverick_core.builtin.checkpoint.journal import store_for

    store = store_for(result.run.config)
    try:
        assert "progress" not in store.get_run(result.run.run_id).meta
    finally:
        store.close()


def test_a_failure_during_an_interrupt_is_never_retried(write_workflow, run_in_process):
    calls: list[int] = []

    class Plugin:
        @hookimpl
        def register_actions(self, register: Any) -> None:
            def stopping(ctx: Any) -> None:
                calls.append(1)
                ctx.interrupt()  # as Ctrl-C does: the child it waited for dies, it fails
                raise RuntimeError("child killed")

            register("stopping", stopping)

    path = write_workflow("""
        version: "1.0"
        name: stopping
        steps:
          - {name: s, type: python, action: stopping, retry: {max_attempts: 3}}
    """)
    result = run_in_process(path, objects=(Plugin(),))
    assert result.status == "interrupted"
    assert calls == [1]
