"""Dumping SQLite: a snapshot copy, the rules applied to it, shipped as the file or as SQL.

SQLite's online backup API copies the database into a temporary file. The copy is one consistent
snapshot even while the application keeps writing (the backup runs in a single step under a read
transaction). The dump is shipped either as that database file (format ``sqlite``, the default) or as an
SQL script (format ``sql``, ``synco db dump --sql``) written from the copy.

Filters and sanitising: unlike the server engines, SQLite has no server-side ``SELECT`` stream to put the rules
into when the artifact is the database file itself. The rules are therefore applied with ``UPDATE`` / ``DELETE``
statements to the temporary copy, never to the original, and the copy is then vacuumed with ``secure_delete`` on,
so neither the removed rows nor the replaced values survive in free pages of the file that is shipped. Full-text
indexes the rules reached are rebuilt or emptied first (:mod:`~synco_core.engines.sqlite.ftsindex`), so the words
of a sanitised value do not survive in them. A condition or expression goes into those statements exactly as
written, in parentheses and followed by a line break (so a trailing ``--`` comment ends there), and the statements
run without parameters: ``%``, ``{}``, quotes and backslashes keep their SQL meaning.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from synco_core import hookimpl
from synco_core.engines import crashpoints
from synco_core.engines.sqlite.common import (
    CHUNK,
    ENGINE,
    database_path,
    fingerprint,
    first_problems,
    integrity_status,
    literal,
    quote,
    row_findings,
    user_tables,
    virtual_tables,
)
from synco_core.engines.sqlite.fingerprint import encoding_of
from synco_core.engines.sqlite.ftsindex import index_feeding_triggers, purge_fts_indexes
from synco_core.engines.sqlite.ftsschema import fts_tables
from synco_core.engines.sqlite.rulestaging import RuleStage, Staged
from synco_core.engines.sqlite.schemacheck import first_unloadable, needs_the_application
from synco_core.engines.sqlite.sqlscript import write_script
from synco_core.engines.sqlite.statsamples import drop_samples
from synco_core.engines.sqlite.triggers import triggers_taken_out
from synco_core.errors import ConfigError, DatabaseError, SyncoError
from synco_core.hashkey import new_hash_key
from synco_core.nospace import ELSEWHERE, NoSpaceError, no_space, sqlite_full, temporary_folder
from synco_core.sanitizenulls import generated_column, orphan_rows
from synco_core.scratch import temporary_scratch
from synco_core.tablenames import with_columns_resolved, with_tables_resolved
from synco_core.values import (
    DatabaseConfig,
    DumpOptions,
    DumpResult,
    SanitizeRule,
)

#: MySQL's SHA2() lengths (0 is 256), for expressions written for MySQL that a plugin also runs on SQLite.
_SHA2 = {0: hashlib.sha256, 224: hashlib.sha224, 256: hashlib.sha256, 384: hashlib.sha384, 512: hashlib.sha512}


def sha2(value: object, bits: object) -> str | None:
    """MySQL's ``SHA2(value, bits)``: the lowercase hex digest of the value's UTF-8 bytes (a blob's own bytes),
    NULL for NULL or a length MySQL does not know."""
    algorithm = _SHA2.get(bits) if isinstance(bits, int) else None
    if value is None or algorithm is None:
        return None
    data = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
    return algorithm(data).hexdigest()


def _hasher(encoding: str, key: str) -> Callable[[object, bytes | None], str | None]:
    """``synco_hash(value, text)``: the SHA-256 of the dump's ``key`` followed by a value, given text as its
    bytes (``CAST(.. AS BLOB)``).

    Text reaches the function as bytes: SQLite keeps whatever bytes an application wrote as TEXT, and Python
    refuses to hand a function text that is not UTF-8 (the rule failed on a Latin-1 value). The digest is
    over the UTF-8 bytes, as before and whatever the database's encoding.
    """
    prefix = key.encode()

    def digest(value: object, text: bytes | None) -> str | None:
        if text is not None:
            if encoding != "utf-8":
                text = text.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")
            return hashlib.sha256(prefix + text).hexdigest()
        if value is None:
            return None
        data = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
        return hashlib.sha256(prefix + data).hexdigest()
    return digest


#: How many hex digits of the keyed digest an ``email`` address made from a ``WITHOUT ROWID`` table's key
#: holds (128 bits, as the MySQL and PostgreSQL engines).
EMAIL_DIGEST_DIGITS = 32


def _row_key(conn: sqlite3.Connection, table: str) -> list[str]:
    """What tells the rows of ``table`` apart: its rowid, or a ``WITHOUT ROWID`` table's primary key columns."""
    try:
        conn.execute(f"SELECT rowid FROM {quote(table)} LIMIT 0")
        return ["rowid"]
    except sqlite3.OperationalError:
        columns = sorted((int(row[5]), str(row[1])) for row in conn.execute(f"PRAGMA table_info({quote(table)})")
                         if int(row[5]) > 0)
        return [quote(name) for _, name in columns]


def _rule_expression(rule: SanitizeRule, key: list[str], masked: set[str] | None = None) -> str:
    """The SQL giving ``rule``'s values on a table whose rows ``key`` tells apart and whose columns ``masked``
    (default: the rule's own) the rules rewrite."""
    if rule.transform is None:
        if not rule.expression.strip():
            raise ConfigError(f"sanitize rule for {rule.table}.{rule.column} has neither an expression nor a transform")
        return rule.expression
    transform, _, argument = rule.transform.partition(":")
    column = quote(rule.column)
    if transform == "null":
        return "NULL"
    if transform == "fixed":
        # NULL stays NULL, as in the MySQL and PostgreSQL engines: it holds nothing to hide.
        return f"CASE WHEN {column} IS NULL THEN NULL ELSE {literal(argument)} END"
    if transform == "hash":
        text = f"typeof({column}) = 'text'"
        return (f"synco_hash(CASE WHEN {text} THEN NULL ELSE {column} END, "
                f"CASE WHEN {text} THEN CAST({column} AS BLOB) END)")
    if transform == "truncate":
        try:
            length = int(argument)
        except ValueError as exc:
            raise ConfigError(f"sanitize rule for {rule.table}.{rule.column}: truncate needs a number, "
                              f"got {argument!r}") from exc
        if length < 0:
            # As the MySQL and PostgreSQL engines refuse it (PostgreSQL's left() would keep nearly everything).
            raise ConfigError(f"sanitize rule for {rule.table}.{rule.column}: truncate length must be >= 0")
        return f"substr({column}, 1, {length})"
    if transform == "email":
        # The rowid (the INTEGER PRIMARY KEY when the table has one) or a WITHOUT ROWID table's key is unique.
        # A key a rule masks may be the address itself (a subscribers table keyed by e-mail) or another personal
        # value (a username): written into the address, it shipped what the rules mask; text keys of several
        # columns joined with '-' may join alike. The dump's keyed digest of the key's values (each in hex) is
        # as unique and reveals nothing. A key no rule masks is in the copy anyway: the address keeps it.
        if key == ["rowid"] or (len(key) == 1 and key[0] not in {quote(c) for c in (masked or {rule.column})}):
            unique = key[0]
        else:
            parts = " || '-' || ".join(f"hex({part})" for part in key)
            unique = f"substr(synco_hash(NULL, CAST({parts} AS BLOB)), 1, {EMAIL_DIGEST_DIGITS})"
        return f"CASE WHEN {column} IS NULL THEN NULL ELSE 'user' || {unique} || '@example.invalid' END"
    raise ConfigError(f"unknown sanitize transform {rule.transform!r} for {rule.table}.{rule.column}")


def _apply_rules(conn: sqlite3.Connection, options: DumpOptions) -> list[str]:
    """Apply filters and sanitising to the temporary copy; every table and column named must exist.

    Every filter and rule reads the copy as the snapshot made it (:mod:`.rulestaging`), as the one SELECT of
    MySQL and PostgreSQL reads the source: a rule reading another rule's column reads the source's value."""
    tables = user_tables(conn)
    # A rule's table name as written ("a=b" quoted, a.b) is the table it names from here on; SQLite takes
    # names without regard to ASCII case.
    options = with_tables_resolved(options, tables, ignore_case=True)
    # And so a rule's column, whatever its ASCII case: the rule is spelt as the table spells it.
    options = with_columns_resolved(options, tables.get, "sqlite")

    def check(table: str, what: str, column: str | None = None) -> None:
        if table not in tables:
            raise ConfigError(f"unknown table {table!r} in {what}")
        if column is not None and column not in tables[table]:
            raise ConfigError(f"unknown column {column!r} of table {table!r} in {what}")

    applied: list[str] = []
    #: What each filter or rule does (for an error to name), and its table, in the order they were given.
    causes: list[tuple[str, str]] = []
    # A contentless FTS4 table refuses DELETE: left-out FTS tables are emptied with the other indexes below.
    full_text = {fts.name for fts in fts_tables(conn)}
    for table in options.exclude_tables:
        check(table, "the excluded tables")
        causes.append((f"leaving out the rows of {table}", table))
        applied.append(f"{table}: rows left out (structure only)")
    for table, condition in options.where.items():
        check(table, "--where")
        causes.append((f"the filter {table}: {condition}", table))
        applied.append(f"{table}: only rows where {condition}")
    for table, (column, count) in options.keep_newest.items():
        check(table, "keep_newest", column)
        causes.append((f"keep_newest of {table}", table))
        applied.append(f"{table}: only the newest {int(count)} rows by {column}")
    by_table: dict[str, dict[str, SanitizeRule]] = {}
    for rule in options.sanitize:
        generated = [str(row[1]) for row in conn.execute(f"PRAGMA table_xinfo({quote(rule.table)})")
                     if int(row[6]) in (2, 3) and str(row[1]).lower() == rule.column.lower()
                     ] if rule.table in tables and rule.column not in tables[rule.table] else []
        if generated:
            # A generated column is not among the table's columns (``table_info``): it was named "unknown",
            # where the MySQL and PostgreSQL engines say what it is and what to sanitise instead.
            raise generated_column(dataclasses.replace(rule, column=generated[0]))
        check(rule.table, "the sanitize rules", rule.column)
        by_table.setdefault(rule.table, {})[rule.column] = rule
        causes.append((f"sanitize rule {rule.describe()}", rule.table))
        applied.append(rule.describe())
    if not causes:
        return applied
    conn.create_function("synco_hash", 2, _hasher(encoding_of(conn), new_hash_key()), deterministic=True)
    conn.create_function("sha2", 2, sha2, deterministic=True)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("PRAGMA secure_delete = ON")
    excluded = set(options.exclude_tables)
    stage = RuleStage(conn)
    try:
        conn.execute("BEGIN")
        staged: dict[str, Staged] = {}
        # First everything is read, from the copy as the snapshot made it.
        for table in [*options.where, *options.keep_newest, *by_table]:
            if table in excluded or table in staged:
                continue
            staged[table] = Staged(table, _row_key(conn, table))
            kept_where = options.where.get(table)
            newest = options.keep_newest.get(table)
            if kept_where is None and newest is None:
                continue
            # The row key breaks ties (highest first, as in the other engines), so which of the rows sharing the
            # last kept value stay does not hang on the query plan.
            ties = ", ".join(f"{quote(table)}.{part} DESC" for part in staged[table].key)
            with _named(f"keep_newest of {table}" if kept_where is None else f"the filter {table}: {kept_where}"):
                stage.keep(staged[table], kept_where, newest, ties)
        for table, rules in by_table.items():
            if table in excluded:
                continue
            key = staged[table].key
            values = [(column, _rule_expression(rule, key, set(rules))) for column, rule in rules.items()]
            try:
                stage.compute(staged[table], values)
            except sqlite3.Error as exc:
                raise _failed_rule(conn, table, rules, values, exc) from exc
        # The rows change as the rules say and in no other way: the database's triggers are taken out for
        # them (docs/engines.md), but for those keeping a full-text index in step with its table.
        # Foreign keys are not enforced while the rules run (nor, by default, where the copy is opened): a key
        # the rules leave pointing at a row the copy does not hold is found by comparing the keys broken
        # before and after them (a source may already hold some).
        keyed = conn.execute("SELECT 1 FROM sqlite_master s, pragma_foreign_key_list(s.name) "
                             "WHERE s.type = 'table' LIMIT 1").fetchone() is not None
        broken = set(conn.execute("PRAGMA foreign_key_check").fetchall()) if keyed else set()
        with triggers_taken_out(conn, keep=index_feeding_triggers(conn)):
            for table in options.exclude_tables:
                if table not in full_text:
                    with _named(f"leaving out the rows of {table}"):
                        conn.execute(f"DELETE FROM {quote(table)}")
            for table, plan in staged.items():
                if plan.kept is not None:
                    with _named(f"the filter of {table}"):
                        conn.execute(stage.delete_statement(plan))
            for table, plan in staged.items():
                if plan.values is not None:
                    _write_values(conn, stage, plan, by_table[table])
        if keyed:
            _refuse_orphans(conn, broken, causes)
        stage.drop()
        conn.execute("COMMIT")
    except ConfigError:
        _roll_back(conn)
        raise
    except sqlite3.Error as exc:
        _roll_back(conn)
        raise ConfigError(f"a filter or sanitize rule failed on the SQLite copy: {exc}") from exc
    # The words of what the rules removed are still in the full-text indexes over it.
    touched = [*options.exclude_tables, *options.where, *options.keep_newest, *(r.table for r in options.sanitize)]
    conn.execute("BEGIN")
    applied.extend(purge_fts_indexes(conn, touched, options.exclude_tables))
    # And their values in the index statistics' samples (:mod:`.statsamples`).
    applied.extend(drop_samples(conn, touched))
    conn.execute("COMMIT")
    # Rebuild the file so no page still holds a removed row or an original value.
    _vacuum_keeping_rowids(conn)
    return applied


@contextlib.contextmanager
def _named(what: str) -> Iterator[None]:
    """One step of the rules, an error named by what it does."""
    try:
        yield
    except sqlite3.Error as exc:
        raise ConfigError(f"{what} failed on the SQLite copy: {exc}") from exc


def _failed_rule(conn: sqlite3.Connection, table: str, rules: dict[str, SanitizeRule],
                 values: list[tuple[str, str]], exc: sqlite3.Error) -> ConfigError:
    """The error of a table's rules whose values could not be read: naming the first rule whose expression
    fails alone (all of them when none does)."""
    failing = list(rules.values())
    for column, expression in values:
        try:
            conn.execute(f"SELECT ({expression}\n) FROM {quote(table)}").fetchall()
        except sqlite3.Error as each:
            failing, exc = [rules[column]], each
            break
    return ConfigError(f"{'; '.join(f'sanitize rule {r.describe()}' for r in failing)} failed on the SQLite copy: "
                       f"{exc}")


def _virtual(conn: sqlite3.Connection, table: str) -> bool:
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    return row is not None and str(row[0] or "").upper().startswith("CREATE VIRTUAL")


def _write_values(conn: sqlite3.Connection, stage: RuleStage, plan: Staged, rules: dict[str, SanitizeRule]) -> None:
    """Write a table's rule values in one ``UPDATE``: the constraints see a row's new values all at once.

    The copy holds the table's constraints (NOT NULL, UNIQUE, CHECK): a value they refuse would have made a
    database no load accepts. The rule named is the first whose values alone are refused, else all of them.
    """
    conn.execute("SAVEPOINT synco_rules")
    try:
        conn.execute(stage.update_statement(plan))
        conn.execute("RELEASE synco_rules")
        return
    except sqlite3.IntegrityError as exc:
        conn.execute("ROLLBACK TO synco_rules")
        refused = exc
    except sqlite3.Error as exc:
        conn.execute("ROLLBACK TO synco_rules")
        conn.execute("RELEASE synco_rules")
        raise ConfigError(f"{'; '.join(f'sanitize rule {r.describe()}' for r in rules.values())} failed on the "
                          f"SQLite copy: {exc}") from exc
    if str(refused).startswith("UNIQUE constraint failed") and not _virtual(conn, plan.table):
        # A key met as the UPDATE went, or in the copy's values? Rows put back afresh meet only the latter.
        try:
            stage.rewrite(plan)
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK TO synco_rules")
            if isinstance(exc, sqlite3.IntegrityError):
                refused = exc
        else:
            conn.execute("RELEASE synco_rules")
            return
    culprits = list(rules.values())
    for column, rule in rules.items():
        try:
            conn.execute(stage.update_statement(plan, [column]))
        except sqlite3.IntegrityError as exc:
            culprits, refused = [rule], exc
            break
        finally:
            conn.execute("ROLLBACK TO synco_rules")
    conn.execute("RELEASE synco_rules")
    what = "; ".join(f"sanitize rule {rule.describe()}" for rule in culprits)
    raise ConfigError(f"{what} gives values the table's constraints refuse ({refused}): the copy could not be "
                      "loaded") from refused


def _roll_back(conn: sqlite3.Connection) -> None:
    """``ROLLBACK`` unless SQLite has rolled back already: it does so itself after some errors (a full disk), and
    "cannot rollback - no transaction is active" then stood in the error's place."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _refuse_orphans(conn: sqlite3.Connection, broken: set[tuple[object, ...]],
                    causes: list[tuple[str, str]]) -> None:
    """Stop on a row of the copy whose foreign key points at a row the rules left out or rewrote (``broken``:
    what ``PRAGMA foreign_key_check`` found before them)."""
    for row in conn.execute("PRAGMA foreign_key_check"):
        if tuple(row) in broken:
            continue
        child, _, parent, number = row
        keys = [key for key in conn.execute(f"PRAGMA foreign_key_list({quote(child)})") if key[0] == number]
        columns = [str(key[3]) for key in keys]
        named = [what for what, table in causes if table == parent]
        named += [what for what, table in causes if table == child]
        cause = named[0] if named else "the filters and rules"
        raise orphan_rows(cause, child, columns, parent, f"{child}({', '.join(columns)}) REFERENCES {parent}")


def _vacuum_keeping_rowids(conn: sqlite3.Connection) -> None:
    """``VACUUM``, without renumbering the rows of a table that has neither an INTEGER PRIMARY KEY nor an index.

    VACUUM copies such a table with new rowids (1, 2, 3...), which changed data: an FTS index over the table
    (``content=``), or anything else holding its rowids, then pointed at other rows. It keeps the rowids of a
    table with an index, so each such table gets an empty one (``WHERE 0``: no entries) for the VACUUM, which
    is dropped again (its one empty page stays free, zeroed by ``secure_delete``).
    """
    added: list[str] = []
    taken = {str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master")}
    tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND rootpage > 0 "
                          "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name").fetchall()
    for number, (table,) in enumerate(tables):
        info = list(conn.execute(f"PRAGMA table_info({quote(table)})"))
        keys = [row for row in info if int(row[5]) > 0]
        if len(keys) == 1 and str(keys[0][2]).upper() == "INTEGER":
            continue  # the rowid is a column: kept
        try:
            conn.execute(f"SELECT rowid FROM {quote(table)} LIMIT 0")
        except sqlite3.OperationalError:
            continue  # WITHOUT ROWID (or every rowid name is a column: VACUUM keeps the key then)
        name = f"synco_keep_rowid_{number}"
        while name in taken:
            name += "_"
        conn.execute(f"CREATE INDEX {quote(name)} ON {quote(table)} ({quote(str(info[0][1]))}) WHERE 0")
        added.append(name)
    conn.execute("VACUUM")
    for name in added:
        conn.execute(f"DROP INDEX {quote(name)}")


#: SQLITE_READONLY_ROLLBACK: a read-only connection found a hot journal it may not roll back.
_READONLY_ROLLBACK = 776
#: SQLITE_BUSY and SQLITE_LOCKED, as a step of the backup reports them (``sqlite3.SQLITE_BUSY`` needs 3.11).
_BUSY = (5, 6)
#: How long the dump waits for a writer that keeps the source locked, in s: a write transaction in
#: rollback-journal mode holds its exclusive lock from its first spill to disk (or ``BEGIN EXCLUSIVE``) to
#: its commit, and a connection in ``locking_mode=EXCLUSIVE`` for as long as it is open. Python's backup
#: retries a busy step for ever, without a word.
BUSY_SECONDS = 30


class _StillLocked(Exception):
    """Raised from the backup's progress callback to stop a backup that waited too long for the source."""


def _hot_journal(source: Path, exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return bool(code == _READONLY_ROLLBACK)
    return "readonly" in str(exc) and os.path.exists(f"{source}-journal")


#: SQLite's primary result code for a file it cannot open (the stubs do not list the constant).
_CANTOPEN = 14
#: Bytes 18 and 19 of a SQLite file's header: 2 and 2 in write-ahead-log mode.
_WAL_HEADER = b"\x02\x02"


def _shm_out_of_reach(source: Path, exc: sqlite3.Error) -> str | None:
    """Why a database in write-ahead-log mode could not be opened for reading, when the cause is that SQLite
    must create ``<db>-shm`` beside it and this user may not (the folder belongs to the application's user, or
    is mounted read-only): "unable to open database file" alone said nothing of it. None for other causes."""
    if getattr(exc, "sqlite_errorcode", 0) & 0xFF != _CANTOPEN or Path(f"{source}-shm").exists():
        return None
    try:
        with source.open("rb") as header:
            header.seek(18)
            if header.read(2) != _WAL_HEADER:
                return None
    except OSError:
        return None
    folder = source.resolve().parent
    read_only_mount = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    if not read_only_mount and os.access(folder, os.W_OK):
        return None
    where = "is on a read-only mount" if read_only_mount else "may not be written by this user"
    return (f"it is in write-ahead-log mode, and SQLite reads such a database only by creating {source.name}-shm "
            f"beside it, but {folder} {where}; run synco as a user who may write there (the application's), or "
            "switch the database to PRAGMA journal_mode=DELETE")


def _back_up(source: Path, copy: sqlite3.Connection) -> bool:
    """Copy ``source`` into ``copy``; True when the source is in write-ahead-log mode.

    The source is opened read-only, but a writer that crashed mid-transaction leaves a hot journal that
    only a connection allowed to write may roll back (and must, before anything is read): the dump failed
    with "attempt to write a readonly database" until the application touched the database again. Then
    the source is opened as the application opens it, and SQLite rolls the journal back, as the
    application's next connection would have.
    """
    deadline = time.monotonic() + BUSY_SECONDS

    def give_up_when_busy(status: int, remaining: int, total: int) -> None:
        if status in _BUSY and time.monotonic() >= deadline:
            raise _StillLocked

    for read_only in (True, False):
        try:
            src = sqlite3.connect(f"{source.resolve().as_uri()}{'?mode=ro' if read_only else ''}", uri=True,
                                  timeout=BUSY_SECONDS)
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open SQLite database {source}: {exc}") from exc
        try:
            # One step (pages=-1) copies the whole database under a single read transaction: a snapshot.
            src.backup(copy, pages=-1, progress=give_up_when_busy)
            return str(src.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"
        except _StillLocked:
            raise DatabaseError(f"cannot back up SQLite database {source}: another connection has kept it locked for "
                                f"more than {BUSY_SECONDS} s (a write transaction of the application that has not "
                                "committed, or one in locking_mode=EXCLUSIVE); run the dump again when it lets go"
                                ) from None
        except sqlite3.Error as exc:
            if read_only and (reason := _shm_out_of_reach(source, exc)) is not None:
                raise DatabaseError(f"cannot read SQLite database {source}: {reason}") from exc
            if not (read_only and _hot_journal(source, exc)):
                raise DatabaseError(f"cannot back up SQLite database {source}: {exc}") from exc
        finally:
            src.close()
    raise AssertionError("unreachable")  # pragma: no cover


@contextlib.contextmanager
def _snapshot(source: Path) -> Iterator[tuple[sqlite3.Connection, Path, bool]]:
    """A consistent private copy of ``source`` made with the online backup API, removed afterwards, and
    whether the source is in write-ahead-log mode."""
    if not source.is_file():
        raise ConfigError(f"SQLite database not found: {source}")
    # In a scratch folder of its own (with its journal): a plaintext copy of the database that a kill -9 left
    # behind is removed by the next synco run instead of staying in the temporary folder.
    with temporary_scratch() as scratch:
        temp = scratch.path / "snapshot.db"
        copy: sqlite3.Connection | None = None
        try:
            copy = sqlite3.connect(temp, isolation_level=None)
            wal = _back_up(source, copy)
            # Worked on as one file: no write-ahead log beside it until it is shipped.
            copy.execute("PRAGMA journal_mode = DELETE")
            crashpoints.reached("sqlite:dump:copied")
            yield copy, temp, wal
        finally:
            if copy is not None:
                copy.close()


def _check_whole(copy: sqlite3.Connection, source: Path) -> None:
    """Refuse to ship a database file that the install's ``PRAGMA integrity_check`` would refuse.

    An index that lost a row (a damaged file, or one written with ``PRAGMA writable_schema``) reads back
    as well as ever, so the dump went through and only the install found it: a dump that never loads.
    The SQL form rebuilds every index from the rows, so it is not refused.
    """
    status = integrity_status(copy, "integrity_check(1)")
    if status != ["ok"]:
        raise DatabaseError(f"SQLite database {source} fails PRAGMA integrity_check ({first_problems(status)}), so "
                            "its copy would not load; repair it (REINDEX, or the sqlite3 shell's .recover) or dump it "
                            "with --sql, which rebuilds the indexes")


def _numeric_affinity(declared: str) -> bool:
    """Whether a column so declared has INTEGER or NUMERIC affinity (SQLite's rules, in their order)."""
    upper = declared.upper()
    if "INT" in upper:
        return True
    return not any(part in upper for part in ("CHAR", "CLOB", "TEXT", "BLOB", "REAL", "FLOA", "DOUB")) and bool(upper)


def _whole_reals_under_numeric_types(copy: sqlite3.Connection) -> list[str]:
    """The columns of INTEGER or NUMERIC affinity holding a whole REAL (3.0), in integrity_check's words.

    An INSERT would store it as an INTEGER (above -2**63, which stays REAL, and below 2**63); only a tool
    editing the column's type in sqlite_master leaves one there, and SQLite's integrity_check does not report
    it (it does report the other values a type would convert). STRICT tables keep what they hold, and their
    ANY columns convert nothing.
    """
    try:
        strict = {str(row[1]) for row in copy.execute("PRAGMA table_list") if row[0] == "main" and row[5]}
    except sqlite3.DatabaseError:
        strict = set()  # before SQLite 3.37, which has no STRICT tables
    virtual = virtual_tables(copy)
    found: list[str] = []
    for table in user_tables(copy):
        if table in strict or table in virtual:
            continue
        columns = [str(row[1]) for row in copy.execute(f"PRAGMA table_xinfo({quote(table)})")
                   if int(row[6]) == 0 and _numeric_affinity(str(row[2] or ""))]
        tests = {column: (f"(typeof({quote(column)}) = 'real' AND {quote(column)} = CAST({quote(column)} AS INTEGER)"
                         f" AND {quote(column)} > -9223372036854775808)")
                 for column in columns}
        if not tests or not copy.execute(  # one read of the table, and one per column only where it found one
                f"SELECT 1 FROM {quote(table)} WHERE {' OR '.join(tests.values())} LIMIT 1").fetchone():
            continue
        found += [f"REAL value in {table}.{column}" for column, test in tests.items()
                  if copy.execute(f"SELECT 1 FROM {quote(table)} WHERE {test} LIMIT 1").fetchone()]
    return found


def _check_loads_as_sql(copy: sqlite3.Connection, source: Path) -> None:
    """Refuse an SQL dump whose schema would not load without the application's collations or functions
    (the dump went through, and the load failed on the first such table)."""
    status = [str(row[0]) for row in copy.execute("PRAGMA quick_check")]
    refused = row_findings(status) + _whole_reals_under_numeric_types(copy)
    if refused:
        raise DatabaseError(f"cannot dump SQLite database {source} as SQL: it holds values its own schema refuses "
                            f"({first_problems(refused)}; a tool edited sqlite_master over them), which a script "
                            "cannot load; the database file (without --sql) carries them")
    found = first_unloadable(copy)
    if found is not None:
        kind, name, error = found
        raise DatabaseError(f"cannot dump SQLite database {source} as SQL: the {kind} {name!r} would not load "
                            f"({error}; only the application registers it); the database file (without --sql) "
                            "carries it unless an index or a CHECK needs it")


def _unreadable(copy: sqlite3.Connection, source: Path, exc: sqlite3.Error, table: str | None) -> DatabaseError:
    """The error for a copy SQLite could not check or read: naming the object that needs what only the
    application registers, where that is the reason (SQLite names only the collation or function)."""
    found = first_unloadable(copy) if needs_the_application(exc) else None
    if found is not None:
        kind, name, error = found
        return DatabaseError(f"cannot dump SQLite database {source}: the {kind} {name!r} needs what only the "
                             f"application registers ({error}), without which SQLite can neither check nor read it")
    where = f"table {table!r} of " if table is not None else ""
    return DatabaseError(f"cannot read {where}SQLite database {source}: {exc}")


@hookimpl(trylast=True)
def dump_database(database: DatabaseConfig, out: BinaryIO, options: DumpOptions) -> DumpResult | None:
    if database.engine != ENGINE:
        return None
    source = database_path(database)
    try:
        return _dump(source, out, options)
    except (SyncoError, sqlite3.Error) as exc:
        # Only SQLite's own writes go to the private copy (and SQLite's temporary files, also in TMPDIR); a
        # write to ``out`` that found no room is its writer's to name.
        if not sqlite_full(exc):
            raise
        raise _copy_does_not_fit(source, options) from exc


def _copy_does_not_fit(source: Path, options: DumpOptions) -> NoSpaceError:
    """The private copy in TMPDIR found no room: the database's size there, twice over when rules apply (the
    VACUUM that removes what they took out writes a second copy)."""
    size = sum(os.path.getsize(path) for path in (source, Path(f"{source}-wal")) if os.path.isfile(path))
    rules = bool(options.exclude_tables or options.where or options.keep_newest or options.sanitize)
    what = f"the private copy of SQLite database {source} that is dumped"
    return no_space(temporary_folder(), what + (" (and the VACUUM after its rules)" if rules else ""),
                    size * (2 if rules else 1), ELSEWHERE)


def _dump(source: Path, out: BinaryIO, options: DumpOptions) -> DumpResult:
    with _snapshot(source) as (copy, temp, wal):
        table = None
        try:
            if options.format == "sql":
                _check_loads_as_sql(copy, source)
            else:
                _check_whole(copy, source)
            applied = _apply_rules(copy, options)
            manifest = {}
            virtual = virtual_tables(copy)
            for table in user_tables(copy):
                try:
                    manifest[table] = fingerprint(copy, table)
                except sqlite3.OperationalError:
                    if table not in virtual:
                        raise
                    # Its module, tokenizer or FTS4 compress functions are the application's: the virtual
                    # table is left out of the manifest, its shadow tables (in it) hold all it has.
        except sqlite3.DatabaseError as exc:
            raise _unreadable(copy, source, exc, table) from exc
        version = sqlite3.sqlite_version
        if options.format == "sql":
            write_script(copy, out, wal)
            fmt = "sql"
        else:
            if wal:
                # The mode is kept in the header (an application may have set it once, and relies on it);
                # closing the only connection folds the log back in and removes it: the file is whole.
                copy.execute("PRAGMA journal_mode = WAL")
            copy.close()
            with temp.open("rb") as fh:
                shutil.copyfileobj(fh, out, CHUNK)
            fmt = "sqlite"
    return DumpResult(engine=ENGINE, wire_type="SqliteDump", format=fmt, server_version=version,
                      tables=manifest, applied_rules=applied)
