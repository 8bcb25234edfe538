"""A production dump installed into a laptop's MariaDB configured otherwise than production.

The laptop's server is whatever Docker, Homebrew or the distribution gave: names folded to lower case
(``lower_case_table_names=1``, Windows' default), an ``ORACLE`` or ``ANSI`` ``sql_mode``, a small
``max_allowed_packet`` (1 MiB before MariaDB 10.2, 4 MiB in MySQL 5.7), another time zone. The install must
give the same rows as production, or refuse in one line naming the setting with the target untouched.

Production is the shared server; the laptop a private one of this module (started with
``--lower-case-table-names=1``; other settings changed for one test with ``SET GLOBAL``, which only this
module's server sees).
"""

from __future__ import annotations

import dataclasses
import io
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from private_servers import mariadb, mariadb_admin, mariadb_globals
from test_mysql_support import config, load_with_client, mariadb_dump, query

from synco_core.engines.mysql.dump import dump
from synco_core.engines.mysql.insertsplit import split_rows
from synco_core.engines.mysql.install import install, rollback
from synco_core.engines.mysql.preflight import check as check_install_target
from synco_core.errors import DatabaseError
from synco_core.testing.services import mysql_admin_connection, unique_name
from synco_core.values import DatabaseConfig, DumpOptions, InstallOptions

pytestmark = pytest.mark.mysql

#: Tables in mixed case and one in lower case, with views, a trigger and routines naming them as written.
MIXED_CASE = b"""
CREATE TABLE `Users` (id INT PRIMARY KEY, Name VARCHAR(50), seen TIMESTAMP NULL, born DATE);
CREATE TABLE orders (id INT PRIMARY KEY, user_id INT, total DECIMAL(10,2), note TEXT);
CREATE TABLE `AuditLog` (id INT AUTO_INCREMENT PRIMARY KEY, msg VARCHAR(100));
SET SESSION sql_mode = '', time_zone = '+00:00';
INSERT INTO `Users` VALUES (1, 'Ana', '2024-03-31 01:30:00', '0000-00-00'), (2, NULL, NULL, '2020-02-00');
INSERT INTO orders VALUES (1, 1, 9.99, NULL), (2, 2, 10.00, 'x');
INSERT INTO `AuditLog` (msg) VALUES ('first');
CREATE VIEW `UserOrders` AS SELECT u.Name, o.total FROM `Users` u JOIN orders o ON o.user_id = u.id;
CREATE VIEW `Recent` AS SELECT * FROM `UserOrders`;
CREATE TRIGGER `Orders_AI` AFTER INSERT ON orders FOR EACH ROW INSERT INTO `AuditLog` (msg) VALUES (NEW.id);
CREATE FUNCTION `UserCount`() RETURNS INT READS SQL DATA RETURN (SELECT COUNT(*) FROM `Users`);
"""


@pytest.fixture(scope="module")
def laptop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseConfig]:
    with mariadb(tmp_path_factory.mktemp("laptop"), ["--lower-case-table-names=1"]) as server:
        yield server


@pytest.fixture
def target(laptop: DatabaseConfig) -> Iterator[DatabaseConfig]:
    """A database name on the laptop, dropped with everything the install kept beside it."""
    name = unique_name("laptop")
    yield dataclasses.replace(laptop, name=name)
    for (database,) in mariadb_admin(laptop, f"SHOW DATABASES LIKE '{name}%'"):
        mariadb_admin(laptop, f"DROP DATABASE `{database}`")


def _dumped(source: str) -> bytes:
    out = io.BytesIO()
    dump(config(source), out, DumpOptions())
    return out.getvalue()


def _install(target: DatabaseConfig, data: bytes) -> None:
    install(target, io.BytesIO(data), InstallOptions(yes=True))


def _rows(read: Callable[[str], list[tuple[Any, ...]]], tables: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of ``tables`` with every value as the server writes it in UTC (TIMESTAMPs as instants)."""
    return {table.lower(): read(f"SELECT * FROM `{table}` ORDER BY 1") for table in tables}


def _laptop_rows(target: DatabaseConfig, tables: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    return _rows(lambda sql: mariadb_admin(target, f"USE `{target.name}`", "SET time_zone = '+00:00'", sql), tables)


def _production_rows(source: str, tables: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    def read(sql: str) -> list[tuple[Any, ...]]:
        conn = mysql_admin_connection(source)
        try:
            with conn.cursor() as cur:
                cur.execute("SET time_zone = '+00:00'")
                cur.execute(sql)
                return list(cur.fetchall())
        finally:
            conn.close()

    return _rows(read, tables)


def test_names_in_mixed_case_install_where_the_server_folds_them(
        target: DatabaseConfig, mysql_database_factory: Callable[[], str]) -> None:
    """A server with lower_case_table_names=1 stores ``Users`` as ``users``; the verification looked for
    ``Users`` and failed every such install ("table 'AuditLog' is missing after loading"). The same rows,
    views, trigger and function are there now, and a second install and a rollback work too."""
    source = mysql_database_factory()
    load_with_client(source, MIXED_CASE)
    data = _dumped(source)
    tables = ["Users", "orders", "AuditLog", "UserOrders", "Recent"]
    _install(target, data)
    assert _laptop_rows(target, tables) == _production_rows(source, tables)
    assert mariadb_admin(target, f"SELECT `{target.name}`.usercount()") == [(2,)]
    mariadb_admin(target, f"INSERT INTO `{target.name}`.ORDERS VALUES (3, 1, 1, NULL)")
    assert mariadb_admin(target, f"SELECT msg FROM `{target.name}`.auditlog ORDER BY id") == [("first",), ("3",)]
    _install(target, data)
    rollback(target, InstallOptions(yes=True))
    assert mariadb_admin(target, f"SELECT COUNT(*) FROM `{target.name}`.orders") == [(3,)]


@pytest.mark.parametrize("second", [
    b"CREATE TABLE users (x INT); INSERT INTO users VALUES (5);",
    b"CREATE VIEW USERS AS SELECT 1 AS one;",
    b"CREATE TABLE `AUDITLOG` (x INT);",
])
def test_names_differing_only_by_case_are_refused_naming_the_setting(
        target: DatabaseConfig, mysql_database_factory: Callable[[], str], second: bytes) -> None:
    """Two tables (or a table and a view) whose names differ only by case are one name on such a server:
    the second's ``DROP TABLE IF EXISTS`` dropped the first, and the load failed on an obscure error (or
    would have installed one of them). Refused in one line naming the setting; the target untouched."""
    source = mysql_database_factory()
    load_with_client(source, MIXED_CASE + second)
    mariadb_admin(target, f"CREATE DATABASE `{target.name}`", f"CREATE TABLE `{target.name}`.kept (a INT)")
    with pytest.raises(DatabaseError, match=r"^the dump holds tables or views '(\w+)' and '(\w+)', which this "
                                            r"server cannot tell apart \(lower_case_table_names=1\): install it "
                                            r"into a server") as refused:
        _install(target, _dumped(source))
    first, second = re.findall(r"'(\w+)'", str(refused.value))[:2]
    assert first != second and first.lower() == second.lower()
    assert mariadb_admin(target, f"SHOW DATABASES LIKE '{target.name}%'") == [(target.name,)]
    assert mariadb_admin(target, f"SHOW TABLES FROM `{target.name}`") == [("kept",)]


@pytest.mark.parametrize("mode", ["ORACLE", "ANSI", "MSSQL", "TRADITIONAL,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT"])
def test_the_servers_own_sql_mode_changes_nothing(
        laptop: DatabaseConfig, target: DatabaseConfig, mysql_database_factory: Callable[[], str], mode: str) -> None:
    """The verification's sessions took the server's sql_mode: under ORACLE, whose CONCAT() skips NULLs, the
    checksum of every table holding a NULL differed and no install went through. Every session now runs
    under the dump's sql_mode; the rows are production's, in another server time zone too."""
    source = mysql_database_factory()
    load_with_client(source, MIXED_CASE)
    data = _dumped(source)
    tables = ["Users", "orders", "AuditLog"]
    with mariadb_globals(laptop, sql_mode=f"'{mode}'", time_zone="'+05:00'"):
        _install(target, data)
    assert _laptop_rows(target, tables) == _production_rows(source, tables)


def test_a_small_max_allowed_packet_takes_the_rows_in_smaller_statements(
        laptop: DatabaseConfig, target: DatabaseConfig, mysql_database_factory: Callable[[], str]) -> None:
    """The dump groups rows into INSERTs of up to 4 MB; a laptop's 1 MiB max_allowed_packet (MariaDB before
    10.2) refused the whole install although every row fitted. The statements are now cut between rows;
    a row longer than the limit is still refused in one line naming the setting, the target untouched."""
    source = mysql_database_factory()
    load_with_client(source, b"CREATE TABLE big (id INT PRIMARY KEY, t TEXT, m MEDIUMTEXT);"
                             b"INSERT INTO big SELECT seq, REPEAT('a', 300), NULL FROM seq_1_to_20000;"
                             b"UPDATE big SET m = REPEAT('b', 900000) WHERE id IN (5, 6, 7);"
                             b"UPDATE big SET t = REPEAT(CONCAT('c', id, '\\\\\\'),),('), 4000) WHERE id < 200;")
    data = _dumped(source)
    assert max(len(line) for line in data.splitlines()) > 2 * 1024 * 1024
    with mariadb_globals(laptop, max_allowed_packet="1048576"):
        _install(target, data)
    assert (mariadb_admin(target, f"CHECKSUM TABLE `{target.name}`.big EXTENDED")[0][1]
            == query(source, "CHECKSUM TABLE big EXTENDED")[0][1])
    query(source, "UPDATE big SET m = REPEAT('d', 1100000) WHERE id = 8")
    with mariadb_globals(laptop, max_allowed_packet="1048576"), pytest.raises(
            DatabaseError, match=r"^statement \d+ of the dump is [\d.]+ MB, more than the server's max_allowed_packet "
                                 r"\(1\.0 MB\): raise it on the server"):
        _install(target, _dumped(source))
    assert mariadb_admin(target, f"SELECT COUNT(*) FROM `{target.name}`.big WHERE id = 8 AND m IS NULL") == [(1,)]


@pytest.mark.parametrize("limit", [40, 64, 100, 1000])
def test_cut_statements_hold_the_same_rows_each_under_the_limit(limit: int) -> None:
    rows = [b"(1,'a')", b"(2,'b\\'),(''')", b"(3,_binary'\\0)(')", b"(4,NULL)", b"(5,'" + b"x" * 20 + b"')"]
    statement = b"INSERT INTO `t` (`a`,`b`) VALUES " + b",\n".join(rows) + b";"
    pieces = split_rows(statement, limit)
    if any(len(b"INSERT INTO `t` (`a`,`b`) VALUES ") + len(row) >= limit for row in rows):
        assert pieces is None
        return
    assert pieces is not None and all(len(piece) < limit for piece in pieces)
    assert [row for piece in pieces for row in _values(piece)] == rows


def _values(piece: bytes) -> list[bytes]:
    head = b"INSERT INTO `t` (`a`,`b`) VALUES "
    assert piece.startswith(head)
    found, depth, start, quote = [], 0, 0, b""
    index = len(head)
    while index < len(piece):
        byte = piece[index:index + 1]
        if quote:
            if byte == b"\\":
                index += 1
            elif byte == quote:
                quote = b""
        elif byte == b"'":
            quote = byte
        elif byte == b"(":
            depth, start = depth + 1, index if depth == 0 else start
        elif byte == b")":
            depth -= 1
            if depth == 0:
                found.append(piece[start:index + 1])
        index += 1
    return found


@pytest.mark.parametrize("statement", [
    b"INSERT INTO t VALUES (1) (2)",
    b"INSERT INTO t VALUES (1),(2) ON DUPLICATE KEY UPDATE a = 1",
    b"INSERT INTO t SELECT 1",
])
def test_statements_that_are_not_plain_rows_are_not_cut(statement: bytes) -> None:
    assert split_rows(statement, 20) is None


def test_events_do_not_run_in_the_copy_before_it_is_installed(
        laptop: DatabaseConfig, target: DatabaseConfig, mysql_database_factory: Callable[[], str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With the laptop's event_scheduler on (MySQL 8's default), a dumped event (``--events``) ran in the
    scratch database between the load and the swap: the verification failed on the rows it wrote, or what it
    changed after the verification was installed as production's. Events are held disabled until the swap,
    which creates them as the dump has them (enabled or not); the kept copy's stay disabled."""
    from synco_core.engines.mysql import install as installer

    source = mysql_database_factory()
    load_with_client(source, b"CREATE TABLE ticks (id INT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6));"
                             b"CREATE EVENT tick ON SCHEDULE EVERY 1 SECOND STARTS '2020-01-01' DO "
                             b"INSERT INTO ticks (at) VALUES (NOW(6));"
                             b"CREATE EVENT `Other Tick` ON SCHEDULE EVERY 1 SECOND DISABLE DO "
                             b"INSERT INTO ticks (at) VALUES (NOW(6));")
    out = io.BytesIO()
    dump(config(source), out, DumpOptions(events=True))
    verify = installer._verify

    def later(*args: Any) -> int:
        threading.Event().wait(2.5)  # the event fires every second: it would have written rows by now
        return verify(*args)

    with mariadb_globals(laptop, event_scheduler="ON"):
        with monkeypatch.context() as patched:
            patched.setattr(installer, "_verify", later)
            _install(target, out.getvalue())
        # Again, over the installed copy, for what becomes of its events once kept (read below): the wait in
        # the scratch copy was the first install's, the same path.
        _install(target, out.getvalue())
        events = mariadb_admin(laptop, "SELECT EVENT_SCHEMA, EVENT_NAME, STATUS FROM information_schema.EVENTS "
                                       f"WHERE EVENT_SCHEMA LIKE '{target.name}%' ORDER BY 1, 2")
    assert events == [(target.name, "Other Tick", "DISABLED"), (target.name, "tick", "ENABLED"),
                      (f"{target.name}__synco_prev", "Other Tick", "DISABLED"),
                      (f"{target.name}__synco_prev", "tick", "DISABLED")]


def test_a_read_only_server_is_named_before_the_download(laptop: DatabaseConfig, target: DatabaseConfig) -> None:
    """A laptop server in read_only mode refuses every change of a user without READ_ONLY ADMIN: receive's
    check before the download said the user lacked the grant to create databases (it had it), and told to
    grant it. It now names read_only; a refused privilege is still named as such."""
    user = unique_name("dev")
    for host in ("localhost", "%"):  # the server's anonymous ''@'localhost' would otherwise take 127.0.0.1
        mariadb_admin(laptop, f"CREATE USER '{user}'@'{host}' IDENTIFIED BY 'pw'",
                      f"GRANT ALL ON `{target.name}`.* TO '{user}'@'{host}'",
                      f"GRANT ALL ON `{target.name}\\_\\_synco\\_%`.* TO '{user}'@'{host}'")
    developer = dataclasses.replace(target, user=user, password="pw")
    try:
        with mariadb_globals(laptop, read_only="1"), pytest.raises(
                DatabaseError, match=rf"^user '{user}' cannot create the database '{target.name}__synco_new' on "
                                     r"127\.0\.0\.1:\d+ that installing '\w+' needs: the server runs with read_only"):
            check_install_target(developer)
        assert check_install_target(developer)
        with pytest.raises(DatabaseError, match=r"needs: it lacks the right to create and drop the databases"):
            check_install_target(dataclasses.replace(developer, name=unique_name("other")))
    finally:
        for host in ("localhost", "%"):
            mariadb_admin(laptop, f"DROP USER '{user}'@'{host}'")


@pytest.mark.parametrize("case_insensitive", [True, False])
def test_definitions_moved_between_databases_follow_the_servers_name_folding(case_insensitive: bool) -> None:
    """Under lower_case_table_names=2 (macOS' default) a view of database ``Laptop__synco_new`` names its
    tables' database ``laptop__synco_new``: the swap pointed only the exact spelling at the target, so the
    second install into a database named in mixed case created the view on the scratch database's name and
    failed ("Table 'laptop__synco_new.userorders' doesn't exist"; reproduced on an exFAT-backed server). Every
    kind of definition now follows the server's folding; a server that keeps case keeps other spellings."""
    from synco_core.engines.mysql import schema

    def definition(kind: str, text: bytes) -> schema.Definition:
        return schema.Definition(kind=kind, name="d", create=text, sql_mode="", charset_client="utf8mb4")

    objects = schema.Objects(
        views=[definition("VIEW", b"CREATE VIEW `d` AS select `laptop__synco_new`.`t`.`a` AS `a` from "
                                  b"`laptop__synco_new`.`t`")],
        triggers=[definition("TRIGGER", b"CREATE TRIGGER d AFTER INSERT ON t FOR EACH ROW "
                                        b"INSERT INTO LAPTOP__SYNCO_NEW.log VALUES (NEW.a)")],
        routines=[definition("FUNCTION", b"CREATE FUNCTION d() RETURNS INT RETURN (SELECT COUNT(*) FROM "
                                         b"`Laptop__Synco_New`.t)")],
        events=[definition("EVENT", b"CREATE EVENT d ON SCHEDULE EVERY 1 DAY DO DELETE FROM laptop__synco_new.t")])
    moved = schema.moved(objects, "Laptop__synco_new", "Laptop", case_insensitive)
    for before, after in zip(objects.definitions, moved.definitions, strict=True):
        assert (b"synco_new" not in after.create.lower()) == case_insensitive, after.create
        if case_insensitive:
            assert b"Laptop" in after.create
        else:
            assert after.create == before.create


#: Stored generated columns whose values depend on the digits a division keeps (``div_precision_increment``).
DIVIDED = b"""
CREATE TABLE shares (id INT PRIMARY KEY, amount DECIMAL(10,2), parts INT,
                     share DECIMAL(30,20) AS (amount / parts) STORED, ratio DOUBLE AS (parts / 7) PERSISTENT,
                     label VARCHAR(60) AS (CONCAT(amount / parts, ' each')) STORED);
INSERT INTO shares (id, amount, parts) VALUES (1, 2.50, 3), (2, 10, 7), (3, 1, 1), (4, NULL, 3), (5, -7.77, 9);
"""


@pytest.mark.parametrize("digits", ["0", "8", "30"])
def test_stored_generated_columns_keep_productions_division_digits(
        laptop: DatabaseConfig, target: DatabaseConfig, mysql_database_factory: Callable[[], str], digits: str) -> None:
    """The load computes stored generated columns again, and a division keeps as many digits as the session's
    div_precision_increment says: a laptop configured with 8 stored 0.83333333333333333300 where production
    holds 0.83333333300000000000, and the verification, which never sees a column the dump does not carry,
    agreed. The dump now carries the source's setting for the load's session (its workers' too)."""
    source = mysql_database_factory()
    load_with_client(source, DIVIDED)
    data = _dumped(source)
    with mariadb_globals(laptop, div_precision_increment=digits):
        _install(target, data)
    assert _laptop_rows(target, ["shares"]) == _production_rows(source, ["shares"])


def test_the_servers_session_limits_are_lifted(
        laptop: DatabaseConfig, target: DatabaseConfig, mysql_database_factory: Callable[[], str]) -> None:
    """A server's ``sql_select_limit`` cut every SELECT of the install (its listing of the loaded tables found
    one: "table 'orders' is missing after loading"); ``max_statement_time`` stopped its statements ("Query
    execution was interrupted"), ``sql_safe_updates`` the swap's emptying of its journal and ``max_join_size``
    its reading of the catalogue, each in words naming no setting. Every session synco opens lifts them all:
    the install, a second one and the rollback go through, and the copy dumped on such a server is the same
    dump."""
    source = mysql_database_factory()
    load_with_client(source, MIXED_CASE)
    data = _dumped(source)
    tables = ["Users", "orders", "AuditLog", "UserOrders", "Recent"]
    with mariadb_globals(laptop, sql_select_limit="1", max_statement_time="0.001", sql_safe_updates="1",
                         max_join_size="10"):
        _install(target, data)
        _install(target, data)
        rollback(target, InstallOptions(yes=True))
        again = io.BytesIO()
        dump(target, again, DumpOptions())
    assert _laptop_rows(target, tables) == _production_rows(source, tables)
    # In lower case: this server stores `AuditLog` as `auditlog` (the rows are compared above).
    assert _body(again.getvalue()).lower() == _body(data).lower()


def _body(data: bytes) -> bytes:
    """A dump without its header comments (the server, database and time differ)."""
    return b"\n".join(line for line in data.splitlines() if not line.startswith(b"--"))


def test_sessions_that_start_read_only_are_named_before_the_download(
        laptop: DatabaseConfig, target: DatabaseConfig, mysql_database_factory: Callable[[], str]) -> None:
    """A server whose sessions start read-only (``tx_read_only``) still lets the scratch database be created
    and dropped: receive's check passed, and the install failed on the first row after the download ("Cannot
    execute statement in a READ ONLY transaction"). The check, the install and the rollback now refuse in one
    line naming the setting, the target untouched."""
    source = mysql_database_factory()
    load_with_client(source, MIXED_CASE)
    data = _dumped(source)
    _install(target, data)
    refusal = r"^the server starts every session read-only \(tx_read_only=ON\), so no install can write: turn it off"
    with mariadb_globals(laptop, tx_read_only="1"):
        for attempt in (lambda: check_install_target(target), lambda: _install(target, data),
                        lambda: rollback(target, InstallOptions(yes=True))):
            with pytest.raises(DatabaseError, match=refusal):
                attempt()
    assert mariadb_admin(target, f"SHOW DATABASES LIKE '{target.name}%'") == [(target.name,)]
    assert check_install_target(target)


def test_a_compact_default_row_format_is_named_when_a_key_does_not_fit(
        laptop: DatabaseConfig, target: DatabaseConfig, mysql_database_factory: Callable[[], str]) -> None:
    """An old configuration's ``innodb_default_row_format=compact`` limits a key to 767 bytes: a unique
    ``VARCHAR(255)`` in utf8mb4 (1020 bytes, production's DYNAMIC tables take it) stopped the install with the
    server's "Index column size too large. The maximum column size is 767 bytes", naming no setting. One line
    now names it and what to do; the target untouched. A synco dump names the source's format where the laptop's
    default differs (tests/test_mysql_row_format.py); mariadb-dump's script does not, and meets the limit."""
    source = mysql_database_factory()
    load_with_client(source, b"CREATE TABLE accounts (id INT PRIMARY KEY, email VARCHAR(255) UNIQUE) CHARSET utf8mb4;"
                             b"CREATE TABLE tags (id INT PRIMARY KEY, name VARCHAR(255), KEY (name)) CHARSET utf8mb4;")
    data = mariadb_dump(source)
    mariadb_admin(target, f"CREATE DATABASE `{target.name}`", f"CREATE TABLE `{target.name}`.kept (a INT)")
    with mariadb_globals(laptop, innodb_default_row_format="'compact'"), pytest.raises(
            DatabaseError, match=r"^statement \d+ of the dump failed: this server creates InnoDB tables COMPACT "
                                 r"\(innodb_default_row_format=compact\), whose keys are limited to 767 bytes, and "
                                 r"the dump's table has a longer one: set it to dynamic on this server"):
        _install(target, data)
    assert mariadb_admin(target, f"SHOW DATABASES LIKE '{target.name}%'") == [(target.name,)]
    assert mariadb_admin(target, f"SHOW TABLES FROM `{target.name}`") == [("kept",)]


def test_the_install_keeps_its_idle_connections(
        laptop: DatabaseConfig, target: DatabaseConfig, mysql_database_factory: Callable[[], str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A server's short ``wait_timeout`` (a configuration tuned to drop idle connections) closed the install's
    own connection while it waited, idle, for the load: the swap then failed with "server has gone away"
    after the whole load. Every session synco opens keeps the server's default wait (8 hours)."""
    from synco_core.engines.mysql import install as installer

    source = mysql_database_factory()
    load_with_client(source, MIXED_CASE)
    data = _dumped(source)
    verify = installer._verify

    def later(*args: Any) -> int:
        threading.Event().wait(2.5)  # a long load: the install's own connection is idle meanwhile
        return verify(*args)

    monkeypatch.setattr(installer, "_verify", later)
    with mariadb_globals(laptop, wait_timeout="1"):
        _install(target, data)
    tables = ["Users", "orders", "AuditLog", "UserOrders", "Recent"]
    assert _laptop_rows(target, tables) == _production_rows(source, tables)


@pytest.fixture(scope="module")
def production_with_engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseConfig]:
    """A production server that has loaded the ARCHIVE and BLACKHOLE engines' plugins (the laptop's has not)."""
    with mariadb(tmp_path_factory.mktemp("production"), ["--plugin-load-add=ha_archive.so",
                                                         "--plugin-load-add=ha_blackhole.so"]) as server:
        yield server


@pytest.mark.parametrize("engine", ["ARCHIVE", "BLACKHOLE"])
def test_a_storage_engine_the_laptop_lacks_is_named(
        production_with_engines: DatabaseConfig, target: DatabaseConfig, engine: str) -> None:
    """The laptop's server lacks an engine production's tables use (a plugin it has not loaded): it created
    them in its default engine, InnoDB, with only a warning, since a dump's sql_mode has no
    NO_ENGINE_SUBSTITUTION, and the install went through (a BLACKHOLE table then kept what the application wrote
    to it). Refused in one line naming the engine and what to do; the target untouched."""
    source = dataclasses.replace(production_with_engines, name=unique_name("production"))
    mariadb_admin(production_with_engines, f"CREATE DATABASE `{source.name}`",
                  f"CREATE TABLE `{source.name}`.plain (id INT PRIMARY KEY)",
                  f"CREATE TABLE `{source.name}`.logged (id INT, msg VARCHAR(20)) ENGINE={engine}",
                  f"INSERT INTO `{source.name}`.logged VALUES (1, 'a')")
    out = io.BytesIO()
    dump(source, out, DumpOptions())
    mariadb_admin(target, f"CREATE DATABASE `{target.name}`", f"CREATE TABLE `{target.name}`.kept (a INT)")
    with pytest.raises(DatabaseError, match=rf"^statement \d+ of the dump creates a table in the storage engine "
                                            rf"{engine}, which this server does not have \(it would make the table "
                                            rf"InnoDB instead\): load the engine's plugin on this server \(INSTALL "
                                            rf"SONAME 'ha_{engine.lower()}'\) and install again; statement: CREATE "
                                            r"TABLE `logged`"):
        _install(target, out.getvalue())
    assert mariadb_admin(target, f"SHOW DATABASES LIKE '{target.name}%'") == [(target.name,)]
    assert mariadb_admin(target, f"SHOW TABLES FROM `{target.name}`") == [("kept",)]
