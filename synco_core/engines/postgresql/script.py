"""Splitting a plain SQL script into statements and ``COPY`` data, the way ``psql`` does.

Quotes, ``E''`` strings, quoted identifiers, dollar quoting, nested comments and SQL-standard routine bodies
are understood; the data of a ``COPY ... FROM stdin`` block is handed on in large pieces, never split into
rows, only searched for the ``\\.`` line that ends it. :mod:`.loader` runs what this module reads.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import BinaryIO

from synco_core.engines.postgresql.catalog import manifest_key
from synco_core.errors import DatabaseError

#: How much of the dump is read at a time.
READ_SIZE = 1 << 20
#: The longest statement a plain script may hold. PostgreSQL takes a statement in one message, which the
#: driver sends from one buffer: a statement is held whole (about twice over at the peak: the read buffer and
#: the statement cut from it, then the statement and the driver's message), so a longer one is refused in one
#: line before it is read on. ``COPY`` data is not a statement: it is read and sent in pieces, whatever the
#: length of a row (docs/engines.md).
MAX_STATEMENT = 256 << 20

# The characters where the statement scanner has something to decide; everything else is skipped in C.
SPECIAL = re.compile(rb"[;'\"$\\]|--|/\*")
# The same, with the parentheses the splitter counts: like psql, it ends a statement only at a ";" outside
# every parenthesis, so a rule of several actions (``DO INSTEAD ( DELETE ...; DELETE ...; )``, as
# ``pg_get_ruledef`` writes it) stays one statement.
_STATEMENT_SPECIAL = re.compile(rb"[;'\"$\\()]|--|/\*")
#: A run of what needs no closer look, matched in C: ordinary text, and plain quoted strings (``'...'`` with ``''``
#: inside) that follow no letter, digit or ``&`` (``E''``, ``U&''``, ``B''`` and the rest are read one by one, by
#: :func:`skip_part`). It stops at anything else (a quote, a comment's start, ``$``, ``;``, a backslash), where
#: the byte after a string, a '-' or a '/' is not known yet (the end of what was read), and at a line break that
#: a string may follow (the server joins string constants across lines: :mod:`.reading` decides). A statement
#: of pg_dump ``--inserts`` rows is mostly such strings: reading them one by one in Python made the loader's
#: own work 1.9 CPU seconds for 95 MB of them (psql's: 0.3).
_BULK = (rb"(?:[^'\"$\\\-/;\n]+|-(?=[^-])|/(?=[^*])|\n(?![ \t\f\r\v\n]*')"
         rb"|(?<![A-Za-z0-9_$&\x80-\xff])'[^']*(?:''[^']*)*'(?=[^']))*")
#: Python's regular expressions keep a step back for every turn of a repeated group, in case what follows fails:
#: a 50 MB string of text with an apostrophe every few words took ten times its size in those (a 50 MB INSERT
#: of pg_dump ``--inserts`` loaded at a peak of 612 MB, 1.7 GB for 150 MB). Nothing follows here that could make
#: the match give any back (a plain string's last quote must be followed by another byte, which a shorter match
#: of its doubled quotes would not give), so the repeats are possessive where Python has them (3.11).
_POSSESSIVE = sys.version_info >= (3, 11)


def _possessive(pattern: bytes) -> bytes:
    return pattern.replace(b"]*", b"]*+").replace(b"]+", b"]++").replace(b")*", b")*+") if _POSSESSIVE else pattern


BULK = re.compile(_possessive(_BULK))
_NOT_PARENS = bytes(b for b in range(256) if b not in b"()")


def _count_parens(depth: int, code: bytes) -> int:
    """psql's count of open parentheses after ``code`` (text without strings or comments), from ``depth``: a ")"
    too many is let go, never counted below zero. Pairs that open and close within it change nothing; what is
    left of them is closings, then openings."""
    parens = code.translate(None, _NOT_PARENS)
    while b"()" in parens:
        parens = parens.replace(b"()", b"")
    closing = len(parens) - len(parens.lstrip(b")"))
    return max(depth - closing, 0) + len(parens) - closing
#: A plain string as :data:`BULK` takes it.
PLAIN_STRING = re.compile(_possessive(rb"(?<![A-Za-z0-9_$&\x80-\xff])'[^']*(?:''[^']*)*'"))
_DOLLAR_TAG = re.compile(rb"\$([A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*)?\$")
COPY_FROM_STDIN = re.compile(rb"^\s*COPY\s.*\bFROM\s+STDIN\b", re.IGNORECASE | re.DOTALL)
DATABASE_LEVEL = re.compile(rb"^\s*(CREATE|DROP|ALTER)\s+DATABASE\b", re.IGNORECASE)
IGNORED_META = {"connect", "c", "restrict", "unrestrict", "set", "encoding", "unset"}
_IDENTIFIER_CHAR = re.compile(rb"[A-Za-z0-9_\x80-\xff]")
_IDENTIFIER_END = re.compile(rb"[^A-Za-z0-9_$\x80-\xff]")
_NON_SPACE = re.compile(rb"\S")
_COMMENT_EDGE = re.compile(rb"/\*|\*/")
_STRING_EDGE = re.compile(rb"'")
_ESCAPE_STRING_EDGE = re.compile(rb"\\.|'", re.DOTALL)
#: An ``E''`` string's body up to its closing quote: what is not a quote or a backslash, escapes, doubled quotes.
_ESCAPE_STRING_BODY = re.compile(_possessive(rb"[^'\\]*(?:(?:\\[\s\S]|'')[^'\\]*)*"))

#: The last comment line of a complete dump, by the kind of dump its first lines announce.
_COMPLETE_MARKERS = {
    b"-- synco PostgreSQL dump\n": b"-- synco PostgreSQL dump complete",
    b"-- PostgreSQL database dump\n": b"-- PostgreSQL database dump complete",
}


_IDENTIFIER = rb'(?:"(?:[^"]|"")*"|[A-Za-z_\x80-\xff][A-Za-z0-9_$\x80-\xff]*)'
_COPY_TARGET = re.compile(rb"\s*COPY\s+(" + _IDENTIFIER + rb")(?:\s*\.\s*(" + _IDENTIFIER + rb"))?", re.IGNORECASE)

# A SQL-standard routine body (BEGIN ATOMIC ... END) holds statements ended by ";". Like psql, the loader
# counts BEGIN / CASE / END words outside parentheses, quotes and comments in CREATE FUNCTION and CREATE
# PROCEDURE statements, and ends the statement only at a ";" where they balance.
_CREATE_ROUTINE = re.compile(rb"CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\b", re.IGNORECASE)
_ROUTINE_TOKEN = re.compile(rb"""
    (?P<skip>[Ee]'(?:[^'\\]|\\.|'')*'
      | '(?:[^']|'')*'
      | "(?:[^"]|"")*"
      | --[^\n]*
      | /\*.*?\*/
      | \$(?P<tag>(?:[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*)?)\$.*?\$(?P=tag)\$)
    | (?P<word>[A-Za-z_\x80-\xff][A-Za-z0-9_$\x80-\xff]*)
    | (?P<paren>[()])""", re.DOTALL | re.VERBOSE)


def _inside_atomic_body(text: bytes) -> bool:
    """Whether a ``CREATE FUNCTION`` text that reaches a ``;`` is still inside ``BEGIN ATOMIC ... END``."""
    depth = parens = 0
    for match in _ROUTINE_TOKEN.finditer(text):
        word = match.group("word")
        if word is not None:
            if parens:
                continue
            word = word.lower()
            if word == b"begin" or (word == b"case" and depth):
                depth += 1
            elif word == b"end" and depth:
                depth -= 1
        elif match.group("paren") is not None:
            parens = parens + 1 if match.group("paren") == b"(" else max(parens - 1, 0)
    return depth > 0



def _unquote(identifier: bytes) -> str:
    text = identifier.decode("utf-8", "replace")
    if text.startswith('"'):
        return text[1:-1].replace('""', '"')
    return text.lower()


def copy_target(statement: bytes) -> str:
    """The manifest key of the table a ``COPY ... FROM stdin`` statement loads."""
    match = _COPY_TARGET.match(statement)
    if match is None:
        return ""
    if match.group(2) is None:
        schema, name = "public", _unquote(match.group(1))
    else:
        schema, name = _unquote(match.group(1)), _unquote(match.group(2))
    return manifest_key(schema, name)


def skip_part(buf: bytes, token: bytes, at: int, eof: bool) -> int | None:
    """The position after the quoted part or comment starting at ``at`` in ``buf``; None when more input is
    needed (``eof``: there is none)."""
    if token == b"--":
        end = buf.find(b"\n", at)
        return None if end == -1 and not eof else (len(buf) if end == -1 else end + 1)
    if token == b"/*":
        depth, scan = 0, at
        while True:
            match = _COMMENT_EDGE.search(buf, scan)
            if match is None:
                return None
            depth += 1 if match.group() == b"/*" else -1
            scan = match.end()
            if depth == 0:
                return scan
    if token == b'"':
        scan = at + 1
        while True:
            end = buf.find(b'"', scan)
            if end == -1 or (end + 1 >= len(buf) and not eof):
                return None
            if buf.startswith(b'""', end):
                scan = end + 2
                continue
            return end + 1
    if token == b"'":
        escaped = at > 0 and buf[at - 1:at] in (b"E", b"e") and (
            at < 2 or not _IDENTIFIER_CHAR.match(buf, at - 2))
        return _string_end(buf, at, eof, escaped)
    if token == b"$":
        if at > 0 and _IDENTIFIER_CHAR.match(buf, at - 1):
            # Part of a name such as a$b, which the server reads to its end, dollars included: in x$$q$ no
            # dollar quote starts, and reading one there would take code for a string.
            after = _IDENTIFIER_END.search(buf, at)
            if after is None:
                return len(buf) if eof else None
            if buf.startswith(b"'", after.start()):
                # x$E'\' is the name x$E and a plain string, not an E'' string: the E is the name's.
                return _string_end(buf, after.start(), eof, False)
            return after.start()
        match = _DOLLAR_TAG.match(buf, at)
        if match is None:
            # Either a positional parameter ($1) or a tag cut off at the end of the buffer.
            if len(buf) - at < 64 and not eof and not re.match(rb"\$[0-9]", buf[at:at + 2]):
                return None
            return at + 1
        tag = match.group()
        end = buf.find(tag, match.end())
        if end == -1:
            return None
        return end + len(tag)
    # A backslash outside quotes in the middle of a statement: psql would treat it as a
    # meta-command, but dumps never contain one there; keep it as part of the statement.
    return at + 1


def _string_end(buf: bytes, at: int, eof: bool, escaped: bool) -> int | None:
    """The position after the string starting at ``at`` (backslash escapes in an ``E''`` string)."""
    if escaped and _POSSESSIVE:
        # In one C call: escape by escape in Python, a 50 MB string with a backslash every few bytes took 19 s.
        end = _ESCAPE_STRING_BODY.match(buf, at + 1).end()  # type: ignore[union-attr]  # matches, maybe empty
        if buf[end:end + 1] != b"'" or (end + 1 >= len(buf) and not eof):
            return None  # the buffer ends in the string, after a backslash, or where a doubled quote may go on
        return end + 1
    scan = at + 1
    while True:
        match = (_ESCAPE_STRING_EDGE if escaped else _STRING_EDGE).search(buf, scan)
        if match is None:
            return None
        if match.group() != b"'":
            scan = match.end()
            continue
        end = match.start()
        if end + 1 >= len(buf) and not eof:
            return None
        if buf.startswith(b"''", end):
            scan = end + 2
            continue
        return end + 1


class TruncatedDump(DatabaseError):
    """The dump ended in the middle of a statement or a COPY block."""


class ScriptReader:
    """Splits a SQL script into statements, meta-commands and COPY data, reading it once, in order."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.buf = b""
        self.pos = 0
        self.eof = False
        self.line = 1  # line number at self.pos
        self.head = b""
        self.tail = b""
        #: Newlines in the piece of COPY data :meth:`copy_data` yielded last (its rows, counted only once).
        self.piece_rows = 0
        self._count_pieces = True

    def _fill(self, keep_from: int) -> bool:
        """Drop consumed bytes before ``keep_from`` and read more; False at the end of the stream."""
        if self.eof:
            return False
        # A statement longer than a read is kept whole while it is scanned: reading a quarter more than is kept
        # makes its reads, copies and rescans grow with its length, not with its square, and leaves at most a
        # quarter of it read past its end (reading as much again held up to twice the statement).
        chunk = self.stream.read(max(READ_SIZE, (len(self.buf) - keep_from) // 4))
        if not chunk:
            self.eof = True
            return False
        if not self.head:
            check_not_binary(chunk)
        if len(self.head) < 512:
            self.head = (self.head + chunk)[:512]
        self.tail = (self.tail + chunk[-512:])[-512:]
        self.buf = self.buf[keep_from:] + chunk
        self.pos -= keep_from
        return True

    def _advance(self, new_pos: int) -> None:
        self.line += self.buf.count(b"\n", self.pos, new_pos)
        self.pos = new_pos

    def next_item(self) -> tuple[str, bytes, int] | None:
        """The next ``("sql", statement, line)`` or ``("meta", command, line)``; None at the end."""
        while True:
            # Skip blank space and comments between statements: a meta-command is only recognised at
            # the start of a line outside any statement.
            while True:
                match = _NON_SPACE.search(self.buf, self.pos)
                if match is None:
                    self._advance(len(self.buf))
                    if not self._fill(self.pos):
                        return None
                    continue
                self._advance(match.start())
                if len(self.buf) - self.pos < 2 and self._fill(self.pos):
                    continue
                token = self.buf[self.pos:self.pos + 2]
                if token not in (b"--", b"/*"):
                    break
                end = self._skip(token, self.pos)
                while end is None:
                    if not self._fill(self.pos):
                        if token == b"--":
                            end = len(self.buf)
                            break
                        raise TruncatedDump(f"the dump is truncated: a comment at line {self.line} has no end")
                    end = self._skip(token, self.pos)
                self._advance(end)
            start_line = self.line
            if self.buf.startswith(b"\\", self.pos):
                end = self.buf.find(b"\n", self.pos)
                while end == -1:
                    if not self._fill(self.pos):
                        end = len(self.buf)
                        break
                    end = self.buf.find(b"\n", self.pos)
                command = self.buf[self.pos:end]
                self._advance(min(end + 1, len(self.buf)))
                return "meta", command, start_line
            statement = self._statement()
            if statement is None:
                return None
            if statement.strip():
                return "sql", statement, start_line

    def _statement(self) -> bytes | None:
        """Scan from ``self.pos`` to the end of the statement (its ``;``); return its text."""
        start = self.pos
        scan = self.pos
        only_comments = True
        parens = 0
        while True:
            bulk = BULK.match(self.buf, scan).end()  # type: ignore[union-attr]  # matches, maybe empty
            if bulk > scan:
                span = self.buf[scan:bulk]
                if only_comments and span.strip():
                    only_comments = False
                if b"(" in span or b")" in span:
                    parens = _count_parens(parens, PLAIN_STRING.sub(b"", span) if b"'" in span else span)
                scan = bulk
            match = _STATEMENT_SPECIAL.search(self.buf, scan)
            if only_comments and self.buf[scan:match.start() if match else len(self.buf)].strip():
                # Text the bulk did not take (a backslash, a "$" that opens nothing) is a statement too: without
                # this, a last statement of such text with no ";" was taken for a comment and dropped silently.
                only_comments = False
            if match is None:
                # Rescan the last byte after reading more: it may be the first half of "--" or "/*".
                offset = max(scan, len(self.buf) - 1) - start
                if not self._more(start):
                    return self._end_of_input(start, only_comments)
                start = self.pos
                scan = start + offset
                continue
            token = match.group()
            at = match.start()
            if token in (b"(", b")"):
                # psql's count: a ")" too many is let go, not counted below zero.
                parens = parens + 1 if token == b"(" else max(parens - 1, 0)
                scan, only_comments = at + 1, False
                continue
            if token == b";":
                if parens:
                    scan, only_comments = at + 1, False
                    continue
                if _CREATE_ROUTINE.match(self.buf, start) and _inside_atomic_body(self.buf[start:at]):
                    # A ";" inside BEGIN ATOMIC ... END does not end the statement.
                    scan, only_comments = at + 1, False
                    continue
                statement = self.buf[start:at + 1]
                self.pos = start
                self._advance(at + 1)
                if len(statement) >= READ_SIZE:
                    # The buffer holds the statement too: kept, it would be held twice while it runs.
                    self.buf, self.pos = self.buf[self.pos:], 0
                return b"" if only_comments and not strip_comments(statement) else statement
            end = self._skip(token, at)
            if end is None:
                offset = at - start
                if not self._more(start):
                    raise TruncatedDump(f"the dump is truncated: it ends inside a statement at line {self.line}")
                start = self.pos
                scan = start + offset
                continue
            if token not in (b"--", b"/*"):
                only_comments = False
            scan = end

    def _more(self, start: int) -> bool:
        """Read more input keeping everything from ``start``; afterwards the statement starts at self.pos."""
        if len(self.buf) - start >= MAX_STATEMENT:
            raise DatabaseError(
                f"the statement at line {self.line} of the dump is longer than {MAX_STATEMENT >> 20} MiB, which "
                "synco does not hold (PostgreSQL takes a statement whole): dump such rows as COPY data (pg_dump "
                "without --inserts), which is read in pieces")
        self.pos = start
        return self._fill(start)

    def _end_of_input(self, start: int, only_comments: bool) -> bytes | None:
        rest = self.buf[start:]
        if only_comments or not strip_comments(rest).strip():
            self._advance(len(self.buf))
            return None
        raise TruncatedDump(f"the dump is truncated: the statement at line {self.line} has no end")

    def _skip(self, token: bytes, at: int) -> int | None:
        """The position after the quoted part or comment starting at ``at``; None when more input is needed."""
        return skip_part(self.buf, token, at, self.eof)

    def copy_data(self, count_lines: bool = True) -> Iterator[bytes]:
        """The data of the COPY block that starts on the line after the current position, in large pieces.

        Without ``count_lines`` the newlines of the data are not counted (``piece_rows`` stays 0): for a
        text-format block, where each row is one line, the caller adds the rows the server stored instead,
        which spares a pass over every byte.
        """
        self._count_pieces = count_lines
        newline = self.buf.find(b"\n", self.pos)
        while newline == -1:
            if not self._fill(self.pos):
                raise TruncatedDump(f"the dump is truncated: COPY data missing after line {self.line}")
            newline = self.buf.find(b"\n", self.pos)
        self._advance(newline + 1)
        # The terminator is "\." alone on a line; searching for "\n\." from the newline that ended the
        # COPY command also finds it when the block has no rows.
        at_end = False
        while True:
            buf = self.buf
            index = buf.find(b"\n\\.", self.pos - 1)
            while index != -1:
                after = index + 3
                if after < len(buf) and buf[after] not in (10, 13):
                    index = buf.find(b"\n\\.", index + 1)
                    continue
                if after >= len(buf) and not self.eof:
                    break  # cannot tell yet whether the line ends here
                if index + 1 > self.pos:
                    yield self._piece(index + 1)
                line_end = buf.find(b"\n", after)
                self._advance(len(buf) if line_end == -1 else line_end + 1)
                return
            # No terminator in view: hand over all but the last bytes, which could start one.
            safe = max(self.pos, len(buf) - 3)
            if index != -1:
                safe = min(safe, index)
            if safe > self.pos:
                yield self._piece(safe)
            # Keep the byte before the position: when it is a newline, a "\\." right after it ends the block.
            if not self._fill(self.pos - 1):
                if at_end:
                    raise TruncatedDump(f"the dump is truncated: a COPY block has no end (line {self.line})")
                # One more pass with eof set accepts a "\\." on the very last line, without a newline.
                at_end = True

    def _piece(self, end: int) -> bytes:
        """The COPY data up to ``end``, consumed: its newlines are counted here once, for the line numbers
        and for the caller's row count (``piece_rows``)."""
        piece = self.buf[self.pos:end]
        self.piece_rows = piece.count(b"\n") if self._count_pieces else 0
        self.line += self.piece_rows
        self.pos = end
        return piece

    def complete(self) -> bool:
        """Whether the dump ended with the completion line its header promises (True when unknown)."""
        for header, marker in _COMPLETE_MARKERS.items():
            if header in self.head:
                return marker in self.tail
        return True


#: Formats people hand to a plain-SQL loader by mistake, by their first bytes.
_NOT_SQL = {
    b"PGDMP": "a pg_dump archive (custom or tar format); synco loads plain SQL dumps (pg_dump -Fp)",
    b"\x1f\x8b": "gzip-compressed; decompress it first or name the file .gz",
    b"\x28\xb5\x2f\xfd": "zstd-compressed; decompress it first or name the file .zst",
    b"age-encryption.org/": "still encrypted (age); decrypt it first (synco decrypt)",
    b"SQLite format 3\x00": "an SQLite database file, not a PostgreSQL dump",
}


def check_not_binary(first: bytes) -> None:
    for magic, what in _NOT_SQL.items():
        if first.startswith(magic):
            raise DatabaseError(f"the dump is {what}")


def strip_comments(statement: bytes, mask: bool = False) -> bytes:
    """The statement without its comments, space around it and a final ``;``.

    Comments are found the way the statement was split (:func:`skip_part`), so ``--`` or ``/*`` inside a quoted
    identifier, a string or a dollar-quoted body stay. With ``mask`` the quoted parts are emptied as well
    (``"a--b"`` becomes ``""``), for telling what kind of statement it is by its keywords alone.
    """
    out = bytearray()
    kept_from = scan = 0
    while True:
        bulk = BULK.match(statement, scan).end()  # type: ignore[union-attr]  # matches, maybe empty
        if bulk > scan:
            if mask:
                out += statement[kept_from:scan] + PLAIN_STRING.sub(b"''", statement[scan:bulk])
                kept_from = bulk
            scan = bulk
        match = SPECIAL.search(statement, scan)
        if match is None:
            break
        token, at = match.group(), match.start()
        if token in (b";", b"\\"):
            scan = at + 1
            continue
        end = skip_part(statement, token, at, True)
        end = len(statement) if end is None else end
        if token in (b"--", b"/*"):
            out += statement[kept_from:at] + b" "
            kept_from = end
        elif mask and (token in (b"'", b'"') or (token == b"$" and end - at > 2)):
            out += statement[kept_from:at] + token + token
            kept_from = end
        scan = end
    out += statement[kept_from:]
    return bytes(out).strip().rstrip(b";").strip()


