"""Reading a result set of one text column straight off the connection, for tables streamed row by row.

A table that cannot be read in pages (no usable key, or a filter that needs an order) is read with one
unbuffered ``SELECT`` whose single column is the row's literal, formatted by the server. Through PyMySQL's
cursors every row costs a packet object, a tuple and a round of converters: a few microseconds, which for
millions of short rows is more than the server needs to produce them. Here PyMySQL sends the query and
reads the column definitions; the rows are then read as packets from what the connection's socket file
gives, one read of up to :data:`READ_BUFFER` at a time (:class:`_Chunks`): a 4-byte header (3-byte length,
sequence number), then the column as a length-encoded string (or 0xFB for NULL), until the EOF packet.
Values of 16 MB and more span several packets, as the protocol says.

The reader keeps the connection in the state PyMySQL expects once a result is read to its end (sequence
number, the result marked as finished), so the connection goes on to the next query as usual. It relies
on three attributes of PyMySQL's connection (``_rfile``, ``_next_seq_id``, ``_result``); when they are not
there (another PyMySQL), :func:`stream_column` reads through an unbuffered cursor instead, with the same
result.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any, NoReturn

import pymysql
import pymysql.cursors
from pymysql.constants import CR

MAX_PACKET = 0xFFFFFF
_NULL = 0xFB
_EOF = 0xFE
_ERROR = 0xFF


#: The socket read buffer for streaming, and the most :class:`_Chunks` takes at once: PyMySQL's 8 KiB default
#: means a system call (and a turn of the GIL) every hundred short rows.
READ_BUFFER = 256 * 1024


def widen_read_buffer(conn: Any) -> None:
    """Give a fresh connection (nothing unread on it) a larger socket read buffer (:data:`READ_BUFFER`)."""
    if fast_path_available(conn) and getattr(conn, "_sock", None) is not None:
        conn._rfile = conn._sock.makefile("rb", buffering=READ_BUFFER)


def fast_path_available(conn: Any) -> bool:
    """True when ``conn`` is a PyMySQL connection this module can read rows from directly."""
    return all(hasattr(conn, name) for name in ("_rfile", "_next_seq_id", "_result", "query"))


class NullValue(ValueError):
    """The result held a NULL, which the caller does not expect (a row the server could not format)."""


def stream_column(conn: Any, sql: str, batch_bytes: int) -> Iterator[list[bytes]]:
    """Run ``sql`` (one column of text or bytes) and yield its values in lists of at most ``batch_bytes``
    (counting one byte between values), or of one value when that alone is bigger.

    A NULL value raises :class:`NullValue`. The result is read to its end unless the caller stops early or
    something fails; then the connection is closed, since the rest of the result would still be on its way.
    """
    if not fast_path_available(conn):
        yield from _through_cursor(conn, sql, batch_bytes)
        return
    conn.query(sql.encode("utf-8", "surrogateescape"), unbuffered=True)
    result = conn._result
    finished = False
    try:
        yield from _read_rows(conn, batch_bytes)
        finished = True
    finally:
        result.unbuffered_active = False
        if not finished:
            # The server is still sending the rest of the result: the connection cannot be used again.
            close_quietly(conn)


def close_quietly(conn: Any) -> None:
    # Already closed, when the error that got us here did it: nothing is left to do then.
    with contextlib.suppress(Exception):
        conn.close()


class _Chunks:
    """The connection's bytes as the socket gives them, a chunk at a time, for :func:`_read_rows`.

    Each chunk is an :class:`io.BytesIO` over one read of the socket (``read1``): its ``read`` takes no lock,
    where the connection's buffered file takes one for every call, and the common row costs two reads
    (docs/performance.md, "MySQL dump by key"). The row loop reads from :attr:`read` and comes here only
    when the chunk runs out, which a short read tells.
    """

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.chunk = io.BytesIO()
        self.read = self.chunk.read

    def refill(self) -> None:
        """The next chunk (waiting for the server if need be); the connection lost when it has ended."""
        data = self.conn._rfile.read1(READ_BUFFER)
        if not data:
            raise lost(self.conn)
        self.chunk = io.BytesIO(data)
        self.read = self.chunk.read

    def exact(self, count: int, start: bytes = b"") -> bytes:
        """``start`` and the next ``count`` bytes, across chunks. What the chunk lacks is read from the
        connection's file directly (in one call, for a value of any size); the next read then finds the
        chunk empty and refills it."""
        data = self.read(count)
        if len(data) < count:
            data += self.conn._rfile.read(count - len(data))
            if len(data) < count:
                raise lost(self.conn)
        return start + data if start else data

    def head(self, start: bytes) -> bytes:
        """A packet header and the first byte of its payload, ``start`` being what the last chunk held of it."""
        while len(start) < 5:
            self.refill()
            start += self.read(5 - len(start))
        return start

    def finished(self) -> None:
        """The result has ended: nothing may be left, as the rest of the chunk would be lost to the next query."""
        if self.read(1):
            raise lost(self.conn, "data after the end of a result")


def _read_rows(conn: Any, batch_bytes: int) -> Iterator[list[bytes]]:
    chunks = _Chunks(conn)
    read = chunks.read
    sequence = conn._next_seq_id
    batch: list[bytes] = []
    append = batch.append
    # What the batch weighs with the value being read (one byte between values), and the most it may.
    size = 0
    limit = batch_bytes + 1
    # The last common value and its length byte, kept to complete it when the chunk ended inside it.
    value = b""
    first = 0
    while True:
        # The packet header and the first byte of the payload (every packet has at least one).
        head = read(5)
        try:
            first = head[4]
        except IndexError:
            # The chunk has ended: inside this header, or inside the last value, whose length was taken on
            # trust (the header read then found nothing at all).
            if len(value) < first:
                batch[-1] = value = chunks.exact(first - len(value), value)
            head = chunks.head(head)
            read = chunks.read
            first = head[4]
        if first < _NULL and head[3] == sequence:
            # The common row: a value shorter than 251 bytes, its length in that first byte. This branch is
            # the per-row cost of every streamed table, so it does the least it can: the value's length is
            # not checked, as a short read only happens when the chunk ended, which the next header's read
            # finds before the batch holding the value is handed on.
            sequence = (sequence + 1) & 0xFF
            size += first + 1
            if size > limit:
                if batch:
                    yield batch
                    batch = []
                    append = batch.append
                size = first + 1
            value = read(first)
            append(value)
            continue
        value, first = b"", 0
        if head[3] != sequence:
            raise lost(conn, f"packet sequence number wrong: got {head[3]}, expected {sequence}")
        sequence = (sequence + 1) & 0xFF
        length = head[0] | head[1] << 8 | head[2] << 16
        if length == MAX_PACKET:
            payload, sequence = _long_payload(chunks, head[4:], sequence)
            long_value = _decode_single(conn, payload)
        elif head[4] == _NULL:
            raise NullValue("a NULL value in the result")
        elif head[4] == _EOF and length < 9:
            chunks.exact(length - 1)
            chunks.finished()
            conn._next_seq_id = sequence
            if batch:
                yield batch
            return
        elif head[4] == _ERROR:
            conn._next_seq_id = sequence
            raise_error(conn, chunks.exact(length - 1, head[4:]))
        else:
            long_value = _decode_single(conn, chunks.exact(length - 1, head[4:]))
        size += len(long_value) + 1
        if size > limit:
            if batch:
                yield batch
                batch = []
                append = batch.append
            size = len(long_value) + 1
        append(long_value)
        # A read from the file directly leaves the chunk behind it: the next header's read refills it.
        read = chunks.read


def _long_payload(chunks: _Chunks, start: bytes, sequence: int) -> tuple[bytes, int]:
    """A payload of 16 MB or more: the protocol continues it in packets until one is shorter."""
    parts = [start, chunks.exact(MAX_PACKET - 1)]
    while True:
        header = chunks.exact(4)
        if header[3] != sequence:
            raise lost(chunks.conn, f"packet sequence number wrong: got {header[3]}, expected {sequence}")
        sequence = (sequence + 1) & 0xFF
        length = header[0] | header[1] << 8 | header[2] << 16
        parts.append(chunks.exact(length))
        if length < MAX_PACKET:
            return b"".join(parts), sequence


def _decode_single(conn: Any, payload: bytes) -> bytes:
    """The one length-encoded string of a row packet."""
    first = payload[0]
    if first < _NULL:
        start, length = 1, first
    elif first == _NULL:
        raise NullValue("a NULL value in the result")
    elif first == 0xFC:
        start, length = 3, int.from_bytes(payload[1:3], "little")
    elif first == 0xFD:
        start, length = 4, int.from_bytes(payload[1:4], "little")
    elif first == _EOF:
        start, length = 9, int.from_bytes(payload[1:9], "little")
    else:
        raise lost(conn, f"unexpected row packet (first byte {first:#x})")
    if start + length != len(payload):
        raise lost(conn, "a row packet holds more than one column")
    return payload[start:]


def raise_error(conn: Any, payload: bytes) -> NoReturn:
    """Raise the server's error packet as PyMySQL would (the query was killed, the server is going away)."""
    from pymysql.protocol import MysqlPacket

    MysqlPacket(payload, conn.encoding).raise_for_error()
    raise lost(conn, "the server sent a malformed error packet")


def lost(conn: Any, why: str = "Lost connection to MySQL server during query") -> pymysql.err.OperationalError:
    close_quietly(conn)
    return pymysql.err.OperationalError(CR.CR_SERVER_LOST, why)


def _through_cursor(conn: Any, sql: str, batch_bytes: int) -> Iterator[list[bytes]]:
    cursor = conn.cursor(pymysql.cursors.SSCursor)
    finished = False
    try:
        cursor.execute(sql)
        batch: list[bytes] = []
        size = 0
        for (value,) in cursor.fetchall_unbuffered():
            if value is None:
                raise NullValue("a NULL value in the result")
            if batch and size + len(value) > batch_bytes:
                yield batch
                batch, size = [], 0
            batch.append(value)
            size += len(value) + 1
        if batch:
            yield batch
        finished = True
    finally:
        if finished:
            cursor.close()
        else:
            close_quietly(conn)
