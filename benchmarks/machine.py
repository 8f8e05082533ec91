"""What the figures were measured on: CPU, filesystem, Python."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def filesystem_of(path: Path) -> dict[str, str]:
    """The mount that holds ``path``: filesystem type, device and mount point."""
    best = ("", "unknown", "unknown")
    resolved = str(path.resolve())
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        mounts = []
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        device, mount_point, fs_type = fields[0], fields[1], fields[2]
        inside = resolved == mount_point or resolved.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best[0]):
            best = (mount_point, fs_type, device)
    return {"type": best[1], "device": best[2], "mount": best[0] or "unknown"}


def describe(directory: Path) -> dict[str, Any]:
    """The ``machine`` entry of the results, for the directory the stores used."""
    fs = filesystem_of(directory)
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "filesystem": f"{fs['type']} on {fs['device']} (mounted at {fs['mount']})",
        "directory": str(directory),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": f"{platform.system()} {platform.release()}",
    }
