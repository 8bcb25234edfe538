"""A data statement longer than the server's ``max_allowed_packet`` is cut between its rows as it is read.

:func:`insertsplit.split_rows` cut a statement held whole; a long one (read from the dump or its spool) is now
cut by :func:`insertsplit.split_read_rows` as its pieces come, holding one INSERT and a read. Both must give the
same INSERTs, or both refuse, whatever the statement, the limit and where the pieces are cut.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from synco_core.engines.mysql.insertsplit import split_read_rows, split_rows


class Refused(Exception):
    pass


def _refused() -> Exception:
    return Refused()


_VALUES = st.sampled_from([b"1", b"NULL", b"'a,b'", b"'it\\'s (x)'", b"\"q\\\"\"", b"0x2a2f", b"'" + b"v" * 40 + b"'",
                           b"_binary'\\0'", b"-1.5e3", b"''", b"'))'"])
_ROWS = st.lists(st.lists(_VALUES, min_size=1, max_size=4), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(head=st.sampled_from([b"INSERT INTO `t` VALUES ", b"INSERT  IGNORE INTO `t` (`a`, `b`) VALUES\n",
                             b"REPLACE INTO t VALUES", b"INSERT INTO `d`.`t` VALUES "]),
       rows=_ROWS, separator=st.sampled_from([b",", b",\n", b" , "]),
       tail=st.sampled_from([b"", b" ", b"\n", b" ON DUPLICATE KEY UPDATE a = 1", b" x"]),
       limit=st.integers(min_value=20, max_value=400), cuts=st.lists(st.integers(0, 600), max_size=8))
def test_cut_as_read_gives_the_inserts_cut_whole_gives(head: bytes, rows: list[list[bytes]], separator: bytes,
                                                       tail: bytes, limit: int, cuts: list[int]) -> None:
    statement = head + separator.join(b"(" + b",".join(row) + b")" for row in rows) + tail
    at = sorted({min(cut, len(statement)) for cut in cuts} | {0, len(statement)})
    pieces = [statement[start:end] for start, end in itertools.pairwise(at)]
    whole = split_rows(statement, limit)
    try:
        read = list(split_read_rows(statement[:64], pieces, limit, _refused))
    except Refused:
        read = None
    assert read == whole
