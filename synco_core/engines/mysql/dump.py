"""The dumper: one consistent snapshot written as a plain SQL script the ``mariadb`` client loads as is.

Layout, as mysqldump's: header settings; per table ``DROP TABLE IF EXISTS`` + ``SHOW CREATE TABLE`` and
multi-row INSERTs; views after all tables (placeholder views first, so views on views load in any
order); triggers after the data (so they do not fire while loading); routines and events on request;
footer settings; then synco's manifest as comments and a completion marker, so a truncated file is
recognised by the installer.
"""

from __future__ import annotations

import functools
import json
import logging
import queue
import threading
import zlib
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

import pymysql
import pymysql.cursors

from synco_core.engines.mysql import literals, schema
from synco_core.engines.mysql.connect import connect, describe, quote_name, quote_string, where
from synco_core.engines.mysql.sanitize import transform_sql
from synco_core.engines.mysql.splitter import SIZE_HINT as SPLITTER_SIZE_HINT
from synco_core.errors import ConfigError, DatabaseError
from synco_core.values import DatabaseConfig, DumpOptions, DumpResult, TableManifest

log = logging.getLogger(__name__)

#: Target size of one INSERT statement. Small enough for any server's max_allowed_packet (the smallest
#: default is 1 MiB on old servers; we stay below it) and big enough that per-statement overhead is noise.
STATEMENT_BYTES = 1000 * 1000
#: Rows are committed in transactions of about this many bytes when loading: much faster than one
#: commit per statement, without the huge undo log of one transaction per big table.
COMMIT_BYTES = 64 * 1000 * 1000
FETCH_ROWS = 2000
#: Tables whose rows average at least this many bytes and that hold a binary column are streamed row by
#: row with their binary values fetched raw (escaped in Python), instead of paged through the server's
#: formatting: per row, PyMySQL's overhead is then small next to the server's escaping that it saves.
WIDE_ROW_BYTES = 1024
MANIFEST_PREFIX = b"-- synco-manifest: "
COMPLETE_MARKER = b"-- synco-dump-complete"
HEADER_MARKER = b"-- synco MySQL/MariaDB dump"
#: Before each INSERT: its length in bytes (see :data:`synco_core.engines.mysql.splitter.SIZE_HINT`).
SIZE_HINT = SPLITTER_SIZE_HINT

HEADER = b"""/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;
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

"""


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
    for table, (column, count) in options.keep_newest.items():
        if column not in {c.name for c in schema.columns(conn, db, table)}:
            raise ConfigError(f"keep_newest names column {table}.{column}, which does not exist")
        if count < 0:
            raise ConfigError(f"keep_newest for {table} must keep a positive number of rows, got {count}")
    for rule in options.sanitize:
        if rule.column not in {c.name for c in schema.columns(conn, db, rule.table)}:
            raise ConfigError(f"--sanitize names column {rule.table}.{rule.column}, which does not exist")


def _applied_rules(options: DumpOptions) -> list[str]:
    rules = [f"{t}: structure only, rows left out" for t in options.exclude_tables]
    rules += [f"{t}: only rows WHERE {cond}" for t, cond in options.where.items()]
    rules += [f"{t}: only the newest {n} rows by {col}" for t, (col, n) in options.keep_newest.items()]
    rules += [f"sanitised {rule.describe()}" for rule in options.sanitize]
    return rules


class _Writer:
    """Hands what the dump writes to a background thread that writes it to ``out``.

    ``out`` is usually a compressor and an encryptor; in a thread of their own (both release the GIL)
    they run while the server formats the next page, instead of after it. Work on the rows themselves
    (splitting a page, the checksum, joining, escaping carriage returns) is handed over as callables and
    runs there too. Small writes are gathered into blocks and the queue is bounded, so memory stays flat:
    at most ``QUEUE_BLOCKS`` blocks (or pages) wait.
    An error in the thread (disk full, broken pipe) is raised by the next write or by :meth:`close`.
    """

    BLOCK = 256 * 1024
    QUEUE_BLOCKS = 4

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.error: BaseException | None = None
        self.queue: queue.Queue[bytes | Callable[[], None] | None] = queue.Queue(maxsize=self.QUEUE_BLOCKS)
        self.thread = threading.Thread(target=self._run, name="synco-dump-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            block = self.queue.get()
            if block is None:
                return
            if self.error is None:
                try:
                    if callable(block):
                        block()
                    else:
                        self.out.write(block)
                except BaseException as exc:  # Kept and raised in the dumping thread.
                    self.error = exc

    def write(self, data: bytes) -> None:
        if self.error is not None:
            raise self.error
        self.pending.append(data)
        self.pending_size += len(data)
        if self.pending_size >= self.BLOCK:
            self._hand_over()

    def _hand_over(self) -> None:
        if self.pending:
            self.queue.put(b"".join(self.pending))
            self.pending, self.pending_size = [], 0

    def call(self, work: Callable[[], None]) -> None:
        """Run ``work`` in the writer thread, after everything written so far (it may write to ``out``)."""
        if self.error is not None:
            raise self.error
        self._hand_over()
        self.queue.put(work)

    def statement(self, sql: bytes) -> None:
        self.write(sql + b";\n")

    def close(self, *, raise_error: bool = True) -> None:
        """Write what is left and wait for the thread; re-raise its error unless already failing."""
        if self.error is None:
            self._hand_over()
        self.queue.put(None)
        self.thread.join()
        if raise_error and self.error is not None:
            raise self.error


def _select_sql(table: str, fmt: literals.RowFormat, options: DumpOptions) -> str:
    sql = f"SELECT {', '.join(fmt.select_list)} FROM {quote_name(table)}"
    condition = options.where.get(table)
    if condition:
        sql += f" WHERE ({condition})"
    if table in options.keep_newest:
        column, count = options.keep_newest[table]
        sql += f" ORDER BY {quote_name(column)} DESC LIMIT {int(count)}"
    return sql


class _TableWriter:
    """Writes one table's rows as multi-row INSERTs, with a COMMIT every ``COMMIT_BYTES``, and adds up
    the manifest entry. Its methods run in the writer thread (handed over with :meth:`_Writer.call`)."""

    def __init__(self, writer: _Writer, table: str, fmt: literals.RowFormat, statement_bytes: int) -> None:
        self.out = writer.out
        self.insert = (f"INSERT INTO {quote_name(table)} ({','.join(quote_name(c.name) for c in fmt.columns)}) "
                       "VALUES ").encode("utf-8", "surrogateescape")
        self.statement_bytes = statement_bytes
        self.rows = 0
        self.checksum = 0
        self.since_commit = 0

    def rows_list(self, rows: list[bytes]) -> None:
        """Row literals ``(..)`` to write as one INSERT."""
        self.checksum += sum(map(zlib.crc32, rows))
        self.rows += len(rows)
        self._statement(literals.escape_carriage_returns(b",".join(rows)))

    def page(self, values: bytes) -> None:
        """A page of the chunked dump: row literals separated by NUL, a byte no literal contains
        (QUOTE() escapes it), so that rows are told apart without parsing."""
        self.rows_list(values.split(b"\0"))

    def _statement(self, values: bytes) -> None:
        # The size hint lets synco's loader take the statement without scanning its values for the end.
        size = len(self.insert) + len(values)
        self.out.write(SIZE_HINT + str(size).encode() + b"\n" + self.insert + values + b";\n")
        self.since_commit += len(values)
        if self.since_commit > COMMIT_BYTES:
            self.out.write(b"COMMIT;\n")
            self.since_commit = 0

    def manifest(self) -> TableManifest:
        return TableManifest(rows=self.rows, checksum=literals.format_checksum(self.checksum))


def _close_streaming(conn: Any, cursor: Any) -> None:
    try:
        cursor.close()
    except Exception:  # After a lost connection PyMySQL fails while draining; the first error counts.
        log.debug("closing the row cursor failed", exc_info=True)
        # Otherwise the result object tries to drain the dead connection again when collected.
        result = getattr(conn, "_result", None)
        if result is not None:
            result.unbuffered_active = False


def _stream_rows(conn: Any, writer: _Writer, out: _TableWriter, table: str, fmt: literals.RowFormat, sql: str,
                 args: Any = None, fetch_rows: int = FETCH_ROWS) -> None:
    """Stream rows one by one from an unbuffered cursor (any table, any filter), ``fetch_rows`` at a time."""
    single = len(fmt.select_list) == 1
    batch: list[bytes] = []
    batch_size = 0
    cursor = conn.cursor(pymysql.cursors.SSCursor)
    try:
        cursor.execute(sql, args)
        while True:
            fetched = cursor.fetchmany(fetch_rows)
            if not fetched:
                break
            for row in fetched:
                value: bytes | None = row[0] if single else literals.assemble(row, fmt)
                if value is None:
                    raise DatabaseError(f"table {table}: a row could not be formatted by the server "
                                        "(larger than its max_allowed_packet?)")
                if batch and batch_size + len(value) > out.statement_bytes:
                    writer.call(functools.partial(out.rows_list, batch))
                    batch, batch_size = [], 0
                batch.append(value)
                batch_size += len(value) + 1
        if batch:
            writer.call(functools.partial(out.rows_list, batch))
    finally:
        _close_streaming(conn, cursor)


def _chunked_rows(conn: Any, writer: _Writer, out: _TableWriter, table: str, columns: list[literals.Column],
                  fmt: literals.RowFormat, overrides: dict[str, str], key: str, options: DumpOptions,
                  limit: int, average_row: int) -> None:
    """Page through the table by ranges of its integer primary key; per page the server returns ONE
    value holding every row of the range, fully formatted (GROUP_CONCAT), and its row count. Python
    handles a few values per megabyte instead of one per row, and hands them to the writer thread.

    Ranges (``k >= lo AND k < hi``) rather than ``LIMIT`` keep each page a plain index range scan with
    no temporary table. The range adapts to what the last page weighed; an empty range jumps to the
    next existing key. A page that reaches ``limit`` (GROUP_CONCAT truncates there) is fetched again
    over a smaller range; a single row too big for that is streamed with its large values fetched raw.
    """
    name, k = quote_name(table), quote_name(key)
    condition = options.where.get(table)
    extra = f" AND ({condition})" if condition else ""
    # The bounds are integers written into the text, not driver parameters: a row filter or a sanitising
    # expression may hold a '%' (LIKE 'x%'), which PyMySQL's parameter formatting would take for its own.
    page = (f"SELECT GROUP_CONCAT({literals.row_literal_sql(columns, overrides)} SEPARATOR '\\0'), COUNT(*) "
            f"FROM {name} WHERE {k} >= ", f" AND {k} < ", extra)
    # Numbers come back as text: with values left undecoded, PyMySQL cannot convert every type.
    next_key = f"SELECT CAST(MIN({k}) AS CHAR) FROM {name} WHERE {k} >= "
    span = max(1, out.statement_bytes // max(16, 2 * average_row + 16))
    with conn.cursor() as cur:
        cur.execute(f"SELECT CAST(MIN({k}) AS CHAR), CAST(MAX({k}) AS CHAR) FROM {name}")
        lowest, highest = cur.fetchone()
        if lowest is None:
            return
        low, high = int(lowest), int(highest)
        while low <= high:
            upper = low + span
            cur.execute(f"{page[0]}{low}{page[1]}{upper}{page[2]}")
            values, count = cur.fetchone()
            if int(count) == 0:
                cur.execute(f"{next_key}{upper}")
                (found,) = cur.fetchone()
                if found is None:
                    return
                low = int(found)
                continue
            if values is None or len(values) >= limit:
                if span > 1:
                    span = max(1, span // 4)
                    continue
                # One row the server cannot format within its limits: fetch its big values raw.
                _stream_rows(conn, writer, out, table, fmt, f"SELECT {', '.join(fmt.select_list)} FROM {name} "
                                                            f"WHERE {k} = %s{extra}", (low,))
            else:
                writer.call(functools.partial(out.page, values))
                # Aim the next range at the statement size, from what this one weighed.
                span = max(1, min(4 * span, int(span * out.statement_bytes / max(1, len(values)))))
            low = upper


def _write_trailer(out: BinaryIO, manifest: dict[str, TableManifest]) -> None:
    for table, entry in sorted(manifest.items()):
        line = json.dumps({"table": table, "rows": entry.rows, "checksum": entry.checksum}, ensure_ascii=True)
        out.write(MANIFEST_PREFIX + line.encode() + b"\n")
    out.write(COMPLETE_MARKER + b"\n")


def _record(manifest: dict[str, TableManifest], table: str, out: _TableWriter) -> None:
    manifest[table] = out.manifest()


def _write_definition(writer: _Writer, definition: schema.Definition, drop: bytes) -> None:
    """A trigger, routine or event: its body may contain ';', hence the DELIMITER switch."""
    writer.write(drop + b";\n")
    writer.write(b"/*!50003 SET @saved_sql_mode = @@sql_mode */;\n")
    writer.write(b"/*!50003 SET sql_mode = " + quote_string(definition.sql_mode).encode() + b" */;\n")
    writer.write(b"DELIMITER ;;\n" + definition.create + b" ;;\nDELIMITER ;\n")
    writer.write(b"/*!50003 SET sql_mode = @saved_sql_mode */;\n\n")


def _view_placeholder(name: str, column_names: Iterable[str]) -> bytes:
    select = ", ".join(f"1 AS {quote_name(c)}" for c in column_names) or "1 AS `placeholder`"
    return f"CREATE VIEW {quote_name(name)} AS SELECT {select}".encode("utf-8", "surrogateescape")


def dump(database: DatabaseConfig, out: BinaryIO, options: DumpOptions) -> DumpResult:
    """Dump ``database`` to ``out`` (see the module docstring)."""
    conn = connect(database, raw=True)
    db = database.name
    try:
        return _dump(conn, db, out, options)
    except (pymysql.err.MySQLError, OSError) as exc:
        raise DatabaseError(f"dump of {db!r} on {where(database)} failed: {describe(exc)}") from exc
    finally:
        try:
            conn.close()
        except Exception:  # The connection may already be gone (server restarted mid-dump).
            log.debug("closing the dump connection failed", exc_info=True)


def _dump(conn: Any, db: str, out: BinaryIO, options: DumpOptions) -> DumpResult:
    writer = _Writer(out)
    try:
        result = _dump_into(conn, db, writer, options)
    except BaseException:
        writer.close(raise_error=False)
        raise
    writer.close()
    return result


def _dump_into(conn: Any, db: str, writer: _Writer, options: DumpOptions) -> DumpResult:
    with conn.cursor() as cur:
        # UTC, so TIMESTAMP values are written as stored; standard quoting for SHOW CREATE; a long write
        # timeout because the reader (a compressor, the network) may be slower than the server.
        cur.execute("SET SESSION time_zone='+00:00', SESSION sql_mode='', SESSION net_write_timeout=3600, "
                    "SESSION net_read_timeout=3600")
        cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        cur.execute("SELECT VERSION(), @@max_allowed_packet")
        version_raw, max_packet = cur.fetchone()
    version = schema.text(version_raw)
    statement_bytes = max(16 * 1024, min(STATEMENT_BYTES, int(max_packet) - 64 * 1024))
    # A page of the chunked dump may grow to this before it counts as too big (and is fetched again).
    group_limit = max(statement_bytes, min(4 * statement_bytes, int(max_packet) - 1024))
    with conn.cursor() as cur:
        cur.execute(f"SET SESSION group_concat_max_len = {group_limit}")
    average_rows = {schema.text(name): int(length or 0) for name, length in schema.query(
        conn, "SELECT TABLE_NAME, AVG_ROW_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s", (db,))}
    all_tables = dict(schema.list_tables(conn, db))
    _validate(options, all_tables, conn, db)
    rules_by_table: dict[str, dict[str, str]] = {}
    for rule in options.sanitize:
        pk = schema.primary_key(conn, db, rule.table)
        rules_by_table.setdefault(rule.table, {})[rule.column] = transform_sql(rule, pk)

    writer.write(HEADER_MARKER + b" (synco " + _version().encode() + b")\n-- Server version: "
                 + version.encode() + b"\n-- Database: " + db.encode("utf-8", "surrogateescape") + b"\n\n")
    writer.write(HEADER)
    manifest: dict[str, TableManifest] = {}
    tables = [name for name, kind in all_tables.items() if kind != "VIEW"]
    views = [name for name, kind in all_tables.items() if kind == "VIEW"]
    for table in tables:
        name = quote_name(table).encode("utf-8", "surrogateescape")
        writer.write(b"--\n-- Table structure for " + name + b"\n--\n\n")
        writer.write(b"DROP TABLE IF EXISTS " + name + b";\n")
        writer.write(b"/*!40101 SET @saved_cs_client = @@character_set_client */;\n"
                     b"/*!40101 SET character_set_client = utf8mb4 */;\n")
        writer.statement(schema.show_create_table(conn, table))
        writer.write(b"/*!40101 SET character_set_client = @saved_cs_client */;\n\n")
        if all_tables[table] == "SEQUENCE":
            continue  # A sequence's state is part of its CREATE statement.
        if table in options.exclude_tables:
            writer.call(functools.partial(manifest.__setitem__, table,
                                          TableManifest(rows=0, checksum=literals.format_checksum(0))))
            continue
        overrides = rules_by_table.get(table, {})
        columns = schema.columns(conn, db, table)
        fmt = literals.row_format(columns, overrides)
        writer.write(b"/*!40000 ALTER TABLE " + name + b" DISABLE KEYS */;\nSET autocommit=0;\n")
        out_table = _TableWriter(writer, table, fmt, statement_bytes)
        key = schema.integer_key(conn, db, table, columns) if table not in options.keep_newest else None
        if average_rows.get(table, 0) >= WIDE_ROW_BYTES and any(c.is_binary for c in fmt.columns):
            wide = literals.row_format(columns, overrides, raw_binary=True)
            # Fewer rows per fetch for wide rows, so that a fetch stays around a megabyte.
            _stream_rows(conn, writer, out_table, table, wide, _select_sql(table, wide, options),
                         fetch_rows=max(16, min(FETCH_ROWS, statement_bytes // average_rows[table])))
        elif key is not None:
            _chunked_rows(conn, writer, out_table, table, columns, fmt, overrides, key, options, group_limit,
                          average_rows.get(table, 100))
        else:
            _stream_rows(conn, writer, out_table, table, fmt, _select_sql(table, fmt, options))
        # Read in the writer thread, once it has counted every row of the table.
        writer.call(functools.partial(_record, manifest, table, out_table))
        writer.write(b"COMMIT;\n/*!40000 ALTER TABLE " + name + b" ENABLE KEYS */;\nSET autocommit=1;\n\n")

    objects = schema.capture(conn, db, routines=options.routines, events=options.events)
    # Routines before views: a view that calls a stored function cannot be created before it.
    for definition in objects.routines:
        name = quote_name(definition.name).encode("utf-8", "surrogateescape")
        _write_definition(writer, definition, b"DROP " + definition.kind.encode() + b" IF EXISTS " + name)
    if views:
        writer.write(b"--\n-- Placeholder views, so that views on views load in any order\n--\n\n")
        for view in views:
            name = quote_name(view).encode("utf-8", "surrogateescape")
            writer.write(b"DROP TABLE IF EXISTS " + name + b";\n/*!50001 DROP VIEW IF EXISTS " + name + b" */;\n")
            writer.statement(_view_placeholder(view, (c.name for c in schema.columns(conn, db, view))))
        writer.write(b"\n")
        for definition in objects.views:
            name = quote_name(definition.name).encode("utf-8", "surrogateescape")
            writer.write(b"/*!50001 DROP VIEW IF EXISTS " + name + b" */;\n")
            writer.statement(definition.create)
        writer.write(b"\n")
    for definition in objects.triggers:
        name = quote_name(definition.name).encode("utf-8", "surrogateescape")
        _write_definition(writer, definition, b"DROP TRIGGER IF EXISTS " + name)
    for definition in objects.events:
        name = quote_name(definition.name).encode("utf-8", "surrogateescape")
        _write_definition(writer, definition, b"DROP EVENT IF EXISTS " + name)
    writer.write(FOOTER)
    with conn.cursor() as cur:
        cur.execute("COMMIT")
    # The manifest is complete only once the writer thread has counted every row: written from there.
    writer.call(functools.partial(_write_trailer, writer.out, manifest))
    return DumpResult(engine="mysql", wire_type="MysqlDump", format="sql", server_version=version,
                      tables=manifest, applied_rules=_applied_rules(options))


def _version() -> str:
    from synco_core import __version__

    return __version__
