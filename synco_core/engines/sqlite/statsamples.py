"""The sample rows of a SQLite database's index statistics, left out for the tables the rules reached.

``ANALYZE`` in a SQLite built with ``SQLITE_ENABLE_STAT4`` (or the older STAT3) keeps, besides row counts,
whole index entries as samples (``sqlite_stat4.sample``, ``sqlite_stat3.sample``): the values of the indexed
columns of a few dozen rows per index, an e-mail address of the unique index on ``users.email`` among them.
The dump is the file itself (or a script copying the tables), so the samples of a table whose column a rule
masked, whose rows a filter left out, or whose rows were left out whole went with it as production held
them, whatever SQLite this synco runs with (one without STAT4 keeps the table and never reads it). Their rows
for such tables are deleted from the copy: a sample cannot be made again from the masked rows here, and
the laptop's planner does without them (the row counts of ``sqlite_stat1`` stay).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from synco_core.engines.sqlite.common import quote

#: The statistics tables that hold index entries (``sqlite_stat1`` holds numbers only).
SAMPLE_TABLES = ("sqlite_stat3", "sqlite_stat4")


def drop_samples(conn: sqlite3.Connection, touched: Iterable[str]) -> list[str]:
    """Delete the samples of the tables in ``touched`` (names as the copy spells them, compared as SQLite
    does, whatever their ASCII case); the notes say which tables lost theirs."""
    names = sorted(set(touched))
    if not names:
        return []
    present = {str(row[0]) for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('sqlite_stat3', 'sqlite_stat4')")}
    notes: list[str] = []
    marks = ", ".join("?" * len(names))
    for stat in SAMPLE_TABLES:
        if stat not in present:
            continue
        found = sorted({str(row[0]) for row in conn.execute(
            f"SELECT DISTINCT tbl FROM {quote(stat)} WHERE tbl COLLATE NOCASE IN ({marks})", names)})
        if found:
            conn.execute(f"DELETE FROM {quote(stat)} WHERE tbl COLLATE NOCASE IN ({marks})", names)
            notes.append(f"{stat}: index samples of {', '.join(found)} left out (they hold the rows' values)")
    return notes
