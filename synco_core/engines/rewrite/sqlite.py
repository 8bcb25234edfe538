"""Rewriting the string values of an SQLite database that was loaded (copied) but not yet swapped in.

An SQLite dump is the database file itself, so there are no statements to rewrite on the way in. The
installer calls :func:`rewrite_database` on the new file after it passed its verification and before it is
renamed over the target: every text value holding a needle is rewritten by one ``UPDATE`` per column,
``WHERE instr(...)`` choosing the rows in SQLite itself. The target is untouched if anything fails.
"""

from __future__ import annotations

import sqlite3

from synco_core.engines.rewrite import Applier
from synco_core.values import ValueRewriter


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def rewrite_database(conn: sqlite3.Connection, tables: dict[str, list[str]], rewriter: ValueRewriter) -> int:
    """Rewrite every text value of ``tables`` (name -> columns) that holds a needle; returns the values changed."""
    applier = Applier(rewriter)
    if not applier.needles:
        return 0

    def rewrite(value: str | bytes | int | float | None) -> str | bytes | int | float | None:
        if not isinstance(value, str):
            return value
        raw = value.encode("utf-8", "surrogatepass")
        new = applier.value(raw)
        return value if new == raw else new.decode("utf-8", "surrogatepass")

    conn.create_function("synco_rewrite", 1, rewrite, deterministic=True)
    needles = [needle.decode("utf-8", "surrogatepass") for needle in applier.needles]
    condition = " OR ".join("instr({column}, ?) > 0" for _ in needles)
    conn.execute("BEGIN")
    try:
        for table, columns in tables.items():
            for column in columns:
                where = condition.format(column=_quote(column))
                conn.execute(f"UPDATE {_quote(table)} SET {_quote(column)} = synco_rewrite({_quote(column)}) "
                             f"WHERE typeof({_quote(column)}) = 'text' AND ({where})", needles)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return applier.changed
