"""What a MySQL/MariaDB dump carries besides rows, each through synco's dump and load (and, where it says
so, through the mariadb client or mariadb-dump's script): sequences, system-versioned history, the
session each view, trigger, routine and event was made in, database defaults, names qualified with the
source database, MERGE tables, and what cannot be carried (real MariaDB on 127.0.0.1)."""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Callable

import pymysql
import pytest
from test_mysql_support import (
    client_argv,
    config,
    dump_bytes,
    install_bytes,
    load_with_client,
    mariadb_dump,
    query,
    replace_under_its_name,
    snapshot,
)

import synco_core.engines.mysql.install as install_module
import synco_core.engines.mysql.preflight as preflight_module
from synco_core.engines.mysql.dump import dump
from synco_core.engines.mysql.install import install, rollback
from synco_core.errors import DatabaseError
from synco_core.testing.services import mysql_admin_connection, unique_name
from synco_core.values import DumpOptions, InstallOptions

pytestmark = pytest.mark.mysql

SEQUENCES = b"""
CREATE SEQUENCE s_cycle START WITH 100 MINVALUE 10 MAXVALUE 1000 INCREMENT BY 7 CACHE 5 CYCLE COMMENT 'c';
DO SETVAL(s_cycle, 45, 0, 4);
CREATE SEQUENCE s_down START WITH -1 MINVALUE -100 MAXVALUE -1 INCREMENT BY -3 NOCACHE;
DO NEXTVAL(s_down), NEXTVAL(s_down);
CREATE SEQUENCE s_done START WITH 5 MINVALUE 1 MAXVALUE 6 NOCACHE NOCYCLE;
DO NEXTVAL(s_done), NEXTVAL(s_done);
CREATE SEQUENCE s_used START WITH 1 CACHE 20;
DO NEXTVAL(s_used), NEXTVAL(s_used), NEXTVAL(s_used);
CREATE SEQUENCE s_new;
"""
SEQUENCE_NAMES = ("s_cycle", "s_down", "s_done", "s_used", "s_new")


def sequence_state(database: str) -> dict[str, object]:
    return {name: (query(database, f"SELECT * FROM {name}"), query(database, f"SHOW CREATE SEQUENCE {name}"))
            for name in SEQUENCE_NAMES}


def next_values(database: str) -> list[object]:
    """What each sequence gives next (this uses the values up, so call it once per database)."""
    values = []
    for name in SEQUENCE_NAMES:
        try:
            values.append(query(database, f"SELECT NEXTVAL({name})")[0][0])
        except pymysql.err.MySQLError as exc:
            values.append(f"error {exc.args[0]}")
    return values


def test_sequences_carry_their_exact_state(mysql_database_factory: Callable[[], str]) -> None:
    """Start, bounds, increment, cache, cycling, the number of cycles done and the next value, also for a
    sequence that has run out; through synco's loader and the mariadb client. The next value is the one a
    restart of the source server would give: values a session has cached are kept nowhere else (``s_used``
    caches 20, so after 3 the source gives 4 and the copies 21). mariadb-dump's SETVAL leaves the cycles
    out, so its copy of ``s_cycle`` starts over."""
    source = mysql_database_factory()
    load_with_client(source, SEQUENCES)
    data, result = dump_bytes(source)
    assert result.tables["s_cycle"].rows == 1  # verified after loading like a table's rows
    expected = sequence_state(source)
    ours, client = mysql_database_factory(), mysql_database_factory()
    install_bytes(ours, data, manifest=result.tables)
    load_with_client(client, data)
    assert sequence_state(ours) == expected
    assert sequence_state(client) == expected
    assert next_values(ours) == next_values(client) == [45, -7, "error 4084", 21, 1]
    assert next_values(source) == [45, -7, "error 4084", 4, 1]
    reference = mysql_database_factory()
    load_with_client(reference, mariadb_dump(source))
    assert query(reference, "SELECT cycle_count FROM s_cycle") == [(0,)]


HISTORY = b"""
SET time_zone = '+00:00';
CREATE TABLE by_id (id INT PRIMARY KEY, v VARCHAR(10)) WITH SYSTEM VERSIONING;
CREATE TABLE by_code (code VARCHAR(10) NOT NULL PRIMARY KEY, v INT,
  since TIMESTAMP(6) GENERATED ALWAYS AS ROW START INVISIBLE,
  until TIMESTAMP(6) GENERATED ALWAYS AS ROW END INVISIBLE, PERIOD FOR SYSTEM_TIME (since, until))
  WITH SYSTEM VERSIONING;
CREATE TABLE keyless (v INT) WITH SYSTEM VERSIONING
  PARTITION BY SYSTEM_TIME (PARTITION p_old HISTORY, PARTITION p_now CURRENT);
INSERT INTO by_id VALUES (1, 'a'), (2, 'b'), (3, 'c');
INSERT INTO by_code (code, v) VALUES ('x', 1), ('y', 2);
INSERT INTO keyless VALUES (1), (2);
UPDATE by_id SET v = CONCAT(v, '2');
UPDATE by_id SET v = 'z' WHERE id = 1;
DELETE FROM by_id WHERE id = 3;
UPDATE by_code SET v = v + 10;
UPDATE keyless SET v = v * 10;
DELETE FROM keyless WHERE v = 10;
"""


def history(database: str) -> dict[str, list[tuple[object, ...]]]:
    return {
        "by_id": query(database, "SELECT id, v, row_start, row_end FROM by_id FOR SYSTEM_TIME ALL ORDER BY 3, 1"),
        "by_code": query(database, "SELECT code, v, since, until FROM by_code FOR SYSTEM_TIME ALL ORDER BY 3, 1"),
        "keyless": query(database, "SELECT v, row_start, row_end FROM keyless FOR SYSTEM_TIME ALL ORDER BY 2, 1"),
        "partition": query(database, "SELECT v FROM keyless PARTITION (p_old) ORDER BY 1"),
    }


@pytest.mark.parametrize("wide_row_bytes", [None, 0])
def test_system_versioned_tables_keep_their_history(wide_row_bytes: int | None, monkeypatch: pytest.MonkeyPatch,
                                                   mysql_database_factory: Callable[[], str]) -> None:
    """Every row version with its periods, read by integer ranges, in key order and streamed (and, with
    ``wide_row_bytes`` 0, every table streamed), loaded through ``system_versioning_insert_history`` by
    synco's loader and by the mariadb client; mariadb-dump's default script keeps only the current rows."""
    from synco_core.engines.mysql import dump

    if wide_row_bytes is not None:
        monkeypatch.setattr(dump, "WIDE_ROW_BYTES", wide_row_bytes)
    source = mysql_database_factory()
    load_with_client(source, HISTORY)
    expected = history(source)
    assert len(expected["by_id"]) == 7 and expected["partition"] == [(1,), (2,), (10,)]
    data, result = dump_bytes(source)
    assert result.tables["by_id"].rows == 7
    ours, client = mysql_database_factory(), mysql_database_factory()
    install_bytes(ours, data, manifest=result.tables)
    load_with_client(client, data)
    assert history(ours) == expected
    assert history(client) == expected
    reference = mysql_database_factory()
    load_with_client(reference, mariadb_dump(source))
    assert len(history(reference)["by_id"]) == 2


def test_transaction_precise_history_is_refused_or_left_out(mysql_database_factory: Callable[[], str],
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """Periods kept as transaction ids cannot be loaded anywhere else: the dump refuses, naming the table,
    or with --skip-unsupported carries the current rows and says the history is left out."""
    source = mysql_database_factory()
    load_with_client(source, b"""
CREATE TABLE trx (id INT PRIMARY KEY, v INT, s BIGINT UNSIGNED GENERATED ALWAYS AS ROW START,
  e BIGINT UNSIGNED GENERATED ALWAYS AS ROW END, PERIOD FOR SYSTEM_TIME (s, e)) ENGINE=InnoDB WITH SYSTEM VERSIONING;
INSERT INTO trx (id, v) VALUES (1, 1), (2, 2); UPDATE trx SET v = 5 WHERE id = 1;
""")
    with pytest.raises(DatabaseError, match=r"the history of table trx \(system versioning by transaction ids\).*"
                                            r"--skip-unsupported"):
        dump_bytes(source)
    with caplog.at_level("WARNING"):
        data, result = dump_bytes(source, DumpOptions(skip_unsupported=True))
    assert "the history of table trx" in caplog.text
    target = mysql_database_factory()
    install_bytes(target, data, manifest=result.tables)
    assert query(target, "SELECT id, v FROM trx ORDER BY id") == [(1, 5), (2, 2)]


LATIN1_OBJECTS = (
    b"SET NAMES latin1;\n"
    b"SET time_zone = '+05:00';\n"
    b"CREATE TABLE notes (id INT PRIMARY KEY, note VARCHAR(20)) DEFAULT CHARSET=latin1;\n"
    b"SET sql_mode = 'ANSI_QUOTES,PIPES_AS_CONCAT';\n"
    b"CREATE VIEW \"shout\" AS SELECT '\xc4' || \"note\" AS \"loud\" FROM \"notes\";\n"
    b"CREATE TRIGGER \"stamp\" BEFORE INSERT ON \"notes\" FOR EACH ROW SET NEW.\"note\" = '\xe9' || NEW.\"note\";\n"
    b"CREATE EVENT \"tick\" ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE\n"
    b"  DO INSERT INTO \"notes\" VALUES (9, '\xd6' || 'x');\n"
    b"SET sql_mode = 'NO_BACKSLASH_ESCAPES';\n"
    b"DELIMITER ;;\n"
    b"CREATE PROCEDURE add_note(n VARCHAR(10)) COMMENT 'a\\b'\n"
    b"  BEGIN INSERT INTO notes VALUES (2, CONCAT('\\', n)); END ;;\n"
    b"CREATE FUNCTION greet() RETURNS VARCHAR(10) CHARSET latin1 DETERMINISTIC RETURN '\xfc\\';;\n"
    b"DELIMITER ;\n"
    b"SET NAMES utf8mb4; SET sql_mode = DEFAULT; SET time_zone = '+00:00';\n"
)


def object_sessions(database: str) -> list[tuple[object, ...]]:
    rows = query(database, "SELECT TRIGGER_NAME, CHARACTER_SET_CLIENT, COLLATION_CONNECTION, SQL_MODE, "
                           "DATABASE_COLLATION FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA=%s", (database,))
    rows += query(database, "SELECT ROUTINE_NAME, CHARACTER_SET_CLIENT, COLLATION_CONNECTION, SQL_MODE, "
                            "DATABASE_COLLATION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA=%s ORDER BY 1",
                  (database,))
    rows += query(database, "SELECT EVENT_NAME, CHARACTER_SET_CLIENT, COLLATION_CONNECTION, SQL_MODE, TIME_ZONE "
                            "FROM information_schema.EVENTS WHERE EVENT_SCHEMA=%s", (database,))
    rows += query(database, "SELECT TABLE_NAME, CHARACTER_SET_CLIENT, COLLATION_CONNECTION FROM "
                            "information_schema.VIEWS WHERE TABLE_SCHEMA=%s", (database,))
    return rows


def behaviour(database: str) -> list[tuple[object, ...]]:
    """What the objects do: the latin1 text reaches the rows as the source's client meant it."""
    query(database, "INSERT INTO notes VALUES (1, 'caf')")
    query(database, "CALL add_note('x')")
    return [*query(database, "SELECT id, note, HEX(note) FROM notes ORDER BY id"),
            *query(database, "SELECT loud, HEX(loud) FROM shout ORDER BY 1"), *query(database, "SELECT greet()")]


@pytest.mark.parametrize("dumper", ["synco", "mariadb-dump"])
def test_objects_keep_the_session_they_were_made_in(dumper: str, mysql_database_factory: Callable[[], str]) -> None:
    """Views, triggers, routines and events made by a latin1 client under ANSI_QUOTES, PIPES_AS_CONCAT or
    NO_BACKSLASH_ESCAPES, an event in +05:00: copied with their character set, collation, sql_mode and time
    zone (synco's dump writes them as mariadb-dump does, and the loader honours them in either script).
    A routine's comment under NO_BACKSLASH_ESCAPES keeps its one backslash (mariadb-dump doubles it)."""
    source = mysql_database_factory()
    load_with_client(source, LATIN1_OBJECTS)
    expected_sessions = object_sessions(source)
    assert ("stamp", "latin1", "latin1_swedish_ci", "PIPES_AS_CONCAT,ANSI_QUOTES", "utf8mb4_unicode_ci") \
        in expected_sessions
    comment = query(source, "SELECT ROUTINE_COMMENT FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA=%s "
                            "AND ROUTINE_NAME='add_note'", (source,))
    assert comment == [("a\\b",)]
    if dumper == "synco":
        data, _ = dump_bytes(source, DumpOptions(events=True))
    else:
        data = mariadb_dump(source, "--routines", "--events")
    target = mysql_database_factory()
    install_bytes(target, data)
    assert object_sessions(target) == expected_sessions
    if dumper == "synco":
        assert query(target, "SELECT ROUTINE_COMMENT FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA=%s "
                             "AND ROUTINE_NAME='add_note'", (target,)) == comment
    assert behaviour(target) == behaviour(source)


ORACLE_PACKAGES = b"""
CREATE TABLE acct (id INT PRIMARY KEY, bal DECIMAL(10,2));
INSERT INTO acct VALUES (1, 10.50), (2, -3);
SET sql_mode=ORACLE;
DELIMITER $$
CREATE PACKAGE pkg AS
  FUNCTION twice(a INT) RETURN INT;
  PROCEDURE bump(x IN OUT INT);
END;
$$
CREATE PACKAGE BODY pkg AS
  calls INT := 0;
  FUNCTION twice(a INT) RETURN INT AS BEGIN RETURN a * 2; END;
  PROCEDURE bump(x IN OUT INT) AS
    note VARCHAR2(20) := 'it''s; ok';
  BEGIN
    x := x + twice(x);
    calls := calls + 1;
  END;
END;
$$
CREATE PACKAGE spec_only AS FUNCTION one RETURN INT; END;
$$
CREATE PROCEDURE credit(a IN NUMBER) AS
  CURSOR c IS SELECT id FROM acct;
BEGIN
  FOR r IN c LOOP UPDATE acct SET bal = bal + a WHERE id = r.id; END LOOP;
END;
$$
DELIMITER ;
SET sql_mode=DEFAULT;
"""


def test_oracle_mode_packages_are_carried_replaced_and_rolled_back(mysql_database_factory: Callable[[], str]) -> None:
    """Packages, with their bodies or without, and an Oracle-mode procedure: loaded into a new database,
    over a target holding packages (their DROP only parses under sql_mode ORACLE), and rolled back."""
    source = mysql_database_factory()
    load_with_client(source, ORACLE_PACKAGES)
    expected = snapshot(source)
    assert {name for name, *_ in expected["(routines)"]} == {b"pkg", b"spec_only", b"credit"}
    data, result = dump_bytes(source)
    target = mysql_database_factory()
    install_bytes(target, data, manifest=result.tables)
    assert snapshot(target) == expected
    query(source, "UPDATE acct SET bal = 0")
    newer, newer_result = dump_bytes(source)
    install_bytes(target, newer, manifest=newer_result.tables)
    assert query(target, "SELECT bal FROM acct") == [(0,), (0,)]
    query(target, "CALL credit(1)")
    assert query(target, "SELECT bal FROM acct") == [(1,), (1,)]
    rollback(config(target), InstallOptions(yes=True))
    assert snapshot(target) == expected


def test_a_database_the_load_creates_gets_the_source_defaults(mysql_database_factory: Callable[[], str]) -> None:
    """From synco's dump (its header) and from mariadb-dump --databases (its CREATE DATABASE); an existing
    database keeps its own."""
    source = mysql_database_factory()
    query(source, f"ALTER DATABASE `{source}` CHARACTER SET latin1 COLLATE latin1_german2_ci")
    load_with_client(source, b"CREATE TABLE t (v VARCHAR(5)); INSERT INTO t VALUES ('x');"
                             b"CREATE FUNCTION f() RETURNS INT RETURN 1;")
    defaults = "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA " \
               "WHERE SCHEMA_NAME=%s"
    data, _ = dump_bytes(source)
    for script in (data, mariadb_dump(source, "--databases", "--routines")):
        created = mysql_database_factory()
        query(created, f"DROP DATABASE `{created}`")
        install_bytes(created, script)
        assert query(created, defaults, (created,)) == [("latin1", "latin1_german2_ci")]
        assert query(created, "SELECT DATABASE_COLLATION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA=%s",
                     (created,)) == [("latin1_german2_ci",)]
    existing = mysql_database_factory()
    install_bytes(existing, data)
    assert query(existing, defaults, (existing,)) == [("utf8mb4", "utf8mb4_unicode_ci")]
    # The routine keeps the collation it was made under, as mariadb-dump's script keeps it.
    assert query(existing, "SELECT DATABASE_COLLATION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA=%s",
                 (existing,)) == [("latin1_german2_ci",)]


def test_a_database_the_load_creates_gets_the_source_comment(mysql_database_factory: Callable[[], str]) -> None:
    """A database's COMMENT (MariaDB 10.5) is part of its definition as its defaults are: from synco's dump and
    from mariadb-dump --databases, a database the load creates gets it, quotes, backslashes and letters beyond
    ASCII as they are; an existing database keeps its own, and a source without one gives none."""
    source = mysql_database_factory()
    comment = "it's \\ \"prod\" é ü %s {}"
    query(source, f"ALTER DATABASE `{source}` COMMENT %s", (comment,))
    load_with_client(source, b"CREATE TABLE t (v VARCHAR(5)); INSERT INTO t VALUES ('x');")
    comments = "SELECT SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME=%s"
    assert query(source, comments, (source,)) == [(comment,)]
    data, _ = dump_bytes(source)
    for script in (data, mariadb_dump(source, "--databases")):
        created = mysql_database_factory()
        query(created, f"DROP DATABASE `{created}`")
        install_bytes(created, script)
        assert query(created, comments, (created,)) == [(comment,)]
    existing = mysql_database_factory()
    query(existing, f"ALTER DATABASE `{existing}` COMMENT 'mine'")
    install_bytes(existing, data)
    assert query(existing, comments, (existing,)) == [("mine",)]
    # A hand-written script: the comment's words are no character set.
    created = mysql_database_factory()
    query(created, f"DROP DATABASE `{created}`")
    install_bytes(created, b"CREATE DATABASE src COMMENT 'was CHARACTER SET latin1';\nUSE src;\n"
                           b"CREATE TABLE t (v INT);\n")
    server = query(created, "SELECT @@character_set_server")[0][0]
    assert query(created, comments.replace("SCHEMA_COMMENT", "DEFAULT_CHARACTER_SET_NAME, SCHEMA_COMMENT"),
                 (created,)) == [(server, "was CHARACTER SET latin1")]
    plain = mysql_database_factory()
    load_with_client(plain, b"CREATE TABLE t (v INT);")
    created = mysql_database_factory()
    query(created, f"DROP DATABASE `{created}`")
    install_bytes(created, dump_bytes(plain)[0])
    assert query(created, comments, (created,)) == [("",)]


@pytest.mark.parametrize("option", [b"`ENCRYPTED`='YES' `ENCRYPTION_KEY_ID`='2'", b"ENCRYPTED=YES"])
def test_an_encrypted_table_the_server_cannot_make_is_named(option: bytes,
                                                            mysql_database_factory: Callable[[], str]) -> None:
    """A table production encrypts at rest (InnoDB's ``ENCRYPTED=YES``, with a key management plugin) cannot be
    made by a server without one: the install failed on the server's "errno: 140 Wrong create options", which
    names neither the option nor what this server lacks. It fails in one line saying both, from synco's dump
    (as SHOW CREATE TABLE writes the option) and from a script, the target untouched."""
    source = mysql_database_factory()
    load_with_client(source, b"CREATE TABLE a (id INT PRIMARY KEY); INSERT INTO a VALUES (1);"
                             b"CREATE TABLE secret (id INT PRIMARY KEY, v TEXT); INSERT INTO secret VALUES (1, 'x');")
    data, _ = dump_bytes(source)
    marked = re.sub(rb"(CREATE TABLE `secret` \(.*?\n\) ENGINE=InnoDB[^\n;]*)", lambda m: m.group(1) + b" " + option,
                    data, count=1, flags=re.DOTALL)
    assert marked != data
    script = b"CREATE TABLE plain (id INT);\nCREATE TABLE secret (id INT) " + option + b";\n"
    target = mysql_database_factory()
    load_with_client(target, b"CREATE TABLE mine (id INT); INSERT INTO mine VALUES (7);")
    for dumped in (marked, script):
        with pytest.raises(DatabaseError) as failed:
            install_bytes(target, dumped)
        message = str(failed.value)
        assert "\n" not in message and "`secret`" in message and "ENCRYPTED" in message, message
        assert "key management plugin" in message, message
        assert query(target, "SELECT id FROM mine") == [(7,)]
        assert query(target, "SHOW TABLES") == [("mine",)]


def self_qualified(database: str) -> bytes:
    """Objects naming their own database ``database`` in every place the server lets them."""
    return b"""
CREATE SEQUENCE seq START WITH 100 NOCACHE;
CREATE TABLE t (id INT PRIMARY KEY DEFAULT nextval(DB.seq), v VARCHAR(10));
CREATE TABLE log (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(40));
CREATE FUNCTION DB.f(x INT) RETURNS INT DETERMINISTIC RETURN x + (SELECT COUNT(*) FROM DB.t);
CREATE VIEW v AS SELECT DB.f(id) AS f, NEXTVAL(DB.seq) AS n, (SELECT COUNT(*) FROM DB.log) AS logged FROM DB.t;
CREATE TRIGGER DB.trg AFTER INSERT ON DB.t FOR EACH ROW INSERT INTO DB.log (what) VALUES (CONCAT('DB.t got ', NEW.id));
DELIMITER ;;
CREATE PROCEDURE `DB`.p(OUT n INT) BEGIN SELECT COUNT(*) INTO n FROM `DB`.`t`; CALL DB.q(); END ;;
CREATE PROCEDURE q() BEGIN INSERT INTO DB . log (what) VALUES ('q'); END ;;
DELIMITER ;
CREATE EVENT DB.e ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE
  DO INSERT INTO DB.log (what) VALUES ('e');
INSERT INTO t (v) VALUES ('first');
""".replace(b"DB", database.encode())


def test_names_of_the_source_database_point_at_the_target(mysql_database_factory: Callable[[], str]) -> None:
    """A trigger made as ``src.trg ON src.t``, a default ``nextval(src.seq)``, a view and routines calling
    ``src.f()`` or reading ``src.t``, an event writing ``src.log``: after the load they act on the target,
    and the source is left alone; the same after a second install and a rollback."""
    source = mysql_database_factory()
    load_with_client(source, self_qualified(source))
    data, result = dump_bytes(source, DumpOptions(events=True))
    target = mysql_database_factory()
    for _ in range(2):
        install_bytes(target, data, manifest=result.tables)
        check_self_qualified(target, source)
    rollback(config(target), InstallOptions(yes=True))
    check_self_qualified(target, source)
    # mariadb-dump's script, loaded with synco's loader, too.
    other = mysql_database_factory()
    install_bytes(other, mariadb_dump(source, "--routines", "--events"))
    check_self_qualified(other, source)


def check_self_qualified(target: str, source: str) -> None:
    before = query(source, "SELECT COUNT(*) FROM log")
    ((number,),) = query(target, "SELECT next_not_cached_value FROM seq")
    query(target, "INSERT INTO t (v) VALUES ('new')")
    # The trigger wrote the target's log, from the target's sequence; the text of a string stays as it was.
    assert query(target, "SELECT what FROM log ORDER BY id")[-1] == (f"{source}.t got {number}",)
    conn = mysql_admin_connection(target)
    try:
        with conn.cursor() as cur:
            cur.execute("CALL p(@n)")
            cur.execute("SELECT @n")
            assert cur.fetchone()[0] == query(target, "SELECT COUNT(*) FROM t")[0][0]
    finally:
        conn.close()
    assert query(target, "SELECT what FROM log ORDER BY id")[-1] == ("q",)
    assert query(target, "SELECT COUNT(*) FROM v")[0][0] == query(target, "SELECT COUNT(*) FROM t")[0][0]
    assert query(source, "SELECT COUNT(*) FROM log") == before
    for kind, name in (("TRIGGER", "trg"), ("PROCEDURE", "p"), ("PROCEDURE", "q"), ("EVENT", "e")):
        statement = query(target, f"SHOW CREATE {kind} {name}")[0][3 if kind == "EVENT" else 2]
        assert source not in statement.replace(f"'{source}.t got '", "") and target in statement, statement
    assert source not in query(target, "SHOW CREATE VIEW v")[0][1]
    assert f"nextval(`{target}`.`seq`)" in query(target, "SHOW CREATE TABLE t")[0][1]


def test_an_alias_named_like_the_database_is_left_alone(mysql_database_factory: Callable[[], str],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """In a view that also uses the database's name for a derived table, only what must be the database
    (a function call, a sequence) follows the copy; the alias's columns stay, and the loader says so."""
    source = mysql_database_factory()
    load_with_client(source, f"""
CREATE SEQUENCE seq;
CREATE FUNCTION f() RETURNS INT RETURN 7;
CREATE VIEW v AS SELECT {source}.x AS x, {source}.f() AS f FROM (SELECT 1 AS x) {source};
""".encode())
    data, _ = dump_bytes(source)
    target = mysql_database_factory()
    with caplog.at_level("WARNING"):
        install_bytes(target, data)
    assert query(target, "SELECT x, f FROM v") == [(1, 7)]
    view = query(target, "SHOW CREATE VIEW v")[0][1]
    assert f"`{target}`.`f`()" in view and f"`{source}`.`x`" in view
    assert "also names a table, column or alias" in caplog.text


def test_merge_tables_keep_no_rows_of_their_own(mysql_database_factory: Callable[[], str]) -> None:
    """A MERGE table shows the rows of the tables it merges: dumping its rows too would insert them twice."""
    source = mysql_database_factory()
    load_with_client(source, b"""
CREATE TABLE m (a INT) ENGINE=MRG_MyISAM UNION=(t1, t2) INSERT_METHOD=LAST;
CREATE TABLE t1 (a INT) ENGINE=MyISAM; CREATE TABLE t2 (a INT) ENGINE=MyISAM;
INSERT INTO t1 VALUES (1); INSERT INTO t2 VALUES (2);
""")
    data, result = dump_bytes(source)
    assert "m" not in result.tables
    target, client = mysql_database_factory(), mysql_database_factory()
    install_bytes(target, data, manifest=result.tables)
    load_with_client(client, data)
    for database in (target, client):
        assert query(database, "SELECT a FROM m ORDER BY a") == [(1,), (2,)]
        assert snapshot(database) == snapshot(source)


def test_hidden_routine_bodies_are_refused_or_left_out(mysql_database_factory: Callable[[], str],
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A user who may see a routine's name but not its text: the dump says so instead of leaving it out
    silently; with --skip-unsupported the routine and the view calling it are left out, named."""
    source = mysql_database_factory()
    load_with_client(source, b"CREATE TABLE t (a INT); CREATE FUNCTION veiled() RETURNS INT RETURN 42;"
                             b"CREATE VIEW uses_veiled AS SELECT veiled() AS s; CREATE VIEW plain AS SELECT a FROM t;")
    # Names no other test registers as a secret (the log masks those), and a password of this test only.
    user, password = unique_name("synco_u"), unique_name("pw")
    admin = mysql_admin_connection()
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
            cur.execute(f"GRANT SELECT, SHOW VIEW, EXECUTE ON `{source}`.* TO '{user}'@'%'")
        limited = config(source).replace(user=user, password=password)
        from synco_core.engines.mysql.dump import dump

        with pytest.raises(DatabaseError, match=r"function veiled \(its text is hidden from this user"):
            dump(limited, io.BytesIO(), DumpOptions())
        out = io.BytesIO()
        with caplog.at_level("WARNING"):
            dump(limited, out, DumpOptions(skip_unsupported=True))
        assert "view uses_veiled (reads what is left out)" in caplog.text
        assert b"veiled" not in out.getvalue() and b"`plain`" in out.getvalue()
        target = mysql_database_factory()
        install(config(target), io.BytesIO(out.getvalue()), InstallOptions(yes=True))
        assert query(target, "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA=%s",
                     (target,)) == [("plain",)]
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        admin.close()


def test_tables_whose_rows_live_elsewhere_are_refused_or_left_out() -> None:
    """FEDERATED, CONNECT, SPIDER ... tables (not installed on the test server: decided from the engine
    name) and the views and triggers that use them."""
    from synco_core.engines.mysql import schema, unsupported

    objects = schema.Objects(
        views=[schema.Definition("VIEW", "remote_view", b"select `r`.`a` AS `a` from `remote` `r`"),
               schema.Definition("VIEW", "on_view", b"select `a` AS `a` from `remote_view`"),
               schema.Definition("VIEW", "local_view", b"select `a` AS `a` from `local`")],
        triggers=[schema.Definition("TRIGGER", "on_remote", b"CREATE TRIGGER on_remote ...", table="remote"),
                  schema.Definition("TRIGGER", "copies", b"CREATE TRIGGER copies AFTER INSERT ON local FOR EACH ROW "
                                                         b"INSERT INTO remote VALUES (NEW.a)", table="local")])
    tables = {"remote": "BASE TABLE", "local": "BASE TABLE"}
    engines = {"remote": "FEDERATED", "local": "InnoDB"}
    with pytest.raises(DatabaseError, match=r"table remote \(engine FEDERATED: its rows live elsewhere\)"):
        unsupported.check(None, "db", tables, engines, objects, [], skip=False, routines=True, events=True)
    left = unsupported.check(None, "db", tables, engines, objects, [], skip=True, routines=True, events=True)
    assert left.tables == {"remote"} and left.views == {"remote_view", "on_view"}
    assert left.triggers == {"on_remote", "copies"}


def test_the_dumps_header_names_the_source_and_its_defaults(mysql_database_factory: Callable[[], str]) -> None:
    source = mysql_database_factory()
    data, _ = dump_bytes(source)
    assert re.search(rb"^-- Database: " + source.encode() + rb"\n-- synco-database-defaults: "
                     rb'\{"charset": "utf8mb4", "collation": "utf8mb4_unicode_ci", "database": "' + source.encode()
                     + rb'"\}\n', data, re.MULTILINE)
    assert replace_under_its_name  # the helper other tests use to load under the source's own name


def test_views_reading_other_databases_are_named(mysql_database_factory: Callable[[], str],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """Dumped as they are (the other database may be where the copy goes, as it is here), with a warning:
    the server checks a view's tables when it creates one."""
    other, source = mysql_database_factory(), mysql_database_factory()
    load_with_client(other, b"CREATE TABLE shared (a INT); INSERT INTO shared VALUES (7);")
    load_with_client(source, f"CREATE VIEW reads_other AS SELECT a FROM `{other}`.shared;"
                             "CREATE VIEW reads_here AS SELECT 1 AS one;"
                             "CREATE VIEW reads_catalog AS SELECT TABLE_NAME FROM information_schema.TABLES "
                             "WHERE TABLE_SCHEMA = DATABASE();".encode())
    with caplog.at_level("WARNING"):
        data, _ = dump_bytes(source)
    assert f"views that read other databases, which a copy needs too: reads_other ({other})" in caplog.text
    # Every server has the catalog: a view reading it needs nothing of the copy's server.
    assert "reads_here" not in caplog.text and "reads_catalog" not in caplog.text
    target = mysql_database_factory()
    install_bytes(target, data)
    assert query(target, "SELECT a FROM reads_other") == [(7,)]


#: Client character sets in which a letter's second byte may be a backslash or a backtick (sjis 0x83 0x5C is
#: ソ, gbk 0x81 0x5C is 乗, big5 0xB3 0x5C is 許; cp932 as sjis), with such letters in each.
_SPLIT_LETTERS = [("sjis", "shift_jis", "ソ表"), ("cp932", "cp932", "ソ能"), ("gbk", "gbk", "乗"),
                  ("big5", "big5", "許功")]


@pytest.mark.parametrize(("charset", "codec", "letters"), _SPLIT_LETTERS)
def test_objects_made_over_a_connection_the_loader_cannot_read_are_refused_or_left_out(
        charset: str, codec: str, letters: str, mysql_database_factory: Callable[[], str],
        caplog: pytest.LogCaptureFixture) -> None:
    """A view, trigger, routine and event made over a connection in such a character set are kept in its bytes
    and must be created over one again, which the loader's gate refuses (a letter may hold a quote's byte):
    the dump was written and then refused by synco's own loader. It refuses in one line naming them, or with
    --skip-unsupported leaves them out with what uses them, and loads."""
    from synco_core.engines.mysql.dump import dump

    source = mysql_database_factory()
    script = (f"SET NAMES {charset};\n"
              "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20));\n"
              f"CREATE VIEW v_split AS SELECT '{letters}' AS s;\n"
              "DELIMITER ;;\n"
              f"CREATE TRIGGER trg_split BEFORE INSERT ON t FOR EACH ROW SET NEW.v = '{letters}';;\n"
              f"CREATE FUNCTION f_split() RETURNS VARCHAR(10) RETURN '{letters}';;\n"
              f"CREATE EVENT e_split ON SCHEDULE EVERY 1 DAY STARTS '2035-01-01' DISABLE DO SET @x = '{letters}';;\n"
              "DELIMITER ;\n"
              "SET NAMES utf8mb4;\n"
              "CREATE VIEW v_on_split AS SELECT s FROM v_split;\n"
              "CREATE VIEW v_calls AS SELECT f_split() AS s;\n"
              "CREATE VIEW v_plain AS SELECT id FROM t;\n"
              "INSERT INTO t (id) VALUES (1);\n").encode(codec)
    result = subprocess.run([*client_argv(), f"--default-character-set={charset}", source], input=script,
                            capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    with pytest.raises(DatabaseError) as refused:
        dump(config(source), io.BytesIO(), DumpOptions(events=True))
    message = str(refused.value)
    assert "\n" not in message
    for name in ("view v_split", "trigger trg_split", "function f_split", "event e_split"):
        assert f"{name} (made over a {charset} connection" in message
    out = io.BytesIO()
    with caplog.at_level("WARNING"):
        dump(config(source), out, DumpOptions(events=True, skip_unsupported=True))
    assert "view v_on_split (reads what is left out)" in caplog.text
    assert "view v_calls (reads what is left out)" in caplog.text
    target = mysql_database_factory()
    install(config(target), io.BytesIO(out.getvalue()), InstallOptions(yes=True))
    assert query(target, "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA=%s",
                 (target,)) == [("v_plain",)]
    assert query(target, "SELECT id, v FROM t") == query(source, "SELECT id, v FROM t") == [(1, letters)]
    assert query(target, "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA=%s",
                 (target,)) == [(0,)]


@pytest.mark.parametrize("kind", ["TABLE", "VIEW", "SEQUENCE"])
def test_a_table_named_like_the_installs_own_is_refused_or_left_out(
        kind: str, mysql_database_factory: Callable[[], str], caplog: pytest.LogCaptureFixture) -> None:
    """``__synco_moving`` and ``__synco_journal`` are the names of the install's marker and journal tables: a
    database holding a table, view or sequence of either name was dumped, and its install failed at the
    swap (the table already exists). The dump refuses in one line naming them, or leaves them out, named."""
    from synco_core.engines.mysql.dump import dump
    from synco_core.engines.mysql.swap import OWN_TABLES

    source = mysql_database_factory()
    body = {"TABLE": "(id INT)", "VIEW": "AS SELECT 1 AS id", "SEQUENCE": ""}[kind]
    load_with_client(source, ("CREATE TABLE t (id INT); INSERT INTO t VALUES (1);" + "".join(
        f"CREATE {kind} `{name}` {body};" for name in sorted(OWN_TABLES))).encode())
    with pytest.raises(DatabaseError) as refused:
        dump(config(source), io.BytesIO(), DumpOptions())
    assert "\n" not in str(refused.value)
    for name in OWN_TABLES:
        assert f"{kind.lower()} {name} (the name of the install's own" in str(refused.value)
    out = io.BytesIO()
    with caplog.at_level("WARNING"):
        dump(config(source), out, DumpOptions(skip_unsupported=True))
    target = mysql_database_factory()
    install(config(target), io.BytesIO(out.getvalue()), InstallOptions(yes=True))
    assert query(target, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s",
                 (target,)) == [("t",)]
    assert query(target, "SELECT id FROM t") == [(1,)]


def test_routines_and_events_the_loader_refuses_are_refused_or_left_out(
        mysql_database_factory: Callable[[], str], caplog: pytest.LogCaptureFixture) -> None:
    """A procedure running dynamic SQL (PREPARE/EXECUTE: common for partition maintenance), one flushing
    tables, an event setting a global variable, a function reading the mysql database: synco's loader
    refuses them (docs/security.md), and the dump wrote them, so it failed to load. The dump says so in one
    line naming each, or leaves them out with the trigger calling one of them."""
    from synco_core.engines.mysql.dump import dump

    source = mysql_database_factory()
    load_with_client(source, b"""
        CREATE TABLE t (id INT PRIMARY KEY);
        INSERT INTO t VALUES (1);
        DELIMITER ;;
        CREATE PROCEDURE run_dynamic(IN c VARCHAR(64)) BEGIN
          SET @s = CONCAT('ALTER TABLE t COMMENT ', QUOTE(c)); PREPARE stmt FROM @s; EXECUTE stmt;
          DEALLOCATE PREPARE stmt; END;;
        CREATE PROCEDURE flush_all() FLUSH TABLES;;
        CREATE PROCEDURE fine() SELECT COUNT(*) FROM t;;
        CREATE FUNCTION zones() RETURNS INT READS SQL DATA RETURN (SELECT COUNT(*) FROM mysql.time_zone_name);;
        CREATE VIEW reads_catalog AS SELECT COUNT(*) AS n FROM mysql.time_zone_name;;
        CREATE EVENT widen ON SCHEDULE EVERY 1 DAY STARTS '2035-01-01' DISABLE
          DO SET GLOBAL max_connections = @@global.max_connections;;
        CREATE TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW CALL run_dynamic('x');;
        DELIMITER ;
    """)
    with pytest.raises(DatabaseError) as refused:
        dump(config(source), io.BytesIO(), DumpOptions(events=True))
    message = str(refused.value)
    assert "\n" not in message
    assert "procedure run_dynamic (synco's loader refuses it: it uses PREPARE" in message
    assert "procedure flush_all (synco's loader refuses it: it uses FLUSH" in message
    assert "event widen (synco's loader refuses it: it uses GLOBAL" in message
    # Every server has the system databases: the loader refuses a routine naming one wherever it loads.
    assert "function zones (synco's loader refuses it: it names database 'mysql'" in message
    assert "fine" not in message
    out = io.BytesIO()
    with caplog.at_level("WARNING"):
        dump(config(source), out, DumpOptions(events=True, skip_unsupported=True))
    assert "trigger t_ai (on or calling what is left out)" in caplog.text
    target = mysql_database_factory()
    install(config(target), io.BytesIO(out.getvalue()), InstallOptions(yes=True))
    assert query(target, "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA=%s",
                 (target,)) == [("fine",)]
    assert query(target, "SELECT id FROM t") == [(1,)]


def test_routines_naming_other_databases_are_named(mysql_database_factory: Callable[[], str],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A trigger or routine reading another database of the source: synco's loader refuses it wherever that
    database exists (a dump may act on its own database only), and creates it where it does not. The dump
    carries it and says so, as it names views reading other databases."""
    other, source = mysql_database_factory(), mysql_database_factory()
    load_with_client(other, b"CREATE TABLE shared (a INT);")
    load_with_client(source, f"""
        CREATE TABLE t (id INT PRIMARY KEY);
        CREATE FUNCTION shared_count() RETURNS INT READS SQL DATA RETURN (SELECT COUNT(*) FROM `{other}`.shared);
        CREATE TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW INSERT INTO {other}.shared VALUES (NEW.id);
        CREATE PROCEDURE own() SELECT COUNT(*) FROM t;
    """.encode())
    with caplog.at_level("WARNING"):
        dump_bytes(source)
    assert (f"routines, triggers and events that name other databases (synco's loader refuses them where those "
            f"databases exist): function shared_count ({other}); trigger t_ai ({other})") in caplog.text
    assert "own" not in caplog.text


@pytest.mark.parametrize("sql_mode", ["ANSI", "ANSI_QUOTES,STRICT_TRANS_TABLES", "ORACLE"])
def test_an_install_and_its_rollback_keep_to_themselves_whatever_the_servers_sql_mode(
        sql_mode: str, mysql_database_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A server whose sql_mode quotes names in double quotes writes SHOW CREATE so too: the swap kept
    definitions in that quoting and created them again under their own sql_mode, which failed halfway
    through the swap and its undo. Every connection of the install and the rollback here starts in the
    server's sql_mode (SET GLOBAL is not for a shared server), and both complete."""
    opened = install_module.connect

    def in_server_mode(*args: object, **kwargs: object) -> object:
        conn = opened(*args, **kwargs)  # type: ignore[arg-type]
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_mode = %s", (sql_mode,))
        return conn

    monkeypatch.setattr(install_module, "connect", in_server_mode)
    monkeypatch.setattr(preflight_module, "connect", in_server_mode)
    source, target = mysql_database_factory(), mysql_database_factory()
    body = (b"CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); CREATE TABLE audit (v VARCHAR(20));"
            b"CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW INSERT INTO audit VALUES (NEW.v);"
            b"CREATE PROCEDURE pr() SELECT 1; CREATE VIEW vw AS SELECT id FROM t;")
    load_with_client(source, body + b"INSERT INTO t VALUES (1, 'new');")
    load_with_client(target, body + b"INSERT INTO t VALUES (1, 'old');")
    out = io.BytesIO()
    dump(config(source), out, DumpOptions())
    assert preflight_module.check(config(target))
    install(config(target), io.BytesIO(out.getvalue()), InstallOptions(yes=True))
    assert query(target, "SELECT v FROM vw JOIN t USING (id)") == [("new",)]
    rollback(config(target), InstallOptions(yes=True))
    assert query(target, "SELECT v FROM vw JOIN t USING (id)") == [("old",)]
    assert {name for (name,) in query(target, "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS "
                                              "WHERE TRIGGER_SCHEMA = DATABASE()")} == {"tr"}
