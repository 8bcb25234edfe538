"""``synco pull --install --yes`` into a receive folder that holds another project's files: the refusal comes
before anything local changes. The streamed dump started loading into the local database as soon as it began
to arrive, before the session's meta (and its project) was read; the refusal then came after the swap, and the
rollback left the local project otherwise than it was. Checked: the local database's rows, every file of the
local project (the receive folder and synco's state records inside it included)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from pull_support import make_project, remote_environment, run_synco

from synco_core.testing.services import mysql_admin_connection, mysql_url_for


def rows_digest(database: Path) -> str:
    connection = sqlite3.connect(database)
    try:
        rows = connection.execute("SELECT id, title, body FROM posts ORDER BY id").fetchall()
    finally:
        connection.close()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def local_state(root: Path) -> dict[str, str]:
    """Every file under the local project (its database file, receive folder and synco's records), by digest."""
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("delete", [False, True], ids=["keep", "delete"])
def test_pull_install_of_another_project_changes_nothing_local(tmp_path: Path, delete: bool) -> None:
    env = remote_environment(tmp_path)
    shop = make_project(tmp_path / "srv" / "shop", public_files=3, rows=40)
    blog = make_project(tmp_path / "srv" / "blog", public_files=4, rows=70)
    # Another project: a database of another name (SQLite's is told by its file's name).
    (blog.root / "db.sqlite").rename(blog.root / "blog.sqlite")
    (blog.root / "synco-pulltest.json").write_text('{"sqlite": "blog.sqlite"}')
    laptop = make_project(tmp_path / "laptop", public_files=0, rows=3).root
    first = run_synco(["pull", f"docker://web-1{shop.root}", "--target", "out", "--install", "--yes"], env, laptop)
    assert first.returncode == 0, first.stdout + first.stderr
    before_rows, before = rows_digest(laptop / "db.sqlite"), local_state(laptop)

    args = ["pull", f"docker://web-1{blog.root}", "--target", "out", "--install", "--yes"]
    result = run_synco([*args, "--delete"] if delete else args, env, laptop)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "another project" in result.stderr and "--other-project" in result.stderr, result.stderr
    assert rows_digest(laptop / "db.sqlite") == before_rows
    assert local_state(laptop) == before


def mysql_state(name: str) -> tuple[object, ...]:
    """The rows of every table of ``name``, and every database whose name starts with it (scratch or kept
    copies an install leaves)."""
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES")
            databases = sorted(str(row[0]) for row in cur.fetchall() if str(row[0]).startswith(name))
            cur.execute(f"SELECT id, title FROM `{name}`.posts ORDER BY id")
            rows = cur.fetchall()
        return databases, hashlib.sha256(repr(rows).encode()).hexdigest()
    finally:
        conn.close()


def mysql_project(root: Path, database: str, rows: int) -> Path:
    make_project(root, public_files=3, rows=0)
    (root / "synco-pulltest.json").write_text(json.dumps({"database_url": mysql_url_for(database)}))
    conn = mysql_admin_connection(database)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE posts (id INT PRIMARY KEY, title VARCHAR(40))")
            cur.executemany("INSERT INTO posts VALUES (%s, %s)", [(n, f"{root.name} {n}") for n in range(rows)])
        conn.commit()
    finally:
        conn.close()
    return root


@pytest.mark.mysql
def test_pull_install_of_another_mysql_project_loads_nothing(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    """The MySQL dump streams in and, with --install --yes, loads while it arrives: the refusal must come first."""
    env = remote_environment(tmp_path)
    shop = mysql_project(tmp_path / "srv" / "shop", mysql_database_factory(), 40)
    blog = mysql_project(tmp_path / "srv" / "blog", mysql_database_factory(), 2000)
    local_db = mysql_database_factory()
    laptop = mysql_project(tmp_path / "laptop", local_db, 3)
    first = run_synco(["pull", f"docker://web-1{shop}", "--target", "out", "--install", "--yes"], env, laptop)
    assert first.returncode == 0, first.stdout + first.stderr
    before_db, before = mysql_state(local_db), local_state(laptop)

    result = run_synco(["pull", f"docker://web-1{blog}", "--target", "out", "--install", "--yes"], env, laptop)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "another project" in result.stderr and "--other-project" in result.stderr, result.stderr
    assert mysql_state(local_db) == before_db
    assert local_state(laptop) == before

    # --other-project takes the folder over, and the dump then loads (streamed) as before.
    taken = run_synco(["pull", f"docker://web-1{blog}", "--target", "out", "--install", "--yes", "--other-project"],
                      env, laptop)
    assert taken.returncode == 0, taken.stdout + taken.stderr
    assert mysql_state(local_db)[1] == mysql_state(blog_database(blog))[1]


def blog_database(root: Path) -> str:
    return str(json.loads((root / "synco-pulltest.json").read_text())["database_url"]).rsplit("/", 1)[1]
