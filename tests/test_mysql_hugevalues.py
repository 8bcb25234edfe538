"""Rows whose values span several 16 MB packets: read off the connection and sent to it in pieces.

The dump reads a row of one packet or more value by value as it comes (rowpackets), and the loader sends a
big statement packet by packet as it reads the dump (querypackets); memory does not grow with the value.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_mysql_support import config, dump_bytes, install_bytes, measured_peak_mb, packet_limit, query

from synco_core.engines.mysql import querypackets, rowpackets, rowstream
from synco_core.engines.mysql.connect import connect
from synco_core.engines.mysql.load import Loader
from synco_core.engines.mysql.rowstream import MAX_PACKET
from synco_core.engines.mysql.splitter import SIZE_HINT, StatementSplitter, StreamedStatement
from synco_core.errors import DatabaseError

pytestmark = pytest.mark.mysql


def _big_connection(database: str, **options: Any) -> Any:
    """A connection taking packets of 256 MB (values are made and loaded with statements holding them)."""
    with packet_limit(256):
        return connect(config(database), **options)


def _consumed(row: rowpackets.Row) -> list[object]:
    """A row's values, a streamed one as its length and sha256."""
    values: list[object] = []
    for value in row:
        if isinstance(value, rowpackets.ValueStream):
            digest = hashlib.sha256()
            for piece in value:
                assert len(piece) <= rowpackets.PIECE_BYTES
                digest.update(piece)
            values.append((value.length, digest.hexdigest()))
        else:
            values.append(value)
    return values


#: The payload of the row `SELECT 'ab', REPEAT('x', n), NULL, 'cd'` besides the repeated bytes: 3 for 'ab', 4
#: for the long value's length, 1 for NULL, 3 for 'cd'.
_AROUND = 3 + 4 + 1 + 3


@pytest.mark.parametrize("payload", [
    MAX_PACKET - 1,  # One packet, read whole.
    MAX_PACKET,  # Fills the packet exactly: an empty packet ends it.
    MAX_PACKET + 1,
    MAX_PACKET + 2,  # Only 'cd' in the second packet.
    2 * MAX_PACKET,  # Two full packets and an empty one.
    2 * MAX_PACKET + 5,
])
def test_rows_over_packet_boundaries_are_read_in_pieces(
        payload: int, mysql_database_factory: Callable[[], str]) -> None:
    """Rows whose payload ends just before, at and after the 16 MB packet boundaries (the protocol ends a
    payload that fills its last packet with an empty one) come back exactly, the long value in pieces,
    with the rows around them; the connection goes on to the next query. Also with the length of a value
    straddling two packets."""
    database = mysql_database_factory()
    conn = _big_connection(database, raw=True)
    try:
        rowstream.widen_read_buffer(conn)
        repeat = payload - _AROUND
        sql = (f"SELECT 'ab', REPEAT('x', {repeat}), NULL, 'cd' UNION ALL SELECT 'e', 'f', NULL, '' "
               f"UNION ALL SELECT 'ab', REPEAT('y', {repeat}), NULL, 'cd'")
        rows = [_consumed(row) for row in rowpackets.stream_rows(conn, sql)]
        assert rows[1] == [b"e", b"f", None, b""]
        for row, letter in ((rows[0], b"x"), (rows[2], b"y")):
            long = row[1]
            expected = (repeat, hashlib.sha256(letter * repeat).hexdigest())
            assert row == [b"ab", expected if isinstance(long, tuple) else letter * repeat, None, b"cd"]
            assert isinstance(long, tuple) == (payload >= MAX_PACKET)
        # A value's length straddling two packets: 'ab' grown so that the long value's length starts 2 bytes
        # before the boundary.
        straddle = f"SELECT REPEAT('a', {MAX_PACKET - 2 - 4}), REPEAT('z', {payload - MAX_PACKET + 20})"
        (row,) = [_consumed(row) for row in rowpackets.stream_rows(conn, straddle)]
        assert row[0] == (MAX_PACKET - 6, hashlib.sha256(b"a" * (MAX_PACKET - 6)).hexdigest())
        long = payload - MAX_PACKET + 20
        assert row[1] in (b"z" * long, (long, hashlib.sha256(b"z" * long).hexdigest()))
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchall() == ((1,),)
    finally:
        conn.close()


def test_a_huge_row_left_unread_is_skipped_and_stopping_closes_the_connection(
        mysql_database_factory: Callable[[], str]) -> None:
    """The reader skips what the caller left of a huge row before the next; a caller that stops in the
    middle of a result leaves a closed connection, never one that reads the rest as an answer."""
    database = mysql_database_factory()
    conn = _big_connection(database, raw=True)
    try:
        sql = f"SELECT REPEAT('x', {MAX_PACKET + 10}), 'a' UNION ALL SELECT 'b', 'c'"
        rows = rowpackets.stream_rows(conn, sql)
        first = next(rows)
        assert isinstance(first, rowpackets.HugeRow)
        assert list(next(rows)) == [b"b", b"c"]
        assert list(rows) == []
        with conn.cursor() as cur:
            cur.execute("SELECT 2")
            assert cur.fetchall() == ((2,),)
        stopped = rowpackets.stream_rows(conn, sql)
        assert isinstance(stopped, Generator)
        huge = next(stopped)
        assert isinstance(huge, rowpackets.HugeRow)
        value = next(iter(huge))
        assert isinstance(value, rowpackets.ValueStream) and len(next(iter(value))) == rowpackets.PIECE_BYTES
        stopped.close()
        assert not conn.open
    finally:
        if conn.open:
            conn.close()


def _script(size: int) -> bytes:
    """A dump of one hinted INSERT of ``size`` bytes (a table ``t``)."""
    head = b"INSERT INTO `t` VALUES (1,'"
    letters = bytes(range(ord("0"), ord("z") + 1)).replace(b"\\", b"")
    value = letters * (size // len(letters) + 1)
    statement = head + value[:size - len(head) - 2] + b"')"
    assert len(statement) == size
    return (b"CREATE TABLE `t` (id INT, b LONGBLOB);\n" + SIZE_HINT + str(size).encode() + b"\n" + statement
            + b";\n")


@pytest.mark.parametrize("size", [MAX_PACKET - 2, MAX_PACKET - 1, MAX_PACKET, 2 * MAX_PACKET - 1, 2 * MAX_PACKET + 7])
def test_streamed_statements_cross_packet_boundaries(
        size: int, mysql_database_factory: Callable[[], str]) -> None:
    """A statement sent as it is read arrives whole whatever its size against the packet size (with the
    command byte, ``MAX_PACKET - 1`` bytes fill one packet exactly and an empty one must follow)."""
    database = mysql_database_factory()
    script = _script(size)
    conn = _big_connection(database)
    try:
        # Each statement is used before the next is asked for: sent here as it comes.
        for statement in StatementSplitter(io.BytesIO(script), chunk_size=1 << 20):
            if isinstance(statement, StreamedStatement):
                querypackets.send_streamed(conn, statement)
            else:
                conn.query(statement)
        with conn.cursor() as cur:
            cur.execute("SELECT LENGTH(b), SHA2(b, 256) FROM t")
            value = script[script.index(b"VALUES (1,'") + 11:-4]
            assert cur.fetchall() == ((len(value), hashlib.sha256(value).hexdigest()),)
    finally:
        conn.close()


class _LazyScript(io.RawIOBase):
    """A dump holding one INSERT of ``size`` bytes, made as it is read (it may be bigger than memory)."""

    def __init__(self, size: int) -> None:
        self.chunks = self._chunks(size)
        self.pending = b""

    @staticmethod
    def _chunks(size: int) -> Iterator[bytes]:
        head = b"INSERT INTO `t` VALUES (1,'"
        yield b"CREATE TABLE IF NOT EXISTS `t` (id INT, b LONGBLOB);\n" + SIZE_HINT + str(size).encode() + b"\n" + head
        filler = size - len(head) - 2
        while filler:
            take = min(filler, 1 << 20)
            filler -= take
            yield b"x" * take
        yield b"');\n"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self.pending:
            self.pending = next(self.chunks, b"")
        count = min(len(buffer), len(self.pending))
        buffer[:count] = self.pending[:count]
        self.pending = self.pending[count:]
        return count


def test_a_statement_the_server_refuses_fails_in_one_line(mysql_database_factory: Callable[[], str]) -> None:
    """A statement over the server's packet limit is refused before it is sent (one line naming the limit);
    and were the server to refuse it half-way (the check passed), the load still fails with one line."""
    database = mysql_database_factory()
    conn = connect(config(database))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@max_allowed_packet")
            (limit,) = cur.fetchone()
        size = int(limit) + (1 << 20)
        loader = Loader(conn, database=database)
        with pytest.raises(DatabaseError, match="more than the server's max_allowed_packet") as checked:
            loader.run(io.BufferedReader(_LazyScript(size)))
        assert "\n" not in str(checked.value) and "VALUES ..." in str(checked.value)
    finally:
        conn.close()
    conn = connect(config(database))
    try:
        loader = Loader(conn, database=database)
        loader.max_packet = 1 << 40
        with pytest.raises(DatabaseError, match="statement 2 of the dump failed") as refused:
            loader.run(io.BufferedReader(_LazyScript(size)))
        message = str(refused.value)
        # The server's own error (read when the connection broke under the rest, if it did); failing that,
        # the broken connection.
        assert re.search(r"max_allowed_packet|gone away|Lost connection", message), message
        assert "\n" not in message and "xxxx" not in message, message
    finally:
        if conn.open:
            conn.close()


def _fill(database: str, mb: int) -> None:
    """Rows with huge values (a LONGBLOB of every byte value; a LONGTEXT of multi-byte characters, quotes,
    backslashes, NUL, CR LF and Ctrl-Z), in a keyed table and a keyless one, among short rows and NULLs."""
    conn = _big_connection(database)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB, t LONGTEXT CHARSET utf8mb4 "
                        "COLLATE utf8mb4_bin, s VARCHAR(20))")
            cur.execute("CREATE TABLE loose (t LONGTEXT CHARSET utf8mb4, n INT)")
            cur.execute("INSERT INTO big SELECT seq, IF(seq % 3 = 0, NULL, CONCAT('small', seq)), "
                        "IF(seq % 4 = 0, NULL, _utf8mb4 X'73C3A927'), 'x' FROM seq_1_to_500")
            cur.execute("INSERT INTO big VALUES (0, (SELECT REPEAT(GROUP_CONCAT(CHAR(seq) SEPARATOR ''), "
                        f"{mb * 4096}) FROM seq_0_to_255), NULL, 'blob')")
            text = f"REPEAT(_utf8mb4 X'C3A9E282ACF09F98802722005C0D0A1A61626364', {mb * 1024 * 1024 // 20})"
            cur.execute(f"INSERT INTO big VALUES (1000, NULL, {text}, 'text')")
            cur.execute(f"INSERT INTO loose VALUES ('a', 1), (NULL, 2), ({text}, 3), ('b', NULL)")
    finally:
        conn.close()


def _sums(database: str) -> list[object]:
    return [query(database, f"CHECKSUM TABLE {table}")[0][1] for table in ("big", "loose")] + query(
        database, "SELECT SHA2(b, 256), SHA2(t, 256) FROM big WHERE id IN (0, 1000) ORDER BY id")



#: How much more the dump or the install may take at peak for values 32 MB longer (before: 110-150 MB for 48 MB
#: longer; the dump 2.0 MB a MB, the install 2.9: 64 and 92 MB here, five and seven times this).
_GROWTH_MB = 12
#: The two sizes of the values, in MB: both past the 16 MB packet, so both read and sent in pieces.
_SMALL_MB, _LARGE_MB = 20, 52


@pytest.mark.slow
def test_memory_does_not_grow_with_the_value(
        mysql_database_factory: Callable[[], str], tmp_path: Path) -> None:
    """Dumped and installed (verified) by processes of their own, rows with 20 MB values and rows with
    52 MB values take about the same peak memory, and arrive unchanged."""
    peaks: dict[tuple[str, int], int] = {}
    for mb in (_SMALL_MB, _LARGE_MB):
        source, target = mysql_database_factory(), mysql_database_factory()
        _fill(source, mb)
        dumped = tmp_path / f"dump-{mb}.sql"
        for step, database in (("dump", source), ("load", target)):
            # The load's statements hold the values: its connections need the bigger packets (and the
            # dump's, for the code before, which lost rows beyond the limit).
            with packet_limit(256):
                peaks[step, mb] = measured_peak_mb(step, database, dumped)
        assert _sums(target) == _sums(source)
        assert query(target, "SELECT LENGTH(b) FROM big WHERE id = 0") == [(mb * 1024 * 1024,)]
        dumped.unlink()
    for step in ("dump", "load"):
        assert peaks[step, _LARGE_MB] - peaks[step, _SMALL_MB] < _GROWTH_MB, peaks
        assert peaks[step, _LARGE_MB] < 100, peaks


def test_huge_rows_are_dumped_and_loaded_the_same_without_pymysql_internals(
        mysql_database_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Where PyMySQL's internals are not what the readers and the sender expect, PyMySQL's cursor reads the
    rows and ``query`` sends the statements: the dump is the same, byte for byte (so the rows read in
    pieces are written as the rows read whole are, hint, literal and checksum), and it loads the same."""
    source = mysql_database_factory()
    _fill(source, 17)
    streamed, streamed_result = dump_bytes(source)
    fast = mysql_database_factory()
    with packet_limit(256):
        install_bytes(fast, streamed)
    monkeypatch.setattr(rowstream, "fast_path_available", lambda conn: False)
    monkeypatch.setattr(querypackets, "streaming_available", lambda conn: False)
    whole, whole_result = dump_bytes(source)
    assert whole == streamed and whole_result.tables == streamed_result.tables
    # The three huge rows, one INSERT each.
    assert len([size for size in re.findall(rb"-- synco-size: (\d+)\n", streamed) if int(size) > 17 << 20]) == 3
    slow = mysql_database_factory()
    with packet_limit(256):
        install_bytes(slow, whole)
    assert _sums(fast) == _sums(slow) == _sums(source)


def test_rows_the_server_cannot_format_are_verified_from_pieces(
        mysql_database_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The installer's verification formats a row beyond the server's packet limit in Python: a row of 16
    MB or more from pieces as it is read, to the checksum the dump wrote for it."""
    from synco_core.engines.mysql import install, literals

    source = mysql_database_factory()
    _fill(source, 17)
    _, result = dump_bytes(source)
    huge_rows: list[bool] = []
    real = literals.streamed_pieces

    def spied(row: Any, fmt: literals.RowFormat) -> Iterator[bytes]:
        huge_rows.append(isinstance(row, rowpackets.HugeRow))
        return real(row, fmt)

    monkeypatch.setattr(literals, "streamed_pieces", spied)
    # A connection whose limit (16 MB) the huge rows' literals pass.
    with packet_limit(16):
        conn = connect(config(source))
    try:
        for table in ("big", "loose"):
            part = install._Part(table)
            install._run_part(conn, source, part, want_checksum=True)
            assert literals.format_checksum(part.checksum) == result.tables[table].checksum
    finally:
        conn.close()
    assert huge_rows.count(True) == 3


def _dump_under_16_mb(database: str) -> bytes:
    """``database`` dumped by connections whose max_allowed_packet is 16 MB."""
    with packet_limit(16):
        return dump_bytes(database)[0]


def test_values_beyond_the_servers_packet_limit_are_dumped_not_lost(
        mysql_database_factory: Callable[[], str]) -> None:
    """Values longer than the source server's max_allowed_packet (stored while it was higher, or as long
    data) are dumped as they are. The server gives up formatting them: CAST and CONVERT give NULL, which
    QUOTE() made the word NULL (a text was dumped as NULL), and a row whose literal is NULL was left out
    of its page by GROUP_CONCAT (the row was missing from the dump, and from its manifest). Texts in utf8mb4
    and in latin1 (converted), bytes, in a keyed table (read by pages the server formats) and a keyless
    one (streamed). A checked text (cp1250) so long cannot be dumped: that fails in one line."""
    source, target = mysql_database_factory(), mysql_database_factory()
    size = 17 * 1024 * 1024
    conn = _big_connection(source)
    try:
        with conn.cursor() as cur:
            for table, key in (("keyed", "PRIMARY KEY"), ("loose", "")):
                cur.execute(f"CREATE TABLE {table} (id INT {key}, u LONGTEXT CHARSET utf8mb4, "
                            "l LONGTEXT CHARSET latin1, b LONGBLOB)")
                cur.execute(f"INSERT INTO {table} VALUES (1, 'a', 'b', 'c'), (2, NULL, NULL, NULL), "
                            f"(3, REPEAT(_utf8mb4 X'C3A927', {size // 3}), NULL, 'x'), "
                            f"(4, NULL, REPEAT(_latin1 X'E92700', {size // 3}), NULL), "
                            f"(5, 'e', 'f', REPEAT(X'00FF5C27', {size // 4})), (6, 'g', 'h', 'i')")
    finally:
        conn.close()
    dumped = _dump_under_16_mb(source)
    with packet_limit(256):
        install_bytes(target, dumped)

    def sums(database: str) -> list[object]:
        return [query(database, f"SELECT id, SHA2(u, 256), SHA2(l, 256), SHA2(b, 256) FROM {table} ORDER BY id")
                for table in ("keyed", "loose")]

    assert sums(target) == sums(source)
    conn = _big_connection(source)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE checked (id INT PRIMARY KEY, c LONGTEXT CHARSET cp1250)")
            cur.execute(f"INSERT INTO checked VALUES (1, 'a'), (2, REPEAT(_cp1250 X'8A9A5C', {size // 3}))")
    finally:
        conn.close()
    with pytest.raises(DatabaseError, match=r"table checked: a row could not be formatted .*max_allowed_packet"):
        _dump_under_16_mb(source)


def test_a_spool_that_cannot_be_written_fails_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A huge row's spool reads back what was written, sealed on the disk (no plaintext there); a
    temporary folder that is full or missing fails in one line naming it."""
    import tempfile

    from synco_core.engines.mysql import sealedspool

    monkeypatch.setattr(sealedspool, "BLOCK_BYTES", 1000)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    spool = sealedspool.SealedSpool()
    pieces = [bytes([n % 256]) * (n * 37 % 900 + 1) for n in range(50)] + [b"secret value " * 100]
    for piece in pieces:
        spool.write(piece)
    try:
        assert b"".join(spool.blocks()) == b"".join(pieces) and spool.size == len(b"".join(pieces))
        spool.file.seek(0)
        assert b"secret value" not in spool.file.read()
    finally:
        spool.close()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    with pytest.raises(DatabaseError, match=r"cannot write a huge row to a temporary file in .*missing") as failed:
        sealedspool.SealedSpool()
    assert "\n" not in str(failed.value)
