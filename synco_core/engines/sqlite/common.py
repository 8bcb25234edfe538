"""What the SQLite engine's dump and install share: names, quoting, the tables and their manifest."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from synco_core.errors import ConfigError
from synco_core.values import (
    DatabaseConfig,
    TableManifest,
)

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


def fingerprint(conn: sqlite3.Connection, table: str) -> TableManifest:
    """Row count and SHA-256 over the rows in scan order, computed the same way on both sides.

    The scan order of a table is its rowid (or primary key) order, which both the shipped file and a
    database rebuilt from the SQL script keep.
    """
    hasher = hashlib.sha256()
    rows = 0
    cursor = conn.execute(f"SELECT * FROM {quote(table)}")
    while True:
        batch = cursor.fetchmany(2000)
        if not batch:
            break
        rows += len(batch)
        hasher.update("\n".join(repr(row) for row in batch).encode("utf-8", "surrogatepass") + b"\n")
    return TableManifest(rows=rows, checksum=hasher.hexdigest())
