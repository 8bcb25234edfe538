"""A script that is not a dump (a hand-written schema, an application's seed data) loaded with ``synco db load``
runs in the session the mariadb client gives it: the server's time zone, foreign key checks, unique checks and
sql_mode, one statement after the other on one connection.

Before, such a script ran in the session a dump's header sets (``time_zone='+00:00'``, ``foreign_key_checks=0``,
``NO_AUTO_VALUE_ON_ZERO``), so its TIMESTAMP literals were read as UTC where the client reads them in the server's
zone, a ``DELETE`` did not cascade and a row without its parent loaded; and its INSERTs went to parallel worker
connections, where ``LAST_INSERT_ID()`` and user variables set by ``SELECT ... INTO @v`` are another
session's (a child row got another parent, or NULL), and Cacti's ``SET SESSION sql_mode = @sqlmode`` (the
variable chosen by a ``SELECT ... INTO``) was refused as leaving the connections in different sql_modes.
Each script is loaded by the client and by synco and the results compared; a dump's header still sets its own
session (and the rows still go to the workers).
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from private_servers import mariadb, mariadb_admin
from test_mysql_support import client_argv, load_with_client, query

from synco_core.cli.main import cli
from synco_core.testing.services import mysql_url_for, require_tool, unique_name
from synco_core.values import DatabaseConfig

pytestmark = pytest.mark.mysql

PARENTS = (b"CREATE TABLE parent (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20)) ENGINE=InnoDB;\n"
           b"CREATE TABLE child (id INT AUTO_INCREMENT PRIMARY KEY, parent_id INT, note VARCHAR(20),\n"
           b"  FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE ON UPDATE CASCADE) ENGINE=InnoDB;\n")

#: Scripts whose rows depend on the session the client gives them: each loads with the client.
SCRIPTS = {
    "a cascading delete": PARENTS + b"INSERT INTO parent VALUES (1, 'a'), (2, 'b');\n"
                                    b"INSERT INTO child (parent_id, note) VALUES (1, 'x'), (2, 'y');\n"
                                    b"DELETE FROM parent WHERE id = 1;\n"
                                    b"UPDATE parent SET id = 7 WHERE id = 2;\n",
    "last_insert_id": PARENTS + b"".join(
        b"INSERT INTO parent (name) VALUES ('p%d');\n"
        b"INSERT INTO child (parent_id, note) VALUES (LAST_INSERT_ID(), 'c%d');\n" % (n, n) for n in range(40)),
    "select into a variable": PARENTS + b"INSERT INTO parent (name) VALUES ('a'), ('b'), ('c');\n"
                                        b"SELECT MAX(id) INTO @newest FROM parent;\n"
                                        b"SET @note := CONCAT('after ', @newest);\n"
                                        b"INSERT INTO child (parent_id, note) VALUES (@newest, @note);\n"
                                        b"INSERT INTO child (parent_id, note) SELECT id, @note FROM parent;\n",
    "a count into a variable": PARENTS + b"".join(b"INSERT INTO parent VALUES (%d, 'p');\n" % n for n in range(1, 61))
                               + b"SET @n = (SELECT COUNT(*) FROM parent), @m := @n * 2;\n"
                               + b"INSERT INTO child (parent_id, note) VALUES (1, @n), (2, @m);\n",
    "a transaction rolled back": PARENTS + b"INSERT INTO parent VALUES (1, 'kept');\nSTART TRANSACTION;\n"
                                 b"INSERT INTO parent VALUES (2, 'undone');\nROLLBACK;\n"
                                 b"SET autocommit = 0;\nINSERT INTO parent VALUES (3, 'committed');\nCOMMIT;\n",
    # Cacti's schema: the mode is chosen by a function, through a variable.
    "sql_mode from a variable": b"SET @sqlmode = '';\n"
                                b"SELECT IF(VERSION() LIKE '%MariaDB%', 'PIPES_AS_CONCAT', 'ANSI') INTO @sqlmode;\n"
                                b"SET SESSION sql_mode = @sqlmode;\n"
                                b"CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, s VARCHAR(20));\n"
                                b"INSERT INTO t (s) VALUES ('a' || 'b'), (@@sql_mode);\n"
                                b"CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.s = NEW.s || '!';\n"
                                b"INSERT INTO t (s) VALUES ('c');\n",
    "a variable assigned in a row": PARENTS + b"INSERT INTO parent VALUES (@pid := 10, 'a'), (@other := 11, 'b');\n"
                                    b"INSERT INTO child (parent_id, note) VALUES (@pid, 'x@example.com');\n"
                                    b"INSERT INTO child (parent_id, note) VALUES (@`other`, 'y');\n",
    "a variable set by a procedure": PARENTS + b"CREATE PROCEDURE setp() SET @p = 11;\n"
                                     b"INSERT INTO parent VALUES (11, 'a');\nCALL setp();\n"
                                     b"INSERT INTO child (parent_id, note) VALUES (@p, 'x');\n",
    "an auto-increment zero": b"CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, s VARCHAR(20));\n"
                              b"INSERT INTO t VALUES (0, 'first'), (7, 'second');\n",
    "character sets set in the middle": b"CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20)) CHARSET utf8mb4;\n"
                                        b"SET @cs = @@character_set_client;\n"
                                        b"/*!40101 SET character_set_client = latin1 */;\n"
                                        b"INSERT INTO t VALUES (1, '\xe9t\xe9');\n"
                                        b"SET character_set_client = @cs;\n"
                                        b"SET NAMES utf8mb4;\n"
                                        b"INSERT INTO t VALUES (2, '\xc3\xa9t\xc3\xa9');\n",
    # autocommit turned off beside other settings, in every order and spelling: the other settings apply (the
    # workers of a dump's load commit each row on their own, and skipped the whole SET or turned it off there).
    "autocommit off with a mode": b"SET autocommit=0, sql_mode='NO_BACKSLASH_ESCAPES';\n"
                                  b"CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20));\n"
                                  b"INSERT INTO t VALUES (1, 'a\\b'), (2, 'c\\');\nCOMMIT;\n",
    "a mode with autocommit off": b"/*!40101 SET sql_mode='NO_BACKSLASH_ESCAPES', @@session.autocommit=0 */;\n"
                                  b"CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20));\n"
                                  b"INSERT INTO t VALUES (1, 'a\\b'), (2, 'c\\');\nCOMMIT;\n"
                                  b"SET SESSION autocommit = 1, sql_mode = '';\nINSERT INTO t VALUES (3, 'd\\'e');\n",
    "autocommit off with a time zone": b"SET SESSION autocommit = 0, time_zone = '+05:00';\n"
                                       b"CREATE TABLE t (id INT PRIMARY KEY, at TIMESTAMP NULL);\n"
                                       b"INSERT INTO t VALUES (1, '2024-01-01 10:00:00');\nCOMMIT;\n",
}

#: The same, under a dump's header (mariadb-dump's): the header's session, the rows on the workers.
DUMP_HEADER = (b"-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n--\n"
               b"-- Host: localhost    Database: shop\n"
               b"/*!40101 SET NAMES utf8mb4 */;\n"
               b"/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;\n/*!40103 SET TIME_ZONE='+00:00' */;\n"
               b"/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n"
               b"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n")


def contents(database: str) -> dict[str, list[tuple[object, ...]]]:
    tables = [str(row[0]) for row in query(database, "SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'")]
    return {table: query(database, f"SELECT * FROM `{table}` ORDER BY 1") for table in sorted(tables)}


def synco_load(target: str, script: bytes, folder: Path) -> tuple[int, str]:
    (folder / "script.sql").write_bytes(script)
    result = CliRunner().invoke(cli, ["db", "load", mysql_url_for(target), str(folder / "script.sql"), "--yes"])
    return result.exit_code, result.output


#: Refused under a dump's header (test_what_a_dumps_workers_cannot_give_is_refused).
REFUSED_IN_DUMPS = ("last_insert_id", "a transaction rolled back")


@pytest.mark.parametrize(("name", "header"), [pytest.param(name, b"", id=f"{name}, a script") for name in SCRIPTS] + [
    pytest.param(name, DUMP_HEADER, id=f"{name}, under a dump's header") for name in SCRIPTS
    if name not in REFUSED_IN_DUMPS])
def test_a_script_gives_the_rows_the_client_gives(name: str, header: bytes, tmp_path: Path,
                                                 mysql_database_factory: Callable[[], str]) -> None:
    reference, target = mysql_database_factory(), mysql_database_factory()
    script = header + SCRIPTS[name]
    load_with_client(reference, script)
    status, output = synco_load(target, script, tmp_path)
    assert status == 0, output
    assert contents(target) == contents(reference)


ORPHAN = PARENTS + b"INSERT INTO parent VALUES (1, 'a');\nINSERT INTO child (parent_id, note) VALUES (2, 'orphan');\n"


def test_a_row_the_client_refuses_for_its_foreign_key_fails_the_load(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    reference, target = mysql_database_factory(), mysql_database_factory()
    refused = subprocess.run([*client_argv(), reference], input=ORPHAN, capture_output=True, check=False)
    assert refused.returncode != 0 and b"foreign key constraint fails" in refused.stderr
    status, output = synco_load(target, ORPHAN, tmp_path)
    assert status == 1
    lines = output.strip().splitlines()
    assert len(lines) == 1 and "statement 4 of the dump failed" in lines[0], output
    assert "foreign key constraint fails" in lines[0]
    assert query(target, "SHOW TABLES") == []
    # Under a dump's header, foreign key checks are off as the header says, for synco as for the client.
    reference, target = mysql_database_factory(), mysql_database_factory()
    load_with_client(reference, DUMP_HEADER + ORPHAN)
    status, output = synco_load(target, DUMP_HEADER + ORPHAN, tmp_path)
    assert status == 0, output
    assert contents(target) == contents(reference)


@pytest.fixture(scope="module")
def east(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseConfig]:
    """A private MariaDB whose time zone is +05:00 (the shared one's is UTC, where the difference cannot show)."""
    with mariadb(tmp_path_factory.mktemp("east"), ["--default-time-zone=+05:00"]) as server:
        yield server


TIMESTAMPS = (b"CREATE TABLE t (id INT PRIMARY KEY, ts TIMESTAMP NULL, dt DATETIME NULL);\n"
              b"INSERT INTO t VALUES (1, '2024-01-01 00:00:00', '2024-01-01 00:00:00');\n"
              b"SET time_zone = '-03:00';\n"
              b"INSERT INTO t VALUES (2, '2024-07-01 12:00:00', '2024-07-01 12:00:00');\n")


@pytest.mark.parametrize("header", [b"", DUMP_HEADER], ids=["a script", "under a dump's header"])
def test_timestamps_of_a_script_are_read_in_the_zone_the_client_reads_them_in(
        header: bytes, east: DatabaseConfig, tmp_path: Path) -> None:
    reference, target = unique_name("synco_test_ref"), unique_name("synco_test_tgt")
    mariadb_admin(east, f"CREATE DATABASE `{reference}`")
    try:
        client = require_tool("mariadb", "mariadb-client", "mysql")
        loaded = subprocess.run([client, f"--host={east.host}", f"--port={east.port}", "--user=root", reference],
                                input=header + TIMESTAMPS, capture_output=True, check=False)
        assert loaded.returncode == 0, loaded.stderr
        (tmp_path / "script.sql").write_bytes(header + TIMESTAMPS)
        url = f"mysql://root@{east.host}:{east.port}/{target}"
        result = CliRunner().invoke(cli, ["db", "load", url, str(tmp_path / "script.sql"), "--yes"])
        assert result.exit_code == 0, result.output

        def instants(database: str) -> list[tuple[object, ...]]:
            return mariadb_admin(dataclasses.replace(east, name=database), f"USE `{database}`",
                                 "SELECT id, UNIX_TIMESTAMP(ts), dt FROM t ORDER BY id")

        expected = instants(reference)
        # 2024-01-01 00:00:00 read in +00:00 (the header's zone), or in the server's +05:00.
        assert expected[0][1] == (1704067200 if header else 1704049200)
        assert instants(target) == expected
    finally:
        for (database,) in mariadb_admin(east, "SHOW DATABASES LIKE 'synco\\_test\\_%'"):
            mariadb_admin(east, f"DROP DATABASE `{database}`")


@pytest.mark.parametrize(("name", "said"), [("last_insert_id", "LAST_INSERT_ID()"),
                                           ("a transaction rolled back", "rolls back a transaction")])
def test_what_a_dumps_workers_cannot_give_is_refused(name: str, said: str, tmp_path: Path,
                                                     mysql_database_factory: Callable[[], str]) -> None:
    """A dump's rows go to several connections, each statement committed on its own, where LAST_INSERT_ID()
    would be another connection's and a ROLLBACK undoes nothing: refused, in one line saying how to load it (as a
    script, which gives the client's rows: the test above)."""
    target = mysql_database_factory()
    status, output = synco_load(target, DUMP_HEADER + SCRIPTS[name], tmp_path)
    assert status == 1
    lines = output.strip().splitlines()
    assert len(lines) == 1 and said in lines[0] and "without its dump header line" in lines[0], output
    assert query(target, "SHOW TABLES") == []


def test_a_database_the_load_of_a_script_creates_takes_the_servers_defaults(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    """A script that names no database defaults (no dump header, no CREATE DATABASE) loaded into a database that
    does not exist: the database is created as ``CREATE DATABASE`` creates it, with the server's character set and
    collation, and its tables' defaults follow (Cacti's ``DEFAULT CHARSET=utf8mb4`` tables). It was created
    ``utf8mb4_unicode_ci`` whatever the server's default (``utf8mb4_general_ci`` on MariaDB 10.11), and every
    table with it."""
    reference, target = mysql_database_factory(), mysql_database_factory()
    query(reference, f"DROP DATABASE `{reference}`")
    query(target, f"DROP DATABASE `{target}`")
    query("information_schema", f"CREATE DATABASE `{reference}`")
    script = (b"CREATE TABLE t (s VARCHAR(10)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
              b"CREATE TABLE u (s VARCHAR(10));\nINSERT INTO t VALUES ('a'), ('A');\n")
    load_with_client(reference, script)
    status, output = synco_load(target, script, tmp_path)
    assert status == 0, output

    def collations(database: str) -> list[tuple[object, ...]]:
        return query("information_schema", "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM SCHEMATA "
                                           "WHERE SCHEMA_NAME = %s UNION ALL SELECT TABLE_NAME, TABLE_COLLATION FROM "
                                           "TABLES WHERE TABLE_SCHEMA = %s", (database, database))

    server = query("information_schema", "SELECT @@character_set_server, @@collation_server")
    assert collations(reference)[0] == server[0]
    assert collations(target) == collations(reference)


def test_rows_holding_at_signs_are_not_read_for_variables_no_statement_set(
        tmp_path: Path, mysql_database_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Leaving a dump's strings out to find its ``@``s costs 50 ms a megabyte: rows of e-mail addresses are read
    for user variables only where a statement before them may have set one the workers do not hold."""
    from synco_core.engines.mysql import qualify

    read: list[bytes] = []
    code_text = qualify.code_text

    def counting(sql: bytes, *args: object, **kwargs: object) -> bytes:
        if bytes(sql[:6]).upper() == b"INSERT":
            read.append(bytes(sql[:40]))
        return code_text(sql, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(qualify, "code_text", counting)
    rows = b"".join(b"INSERT INTO parent VALUES (%d, 'p%d@example.com');\n" % (n, n) for n in range(1, 201))
    target = mysql_database_factory()
    status, output = synco_load(target, DUMP_HEADER + PARENTS + rows, tmp_path)
    assert status == 0, output
    assert read == []
    assert len(contents(target)["parent"]) == 200
