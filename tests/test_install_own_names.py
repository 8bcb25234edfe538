"""A target named as synco names what it keeps beside another target is refused, on every engine.

An install into ``shop`` keeps ``shop``'s previous content as ``shop__synco_prev`` (SQLite:
``shop.db.synco-previous``) and loads into ``shop__synco_new`` (``.shop.db.synco-new``). ``synco db load``
into one of those names was accepted: it replaced ``shop``'s kept copy, under another lock than ``shop``'s
(so not even waiting for an install of ``shop`` running at the same moment), and ``synco db rollback`` of
``shop`` then reported success for content that had never been in ``shop``. Real ``synco db load`` and
``db rollback`` processes, real servers.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from synco_forks import run_synco

from synco_core.testing.services import (
    mysql_admin_connection,
    mysql_url_for,
    postgres_admin_connection,
    postgres_url_for,
)

PREFIX = "synco_test_concurrency_"
SERVER_SUFFIXES = ("__synco_new", "__synco_prev", "__synco_swap")
#: (URL of the test's database with a suffix, the values of table t there).
Server = tuple[Callable[[str], str], Callable[[str], list[str]]]


def synco(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``synco`` in a process of its own, forked from a helper that has imported it already (synco_forks.py)."""
    return run_synco(list(args), env=os.environ, cwd=cwd, timeout=180)


def _drop_mysql(names: list[str]) -> None:
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES")
            for (db,) in cur.fetchall():
                if any(db.lower().startswith(name.lower()) for name in names):
                    cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
    finally:
        conn.close()


def _drop_postgres(names: list[str]) -> None:
    conn = postgres_admin_connection()
    try:
        for (db,) in conn.execute("SELECT datname FROM pg_database").fetchall():
            if any(db.startswith(name) for name in names):
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    finally:
        conn.close()


@pytest.fixture(params=["mysql", "postgresql"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """(URL of a database name, the values of its table t) on one server; every database of this test dropped."""
    engine = str(request.param)
    made: list[str] = [PREFIX + uuid.uuid4().hex[:10]]
    if engine == "mysql":
        mysql_admin_connection().close()

        def rows(name: str) -> list[str]:
            conn = mysql_admin_connection(name)
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT v FROM t ORDER BY v")
                    return [row[0] for row in cur.fetchall()]
            finally:
                conn.close()

        yield (lambda suffix: mysql_url_for(made[0] + suffix)), (lambda suffix: rows(made[0] + suffix))
        _drop_mysql(made)
    else:
        postgres_admin_connection().close()

        def rows(name: str) -> list[str]:
            import psycopg

            with psycopg.connect(postgres_url_for(name)) as conn:
                return [row[0] for row in conn.execute("SELECT v FROM t ORDER BY v").fetchall()]

        yield (lambda suffix: postgres_url_for(made[0] + suffix)), (lambda suffix: rows(made[0] + suffix))
        _drop_postgres(made)


def _refused(proc: subprocess.CompletedProcess[str], name: str) -> None:
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert proc.returncode == 1 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert name in errors[0] and "synco keeps" in errors[0], errors[0]


def _scripts(folder: Path) -> tuple[Path, Path, Path]:
    scripts = []
    for label in ("original", "installed", "into a kept copy"):
        script = folder / f"{label.replace(' ', '-')}.sql"
        script.write_text(f"CREATE TABLE t (v VARCHAR(40));\nINSERT INTO t VALUES ('{label}');\n")
        scripts.append(script)
    return scripts[0], scripts[1], scripts[2]


def test_a_servers_derived_names_are_no_targets(tmp_path: Path, server: Server) -> None:
    url, rows = server
    original, installed, stray = _scripts(tmp_path)
    for script in (original, installed):
        done = synco("db", "load", url(""), str(script), "--yes", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    assert rows("") == ["installed"] and rows("__synco_prev") == ["original"]
    # MySQL folds database names to lower case where the server runs with lower_case_table_names.
    for suffix in SERVER_SUFFIXES + ("__SYNCO_PREV",) * url("").startswith("mysql:"):
        name = url(suffix).rsplit("/", 1)[1]
        _refused(synco("db", "load", url(suffix), str(stray), "--yes", cwd=tmp_path), name)
        _refused(synco("db", "rollback", url(suffix), "--yes", cwd=tmp_path), name)
    assert rows("__synco_prev") == ["original"], "the kept copy was replaced"
    done = synco("db", "rollback", url(""), "--yes", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert rows("") == ["original"]


def test_a_sqlite_files_kept_copy_and_temporary_names_are_no_targets(tmp_path: Path) -> None:
    original, installed, stray = _scripts(tmp_path)
    folder = tmp_path / "data"
    folder.mkdir()
    target = folder / "app.db"
    for script in (original, installed):
        done = synco("db", "load", f"sqlite:///{target}", str(script), "--yes", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    kept = folder / "app.db.synco-previous"

    def rows(path: Path) -> list[str]:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return [row[0] for row in conn.execute("SELECT v FROM t ORDER BY v")]

    assert rows(target) == ["installed"] and rows(kept) == ["original"]
    for name in (kept.name, ".app.db.synco-new", ".app.db.synco-keep", ".app.db.synco-swap", "app.db.SYNCO-PREVIOUS"):
        _refused(synco("db", "load", f"sqlite:///{folder / name}", str(stray), "--yes", cwd=tmp_path), name)
        _refused(synco("db", "rollback", f"sqlite:///{folder / name}", "--yes", cwd=tmp_path), name)
    assert rows(kept) == ["original"], "the kept copy was replaced"
    assert sorted(path.name for path in folder.iterdir()) == ["app.db", "app.db.synco-previous"]
    done = synco("db", "rollback", f"sqlite:///{target}", "--yes", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert rows(target) == ["original"]
