"""``inspect_database`` for MySQL/MariaDB: tables, columns and size estimates from information_schema."""

from __future__ import annotations

import pymysql

from synco_core.engines.mysql import requirements
from synco_core.engines.mysql.connect import connect, describe, where
from synco_core.engines.mysql.schema import query, text
from synco_core.errors import DatabaseError
from synco_core.values import DatabaseConfig, DatabaseInventory, TableInfo


def inspect(database: DatabaseConfig) -> DatabaseInventory:
    conn = connect(database)
    try:
        server_version, lower_case = query(conn, "SELECT VERSION(), @@lower_case_table_names")[0]
        version = text(server_version)
        columns: dict[str, list[str]] = {}
        for table, column in query(conn, "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS "
                                         "WHERE TABLE_SCHEMA=%s ORDER BY TABLE_NAME, ORDINAL_POSITION",
                                   (database.name,)):
            columns.setdefault(text(table), []).append(text(column))
        tables = []
        engines: dict[str, str] = {}
        for name, kind, rows, data, index, engine in query(
                conn, "SELECT TABLE_NAME, TABLE_TYPE, TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH, ENGINE "
                      "FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s ORDER BY TABLE_NAME", (database.name,)):
            is_view = text(kind) == "VIEW"
            if not is_view and text(kind) != "SEQUENCE":
                engines[text(name)] = text(engine)
            tables.append(TableInfo(
                name=text(name),
                columns=columns.get(text(name), []),
                rows_estimate=0 if is_view else int(rows or 0),
                size_bytes=0 if is_view else int(data or 0) + int(index or 0),
                kind="view" if is_view else "table",
            ))
        # lower_case_table_names 1 stores names in lower case, 2 keeps their case but compares them in lower
        # case: either way the server finds WP_users under wp_users. Column names never depend on case.
        needs = requirements.recorded(conn, database.name, engines, engines)
        needs.server_version = version
        return DatabaseInventory(engine="mysql", server_version=version, tables=tables,
                                 tables_ignore_case=int(lower_case or 0) != 0, columns_ignore_case=True,
                                 requirements=needs)
    except pymysql.err.MySQLError as exc:
        raise DatabaseError(f"cannot inspect {database.name!r} on {where(database)}: {describe(exc)}") from exc
    finally:
        conn.close()
