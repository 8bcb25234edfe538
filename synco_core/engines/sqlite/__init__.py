"""The built-in SQLite engine, registered as the plugin ``sqlite``.

- :mod:`.dump`: a snapshot with the online backup API, the rules applied to that copy, shipped as the
  database file or as an SQL script.
- :mod:`.install`: an atomic replace of the database file, the previous one kept for rollback.

Their hooks are registered with this package (they are imported here); inspecting and reading the
database (for plugins) are here too: both open it read-only.
"""

from __future__ import annotations

import contextlib
import sqlite3

from synco_core import hookimpl
from synco_core.engines.sqlite.common import ENGINE, database_path, quote, user_tables
from synco_core.engines.sqlite.dump import dump_database
from synco_core.engines.sqlite.install import (
    check_install_target,
    discard_kept_database,
    install_database,
    rollback_database,
)
from synco_core.errors import ConfigError, DatabaseError
from synco_core.values import (
    DatabaseConfig,
    DatabaseInventory,
    DatabaseReader,
    TableInfo,
)

__all__ = [
    "check_install_target",
    "connect_database",
    "discard_kept_database",
    "dump_database",
    "inspect_database",
    "install_database",
    "rollback_database",
]


#: A table without statistics (``ANALYZE`` never ran) is counted when it takes at most this many bytes.
COUNTED_WITHOUT_STATISTICS = 16 * 1024 * 1024


@hookimpl(trylast=True)
def inspect_database(database: DatabaseConfig) -> DatabaseInventory | None:
    if database.engine != ENGINE:
        return None
    with contextlib.closing(_read_only(database)) as conn:
        estimates: dict[str, int] = {}
        with contextlib.suppress(sqlite3.Error):
            # sqlite_stat1 exists once ANALYZE ran; its first number is the table's row count.
            for table, stat in conn.execute("SELECT tbl, stat FROM sqlite_stat1"):
                estimates[table] = int(str(stat).split()[0])
        sizes: dict[str, int] = {}
        with contextlib.suppress(sqlite3.Error):
            for table, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
                sizes[table] = int(size)
        tables = user_tables(conn)
        for name in tables:
            if name not in estimates and name in sizes and sizes[name] <= COUNTED_WITHOUT_STATISTICS:
                # Never analysed (most SQLite files): a small table is counted, in milliseconds, rather than
                # shown as "~0 rows" beside the rows it has.
                with contextlib.suppress(sqlite3.Error):
                    estimates[name] = int(conn.execute(f"SELECT count(*) FROM {quote(name)}").fetchone()[0])
        infos = [TableInfo(name=name, columns=columns, rows_estimate=estimates.get(name, 0),
                           size_bytes=sizes.get(name, 0), kind="table")
                 for name, columns in tables.items()]
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name"):
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({quote(name)})")]
            infos.append(TableInfo(name=name, columns=columns, kind="view"))
    return DatabaseInventory(engine=ENGINE, server_version=sqlite3.sqlite_version, tables=infos,
                             tables_ignore_case=True, columns_ignore_case=True)


@hookimpl(trylast=True)
def connect_database(database: DatabaseConfig) -> DatabaseReader | None:
    if database.engine != ENGINE:
        return None
    from synco_core.engines.reader import DbApiReader

    return DbApiReader(_read_only(database), placeholder="?", where=str(database_path(database)))


def _read_only(database: DatabaseConfig) -> sqlite3.Connection:
    """A connection that cannot write to the database file (``mode=ro``), which must exist."""
    path = database_path(database)
    if not path.is_file():
        raise ConfigError(f"SQLite database not found: {path}")
    try:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot open the SQLite database {path}: {exc}") from exc
