"""Full-text indexes (FTS3, FTS4, FTS5) after the dump's rules changed the copy.

An FTS table keeps the words of its documents in shadow tables (``<name>_data`` / ``_segments``, ``_idx`` /
``_segdir``, ``_content``). Sanitising or filtering the table an index is built over leaves those words there:
an external-content index (``content=posts``) is not told at all, and an index kept in step by triggers only
appends delete markers, while the segments that hold the old words stay until a merge. So after the rules,
every index they may have reached is rebuilt from what is left, or emptied where nothing is left to rebuild
it from:

- an index over external content (``content=<table>``) whose table a rule touched: rebuilt from that table;
- an index with its own content that a rule touched, or that a trigger on a touched table writes to: rebuilt
  from its own (already changed) content;
- a contentless index (``content=''``) written by a trigger on a touched table, or by no trigger at all (the
  application fills it, so nothing says whose words it holds): emptied (it cannot be rebuilt), with a note;
  the local site rebuilds it;
- an index that a rule left out whole (``exclude_tables``): emptied, not rebuilt from its content table.

Indexes no rule reaches are left exactly as they are. The ``VACUUM`` with ``secure_delete`` that follows the
rules then leaves none of the old pages in the file.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator

from synco_core.engines.sqlite.common import quote
from synco_core.engines.sqlite.ftsschema import FtsTable, fts_tables


def _names_in_body(fts: FtsTable) -> re.Pattern[str]:
    """``fts``'s name as a word of a trigger's body (case-insensitive, quoted or not)."""
    return re.compile(r"(?<![\w$])[\"`\[]?" + re.escape(fts.name) + r"[\"`\]]?(?![\w$])", re.IGNORECASE)


def _bodies(conn: sqlite3.Connection) -> Iterator[tuple[str, str, str]]:
    """Each trigger's name, table and the text of its body (what follows ``BEGIN``)."""
    for name, table, sql in conn.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"):
        text = str(sql or "")
        begin = re.search(r"\bBEGIN\b", text, re.IGNORECASE)
        if begin:
            yield str(name), str(table), text[begin.end():]


def _writers(conn: sqlite3.Connection, fts: FtsTable) -> set[str]:
    """The tables whose triggers name ``fts`` in their body."""
    word = _names_in_body(fts)
    return {table for _, table, body in _bodies(conn) if word.search(body)}


def index_feeding_triggers(conn: sqlite3.Connection) -> set[str]:
    """The triggers whose body names a full-text index: they keep an index with its own content in step with
    its table, so they must run when a rule changes that table, or the index would keep the old words (the
    rebuild after the rules reads that content)."""
    words = [_names_in_body(fts) for fts in fts_tables(conn)]
    return {name for name, _, body in _bodies(conn) if any(word.search(body) for word in words)}


def _rebuild(conn: sqlite3.Connection, fts: FtsTable) -> None:
    conn.execute(f"INSERT INTO {quote(fts.name)}({quote(fts.name)}) VALUES ('rebuild')")


def _empty(conn: sqlite3.Connection, fts: FtsTable) -> None:
    # The same table made anew: an empty index with the same options, whatever the module and its version.
    conn.execute(f"DROP TABLE {quote(fts.name)}")
    conn.execute(fts.sql)


def purge_fts_indexes(conn: sqlite3.Connection, touched: Iterable[str], emptied: Iterable[str]) -> list[str]:
    """Rebuild or empty every FTS index the rules reached (see the module's documentation); the notes say
    which. ``touched``: the tables a rule changed or filtered; ``emptied``: those left out whole."""
    touched = {name.lower() for name in touched}
    emptied = {name.lower() for name in emptied}
    if not touched:
        return []
    notes: list[str] = []
    for fts in fts_tables(conn):
        own = fts.name.lower()
        writers = {name.lower() for name in _writers(conn, fts)}
        fed = own in touched or bool(writers & touched)
        if own in emptied:
            _empty(conn, fts)
            notes.append(f"{fts.name}: full-text index emptied (its rows are left out)")
        elif fts.content is None:
            if fed:
                _rebuild(conn, fts)
                notes.append(f"{fts.name}: full-text index rebuilt after the rules")
        elif fts.content == "":
            if fed or not writers:
                _empty(conn, fts)
                notes.append(f"{fts.name}: contentless full-text index emptied (it may hold words the rules "
                             "removed and cannot be rebuilt here; rebuild it on the local site)")
        elif fts.content.lower() in touched or fed:
            # A content table that lacks the index's columns fails here, as every read of the index does:
            # the dump stops with SQLite's one-line reason (the index cannot be read or shipped either way).
            _rebuild(conn, fts)
            notes.append(f"{fts.name}: full-text index rebuilt from {fts.content} after the rules")
    return notes
