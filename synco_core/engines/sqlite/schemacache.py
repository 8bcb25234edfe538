"""What is read from ``sqlite_master`` once per schema, not once per table.

``sqlite_master`` has no index: finding one table's entry by name reads it whole. The dump, the install's
verification and the SQL writer look at each table's entry in turn, so with a lookup per table their time
grew with the square of the number of tables (a dump of 5,000 tables took 40 s where ``sqlite3 .dump``
takes 1 s). A value read here is kept with the connection it was read on and the schema's version
(``PRAGMA schema_version``, which every change of the schema increments), and read again when either changes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_local = threading.local()


def per_schema(read: Callable[[sqlite3.Connection], T]) -> Callable[[sqlite3.Connection], T]:
    """``read(conn)``, kept while ``conn`` and the version of its schema stay the same."""

    def cached(conn: sqlite3.Connection) -> T:
        version = int(conn.execute("PRAGMA schema_version").fetchone()[0])
        slots: dict[Callable[..., object], tuple[sqlite3.Connection, int, object]] = _local.__dict__.setdefault(
            "slots", {})
        slot = slots.get(read)
        if slot is not None and slot[0] is conn and slot[1] == version:
            return slot[2]  # type: ignore[return-value]
        value = read(conn)
        # One slot per reader and thread: the connection it holds is the one being read, kept no longer than
        # until the next one is.
        slots[read] = (conn, version, value)
        return value

    return cached


@per_schema
def table_definitions(conn: sqlite3.Connection) -> dict[str, str]:
    """The CREATE statement of every table (views and indexes left out), by name."""
    return {str(name): str(sql or "") for name, sql in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table'")}
