"""The built-in PostgreSQL engine, registered as the plugin ``postgresql``.

It answers for ``database.engine == "postgresql"`` (``postgres://`` and ``pgsql://`` URLs are normalised to
that by :mod:`synco_core.dburl`) and returns None for every other engine, so other engines and plugins
are asked in turn. Its hooks are ``trylast``: a framework plugin can take over its own database.

- :mod:`.dumper`: one snapshot, a plain SQL script in dependency-safe order, psycopg only (no pg_dump).
- :mod:`.loader`: runs such a script, or ``pg_dump`` plain output, without psql.
- :mod:`.installer`: scratch database, verification against the manifest, swap by renaming, rollback.
- :mod:`.preflight`: whether an install could run here, asked before a receive downloads anything.

The modules (and psycopg, slow to import; see docs/performance.md) load when a PostgreSQL database is
actually used: every synco command registers this plugin, most never touch PostgreSQL.
"""

from __future__ import annotations

from typing import BinaryIO

from synco_core import hookimpl
from synco_core.errors import DatabaseError
from synco_core.values import (
    DatabaseConfig,
    DatabaseInventory,
    DatabaseReader,
    DumpOptions,
    DumpRequirements,
    DumpResult,
    InstallOptions,
    InstallResult,
    TableInfo,
)

ENGINE = "postgresql"


@hookimpl(trylast=True)
def dump_database(database: DatabaseConfig, out: BinaryIO, options: DumpOptions) -> DumpResult | None:
    if database.engine != ENGINE:
        return None
    from synco_core.engines.postgresql.dumper import PostgresDumper

    return PostgresDumper(database, options).dump(out)


@hookimpl(trylast=True)
def install_database(database: DatabaseConfig, dump: BinaryIO, options: InstallOptions) -> InstallResult | None:
    if database.engine != ENGINE:
        return None
    from synco_core.engines.postgresql import installer

    return installer.install(database, dump, options)


@hookimpl(trylast=True)
def check_install_target(database: DatabaseConfig, options: InstallOptions) -> bool | None:
    if database.engine != ENGINE:
        return None
    from synco_core.engines.postgresql.preflight import check

    return check(database)


@hookimpl(trylast=True)
def check_dump_requirements(database: DatabaseConfig, requirements: DumpRequirements) -> list[str] | None:
    if database.engine != ENGINE:
        return None
    from synco_core.engines.postgresql.requirements import check

    return check(database, requirements)


@hookimpl(trylast=True)
def rollback_database(database: DatabaseConfig, options: InstallOptions) -> InstallResult | None:
    if database.engine != ENGINE:
        return None
    from synco_core.engines.postgresql import installer

    return installer.rollback(database, options)


@hookimpl(trylast=True)
def discard_kept_database(database: DatabaseConfig, options: InstallOptions) -> bool | None:
    if database.engine != ENGINE:
        return None
    from synco_core.engines.postgresql import installer

    installer.discard_kept(database, options)
    return True


@hookimpl(trylast=True)
def inspect_database(database: DatabaseConfig) -> DatabaseInventory | None:
    if database.engine != ENGINE:
        return None
    import psycopg

    from synco_core.engines.postgresql import requirements
    from synco_core.engines.postgresql.catalog import USER_SCHEMA, manifest_key, not_extension_member
    from synco_core.engines.postgresql.connection import connect, one_line, where

    conn = connect(database, settings=False)
    try:
        version = str(conn.execute("SHOW server_version").fetchone()[0]).split(" ")[0]  # type: ignore[index]
        rows = conn.execute(f"""
            SELECT n.nspname, c.relname, c.relkind, c.reltuples::bigint,
                   CASE WHEN c.relkind IN ('r', 'm', 'p') THEN pg_catalog.pg_total_relation_size(c.oid) ELSE 0 END,
                   ARRAY(SELECT a.attname FROM pg_catalog.pg_attribute a
                         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm') AND {USER_SCHEMA.format('n')}
              AND {not_extension_member('pg_class', 'c.oid')}
            ORDER BY n.nspname, c.relname""").fetchall()
        needs = requirements.recorded(conn, requirements.created_extensions(conn))
        needs.server_version = version
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot inspect PostgreSQL database {where(database)}: {one_line(exc)}") from exc
    finally:
        conn.close()
    tables = [
        TableInfo(
            name=manifest_key(schema, name),
            columns=list(columns),
            # reltuples is -1 for a table never vacuumed or analysed: no estimate, not "minus one row".
            rows_estimate=max(int(estimate), 0),
            size_bytes=int(size),
            kind="view" if kind in ("v", "m") else "table",
        )
        for schema, name, kind, estimate, size, columns in rows
    ]
    return DatabaseInventory(engine=ENGINE, server_version=version, tables=tables, requirements=needs)


@hookimpl(trylast=True)
def connect_database(database: DatabaseConfig) -> DatabaseReader | None:
    if database.engine != ENGINE:
        return None
    import itertools

    from synco_core.engines.postgresql.connection import connect, where
    from synco_core.engines.reader import DbApiReader

    # Server-side (named) cursors live in a transaction, so this connection is not in autocommit mode.
    conn = connect(database, autocommit=False, settings=False)
    conn.read_only = True
    names = itertools.count()
    return DbApiReader(conn, placeholder="%s", where=where(database),
                       cursor=lambda: conn.cursor(name=f"synco_reader_{next(names)}"))
