"""Fuzzing what the loaders read from a dump's own header comments, before any statement reaches the gate:
MySQL's ``-- synco-database-defaults:`` and ``-- synco-manifest:`` lines, PostgreSQL's ``-- Database locale:``
and ``-- Database settings:`` lines. The dump is the server's to write; each line is JSON it chose."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fuzzing import FUZZ, hostile_json_text, json_values, nested, only_synco_errors
from hypothesis import given
from hypothesis import strategies as st

from synco_core.engines.postgresql.sourcedatabase import PREFIX, SETTINGS_PREFIX, split_header
from synco_core.errors import DatabaseError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

header_values = st.one_of(hostile_json_text, json_values.map(json.dumps))


@FUZZ
@given(locale=header_values, settings=header_values)
def test_any_postgres_header_is_read_or_left_aside(locale, settings):
    """A locale or settings line that is not what synco writes is ignored (the load goes on without it)."""
    head = PREFIX + locale.encode("utf-8", "surrogatepass") + b"\n" + SETTINGS_PREFIX
    head += settings.encode("utf-8", "surrogatepass") + b"\n\nSELECT 1;\n"
    only_synco_errors(lambda: split_header(io.BytesIO(head)))


@pytest.mark.parametrize("value", [nested(3000), nested(3000, "{"), "1" * 5000])
def test_a_postgres_header_nested_too_deep_or_with_too_long_a_number_is_left_aside(value):
    """json.loads raised RecursionError for these, which ``except ValueError`` did not catch."""
    for prefix in (PREFIX, SETTINGS_PREFIX):
        header, _head = split_header(io.BytesIO(prefix + value.encode() + b"\n\nSELECT 1;\n"))
        assert header.locale is None and header.settings == ()


MYSQL_LINES = [b"-- synco-database-defaults: ", b"-- synco-manifest: "]


@pytest.mark.mysql
@pytest.mark.parametrize("prefix", MYSQL_LINES, ids=["defaults", "manifest"])
@pytest.mark.parametrize(
    "value",
    [
        b"{",
        b"[]",
        b"{}",
        b'{"charset": 1}',
        b'{"table": "t", "rows": "many"}',
        b'{"table": "t", "rows": 1.5e999}',
        nested(3000).encode(),
        b'{"table": "t", "rows": ' + b"1" * 5000 + b"}",
    ],
)
def test_a_mysql_header_line_the_loader_cannot_read_fails_in_one_line(
    prefix: bytes, value: bytes, mysql_database_factory: Callable[[], str]
) -> None:
    """The loader read these lines with json.loads and indexed what came out: KeyError, TypeError,
    JSONDecodeError, RecursionError or OverflowError ended the install with a Python exception's name."""
    from test_mysql_support import config

    from synco_core.engines.mysql.connect import connect
    from synco_core.engines.mysql.load import Loader

    database = mysql_database_factory()
    conn = connect(config(database))
    try:
        loader = Loader(conn, database=database)
        with pytest.raises(DatabaseError, match="the dump is damaged") as refused:
            loader.run(io.BytesIO(prefix + value + b"\nCREATE TABLE t (a INT);\n"))
        assert "\n" not in str(refused.value)
    finally:
        conn.close()


@pytest.mark.mysql
@pytest.mark.parametrize("size", [10**15, 2**64, 10**40])
def test_a_size_hint_no_memory_can_hold_fails_in_one_line(size: int, mysql_database_factory: Callable[[], str]) -> None:
    """A statement a size hint announces is read into a buffer of the announced size, made before a byte of
    it arrives: a hint of a petabyte raised MemoryError, one past 2^63 OverflowError."""
    from test_mysql_support import config

    from synco_core.engines.mysql.connect import connect
    from synco_core.engines.mysql.load import Loader

    database = mysql_database_factory()
    conn = connect(config(database))
    try:
        loader = Loader(conn, database=database)
        # More than the head a streamed statement reads before it is used, so that its user asks for it whole.
        dump = b"-- synco-size: %d\nSELECT '%s';\n" % (size, b"x" * 100_000)
        with pytest.raises(DatabaseError, match=r"the dump (is damaged|ends inside)") as refused:
            loader.run(io.BytesIO(dump))
        assert "\n" not in str(refused.value)
    finally:
        conn.close()
