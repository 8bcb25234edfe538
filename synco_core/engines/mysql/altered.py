"""Telling a table that another session altered while the dump ran, so that the dump stops instead of
writing one state's rows under another state's definition.

InnoDB's snapshot holds rows, not definitions: ``SHOW CREATE TABLE`` and ``information_schema`` give a
table as it is when the dump reads it, and the views, triggers and routines are read when the dump begins.
A table rebuilt or truncated after the snapshot stops the read itself (the server's "Table definition has
changed"), but an ALTER that changes no row (an instant ``DROP COLUMN`` or ``RENAME COLUMN``, ``ADD
UNIQUE``, an index) does not: the snapshot's rows came out under the later definition, and a view still
reading the dropped column, or two rows the new unique key refuses, failed the install after the download.

Every ALTER, ``RENAME`` and re-creation of a table writes its definition anew, and the server reports when
(``information_schema.TABLES.CREATE_TIME``, no other row or statistic moves it). So the dump notes it for
every table before its snapshot begins (:func:`take`), and reads it again for each table once it holds the
table's metadata lock, after reading its rows (:func:`check`): from then on no other session can alter it
until the dump ends. The time is in whole seconds, so a table altered in the second before the dump began
(a database just made, a migration just run) has its definition compared in full too (``SHOW CREATE
TABLE`` without the ``AUTO_INCREMENT`` counter, which rows move). Nothing here takes a lock: another
session's DDL is never held up by this check (the metadata locks are the reads' own, as mariadb-dump's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from synco_core.engines.mysql import schema
from synco_core.engines.mysql.connect import quote_name
from synco_core.errors import DatabaseError

#: The counter that inserts move, which says nothing about the definition.
_COUNTER = re.compile(rb" AUTO_INCREMENT=\d+")


@dataclass
class Baseline:
    """Each table's definition time before the dump's snapshot began, and the full definitions of those
    altered within the second before (which the time alone cannot tell from a later change)."""

    created: dict[str, bytes | None] = field(default_factory=dict)
    recent: dict[str, bytes] = field(default_factory=dict)


def take(conn: Any, db: str) -> Baseline:
    """The definitions of ``db``'s tables as they are now: call before the dump's snapshot begins."""
    baseline = Baseline()
    for name, created, recent in schema.query(
            conn, "SELECT TABLE_NAME, CAST(CREATE_TIME AS CHAR), CREATE_TIME >= NOW() - INTERVAL 1 SECOND "
                  "FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s AND TABLE_TYPE <> 'VIEW'", (db,)):
        table = schema.text(name)
        baseline.created[table] = None if created is None else schema.raw(created)
        if recent is not None and int(recent):
            baseline.recent[table] = _definition(conn, db, table)
    return baseline


def check(conn: Any, db: str, table: str, baseline: Baseline) -> None:
    """Raise a one-line :class:`DatabaseError` when ``table`` is not what it was when ``baseline`` was taken.

    Call it once the dump holds the table's metadata lock (its rows were read in the dump's transaction),
    so that nothing can change it afterwards."""
    rows = schema.query(conn, "SELECT CAST(CREATE_TIME AS CHAR) FROM information_schema.TABLES "
                              "WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s", (db, table))
    if not rows:
        raise altered(db, table, "dropped or renamed")
    created = None if rows[0][0] is None else schema.raw(rows[0][0])
    if table not in baseline.created:
        raise altered(db, table, "created")
    if created != baseline.created[table] or (
            table in baseline.recent and _definition(conn, db, table) != baseline.recent[table]):
        raise altered(db, table, "altered")


def altered(db: str, table: str, what: str) -> DatabaseError:
    """The error for a table another session changed while the dump of ``db`` ran."""
    return DatabaseError(f"dump of {db!r} stopped: table {quote_name(table)} was {what} by another session after "
                         "the dump began (a migration?), and a dump holds one moment of the database or nothing; "
                         "run it again")


def _definition(conn: Any, db: str, table: str) -> bytes:
    create = schema.raw(schema.query(conn, f"SHOW CREATE TABLE {quote_name(db)}.{quote_name(table)}")[0][1])
    return _COUNTER.sub(b"", create)
