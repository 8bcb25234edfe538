"""What a synco killed with SIGKILL leaves in the temporary folder, and that the next run removes it.

Nothing can clean up after ``kill -9`` (the OOM killer, a container's grace period running out): a dump
killed once its private copy of a SQLite database was made left that plaintext copy of production data
in ``$TMPDIR`` for good, and a killed serve its work folder. Every scratch space is a locked
``synco-scratch-*`` folder now, and the first one the next run makes removes those whose owner is dead.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from synco_core.engines.crashpoints import ENVIRONMENT_VARIABLE
from synco_core.scratch import temporary_scratch

SYNCO = [sys.executable, "-m", "synco_core"]
#: A value only the production database holds: found in a file, it is a plaintext copy of it.
SECRET = "customer-4f1c9a@example.org"


def make_site(root: Path) -> None:
    (root / "public" / "media").mkdir(parents=True)
    (root / "public" / "media" / "a.txt").write_text("a\n")
    with sqlite3.connect(root / "app.sqlite") as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT)")
        conn.executemany("INSERT INTO customers (email) VALUES (?)", [(f"{n}-{SECRET}",) for n in range(200)])
    conn.close()
    (root / ".synco.yml").write_text(
        "serve:\n  database: sqlite:///app.sqlite\n  web_root: public\n  file_sets:\n"
        "    - name: media\n      path: public/media\n      public: true\n")


def holding_the_secret(folder: Path) -> list[Path]:
    found = []
    for current, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(current) / name
            if SECRET.encode() in path.read_bytes():
                found.append(path)
    return found


def run(args: list[str], site: Path, temp: Path, kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(temp)}
    env.pop(ENVIRONMENT_VARIABLE, None)
    if kill_at is not None:
        env[ENVIRONMENT_VARIABLE] = kill_at
    return subprocess.run([*SYNCO, *args], cwd=site, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120)


#: The command killed, and the next run (serve without --keep waits for Ctrl-C: the next one keeps its session).
COMMANDS = {
    "db dump": (["db", "dump", "sqlite:///app.sqlite", "-o", "copy.sqlite"],) * 2,
    "db dump --sql": (["db", "dump", "sqlite:///app.sqlite", "--sql", "-o", "copy.sql"],) * 2,
    "serve": (["serve", "--all", "--id", "killed"], ["serve", "--keep", "--all", "--id", "scratch"]),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_next_run_removes_the_plaintext_copy_a_killed_dump_left(tmp_path: Path, command: str) -> None:
    site, temp = tmp_path / "site", tmp_path / "tmp"
    site.mkdir()
    temp.mkdir()
    make_site(site)
    args, next_args = COMMANDS[command]

    killed = run(args, site, temp, kill_at="sqlite:dump:copied")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert holding_the_secret(temp), "the kill came once the private copy of the database was made"
    assert not (site / "copy.sqlite").exists() and not (site / "copy.sql").exists()

    again = run(next_args, site, temp)
    assert again.returncode == 0, again.stdout + again.stderr
    assert list(temp.iterdir()) == [], "what the killed run left in the temporary folder is gone"
    if command == "serve":
        # The session folder the kill left is the next serve's to remove too, its owner being dead.
        assert [path.name for path in (site / "public").glob("synco-*")] == ["synco-scratch"]
    else:
        assert SECRET.encode() in next(site.glob("copy.*")).read_bytes()


def test_a_live_runs_scratch_is_left_alone(tmp_path: Path) -> None:
    """The next run removes only what a dead process left: a scratch folder in use by another one stays."""
    site, temp = tmp_path / "site", tmp_path / "tmp"
    site.mkdir()
    temp.mkdir()
    make_site(site)
    with temporary_scratch(str(temp)) as live:
        (live.path / "in-use").write_text("busy\n")
        done = run(["db", "dump", "sqlite:///app.sqlite", "-o", "copy.sqlite"], site, temp)
        assert done.returncode == 0, done.stdout + done.stderr
        assert (live.path / "in-use").read_text() == "busy\n"
        assert list(temp.iterdir()) == [live.path]
    assert list(temp.iterdir()) == []
