"""The atomic installer: load into a scratch database, verify, swap with one ``RENAME TABLE``.

The dump is loaded into ``db__synco_new`` and its tables are checked against the manifest (row counts
and checksums, computed by the server). Only then does :mod:`synco_core.engines.mysql.swap` move the
tables, with their views, triggers, routines and events, into ``db``, keeping what was there as
``db__synco_prev`` for ``synco db rollback``; that module also makes the swap safe against a kill at
any moment. A failure before the swap drops the scratch database and leaves the target untouched.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

import pymysql

from synco_core.engines import crashpoints, guard
from synco_core.engines.mysql import literals, needed, rowpackets, schema, swap
from synco_core.engines.mysql.connect import connect, describe, quote_name, where
from synco_core.engines.mysql.load import Loader
from synco_core.engines.mysql.swap import BACKUP_SUFFIX, SCRATCH_SUFFIX, derived_name  # noqa: F401 (re-exported)
from synco_core.errors import DatabaseError, SyncoError
from synco_core.nospace import server_full, server_out_of_space
from synco_core.values import DatabaseConfig, InstallOptions, InstallResult, TableManifest

log = logging.getLogger(__name__)

#: Connections executing INSERTs in parallel: the server spreads them over its cores, which is what
#: lets the load beat one ``mariadb`` client feeding one connection.
LOAD_WORKERS = 2
#: Tables bigger than this (and with an integer primary key) are verified in key ranges, in parallel.
VERIFY_SPLIT_BYTES = 8 * 1024 * 1024


def check_target(database: DatabaseConfig, options: InstallOptions, action: str) -> None:
    """The local-target guard and the confirmation, shared by install and rollback."""
    # Before the question: a target named as synco names another target's kept copy is refused outright.
    swap.Names.of(database.name, where(database))
    guard.check_target(database, options, action, "MySQL", where(database),
                       "Its current tables are kept for 'synco db rollback'.")


@dataclass
class _Part:
    """One query of the verification: a table, or a range of its integer primary key."""

    table: str
    #: A condition on the key (numbers written in: nothing goes through the driver's % formatting).
    where: str = ""
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
            parts.append(_Part(table, f"{quote_name(key)} >= {start} AND {quote_name(key)} < {start + step}"))
    return parts


def _run_part(conn: Any, db: str, part: _Part, want_checksum: bool) -> None:
    columns = schema.columns(conn, db, part.table)
    # With the history rows of a system-versioned table: the dump carries them.
    source = schema.row_source(part.table, columns, db)
    where = f" WHERE {part.where}" if part.where else ""
    if not want_checksum:
        with conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM {source}{where}")
            part.rows = int(cur.fetchone()[0])
        return
    with conn.cursor() as cur:
        cur.execute(f"SELECT COUNT(*), {literals.checksum_sql(columns)} FROM {source}{where}")
        count, raw_sum = cur.fetchone()
    oversize, checksum = divmod(int(raw_sum), literals.OVERSIZE_MARK)
    if oversize:
        checksum += _oversize_checksum(conn, source, part.where, columns)
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


def _oversize_checksum(conn: Any, source: str, condition: str, columns: list[literals.Column]) -> int:
    """The checksum share of rows too big for the server to format, formatted in Python as dumped: from
    pieces, a huge value as it comes off the connection (see .widerows), so that none is held whole."""
    sql, fmt = literals.oversize_rows_sql(source, columns, condition)
    total = 0
    for row in rowpackets.stream_rows(conn, sql):
        # PyMySQL's cursor (the fallback) decodes text; the literal is over the bytes.
        values = row if isinstance(row, rowpackets.HugeRow) else [
            value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value for value in row]
        try:
            total += literals.pieces_checksum(literals.streamed_pieces(values, fmt))
        except literals.Unformatted:
            continue
    return total


def install(database: DatabaseConfig, dump: BinaryIO, options: InstallOptions,
            warn: Callable[[str], None] | None = None) -> InstallResult:
    check_target(database, options, "replace")
    names = swap.Names.of(database.name, where(database))
    admin = connect(database, use_database=False)
    try:
        swap.plain_session(admin)
        swap.require_read_write(admin)
        names = swap.Names.on_server(admin, database.name, where(database))
        # The checksums are computed over formatted values: TIMESTAMPs must be formatted in UTC, as dumped.
        swap.execute(admin, "SET SESSION time_zone='+00:00'")
        swap.lock(admin, names.target)
        recovered = swap.recover(admin, names)
        if recovered:
            (warn or log.warning)(recovered[0].upper() + recovered[1:])
        needed.require(admin, names, warn or log.warning)
        swap.require_replaceable(admin, names.target, database.user or "root")
        swap.create_like(admin, names.scratch, names.target)
        try:
            rows, rewritten, enabled = _load_and_verify(database, admin, dump, options, names.scratch, warn)
            # A dump of another dumper (mariadb-dump's) may hold such tables; the target was checked above.
            swap.require_movable(admin, names.scratch)
            crashpoints.reached("mysql:install:loaded")
            started = time.monotonic()
            # The swap keeps the replaced content exactly when there was a target: known before, so that
            # nothing needs asking the server once the swap has committed.
            replaced = swap.exists(admin, names.target)
            if options.before_swap is not None:
                options.before_swap()
            tables = swap.install(admin, names, enabled)
            log.debug("swapped the new tables into %s in %.2fs", names.target, time.monotonic() - started)
        except BaseException as exc:
            dropped = _recover_quietly(database, admin, names)
            if isinstance(exc, Exception) and server_out_of_space(exc):
                raise server_full("MySQL", where(database), names.target, describe(_server_error(exc)),
                                  dropped) from exc
            raise
        backup = names.backup if replaced else None
        return InstallResult(engine="mysql", database=names.target, tables=tables, rows=rows, backup=backup,
                             rewritten_values=rewritten)
    except pymysql.err.MySQLError as exc:
        if names.denied(exc):
            raise DatabaseError(f"user {database.user or 'root'!r} may not install into {names.target!r} on "
                                f"{where(database)}: it lacks {names.needed_grant()}; {describe(exc)}") from exc
        raise DatabaseError(f"install into {names.target!r} on {where(database)} failed: {describe(exc)}") from exc
    finally:
        admin.close()


def _server_error(exc: BaseException) -> BaseException:
    """The driver's error behind ``exc`` (the server's words), else ``exc``."""
    found: BaseException | None = exc
    while found is not None and not isinstance(found, pymysql.err.MySQLError):
        found = found.__cause__
    return found or exc


def _recover_quietly(database: DatabaseConfig, admin: Any, names: swap.Names) -> bool:
    """After a failed install: drop the scratch database (the swap has undone itself, if it had started);
    False when that failed too.

    The failure may be the admin connection itself (reset, killed, timed out): then a new connection, holding
    the target's lock again, cleans up as the next install would, so that no scratch copy of the whole dump
    stays on the server until then. What still fails is one warning line; its traceback only under --debug.
    """
    try:
        swap.recover(admin, names)
        return True
    except (pymysql.err.MySQLError, SyncoError) as exc:
        failure: BaseException = exc
    try:
        fresh = connect(database, use_database=False)
        try:
            swap.plain_session(fresh)
            swap.lock(fresh, names.target)
            swap.recover(fresh, names)
            return True
        finally:
            fresh.close()
    except (pymysql.err.MySQLError, SyncoError, OSError) as exc:
        failure = exc
    log.warning("could not clean up after the failed install into %s (the next install or rollback will): %s",
                names.target, describe(failure) if isinstance(failure, pymysql.err.MySQLError) else failure)
    log.debug("the clean-up's failure", exc_info=failure)
    return False


def _load_and_verify(database: DatabaseConfig, admin: Any, dump: BinaryIO, options: InstallOptions, scratch: str,
                     warn: Callable[[str], None] | None) -> tuple[int, int | None, set[str]]:
    """Load into ``scratch`` and verify it; returns the rows, the number of values the install's rewriter
    changed (None without one) and the events the dump has enabled (held disabled in ``scratch``)."""
    def session() -> Any:
        # The server's defaults, as the mariadb client's session starts: a dump's header sets its own (time zone,
        # foreign and unique checks, sql_mode), and a script without one is read as the client reads it (its
        # TIMESTAMPs in the server's zone, its foreign keys checked and cascading).
        return connect(database.replace(name=scratch))

    conn = session()
    started = time.monotonic()
    loader = Loader(conn, warn=warn, connect=session, workers=LOAD_WORKERS, database=scratch,
                    rewriter=options.rewriter, target=database.name)
    try:
        report = loader.run(dump)
    finally:
        # A statement sent as it was read and then refused (by the gate or the server) left the connection
        # closed: closing it again would replace the error that says why.
        if conn.open:
            conn.close()
    log.debug("loaded the dump into %s in %.2fs", scratch, time.monotonic() - started)
    manifest = dict(options.manifest) or report.manifest
    if not manifest:
        # A foreign dump (mysqldump) carries no manifest: count the rows, for the report only.
        manifest = {name: TableManifest(rows=-1) for name, kind in schema.list_tables(admin, scratch) if kind != "VIEW"}
    if loader.values is not None:
        # Rewritten rows are verified against what they were rewritten to.
        manifest = loader.values.adjusted(manifest)
    manifest = _as_stored(admin, scratch, manifest)
    def verifier() -> Any:
        conn = connect(database.replace(name=scratch))
        with conn.cursor() as cur:
            # Checksums are over formatted values: TIMESTAMPs must be formatted in UTC, as dumped, and under
            # the dump's empty sql_mode (the server's own may be ORACLE, whose CONCAT() skips NULLs).
            cur.execute("SET SESSION time_zone='+00:00', SESSION sql_mode=''")
        return conn

    started = time.monotonic()
    rows = _verify(verifier, admin, scratch, manifest, LOAD_WORKERS)
    log.debug("verified %d tables (%d rows) against the manifest in %.2fs", len(manifest), rows,
              time.monotonic() - started)
    return rows, loader.values.changed if loader.values is not None else None, report.enabled_events


def _as_stored(conn: Any, db: str, manifest: dict[str, TableManifest]) -> dict[str, TableManifest]:
    """The manifest under the names the server stored the tables by.

    A server with ``lower_case_table_names`` 1 (Windows' default) stores ``Users`` as ``users``: the
    application finds its tables either way, but the dump's names are not the stored ones. (Two names
    differing only by case the loader has refused already.)
    """
    if int(schema.query(conn, "SELECT @@lower_case_table_names")[0][0] or 0) == 0:
        return manifest
    stored = {name.lower(): name for name, kind in schema.list_tables(conn, db) if kind != "VIEW"}
    return {stored.get(table.lower(), table): entry for table, entry in manifest.items()}


def _locked_and_recovered(admin: Any, database: DatabaseConfig) -> tuple[swap.Names, str | None]:
    """``admin`` made ready to change ``database``'s copies (a plain session on a server that takes writes),
    the target's names as the server stores them, locked, and what an interrupted command left finished:
    the names, and :func:`swap.recover`'s sentence (None when nothing was left)."""
    swap.plain_session(admin)
    swap.require_read_write(admin)
    names = swap.Names.on_server(admin, database.name, where(database))
    swap.lock(admin, names.target)
    return names, swap.recover(admin, names)


def discard_kept(database: DatabaseConfig, options: InstallOptions) -> None:
    """Drop the kept copy of an earlier install (after finishing what an interrupted command left)."""
    check_target(database, options, "replace")
    names = swap.Names.of(database.name, where(database))
    admin = connect(database, use_database=False)
    try:
        names, recovered = _locked_and_recovered(admin, database)
        if recovered:
            log.warning("%s", recovered[0].upper() + recovered[1:])
        swap.execute(admin, f"DROP DATABASE IF EXISTS {quote_name(names.backup)}")
    except pymysql.err.MySQLError as exc:
        raise DatabaseError(f"cannot drop the kept copy {names.backup!r} on {where(database)}: "
                            f"{describe(exc)}") from exc
    finally:
        admin.close()


def rollback(database: DatabaseConfig, options: InstallOptions) -> InstallResult:
    check_target(database, options, "roll back")
    names = swap.Names.of(database.name, where(database))
    admin = connect(database, use_database=False)
    try:
        names, recovered = _locked_and_recovered(admin, database)
        if recovered is not None or options.repair_only:
            # The database is as it was before the interrupted command: that is what rolling back means now.
            tables = len(swap.content(admin, names.target).tables) if swap.exists(admin, names.target) else 0
            backup = names.backup if swap.exists(admin, names.backup) else None
            return InstallResult(engine="mysql", database=names.target, tables=tables, backup=backup,
                                 note=recovered[0].upper() + recovered[1:] if recovered else "")
        if options.drop_created and not swap.exists(admin, names.backup):
            # The install created the database: nothing was there before it.
            swap.execute(admin, f"DROP DATABASE IF EXISTS {quote_name(names.target)}")
            return InstallResult(engine="mysql", database=names.target, tables=0, backup=None,
                                 note=f"Dropped database {names.target!r}: the install had created it")
        swap.require_replaceable(admin, names.target, database.user or "root", sides=(names.backup,))
        kept = swap.check_kept(admin, names)
        tables = swap.rollback(admin, names, kept, discard=options.discard_replaced)
        return InstallResult(engine="mysql", database=names.target, tables=tables,
                             backup=None if options.discard_replaced else names.backup)
    except pymysql.err.MySQLError as exc:
        if names.denied(exc):
            raise DatabaseError(f"user {database.user or 'root'!r} may not roll back {names.target!r} on "
                                f"{where(database)}: it lacks {names.needed_grant()}; {describe(exc)}") from exc
        raise DatabaseError(f"rollback of {names.target!r} on {where(database)} failed: {describe(exc)}") from exc
    finally:
        admin.close()
