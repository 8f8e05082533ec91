"""The example third-party plugin ``maverick-steptimer``, installed for real and run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "examples" / "plugins" / "maverick-steptimer"


@pytest.fixture(scope="module")
def steptimer_site(tmp_path_factory) -> Path:
    """``maverick-steptimer`` installed with pip into its own directory."""
    copy = tmp_path_factory.mktemp("src") / "maverick-steptimer"
    shutil.copytree(SOURCE, copy)  # setuptools writes build/ beside the sources
    target = tmp_path_factory.mktemp("site")
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
            str(target),
            str(copy),
        ],
        check=True,
        capture_output=True,
    )
    return target


def with_site(site: Path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}


def test_the_example_plugin_is_small_and_imports_only_the_public_api():
    code = (SOURCE / "maverick_steptimer" / "__init__.py").read_text()
    assert len(code.splitlines()) < 60
    imports = [line for line in code.splitlines() if line.startswith(("import ", "from "))]
    ours = [line for line in imports if "maverick" in line]
    assert ours == [
        "from maverick_core import hookimpl",
        "from maverick_core.api import Run, RunOutcome, Step, StepContext, state_dir",
    ]


def test_steptimer_times_every_step_through_run_step_and_writes_a_summary(
    cli, steptimer_site, write_workflow, project
):
    env = with_site(steptimer_site)
    listed = {p["name"]: p for p in json.loads(cli("plugins", "--json", env=env).stdout)}
    assert listed["steptimer"]["distribution"] == "maverick-steptimer"
    assert {"run_step", "workflow_finish"} <= set(listed["steptimer"]["hooks"])

    counter = project / "count"
    write_workflow(f"""
        version: "1.0"
        name: timed
        steps:
          - {{name: quick, type: shell, command: "true"}}
          - name: slow
            type: shell
            command: sleep 0.3
          - name: each
            type: loop
            for_each: [1, 2]
            steps:
              - {{name: work, type: shell, command: "echo ${{{{ item }}}}"}}
          - name: flaky
            type: shell
            command: echo x >> {counter}; test $(wc -l < {counter}) -ge 2
            retry: {{max_attempts: 2}}
    """)
    result = cli("run", "wf.yaml", env=env)
    assert result.returncode == 0, result.stderr
    assert "note: steptimer: 6 steps timed, slowest slow (" in result.stdout

    summary = (project / ".maverick" / "steptimer.txt").read_text().splitlines()
    assert summary[0].startswith("run timed-") and summary[0].endswith("(timed, completed)")
    paths = [line.split()[-1] for line in summary[1:]]
    assert sorted(paths) == ["each", "each[0].work", "each[1].work", "flaky", "quick", "slow"]
    seconds = {line.split()[-1]: float(line.split()[0].rstrip("s")) for line in summary[1:]}
    assert paths[0] == "slow" and seconds["slow"] >= 0.3
    assert seconds["each"] >= seconds["each[0].work"] + seconds["each[1].work"]


def test_steptimer_can_be_blocked_like_any_plugin(cli, steptimer_site, write_workflow, project):
    write_workflow('version: "1.0"\nname: t\nsteps:\n  - {name: a, type: shell, command: "true"}\n')
    result = cli("-p", "no:steptimer", "run", "wf.yaml", env=with_site(steptimer_site))
    assert result.returncode == 0, result.stderr
    assert "steptimer" not in result.stdout
    assert not (project / ".maverick" / "steptimer.txt").exists()
