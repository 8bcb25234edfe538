"""A MySQL dump of a database another session alters while the dump runs (real MariaDB on 127.0.0.1).

InnoDB's snapshot holds rows, not definitions: ``SHOW CREATE TABLE`` and ``information_schema`` give a
table as it is when the dump reads it. A table rebuilt or truncated after the snapshot stops the read with
the server's "Table definition has changed"; but an ALTER that changes no row (an instant ``DROP COLUMN``,
``RENAME COLUMN``, ``ADD UNIQUE``) let the dump carry the snapshot's rows under the later definition, with
the views, triggers and routines read when it began: a migration that updated a view and then dropped the
column it no longer read gave a dump whose view fails to load, and one that removed duplicate rows and then
added a unique key gave one whose rows fail it, each known only at the install, after the download. The
dump must hold one state of the source (before the change or after it) or stop in one line naming the table
and saying to run it again.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pymysql
import pytest
from test_mysql_support import config, install_bytes, load_with_client, snapshot

from synco_core.engines.mysql import schema
from synco_core.engines.mysql.dump import dump
from synco_core.errors import DatabaseError
from synco_core.testing.services import mysql_admin_connection
from synco_core.values import DumpOptions

pytestmark = pytest.mark.mysql

#: What another session commits once the dump has begun, before it reaches table ``b`` (tables are dumped
#: by name: ``a`` first).
MIGRATIONS = {
    "a view updated, then the column it read dropped":
        ["CREATE OR REPLACE VIEW vw AS SELECT id, s FROM b", "ALTER TABLE b DROP COLUMN v"],
    "a view updated, then the column it read renamed":
        ["CREATE OR REPLACE VIEW vw AS SELECT id, s FROM b", "ALTER TABLE b RENAME COLUMN v TO w",
         "CREATE OR REPLACE VIEW vw AS SELECT id, w AS v, s FROM b"],
    "duplicates removed, then a unique key added": ["DELETE FROM b WHERE id = 3", "ALTER TABLE b ADD UNIQUE (s)"],
    "a column added with a default": ["ALTER TABLE b ADD COLUMN z INT NOT NULL DEFAULT 7"],
    "an index created": ["CREATE INDEX by_v ON b (v)"],
    "a column's type changed (rebuilt)": ["ALTER TABLE b MODIFY v BIGINT"],
    "truncated": ["TRUNCATE b"],
    "dropped": ["DROP VIEW vw", "DROP TABLE b"],
    "renamed": ["DROP VIEW vw", "RENAME TABLE b TO b_old"],
    "swapped for a copy": ["RENAME TABLE b TO b_old", "CREATE TABLE b LIKE b_old",
                           "INSERT INTO b SELECT * FROM b_old", "DROP TABLE b_old"],
}


def _source(database: str) -> None:
    load_with_client(database, b"""
CREATE TABLE a (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=InnoDB;
INSERT INTO a VALUES (1, 10), (2, 20);
CREATE TABLE b (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(10) NOT NULL) ENGINE=InnoDB;
INSERT INTO b VALUES (1, 1, 'one'), (2, 2, 'two'), (3, 3, 'two');
CREATE VIEW vw AS SELECT id, v, s FROM b;
""")


def _commit(database: str, statements: list[str]) -> None:
    conn = mysql_admin_connection(database)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


@pytest.fixture
def migrate_once_begun(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, list[str]], list[int]]]:
    """Has another session commit statements while the dump writes table ``a``: after its snapshot and
    its reading of views and triggers, before it reads anything of ``b``."""
    def arrange(database: str, statements: list[str]) -> list[int]:
        real = schema.show_create_table
        done: list[int] = []

        def then_migrate(conn: pymysql.Connection, table: str) -> bytes:  # type: ignore[type-arg]
            if table == "a" and not done:
                _commit(database, statements)
                done.append(1)
            return real(conn, table)

        monkeypatch.setattr(schema, "show_create_table", then_migrate)
        return done

    yield arrange


def _dump_or_one_line(source: str) -> tuple[Any, bytes] | None:
    """The dump of ``source`` and its bytes, or None when it stopped in one line naming `b` and saying to run it
    again (the other outcome a DDL during the dump may have)."""
    out = io.BytesIO()
    try:
        result = dump(config(source), out, DumpOptions())
    except DatabaseError as exc:
        message = str(exc)
        assert "`b`" in message and "again" in message and "\n" not in message, message
        return None
    return result, out.getvalue()


@pytest.mark.parametrize("migration", sorted(MIGRATIONS))
def test_a_dump_holds_the_state_before_or_after_an_alter_or_stops_in_one_line(
        migration: str, migrate_once_begun: Callable[[str, list[str]], list[int]],
        mysql_database_factory: Callable[[], str]) -> None:
    source = mysql_database_factory()
    _source(source)
    before = snapshot(source)
    done = migrate_once_begun(source, MIGRATIONS[migration])
    try:
        dumped = _dump_or_one_line(source)
    finally:
        assert done
    if dumped is None:
        return
    after = snapshot(source)
    target = mysql_database_factory()
    install_bytes(target, dumped[1], manifest=dumped[0].tables)
    assert snapshot(target) in (before, after)


#: ALTERs another session runs, at once, while the dump reads table ``a``: they finish before the dump reaches
#: ``b`` (rebuilt, truncated) or wait for its end once the dump holds ``b``.
CONCURRENT = {
    "rebuilt": "ALTER TABLE b FORCE",
    "a column's type changed": "ALTER TABLE b MODIFY v BIGINT NOT NULL",
    "truncated": "TRUNCATE b",
    "an instant column": "ALTER TABLE b ADD COLUMN z INT NOT NULL DEFAULT 7",
}


@pytest.mark.parametrize("statement", sorted(CONCURRENT))
def test_a_concurrent_alter_of_a_table_read_through_two_connections_is_before_or_named(
        statement: str, monkeypatch: pytest.MonkeyPatch, mysql_database_factory: Callable[[], str]) -> None:
    """``b`` is big enough to be read in pages through the snapshot's two connections; the ALTER runs in a thread
    of its own while the dump reads ``a``. The server's 'Table definition has changed' (1412) may come on either
    connection: the dump stops in one line naming ``b`` and saying to run it again (mariadb-dump
    --single-transaction stops too, with the server's message: the snapshot cannot read the new table, and reading
    it in a new one would put it at another moment than the others), or it holds the rows before the ALTER."""
    source = mysql_database_factory()
    _source(source)
    _commit(source, ["INSERT INTO b SELECT seq, seq, 'x' FROM seq_4_to_60000"])
    before = snapshot(source)
    real = schema.show_create_table
    threads: list[threading.Thread] = []

    def then_alter(conn: pymysql.Connection, table: str) -> bytes:  # type: ignore[type-arg]
        if table == "a" and not threads:
            threads.append(threading.Thread(target=_commit, args=(source, [CONCURRENT[statement]])))
            threads[0].start()
            threads[0].join(timeout=0.5)  # long enough to finish where nothing holds b yet
        return real(conn, table)

    monkeypatch.setattr(schema, "show_create_table", then_alter)
    try:
        dumped = _dump_or_one_line(source)
    finally:
        for thread in threads:
            thread.join()
        assert threads
    if dumped is None:
        return
    target = mysql_database_factory()
    install_bytes(target, dumped[1], manifest=dumped[0].tables)
    assert snapshot(target) == before
