"""``keep_newest`` as SQL: the newest rows by a column, ties broken the same way by every query that reads them.

``ORDER BY col DESC LIMIT n`` alone leaves the server free to pick any of the rows sharing the n-th value, and
the copy checks and the dump are separate queries (with other plans): they could check one set of rows and copy
another. The table's primary key breaks the ties, or every column when it has none, highest first (of rows
stamped alike, the last inserted are most often the newest), as in the other engines. With the history of a
system-versioned table, its period columns too, since one key then has a row per version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from synco_core.engines.mysql import schema
from synco_core.engines.mysql.connect import quote_name
from synco_core.engines.mysql.literals import Column


def tie_break(conn: Any, db: str, table: str, columns: Sequence[Column]) -> list[str]:
    """The columns that order the rows of ``table`` one way only, after the keep_newest column."""
    key = schema.primary_key(conn, db, table)
    stored = [column.name for column in columns if not column.generated]
    if not key:
        return stored
    periods = [column.name for column in columns if column.period and column.name not in key]
    return [*key, *periods]


def order_by(table: str, newest: tuple[str, int], ties: Sequence[str]) -> str:
    """`` ORDER BY t.col DESC, t.k1 DESC, ... LIMIT n``; the names qualified, so that a sanitised column of the
    same name in the select list (an alias, which an unqualified name would mean) never decides the order."""
    column, count = newest
    table_name = quote_name(table)
    keys = [f"{table_name}.{quote_name(column)} DESC",
            *(f"{table_name}.{quote_name(name)} DESC" for name in ties if name != column)]
    return f" ORDER BY {', '.join(keys)} LIMIT {int(count)}"
