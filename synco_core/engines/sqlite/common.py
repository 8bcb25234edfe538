"""What the SQLite engine's dump and install share: names, quoting, the tables and their manifest."""

from __future__ import annotations

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
    """User tables (no ``sqlite_*`` internals) and their columns, in name order."""
    names = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")]
    return {name: [row[1] for row in conn.execute(f"PRAGMA table_info({quote(name)})")] for name in names}
