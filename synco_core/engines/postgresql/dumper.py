"""A pure-Python PostgreSQL dumper: a plain SQL script that ``psql`` and synco's loader both accept.

The whole dump reads one snapshot (``REPEATABLE READ, READ ONLY, DEFERRABLE``). The script is written in
an order where every statement only needs what came before it:

1. extensions (a schema an extension lives in is created right before it), then the other schemas, then
   the sequences;
2. enum, range, composite and domain types, functions and procedures, and tables with their columns,
   identity and generated columns, per-column settings (statistics target, storage, compression) and
   replica identity (one using an index comes with the indexes), sorted by the dependencies
   ``pg_depend`` records (see :mod:`ordering`): a function before the generated column, domain CHECK or
   other function signature that needs it, a table before the columns and functions that use its row
   type, parents before their partitions and inheriting children. Where nothing forces otherwise: types,
   functions, tables. ``check_function_bodies`` is off, so bodies other than SQL-standard ones are not
   checked yet. Then column defaults and sequence ownership (a default may call any function);
3. the rows, one ``COPY ... FROM stdin`` block per table streamed from ``COPY ... TO STDOUT``, and the
   sequence positions (``setval``);
4. primary key, unique, check and exclusion constraints and indexes, after the data because building an
   index once is much faster than maintaining it row by row; foreign keys last;
5. views and materialized views in dependency order (a materialized view is filled from the loaded rows),
   and in the same order the functions that need a view (a SQL-standard body reading one);
6. triggers (after the data, so none fires while loading), row security and its policies, comments, and
   owners and grants, column grants included, only when asked (``DumpOptions.owners``).

Not carried (yet): aggregates, operators, casts, collations and text search configurations of one's own,
rules other than views', statistics objects, publications, foreign tables, large objects, event triggers,
encoding conversions, default privileges and column options (n_distinct). Any that exist are listed in a
warning (one line per kind, with their names) when the dump starts.

Filters and sanitising rules become part of the ``COPY (SELECT ...) TO STDOUT`` the server runs: a value
that is masked never leaves the server. The manifest of each table is the number of rows and the SHA-256 of
the exact COPY text (SHA-256 runs at hardware speed where the CPU has SHA extensions), which the
installer recomputes from the COPY text it loads and checks, with row counts from the loaded database, before
swapping it in.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO

import psycopg
from psycopg import pq

from synco_core import dumpprogress
from synco_core.engines.postgresql import catalog, ordering
from synco_core.engines.postgresql.catalog import Quoter, Table, fetch, literal, not_extension_member
from synco_core.engines.postgresql.connection import connect, drain_results, one_line, result_error, where
from synco_core.errors import ConfigError, DatabaseError
from synco_core.values import DatabaseConfig, DumpOptions, DumpResult, SanitizeRule, TableManifest

log = logging.getLogger(__name__)

#: COPY data is collected into blocks of this size before hashing and writing, so the per-row cost is
#: a few bytes appended to a buffer and all the hashing and writing happens in large C-level calls.
BLOCK_SIZE = 1 << 20

HEADER = """--
-- synco PostgreSQL dump
-- {source}
--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';

"""

#: The last line of every complete dump; the loader refuses a synco dump that does not end with it.
TRAILER = "-- synco PostgreSQL dump complete\n"


#: Dumped objects by (catalog, OID): the keyword and the name a COMMENT or ALTER statement uses.
Objects = dict[tuple[str, int], tuple[str, str]]
#: (object as "KIND name", owner, ACL) for the owners and grants section.
Owners = list[tuple[str, str, list[str] | None]]


class _Writer:
    """Encodes script text and writes it to the output stream."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.pending = ""

    def sql(self, text: str) -> None:
        if self.pending:
            self.out.write(self.pending.encode("utf-8"))
            self.pending = ""
        self.out.write(text.encode("utf-8"))

    def section(self, title: str) -> None:
        # The heading is written with the first statement of the section, so empty sections leave no trace.
        self.pending = f"\n--\n-- {title}\n--\n\n"


@dataclass
class _DataPlan:
    """How the rows of one table are read: the COPY source and the rules that shaped it."""

    columns: list[str]
    query: str
    rules: list[str]
    excluded: bool


class PostgresDumper:
    """Writes one dump of ``database`` to a binary stream."""

    def __init__(self, database: DatabaseConfig, options: DumpOptions) -> None:
        self.database = database
        self.options = options
        self.conn: psycopg.Connection[Any] | None = None
        self.quote = Quoter(())
        #: Indexes of materialized views, by view OID: (index OID, name, CREATE INDEX statement).
        self.view_indexes: dict[int, list[tuple[int, str, str]]] = {}
        #: Column-level privileges: (table, column, ACL), granted with the owners and grants.
        self.column_acls: list[tuple[str, str, list[str]]] = []

    # -- entry point ---------------------------------------------------------------------------------

    def dump(self, out: BinaryIO) -> DumpResult:
        conn = connect(self.database)
        self.conn = conn
        try:
            return self._dump(conn, _Writer(out))
        except psycopg.Error as exc:
            raise DatabaseError(f"dump of PostgreSQL database {where(self.database)} failed: {one_line(exc)}") from exc
        finally:
            conn.close()

    def _dump(self, conn: psycopg.Connection[Any], w: _Writer) -> DumpResult:
        # With row security off, a table whose policies would hide rows from this user makes the dump
        # fail loudly instead of silently leaving rows out.
        conn.execute("SET row_security = off")
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY, DEFERRABLE")
        # An empty search path makes the server print every name schema-qualified.
        conn.execute("SELECT pg_catalog.set_config('search_path', '', false)")
        version = str(fetch(conn, "SHOW server_version")[0][0]).split(" ")[0]
        self.quote = Quoter(row[0] for row in fetch(conn, "SELECT word FROM pg_catalog.pg_get_keywords() "
                                                             "WHERE catcode <> 'U'"))
        q = self.quote

        tables = catalog.read_tables(conn)
        if tables:
            # Share locks keep the tables from being dropped or altered while the dump reads them.
            names = ", ".join(q.qualified(t.schema, t.name) for t in tables)
            conn.execute(f"LOCK TABLE {names} IN ACCESS SHARE MODE")
        sequences = catalog.read_sequences(conn)
        relations = catalog.read_relations(conn)
        for line in catalog.read_unsupported(conn):
            log.warning("the dump of PostgreSQL database %s leaves out %s (not supported yet)",
                        where(self.database), line)
        by_oid = {t.oid: t for t in tables}
        plans = self._plan_data(tables)

        database_name = " ".join(self.database.name.split())  # a name with a newline must not end the comment
        w.sql(HEADER.format(source=f"PostgreSQL {version}, database {database_name}"))
        objects: Objects = {}
        owners: Owners = []

        self._extensions_and_schemas(w, objects, owners)

        w.section("Sequences")
        for seq in sequences:
            name = q.qualified(seq.schema, seq.name)
            objects[("pg_class", seq.oid)] = ("SEQUENCE", name)
            owners.append((f"SEQUENCE {name}", seq.owner, seq.acl))
            if not seq.identity:
                w.sql(f"CREATE SEQUENCE {name} AS {seq.type} {seq.options()};\n")

        graph, late = self._definitions(w, tables, relations, sequences, objects, owners)

        w.section("Column defaults and sequence ownership")
        for table in tables:
            # Every table gets its own defaults, partitions included: a partition copies its parent's
            # defaults only when it is created, and here the partitions exist before any default is set.
            for column in table.columns:
                if column.default is not None and not column.generated:
                    w.sql(f"ALTER TABLE ONLY {q.qualified(table.schema, table.name)} ALTER COLUMN "
                          f"{q(column.name)} SET DEFAULT {column.default};\n")
        for seq in sequences:
            if seq.owned_by and not seq.identity and seq.owned_by[0] in by_oid:
                owner_table = by_oid[seq.owned_by[0]]
                column_name = self._column_name(conn, seq.owned_by)
                w.sql(f"ALTER SEQUENCE {q.qualified(seq.schema, seq.name)} OWNED BY "
                      f"{q.qualified(owner_table.schema, owner_table.name)}.{q(column_name)};\n")

        manifest: dict[str, TableManifest] = {}
        applied: list[str] = []
        w.section("Data")
        for table in tables:
            plan = plans.get(table.oid)
            if plan is None:
                continue
            applied.extend(plan.rules)
            rows, checksum = self._copy_table(conn, w, table, plan)
            manifest[table.display] = TableManifest(rows=rows, checksum=checksum)

        w.section("Sequence positions")
        for seq in sequences:
            sequence_name = q.qualified(seq.schema, seq.name)
            last_value, is_called = fetch(conn, f"SELECT last_value, is_called FROM {sequence_name}")[0]
            w.sql(f"SELECT pg_catalog.setval({literal(q.qualified(seq.schema, seq.name))}, {last_value}, "
                  f"{'true' if is_called else 'false'});\n")

        self._constraints_and_indexes(w, conn, tables, objects)
        self._views(w, relations, graph, late, objects, owners)
        self._triggers(w, conn, objects)
        self._row_security(w, conn, tables)
        self._comments(w, conn, objects)
        if self.options.owners:
            self._owners(w, owners)
        w.sql("\n" + TRAILER)
        conn.execute("COMMIT")
        return DumpResult(engine="postgresql", wire_type="PostgresDump", format="sql", server_version=version,
                          tables=manifest, applied_rules=applied)

    # -- schema objects ------------------------------------------------------------------------------

    def _extensions_and_schemas(self, w: _Writer, objects: Objects, owners: Owners) -> None:
        assert self.conn is not None
        q = self.quote
        schemas = fetch(self.conn, f"""
            SELECT n.oid, n.nspname, pg_catalog.pg_get_userbyid(n.nspowner), n.nspacl::text[]
            FROM pg_catalog.pg_namespace n
            WHERE {catalog.USER_SCHEMA.format('n')} AND {not_extension_member('pg_namespace', 'n.oid')}
            ORDER BY n.nspname""")
        created = {"public"}
        # Built-in extensions (plpgsql) have OIDs below FirstNormalObjectId and exist in every database.
        extensions = fetch(self.conn, """
            SELECT e.extname, n.nspname FROM pg_catalog.pg_extension e
            JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
            WHERE e.oid >= 16384 ORDER BY e.extname""")
        w.section("Extensions")
        for extname, schema in extensions:
            if schema not in created and schema not in ("pg_catalog",):
                w.sql(f"CREATE SCHEMA {q(schema)};\n")
                created.add(schema)
            w.sql(f"CREATE EXTENSION IF NOT EXISTS {q(extname)} WITH SCHEMA {q(schema)};\n")
        w.section("Schemas")
        for oid, name, owner, acl in schemas:
            objects[("pg_namespace", oid)] = ("SCHEMA", q(name))
            owners.append((f"SCHEMA {q(name)}", owner, acl))
            if name not in created:
                w.sql(f"CREATE SCHEMA {q(name)};\n")
                created.add(name)

    def _read_types(self) -> list[tuple[Any, ...]]:
        """Enum, range, composite and domain types, in creation (OID) order."""
        assert self.conn is not None
        return fetch(self.conn, f"""
            SELECT t.oid, n.nspname, t.typname, t.typtype, pg_catalog.pg_get_userbyid(t.typowner), t.typacl::text[],
                   pg_catalog.format_type(t.typbasetype, t.typtypmod), t.typnotnull,
                   COALESCE(pg_catalog.pg_get_expr(t.typdefaultbin, 0), t.typdefault),
                   CASE WHEN t.typtype = 'd' AND t.typcollation <> bt.typcollation THEN
                     (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
                      FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
                      WHERE co.oid = t.typcollation) END,
                   t.typrelid
            FROM pg_catalog.pg_type t
            JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
            LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
            WHERE {catalog.USER_SCHEMA.format('n')} AND t.typtype IN ('e', 'r', 'c', 'd')
              AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')
              AND {not_extension_member('pg_type', 't.oid')}
            ORDER BY t.oid""")

    def _read_domain_checks(self, types: list[tuple[Any, ...]],
                            functions: set[int]) -> dict[int, list[tuple[str, str, int, bool]]]:
        """Per domain: its constraints (name, definition, OID, whether it calls a function of the dump)."""
        assert self.conn is not None
        domains = [row[0] for row in types if row[3] == "d"]
        result: dict[int, list[tuple[str, str, int, bool]]] = {}
        for typid, conname, definition, oid, procs in fetch(self.conn, """
                SELECT c.contypid, c.conname, pg_catalog.pg_get_constraintdef(c.oid), c.oid,
                       ARRAY(SELECT d.refobjid FROM pg_catalog.pg_depend d
                             WHERE d.classid = 'pg_catalog.pg_constraint'::regclass AND d.objid = c.oid
                               AND d.refclassid = 'pg_catalog.pg_proc'::regclass)
                FROM pg_catalog.pg_constraint c WHERE c.contypid = ANY(%s) ORDER BY c.conname""", (domains,)):
            result.setdefault(typid, []).append((conname, definition, oid, bool(functions.intersection(procs))))
        return result

    def _create_type(self, w: _Writer, row: tuple[Any, ...], checks: list[tuple[str, str, int, bool]],
                     objects: Objects, owners: Owners) -> None:
        assert self.conn is not None
        conn, q = self.conn, self.quote
        oid, schema, name, kind, owner, acl, base, not_null, default, collation, relid = row
        qualified = q.qualified(schema, name)
        keyword = "DOMAIN" if kind == "d" else "TYPE"
        objects[("pg_type", oid)] = (keyword, qualified)
        owners.append((f"{keyword} {qualified}", owner, acl))
        if kind == "e":
            labels = [row[0] for row in fetch(conn, "SELECT enumlabel FROM pg_catalog.pg_enum "
                                                    "WHERE enumtypid = %s ORDER BY enumsortorder", (oid,))]
            w.sql(f"CREATE TYPE {qualified} AS ENUM (\n    " + ",\n    ".join(map(literal, labels)) + "\n);\n")
        elif kind == "r":
            subtype, subdiff = fetch(conn, "SELECT pg_catalog.format_type(rngsubtype, NULL), "
                                           "CASE WHEN rngsubdiff <> 0 THEN rngsubdiff::regproc::text END "
                                           "FROM pg_catalog.pg_range WHERE rngtypid = %s", (oid,))[0]
            extra = f", SUBTYPE_DIFF = {subdiff}" if subdiff else ""
            w.sql(f"CREATE TYPE {qualified} AS RANGE (SUBTYPE = {subtype}{extra});\n")
        elif kind == "c":
            attributes = fetch(conn, """
                SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""", (relid,))
            body = ",\n    ".join(f"{q(att)} {typ}" for att, typ in attributes)
            w.sql(f"CREATE TYPE {qualified} AS (\n    {body}\n);\n")
        else:
            parts = [f"CREATE DOMAIN {qualified} AS {base}"]
            if collation:
                parts.append(f"COLLATE {collation}")
            if default is not None:
                parts.append(f"DEFAULT {default}")
            if not_null:
                parts.append("NOT NULL")
            for conname, definition, con_oid, calls_function in checks:
                objects[("pg_constraint", con_oid)] = ("CONSTRAINT", f"{q(conname)} ON DOMAIN {qualified}")
                # A CHECK calling one of the dump's functions is added once that function exists (see
                # _domain_check): the function's own signature may use this domain.
                if not calls_function:
                    parts.append(f"CONSTRAINT {q(conname)} {definition}")
            w.sql("\n    ".join(parts) + ";\n")

    def _domain_check(self, w: _Writer, domain: str, conname: str, definition: str) -> None:
        w.sql(f"ALTER DOMAIN {domain} ADD CONSTRAINT {self.quote(conname)} {definition};\n")

    def _definitions(self, w: _Writer, tables: list[Table], relations: list[catalog.Relation],
                     sequences: list[catalog.Sequence], objects: Objects,
                     owners: Owners) -> tuple[ordering.Graph, dict[int, tuple[Any, ...]]]:
        """Create types, functions and tables in dependency order (see :mod:`ordering`).

        Returns the dependency graph and the functions that must wait for the views, by OID.
        """
        assert self.conn is not None
        q = self.quote
        types = self._read_types()
        functions = {row[0]: row for row in self._read_functions()}
        checks = self._read_domain_checks(types, set(functions))
        separate = {oid: (typid, conname, definition) for typid, found in checks.items()
                    for conname, definition, oid, calls_function in found if calls_function}
        graph = ordering.read_graph(self.conn, {row[0]: row[10] for row in types}, set(separate), set(functions),
                                    {t.oid for t in tables}, {r.oid for r in relations})
        late_oids = graph.late(functions)
        # The list order is kept where the dependencies allow: functions that use a table's row type (or
        # read a table in a SQL-standard body) after the tables, the others before them.
        early = [oid for oid in functions if oid not in late_oids]
        after_tables = {oid for oid in early if any(need[0] == "table" for need in graph.needs.get(("proc", oid), ()))}
        nodes: list[ordering.Node] = [("type", row[0]) for row in types]
        nodes += [("proc", oid) for oid in early if oid not in after_tables]
        nodes += [("domcheck", oid) for oid in separate]
        nodes += [("table", t.oid) for t in tables]
        nodes += [("proc", oid) for oid in early if oid in after_tables]
        type_rows = {row[0]: row for row in types}
        by_oid = {t.oid: t for t in tables}
        identity = {s.owned_by: s for s in sequences if s.identity and s.owned_by}
        titles = {"type": "Types", "proc": "Functions and procedures", "domcheck": "Domain constraints",
                  "table": "Tables"}
        current = ""
        for kind, oid in ordering.order(nodes, graph):
            if titles[kind] != current:
                current = titles[kind]
                w.section(current)
            if kind == "type":
                self._create_type(w, type_rows[oid], checks.get(oid, []), objects, owners)
            elif kind == "proc":
                self._create_function(w, functions[oid], objects, owners)
            elif kind == "domcheck":
                typid, conname, definition = separate[oid]
                self._domain_check(w, objects[("pg_type", typid)][1], conname, definition)
            else:
                table = by_oid[oid]
                self._create_table(w, table, by_oid, identity)
                name = q.qualified(table.schema, table.name)
                objects[("pg_class", table.oid)] = ("TABLE", name)
                owners.append((f"TABLE {name}", table.owner, table.acl))
                self.column_acls.extend((name, c.name, c.acl) for c in table.columns if c.acl)
        return graph, {oid: functions[oid] for oid in late_oids}

    def _create_table(self, w: _Writer, table: Table, by_oid: dict[int, Table],
                      identity: dict[tuple[int, int], catalog.Sequence]) -> None:
        q = self.quote
        name = q.qualified(table.schema, table.name)
        unlogged = "UNLOGGED " if table.persistence == "u" else ""
        options = f" WITH ({', '.join(table.reloptions)})" if table.reloptions else ""
        parent = by_oid.get(table.parent) if table.parent is not None else None
        if parent is not None:
            statement = (f"CREATE {unlogged}TABLE {name} PARTITION OF {q.qualified(parent.schema, parent.name)}\n"
                         f"    {table.partition_bound}")
            if table.partition_key:
                statement += f"\n    PARTITION BY {table.partition_key}"
            w.sql(statement + options + ";\n")
            # A partition takes its columns from the parent; only a NOT NULL of its own needs adding.
            parent_not_null = {c.name for c in parent.columns if c.not_null}
            for column in table.columns:
                if column.not_null and column.name not in parent_not_null:
                    w.sql(f"ALTER TABLE ONLY {name} ALTER COLUMN {q(column.name)} SET NOT NULL;\n")
            self._table_settings(w, table, name)
            return
        lines = []
        inherited_not_null = []
        parents = [by_oid[p] for p in table.inherits if p in by_oid]
        for number, column in enumerate(table.columns, start=1):
            if not column.is_local:
                # A column that only comes from an inherited parent is created by INHERITS.
                if column.not_null and not any(c.name == column.name and c.not_null
                                               for p in parents for c in p.columns):
                    inherited_not_null.append(column.name)
                continue
            line = f"    {q(column.name)} {column.type}"
            if column.collation:
                line += f" COLLATE {column.collation}"
            if column.generated:
                line += f" GENERATED ALWAYS AS ({column.default}) STORED"
            if column.identity:
                seq = identity.get((table.oid, number))
                kind = "ALWAYS" if column.identity == "a" else "BY DEFAULT"
                line += f" GENERATED {kind} AS IDENTITY"
                if seq is not None:
                    line += f" (\n        SEQUENCE NAME {q.qualified(seq.schema, seq.name)} {seq.options()}\n    )"
            if column.not_null:
                line += " NOT NULL"
            lines.append(line)
        statement = f"CREATE {unlogged}TABLE {name} (\n" + ",\n".join(lines) + "\n)"
        if parents:
            statement += "\nINHERITS (" + ", ".join(q.qualified(p.schema, p.name) for p in parents) + ")"
        if table.partition_key:
            statement += f"\nPARTITION BY {table.partition_key}"
        w.sql(statement + options + ";\n")
        for column_name in inherited_not_null:
            w.sql(f"ALTER TABLE ONLY {name} ALTER COLUMN {q(column_name)} SET NOT NULL;\n")
        self._table_settings(w, table, name)

    def _table_settings(self, w: _Writer, table: Table, name: str) -> None:
        """Per-column statistics targets, storage and compression, and the replica identity (not USING INDEX)."""
        q = self.quote
        for column in table.columns:
            settings = []
            if column.statistics is not None:
                settings.append(f"SET STATISTICS {column.statistics}")
            if column.storage is not None:
                settings.append(f"SET STORAGE {column.storage}")
            if column.compression is not None:
                settings.append(f"SET COMPRESSION {column.compression}")
            for setting in settings:
                w.sql(f"ALTER TABLE ONLY {name} ALTER COLUMN {q(column.name)} {setting};\n")
        identity = {"f": "FULL", "n": "NOTHING"}.get(table.replica_identity)
        if identity is not None:
            w.sql(f"ALTER TABLE ONLY {name} REPLICA IDENTITY {identity};\n")

    def _column_name(self, conn: psycopg.Connection[Any], owned_by: tuple[int, int]) -> str:
        return str(fetch(conn, "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = %s AND attnum = %s",
                         owned_by)[0][0])

    def _read_functions(self) -> list[tuple[Any, ...]]:
        assert self.conn is not None
        return fetch(self.conn, f"""
                SELECT p.oid, pg_catalog.pg_get_functiondef(p.oid), n.nspname, p.proname,
                       pg_catalog.pg_get_function_identity_arguments(p.oid), p.prokind,
                       pg_catalog.pg_get_userbyid(p.proowner), p.proacl::text[]
                FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                WHERE {catalog.USER_SCHEMA.format('n')} AND p.prokind IN ('f', 'p')
                  AND {not_extension_member('pg_proc', 'p.oid')}
                  -- Range constructors belong to their type (an internal dependency) and come with it.
                  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend dep
                                  WHERE dep.classid = 'pg_catalog.pg_proc'::regclass
                                    AND dep.objid = p.oid AND dep.deptype = 'i')
                ORDER BY p.oid""")

    def _create_function(self, w: _Writer, row: tuple[Any, ...], objects: Objects, owners: Owners) -> None:
        q = self.quote
        oid, definition, schema, name, arguments, kind, owner, acl = row
        keyword = "PROCEDURE" if kind == "p" else "FUNCTION"
        signature = f"{q.qualified(schema, name)}({arguments})"
        objects[("pg_proc", oid)] = (keyword, signature)
        owners.append((f"{keyword} {signature}", owner, acl))
        w.sql(definition.rstrip() + ";\n\n")

    def _constraints_and_indexes(self, w: _Writer, conn: psycopg.Connection[Any], tables: list[Table],
                                 objects: Objects) -> None:
        q = self.quote
        by_oid = {t.oid: t for t in tables}
        # Leaf tables first: a constraint or index added to a partitioned table afterwards cascades to
        # its partitions and adopts matching indexes that already exist there.
        def depth(table: Table) -> int:
            level = 0
            while table.parent is not None and table.parent in by_oid:
                table, level = by_oid[table.parent], level + 1
            return level

        order = {t.oid: (0 if t.kind == "r" else 1, -depth(t), t.schema, t.name) for t in tables}
        constraints = fetch(conn, """
            SELECT con.oid, con.conrelid, con.conname, con.contype, pg_catalog.pg_get_constraintdef(con.oid),
                   con.conislocal, con.conparentid <> 0
            FROM pg_catalog.pg_constraint con
            WHERE con.conrelid <> 0 AND con.contype IN ('p', 'u', 'c', 'x', 'f')
            ORDER BY con.conname""")
        inherited = {parent for t in tables for parent in t.inherits}
        keys: list[tuple[Any, str]] = []
        foreign: list[tuple[Any, str]] = []
        for oid, relid, conname, contype, definition, is_local, has_parent in constraints:
            table = by_oid.get(relid)
            if table is None:
                continue
            objects[("pg_constraint", oid)] = ("CONSTRAINT", f"{q(conname)} ON {q.qualified(table.schema, table.name)}")
            # A partition's copy of its parent's constraint is created by the parent's statement.
            if not is_local or has_parent:
                continue
            # A check constraint of a table with inheritance children must reach them too (PostgreSQL
            # refuses ONLY there); on partitioned tables every constraint cascades to the partitions.
            only = "" if table.kind == "p" or (contype == "c" and relid in inherited) else "ONLY "
            statement = (f"ALTER TABLE {only}{q.qualified(table.schema, table.name)}\n"
                         f"    ADD CONSTRAINT {q(conname)} {definition};\n")
            (foreign if contype == "f" else keys).append((order[relid], statement))
        indexes = fetch(conn, """
            SELECT i.indexrelid, i.indrelid, ic.relname, pg_catalog.pg_get_indexdef(i.indexrelid), i.indisclustered,
                   i.indisreplident, EXISTS (SELECT 1 FROM pg_catalog.pg_constraint con
                                             WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x'))
            FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
            WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits inh WHERE inh.inhrelid = i.indexrelid)
            ORDER BY ic.relname""")
        index_rows = []
        replica_identity = []
        for index_oid, relid, index_name, definition, clustered, replica, constraint_index in indexes:
            if replica and relid in by_oid:
                table = by_oid[relid]
                replica_identity.append(f"ALTER TABLE ONLY {q.qualified(table.schema, table.name)} REPLICA IDENTITY "
                                        f"USING INDEX {q(index_name)};\n")
            if constraint_index:
                continue  # created by its constraint
            if relid in by_oid:
                table = by_oid[relid]
                objects[("pg_class", index_oid)] = ("INDEX", q.qualified(table.schema, index_name))
                # "ON ONLY" would create an invalid index on the parent alone; without ONLY it cascades.
                statement = definition.replace(" ON ONLY ", " ON ", 1) + ";\n"
                if clustered:
                    statement += (f"ALTER TABLE {q.qualified(table.schema, table.name)} CLUSTER ON "
                                  f"{q(index_name)};\n")
                index_rows.append((order[relid], statement))
            else:
                # Indexes on materialized views are created right after the view (see _views).
                self.view_indexes.setdefault(relid, []).append((index_oid, index_name, definition + ";\n"))
        w.section("Constraints and indexes")
        for _, statement in sorted(keys + index_rows, key=lambda item: item[0]):
            w.sql(statement)
        for statement in replica_identity:
            w.sql(statement)
        w.section("Foreign keys")
        for _, statement in sorted(foreign, key=lambda item: item[0]):
            w.sql(statement)

    def _views(self, w: _Writer, relations: list[catalog.Relation], graph: ordering.Graph,
               late: dict[int, tuple[Any, ...]], objects: Objects, owners: Owners) -> None:
        """Views and materialized views, and in one order with them the functions that need a view."""
        q = self.quote
        by_oid = {r.oid: r for r in relations}
        nodes: list[ordering.Node] = [("view", r.oid) for r in relations] + [("proc", oid) for oid in late]
        current = ""
        for kind, oid in ordering.order(nodes, graph):
            title = "Views and materialized views" if kind == "view" else "Functions that read views"
            if title != current:
                current = title
                w.section(title)
            if kind == "proc":
                self._create_function(w, late[oid], objects, owners)
                continue
            relation = by_oid[oid]
            name = q.qualified(relation.schema, relation.name)
            keyword = "MATERIALIZED VIEW" if relation.kind == "m" else "VIEW"
            objects[("pg_class", relation.oid)] = (keyword, name)
            owners.append((f"TABLE {name}" if relation.kind == "v" else f"MATERIALIZED VIEW {name}",
                           relation.owner, relation.acl))
            options = f" WITH ({', '.join(relation.reloptions)})" if relation.reloptions else ""
            body = relation.definition.strip().rstrip(";")
            if relation.kind == "m":
                data = "WITH DATA" if relation.populated else "WITH NO DATA"
                w.sql(f"CREATE MATERIALIZED VIEW {name}{options} AS\n{body}\n{data};\n")
                for index_oid, index_name, statement in self.view_indexes.get(relation.oid, []):
                    w.sql(statement)
                    objects[("pg_class", index_oid)] = ("INDEX", q.qualified(relation.schema, index_name))
            else:
                w.sql(f"CREATE VIEW {name}{options} AS\n{body};\n")

    def _triggers(self, w: _Writer, conn: psycopg.Connection[Any],
                  objects: Objects) -> None:
        q = self.quote
        w.section("Triggers")
        for oid, relid, name, definition, enabled in fetch(conn, """
                SELECT t.oid, t.tgrelid, t.tgname, pg_catalog.pg_get_triggerdef(t.oid, false), t.tgenabled
                FROM pg_catalog.pg_trigger t WHERE NOT t.tgisinternal AND t.tgparentid = 0
                ORDER BY t.tgname"""):
            target = objects.get(("pg_class", relid))
            if target is None:
                continue
            w.sql(definition + ";\n")
            objects[("pg_trigger", oid)] = ("TRIGGER", f"{q(name)} ON {target[1]}")
            if enabled == "D":
                w.sql(f"ALTER TABLE {target[1]} DISABLE TRIGGER {q(name)};\n")
            elif enabled in ("R", "A"):
                mode = "REPLICA" if enabled == "R" else "ALWAYS"
                w.sql(f"ALTER TABLE {target[1]} ENABLE {mode} TRIGGER {q(name)};\n")

    def _row_security(self, w: _Writer, conn: psycopg.Connection[Any], tables: list[Table]) -> None:
        q = self.quote
        w.section("Row security")
        for table in tables:
            name = q.qualified(table.schema, table.name)
            if table.row_security:
                w.sql(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY;\n")
            if table.force_row_security:
                w.sql(f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY;\n")
        by_oid = {t.oid: t for t in tables}
        for relid, policy, permissive, command, roles, using, check in fetch(conn, """
                SELECT p.polrelid, p.polname, p.polpermissive, p.polcmd,
                       ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC'
                                         ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r)) END
                             FROM unnest(p.polroles) r),
                       pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)
                FROM pg_catalog.pg_policy p ORDER BY p.polname"""):
            owner = by_oid.get(relid)
            if owner is None:
                continue
            commands = {"r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE", "*": "ALL"}
            statement = (f"CREATE POLICY {q(policy)} ON {q.qualified(owner.schema, owner.name)} AS "
                         f"{'PERMISSIVE' if permissive else 'RESTRICTIVE'} FOR {commands[command]} "
                         f"TO {', '.join(roles)}")
            if using is not None:
                statement += f" USING ({using})"
            if check is not None:
                statement += f" WITH CHECK ({check})"
            w.sql(statement + ";\n")

    def _comments(self, w: _Writer, conn: psycopg.Connection[Any],
                  objects: Objects) -> None:
        q = self.quote
        w.section("Comments")
        for catalog_name, objoid, subid, description, column in fetch(conn, """
                SELECT d.classoid::regclass::text, d.objoid, d.objsubid, d.description,
                       CASE WHEN d.objsubid > 0 THEN
                         (SELECT attname FROM pg_catalog.pg_attribute a
                          WHERE a.attrelid = d.objoid AND a.attnum = d.objsubid) END
                FROM pg_catalog.pg_description d
                ORDER BY d.classoid, d.objoid, d.objsubid"""):
            key = (catalog_name.removeprefix("pg_catalog."), objoid)
            target = objects.get(key)
            if target is None:
                continue
            keyword, name = target
            if key[0] == "pg_namespace" and name == "public":
                # The public schema comes with the database; its comment is the template's.
                continue
            if subid:
                if column is None:
                    continue
                w.sql(f"COMMENT ON COLUMN {name}.{q(column)} IS {literal(description)};\n")
            else:
                w.sql(f"COMMENT ON {keyword} {name} IS {literal(description)};\n")

    def _owners(self, w: _Writer, owners: Owners) -> None:
        q = self.quote
        w.section("Owners and privileges")
        for target, owner, acl in owners:
            if target == "SCHEMA public":
                continue
            w.sql(f"ALTER {target} OWNER TO {q(owner)};\n")
            if acl is None:
                continue
            object_kind, _, object_name = target.partition(" ")
            if object_kind == "MATERIALIZED":
                object_kind, object_name = "TABLE", object_name.removeprefix("VIEW ")
            grant_kind = {"DOMAIN": "DOMAIN", "TYPE": "TYPE", "PROCEDURE": "PROCEDURE"}.get(object_kind, object_kind)
            w.sql(f"REVOKE ALL ON {grant_kind} {object_name} FROM PUBLIC;\n")
            w.sql(f"REVOKE ALL ON {grant_kind} {object_name} FROM {q(owner)};\n")
            for privilege, who, option in self._grants(acl):
                w.sql(f"GRANT {privilege} ON {grant_kind} {object_name} TO {who}{option};\n")
        # Column privileges last: revoking a table's privileges above also revokes those of its columns.
        for table_name, column_name, acl in self.column_acls:
            for privilege, who, option in self._grants(acl):
                w.sql(f"GRANT {privilege} ({q(column_name)}) ON TABLE {table_name} TO {who}{option};\n")

    def _grants(self, acl: list[str]) -> list[tuple[str, str, str]]:
        """``aclitem`` texts -> (privilege, grantee, " WITH GRANT OPTION" or "")."""
        grants = []
        for item in acl:
            grantee, _, rest = item.partition("=")
            who = self.quote(grantee.strip('"').replace('""', '"')) if grantee else "PUBLIC"
            for privilege, grantable in _acl_privileges(rest.split("/", 1)[0]):
                grants.append((privilege, who, " WITH GRANT OPTION" if grantable else ""))
        return grants

    # -- data ----------------------------------------------------------------------------------------

    def _plan_data(self, tables: list[Table]) -> dict[int, _DataPlan]:
        """Check every table and column an option names, and build the COPY source of each table."""
        options = self.options
        q = self.quote
        lookup: dict[str, list[Table]] = {}
        for table in tables:
            lookup.setdefault(f"{table.schema}.{table.name}", []).append(table)
            lookup.setdefault(table.name, []).append(table)

        def resolve(name: str, what: str) -> Table:
            found = lookup.get(name) or lookup.get(name.strip('"'))
            if not found:
                raise ConfigError(f"unknown table {name!r} in {what}")
            if len(found) > 1:
                schemas = ", ".join(sorted(f"{t.schema}.{t.name}" for t in found))
                raise ConfigError(f"table name {name!r} in {what} is ambiguous ({schemas}); qualify it with its schema")
            return found[0]

        by_oid = {t.oid: t for t in tables}

        def lineage(table: Table) -> list[int]:
            # Options given for a table also apply to its partitions and to the tables that INHERIT from
            # it, because reading the parent in PostgreSQL reads their rows too: sanitising users.email
            # must mask the e-mails of every table users' rows live in. Nearest first: the table's own
            # option wins over a parent's.
            chain: list[int] = []
            queue = [table.oid]
            while queue:
                oid = queue.pop(0)
                if oid in chain or oid not in by_oid:
                    continue
                chain.append(oid)
                current = by_oid[oid]
                queue.extend(([current.parent] if current.parent is not None else []) + current.inherits)
            return chain

        excluded = {resolve(name, "the excluded tables").oid for name in options.exclude_tables}
        where = {resolve(name, "--where").oid: condition for name, condition in options.where.items()}
        newest: dict[int, tuple[str, int]] = {}
        for name, (column, count) in options.keep_newest.items():
            table = resolve(name, "keep_newest")
            if column not in {c.name for c in table.columns}:
                raise ConfigError(f"unknown column {column!r} of table {name!r} in keep_newest")
            newest[table.oid] = (column, int(count))
        rules: dict[int, dict[str, SanitizeRule]] = {}
        for rule in options.sanitize:
            table = resolve(rule.table, "the sanitize rules")
            if rule.column not in {c.name for c in table.columns}:
                raise ConfigError(f"unknown column {rule.column!r} of table {rule.table!r} in the sanitize rules")
            rules.setdefault(table.oid, {})[rule.column] = rule

        # Tables whose rows are read together with other tables' rows (partitioned and INHERITS parents).
        ancestors = {oid for table in tables for oid in lineage(table)[1:]}
        plans: dict[int, _DataPlan] = {}
        for table in tables:
            if table.kind != "r":
                continue
            chain = lineage(table)
            columns = [c.name for c in table.columns if not c.generated]
            name = q.qualified(table.schema, table.name)
            plain = ", ".join(q(c) for c in columns)
            applied: list[str] = []
            if any(oid in excluded for oid in chain):
                plans[table.oid] = _DataPlan(columns, "", [f"{table.display}: rows left out (structure only)"], True)
                continue
            table_rules: dict[str, SanitizeRule] = {}
            for oid in reversed(chain):
                table_rules.update(rules.get(oid, {}))
            condition_of = next((oid for oid in chain if oid in where), None)
            condition = where[condition_of] if condition_of is not None else None
            keep_of = next((oid for oid in chain if oid in newest), None)
            keep = newest[keep_of] if keep_of is not None else None
            if not table_rules and condition is None and keep is None:
                plans[table.oid] = _DataPlan(columns, f"COPY {name} ({plain}) TO STDOUT", [], False)
                continue
            select = []
            for column in columns:
                found = table_rules.get(column)
                if found is None:
                    select.append(q(column))
                else:
                    # The cast makes the rewritten value fit the column (a hash into varchar(20) is cut
                    # to 20 characters) and fails here, on the source, when it cannot fit at all.
                    column_type = next(c.type for c in table.columns if c.name == column)
                    select.append(f"CAST(({self._rule_expression(table, found)}) AS {column_type}) AS {q(column)}")
                    applied.append(f"{table.display}.{column} -> {found.transform or found.expression}")
            # ONLY: without it a parent's SELECT also returns its INHERITS children's rows, which the dump
            # already carries in the children's own COPY blocks (they would be loaded twice).
            query = f"SELECT {', '.join(select)} FROM ONLY {name}"
            if condition is not None:
                query += f" WHERE ({condition})"
                applied.append(f"{table.display}: only rows where {condition}")
            if keep is not None and keep_of is not None and keep_of in ancestors:
                # The newest N of the parent's rows, wherever they live: each table keeps its share of them.
                # The tie-break makes every table's subquery pick the same N rows.
                source = by_oid[keep_of]
                inner = f"SELECT tableoid, ctid FROM {q.qualified(source.schema, source.name)}"
                if condition is not None and condition_of == keep_of:
                    inner += f" WHERE ({condition})"
                inner += f" ORDER BY {q(keep[0])} DESC, tableoid, ctid LIMIT {keep[1]}"
                mine = f"SELECT k.ctid FROM ({inner}) k WHERE k.tableoid = {table.oid}::pg_catalog.oid"
                query += (" WHERE" if condition is None else " AND") + f" ctid = ANY (ARRAY({mine}))"
                applied.append(f"{table.display}: only its rows among the newest {keep[1]} rows of {source.display} "
                               f"by {keep[0]}")
            elif keep is not None:
                query += f" ORDER BY {q(keep[0])} DESC LIMIT {keep[1]}"
                applied.append(f"{table.display}: only the newest {keep[1]} rows by {keep[0]}")
            plans[table.oid] = _DataPlan(columns, f"COPY ({query}) TO STDOUT", applied, False)
        return plans

    def _rule_expression(self, table: Table, rule: SanitizeRule) -> str:
        q = self.quote
        if rule.transform is None:
            if not rule.expression.strip():
                raise ConfigError(f"sanitize rule for {rule.table}.{rule.column} has neither an expression nor a "
                                  "transform")
            return rule.expression
        transform, _, argument = rule.transform.partition(":")
        column = q(rule.column)
        if transform == "null":
            return "NULL"
        if transform == "fixed":
            # NULL stays NULL, as in the MySQL and SQLite engines: it holds nothing to hide.
            return f"CASE WHEN {column} IS NULL THEN NULL ELSE {literal(argument)} END"
        if transform == "hash":
            # SHA-256 hex like the MySQL and SQLite engines (sha256() is built in since PostgreSQL 11: no
            # pgcrypto); bytea is hashed as its bytes, anything else as its UTF-8 text.
            column_type = next((c.type for c in table.columns if c.name == rule.column), "")
            data = column if column_type == "bytea" else f"pg_catalog.convert_to(({column})::text, 'UTF8')"
            return f"pg_catalog.encode(pg_catalog.sha256({data}), 'hex')"
        if transform == "truncate":
            try:
                length = int(argument)
            except ValueError as exc:
                raise ConfigError(f"sanitize rule for {rule.table}.{rule.column}: truncate needs a number, "
                                  f"got {argument!r}") from exc
            return f"pg_catalog.left(({column})::text, {length})"
        if transform == "email":
            key = self._primary_key(table)
            if key:
                unique = " || '-' || ".join(f"({q(c)})::text" for c in key)
            else:
                unique = "(pg_catalog.row_number() OVER ())::text"
            return f"CASE WHEN {column} IS NULL THEN NULL ELSE 'user' || {unique} || '@example.invalid' END"
        raise ConfigError(f"unknown sanitize transform {rule.transform!r} for {rule.table}.{rule.column}")

    def _primary_key(self, table: Table) -> list[str]:
        assert self.conn is not None
        rows = fetch(self.conn, """
            SELECT a.attname FROM pg_catalog.pg_index i
            JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = %s AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)""", (table.oid,))
        return [row[0] for row in rows]

    def _copy_table(self, conn: psycopg.Connection[Any], w: _Writer, table: Table, plan: _DataPlan) -> tuple[int, str]:
        """Stream one table's rows into the script; return the row count and SHA-256 of the COPY text."""
        q = self.quote
        name = q.qualified(table.schema, table.name)
        hasher = hashlib.sha256()
        if plan.excluded:
            return 0, hasher.hexdigest()
        dumpprogress.table_started(table.display)
        w.sql(f"COPY {name} ({', '.join(q(c) for c in plan.columns)}) FROM stdin;\n")
        try:
            rows = copy_out(conn.pgconn, plan.query, [hasher.update, w.out.write])
        except DatabaseError as exc:
            # libpq's text alone ("server closed the connection") does not say which dump broke.
            raise DatabaseError(f"dump of PostgreSQL database {where(self.database)} failed while copying "
                                f"{table.display}: {exc}") from exc
        # The block has been written straight to the output; a pending heading was flushed by w.sql above.
        w.sql("\\.\n\n")
        return rows, hasher.hexdigest()


def copy_out(pgconn: pq.abc.PGconn, query: str, sinks: Iterable[Any]) -> int:
    """Run ``COPY ... TO STDOUT`` at the libpq level and feed the text to ``sinks`` in large blocks.

    psycopg's ``Copy`` object costs a Python generator round trip per row; libpq's blocking
    ``get_copy_data`` loop is several times faster, and the rows are joined into blocks of
    :data:`BLOCK_SIZE` before any sink sees them. Returns the number of rows (one newline each: COPY
    escapes the newlines inside values).
    """
    targets = list(sinks)
    result = pgconn.exec_(query.encode("utf-8"))
    if result.status != pq.ExecStatus.COPY_OUT:
        raise DatabaseError(f"COPY failed: {result_error(result, pgconn)}")
    rows = 0
    block = bytearray()
    while True:
        size, data = pgconn.get_copy_data(0)
        if size == -1:
            break
        if size < 0:
            raise DatabaseError(f"COPY failed: {result_error(None, pgconn)}")
        block += data
        if len(block) >= BLOCK_SIZE:
            counted = block.count(b"\n")
            rows += counted
            dumpprogress.rows_written(counted)
            for sink in targets:
                sink(block)
            block = bytearray()
    if block:
        counted = block.count(b"\n")
        rows += counted
        dumpprogress.rows_written(counted)
        for sink in targets:
            sink(block)
    failed = drain_results(pgconn)
    if failed is not None:
        raise DatabaseError(f"COPY failed: {result_error(failed, pgconn)}")
    return rows


_ACL_CODES = {
    "r": "SELECT", "w": "UPDATE", "a": "INSERT", "d": "DELETE", "D": "TRUNCATE", "x": "REFERENCES", "t": "TRIGGER",
    "X": "EXECUTE", "U": "USAGE", "C": "CREATE", "c": "CONNECT", "T": "TEMPORARY", "m": "MAINTAIN",
}


def _acl_privileges(codes: str) -> list[tuple[str, bool]]:
    """``arwd*`` -> [(SELECT, False), ...]; a ``*`` after a letter marks the grant option."""
    result: list[tuple[str, bool]] = []
    for index, code in enumerate(codes):
        if code == "*":
            continue
        grantable = index + 1 < len(codes) and codes[index + 1] == "*"
        if code in _ACL_CODES:
            result.append((_ACL_CODES[code], grantable))
    return result
