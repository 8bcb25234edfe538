"""A MariaDB/MySQL install whose own admin connection is lost (reset, killed, timed out) once the scratch
database exists: the target as it was, no scratch copy left on the server, no traceback on the terminal.

The clean-up after a failed install ran on that same connection, so it failed too: the scratch database
(a whole copy of the dump) stayed on the server until the next install or rollback, and the warning saying
so printed the clean-up's traceback without ``--debug``. Found by resetting each ``sendto`` of ``synco db
load`` in turn under strace; here the connection is killed from the server side at each step instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from test_mysql_support import dump_bytes, install_bytes, load_with_client, query, snapshot

from synco_core.engines.mysql import install as mysql_install
from synco_core.errors import DatabaseError
from synco_core.testing.services import mysql_admin_connection

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
    with caplog.at_level(logging.DEBUG, logger="synco_core"), pytest.raises(DatabaseError):
        install_bytes(target, data)
    assert snapshot(target) == before
    left = {row[0] for row in query(target, "SHOW DATABASES") if row[0].startswith(target)}
    assert left == {target}, f"left on the server: {left - {target}}"
    shown = [r for r in caplog.records if r.levelno >= logging.WARNING and r.exc_info]
    assert not shown, f"a traceback without --debug: {shown[0].getMessage()}"
    # And the next install is not in the way of anything.
    monkeypatch.setattr(mysql_install, "_load_and_verify", load_and_verify)
    install_bytes(target, data)
    assert snapshot(target) == snapshot(source)
