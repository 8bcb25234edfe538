"""How each column is turned into an exact SQL literal, and the row checksum of the manifest.

Values are formatted by the server inside the SELECT (``QUOTE()``, ``CONCAT()``), so Python
never formats a value itself in the common case; it only moves bytes. Two shapes of query use this:

- :func:`row_literal_sql`: the whole row ``(v1,v2,...)`` as one value. The chunked dump concatenates a
  page of such rows into one value per query (``GROUP_CONCAT``), for tables with an integer primary key.
- :func:`row_format`: runs of small columns formatted by the server, and the columns that can be bigger
  than the server's ``max_allowed_packet`` once formatted (MEDIUM/LONG TEXT and BLOB, JSON, spatial
  values) fetched raw and formatted in Python (:func:`format_raw`, byte for byte what the server's
  expressions give), because ``CONCAT`` returns NULL beyond that limit. Used for streaming the other
  tables and for single rows too big for a page; for tables of wide rows with binary columns every
  binary value is fetched raw, as Python escapes bytes more cheaply than the server.

The table checksum of the manifest is the sum over rows of ``crc32(literal)``, where ``literal`` is the
row as written to the dump, ``(v1,v2,...)``, before its carriage returns are escaped
(:func:`escape_carriage_returns`). The dumper computes it in Python over the bytes it
writes; the installer has the server compute the same sum over the loaded table with one aggregate
query, so only two numbers cross the wire (rows too big for the server to format are streamed).
"""

from __future__ import annotations

import dataclasses
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from synco_core.engines.mysql.connect import quote_name

INTEGER_TYPES = frozenset({"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year"})
EXACT_NUMERIC_TYPES = frozenset({"decimal", "numeric", "double", "real", "double precision"})
FLOAT_TYPES = frozenset({"float"})
BINARY_TYPES = frozenset({"binary", "varbinary", "tinyblob", "blob"})
LARGE_BINARY_TYPES = frozenset({"mediumblob", "longblob"})
LARGE_TEXT_TYPES = frozenset({"mediumtext", "longtext", "json"})
SPATIAL_TYPES = frozenset({
    "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
    "geometrycollection", "geomcollection",
})
_TEMPORAL_TYPES = frozenset({"date", "datetime", "timestamp", "time"})
#: Character sets whose bytes are already valid utf8mb4, so no CONVERT() is needed.
UTF8_COMPATIBLE = frozenset({None, "utf8mb4", "utf8mb3", "utf8"})
#: Character sets whose every stored value survives the dump's trip through utf8mb4: the UTF-8 ones refuse
#: invalid bytes when storing, and latin1 defines all 256 bytes, one character each. Any other character set
#: may hold a value that does not come back: under a permissive sql_mode bytes it does not define are
#: stored as they are (ascii 0x80, cp1250 0x81), and some map two byte sequences to one character (sjis
#: 0x5C and 0x815F are both a backslash; cp932's NEC and IBM duplicates). Their values are checked one by
#: one, and one that would change is written as its bytes (:func:`text_or_bytes_sql`).
LOSSLESS_CHARSETS = frozenset({"utf8mb4", "utf8mb3", "utf8", "latin1"})


@dataclass(frozen=True)
class Column:
    """What the formatter needs to know about one column."""

    name: str
    data_type: str
    charset: str | None = None
    generated: bool = False
    #: False for NOT NULL columns, whose literal needs no NULL test (less work for the server per value).
    nullable: bool = True
    #: ``start`` or ``end`` for the period columns of a system-versioned table (timestamps): dumped with the
    #: history rows, and only loadable with ``system_versioning_insert_history``.
    period: str | None = None
    #: The numbers of an ENUM's values whose text alone does not say which value it is, written as numbers;
    #: for a SET, any means all its values are (see :func:`~synco_core.engines.mysql.schema.numbered_members`).
    numbered: tuple[int, ...] = ()

    @property
    def is_binary(self) -> bool:
        return self.data_type in BINARY_TYPES or (self.charset == "binary" and self.data_type in ("char", "varchar"))

    @property
    def is_large(self) -> bool:
        """Fetched raw: its formatted form could exceed the server's packet limit."""
        if self.data_type in SPATIAL_TYPES or self.data_type in LARGE_BINARY_TYPES:
            return True
        return self.data_type in LARGE_TEXT_TYPES

    @property
    def checked_text(self) -> bool:
        """A text column whose values may not survive conversion to utf8mb4 (see LOSSLESS_CHARSETS)."""
        return (self.charset is not None and self.charset != "binary" and self.charset not in LOSSLESS_CHARSETS
                and not self.is_binary and self.data_type not in SPATIAL_TYPES)

    @property
    def large_is_binary(self) -> bool:
        return self.data_type in SPATIAL_TYPES or self.data_type in LARGE_BINARY_TYPES or self.charset == "binary"


def text_source(column: Column, value_sql: str) -> str:
    """``value_sql`` converted to utf8mb4 when the column's character set is not a subset of it."""
    if column.charset in UTF8_COMPATIBLE or column.charset == "binary":
        return value_sql
    return f"CONVERT({value_sql} USING utf8mb4)"


def literal_sql(column: Column, value_sql: str | None = None) -> str:
    """The SQL expression that yields the exact literal of ``column`` (or of ``value_sql``) as text.

    NULL becomes the word NULL; numbers are written bare; FLOAT goes through DOUBLE so that its exact
    binary value is written (the server prints FLOAT with 6 digits otherwise); BIT as ``b'...'``;
    everything else as a quoted string (:func:`quoted_sql`), binary strings with the ``_binary``
    introducer so that their bytes are taken as they are, whatever the connection's character set.

    Binary values are written escaped rather than as ``0x`` hex literals: hex doubles their size, and
    the compressor after the dumper then spends twice as long on them (random or already compressed
    bytes cost zstd almost nothing raw, but their hex digits must all be entropy-coded).
    """
    parts = literal_parts(column, value_sql)
    return parts[0] if len(parts) == 1 else "CONCAT(" + ",".join(parts) + ")"


def literal_parts(column: Column, value_sql: str | None = None) -> list[str]:
    """:func:`literal_sql` as the arguments of a CONCAT, so that a row's CONCAT takes them directly: one
    function call less per value for the server (a few per cent of a page of short rows)."""
    value = value_sql or quote_name(column.name)
    # A NOT NULL column's own value is never NULL, so its NULL test can go: the text is the same, and the
    # server evaluates one function less per value. An expression (sanitising) may still yield NULL.
    never_null = value_sql is None and not column.nullable
    kind = column.data_type
    if column.numbered and value_sql is None:
        return member_number_parts(column, never_null)
    if kind in INTEGER_TYPES or kind in EXACT_NUMERIC_TYPES:
        return [value if never_null else f"IFNULL({value},'NULL')"]
    if kind in FLOAT_TYPES:
        return [f"CAST({value} AS DOUBLE)" if never_null else f"IFNULL(CAST({value} AS DOUBLE),'NULL')"]
    if kind == "bit":
        return [f"IF({value} IS NULL,'NULL',CONCAT('b''',BIN({value}+0),''''))"]
    if kind in _TEMPORAL_TYPES and value_sql is None:
        # Dates and times are digits and punctuation: quoted without QUOTE()'s scan for characters to
        # escape. The text is the same, so checksums do not change.
        return [_QUOTE_MARK, value, _QUOTE_MARK] if never_null else [f"IFNULL(CONCAT('''',{value},''''),'NULL')"]
    if column.is_binary or kind in SPATIAL_TYPES or kind in LARGE_BINARY_TYPES:
        if never_null:
            return ["'_binary'", quoted_sql(value)]
        return [f"IF({value} IS NULL,'NULL',CONCAT('_binary',{quoted_sql(value)}))"]
    parts = _text_parts(column, value)
    if not column.is_large:
        return parts
    # CAST and CONVERT give NULL for a value longer than the server's max_allowed_packet, and QUOTE() turns
    # that NULL into the word NULL: the value would be dumped as NULL. Such a value makes the literal NULL
    # instead, as a QUOTE() that overflows does, so that the row is formatted in Python (it is fetched
    # raw). Converting to utf8mb4 may make the value up to four times longer; the test is on the length
    # before (LENGTH() does not read the value).
    growth = "" if column.charset in UTF8_COMPATIBLE or column.charset == "binary" else "*4"
    return [f"IF(LENGTH({value}){growth}>@@max_allowed_packet,NULL,{parts[0]})"]


def _text_parts(column: Column, value: str) -> list[str]:
    """:func:`literal_parts` of a text column (one part)."""
    if column.checked_text:
        return [f"IF({value} IS NULL,'NULL',IF({survives_sql(column, value)},"
                f"{quoted_sql(f'CAST({text_source(column, value)} AS BINARY)')},"
                f"CONCAT('_binary',{quoted_sql(f'CAST({value} AS BINARY)')})))"]
    if column.charset is not None:
        # Escaped as bytes: QUOTE() on a multi-byte character set steps through it character by character,
        # on bytes it does not (about 8% of the server's time for a table of short strings). The result is
        # the same, as utf8mb4 (what text_source gives) never holds a quote, backslash, NUL or Ctrl-Z byte
        # inside a multi-byte character.
        return [quoted_sql(f"CAST({text_source(column, value)} AS BINARY)")]
    return [quoted_sql(text_source(column, value))]


def member_number_parts(column: Column, never_null: bool) -> list[str]:
    """The literal of an ENUM or SET column some of whose values' text is ambiguous (``column.numbered``).

    An ENUM's ambiguous values are written as their numbers (index 0 as ``0``, which the dump's permissive
    sql_mode stores as index 0), any other keeps its text. A SET's every value is written as its number,
    the bits of its members.
    """
    value = quote_name(column.name)
    if column.data_type == "set":
        return [f"{value}+0" if never_null else f"IFNULL({value}+0,'NULL')"]
    text = literal_sql(dataclasses.replace(column, numbered=()))
    if column.numbered == (0,):
        return [f"IF({value}+0=0,'0',{text})"]
    return [f"IF({value}+0 IN ({','.join(map(str, column.numbered))}),{value}+0,{text})"]


def survives_sql(column: Column, value_sql: str) -> str:
    """True where ``value_sql`` comes back byte for byte from utf8mb4 into the column's character set."""
    return (f"CAST(CONVERT({text_source(column, value_sql)} USING {column.charset}) AS BINARY)="
            f"CAST({value_sql} AS BINARY)")


#: The SQL literal of a single quote.
_QUOTE_MARK = "''''"
_CONSTANT = re.compile(r"'(?:[^']|'')*'\Z")


def _concat(parts: Sequence[str]) -> str:
    """``CONCAT(parts)`` with neighbouring string constants joined into one."""
    merged: list[str] = []
    for part in parts:
        if merged and _CONSTANT.match(part) and _CONSTANT.match(merged[-1]):
            merged[-1] = merged[-1][:-1] + part[1:]
        else:
            merged.append(part)
    return "CONCAT(" + ",".join(merged) + ")"


def quoted_sql(value_sql: str) -> str:
    """``value_sql`` as a quoted string literal, or the word NULL: ``QUOTE()`` escapes quote, backslash,
    NUL and Ctrl-Z. Carriage returns are escaped later, by :func:`escape_carriage_returns`."""
    return f"QUOTE({value_sql})"


def escape_carriage_returns(values: bytes) -> bytes:
    """Row literals as written to the dump: every raw carriage return escaped as backslash-r.

    The ``mariadb`` client turns every CR LF of a script into a lone LF, inside strings as well (unless
    it runs with ``--binary-mode``), so the dump must not hold a raw CR. One is only ever found inside a
    quoted string (numbers, dates and the other literals are plain ASCII), where backslash-r is its
    escape, so the whole statement is escaped at once. This is done in Python, and after the checksum:
    the server's ``REPLACE()`` moves the rest of the string for every match, which is quadratic in a
    value full of CRs, and the checksum must stay computable by the server with ``QUOTE()`` alone.
    """
    return values.replace(b"\r", b"\\r")


@dataclass
class RowFormat:
    """The SELECT list for one table and how to assemble each fetched row into ``(v1,v2,...)``.

    ``select_list`` yields, in order, server-formatted text segments and raw large values; ``raw``
    holds, per result column, None for a formatted segment or the large column it carries.
    """

    columns: list[Column]
    select_list: list[str] = field(default_factory=list)
    raw: list[Column | None] = field(default_factory=list)
    #: Positions in ``raw`` of a checked text column's bytes, given only where its text would not survive
    #: (:attr:`Column.checked_text`); the next position holds its text otherwise.
    bytes_unless_text: set[int] = field(default_factory=set)


def row_format(columns: Sequence[Column], overrides: dict[str, str] | None = None, *,
               raw_binary: bool = False) -> RowFormat:
    """Build the SELECT list for ``columns`` (generated ones left out); ``overrides`` maps a column
    name to an SQL expression that replaces its value (sanitising), formatted like the column.

    ``raw_binary`` fetches every binary string raw, not only the large ones: escaping bytes in Python
    (a few ``bytes.replace`` passes) costs about a third of what the server's ``QUOTE()`` does, and on a
    machine whose cores are shared the server's one thread per connection is the dump's critical path.
    """
    overrides = overrides or {}
    dumped = [c for c in columns if not c.generated]
    fmt = RowFormat(columns=dumped)
    pending: list[str] = ["_binary'('"]
    for index, column in enumerate(dumped):
        if index:
            pending.append("','")
        override = overrides.get(column.name)
        expr = f"({override})" if override is not None else None
        if column.is_large or (raw_binary and column.is_binary):
            fmt.select_list.append(_concat(pending))
            fmt.raw.append(None)
            value = expr or quote_name(column.name)
            pending = ["_binary''"]
            if column.checked_text:
                fmt.bytes_unless_text.add(len(fmt.raw))
                fmt.select_list.append(f"IF({survives_sql(column, value)},NULL,CAST({value} AS BINARY))")
                fmt.raw.append(column)
                if column.is_large:
                    # Beyond max_allowed_packet the conversions give NULL, and the value would read as NULL
                    # in both places: the next segment is NULL then, and the dump fails saying so.
                    pending.append(f"IF({value} IS NOT NULL AND ({survives_sql(column, value)}) IS NULL,NULL,'')")
                value = f"IF({survives_sql(column, value)},{value},NULL)"
            fmt.select_list.append(value)
            fmt.raw.append(column)
        else:
            pending += literal_parts(column, expr)
    pending.append("')'")
    fmt.select_list.append(_concat(pending))
    fmt.raw.append(None)
    return fmt


def escape_text(value: bytes) -> bytes:
    """``value`` as a quoted string literal, escaped exactly as the server's ``QUOTE()`` does."""
    return (b"'" + value.replace(b"\\", b"\\\\").replace(b"'", b"\\'").replace(b"\0", b"\\0")
            .replace(b"\x1a", b"\\Z") + b"'")


def format_raw(column: Column, value: bytes | None) -> bytes:
    """The literal of a column fetched raw (see :func:`row_format`)."""
    if value is None:
        return b"NULL"
    if column.large_is_binary or column.is_binary:
        return b"_binary" + escape_text(value)
    return escape_text(value)


#: What a row the server cannot format (NULL) adds to the checksum query's sum: more than any total of
#: CRC32 values, so the number of such rows can be read off the sum.
OVERSIZE_MARK = 1 << 64


def checksum_sql(columns: Sequence[Column]) -> str:
    """The aggregate computing the table checksum on the server (after loading), as text.

    Rows the server cannot format within its packet limit add :data:`OVERSIZE_MARK` instead; the caller
    streams those through Python (:func:`oversize_rows_sql`).
    """
    return f"CAST(IFNULL(SUM(IFNULL(CRC32({row_literal_sql(columns)}),{OVERSIZE_MARK})),0) AS CHAR)"


def oversize_rows_sql(source: str, columns: Sequence[Column], condition: str = "") -> tuple[str, RowFormat]:
    """The query streaming the rows (of those meeting ``condition``) too big for server-side formatting,
    with their large values raw."""
    fmt = row_format(columns)
    where = f"({condition}) AND " if condition else ""
    return f"SELECT {', '.join(fmt.select_list)} FROM {source} WHERE {where}{row_literal_sql(columns)} IS NULL", fmt


def assemble(row: Sequence[bytes | None], fmt: RowFormat) -> bytes | None:
    """The row literal from a fetched row of :func:`row_format` (None when the server gave up on a part)."""
    if fmt.bytes_unless_text:
        return _assemble_checked(row, fmt)
    parts: list[bytes] = []
    for value, raw in zip(row, fmt.raw, strict=True):
        if raw is not None:
            parts.append(format_raw(raw, value))
        elif value is None:
            return None
        else:
            parts.append(value)
    return b"".join(parts)


def _assemble_checked(row: Sequence[bytes | None], fmt: RowFormat) -> bytes | None:
    """:func:`assemble` for a row holding checked text columns (a loop of its own keeps the common one lean)."""
    parts: list[bytes] = []
    held: bytes | None = None
    for index, (value, raw) in enumerate(zip(row, fmt.raw, strict=True)):
        if index in fmt.bytes_unless_text:
            held = value
        elif held is not None:
            parts.append(b"_binary" + escape_text(held))
            held = None
        elif raw is not None:
            parts.append(format_raw(raw, value))
        elif value is None:
            return None
        else:
            parts.append(value)
    return b"".join(parts)


#: Raw values are escaped in slices of this size by :func:`literal_pieces`, so that a huge value is never
#: copied whole again (escaping is byte by byte: the escaped slices joined are the escaped value).
PIECE_BYTES = 1 << 20


def literal_pieces(row: Sequence[bytes | None], fmt: RowFormat) -> Iterator[bytes] | None:
    """:func:`assemble`'s literal as pieces whose concatenation is it, for rows holding a huge value:
    each raw value escaped slice by slice (:data:`PIECE_BYTES`). None when the server gave up on a part.
    Can be iterated once; call again for another pass."""
    if any(value is None and raw is None for value, raw in zip(row, fmt.raw, strict=True)):
        return None
    return streamed_pieces(row, fmt)


class Unformatted(ValueError):
    """A part of the row the server formats is NULL: it gave up on it (beyond its max_allowed_packet)."""


#: A value that comes in pieces (a huge value read off the connection, see :mod:`.rowpackets`).
Pieces = Iterable[bytes]


def streamed_pieces(row: Iterable[bytes | Pieces | None], fmt: RowFormat) -> Iterator[bytes]:
    """:func:`literal_pieces` of a row whose values are taken in order, each whole or in pieces, as they
    come off the connection: a NULL part the server should have formatted raises :class:`Unformatted`
    when it is reached."""
    written = False
    for index, (value, raw) in enumerate(zip(row, fmt.raw, strict=True)):
        if index in fmt.bytes_unless_text:
            # The bytes of a text that would not survive, else NULL and the text is next.
            if value is not None:
                yield from _escaped_pieces(b"_binary'", value)
            written = value is not None
        elif written:
            written = False
        elif raw is None:
            if value is None:
                raise Unformatted("a part of the row the server formats is NULL")
            yield from (value,) if isinstance(value, bytes) else value
        elif value is None:
            yield b"NULL"
        else:
            yield from _escaped_pieces(b"_binary'" if raw.large_is_binary or raw.is_binary else b"'", value)


def _escaped_pieces(opening: bytes, value: bytes | Pieces) -> Iterator[bytes]:
    """:func:`escape_text` (after ``opening``'s introducer) of ``value``, slice by slice."""
    yield opening
    if isinstance(value, bytes):
        view = memoryview(value)
        value = (bytes(view[start:start + PIECE_BYTES]) for start in range(0, len(value), PIECE_BYTES))
    for piece in value:
        yield piece.replace(b"\\", b"\\\\").replace(b"'", b"\\'").replace(b"\0", b"\\0").replace(b"\x1a", b"\\Z")
    yield b"'"


def pieces_checksum(pieces: Iterator[bytes]) -> int:
    """``crc32`` of the literal the pieces make up, without joining them."""
    crc = 0
    for piece in pieces:
        crc = zlib.crc32(piece, crc)
    return crc


def row_literal_sql(columns: Sequence[Column], overrides: dict[str, str] | None = None) -> str:
    """The whole row ``(v1,v2,...)`` formatted by the server, large columns included.

    Used by the chunked dump, which puts many such rows into one GROUP_CONCAT value and retries with
    fewer rows (or falls back to fetching raw values) when the result would exceed the server's limits.
    """
    overrides = overrides or {}
    parts: list[str] = []
    for column in columns:
        if column.generated:
            continue
        override = overrides.get(column.name)
        if parts:
            parts.append("','")
        parts += literal_parts(column, f"({override})" if override is not None else None)
    return _concat(["_binary'('", *parts, "')'"])


def format_checksum(total: int) -> str:
    return f"crc32sum:{total}"
