"""Rewriting the string values of PostgreSQL ``COPY ... FROM stdin`` text rows as they are loaded.

The loader hands over the data of a COPY block in large pieces cut anywhere; :meth:`CopyRewriter.pieces`
passes on whole lines only (the rest waits for the next piece), so a value is never cut in two. A run of lines
without a needle goes on as it is; in a line with one, each tab-separated field that holds a needle (``\\N``
is NULL) is unescaped, rewritten and escaped again. The loader hashes the original pieces, which is what the
source's manifest checksums, and the row count the server reports does not change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from synco_core.engines.rewrite import Applier
from synco_core.values import ValueRewriter

_ESCAPE = re.compile(rb"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|([\s\S]))")
_SIMPLE = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}


def unescape(field: bytes) -> bytes:
    """The value of one field of COPY's text format."""
    if b"\\" not in field:
        return field

    def replace(match: re.Match[bytes]) -> bytes:
        octal, hexa, char = match.groups()
        if octal is not None:
            return bytes([int(octal, 8) & 0xFF])
        if hexa is not None:
            return bytes([int(hexa, 16)])
        return _SIMPLE.get(char, char)

    return _ESCAPE.sub(replace, field)


#: COPY text escapes of the bytes that have one (PostgreSQL's CopyAttributeOutText): the backslash first,
#: so the backslashes the others add are not doubled.
_ESCAPES = ((b"\\", b"\\\\"), (b"\n", b"\\n"), (b"\r", b"\\r"), (b"\t", b"\\t"), (b"\x08", b"\\b"),
            (b"\x0c", b"\\f"), (b"\x0b", b"\\v"))


def escape(value: bytes) -> bytes:
    """``value`` (text in the client encoding) as a field of COPY's text format, exactly as the server's COPY
    writes it (the wide-row dump relies on that for its checksum). A piece of a value escapes alike on its
    own: every escaped byte is ASCII, and no UTF-8 sequence contains an ASCII byte."""
    for byte, escaped in _ESCAPES:
        if byte in value:
            value = value.replace(byte, escaped)
    return value


class CopyRewriter:
    """Rewrites the rows of the COPY blocks of one load."""

    def __init__(self, rewriter: ValueRewriter) -> None:
        self.applier = Applier(rewriter)

    @property
    def changed(self) -> int:
        return self.applier.changed

    def pieces(self, pieces: Iterable[bytes]) -> Iterator[tuple[bytes, bytes]]:
        """(the original piece, what to send instead) for each piece of one block's data.

        The part of a line that has not ended yet waits as a list of pieces, joined once when the line ends:
        a row of a few hundred MB arrives in hundreds of pieces, and adding each to what waited before
        copied the row again at every piece (quadratic in its size).
        """
        carry: list[bytes] = []
        for piece in pieces:
            cut = piece.rfind(b"\n") + 1
            if not cut:
                carry.append(piece)
                yield piece, b""
                continue
            lines = b"".join((*carry, piece[:cut])) if carry else piece[:cut]
            carry = [piece[cut:]] if cut < len(piece) else []
            yield piece, self.rows(lines)
        if carry:
            yield b"", self.rows(b"".join(carry))

    def rows(self, data: bytes) -> bytes:
        """Whole lines of COPY data, rewritten where they hold a needle."""
        if not self.applier.hit(data):
            return data
        lines = data.split(b"\n")
        for index, line in enumerate(lines):
            if self.applier.hit(line):
                fields = line.split(b"\t")
                for number, field in enumerate(fields):
                    if field != b"\\N" and self.applier.hit(field):
                        fields[number] = escape(self.applier.value(unescape(field)))
                lines[index] = b"\t".join(fields)
        return b"\n".join(lines)
