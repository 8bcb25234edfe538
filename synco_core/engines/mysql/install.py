"""The atomic installer: load into a scratch database, verify, swap with one ``RENAME TABLE``.

Databases involved, named after the target ``db``: ``db__synco_new`` (scratch: the dump is loaded
here) and ``db__synco_prev`` (the previous content, kept for ``synco db rollback`` until the next
install). Tables move between them with a single ``RENAME TABLE`` statement, which the server applies
atomically. Views, triggers, routines and events cannot move that way (views cannot change database,
tables with triggers cannot either), so they are read before the swap, dropped, and created again on
the other side right after it; should that fail, the swap is reversed.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

import pymysql
import pymysql.cursors

from synco_core.engines import guard
from synco_core.engines.mysql import literals, schema
from synco_core.engines.mysql.connect import connect, describe, quote_name, quote_string, where
from synco_core.engines.mysql.load import Loader
from synco_core.errors import DatabaseError, SyncoError
from synco_core.values import DatabaseConfig, InstallOptions, InstallResult, TableManifest

log = logging.getLogger(__name__)

SCRATCH_SUFFIX = "__synco_new"
BACKUP_SUFFIX = "__synco_prev"
_MAX_NAME = 64
#: Connections executing INSERTs in parallel: the server spreads them over its cores, which is what
#: lets the load beat one ``mariadb`` client feeding one connection.
LOAD_WORKERS = 2
#: Tables bigger than this (and with an integer primary key) are verified in key ranges, in parallel.
VERIFY_SPLIT_BYTES = 8 * 1024 * 1024


def derived_name(db: str, suffix: str) -> str:
    """``db + suffix``, shortened with a hash when that would exceed MySQL's 64-character limit."""
    name = db + suffix
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha1(db.encode()).hexdigest()[:8]
    return db[:_MAX_NAME - len(suffix) - 9] + "_" + digest + suffix


def check_target(database: DatabaseConfig, options: InstallOptions, action: str) -> None:
    """The local-target guard and the confirmation, shared by install and rollback."""
    guard.check_target(database, options, action, "MySQL", where(database),
                       "Its current tables are kept for 'synco db rollback'.")


def _execute(conn: Any, sql: str | bytes) -> None:
    with conn.cursor() as cur:
        cur.execute(sql)


def _exists(conn: Any, db: str) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME=%s", (db,))
        return cur.fetchone() is not None


def _create_like(conn: Any, db: str, model: str) -> None:
    """Create ``db`` (dropping any leftover) with the character set and collation of ``model``."""
    _execute(conn, f"DROP DATABASE IF EXISTS {quote_name(db)}")
    with conn.cursor() as cur:
        cur.execute("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
                    "WHERE SCHEMA_NAME=%s", (model,))
        row = cur.fetchone()
    charset, collation = (row[0], row[1]) if row else ("utf8mb4", "utf8mb4_unicode_ci")
    _execute(conn, f"CREATE DATABASE {quote_name(db)} CHARACTER SET {charset} COLLATE {collation}")


def _drop_definitions(conn: Any, db: str, objects: schema.Objects) -> None:
    conn.select_db(db)
    for definition in objects.triggers:
        _execute(conn, f"DROP TRIGGER IF EXISTS {quote_name(definition.name)}")
    for definition in objects.views:
        _execute(conn, f"DROP VIEW IF EXISTS {quote_name(definition.name)}")
    for definition in [*objects.routines, *objects.events]:
        _execute(conn, f"DROP {definition.kind} IF EXISTS {quote_name(definition.name)}")


def _create_definitions(conn: Any, db: str, objects: schema.Objects, *, disable_events: bool = False) -> None:
    """Create routines (views may call them), views (in dependency order, by retrying), triggers and
    events in ``db``."""
    conn.select_db(db)
    with conn.cursor() as cur:
        cur.execute("SET @synco_saved_mode = @@sql_mode")
    _create_with_mode(conn, db, objects.routines)
    pending = list(objects.views)
    while pending:
        failed: list[tuple[schema.Definition, pymysql.err.MySQLError]] = []
        for definition in pending:
            try:
                _execute(conn, definition.create)
            except pymysql.err.MySQLError as exc:
                failed.append((definition, exc))
        if len(failed) == len(pending):
            definition, error = failed[0]
            raise DatabaseError(f"cannot create view {definition.name!r} in {db!r}: {describe(error)}")
        pending = [definition for definition, _ in failed]
    _create_with_mode(conn, db, [*objects.triggers, *objects.events], disable_events=disable_events)


def _create_with_mode(conn: Any, db: str, definitions: list[schema.Definition], *,
                      disable_events: bool = False) -> None:
    """Create triggers, routines or events, each under the sql_mode it was created with."""
    for definition in definitions:
        try:
            _execute(conn, f"SET SESSION sql_mode={quote_string(definition.sql_mode)}")
            _execute(conn, definition.create)
            if disable_events and definition.kind == "EVENT":
                _execute(conn, f"ALTER EVENT {quote_name(definition.name)} DISABLE")
        except pymysql.err.MySQLError as exc:
            raise DatabaseError(f"cannot create {definition.kind.lower()} {definition.name!r} in {db!r}: "
                                f"{describe(exc)}") from exc
        finally:
            _execute(conn, "SET SESSION sql_mode=@synco_saved_mode")


def exchange(conn: Any, target: str, incoming: str, outgoing: str) -> int:
    """Move everything in ``target`` to ``outgoing`` and everything in ``incoming`` to ``target``.

    ``outgoing`` must hold no tables of the same names. The tables move in one ``RENAME TABLE``; on a
    failure everything is put back where it was. Returns the number of tables now in ``target``.
    """
    current = schema.capture(conn, target)
    new = schema.capture(conn, incoming)
    renames = [f"{quote_name(target)}.{quote_name(t)} TO {quote_name(outgoing)}.{quote_name(t)}"
               for t in current.tables]
    renames += [f"{quote_name(incoming)}.{quote_name(t)} TO {quote_name(target)}.{quote_name(t)}"
                for t in new.tables]
    _drop_definitions(conn, target, current)
    _drop_definitions(conn, incoming, new)
    try:
        if renames:
            _execute(conn, "RENAME TABLE " + ", ".join(renames))
    except pymysql.err.MySQLError as exc:
        _restore(conn, target, current, incoming, new)
        raise DatabaseError(f"swapping the tables into {target!r} failed: {describe(exc)}") from exc
    try:
        _create_definitions(conn, target, new)
    except SyncoError:
        # Put the previous content back exactly: reverse the rename, then the definitions.
        _drop_definitions(conn, target, new)
        back = [f"{quote_name(target)}.{quote_name(t)} TO {quote_name(incoming)}.{quote_name(t)}" for t in new.tables]
        back += [f"{quote_name(outgoing)}.{quote_name(t)} TO {quote_name(target)}.{quote_name(t)}"
                 for t in current.tables]
        if back:
            _execute(conn, "RENAME TABLE " + ", ".join(back))
        _restore(conn, target, current, incoming, new)
        raise
    try:
        # The kept copy must not act on its own: its events are created disabled.
        _create_definitions(conn, outgoing, current, disable_events=True)
    except SyncoError as exc:
        log.warning("the previous views/triggers could not all be kept for rollback: %s", exc)
    return len(new.tables)


def _restore(conn: Any, target: str, current: schema.Objects, incoming: str, new: schema.Objects) -> None:
    for db, objects in ((target, current), (incoming, new)):
        try:
            _create_definitions(conn, db, objects)
        except SyncoError as exc:
            log.warning("could not restore the views/triggers of %s: %s", db, exc)


@dataclass
class _Part:
    """One query of the verification: a table, or a range of its integer primary key."""

    table: str
    where: str = ""
    args: tuple[int, ...] = ()
    rows: int = 0
    checksum: int = 0


def _verification_parts(conn: Any, db: str, manifest: dict[str, TableManifest], ways: int) -> list[_Part]:
    """Split the work so that ``ways`` connections share it: big tables with an integer primary key
    are cut into key ranges (the sums add up), biggest tables first."""
    existing = {name for name, kind in schema.list_tables(conn, db) if kind != "VIEW"}
    sizes = {schema.text(name): int(length or 0) for name, length in schema.query(
        conn, "SELECT TABLE_NAME, DATA_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s", (db,))}
    parts: list[_Part] = []
    for table in sorted(manifest, key=lambda name: -sizes.get(name, 0)):
        if table not in existing:
            raise DatabaseError(f"verification failed: table {table!r} is missing after loading")
        key = schema.integer_key(conn, db, table, schema.columns(conn, db, table))
        if key is None or sizes.get(table, 0) < VERIFY_SPLIT_BYTES or ways < 2:
            parts.append(_Part(table))
            continue
        with conn.cursor() as cur:
            cur.execute(f"SELECT MIN({quote_name(key)}), MAX({quote_name(key)}) "
                        f"FROM {quote_name(db)}.{quote_name(table)}")
            low, high = cur.fetchone()
        if low is None:
            parts.append(_Part(table))
            continue
        step = (int(high) - int(low)) // ways + 1
        for index in range(ways):
            start = int(low) + index * step
            parts.append(_Part(table, f" WHERE {quote_name(key)} >= %s AND {quote_name(key)} < %s",
                               (start, start + step)))
    return parts


def _run_part(conn: Any, db: str, part: _Part, want_checksum: bool) -> None:
    table_sql = f"{quote_name(db)}.{quote_name(part.table)}"
    if not want_checksum:
        with conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM {table_sql}{part.where}", part.args)
            part.rows = int(cur.fetchone()[0])
        return
    columns = schema.columns(conn, db, part.table)
    with conn.cursor() as cur:
        cur.execute(f"SELECT COUNT(*), {literals.checksum_sql(columns)} FROM {table_sql}{part.where}", part.args)
        count, raw_sum = cur.fetchone()
    oversize, checksum = divmod(int(raw_sum), literals.OVERSIZE_MARK)
    if oversize:
        checksum += _oversize_checksum(conn, table_sql + part.where, part.args, columns)
    part.rows, part.checksum = int(count), checksum


def _verify(connect_verifier: Callable[[], Any], conn: Any, db: str, manifest: dict[str, TableManifest],
            ways: int) -> int:
    """Compare row counts and checksums of the loaded tables with the manifest; returns total rows.

    The checksum makes the server format every row again, as costly as dumping it: the work is shared
    by ``ways`` connections, so that it runs on as many server threads.
    """
    parts = _verification_parts(conn, db, manifest, ways)
    wanted = {table: bool(entry.checksum and entry.checksum.startswith("crc32sum:"))
              for table, entry in manifest.items()}
    pending = list(reversed(parts))
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        worker_conn = connect_verifier()
        try:
            while not errors:
                with lock:
                    if not pending:
                        return
                    part = pending.pop()
                _run_part(worker_conn, db, part, wanted[part.table])
        except BaseException as exc:  # Raised in the calling thread below.
            errors.append(exc)
        finally:
            worker_conn.close()

    threads = [threading.Thread(target=work, name="synco-verify", daemon=True) for _ in range(max(1, ways))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        if isinstance(errors[0], pymysql.err.MySQLError):
            raise DatabaseError(f"verification of the loaded tables failed: {describe(errors[0])}") from errors[0]
        raise errors[0]
    total = 0
    for table, expected in manifest.items():
        rows = sum(p.rows for p in parts if p.table == table)
        checksum = sum(p.checksum for p in parts if p.table == table)
        total += rows
        if expected.rows >= 0 and rows != expected.rows:
            raise DatabaseError(f"verification failed: table {table!r} has {rows} rows after loading, "
                                f"the source dumped {expected.rows}")
        if wanted[table] and literals.format_checksum(checksum) != expected.checksum:
            raise DatabaseError(f"verification failed: the checksum of table {table!r} differs from the "
                                "source's (values changed in transit or on load)")
    return total


def _oversize_checksum(conn: Any, table_sql: str, args: tuple[int, ...], columns: list[literals.Column]) -> int:
    """The checksum share of rows too big for the server to format, formatted in Python as dumped."""
    sql, fmt = literals.oversize_rows_sql(table_sql, columns)
    total = 0
    with conn.cursor(pymysql.cursors.SSCursor) as cur:
        cur.execute(sql, args)
        for row in cur.fetchall_unbuffered():
            encoded = [value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value for value in row]
            literal = literals.assemble(encoded, fmt)
            total += zlib.crc32(literal or b"")
    return total


def install(database: DatabaseConfig, dump: BinaryIO, options: InstallOptions,
            warn: Callable[[str], None] | None = None) -> InstallResult:
    check_target(database, options, "replace")
    target = database.name
    scratch = derived_name(target, SCRATCH_SUFFIX)
    backup = derived_name(target, BACKUP_SUFFIX)
    admin = connect(database, use_database=False)
    created_target = False
    try:
        # The checksums are computed over formatted values: TIMESTAMPs must be formatted in UTC, as dumped.
        _execute(admin, "SET SESSION time_zone='+00:00'")
        if not _exists(admin, target):
            _execute(admin, f"CREATE DATABASE {quote_name(target)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            created_target = True
        _create_like(admin, scratch, target)
        try:
            rows, tables, rewritten = _load_and_swap(database, admin, dump, options, scratch, backup, warn)
        except BaseException:
            _cleanup(admin, scratch, target if created_target else None)
            raise
        _execute(admin, f"DROP DATABASE IF EXISTS {quote_name(scratch)}")
        return InstallResult(engine="mysql", database=target, tables=tables, rows=rows, backup=backup,
                             rewritten_values=rewritten)
    except pymysql.err.MySQLError as exc:
        raise DatabaseError(f"install into {target!r} on {where(database)} failed: {describe(exc)}") from exc
    finally:
        admin.close()


def _cleanup(admin: Any, scratch: str, created_target: str | None) -> None:
    for db in (scratch, created_target):
        if db:
            try:
                _execute(admin, f"DROP DATABASE IF EXISTS {quote_name(db)}")
            except pymysql.err.MySQLError:
                log.warning("could not drop %s after a failed install", db, exc_info=True)


def _load_and_swap(database: DatabaseConfig, admin: Any, dump: BinaryIO, options: InstallOptions, scratch: str,
                   backup: str, warn: Callable[[str], None] | None) -> tuple[int, int, int | None]:
    def session() -> Any:
        conn = connect(database.replace(name=scratch))
        with conn.cursor() as cur:
            # The same session settings a dump's header sets, in case the dump has no header
            # (a hand-written script); a header overrides them anyway.
            cur.execute("SET SESSION foreign_key_checks=0, SESSION unique_checks=0, SESSION time_zone='+00:00', "
                        "SESSION sql_mode='NO_AUTO_VALUE_ON_ZERO'")
        return conn

    conn = session()
    started = time.monotonic()
    loader = Loader(conn, warn=warn, connect=session, workers=LOAD_WORKERS, rewriter=options.rewriter)
    try:
        report = loader.run(dump)
    finally:
        conn.close()
    log.debug("loaded the dump into %s in %.2fs", scratch, time.monotonic() - started)
    manifest = dict(options.manifest) or report.manifest
    if not manifest:
        # A foreign dump (mysqldump) carries no manifest: count the rows, for the report only.
        manifest = {name: TableManifest(rows=-1) for name, kind in schema.list_tables(admin, scratch) if kind != "VIEW"}
    if loader.values is not None:
        # Rewritten rows are verified against what they were rewritten to.
        manifest = loader.values.adjusted(manifest)
    def verifier() -> Any:
        conn = connect(database.replace(name=scratch))
        with conn.cursor() as cur:
            # Checksums are over formatted values: TIMESTAMPs must be formatted in UTC, as dumped.
            cur.execute("SET SESSION time_zone='+00:00'")
        return conn

    started = time.monotonic()
    rows = _verify(verifier, admin, scratch, manifest, LOAD_WORKERS)
    log.debug("verified %d tables (%d rows) against the manifest in %.2fs", len(manifest), rows,
              time.monotonic() - started)
    # The previous backup is replaced only now that the new content is known to be good.
    started = time.monotonic()
    _create_like(admin, backup, database.name)
    tables = exchange(admin, database.name, scratch, backup)
    log.debug("swapped the new tables into %s in %.2fs", database.name, time.monotonic() - started)
    return rows, tables, loader.values.changed if loader.values is not None else None


def rollback(database: DatabaseConfig, options: InstallOptions) -> InstallResult:
    check_target(database, options, "roll back")
    target = database.name
    backup = derived_name(target, BACKUP_SUFFIX)
    temporary = derived_name(target, SCRATCH_SUFFIX)
    admin = connect(database, use_database=False)
    try:
        if not _exists(admin, backup):
            raise SyncoError(f"nothing to roll back for mysql database {target!r}: no previous content kept "
                             f"({backup!r} does not exist)")
        _create_like(admin, temporary, target)
        tables = exchange(admin, target, backup, temporary)
        if options.discard_replaced:
            for name in (temporary, backup):
                _execute(admin, f"DROP DATABASE IF EXISTS {quote_name(name)}")
            return InstallResult(engine="mysql", database=target, tables=tables, backup=None)
        # What the rollback replaced becomes the kept copy, so a second rollback undoes the first.
        exchange(admin, backup, temporary, temporary)
        _execute(admin, f"DROP DATABASE IF EXISTS {quote_name(temporary)}")
        return InstallResult(engine="mysql", database=target, tables=tables, backup=backup)
    except pymysql.err.MySQLError as exc:
        raise DatabaseError(f"rollback of {target!r} on {where(database)} failed: {describe(exc)}") from exc
    finally:
        admin.close()
