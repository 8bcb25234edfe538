"""The order the dump creates its tables in: one whose foreign key refers to a table of other column types first.

A table that foreign keys refer to can be dropped and made again under ``foreign_key_checks = 0`` with its key
of another type (a migration's ``INT`` to ``BIGINT``, a ``VARCHAR`` moved to ``latin1``): the server keeps the
keys. It creates no table whose foreign key refers to an *existing* table of other column types ("errno: 150
Foreign key constraint is incorrectly formed", even with the checks off; nor may ``RENAME TABLE`` bring the
referred table back under its name), but it creates one whose referred table is missing, and then creates that
table with its other types, as production's server did. So such a table is written before the tables it refers
to so; every other table keeps its place by name (so that most dumps stay as they were). A cycle of such keys
(which no server lets one make) keeps the names' order.
"""

from __future__ import annotations

from typing import Any

from synco_core.engines.mysql.schema import query, text


def creation_order(conn: Any, db: str, tables: list[str]) -> list[str]:
    """``tables`` (of database ``db``, in order) with each one whose foreign key columns differ in type,
    character set or collation from those they refer to moved before the table it refers to."""
    keys = query(conn, "SELECT TABLE_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME "
                       "FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA=%s AND "
                       "REFERENCED_TABLE_SCHEMA=%s", (db, db))
    if not keys:
        return tables
    # The whole database's columns in one query with its name given (a join in information_schema would
    # open every table of the server); names compared exactly, as the server does on Linux.
    columns = {(text(table), text(column)): (text(kind), text(charset), text(collation))
               for table, column, kind, charset, collation in query(
                   conn, "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME "
                         "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s", (db,))}
    present = set(tables)
    first: dict[str, set[str]] = {}
    for table, column, parent, parent_column in keys:
        child, parent = text(table), text(parent)
        if child == parent or child not in present or parent not in present:
            continue
        mine, theirs = columns.get((child, text(column))), columns.get((parent, text(parent_column)))
        if mine is not None and theirs is not None and mine != theirs:
            first.setdefault(parent, set()).add(child)
    if not first:
        return tables
    order: list[str] = []
    done: set[str] = set()
    waiting = list(tables)
    while waiting:
        ready = next((table for table in waiting if first.get(table, set()) <= done), waiting[0])
        waiting.remove(ready)
        order.append(ready)
        done.add(ready)
    return order
