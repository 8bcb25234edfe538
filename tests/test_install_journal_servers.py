"""The install journal with server databases (MariaDB, PostgreSQL) and databases an install created.

A whole ``synco install`` (database and two file sets) killed with SIGKILL after its database step, then
``synco db rollback`` in the project: the database's content and the project's tree are as before. And when
the install created the database (there was none of that name), a failed install, a killed one and a
rollback drop it again instead of leaving a database nobody had (SQLite too).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_install_journal import KILLED, leftovers, synco, tree

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine
from synco_core.testing.services import (
    drop_postgres_databases,
    mysql_admin_connection,
    mysql_url_for,
    postgres_admin_connection,
    postgres_url_for,
    unique_name,
)
from synco_core.values import DumpOptions

ORIGINAL = ["CREATE TABLE parent (id INTEGER PRIMARY KEY, name VARCHAR(40))",
            "INSERT INTO parent VALUES (1, 'alpha'), (2, 'beta')"]
NEW = ["CREATE TABLE fresh (id INTEGER PRIMARY KEY)", "INSERT INTO fresh VALUES (1), (2), (3)"]


@dataclass
class Server:
    """One engine's throw-away databases: made, read and dropped by the test, not through synco."""

    engine: str
    url: Callable[[str], str]
    run: Callable[[str, list[str]], None]
    content: Callable[[str], dict[str, list[tuple[Any, ...]]] | None]


def _mysql_run(name: str, statements: list[str]) -> None:
    conn = mysql_admin_connection()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS `{name}`")
        cur.execute(f"USE `{name}`")
        for statement in statements:
            cur.execute(statement)
    conn.close()


def _mysql_content(name: str) -> dict[str, list[tuple[Any, ...]]] | None:
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,))
            if cur.fetchone() is None:
                return None
            cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (name,))
            tables = sorted(row[0] for row in cur.fetchall())
            content = {}
            for table in tables:
                cur.execute(f"SELECT * FROM `{name}`.`{table}` ORDER BY 1")
                content[table] = [tuple(row) for row in cur.fetchall()]
            return content
    finally:
        conn.close()


def _postgres_run(name: str, statements: list[str]) -> None:
    admin = postgres_admin_connection()
    if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
        admin.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    conn = postgres_admin_connection(name)
    for statement in statements:
        conn.execute(statement)
    conn.close()


def _postgres_content(name: str) -> dict[str, list[tuple[Any, ...]]] | None:
    admin = postgres_admin_connection()
    try:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            return None
    finally:
        admin.close()
    conn = postgres_admin_connection(name)
    try:
        tables = sorted(row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall())
        return {table: [tuple(row) for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1').fetchall()]
                for table in tables}
    finally:
        conn.close()


def _sqlite_run(path: str, statements: list[str]) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for statement in statements:
            conn.execute(statement)
        conn.commit()


def _sqlite_content(path: str) -> dict[str, list[tuple[Any, ...]]] | None:
    if not Path(path).exists():
        return None
    with contextlib.closing(sqlite3.connect(path)) as conn:
        tables = sorted(row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        return {table: [tuple(row) for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1')]
                for table in tables}


SERVERS = {
    "mysql": Server("mysql", mysql_url_for, _mysql_run, _mysql_content),
    "postgresql": Server("postgresql", postgres_url_for, _postgres_run, _postgres_content),
    "sqlite": Server("sqlite", lambda path: f"sqlite:///{path}", _sqlite_run, _sqlite_content),
}
ENGINES = [pytest.param("mysql", marks=pytest.mark.mysql), pytest.param("postgresql", marks=pytest.mark.postgres)]


@dataclass
class Scene:
    server: Server
    project: Path
    received: Path
    target: str
    before: dict[str, str]

    def tree(self) -> dict[str, str]:
        return tree(self.project, frozenset({"db", "db/app.db", "db/app.db.synco-previous"}))


@pytest.fixture
def make_scene(tmp_path: Path) -> Iterator[Callable[[str, bool], Scene]]:
    """A project whose database (of ``engine``) holds ORIGINAL, or does not exist; a session with NEW."""
    names: dict[str, list[str]] = {"mysql": [], "postgresql": []}

    def make(engine: str, target_exists: bool) -> Scene:
        server = SERVERS[engine]
        project, received = tmp_path / "project", tmp_path / "received"
        (project / "db").mkdir(parents=True)
        source, target = (str(tmp_path / "source.db"), str(project / "db" / "app.db")) if engine == "sqlite" else (
            unique_name(), unique_name())
        if engine != "sqlite":
            names[engine] += [source, target]
        server.run(source, NEW)
        if target_exists:
            server.run(target, ORIGINAL)
        (received / "media").mkdir(parents=True)
        (received / "media" / "new.txt").write_text("new")
        (received / "private").mkdir()
        (received / "private" / "secret.txt").write_text("new secret")
        with (received / "dbDump.sql").open("wb") as out:
            dump_with_engine(parse_database_url(server.url(source)), out, DumpOptions())
        (received / ".synco-received.json").write_text(json.dumps({"version": 1, "session": "s", "fileSets": [
            {"name": "dbDump", "kind": "database", "path": "dbDump.sql", "engine": engine, "format": "sql"},
            {"name": "media", "kind": "public", "path": "media", "relativeBasePath": "public/media"},
            {"name": "private", "kind": "private", "path": "private", "relativeBasePath": "var/storage"},
        ]}))
        (project / ".synco.yml").write_text(
            f"serve:\n  database: {server.url(target)}\n  file_sets:\n"
            "    - name: media\n      path: public/media\n      public: true\n      url: media/\n"
            "    - name: private\n      path: var/storage\n")
        (project / "public" / "media").mkdir(parents=True)
        (project / "public" / "media" / "old.txt").write_text("old")
        (project / "public" / "media" / ".htaccess").write_text("deny from all")
        scene = Scene(server, project, received, target, {})
        scene.before = scene.tree()
        return scene

    yield make
    if names["mysql"]:
        conn = mysql_admin_connection()
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES")
            for (db,) in cur.fetchall():
                if any(db.startswith(name) for name in names["mysql"]):
                    cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
        conn.close()
    drop_postgres_databases(names["postgresql"])


def install(scene: Scene, kill_at: str | None = None) -> Any:
    return synco("install", str(scene.received), "--project", str(scene.project), "--yes", kill_at=kill_at)


def rollback(scene: Scene, kill_at: str | None = None) -> Any:
    return synco("db", "rollback", "--yes", kill_at=kill_at, cwd=scene.project)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("point", ["install:journal:database-done", "files:install:kept#1",
                                   "install:journal:files-started#2", "install:journal:recorded"])
def test_install_with_a_server_database_killed_then_rolled_back(make_scene: Callable[[str, bool], Scene],
                                                                engine: str, point: str) -> None:
    scene = make_scene(engine, True)
    original = scene.server.content(scene.target)
    assert install(scene, kill_at=point).returncode == KILLED
    rolled = rollback(scene)
    assert rolled.returncode == 0, rolled.stderr
    assert "was interrupted before it finished" in rolled.stdout + rolled.stderr
    assert scene.server.content(scene.target) == original
    assert scene.tree() == scene.before
    assert leftovers(scene.project) == []


ALL_ENGINES = [*ENGINES, "sqlite"]


@pytest.mark.parametrize("engine", ALL_ENGINES)
def test_a_failed_install_drops_the_database_it_created(make_scene: Callable[[str, bool], Scene],
                                                        engine: str) -> None:
    scene = make_scene(engine, False)
    (scene.project / "var").write_text("a file where the private set's parent folder goes")
    scene.before = scene.tree()
    failed = install(scene)
    assert failed.returncode == 1
    assert scene.server.content(scene.target) is None, "no new empty (or new) database is left behind"
    assert scene.tree() == scene.before


@pytest.mark.parametrize("engine", ALL_ENGINES)
def test_rollback_drops_the_database_the_install_created(make_scene: Callable[[str, bool], Scene],
                                                         engine: str) -> None:
    scene = make_scene(engine, False)
    installed = install(scene)
    assert installed.returncode == 0, installed.stderr
    assert scene.server.content(scene.target) == {"fresh": [(1,), (2,), (3,)]}
    rolled = rollback(scene)
    assert rolled.returncode == 0, rolled.stderr
    assert "(the install created it)" in rolled.stdout + rolled.stderr
    assert scene.server.content(scene.target) is None
    kept = {name: kind for name, kind in scene.tree().items() if "synco-previous" not in name and name != "var"}
    assert kept == scene.before
    # The record is spent: a second rollback does not bring a dropped database back half-way.
    assert rollback(scene).returncode == 1
    assert scene.server.content(scene.target) is None


@pytest.mark.parametrize("engine", ALL_ENGINES)
@pytest.mark.parametrize("point", ["install:journal:files-started#1", "install:journal:recorded"])
def test_a_killed_install_that_created_the_database_leaves_none(make_scene: Callable[[str, bool], Scene],
                                                                engine: str, point: str) -> None:
    scene = make_scene(engine, False)
    assert install(scene, kill_at=point).returncode == KILLED
    rolled = rollback(scene)
    assert rolled.returncode == 0, rolled.stderr
    assert scene.server.content(scene.target) is None
    assert scene.tree() == scene.before


@pytest.mark.parametrize("engine", ALL_ENGINES)
def test_discard_kept_database_drops_only_the_kept_copy(make_scene: Callable[[str, bool], Scene], engine: str,
                                                         plugin_manager: Any) -> None:
    """The hook drops what an earlier install kept and nothing else: the target keeps its content, and a
    rollback then has nothing to go back to."""
    from synco_core.engines.dispatch import install_with_engine, rollback_with_engine
    from synco_core.errors import SyncoError
    from synco_core.values import InstallOptions

    scene = make_scene(engine, True)
    database = parse_database_url(scene.server.url(scene.target))
    with (scene.received / "dbDump.sql").open("rb") as dump:
        install_with_engine(database, dump, InstallOptions(format="sql", yes=True), plugin_manager)
    installed = scene.server.content(scene.target)
    assert installed == {"fresh": [(1,), (2,), (3,)]}
    assert plugin_manager.hook.discard_kept_database(database=database, options=InstallOptions(yes=True)) is True
    assert scene.server.content(scene.target) == installed
    with pytest.raises(SyncoError, match="nothing to roll back"):
        rollback_with_engine(database, InstallOptions(yes=True), plugin_manager)
    assert scene.server.content(scene.target) == installed
    # Nothing kept: doing it again is harmless.
    assert plugin_manager.hook.discard_kept_database(database=database, options=InstallOptions(yes=True)) is True
