"""On Windows maverick says, in one line, to use WSL: no traceback from POSIX imports."""

from __future__ import annotations

import subprocess
import sys

# Windows as far as Python code can tell: its platform name, and no POSIX-only modules.
# click runs on Windows; imported as if there, it would want msvcrt, which Linux lacks.
AS_WINDOWS = (
    "import sys, click\n"
    "sys.platform = 'win32'\n"
    "for name in ('fcntl', 'termios', 'resource', 'pwd', 'grp'):\n"
    "    sys.modules[name] = None\n"
    "from maverick_core.engine.cli import main\n"
    "main(sys.argv[1:])\n"
)


def run_as_windows(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", AS_WINDOWS, *args], capture_output=True, text=True, check=False
    )


def test_on_windows_every_command_names_wsl_in_one_line_and_exits_2() -> None:
    for args in (["--version"], ["runs", "list"], ["run", "wf.yaml"]):
        result = run_as_windows(*args)
        assert result.returncode == 2, result.stderr
        [line] = result.stderr.splitlines()
        assert line.startswith("error: ") and "WSL" in line
        assert result.stdout == ""
