"""A streaming SQL statement splitter for mysqldump-style scripts, reading bytes in large chunks.

It understands what the ``mysql`` client understands in dumps: ``--``/``#``/``/* */`` comments (dropped),
``/*! ... */`` and ``/*M! ... */`` executable comments (kept: the server decides), quoted strings and
identifiers with backslash escapes and doubled quotes (a ``;`` inside does not end a statement), and the
client's ``DELIMITER`` command. Like the client, which learns it from the server, it knows when the script
has turned on ``NO_BACKSLASH_ESCAPES`` (mariadb-dump and synco write routines made under it that way): it
follows the script's ``SET sql_mode`` statements, including the saving and restoring through user variables
that dumps do. Speed comes from one regular expression that swallows runs of ordinary
text and whole quoted strings in C; Python only looks at the few places where something happens.
A statement without a size hint that grows past :data:`BIG_STATEMENT` goes to a sealed temporary file as it
is read (:class:`SpooledStatement`), so memory is bounded by that plus one read chunk, whatever the dump.

synco's own dumps put a size hint (:data:`SIZE_HINT`) before each INSERT, the statement's exact length:
the splitter then takes the statement whole instead of scanning megabytes of values, and checks that the
delimiter follows right where the hint says. Every other client sees an ordinary comment. A hinted
statement of :data:`BIG_STATEMENT` bytes or more is not even read: it is handed over as a
:class:`StreamedStatement`, which its user reads from the dump as it sends it to the server.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from typing import BinaryIO, Protocol

from synco_core.engines.mysql.sealedspool import SealedSpool
from synco_core.errors import DatabaseError

CHUNK = 1 << 20
#: A hinted statement at least this long is not read whole but handed over as a :class:`StreamedStatement`.
BIG_STATEMENT = 4 * CHUNK
#: How much of a :class:`StreamedStatement` is read ahead, for what looks at its start (its kind, its table).
HEAD_BYTES = 64 * 1024
#: What a statement is once read whole: bytes, or a bytearray for one read from a
#: :class:`StreamedStatement` (readable alike: ``re``, slicing and PyMySQL take either).
Statement = bytes | bytearray
#: ``-- synco-size: N``: the next statement is N bytes long, its delimiter follows directly.
SIZE_HINT = b"-- synco-size: "
_WHITESPACE = re.compile(rb"[ \t\r\n\f\v]*")
_DELIMITER_COMMAND = re.compile(rb"delimiter[ \t]+(\S+)[^\n]*(?:\n|\Z)", re.IGNORECASE)
_COMMENT_SPACE = b" \t\r\n\f\v"
_NEVER_VERSION = re.compile(rb"/\*M?!999999")
_STRINGS = (
    rb"'[^'\\]*(?:\\[\s\S][^'\\]*)*'",
    rb'"[^"\\]*(?:\\[\s\S][^"\\]*)*"',
    rb"`[^`]*`",
)
#: Under NO_BACKSLASH_ESCAPES a backslash is an ordinary character (a doubled quote is two strings here).
_RAW_STRINGS = (rb"'[^']*'", rb'"[^"]*"', rb"`[^`]*`")


_BODIES = {
    (b"'", True): re.compile(rb"[^'\\]*(?:\\[\s\S][^'\\]*)*"),
    (b'"', True): re.compile(rb'[^"\\]*(?:\\[\s\S][^"\\]*)*'),
    (b"'", False): re.compile(rb"[^']*"),
    (b'"', False): re.compile(rb'[^"]*'),
}
_BACKTICK_BODY = re.compile(rb"[^`]*")


def _string_body(quote: bytes, backslash_escapes: bool) -> re.Pattern[bytes]:
    """What may follow ``quote`` inside a quoted string, up to its closing quote (as :data:`_STRINGS`)."""
    return _BACKTICK_BODY if quote == b"`" else _BODIES[quote, backslash_escapes]


def _bulk_pattern(delimiter: bytes, backslash_escapes: bool = True, semicolon: bool = False) -> re.Pattern[bytes]:
    """Ordinary text and complete quoted strings; stops at anything that needs a closer look (and at ``;`` with
    ``semicolon``, where a plain statement at the head of a routine's "statement" may end)."""
    first = re.escape(delimiter[:1]) + (b";" if semicolon else b"")
    plain = rb"[^'\"`#/\-" + first + rb"]+"
    strings = _STRINGS if backslash_escapes else _RAW_STRINGS
    # A lone '-' or '/' is plain text only when the next byte is known and does not start a comment, nor
    # the delimiter (``DELIMITER //``, as the MySQL manual and Cacti's schema write it, or ``-$``): at the end
    # of the buffer the lookahead fails, so the splitter reads more before deciding.
    not_delimiter = rb"(?!" + re.escape(delimiter) + rb")"
    return re.compile(rb"(?:" + plain + rb"|" + rb"|".join(strings) + rb"|" + not_delimiter + rb"-(?=[^-])|"
                      + not_delimiter + rb"/(?=[^*]))*")


#: Inside an executable comment: anything up to a quote or the comment's end (a '*' last in the buffer stops it too).
_EXECUTABLE_TEXT = re.compile(rb"(?:[^*'\"`]+|\*(?=[^/]))*")
_SET = re.compile(rb"^(?:/\*M?!\d*\s*)?SET\s", re.IGNORECASE)
_VERSION_MARKS = re.compile(rb"/\*M?!\d*|\*/")
_ASSIGNMENT = re.compile(
    rb"\s*((?:@@)?(?:(?:SESSION|LOCAL)[\s.])?\s*@?[\w.$]+)\s*:?=\s*"
    rb"('(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"|[^,]+?)\s*(?:,|$)", re.IGNORECASE | re.DOTALL)


class SqlModes:
    """Follows the ``sql_mode`` a script sets, as far as splitting needs it: do backslashes escape?

    Understands ``SET sql_mode = '...'`` in its spellings (``SESSION``, ``@@``, inside executable
    comments), saving it in a user variable (``SET @saved = @@sql_mode``) and setting it back from one;
    anything else (an expression) leaves the mode as it was.
    """

    def __init__(self) -> None:
        self.mode = b""
        self.saved: dict[bytes, bytes] = {}

    @property
    def backslash_escapes(self) -> bool:
        return b"NO_BACKSLASH_ESCAPES" not in self.mode.upper()

    def follow(self, statement: bytes) -> None:
        if not _SET.match(statement) or b"MODE" not in statement.upper():
            return
        body = _VERSION_MARKS.sub(b" ", statement).strip()[3:]
        for target, value in _ASSIGNMENT.findall(body):
            name = re.sub(rb"^(?:@@)?(?:(?:SESSION|LOCAL)[\s.]\s*)?", b"", target.strip(), flags=re.IGNORECASE)
            known = self._value(value.strip())
            if name.lower() == b"sql_mode":
                if known is not None:
                    self.mode = known
            elif name.startswith(b"@") and known is not None:
                self.saved[name.lower()] = known

    def learn(self, mode: bytes) -> None:
        """Take the sql_mode the server reports for the session: its word is final, as the client's is the
        server's (it reads the session's NO_BACKSLASH_ESCAPES from every answer), where the script's text may
        not tell (an expression, a statement too long to be read again, a server whose default has it)."""
        self.mode = mode

    def _value(self, value: bytes) -> bytes | None:
        if value[:1] in (b"'", b'"'):
            return value[1:-1]
        lowered = value.lower()
        if lowered in (b"@@sql_mode", b"@@session.sql_mode", b"@@local.sql_mode"):
            return self.mode
        if lowered.startswith(b"@"):
            return self.saved.get(lowered)
        if lowered == b"default":
            return b""
        return None


#: The statements that never hold a ``;`` of their own (no compound body): the client sends a "statement"
#: that starts with one of these and goes on past a ``;`` as several, in one multi-statement query.
_SIMPLE_HEAD = re.compile(
    rb"(?:DROP|SET|USE|INSERT|REPLACE|UPDATE|DELETE|SELECT|TRUNCATE|RENAME|LOCK|UNLOCK|COMMIT|START|GRANT"
    rb"|REVOKE|(?:CREATE|ALTER)\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?(?:TABLE|VIEW|INDEX|UNIQUE|DATABASE"
    rb"|SCHEMA|SEQUENCE))\b", re.IGNORECASE)


def _plain_head(head: bytes) -> bool:
    """Whether ``head``, the text of a statement up to a ``;`` under another ``DELIMITER``, is a plain statement
    that the server runs on its own when the client sends the delimited text as one multi-statement query.

    Under another ``DELIMITER`` a script may put plain statements before a routine in one "statement"
    (``DROP TRIGGER IF EXISTS t;`` then ``CREATE TRIGGER t ... BEGIN ...; END //``: ZoneMinder's and
    FreeRADIUS's schemas do). synco's loader sends one statement at a time, so each plain statement at the
    head (one that cannot hold a ``;`` of its own) is split off at its ``;``, outside strings, quoted names
    and comments; what follows, from the first other statement on, stays one statement."""
    words = re.sub(rb"/\*.*?\*/|--[^\n]*|#[^\n]*", b" ", head, flags=re.DOTALL).strip()
    return _SIMPLE_HEAD.match(words) is not None


#: A comment line between statements longer than this is no line synco reads; it is skipped as it is read.
_LONG_LINE = 1 << 16
#: How much of a spooled statement's start is kept in memory, for what its start decides (see
#: :meth:`StatementSplitter._head`).
_SPOOL_HEAD = 4096


def _end(pattern: re.Pattern[bytes], buf: bytes, pos: int) -> int:
    """Where ``pattern`` (which always matches, possibly empty) stops matching from ``pos``."""
    match = pattern.match(buf, pos)
    return match.end() if match else pos


class PieceCheck(Protocol):
    """What must pass a streamed statement before it may run: fed every piece as it is sent, then asked."""

    def feed(self, piece: bytes | bytearray | memoryview) -> None: ...

    def finish(self) -> None:
        """Raise when the statement, now fed whole, must not run."""


class StreamedStatement:
    """A hinted statement of :data:`BIG_STATEMENT` bytes or more (a row with a huge value), read from the dump
    as it is used instead of held whole: ``head`` is its start (:data:`HEAD_BYTES`), :meth:`pieces` gives
    all of it once, in pieces of at most the splitter's chunk size. The splitter goes on once the
    statement's user asks for the next one; what was not read is skipped then.
    """

    def __init__(self, splitter: StatementSplitter, size: int, start: bytes) -> None:
        self.splitter = splitter
        self.size = size
        self.read = start
        #: Bytes of the statement taken from the dump so far (``start`` included).
        self.taken = len(start)
        self.taken_out = False
        while len(self.read) < min(size, HEAD_BYTES):
            self.read += self._more(HEAD_BYTES - len(self.read))
        self.head = self.read[:HEAD_BYTES]
        #: Set by the loader: what its sender feeds the pieces to and asks before the statement may run.
        self.check: PieceCheck | None = None

    def __len__(self) -> int:
        return self.size

    def _more(self, wanted: int) -> bytes:
        data: bytes = self.splitter.stream.read(min(wanted, self.size - self.taken))
        if not data:
            self.splitter.eof = True
            raise self.splitter._truncated("a statement")
        self.taken += len(data)
        self.splitter.consumed += len(data)
        return data

    def pieces(self) -> Iterator[bytes]:
        """The statement, piece by piece, read from the dump as they are asked for (once only)."""
        if self.taken_out:
            raise RuntimeError("a streamed statement is read only once")
        self.taken_out = True
        start, self.read = self.read, b""
        if start:
            yield start
        while self.taken < self.size:
            yield self._more(self.splitter.chunk_size)

    def whole(self) -> bytearray:
        """The statement in one buffer, for what must see all of it (checked by :attr:`check`, if set)."""
        try:
            # Made before a byte of it arrives: the size is the dump's word, which may be past any memory.
            statement = bytearray(self.size)
        except (MemoryError, OverflowError):
            raise DatabaseError(f"the dump is damaged: a size hint announces a statement of {self.size} bytes, "
                                "more than this machine can hold") from None
        with memoryview(statement) as view:
            have = 0
            for piece in self.pieces():
                view[have:have + len(piece)] = piece
                have += len(piece)
        if self.check is not None:
            self.check.feed(statement)
            self.check.finish()
        return statement

    def skip_rest(self) -> None:
        self.read = b""
        while self.taken < self.size:
            self._more(self.splitter.chunk_size)


class SpooledStatement(StreamedStatement):
    """A statement without a size hint that grew past :data:`BIG_STATEMENT` while it was read (a dump synco
    did not write: mariadb-dump's extended INSERT of hundreds of MB, a row with a huge blob): what was read
    went to a :class:`~.sealedspool.SealedSpool` as the splitter scanned on for its end, and is read back
    from there as a :class:`StreamedStatement` is from the dump. The splitter is past its delimiter already.
    """

    def __init__(self, splitter: StatementSplitter, spool: SealedSpool) -> None:
        self.splitter = splitter
        self.spool = spool
        self.size = spool.size
        self._blocks = spool.blocks()
        self.read = b""
        self.taken = 0
        self.taken_out = False
        while len(self.read) < min(self.size, HEAD_BYTES):
            self.read += self._more(HEAD_BYTES)
        self.head = self.read[:HEAD_BYTES]
        self.check = None
        #: The statement is one executable comment (``/*!40000 INSERT ... */``, as some dump tools wrap their
        #: rows), from its first byte to its last: set by the splitter, which alone saw where the comment ended.
        self.wrapped = False

    def _more(self, wanted: int) -> bytes:
        block = next(self._blocks, b"")
        if not block:
            raise DatabaseError("a huge statement's temporary file ended early")
        self.taken += len(block)
        return block

    def skip_rest(self) -> None:
        self.read = b""
        self.spool.close()


#: The opening of an executable comment and the blanks after it: ``/*!40000 ``, ``/*M!100100 ``, ``/*! ``.
_OPENING = re.compile(rb"/\*(M?)!(\d{5,6})?[ \t\r\n\f\v]*")


class UnwrappedStatement(SpooledStatement):
    """What the server runs of a :class:`SpooledStatement` that is one executable comment (its
    :attr:`~SpooledStatement.wrapped`): the text inside, without the opening (and the blanks after it) and the
    closing ``*/``, read from the spool as the statement would be. Whoever would take the statement whole to look
    into it (the gate, the loader) reads its INSERT as a plain one instead, sent as it is read."""

    def __init__(self, wrapped: SpooledStatement, opening: int) -> None:
        self.inner = wrapped
        self.splitter = wrapped.splitter
        self.spool = wrapped.spool
        self.wrapped = False
        self.opening = opening
        self.size = wrapped.size - opening - 2
        self.taken_out = False
        self.read = b""
        self.taken = 0
        self.head = wrapped.head[opening:]
        self.check = None

    def pieces(self) -> Iterator[bytes]:
        if self.taken_out:
            raise RuntimeError("a streamed statement is read only once")
        self.taken_out = True
        skip, left = self.opening, self.size
        for piece in self.inner.pieces():
            if skip:
                cut = min(skip, len(piece))
                piece, skip = piece[cut:], skip - cut
            piece = piece[:left]
            left -= len(piece)
            if piece:
                yield piece

    def skip_rest(self) -> None:
        self.inner.skip_rest()


def unwrapped(statement: SpooledStatement, version: int, mariadb: bool) -> UnwrappedStatement | None:
    """``statement`` without the executable comment it is wrapped in, when a server of ``version``
    (``100611`` for 10.6.11) runs the comment's text: ``/*!NNNNN`` for a version up to its own (on MariaDB, not
    MySQL 8's ``/*!80xxx``, which the loader drops), ``/*M!NNNNNN`` on MariaDB only. None otherwise, or when the
    statement is not one such comment whole."""
    opening = _OPENING.match(statement.head)
    if not statement.wrapped or opening is None:
        return None
    digits = opening.group(2) or b""
    number = int(digits or 0)
    if mariadb:
        # MariaDB runs MySQL 8's comments, which the loader drops before they fail there (load.py).
        if number > version or 80000 <= number <= 80999:
            return None
    elif opening.group(1) or len(digits) > 5 or number > version:
        # MySQL reads five digits of a version and the rest as text; /*M! is a plain comment to it.
        return None
    if opening.end() >= len(statement.head) or opening.end() + 2 > statement.size:
        return None
    return UnwrappedStatement(statement, opening.end())


_SET_STATEMENT = re.compile(rb"^(?:/\*M?!\d*\s*)?SET(?![0-9A-Za-z_$\x80-\xff])", re.IGNORECASE)
_MODE = re.compile(rb"mode", re.IGNORECASE)


def may_set_mode(statement: Statement | StreamedStatement) -> bool:
    """Whether ``statement`` may change the session's sql_mode, so that the statements after it are to be split
    in the mode the server reports once it ran: a SET naming a mode, or any SET too long to be read whole
    (the name may be anywhere in it)."""
    if not _SET_STATEMENT.match(head_of(statement)):
        return False
    return isinstance(statement, StreamedStatement) or _MODE.search(statement) is not None


def head_of(statement: Statement | StreamedStatement) -> Statement:
    """What the start of a statement is matched against: all of it, or a streamed statement's head."""
    return statement.head if isinstance(statement, StreamedStatement) else statement


class StatementSplitter:
    """Iterate over the statements of ``stream`` (bytes, delimiter removed, surrounding space stripped).

    ``on_comment`` receives every ``--`` comment line between statements (synco's manifest lives there).
    A script that ends inside a statement, string or comment raises :class:`DatabaseError`.
    """

    def __init__(self, stream: BinaryIO, on_comment: Callable[[bytes], None] | None = None,
                 chunk_size: int = CHUNK) -> None:
        self.stream = stream
        self.on_comment = on_comment
        self.chunk_size = chunk_size
        self.buf = b""
        self.pos = 0
        self.eof = False
        self.delimiter = b";"
        #: The script's sql_mode, as far as it decides how strings end.
        self.modes = SqlModes()
        #: Whether backslashes escape in what is being scanned: the mode at the start of the delimited text, as
        #: the client scans all of it before the server runs any of its statements.
        self._escapes = True
        self._bulk = self._bulk_leading = _bulk_pattern(self.delimiter)
        #: Inside a delimited text, after a plain statement split off its head (see :func:`_plain_head`).
        self._within = False
        #: The start of the statement that went to :attr:`_spool` (its parts are gone).
        self._spool_head = b""
        #: Bytes read so far, for error messages.
        self.consumed = 0
        self.statements = 0
        #: The size the last hint announced for the next statement.
        self._sized: int | None = None
        #: The spool of the statement being read, once it is too long to hold (see :meth:`_held`).
        self._spool: SealedSpool | None = None
        self._blanks = b""
        #: Where, in bytes of the dump, the statement being scanned starts, and where an executable comment it
        #: starts with ends (-1: none).
        self._opened_at = self._wrapped_to = -1
        #: The comment line being skipped is longer than :data:`_LONG_LINE` (its body was dropped as it was read).
        self._long_line = False
        #: Send comments inside CREATE statements as they are, rather than remove them as the client does: a
        #: synco dump holds routine, trigger and event bodies as the server stored them, comments included (an
        #: application's connector keeps them), and the copy must hold the same. Only there: the gate reads
        #: INSERT's rows by searches rather than tokens, which are best fed what the client would send.
        self.keep_comments = False

    def _fill(self, keep_from: int) -> bool:
        """Drop the buffer before ``keep_from``, read more; False at the end of the stream."""
        if self.eof:
            return False
        want = max(self.chunk_size, len(self.buf) - keep_from)
        data = self.stream.read(want)
        if not data:
            self.eof = True
            return False
        self.consumed += keep_from
        self.buf = self.buf[keep_from:] + data
        self.pos -= keep_from
        return True

    def _set_delimiter(self, delimiter: bytes) -> None:
        self.delimiter = delimiter
        self._escapes = self.modes.backslash_escapes
        self._bulk = _bulk_pattern(delimiter, self._escapes)
        self._bulk_leading = _bulk_pattern(delimiter, self._escapes, semicolon=True)

    def __iter__(self) -> Iterator[Statement | StreamedStatement]:
        while self._skip_space_and_comments():
            if not self._within and self._delimiter_command():
                continue
            sized = self._sized is not None
            statement = self._statement() if not sized else self._sized_statement()
            if not statement:
                continue
            if isinstance(statement, SpooledStatement):
                self.statements += 1
                try:
                    yield statement
                finally:
                    statement.skip_rest()
                continue
            if isinstance(statement, StreamedStatement):
                self.statements += 1
                yield statement
                self._after_streamed(statement)
                continue
            self.statements += 1
            if isinstance(statement, bytes) and not sized:
                # Before the statement is handed over: what the server reports after running it
                # (:meth:`SqlModes.learn`, while the reader waits, see :func:`may_set_mode`) comes last.
                self.modes.follow(statement)
            yield statement
        if self._within:
            # The dump ends after a plain statement split off the head of a delimited text, before its delimiter.
            raise self._truncated("a statement")

    def _skip_space_and_comments(self) -> bool:
        """Move to the start of the next statement; False at a clean end of the stream."""
        while True:
            self.pos = _end(_WHITESPACE, self.buf, self.pos)
            if self.pos + 3 > len(self.buf) and self._fill(self.pos):
                continue
            if self.pos >= len(self.buf):
                return False
            head = self.buf[self.pos:self.pos + 3]
            if head[:1] == b"#" or (head[:2] == b"--" and (len(head) == 2 or head[2:3] in _COMMENT_SPACE)):
                end = self.buf.find(b"\n", self.pos)
                if end < 0:
                    if len(self.buf) - self.pos > _LONG_LINE:
                        # Not a line synco reads (its hints and manifest lines are short): its body is dropped
                        # as it is read, not held until the line ends.
                        self._skip_line(len(head[:1] if head[:1] == b"#" else head))
                        continue
                    if self._fill(self.pos):
                        continue
                    end = len(self.buf)
                if self._long_line:
                    self._long_line = False
                elif self._within:
                    pass  # a comment inside a delimited text, which the client sends with it (and the server drops)
                elif self.buf.startswith(SIZE_HINT, self.pos):
                    self._sized = self._hinted_size(self.buf[self.pos + len(SIZE_HINT):end])
                elif self.on_comment is not None and head[:1] == b"-":
                    self.on_comment(self.buf[self.pos:end].rstrip(b"\r"))
                self.pos = end
                continue
            if head[:2] == b"/*" and ((head[2:3] != b"!" and not self.buf.startswith(b"/*M!", self.pos))
                                      or self._never_executed()):
                end = self.buf.find(b"*/", self.pos + 2)
                if end < 0:
                    opening = 2
                    # Its body read so far is dropped (a blank stands for it, so that the next read cannot make
                    # its opening an executable comment's), all but a last '*' that may begin its end.
                    body = self.buf[self.pos + opening:]
                    tail = body[-1:] if body[-1:] == b"*" else b""
                    if len(body) - len(tail) > 1:
                        self.consumed += len(body) - len(tail) - 1
                        self.buf = self.buf[:self.pos + opening] + b" " + tail
                    if self._fill(self.pos):
                        continue
                    raise self._truncated("a comment")
                self.pos = end + 2
                continue
            return True

    def _skip_line(self, opening: int) -> None:
        """Drop the body of the long comment line at the current position read so far, read more."""
        self._long_line = True
        self.consumed += len(self.buf) - self.pos - opening
        self.buf = self.buf[:self.pos + opening]
        if not self._fill(self.pos):
            self.buf += b"\n"  # Ends with the script.

    def _never_executed(self) -> bool:
        """True at an executable comment for a version no server reaches (mariadb-dump starts its output
        with ``/*M!999999\\- enable the sandbox mode */`` and no delimiter): it is only a comment."""
        while len(self.buf) - self.pos < 10 and self._fill(self.pos):
            pass
        return _NEVER_VERSION.match(self.buf, self.pos) is not None

    def _delimiter_command(self) -> bool:
        if self.buf[self.pos:self.pos + 9].lower() != b"delimiter":
            if len(self.buf) - self.pos < 10 and self._fill(self.pos):
                return self._delimiter_command()
            return False
        while True:
            match = _DELIMITER_COMMAND.match(self.buf, self.pos)
            if match and (match.group(0).endswith(b"\n") or self.eof):
                self._set_delimiter(match.group(1))
                self.pos = match.end()
                return True
            if not self._fill(self.pos):
                if match:
                    continue
                return False

    def _truncated(self, what: str) -> DatabaseError:
        return DatabaseError(f"the dump ends inside {what} (statement {self.statements + 1}, "
                             f"byte {self.consumed + self.pos}): it is truncated or not SQL")

    def _hinted_size(self, text: bytes) -> int:
        try:
            size = int(text.strip())
        except ValueError:
            size = -1
        # Past sys.maxsize no buffer, and no len(), can be that long.
        if not 1 <= size <= sys.maxsize:
            raise DatabaseError(f"the dump is damaged: a malformed size hint before statement {self.statements + 1} "
                                f"(byte {self.consumed + self.pos})")
        return size

    def _sized_statement(self) -> Statement | StreamedStatement:
        """The statement a size hint announced: exactly that many bytes, then the delimiter."""
        assert self._sized is not None
        size, self._sized = self._sized, None
        if size >= BIG_STATEMENT and len(self.buf) - self.pos < size:
            # Not held whole: growing the read buffer to hold it and cutting it out of there would hold it
            # two or three times over, and even once is as much memory as the value.
            start = self.buf[self.pos:]
            self.consumed += len(self.buf)
            self.buf, self.pos = b"", 0
            return StreamedStatement(self, size, start)
        while len(self.buf) < self.pos + size + len(self.delimiter):
            if not self._fill(self.pos):
                raise self._truncated("a statement")
        end = self.pos + size
        if not self.buf.startswith(self.delimiter, end):
            raise DatabaseError(f"the dump is damaged: statement {self.statements + 1} (byte "
                                f"{self.consumed + self.pos}) does not end where its size hint says")
        statement = self.buf[self.pos:end]
        self.pos = end + len(self.delimiter)
        return statement

    def _after_streamed(self, statement: StreamedStatement) -> None:
        """Skip what the user of a streamed statement left of it; the delimiter must follow."""
        statement.skip_rest()
        while len(self.buf) < len(self.delimiter):
            if not self._fill(0):
                raise self._truncated("a statement")
        if not self.buf.startswith(self.delimiter):
            raise DatabaseError(f"the dump is damaged: statement {self.statements} (byte "
                                f"{self.consumed - statement.size}) does not end where its size hint says")
        self.pos = len(self.delimiter)

    def _statement(self) -> bytes | SpooledStatement:
        """Read one statement from the current position up to and including its delimiter; one that grows
        past :data:`BIG_STATEMENT` goes to a spool as it is read (see :class:`SpooledStatement`)."""
        self._spool = None
        if not self._within and self._escapes != self.modes.backslash_escapes:
            # A statement before changed the sql_mode: it counts from the next delimited text on.
            self._set_delimiter(self.delimiter)
        try:
            statement = self._scan()
        except BaseException:
            if self._spool is not None:
                self._spool.close()
            self._spool = None
            raise
        if self._spool is None:
            return statement
        try:
            self._spill(statement)
            spooled = SpooledStatement(self, self._spool)
            # The spool holds the comment and, after it, only what the client keeps of the text before the
            # delimiter (dropped comments gone, blanks stripped at the end): the same length when that is nothing.
            spooled.wrapped = self._wrapped_to - self._opened_at == spooled.size
        except BaseException:
            self._spool.close()
            raise
        finally:
            self._spool = None
        return spooled

    def _spill(self, part: bytes) -> None:
        """Move ``part`` (what follows what the spool holds) to the spool; blanks at its end are held back,
        so that the statement ends without them, as a statement read whole is stripped."""
        assert self._spool is not None
        kept = part.rstrip(_COMMENT_SPACE)
        if kept:
            if self._blanks:
                self._spool.write(self._blanks)
            self._spool.write(kept)
            self._blanks = part[len(kept):]
        else:
            self._blanks += part

    def _held(self, parts: list[bytes]) -> None:
        """Once a statement read so far is longer than :data:`BIG_STATEMENT`, what it holds goes to a spool:
        memory holds no more than that and a read chunk, however long the statement. Called once per read."""
        if self._spool is None:
            if sum(len(part) for part in parts) < BIG_STATEMENT:
                return
            self._spool = SealedSpool(f"a statement of the dump longer than {BIG_STATEMENT >> 20} MiB without a size "
                                      "hint (held there, sealed, until its end is found)", "a huge statement")
            self._blanks = b""
            first = b"".join(parts).lstrip(_COMMENT_SPACE)
            self._spool_head = first[:_SPOOL_HEAD]
            parts[:] = [first]
        for part in parts:
            self._spill(part)
        parts.clear()

    def _scan(self) -> bytes:
        parts: list[bytes] = []
        start = self.pos
        # Where the statement starts and where an executable comment it starts with ends, in bytes of the dump
        # (see :attr:`SpooledStatement.wrapped`).
        self._opened_at, self._wrapped_to = self.consumed + start, -1
        delimiter = self.delimiter
        first = delimiter[:1]
        keep: bool | None = None  # whether this statement's comments stay: decided at its first comment
        # Under the default delimiter every ';' ends a statement; under another one, a ';' ends one only after
        # plain statements at the head of the delimited text (decided at its first ';', see _plain_head).
        compound = delimiter == b";"
        bulk = self._bulk if compound else self._bulk_leading
        while True:
            self.pos = _end(bulk, self.buf, self.pos)
            pos = self.pos
            buf = self.buf
            if pos >= len(buf):
                if pos > start:
                    parts.append(buf[start:pos])
                self._held(parts)
                if not self._fill(pos):
                    if self._spool is not None or b"".join(parts).strip():
                        raise self._truncated("a statement")
                    self._within = False
                    return b""
                start = self.pos
                continue
            char = buf[pos:pos + 1]
            if char == first:
                if buf.startswith(delimiter, pos):
                    parts.append(buf[start:pos])
                    self.pos = pos + len(delimiter)
                    self._within = False
                    if self._spool is not None:
                        # The rest, for _statement to spill (stripped at its end only).
                        return b"".join(parts)
                    return b"".join(parts).strip()
                if len(buf) - pos < len(delimiter) and not self.eof:
                    start = self._need_more(parts, start)
                    continue
                if char not in (b"-", b"/", b"#", b";"):
                    self.pos = pos + 1
                    continue
                # Not the delimiter, but where a comment may start (the client, too, looks for the
                # delimiter first, then for a comment): "/*" under DELIMITER //, "-- " under DELIMITER -$.
            if char == b";":
                if not compound and _plain_head(self._head(parts, buf[start:pos], whole=True)):
                    parts.append(buf[start:pos])
                    self.pos = pos + 1
                    self._within = True
                    return b"".join(parts) if self._spool is not None else b"".join(parts).strip()
                compound, bulk = True, self._bulk
                self.pos = pos + 1
                continue
            if char in (b"'", b'"', b"`"):
                # The string does not end inside the buffer: read on to its end, keeping what is read.
                if self.eof:
                    raise self._truncated("a quoted string")
                start = self._long_string(parts, start)
                continue
            if char == b"-":
                nxt = buf[pos + 1:pos + 3]
                if len(nxt) < 2 and not self.eof:
                    start = self._need_more(parts, start)
                    continue
                if nxt[:1] != b"-" or (len(nxt) == 2 and nxt[1:2] not in _COMMENT_SPACE):
                    self.pos = pos + 1
                    continue
            if char in (b"#", b"-"):
                end = buf.find(b"\n", pos)
                if keep is None:
                    keep = self._keeps_comments(parts, buf[start:pos])
                if end < 0:
                    if not self.eof:
                        if keep:
                            start = self._kept_comment(parts, start, b"\n", 0)
                        else:
                            start = self._dropped_comment(parts, start, 1 if char == b"#" else 3)
                        continue
                    end = len(buf)
                if keep:
                    self.pos = end
                    continue
                # The client drops the comment and keeps the line break after it, adding nothing: a
                # routine's body is stored as sent, blanks included.
                parts.append(buf[start:pos])
                self.pos = start = end
                continue
            # What is left is '/': a division, a comment, or an executable comment.
            if len(buf) - pos < 4 and not self.eof:
                start = self._need_more(parts, start)
                continue
            if buf[pos + 1:pos + 2] != b"*":
                self.pos = pos + 1
                continue
            executable = buf[pos + 2:pos + 3] == b"!" or buf.startswith(b"M!", pos + 2)
            if executable:
                # Executable comments belong to the statement; the server evaluates them, and reads a quoted
                # string in one as in any statement (a '*/' inside it does not end the comment).
                opens = self.consumed + pos == self._opened_at
                start = self._kept_comment(parts, start, b"*/", 2, strings=True)
                if opens:
                    self._wrapped_to = self.consumed + self.pos
                continue
            end = buf.find(b"*/", pos + 2)
            if keep is None:
                keep = self._keeps_comments(parts, buf[start:pos])
            if end < 0:
                if self.eof:
                    raise self._truncated("a comment")
                start = (self._kept_comment(parts, start, b"*/", 2) if keep
                         else self._dropped_comment(parts, start, 2))
                continue
            if keep:
                self.pos = end + 2
            else:
                after = buf[end + 2:end + 6]
                if len(after) < 4 and not self.eof:
                    start = self._need_more(parts, start)
                    continue
                parts.append(buf[start:pos])
                if _space_after_comment(after):
                    parts.append(b" ")
                self.pos = start = end + 2

    def _long_string(self, parts: list[bytes], start: int) -> int:
        """Read on to the end of the quoted string that starts at the current position and does not end in the
        buffer; returns the new start of what is not in ``parts`` yet, with the position right after the string.

        Matching it again from its quote once the buffer holds more made the buffer grow to the whole string
        (a 500 MB blob's literal held whole, and scanned again at every doubling): what is read of it goes to
        ``parts`` (and on to the spool, :meth:`_held`) a read at a time instead."""
        quote = self.buf[self.pos:self.pos + 1]
        body = _string_body(quote, self._escapes)
        at = self.pos + 1
        while True:
            end = _end(body, self.buf, at)
            if end < len(self.buf) and self.buf[end:end + 1] == quote:
                self.pos = end + 1
                return start
            # The body is complete up to ``end``: the buffer's end, or a backslash whose escaped byte is not read
            # yet.
            parts.append(self.buf[start:end])
            self._held(parts)
            self.pos = end
            if not self._fill(end):
                raise self._truncated("a quoted string")
            start = at = self.pos

    def _kept_comment(self, parts: list[bytes], start: int, closing: bytes, opening: int,
                      strings: bool = False) -> int:
        """Read on to the end of the comment that starts at the current position (``opening`` bytes long) and
        stays in the statement: up to ``closing`` (which stays in the statement too; the position is put after
        it, or at it for a line's end), with quoted strings read whole when ``strings`` (an executable comment).
        Returns the new start of what is not in ``parts`` yet.

        What is read goes to ``parts`` (and on to the spool, :meth:`_held`) a read at a time: a comment of 50 MB
        (an INSERT inside ``/*! ... */``) was held whole in the read buffer until its end was found."""
        at = self.pos + opening
        while True:
            buf = self.buf
            if strings:
                at = _end(_EXECUTABLE_TEXT, buf, at)
                if buf[at:at + 1] in (b"'", b'"', b"`"):
                    self.pos = at
                    start = self._long_string(parts, start)
                    at = self.pos
                    continue
                if buf.startswith(closing, at):
                    self.pos = at + len(closing)
                    return start
                # At the end of the buffer, or at a '*' that is its last byte.
            else:
                end = buf.find(closing, at)
                if end >= 0:
                    self.pos = end + (len(closing) if closing != b"\n" else 0)
                    return start
                # The last byte may start the closing.
                at = max(at, len(buf) - len(closing) + 1)
            if self.eof:
                raise self._truncated("a comment")
            parts.append(buf[start:at])
            self._held(parts)
            self.pos = at
            if not self._fill(at):
                if closing == b"\n":
                    # A line comment ends with the script.
                    self.pos = len(self.buf)
                    return self.pos
                raise self._truncated("a comment")
            start = at = self.pos

    def _dropped_comment(self, parts: list[bytes], start: int, opening: int) -> int:
        """The comment at the current position (``opening`` bytes long: ``/*``, ``#``, ``-- ``) does not end in the
        buffer and is dropped from the statement: its body read so far is dropped from the buffer (a blank stands
        for it, so what follows cannot join its opening into ``/*!``) and more is read, the scan going on from the
        comment's start; the buffer does not grow with the comment. Returns the new start."""
        pos = self.pos
        body = self.buf[pos + opening:]
        # A '*' or '-' last may begin the comment's end ('*/') or be nothing, as the next read decides.
        tail = body[-1:] if body[-1:] == b"*" else b""
        dropped = len(body) - len(tail)
        if dropped > 1:
            self.buf = self.buf[:pos + opening] + b" " + tail
            self.consumed += dropped - 1
        return self._need_more(parts, start)

    def _keeps_comments(self, parts: list[bytes], rest: bytes) -> bool:
        """Whether the statement read so far (``parts``, then ``rest``) keeps its comments: a CREATE in a
        synco dump."""
        if not self.keep_comments:
            return False
        return self._head(parts, rest).lstrip()[:6].upper() == b"CREATE"

    def _head(self, parts: list[bytes], rest: bytes, whole: bool = False) -> bytes:
        """The start of the statement read so far (``parts``, then ``rest``), at least 16 bytes of it when it is that
        long (all of it with ``whole``, or its first :data:`_SPOOL_HEAD` bytes once it went to the spool)."""
        if self._spool is not None:
            return self._spool_head
        if whole:
            return b"".join((*parts, rest))
        head = b""
        for part in (*parts, rest):
            head += part[:16]
            if len(head) >= 16:
                break
        return head

    def _need_more(self, parts: list[bytes], start: int) -> int:
        """Keep the statement so far, read more after the current position; returns the new start."""
        pos = self.pos
        if pos > start:
            parts.append(self.buf[start:pos])
        self._held(parts)
        if not self._fill(pos):
            # The end of the stream: drop what is kept, so the caller decides with what is left.
            self.consumed += pos
            self.buf = self.buf[pos:]
            self.pos = 0
        return self.pos


def _space_after_comment(after: bytes) -> bool:
    """Whether the client puts a space where a ``/* */`` comment was, given what follows it: only before a
    character that would otherwise touch the text before the comment (``a/* */b`` is ``a b``), not before a
    blank or a line break (its space is per line), nor before another comment, whose end decides the same."""
    if not after or after[:1] in _COMMENT_SPACE or after[:1] == b"#":
        return False
    if after[:2] == b"/*":
        return after[2:3] == b"!" or after[2:4] == b"M!"
    return not (after[:2] == b"--" and (len(after) == 2 or after[2:3] in _COMMENT_SPACE))
