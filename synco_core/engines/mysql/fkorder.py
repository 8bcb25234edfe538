"""The order the dump creates its tables in: one whose foreign key the table it refers to could not take, first.

A table that foreign keys refer to can be dropped and made again under ``foreign_key_checks = 0`` otherwise: its
key of another type (a migration's ``INT`` to ``BIGINT``, a ``VARCHAR`` moved to ``latin1``), without an index on
the referred columns or without those columns. The server keeps the keys. It creates no
table whose foreign key refers to an *existing* table it does not fit ("errno: 150 Foreign key constraint is
incorrectly formed", even with the checks off; nor may ``RENAME TABLE`` bring the referred table back under its
name), but it creates one whose referred table is missing, and then creates that table as it is, as
production's server did. So such a table is written before the tables it refers to so; every other table keeps
its place by name (so that most dumps stay as they were). A cycle of such keys (which no server lets one make)
keeps the names' order.
"""

from __future__ import annotations

from typing import Any

from synco_core.engines.mysql.schema import query, text


def creation_order(conn: Any, db: str, tables: list[str]) -> list[str]:
    """``tables`` (of database ``db``, in order) with each one moved before the tables its foreign keys refer to,
    where the server would not create such a key to the table as it is (:func:`_formed`)."""
    keys = query(conn, "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, "
                       "REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA=%s AND "
                       "REFERENCED_TABLE_SCHEMA=%s ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION", (db, db))
    present = set(tables)
    constraints: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
    for table, constraint, column, parent, parent_column in keys:
        child, parent = text(table), text(parent)
        if child != parent and child in present and parent in present:
            constraints.setdefault((child, text(constraint), parent), []).append((text(column), text(parent_column)))
    if not constraints:
        return tables
    # Each query names the database (a join in information_schema would open every table of the server);
    # names are compared exactly, as the server does on Linux.
    columns = {(text(table), text(column)): (text(kind), text(charset), text(collation))
               for table, column, kind, charset, collation in query(
                   conn, "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME "
                         "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s", (db,))}
    engines = {text(table): text(engine).upper() for table, engine in query(
        conn, "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s", (db,))}
    indexes: dict[tuple[str, str], list[str | None]] = {}
    for table, index, column, part in query(
            conn, "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, SUB_PART FROM information_schema.STATISTICS "
                  "WHERE TABLE_SCHEMA=%s ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX", (db,)):
        # A prefix of a column is no index of it for a foreign key.
        indexes.setdefault((text(table), text(index)), []).append(None if part is not None else text(column))
    first: dict[str, set[str]] = {}
    for (child, _, parent), pairs in constraints.items():
        if not _formed(child, parent, pairs, columns, engines, indexes):
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


def _formed(child: str, parent: str, pairs: list[tuple[str, str]], columns: dict[tuple[str, str], tuple[str, str, str]],
            engines: dict[str, str], indexes: dict[tuple[str, str], list[str | None]]) -> bool:
    """Whether the server creates ``child``'s foreign key (its columns and those of ``parent`` they refer to, in
    order) while ``parent`` exists as it is: of the same engine, the columns there and alike (type, character
    set, collation), and an index of ``parent`` beginning with those it refers to. Anything else may be what a
    table made again under ``foreign_key_checks = 0`` left, which only a table created before it may keep."""
    if engines.get(parent) != engines.get(child):
        return False
    for column, referred in pairs:
        mine, theirs = columns.get((child, column)), columns.get((parent, referred))
        if mine is None or theirs is None or mine != theirs:
            return False
    wanted = [referred for _, referred in pairs]
    return any(table == parent and index[:len(wanted)] == wanted for (table, _), index in indexes.items())
