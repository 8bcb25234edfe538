"""Rows of a result of several columns read straight off the connection, a huge value in pieces.

PyMySQL reads a row whole: the packets of a row of 16 MB or more are joined into one payload, and each
value is cut out of it, so a 120 MB value is held twice before the dump sees it. :func:`stream_rows`
reads the rows itself (as :mod:`.rowstream` does for results of one column): a row shorter than one
packet (:data:`~.rowstream.MAX_PACKET`, 16 MB) comes as a list of its values, like PyMySQL's; a longer
one as a :class:`HugeRow`, whose columns are read off the socket as the caller asks for them, each
value over :data:`STREAM_VALUE_BYTES` as a :class:`ValueStream` of pieces. A row spans several packets
there (the protocol continues a payload in packets of 16 MB - 1 bytes until one is shorter, if need be an
empty one), and a value or its length may straddle two of them.

The connection is left as :mod:`.rowstream` leaves it (sequence number, the result marked finished).
When PyMySQL's internals are not there, :func:`stream_rows` reads through an unbuffered cursor instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import pymysql.cursors

from synco_core.engines.mysql import rowstream
from synco_core.engines.mysql.rowstream import MAX_PACKET, lost

_NULL = 0xFB
_EOF = 0xFE
_ERROR = 0xFF

#: A value of a huge row longer than this comes as a :class:`ValueStream` (shorter ones as bytes).
STREAM_VALUE_BYTES = 1 << 20
#: The size of the pieces a :class:`ValueStream` is read in.
PIECE_BYTES = 1 << 20


class ValueStream:
    """One value of a :class:`HugeRow`, ``length`` bytes, read off the connection piece by piece.

    Iterate it once, before asking the row for its next column (which skips what was not read)."""

    def __init__(self, row: HugeRow, length: int) -> None:
        self.row = row
        self.length = length
        self.left = length

    def __iter__(self) -> Iterator[bytes]:
        while self.left:
            size = min(PIECE_BYTES, self.left)
            piece = self.row.read(size)
            self.left -= size
            yield piece

    def skip(self) -> None:
        for _ in self:
            pass


#: What a column of a row gives: its bytes, None for NULL, or the pieces of a huge value.
Value = bytes | None | ValueStream


class HugeRow:
    """A row of one packet or more, its columns read off the connection in order, as they are asked for.

    Iterate it once; :func:`stream_rows` reads what the caller left before it reads the next row."""

    def __init__(self, conn: Any, columns: int, sequence: int) -> None:
        self.conn = conn
        self.rfile = conn._rfile
        #: The sequence number the next packet must carry.
        self.sequence = sequence
        #: Bytes left in the current packet; the first one is full (that is what makes the row huge).
        self.left = MAX_PACKET
        self.full = True
        self.values = self._columns(columns)

    def __iter__(self) -> Iterator[Value]:
        return self.values

    def read(self, count: int) -> bytes:
        """The next ``count`` bytes of the row's payload, over packet boundaries."""
        if count <= self.left:
            self.left -= count
            return self._exact(count)
        parts = []
        while count:
            if not self.left:
                self._next_packet()
            take = min(count, self.left)
            parts.append(self._exact(take))
            self.left -= take
            count -= take
        return b"".join(parts)

    def finish(self) -> None:
        """Read what the caller left of the row (up to the packet after it)."""
        for value in self.values:
            if isinstance(value, ValueStream):
                value.skip()

    def _exact(self, count: int) -> bytes:
        data: bytes = self.rfile.read(count)
        if len(data) != count:
            raise lost(self.conn)
        return data

    def _next_packet(self) -> None:
        if not self.full:
            raise lost(self.conn, "a row packet ends before its columns")
        header = self._exact(4)
        if header[3] != self.sequence:
            raise lost(self.conn, f"packet sequence number wrong: got {header[3]}, expected {self.sequence}")
        self.sequence = (self.sequence + 1) & 0xFF
        self.left = header[0] | header[1] << 8 | header[2] << 16
        self.full = self.left == MAX_PACKET

    def _columns(self, count: int) -> Iterator[Value]:
        for _ in range(count):
            first = self.read(1)[0]
            if first == _NULL:
                yield None
                continue
            length = _length(first, self.read(_LENGTH_BYTES.get(first, 0)), self.conn)
            if length <= STREAM_VALUE_BYTES:
                yield self.read(length)
                continue
            stream = ValueStream(self, length)
            yield stream
            stream.skip()
        if self.left:
            raise lost(self.conn, "a row packet holds more than its columns")
        # A payload that fills its last packet is ended by an empty one.
        while self.full:
            self._next_packet()
            if self.left:
                raise lost(self.conn, "a row packet holds more than its columns")


#: How many bytes follow the first byte of a length-encoded integer.
_LENGTH_BYTES = {0xFC: 2, 0xFD: 3, 0xFE: 8}


def _length(first: int, rest: bytes, conn: Any) -> int:
    if first < _NULL:
        return first
    if first not in _LENGTH_BYTES:
        raise lost(conn, f"unexpected row packet (length byte {first:#x})")
    return int.from_bytes(rest, "little")


#: What :func:`stream_rows` yields: a row's values, or a huge row to read column by column.
Row = Sequence[bytes | None] | HugeRow


def stream_rows(conn: Any, sql: str, fetch_rows: int = 100) -> Iterator[Row]:
    """Run ``sql`` and yield its rows (module docstring). A :class:`HugeRow` must be read (or left) before
    the next row is asked for. As :func:`.rowstream.stream_column`, the connection is closed when the
    result is not read to its end. ``fetch_rows``: how many rows the fallback fetches at a time."""
    if not rowstream.fast_path_available(conn):
        yield from _through_cursor(conn, sql, fetch_rows)
        return
    conn.query(sql.encode("utf-8", "surrogateescape"), unbuffered=True)
    result = conn._result
    finished = False
    try:
        yield from _read_rows(conn, int(result.field_count))
        finished = True
    finally:
        result.unbuffered_active = False
        if not finished:
            rowstream.close_quietly(conn)


def _read_rows(conn: Any, columns: int) -> Iterator[Row]:
    read = conn._rfile.read
    sequence = conn._next_seq_id
    while True:
        header = read(4)
        if len(header) < 4:
            raise lost(conn)
        if header[3] != sequence:
            raise lost(conn, f"packet sequence number wrong: got {header[3]}, expected {sequence}")
        sequence = (sequence + 1) & 0xFF
        length = header[0] | header[1] << 8 | header[2] << 16
        if length == MAX_PACKET:
            row = HugeRow(conn, columns, sequence)
            yield row
            row.finish()
            sequence = row.sequence
            continue
        payload = read(length)
        if len(payload) != length or not length:
            raise lost(conn)
        first = payload[0]
        if first == _EOF and length < 9:
            conn._next_seq_id = sequence
            return
        if first == _ERROR:
            conn._next_seq_id = sequence
            rowstream.raise_error(conn, payload)
        yield _values(conn, payload, columns)


def _values(conn: Any, payload: bytes, columns: int) -> list[bytes | None]:
    """The values of a row packet read whole."""
    try:
        return _split(conn, payload, columns)
    except IndexError:
        raise lost(conn, "a row packet does not hold its columns") from None


def _split(conn: Any, payload: bytes, columns: int) -> list[bytes | None]:
    values: list[bytes | None] = []
    position = 0
    for _ in range(columns):
        first = payload[position]
        if first == _NULL:
            values.append(None)
            position += 1
            continue
        extra = _LENGTH_BYTES.get(first, 0)
        length = _length(first, payload[position + 1:position + 1 + extra], conn)
        position += 1 + extra
        values.append(payload[position:position + length])
        position += length
    if position != len(payload):
        raise lost(conn, "a row packet does not hold its columns")
    return values


def _through_cursor(conn: Any, sql: str, fetch_rows: int) -> Iterator[Row]:
    cursor = conn.cursor(pymysql.cursors.SSCursor)
    finished = False
    try:
        cursor.execute(sql)
        while True:
            fetched = cursor.fetchmany(fetch_rows)
            if not fetched:
                break
            yield from fetched
            # Let go of the rows before fetching more, or a big one would be held beside the next.
            fetched.clear()
        finished = True
    finally:
        if finished:
            cursor.close()
        else:
            with contextlib.suppress(Exception):
                # After a lost connection PyMySQL fails while draining; the first error counts.
                cursor.close()
            result = getattr(conn, "_result", None)
            if result is not None:
                # Otherwise the result object tries to drain the dead connection again when collected.
                result.unbuffered_active = False
