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

_SIMPLE_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


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

    def options(self) -> str:
        cycle = "CYCLE" if self.cycle else "NO CYCLE"
        return (f"START WITH {self.start} INCREMENT BY {self.increment} MINVALUE {self.minimum} "
                f"MAXVALUE {self.maximum} CACHE {self.cache} {cycle}")


@dataclass
class Table:
    oid: int
    schema: str
    name: str
    kind: str  # 'r' or 'p'
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

    @property
    def display(self) -> str:
        """The name used in manifests and options: ``table`` in ``public``, ``schema.table`` elsewhere."""
        return self.name if self.schema == "public" else f"{self.schema}.{self.name}"


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
    depends_on: set[int] = field(default_factory=set)


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
               c.relrowsecurity, c.relforcerowsecurity, c.relreplident
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND {USER_SCHEMA.format('n')} AND {not_extension_member('pg_class', 'c.oid')}
        ORDER BY n.nspname, c.relname""")
    tables = {row[0]: Table(*row) for row in rows}
    # Column compression exists from PostgreSQL 14 on; "" is the server's default.
    compression = ("a.attcompression" if int(fetch(conn, "SHOW server_version_num")[0][0]) >= 140000
                   else "''::\"char\"")
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
                   {compression}, a.attacl::text[]
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE c.relkind IN ('r', 'p') AND {USER_SCHEMA.format('n')} AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attrelid, a.attnum"""):
        table = tables.get(row[0])
        if table is not None:
            storage = {"p": "PLAIN", "e": "EXTERNAL", "m": "MAIN", "x": "EXTENDED"}.get(row[10] or "")
            compression_name = {"p": "pglz", "l": "lz4"}.get(row[11] or "")
            table.columns.append(Column(row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                                        row[9], storage, compression_name, row[12]))

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


def read_sequences(conn: psycopg.Connection[Any]) -> list[Sequence]:
    rows = fetch(conn, f"""
        SELECT c.oid, n.nspname, c.relname, pg_catalog.format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
               s.seqmin, s.seqmax, s.seqcache, s.seqcycle, pg_catalog.pg_get_userbyid(c.relowner), c.relacl::text[],
               d.refobjid, d.refobjsubid, d.deptype
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
        if row[12] is not None:
            sequence.owned_by = (row[12], row[13])
            sequence.identity = row[14] == "i"
        sequences.append(sequence)
    return sequences


def read_relations(conn: psycopg.Connection[Any]) -> list[Relation]:
    """Views and materialized views, in an order where each comes after the ones it reads."""
    rows = fetch(conn, f"""
        SELECT c.oid, n.nspname, c.relname, c.relkind, pg_catalog.pg_get_viewdef(c.oid), c.reloptions::text[],
               pg_catalog.pg_get_userbyid(c.relowner), c.relacl::text[], c.relispopulated
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


#: Objects the dumper does not carry yet, per kind: a query for their names (user schemas, not extension
#: members). Listed at dump time so a database that has them never loses them silently.
_UNSUPPORTED: tuple[tuple[str, str], ...] = (
    ("aggregates", f"""
        SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid))
        FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prokind IN ('a', 'w') AND {USER_SCHEMA.format('n')} AND {not_extension_member('pg_proc', 'p.oid')}"""),
    ("operators", f"""
        SELECT format('%I.%s(%s, %s)', n.nspname, o.oprname, pg_catalog.format_type(o.oprleft, NULL),
                      pg_catalog.format_type(o.oprright, NULL))
        FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
        WHERE {USER_SCHEMA.format('n')} AND {not_extension_member('pg_operator', 'o.oid')}"""),
    ("casts", """
        SELECT format('(%s AS %s)', pg_catalog.format_type(c.castsource, NULL),
                      pg_catalog.format_type(c.casttarget, NULL))
        FROM pg_catalog.pg_cast c
        WHERE c.oid >= 16384 AND NOT EXISTS (
            -- extension members, and the casts a range type makes for its multirange (internal)
            SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_cast'::regclass
            AND d.objid = c.oid AND d.deptype IN ('e', 'i'))"""),
    ("collations", f"""
        SELECT format('%I.%I', n.nspname, c.collname)
        FROM pg_catalog.pg_collation c JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace
        WHERE {USER_SCHEMA.format('n')} AND {not_extension_member('pg_collation', 'c.oid')}"""),
    ("text search configurations", f"""
        SELECT format('%I.%I', n.nspname, c.cfgname)
        FROM pg_catalog.pg_ts_config c JOIN pg_catalog.pg_namespace n ON n.oid = c.cfgnamespace
        WHERE {USER_SCHEMA.format('n')} AND {not_extension_member('pg_ts_config', 'c.oid')}"""),
    ("text search dictionaries", f"""
        SELECT format('%I.%I', n.nspname, d.dictname)
        FROM pg_catalog.pg_ts_dict d JOIN pg_catalog.pg_namespace n ON n.oid = d.dictnamespace
        WHERE {USER_SCHEMA.format('n')} AND {not_extension_member('pg_ts_dict', 'd.oid')}"""),
    ("rules", f"""
        SELECT format('%I on %I.%I', r.rulename, n.nspname, c.relname)
        FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE r.rulename <> '_RETURN' AND {USER_SCHEMA.format('n')} AND {not_extension_member('pg_class', 'c.oid')}"""),
    ("statistics objects", f"""
        SELECT format('%I.%I', n.nspname, s.stxname)
        FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace
        WHERE {USER_SCHEMA.format('n')}"""),
    ("publications", "SELECT format('%I', pubname) FROM pg_catalog.pg_publication"),
    ("foreign tables", f"""
        SELECT format('%I.%I', n.nspname, c.relname)
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'f' AND {USER_SCHEMA.format('n')} AND {not_extension_member('pg_class', 'c.oid')}"""),
    ("large objects", "SELECT oid::text FROM pg_catalog.pg_largeobject_metadata"),
    ("event triggers", f"""
        SELECT format('%I', e.evtname) FROM pg_catalog.pg_event_trigger e
        WHERE {not_extension_member('pg_event_trigger', 'e.oid')}"""),
    ("encoding conversions", f"""
        SELECT format('%I.%I', n.nspname, c.conname)
        FROM pg_catalog.pg_conversion c JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace
        WHERE {USER_SCHEMA.format('n')} AND {not_extension_member('pg_conversion', 'c.oid')}"""),
    ("default privileges (ALTER DEFAULT PRIVILEGES)", """
        SELECT format('for role %I%s on %s', pg_catalog.pg_get_userbyid(d.defaclrole),
                      CASE WHEN d.defaclnamespace <> 0 THEN
                        ' in schema ' || d.defaclnamespace::pg_catalog.regnamespace::text END,
                      CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions'
                                           WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas' END)
        FROM pg_catalog.pg_default_acl d"""),
    ("column options (n_distinct)", f"""
        SELECT format('%I.%I.%I', n.nspname, c.relname, a.attname)
        FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND {USER_SCHEMA.format('n')} AND NOT a.attisdropped
          AND EXISTS (SELECT 1 FROM pg_catalog.unnest(a.attoptions) o WHERE o LIKE 'n\\_distinct%')"""),
)


def read_unsupported(conn: psycopg.Connection[Any], limit: int = 10) -> list[str]:
    """One line per kind of object present that the dump leaves out: ``3 rules: a on public.t, ...``."""
    lines = []
    for kind, query in _UNSUPPORTED:
        names = sorted(str(row[0]) for row in fetch(conn, query))
        if names:
            shown = ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
            lines.append(f"{len(names)} {kind}: {shown}")
    return lines
