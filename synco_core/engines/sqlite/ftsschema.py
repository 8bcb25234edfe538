"""What the schema says of a database's full-text (FTS3, FTS4, FTS5) tables: their module and where their
content is (their own, an external table, or none: contentless)."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from synco_core.engines.sqlite.schemacache import per_schema

_MODULES = frozenset({"fts3", "fts4", "fts5"})
_VIRTUAL = re.compile(r"^\s*CREATE\s+VIRTUAL\s+TABLE\s+.*?\bUSING\s+(\w+)\s*\((.*)\)\s*;?\s*$",
                      re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class FtsTable:
    name: str
    module: str
    #: None: the index keeps its own content; "": contentless; otherwise the external content table.
    content: str | None
    sql: str


def _arguments(text: str) -> list[str]:
    """The module arguments, split at the commas outside quotes and brackets."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    quote_char = ""
    for char in text:
        if quote_char:
            current.append(char)
            if char == quote_char:
                quote_char = ""
            continue
        if char in "'\"`":
            quote_char = char
        elif char == "[":
            quote_char = "]"
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return [part for part in parts if part]


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] in "'\"`[":
        closing = "]" if value[0] == "[" else value[0]
        if value[-1] == closing:
            inner = value[1:-1]
            return inner if closing == "]" else inner.replace(closing * 2, closing)
    return value


def fts_tables(conn: sqlite3.Connection) -> list[FtsTable]:
    """The FTS3/4/5 tables of the database, in name order."""
    return list(_fts_tables(conn))


@per_schema
def _fts_tables(conn: sqlite3.Connection) -> tuple[FtsTable, ...]:
    found: list[FtsTable] = []
    for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql LIKE "
                                  "'CREATE VIRTUAL TABLE%' ORDER BY name"):
        match = _VIRTUAL.match(str(sql or ""))
        if match is None or match.group(1).lower() not in _MODULES:
            continue
        content: str | None = None
        for argument in _arguments(match.group(2)):
            key, sep, value = argument.partition("=")
            if sep and _unquote(key).strip().lower() == "content":
                content = _unquote(value)
        found.append(FtsTable(name=str(name), module=match.group(1).lower(), content=content, sql=str(sql)))
    return tuple(found)


def is_unscannable(conn: sqlite3.Connection, table: str) -> bool:
    """A contentless FTS3/FTS4 table: SQLite refuses a full scan of it (only ``MATCH`` queries), so its
    rows are known only through its shadow tables."""
    return any(fts.name == table and fts.module != "fts5" and fts.content == ""
               for fts in fts_tables(conn))
