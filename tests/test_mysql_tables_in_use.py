"""MariaDB install and rollback while the developer's application holds a table of the target.

A session with an open transaction that read a table (an application between two statements, a database
console with autocommit off) holds that table's metadata lock until it ends, and ``LOCK TABLES`` holds it
too. The swap's ``DROP TRIGGER`` and ``RENAME TABLE`` need the table to themselves: they used to wait for
``lock_wait_timeout`` (a day, by default), while every other query of the application on that table
queued behind them. The swap now waits a bounded time and then refuses in one line naming the table,
with nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from test_mysql_install import SMALL, assert_untouched
from test_mysql_support import config, dump_bytes, install_bytes, load_with_client, snapshot

from synco_core.engines.mysql import swap
from synco_core.engines.mysql.install import rollback
from synco_core.errors import DatabaseError
from synco_core.testing.services import mysql_admin_connection
from synco_core.values import InstallOptions

pytestmark = pytest.mark.mysql

#: How another session can hold a table: each keeps the swap from dropping or renaming it.
HOLDS = {
    "an open transaction that read it": ["START TRANSACTION", "SELECT COUNT(*) FROM {table}"],
    "an open transaction that wrote to it": ["START TRANSACTION", "DELETE FROM {table} WHERE 1 = 0"],
    "LOCK TABLES ... READ": ["LOCK TABLES {table} READ"],
}


@contextmanager
def held(database: str, table: str, how: str) -> Iterator[Any]:
    """Another session holds ``table`` of ``database`` as ``how`` says, until the block ends (its connection)."""
    app = mysql_admin_connection(database)
    try:
        with app.cursor() as cur:
            for statement in HOLDS[how]:
                cur.execute(statement.format(table=f"`{table}`"))
                cur.fetchall()
        yield app
    finally:
        app.close()


#: The new content: a table, a view on it and a trigger (each dropped or moved by the swap).
NEW = b"""
CREATE TABLE `parent` (`id` INT PRIMARY KEY, `name` VARCHAR(10));
INSERT INTO `parent` VALUES (1, 'new');
CREATE VIEW `parent_names` AS SELECT `name` FROM `parent`;
CREATE TRIGGER `parent_trigger` BEFORE INSERT ON `parent` FOR EACH ROW SET NEW.name = LOWER(NEW.name);
"""


@pytest.fixture
def old_and_new(mysql_database_factory: Callable[[], str]) -> tuple[str, bytes]:
    """A target with old content (tables, view, trigger) and a dump of other content."""
    target, source = mysql_database_factory(), mysql_database_factory()
    load_with_client(target, SMALL)
    load_with_client(source, NEW)
    return target, dump_bytes(source)[0]


@pytest.fixture(autouse=True)
def _short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(swap, "TABLE_WAIT_SECONDS", 1)


@pytest.mark.parametrize("how", sorted(HOLDS))
@pytest.mark.parametrize("table", ["kept", "only_old", "kept_view"])
def test_install_refuses_a_target_whose_table_another_session_holds(old_and_new: tuple[str, bytes],
                                                                     how: str, table: str) -> None:
    target, data = old_and_new
    before = snapshot(target)
    with held(target, table, how) as app, pytest.raises(DatabaseError) as raised:
        install_bytes(target, data)
    message = str(raised.value)
    # The session is named, so that it can be found (the swap's own connections are not).
    assert f"; sessions using it: thread {app.thread_id()} (user 'root'@" in message, message
    # Held through a view, the table under it is held too: either is named.
    named = {f"`{table}`", "`kept`"} if table == "kept_view" else {f"`{table}`"}
    assert any(name in message for name in named)
    assert "another session" in message and "nothing was changed" in message
    assert "\n" not in message
    assert_untouched(target, before)
    # Once the other session lets go, the same install goes through.
    install_bytes(target, data)
    assert snapshot(target) != before


@pytest.mark.parametrize("how", sorted(HOLDS))
def test_rollback_refuses_while_another_session_holds_a_table(old_and_new: tuple[str, bytes],
                                                               how: str) -> None:
    target, data = old_and_new
    before = snapshot(target)
    install_bytes(target, data)
    installed = snapshot(target)
    with held(target, "parent", how), pytest.raises(DatabaseError, match="another session"):
        rollback(config(target), InstallOptions(yes=True))
    assert snapshot(target) == installed
    rollback(config(target), InstallOptions(yes=True))
    assert snapshot(target) == before


def test_a_table_taken_during_the_swap_is_given_up_and_undone(old_and_new: tuple[str, bytes],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A session that takes a table after the check, before the rename, stops the swap in the same bounded
    time; the undo then waits for it as long as the server lets it, and leaves the target as it was."""
    target, data = old_and_new
    load_with_client(target, b"CREATE TABLE `late` (`id` INT PRIMARY KEY); INSERT INTO `late` VALUES (1);")
    before = snapshot(target)
    real = swap.drop_definitions
    holding: list[Any] = []

    def taken_then_dropped(conn: Any, db: str, step: str) -> None:
        if db == target and not holding:
            # The application reads `late` between the check and the rename, and stays in its transaction
            # until the swap has given up (the undo renames nothing back: nothing was renamed).
            app = mysql_admin_connection(target)
            holding.append(app)
            with app.cursor() as cur:
                cur.execute("START TRANSACTION")
                cur.execute("SELECT COUNT(*) FROM `late`")
                cur.fetchall()
        real(conn, db, step)

    monkeypatch.setattr(swap, "drop_definitions", taken_then_dropped)
    try:
        with pytest.raises(DatabaseError, match="another session"):
            install_bytes(target, data)
    finally:
        for app in holding:
            app.close()
    assert holding
    assert_untouched(target, before)


@pytest.mark.parametrize("engine", ["InnoDB", "MyISAM"])
def test_a_dump_waits_a_bounded_time_for_a_table_another_session_holds(
        engine: str, mysql_database_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> None:
    """``LOCK TABLES ... WRITE`` (or an ALTER TABLE between its phases) in the application used to have the
    dump wait lock_wait_timeout, a day by default, without a word; it now gives up naming the table."""
    from synco_core.engines.mysql import dump as mysql_dump

    monkeypatch.setattr(mysql_dump, "LOCK_WAIT_SECONDS", 1)
    source = mysql_database_factory()
    load_with_client(source, f"CREATE TABLE `a_first` (`id` INT PRIMARY KEY); INSERT INTO `a_first` VALUES (1);"
                             f"CREATE TABLE `z_held` (`id` INT PRIMARY KEY) ENGINE={engine};"
                             "INSERT INTO `z_held` VALUES (1);".encode())
    app = mysql_admin_connection(source)
    try:
        with app.cursor() as cur:
            cur.execute("LOCK TABLES `z_held` WRITE")
        with pytest.raises(DatabaseError) as raised:
            dump_bytes(source)
        message = str(raised.value)
        assert "`z_held`" in message and "another session" in message and "\n" not in message
    finally:
        app.close()
    _, result = dump_bytes(source)
    assert result.tables["z_held"].rows == 1
