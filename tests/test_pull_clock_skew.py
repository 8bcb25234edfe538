"""A pull whose laptop clock or time zone differs from the server's (through the docker shim).

The session is made by the pull itself, with a key of its own and a new id, so no old session can stand in
for it: its meta carries no expiry, and the laptop's clock has nothing to decide (docs/security.md, no
replay). A receive of a served session, whose expiry is the server's clock, is tests/security/test_replay.py's.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pull_support import Project, make_project, remote_environment, row_count, tree_digest


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "app", public_files=3)


def _synco_with_clock_shifted(seconds: int, args: list[str], env: dict[str, str],
                              cwd: Path) -> subprocess.CompletedProcess[str]:
    """``synco ARGS`` in a process whose clock reads ``seconds`` off (the remote side it starts reads the real
    one, as a server with a correct clock does)."""
    shifted = ("import time; real = time.time; time.time = lambda: real() + " + str(seconds) +
               "; from synco_core.cli.main import main; main()")
    return subprocess.run([sys.executable, "-c", shifted, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("hours", [3, -3])
def test_a_pull_goes_through_whatever_the_laptops_clock_says(project: Project, tmp_path: Path, hours: int) -> None:
    result = _synco_with_clock_shifted(hours * 3600, ["pull", f"docker://web-1{project.root}", "--target", "out"],
                                       remote_environment(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    assert row_count(tmp_path / "out" / "dbDump.sqlite") == project.rows
    assert tree_digest(tmp_path / "out" / "uploads") == tree_digest(project.root / "public" / "uploads")



def test_a_pull_between_zones_is_current_at_once_the_second_time(project: Project, tmp_path: Path) -> None:
    """The server in Chatham (UTC+13:45 in summer, DST), the laptop in Newfoundland (UTC-3:30): every time that
    travels is an instant, so the second pull finds everything current (the quick re-sync digest and the
    files' mtimes agree) and fetches nothing. The laptop's process takes its zone, then gives the remote side
    it starts (through the shim, in its environment) the server's."""
    env = remote_environment(tmp_path, TZ="Pacific/Chatham")
    laptop = ("import os, time; os.environ['TZ'] = 'America/St_Johns'; time.tzset(); "
              "assert time.strftime('%Z') in ('NST', 'NDT'); os.environ['TZ'] = 'Pacific/Chatham'; "
              "from synco_core.cli.main import main; main()")
    argv = [sys.executable, "-c", laptop, "pull", f"docker://web-1{project.root}", "--target", "out"]
    first = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert tree_digest(tmp_path / "out" / "uploads") == tree_digest(project.root / "public" / "uploads")
    again = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "already received" in again.stdout, again.stdout
