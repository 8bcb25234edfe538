"""Reading the schema of a PostgreSQL database from its catalogs.

Everything here runs inside the dumper's snapshot transaction with ``search_path`` empty, so every name
that ``format_type`` and the ``pg_get_*def`` functions print comes out schema-qualified, and the script
that is built from it does not depend on the loading session's search path.

Only user objects are read: the system schemas (``pg_*``, ``information_schema``) and objects that belong
to an extension (``pg_depend.deptype = 'e'``) are left out, because ``CREATE EXTENSION`` recreates those.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg

_SIMPLE_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*\Z")  # \Z: "$" would let a final newline through


class Quoter:
    """Quotes identifiers only where PostgreSQL needs it, like the server's ``quote_ident``.

    Unquoted names are what people read in their own schema; quoting every name would be correct too,
    but the dump is meant to be readable. The keyword list comes from the server that is dumped, so a
    word reserved in its version is always quoted.
    """

    def __init__(self, keywords: Iterable[str]) -> None:
        self.keywords = frozenset(keywords)

    def __call__(self, name: str) -> str:
        if _SIMPLE_IDENTIFIER.match(name) and name not in self.keywords:
            return name
        return '"' + name.replace('"', '""') + '"'

    def qualified(self, schema: str, name: str) -> str:
        return f"{self(schema)}.{self(name)}"


def literal(value: str) -> str:
    """An SQL string literal (``standard_conforming_strings`` is on in every script synco writes)."""
    return "'" + value.replace("'", "''") + "'"


def manifest_key(schema: str, name: str) -> str:
    """The name of a table in manifests and options: ``table`` in ``public``, ``schema.table`` elsewhere.

    A part that holds a dot is double-quoted (quotes in it doubled), so that table ``a.b`` in ``public``
    and table ``b`` in schema ``a`` get different keys.
    """
    parts = [part if "." not in part else '"' + part.replace('"', '""') + '"' for part in (schema, name)]
    return parts[1] if schema == "public" else f"{parts[0]}.{parts[1]}"


def server_version_num(conn: psycopg.Connection[Any]) -> int:
    return int(fetch(conn, "SHOW server_version_num")[0][0])


#: Column options (``ALTER TABLE ... ALTER COLUMN ... SET (...)``) PostgreSQL defines. Only these are
#: carried: some servers keep entries of their own among a column's options (``pg_attver``) that no
#: ``ALTER TABLE`` sets, and that a server without them would refuse.
COLUMN_OPTIONS = ("n_distinct", "n_distinct_inherited")

#: A namespace condition that keeps user schemas only.
USER_SCHEMA = "({0}.nspname NOT IN ('pg_catalog', 'information_schema') AND {0}.nspname NOT LIKE 'pg\\_%')"


def not_extension_member(catalog: str, oid_expression: str) -> str:
    """A condition that is true when the object is not part of an extension."""
    return (f"NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend ext WHERE ext.classid = 'pg_catalog.{catalog}'::regclass"
            f" AND ext.objid = {oid_expression} AND ext.deptype = 'e')")


@dataclass
class Column:
    name: str
    type: str
    not_null: bool
    default: str | None
    identity: str  # '' or 'a' (ALWAYS) / 'd' (BY DEFAULT)
    generated: str  # '' or 's' (STORED)
    collation: str | None
    is_local: bool
    #: Settings of the column itself (``ALTER COLUMN ... SET``), None where the default applies:
    #: ``SET STATISTICS``, ``SET STORAGE`` (a word such as EXTERNAL), ``SET COMPRESSION``.
    statistics: int | None = None
    storage: str | None = None
    compression: str | None = None
    #: Column-level privileges (``GRANT SELECT (col)``), as ``aclitem`` texts.
    acl: list[str] | None = None
    #: Options set on the column (``n_distinct=100``), of :data:`COLUMN_OPTIONS` only.
    options: list[str] = field(default_factory=list)
    #: A foreign table's column options (``column_name=x``).
    fdw_options: list[str] | None = None
    #: The OID of the column's default (``pg_attrdef``), when it has one.
    default_oid: int | None = None


@dataclass
class Sequence:
    oid: int
    schema: str
    name: str
    type: str
    start: int
    increment: int
    minimum: int
    maximum: int
    cache: int
    cycle: bool
    owner: str
    acl: list[str] | None
    #: ``(table oid, column number)`` of an owning column (serial) or identity column.
    owned_by: tuple[int, int] | None = None
    identity: bool = False
    #: ``relpersistence``: p (permanent) or u (unlogged).
    persistence: str = "p"

    def options(self) -> str:
        cycle = "CYCLE" if self.cycle else "NO CYCLE"
        return (f"START WITH {self.start} INCREMENT BY {self.increment} MINVALUE {self.minimum} "
                f"MAXVALUE {self.maximum} CACHE {self.cache} {cycle}")


@dataclass
class Table:
    oid: int
    schema: str
    name: str
    kind: str  # 'r', 'p' or 'f' (foreign)
    persistence: str
    partition_key: str | None
    partition_bound: str | None
    parent: int | None
    reloptions: list[str] | None
    owner: str
    acl: list[str] | None
    row_security: bool
    force_row_security: bool
    #: ``relreplident``: d (default), n (nothing), f (full) or i (index).
    replica_identity: str = "d"
    columns: list[Column] = field(default_factory=list)
    #: Parents of a table that uses plain inheritance (``INHERITS``), in declaration order.
    inherits: list[int] = field(default_factory=list)
    #: A table access method other than ``heap`` (``USING``).
    access_method: str | None = None
    #: The composite type of a typed table (``OF type``).
    of_type: str | None = None
    #: Options of the table's TOAST table, as ``WITH (toast.x = ...)`` sets them.
    toast_options: list[str] | None = None
    #: The tablespace, when it is not the database's default.
    tablespace: str | None = None
    #: A foreign table's server and options.
    server: str | None = None
    foreign_options: list[str] | None = None

    @property
    def display(self) -> str:
        """The name used in manifests and options (see :func:`manifest_key`)."""
        return manifest_key(self.schema, self.name)


@dataclass
class Relation:
    """A view or materialized view."""

    oid: int
    schema: str
    name: str
    kind: str  # 'v' or 'm'
    definition: str
    reloptions: list[str] | None
    owner: str
    acl: list[str] | None
    populated: bool
    #: A materialized view's access method other than ``heap``, and its tablespace.
    access_method: str | None = None
    tablespace: str | None = None
    depends_on: set[int] = field(default_factory=set)
    #: A view's column defaults (what an INSERT through it fills in): (column, expression, pg_attrdef OID).
    defaults: list[tuple[str, str, int]] = field(default_factory=list)
    #: The columns with settings of their own (a materialized view's statistics target, storage,
    #: compression, options) or column privileges (a view's too); the other fields of each are unused.
    columns: list[Column] = field(default_factory=list)


def fetch(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
    """Run a catalog query and return all rows (catalog results are small)."""
    return conn.execute(query, params).fetchall()


def read_tables(conn: psycopg.Connection[Any]) -> list[Table]:
    """Ordinary and partitioned tables with their columns, parents before their partitions and children."""
    rows = fetch(conn, f"""
        SELECT c.oid, n.nspname, c.relname, c.relkind, c.relpersistence,
               CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END,
               CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END,
               (SELECT i.inhparent FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid AND c.relispartition),
               c.reloptions::text[], pg_catalog.pg_get_userbyid(c.relowner), c.relacl::text[],
               c.relrowsecurity, c.relforcerowsecurity, c.relreplident,
               (SELECT a.amname FROM pg_catalog.pg_am a WHERE a.oid = c.relam AND a.amname <> 'heap'),
               CASE WHEN c.reloftype <> 0 THEN pg_catalog.format_type(c.reloftype, NULL) END,
               (SELECT tc.reloptions::text[] FROM pg_catalog.pg_class tc WHERE tc.oid = c.reltoastrelid),
               (SELECT ts.spcname FROM pg_catalog.pg_tablespace ts WHERE ts.oid = c.reltablespace),
               (SELECT s.srvname FROM pg_catalog.pg_foreign_table ft
                JOIN pg_catalog.pg_foreign_server s ON s.oid = ft.ftserver WHERE ft.ftrelid = c.oid),
               (SELECT ft.ftoptions FROM pg_catalog.pg_foreign_table ft WHERE ft.ftrelid = c.oid)
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'f') AND {USER_SCHEMA.format('n')}
          AND {not_extension_member('pg_class', 'c.oid')}
        ORDER BY n.nspname, c.relname""")
    tables = {}
    for row in rows:
        read = Table(*row[:14])
        (read.access_method, read.of_type, read.toast_options, read.tablespace, read.server,
         read.foreign_options) = row[14:]
        tables[read.oid] = read
    # Column compression exists from PostgreSQL 14 on; "" is the server's default.
    compression = "a.attcompression" if server_version_num(conn) >= 140000 else "''::\"char\""
    for row in fetch(conn, f"""
            SELECT a.attrelid, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
                   CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0 THEN
                     (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
                      FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
                      WHERE co.oid = a.attcollation) END,
                   a.attislocal,
                   CASE WHEN a.attstattarget >= 0 THEN a.attstattarget END,
                   CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage END,
                   {compression}, a.attacl::text[], a.attoptions::text[], a.attfdwoptions::text[], d.oid
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE c.relkind IN ('r', 'p', 'f') AND {USER_SCHEMA.format('n')} AND a.attnum > 0
              AND NOT a.attisdropped
            ORDER BY a.attrelid, a.attnum"""):
        table = tables.get(row[0])
        if table is not None:
            settings = _column_settings(row[1], row[9], row[10], row[11], row[12], row[13])
            table.columns.append(Column(row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                                        settings.statistics, settings.storage, settings.compression, row[12],
                                        settings.options, row[14], row[15]))

    for child, parent in fetch(conn, """
            SELECT i.inhrelid, i.inhparent FROM pg_catalog.pg_inherits i
            JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
            WHERE c.relkind = 'r' AND NOT c.relispartition ORDER BY i.inhrelid, i.inhseqno"""):
        if child in tables and parent in tables:
            tables[child].inherits.append(parent)

    def depth(table: Table) -> int:
        parents = ([table.parent] if table.parent is not None else []) + table.inherits
        return max((1 + depth(tables[p]) for p in parents if p in tables), default=0)

    # A stable sort by depth keeps name order within a level and puts every parent before its partitions
    # and inheriting tables.
    return sorted(tables.values(), key=depth)


def _column_settings(name: str, statistics: int | None, storage: str | None, compression: str | None,
                     acl: list[str] | None, options: list[str] | None) -> Column:
    """A column with the settings of its own as read from ``pg_attribute`` (type and the rest left empty)."""
    return Column(name, "", False, None, "", "", None, True, statistics,
                  {"p": "PLAIN", "e": "EXTERNAL", "m": "MAIN", "x": "EXTENDED"}.get(storage or ""),
                  {"p": "pglz", "l": "lz4"}.get(compression or ""), acl,
                  [o for o in options or [] if o.partition("=")[0] in COLUMN_OPTIONS])


def read_sequences(conn: psycopg.Connection[Any]) -> list[Sequence]:
    rows = fetch(conn, f"""
        SELECT c.oid, n.nspname, c.relname, pg_catalog.format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
               s.seqmin, s.seqmax, s.seqcache, s.seqcycle, pg_catalog.pg_get_userbyid(c.relowner), c.relacl::text[],
               d.refobjid, d.refobjsubid, d.deptype, c.relpersistence
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid
        LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
             AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')
        WHERE c.relkind = 'S' AND {USER_SCHEMA.format('n')} AND {not_extension_member('pg_class', 'c.oid')}
        ORDER BY n.nspname, c.relname""")
    sequences = []
    for row in rows:
        sequence = Sequence(*row[:12])
        sequence.persistence = row[15]
        if row[12] is not None:
            sequence.owned_by = (row[12], row[13])
            sequence.identity = row[14] == "i"
        sequences.append(sequence)
    return sequences


def read_relations(conn: psycopg.Connection[Any]) -> list[Relation]:
    """Views and materialized views, in an order where each comes after the ones it reads."""
    rows = fetch(conn, f"""
        SELECT c.oid, n.nspname, c.relname, c.relkind, pg_catalog.pg_get_viewdef(c.oid), c.reloptions::text[],
               pg_catalog.pg_get_userbyid(c.relowner), c.relacl::text[], c.relispopulated,
               (SELECT a.amname FROM pg_catalog.pg_am a WHERE a.oid = c.relam AND a.amname <> 'heap'),
               (SELECT ts.spcname FROM pg_catalog.pg_tablespace ts WHERE ts.oid = c.reltablespace)
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm') AND {USER_SCHEMA.format('n')} AND {not_extension_member('pg_class', 'c.oid')}
        ORDER BY n.nspname, c.relname""")
    relations = {row[0]: Relation(*row) for row in rows}
    for view, referenced in fetch(conn, """
            SELECT DISTINCT r.ev_class, d.refobjid
            FROM pg_catalog.pg_rewrite r
            JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
                 AND d.refclassid = 'pg_catalog.pg_class'::regclass
            WHERE d.refobjid <> r.ev_class"""):
        if view in relations and referenced in relations:
            relations[view].depends_on.add(referenced)
    for relid, column, expression, default_oid in fetch(conn, """
            SELECT ad.adrelid, a.attname, pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), ad.oid
            FROM pg_catalog.pg_attrdef ad
            JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
            ORDER BY ad.adrelid, a.attnum"""):
        if relid in relations:
            relations[relid].defaults.append((column, expression, default_oid))
    compression = "a.attcompression" if server_version_num(conn) >= 140000 else "''::\"char\""
    for row in fetch(conn, f"""
            SELECT a.attrelid, a.attname,
                   CASE WHEN a.attstattarget >= 0 THEN a.attstattarget END,
                   CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage END,
                   {compression}, a.attacl::text[], a.attoptions::text[]
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
            JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            WHERE c.relkind IN ('v', 'm') AND a.attnum > 0 AND NOT a.attisdropped
              AND (a.attstattarget >= 0 OR a.attstorage <> t.typstorage OR {compression} <> ''
                   OR a.attacl IS NOT NULL OR a.attoptions IS NOT NULL)
            ORDER BY a.attrelid, a.attnum"""):
        if row[0] in relations:
            relations[row[0]].columns.append(_column_settings(*row[1:]))
    ordered: list[Relation] = []
    placed: set[int] = set()
    visiting: set[int] = set()

    def place(relation: Relation) -> None:
        # Depth-first topological order; a cycle cannot exist between views, but guard against one anyway.
        if relation.oid in placed or relation.oid in visiting:
            return
        visiting.add(relation.oid)
        for dependency in sorted(relation.depends_on, key=lambda oid: (relations[oid].schema, relations[oid].name)):
            place(relations[dependency])
        visiting.discard(relation.oid)
        placed.add(relation.oid)
        ordered.append(relation)

    for relation in relations.values():
        place(relation)
    return ordered


#: A ``CROSS JOIN LATERAL`` giving, for the type ``t`` of the row it joins, the types directly inside it: a
#: domain's base type, an array's element, a composite's columns, a range's subtype, a multirange's range.
#: Recursed over (``WITH RECURSIVE``), it reaches every type a value of ``t`` may hold.
INNER_TYPES = """
            CROSS JOIN LATERAL (
                SELECT t.typbasetype WHERE t.typtype = 'd'
                UNION ALL SELECT t.typelem WHERE t.typelem <> 0 AND t.typlen = -1
                UNION ALL SELECT a.atttypid FROM pg_catalog.pg_attribute a
                          WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
                UNION ALL SELECT g.rngsubtype FROM pg_catalog.pg_range g WHERE g.rngtypid = t.oid
                UNION ALL SELECT g.rngtypid FROM pg_catalog.pg_range g WHERE g.rngmultitypid = t.oid
            ) AS inner_type(typid)
"""
