"""``keep_newest`` as SQL: the newest rows by a column, ties broken the same way by every query that reads them.

``ORDER BY col DESC LIMIT n`` alone leaves the server free to pick any of the rows sharing the n-th value, and
the copy checks and the dump are separate queries (with other plans): they could check one set of rows and copy
another. The table's primary key breaks the ties, or every column when it has none, highest first (of rows
stamped alike, the last inserted are most often the newest), as in the other engines. With the history of a
system-versioned table, its period columns too, since one key then has a row per version.

A text column's collation may hold different values equal (``'Bob'`` and ``'bob'`` under a ``_ci`` collation,
``'a'`` and ``'a '`` under a PAD SPACE one): after such a column its bytes decide (``CAST(c AS BINARY)``), as
PostgreSQL's deterministic collations and SQLite's BINARY tell the values apart, so a keyless table's rows
are never tied on every column unless they are the same row. The server compares no more than
``max_sort_length`` bytes of a value (1024 by default), which the dump's session raises to its highest,
:data:`SORT_LENGTH`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from synco_core.engines.mysql import schema
from synco_core.engines.mysql.connect import quote_name
from synco_core.engines.mysql.literals import Column

#: The highest ``max_sort_length`` of MariaDB and MySQL (8 MiB): values alike in their first 8 MiB still tie.
SORT_LENGTH = 8 * 1024 * 1024


def _collated(column: Column) -> bool:
    """Values of the column that differ may sort alike: text under a collation (ENUM and SET sort by number)."""
    return column.charset not in (None, "binary") and column.data_type not in ("enum", "set")


def tie_break(conn: Any, db: str, table: str, columns: Sequence[Column], newest: str | None = None) -> list[str]:
    """The keys ordering the rows of ``table`` one way only after the keep_newest column ``newest``, as SQL
    (``CAST(`t`.`c` AS BINARY) DESC``), the names qualified: a sanitised column of the same name in the select list (an
    alias, which an unqualified name would mean) never decides the order."""
    table_name = quote_name(table)
    by_name = {column.name: column for column in columns}

    def keys(name: str) -> list[str]:
        column = f"{table_name}.{quote_name(name)}"
        collated = name in by_name and _collated(by_name[name])
        as_bytes = [f"CAST({column} AS BINARY) DESC"] if collated else []
        return [*([] if name == newest else [f"{column} DESC"]), *as_bytes]

    key = schema.primary_key(conn, db, table)
    stored = [column.name for column in columns if not column.generated]
    if not key:
        # Newest's own bytes first, then every column, each by its bytes where its collation holds values alike.
        ordered = [*([newest] if newest in by_name else []), *(name for name in stored if name != newest)]
        return [part for name in ordered for part in keys(name)]
    periods = [column.name for column in columns if column.period and column.name not in key]
    # A key's values are unique under its collation: its own order decides.
    own = keys(newest) if newest in by_name else []
    return [*own, *(f"{table_name}.{quote_name(name)} DESC" for name in [*key, *periods] if name != newest)]


def order_by(table: str, newest: tuple[str, int], ties: Sequence[str]) -> str:
    """`` ORDER BY t.col DESC, <ties> LIMIT n`` (``ties`` from :func:`tie_break`)."""
    column, count = newest
    keys = [f"{quote_name(table)}.{quote_name(column)} DESC", *ties]
    return f" ORDER BY {', '.join(keys)} LIMIT {int(count)}"
