"""The terminal reporter as a person sees it: plain lines in a pipe, bars on a terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

from maverick_core.testing import maverick_executable

LOOP = """
version: "1.0"
name: looping
steps:
  - name: each
    type: loop
    for_each: ${{ range(6) }}
    steps:
      - {name: work, type: shell, command: "sleep 0.3"}
"""


def run_in_terminal(args: list[str], cwd) -> str:
    """Run a command with a pseudo-terminal as its stdout; return everything it drew."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        args,
        cwd=cwd,
        stdout=follower,
        stderr=follower,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "100"},
    )
    os.close(follower)
    chunks = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait()
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_a_loop_shows_a_progress_bar_on_a_terminal(project, write_workflow):
    write_workflow(LOOP, "loop.yaml")
    screen = run_in_terminal([*maverick_executable(), "run", "loop.yaml"], project)
    assert "━" in screen  # the bar
    assert "/6" in screen  # its count of iterations
    assert "looping completed in" in screen


def test_piped_output_has_no_progress_bar_and_one_line_per_step(cli, write_workflow):
    write_workflow(LOOP, "loop.yaml")
    result = cli("run", "loop.yaml")
    assert "━" not in result.stdout
    assert "\x1b[" not in result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith("running looping (run looping-")
    assert lines[1] == "  loop each: 6 iterations"
    assert sum(1 for line in lines if line.startswith("    ok each[")) == 6
