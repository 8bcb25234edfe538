"""Rewriting the string values of an SQLite database that was loaded (copied) but not yet swapped in.

An SQLite dump is the database file itself, so there are no statements to rewrite on the way in. The
installer calls :func:`rewrite_database` on the new file after it passed its verification and before it is
renamed over the target: every text value holding a needle is rewritten by one ``UPDATE`` per column,
``WHERE instr(...)`` choosing the rows in SQLite itself, with the database's triggers taken out meanwhile (a
rewrite changes the values holding a needle and nothing else). The target is untouched if anything fails.
"""

from __future__ import annotations

import sqlite3

from synco_core.engines.rewrite import Applier
from synco_core.engines.sqlite.triggers import triggers_taken_out
from synco_core.values import ValueRewriter


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def rewrite_database(conn: sqlite3.Connection, tables: dict[str, list[str]], rewriter: ValueRewriter) -> int:
    """Rewrite every text value of ``tables`` (name -> columns) that holds a needle; returns the values changed."""
    applier = Applier(rewriter)
    if not applier.needles:
        return 0

    codec = {"UTF-16le": "utf-16-le", "UTF-16be": "utf-16-be"}.get(str(conn.execute("PRAGMA encoding").fetchone()[0]))

    failed: list[BaseException] = []

    def rewrite(value: bytes | None) -> bytes | None:
        try:
            return rewrite_one(value)
        except BaseException as exc:
            # SQLite reports it as "user-defined function raised exception", dropping the reason (a plugin's).
            failed.append(exc)
            raise

    def rewrite_one(value: bytes | None) -> bytes | None:
        # The text arrives as its bytes (CAST .. AS BLOB) and leaves as bytes cast back to TEXT: SQLite keeps
        # whatever bytes an application wrote as TEXT, and Python refuses to pass a function text that is not
        # UTF-8 (the install failed on a Latin-1 value holding a needle). Needles are UTF-8.
        if value is None:
            return None
        raw = value if codec is None else value.decode(codec, "surrogatepass").encode("utf-8", "surrogatepass")
        new = applier.value(raw)
        if new == raw:
            return value
        return new if codec is None else new.decode("utf-8", "surrogatepass").encode(codec, "surrogatepass")

    conn.create_function("synco_rewrite", 1, rewrite, deterministic=True)
    needles = [needle.decode("utf-8", "surrogatepass") for needle in applier.needles]
    condition = " OR ".join("instr({column}, ?) > 0" for _ in needles)
    conn.execute("BEGIN")
    try:
        # The dump's UPDATE triggers would run for the rewrite (an application's audit rows or timestamps
        # added, a hostile file's code run): a rewrite changes the values holding a needle and nothing else.
        with triggers_taken_out(conn):
            for table, columns in tables.items():
                for column in columns:
                    where = condition.format(column=_quote(column))
                    conn.execute(f"UPDATE {_quote(table)} SET {_quote(column)} = "
                                 f"CAST(synco_rewrite(CAST({_quote(column)} AS BLOB)) AS TEXT) "
                                 f"WHERE typeof({_quote(column)}) = 'text' AND ({where})", needles)
        conn.execute("COMMIT")
    except BaseException as exc:
        conn.execute("ROLLBACK")
        if failed and isinstance(exc, sqlite3.OperationalError):
            raise failed[0] from None
        raise
    return applier.changed
