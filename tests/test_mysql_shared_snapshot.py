"""The MySQL dump reads one table through two connections of one snapshot (real MariaDB on 127.0.0.1):
both see exactly the same rows while writers commit, together they read every row once, and where the
snapshot cannot be shared the dump reads through one connection as before."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from test_mysql_pages import SHAPES, fill
from test_mysql_support import config, dump_bytes, install_bytes, load_with_client, query, snapshot

from synco_core.engines.mysql import snapshot as shared
from synco_core.engines.mysql import tablerows
from synco_core.engines.mysql.dump import dump
from synco_core.errors import ConfigError, DatabaseError
from synco_core.testing.services import mysql_admin_connection
from synco_core.values import DatabaseConfig, DumpOptions, SanitizeRule

pytestmark = pytest.mark.mysql

#: Shapes whose rows are split between the connections: those read by ranges of an integer key.
SPLIT_SHAPES = ("int_key", "int_date_key")


@pytest.fixture
def readers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Small statements and no minimum table size, so a few thousand rows are split; counts the rows each
    reading thread hands to the writer: the dump's own connection first, then its helper's."""
    from synco_core.engines.mysql import dump
    from synco_core.engines.mysql.dumpwriter import Writer

    monkeypatch.setattr(dump, "STATEMENT_BYTES", 2000)
    monkeypatch.setattr(dump, "MIN_STATEMENT_BYTES", 100)
    monkeypatch.setattr(dump, "SHARED_ROWS", 0)
    monkeypatch.delenv(shared.CONNECTIONS_VARIABLE, raising=False)
    counts = [0, 0]
    local = threading.local()
    run_together, writer_call = tablerows._run_together, Writer.call

    def tagged_run(work: Callable[[Any], None], conns: list[Any], failures: list[BaseException]) -> None:
        def tagged(conn: Any) -> None:
            local.slot = 0 if conn is conns[0] else 1
            try:
                work(conn)
            finally:
                local.slot = None
        run_together(tagged, conns, failures)

    def counting_call(self: Writer, work: Callable[[], None]) -> None:
        slot = getattr(local, "slot", None)
        if slot is not None and getattr(getattr(work, "func", None), "__name__", "") in ("page", "rows_list"):
            values = work.args[0]  # type: ignore[attr-defined]
            counts[slot] += values.count(b"\0") + 1 if isinstance(values, bytes) else len(values)
        writer_call(self, work)

    monkeypatch.setattr(tablerows, "_run_together", tagged_run)
    monkeypatch.setattr(Writer, "call", counting_call)
    return counts


def _table_version(database: str, rows: int) -> None:
    load_with_client(database, f"""
CREATE TABLE t (id INT NOT NULL PRIMARY KEY, version INT NOT NULL, pad VARCHAR(20)) ENGINE=InnoDB;
INSERT INTO t SELECT seq, 1, REPEAT('x', 20) FROM seq_1_to_{rows};
ANALYZE TABLE t;
""".encode())


@pytest.mark.parametrize("locked", [True, False], ids=["shared", "control-without-the-lock"])
def test_both_connections_read_one_snapshot_while_a_writer_commits(
        locked: bool, readers: list[int], monkeypatch: pytest.MonkeyPatch,
        mysql_database_factory: Callable[[], str]) -> None:
    """Between the dump's own snapshot and its helper's, a writer bumps every row's version in one
    transaction. Under the read lock that commit waits until both snapshots are taken, so every row in
    the dump has the same version. The control takes no lock: the commit lands in between and the dump
    holds both versions, which shows the test sees what it checks."""
    source = mysql_database_factory()
    _table_version(source, 4000)
    committed = threading.Event()

    def bump() -> None:
        conn = mysql_admin_connection(source)
        try:
            with conn.cursor() as cur:
                cur.execute("UPDATE t SET version = version + 1")
            committed.set()
        finally:
            conn.close()

    def between_starts() -> None:
        threading.Thread(target=bump, daemon=True).start()
        # Without the lock the commit lands here (waited for: a loaded machine may take seconds to connect and
        # update); with it, it waits for UNLOCK TABLES (and the dump's rows show it did).
        if locked:
            assert not committed.wait(0.5), "the writer committed while the dump held writes"
        else:
            assert committed.wait(60), "the writer never committed"

    monkeypatch.setattr(shared, "_between_starts", between_starts)
    if not locked:
        monkeypatch.setattr(shared, "_hold_writes", lambda database, tables: mysql_admin_connection())
    data, result = dump_bytes(source)
    assert committed.wait(10), "the writer's commit went through once the snapshots were taken"
    assert result.tables["t"].rows == 4000
    assert readers[0] > 0 and readers[1] > 0, f"both connections read rows: {readers}"
    target = mysql_database_factory()
    install_bytes(target, data, manifest=result.tables)
    versions = query(target, "SELECT version, COUNT(*) FROM t GROUP BY version ORDER BY version")
    if locked:
        assert versions == [(1, 4000)]
    else:
        assert len(versions) == 2 and sum(count for _, count in versions) == 4000


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_shape_read_by_both_connections_exactly_once(shape: str, readers: list[int],
                                                           mysql_database_factory: Callable[[], str]) -> None:
    """The copy is identical by checksum, whichever connection read which rows; tables not read by ranges of
    an integer key (streamed) are read by the dump's own connection alone."""
    source = mysql_database_factory()
    fill(source, shape)
    query(source, "ANALYZE TABLE t")
    data, result = dump_bytes(source)
    assert result.tables["t"].rows == 3000
    if shape in SPLIT_SHAPES:
        assert readers[0] > 0 and readers[1] > 0 and sum(readers) == 3000, readers
    else:
        assert readers == [0, 0]
    target = mysql_database_factory()
    install_bytes(target, data, manifest=result.tables)
    assert snapshot(target) == snapshot(source)


def test_awkward_table_names_are_locked_and_read_by_both(readers: list[int],
                                                         mysql_database_factory: Callable[[], str]) -> None:
    """The read lock names every table quoted (a backtick, a space, non-ASCII, a reserved word): were one
    named wrongly, the lock would fail and the dump fall back to one connection."""
    source = mysql_database_factory()
    load_with_client(source, """
CREATE TABLE `we``ird name` (id INT NOT NULL PRIMARY KEY, v VARCHAR(30));
CREATE TABLE `ünï` (id INT NOT NULL PRIMARY KEY, v VARCHAR(30));
CREATE TABLE `select` (id INT NOT NULL PRIMARY KEY, v VARCHAR(30));
INSERT INTO `we``ird name` SELECT seq, REPEAT('w', seq % 30) FROM seq_1_to_1500;
INSERT INTO `ünï` SELECT seq, REPEAT('u', seq % 30) FROM seq_1_to_1500;
INSERT INTO `select` SELECT seq, REPEAT('s', seq % 30) FROM seq_1_to_1500;
CREATE VIEW v AS SELECT id FROM `select`;
""".encode())
    data, result = dump_bytes(source)
    assert [result.tables[name].rows for name in ("we`ird name", "ünï", "select")] == [1500] * 3
    assert readers[0] > 0 and readers[1] > 0 and sum(readers) == 4500, readers
    target = mysql_database_factory()
    install_bytes(target, data, manifest=result.tables)
    assert snapshot(target) == snapshot(source)


def test_sparse_integer_keys_skip_their_gaps(readers: list[int], mysql_database_factory: Callable[[], str]) -> None:
    """Keys from -2^63 to 2^63-1 in three clusters: the connections take ranges past the gaps at once
    instead of walking them (this would run for ever otherwise), and read every row once."""
    source = mysql_database_factory()
    load_with_client(source, b"""
CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(20));
INSERT INTO t SELECT seq, REPEAT('v', seq % 20) FROM seq_1_to_1000;
INSERT INTO t SELECT 4000000000000000000 + seq, 'far' FROM seq_1_to_1000;
INSERT INTO t VALUES (-9223372036854775808, 'lowest'), (9223372036854775807, 'highest');
ANALYZE TABLE t;
""")
    started = time.monotonic()
    data, result = dump_bytes(source)
    assert time.monotonic() - started < 60
    assert result.tables["t"].rows == 2002 and sum(readers) == 2002
    target = mysql_database_factory()
    install_bytes(target, data, manifest=result.tables)
    assert snapshot(target) == snapshot(source)


def test_one_connection_when_asked(monkeypatch: pytest.MonkeyPatch, mysql_database_factory: Callable[[], str]) -> None:
    monkeypatch.setenv(shared.CONNECTIONS_VARIABLE, "1")

    def refused(*args: Any) -> None:
        raise AssertionError("no helper connection is opened")

    monkeypatch.setattr(shared, "_open_helpers", refused)
    source = mysql_database_factory()
    fill(source, "int_key")
    _, result = dump_bytes(source)
    assert result.tables["t"].rows == 3000


@pytest.mark.parametrize("value", ["0", "17", "two", "-1", "1.5", "\u00b2", "1e30"])
def test_a_bad_connection_count_is_a_one_line_error(value: str, monkeypatch: pytest.MonkeyPatch,
                                                    mysql_database_factory: Callable[[], str]) -> None:
    monkeypatch.setenv(shared.CONNECTIONS_VARIABLE, value)
    with pytest.raises(ConfigError, match=f"{shared.CONNECTIONS_VARIABLE} should be a whole number of connections, "
                                          f"from 1 to 16, not '{value}'"):
        dump_bytes(mysql_database_factory())


@contextlib.contextmanager
def _user(source: str, prefix: str, grant: str, limits: str = "") -> Iterator[DatabaseConfig]:
    """A throw-away MariaDB user on ``source`` with ``grant`` (and account ``limits``), as a configuration."""
    user = f"{prefix}_{source[-12:]}"
    admin = mysql_admin_connection()
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-{user}' {limits}")
            cur.execute(f"GRANT {grant} ON `{source}`.* TO '{user}'@'%'")
        yield dataclasses.replace(config(source), user=user, password=f"pw-{user}")
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        admin.close()


def _dump_as(database: DatabaseConfig, source: str, mysql_database_factory: Callable[[], str]) -> None:
    """Dump ``source`` as ``database`` says; the copy must be identical."""
    out = io.BytesIO()
    result = dump(database, out, DumpOptions())
    assert result.tables["t"].rows == 3000
    target = mysql_database_factory()
    install_bytes(target, out.getvalue(), manifest=result.tables)
    assert snapshot(target) == snapshot(source)


def test_without_the_lock_privilege_the_dump_reads_through_one_connection(
        readers: list[int], caplog: pytest.LogCaptureFixture, mysql_database_factory: Callable[[], str]) -> None:
    """A user who may read but not LOCK TABLES (many hosting accounts): the same copy, one connection."""
    source = mysql_database_factory()
    fill(source, "int_key")
    with _user(source, "nolock", "SELECT, SHOW VIEW, TRIGGER, EVENT, EXECUTE") as restricted, \
            caplog.at_level(logging.DEBUG, logger=shared.__name__):
        _dump_as(restricted, source, mysql_database_factory)
    assert readers == [0, 0]
    assert "the snapshot cannot be shared" in caplog.text
    assert restricted.password is not None and restricted.password not in caplog.text


def test_a_user_allowed_one_connection_is_dumped_through_it(readers: list[int],
                                                           mysql_database_factory: Callable[[], str]) -> None:
    """``MAX_USER_CONNECTIONS 1`` (a shared hosting account): the helper cannot connect, so the dump reads
    through its own connection, with the same copy and no error."""
    source = mysql_database_factory()
    fill(source, "int_key")
    with _user(source, "single", "ALL", "WITH MAX_USER_CONNECTIONS 1") as restricted:
        _dump_as(restricted, source, mysql_database_factory)
    assert readers == [0, 0]


def test_an_open_writing_transaction_is_not_waited_for_long(readers: list[int],
                                                            mysql_database_factory: Callable[[], str]) -> None:
    """A transaction that wrote to the table and stays open: the lock is not granted within its timeout, so
    the dump goes on through one connection, holding nobody up, and copies the committed rows."""
    source = mysql_database_factory()
    fill(source, "int_key")
    writer = mysql_admin_connection(source)
    try:
        with writer.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("UPDATE t SET n = -1 WHERE id = 1")
        started = time.monotonic()
        data, result = dump_bytes(source)
        assert time.monotonic() - started < 30
        assert readers == [0, 0]
        with writer.cursor() as cur:
            cur.execute("COMMIT")  # Never held up by the dump.
    finally:
        writer.close()
    target = mysql_database_factory()
    install_bytes(target, data, manifest=result.tables)
    assert query(target, "SELECT n FROM t WHERE id = 1") == [(10,)]


def test_a_helper_that_fails_mid_table_fails_the_dump_with_one_line(readers: list[int],
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    mysql_database_factory: Callable[[], str]) -> None:
    """The helper's connection is lost while it reads: the dump fails with one line naming the database,
    once the dump's own connection has stopped too, and leaves no reading thread behind."""
    source = mysql_database_factory()
    fill(source, "int_key")
    between = tablerows._Ranges.between

    def helper_marks(self: tablerows._Ranges, conn: Any, writer: Any, low: int, high: int) -> int | None:
        if threading.current_thread().name == "synco-dump-reader":
            conn.close()
        return between(self, conn, writer, low, high)

    monkeypatch.setattr(tablerows._Ranges, "between", helper_marks)
    with pytest.raises(DatabaseError, match=f"dump of '{source}'") as raised:
        dump_bytes(source)
    assert "\n" not in str(raised.value)
    assert not [t for t in threading.enumerate() if t.name == "synco-dump-reader"]


def test_small_tables_are_read_through_one_connection(readers: list[int], monkeypatch: pytest.MonkeyPatch,
                                                      mysql_database_factory: Callable[[], str]) -> None:
    """Below ``SHARED_ROWS`` (the server's estimate) no helper is opened: nothing to lock, no thread."""
    from synco_core.engines.mysql import dump as dumper

    monkeypatch.setattr(dumper, "SHARED_ROWS", 5000)

    def refused(*args: Any) -> None:
        raise AssertionError("no helper connection is opened")

    monkeypatch.setattr(shared, "_open_helpers", refused)
    source = mysql_database_factory()
    fill(source, "int_key")
    query(source, "ANALYZE TABLE t")
    _, result = dump_bytes(source)
    assert result.tables["t"].rows == 3000 and readers == [0, 0]


def test_wanted_connections_default_and_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(shared.CONNECTIONS_VARIABLE, raising=False)
    assert shared.wanted_connections() == shared.DEFAULT_CONNECTIONS == 2
    monkeypatch.setenv(shared.CONNECTIONS_VARIABLE, " 16 ")
    assert shared.wanted_connections() == 16


#: Rows of the table the rules read, and of the big table read by two connections.
USERS = 20
ORDERS = 4000

#: What the rules on ``orders`` read of ``users``, and what a writer commits to ``users`` between the starts.
RULES = {
    "where": (DumpOptions(where={"orders": "user_id IN (SELECT id FROM users WHERE active = 1)"}),
              "UPDATE users SET active = 0 WHERE id = 1"),
    "sanitize": (DumpOptions(sanitize=(SanitizeRule(
        table="orders", column="note",
        expression="(SELECT users.name FROM users WHERE users.id = orders.user_id)"),)),
        "UPDATE users SET name = 'renamed' WHERE id = 1"),
}


def _shop(database: str) -> None:
    load_with_client(database, f"""
CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL, active INT NOT NULL) ENGINE=InnoDB;
INSERT INTO users SELECT seq, CONCAT('user', seq), 1 FROM seq_1_to_{USERS};
CREATE TABLE orders (id INT PRIMARY KEY, user_id INT NOT NULL, note VARCHAR(20)) ENGINE=InnoDB;
INSERT INTO orders SELECT seq, seq % {USERS} + 1, 'n' FROM seq_1_to_{ORDERS};
ANALYZE TABLE users, orders;
""".encode())


@pytest.mark.parametrize("rule", sorted(RULES))
def test_rules_reading_other_tables_see_the_snapshot_of_every_connection(
        rule: str, readers: list[int], monkeypatch: pytest.MonkeyPatch,
        mysql_database_factory: Callable[[], str]) -> None:
    """A ``where:`` condition or a sanitising expression on a big table may read other tables. The helper
    starts its snapshot a moment after the dump's own; a write to such a table committed in between was seen
    by the helper's pages and not by the others: the dump held a user's orders by half, or rewritten from two
    states of the users table, which no moment of the source ever held. The read lock now holds back the
    writers of every InnoDB table of the database when a big table carries a rule."""
    from synco_core.engines.mysql import dump as dumper

    # Only orders is big enough to be read by two connections.
    monkeypatch.setattr(dumper, "SHARED_ROWS", 1000)
    source = mysql_database_factory()
    _shop(source)
    options, change = RULES[rule]
    committed = threading.Event()

    def write() -> None:
        conn = mysql_admin_connection(source)
        try:
            with conn.cursor() as cur:
                cur.execute(change)
            committed.set()
        finally:
            conn.close()

    def between_starts() -> None:
        threading.Thread(target=write, daemon=True).start()
        committed.wait(0.5)

    monkeypatch.setattr(shared, "_between_starts", between_starts)
    data, result = dump_bytes(source, options)
    assert committed.wait(10)
    assert readers[0] > 0 and readers[1] > 0, f"both connections read rows: {readers}"
    target = mysql_database_factory()
    install_bytes(target, data, manifest=result.tables)
    if rule == "where":
        active = query(target, "SELECT active FROM users WHERE id = 1")[0][0]
        kept = query(target, "SELECT COUNT(*) FROM orders WHERE user_id = 1")[0][0]
        assert kept == (ORDERS // USERS if active else 0)
    else:
        (name,) = query(target, "SELECT name FROM users WHERE id = 1")[0]
        notes = query(target, "SELECT note, COUNT(*) FROM orders WHERE user_id = 1 GROUP BY note")
        assert notes == [(name, ORDERS // USERS)]
