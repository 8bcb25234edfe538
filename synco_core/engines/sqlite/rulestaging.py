"""The filters and sanitising rules of a SQLite dump, evaluated on the untouched copy before any is applied.

MySQL and PostgreSQL put a table's rules and filters into one SELECT over the source: every rule reads the
source's values (``login`` made from ``email`` reads the address, not its mask, whatever order the rules come
in), and a filter or a rule reading another table reads its source rows. SQLite's copy is changed in place
instead, so the statements applied one after another saw what the earlier ones had written. Here the rows
each filter keeps and each rule's values are first read into temporary tables, all on the copy as the
snapshot made it, and only then are the rows deleted and the values written, one ``UPDATE`` per table, so
the constraints see every rule's value of a row at once (as the load of a MySQL or PostgreSQL copy does).

The temporary tables hold row keys and the rules' values (what the copy will hold anyway), in the
connection's temporary database, dropped before the copy is vacuumed.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from synco_core.engines.sqlite.common import quote


@dataclass
class Staged:
    """One table's filter and rules, read before anything is changed."""

    table: str
    #: What tells its rows apart: ``rowid`` or a WITHOUT ROWID table's key columns, quoted.
    key: list[str]
    #: The temporary table of the keys of the rows kept, when a filter leaves some out.
    kept: str | None = None
    #: The temporary table of the rules' values per kept row, and the columns they go into.
    values: str | None = None
    columns: list[str] = field(default_factory=list)


class RuleStage:
    """Temporary tables named apart from the copy's own (``temp.`` names never clash with ``main.`` ones,
    but a rule's subquery naming a table unqualified would find a temporary one first)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.made: list[str] = []
        self.taken = {str(row[0]) for row in conn.execute(
            "SELECT name FROM sqlite_master UNION SELECT name FROM sqlite_temp_master")}

    def _new_table(self, key: list[str], values: int) -> str:
        name = f"synco_stage_{len(self.made)}"
        while name in self.taken:
            name += "_"
        self.taken.add(name)
        # Untyped columns keep each value as the rule gave it (no affinity); the key is the lookup's index.
        keys = ["k0 INTEGER PRIMARY KEY"] if key == ["rowid"] else [f"k{n}" for n in range(len(key))]
        columns = [*keys, *(f"v{n}" for n in range(values))]
        primary = "" if key in (["rowid"], []) else f", PRIMARY KEY ({', '.join(f'k{n}' for n in range(len(key)))})"
        self.conn.execute(f"CREATE TEMP TABLE {quote(name)} ({', '.join(columns)}{primary})")
        self.made.append(name)
        return name

    def keep(self, staged: Staged, condition: str | None, newest: tuple[str, int] | None, ties: str) -> None:
        """Read the keys of the rows the filter keeps: those meeting ``condition``, of them the newest
        ``newest[1]`` by its column (``ties`` breaking ties)."""
        table = quote(staged.table)
        key = ", ".join(f"{table}.{part}" for part in staged.key)
        staged.kept = self._new_table(staged.key, 0)
        sql = f"INSERT INTO temp.{quote(staged.kept)} SELECT {key} FROM {table}"
        if condition is not None:
            sql += f" WHERE ({condition}\n)"
        if newest is not None:
            sql += f" ORDER BY {table}.{quote(newest[0])} DESC, {ties} LIMIT {int(newest[1])}"
        self.conn.execute(sql)

    def compute(self, staged: Staged, values: list[tuple[str, str]]) -> None:
        """Read each rule's value (``values``: a column and the expression of its value) for every row kept."""
        table = quote(staged.table)
        key = ", ".join(f"{table}.{part}" for part in staged.key)
        staged.values = self._new_table(staged.key, len(values))
        staged.columns = [column for column, _ in values]
        # Each expression as written, in parentheses and followed by a line break (a trailing -- comment ends).
        written = ", ".join("(" + expression + "\n)" for _, expression in values)
        sql = f"INSERT INTO temp.{quote(staged.values)} SELECT {key}, {written} FROM {table}"
        if staged.kept is not None:
            sql += f" WHERE {self._among(staged, staged.kept)}"
        self.conn.execute(sql)

    @staticmethod
    def _among(staged: Staged, temp: str) -> str:
        table = quote(staged.table)
        key = ", ".join(f"{table}.{part}" for part in staged.key)
        ks = ", ".join(f"k{n}" for n in range(len(staged.key)))
        return f"({key}) IN (SELECT {ks} FROM temp.{quote(temp)})"

    def delete_statement(self, staged: Staged) -> str:
        """The ``DELETE`` of the rows the filter leaves out."""
        assert staged.kept is not None
        return f"DELETE FROM {quote(staged.table)} WHERE NOT {self._among(staged, staged.kept)}"

    def update_statement(self, staged: Staged, columns: list[str] | None = None) -> str:
        """The ``UPDATE`` writing the rules' values (of ``columns``, default all) into the kept rows."""
        assert staged.values is not None
        table = quote(staged.table)
        chosen = staged.columns if columns is None else columns
        numbers = [staged.columns.index(column) for column in chosen]
        match = " AND ".join(f"s.k{n} = {table}.{part}" for n, part in enumerate(staged.key))
        targets = ", ".join(quote(column) for column in chosen)
        found = ", ".join(f"s.v{n}" for n in numbers)
        # OR ABORT: a constraint's own ON CONFLICT clause would decide otherwise, IGNORE leaving the rows a rule
        # would make collide unsanitised (their raw values shipped), REPLACE deleting rows.
        return (f"UPDATE OR ABORT {table} SET ({targets}) = "
                f"(SELECT {found} FROM temp.{quote(staged.values)} s WHERE {match})")

    def rewrite(self, staged: Staged) -> None:
        """Write the rules' values by taking the table's rows out and putting them back with those values.

        SQLite checks a unique key row by row as an ``UPDATE`` goes, so a rule shifting a key's values
        (``pos + 1``) met a row not yet updated, though the values it gives are all apart; rows inserted afresh
        meet only each other's final values, as a load does. Each keeps its rowid (or its key). Not for a
        virtual table, whose rows are its module's.
        """
        assert staged.values is not None
        table = quote(staged.table)
        info = list(self.conn.execute(f"PRAGMA table_xinfo({table})"))
        stored = [str(row[1]) for row in info if int(row[6]) == 0]  # hidden: 2 and 3 are generated columns
        keys = [row for row in info if int(row[5]) > 0]
        alias = len(keys) == 1 and str(keys[0][2]).upper() == "INTEGER"
        explicit = staged.key == ["rowid"] and not alias
        given = {column: number for number, column in enumerate(staged.columns)}
        names = [*(["rowid"] if explicit else []), *(quote(column) for column in stored)]
        values = [*([f"{table}.rowid"] if explicit else []),
                  *(f"s.v{given[column]}" if column in given else f"{table}.{quote(column)}" for column in stored)]
        match = " AND ".join(f"s.k{n} = {table}.{part}" for n, part in enumerate(staged.key))
        rows = self._new_table([], len(names))
        self.conn.execute(f"INSERT INTO temp.{quote(rows)} SELECT {', '.join(values)} FROM {table} "
                          f"JOIN temp.{quote(staged.values)} s ON {match}")
        self.conn.execute(f"DELETE FROM {table}")
        self.conn.execute(f"INSERT OR ABORT INTO {table} ({', '.join(names)}) SELECT * FROM temp.{quote(rows)}")

    def drop(self) -> None:
        for name in self.made:
            self.conn.execute(f"DROP TABLE temp.{quote(name)}")
        self.made.clear()
