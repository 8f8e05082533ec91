"""Workflow diagrams: the Mermaid text for each construct, checked for structure.

No Mermaid parser is fetched at test time; :func:`check_flowchart` checks what a
parser needs (one header, balanced subgraphs, every edge between declared ids,
every label quoted, no markup but our own line breaks), and the viewer's browser
tests render the library workflows with the vendored Mermaid.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from maverick_core.engine.config import make_config
from maverick_core.engine.discovery import load_named_workflow
from maverick_core.engine.dsl.diagram import CLASS_PREFIX, mermaid_node_id, workflow_mermaid
from maverick_core.engine.dsl.loader import load_workflow_text
from maverick_core.engine.dsl.model import ShellStep, Workflow
from maverick_core.engine.pluginmanager import make_plugin_manager

ID = r"[A-Za-z][A-Za-z0-9_]*"
LABEL = r'"[^"]*"'
NODE = re.compile(
    rf"^(?P<id>{ID})(?:\(\[{LABEL}\]\)|\[\[{LABEL}\]\]|\{{\{{{LABEL}\}}\}}|\(\({LABEL}\)\)"
    rf"|\[/{LABEL}/\]|>{LABEL}\]|\[{LABEL}\]|\{{{LABEL}\}})$"
)
EDGE = re.compile(rf'^(?P<a>{ID}) (?:-->|-\.->)(?:\|"[^"|]*"\|)? (?P<b>{ID})$')
SUBGRAPH = re.compile(rf"^subgraph (?P<id>{ID})\[{LABEL}\]$")
CLASSDEF = re.compile(rf"^classDef (?P<name>{ID}) [-a-z]+:[^ ;]+(?:,[-a-z]+:[^;]+)*$")
CLASS = re.compile(rf"^class (?P<ids>{ID}(?:,{ID})*) (?P<name>{ID})$")


def check_flowchart(text: str) -> dict[str, str]:
    """Fail unless ``text`` is a well-formed flowchart; return node id -> its declaration."""
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    nodes: dict[str, str] = {}
    groups: list[str] = []
    depth = 0
    edges: list[tuple[str, str]] = []
    defined_classes: set[str] = set()
    used_classes: list[tuple[list[str], str]] = []
    for line in lines[1:]:
        stripped = line.strip()
        assert stripped.count('"') % 2 == 0, line
        for label in re.findall(r'"([^"]*)"', stripped):
            # the only markup a label may hold is our own line break; every other
            # character that means something to Mermaid or HTML is a named entity
            plain = re.sub(r"&[A-Za-z]+;", "", label.replace("<br/>", ""))
            assert not set(plain) & set('<>&"#;|$`[]{}\\'), line
        if m := SUBGRAPH.match(stripped):
            groups.append(m["id"])
            depth += 1
        elif stripped == "end":
            depth -= 1
            assert depth >= 0, "an 'end' without its subgraph"
        elif m := NODE.match(stripped):
            assert m["id"] not in nodes, f"{m['id']} declared twice"
            nodes[m["id"]] = stripped
        elif m := EDGE.match(stripped):
            edges.append((m["a"], m["b"]))
        elif m := CLASSDEF.match(stripped):
            defined_classes.add(m["name"])
        elif m := CLASS.match(stripped):
            used_classes.append((m["ids"].split(","), m["name"]))
        else:
            pytest.fail(f"not a flowchart statement: {line!r}")
    assert depth == 0, "a subgraph is not closed"
    assert not set(groups) & set(nodes), "a subgraph id is also a node id"
    for a, b in edges:
        assert a in nodes and b in nodes, f"edge {a} -> {b} between undeclared ids"
    for ids, name in used_classes:
        assert name in defined_classes
        assert set(ids) <= set(nodes)
    assert "end" not in nodes
    return nodes


def load(text: str, name: str = "wf.yaml") -> Workflow:
    pm = make_plugin_manager(autoload=False)
    return load_workflow_text(textwrap.dedent(text).lstrip(), name, pm.registries.step_models())


def edges_of(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if "->" in line]


def status_classes(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        if m := CLASS.match(line.strip()):
            for ident in m["ids"].split(","):
                found[ident] = m["name"].removeprefix(CLASS_PREFIX)
    return found


@pytest.mark.parametrize("name", ["fly", "refuel", "review"])
def test_library_workflows_draw_well_formed_flowcharts_with_their_subworkflows(
    name: str, maverick_project: Path
):
    config = make_config(make_plugin_manager(), maverick_project)
    workflow = load_named_workflow(config, name)
    text = workflow_mermaid(workflow, config=config)
    nodes = check_flowchart(text)
    for step in workflow.steps:
        assert mermaid_node_id(step.name) in nodes
    # the called fragments are drawn with their steps
    assert any("_ovalidation" in ident for ident in nodes), name


REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(
    f
    for f in [
        *(REPO / "examples").rglob("*.yaml"),
        *(REPO / "tests/integration/workflows").glob("*.yaml"),
    ]
    if f.name != "maverick.yaml"
)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_workflows_draw_well_formed_flowcharts(path: Path, maverick_project: Path):
    config = make_config(make_plugin_manager(), maverick_project)
    workflow = load_named_workflow(config, str(path))
    nodes = check_flowchart(workflow_mermaid(workflow, config=config))
    assert mermaid_node_id(workflow.steps[0].name) in nodes


def test_library_workflows_draw_with_statuses_too(maverick_project: Path):
    config = make_config(make_plugin_manager(), maverick_project)
    workflow = load_named_workflow(config, "refuel")
    statuses = {"agents": "restored", "each_issue": "running", "each_issue[0].fix": "done"}
    check_flowchart(workflow_mermaid(workflow, statuses, config=config))


def test_a_loop_is_a_group_that_says_what_it_iterates_and_how_many_at_once():
    text = workflow_mermaid(
        load("""
        version: "1.0"
        name: w
        steps:
          - name: each
            type: loop
            for_each: ${{ [1, 2, 3] }}
            max_concurrency: 2
            steps:
              - {name: work, type: shell, command: echo}
              - {name: more, type: shell, command: echo}
          - {name: after, type: shell, command: echo}
        """)
    )
    nodes = check_flowchart(text)
    assert (
        'subgraph s_each_g["loop each: for each of [1, 2, 3]<br/>max_concurrency: 2"]'
        in text.replace("&lsqb;", "[").replace("&rsqb;", "]")
    )
    assert nodes["s_each"] == 's_each{{"each<br/>loop"}}'
    body = text.split("subgraph s_each_g")[1].split("\n    end")[0]
    assert "s_each_owork[" in body and "s_each_omore[" in body and "s_after" not in body
    assert edges_of(text) == [
        "wf_start --> s_each",
        's_each -->|"each item"| s_each_owork',
        "s_each_owork --> s_each_omore",
        's_each_omore -->|"next item"| s_each',
        's_each -->|"all items done"| s_after',
        "s_after --> wf_end",
    ]


def test_a_branch_is_a_decision_with_one_edge_per_option_labelled_by_its_when():
    text = workflow_mermaid(
        load("""
        version: "1.0"
        name: w
        inputs:
          fast: {type: boolean, default: true}
        steps:
          - name: pick
            type: branch
            options:
              - when: ${{ inputs.fast }}
                step: {name: quick, type: shell, command: echo}
              - step: {name: slow, type: shell, command: echo}
        """)
    )
    nodes = check_flowchart(text)
    assert nodes["s_pick"] == 's_pick{"pick<br/>branch"}'
    assert edges_of(text) == [
        "wf_start --> s_pick",
        's_pick -->|"if inputs.fast"| s_pick_oquick',
        's_pick -->|"otherwise"| s_pick_oslow',
        "s_pick_oquick --> wf_end",
        "s_pick_oslow --> wf_end",
    ]


def test_a_branch_without_a_default_option_may_run_nothing():
    text = workflow_mermaid(
        load("""
        version: "1.0"
        name: w
        steps:
          - name: pick
            type: branch
            options:
              - when: ${{ false }}
                step: {name: never, type: shell, command: echo}
        """)
    )
    check_flowchart(text)
    assert 's_pick -.->|"no option: null"| wf_end' in edges_of(text)


def test_try_groups_its_steps_and_draws_the_path_a_failure_takes():
    text = workflow_mermaid(
        load("""
        version: "1.0"
        name: w
        steps:
          - name: attempt
            type: try
            steps:
              - {name: risky, type: shell, command: exit 1}
          - {name: after, type: shell, command: echo}
        """)
    )
    nodes = check_flowchart(text)
    assert nodes["s_attempt"] == 's_attempt[["attempt<br/>try"]]'
    assert nodes["s_attempt_caught"].startswith('s_attempt_caught[/"failure recorded')
    assert edges_of(text) == [
        "wf_start --> s_attempt",
        "s_attempt --> s_attempt_orisky",
        's_attempt -.->|"a step fails"| s_attempt_caught',
        "s_attempt_orisky --> s_after",
        "s_attempt_caught --> s_after",
        "s_after --> wf_end",
    ]


def test_a_when_goes_on_the_incoming_edge_and_a_skipped_step_is_bypassed():
    text = workflow_mermaid(
        load("""
        version: "1.0"
        name: w
        inputs:
          go: {type: boolean, default: true}
        steps:
          - {name: first, type: shell, command: echo}
          - {name: maybe, type: shell, command: echo, when: "${{ inputs.go }}"}
          - {name: also, type: shell, command: echo, when: "${{ not inputs.go }}"}
          - {name: last, type: shell, command: echo}
        """)
    )
    check_flowchart(text)
    assert edges_of(text) == [
        "wf_start --> s_first",
        's_first -->|"if inputs.go"| s_maybe',
        # two ways reach 'also': they meet in a junction that carries its condition
        "s_maybe --> s_also_j",
        's_first -.->|"else: skipped"| s_also_j',
        's_also_j -->|"if not inputs.go"| s_also',
        "s_also --> s_last",
        's_also_j -.->|"else: skipped"| s_last',
        "s_last --> wf_end",
    ]


def test_checkpoints_are_flags_and_checkpoint_after_and_retry_are_noted():
    text = workflow_mermaid(
        load("""
        version: "1.0"
        name: w
        steps:
          - name: build
            type: shell
            command: make
            checkpoint: true
            retry: {max_attempts: 3}
          - {name: saved, type: checkpoint, checkpoint_id: "build_${{ run.id }}"}
        """)
    )
    nodes = check_flowchart(text)
    assert nodes["s_build"] == (
        's_build["build<br/>shell<br/>⚑ checkpoint after<br/>retry: up to 3 attempts"]'
    )
    assert nodes["s_saved"] == (
        's_saved>"⚑ saved<br/>checkpoint<br/>id: build_&dollar;&lcub;&lcub; run.id &rcub;&rcub;"]'
    )


def test_a_subworkflow_is_drawn_with_its_steps_and_a_recursive_call_as_one_node(
    maverick_project: Path,
):
    (maverick_project / "inner.yaml").write_text(
        textwrap.dedent("""
        version: "1.0"
        name: inner
        steps:
          - {name: a, type: shell, command: echo}
          - {name: again, type: subworkflow, workflow: inner.yaml, when: "${{ false }}"}
        """)
    )
    outer = maverick_project / "outer.yaml"
    outer.write_text(
        textwrap.dedent("""
        version: "1.0"
        name: outer
        steps:
          - {name: call, type: subworkflow, workflow: inner.yaml}
          - {name: missing, type: subworkflow, workflow: nowhere}
        """)
    )
    config = make_config(make_plugin_manager(), maverick_project)
    workflow = load_named_workflow(config, str(outer))
    text = workflow_mermaid(workflow, config=config)
    nodes = check_flowchart(text)
    assert 'subgraph s_call_g["call → inner"]' in text
    assert "s_call_oa" in nodes
    assert "calls itself again" in nodes["s_call_oagain"]
    assert nodes["s_missing"].startswith(
        's_missing[["missing<br/>subworkflow → nowhere<br/>not loaded: no workflow named'
    )
    # without a configuration nothing is loaded: one node per subworkflow
    plain = check_flowchart(workflow_mermaid(workflow))
    assert "s_call_oa" not in plain and "s_call" in plain


def test_a_workflow_shown_by_a_relative_path_knows_when_it_calls_itself(
    maverick_project: Path, monkeypatch: pytest.MonkeyPatch
):
    # the file calls itself by another path than the one it was shown by
    again = f"../{maverick_project.name}/loop.yaml"
    (maverick_project / "loop.yaml").write_text(
        textwrap.dedent(f"""
        version: "1.0"
        name: again
        steps:
          - {{name: me, type: subworkflow, workflow: {again}, when: "${{{{ false }}}}"}}
        """)
    )
    monkeypatch.chdir(maverick_project)
    config = make_config(make_plugin_manager(), maverick_project)
    text = workflow_mermaid(load_named_workflow(config, "loop.yaml"), config=config)
    nodes = check_flowchart(text)
    assert "calls itself again" in nodes["s_me"]
    assert "subgraph" not in text


HOSTILE = '<img src=x onerror=alert(1)> "quote" #lt; a;b [x] {y} |z| `md` **b** &amp; $$x$$'


def test_hostile_names_and_conditions_come_out_as_inert_text():
    step = ShellStep(name=HOSTILE, type="shell", command="echo")
    workflow = Workflow(version="1.0", name=HOSTILE, steps=[step])
    text = workflow_mermaid(workflow, {HOSTILE: "failed"})
    check_flowchart(text)
    for raw in ("<img", '"quote"', "#lt;", "a;b", "[x]", "{y}", "|z|", "`", " &amp; "):
        assert raw not in text
    assert "&lt;img src=x onerror=alert(1)&gt; &quot;quote&quot; &num;lt&semi; a&semi;b" in text
    assert "&amp;amp&semi;" in text
    assert "&dollar;&ZeroWidthSpace;&dollar;x" in text  # $$…$$ would be a formula
    loaded = load("""
        version: "1.0"
        name: w
        steps:
          - name: s
            type: shell
            command: echo
            when: ${{ "<script>alert(1)</script>" != "" }}
        """)
    when_text = workflow_mermaid(loaded)
    check_flowchart(when_text)
    assert "<script>" not in when_text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in when_text


def test_statuses_colour_nodes_and_a_loop_summarizes_its_iterations():
    workflow = load("""
        version: "1.0"
        name: w
        steps:
          - {name: first, type: shell, command: echo}
          - name: each
            type: loop
            for_each: [1, 2, 3]
            steps:
              - {name: work, type: shell, command: echo}
          - {name: last, type: shell, command: echo}
        """)
    statuses = {
        "first": "restored",
        "each": "running",
        "each[0]": "completed",
        "each[0].work": "done",
        "each[1]": "failed",
        "each[1].work": "failed",
    }
    text = workflow_mermaid(workflow, statuses)
    nodes = check_flowchart(text)
    classes = status_classes(text)
    assert classes["s_first"] == "restored"
    assert classes["s_each"] == "failed"
    assert classes["s_each_owork"] == "failed"
    assert classes["s_last"] == "not_reached"
    assert "iterations: 1 done, 1 failed" in nodes["s_each"]
    for status in (
        "done",
        "restored",
        "failed",
        "interrupted",
        "running",
        "skipped",
        "not_reached",
    ):
        assert f"classDef {CLASS_PREFIX}{status} " in text
        assert classes[f"legend_{status}"] == status
    assert "classDef" not in workflow_mermaid(workflow)


def test_statuses_reach_into_subworkflows_and_a_recursive_call_summarizes_its_inside(
    maverick_project: Path,
):
    config = make_config(make_plugin_manager(), maverick_project)
    workflow = load_named_workflow(config, "review")
    statuses = {
        "agents": "done",
        "review": "interrupted",
        "review.settings": "restored",
        "review.reviewers[0].ask": "done",
        "review.reviewers[1].ask": "interrupted",
        "review.next": "running",
        "review.next.settings": "done",
        "review.next.reviewers[0].ask": "failed",
        "push": "not reached",
    }
    classes = status_classes(workflow_mermaid(workflow, statuses, config=config))
    assert classes["s_review"] == "interrupted"
    assert classes["s_review_osettings"] == "restored"
    assert classes["s_review_oreviewers_oask"] == "interrupted"
    assert classes["s_review_onext"] == "failed"  # drawn as one node: its inside counts
    assert classes["s_push"] == "not_reached"


def test_node_ids_are_distinct_for_distinct_paths_and_never_a_keyword():
    paths = ["a_b", "a.b", "a-b", "a__b", "a_.b", "a._b", "end", "each[3].work", "each.work"]
    ids = [mermaid_node_id(p) for p in paths]
    assert ids[-2] == ids[-1]  # loop indexes do not make new nodes
    assert len(set(ids[:-1])) == len(paths) - 1
    assert all(re.fullmatch(ID, i) for i in ids)
    assert mermaid_node_id("end") == "s_end"


def test_the_documented_example_is_what_the_command_prints(maverick_project: Path):
    docs = (REPO / "docs" / "workflows.md").read_text()
    shown = docs.split("`maverick workflows show review --mermaid`:\n\n```mermaid\n")[1]
    config = make_config(make_plugin_manager(), maverick_project)
    text = workflow_mermaid(load_named_workflow(config, "review"), config=config)
    assert shown.split("```")[0] == text
