"""What the SQLite engine's dump and install share: names, quoting, the tables and their manifest."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from synco_core.engines.sqlite.fingerprint import fingerprint
from synco_core.errors import ConfigError
from synco_core.values import DatabaseConfig

__all__ = ["fingerprint"]

ENGINE = "sqlite"
PREVIOUS_SUFFIX = ".synco-previous"
#: How long an install or rollback waits for another one in the same folder before giving up.
LOCK_WAIT_SECONDS = 30
CHUNK = 1 << 20
SQLITE_MAGIC = b"SQLite format 3\x00"


def database_path(database: DatabaseConfig) -> Path:
    """The database file a configuration names (never an in-memory database)."""
    if database.name in ("", ":memory:"):
        raise ConfigError("an in-memory SQLite database cannot be dumped or installed; name a file")
    return Path(database.name)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def user_tables(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """User tables (no ``sqlite_*`` internals) and their columns, in name order.

    A virtual table whose module (or tokenizer) only the application has shows no columns: SQLite cannot
    even list them without it, and everything it holds is in its own ordinary tables.
    """
    names = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")]
    virtual = virtual_tables(conn)
    tables: dict[str, list[str]] = {}
    for name in names:
        try:
            tables[name] = [row[1] for row in conn.execute(f"PRAGMA table_info({quote(name)})")]
        except sqlite3.OperationalError:
            if name not in virtual:
                raise
            tables[name] = []
    return tables


def virtual_tables(conn: sqlite3.Connection) -> set[str]:
    """The virtual tables (FTS, R*Tree, an extension's): what they hold is in ordinary tables of their own
    (shadow tables), which the manifest covers; read through the module, they need what the application
    registered (a module, a tokenizer, FTS4's ``compress`` functions), which synco may not have."""
    return {str(row[0]) for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'")}


def first_problems(status: list[str]) -> str:
    """What ``PRAGMA integrity_check`` or ``quick_check`` found, on one line for an error message.

    Its answer to a damaged b-tree is one row of several lines (``*** in database main ***`` and then a
    problem per line), which went into errors as it was.
    """
    problems = [line.strip() for row in status for line in str(row).splitlines()
                if line.strip() and not line.startswith("***")]
    shown = "; ".join(problems[:3])
    return shown + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")


#: What ``integrity_check`` says of a row its table's declaration refuses (SQLite 3.37+): a NULL under NOT
#: NULL, a value of the wrong type in a STRICT column, text a numeric column would have made a number.
_ROW_FINDING = re.compile(r"(NULL|TEXT|NUMERIC|non-\w+) value in \S")


def row_findings(status: list[str]) -> list[str]:
    """The findings of an integrity check that name rows its schema refuses, not damage."""
    return [str(line) for line in status if _ROW_FINDING.match(str(line))]


def integrity_status(conn: sqlite3.Connection, pragma: str = "integrity_check") -> list[str]:
    """``PRAGMA integrity_check`` (or ``quick_check``) of a database: its damage, ``["ok"]`` if none.

    Rows the schema refuses are no damage: production wrote them under ``ignore_check_constraints``, or
    before a tool edited ``sqlite_master`` to add a ``CHECK`` or ``NOT NULL`` or change a column's type, and a
    copy that cannot be told from the source holds them too. ``CHECK`` constraints are skipped under that
    pragma (set back after), and the other such findings left out.
    """
    before = int(conn.execute("PRAGMA ignore_check_constraints").fetchone()[0])
    conn.execute("PRAGMA ignore_check_constraints = ON")
    try:
        status = [str(row[0]) for row in conn.execute(f"PRAGMA {pragma}")]
    finally:
        conn.execute(f"PRAGMA ignore_check_constraints = {before}")
    rows = row_findings(status)
    return [line for line in status if line not in rows] or ["ok"]
