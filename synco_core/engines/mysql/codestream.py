""":func:`.qualify.code_text` of a statement that comes in pieces, never holding a long string.

A streamed statement (a row with a value of a hundred megabytes) is checked by the gate as it is sent:
the code between its strings must be the code :func:`~.qualify.code_text` finds in the whole. The pieces
are read with the same pattern; what a piece's end leaves undecided (a token that more bytes could
lengthen or turn into another: a comment without its end yet, a quote without its closing one) is carried
over and read again with the next piece. A string is carried while it is short; once it is longer than
:data:`HOLD`, only where its reading stands is carried (its quote, a backslash or a quote that the next
byte decides), so its bytes are never held.

One difference remains, from a statement that is wrong anyway: a quote that is never closed. Read whole,
the rest of the statement after it is code (the server refuses such a statement as a syntax error); a long
one has not been kept, so :meth:`CodeTextStream.end` raises :class:`UnclosedString` instead.
"""

from __future__ import annotations

import re

from synco_core.engines.mysql import qualify

#: A string longer than this (quotes included) is no longer carried from piece to piece, only its state.
HOLD = 4096
#: How much of a piece is read at a time.
_STEP = 16 * 1024


class UnclosedString(ValueError):
    """The statement ends inside a string too long to have been kept."""


class CodeTextStream:
    """Feed a statement's pieces in order; the concatenation of what :meth:`feed` and :meth:`end` return
    is ``code_text(statement, mode, keep)``."""

    def __init__(self, mode: qualify.Mode, keep: int = 0) -> None:
        if keep >= HOLD:
            raise ValueError("strings kept whole must be shorter than the ones carried as a state")
        self.mode = mode
        self.keep = keep
        self._pattern = qualify.code_pattern(mode)
        self._string_quotes = b"'" if mode.ansi_quotes else b"'\""
        #: Every quote that a longer token may be waiting for (strings, identifiers, brackets).
        self._quotes = b"'\"`" + (b"[" if mode.brackets else b"")
        #: Bytes read but not yet decided (they start with a token that more bytes may change).
        self._carry = b""
        #: Inside a long string: its quote, and whether a backslash or a quote waits for the next byte.
        self._string: bytes | None = None
        self._escape = False
        self._quote_pending = False
        self._inside: re.Pattern[bytes] | None = None

    def feed(self, piece: bytes | bytearray | memoryview) -> bytes:
        """The code text that ``piece`` (the next bytes of the statement) decides."""
        view = memoryview(piece)
        # A regular expression that runs over many escapes keeps a note of each to go back to: read in
        # steps, its memory stays small whatever the piece's size.
        return b"".join(self._feed(view[start:start + _STEP]) for start in range(0, len(view), _STEP))

    def _feed(self, data: memoryview) -> bytes:
        parts: list[bytes] = []
        if self._string is not None:
            closed = self._scan_string(data)
            if closed < 0:
                return b""
            parts.append(self._string * 2)
            self._string = None
            data = data[closed:]
        buffer = self._carry + bytes(data) if self._carry else bytes(data)
        self._carry = b""
        self._read(buffer, parts, final=False)
        return b"".join(parts)

    def end(self) -> bytes:
        """The rest of the code text, once the statement has been fed whole."""
        if self._string is not None:
            if self._quote_pending and not self._escape:
                quote = self._string
                self._string = None
                return quote * 2
            raise UnclosedString("the statement ends inside a string")
        parts: list[bytes] = []
        buffer, self._carry = self._carry, b""
        self._read(buffer, parts, final=True)
        return b"".join(parts)

    def _read(self, buffer: bytes, parts: list[bytes], final: bool) -> None:
        for match in self._pattern.finditer(buffer):
            kind = match.lastgroup
            start, stop = match.span()
            if not final and self._undecided(buffer, kind, start, stop):
                rest = buffer[start:]
                if buffer[start] in self._string_quotes and len(rest) > HOLD:
                    self._enter_string(rest)
                else:
                    self._carry = rest
                return
            if kind == "string" and stop - start > self.keep:
                parts.append(buffer[start:start + 1] * 2)
            else:
                parts.append(match.group())

    def _undecided(self, buffer: bytes, kind: str | None, start: int, stop: int) -> bool:
        """True when bytes after ``buffer`` could make the token at ``start`` another one or longer."""
        if kind == "run":
            # A run cut in two reads as the same bytes, and the bytes after it start a token either way.
            return False
        if stop >= len(buffer):
            return True
        first = buffer[start]
        if kind == "other":
            # The longer token starting here was not found in these bytes: a quote not closed yet, a /
            # that may open a comment, an @ that may start a quoted variable.
            following = buffer[start + 1:start + 2]
            return (bytes((first,)) in (b"'", b'"', b"`") or (first == ord("[") and self.mode.brackets)
                    or (first == ord("/") and following == b"*")
                    or (first == ord("@") and following in (b"`", b"'", b"@")))
        if kind in ("string", "quoted"):
            # The closing quote found may be the first of a doubled one the regular expression gave back
            # for want of another closing quote in these bytes.
            last = buffer[stop - 1]
            return last in self._quotes + b"]" and buffer[stop] == last
        return False

    def _enter_string(self, rest: bytes) -> None:
        self._string = rest[:1]
        self._escape = self._quote_pending = False
        quote = re.escape(self._string)
        plain = b"[^" + quote + (b"\\\\" if self.mode.backslash_escapes else b"") + b"]*"
        escape = b"\\\\[\\s\\S]|" if self.mode.backslash_escapes else b""
        # Inside the string: other bytes, escapes, doubled quotes (qualify's pattern without its quotes).
        self._inside = re.compile(plain + b"(?:(?:" + escape + quote + quote + b")" + plain + b")*")
        closed = self._scan_string(memoryview(rest)[1:])
        if closed >= 0:
            raise AssertionError("a string taken as undecided was closed")

    def _scan_string(self, data: memoryview) -> int:
        """Read on inside the long string: the index in ``data`` just after its end, or -1 when it goes on."""
        assert self._string is not None and self._inside is not None
        chunk = bytes(data)
        quote = self._string
        position = 0
        if self._escape and chunk:
            self._escape, position = False, 1
        elif self._quote_pending and chunk:
            self._quote_pending = False
            if chunk[:1] != quote:
                return 0
            position = 1
        # Text runs up to the first quote or backslash at memory speed; from there the pattern reads on.
        specials = [found for found in (chunk.find(quote, position), chunk.find(b"\\", position)
                                        if self.mode.backslash_escapes else -1) if found >= 0]
        if not specials:
            return -1
        stop = self._inside.match(chunk, min(specials)).end()  # type: ignore[union-attr]
        if stop == len(chunk):
            return -1
        if chunk[stop:stop + 1] != quote:
            # A backslash, the last byte: it escapes the next piece's first.
            self._escape = True
            return -1
        if stop + 1 == len(chunk):
            self._quote_pending = True
            return -1
        # Not a doubled quote (the pattern would have taken it): the string ends here.
        return stop + 1
