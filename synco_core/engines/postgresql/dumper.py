"""A pure-Python PostgreSQL dumper: a plain SQL script that ``psql`` and synco's loader both accept.

The whole dump reads one snapshot (``REPEATABLE READ, READ ONLY, DEFERRABLE``). The script is written in
an order where every statement only needs what came before it (docs/engines.md lists it): extensions,
schemas and sequences; every object that exists before the data, sorted by ``pg_depend`` (:mod:`.ordering`)
with ``check_function_bodies`` off, then column defaults and sequence ownership; the rows as ``COPY``
blocks (:mod:`.dataplan` for filters and sanitising), sequence positions and large objects; constraints
and indexes after the data (building an index once beats maintaining it row by row), foreign keys; views,
materialized views and rules, and what needs a view (a view whose row type the rows need is created
before them as a placeholder, :mod:`.earlyviews`); statistics objects, triggers (none fires while
loading), row security, publications, comments, owners and privileges when asked (and then the
materialized views' rows, as their owners), event triggers last.

Objects of a kind the dump cannot carry make it stop before it writes anything, unless it is asked to
leave them out (``DumpOptions.skip_unsupported``): see :mod:`.unsupported`.

The manifest of each table is the number of rows and the SHA-256 of the exact COPY text, which the
installer recomputes from the COPY text it loads and checks, with row counts from the loaded database,
before swapping it in.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from typing import Any, BinaryIO

import psycopg

from synco_core import dumpprogress
from synco_core.dumpheader import requires_line
from synco_core.engines.postgresql import (
    catalog,
    earlyviews,
    extensions,
    largeobjects,
    partitionroots,
    postdata,
    privileges,
    rawtext,
    regvalues,
    requirements,
    searchpaths,
    sourcedatabase,
    unlocked,
    unsupported,
    widerows,
)
from synco_core.engines.postgresql.catalog import (
    USER_SCHEMA,
    Quoter,
    Relation,
    Table,
    fetch,
    literal,
    not_extension_member,
)
from synco_core.engines.postgresql.connection import connect, one_line, where
from synco_core.engines.postgresql.dataplan import DataPlan, DataPlanner, copy_out, read_only_advice
from synco_core.engines.postgresql.objects import Key, Node, Registry, SchemaObject, unless_error
from synco_core.engines.postgresql.quotedvalues import error_without_value
from synco_core.engines.postgresql.schema import Schema, under_path
from synco_core.errors import ConfigError, DatabaseError
from synco_core.values import DatabaseConfig, DumpOptions, DumpResult, TableManifest

log = logging.getLogger(__name__)

HEADER = """--
-- synco PostgreSQL dump
-- {source}
{locale}{settings}{requires}--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = '{client_encoding}';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET lc_monetary = 'C';
SET default_tablespace = '';
SET default_table_access_method = heap;

"""

#: How many times the dump begins its snapshot again when another session changed a table before it was
#: locked (see :meth:`PostgresDumper._begin`), before it gives up.
SNAPSHOT_ATTEMPTS = 3

#: How long the dump waits for a lock another session holds (an ALTER TABLE, TRUNCATE, VACUUM FULL or
#: LOCK TABLE in a migration's open transaction), in s, before it gives up in one line naming the table
#: and the session; without a bound it would wait without a word for as long as that transaction lasts.
LOCK_WAIT_SECONDS = 60
#: SQLSTATE of a query a hot standby cancelled for a conflict with recovery (and of serialization failures).
SERIALIZATION_FAILURE = "40001"

#: The last line of every complete dump; the loader refuses a synco dump that does not end with it.
TRAILER = "-- synco PostgreSQL dump complete\n"

def _client_encoding(conn: psycopg.Connection[Any]) -> str:
    """UTF8, or SQL_ASCII for a SQL_ASCII source (set on ``conn``): its text is bytes the server never
    checked, which only its own encoding reads as they are (see :mod:`.rawtext`)."""
    if str(fetch(conn, "SELECT pg_catalog.getdatabaseencoding()")[0][0]) != "SQL_ASCII":
        return "UTF8"
    rawtext.read_raw(conn)
    return "SQL_ASCII"


class _Writer:
    """Encodes script text and writes it to the output stream."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.pending = ""

    def sql(self, text: str) -> None:
        if self.pending:
            self.out.write(rawtext.to_bytes(self.pending))
            self.pending = ""
        self.out.write(rawtext.to_bytes(text))

    def section(self, title: str) -> None:
        # The heading is written with the first statement of the section, so empty sections leave no trace.
        self.pending = f"\n--\n-- {title}\n--\n\n"


#: The savepoint the dump reads in, rolled back to let go of the locks a read took.
_READING = "synco_reading"
#: Sequences read per query: few round trips, and never more than this many locks at a time.
SEQUENCE_BATCH = 500


class PostgresDumper:
    """Writes one dump of ``database`` to a binary stream."""

    def __init__(self, database: DatabaseConfig, options: DumpOptions) -> None:
        self.database = database
        self.options = options
        self.quote = Quoter(())
        self.conn: psycopg.Connection[Any] | None = None
        #: The extensions the dump creates (their OIDs), for the meta's ``requires``.
        self.extension_oids: list[int] = []
        #: Every object the dump creates, by catalog key (what comments, labels and owners refer to), and
        #: the ones left out with --skip-unsupported.
        self.registry = Registry()
        #: Column privileges: (table, column, owner, ACL), granted with the owners and grants.
        self.column_acls: list[tuple[str, str, str, list[str]]] = []
        #: How many tables and views the dump has locked until it ends (for an error saying the server's lock
        #: table is full).
        self.locked = 0
        #: The dump's client encoding (:func:`_client_encoding`).
        self.client_encoding = "UTF8"
        #: The versions of the objects no lock of the dump keeps as its snapshot has them (:mod:`.unlocked`).
        self.unlocked: unlocked.Versions = {}
        #: Whether the source is a hot standby (in recovery), whose replay may cancel the dump's snapshot.
        self.standby = False

    # -- entry point ---------------------------------------------------------------------------------

    def dump(self, out: BinaryIO) -> DumpResult:
        conn = connect(self.database)
        self.conn = conn
        # Known from the start (PostgreSQL 14 and later report it): a conflict with recovery may come while the
        # snapshot and the locks are taken, before the dump asks the server (which an older one needs).
        self.standby = conn.info.parameter_status("in_hot_standby") == "on"
        try:
            conn.execute(f"SET lock_timeout = '{LOCK_WAIT_SECONDS}s'")
            # money is written as lc_monetary says ('1.234,56 €' under de_DE) and read back the same way: in
            # the locale every server has, which the dump's header sets for loading.
            conn.execute("SET lc_monetary = 'C'")
            self.client_encoding = _client_encoding(conn)
            return self._dump(conn, _Writer(out))
        except DatabaseError as exc:
            advice = self._standby_advice(conn, exc)
            if advice:
                raise DatabaseError(f"{exc}{advice}") from exc
            raise
        except psycopg.errors.LockNotAvailable as exc:
            raise DatabaseError(f"dump of PostgreSQL database {where(self.database)} failed: it waited "
                                f"{LOCK_WAIT_SECONDS} s for {self._lock_holders(conn)}; a migration, VACUUM FULL or "
                                "LOCK TABLE in an open transaction takes such a lock: run the dump again when "
                                "that transaction has ended") from exc
        except psycopg.errors.OutOfMemory as exc:
            raise DatabaseError(f"dump of PostgreSQL database {where(self.database)} failed: {one_line(exc)}"
                                f"{self._lock_table_full(conn, exc)}") from exc
        except psycopg.Error as exc:
            self._refuse_changes()
            raise DatabaseError(f"dump of PostgreSQL database {where(self.database)} failed: {one_line(exc)}"
                                f"{self._standby_advice(conn, exc)}") from exc
        except Exception:
            # pg_get_functiondef() and the like print NULL for an object dropped after the snapshot.
            self._refuse_changes()
            raise
        finally:
            conn.close()

    def _standby_advice(self, conn: psycopg.Connection[Any], exc: BaseException) -> str:
        """What to do, as a clause, when a hot standby's replay of the primary's changes cancelled the dump
        (a conflict with recovery: the query cancelled, or the connection ended); else nothing."""
        cause = exc.__cause__ if isinstance(exc, DatabaseError) else exc
        if not self.standby or not (conn.broken or getattr(cause, "sqlstate", None) == SERIALIZATION_FAILURE
                                    or "conflict with recovery" in str(exc)):
            return ""
        text = str(exc)
        if "relation lock" in text:
            # hot_standby_feedback keeps rows, not locks: it does nothing for these.
            return ("; the server is a hot standby, which replays every exclusive lock the primary takes (ALTER TABLE, "
                    "TRUNCATE, DROP, LOCK TABLE, a VACUUM cutting empty pages off a table's end) and cancels a read "
                    "holding that table once max_standby_streaming_delay has passed: run the dump again when no "
                    "migration runs, or set a longer max_standby_streaming_delay on the standby, or dump the primary")
        if "row versions" in text:
            return ("; the server is a hot standby, which cancels a read whose snapshot still needs rows that the "
                    "primary has removed since, once max_standby_streaming_delay has passed: run the dump again, or "
                    "set hot_standby_feedback = on or a longer max_standby_streaming_delay on the standby, or dump "
                    "the primary")
        return ("; the server is a hot standby, which cancels a read that holds up its replay of the primary's changes "
                "(rows the primary removed, an exclusive lock it took) once max_standby_streaming_delay has passed: "
                "run the dump again, or set a longer max_standby_streaming_delay (and hot_standby_feedback = on) on "
                "the standby, or dump the primary")

    def _refuse_changes(self) -> None:
        """Stop in one line when another session changed or dropped an object the dump could not lock
        (:mod:`.unlocked`) since its snapshot: what the dump printed of it may be of either moment."""
        moved = unlocked.changed(self.database, self.unlocked) if self.unlocked else []
        if moved:
            raise DatabaseError(f"dump of PostgreSQL database {where(self.database)} stopped: another session changed "
                                f"what the dump was reading after it began ({', '.join(moved)}; a migration or a "
                                "deploy?), and a dump holds one moment of the database or nothing; run it again")

    def _lock_table_full(self, conn: psycopg.Connection[Any], exc: psycopg.Error) -> str:
        """What to do about an "out of shared memory" that is the server's lock table being full (its hint
        names max_locks_per_transaction, which the first line leaves out), as a clause; else nothing."""
        if "max_locks_per_transaction" not in (exc.diag.message_hint or ""):
            return ""
        try:
            conn.execute("ROLLBACK")
            per, connections, prepared = (str(fetch(conn, f"SHOW {name}")[0][0]) for name in (
                "max_locks_per_transaction", "max_connections", "max_prepared_transactions"))
        except psycopg.Error:
            per, connections, prepared = "?", "?", "?"
        return (f" (the server's lock table is full: the dump holds a lock on each of its {self.locked} tables "
                f"and views until it ends, as pg_dump does, and the table has room for about "
                f"max_locks_per_transaction ({per}) x (max_connections ({connections}) + max_prepared_transactions "
                f"({prepared})) locks, shared by every session; raise max_locks_per_transaction on the server, "
                "which takes a restart)")

    def _dump(self, conn: psycopg.Connection[Any], w: _Writer) -> DumpResult:
        # With row security off, a table whose policies would hide rows from this user makes the dump
        # fail loudly instead of silently leaving rows out.
        conn.execute("SET row_security = off")
        attempt = 1
        began = self._begin(conn)
        while isinstance(began, str):
            conn.execute("ROLLBACK")
            if attempt == SNAPSHOT_ATTEMPTS:
                raise DatabaseError(f"dump of PostgreSQL database {where(self.database)} failed: {began} while the "
                                    f"dump started, {SNAPSHOT_ATTEMPTS} times in a row; run it again when the "
                                    "tables are left alone for a moment")
            log.debug("%s as the dump started: starting again", began)
            attempt += 1
            began = self._begin(conn)
        session_path, version, all_tables = began
        self.unlocked = unlocked.note(conn)
        self.standby = bool(fetch(conn, "SELECT pg_catalog.pg_is_in_recovery()")[0][0])
        q = self.quote
        sequences = [s for s in catalog.read_sequences(conn) if self._kept(("pg_class", s.oid))]
        relations = [r for r in catalog.read_relations(conn) if self._kept(("pg_class", r.oid))]
        table_paths = searchpaths.table_query_paths(conn, session_path)
        plans = DataPlanner(conn, q, self.options, table_paths,
                            opener=functools.partial(connect, self.database)).plan(all_tables)
        # Read through a query, such a table needs its indexes' path, under which COPY writes the names in
        # its regclass (regtype ...) columns unqualified: the load, under the empty path, would not find them.
        for column in regvalues.columns(conn, [t for t in all_tables if t.oid in table_paths]):
            plan = plans.get(column.table.oid)
            if plan is not None and plan.query.startswith("COPY ("):
                raise ConfigError(f"table {column.table.display} cannot be filtered or sanitised: the functions of "
                                  f"its indexes need search_path {', '.join(table_paths[column.table.oid])}, under "
                                  f"which its {column.type} column {column.name} would be dumped with names the "
                                  "load cannot find; dump it whole or leave its rows out (--exclude-table)")

        database_name = " ".join(self.database.name.split())  # a name with a newline must not end the comment
        w.sql(HEADER.format(source=f"PostgreSQL {version}, database {database_name}",
                            client_encoding=self.client_encoding,
                            locale=sourcedatabase.read_source(conn).header(),
                            settings=sourcedatabase.settings_header(sourcedatabase.read_settings(conn)),
                            # For a dump file loaded without a meta (db load): the extensions as the catalogue
                            # lists them now, the ones this dump creates being known only once it has made them.
                            requires=requires_line(requirements.recorded(conn, requirements.created_extensions(conn)),
                                                   version).decode()))
        self._extensions_and_schemas(w, conn)
        self._sequences(w, sequences)
        try:
            schema = Schema(conn, q, self.options, self.registry, all_tables, relations, sequences, session_path)
        except earlyviews.Unsatisfiable as exc:
            raise DatabaseError(f"PostgreSQL database {where(self.database)} has objects a dump cannot carry: "
                                f"{exc}") from exc
        early_views = schema.early.placeholders | schema.early.matviews
        unloadable = regvalues.refusals(conn, q, all_tables, plans, schema.late, early_views, table_paths)
        config = extensions.read_config_relations(conn)
        naming_late, unloadable_config = regvalues.late_config_tables(conn, q, config, schema.late, early_views)
        unloadable += unloadable_config
        late_config = extensions.after_the_schema(conn, config, naming_late)
        if unloadable:
            raise DatabaseError(f"PostgreSQL database {where(self.database)} has values a dump could not load back: "
                                f"{unsupported.names(unloadable, 10)}; pass --exclude-table (structure without rows) "
                                "or a --where filter to dump the table without them")
        for warning in schema.warnings:
            log.warning("the dump of PostgreSQL database %s leaves out %s", where(self.database), warning)
        owned: list[Table | Relation] = [*all_tables, *relations]
        self.column_acls = [(q.qualified(t.schema, t.name), c.name, t.owner, c.acl)
                            for t in owned for c in t.columns if c.acl]
        schema.write_before_data(w)
        self._defaults_and_ownership(w, conn, all_tables, sequences, schema.operator_paths)

        manifest: dict[str, TableManifest] = {}
        applied: list[str] = []
        roots = partitionroots.load_roots(all_tables, partitionroots.hashed_by_oid(conn))
        #: Per partition tree loaded through its root: the rows so far and the checksum of its blocks.
        trees: dict[int, tuple[int, hashlib._Hash]] = {root.oid: (0, hashlib.sha256()) for root in roots.values()}
        w.section("Data")
        # Reading a table locks what the server opens to read it (the indexes a query is planned over, its
        # TOAST table): let go after each table, so that the dump holds one lock per table it locked.
        conn.execute(f"SAVEPOINT {_READING}")
        # The rows of tables computed from other tables' rows (:func:`schema.computed_from_bodies`) last.
        for table in sorted(all_tables, key=lambda t: t.oid in schema.computed_late):
            plan = plans.get(table.oid)
            if plan is None:
                continue
            applied.extend(plan.rules)
            root = roots.get(table.oid)
            target = root or table
            path = schema.copy_path(table) or schema.copy_path(target)
            if path is not None and not plan.excluded:
                w.sql(f"SET search_path = {path};\n")
            tree = trees.get(target.oid)
            rows, checksum = self._copy_table(conn, w, q.qualified(target.schema, target.name), table.display, plan,
                                              table.oid, tree[1] if tree else None, table_paths.get(table.oid))
            if path is not None and not plan.excluded:
                w.sql("SELECT pg_catalog.set_config('search_path', '', false);\n")
            conn.execute(f"ROLLBACK TO SAVEPOINT {_READING}")
            if tree is None:
                manifest[table.display] = TableManifest(rows=rows, checksum=checksum)
            else:
                trees[target.oid] = (tree[0] + rows, tree[1])
        for root in {root.oid: root for root in roots.values()}.values():
            rows, hasher = trees[root.oid]
            manifest[root.display] = TableManifest(rows=rows, checksum=hasher.hexdigest())
        conn.execute(f"RELEASE SAVEPOINT {_READING}")
        w.section("Extension configuration")
        self._extension_data(w, conn, manifest, [r for r in config if r.oid not in late_config])
        w.section("Sequence positions")
        self._setvals(w, conn, [q.qualified(seq.schema, seq.name) for seq in sequences])
        self._large_objects(w, conn)

        schema.write_after_data(w)
        self._comments_and_labels(w, conn, exclude=frozenset({"pg_event_trigger"}))
        if self.options.owners:
            self._owners(w, conn)
            schema.write_matview_rows(w)
        later = [r for r in config if r.oid in late_config]
        if later:
            w.section("Extension configuration naming objects made after the rows, or checked on every DDL")
            self._extension_data(w, conn, manifest, later)
        self._event_triggers(w, conn)
        self._refuse_changes()
        w.sql("\n" + TRAILER)
        conn.execute("COMMIT")
        return DumpResult(engine="postgresql", wire_type="PostgresDump", format="sql", server_version=version,
                          tables=manifest, applied_rules=applied,
                          requirements=requirements.recorded(conn, self.extension_oids))

    # -- what the dump leaves out --------------------------------------------------------------------

    def _begin(self, conn: psycopg.Connection[Any]) -> tuple[list[str], str, list[Table]] | str:
        """Start the dump's transaction and share-lock its tables; return the search path a new session
        gets, the server's version and the tables; or, when another session changed a table between the
        snapshot and the lock, what it did (the transaction is then to be rolled back and begun again).

        The snapshot is taken by the first query, which must read the catalogue to know what to lock;
        until the lock is granted, another session may still commit a ``TRUNCATE`` or an ``ALTER TABLE``
        that rewrites a table (a type change, a volatile default). Neither is MVCC-safe: the snapshot then
        sees the new, empty file and the table would be dumped without its rows, silently. Such a table
        has another file than the snapshot's catalogue says once the lock is granted; a dropped or renamed
        one cannot be locked under its old name.
        """
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY, DEFERRABLE")
        # The path the database gives a new session: what functions whose bodies find names through it
        # were most likely written for (:mod:`.searchpaths`).
        session_path = [str(name) for name in fetch(conn, "SELECT pg_catalog.current_schemas(false)")[0][0]]
        # An empty search path makes the server print every name schema-qualified (inside the transaction:
        # a transaction begun again sets it again).
        conn.execute("SELECT pg_catalog.set_config('search_path', '', false)")
        version = str(fetch(conn, "SHOW server_version")[0][0]).split(" ")[0]
        self.quote = Quoter(row[0] for row in fetch(conn, "SELECT word FROM pg_catalog.pg_get_keywords() "
                                                             "WHERE catcode <> 'U'"))
        q = self.quote
        self._check_unsupported(conn)

        all_tables = [t for t in catalog.read_tables(conn) if self._kept(("pg_class", t.oid))]
        locked = [t for t in all_tables if t.kind != "f"]
        # Reading a view's definition locked it too.
        self.locked = len(locked) + int(fetch(conn, f"""
            SELECT count(*) FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_class c ON c.oid = l.relation
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE l.pid = pg_catalog.pg_backend_pid() AND c.relkind IN ('v', 'm')
              AND {USER_SCHEMA.format('n')}""")[0][0])
        if not locked:
            return session_path, version, all_tables
        try:
            # Share locks keep the tables from being dropped or altered while the dump reads them.
            conn.execute(f"LOCK TABLE {', '.join(q.qualified(t.schema, t.name) for t in locked)} "
                         "IN ACCESS SHARE MODE")
        except psycopg.errors.UndefinedTable as exc:
            return f"a table was dropped or renamed by another session ({one_line(exc)})"
        # pg_class read through the snapshot against the server's current entry (pg_relation_filenode reads
        # the catalogue cache, brought up to date when the lock was granted).
        rewritten = fetch(conn, """
            SELECT n.nspname, c.relname FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = ANY(%s) AND c.relfilenode <> 0
              AND pg_catalog.pg_relation_filenode(c.oid) IS DISTINCT FROM c.relfilenode
            ORDER BY 1, 2""", ([t.oid for t in locked],))
        if rewritten:
            named = ", ".join(q.qualified(str(schema), str(name)) for schema, name in rewritten[:5])
            return (f"table {named} was emptied or rewritten by another session (TRUNCATE, or an ALTER TABLE that "
                    "rewrites it)")
        return session_path, version, all_tables

    def _lock_holders(self, conn: psycopg.Connection[Any]) -> str:
        """Which sessions hold which tables, views or sequences of the database exclusively, as a clause:
        ``public.t, which another session holds (pid 4242, idle in transaction)``. Their queries are not
        shown: the text may hold anything, secrets included."""
        try:
            conn.execute("ROLLBACK")
            rows = fetch(conn, """
                SELECT DISTINCT n.nspname, c.relname, l.pid, coalesce(a.state, ''), a.backend_type = 'startup'
                FROM pg_catalog.pg_locks l
                JOIN pg_catalog.pg_class c ON c.oid = l.relation
                JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
                WHERE l.granted AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_catalog.pg_backend_pid()
                  AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
                  AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
                ORDER BY 1, 2, 3 LIMIT 5""")
        except psycopg.Error:
            rows = []
        if not rows:
            return "an object another session holds"
        return "; ".join(
            # On a hot standby, the recovery process holds the exclusive locks of the primary's open transactions.
            f"{self.quote.qualified(str(schema), str(name))}, which a transaction on the primary holds (this hot "
            f"standby's recovery process, pid {pid}, holds it for that transaction until it ends there)"
            if recovery else f"{self.quote.qualified(str(schema), str(name))}, which another session holds "
                             f"(pid {pid}{', ' + str(state) if state else ''})"
            for schema, name, pid, state, recovery in rows)

    def _check_unsupported(self, conn: psycopg.Connection[Any]) -> None:
        found = unsupported.find(conn)
        if not found.found:
            return
        if not self.options.skip_unsupported:
            raise DatabaseError(f"PostgreSQL database {where(self.database)} has objects a dump cannot carry: "
                                f"{found.summary()}; pass --skip-unsupported to dump without them "
                                "(and without what depends on them)")
        log.warning("the dump of PostgreSQL database %s leaves out %s (--skip-unsupported)",
                    where(self.database), found.summary())
        if found.dependents:
            log.warning("the dump of PostgreSQL database %s also leaves out what depends on them: %s",
                        where(self.database), unsupported.names(found.dependents, 20))
        self.registry.skipped = found.skipped

    def _kept(self, key: Key) -> bool:
        return self.registry.kept(key)

    # -- schema objects ------------------------------------------------------------------------------

    def _extensions_and_schemas(self, w: _Writer, conn: psycopg.Connection[Any]) -> None:
        q = self.quote
        schemas = fetch(conn, f"""
            SELECT n.oid, n.nspname, pg_catalog.pg_get_userbyid(n.nspowner), n.nspacl::text[]
            FROM pg_catalog.pg_namespace n
            WHERE {catalog.USER_SCHEMA.format('n')} AND {not_extension_member('pg_namespace', 'n.oid')}
            ORDER BY n.nspname""")
        created = {"public"}
        # The database's own schemas come first, as in pg_dump: an extension's script may create a schema
        # only when it is missing and then give it to the database (postgis_tiger_geocoder's tiger_data),
        # so a CREATE SCHEMA after the extension would fail on it.
        w.section("Schemas")
        for oid, name, owner, acl in schemas:
            self.registry.register([SchemaObject(("pg_namespace", oid), "schema", "SCHEMA", q(name), "", owner, acl,
                                        f"SCHEMA {q(name)}")])
            if name not in created:
                w.sql(f"CREATE SCHEMA {q(name)};\n")
                created.add(name)
        w.section("Extensions")
        for extension, schema in extensions.read_extensions(conn, q):
            if not self.registry.register([extension]):
                continue
            self.extension_oids.append(int(extension.key[1]))
            if schema not in created and schema != "pg_catalog":
                w.sql(f"CREATE SCHEMA {q(schema)};\n")
                created.add(schema)
            w.sql(extension.create)

    def _sequences(self, w: _Writer, sequences: list[catalog.Sequence]) -> None:
        q = self.quote
        w.section("Sequences")
        for seq in sequences:
            name = q.qualified(seq.schema, seq.name)
            # The owner of a serial or identity column's sequence follows its table's: ALTER SEQUENCE ... OWNER
            # TO is refused while it is linked to the table, and ALTER TABLE ... OWNER TO moves it along.
            owner = None if seq.owned_by is not None else seq.owner
            self.registry.register([SchemaObject(("pg_class", seq.oid), "sequence", "SEQUENCE", name, "", owner,
                                                 seq.acl, f"SEQUENCE {name}")])
            if not seq.identity:
                unlogged = "UNLOGGED " if seq.persistence == "u" else ""
                w.sql(f"CREATE {unlogged}SEQUENCE {name} AS {seq.type} {seq.options()};\n")

    def _defaults_and_ownership(self, w: _Writer, conn: psycopg.Connection[Any], all_tables: list[Table],
                                sequences: list[catalog.Sequence], paths: dict[Node, str]) -> None:
        q = self.quote
        by_oid = {t.oid: t for t in all_tables}
        w.section("Column defaults and sequence ownership")
        for table in all_tables:
            # Every table gets its own defaults, partitions included: a partition copies its parent's
            # defaults only when it is created, and here the partitions exist before any default is set.
            for column in table.columns:
                if column.default is not None and not column.generated and (
                        column.default_oid is None or self._kept(("pg_attrdef", column.default_oid))):
                    keyword = "FOREIGN TABLE" if table.kind == "f" else "TABLE"
                    w.sql(under_path(f"ALTER {keyword} ONLY {q.qualified(table.schema, table.name)} ALTER COLUMN "
                                     f"{q(column.name)} SET DEFAULT {column.default};\n",
                                     paths.get(("default", column.default_oid or 0))))
        for seq in sequences:
            if seq.owned_by and not seq.identity and seq.owned_by[0] in by_oid:
                owner_table = by_oid[seq.owned_by[0]]
                column_name = str(fetch(conn, "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = %s "
                                              "AND attnum = %s", seq.owned_by)[0][0])
                w.sql(f"ALTER SEQUENCE {q.qualified(seq.schema, seq.name)} OWNED BY "
                      f"{q.qualified(owner_table.schema, owner_table.name)}.{q(column_name)};\n")

    # -- data ----------------------------------------------------------------------------------------

    def _copy_table(self, conn: psycopg.Connection[Any], w: _Writer, name: str, display: str,
                    plan: DataPlan, oid: int | None = None, hasher: hashlib._Hash | None = None,
                    path: list[str] | None = None) -> tuple[int, str]:
        """Stream one table's rows into the script as a COPY into ``name`` (the table's, or its partition
        root's); return the row count and SHA-256 of the COPY text (of every block ``hasher`` took so far).

        The queries on a table whose indexes need ``path`` (:func:`.searchpaths.table_query_paths`) run
        under it; a plain ``COPY table``, which plans nothing, under the empty path, where ``regclass``
        values and their kin are written qualified."""
        q = self.quote
        hasher = hasher or hashlib.sha256()
        if plan.excluded:
            return 0, hasher.hexdigest()
        dumpprogress.table_started(display)
        sinks: list[Callable[[bytes], Any]] = [hasher.update, w.out.write]
        try:
            # Rows too wide for one COPY message are left out of the COPY and written after it, in pieces.
            wide: list[widerows.WideRow] = []
            columns: list[widerows.Column] = []
            searchpaths.read_under(conn, path)  # undone with the savepoint after the table, as its locks are
            if oid is not None and widerows.may_have_wide_rows(conn, oid, plan):
                columns = widerows.read_columns(conn, oid, plan.columns)
                wide = widerows.find_wide_rows(conn, q, plan, columns)
            if path and not wide and not plan.query.startswith("COPY ("):
                conn.execute("SELECT pg_catalog.set_config('search_path', '', true)")
            w.sql(f"COPY {name}{plan.column_list(q)} FROM stdin;\n")
            rows = copy_out(conn.pgconn, widerows.narrow_query(plan, q, wide) if wide else plan.query, sinks)
            for row in wide:
                widerows.write_wide_row(conn, q, name, plan, columns, row, sinks)
            rows += len(wide)
        except (DatabaseError, psycopg.Error) as exc:
            # libpq's text alone ("server closed the connection") does not say which dump broke.
            text = str(exc) if isinstance(exc, DatabaseError) else error_without_value(exc, one_line(exc))
            # The rules and filter shaping the rows may be what the server refused (the COPY is their first read).
            shaped = f" (read with {'; '.join(plan.rules)})" if plan.rules else ""
            failure = DatabaseError(f"dump of PostgreSQL database {where(self.database)} failed while copying "
                                    f"{display}{shaped}: {text}{read_only_advice(text)}")
            # The driver's exception, which --debug shows chained, quotes a value a data exception fails on.
            if isinstance(exc, psycopg.DataError):
                raise failure from None
            raise failure from exc
        # The block has been written straight to the output; a pending heading was flushed by w.sql above.
        w.sql("\\.\n\n")
        return rows, hasher.hexdigest()

    def _setvals(self, w: _Writer, conn: psycopg.Connection[Any], names: list[str]) -> None:
        """The sequences' positions, read a batch per query. Reading one locks it until the transaction
        ends (a sequence's position is not in the snapshot: the lock protects nothing here): each batch is
        read in a savepoint rolled back after it, so its locks go."""
        for start in range(0, len(names), SEQUENCE_BATCH):
            batch = names[start:start + SEQUENCE_BATCH]
            conn.execute(f"SAVEPOINT {_READING}")
            rows = fetch(conn, " UNION ALL ".join(f"SELECT {i}, last_value, is_called FROM {name}"
                                                  for i, name in enumerate(batch)))
            conn.execute(f"ROLLBACK TO SAVEPOINT {_READING}; RELEASE SAVEPOINT {_READING}")
            for i, last_value, is_called in sorted(rows):
                w.sql(f"SELECT pg_catalog.setval({literal(batch[i])}, {last_value}, "
                      f"{'true' if is_called else 'false'});\n")

    def _extension_data(self, w: _Writer, conn: psycopg.Connection[Any], manifest: dict[str, TableManifest],
                        relations: list[extensions.ConfigRelation]) -> None:
        """The rows of extensions' configuration tables (those their condition selects) and positions of
        their configuration sequences."""
        q = self.quote
        for relation in relations:
            name = q.qualified(relation.schema, relation.name)
            if relation.kind == "S":
                self._setvals(w, conn, [name])
                continue
            columns = ", ".join(q(c) for c in relation.columns)
            query = f"COPY (SELECT {columns} FROM ONLY {name} {relation.condition}\n) TO STDOUT"
            plan = DataPlan(relation.columns, query, [], False)
            rows, checksum = self._copy_table(conn, w, name, relation.display, plan)
            manifest[relation.display] = TableManifest(rows=rows, checksum=checksum)

    def _large_objects(self, w: _Writer, conn: psycopg.Connection[Any]) -> None:
        w.section("Large objects")
        for obj in self.registry.register(largeobjects.read_large_objects(conn)):
            w.sql(obj.create)
            largeobjects.write_data(conn, obj.key[1], w.sql)

    # -- comments, owners, event triggers ------------------------------------------------------------

    def _comments_and_labels(self, w: _Writer, conn: psycopg.Connection[Any], *,
                             exclude: frozenset[str] = frozenset(), only: frozenset[str] | None = None) -> None:
        q = self.quote
        if only is None:
            w.section("Comments")
        public = [key for key, obj in self.registry.objects.items() if obj.label == "SCHEMA public"]
        described: set[Key] = set()
        for catalog_name, objoid, subid, text, column, provider in fetch(conn, """
                SELECT d.classoid::pg_catalog.regclass::text, d.objoid, d.objsubid, d.description,
                       CASE WHEN d.objsubid > 0 THEN
                         (SELECT attname FROM pg_catalog.pg_attribute a
                          WHERE a.attrelid = d.objoid AND a.attnum = d.objsubid) END, NULL
                FROM pg_catalog.pg_description d
                UNION ALL
                SELECT s.classoid::pg_catalog.regclass::text, s.objoid, s.objsubid, s.label,
                       CASE WHEN s.objsubid > 0 THEN
                         (SELECT attname FROM pg_catalog.pg_attribute a
                          WHERE a.attrelid = s.objoid AND a.attnum = s.objsubid) END, s.provider
                FROM pg_catalog.pg_seclabel s
                ORDER BY 6 NULLS FIRST, 1, 2, 3"""):
            key = (str(catalog_name).removeprefix("pg_catalog."), int(objoid))
            target = self.registry.objects.get(key)
            if target is None or key[0] in exclude or (only is not None and key[0] not in only):
                continue
            if subid and column is None:
                continue
            name = f"COLUMN {target.name}.{q(column)}" if subid else target.label
            if provider is None:
                if not subid:
                    described.add(key)
                w.sql(f"COMMENT ON {name} IS {literal(text)};\n")
            else:
                # The label provider (sepgsql) is rarely loaded where a copy is made: the label is set where
                # it is, and skipped with a warning elsewhere.
                statement = f"SECURITY LABEL FOR {q(provider)} ON {name} IS {literal(text)};\n"
                w.sql(unless_error(statement, "invalid_parameter_value", f"security label of {name}"))
        for key in public:
            # The public schema comes with every new database, with the template's comment: a source
            # without one must not keep it.
            if key not in described and (only is None or "pg_namespace" in only):
                w.sql("COMMENT ON SCHEMA public IS NULL;\n")

    def _owners(self, w: _Writer, conn: psycopg.Connection[Any]) -> None:
        q = self.quote
        w.section("Owners and privileges")
        for obj in self.registry.objects.values():
            if obj.key[0] == "pg_event_trigger":
                continue  # written with the event triggers, at the very end
            if obj.owner is not None:
                w.sql(f"ALTER {obj.label} OWNER TO {q(obj.owner)};\n")
            if obj.acl is not None and obj.grant is not None:
                owner = obj.owner or self._owner_of(obj)
                w.sql(privileges.privilege_statements(q, obj.grant, owner, obj.acl))
        # Column privileges after the tables': revoking a table's privileges also revokes its columns'.
        for table_name, column_name, owner, acl in self.column_acls:
            w.sql(privileges.grant_statements(q, f"TABLE {table_name}", owner, acl, f" ({q(column_name)})"))
        for target, owner, acl in extensions.changed_member_privileges(conn):
            w.sql(privileges.privilege_statements(q, target, owner, acl))
        w.sql(privileges.default_privileges(conn, q))

    def _owner_of(self, obj: SchemaObject) -> str:
        """The owner of an object whose owner follows another's (a sequence owned by a column)."""
        assert self.conn is not None
        row = fetch(self.conn, "SELECT pg_catalog.pg_get_userbyid(relowner) FROM pg_catalog.pg_class WHERE oid = %s",
                    (obj.key[1],))
        return str(row[0][0])

    def _event_triggers(self, w: _Writer, conn: psycopg.Connection[Any]) -> None:
        q = self.quote
        w.section("Event triggers")
        triggers = self.registry.register(postdata.read_event_triggers(conn, q))
        for trigger in triggers:
            w.sql(trigger.create)
            if self.options.owners and trigger.owner is not None:
                w.sql(f"ALTER {trigger.label} OWNER TO {q(trigger.owner)};\n")
        if triggers:
            self._comments_and_labels(w, conn, only=frozenset({"pg_event_trigger"}))
