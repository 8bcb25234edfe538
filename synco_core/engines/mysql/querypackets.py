"""Sending a statement to the server as it is read from the dump, in packets, never holding it whole.

A statement (a ``COM_QUERY`` payload: the command byte, then the SQL) travels in packets of at most
16 MB - 1 bytes (:data:`~.rowstream.MAX_PACKET`), each with a 4-byte header (3-byte length, sequence
number); a payload that fills its last packet is ended by an empty one. Nothing needs the whole statement
first: each packet's header is written, then its bytes as they come, so a 120 MB INSERT goes out with a
megabyte or so in memory. :func:`send_streamed` then reads the server's answer through PyMySQL, which
continues from the sequence number left for it, as after its own ``query``.

A server that refuses the statement half-way (beyond its ``max_allowed_packet``) answers with an error and
closes the connection: the error is read and raised when the socket breaks under the rest.

The statement's :attr:`~.splitter.StreamedStatement.check` (the gate's) is fed every piece before it is
written, and the last byte is held back until the check has passed: the server runs nothing before it
has that byte, and a refused statement's connection is closed without it.

It relies on PyMySQL's ``_sock``, ``_rfile``, ``_next_seq_id``, ``_result`` and ``_read_query_result``; without
them (another PyMySQL) the statement is read into one buffer and sent through ``query``, as it used to be.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pymysql
from pymysql.constants import COMMAND, CR
from pymysql.protocol import MysqlPacket

from synco_core.engines.mysql import rowstream
from synco_core.engines.mysql.rowstream import MAX_PACKET
from synco_core.engines.mysql.splitter import StreamedStatement

_NEEDED = ("_sock", "_rfile", "_next_seq_id", "_result", "_read_query_result")


def streaming_available(conn: Any) -> bool:
    """True when ``conn`` is a PyMySQL connection this module can write a statement to directly, with no
    result left unread on it."""
    if not all(hasattr(conn, name) for name in _NEEDED) or conn._sock is None:
        return False
    result = conn._result
    return result is None or not (getattr(result, "unbuffered_active", True) or getattr(result, "has_next", True))


def send_streamed(conn: Any, statement: StreamedStatement) -> None:
    """Run ``statement`` on ``conn``, sending it as it is read. A failure half-way (the dump is cut
    short) closes the connection, which the server would otherwise wait on for the rest."""
    if not streaming_available(conn):
        conn.query(memoryview(statement.whole()))
        return
    conn._result = None
    left = len(statement) + 1
    sequence = 0
    # The packet being written: how many bytes it still takes, and whether it is a full one.
    room = min(MAX_PACKET, left)
    full = room == MAX_PACKET
    sent = False
    try:
        _write(conn, _header(room, sequence) + bytes((COMMAND.COM_QUERY,)))
        sequence, room, left = 1, room - 1, left - 1
        # The statement's last byte is held back until its check has passed: the server waits for it and
        # runs nothing, and a refused statement's connection is closed without it.
        last = b""
        for piece in statement.pieces():
            if statement.check is not None:
                statement.check.feed(piece)
            view = memoryview(piece)
            while view:
                if not room:
                    if not left:
                        raise rowstream.lost(conn, "the statement is longer than its size")
                    room = min(MAX_PACKET, left)
                    full = room == MAX_PACKET
                    _write(conn, _header(room, sequence))
                    sequence = (sequence + 1) & 0xFF
                take = min(room, len(view))
                if take == left:
                    last = bytes(view[take - 1:take])
                    _write(conn, view[:take - 1])
                else:
                    _write(conn, view[:take])
                view = view[take:]
                room -= take
                left -= take
        if left or room:
            raise rowstream.lost(conn, "the statement ended before its size")
        if statement.check is not None:
            statement.check.finish()
        _write(conn, last + _header(0, sequence) if full else last)
        if full:
            sequence = (sequence + 1) & 0xFF
        sent = True
    finally:
        if not sent:
            rowstream.close_quietly(conn)
    conn._next_seq_id = sequence
    conn._affected_rows = conn._read_query_result()


def _write(conn: Any, data: bytes | memoryview) -> None:
    try:
        conn._sock.sendall(data)
    except OSError as exc:
        refusal = _refusal(conn)
        rowstream.close_quietly(conn)
        if refusal is not None:
            raise refusal from exc
        raise pymysql.err.OperationalError(CR.CR_SERVER_GONE_ERROR, f"MySQL server has gone away ({exc!r})") from exc


def _refusal(conn: Any) -> pymysql.err.MySQLError | None:
    """The error the server sent before it closed the connection, if it did."""
    with contextlib.suppress(OSError, ValueError):
        conn._sock.settimeout(5)
        header = conn._rfile.read(4)
        length = int.from_bytes(header[:3], "little")
        payload = conn._rfile.read(length)
        if len(header) == 4 and len(payload) == length and payload[:1] == b"\xff":
            try:
                MysqlPacket(payload, conn.encoding).raise_for_error()
            except pymysql.err.MySQLError as error:
                return error
    return None


def _header(length: int, sequence: int) -> bytes:
    return length.to_bytes(3, "little") + bytes((sequence,))
