"""Loading a plain SQL dump into PostgreSQL without ``psql``.

The loader reads synco's own dumps and real ``pg_dump`` plain output. :mod:`.script` splits the script
into statements the way ``psql`` does; this module runs each statement with the simple query protocol, and
streams the data of every ``COPY ... FROM stdin`` block to the server with libpq's copy support, in large
blocks: the rows are never split or looked at one by one.

``psql`` meta-commands that a dump may contain are understood: ``\\connect`` (the loader stays in the
database it was given, which is the scratch database; a second database is refused), ``\\restrict`` /
``\\unrestrict`` (pg_dump's guard against meta-commands smuggled into data, enforced as psql enforces it:
:class:`MetaCommands`), and ``\\set`` / ``\\encoding``. Any other meta-command is an error, because ignoring it
could change what the script means.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import BinaryIO

from psycopg import pq

from synco_core.engines.postgresql import extversions, gate, rawtext
from synco_core.engines.postgresql.connection import drain_results, finish_copy, result_error
from synco_core.engines.postgresql.owners import ForeignOwners
from synco_core.engines.postgresql.script import (
    COPY_FROM_STDIN,
    DATABASE_LEVEL,
    IGNORED_META,
    ScriptReader,
    TruncatedDump,
    copy_target,
    strip_comments,
)
from synco_core.engines.postgresql.sharedcopy import SHARE_AFTER, SecondConnection, SharedCopy, shareable
from synco_core.engines.rewrite.copytext import CopyRewriter
from synco_core.errors import DatabaseError
from synco_core.values import ValueRewriter


@dataclass
class LoadStats:
    statements: int = 0
    copy_blocks: int = 0
    rows: int = 0
    #: Per table loaded with COPY (``table`` in ``public``, else ``schema.table``): the SHA-256 of the COPY
    #: text sent, the same checksum the dumper records in the manifest.
    checksums: dict[str, str] = field(default_factory=dict)
    #: Per table loaded with COPY: the rows the server reported storing (over every connection it used).
    stored: dict[str, int] = field(default_factory=dict)
    #: String values the ``InstallOptions.rewriter`` changed (None: no rewriter).
    rewritten_values: int | None = None
    #: The ``OWNER TO`` statements left out (see :mod:`.owners`).
    foreign_owners: ForeignOwners | None = None
    #: A statement other than COPY wrote rows (INSERT, UPDATE, DELETE, MERGE, CREATE TABLE AS, SELECT INTO: a
    #: script written by hand, pg_dump --inserts): ``rows`` does not say what the tables hold.
    scripted_rows: bool = False


def load_script(pgconn: pq.abc.PGconn, stream: BinaryIO, second: SecondConnection | None = None,
                rewriter: ValueRewriter | None = None) -> LoadStats:
    """Run every statement of the script on ``pgconn``; raise a one-line DatabaseError on the first failure.

    With ``second``, big COPY blocks are shared with a second connection to the same database (see
    :mod:`~synco_core.engines.postgresql.sharedcopy`); the caller closes it.
    """
    # psycopg keeps its connections in libpq's nonblocking mode, where PQputCopyData grows the output
    # buffer without limit whenever the server reads slower than the dump arrives. In blocking mode it
    # waits for the socket instead, which keeps the loader's memory flat.
    saved = pgconn.nonblocking
    pgconn.nonblocking = 0
    try:
        return _load_script(pgconn, stream, second, CopyRewriter(rewriter) if rewriter else None)
    finally:
        pgconn.nonblocking = saved


#: A setting pg_dump 17 and later switch off at the top of every script (``SET transaction_timeout = 0;``),
#: which a server before 17 does not know: the script failed there on its tenth line. Where the setting does
#: not exist there is nothing to switch off; any other value of it is run, and refused, as written.
_TRANSACTION_TIMEOUT_OFF = re.compile(
    rb"\s*SET\s+(?:SESSION\s+)?transaction_timeout\s*(?:=|\bTO\b)\s*(?:0|'0')\s*;?\s*$", re.IGNORECASE)
#: What the statement's keywords (``strip_comments(mask=True)``) start with when it may be that: only then is its
#: text stripped of comments to be matched (a copy of a statement of hundreds of MB, and two more, for nothing).
_SETS_TRANSACTION_TIMEOUT = re.compile(rb"SET\s+(?:SESSION\s+)?transaction_timeout\b", re.IGNORECASE)
#: The command tags of statements writing rows (``SELECT n``: CREATE TABLE AS, SELECT INTO; a query returning
#: rows answers TUPLES_OK instead).
_WRITES_ROWS = re.compile(rb"(?:INSERT|UPDATE|DELETE|MERGE|SELECT)\b")
#: CREATE MATERIALIZED VIEW answers ``SELECT n`` too, for rows that are the view's, not a table's (every synco
#: dump and pg_dump's of a database with one).
_MATERIALIZED_VIEW = re.compile(rb"\s*CREATE\s+(?:OR\s+REPLACE\s+)?MATERIALIZED\s+VIEW\b", re.IGNORECASE)
#: The first version with ``transaction_timeout``.
_TRANSACTION_TIMEOUT_SINCE = 170000


class MetaCommands:
    """The psql meta-commands of a script, taken as psql takes them where their meaning is the loader's too.

    - After ``\\restrict KEY`` (pg_dump 17.6, 15.14 and later), psql refuses every meta-command but ``\\unrestrict
      KEY`` (the guard against one smuggled into the dump through a name or a value): so does the loader, which
      took a ``\\connect`` there where psql stops.
    - ``\\connect`` of one database (``pg_dump --create``'s) is the database loaded into; a second one (scripts of
      several databases put together, pg_dumpall's) would be loaded into the same database, mixed with the first:
      refused, naming both.
    """

    def __init__(self) -> None:
        self.restricted: bytes | None = None
        self.database: bytes | None = None

    def check(self, text: bytes, line: int) -> None:
        words = text[1:].split()
        name = words[0].decode("ascii", "replace") if words else ""
        if self.restricted is not None:
            if name != "unrestrict" or words[1:2] != [self.restricted]:
                raise DatabaseError(f"the dump uses the psql meta-command \\{name} (line {line}) after \\restrict, "
                                    "where psql refuses every one but \\unrestrict with the same key")
            self.restricted = None
            return
        if name not in IGNORED_META:
            raise DatabaseError(f"the dump uses the psql meta-command \\{name} (line {line}), "
                                "which synco's loader does not support")
        if name == "unrestrict":
            raise DatabaseError(f"the dump's \\unrestrict (line {line}) comes without a \\restrict before it, which "
                                "psql refuses (the dump was cut or put together)")
        if name == "restrict":
            if len(words) < 2:
                raise DatabaseError(f"the dump's \\restrict (line {line}) has no key")
            self.restricted = words[1]
        elif name in ("connect", "c"):
            # The first argument that is not an option (-reuse-previous=on) is the database; "-" the current one.
            database = next((word for word in words[1:] if word == b"-" or not word.startswith(b"-")), b"-")
            if database == b"-" or self.database in (None, database):
                self.database = self.database or (None if database == b"-" else database)
                return
            first, second = (value.decode("utf-8", "replace") for value in (self.database, database))
            raise DatabaseError(f"the dump connects to database {second} (line {line}) after {first}: it holds "
                                "more than one database, which synco would load into one; load a dump of each "
                                "database on its own")


def _load_script(pgconn: pq.abc.PGconn, stream: BinaryIO, second: SecondConnection | None,
                 rewriter: CopyRewriter | None) -> LoadStats:
    reader = ScriptReader(stream)
    meta = MetaCommands()
    owners = ForeignOwners(pgconn)
    #: Languages the dump created (with a safe handler): routines in them are allowed.
    languages: set[bytes] = set()
    stats = LoadStats(rewritten_values=0 if rewriter else None)
    hashers: dict[str, hashlib._Hash] = {}
    text = keywords = b""
    while True:
        # The last statement is let go before the next is read: two long ones are not held at once.
        text = keywords = b""
        item = reader.next_item()
        if item is None:
            break
        kind, text, line = item
        if kind == "meta":
            meta.check(text, line)
            continue
        keywords = strip_comments(text, mask=True)
        if DATABASE_LEVEL.match(keywords) or gate.skipped(keywords):
            # pg_dump --create writes CREATE DATABASE / \connect, and COMMENT, GRANT ... ON DATABASE; the
            # loader stays in its scratch database.
            continue
        if owners.skip(keywords, text):
            continue
        if pgconn.server_version < _TRANSACTION_TIMEOUT_SINCE and _SETS_TRANSACTION_TIMEOUT.match(keywords) \
                and _TRANSACTION_TIMEOUT_OFF.match(strip_comments(text)):
            continue
        stats.statements += 1
        # The dump comes from the session, which may be hostile: it may create and fill the database it is
        # loaded into, and reach nothing else of the server or the machine (see gate.py).
        if COPY_FROM_STDIN.match(keywords):
            gate.check_copy(text, keywords, line)
        else:
            gate.check(text, keywords, line, languages)
        if COPY_FROM_STDIN.match(keywords):
            stats.copy_blocks += 1
            target = copy_target(strip_comments(text))
            # The partitions of a tree loaded through its root are blocks of one table: one checksum over all.
            hasher = hashers.setdefault(target, hashlib.sha256())
            rows, stored = _copy_in(pgconn, reader, text, line, hasher, second, rewriter)
            stats.rows += rows
            stats.checksums[target] = hasher.hexdigest()
            stats.stored[target] = stats.stored.get(target, 0) + stored
            _check_session(pgconn, line)
            _check_languages(pgconn, line)
            continue
        if extversions.HEAD.match(keywords):
            text = extversions.prepared(pgconn, text, line)
        # The extended protocol runs one statement only, whatever the server makes of the text.
        result = pgconn.exec_params(text, [])
        if result.status in (pq.ExecStatus.FATAL_ERROR, pq.ExecStatus.BAD_RESPONSE) or (
                result.status == pq.ExecStatus.COPY_IN):
            if result.status == pq.ExecStatus.COPY_IN:
                pgconn.put_copy_end(b"unexpected COPY")
                drain_results(pgconn)
            raise DatabaseError(f"the statement at line {line} of the dump failed: {result_error(result, pgconn)}")
        if result.status == pq.ExecStatus.COMMAND_OK and _WRITES_ROWS.match(result.command_status or b"") \
                and not _MATERIALIZED_VIEW.match(keywords):
            stats.scripted_rows = True
        _check_session(pgconn, line)
        # Not only after CREATE EXTENSION: a routine the statement ran (a default, an index expression,
        # a trigger of a COPY, SELECT f()) may have created one with EXECUTE, under any name.
        _check_languages(pgconn, line)
        if second is not None:
            second.remember(text)
    if not reader.complete():
        raise TruncatedDump("the dump is truncated: its last line is missing")
    if rewriter is not None:
        stats.rewritten_values = rewriter.changed
    stats.foreign_owners = owners
    return stats


def _check_session(pgconn: pq.abc.PGconn, line: int) -> None:
    """Whatever changed them (SET, set_config under another name, a function the statement called), the
    splitter and the gate read the next statement as the server will only with these settings."""
    rawtext.check_bytes(pgconn)
    gate.check_session(pgconn.parameter_status(b"standard_conforming_strings"),
                       pgconn.parameter_status(b"client_encoding"), line)


def _check_languages(pgconn: pq.abc.PGconn, line: int) -> None:
    result = pgconn.exec_params(gate.UNTRUSTED_LANGUAGES_QUERY.encode(), [])
    if result.status != pq.ExecStatus.TUPLES_OK:
        raise DatabaseError(f"checking the languages the extension at line {line} created failed: "
                            f"{result_error(result, pgconn)}")
    value = result.get_value(0, 0)
    gate.check_untrusted_languages(value.decode("utf-8", "replace") if value is not None else None, line)


def _copy_in(pgconn: pq.abc.PGconn, reader: ScriptReader, statement: bytes, line: int,
             hasher: hashlib._Hash, second: SecondConnection | None,
             rewriter: CopyRewriter | None = None) -> tuple[int, int]:
    """Stream one COPY block; return the rows sent and the rows the server says it stored."""
    result = pgconn.exec_params(statement, [])
    if result.status != pq.ExecStatus.COPY_IN:
        raise DatabaseError(f"the COPY at line {line} of the dump failed: {result_error(result, pgconn)}")
    rows = 0
    sent = 0
    # Text format: one row per line, so the rows the server stored also tell how many lines went by.
    text_rows = shareable(strip_comments(statement, mask=True))
    can_share = second is not None and text_rows
    shared: SharedCopy | None = None
    # While sharing: which connection gets the next bytes (0: the first). A row in progress goes on to the
    # connection that got its start, so nothing is held back, however long a row is.
    turn = 0
    try:
        pieces = reader.copy_data(count_lines=not text_rows)
        # A rewriter gets whole rows and may change them; the hash stays the one of the rows as dumped.
        pairs = rewriter.pieces(pieces) if rewriter is not None and text_rows else ((p, p) for p in pieces)
        for original, block in pairs:
            newline = block.find(b"\n") if shared is None and can_share and sent >= SHARE_AFTER else -1
            if newline != -1 and second is not None:
                # The first connection's stream may stop inside a row: it gets the rest of that row first.
                _put(pgconn, block[:newline + 1], line)
                shared = SharedCopy(second.pgconn(), statement, line)
                _put(pgconn, memoryview(block)[newline + 1:], line)
            elif shared is None:
                _put(pgconn, block, line)
                sent += len(block)
            else:
                # Runs of whole rows go to the two connections in turn: the end of the row in progress
                # and the whole rows after it to one, the start of the next row to the other.
                cut = block.rfind(b"\n") + 1
                view = memoryview(block)
                if cut:
                    _send(pgconn, shared, turn, view[:cut], line)
                    turn ^= 1
                _send(pgconn, shared, turn, view[cut:], line)
            # Hashing after sending overlaps with the server parsing the block.
            rows += reader.piece_rows
            hasher.update(original)
    except BaseException:
        pgconn.put_copy_end(b"load aborted")
        drain_results(pgconn)
        if shared is not None:
            shared.abort()
        raise
    pgconn.put_copy_end(None)
    failed, stored = finish_copy(pgconn)
    if shared is not None:
        if failed is not None:
            shared.abort()
        else:
            shared.finish()
            stored += shared.stored
    if failed is not None:
        raise DatabaseError(f"the COPY at line {line} of the dump failed: {result_error(failed, pgconn)}")
    if text_rows:
        rows = stored
        reader.line += stored
    return rows, stored


def _send(pgconn: pq.abc.PGconn, shared: SharedCopy, turn: int, data: memoryview, line: int) -> None:
    if turn == 0:
        _put(pgconn, data, line)
    elif data:
        shared.put(data)


def _put(pgconn: pq.abc.PGconn, data: bytes | memoryview, line: int) -> None:
    if data and pgconn.put_copy_data(data) != 1:
        raise DatabaseError(f"the COPY at line {line} of the dump failed: {result_error(None, pgconn)}")
