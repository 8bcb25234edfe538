"""Reading Flow's resource table straight from the database, streaming, for the public files index.

The index needs what only the database knows: each persistent resource's file name (for its public URI)
and which resources only thumbnails use (smart transfer leaves those out). This module reads
``neos_flow_resourcemanagement_persistentresource`` through the engine's own connection
(:func:`synco_core.connect_with_engine`, whichever engine the database is on), whose rows stream from the
server, so memory stays flat whatever the number of resources. When the database cannot be reached,
:class:`ResourceDatabaseUnavailable` carries a one-line reason and the caller falls back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from synco_core import DatabaseConfig, DatabaseReader, SyncoError, connect_with_engine, inspect_with_engine, one_line

log = logging.getLogger(__name__)

RESOURCE_TABLE = "neos_flow_resourcemanagement_persistentresource"
THUMBNAIL_TABLE = "neos_media_domain_model_thumbnail"
ASSET_TABLE = "neos_media_domain_model_asset"
EVENTLOG_TABLE = "neos_neos_eventlog_domain_model_event"
#: Reasons are cut to this many characters: one line in a warning, not a driver's whole story.
LIMIT = 300


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


def _connect(database: DatabaseConfig) -> DatabaseReader:
    """A reading connection to ``database`` from its engine (the same TLS policy as the dump)."""
    try:
        return connect_with_engine(database)
    except SyncoError as exc:
        raise ResourceDatabaseUnavailable(
            f"cannot connect to {database.url(mask_password=True)}: {one_line(str(exc), LIMIT)}") from None


def probe(database: DatabaseConfig) -> ResourceTables:
    """Which resource tables exist; :class:`ResourceDatabaseUnavailable` when the server refuses."""
    try:
        inventory = inspect_with_engine(database)
    except SyncoError as exc:
        raise ResourceDatabaseUnavailable(f"cannot list tables: {one_line(str(exc), LIMIT)}") from None
    # Tables of the default schema are named without one, and Flow's unqualified queries find only those.
    tables = {t.name.lower() for t in inventory.tables if t.kind == "table"}
    return ResourceTables(RESOURCE_TABLE in tables, THUMBNAIL_TABLE in tables, ASSET_TABLE in tables)


def iter_resources(
    database: DatabaseConfig, *, collection: str = "persistent", skip_thumbnail_only: bool = True
) -> Iterator[ResourceRow]:
    """Every resource of ``collection``, ordered by SHA-1 with duplicates of one SHA-1 yielded once.

    Ordering by SHA-1 lets the caller drop duplicate content (two uploads of the same file) without
    remembering every hash it has seen.
    """
    condition = f" AND {NOT_THUMBNAIL_ONLY}" if skip_thumbnail_only else ""
    with _connect(database) as reader:
        sql = (
            f"SELECT sha1, filename, filesize, relativepublicationpath FROM {RESOURCE_TABLE} "
            f"WHERE collectionname = {reader.placeholder}{condition} ORDER BY sha1"
        )
        previous = ""
        try:
            for sha1, filename, size, relative in reader.rows(sql, (collection,)):
                sha1 = str(sha1).lower()
                if sha1 == previous:
                    continue
                previous = sha1
                yield ResourceRow(sha1, str(filename), int(size or 0), str(relative or ""))
        except SyncoError as exc:
            raise ResourceDatabaseUnavailable(f"cannot read {RESOURCE_TABLE}: {one_line(str(exc), LIMIT)}") from None
