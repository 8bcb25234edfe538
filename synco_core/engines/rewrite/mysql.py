"""Rewriting the string values of MySQL ``INSERT`` / ``REPLACE`` statements as they are loaded.

A statement that holds no needle is sent as it is. In one that does, each row ``(v1,v2,...)`` that holds
one has its quoted string literals unescaped, rewritten and escaped again (as the server's ``QUOTE()``
escapes, carriage returns as ``\\r`` as synco's dumps write them); ``_binary'...'`` literals are binary data
and left alone. The manifest's checksum of a table is the sum of ``crc32`` over its rows as dumped (see
:mod:`synco_core.engines.mysql.literals`), so for every row changed the old row's ``crc32`` is taken out of the
expected sum and the new one's added (:meth:`InsertRewriter.adjusted`): the verification after the load still
checks every row, the rewritten ones against what they were rewritten to.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping

from synco_core.engines.rewrite import Applier
from synco_core.values import TableManifest, ValueRewriter

_SQ = rb"'[^'\\]*(?:(?:\\[\s\S]|'')[^'\\]*)*'"
_DQ = rb'"[^"\\]*(?:(?:\\[\s\S]|"")[^"\\]*)*"'
_BQ = rb"`[^`]*(?:``[^`]*)*`"
#: A string literal (with its character set introducer, if any) or a quoted identifier (kept as it is).
_LITERAL = re.compile(rb"(?P<intro>_[A-Za-z0-9]+[ \t]*)?(?P<sq>" + _SQ + rb")|(?P<dq>" + _DQ + rb")|" + _BQ)
#: One row of a VALUES list, with the comma and space before it.
ROW = _ROW = re.compile(rb"([ \t\r\n]*,?[ \t\r\n]*)(\((?:[^'\"`()]+|" + _SQ + rb"|" + _DQ + rb"|" + _BQ + rb")*\))")
_NAME = rb"(?:`[^`]*(?:``[^`]*)*`|[A-Za-z0-9_$]+)"
#: An ``INSERT`` / ``REPLACE`` up to its ``VALUES`` keyword.
HEAD = _HEAD = re.compile(
    rb"^(?:INSERT|REPLACE)\s+(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE)\s+)*(?:INTO\s+)?"
    rb"(?P<first>" + _NAME + rb")(?:\s*\.\s*(?P<second>" + _NAME + rb"))?\s*"
    rb"(?:\((?:[^()`]|`[^`]*(?:``[^`]*)*`)*\))?\s*VALUES?(?=[\s(])", re.IGNORECASE)
_ESCAPES = {b"0": b"\0", b"b": b"\b", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"Z": b"\x1a",
            b"%": b"\\%", b"_": b"\\_"}
#: A backslash escape, or the doubled quote of the literal's own kind (the other kind doubled is two quotes).
_ESCAPES_IN = {b"'": re.compile(rb"\\([\s\S])|''"), b'"': re.compile(rb'\\([\s\S])|""')}
_CARRIAGE_RETURN = re.compile(rb"\\[\s\S]")


def unescape(body: bytes, quote_char: bytes = b"'") -> bytes:
    """The value of a literal's body (between its ``quote_char`` quotes), as MySQL reads it."""
    if b"\\" not in body and quote_char * 2 not in body:
        return body

    def replace(match: re.Match[bytes]) -> bytes:
        escaped = match.group(1)
        if escaped is None:
            return quote_char
        return _ESCAPES.get(escaped, escaped)

    return _ESCAPES_IN[quote_char].sub(replace, body)


def quote(value: bytes) -> bytes:
    """``value`` as a literal, escaped as the server's ``QUOTE()`` escapes it (the checksum's form)."""
    return (b"'" + value.replace(b"\\", b"\\\\").replace(b"'", b"\\'").replace(b"\0", b"\\0")
            .replace(b"\x1a", b"\\Z") + b"'")


def checksum_form(row: bytes) -> bytes:
    """A row as dumped, with its ``\\r`` escapes turned back into carriage returns (the checksum's form)."""
    if b"\\r" not in row:
        return row
    return _CARRIAGE_RETURN.sub(lambda m: b"\r" if m.group(0) == b"\\r" else m.group(0), row)


def _table_name(quoted: bytes) -> str:
    text = quoted.decode("utf-8", "replace")
    if text.startswith("`"):
        return text[1:-1].replace("``", "`")
    return text


class InsertRewriter:
    """Rewrites the data statements of one load; keeps the checksum corrections per table."""

    def __init__(self, rewriter: ValueRewriter) -> None:
        self.applier = Applier(rewriter)
        #: Per table: what the rows' crc32 sum changed by.
        self.deltas: dict[str, int] = {}

    @property
    def changed(self) -> int:
        return self.applier.changed

    def __call__(self, statement: bytes) -> bytes:
        """The statement to send: ``statement`` itself unless a value in it holds a needle."""
        if not self.applier.hit(statement):
            return statement
        head = _HEAD.match(statement)
        if head is None:
            # INSERT ... SET or ... SELECT: the literals are rewritten, no row checksum applies.
            return _LITERAL.sub(self._literal, statement)
        table = _table_name(head.group("second") or head.group("first"))
        pieces = [statement[:head.end()]]
        position = head.end()
        delta = 0
        while True:
            row = _ROW.match(statement, position)
            if row is None:
                break
            text = row.group(2)
            if self.applier.hit(text):
                new = _LITERAL.sub(self._literal, text)
                if new != text:
                    delta += zlib.crc32(checksum_form(new)) - zlib.crc32(checksum_form(text))
                    text = new
            pieces += [row.group(1), text]
            position = row.end()
        rest = statement[position:]
        pieces.append(_LITERAL.sub(self._literal, rest) if self.applier.hit(rest) else rest)
        if delta:
            self.deltas[table] = self.deltas.get(table, 0) + delta
        return b"".join(pieces)

    def _literal(self, match: re.Match[bytes]) -> bytes:
        text = match.group(0)
        intro = match.group("intro")
        body_quote = match.group("sq") or match.group("dq")
        if body_quote is None or not self.applier.hit(text):
            return text
        if intro is not None and intro.strip().lower() == b"_binary":
            return text
        value = unescape(body_quote[1:-1], body_quote[:1])
        new = self.applier.value(value)
        if new == value:
            return text
        return (intro or b"") + quote(new).replace(b"\r", b"\\r")

    def adjusted(self, manifest: Mapping[str, TableManifest]) -> dict[str, TableManifest]:
        """``manifest`` with the row checksums of the rewritten tables corrected for the rewritten rows."""
        result = dict(manifest)
        for table, delta in self.deltas.items():
            entry = result.get(table)
            if entry is None or not entry.checksum or not entry.checksum.startswith("crc32sum:"):
                continue
            total = int(entry.checksum.split(":", 1)[1]) + delta
            result[table] = TableManifest(rows=entry.rows, checksum=f"crc32sum:{total}")
        return result
