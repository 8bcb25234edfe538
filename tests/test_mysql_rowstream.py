"""The row reader that takes a one-column result straight off the connection: the protocol's packet
framing, length encodings, values of 16 MB and more, NULL, EOF, errors and broken streams; and on the
real server, the same values as PyMySQL's own cursor (real MariaDB on 127.0.0.1 for those)."""

from __future__ import annotations

import io
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pymysql
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synco_core.engines.mysql import rowstream

MAX = 0xFFFFFF


def lenenc(value: bytes) -> bytes:
    n = len(value)
    if n < 251:
        return bytes([n]) + value
    if n < 1 << 16:
        return b"\xfc" + n.to_bytes(2, "little") + value
    if n < 1 << 24:
        return b"\xfd" + n.to_bytes(3, "little") + value
    return b"\xfe" + n.to_bytes(8, "little") + value


def packets(payload: bytes, sequence: int) -> tuple[bytes, int]:
    """``payload`` framed as the protocol frames it, split every 16 MB (and ended by a shorter packet)."""
    out = []
    while True:
        part, payload = payload[:MAX], payload[MAX:]
        out.append(len(part).to_bytes(3, "little") + bytes([sequence]) + part)
        sequence = (sequence + 1) & 0xFF
        if len(part) < MAX:
            return b"".join(out), sequence


EOF_PACKET = b"\xfe\x00\x00\x02\x00"


class FakeConnection:
    """What the reader uses of a PyMySQL connection, after the query's column definitions were read."""

    def __init__(self, stream: bytes, sequence: int) -> None:
        self._rfile = io.BytesIO(stream)
        self._next_seq_id = sequence
        self._result = SimpleNamespace(unbuffered_active=True)
        self.encoding = "utf8"
        self.closed = False

    def query(self, sql: bytes, unbuffered: bool = False) -> None:
        assert unbuffered

    def close(self) -> None:
        self.closed = True


def result_stream(values: list[bytes], *, end: bytes = EOF_PACKET, start: int = 3) -> FakeConnection:
    stream, sequence = [], start
    for value in values:
        data, sequence = packets(lenenc(value), sequence)
        stream.append(data)
    data, _ = packets(end, sequence)
    return FakeConnection(b"".join(stream) + data, start)


def read_all(conn: Any, batch_bytes: int = 1000) -> list[list[bytes]]:
    return list(rowstream.stream_column(conn, "SELECT x", batch_bytes))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=40), st.integers(min_value=1, max_value=2000))
def test_values_come_back_in_batches_of_the_size_asked(values: list[bytes], batch_bytes: int) -> None:
    conn = result_stream(values)
    batches = read_all(conn, batch_bytes)
    assert [value for batch in batches for value in batch] == values
    for batch in batches:
        assert len(batch) == 1 or sum(len(v) + 1 for v in batch) <= batch_bytes + 1
    assert not conn._result.unbuffered_active and not conn.closed
    assert conn._next_seq_id == (3 + len(values) + 1) & 0xFF


@pytest.mark.parametrize("size", [0, 250, 251, 65535, 65536, MAX - 5, MAX - 4, MAX - 3, MAX, 17_000_000])
def test_every_length_encoding_and_values_across_packets(size: int) -> None:
    """Around the 1-, 2-, 3- and 8-byte length prefixes, and payloads of exactly 16 MB (which the protocol
    ends with an empty packet) or more (continued in further packets)."""
    value = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    conn = result_stream([b"a", value, b"z"], start=250)
    assert [v for batch in read_all(conn) for v in batch] == [b"a", value, b"z"]


def test_null_is_refused() -> None:
    conn = result_stream([b"a"])
    stream = conn._rfile.getvalue()
    conn = FakeConnection(stream[:6] + b"\x01\x00\x00\x04\xfb" + b"\x05\x00\x00\x05" + EOF_PACKET, 3)
    with pytest.raises(rowstream.NullValue):
        read_all(conn)
    assert conn.closed


def test_a_server_error_in_the_middle_is_raised_as_pymysql_does() -> None:
    error = b"\xff" + (1317).to_bytes(2, "little") + b"#70100Query execution was interrupted"
    conn = result_stream([b"a", b"b"], end=error)
    with pytest.raises(pymysql.err.OperationalError, match="interrupted") as caught:
        read_all(conn)
    assert caught.value.args[0] == 1317


@pytest.mark.parametrize("damage", ["sequence", "truncated header", "truncated value"])
def test_a_broken_stream_is_a_lost_connection(damage: str) -> None:
    conn = result_stream([b"abc", b"def"])
    stream = conn._rfile.getvalue()
    if damage == "sequence":
        stream = stream[:11] + bytes([99]) + stream[12:]  # the second packet's number
    elif damage == "truncated header":
        stream = stream[:10]
    else:
        stream = stream[:6]
    conn = FakeConnection(stream, 3)
    with pytest.raises(pymysql.err.OperationalError) as caught:
        read_all(conn)
    assert caught.value.args[0] == 2013 and conn.closed


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=30), st.integers(min_value=1, max_value=600), st.data())
def test_a_stream_cut_anywhere_hands_on_only_whole_values(
    values: list[bytes], batch_bytes: int, data: st.DataObject
) -> None:
    """The connection ending at any byte (inside a header, inside a value, between packets): the values
    handed on before the lost connection is raised are whole and in order, never one cut short. The
    reader takes a short value's length on trust and relies on the next header's read to find the end."""
    full = result_stream(values)._rfile.getvalue()
    cut = data.draw(st.integers(min_value=0, max_value=len(full) - 1))
    conn = FakeConnection(full[:cut], 3)
    got: list[bytes] = []
    with pytest.raises(pymysql.err.OperationalError) as caught:
        for batch in rowstream.stream_column(conn, "SELECT x", batch_bytes):
            got.extend(batch)
    assert caught.value.args[0] == 2013 and conn.closed
    assert got == values[: len(got)]


def test_stopping_early_closes_the_connection() -> None:
    conn = result_stream([b"a" * 100] * 5)
    batches = rowstream.stream_column(conn, "SELECT x", 150)
    next(batches)
    batches.close()
    assert conn.closed


@pytest.mark.mysql
@pytest.mark.parametrize("fast", [True, False])
def test_the_real_server_gives_the_cursors_values(fast: bool, monkeypatch: pytest.MonkeyPatch,
                                                 mysql_database_factory: Callable[[], str]) -> None:
    """Through the socket (and through PyMySQL's cursor where the attributes are missing), then the
    connection goes on with the next query."""
    from synco_core.testing.services import mysql_admin_connection

    if not fast:
        monkeypatch.setattr(rowstream, "fast_path_available", lambda conn: False)
    database = mysql_database_factory()
    conn = mysql_admin_connection(database)
    try:
        sql = ("SELECT CASE WHEN seq % 3 = 0 THEN REPEAT(CHAR(seq % 256), seq * 50) "
               "ELSE CONCAT('row ', seq) END FROM seq_1_to_2000")
        with conn.cursor() as cur:
            cur.execute(sql)
            expected = [row[0].encode() if isinstance(row[0], str) else row[0] for row in cur.fetchall()]
        got = [v for batch in rowstream.stream_column(conn, sql, 100_000) for v in batch]
        assert got == expected
        with conn.cursor() as cur:
            cur.execute("SELECT 42")
            assert cur.fetchone() == (42,)
    finally:
        conn.close()


class ChunkedFile(io.BytesIO):
    """A connection's file whose ``read1`` gives the bytes in chunks of the sizes asked (then one byte at a
    time), as a socket does: a chunk may end anywhere, inside a header or a value."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        super().__init__(data)
        self.sizes = list(sizes)

    def read1(self, size: int = -1) -> bytes:
        chunk = self.sizes.pop(0) if self.sizes else 1
        return super().read1(min(chunk, size) if size >= 0 else chunk)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=30), st.lists(st.integers(min_value=1, max_value=400), max_size=60),
       st.integers(min_value=1, max_value=600))
def test_chunks_ending_anywhere_give_the_same_values(values: list[bytes], sizes: list[int], batch_bytes: int) -> None:
    """The reader takes the socket's bytes a chunk at a time: wherever a chunk ends (inside a header, inside
    a value whose length it took on trust, between packets), every value comes whole, in order, and the
    connection is left as PyMySQL expects."""
    full = result_stream(values)._rfile.getvalue()
    conn = FakeConnection(b"", 3)
    conn._rfile = ChunkedFile(full, sizes)
    batches = read_all(conn, batch_bytes)
    assert [value for batch in batches for value in batch] == values
    assert not conn._result.unbuffered_active and not conn.closed
    assert conn._next_seq_id == (3 + len(values) + 1) & 0xFF
    assert conn._rfile.read() == b""


@pytest.mark.parametrize("size", [250, 251, 70_000, MAX + 10])
def test_chunks_ending_inside_long_values(size: int) -> None:
    """Values longer than a chunk (and than a packet) are read across chunks too."""
    value = bytes(range(256)) * (size // 256) + b"y" * (size % 256)
    full = result_stream([b"a", value, b"b" * 250, b"z"], start=7)._rfile.getvalue()
    conn = FakeConnection(b"", 7)
    conn._rfile = ChunkedFile(full, [3, 1000, 4, 2, 100_000] * 3)
    assert [v for batch in read_all(conn, 100) for v in batch] == [b"a", value, b"b" * 250, b"z"]


def test_bytes_after_the_end_of_the_result_are_a_lost_connection() -> None:
    """Nothing follows a result's end packet; bytes that do would be lost to the next query (they are read
    ahead with the result), so the connection is given up rather than left out of step."""
    full = result_stream([b"abc"])._rfile.getvalue()
    conn = FakeConnection(full + b"\x01\x00\x00\x00\x00", 3)
    with pytest.raises(pymysql.err.OperationalError) as caught:
        read_all(conn)
    assert caught.value.args[0] == 2013 and conn.closed
