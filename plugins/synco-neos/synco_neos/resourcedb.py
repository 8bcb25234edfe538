"""Reading Flow's resource table straight from the database, streaming, for the public files index.

The index needs what only the database knows: each persistent resource's file name (for its public URI)
and which resources only thumbnails use (smart transfer leaves those out). This module reads
``neos_flow_resourcemanagement_persistentresource`` with a server-side cursor (PyMySQL ``SSCursor``,
a named psycopg cursor), so memory stays flat whatever the number of resources. When the database cannot
be reached, :class:`ResourceDatabaseUnavailable` carries a one-line reason and the caller falls back.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from synco_core.redaction import redact
from synco_core.values import DatabaseConfig

log = logging.getLogger(__name__)

RESOURCE_TABLE = "neos_flow_resourcemanagement_persistentresource"
THUMBNAIL_TABLE = "neos_media_domain_model_thumbnail"
ASSET_TABLE = "neos_media_domain_model_asset"
EVENTLOG_TABLE = "neos_neos_eventlog_domain_model_event"



def not_thumbnail_only(schema: str = "") -> str:
    """Rows of the resource table smart transfer keeps: every resource except those that thumbnails use
    and no asset does (thumbnails are regenerated on the destination).

    The same condition filters the dump and the index, so both agree. Unqualified
    ``persistence_object_identifier`` refers to the outer table. ``schema`` qualifies the two tables of
    the subqueries: PostgreSQL's dumper reads with an empty ``search_path``, where unqualified names
    resolve to nothing.
    """
    prefix = f"{schema}." if schema else ""
    return (
        f"persistence_object_identifier NOT IN (SELECT t.resource FROM {prefix}{THUMBNAIL_TABLE} t "
        f"WHERE t.resource IS NOT NULL AND t.resource NOT IN "
        f"(SELECT a.resource FROM {prefix}{ASSET_TABLE} a WHERE a.resource IS NOT NULL))"
    )


#: The condition for MySQL, SQLite and the index query (a normal connection resolves the names).
NOT_THUMBNAIL_ONLY = not_thumbnail_only()


class ResourceDatabaseUnavailable(Exception):
    """The resource table cannot be read; the message is one line without secrets."""


@dataclass(frozen=True)
class ResourceRow:
    """One persistent resource as the index needs it."""

    sha1: str
    filename: str
    size: int
    relative_publication_path: str = ""


@dataclass(frozen=True)
class ResourceTables:
    """Which of the tables synco uses exist."""

    resources: bool
    thumbnails: bool
    assets: bool

    @property
    def smart_filter_possible(self) -> bool:
        return self.resources and self.thumbnails and self.assets


def _connect(database: DatabaseConfig) -> Any:
    """A DB-API connection to ``database`` (PyMySQL, psycopg or sqlite3)."""
    try:
        if database.engine == "mysql":
            # The MySQL engine's own connection, so reading resources follows the same TLS policy as the dump
            # (TLS whenever the server offers it, verified when the configuration asks).
            from synco_core.engines.mysql.connect import connect

            return connect(database)
        if database.engine == "postgresql":
            import psycopg

            return psycopg.connect(
                host=database.socket or database.host or "127.0.0.1",
                port=database.port or 5432,
                user=database.user,
                password=database.password,
                dbname=database.name,
                connect_timeout=5,
            )
        if database.engine == "sqlite":
            return sqlite3.connect(f"file:{database.name}?mode=ro", uri=True)
    except Exception as exc:
        raise ResourceDatabaseUnavailable(
            f"cannot connect to {database.url(mask_password=True)}: {redact(_one_line(exc))}"
        ) from None
    raise ResourceDatabaseUnavailable(f"engine {database.engine!r} is not supported for reading Flow resources")


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def _existing_tables(connection: Any, database: DatabaseConfig) -> set[str]:
    wanted = (RESOURCE_TABLE, THUMBNAIL_TABLE, ASSET_TABLE)
    cursor = connection.cursor()
    try:
        if database.engine == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        elif database.engine == "postgresql":
            cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
        else:
            cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
        return {str(row[0]).lower() for row in cursor.fetchall()} & set(wanted)
    finally:
        cursor.close()


def probe(database: DatabaseConfig) -> ResourceTables:
    """Which resource tables exist; :class:`ResourceDatabaseUnavailable` when the server refuses."""
    connection = _connect(database)
    try:
        tables = _existing_tables(connection, database)
    except Exception as exc:
        raise ResourceDatabaseUnavailable(f"cannot list tables: {redact(_one_line(exc))}") from None
    finally:
        with contextlib.suppress(Exception):
            connection.close()
    return ResourceTables(RESOURCE_TABLE in tables, THUMBNAIL_TABLE in tables, ASSET_TABLE in tables)


def iter_resources(
    database: DatabaseConfig, *, collection: str = "persistent", skip_thumbnail_only: bool = True
) -> Iterator[ResourceRow]:
    """Every resource of ``collection``, ordered by SHA-1 with duplicates of one SHA-1 yielded once.

    Ordering by SHA-1 lets the caller drop duplicate content (two uploads of the same file) without
    remembering every hash it has seen.
    """
    connection = _connect(database)
    placeholder = "?" if database.engine == "sqlite" else "%s"
    condition = f" AND {NOT_THUMBNAIL_ONLY}" if skip_thumbnail_only else ""
    sql = (
        f"SELECT sha1, filename, filesize, relativepublicationpath FROM {RESOURCE_TABLE} "
        f"WHERE collectionname = {placeholder}{condition} ORDER BY sha1"
    )
    try:
        if database.engine == "mysql":
            import pymysql.cursors

            cursor = connection.cursor(pymysql.cursors.SSCursor)
        elif database.engine == "postgresql":
            cursor = connection.cursor(name="synco_neos_resources")
            cursor.itersize = 2000
        else:
            cursor = connection.cursor()
        try:
            cursor.execute(sql, (collection,))
        except Exception as exc:
            raise ResourceDatabaseUnavailable(f"cannot read {RESOURCE_TABLE}: {redact(_one_line(exc))}") from None
        previous = ""
        while True:
            rows = cursor.fetchmany(2000)
            if not rows:
                break
            for sha1, filename, size, relative in rows:
                sha1 = str(sha1).lower()
                if sha1 == previous:
                    continue
                previous = sha1
                yield ResourceRow(sha1, str(filename), int(size or 0), str(relative or ""))
        cursor.close()
    finally:
        with contextlib.suppress(Exception):
            connection.close()
