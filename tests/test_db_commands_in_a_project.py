"""``synco db load`` / ``db rollback DATABASE_URL`` in a project meet its installs: they wait their turn.

They replace a database by its URL and took no project lock. After ``synco install`` was killed with its
database in (its journal left for the next command to undo), a ``db load`` of that database in the
project kept the killed install's content as the kept copy and dropped the user's; the next ``synco db
rollback`` then said it had put back what the install replaced, and the database held the killed install's
content. While an install ran, they went ahead the same way. Real processes (``SYNCO_DEBUG_KILL_AT`` names
the step the install is killed at), SQLite and MariaDB.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from synco_core import folderlock
from synco_core.testing.services import mysql_admin_connection, mysql_url_for

PREFIX = "synco_test_concurrency_"
KILL_AT = "install:journal:database-done"


def synco(*args: str, cwd: Path, kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "SYNCO_DEBUG_KILL_AT"}
    if kill_at:
        env["SYNCO_DEBUG_KILL_AT"] = kill_at
    return subprocess.run([sys.executable, "-m", "synco_core", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, stdin=subprocess.DEVNULL, timeout=180, check=False)


def refused(proc: subprocess.CompletedProcess[str]) -> str:
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert proc.returncode == 1 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return errors[0]


#: (the database's URL, the values of its table t).
Target = tuple[str, Callable[[], list[str]]]


@pytest.fixture(params=["sqlite", "mysql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "sqlite":
        path = tmp_path / "app.db"
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE t (v VARCHAR(40))")
            conn.execute("INSERT INTO t VALUES ('original')")
        conn.close()

        def sqlite_rows() -> list[str]:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as lite:
                return [row[0] for row in lite.execute("SELECT v FROM t ORDER BY v")]

        yield f"sqlite:///{path}", sqlite_rows
        return
    name = PREFIX + uuid.uuid4().hex[:10]
    admin = mysql_admin_connection()
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
            cur.execute(f"CREATE TABLE `{name}`.t (v VARCHAR(40))")
            cur.execute(f"INSERT INTO `{name}`.t VALUES ('original')")

        def mysql_rows() -> list[str]:
            with admin.cursor() as cur:
                cur.execute(f"SELECT v FROM `{name}`.t ORDER BY v")
                return [row[0] for row in cur.fetchall()]

        yield mysql_url_for(name), mysql_rows
    finally:
        with admin.cursor() as cur:
            cur.execute("SHOW DATABASES")
            for (db,) in cur.fetchall():
                if db.startswith(name):
                    cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
        admin.close()


def _project(tmp_path: Path, url: str) -> tuple[Path, Path, Path]:
    """(a project whose database is ``url``, a received folder with a dump of it, another dump)."""
    project, received = tmp_path / "project", tmp_path / "received"
    project.mkdir()
    received.mkdir()
    (project / ".synco.yml").write_text(f"serve:\n  database: {url}\n")
    (received / "dbDump.sql").write_text("CREATE TABLE t (v VARCHAR(40));\nINSERT INTO t VALUES ('installed');\n")
    engine = "sqlite" if url.startswith("sqlite") else "mysql"
    (received / ".synco-received.json").write_text(json.dumps({"version": 1, "session": "s", "fileSets": [
        {"name": "dbDump", "kind": "database", "path": "dbDump.sql", "engine": engine, "format": "sql"}]}))
    other = tmp_path / "other.sql"
    other.write_text("CREATE TABLE t (v VARCHAR(40));\nINSERT INTO t VALUES ('loaded by hand');\n")
    return project, received, other


def test_after_a_killed_install_db_load_and_rollback_by_url_wait_for_its_undo(tmp_path: Path,
                                                                               target: Target) -> None:
    url, rows = target
    project, received, other = _project(tmp_path, url)
    killed = synco("install", str(received), "--project", str(project), "--yes", cwd=project, kill_at=KILL_AT)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert rows() == ["installed"]
    for command in (["db", "load", url, str(other), "--yes"], ["db", "rollback", url, "--yes"]):
        line = refused(synco(*command, cwd=project))
        assert "interrupted before it finished" in line and "synco db rollback" in line, line
        assert rows() == ["installed"]
    undone = synco("db", "rollback", "--yes", cwd=project)
    assert undone.returncode == 0, undone.stderr
    assert "was interrupted before it finished" in undone.stderr
    assert rows() == ["original"], "the user's content is gone"
    # Undone, the project takes a db load again (the kept copy is then what it replaced).
    assert synco("db", "load", url, str(other), "--yes", cwd=project).returncode == 0
    assert rows() == ["loaded by hand"]


HOLD = """
import sys
from pathlib import Path
from synco_core import folderlock
folderlock.acquire(Path(sys.argv[1]), folderlock.INSTALL_LOCK, "installing into")
print("held", flush=True)
sys.stdin.read()
"""


def test_while_an_install_runs_in_the_project_db_load_and_rollback_refuse(tmp_path: Path, target: Target) -> None:
    url, rows = target
    project, received, other = _project(tmp_path, url)
    assert synco("install", str(received), "--project", str(project), "--yes", cwd=project).returncode == 0
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(project)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        for command in (["db", "load", url, str(other), "--yes"], ["db", "rollback", url, "--yes"]):
            line = refused(synco(*command, cwd=project))
            assert f"(process {holder.pid}) is installing into {project.resolve()}" in line, line
            assert rows() == ["installed"]
    finally:
        holder.kill()
        holder.wait()
    assert synco("db", "rollback", url, "--yes", cwd=project).returncode == 0
    assert rows() == ["original"]
    assert not (project / folderlock.INSTALL_LOCK).exists()
