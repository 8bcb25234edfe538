"""Which schema object needs what only the application registers: a collation or an SQL function.

An application can register its own collations and functions on every connection it opens, and use them
in its schema: ``COLLATE app_order`` on a column or an index, ``app_key(a)`` in an index, a ``CHECK`` or a
generated column. synco has none of them, so SQLite refuses, with an error naming only the collation or
function, to check such an index (``integrity_check``), to read such a column, or to create such a table
from an SQL script (the dump went through and the load failed). The schema is created again, without
rows, in an in-memory database, as the SQL form creates it; the first statement SQLite refuses names the
object.
"""

from __future__ import annotations

import contextlib
import sqlite3

#: What SQLite says when a schema needs something a connection lacks.
_MISSING = ("no such collation sequence", "no such function", "unknown function")


def needs_the_application(exc: BaseException) -> bool:
    """True when ``exc`` is SQLite missing a collation or function."""
    return any(phrase in str(exc) for phrase in _MISSING)


def first_unloadable(conn: sqlite3.Connection) -> tuple[str, str, str] | None:
    """(kind, name, SQLite's error) of the first object whose definition does not load here, or None.

    Tables first, then indexes, triggers and views, each in the order they were created: the order of the
    SQL form. Virtual tables are left out (the SQL form registers them without their module) and so are
    SQLite's own tables.
    """
    objects = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql NOT NULL AND name NOT LIKE "
                           "'sqlite\\_%' ESCAPE '\\' ORDER BY type != 'table', rowid").fetchall()
    with contextlib.closing(sqlite3.connect(":memory:")) as scratch:
        for kind, name, sql in objects:
            if str(sql).upper().startswith("CREATE VIRTUAL TABLE"):
                continue
            try:
                scratch.execute(str(sql))
            except sqlite3.Error as exc:
                if needs_the_application(exc):
                    return str(kind), str(name), str(exc)
    return None
