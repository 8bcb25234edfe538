"""The dumper: one consistent snapshot written as a plain SQL script the ``mariadb`` client loads as is.

Layout, as mariadb-dump's: header settings; sequences (``CREATE SEQUENCE`` and ``SETVAL`` to their exact
state); per table ``DROP TABLE IF EXISTS`` + ``SHOW CREATE TABLE`` and multi-row INSERTs (with the history
rows of system-versioned tables); routines, then views (placeholder views first, so views on views load in
any order), triggers after the data (so they do not fire while loading), events; each view, trigger,
routine and event under the character set, collation, sql_mode (and time zone) it was created with, as
mariadb-dump writes them. Footer settings; then synco's manifest as comments and a completion marker, so a
truncated file is recognised by the installer.

How each table's rows are read (pages the server formats, or streamed) is :mod:`.tablerows`; what cannot be
carried (and is refused or, on request, left out) is :mod:`.unsupported`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import zlib
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

import pymysql

from synco_core import dumpprogress
from synco_core.dumpheader import requires_line
from synco_core.engines.mysql import (
    altered,
    copychecks,
    engineoptions,
    fkorder,
    literals,
    loadable,
    newest,
    qualify,
    requirements,
    rowformat,
    rowstream,
    schema,
    snapshot,
    storedgenerated,
    tablerows,
    unsupported,
    visibility,
)
from synco_core.engines.mysql.connect import connect, describe, quote_name, quote_string, where
from synco_core.engines.mysql.dumpwriter import TableWriter, Writer
from synco_core.engines.mysql.literals import INTEGER_TYPES, Column
from synco_core.engines.mysql.sanitize import hash_key_statement, transform_sql
from synco_core.engines.mysql.splitter import SIZE_HINT as SPLITTER_SIZE_HINT
from synco_core.errors import ConfigError, DatabaseError
from synco_core.hashkey import new_hash_key
from synco_core.sanitizenulls import generated_column
from synco_core.tablenames import with_columns_resolved, with_tables_resolved
from synco_core.values import DatabaseConfig, DumpOptions, DumpResult, SanitizeRule, TableManifest

log = logging.getLogger(__name__)

#: Target size of one INSERT statement. Small enough for any server's max_allowed_packet (the smallest
#: default is 1 MiB on old servers; we stay below it) and big enough that per-statement overhead is noise.
STATEMENT_BYTES = 1000 * 1000
#: The smallest statement, whatever the server's packet limit.
MIN_STATEMENT_BYTES = 16 * 1024
#: Tables whose rows average at least this many bytes and that hold a binary column are streamed row by
#: row with their binary values fetched raw (escaped in Python), instead of paged through the server's
#: formatting: per row, the streaming overhead is then small next to the server's escaping that it saves.
WIDE_ROW_BYTES = 1024
#: Tables the server estimates to hold fewer rows are read through the dump's one connection (see
#: :mod:`.snapshot`): for them a second connection costs more than it gives.
SHARED_ROWS = 20_000
MANIFEST_PREFIX = b"-- synco-manifest: "
COMPLETE_MARKER = b"-- synco-dump-complete"
HEADER_MARKER = b"-- synco MySQL/MariaDB dump"
#: The header line naming the source database: the loader points names qualified with it at its target.
DATABASE_PREFIX = b"-- Database: "
#: The source database's default character set and collation (and its COMMENT, when it has one), for a
#: database the load creates.
DEFAULTS_PREFIX = b"-- synco-database-defaults: "
#: Tables that show the rows of other tables (MERGE): their structure is dumped, and no rows of their own.
MERGE_ENGINES = frozenset({"MRG_MYISAM", "MRG_ISAM"})
#: Engines whose rows the dump's snapshot holds (``START TRANSACTION WITH CONSISTENT SNAPSHOT``). Any other
#: engine's rows (MyISAM, Aria, MEMORY, CSV ...) are read as they are when a statement runs.
SNAPSHOT_ENGINES = frozenset({"INNODB", "ROCKSDB"})
#: How long the dump waits for a table another session holds (LOCK TABLES ... WRITE, an ALTER TABLE between
#: its phases), in s, before it gives up naming the table; the server's own lock_wait_timeout is a day.
LOCK_WAIT_SECONDS = 60
#: "Lock wait timeout exceeded": a metadata lock not granted within lock_wait_timeout.
ER_LOCK_WAIT_TIMEOUT = 1205
#: The server's errors for a table another session changed after the dump's snapshot began, and what it did:
#: "Table definition has changed" (rebuilt or truncated), "Table ... doesn't exist" (dropped or renamed).
CHANGED_UNDER_THE_DUMP = {1412: "rebuilt or truncated", 1146: "dropped or renamed"}
#: Before each INSERT: its length in bytes (see :data:`synco_core.engines.mysql.splitter.SIZE_HINT`).
SIZE_HINT = SPLITTER_SIZE_HINT

# ALLOW_INVALID_DATES: days a month lacks (2020-02-30), which production stored under that mode, in rows and
# column defaults: without it a default failed the CREATE TABLE and the rows' dates were zeroed.
# NO_UNSIGNED_SUBTRACTION: a generated column subtracting unsigned values (`a - b`) can only have been made under
# it, and the server refuses its CREATE TABLE without it ("cannot be used in the GENERATED ALWAYS AS clause")
# and computes it so while the rows load (out of range without it); the dump's INSERTs subtract nothing.
# NO_DIR_IN_CREATE: a table's DATA/INDEX DIRECTORY names a path of the source machine; the copy is stored
# in the loading server's own data directory instead (the server ignores the clause, with a warning).
# EXPLICIT_DEFAULTS_FOR_TIMESTAMP: SHOW CREATE TABLE writes a TIMESTAMP column as it is, so it must be read
# literally; where it is off (the default before MariaDB 10.10) `timestamp NOT NULL` would gain DEFAULT
# current_timestamp() ON UPDATE current_timestamp() (the first one) or DEFAULT '0000-00-00 00:00:00', and
# later UPDATEs would rewrite it. MariaDB only (``M!``): MySQL 8 before 8.0.18 restricts setting it.
# CHECK_CONSTRAINT_CHECKS (MariaDB 10.2.1): rows a CHECK constraint refuses, stored while it was off or before
# the constraint was added with it off, are production's rows as those past a foreign key are; the load
# stopped on their INSERT.
# DIV_PRECISION_INCREMENT (written in by :func:`header`, the source's): the load computes every STORED
# generated column again, and the digits of a division (``a / b`` into a DECIMAL(30,20)) are this setting's;
# a laptop server configured with 8 stored 0.833333333333333333 where production holds 0.833333333, and no
# verification sees a column the dump does not carry.
HEADER = b"""/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE */;
/*!40101 SET SQL_MODE='NO_AUTO_VALUE_ON_ZERO,NO_DIR_IN_CREATE,ALLOW_INVALID_DATES,NO_UNSIGNED_SUBTRACTION' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;
/*M!100201 SET @OLD_CHECK_CONSTRAINT_CHECKS=@@CHECK_CONSTRAINT_CHECKS, CHECK_CONSTRAINT_CHECKS=0 */;
/*M!100108 SET @OLD_EXPLICIT_DEFAULTS=@@EXPLICIT_DEFAULTS_FOR_TIMESTAMP, EXPLICIT_DEFAULTS_FOR_TIMESTAMP=1 */;
/*!50006 SET @OLD_DIV_PRECISION_INCREMENT=@@DIV_PRECISION_INCREMENT, DIV_PRECISION_INCREMENT=%d */;
/*!40101 SET @OLD_AUTOCOMMIT=@@AUTOCOMMIT */;

"""

FOOTER = b"""/*!40101 SET AUTOCOMMIT=@OLD_AUTOCOMMIT */;
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;
/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;
/*M!100201 SET CHECK_CONSTRAINT_CHECKS=@OLD_CHECK_CONSTRAINT_CHECKS */;
/*M!100108 SET EXPLICIT_DEFAULTS_FOR_TIMESTAMP=@OLD_EXPLICIT_DEFAULTS */;
/*!50006 SET DIV_PRECISION_INCREMENT=@OLD_DIV_PRECISION_INCREMENT */;

"""

def header(div_precision_increment: int) -> bytes:
    """The session settings at the head of a dump, with the source's ``div_precision_increment``."""
    return HEADER % div_precision_increment


#: Loading history rows needs this session setting (MariaDB 10.11+). Written plainly rather than as a
#: versioned comment: an older server must fail on it rather than load history rows as current ones.
_HISTORY_ON = (b"SET @saved_insert_history = @@session.system_versioning_insert_history, "
               b"@@session.system_versioning_insert_history = 1;\n")
_HISTORY_OFF = b"SET @@session.system_versioning_insert_history = @saved_insert_history;\n"


def _validate(options: DumpOptions, tables: dict[str, str], conn: Any, db: str) -> None:
    """Every table and column named by an option must exist: a typo must not publish raw data."""
    named = [("--exclude-table", t) for t in options.exclude_tables]
    named += [("--where", t) for t in options.where]
    named += [("keep_newest", t) for t in options.keep_newest]
    named += [("--sanitize", rule.table) for rule in options.sanitize]
    for option, table in named:
        if table not in tables:
            raise ConfigError(f"{option} names table {table!r}, which does not exist in database {db!r}")
        if tables[table] == "VIEW" and option != "--exclude-table":
            raise ConfigError(f"{option} names {table!r}, which is a view (views hold no rows)")
        if tables[table] == "SEQUENCE" and option != "--exclude-table":
            raise ConfigError(f"{option} names {table!r}, which is a sequence (it holds no rows to filter)")
    for table, (column, count) in options.keep_newest.items():
        if column not in {c.name for c in schema.columns(conn, db, table)}:
            raise ConfigError(f"keep_newest names column {table}.{column}, which does not exist")
        if count < 0:
            raise ConfigError(f"keep_newest for {table} must keep a positive number of rows, got {count}")
    for rule in options.sanitize:
        if rule.column not in {c.name for c in schema.columns(conn, db, rule.table)}:
            raise ConfigError(f"--sanitize names column {rule.table}.{rule.column}, which does not exist")


def _table_rules(options: DumpOptions, table: str) -> list[str]:
    """The filters and column rewrites ``options`` apply to ``table``, in words."""
    rules = [f"only rows WHERE {options.where[table]}"] if table in options.where else []
    rules += [rule.describe() for rule in options.sanitize if rule.table == table]
    return rules


def _applied_rules(options: DumpOptions) -> list[str]:
    rules = [f"{t}: structure only, rows left out" for t in options.exclude_tables]
    rules += [f"{t}: only rows WHERE {cond}" for t, cond in options.where.items()]
    rules += [f"{t}: only the newest {n} rows by {col}" for t, (col, n) in options.keep_newest.items()]
    # Worded as the other engines word them; the receiver says "sanitised" itself.
    rules += [rule.describe() for rule in options.sanitize]
    return rules


def _write_trailer(out: BinaryIO, manifest: dict[str, TableManifest]) -> None:
    for table, entry in sorted(manifest.items()):
        line = json.dumps({"table": table, "rows": entry.rows, "checksum": entry.checksum}, ensure_ascii=True)
        out.write(MANIFEST_PREFIX + line.encode() + b"\n")
    out.write(COMPLETE_MARKER + b"\n")


def _record(manifest: dict[str, TableManifest], table: str, out: TableWriter) -> None:
    manifest[table] = out.manifest()


def _delimiter(body: bytes) -> bytes:
    """A client delimiter that does not occur in ``body`` (``;;``, else ``;;;`` ...), as mariadb-dump picks."""
    delimiter = b";;"
    while delimiter in body:
        delimiter += b";"
    return delimiter


def _write_definition(writer: Writer, definition: schema.Definition, drop: bytes, collation: str) -> None:
    """A view, trigger, routine or event under the session it was created in, as mariadb-dump writes it:
    the client character set and collation, the sql_mode and an event's time zone are set around it (and
    put back after it), and the database's default collation when the object kept another one. The text is
    in the bytes of that client character set; a body may contain ';', hence the DELIMITER switch."""
    comment = b"/*!50001 " if definition.kind == "VIEW" else b"/*!50003 "
    before = [b"SET @saved_cs_client = @@character_set_client", b"SET @saved_cs_results = @@character_set_results",
              b"SET @saved_col_connection = @@collation_connection"]
    after = [b"SET character_set_client = @saved_cs_client", b"SET character_set_results = @saved_cs_results",
             b"SET collation_connection = @saved_col_connection"]
    client = (definition.charset_client or "utf8mb4").encode()
    before += [b"SET character_set_client = " + client, b"SET character_set_results = " + client]
    if definition.collation_connection:
        before.append(b"SET collation_connection = " + definition.collation_connection.encode())
    if definition.kind != "VIEW":
        before += [b"SET @saved_sql_mode = @@sql_mode",
                   b"SET sql_mode = " + quote_string(definition.sql_mode).encode()]
        after.insert(0, b"SET sql_mode = @saved_sql_mode")
    if definition.time_zone:
        before += [b"SET @saved_time_zone = @@time_zone",
                   b"SET time_zone = " + quote_string(definition.time_zone).encode()]
        after.insert(0, b"SET time_zone = @saved_time_zone")
    if definition.database_collation and definition.database_collation != collation:
        before.append(b"ALTER DATABASE COLLATE " + definition.database_collation.encode())
        after.append(b"ALTER DATABASE COLLATE " + collation.encode())
    for statement in before:
        writer.write(comment + statement + b" */;\n")
    writer.write(drop + b";\n")
    if definition.kind == "VIEW":
        writer.statement(definition.create)
    else:
        delimiter = _delimiter(definition.create)
        writer.write(b"DELIMITER " + delimiter + b"\n" + definition.create + b" " + delimiter + b"\nDELIMITER ;\n")
    for statement in after:
        writer.write(comment + statement + b" */;\n")
    writer.write(b"\n")


def _view_placeholder(name: str, column_names: Iterable[str]) -> bytes:
    select = ", ".join(f"1 AS {quote_name(c)}" for c in column_names) or "1 AS `placeholder`"
    return f"CREATE VIEW {quote_name(name)} AS SELECT {select}".encode("utf-8", "surrogateescape")


class _Outside:
    """A second connection, opened when first needed, for the metadata the server will not show inside
    the dump's read-only transaction (a view that calls NEXTVAL())."""

    def __init__(self, database: DatabaseConfig) -> None:
        self.database = database
        self.conn: Any = None

    def __call__(self) -> Any:
        if self.conn is None:
            self.conn = connect(self.database, raw=True)
            with self.conn.cursor() as cur:
                cur.execute("SET SESSION time_zone='+00:00', SESSION sql_mode=''")
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):  # Only metadata was read through it.
                self.conn.close()


def dump(database: DatabaseConfig, out: BinaryIO, options: DumpOptions) -> DumpResult:
    """Dump ``database`` to ``out`` (see the module docstring)."""
    readers = snapshot.wanted_connections()
    conn = connect(database, raw=True)
    rowstream.widen_read_buffer(conn)
    outside = _Outside(database)
    db = database.name
    helpers: list[Any] = []

    def begin(session: list[str], tables: list[str]) -> list[Any]:
        helpers.extend(snapshot.begin(database, conn, session, readers - 1, tables))
        return helpers

    reading: list[str] = []
    try:
        return _dump(conn, db, out, options, outside, begin, reading)
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args else None
        if reading and code in CHANGED_UNDER_THE_DUMP:
            raise altered.altered(db, reading[0], CHANGED_UNDER_THE_DUMP[code]) from exc
        if code != ER_LOCK_WAIT_TIMEOUT:
            raise DatabaseError(f"dump of {db!r} on {where(database)} failed: {describe(exc)}") from exc
        table = f"table {quote_name(reading[0])}" if reading else "a table"
        raise DatabaseError(f"dump of {db!r} on {where(database)} failed: it waited {LOCK_WAIT_SECONDS} s for {table}, "
                            "which another session holds (LOCK TABLES ... WRITE, an ALTER, OPTIMIZE or TRUNCATE TABLE "
                            "not finished, FLUSH TABLES WITH READ LOCK); run it again when it lets go") from exc
    except OSError as exc:
        raise DatabaseError(f"dump of {db!r} on {where(database)} failed: {describe(exc)}") from exc
    finally:
        outside.close()
        snapshot.close(helpers)
        try:
            conn.close()
        except Exception:  # The connection may already be gone (server restarted mid-dump).
            log.debug("closing the dump connection failed", exc_info=True)


def _dump(conn: Any, db: str, out: BinaryIO, options: DumpOptions, outside: Callable[[], Any],
          begin: Callable[[list[str], list[str]], list[Any]], reading: list[str]) -> DumpResult:
    writer = Writer(out)
    try:
        result = _dump_into(conn, db, writer, options, outside, begin, reading)
    except BaseException:
        writer.close(raise_error=False)
        raise
    writer.close()
    if result.requirements is not None:
        # Counted by the writer thread: final once it has written everything.
        result.requirements.max_statement_bytes = writer.longest_row_statement or None
    return result


def _some_tables(tables: list[str]) -> str:
    """``table `a``` or ``tables `a`, `b` ... (12 in all)`` for a message."""
    named = ", ".join(quote_name(table) for table in tables[:5])
    if len(tables) == 1:
        return f"table {named}"
    return f"tables {named}" + (f" ... ({len(tables)} in all)" if len(tables) > 5 else "")


def _strip_database(create: bytes, db: str) -> bytes:
    """A table's CREATE statement without its own database qualifying names in it (a column default
    ``nextval(`db`.`seq`)``): the server qualifies them again with the database it is loaded into."""
    stripped, _ = qualify.requalify(create, db, None)
    return stripped


#: How the names in a trigger's text are read, by the character set of the connection it was made over
#: (others are not checked: such a trigger is dumped as before).
_NAME_CODECS = {"utf8mb4": "utf-8", "utf8mb3": "utf-8", "utf8": "utf-8", "latin1": "cp1252", "ascii": "ascii"}


def _stale_triggers(conn: Any, db: str, triggers: list[schema.Definition]) -> list[tuple[str, str]]:
    """The triggers naming ``NEW.col`` or ``OLD.col`` of a column their table no longer has (dropped after
    them): the server keeps such a trigger, but refuses to create it ("Unknown column 'gone' in 'OLD'"), so
    its load failed. Read as the server reads the text (strings, comments and quoted names told apart)."""
    stale = []
    known: dict[str, set[str]] = {}
    for trigger in triggers:
        codec = _NAME_CODECS.get(trigger.charset_client.lower())
        if codec is None or not trigger.table:
            continue
        if trigger.table not in known:
            known[trigger.table] = {c.name.casefold() for c in schema.columns(conn, db, trigger.table)}
        columns = known[trigger.table]
        if not columns:
            continue
        code = [t for t in qualify.tokens(trigger.create.decode("latin-1"),
                                          qualify.Mode.of(trigger.charset_client, trigger.sql_mode, "TRIGGER"))
                if t.kind not in qualify.SKIPPED]
        missing = set()
        for index in range(len(code) - 2):
            first, dot, name = code[index:index + 3]
            after_dot = index > 0 and code[index - 1].text == "."  # db.new.col: a table named new
            if (first.kind == "word" and first.name.upper() in ("NEW", "OLD") and dot.text == "." and name.name
                    and not after_dot):
                column = name.name.encode("latin-1").decode(codec, "replace")
                if column.casefold() not in columns:
                    missing.add(column)
        if missing:
            stale.append((trigger.name, f"it names column{'s' if len(missing) > 1 else ''} "
                                        f"{', '.join(sorted(missing))} of NEW or OLD, which table {trigger.table} no "
                                        "longer has: the server creates no such trigger"))
    return stale


#: The server's answer to an UPDATE of a view it cannot update.
_NOT_UPDATABLE = 1288


def _checked_not_updatable(conn: Any, outside: Callable[[], Any], db: str,
                           view_columns: dict[str, list[Column]]) -> list[str]:
    """The views ``WITH CHECK OPTION`` that cannot be updated: a view they read was replaced by one that
    cannot (``ALGORITHM=TEMPTABLE``, an aggregate) after they were made. The server keeps them, but refuses
    to create them ("CHECK OPTION on non-updatable view"), so their load failed. ``EXPLAIN UPDATE`` asks the
    server without writing anything, outside the dump's read-only transaction; any other answer than "not
    updatable" (no UPDATE privilege, a read-only replica, a column that is an expression) tells nothing, and
    the view is dumped."""
    found = []
    for (name,) in schema.query(conn, "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA=%s "
                                      "AND CHECK_OPTION <> 'NONE'", (db,)):
        view = schema.text(name)
        columns = view_columns.get(view)
        if not columns:
            continue
        column = quote_name(columns[0].name)
        try:
            schema.query(outside(), f"EXPLAIN UPDATE {quote_name(db)}.{quote_name(view)} SET {column} = {column} "
                                    "WHERE FALSE")
        except pymysql.err.MySQLError as exc:
            if exc.args and exc.args[0] == _NOT_UPDATABLE:
                found.append(view)
    return found


def _dump_into(conn: Any, db: str, writer: Writer, options: DumpOptions, outside: Callable[[], Any],
               begin: Callable[[list[str], list[str]], list[Any]], reading: list[str]) -> DumpResult:
    """The dump itself; ``reading`` holds the table it is at, for an error to name."""
    with conn.cursor() as cur:
        cur.execute("SELECT VERSION(), @@max_allowed_packet, @@div_precision_increment")
        version_raw, max_packet, div_precision = cur.fetchone()
    version = schema.text(version_raw)
    statement_bytes = max(MIN_STATEMENT_BYTES, min(STATEMENT_BYTES, int(max_packet) - 64 * 1024))
    # A page of the chunked dump may grow to this before it counts as too big (and is fetched again).
    group_limit = max(statement_bytes, min(4 * statement_bytes, int(max_packet) - 1024))
    # UTC, so TIMESTAMP values are written as stored; standard quoting for SHOW CREATE; a long write
    # timeout because the reader (a compressor, the network) may be slower than the server.
    session = ["SET SESSION time_zone='+00:00', SESSION sql_mode='', SESSION net_write_timeout=3600, "
               "SESSION net_read_timeout=3600",
               f"SET SESSION group_concat_max_len = {group_limit}",
               "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
               f"SET SESSION lock_wait_timeout = {LOCK_WAIT_SECONDS}",
               # keep_newest's order compares whole values, not their first 1024 bytes (:mod:`.newest`).
               f"SET SESSION max_sort_length = {newest.SORT_LENGTH}",
               hash_key_statement(new_hash_key())]
    with conn.cursor() as cur:
        for statement in session:
            cur.execute(statement)
    # The server's estimates (information_schema.TABLES is outside any snapshot): read once, before the
    # snapshot, because they also pick the tables a helper may read.
    average_rows: dict[str, int] = {}
    row_counts: dict[str, int] = {}
    engines: dict[str, str] = {}
    transactional: list[str] = []
    innodb: list[str] = []
    row_formats: dict[str, str] = {}
    for name, length, count, engine, kind, row_format in schema.query(
            conn, "SELECT TABLE_NAME, AVG_ROW_LENGTH, TABLE_ROWS, ENGINE, TABLE_TYPE, ROW_FORMAT "
                  "FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s", (db,)):
        table = schema.text(name)
        row_formats[table] = schema.text(row_format or "")
        average_rows[table] = int(length or 0)
        row_counts[table] = int(count or 0)
        engines[table] = schema.text(engine)
        # Helpers read the rows of the InnoDB tables big enough for a second connection to pay for its
        # thread: those their read lock covers (see .snapshot).
        if schema.text(kind) == "BASE TABLE" and engines[table] == "InnoDB":
            innodb.append(table)
            if row_counts[table] >= SHARED_ROWS:
                transactional.append(table)
    # A rule's table name as written ("a=b" quoted, a.b) is the table it names from here on.
    options = with_tables_resolved(options, engines)
    # A filter or sanitising expression may read other tables (``user_id IN (SELECT id FROM users ...)``),
    # which a helper reads in its own snapshot: a write to them committed between the starts was in the
    # helper's pages and not in the others'. The lock then holds back the writers of every InnoDB table.
    ruled = {*options.where, *(rule.table for rule in options.sanitize)}
    baseline = altered.take(conn, db)
    helpers = begin(session, innodb if ruled.intersection(transactional) else transactional)
    shared_tables = set(transactional) if helpers else set()
    charset, collation = (schema.text(v) for v in schema.query(
        conn, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
              "WHERE SCHEMA_NAME=%s", (db,))[0])
    comment = schema.database_comment(conn, db)
    all_tables = dict(schema.list_tables(conn, db))
    # MySQL finds a column whatever the case of its name: a rule's column is spelt as its table spells it.
    options = with_columns_resolved(
        options, lambda t: [c.name for c in schema.columns(conn, db, t)] if t in all_tables else None, "mysql")
    _validate(options, all_tables, conn, db)
    hidden: list[schema.HiddenDefinition] = []
    objects = schema.capture(conn, db, hidden=hidden, outside=outside)
    base_tables = [name for name, kind in all_tables.items() if kind not in ("VIEW", "SEQUENCE")]
    unseen = visibility.unseen(conn, db, base_tables, routines=options.routines, events=options.events)
    refused = loadable.refused(conn, db, objects, routines=options.routines, events=options.events)
    # The columns of each view, for its placeholder. Inside the read-only transaction the server lists none
    # for some views (see _Outside); one it lists none for outside either cannot be opened at all.
    view_columns = {name: schema.columns(conn, db, name) or schema.columns(outside(), db, name)
                    for name, kind in all_tables.items() if kind == "VIEW"}
    broken = [(name, "the server cannot open it: a table, column or function it reads is gone, or this user may "
                     "not read it") for name, columns in view_columns.items() if not columns]
    broken += [(name, "WITH CHECK OPTION, while it cannot be updated (a view it reads was made so since): the "
                      "server creates no such view")
               for name in _checked_not_updatable(conn, outside, db, view_columns)]
    skipped = unsupported.check(conn, db, all_tables, engines, objects, hidden, skip=options.skip_unsupported,
                                routines=options.routines, events=options.events, unseen=unseen, refused=refused,
                                broken=broken, stale=_stale_triggers(conn, db, objects.triggers))
    databases = {schema.text(name) for (name,) in schema.query(conn, "SHOW DATABASES")}
    unsupported.warn_other_databases([v for v in objects.views if v.name not in skipped.views], databases, db)
    loadable.warn_other_databases(conn, db, [
        *(r for r in objects.routines if r.name not in skipped.routines),
        *(t for t in objects.triggers if t.name not in skipped.triggers),
        *(e for e in objects.events if e.name not in skipped.events)], databases)
    rules_by_table: dict[str, dict[str, str]] = {}
    by_table: dict[str, dict[str, SanitizeRule]] = {}
    #: The rows each table whose rows the rules change copies, and its rules.
    copies: dict[str, str | None] = {}
    rewritten: dict[str, dict[str, SanitizeRule]] = {}
    for rule in options.sanitize:
        by_table.setdefault(rule.table, {})[rule.column] = rule
    for table_name, by_column in by_table.items():
        table_columns = _dumped_columns(conn, db, table_name, skipped)
        if generated := [rule for column, rule in by_column.items()
                         if any(c.name == column and c.generated for c in table_columns)]:
            raise generated_column(generated[0])
        pk = schema.primary_key(conn, db, table_name)
        column_types = {c.name: c.data_type for c in table_columns}
        # A key no rule masks may go into an ``email`` address as it is (the copy holds it anyway) when it
        # is one column, or integers only (text parts joined with '-' may join alike).
        raw_key = (all(column_types.get(c) in INTEGER_TYPES - {"year"} for c in pk)
                   or (len(pk) == 1 and pk[0] not in by_column))
        table_shapes = copychecks.shapes(conn, db, table_name)
        rewrites = {column: (rule, copychecks.fitted(transform_sql(rule, pk, raw_key=raw_key),
                                                     table_shapes[column]))
                    for column, rule in by_column.items()}
        rules_by_table[table_name] = {column: expression for column, (_, expression) in rewrites.items()}
        if table_name in options.exclude_tables:
            continue  # No rows of it are copied: no value of the rules is loaded.
        copied = copychecks.copied_rows(table_name, table_columns, rewrites, options.where.get(table_name) or None,
                                        options.keep_newest.get(table_name), table_shapes,
                                        ties=_ties(conn, db, table_name, table_columns, options))
        copychecks.check_rows(conn, db, table_name, copied, rewrites, table_shapes)
        copychecks.refuse_collisions(conn, db, table_name, copied, rewrites, table_shapes, table_columns)
        copies[table_name] = copied
        rewritten[table_name] = by_column
    filtered = {table: f"leaving out the rows of {table}" for table in options.exclude_tables}
    for table in [*options.where, *options.keep_newest]:
        if table in filtered or all_tables.get(table) == "VIEW":
            continue
        filtered[table] = (f"the filter {table}: {options.where[table]}" if options.where.get(table)
                           else f"keep_newest of {table}")
        if table not in copies:
            table_columns = _dumped_columns(conn, db, table, skipped)
            copies[table] = copychecks.copied_rows(table, table_columns, {}, options.where.get(table) or None,
                                                   options.keep_newest.get(table),
                                                   ties=_ties(conn, db, table, table_columns, options))
    copychecks.refuse_orphans(conn, db, {**copies, **{table: None for table in options.exclude_tables}}, filtered,
                              rewritten)

    tables = [name for name, kind in all_tables.items()
              if kind not in ("VIEW", "SEQUENCE") and name not in skipped.tables]
    # A table whose foreign key refers to a table of other column types can only be created before it.
    tables = fkorder.creation_order(conn, db, tables)
    # What the dump needs is written in its header too, for a file loaded without a meta (db dump -o, db load);
    # the longest statement is known only at the end, so only the meta's has it.
    needs = requirements.recorded(conn, db, tables, engines)
    writer.write(HEADER_MARKER + b" (synco " + _version().encode() + b")\n-- Server version: "
                 + version.encode() + b"\n" + DATABASE_PREFIX + _in_comment(db) + b"\n" + DEFAULTS_PREFIX
                 # The name exactly (a line break or a leading space cannot stand in a comment line).
                 + json.dumps({"charset": charset, "collation": collation, "database": db,
                               **({"comment": comment} if comment else {})}).encode() + b"\n"
                 + requires_line(needs, version) + b"\n")
    writer.write(header(int(div_precision)))
    manifest: dict[str, TableManifest] = {}
    sequences = [name for name, kind in all_tables.items() if kind == "SEQUENCE" and name not in skipped.tables]
    views = [name for name, kind in all_tables.items() if kind == "VIEW" and name not in skipped.views]
    outside_snapshot = [table for table in tables if engines.get(table, "").upper() not in SNAPSHOT_ENGINES
                        and engines.get(table, "").upper() not in MERGE_ENGINES and table not in options.exclude_tables]
    if outside_snapshot:
        kinds = ", ".join(sorted({engines.get(table) or "unknown engine" for table in outside_snapshot}))
        one = len(outside_snapshot) == 1
        it = "it" if one else "them"
        log.warning("%s of %r %s not transactional (%s): %s read in one statement, as it is at that moment, outside "
                    "the dump's snapshot (as mariadb-dump --single-transaction reads %s); writes to %s while the dump "
                    "runs can leave %s out of step with the other tables", _some_tables(outside_snapshot), db,
                    "is" if one else "are", kinds, "it is" if one else "each is", it, it, it)
    # Sequences first: a column's default may draw from one, and CREATE TABLE checks that it exists.
    for sequence in sequences:
        manifest[sequence] = _dump_sequence(conn, db, writer, sequence)
    for table in tables:
        reading[:] = [table]
        name = quote_name(table).encode("utf-8", "surrogateescape")
        writer.write(b"--\n-- Table structure for " + _in_comment(quote_name(table)) + b"\n--\n\n")
        writer.write(b"DROP TABLE IF EXISTS " + name + b";\n")
        writer.write(b"/*!40101 SET @saved_cs_client = @@character_set_client */;\n"
                     b"/*!40101 SET character_set_client = utf8mb4 */;\n")
        create = schema.show_create_table(conn, table)
        if b"DIRECTORY=" in create.upper():
            log.warning("table %s: its DATA/INDEX DIRECTORY is left out; the copy is stored where the loading "
                        "server keeps its tables", table)
        options_carried = engineoptions.executable(create)
        if options_carried is not None:
            create = options_carried
            writer.write(engineoptions.BEFORE)
        if engines.get(table, "").upper() == "INNODB":
            create = rowformat.mark(create, row_formats.get(table, ""))
        writer.statement(_strip_database(create, db))
        if options_carried is not None:
            writer.write(engineoptions.AFTER)
        writer.write(b"/*!40101 SET character_set_client = @saved_cs_client */;\n\n")
        if engines.get(table, "").upper() in MERGE_ENGINES:
            altered.check(conn, db, table, baseline)
            continue  # Its rows are those of the tables it merges, dumped with them (as mariadb-dump does).
        if table in options.exclude_tables:
            altered.check(conn, db, table, baseline)
            writer.call(functools.partial(manifest.__setitem__, table,
                                          TableManifest(rows=0, checksum=literals.format_checksum(0))))
            continue
        dumpprogress.table_started(table)
        columns = _dumped_columns(conn, db, table, skipped)
        history = any(c.period for c in columns)
        if any(c.generated for c in columns):
            storedgenerated.warn(table, storedgenerated.recomputed_otherwise(
                conn, db, table, options.where.get(table) or None,
                [c.name for c in columns if c.data_type == "timestamp" and not c.generated]))
        condition = options.where.get(table) or None
        if history:
            loadable_rows, empty = schema.loadable_periods(conn, db, table, columns)
            if empty:
                log.warning("table %s of %r: %d history row%s whose period ends where it starts (changed at the "
                            "instant it was written) left out: no server loads such a row, nor shows it AS OF any "
                            "time", quote_name(table), db, empty, "s" if empty > 1 else "")
                condition = f"({condition}) AND ({loadable_rows})" if condition else loadable_rows
        read = tablerows.TableRead(
            table=table, source=schema.row_source(table, columns), columns=columns,
            overrides=rules_by_table.get(table, {}), condition=condition,
            newest=options.keep_newest.get(table),
            ties=_ties(conn, db, table, columns, options),
            limit=group_limit, average_row=average_rows.get(table, 100) or 100, rows_estimate=row_counts.get(table, 0))
        fmt_columns = [c for c in columns if not c.generated]
        writer.write(b"/*!40000 ALTER TABLE " + name + b" DISABLE KEYS */;\nSET autocommit=0;\n")
        if history:
            writer.write(_HISTORY_ON)
        out_table = TableWriter(writer, table, fmt_columns, statement_bytes)
        wide = average_rows.get(table, 0) >= WIDE_ROW_BYTES and any(c.is_binary for c in fmt_columns)
        # A table outside the snapshot is read in one statement, whose rows are those of one moment: read by
        # pages, a write landing between two of them (one UPDATE moving an amount from a first row to a last)
        # would be in the dump by half, a state the table never was in.
        paged = read.newest is None and table not in outside_snapshot
        key = schema.paging_key(conn, db, table, columns) if paged else []
        # Helpers share the snapshot of the InnoDB tables it was taken for only: another engine's rows are
        # read when each statement runs, and one connection keeps that as close to one moment as it can.
        shared = helpers if table in shared_tables else []
        try:
            tablerows.read_rows(conn, writer, out_table, read, key, wide=wide, helpers=shared)
        except pymysql.err.MySQLError as exc:
            rules = _table_rules(options, table)
            if not rules:
                raise
            # The filters and sanitising expressions are SQL written for some version of the table (a plugin's
            # profile, .synco.yml): say which, so a column that version lacks is found at once.
            raise DatabaseError(f"dump of {db!r} failed reading table {quote_name(table)} with "
                                f"{'; '.join(rules)}: {describe(exc)}") from exc
        # Its rows are read: the dump's transaction holds the table's metadata lock, so no ALTER comes after this.
        altered.check(conn, db, table, baseline)
        # Read in the writer thread, once it has counted every row of the table.
        writer.call(functools.partial(_record, manifest, table, out_table))
        writer.write(b"COMMIT;\n")
        if history:
            writer.write(_HISTORY_OFF)
        writer.write(b"/*!40000 ALTER TABLE " + name + b" ENABLE KEYS */;\nSET autocommit=1;\n\n")

    reading.clear()
    # Routines before views: a view that calls a stored function cannot be created before it.
    for definition in objects.routines:
        if definition.name in skipped.routines:
            continue
        name = quote_name(definition.name).encode("utf-8", "surrogateescape")
        _write_definition(writer, definition, b"DROP " + definition.kind.encode() + b" IF EXISTS " + name, collation)
    if views:
        writer.write(b"--\n-- Placeholder views, so that views on views load in any order\n--\n\n")
        for view in views:
            name = quote_name(view).encode("utf-8", "surrogateescape")
            writer.write(b"DROP TABLE IF EXISTS " + name + b";\n/*!50001 DROP VIEW IF EXISTS " + name + b" */;\n")
            writer.statement(_view_placeholder(view, (c.name for c in view_columns[view])))
        writer.write(b"\n")
        for definition in objects.views:
            if definition.name in skipped.views:
                continue
            name = quote_name(definition.name).encode("utf-8", "surrogateescape")
            _write_definition(writer, definition, b"/*!50001 DROP VIEW IF EXISTS " + name + b" */", collation)
    for definition in objects.triggers:
        if definition.name in skipped.triggers:
            continue
        name = quote_name(definition.name).encode("utf-8", "surrogateescape")
        _write_definition(writer, definition, b"DROP TRIGGER IF EXISTS " + name, collation)
    for definition in objects.events:
        if definition.name in skipped.events:
            continue
        name = quote_name(definition.name).encode("utf-8", "surrogateescape")
        _write_definition(writer, definition, b"DROP EVENT IF EXISTS " + name, collation)
    writer.write(FOOTER)
    with conn.cursor() as cur:
        cur.execute("COMMIT")
    # The manifest is complete only once the writer thread has counted every row: written from there.
    writer.call(functools.partial(_write_trailer, writer.out, manifest))
    return DumpResult(engine="mysql", wire_type="MysqlDump", format="sql", server_version=version,
                      tables=manifest, applied_rules=_applied_rules(options),
                      requirements=needs)


def _dumped_columns(conn: Any, db: str, table: str, skipped: unsupported.LeftOut) -> list[Column]:
    """The table's columns as the dump reads them: a history left out leaves its period columns out, so the
    copy checks read the rows the dump reads (:func:`.schema.row_source`), the current ones only."""
    columns = schema.columns(conn, db, table)
    return [c for c in columns if not c.period] if table in skipped.history else columns


def _ties(conn: Any, db: str, table: str, columns: list[Column], options: DumpOptions) -> list[str]:
    """What breaks the ties of the table's keep_newest, if it has one (:func:`.newest.tie_break`)."""
    kept = options.keep_newest.get(table)
    return newest.tie_break(conn, db, table, columns, kept[0]) if kept is not None else []


def _dump_sequence(conn: Any, db: str, writer: Writer, sequence: str) -> TableManifest:
    """A sequence as its CREATE statement and a ``SETVAL`` to its exact state: the next value a restart
    of the server would give (values a session has cached are not stored anywhere) and the number of
    cycles done, which mariadb-dump leaves out. Its manifest entry is the checksum of its one row, so the
    installer verifies the state it loaded."""
    name = quote_name(sequence)
    (create,) = [schema.raw(row[1]) for row in schema.query(conn, f"SHOW CREATE SEQUENCE {name}")]
    columns = schema.columns(conn, db, sequence)
    next_value, rounds, literal = schema.query(
        conn, f"SELECT CAST(next_not_cached_value AS CHAR), CAST(cycle_count AS CHAR), "
              f"{literals.row_literal_sql(columns)} FROM {name}")[0]
    quoted = name.encode("utf-8", "surrogateescape")
    writer.write(b"--\n-- Sequence " + _in_comment(name) + b"\n--\n\nDROP TABLE IF EXISTS " + quoted + b";\n")
    writer.statement(create)
    writer.statement(b"DO SETVAL(" + quoted + b", " + schema.raw(next_value) + b", 0, " + schema.raw(rounds) + b")")
    writer.write(b"\n")
    return TableManifest(rows=1, checksum=literals.format_checksum(zlib.crc32(schema.raw(literal))))


def _in_comment(name: str) -> bytes:
    """``name`` for a ``--`` comment line: a line break in it would end the comment, and what follows it (the
    rest of a table's name: ``x\\nDROP TABLE users; --``) would be read as a statement."""
    return " ".join(name.split()).encode("utf-8", "surrogateescape")


def _version() -> str:
    from synco_core import __version__

    return __version__
