"""Executing a dump's statements on a connection, with the rewrites a local load needs.

- ``USE``, ``CREATE DATABASE`` and ``DROP DATABASE`` are skipped: everything goes into the scratch
  database the installer chose. The source database's default character set and collation become the
  scratch database's (and are reported for a target the install creates); ``ALTER DATABASE`` applies to
  the scratch database.
- Names qualified with the source database (``src.trg ON src.t``, ``nextval(src.seq)`` ...) are pointed at
  the database loaded into (:mod:`.qualify`), each statement read in the character set and sql_mode the
  session has when it runs.
- ``DEFINER=`` clauses are removed (creating objects for another user needs SUPER), and named in one warning at
  the end: the loading user defines those objects.
- On MariaDB, MySQL 8 collations it does not know (``utf8mb4_0900_ai_ci`` ...) are mapped to the nearest
  one it has, with one warning per collation; MySQL-8-only executable comments (``/*!80016 ...*/``) are
  dropped, since MariaDB would execute them (its version number is higher) and fail.

Data statements (INSERT, REPLACE) are sent untouched, unless the install has a value rewriter (a plugin's
``value_rewriter``): then the ones holding its needles go through :mod:`synco_core.engines.rewrite.mysql`.

A script without a dump's header (hand-written, an application's schema) runs as the mariadb client runs it:
in the session the server gives (the install sets nothing), one statement after the other on one connection.

Speed: the dump is read and split in a thread of its own; ``INSERT ... VALUES`` statements of a dump go to worker
connections (:mod:`.loadthreads`), each committed on its own, while DDL runs on the main connection (one
transaction per table was no faster and cost the server more CPU: docs/performance.md). A table's INSERTs
are spread over all workers once its first one is done; ``INSERT IGNORE`` keeps the first of two
duplicates, so a table that has one loads on one worker, in dump order. Anything that may read rows or
change how they are written (INSERT ... SELECT, triggers, unknown statements) waits for every row before
it (a barrier); after a trigger is created, everything runs in order on the main connection.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import pymysql

from synco_core import hostilejson
from synco_core.engines.mysql import autocommit, insertsplit, qualify, rowformat
from synco_core.engines.mysql.connect import describe
from synco_core.engines.mysql.dump import (
    COMPLETE_MARKER,
    DATABASE_PREFIX,
    DEFAULTS_PREFIX,
    HEADER_MARKER,
    MANIFEST_PREFIX,
)
from synco_core.engines.mysql.gate import StatementGate, check_session, session_letters
from synco_core.engines.mysql.insertsplit import split_read_rows, split_rows
from synco_core.engines.mysql.loadthreads import (
    AnyStatement,
    InsertWorker,
    StatementReader,
    barrier,
    preview,
    raise_worker_error,
    send,
    settings_key,
    statement_error,
)
from synco_core.engines.mysql.requirements import fits_packet, packet_fix
from synco_core.engines.mysql.schema import definer, event_exists, kept_event, strip_definer, text
from synco_core.engines.mysql.splitter import (
    SpooledStatement,
    Statement,
    StatementSplitter,
    StreamedStatement,
    head_of,
    unwrapped,
)
from synco_core.engines.rewrite.mysql import InsertRewriter
from synco_core.errors import DatabaseError
from synco_core.values import TableManifest, ValueRewriter

log = logging.getLogger(__name__)

_SKIPPED = re.compile(
    rb"^(?:/\*!\d*\s*)?(?:USE\b|(?:CREATE|DROP)\s+(?:/\*!\d+\s*)?(?:DATABASE|SCHEMA)\b)", re.IGNORECASE)
_IDENTIFIER = rb"(?:`((?:[^`]|``)+)`|([\w$]+))"
_USE = re.compile(rb"^(?:/\*!\d*\s*)?USE\s+" + _IDENTIFIER, re.IGNORECASE)
_CREATE_DATABASE = re.compile(rb"^(?:/\*!\d*\s*)?CREATE\s+(?:/\*!\d+\s*)?(?:DATABASE|SCHEMA)\s+"
                              rb"(?:/\*!\d+\s*)?(?:IF\s+NOT\s+EXISTS\s*)?(?:\*/\s*)?" + _IDENTIFIER, re.IGNORECASE)
_CHARSET = re.compile(rb"\bCHARACTER\s+SET\s*=?\s*(\w+)|\bCHARSET\s*=?\s*(\w+)", re.IGNORECASE)
_COLLATE = re.compile(rb"\bCOLLATE\s*=?\s*(\w+)", re.IGNORECASE)
#: A ``CREATE DATABASE``'s comment (MariaDB 10.5), as the statement quotes it.
_DATABASE_COMMENT = re.compile(rb"\bCOMMENT\s*=?\s*(?:'(?:[^'\\]|''|\\.)*'|\"(?:[^\"\\]|\"\"|\\.)*\")",
                               re.IGNORECASE | re.DOTALL)
_ALTER_DATABASE = re.compile(rb"^((?:/\*!\d*\s*)?ALTER\s+(?:DATABASE|SCHEMA)\s+)" + _IDENTIFIER
                             + rb"(?=\s+(?:DEFAULT|CHARACTER|CHARSET|COLLATE|COMMENT|UPGRADE)\b)", re.IGNORECASE)
#: mariadb-dump's header: ``-- Host: localhost    Database: shop``.
_CLIENT_HEADER = re.compile(rb"^-- Host: .*?\sDatabase: (.+?)\s*$")
#: The first line of a mariadb-dump or mysqldump script (``-- MariaDB dump 10.19  Distrib ...``).
_DUMP_HEADER = re.compile(rb"^-- (?:MariaDB|MySQL) dump \d")
_NEVER = re.compile(rb"^/\*M?!999999[\s\S]*?\*/\s*")
_DATA = re.compile(rb"^(?:INSERT|REPLACE)\b", re.IGNORECASE)
_MYSQL8_COMMENT = re.compile(rb"/\*!80\d{3}[\s\S]*?\*/")
_COLLATION = re.compile(rb"\b(utf8mb[34]|utf8)_([a-z0-9_]*?)0900_([a-z_]+)\b", re.IGNORECASE)


#: The longest statement without a size hint held whole in memory: one that cannot be sent as it is read (it
#: must be cut between its rows for the server's max_allowed_packet, its values are rewritten, or it is not a
#: plain INSERT the gate can check as it goes out). Longer ones are refused in one line (docs/engines.md).
HELD_LIMIT = 256 << 20


_QUOTE = re.compile(r"['\"]")
_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def _version_number(version: str) -> int:
    """``10.11.6-MariaDB-...`` as an executable comment's number (101106); 0 when it is not read so."""
    found = _VERSION.match(version)
    if found is None:
        return 0
    major, minor, patch = (int(part) for part in found.groups())
    return major * 10000 + minor * 100 + patch


def _before_values(shown: str) -> str:
    """What a message may show of a statement: up to its first quoted string (a literal is the dump's data)."""
    return _QUOTE.split(shown, maxsplit=1)[0].rstrip()


def _held_reason(cut: bool, rewritten: bool) -> str:
    if cut:
        return "longer than the server's max_allowed_packet (it would be cut between its rows)"
    if rewritten:
        return "its values are rewritten by the load's rules"
    return "not a plain INSERT that can be checked as it is sent"


@dataclass
class LoadReport:
    """What a load did and what the dump said about itself."""

    statements: int = 0
    skipped: int = 0
    #: The manifest written by synco's dumper (empty for other dumps).
    manifest: dict[str, TableManifest] = field(default_factory=dict)
    synco_dump: bool = False
    complete: bool = False
    warnings: list[str] = field(default_factory=list)
    #: The database the dump was made from, when it says.
    source_database: str | None = None
    #: The source database's default character set and collation, when the dump says.
    database_defaults: tuple[str, str] | None = None
    #: The source database's COMMENT, when the dump gives one.
    database_comment: str = ""
    #: Events the dump creates enabled: they are held disabled in the scratch database (:meth:`Loader._hold`).
    enabled_events: set[str] = field(default_factory=set)


def map_collation(match: re.Match[bytes], known: set[str], warned: set[str],
                  warn: Callable[[str], None]) -> bytes:
    """The nearest collation the server knows for a MySQL 8 ``*_0900_*`` collation."""
    original = match.group(0).decode()
    if original.lower() in known:
        return match.group(0)
    charset = "utf8mb4" if match.group(1).lower() == b"utf8mb4" else "utf8mb3"
    sensitivity = match.group(3).decode().lower()
    # The collation chosen must tell apart every two values the source's does, or a unique key that held there
    # refuses a row half-way through the load ('e' and 'é' under as_ci, 'a' and 'A' under as_cs_ks, 'a' and 'a '
    # under all of them: MySQL 8's are NO PAD). Accent- and case-insensitive ones map to the newest Unicode
    # collation MariaDB 10.x has, which ignores both; any that tells accents, case or kana apart to the binary
    # one; each NO PAD where the server has it (MariaDB 10.2 and later).
    choices = ([f"{charset}_unicode_520_nopad_ci", f"{charset}_unicode_520_ci"] if sensitivity == "ai_ci"
               else [f"{charset}_nopad_bin", f"{charset}_bin"])
    target = next((name for name in choices if name in known), choices[-1])
    if original not in warned:
        warned.add(original)
        warn(f"collation {original} is unknown to this server; using {target} instead")
    return target.encode()


def _name(match: re.Match[bytes]) -> str:
    quoted, bare = match.group(1), match.group(2)
    name = quoted.replace(b"``", b"`") if quoted is not None else bare
    return name.decode("utf-8", "surrogateescape")


def _header_object(text: bytes, what: str) -> dict[str, Any]:
    """The JSON object of one of synco's header comments; the dump is the server's to write, so anything else
    (not JSON, nested a thousand deep, a list) is a damaged dump in one line, before any statement is sent."""
    try:
        entry = hostilejson.loads(text)
    except ValueError:
        entry = None
    if not isinstance(entry, dict):
        raise DatabaseError(f"the dump is damaged: its {what} line is not a JSON object")
    return entry


class Loader:
    """Runs the statements of one dump on ``conn``, connected to ``database`` (the scratch database)."""

    def __init__(self, conn: Any, *, warn: Callable[[str], None] | None = None,
                 connect: Callable[[], Any] | None = None, workers: int = 1, database: str | None = None,
                 rewriter: ValueRewriter | None = None, target: str | None = None) -> None:
        self.conn = conn
        #: The database loaded into: names qualified with the source database are pointed at it.
        self.database = database
        #: Rewrites string values of data statements (``InstallOptions.rewriter``), see engines/rewrite/mysql.
        self.values = InsertRewriter(rewriter) if rewriter is not None else None
        #: Opens another connection to the same database, for the parallel INSERT workers.
        self.connect = connect
        self.workers = workers
        self.report = LoadReport()
        self.warn = warn or (lambda message: log.warning("%s", message))
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            version = str(cur.fetchone()[0])
            cur.execute("SELECT @@max_allowed_packet")
            self.max_packet = int(cur.fetchone()[0])
            cur.execute("SHOW COLLATION")
            self.known_collations = {str(row[0]).lower() for row in cur.fetchall()}
            cur.execute("SELECT @@lower_case_table_names")
            self.case_setting = int(cur.fetchone()[0])
            self.case_insensitive = self.case_setting != 0
            cur.execute("SHOW DATABASES")
            databases = [str(row[0]) for row in cur.fetchall()]
            cur.execute("SHOW GLOBAL VARIABLES LIKE 'innodb\\_default\\_row\\_format'")
            found = cur.fetchone()
        #: The row format an InnoDB table takes here when its CREATE TABLE names none ('' on a server without).
        self.default_row_format = text(found[1]) if found else ""
        #: Under ``lower_case_table_names``: the tables and views created so far, by their names in lower case.
        self._created: dict[str, str] = {}
        # The dump comes from the session, which may be hostile: it may create and fill the database it is
        # loaded into, and reach nothing else of the local server (see gate.py).
        self.gate = StatementGate([name for name in (database, target) if name], databases)
        charset, mode = check_session(conn, 0)
        self.gate.observe(charset, mode, session_letters(conn, charset))
        self._initial_mode = mode
        #: The session's settings the workers must share, as the server last reported them (:meth:`_observe`).
        self._state = settings_key(conn)
        #: The script is a dump (synco's or mariadb-dump's header): its rows may go to the worker connections.
        self._dump = False
        #: User variables (lower case, with their ``@``) the main connection may hold otherwise than the workers,
        #: and whether anything ran here that may have set any (:meth:`_reads_session`).
        self._variables: set[bytes] = set()
        self._any_variable = False
        #: The first statement since the workers were last verified that may have set their sessions otherwise
        #: than this one's (0: none); they are verified before their next row.
        self._unverified = 0
        self.is_mariadb = "mariadb" in version.lower()
        #: The server's version as executable comments number it (10.11.6: 101106), 0 where it is unreadable.
        self.version = _version_number(version)
        self._warned: set[str] = set()
        #: The DEFINER clauses left out, and how many objects named each (for the note at the end).
        self._definers: dict[str, int] = {}
        #: Database defaults read from a comment, to apply before the next statement.
        self._defaults_pending = False
        self._splitter: StatementSplitter | None = None

    def _comment(self, line: bytes) -> None:
        if line.startswith(HEADER_MARKER):
            self.report.synco_dump = self._dump = True
            if self._splitter is not None:
                self._splitter.keep_comments = True
        elif _DUMP_HEADER.match(line):
            self._dump = True
        elif line.startswith(DATABASE_PREFIX):
            self._source(line[len(DATABASE_PREFIX):].strip().decode("utf-8", "surrogateescape"))
        elif line.startswith(DEFAULTS_PREFIX):
            entry = _header_object(line[len(DEFAULTS_PREFIX):], "database defaults")
            defaults = (entry.get("charset"), entry.get("collation"))
            if not all(isinstance(name, str) and _CHARSET_NAME.fullmatch(name) for name in defaults):
                # They are written into an ALTER DATABASE the loader sends itself, past the gate.
                raise DatabaseError("the dump is damaged: its database defaults are not a character set and a "
                                    "collation name")
            self.report.database_defaults = (str(defaults[0]), str(defaults[1]))
            comment = entry.get("comment", "")
            if not isinstance(comment, str):
                raise DatabaseError("the dump is damaged: its database comment is not text")
            self.report.database_comment = comment
            self._defaults_pending = True
            if isinstance(entry.get("database"), str) and entry["database"]:
                # The source's name exactly, where "-- Database:" could only show it with its line breaks
                # and leading spaces made single spaces.
                self.report.source_database = entry["database"]
        elif (header := _CLIENT_HEADER.match(line)) is not None:
            self._source(header.group(1).decode("utf-8", "surrogateescape"))
        elif line.startswith(MANIFEST_PREFIX):
            entry = _header_object(line[len(MANIFEST_PREFIX):], "table manifest")
            table, rows, checksum = entry.get("table"), entry.get("rows"), entry.get("checksum")
            if (not isinstance(table, str) or type(rows) is not int or rows < 0
                    or not (checksum is None or isinstance(checksum, str))):
                raise DatabaseError("the dump is damaged: a table manifest line does not give a table's name, its "
                                    "row count and its checksum")
            self.report.manifest[table] = TableManifest(rows, checksum)
        elif line.startswith(COMPLETE_MARKER):
            self.report.complete = True

    def _source(self, name: str) -> None:
        if self.report.source_database is None and name:
            self.report.source_database = name

    def rewrite(self, statement: AnyStatement) -> AnyStatement | None:
        """The statement to send, or None to skip it."""
        if isinstance(statement, SpooledStatement) and statement.wrapped:
            # /*!40000 INSERT ... */ as one statement: the INSERT it holds is what the server runs, and can be
            # sent as it is read, where the comment would be held whole to be looked into.
            statement = unwrapped(statement, self.version, self.is_mariadb) or statement
        if isinstance(statement, StreamedStatement):
            cut = isinstance(statement, SpooledStatement) and not fits_packet(len(statement), self.max_packet)
            if self.values is None and _DATA.match(statement.head) and self.gate.checked_by_head(statement.head) \
                    and (not cut or (self.gate.session.backslash_escapes and insertsplit.CUT_AS_READ)):
                # A row with a huge value, sent as it is read: the gate reads its values as they go out. One
                # longer than the server takes is cut between its rows as it is read, each INSERT checked whole.
                return statement
            if isinstance(statement, SpooledStatement) and len(statement) > HELD_LIMIT:
                # Sent as read it cannot be (cut between its rows, rewritten, or read whole by the gate):
                # held whole, it would take its size in memory, twice over.
                raise DatabaseError(
                    f"a statement of the dump is {len(statement) / 1e6:.1f} MB without a size hint and "
                    f"{_held_reason(cut, self.values is not None)}, so it would be held whole: more than synco holds "
                    f"({HELD_LIMIT >> 20} MiB); statement: {_before_values(preview(statement))} ...")
            statement = statement.whole()
        if _DATA.match(statement):
            # A huge INSERT comes as a bytearray (see the splitter), which is sent as it is.
            return statement if self.values is None else self.values(bytes(statement))
        statement = bytes(statement)
        if statement.startswith(b"/*M!999999"):
            # mariadb-dump's "sandbox mode" line has no delimiter and sticks to the next statement;
            # version 999999 never executes, so it is only noise that would hide what follows.
            statement = _NEVER.sub(b"", statement, count=1)
        if _SKIPPED.match(statement):
            database = self._database_statement(statement)
            return None if database is None else self._for_this_server(database)
        named = definer(statement)
        if named is not None:
            self._definers[named] = self._definers.get(named, 0) + 1
            statement = strip_definer(statement)
        statement = self._for_this_server(statement)
        # mariadb-dump names the source database in ALTER DATABASE: the one meant is the one loaded into.
        statement = _ALTER_DATABASE.sub(lambda m: m.group(1).rstrip(), statement, count=1)
        if b"synco-row-format" in statement:
            statement = rowformat.apply(statement, self.default_row_format)
        return self._requalify(statement)

    def _for_this_server(self, statement: bytes) -> bytes:
        """MySQL 8 only syntax and collations made MariaDB's (see the module docstring)."""
        if self.is_mariadb:
            statement = _MYSQL8_COMMENT.sub(b"", statement)
            if b"0900_" in statement:
                statement = _COLLATION.sub(
                    lambda m: map_collation(m, self.known_collations, self._warned, self._warn), statement)
        return statement

    def _database_statement(self, statement: bytes) -> bytes | None:
        """``USE`` and ``CREATE DATABASE`` tell which database the dump came from (and its defaults):
        they are not run, but the defaults apply to the database loaded into."""
        use = _USE.match(statement)
        if use is not None:
            self._source(_name(use))
            return None
        create = _CREATE_DATABASE.match(statement)
        if create is None:
            return None
        self._source(_name(create))
        # After the name, which may hold any text; the comment's text is no character set either.
        options = statement[create.end():]
        comment = _DATABASE_COMMENT.search(options)
        if comment is not None:
            options = options[:comment.start()] + options[comment.end():]
        charset, collation = _CHARSET.search(options), _COLLATE.search(options)
        if charset is None and collation is None and comment is None:
            return None
        parts = []
        if charset is not None:
            parts.append(b"CHARACTER SET " + (charset.group(1) or charset.group(2)))
        if collation is not None:
            parts.append(b"COLLATE " + collation.group(1))
        if charset is not None and collation is not None:
            mapped = self._for_this_server(collation.group(1))
            self.report.database_defaults = ((charset.group(1) or charset.group(2)).decode(), mapped.decode())
        if comment is not None:
            parts.append(comment.group(0))
        return b"ALTER DATABASE " + b" ".join(parts)

    def _requalify(self, statement: bytes) -> bytes:
        source, target = self.report.source_database, self.database
        if not source or not target or source == target:
            return statement
        if not qualify.may_name(statement, source, self.case_insensitive):
            return statement
        with self.conn.cursor() as cur:
            # The session's settings at this point of the dump decide how the statement is read.
            cur.execute("SELECT @@character_set_client, @@sql_mode")
            charset, mode = (str(value) for value in cur.fetchone())
        rewritten, ambiguous = qualify.requalify(statement, source, target, qualify.Mode.of(charset, mode),
                                                 self.case_insensitive)
        if ambiguous:
            self._warn(f"{source!r} also names a table, column or alias in: {preview(statement)}; only the "
                       f"names that must be the database {source!r} were pointed at {target!r}")
        return rewritten

    def _warn(self, message: str) -> None:
        self.report.warnings.append(message)
        self.warn(message)

    def run(self, dump: BinaryIO) -> LoadReport:
        """Load ``dump``: reading and splitting in one thread, executing in this one (and in the
        workers, when the loader has a ``connect`` factory and ``workers`` > 1)."""
        self._splitter = StatementSplitter(dump, on_comment=self._comment)
        # The connection's own sql_mode (the server's default) is where the script starts, as for the client.
        self._splitter.modes.learn(self._initial_mode.encode())
        reader = StatementReader(self._splitter)
        connect = self.connect if self.workers > 1 else None
        workers = [InsertWorker(connect()) for _ in range(self.workers)] if connect is not None else []
        try:
            for worker in workers:
                worker.start()
            active = self._execute_all(reader, workers)
            barrier(active)
        finally:
            reader.stop()
            for worker in workers:
                worker.finish()
        if self.report.synco_dump and not self.report.complete:
            raise DatabaseError("the dump has no completion marker: it is truncated")
        if not self.report.statements and not self.report.synco_dump:
            # Any dump sets up its session at least; nothing at all is a dump that failed to be written, and
            # loading it would swap the target for an empty database.
            raise DatabaseError("the dump holds no SQL statement: it is empty")
        if self._definers:
            self._warn(f"the DEFINER of {sum(self._definers.values())} views, triggers, routines or events was left "
                       f"out ({', '.join(sorted(self._definers))}): the loading user defines them here "
                       "(their SQL SECURITY is kept)")
        return self.report

    def _execute_all(self, reader: StatementReader, workers: list[InsertWorker]) -> list[InsertWorker]:
        """Execute every statement; returns the workers still in use (none after a trigger)."""
        query = self.conn.query
        if workers:
            # DDL that has to wait for a worker's open transaction gives up quickly and is retried
            # after a barrier, instead of waiting for a commit that only the barrier would bring.
            query(b"SET SESSION lock_wait_timeout=2")
        #: Tables with rows handed to workers (DDL naming them waits for those rows first).
        owner: dict[bytes, InsertWorker] = {}
        #: Tables whose INSERTs must run in dump order, on their one owner.
        ordered: set[bytes] = set()
        #: Tables whose first INSERT is done: their next ones go to any worker.
        spreading: set[bytes] = set()
        spread = 0
        #: Rows of a statement too long for this server, cut into statements that fit (they are sent next).
        pieces: deque[Iterator[tuple[int, AnyStatement]]] = deque()
        for number, statement in _then(reader, pieces):
            if number == 1 and not self._dump:
                # Not a dump: a script written to be run by the client, one statement after the other on one
                # connection, whose INSERTs may read what the statements before them left in the session
                # (LAST_INSERT_ID(), a variable set by SELECT ... INTO) or check foreign keys against rows
                # inserted just before. The header, when there is one, has been read by now (it comes first).
                workers = []
            if isinstance(statement, _Piece):
                # Rewritten already, and the whole statement was counted and checked: only each piece now.
                self.gate.check(statement, number)
                sql: AnyStatement | None = statement
            elif self._defaults_pending and self.report.database_defaults:
                self._defaults_pending = False
                charset, collation = self.report.database_defaults
                collation = self._for_this_server(collation.encode()).decode()
                self.report.database_defaults = (charset, collation)
                barrier(workers)
                # The comment is quoted by the connection, which knows the session's NO_BACKSLASH_ESCAPES.
                comment = (f" COMMENT {self.conn.escape(self.report.database_comment)}"
                           if self.report.database_comment else "")
                self._query(number, f"ALTER DATABASE CHARACTER SET {charset} COLLATE {collation}{comment}".encode())
            if not isinstance(statement, _Piece):
                sql = self.rewrite(statement)
            if sql is None or _BLANK.match(head_of(sql)) or _LOCKS.match(head_of(sql)):
                # LOCK TABLES only speeds up MyISAM on a busy server, and the scratch database has no other
                # users; it would stop an INSERT into a table whose default draws from a sequence, which
                # must be locked too (mariadb-dump's script cannot load such a table back).
                self.report.skipped += 1
                continue
            if isinstance(sql, StreamedStatement):
                # Checked as it is sent, and not run unless its values pass (gatestream).
                sql.check = self.gate.streamed(sql.head, number)
            elif not isinstance(sql, _Piece):
                self.gate.check(sql, number)
            if not isinstance(sql, _Piece):
                self.report.statements += 1
                if self.case_insensitive and not isinstance(sql, StreamedStatement):
                    self._claim(sql)
            if not fits_packet(len(sql), self.max_packet):
                split = self._fitting(sql, number)
                if split is not None:
                    pieces.append((number, _Piece(piece)) for piece in split)
                    continue
                raise self._too_long(number, sql)
            if not workers:
                self._run(number, sql)
                continue
            if isinstance(sql, StreamedStatement):
                # Sent as it is read, it could not be sent again after a deadlock between two workers: it
                # runs here, alone (a rare statement: a row with a huge value).
                barrier(workers)
                self._query(number, sql)
                continue
            raise_worker_error(workers)
            if _TRIGGER.match(sql):
                # From here on an INSERT may write other tables through the trigger, which could collide
                # with a worker's bulk insert there: everything after it runs here, in order. (Dumps put
                # triggers after the data, synco's after all of it, so this rarely costs anything.)
                barrier(workers)
                self._run(number, sql)
                workers = []
                continue
            if _ROLLBACK.match(sql):
                raise DatabaseError(f"statement {number} of the dump rolls back a transaction, which a dump's rows, "
                                    "committed one statement at a time over several connections, cannot undo; load "
                                    f"it as a script (without its dump header line): {preview(sql)}")
            if _SESSION.match(sql) and b"autocommit" in bytes(sql[:_SET_LIST_BYTES]).lower():
                rest = autocommit.without_autocommit(bytes(sql), self.gate.session)
                if rest is not None:
                    # The workers commit every statement on their own: the rest of the SET runs as any other.
                    if not rest:
                        continue
                    sql = rest
            if _TRANSACTION.match(sql) or _KEYS.match(sql):
                # The workers commit every statement on their own; LOCK TABLES would block them; DISABLE
                # KEYS only matters for MyISAM and would make every table wait for the previous one.
                continue
            insert = _VALUES_INSERT.match(sql)
            if not insert and not _SESSION.match(sql):
                self._note_main_statement(sql)
            if (insert or _SESSION.match(sql)) and self._reads_last_outcome(sql):
                # The outcome of the statement before on the same connection, which for rows that went to a
                # worker is another connection's: the value would be silently wrong.
                raise DatabaseError(
                    f"statement {number} of the dump reads what the statement before it did on its connection "
                    f"(LAST_INSERT_ID(), ROW_COUNT(), FOUND_ROWS()), which a dump's rows, loaded over several "
                    f"connections, cannot give; load it as a script (without its dump header line): {preview(sql)}")
            if insert and self._reads_session(sql):
                # Its values are the main connection's (a user variable): run here, in order.
                barrier(workers)
                self._run(number, sql)
                continue
            if insert and self._unverified:
                # A setting may come out otherwise on a worker (``SET sql_mode = COALESCE(@m, ...)`` with ``@m``
                # set on this connection only, or a SET run here alone): before a worker inserts rows, its
                # session must be the one the gate read them with.
                for worker in workers:
                    worker.submit("verify", self._state, self._unverified)
                self._unverified = 0
            if insert:
                table = self._table_key(insert.group(2))
                if insert.group("ignore") is None and table not in ordered:
                    # Plain INSERTs commit on their own and cannot depend on each other's order (a
                    # duplicate key fails either way), so one big table loads on every worker at once.
                    # Not before its first INSERT is done, though: into an empty table MariaDB inserts in
                    # bulk mode, locking the whole table, and a second connection would deadlock with it.
                    first = owner.get(table)
                    if first is not None and table not in spreading:
                        first.inbox.join()
                        spreading.add(table)
                    worker = workers[spread % len(workers)]
                    spread += 1
                    owner.setdefault(table, worker)
                    worker.submit("insert", sql, number)
                    continue
                if table not in ordered:
                    # INSERT IGNORE keeps the first of two duplicate rows: from here on, one worker, in order.
                    if table in owner:
                        barrier(workers)
                    ordered.add(table)
                    owner[table] = workers[len(ordered) % len(workers)]
                owner[table].submit("insert", sql, number)
                continue
            if _SESSION.match(sql):
                if b"(" in sql:
                    # A subquery or a function may read rows (SET @n = (SELECT COUNT(*) FROM t)): those before it
                    # first, as the client has them. A dump's own SETs have no parenthesis.
                    barrier(workers)
                for worker in workers:
                    worker.submit("set", sql, number)
                self._run(number, sql)
                self._unverified = self._unverified or number
                continue
            independent = _INDEPENDENT_DDL.match(sql)
            if not independent or self._table_key(independent.group(1) or b"") in owner:
                # Anything that may read rows or change how they are inserted (triggers) waits for
                # every row before it.
                barrier(workers)
                self._run(number, sql)
                continue
            try:
                query(sql)
                self._require_engine(number, sql)
            except pymysql.err.MySQLError as exc:
                if exc.args[0] == _ROW_SIZE_TOO_LARGE and _CREATE_TABLE.match(sql):
                    self._create_wide(number, sql)
                elif isinstance(exc, pymysql.err.OperationalError) and exc.args[0] in _RETRYABLE:
                    barrier(workers)
                    self._query(number, sql)
                else:
                    if exc.args[0] in _KEY_TOO_LONG and _CREATE_TABLE.match(sql):
                        self._refuse_row_format(number, sql, exc)
                    if _CREATE_TABLE.match(sql):
                        _refuse_encryption(number, sql, exc)
                    raise statement_error(number, sql, exc) from exc
            if _SESSION_CHANGE.search(sql):
                self._observe(number)
        return workers

    def _reads_last_outcome(self, sql: Statement) -> bool:
        """True when ``sql`` calls LAST_INSERT_ID(), ROW_COUNT() or FOUND_ROWS(). Searched for in lower case at
        C speed first (a regular expression ignoring case took four times as long over a dump's rows); only
        where a name is found are the strings left out. synco's dumper writes literal values only."""
        if self.report.synco_dump:
            return False
        lowered = bytes(sql).lower()
        if not any(name in lowered for name in _LAST_OUTCOME_NAMES):
            return False
        return _LAST_OUTCOME.search(qualify.code_text(sql, self.gate.session)) is not None

    def _reads_session(self, sql: Statement) -> bool:
        """True when an INSERT's values read or set a user variable (``@id``) that the main connection may hold
        otherwise than a worker (set by a ``SELECT ... INTO`` run here). Leaving a dump's strings out to find
        its ``@``s costs 50 ms a megabyte of rows holding e-mail addresses, so that is done only where it can
        matter: the statement assigns (``:=``), or names a variable this connection may have set (or anything
        ran here that can set any). A variable the script never set reads NULL on every connection alike; the
        SETs of a dump run on every worker too. synco's dumper writes literal values only."""
        if self.report.synco_dump or b"@" not in sql:
            return False
        if not self._any_variable and b":=" not in sql:
            lowered = bytes(sql).lower()
            if not any(name in lowered for name in self._variables):
                return False
        code = qualify.code_text(sql, self.gate.session)
        if b"@" not in code:
            return False
        self._note_variables(code)
        return True

    def _note_main_statement(self, sql: Statement) -> None:
        """Remember which user variables a statement run on the main connection alone may set (its workers
        never see it): those it names, or any at all when it can run code (a SELECT, a CALL, a statement with
        a subquery) that sets them out of sight."""
        if self._any_variable or isinstance(sql, StreamedStatement):
            return
        head = bytes(head_of(sql)[:200])
        if _MAY_RUN_CODE.match(head) or b":=" in sql or (_DEFINITION.match(head) and _SELECT.search(sql)):
            self._any_variable = True
        elif b"@" in sql:
            self._note_variables(qualify.code_text(sql, self.gate.session))

    def _note_variables(self, code: bytes) -> None:
        """Note the user variables ``code`` names, in every way an INSERT may write the name (``@x``,
        ``@`x```, ``@'x'``, ``@"x"``), lower case (their names are not case-sensitive)."""
        for found in _USER_VARIABLE.findall(code.lower()):
            name = found[1:]
            if name[:1] in (b"`", b"'", b'"'):
                name = name[1:-1]
            self._variables.update(b"@" + quote + name + quote for quote in (b"", b"`", b"'", b'"'))

    def _table_key(self, name: bytes) -> bytes:
        """A table's name as the server tells tables apart: ``DROP TABLE users`` waits for the rows a worker
        still has for `Users` where the server folds names (it drops that table)."""
        if name.startswith(b"`"):
            name = name[1:-1].replace(b"``", b"`")
        return name.lower() if self.case_insensitive else name

    def _claim(self, sql: Statement) -> None:
        """Refuse a table or view whose name differs from an earlier one's by case alone: a server with
        ``lower_case_table_names`` takes them for one, and the second's ``DROP ... IF EXISTS`` or ``CREATE OR
        REPLACE`` would replace the first."""
        created = _CREATED.match(sql)
        if created is None:
            return
        name = _unquote(created.group(1))
        earlier = self._created.setdefault(name.lower(), name)
        if earlier != name:
            raise DatabaseError(f"the dump holds tables or views {earlier!r} and {name!r}, which this server cannot "
                                f"tell apart (lower_case_table_names={self.case_setting}): install it into a server "
                                "with lower_case_table_names=0, or rename one of them at the source")

    def _fitting(self, sql: AnyStatement, number: int) -> Iterable[bytes] | None:
        """A data statement longer than the server's ``max_allowed_packet`` cut between its rows, or None
        where it cannot be (one row alone is longer, or a session that does not read backslash escapes, in
        which the rows are not told apart as :mod:`.insertsplit` reads them). A statement read as it is sent
        is cut as it is read (a row found too long then fails the load where it is found)."""
        if not _DATA.match(head_of(sql)) or not self.gate.session.backslash_escapes:
            return None
        # The statement travels in a packet with a command byte before it, which must stay under the limit.
        if isinstance(sql, StreamedStatement):
            if not insertsplit.CUT_AS_READ:
                return None
            return split_read_rows(sql.head, sql.pieces(), self.max_packet - 1, lambda: self._too_long(number, sql))
        return split_rows(bytes(sql), self.max_packet - 1)

    def _too_long(self, number: int, sql: AnyStatement) -> DatabaseError:
        # The server would drop the connection half-way through receiving it; say why instead, with the value
        # that takes the whole statement (a row too long alone is found before the rest of it is read, so the
        # statement's length is the one known bound).
        return DatabaseError(
            f"statement {number} of the dump is {len(sql) / 1e6:.1f} MB, more than the server's "
            f"max_allowed_packet ({self.max_packet / 1e6:.1f} MB): raise it on the server "
            f"({packet_fix(len(sql))}) and retry; statement: {preview(sql)}")

    def _run(self, number: int, sql: AnyStatement) -> None:
        """Execute ``sql``, then look at what it left the session with (:meth:`_observe`)."""
        event = None
        if isinstance(sql, (bytes, bytearray)) and (event := _EVENT_DDL.match(sql)) is not None:
            sql, enabled = _ENABLED_EVENT.subn(rb"\1DISABLE", sql, count=1)
            if enabled:
                self.report.enabled_events.add(_unquote(event.group("name")))
        self._query(number, sql)
        if event is not None:
            name = _unquote(event.group("name"))
            made = bytes(sql) if isinstance(sql, (bytes, bytearray)) else b""
            again = kept_event(made, name) if _CREATE_EVENT.match(made) else []
            if again and not event_exists(self.conn, name):
                for statement in again:  # made as production holds it (see schema.kept_event)
                    self._query(number, statement)
            self._hold(number)
        if not isinstance(sql, StreamedStatement) and not _DATA.match(sql) and _SESSION_CHANGE.search(sql):
            self._observe(number)

    def _hold(self, number: int) -> None:
        """Keep the dump's events from running in the scratch database. A server whose ``event_scheduler``
        is on (MySQL 8's default) ran them there, between the rows loading and the swap: the verification
        failed on the rows they wrote, or their changes after it were installed as production's. Each one
        created or altered enabled is disabled at once (one in ``SHOW CREATE EVENT``'s form is created
        disabled) and noted; the swap creates it in the target as the dump has it."""
        with self.conn.cursor() as cur:
            cur.execute("SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() "
                        "AND STATUS = 'ENABLED'")
            enabled = [str(row[0]) for row in cur.fetchall()]
        for name in enabled:
            self._query(number, b"ALTER EVENT `" + name.replace("`", "``").encode() + b"` DISABLE")
        self.report.enabled_events.update(enabled)

    def _observe(self, number: int) -> None:
        """Refuse a session the gate could not read statements in (a character set like sjis, set in a way
        the gate cannot see), and tell the gate the sql_mode it reads INSERT values with."""
        charset, mode = check_session(self.conn, number)
        self.gate.observe(charset, mode, session_letters(self.conn, charset), number)
        if self._splitter is not None:
            self._splitter.modes.learn(mode.encode())
        state = settings_key(self.conn)
        if state != self._state:
            self._state = state
            self._unverified = self._unverified or number

    def _query(self, number: int, sql: AnyStatement) -> None:
        try:
            send(self.conn, sql)
            self._require_engine(number, sql)
        except pymysql.err.MySQLError as exc:
            if not isinstance(sql, StreamedStatement) and exc.args[0] == _ROW_SIZE_TOO_LARGE and (
                    _CREATE_TABLE.match(sql)):
                self._create_wide(number, sql)
                return
            if not isinstance(sql, StreamedStatement) and exc.args[0] in _KEY_TOO_LONG and _CREATE_TABLE.match(sql):
                self._refuse_row_format(number, sql, exc)
            if not isinstance(sql, StreamedStatement) and _CREATE_TABLE.match(sql):
                _refuse_encryption(number, sql, exc)
            raise statement_error(number, sql, exc) from exc

    def _require_engine(self, number: int, sql: AnyStatement) -> None:
        """A table the dump gives a storage engine this server does not have (ARCHIVE, BLACKHOLE, RocksDB,
        Mroonga: plugins a laptop's server has not loaded) is created by the server in its default engine, with
        only a warning, since a dump's ``sql_mode`` (mariadb-dump's too) has no ``NO_ENGINE_SUBSTITUTION``: the
        copy held InnoDB tables where production's were others (a BLACKHOLE table then kept what the application
        wrote to it). Refused in one line naming the engine and what to do; the target untouched."""
        if isinstance(sql, StreamedStatement) or not (_CREATE_TABLE.match(sql) or _ALTER_TABLE.match(sql)) or (
                not _ENGINE_CLAUSE.search(sql)):
            return
        with self.conn.cursor() as cur:
            cur.execute("SHOW WARNINGS")
            substituted = [row for row in cur.fetchall() if row[1] == _ER_WARN_USING_OTHER_HANDLER]
        if not substituted:
            return
        engines = _ENGINE_CLAUSE.findall(sql)
        named = engines[-1].decode("utf-8", "replace").strip("`") if engines else "its engine"
        raise DatabaseError(f"statement {number} of the dump creates a table in the storage engine {named}, which "
                            f"this server does not have (it would make the table {_default_engine(self.conn)} "
                            f"instead): load the engine's plugin on this server (INSTALL SONAME "
                            f"'ha_{named.lower()}') and install again; statement: {preview(sql)}")

    def _refuse_row_format(self, number: int, sql: Statement, exc: pymysql.err.MySQLError) -> None:
        """A key production holds that this server refuses as too long: where that is the server's default row
        format (``innodb_default_row_format`` COMPACT or REDUNDANT, an old configuration's, which limit an
        index to 767 bytes: a unique ``VARCHAR(255)`` in utf8mb4 is 1020), say so; the server's own words name
        only the 767 bytes."""
        with self.conn.cursor() as cur:
            cur.execute("SELECT LOWER(@@GLOBAL.innodb_default_row_format)")
            row = cur.fetchone()
        row_format = (row[0].decode() if isinstance(row[0], bytes) else str(row[0])) if row else ""
        if row_format in ("compact", "redundant"):
            raise DatabaseError(f"statement {number} of the dump failed: this server creates InnoDB tables "
                                f"{row_format.upper()} (innodb_default_row_format={row_format}), whose keys are "
                                "limited to 767 bytes, and the dump's table has a longer one: set it to dynamic "
                                "on this server (SET GLOBAL innodb_default_row_format=dynamic, and in its "
                                f"configuration) and install again; {describe(exc)}; statement: {preview(sql)}"
                                ) from exc

    def _create_wide(self, number: int, sql: Statement) -> None:
        """Create a table wider than InnoDB allows a new one to be: columns added with ``ALGORITHM=INSTANT``
        are not held to the row size limit that ``CREATE TABLE`` checks under ``innodb_strict_mode``, so
        production tables grow past it and their ``CREATE TABLE`` fails everywhere else (mariadb-dump's
        too). Strict mode is off for this statement only; the rows fit, since the source holds them."""
        with self.conn.cursor() as cur:
            cur.execute("SELECT @@SESSION.innodb_strict_mode")
            strict = int(cur.fetchone()[0])
        self.conn.query(b"SET SESSION innodb_strict_mode = 0")
        try:
            send(self.conn, sql)
        except pymysql.err.MySQLError as exc:
            raise statement_error(number, sql, exc) from exc
        finally:
            self.conn.query(f"SET SESSION innodb_strict_mode = {strict}".encode())
        self._warn(f"statement {number}: the table is wider than InnoDB's row size limit for a new table "
                   f"(it grew with instant ALTERs): created as the source has it; {preview(sql)}")


def _default_engine(conn: Any) -> str:
    with conn.cursor() as cur:
        cur.execute("SELECT @@SESSION.default_storage_engine")
        row = cur.fetchone()
    value = row[0] if row else b""
    return value.decode() if isinstance(value, bytes) else str(value or "another engine")


def _unquote(name: bytes) -> str:
    if name.startswith(b"`"):
        name = name[1:-1].replace(b"``", b"`")
    return name.decode("utf-8", "surrogateescape")


class _Piece(bytes):
    """Part of the rows of a data statement too long for the server (:mod:`.insertsplit`)."""


def _then(reader: StatementReader,
          pieces: deque[Iterator[tuple[int, AnyStatement]]]) -> Iterator[tuple[int, AnyStatement]]:
    """The dump's statements, each followed by the ``pieces`` its handling left to send after it (read as they
    are sent: a streamed statement's are cut from it as it is read, before the reader moves past it)."""
    for item in reader:
        yield item
        while pieces:
            yield from pieces.popleft()


_NAME = rb"(`(?:[^`]|``)+`|\w+)"
_VALUES_INSERT = re.compile(
    rb"^INSERT\s+(?P<ignore>IGNORE\s+)?INTO\s+" + _NAME + rb"\s*"
    rb"(?:\((?:[^()`]|`(?:[^`]|``)*`)*\))?\s*VALUES\b", re.IGNORECASE)
_KEYS = re.compile(rb"^(?:/\*!\d*\s*)?ALTER\s+TABLE\s+\S+\s+(?:DISABLE|ENABLE)\s+KEYS\b", re.IGNORECASE)
#: Statements that touch no rows: run at once, unless they name a table a worker has rows for.
_INDEPENDENT_DDL = re.compile(
    rb"^(?:/\*!\d*\s*)?(?:(?:CREATE|DROP)\s+TABLE\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?" + _NAME
    + rb"|(?:CREATE|DROP)\s+(?:OR\s+REPLACE\s+)?(?:ALGORITHM\s*=\s*\w+\s+)?(?:SQL\s+SECURITY\s+\w+\s+)?VIEW\b)",
    re.IGNORECASE)
#: A table, view or sequence created, and its name.
_CREATED = re.compile(
    rb"^(?:/\*!\d*\s*)?CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:ALGORITHM\s*=\s*\w+|SQL\s+SECURITY\s+\w+)\s+)*"
    rb"(?:TABLE|VIEW|SEQUENCE)\s+(?:IF\s+NOT\s+EXISTS\s+)?" + _NAME + rb"\s*(?:[\s(;]|AS\b|LIKE\b|$)", re.IGNORECASE)
#: Statements that create or change an event (``CREATE DEFINER=... EVENT``, ``ALTER EVENT``).
_EVENT_DDL = re.compile(rb"^(?:/\*!\d*\s*)?(?:CREATE|ALTER)\b[^;]{0,300}?\bEVENT\s+(?:IF\s+NOT\s+EXISTS\s+)?"
                        rb"(?:" + _NAME + rb"\s*\.\s*)?" + _NAME.replace(b"(", b"(?P<name>", 1), re.IGNORECASE)
_CREATE_EVENT = re.compile(rb"^(?:/\*!\d*\s*)?CREATE\b", re.IGNORECASE)
#: An event's status as ``SHOW CREATE EVENT`` (and so every dump) writes it, before its body.
_ENABLED_EVENT = re.compile(rb"(\bON\s+COMPLETION\s+(?:NOT\s+)?PRESERVE\s+)ENABLE\b", re.IGNORECASE)
_TRIGGER = re.compile(rb"^(?:/\*!\d*\s*)?CREATE\b[^;]{0,300}?\bTRIGGER\b", re.IGNORECASE)
#: Session settings, repeated on every worker (``/*M!`` ones too: the dump's header has MariaDB-only settings).
_SESSION = re.compile(rb"^(?:/\*M?!\d*\s*)?SET\b", re.IGNORECASE)
_LOCKS = re.compile(rb"^(?:/\*!\d*\s*)?(?:UN)?LOCK\s+TABLES?\b", re.IGNORECASE)
_TRANSACTION = re.compile(
    rb"^(?:/\*!\d*\s*)?(?:COMMIT|ROLLBACK|BEGIN|START\s+TRANSACTION|SET\s+autocommit\b|(?:UN)?LOCK\s+TABLES?\b)",
    re.IGNORECASE)
#: Functions giving the outcome of the connection's statements before.
_LAST_OUTCOME = re.compile(rb"\b(?:LAST_INSERT_ID|ROW_COUNT|FOUND_ROWS)\s*\(", re.IGNORECASE)
_LAST_OUTCOME_NAMES = (b"last_insert_id", b"row_count", b"found_rows")
#: A user variable (not a system one) as it stands in code, for the names a statement sets or reads.
_USER_VARIABLE = re.compile(rb"(?<!@)@(?!@)(?:`(?:[^`]|``)*`|'(?:[^'\\]|\\[\s\S])*'|\"(?:[^\"\\]|\\[\s\S])*\"|"
                            rb"[0-9A-Za-z_$.\x80-\xff]+)")
#: Statements that may run code setting user variables where it cannot be seen (a stored function in a SELECT,
#: a procedure): after one, every INSERT naming a variable is read for what it names.
_MAY_RUN_CODE = re.compile(rb"^\s*(?:/\*!\d*\s*)?(?:SELECT|CALL|DO|EXECUTE|WITH|UPDATE|DELETE|INSERT|REPLACE|HANDLER|"
                           rb"LOAD|VALUES|TABLE|\()", re.IGNORECASE)
#: Definitions, which run nothing unless they hold a query (``CREATE TABLE ... SELECT``).
_DEFINITION = re.compile(rb"^\s*(?:/\*!\d*\s*)?(?:CREATE|ALTER)\b", re.IGNORECASE)
_SELECT = re.compile(rb"\bSELECT\b", re.IGNORECASE)
#: A whole transaction rolled back (not to a savepoint, which is refused by the server without one).
_ROLLBACK = re.compile(rb"^(?:/\*!\d*\s*)?ROLLBACK(?:\s+WORK)?\s*(?:;|\*/|\Z|AND\b|RELEASE\b|NO\b)", re.IGNORECASE)
_RETRYABLE = (1205,)  # lock wait timeout
_ROW_SIZE_TOO_LARGE = 1118
#: "Using storage engine InnoDB for table 't'": the server's warning when it substitutes a missing engine.
_ER_WARN_USING_OTHER_HANDLER = 1266
_ALTER_TABLE = re.compile(rb"^(?:/\*!\d*\s*)?ALTER\s+(?:ONLINE\s+)?(?:IGNORE\s+)?TABLE\b", re.IGNORECASE)
#: The table option naming the engine (``ENGINE=ARCHIVE``, ``ENGINE = `RocksDB```); the last one is the table's.
_ENGINE_CLAUSE = re.compile(rb"\bENGINE\s*=\s*(`?[A-Za-z_][A-Za-z0-9_]*`?)", re.IGNORECASE)
#: ER_TOO_LONG_KEY and ER_INDEX_COLUMN_TOO_LONG: "Specified key was too long", "Index column size too large".
_KEY_TOO_LONG = (1071, 1709)
#: A table encrypted at rest, as SHOW CREATE TABLE writes the option (`ENCRYPTED`='YES') or a script does.
_ENCRYPTED = re.compile(rb"`?\bENCRYPTED`?\s*=\s*'?YES\b", re.IGNORECASE)
_CHARSET_NAME = re.compile(r"[A-Za-z0-9_]+")
_CREATE_TABLE = re.compile(rb"^(?:/\*!\d*\s*)?CREATE\s+(?:OR\s+REPLACE\s+)?TABLE\b", re.IGNORECASE)
#: Statements that may leave the session otherwise: only SET changes a session variable (``/*!40101SET``,
#: ``SET STATEMENT``), and CALL runs SETs (the character set and sql_mode come back after a routine, other
#: variables do not). ``CHARSET=`` does not count, ``CHARACTER SET`` does, needlessly.
_SESSION_CHANGE = re.compile(rb"(?<![A-Za-z_$\x80-\xff])(?:SET|CALL)(?![0-9A-Za-z_$\x80-\xff])", re.IGNORECASE)
#: A SET longer than this is not read for an ``autocommit`` among its assignments (a dump's are a line long).
_SET_LIST_BYTES = 1 << 16
#: Nothing to run (stripping a huge statement to find out would copy it).
_BLANK = re.compile(rb"[ \t\r\n;]*\Z")


def _refuse_encryption(number: int, sql: Statement, exc: pymysql.err.MySQLError) -> None:
    """A table production encrypts at rest (``ENCRYPTED=YES``), which a server without a key management plugin
    refuses with "errno: 140 Wrong create options", naming neither: say so."""
    if exc.args[0] == 1005 and "errno: 140" in str(exc.args[1:]) and _ENCRYPTED.search(sql):
        raise DatabaseError(f"statement {number} of the dump failed: its table is encrypted at rest (ENCRYPTED=YES), "
                            "which this server cannot do without a key management plugin (file_key_management, "
                            "hashicorp_key_management): enable one on this server and install again; "
                            f"{describe(exc)}; statement: {preview(sql)}") from exc
