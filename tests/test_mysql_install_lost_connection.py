"""A MariaDB/MySQL install whose own admin connection is lost (reset, killed, timed out) once the scratch
database exists: the target as it was, no scratch copy left on the server, no traceback on the terminal.

The clean-up after a failed install ran on that same connection, so it failed too: the scratch database
(a whole copy of the dump) stayed on the server until the next install or rollback, and the warning saying
so printed the clean-up's traceback without ``--debug``. And lost just after the swap had committed, the
install (or rollback) was reported as failed with the new content in place. Found by resetting each
``sendto``/``recvfrom`` of ``synco db load`` in turn under strace; here the connection is killed from the
server side at those steps instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pymysql
import pytest
from test_mysql_support import config, dump_bytes, install_bytes, load_with_client, query, snapshot

from synco_core.engines.mysql import install as mysql_install
from synco_core.engines.mysql import swap
from synco_core.engines.mysql.connect import describe
from synco_core.engines.mysql.install import BACKUP_SUFFIX, rollback
from synco_core.errors import DatabaseError
from synco_core.testing.services import mysql_admin_connection
from synco_core.values import InstallOptions

pytestmark = pytest.mark.mysql

OLD = b"""
CREATE TABLE `kept` (`id` INT PRIMARY KEY, `v` VARCHAR(10));
INSERT INTO `kept` VALUES (1, 'old'), (2, 'older');
"""
NEW = b"""
CREATE TABLE `kept` (`id` INT PRIMARY KEY, `v` VARCHAR(10));
INSERT INTO `kept` VALUES (1, 'new');
CREATE TABLE `fresh` (`id` INT PRIMARY KEY);
INSERT INTO `fresh` VALUES (1), (2), (3);
"""


def kill(conn: Any) -> None:
    """End ``conn`` from the server side, as a server restart or a network reset would."""
    admin = mysql_admin_connection()
    try:
        with admin.cursor() as cur:
            cur.execute(f"KILL CONNECTION {int(conn.thread_id())}")
    finally:
        admin.close()


@pytest.mark.parametrize("when", ["before the load", "after the load and verification"])
def test_install_that_loses_its_connection_leaves_nothing_on_the_server(
        mysql_database_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, when: str) -> None:
    target = mysql_database_factory()
    load_with_client(target, OLD)
    source = mysql_database_factory()
    load_with_client(source, NEW)
    data, _ = dump_bytes(source)
    before = snapshot(target)
    load_and_verify = mysql_install._load_and_verify

    def losing_the_connection(database: Any, admin: Any, *args: Any) -> Any:
        if when == "before the load":
            kill(admin)
            return load_and_verify(database, admin, *args)
        result = load_and_verify(database, admin, *args)
        kill(admin)
        return result

    monkeypatch.setattr(mysql_install, "_load_and_verify", losing_the_connection)
    with caplog.at_level(logging.DEBUG, logger="synco_core"), pytest.raises(DatabaseError) as failed:
        install_bytes(target, data)
    # Not PyMySQL's bare "(0)" of a statement sent on the dead connection afterwards.
    assert "(0)" not in str(failed.value) and "lost" in str(failed.value).lower(), str(failed.value)
    assert snapshot(target) == before
    left = {row[0] for row in query(target, "SHOW DATABASES") if row[0].startswith(target)}
    assert left == {target}, f"left on the server: {left - {target}}"
    shown = [r for r in caplog.records if r.levelno >= logging.WARNING and r.exc_info]
    assert not shown, f"a traceback without --debug: {shown[0].getMessage()}"
    # And the next install is not in the way of anything.
    monkeypatch.setattr(mysql_install, "_load_and_verify", load_and_verify)
    install_bytes(target, data)
    assert snapshot(target) == snapshot(source)


@pytest.mark.parametrize("operation", ["install", "rollback"])
def test_connection_lost_once_the_swap_has_committed_is_not_a_failure(
        mysql_database_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch, operation: str) -> None:
    """Lost right after the kept copy's journal says ``kept`` (the swap's commit): the target holds the new
    content, so the command succeeded; it used to fail ("install ... failed: Lost connection") with the
    new content in place, which a receive's undo then left there beside an error."""
    target = mysql_database_factory()
    load_with_client(target, OLD)
    source = mysql_database_factory()
    load_with_client(source, NEW)
    data, _ = dump_bytes(source)
    old, new = snapshot(target), snapshot(source)
    if operation == "rollback":
        install_bytes(target, data)
    write_journal = swap.write_journal

    def losing_the_connection_once_committed(conn: Any, backup: str, journal: swap.Journal) -> None:
        write_journal(conn, backup, journal)
        if journal.phase == swap.KEPT:
            kill(conn)

    monkeypatch.setattr(swap, "write_journal", losing_the_connection_once_committed)
    if operation == "install":
        result = install_bytes(target, data)
        assert result.backup == target + BACKUP_SUFFIX
        assert snapshot(target) == new
    else:
        rollback(config(target), InstallOptions(yes=True))
        assert snapshot(target) == old
    monkeypatch.setattr(swap, "write_journal", write_journal)
    # The marker left behind is the next command's to remove: a rollback puts back the other side exactly.
    rollback(config(target), InstallOptions(yes=True))
    if operation == "rollback":
        # As after a kill at that point: the next rollback finds the last one complete and says so first.
        assert snapshot(target) == old
        rollback(config(target), InstallOptions(yes=True))
    assert snapshot(target) == (old if operation == "install" else new)
    left = {row[0] for row in query(target, "SHOW DATABASES") if row[0].startswith(target)}
    assert left == {target, target + BACKUP_SUFFIX}


def test_a_statement_on_the_lost_connection_does_not_hide_why_it_failed() -> None:
    """The journal's ROLLBACK after a lost connection raised PyMySQL's bare ``InterfaceError(0, '')`` in
    place of the error that said what happened, and the user read "failed: (0)"."""
    conn = mysql_admin_connection()
    try:
        kill(conn)
        with pytest.raises(pymysql.err.OperationalError) as lost:
            swap.write_journal(conn, "synco_test_no_such_database", swap.Journal("install", swap.KEPT))
        assert lost.value.args[0] in (2006, 2013), lost.value
    finally:
        if conn.open:
            conn.close()
    assert describe(pymysql.err.InterfaceError(0, "")) == "the connection to the server was lost"
