"""A streamed statement's code text and gate verdict are those of the whole statement, however it is cut.

The loader sends a row with a huge value as it reads it from the dump (querypackets); the gate reads its
values piece by piece (gatestream, codestream) and must reach the verdict ``StatementGate.check`` gives
the whole statement: a name or a quote cut by a piece's end must not hide ``SETVAL(other.s, 1000)``.
"""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_mysql_qualify import MODES

from synco_core.engines.mysql import codestream, querypackets
from synco_core.engines.mysql.codestream import CodeTextStream, UnclosedString
from synco_core.engines.mysql.gate import StatementGate
from synco_core.engines.mysql.qualify import Mode, code_text, tokens
from synco_core.engines.mysql.splitter import SIZE_HINT, StatementSplitter, StreamedStatement
from synco_core.errors import DatabaseError

# Every byte that starts, ends or escapes a token, and a name of a database that is not the one installed.
PIECES = ["'", '"', "`", "\\", "[", "]", "@", "#", "/", "*", "-", "!", "M", "0", " ", "\n", ".", "(", ",", "x",
          "é", "''", "/*", "*/", "-- ", "victim", "VICTIM.", "load_file(", "setval(victim.s,1)"]
STATEMENT_TEXT = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)


def _streamed_code_text(data: bytes, mode: Mode, keep: int, size: int) -> bytes:
    stream = CodeTextStream(mode, keep)
    parts = [stream.feed(data[start:start + size]) for start in range(0, len(data), size)]
    return b"".join(parts) + stream.end()


@settings(max_examples=300, deadline=None)
@given(sql=STATEMENT_TEXT, mode=st.sampled_from(MODES), keep=st.sampled_from([0, 3, 64]))
def test_streamed_code_text_is_the_code_text_of_the_whole_cut_anywhere(sql: str, mode: Mode, keep: int) -> None:
    data = sql.encode("latin-1", "replace")
    expected = code_text(data, mode, keep)
    for size in range(1, len(data) + 1):
        assert _streamed_code_text(data, mode, keep, size) == expected, size


@settings(max_examples=200, deadline=None)
@given(sql=STATEMENT_TEXT, mode=st.sampled_from(MODES))
def test_strings_longer_than_the_hold_are_read_as_a_state(sql: str, mode: Mode) -> None:
    """With a hold of 4 bytes nearly every string is read as a state across pieces: the text is still the
    whole's, but for a statement that ends inside such a string (then UnclosedString, never another text)."""
    data = sql.encode("latin-1", "replace")
    expected = code_text(data, mode)
    quotes = "'" if mode.ansi_quotes else "'\""
    unclosed = any(token.kind == "other" and token.text in quotes for token in tokens(data.decode("latin-1"), mode))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(codestream, "HOLD", 4)
        for size in range(1, len(data) + 1):
            try:
                assert _streamed_code_text(data, mode, 0, size) == expected, size
            except UnclosedString:
                # Read whole, a quote of the statement is never closed, and what follows it reads as code.
                assert unclosed, size


def test_a_long_string_is_never_held() -> None:
    """A value of 32 MB in pieces of 1 MB: the code text is made with a few megabytes at most."""
    stream = CodeTextStream(Mode(), 64)
    piece = b"ab\\'c''d" * (1 << 17)
    tracemalloc.start()
    try:
        out = stream.feed(b"(1,'")
        for _ in range(32):
            out += stream.feed(piece)
        out += stream.feed(b"'),(2,")
        out += stream.end()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out == b"(1,''),(2,"
    assert peak < 4 * len(piece), peak


def test_a_statement_ending_inside_a_long_string_is_not_read_otherwise() -> None:
    stream = CodeTextStream(Mode(), 0)
    stream.feed(b"(1,'" + b"x" * (codestream.HOLD + 10))
    with pytest.raises(UnclosedString):
        stream.end()


HEAD = b"INSERT INTO `t` VALUES (1,'" + b"a" * 80 + b"'),"
SQL_MODES = ["", "NO_BACKSLASH_ESCAPES", "ANSI_QUOTES", "ANSI_QUOTES,NO_BACKSLASH_ESCAPES"]
HOSTILE = [
    b"(2,SETVAL(victim.s,1000))",
    b"(2,'it''s',`victim` . f())",
    b"(2,'a\\\\', NEXTVAL(victim/**/.s))",
    b"(2,'x', /*!victim.f()*/ 1)",
    b"(2,LOAD_FILE('/etc/passwd'))",
    b"(2,load_file /* */ ('/etc/passwd'))",
    b"(2,'x'), (3, NEXT VALUE FOR victim\n.s)",
]
BENIGN = [
    b"(2,'Powered by victim. And victim.f() too')",
    b"(2,'it''s victim.s'), (3,\"victim.\")",
    b"(2,'a\\' victim.f() \\'')",
    b"(2,'/* victim.f() */')",
    b"(2,'load_file(')",
]


def _verdict(run: Callable[[], None]) -> str | None:
    try:
        run()
    except DatabaseError as exc:
        return str(exc)
    return None


def _gate(sql_mode: str) -> StatementGate:
    gate = StatementGate(["shop", "shop__synco_new"], ["shop", "shop__synco_new", "victim"])
    gate.observe("utf8mb4", sql_mode)
    return gate


def _streamed_verdict(statement: bytes, sql_mode: str, cuts: list[int]) -> str | None:
    def run() -> None:
        check = _gate(sql_mode).streamed(statement[:64 * 1024], 3)
        for start, stop in zip([0, *cuts], [*cuts, len(statement)], strict=True):
            check.feed(statement[start:stop])
        check.finish()
    return _verdict(run)


@pytest.mark.parametrize("values", HOSTILE + BENIGN)
@pytest.mark.parametrize("sql_mode", SQL_MODES)
def test_the_streamed_verdict_is_the_whole_statements_cut_at_every_boundary(values: bytes, sql_mode: str) -> None:
    statement = HEAD + values
    expected = _verdict(lambda: _gate(sql_mode).check(statement, 3))
    if values in HOSTILE and sql_mode == "":
        assert expected is not None and "refusing statement 3" in expected
    if values in BENIGN and sql_mode == "":
        assert expected is None
    for cut in range(1, len(statement)):
        assert _streamed_verdict(statement, sql_mode, [cut]) == expected, cut
    assert _streamed_verdict(statement, sql_mode, list(range(1, len(statement)))) == expected


@settings(max_examples=300, deadline=None)
@given(values=STATEMENT_TEXT, sql_mode=st.sampled_from(SQL_MODES), size=st.integers(1, 40))
def test_the_streamed_verdict_is_the_whole_statements_for_any_values(values: str, sql_mode: str, size: int) -> None:
    statement = HEAD + values.encode("latin-1", "replace")
    expected = _verdict(lambda: _gate(sql_mode).check(statement, 3))
    assert _streamed_verdict(statement, sql_mode, list(range(size, len(statement), size))) == expected


def test_a_head_writing_elsewhere_is_refused_before_any_value_is_sent() -> None:
    with pytest.raises(DatabaseError, match="writes into database 'victim'"):
        _gate("").streamed(b"INSERT INTO victim.t VALUES (1,'" + b"a" * 100, 3)


class _PlainConnection:
    """A connection without the PyMySQL internals querypackets writes to: the statement goes through query."""

    def __init__(self) -> None:
        self.queries: list[bytes] = []

    def query(self, sql: memoryview) -> None:
        self.queries.append(bytes(sql))


def test_without_pymysql_internals_a_refused_statement_is_never_queried() -> None:
    statement = HEAD + b"(2,'" + b"x" * (5 << 20) + b"'),(3,SETVAL(victim.s,1000))"
    script = SIZE_HINT + str(len(statement)).encode() + b"\n" + statement + b";\n"
    conn = _PlainConnection()
    for sql in StatementSplitter(io.BytesIO(script)):
        assert isinstance(sql, StreamedStatement)
        sql.check = _gate("").streamed(sql.head, 1)
        with pytest.raises(DatabaseError, match=r"refusing statement 1 .*'victim'"):
            querypackets.send_streamed(conn, sql)
    assert conn.queries == []
