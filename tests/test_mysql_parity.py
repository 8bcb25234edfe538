"""mariadb-dump cannot tell synco's copy from the source: Chinook (a public sample database no one here
wrote) and the project's fidelity fixture (sequences, system versioning with history, events, latin1
objects under other sql_modes, names qualified with the database itself) round-trip through ``synco db
dump`` and ``synco db load`` into a database the load creates, with an empty ``mariadb-dump --no-data
--routines --triggers --events`` diff (the database's own name is the only thing normalised) and equal
``CHECKSUM TABLE`` for every table and sequence (real MariaDB on 127.0.0.1)."""

from __future__ import annotations

import difflib
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_mysql_support import (
    VIRTUAL_TABLES,
    client_argv,
    load_chinook,
    load_fidelity,
    load_with_client,
    query,
    table_content,
)

from synco_core.cli.main import cli
from synco_core.testing.services import mysql_admin_connection, mysql_url_for

pytestmark = pytest.mark.mysql


def structure(database: str) -> list[str]:
    """mariadb-dump's view of everything but the rows, with the database's own name written ``DB``."""
    result = subprocess.run([*client_argv("mariadb-dump"), "--no-data", "--routines", "--triggers", "--events",
                             "--skip-dump-date", database], capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout.replace(database.encode(), b"DB").decode("utf-8", "replace").splitlines()


def checksums(database: str) -> dict[str, object]:
    tables = [name for (name,) in query(database, "SELECT TABLE_NAME FROM information_schema.TABLES "
                                                  "WHERE TABLE_SCHEMA=%s AND TABLE_TYPE <> 'VIEW'", (database,))]
    virtual = {name for (name,) in query(database, VIRTUAL_TABLES, (database,))}
    result = {}
    for table in tables:
        quoted = "`" + table.replace("`", "``") + "`"
        conn = mysql_admin_connection(database)
        try:
            with conn.cursor() as cur:
                result[table] = table_content(cur, quoted, table in virtual)
        finally:
            conn.close()
        history = query(database, "SELECT TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s "
                                  "AND TABLE_NAME=%s", (database, table))[0][0] == "SYSTEM VERSIONED"
        if history:
            result[table + " (rows with history)"] = query(database, f"SELECT COUNT(*) FROM {quoted} "
                                                                     "FOR SYSTEM_TIME ALL")
    return result


def assert_copy_is_exact(source: str, tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    """``synco db dump`` of ``source`` and ``synco db load`` into a database the load creates: mariadb-dump
    sees no difference, and every table and sequence has the same checksum."""
    target = mysql_database_factory()
    query(target, f"DROP DATABASE `{target}`")  # the load creates it, with the source's defaults
    dump_file = tmp_path / "dump.sql"
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "dump", mysql_url_for(source), "-o", str(dump_file), "--events"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["db", "load", mysql_url_for(target), str(dump_file), "--yes"])
    assert result.exit_code == 0, result.output
    before, after = structure(source), structure(target)
    assert before == after, "\n".join(difflib.unified_diff(before, after, "source", "copy", lineterm=""))
    assert checksums(target) == checksums(source)


@pytest.mark.parametrize("fixture", ["fidelity", "chinook"])
def test_mariadb_dump_cannot_tell_the_copy_from_the_source(fixture: str, tmp_path: Path,
                                                           mysql_database_factory: Callable[[], str]) -> None:
    source = mysql_database_factory()
    (load_fidelity if fixture == "fidelity" else load_chinook)(source)
    assert_copy_is_exact(source, tmp_path, mysql_database_factory)


def test_names_differing_only_in_case_are_different_objects(tmp_path: Path,
                                                            mysql_database_factory: Callable[[], str]) -> None:
    """Table, view and trigger names are case-sensitive on Linux while information_schema compares them
    without case: ``Foo`` and ``foo`` must each keep their own columns, rows and triggers, whatever their
    engines and whichever way the dump reads them (paged by an integer key, or streamed)."""
    source = mysql_database_factory()
    load_with_client(source, b"""
        CREATE TABLE `Foo` (id INT PRIMARY KEY, a VARCHAR(10));
        CREATE TABLE `foo` (id INT PRIMARY KEY, b INT, c DATE) ENGINE=MyISAM;
        CREATE TABLE `FOO` (k VARCHAR(10), v BLOB);
        INSERT INTO `Foo` VALUES (1, 'upper'), (2, NULL);
        INSERT INTO `foo` VALUES (3, 30, '2020-01-01');
        INSERT INTO `FOO` VALUES ('x', 0x00), ('x', 0x00);
        CREATE VIEW `View` AS SELECT a FROM `Foo`;
        CREATE VIEW `view` AS SELECT b, c FROM `foo`;
        CREATE TRIGGER `Trg` BEFORE INSERT ON `Foo` FOR EACH ROW SET NEW.a = UPPER(NEW.a);
        CREATE TRIGGER `trg` BEFORE INSERT ON `foo` FOR EACH ROW SET NEW.b = NEW.b + 1;
    """)
    assert_copy_is_exact(source, tmp_path, mysql_database_factory)


@pytest.mark.mysql
def test_reading_a_tables_columns_looks_the_table_up(mysql_database_factory: Callable[[], str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """schema.columns runs once per table: a join on information_schema.TABLES without the table's name
    made the server read every table of every database for each call (a dump of 2,000 tables spent 4
    minutes there). Its plan must look TABLES up by name, whatever case the other tables' names differ in."""
    from synco_core.engines.mysql import schema
    from synco_core.testing.services import mysql_admin_connection

    database = mysql_database_factory()
    load_with_client(database, b"CREATE TABLE Foo (a INT); CREATE TABLE foo (b INT, c INT); CREATE TABLE bar (d INT);")
    issued: list[tuple[str, object]] = []
    real_query = schema.query

    def recording(conn: object, sql: str, args: object = None) -> list[tuple[object, ...]]:
        issued.append((sql, args))
        return real_query(conn, sql, args)

    monkeypatch.setattr(schema, "query", recording)
    conn = mysql_admin_connection(database)
    try:
        assert [c.name for c in schema.columns(conn, database, "foo")] == ["b", "c"]
        assert [c.name for c in schema.columns(conn, database, "Foo")] == ["a"]
        (sql, args), = issued[:1]
        with conn.cursor() as cur:
            cur.execute("EXPLAIN " + cur.mogrify(sql, args))
            plan = [str(row[-1]) for row in cur.fetchall()]
    finally:
        conn.close()
    assert not any("Scanned all databases" in extra for extra in plan), plan


def test_a_table_grown_past_the_row_size_limit_by_instant_alters_is_carried(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    """MariaDB adds columns in place without the row size check that CREATE TABLE makes under
    ``innodb_strict_mode``: such a table's CREATE TABLE failed to load ("Row size too large", mariadb-dump's
    script fails alike). It is created with strict mode off for that statement, and carried exactly."""
    source = mysql_database_factory()
    columns = ", ".join(f"ADD COLUMN c{i} varchar(60) DEFAULT 'v{i}'" for i in range(250))
    query(source, "CREATE TABLE wide (id int PRIMARY KEY) ROW_FORMAT=DYNAMIC")
    query(source, f"ALTER TABLE wide {columns}, ALGORITHM=INSTANT")
    query(source, "INSERT INTO wide (id, c7) VALUES (1, 'x'), (2, NULL)")
    assert_copy_is_exact(source, tmp_path, mysql_database_factory)


def test_tables_and_routines_in_character_sets_whose_letters_may_hold_a_backslash_are_carried(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    """A Discuz! or old Japanese site: tables of ``DEFAULT CHARSET=gbk`` (sjis, big5, cp932), a foreign key
    ``ON DELETE SET NULL`` next to one, a function returning ``CHARSET sjis`` and a parameter of ``CHARSET
    gbk``, all made over a utf8mb4 connection. The gate took ``CHARSET gbk`` in them for a switch of the
    connection's character set, and refused synco's own dump of them."""
    source = mysql_database_factory()
    load_with_client(source, """
        CREATE TABLE forum (fid INT PRIMARY KEY, name VARCHAR(50)) ENGINE=InnoDB DEFAULT CHARSET=gbk;
        CREATE TABLE post (pid INT PRIMARY KEY, fid INT, subject VARCHAR(80),
          FOREIGN KEY (fid) REFERENCES forum (fid) ON DELETE SET NULL) ENGINE=InnoDB DEFAULT CHARSET=gbk;
        CREATE TABLE jp (id INT PRIMARY KEY, v VARCHAR(20), w TEXT CHARSET cp932) DEFAULT CHARSET=sjis;
        CREATE TABLE tw (id INT PRIMARY KEY, v VARCHAR(20)) CHARSET big5;
        INSERT INTO forum VALUES (1, '乗 论坛'), (2, NULL);
        INSERT INTO post VALUES (1, 1, '表 \\\\ 乗'), (2, NULL, '');
        INSERT INTO jp VALUES (1, 'ソ表', '能'), (2, 'x', NULL);
        INSERT INTO tw VALUES (1, '許功蓋');
        CREATE FUNCTION greet(who VARCHAR(10) CHARSET gbk) RETURNS VARCHAR(20) CHARSET sjis DETERMINISTIC
          RETURN CONCAT('ソ', CONVERT(who USING sjis));
        CREATE VIEW v AS SELECT greet(name) AS g FROM forum;
    """.encode())
    assert_copy_is_exact(source, tmp_path, mysql_database_factory)


def test_columns_named_like_the_words_the_gate_refuses_are_carried(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    """A job table with columns ``execute``, ``prepare``, ``flush``, ``clone``, ``shutdown``, ``global`` ...,
    which MariaDB takes bare: a trigger setting ``NEW.flush``, a procedure ``UPDATE jobs SET global = 0,
    execute = 0`` or a view ``SELECT clone, flush FROM jobs`` made the gate refuse synco's own dump (it took
    the column for the statement or scope)."""
    words = ["execute", "prepare", "flush", "clone", "shutdown", "binlog", "datafile", "soname", "dumpfile",
             "load_file", "sys_exec", "sys_eval", "global", "persist"]
    source = mysql_database_factory()
    columns = ", ".join(f"`{word}` INT DEFAULT 0" for word in words)
    script = f"CREATE TABLE jobs (id INT PRIMARY KEY, {columns});\nINSERT INTO jobs (id) VALUES (1);\n"
    script += "".join(f"CREATE TRIGGER set_{word} BEFORE UPDATE ON jobs FOR EACH ROW SET NEW.{word} = OLD.{word} + 1;\n"
                      for word in words)
    script += ("CREATE PROCEDURE reset_jobs() UPDATE jobs SET " + ", ".join(f"{word} = 0" for word in words)
               + " WHERE " + " AND ".join(f"jobs.{word} >= 0" for word in words) + ";\n")
    # Selected, renamed, compared and ordered by bare: the gate took ``SELECT clone FROM`` for CLONE.
    script += ("CREATE VIEW job_list AS SELECT id, " + ", ".join(words) + " FROM jobs;\n"
               + "CREATE VIEW job_names AS SELECT " + ", ".join(f"{word} AS {word}_n" for word in words)
               + " FROM jobs WHERE " + " AND ".join(f"{word} > -1 AND {word} IS NOT NULL" for word in words)
               + " ORDER BY " + ", ".join(f"{word} DESC" for word in words) + ";\n"
               + "CREATE PROCEDURE list_jobs() SELECT (SELECT MAX(clone) FROM jobs) AS c, flush FROM jobs"
               + " WHERE execute IN (0, 1) AND shutdown BETWEEN 0 AND 1 GROUP BY flush HAVING flush < 9 LIMIT 5;\n")
    load_with_client(source, script.encode())
    assert_copy_is_exact(source, tmp_path, mysql_database_factory)


def test_routines_and_events_reading_global_variables_are_carried(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    """A function converting from ``@@global.time_zone``, a procedure and an event acting only when
    ``@@GLOBAL.read_only`` is off: the gate took reading a global variable for setting it, and refused
    synco's own dump of them."""
    source = mysql_database_factory()
    load_with_client(source, b"""
        CREATE TABLE t (id INT PRIMARY KEY, ts DATETIME);
        INSERT INTO t VALUES (1, '2020-01-01');
        DELIMITER ;;
        CREATE FUNCTION to_utc(d DATETIME) RETURNS DATETIME DETERMINISTIC
          RETURN CONVERT_TZ(d, @@global.time_zone, '+00:00');;
        CREATE PROCEDURE touch() BEGIN
          DECLARE packet INT DEFAULT @@GLOBAL.max_allowed_packet;
          SET @seen = @@global.read_only, @limit = (@@global.max_connections);
          IF @@GLOBAL.read_only = 0 AND packet > 0 THEN UPDATE t SET ts = NOW(); END IF;
        END;;
        CREATE EVENT tidy ON SCHEDULE EVERY 1 DAY STARTS '2035-01-01' DISABLE
          DO IF @@global.read_only = 0 THEN DELETE FROM t WHERE id < 0; END IF;;
        DELIMITER ;
    """)
    assert_copy_is_exact(source, tmp_path, mysql_database_factory)


def test_comments_of_routines_and_events_made_over_a_latin1_connection_are_carried(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    """A procedure, a function and an event made over a latin1 connection (``SET NAMES latin1``, an old PHP
    site's), with letters beyond ASCII in their comments, under either escaping ``sql_mode``: SHOW CREATE
    writes such a comment in utf8 next to a body in latin1 bytes, so created again under the object's latin1
    client its ``é`` became ``Ã©`` (found by tests/fuzz/test_fuzz_mysql_schema.py)."""
    source = mysql_database_factory()
    load_with_client(source, """
        SET NAMES latin1;
        CREATE PROCEDURE p() COMMENT 'a\\\\b\\Zc\\0d\\ne''f é' SELECT 'é';
        CREATE FUNCTION f(x INT) RETURNS INT DETERMINISTIC COMMENT 'q é ÿ' RETURN x;
        CREATE EVENT e ON SCHEDULE AT '2035-01-01 00:00:00' DISABLE COMMENT 'ü' DO SELECT 1;
        SET sql_mode = 'NO_BACKSLASH_ESCAPES';
        CREATE PROCEDURE p2() COMMENT 'x\\y ü''' SELECT 1;
        SET NAMES utf8mb4;
        CREATE PROCEDURE p3() COMMENT '名 é' SELECT 1;
    """.encode())
    assert_copy_is_exact(source, tmp_path, mysql_database_factory)


def test_history_rows_whose_period_ends_where_it_starts_are_left_out_with_a_warning(
        tmp_path: Path, mysql_database_factory: Callable[[], str], caplog: pytest.LogCaptureFixture) -> None:
    """A row deleted at the instant it was written (under ``SET timestamp``, or within one microsecond)
    leaves a history row with ROW START = ROW END, which the server stores but refuses to insert: the dump
    was written and its load failed on its statement 21 ("Incorrect row_start value"). Such rows, which no
    ``AS OF`` query ever sees, are left out and named in a warning; the rest of the history is carried
    (found by tests/fuzz/test_fuzz_mysql_schema.py)."""
    source = mysql_database_factory()
    load_with_client(source, b"""
        CREATE TABLE plain (id INT PRIMARY KEY) WITH SYSTEM VERSIONING;
        INSERT INTO plain VALUES (1);
        UPDATE plain SET id = 2;
        SET timestamp = 1700000000.123456;
        CREATE TABLE t (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, k INT) WITH SYSTEM VERSIONING;
        CREATE TABLE named (id INT PRIMARY KEY, s TIMESTAMP(6) AS ROW START INVISIBLE,
          e TIMESTAMP(6) AS ROW END INVISIBLE, PERIOD FOR SYSTEM_TIME(s, e)) WITH SYSTEM VERSIONING;
        INSERT INTO t (k) VALUES (1), (2), (3);
        INSERT INTO named VALUES (1), (2);
        UPDATE t SET k = k + 10 WHERE id = 1;
        DELETE FROM t WHERE id = 2;
        DELETE FROM named WHERE id = 1;
        SET timestamp = 1700000001;
        UPDATE t SET k = k + 100 WHERE id = 3;
    """)
    dump_file = tmp_path / "dump.sql"
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "dump", mysql_url_for(source), "-o", str(dump_file)])
    assert result.exit_code == 0, result.output
    warned = [r.getMessage() for r in caplog.records if "period ends where it starts" in r.getMessage()]
    assert len(warned) == 2 and "table `t`" in warned[0] + warned[1] and "table `named`" in warned[0] + warned[1]
    target = mysql_database_factory()
    result = runner.invoke(cli, ["db", "load", mysql_url_for(target), str(dump_file), "--yes"])
    assert result.exit_code == 0, result.output
    for table, start, end in (("t", "row_start", "row_end"), ("named", "s", "e"), ("plain", "row_start", "row_end")):
        every = f"SELECT *, {start}, {end} FROM {table} FOR SYSTEM_TIME ALL WHERE {start} < {end} ORDER BY 1, {start}"
        assert query(target, every) == query(source, every)
        assert query(target, f"SELECT COUNT(*) FROM {table} FOR SYSTEM_TIME ALL WHERE {start} >= {end}") == [(0,)]


def test_rows_production_holds_past_its_check_constraints_are_carried(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    """Rows a CHECK constraint refuses today, stored while ``check_constraint_checks`` was off or before the
    constraint was added with it off (a migration's ``ALTER TABLE ... ADD CONSTRAINT``; a JSON column's
    ``json_valid`` check over text written before MariaDB 10.4.3), in every engine that checks: the load stopped
    on their INSERT ("CONSTRAINT `t.a` failed"), as mariadb-dump's script does. Production holds them, so the
    copy must, as it holds rows past their foreign keys."""
    source = mysql_database_factory()
    load_with_client(source, b"""
        CREATE SEQUENCE s;
        CREATE TABLE inno (id INT PRIMARY KEY, a INT CHECK (a > 0), j JSON, CONSTRAINT small CHECK (a < 100));
        CREATE TABLE isam (id INT PRIMARY KEY, a INT CHECK (a > 0), n INT DEFAULT nextval(s)) ENGINE=MyISAM;
        CREATE TABLE aria (id INT, a INT, CONSTRAINT pos CHECK (a > 0)) ENGINE=Aria;
        CREATE TABLE later (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, a VARCHAR(5));
        INSERT INTO later (a) VALUES ('x'), ('yyyyy');
        SET check_constraint_checks = 0;
        INSERT INTO inno VALUES (1, -5, 'not json'), (2, 500, '{'), (3, 5, '[]');
        INSERT INTO isam VALUES (1, -1, 1), (2, 0, 2);
        INSERT INTO aria VALUES (1, -2), (1, -2);
        ALTER TABLE later ADD CONSTRAINT short CHECK (CHAR_LENGTH(a) < 3);
        SET check_constraint_checks = 1;
    """)
    assert_copy_is_exact(source, tmp_path, mysql_database_factory)


def refused_then_left_out(source: str, tmp_path: Path, mysql_database_factory: Callable[[], str]) -> tuple[str, str]:
    """``db dump`` of ``source`` refused in one line ("cannot carry"), no file written; with
    ``--skip-unsupported`` dumped and loaded into a new database. The refusal and that database."""
    dump_file = tmp_path / "refused.sql"
    result = CliRunner().invoke(cli, ["db", "dump", mysql_url_for(source), "-o", str(dump_file)])
    assert result.exit_code == 1
    line = result.output.strip()
    assert "\n" not in line and "cannot carry" in line, line
    assert not dump_file.exists()
    result = CliRunner().invoke(cli, ["db", "dump", mysql_url_for(source), "-o", str(dump_file),
                                      "--skip-unsupported"])
    assert result.exit_code == 0, result.output
    target = mysql_database_factory()
    result = CliRunner().invoke(cli, ["db", "load", mysql_url_for(target), str(dump_file), "--yes"])
    assert result.exit_code == 0, result.output
    return line, target


def test_views_the_server_cannot_open_are_refused_by_the_dump(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    """A view left behind by a migration that dropped the table, the column or the function it reads (the
    server keeps it, and only fails to open it): the dump was written, with the view as the server keeps it,
    and its load failed at it after the download ("Unknown column ... in 'SELECT'"); mariadb-dump stops with
    error 1356. So did a view ``WITH CHECK OPTION`` reading a view since replaced by one that cannot be updated
    ("CHECK OPTION on non-updatable view"; mariadb-dump's script fails alike). The dump refuses in one line
    naming every such view, a view on one too, and nothing else (a
    view whose definer is gone opens once the loading user is its definer); ``--skip-unsupported`` leaves them
    out, and the rest is copied exactly."""
    source = mysql_database_factory()
    load_with_client(source, b"""
        CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT);
        CREATE TABLE gone (id INT);
        CREATE FUNCTION f() RETURNS INT RETURN 1;
        CREATE SEQUENCE s;
        CREATE VIEW v_table AS SELECT id FROM gone;
        CREATE VIEW v_column AS SELECT id, b FROM t;
        CREATE VIEW v_function AS SELECT f() AS x;
        CREATE VIEW v_on_view AS SELECT x FROM v_function;
        CREATE VIEW v_ok AS SELECT id, a FROM t;
        CREATE VIEW v_next AS SELECT NEXTVAL(s) AS n;
        CREATE DEFINER = 'nobody'@'nowhere' VIEW v_no_definer AS SELECT id FROM t;
        CREATE VIEW v_base AS SELECT id, a FROM t;
        CREATE VIEW v_checked AS SELECT id, a FROM v_base WHERE a > 0 WITH CASCADED CHECK OPTION;
        CREATE VIEW v_still_checked AS SELECT a + 1 AS x, id FROM t WITH CHECK OPTION;
        CREATE OR REPLACE ALGORITHM = TEMPTABLE VIEW v_base AS SELECT id, a FROM t;
        DROP TABLE gone;
        ALTER TABLE t DROP COLUMN b;
        DROP FUNCTION f;
        INSERT INTO t VALUES (1, 2);
    """)
    line, target = refused_then_left_out(source, tmp_path, mysql_database_factory)
    for name in ("v_table", "v_column", "v_function", "v_on_view", "v_checked"):
        assert f"view {name} (" in line, line
    for name in ("v_ok", "v_next", "v_no_definer", "v_base", "v_still_checked"):
        assert name not in line, line
    assert query(target, "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s ORDER BY 1",
                 (target,)) == [("v_base",), ("v_next",), ("v_no_definer",), ("v_ok",), ("v_still_checked",)]
    # mariadb-dump stops at v_no_definer
    query(source, "DROP VIEW v_table, v_column, v_function, v_on_view, v_no_definer, v_checked")
    query(source, "CREATE VIEW v_column AS SELECT 1 AS b")  # a view of that name, which opens, is carried
    assert_copy_is_exact(source, tmp_path, mysql_database_factory)


def test_foreign_keys_to_tables_that_do_not_exist_are_carried(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    """A foreign key whose table was dropped with ``foreign_key_checks`` off (a migration's ``DROP TABLE``, a
    plugin's uninstall), or made to a table never created: the load creates it as written, but in the scratch
    database, and the install's ``RENAME TABLE`` moves the table without it, so the copy's key pointed at the
    scratch database (``REFERENCES `db__synco_new`.`parent```), gone once the install ended. Each such key must
    name the target's table again, after an install into a new database, over an existing one and after a
    rollback, and the kept copy must not be left pointing at the scratch database either."""
    source = mysql_database_factory()
    load_with_client(source, b"""
        CREATE TABLE parent (id INT PRIMARY KEY);
        CREATE TABLE kept (id INT PRIMARY KEY);
        SET foreign_key_checks = 0;
        CREATE TABLE child (id INT PRIMARY KEY, p INT, q INT, k INT,
          CONSTRAINT fk_gone FOREIGN KEY (p) REFERENCES parent (id) ON DELETE CASCADE,
          CONSTRAINT `fk ``never``` FOREIGN KEY (q) REFERENCES `never made` (id) ON UPDATE SET NULL,
          CONSTRAINT fk_kept FOREIGN KEY (k) REFERENCES kept (id));
        INSERT INTO parent VALUES (1); INSERT INTO kept VALUES (1); INSERT INTO child VALUES (1, 1, 5, 1);
        DROP TABLE parent;
        CREATE TABLE `other child` (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES parent (id));
    """)
    assert_copy_is_exact(source, tmp_path, mysql_database_factory)
    target = mysql_database_factory()
    dump_file = tmp_path / "dump.sql"
    runner = CliRunner()
    for _ in range(2):  # the second replaces the first, which is kept
        result = runner.invoke(cli, ["db", "load", mysql_url_for(target), str(dump_file), "--yes"])
        assert result.exit_code == 0, result.output
        assert structure(target) == structure(source)
    result = runner.invoke(cli, ["db", "rollback", mysql_url_for(target), "--yes"])
    assert result.exit_code == 0, result.output
    assert structure(target) == structure(source)
    # The scratch database, gone after each install, is named by no key, in the target or in the kept copy.
    assert query(target, "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME FROM "
                         "information_schema.REFERENTIAL_CONSTRAINTS WHERE UNIQUE_CONSTRAINT_SCHEMA = %s",
                 (target + "__synco_new",)) == []


def test_events_whose_schedule_has_ended_are_carried(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    """Events whose schedule is over and that are dropped on completion (``ON COMPLETION NOT PRESERVE``), kept
    by the server while they are disabled or its ``event_scheduler`` is off (MariaDB's default): the server
    drops such an event the moment ``CREATE EVENT`` makes it (a note, which the dump's ``sql_notes = 0`` hides),
    so the copy lost them without a word (mariadb-dump's too). Each is created preserved and then altered, as
    production holds it, in the scratch database and by the swap, into a new database and over an existing one."""
    source = mysql_database_factory()
    load_with_client(source, b"""
        CREATE TABLE t (id INT);
        CREATE EVENT ended_at ON SCHEDULE AT '2020-01-01 00:00:00' ON COMPLETION PRESERVE DISABLE
          COMMENT 'once' DO INSERT INTO t VALUES (1);
        CREATE EVENT ended_every ON SCHEDULE EVERY 1 DAY STARTS '2019-01-01 00:00:00' ENDS '2020-01-01 00:00:00'
          ON COMPLETION PRESERVE DISABLE ON SLAVE DO INSERT INTO t VALUES (2);
        CREATE EVENT `ended ``quoted``` ON SCHEDULE AT '2021-01-01 00:00:00' ON COMPLETION PRESERVE DISABLE
          DO INSERT INTO t VALUES (3);
        ALTER EVENT ended_at ON COMPLETION NOT PRESERVE;
        ALTER EVENT ended_every ON COMPLETION NOT PRESERVE;
        ALTER EVENT `ended ``quoted``` ON COMPLETION NOT PRESERVE;
        CREATE EVENT kept ON SCHEDULE AT '2020-01-01 00:00:00' ON COMPLETION PRESERVE DISABLE DO SELECT 1;
    """)
    assert len(query(source, "SELECT 1 FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s", (source,))) == 4
    assert_copy_is_exact(source, tmp_path, mysql_database_factory)
    target = mysql_database_factory()
    for _ in range(2):  # into an existing database, then over the copy, which is kept
        result = CliRunner().invoke(cli, ["db", "load", mysql_url_for(target), str(tmp_path / "dump.sql"), "--yes"])
        assert result.exit_code == 0, result.output
        assert structure(target) == structure(source)
    assert len(query(target, "SELECT 1 FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s",
                     (target + "__synco_prev",))) == 4


def test_triggers_naming_columns_their_table_no_longer_has_are_refused_by_the_dump(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    """A trigger reading or setting ``NEW.col`` or ``OLD.col`` of a column a migration dropped after it: the
    server keeps it (and fails the table's writes), but refuses to create it ("Unknown column 'gone' in
    'OLD'"), so the load failed at it after the download, as mariadb-dump's script does. The dump refuses in
    one line naming each such trigger, and no other (a name in a string or comment, another column's case, a
    column of a latin1 connection's trigger); ``--skip-unsupported`` leaves them out and the rest is exact."""
    source = mysql_database_factory()
    load_with_client(source, """
        CREATE TABLE t (id INT PRIMARY KEY, `Mixed` INT, gone INT, `gone too` INT, `ünï` INT);
        CREATE TABLE log (v TEXT);
        CREATE TRIGGER set_gone BEFORE INSERT ON t FOR EACH ROW SET NEW.gone = NEW.mixed;
        CREATE TRIGGER read_gone AFTER UPDATE ON t FOR EACH ROW INSERT INTO log VALUES (OLD.`gone too`);
        CREATE TRIGGER spaced BEFORE DELETE ON t FOR EACH ROW SET @x = old . gone;
        CREATE TRIGGER fine BEFORE UPDATE ON t FOR EACH ROW
          SET NEW.MIXED = OLD.Mixed + NEW.`ünï`, @y = 'NEW.gone' /* OLD.gone */;
    """.encode() + """
        SET NAMES latin1;
        CREATE TRIGGER fine_latin1 AFTER INSERT ON t FOR EACH ROW INSERT INTO log VALUES (CONCAT(NEW.`ünï`, 'é'));
        SET NAMES utf8mb4;
        ALTER TABLE t DROP COLUMN gone, DROP COLUMN `gone too`;
        INSERT INTO log VALUES ('x');
    """.encode("latin-1"))
    line, target = refused_then_left_out(source, tmp_path, mysql_database_factory)
    for name in ("set_gone", "read_gone", "spaced"):
        assert f"trigger {name} (" in line, line
    assert "fine" not in line, line
    assert query(target, "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s "
                         "ORDER BY 1", (target,)) == [("fine",), ("fine_latin1",)]
    query(source, "DROP TRIGGER set_gone")
    query(source, "DROP TRIGGER read_gone")
    query(source, "DROP TRIGGER spaced")
    assert_copy_is_exact(source, tmp_path, mysql_database_factory)


def test_dates_production_stored_under_allow_invalid_dates_are_carried(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    """``ALLOW_INVALID_DATES`` (an old application's ``sql_mode``) stores days a month lacks (``2020-02-30``)
    in DATE and DATETIME columns and defaults: the dump's load mode lacked it, so a table whose default is one
    failed to load ("Invalid default value"), and such values were zeroed (mariadb-dump's script does both). The
    dump's load mode allows them, in rows of every way the dump reads a table (paged, streamed, MyISAM)."""
    source = mysql_database_factory()
    load_with_client(source, b"""
        SET sql_mode = 'ALLOW_INVALID_DATES';
        CREATE TABLE paged (id INT PRIMARY KEY, d DATE, dt DATETIME(3), d2 DATE DEFAULT '2021-02-31');
        INSERT INTO paged VALUES (1, '2020-02-30', '2021-04-31 10:11:12.5', DEFAULT), (2, '2019-02-29', NULL, NULL);
        CREATE TABLE streamed (d DATE, dt DATETIME DEFAULT '1999-11-31 00:00:00') ENGINE=MyISAM;
        INSERT INTO streamed VALUES ('2020-06-31', DEFAULT), ('2020-02-31', '2021-09-31 23:59:59');
    """)
    assert query(source, "SELECT CAST(d AS CHAR) FROM paged WHERE id = 1") == [("2020-02-30",)]
    assert_copy_is_exact(source, tmp_path, mysql_database_factory)


def test_generated_columns_subtracting_unsigned_values_are_carried(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    """A stored generated column ``a - b`` of unsigned columns can only be made under
    ``NO_UNSIGNED_SUBTRACTION``: the server refused the table's CREATE TABLE under the dump's mode ("cannot be
    used in the GENERATED ALWAYS AS clause"), as it refuses mariadb-dump's script, and without the mode the
    rows' negative differences are out of range. The dump's load mode has it. (A VIRTUAL such column is left
    out here: the server computes it in the mode of the session that opened the table first.)"""
    source = mysql_database_factory()
    load_with_client(source, b"""
        SET sql_mode = 'NO_UNSIGNED_SUBTRACTION';
        CREATE TABLE stock (id INT PRIMARY KEY, got INT UNSIGNED, sold BIGINT UNSIGNED,
          left_over BIGINT AS (got - sold) STORED, KEY (left_over));
        INSERT INTO stock (id, got, sold) VALUES (1, 1, 5), (2, 5, 1), (3, 0, 4294967295);
        CREATE TABLE plain (id INT PRIMARY KEY, a INT UNSIGNED, d BIGINT AS (CAST(a AS SIGNED) - 10) STORED);
        INSERT INTO plain (id, a) VALUES (1, 3);
    """)
    assert query(source, "SELECT left_over FROM stock WHERE id = 1") == [(-4,)]
    assert_copy_is_exact(source, tmp_path, mysql_database_factory)


def test_engine_options_the_server_does_not_know_are_carried(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    """Options no engine of the server defines, on a table, its columns and its keys (TokuDB's ``compression``
    left on tables moved to InnoDB when MariaDB 10.6 dropped TokuDB, or any made under
    ``IGNORE_BAD_TABLE_OPTIONS``): the server keeps them, and SHOW CREATE TABLE writes them in plain comments,
    which every load dropped (mariadb-dump's script too). They are carried, on InnoDB, MyISAM and partitioned
    tables, beside options the engine knows; a comment's text that looks like one stays text. The dump still
    loads with the mariadb client."""
    source = mysql_database_factory()
    load_with_client(source, br"""
        SET sql_mode = 'IGNORE_BAD_TABLE_OPTIONS';
        CREATE TABLE moved (id INT PRIMARY KEY `c_o`='it''s \\ x' `n`=5,
          v VARCHAR(10) COMMENT 'see /* `x`=1 */', KEY k (v) `clustering`=yes COMMENT 'k''s')
          `compression`='tokudb_zlib' PAGE_COMPRESSED=1 `z`=3 COMMENT='t /* `q`=''1'' */';
        CREATE TABLE old_myisam (id INT, KEY (id) `i`=1) ENGINE=MyISAM `x`=1;
        CREATE TABLE parts (id INT) `compression`='tokudb_lzma' PARTITION BY HASH (id) PARTITIONS 2;
        CREATE TABLE `plain /* ``a``=1 */` (id INT) COMMENT '/* `b`=''2'' */';
        SET sql_mode = DEFAULT;
        INSERT INTO moved VALUES (1, 'a'), (2, NULL);
        INSERT INTO old_myisam VALUES (1);
        INSERT INTO parts VALUES (1), (2), (3);
    """)
    assert "/* `compression`='tokudb_zlib' */" in query(source, "SHOW CREATE TABLE moved")[0][1]
    assert_copy_is_exact(source, tmp_path, mysql_database_factory)
    client = mysql_database_factory()
    load_with_client(client, (tmp_path / "dump.sql").read_bytes())
    assert structure(client) == structure(source)


def test_foreign_keys_to_a_table_made_again_otherwise_are_carried(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    """A table a foreign key refers to, dropped and made again under ``foreign_key_checks = 0`` with its key's
    type changed (a migration's INT to BIGINT, a VARCHAR moved to latin1), without the index or the column
    the key refers to (a prefix index only), or in MyISAM, leaves the key as production has it; but no server
    creates a table whose foreign key refers to an existing table it does not fit
    ("errno: 150 Foreign key constraint is incorrectly formed"), so the dump failed to load at the first such
    table written after the one it refers to, as mariadb-dump's script fails. The dump writes such a table
    before the tables it refers to, as production's server made it: whatever the names' order, and in a cycle
    of keys whose other key is of one type; in a database holding them already, and back. The dump loads with
    the mariadb client too (mariadb-dump's script, in the order of the names, does not)."""
    source = mysql_database_factory()
    load_with_client(source, b"""
        CREATE TABLE a_parent (id INT PRIMARY KEY, code VARCHAR(10), KEY (code));
        CREATE TABLE b_child (id INT PRIMARY KEY, pid INT, pcode VARCHAR(10),
          FOREIGN KEY (pid) REFERENCES a_parent (id), FOREIGN KEY (pcode) REFERENCES a_parent (code));
        CREATE TABLE z_parent (id INT PRIMARY KEY);
        CREATE TABLE c_child (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES z_parent (id));
        CREATE TABLE n_two (id INT PRIMARY KEY, one INT, KEY (one));
        CREATE TABLE m_one (id INT PRIMARY KEY, two INT, FOREIGN KEY (two) REFERENCES n_two (id));
        ALTER TABLE n_two ADD FOREIGN KEY (one) REFERENCES m_one (id);
        CREATE TABLE d_indexed (id INT PRIMARY KEY, code VARCHAR(10), gone INT, KEY (code), KEY (gone));
        CREATE TABLE e_child (id INT PRIMARY KEY, pcode VARCHAR(10), g INT,
          FOREIGN KEY (pcode) REFERENCES d_indexed (code), FOREIGN KEY (g) REFERENCES d_indexed (gone));
        CREATE TABLE f_innodb (id INT PRIMARY KEY);
        CREATE TABLE g_child (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES f_innodb (id));
        INSERT INTO a_parent VALUES (1, 'x');
        INSERT INTO b_child VALUES (1, 1, 'x'), (2, NULL, NULL);
        SET foreign_key_checks = 0;
        DROP TABLE a_parent;
        CREATE TABLE a_parent (id BIGINT PRIMARY KEY, code VARCHAR(20) CHARACTER SET latin1, KEY (code));
        INSERT INTO a_parent VALUES (1, 'x');
        DROP TABLE z_parent;
        CREATE TABLE z_parent (id BIGINT UNSIGNED PRIMARY KEY);
        DROP TABLE d_indexed;
        CREATE TABLE d_indexed (id INT PRIMARY KEY, code VARCHAR(10), KEY (code(3)));
        DROP TABLE f_innodb;
        CREATE TABLE f_innodb (id INT PRIMARY KEY) ENGINE=MyISAM;
        DROP TABLE m_one;
        CREATE TABLE m_one (id SMALLINT PRIMARY KEY, two INT, FOREIGN KEY (two) REFERENCES n_two (id));
        SET foreign_key_checks = 1;
    """)
    assert_copy_is_exact(source, tmp_path, mysql_database_factory)
    client = mysql_database_factory()
    load_with_client(client, (tmp_path / "dump.sql").read_bytes())
    assert structure(client) == structure(source)
    # Into a database holding such tables already, and back: the swap moves them both ways.
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(cli, ["db", "load", mysql_url_for(client), str(tmp_path / "dump.sql"), "--yes"])
        assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["db", "rollback", mysql_url_for(client), "--yes"])
    assert result.exit_code == 0, result.output
    assert structure(client) == structure(source)
    assert checksums(client) == checksums(source)
