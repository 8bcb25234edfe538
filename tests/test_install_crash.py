"""``kill -9`` at any moment of an install or a rollback loses nothing (MariaDB, PostgreSQL, SQLite).

A real ``synco db load`` / ``synco install`` / ``synco db rollback`` process is killed with SIGKILL at
named steps of its swap (``SYNCO_DEBUG_KILL_AT``, see :mod:`synco_core.engines.crashpoints`), so every
point is hit exactly, every run. Afterwards:

- the target never holds half of each side: its tables are the old ones or the new ones;
- the next ``synco db rollback`` exits 0 and leaves the database exactly as it was before the killed
  install (or, after a killed rollback, completes it): every table's rows and definition, every index,
  sequence, view, trigger, routine and event, compared through the reference dump tools
  (``mariadb-dump --routines --events --triggers``, ``pg_dump``, SQLite's ``iterdump``);
- nothing is left behind: no scratch database, no empty kept copy, no temporary file;
- a second rollback either refuses with exit 1 and changes nothing, or restores another whole state.

One MariaDB test needs no crash point at all (so it also runs against code without them): the install is
killed while its ``RENAME TABLE`` waits for a table another connection holds, which the server then
finishes on its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from synco_forks import run_synco
from test_mysql_support import client_argv, dump_bytes, install_bytes, query, rename_waiting
from test_postgres_support import fingerprints, schema_dump, sequences

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, install_with_engine, rollback_with_engine
from synco_core.engines.mysql.install import rollback as mysql_rollback
from synco_core.testing.services import (
    POSTGRES_USER,
    PostgresDatabases,
    mysql_admin_connection,
    mysql_url_for,
    postgres_admin_connection,
    postgres_databases_starting_with,
    postgres_url_for,
    unique_name,
)
from synco_core.values import DumpOptions, InstallOptions

KILLED = -signal.SIGKILL
#: synco_core.engines.crashpoints.ENVIRONMENT_VARIABLE, spelt out so that this file also runs against code
#: without crash points (where the tests that need one fail, as they should).
ENVIRONMENT_VARIABLE = "SYNCO_DEBUG_KILL_AT"


def synco(*args: str, kill_at: str | None = None, cwd: Path | None = None,
          fresh: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``synco`` in a process of its own, killed at ``kill_at`` when given: forked from a helper that has
    imported synco already (tests/synco_forks.py), or ``python -m synco_core`` started afresh."""
    env = {key: value for key, value in os.environ.items() if key != ENVIRONMENT_VARIABLE}
    if kill_at:
        env[ENVIRONMENT_VARIABLE] = kill_at
    if not fresh:
        return run_synco(list(args), env=env, cwd=cwd, timeout=180)
    return subprocess.run([sys.executable, "-m", "synco_core", *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=180, check=False, cwd=cwd)


def killed(proc: subprocess.CompletedProcess[str], point: str) -> None:
    assert proc.returncode == KILLED, f"not killed at {point} (exit {proc.returncode}): {proc.stderr}"


def succeeded(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def refused(proc: subprocess.CompletedProcess[str]) -> str:
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert proc.returncode == 1 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return errors[0]


# ------------------------------------------------------------------------------------------------ MariaDB

#: The previous content: every kind of object, some created under other session settings (sql_mode,
#: character set, time zone), which the swap must keep as they were.
MYSQL_ORIGINAL = [
    "CREATE TABLE parent (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40) NOT NULL, UNIQUE KEY uniq_name (name))",
    "INSERT INTO parent (name) VALUES ('alpha'), ('beta'), ('gamma')",
    "CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, note TEXT, KEY idx_parent (parent_id), "
    "CONSTRAINT fk_parent FOREIGN KEY (parent_id) REFERENCES parent (id))",
    "CREATE TABLE log (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(100))",
    "CREATE SEQUENCE ticket START WITH 100 INCREMENT BY 5",
    "SELECT NEXTVAL(ticket)",
    "CREATE FUNCTION shout(s VARCHAR(40)) RETURNS VARCHAR(40) DETERMINISTIC RETURN UPPER(s)",
    "CREATE PROCEDURE add_parent(IN n VARCHAR(40)) INSERT INTO parent (name) VALUES (n)",
    "CREATE VIEW loud_parents AS SELECT id, shout(name) AS name FROM parent",
    "CREATE VIEW loud_children AS SELECT c.id, p.name FROM child c JOIN loud_parents p ON p.id = c.parent_id",
    "CREATE TRIGGER log_child AFTER INSERT ON child FOR EACH ROW "
    "INSERT INTO log (what) VALUES (CONCAT('child ', NEW.id))",
    "CREATE TRIGGER log_child_again AFTER INSERT ON child FOR EACH ROW INSERT INTO log (what) VALUES ('again')",
    "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES,STRICT_ALL_TABLES'",
    "CREATE TRIGGER stamp BEFORE INSERT ON log FOR EACH ROW SET NEW.what = CONCAT(NEW.what, '\\\\')",
    "SET SESSION sql_mode = DEFAULT",
    "SET NAMES latin1",
    "CREATE FUNCTION plain() RETURNS INT DETERMINISTIC RETURN 42",
    "SET NAMES utf8mb4",
    "SET SESSION time_zone = '+05:30'",
    "CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY STARTS '2031-01-01 03:00:00' ENABLE DO DELETE FROM log WHERE id < 0",
    "SET SESSION time_zone = SYSTEM",
    "CREATE EVENT idle ON SCHEDULE EVERY 1 WEEK STARTS '2031-01-01 03:00:00' DISABLE DO DELETE FROM log WHERE id < 0",
    "INSERT INTO child VALUES (1, 1, 'one'), (2, 2, 'two'), (3, 3, 'three')",
]
#: The incoming content: a table and a function of the same names with other content, and new objects.
MYSQL_NEW = [
    "CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(40))",
    "INSERT INTO parent VALUES (10, 'new')",
    "CREATE TABLE fresh (id INT PRIMARY KEY)",
    "INSERT INTO fresh VALUES (1), (2)",
    "CREATE FUNCTION shout(s VARCHAR(40)) RETURNS VARCHAR(40) DETERMINISTIC RETURN LOWER(s)",
    "CREATE VIEW fresh_view AS SELECT id, shout('X') AS x FROM fresh",
    "CREATE TRIGGER fresh_trigger BEFORE INSERT ON fresh FOR EACH ROW SET NEW.id = NEW.id + 0",
]
#: What an earlier install left as the kept copy, so that a rollback going one install too far shows.
MYSQL_OLDER = ["CREATE TABLE older (id INT PRIMARY KEY)", "INSERT INTO older VALUES (7)"]


def mysql_run(database: str, statements: list[str]) -> None:
    """Run ``statements`` on one connection (some set the session for the next)."""
    conn = mysql_admin_connection(database)
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
    conn.close()


def mysql_databases(prefix: str) -> set[str]:
    return {row[0] for row in query(None, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA "  # type: ignore[arg-type]
                                          "WHERE SCHEMA_NAME LIKE %s", (prefix.replace("_", "\\_") + "%",))}


def mysql_tables(database: str) -> set[str]:
    return {row[0] for row in query(database, "SELECT TABLE_NAME FROM information_schema.TABLES "
                                              "WHERE TABLE_SCHEMA=%s AND TABLE_TYPE<>'VIEW'", (database,))}


def mysql_state(database: str) -> str | None:
    """Everything in the database as ``mariadb-dump`` writes it (None when there is no such database)."""
    if database not in mysql_databases(database):
        return None
    proc = subprocess.run([*client_argv("mariadb-dump"), "--skip-comments", "--skip-dump-date", "--routines",
                           "--events", "--triggers", "--single-transaction", "--hex-blob", "--order-by-primary",
                           database], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@dataclass
class MysqlScene:
    """A target holding the original content, the kept copy of an earlier install, and the dump to load."""

    target: str
    url: str
    dump: Path
    original: str
    older: str
    new: str
    original_tables: set[str]
    new_tables: set[str]


@dataclass
class MysqlInputs:
    dump: Path
    older_dump: bytes
    original: str
    older: str
    new: str
    original_tables: set[str]
    new_tables: set[str]


@pytest.fixture(scope="module")
def mysql_inputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MysqlInputs]:
    """The dumps and the states to compare with, made once: each test builds only its own target."""
    created: list[str] = []

    def database(statements: list[str]) -> str:
        name = unique_name()
        mysql_admin_connection().cursor().execute(
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        created.append(name)
        mysql_run(name, statements)
        return name

    try:
        new_source, older_source, original = database(MYSQL_NEW), database(MYSQL_OLDER), database(MYSQL_ORIGINAL)
        new_dump, _ = dump_bytes(new_source, DumpOptions(routines=True, events=True))
        older_dump, _ = dump_bytes(older_source, DumpOptions(routines=True, events=True))
        path = tmp_path_factory.mktemp("mysql-crash") / "new.sql"
        path.write_bytes(new_dump)
        new, older = database([]), database([])
        install_bytes(new, new_dump)
        install_bytes(older, older_dump)
        states = [mysql_state(name) for name in (original, older, new)]
        assert None not in states and "CREATE DEFINER" in str(states[0]) and "'+05:30'" in str(states[0])
        yield MysqlInputs(path, older_dump, *map(str, states), mysql_tables(original), mysql_tables(new))
    finally:
        conn = mysql_admin_connection()
        with conn.cursor() as cur:
            for name in created:
                for db in mysql_databases(name):
                    cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
        conn.close()


@pytest.fixture
def mysql_scene(mysql_database_factory: Callable[[], str], mysql_inputs: MysqlInputs) -> MysqlScene:
    inputs = mysql_inputs
    target = mysql_database_factory()
    mysql_run(target, MYSQL_ORIGINAL)
    install_bytes(target, inputs.older_dump)
    mysql_rollback(parse_database_url(mysql_url_for(target)), InstallOptions(yes=True))
    return MysqlScene(target, mysql_url_for(target), inputs.dump, inputs.original, inputs.older, inputs.new,
                      inputs.original_tables, inputs.new_tables)


@pytest.mark.mysql
def test_mysql_install_and_rollback_give_back_the_exact_content(mysql_scene: MysqlScene) -> None:
    """The base line for the crash tests: without a kill, a rollback gives back every object as it was."""
    scene = mysql_scene
    assert mysql_state(scene.target) == scene.original
    succeeded(synco("db", "load", scene.url, str(scene.dump), "--yes", fresh=True))
    assert mysql_state(scene.target) == scene.new
    succeeded(synco("db", "rollback", scene.url, "--yes", fresh=True))
    assert mysql_state(scene.target) == scene.original


def assert_nothing_left(scene: MysqlScene) -> None:
    names = mysql_databases(scene.target)
    assert names <= {scene.target, scene.target + "__synco_prev"}, names


def assert_second_rollback_is_whole(url: str, state: Callable[[], object], *states: object) -> None:
    """A second rollback restores another whole state, or refuses and changes nothing."""
    before = state()
    again = synco("db", "rollback", url, "--yes")
    if again.returncode == 0:
        assert state() in states
    else:
        refused(again)
        assert state() == before


def assert_fresh_load_killed_leaves_nothing(url: str, dump: Path, point: str, complete: bool,
                                            state: Callable[[], object], new: object) -> None:
    """A load into a database that did not exist, killed at ``point``, then a rollback."""
    killed(synco("db", "load", url, str(dump), "--yes", kill_at=point), point)
    rolled = synco("db", "rollback", url, "--yes")
    if complete:
        # The install was complete: there was nothing before it to go back to.
        assert "nothing to roll back" in refused(rolled)
        assert state() == new
    else:
        succeeded(rolled)
        assert state() is None


MYSQL_INSTALL_POINTS = [
    "mysql:install:loaded",
    "mysql:install:backup-replaced",
    "mysql:install:journal-saved",
    "mysql:install:definition-dropped#1",
    "mysql:install:definition-dropped#6",
    "mysql:install:definition-dropped#10",
    "mysql:install:definitions-dropped",
    "mysql:install:renamed",
    "mysql:install:definition-created#2",
    "mysql:install:definitions-created",
    "mysql:install:definition-created#7",  # re-creating the old definitions in the kept copy
    "mysql:install:staging-dropped",
    "mysql:install:committed",
]


@pytest.mark.mysql
@pytest.mark.parametrize("point", MYSQL_INSTALL_POINTS)
def test_mysql_install_killed_then_rolled_back_is_exact(mysql_scene: MysqlScene, point: str) -> None:
    scene = mysql_scene
    killed(synco("db", "load", scene.url, str(scene.dump), "--yes", kill_at=point), point)
    assert mysql_tables(scene.target) in (scene.original_tables, scene.new_tables)
    succeeded(synco("db", "rollback", scene.url, "--yes"))
    assert mysql_state(scene.target) == scene.original
    assert_nothing_left(scene)
    assert_second_rollback_is_whole(scene.url, lambda: mysql_state(scene.target), scene.older, scene.new)


@pytest.mark.mysql
@pytest.mark.parametrize("point", ["mysql:install:definition-dropped#3", "mysql:install:renamed",
                                   "mysql:install:staging-dropped"])
def test_mysql_install_killed_then_installed_again(mysql_scene: MysqlScene, point: str) -> None:
    """The next install undoes the killed one first: its kept copy is the original, not a partial one."""
    scene = mysql_scene
    killed(synco("db", "load", scene.url, str(scene.dump), "--yes", kill_at=point), point)
    succeeded(synco("db", "load", scene.url, str(scene.dump), "--yes"))
    assert mysql_state(scene.target) == scene.new
    succeeded(synco("db", "rollback", scene.url, "--yes"))
    assert mysql_state(scene.target) == scene.original


@pytest.mark.mysql
@pytest.mark.parametrize("point", ["mysql:install:journal-saved", "mysql:install:renamed", "mysql:install:committed"])
def test_synco_install_killed_then_rolled_back_in_the_project(mysql_scene: MysqlScene, tmp_path: Path,
                                                               point: str) -> None:
    """``synco install`` of a received session, killed; ``synco db rollback`` run in the project."""
    scene = mysql_scene
    project, received = tmp_path / "project", tmp_path / "received"
    project.mkdir()
    received.mkdir()
    (project / ".synco.yml").write_text(f"serve:\n  database: {scene.url}\n")
    (received / "dbDump.sql").write_bytes(scene.dump.read_bytes())
    (received / ".synco-received.json").write_text(json.dumps({"version": 1, "session": "s", "fileSets": [
        {"name": "dbDump", "kind": "database", "path": "dbDump.sql", "engine": "mysql", "format": "sql"}]}))
    killed(synco("install", str(received), "--project", str(project), "--yes", kill_at=point), point)
    succeeded(synco("db", "rollback", "--yes", cwd=project))
    assert mysql_state(scene.target) == scene.original
    assert_nothing_left(scene)


MYSQL_ROLLBACK_POINTS = [
    "mysql:rollback:journal-saved",
    "mysql:rollback:definition-dropped#2",
    "mysql:rollback:definitions-dropped",
    "mysql:rollback:renamed",
    "mysql:rollback:definition-created#3",
    "mysql:rollback:definitions-created",
    "mysql:rollback:staging-dropped",
    "mysql:rollback:committed",
]


@pytest.mark.mysql
@pytest.mark.parametrize("point", MYSQL_ROLLBACK_POINTS)
def test_mysql_rollback_killed_then_rolled_back_is_exact(mysql_scene: MysqlScene, point: str) -> None:
    scene = mysql_scene
    succeeded(synco("db", "load", scene.url, str(scene.dump), "--yes"))
    killed(synco("db", "rollback", scene.url, "--yes", kill_at=point), point)
    assert mysql_tables(scene.target) in (scene.original_tables, scene.new_tables)
    succeeded(synco("db", "rollback", scene.url, "--yes"))
    assert mysql_state(scene.target) == scene.original
    assert_nothing_left(scene)
    # The content the rollback replaced is kept whole in turn.
    succeeded(synco("db", "rollback", scene.url, "--yes"))
    assert mysql_state(scene.target) == scene.new


@pytest.mark.mysql
@pytest.mark.parametrize("point", ["mysql:undo-install:definition-dropped#2", "mysql:undo-install:renamed",
                                   "mysql:undo-install:definition-created#4", "mysql:undo-install:restored",
                                   "mysql:undo-install:committed"])
def test_mysql_recovery_killed_in_turn_is_undone_again(mysql_scene: MysqlScene, point: str) -> None:
    scene = mysql_scene
    killed(synco("db", "load", scene.url, str(scene.dump), "--yes", kill_at="mysql:install:definition-created#2"),
           "the install")
    killed(synco("db", "rollback", scene.url, "--yes", kill_at=point), point)
    succeeded(synco("db", "rollback", scene.url, "--yes"))
    assert mysql_state(scene.target) == scene.original
    assert_nothing_left(scene)


@pytest.mark.mysql
def test_mysql_install_killed_while_its_rename_waits_for_a_lock(mysql_scene: MysqlScene) -> None:
    """Killed in the middle of the swap, with no crash point: the server finishes the RENAME alone.

    Another connection reads ``parent`` in an open transaction, so the install's ``RENAME TABLE`` waits for
    it, with the views and triggers already dropped. The process is killed there; the reader then
    commits and the server runs the rename for a client that is gone.
    """
    scene = mysql_scene
    reader = mysql_admin_connection(scene.target)
    process: subprocess.Popen[bytes] | None = None
    # The swap first waits for every table to be free and refuses one held too long (test_mysql_tables_in_use):
    # the install signals when that check is through and waits for the reader to take its table, so that the
    # RENAME, not the check, is what waits for it.
    checked, held = scene.dump.parent / "tables-checked", scene.dump.parent / "table-held"
    pause = ("import pathlib, sys, time\n"
             "from synco_core.engines.mysql import swap\n"
             "check = swap._wait_for_tables\n"
             "def check_then_wait(*args):\n"
             "    check(*args)\n"
             f"    pathlib.Path({str(checked)!r}).touch()\n"
             f"    while not pathlib.Path({str(held)!r}).exists():\n"
             "        time.sleep(0.02)\n"
             "swap._wait_for_tables = check_then_wait\n"
             "from synco_core.cli.main import main\n"
             "sys.argv[0] = 'synco'\n"
             "main()\n")
    try:
        env = {key: value for key, value in os.environ.items() if key != ENVIRONMENT_VARIABLE}
        process = subprocess.Popen([sys.executable, "-c", pause, "db", "load", scene.url, str(scene.dump), "--yes"],
                                   env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not checked.exists():
            assert process.poll() is None, "the install ended before it checked its tables"
            assert time.monotonic() < deadline, "the install never checked its tables"
            time.sleep(0.02)
        with reader.cursor() as cur:
            cur.execute("START TRANSACTION")
            cur.execute("SELECT COUNT(*) FROM parent")
        held.touch()
        deadline = time.monotonic() + 60
        while not rename_waiting(scene.target):
            assert process.poll() is None, "the install ended without waiting for the lock"
            assert time.monotonic() < deadline, "the install never reached its RENAME TABLE"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        reader.rollback()
        reader.close()
    succeeded(synco("db", "rollback", scene.url, "--yes"))
    assert mysql_state(scene.target) == scene.original
    assert_nothing_left(scene)


MYSQL_FRESH_POINTS = ["mysql:install:loaded", "mysql:install:journal-saved", "mysql:install:renamed",
                      "mysql:install:definitions-created", "mysql:install:staging-dropped", "mysql:install:committed"]


@pytest.mark.mysql
@pytest.mark.parametrize("point", MYSQL_FRESH_POINTS)
def test_mysql_load_into_a_missing_database_killed_leaves_no_database(mysql_scene: MysqlScene, point: str) -> None:
    scene = mysql_scene
    target = scene.target + "_fresh"
    assert_fresh_load_killed_leaves_nothing(mysql_url_for(target), scene.dump, point, point.endswith(":committed"),
                                            lambda: mysql_state(target), scene.new)
    assert mysql_databases(target) <= {target}


@pytest.mark.mysql
def test_mysql_load_into_a_missing_database_keeps_no_empty_copy(mysql_scene: MysqlScene) -> None:
    scene = mysql_scene
    target = scene.target + "_fresh"
    url = mysql_url_for(target)
    output = succeeded(synco("db", "load", url, str(scene.dump), "--yes"))
    assert "previous content kept" not in output
    assert mysql_databases(target) == {target}
    assert "nothing to roll back" in refused(synco("db", "rollback", url, "--yes"))
    assert mysql_state(target) == scene.new
    # A failed load into a missing database leaves nothing at all.
    broken = scene.dump.with_name("broken.sql")
    broken.write_bytes(b"CREATE TABLE t (a INT);\nINSERT INTO no_such_table VALUES (1);\n")
    other = mysql_url_for(target + "2")
    refused(synco("db", "load", other, str(broken), "--yes"))
    assert mysql_databases(target + "2") == set()


@pytest.mark.mysql
@pytest.mark.parametrize("damage", ["empty", "table-missing", "no-journal"])
def test_mysql_rollback_refuses_an_empty_or_incomplete_kept_copy(mysql_scene: MysqlScene, damage: str) -> None:
    scene = mysql_scene
    backup = scene.target + "__synco_prev"
    if damage == "empty":
        conn = mysql_admin_connection()
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE `{backup}`")
            cur.execute(f"CREATE DATABASE `{backup}`")
        conn.close()
    elif damage == "table-missing":
        mysql_run(backup, ["SET foreign_key_checks = 0", "DROP TABLE older"])
    else:
        mysql_run(backup, ["DROP TABLE __synco_journal"])
    error = refused(synco("db", "rollback", scene.url, "--yes"))
    assert backup in error and "nothing was changed" in error
    assert mysql_state(scene.target) == scene.original


#: Objects that name their own database (``DB``): a column default drawing from a sequence, a trigger, a
#: routine, a view and an event qualified with it, and a routine made while the database's default
#: collation was another one (which the swap switches to for the moment of creating it).
MYSQL_SELF_NAMED = [
    "CREATE SEQUENCE seq START WITH 100 NOCACHE",
    "CREATE TABLE t (id INT PRIMARY KEY DEFAULT nextval(DB.seq), v VARCHAR(20))",
    "CREATE TABLE log (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(60))",
    "CREATE TRIGGER DB.trg AFTER INSERT ON DB.t FOR EACH ROW INSERT INTO DB.log (what) VALUES (CONCAT('got ', NEW.id))",
    "CREATE FUNCTION DB.total() RETURNS INT DETERMINISTIC RETURN (SELECT COUNT(*) FROM DB.t)",
    "CREATE VIEW v AS SELECT DB.total() AS n, (SELECT COUNT(*) FROM DB.log) AS logged",
    "CREATE EVENT DB.e ON SCHEDULE EVERY 1 DAY STARTS '2031-01-01 00:00:00' DISABLE DO INSERT INTO DB.log (what) "
    "VALUES ('e')",
    "ALTER DATABASE DB COLLATE utf8mb4_bin",
    "CREATE PROCEDURE DB.binary_collated() INSERT INTO DB.log (what) VALUES ('p')",
    "ALTER DATABASE DB COLLATE utf8mb4_unicode_ci",
    "INSERT INTO t (v) VALUES ('first')",
]


def mysql_self_named(database: str, extra: list[str]) -> None:
    mysql_run(database, [statement.replace("DB", f"`{database}`") for statement in MYSQL_SELF_NAMED + extra])


def mysql_full_state(database: str) -> tuple[object, ...]:
    """What mariadb-dump writes, with the database's own default character set and collation."""
    return mysql_state(database), query(database, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM "
                                                  "information_schema.SCHEMATA WHERE SCHEMA_NAME=%s", (database,))


def assert_acts_on_itself(database: str) -> None:
    """Its default draws from its own sequence, its trigger writes its own log, its view and routines read it."""
    ((number,),) = query(database, "SELECT next_not_cached_value FROM seq")
    query(database, "INSERT INTO t (v) VALUES ('again')")
    assert query(database, "SELECT what FROM log ORDER BY id")[-1] == (f"got {number}",)
    assert query(database, "SELECT n FROM v") == query(database, "SELECT COUNT(*) FROM t")
    assert f"nextval(`{database}`.`seq`)" in query(database, "SHOW CREATE TABLE t")[0][1]


@pytest.fixture
def mysql_self_named_scene(mysql_database_factory: Callable[[], str], tmp_path: Path) -> tuple[str, Path]:
    """A target whose objects name it, and a dump of another database whose objects name that one."""
    source, target = mysql_database_factory(), mysql_database_factory()
    mysql_self_named(source, ["CREATE TABLE fresh (id INT PRIMARY KEY)", "INSERT INTO fresh VALUES (1)"])
    mysql_self_named(target, ["INSERT INTO t (v) VALUES ('second')"])
    dump = tmp_path / "self-named.sql"
    dump.write_bytes(dump_bytes(source, DumpOptions(events=True))[0])
    return target, dump


@pytest.mark.mysql
@pytest.mark.parametrize("point", [
    "mysql:install:renamed",
    "mysql:install:defaults-moved#1",
    "mysql:install:defaults-moved#2",
    "mysql:install:collation-switched#1",  # creating the incoming routine in the target
    "mysql:install:collation-switched#2",  # creating the outgoing one in the kept copy
    "mysql:install:definitions-created",
])
def test_mysql_install_killed_puts_back_defaults_names_and_collations(mysql_self_named_scene: tuple[str, Path],
                                                                      point: str) -> None:
    """The swap of objects that name their database (sequence defaults, qualified triggers, routines,
    views and events) and of a routine made under another database collation, killed at each step that
    changes one of those: the rollback gives back the exact previous content (the database's default
    collation included), and an install run to its end acts on the target only."""
    target, dump = mysql_self_named_scene
    url = mysql_url_for(target)
    original = mysql_full_state(target)
    killed(synco("db", "load", url, str(dump), "--yes", kill_at=point), point)
    succeeded(synco("db", "rollback", url, "--yes"))
    assert mysql_full_state(target) == original
    assert mysql_databases(target) <= {target}
    succeeded(synco("db", "load", url, str(dump), "--yes"))
    assert mysql_tables(target) == {"seq", "t", "log", "fresh"}
    new = mysql_full_state(target)
    assert new[1] == original[1]
    assert_acts_on_itself(target)
    succeeded(synco("db", "rollback", url, "--yes"))
    assert mysql_full_state(target) == original
    assert_acts_on_itself(target)


@pytest.mark.mysql
@pytest.mark.parametrize("point", [
    "mysql:rollback:defaults-moved#1",
    "mysql:rollback:defaults-moved#2",
    "mysql:rollback:collation-switched#1",
    "mysql:rollback:collation-switched#2",
    "mysql:undo-install:defaults-moved#1",
    "mysql:undo-install:collation-switched#1",
])
def test_mysql_rollback_or_undo_killed_puts_back_defaults_names_and_collations(
        mysql_self_named_scene: tuple[str, Path], point: str) -> None:
    """A rollback of that swap, or the undo of an install killed after its rename, killed in turn: the next
    rollback still ends on the exact previous content."""
    target, dump = mysql_self_named_scene
    url = mysql_url_for(target)
    original = mysql_full_state(target)
    if point.startswith("mysql:undo-install"):
        killed(synco("db", "load", url, str(dump), "--yes", kill_at="mysql:install:collation-switched#1"), "install")
    else:
        succeeded(synco("db", "load", url, str(dump), "--yes"))
    killed(synco("db", "rollback", url, "--yes", kill_at=point), point)
    succeeded(synco("db", "rollback", url, "--yes"))
    assert mysql_full_state(target) == original
    assert_acts_on_itself(target)


# --------------------------------------------------------------------------------------------- PostgreSQL

POSTGRES_ORIGINAL = """
CREATE TABLE parent (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text NOT NULL UNIQUE);
INSERT INTO parent (name) VALUES ('alpha'), ('beta'), ('gamma');
CREATE TABLE child (id serial PRIMARY KEY, parent_id integer REFERENCES parent (id), note text);
CREATE INDEX child_note ON child (lower(note));
CREATE TABLE log (id bigserial PRIMARY KEY, what text);
CREATE SEQUENCE ticket START 100 INCREMENT 5;
SELECT nextval('ticket');
CREATE FUNCTION shout(s text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT upper(s) $$;
CREATE FUNCTION log_child() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO log (what) VALUES ('child ' || NEW.id); RETURN NEW; END $$;
CREATE TRIGGER log_child AFTER INSERT ON child FOR EACH ROW EXECUTE FUNCTION log_child();
CREATE VIEW loud_parents AS SELECT id, shout(name) AS name FROM parent;
CREATE MATERIALIZED VIEW parent_count AS SELECT count(*) AS n FROM parent;
COMMENT ON TABLE parent IS 'the parents';
INSERT INTO child (parent_id, note) VALUES (1, 'One'), (2, 'Two');
"""
POSTGRES_NEW = """
CREATE TABLE parent (id integer PRIMARY KEY, name text);
INSERT INTO parent VALUES (10, 'new');
CREATE TABLE fresh (id integer PRIMARY KEY);
INSERT INTO fresh VALUES (1), (2);
CREATE VIEW fresh_view AS SELECT id FROM fresh;
"""
POSTGRES_OLDER = "CREATE TABLE older (id integer PRIMARY KEY); INSERT INTO older VALUES (7);"


def postgres_run(database: str, script: str) -> None:
    with psycopg.connect(postgres_url_for(database), autocommit=True) as conn:
        conn.execute(script)


def postgres_state(database: str) -> tuple[Any, ...] | None:
    """Schema (``pg_dump --schema-only``), every table's rows and every sequence's position."""
    conn = postgres_admin_connection()
    try:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None:
            return None
    finally:
        conn.close()
    url = postgres_url_for(database)
    return schema_dump(database), fingerprints(url), sequences(url)


def postgres_dump(database: str, path: Path) -> None:
    with path.open("wb") as out:
        dump_with_engine(parse_database_url(postgres_url_for(database)), out, DumpOptions())


@dataclass
class PostgresScene:
    target: str
    url: str
    dump: Path
    original: tuple[Any, ...]
    older: tuple[Any, ...]
    new: tuple[Any, ...]


@dataclass
class PostgresInputs:
    dump: Path
    older_dump: Path
    original: tuple[Any, ...]
    older: tuple[Any, ...]
    new: tuple[Any, ...]


@pytest.fixture(scope="module")
def postgres_inputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresInputs]:
    databases = PostgresDatabases()
    database = databases.create
    folder = tmp_path_factory.mktemp("postgres-crash")
    try:
        new_source, older_source, original = database(POSTGRES_NEW), database(POSTGRES_OLDER), database(
            POSTGRES_ORIGINAL)
        postgres_dump(new_source, folder / "new.sql")
        postgres_dump(older_source, folder / "older.sql")
        new, older = database(""), database("")
        for name, dump in ((new, "new.sql"), (older, "older.sql")):
            with (folder / dump).open("rb") as stream:
                install_with_engine(parse_database_url(postgres_url_for(name)), stream, InstallOptions(yes=True))
        states = [postgres_state(name) for name in (original, older, new)]
        assert None not in states
        yield PostgresInputs(folder / "new.sql", folder / "older.sql", *states)  # type: ignore[arg-type]
    finally:
        databases.drop_all()


@pytest.fixture
def postgres_scene(postgres_database_factory: Callable[[], str], postgres_inputs: PostgresInputs,
                   plugin_manager: object) -> PostgresScene:
    inputs = postgres_inputs
    target = postgres_database_factory()
    postgres_run(target, POSTGRES_ORIGINAL)
    config = parse_database_url(postgres_url_for(target))
    with inputs.older_dump.open("rb") as dump:
        install_with_engine(config, dump, InstallOptions(yes=True))
    rollback_with_engine(config, InstallOptions(yes=True))
    assert postgres_state(target) == inputs.original
    return PostgresScene(target, postgres_url_for(target), inputs.dump, inputs.original, inputs.older, inputs.new)


POSTGRES_INSTALL_POINTS = ["postgresql:install:loaded", "postgresql:install:previous-dropped",
                           "postgresql:install:renaming#1", "postgresql:install:renaming#2",
                           "postgresql:install:renamed"]


@pytest.mark.postgres
@pytest.mark.parametrize("point", POSTGRES_INSTALL_POINTS)
def test_postgres_install_killed_then_rolled_back_is_exact(postgres_scene: PostgresScene, point: str) -> None:
    scene = postgres_scene
    killed(synco("db", "load", scene.url, str(scene.dump), "--yes", kill_at=point), point)
    assert postgres_state(scene.target) in (scene.original, scene.new)
    succeeded(synco("db", "rollback", scene.url, "--yes"))
    assert postgres_state(scene.target) == scene.original
    assert postgres_databases_starting_with(scene.target) <= {scene.target, scene.target + "__synco_prev"}
    assert_second_rollback_is_whole(scene.url, lambda: postgres_state(scene.target), scene.older, scene.new)


@pytest.mark.postgres
@pytest.mark.parametrize("point", ["postgresql:rollback:renaming#1", "postgresql:rollback:renaming#2",
                                   "postgresql:rollback:renaming#3"])
def test_postgres_rollback_killed_then_rolled_back_is_exact(postgres_scene: PostgresScene, point: str) -> None:
    scene = postgres_scene
    succeeded(synco("db", "load", scene.url, str(scene.dump), "--yes"))
    killed(synco("db", "rollback", scene.url, "--yes", kill_at=point), point)
    assert postgres_state(scene.target) == scene.new  # one transaction: nothing of it happened
    succeeded(synco("db", "rollback", scene.url, "--yes"))
    assert postgres_state(scene.target) == scene.original
    succeeded(synco("db", "rollback", scene.url, "--yes"))
    assert postgres_state(scene.target) == scene.new


@pytest.mark.postgres
@pytest.mark.parametrize("point", ["postgresql:install:loaded", "postgresql:install:renaming#1",
                                   "postgresql:install:renamed"])
def test_postgres_load_into_a_missing_database_killed_leaves_no_database(postgres_scene: PostgresScene,
                                                                          point: str) -> None:
    scene = postgres_scene
    target = scene.target + "_fresh"
    assert_fresh_load_killed_leaves_nothing(postgres_url_for(target), scene.dump, point, point.endswith(":renamed"),
                                            lambda: postgres_state(target), scene.new)
    assert postgres_databases_starting_with(target) <= {target}


# ------------------------------------------------------------------------------------------------- SQLite

SQLITE_ORIGINAL = """
CREATE TABLE parent (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE);
INSERT INTO parent (name) VALUES ('alpha'), ('beta'), ('gamma');
CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id), note TEXT);
CREATE INDEX child_note ON child (lower(note));
CREATE TABLE log (id INTEGER PRIMARY KEY, what TEXT);
CREATE TRIGGER log_child AFTER INSERT ON child BEGIN INSERT INTO log (what) VALUES ('child ' || NEW.id); END;
CREATE VIEW loud_parents AS SELECT id, upper(name) AS name FROM parent;
INSERT INTO child (parent_id, note) VALUES (1, 'One'), (2, 'Two');
"""
SQLITE_NEW = "CREATE TABLE fresh (id INTEGER PRIMARY KEY); INSERT INTO fresh VALUES (1), (2);"
SQLITE_OLDER = "CREATE TABLE older (id INTEGER PRIMARY KEY); INSERT INTO older VALUES (7);"


def sqlite_file(path: Path, script: str) -> Path:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(script)
    return path


def sqlite_state(path: Path) -> str | None:
    """The whole database as SQL text (schema, rows, AUTOINCREMENT counters), None when there is no file."""
    if not path.exists():
        return None
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return "\n".join(conn.iterdump())


@dataclass
class SqliteScene:
    target: Path
    url: str
    dump: Path
    original: str
    older: str
    new: str


@pytest.fixture
def sqlite_scene(tmp_path: Path, plugin_manager: object) -> SqliteScene:
    new = sqlite_file(tmp_path / "new.db", SQLITE_NEW)
    older = sqlite_file(tmp_path / "older.db", SQLITE_OLDER)
    app = tmp_path / "app"
    app.mkdir()
    target = sqlite_file(app / "app.db", SQLITE_ORIGINAL)
    original = sqlite_state(target)
    url = f"sqlite:///{target}"
    config = parse_database_url(url)
    with older.open("rb") as dump:
        install_with_engine(config, dump, InstallOptions(format="sqlite", yes=True))
    older_state = sqlite_state(target)
    rollback_with_engine(config, InstallOptions(yes=True))
    assert sqlite_state(target) == original
    new_state = sqlite_state(new)
    assert original is not None and older_state is not None and new_state is not None
    return SqliteScene(target, url, new, original, older_state, new_state)


def sqlite_leftovers(scene: SqliteScene) -> set[str]:
    return {p.name for p in scene.target.parent.iterdir()} - {"app.db", "app.db.synco-previous"}


@pytest.mark.parametrize("point", ["sqlite:install:written", "sqlite:install:kept", "sqlite:install:replaced"])
def test_sqlite_install_killed_then_rolled_back_is_exact(sqlite_scene: SqliteScene, point: str) -> None:
    scene = sqlite_scene
    killed(synco("db", "load", scene.url, str(scene.dump), "--yes", kill_at=point), point)
    assert sqlite_state(scene.target) in (scene.original, scene.new)
    succeeded(synco("db", "rollback", scene.url, "--yes"))
    assert sqlite_state(scene.target) == scene.original
    assert sqlite_leftovers(scene) == set()
    assert_second_rollback_is_whole(scene.url, lambda: sqlite_state(scene.target), scene.older, scene.new)


@pytest.mark.parametrize("point", ["sqlite:rollback:linked", "sqlite:rollback:replaced"])
def test_sqlite_rollback_killed_then_rolled_back_is_exact(sqlite_scene: SqliteScene, point: str) -> None:
    scene = sqlite_scene
    succeeded(synco("db", "load", scene.url, str(scene.dump), "--yes"))
    killed(synco("db", "rollback", scene.url, "--yes", kill_at=point), point)
    assert sqlite_state(scene.target) in (scene.original, scene.new)
    succeeded(synco("db", "rollback", scene.url, "--yes"))
    assert sqlite_state(scene.target) == scene.original
    assert sqlite_leftovers(scene) == set()
    succeeded(synco("db", "rollback", scene.url, "--yes"))
    assert sqlite_state(scene.target) == scene.new


def test_sqlite_rollback_refuses_a_damaged_kept_copy(sqlite_scene: SqliteScene) -> None:
    scene = sqlite_scene
    previous = Path(str(scene.target) + ".synco-previous")
    previous.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    error = refused(synco("db", "rollback", scene.url, "--yes"))
    assert str(previous) in error and "nothing was changed" in error
    assert sqlite_state(scene.target) == scene.original


@pytest.mark.postgres
def test_postgresql_install_in_place_killed_before_its_commit_leaves_the_target_as_it_was(
        postgres_database_factory: Callable[[], str], postgres_inputs: PostgresInputs) -> None:
    """A role that owns its database but may not create databases replaces the content inside it, in one
    transaction: killed after the drops, the load and the verification, before the commit, the server rolls
    it all back. The next load goes through; a rollback then has nothing to put back and says why."""
    role = unique_name("crash_nocreatedb")
    admin = postgres_admin_connection()
    admin.execute(f'CREATE ROLE "{role}" LOGIN NOCREATEDB')
    target = postgres_database_factory()
    try:
        admin.execute(f'ALTER DATABASE "{target}" OWNER TO "{role}"')
        url = postgres_url_for(target).replace(f"//{POSTGRES_USER}@", f"//{role}@")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(POSTGRES_ORIGINAL)
        original = postgres_state(target)
        point = "postgresql:install:in-place-loaded"
        killed(synco("db", "load", url, str(postgres_inputs.dump), "--yes", kill_at=point), point)
        assert postgres_state(target) == original
        succeeded(synco("db", "load", url, str(postgres_inputs.dump), "--yes"))
        state = postgres_state(target)
        assert state is not None and state[1:] == postgres_inputs.new[1:]
        assert "nothing to roll back: the role may not create databases" in refused(
            synco("db", "rollback", url, "--yes"))
        assert postgres_databases_starting_with(target) == {target}
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin.close()
