"""The README's demo (``nox -s demo``): serve -> receive -> install on the SQLite example app, as a user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from synco_core.testing.services import require_module

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo.py"

STEPS = [
    "What synco sees in the server copy",
    "Server: publish an encrypted session (synco serve)",
    "Laptop: download, decrypt and verify (synco receive)",
    "Laptop: install into the local instance (synco install)",
    "Laptop: receive again (only what changed is downloaded: nothing)",
    "Server: stop serve; it removes what it published",
]
FILES = [
    "storage/app/private/reports/2024-q1.csv",
    "storage/app/public/posts/1.png",
    "storage/app/public/posts/2.png",
    "storage/app/public/posts/3.png",
    "storage/app/public/readme.txt",
]


@pytest.mark.slow
def test_demo_round_trip(tmp_path: Path) -> None:
    require_module("synco_laravel", "the demo needs synco-laravel installed: nox -s tests")
    # The demo works in a folder of its own under TMPDIR; pointing TMPDIR here shows it cleans up after itself.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp_path)}
    result = subprocess.run([sys.executable, str(DEMO)], capture_output=True, text=True, env=env, timeout=180,
                            check=False, cwd=tmp_path)
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    assert result.returncode == 0, output + result.stderr
    assert [line[4:] for line in output.splitlines() if line.startswith("==> ")] == STEPS
    # Sanitised at the source: the laptop gets placeholder names and addresses, and every file.
    assert "user 1: Demo User <user1@example.invalid>" in output
    assert "    files: " + ", ".join(FILES) in output
    # The second receive downloads nothing; serve leaves nothing behind in the web root.
    assert "0 downloaded, 4 up to date, 0 failed" in output
    assert "session folders left in the web root: 0" in output
    # The session key appears only shortened in the log.
    assert not re.search(r"AGE-SECRET-KEY-1[0-9A-Z]{40,}", output + result.stderr)
    assert not list(tmp_path.glob("synco-demo-*"))
