"""The PostgreSQL loader's scanners read runs of plain text and plain strings in one C match (script.BULK).

Reading every string of a ``pg_dump --inserts`` statement one by one in Python made the loader's own CPU time
six times psql's (docs/performance.md). The bulk must change nothing: the statements split, their masked keywords
and the names the install gate reads are those of the one-by-one reading, whatever the text, wherever the
reads end; drawn at random here from everything that makes a string or a comment special (``E''``, ``U&''``,
``''`` inside, constants joined across lines, comments between them, dollar quotes, parentheses that psql
counts, ``;`` inside them).
"""

from __future__ import annotations

import io
import re
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synco_core.engines.postgresql import reading, script

PIECES = [b"'a'", b"'it''s'", b"''", b"E'x\\'y'", b"e'\\\\'", b"U&'d\\0061t'", b"B'01'", b"x'", b"date'2020-01-01'",
          b"'a'\n'b'", b"'a' \n  'b'", b"'a' -- note\n'b'", b"'a' /* c */\n'b'", b"-- c ; 'x\n", b"/* a /* b */ ; */",
          b"$$ ; ' $$", b"$q$ x $q$", b"$1", b"a$b", b"\"q\"\"n\"", b"(", b")", b"((", b"))", b";", b",", b" ", b"\n",
          b"\t", b"-", b"/", b"-1", b"2/3", b"SELECT", b"INSERT INTO t VALUES", b"lo_export", b"E", b"U&", b"&",
          b"'--'", b"'/*'", b"'\n'", b"'multi\nline'"]


def _one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    empty = re.compile(b"")
    monkeypatch.setattr(script, "BULK", empty)
    monkeypatch.setattr(reading, "BULK", empty)


def _split(data: bytes) -> list[tuple[str, bytes, int]]:
    reader = script.ScriptReader(io.BytesIO(data))
    items = []
    try:
        while (item := reader.next_item()) is not None:
            items.append(item)
    except Exception as exc:  # the same failure either way
        items.append(("error", str(exc).encode(), 0))
    return items


def _readings(statement: bytes) -> tuple[bytes, bytes, bytes]:
    return (script.strip_comments(statement), script.strip_comments(statement, mask=True),
            reading.read(statement, values=False).names)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40), st.sampled_from([1, 3, 7, 64, 1 << 20]))
def test_the_bulk_reads_as_one_by_one(pieces: list[bytes], read_size: int) -> None:
    data = b"".join(pieces) + b";\n"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(script, "READ_SIZE", read_size)
        got = _split(data)
        got_readings = [_readings(text) for kind, text, _ in got if kind == "sql"]
        _one_by_one(patch)
        expected = _split(data)
        expected_readings = [_readings(text) for kind, text, _ in expected if kind == "sql"]
        # With values, the reading is the one-by-one one's: names the same.
        for kind, text, _ in expected:
            if kind == "sql":
                assert reading.read(text).names == reading.read(text, values=False).names
    assert got == expected
    assert got_readings == expected_readings


def test_a_pg_dump_inserts_statement_is_read_in_bulk() -> None:
    """The case the bulk is for: a statement of rows, split and read with no step per string."""
    rows = b",\n\t".join(b"(%d, 'name %d', 'it''s %d', E'tab\\t', NULL)" % (n, n, n) for n in range(2000))
    statement = b"INSERT INTO public.t VALUES\n\t" + rows + b";"
    assert _split(statement + b"\n") == [("sql", statement, 1)]
    names = reading.read(statement, values=False).names
    assert names.count(b"''") == 3 * 2000  # every string, E'' ones read one by one too
    assert b"name" not in names


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "one-by-one"])
@pytest.mark.parametrize("data", [b"SELECT 1\n", b"/--;\n", b"$1\n", b"x -- ;\n", b"x\\\\y /* ; */\n"])
def test_a_last_statement_without_its_end_is_a_truncated_dump(data: bytes, bulk: bool,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Text before a comment with no ";" after it is a statement cut short, whichever scanner took the text
    (the one-by-one reading took such a statement for a comment and dropped it without a word)."""
    if not bulk:
        _one_by_one(monkeypatch)
    assert _split(data) == [("error", b"the dump is truncated: the statement at line 1 has no end", 0)]


@pytest.mark.parametrize("data", [b"-- only a comment\n", b"/* c ; */\n\n", b"\n  \n"])
def test_a_dump_ending_in_comments_ends_cleanly(data: bytes) -> None:
    assert _split(data) == []


@settings(max_examples=500, deadline=None)
@given(body=st.lists(st.sampled_from([b"a", b"'", b"''", b"\\", b"\\\\", b"\\'", b"\n", b"$", b"x y"]), max_size=12),
       eof=st.booleans())
def test_an_escape_strings_end_is_found_in_one_call_as_escape_by_escape(body: list[bytes], eof: bool) -> None:
    """An E'' string's end is found by one possessive match (a 50 MB one with a backslash every few bytes took
    19 CPU seconds escape by escape): where it ends, or that more input is needed, as the loop over its escapes
    finds it, wherever the buffer ends."""
    buf = b"E'" + b"".join(body)
    fast = script._string_end(buf, 1, eof, True)
    with mock.patch.object(script, "_POSSESSIVE", False):
        assert fast == script._string_end(buf, 1, eof, True)
