"""``maverick workflows show NAME --mermaid`` as a user runs it: a real subprocess."""

from __future__ import annotations

BROKEN = """\
version: "1.0"
name: broken
steps:
  - name: a
    type: shell
    comand: echo
"""


def test_workflows_show_mermaid_prints_the_flowchart_of_a_library_workflow(cli):
    result = cli("workflows", "show", "refuel", "--mermaid")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "flowchart TD"
    text = result.stdout
    # the loop over the issues, the try around each fix, the fragment it calls
    assert "subgraph s_each__issue_g[" in text
    assert "max_concurrency: inputs.parallel" in text
    assert 's_each__issue_ofix -.->|"a step fails"| s_each__issue_ofix_caught' in text
    assert "s_each__issue_ofix_oissue__commit_ovalidation[" in text
    assert result.stderr == ""


def test_workflows_show_mermaid_takes_a_yaml_path(cli, write_workflow):
    write_workflow(
        'version: "1.0"\nname: tiny\nsteps:\n  - {name: hi, type: shell, command: echo}\n',
        "tiny.yaml",
    )
    result = cli("workflows", "show", "tiny.yaml", "--mermaid")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "flowchart TD\n"
        '    wf_start(["tiny<br/>start"])\n'
        '    s_hi["hi<br/>shell"]\n'
        '    wf_end(["end"])\n'
        "    wf_start --> s_hi\n"
        "    s_hi --> wf_end\n"
    )


def test_workflows_show_mermaid_errors_are_one_line_with_exit_2(cli, write_workflow):
    unknown = cli("workflows", "show", "no_such_workflow", "--mermaid")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("error: no workflow named 'no_such_workflow'")
    assert len(unknown.stderr.splitlines()) == 1 and unknown.stdout == ""
    write_workflow(BROKEN, "broken.yaml")
    broken = cli("workflows", "show", "broken.yaml", "--mermaid")
    assert broken.returncode == 2
    assert "broken.yaml:6:5: steps[0].comand: unknown key (did you mean 'command'?)" in (
        broken.stderr.splitlines()
    )
    assert "Traceback" not in broken.stderr
    assert broken.stdout == ""


def test_workflows_show_help_describes_mermaid(cli):
    result = cli("workflows", "show", "--help")
    assert result.returncode == 0
    assert "--mermaid" in result.stdout and "Mermaid flowchart" in result.stdout
