"""The vendored JavaScript is what VENDORED.md says, and the pages load nothing else."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "maverick_ui"
VENDOR = PACKAGE / "static" / "vendor"


def test_vendored_mermaid_matches_its_recorded_version_checksum_and_license() -> None:
    notes = (VENDOR / "VENDORED.md").read_text()
    recorded = re.search(r"sha256 of `mermaid.min.js`: `([0-9a-f]{64})`", notes)
    assert recorded, "VENDORED.md records the checksum"
    script = (VENDOR / "mermaid.min.js").read_bytes()
    assert hashlib.sha256(script).hexdigest() == recorded.group(1)
    version = re.search(r"\| mermaid \| (\d+\.\d+\.\d+) \|", notes)
    assert version and f'"{version.group(1)}"'.encode() in script
    assert "MIT License" in (VENDOR / "mermaid.LICENSE").read_text()


def test_templates_and_scripts_reference_no_other_origin() -> None:
    for path in [*(PACKAGE / "templates").glob("*.html"), *(PACKAGE / "static").glob("*.*")]:
        text = path.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), path.name
        assert "@import" not in text and "url(http" not in text, path.name
