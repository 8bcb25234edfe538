"""Property test: random rows of random column types survive dump -> install exactly (real MariaDB)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_mysql_support import dump_bytes, install_bytes, query

from synco_core.testing.services import mysql_admin_connection
from synco_core.values import ValueRewriter

pytestmark = pytest.mark.mysql

@dataclass(frozen=True)
class Kind:
    """A column type, the values to draw for it, and how to pass one as a parameter."""

    sql: str
    values: st.SearchStrategy[Any]
    placeholder: str = "%s"


_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)
_ZERO_DATETIME = "0000-00-00 00:00:00"


def _integer(sql: str, bits: int, unsigned: bool) -> Kind:
    low, high = (0, 2**bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return Kind(sql + (" UNSIGNED" if unsigned else ""), st.integers(low, high) | st.sampled_from([low, high]))


def _bit(width: int) -> Kind:
    return Kind(f"BIT({width})", st.integers(0, 2**width - 1).map(lambda v: v.to_bytes((width + 7) // 8, "big")))


# FLOAT/DOUBLE draw -0.0 too: MariaDB stores it as 0 whatever the path (literal, parameter, arithmetic),
# so it round-trips as the 0 the server holds (docs/engines.md).
KINDS = [
    *(_integer(sql, bits, unsigned) for sql, bits in (("TINYINT", 8), ("SMALLINT", 16), ("MEDIUMINT", 24),
                                                      ("INT", 32), ("BIGINT", 64)) for unsigned in (False, True)),
    Kind("DECIMAL(65,30)", st.decimals(min_value=-(10**35) + 1, max_value=10**35 - 1, places=30, allow_nan=False)),
    Kind("DECIMAL(5,2)", st.decimals(min_value="-999.99", max_value="999.99", places=2, allow_nan=False)),
    Kind("FLOAT", st.floats(width=32, allow_nan=False, allow_infinity=False)),
    Kind("DOUBLE", st.floats(allow_nan=False, allow_infinity=False)),
    *(_bit(width) for width in (1, 7, 13, 64)),
    Kind("CHAR(10)", st.text(max_size=10)),
    Kind("BINARY(8)", st.binary(max_size=8)),
    Kind("VARCHAR(40)", st.text(max_size=40)),
    Kind("LONGTEXT", st.text(max_size=200)),
    # MariaDB's latin1 is cp1252: only characters it can store.
    Kind("VARCHAR(40) CHARACTER SET latin1", st.text(st.characters(codec="cp1252"), max_size=40)),
    Kind("TEXT CHARACTER SET latin1", st.text(st.characters(codec="cp1252"), max_size=100)),
    Kind("VARBINARY(60)", st.binary(max_size=60)),
    Kind("LONGBLOB", st.binary(max_size=300)),
    Kind("DATETIME(6)", st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 31))
         | st.just(_ZERO_DATETIME)),
    Kind("DATETIME", st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 31),
                                  ).map(lambda v: v.replace(microsecond=0))),
    # The session runs in UTC, so every value in the TIMESTAMP range is stored as given.
    Kind("TIMESTAMP(6) NULL DEFAULT NULL",
         st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2038, 1, 18)) | st.just(_ZERO_DATETIME)),
    Kind("TIME(6)", st.timedeltas(min_value=-dt.timedelta(hours=838, minutes=59, seconds=59),
                                  max_value=dt.timedelta(hours=838, minutes=59, seconds=59))),
    Kind("DATE", st.dates(min_value=dt.date(1000, 1, 1)) | st.just("0000-00-00")),
    Kind("YEAR", st.integers(1901, 2155) | st.just(0)),
    Kind("JSON", _json.map(json.dumps)),
    Kind("ENUM('a','b','c')", st.sampled_from(["a", "b", "c"])),
    Kind("SET('x','y','z')", st.sets(st.sampled_from(["x", "y", "z"])).map(lambda s: ",".join(sorted(s)))),
    Kind("POINT", st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)).map(lambda p: f"POINT({p[0]!r} {p[1]!r})"),
         "ST_GeomFromText(%s)"),
]


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[Kind], bool, list[tuple[Any, ...]]]:
    """Random columns (a keyed table is read in pages, a keyless one streamed) and random rows for them."""
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=6))
    keyed = draw(st.booleans())
    rows = draw(st.lists(st.tuples(*[st.none() | kind.values for kind in kinds]), max_size=6))
    return kinds, keyed, rows


Table = tuple[list[Kind], bool, list[tuple[Any, ...]]]
#: Tables drawn per example. Each example's fixed cost (the dump's reads of the schema, the install's scratch
#: database loaded and swapped in) dwarfs a table's: several tables, each its own case, go through one round
#: trip, which takes each of them through the same code as a round trip of its own.
PER_EXAMPLE = 4


@pytest.fixture
def databases(mysql_database_factory: Callable[[], str]) -> tuple[str, str]:
    return mysql_database_factory(), mysql_database_factory()


def _drop_tables(cur: Any) -> None:
    cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
    names = [f"`{name}`" for (name,) in cur.fetchall()]
    if names:
        cur.execute(f"DROP TABLE {', '.join(names)}")


def _rows(database: str, select: str) -> list[tuple[Any, ...]]:
    return sorted(query(database, select), key=repr)


#: 40 tables drawn, PER_EXAMPLE to an example (the first example is hypothesis's simplest draw).
@settings(max_examples=40 // PER_EXAMPLE + 1, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(drawn=st.lists(tables(), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
def test_random_rows_round_trip_exactly(databases: tuple[str, str], drawn: list[Table]) -> None:
    source, target = databases
    conn = mysql_admin_connection(source)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION time_zone='+00:00', SESSION sql_mode='STRICT_ALL_TABLES'")
            _drop_tables(cur)
            for number, (kinds, keyed, rows) in enumerate(drawn):
                names = [f"c{index}" for index in range(len(kinds))]
                columns = ", ".join(f"{name} {kind.sql}" for name, kind in zip(names, kinds, strict=True))
                cur.execute(f"CREATE TABLE r{number} ({'id INT AUTO_INCREMENT PRIMARY KEY, ' if keyed else ''}"
                            f"{columns}) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
                placeholders = ",".join(kind.placeholder for kind in kinds)
                if rows:
                    cur.executemany(f"INSERT INTO r{number} ({','.join(names)}) VALUES ({placeholders})", rows)
    finally:
        conn.close()
    data, result = dump_bytes(source)
    for number, (kinds, _, rows) in enumerate(drawn):
        assert result.tables[f"r{number}"].rows == len(rows), f"r{number}: {kinds}"
    install_bytes(target, data, manifest=result.tables)
    for number, (kinds, keyed, _) in enumerate(drawn):
        table, case = f"r{number}", f"r{number} (keyed: {keyed}): {[kind.sql for kind in kinds]}"
        assert _rows(target, f"SELECT * FROM {table}") == _rows(source, f"SELECT * FROM {table}"), case
        checksum = f"CHECKSUM TABLE {table} EXTENDED"
        assert query(target, checksum)[0][1] == query(source, checksum)[0][1], case
        # FLOAT read back as DOUBLE: the exact stored value, not the 6 digits the server prints by default.
        floats = [f"CAST(c{index} AS DOUBLE)" for index, kind in enumerate(kinds) if kind.sql == "FLOAT"]
        if floats:
            exact = f"SELECT {', '.join(floats)} FROM {table}"
            assert _rows(target, exact) == _rows(source, exact), case


def test_decimal_strategy_is_exact() -> None:
    # Guards the strategy above: DECIMAL(65,30) takes 35 integer digits.
    assert decimal.Decimal(10**35 - 1).adjusted() == 34


#: Members to build ENUMs and SETs from: ones a case-, accent- or space-insensitive collation holds equal
#: (``'a'``/``'A'``/``'á'``, ``'ss'``/``'ß'``), empty ones and ones of spaces (the server strips trailing
#: spaces), quotes, backslashes and control characters that COLUMN_TYPE escapes.
_MEMBERS = st.sampled_from(["a", "A", "á", "a ", " ", "", "b", "ss", "ß", "e", "É", "x'y", "x\\y", "n\x00l",
                            "t\tb", "1", "0", "ǆ", "Dž", "\u00ad"])
_MEMBER_COLLATIONS = st.sampled_from(["utf8mb4_unicode_ci", "utf8mb4_general_ci", "utf8mb4_bin", "latin1_swedish_ci",
                                      "latin1_bin", "utf8mb3_general_ci"])


def _members_sql(members: list[str]) -> str:
    return ",".join("'" + member.replace("\\", "\\\\").replace("'", "''").replace("\x00", "\\0") + "'"
                    for member in members)


@st.composite
def member_tables(draw: st.DrawFn) -> tuple[list[str], list[tuple[int | None, ...]]]:
    """ENUM and SET columns made under a permissive sql_mode (which lets members repeat, with a note),
    and rows of their values by number: every index of the ENUM (0 is the invalid value), every bit set."""
    columns, values = [], []
    for number in range(draw(st.integers(1, 3))):
        members = draw(st.lists(_MEMBERS, min_size=1, max_size=5))
        collation = draw(_MEMBER_COLLATIONS)
        charset = collation.split("_")[0]
        if charset == "latin1":
            members = [member for member in members if member.encode("cp1252", "ignore").decode("cp1252") == member]
            members = members or ["a"]
        kind = draw(st.sampled_from(["ENUM", "SET"]))
        columns.append(f"c{number} {kind}({_members_sql(members)}) CHARACTER SET {charset} COLLATE {collation}")
        values.append(st.integers(0, len(members)) if kind == "ENUM" else st.integers(0, 2 ** len(members) - 1))
    rows = draw(st.lists(st.tuples(*[st.none() | value for value in values]), min_size=1, max_size=5))
    return columns, rows


MemberTable = tuple[list[str], list[tuple[int | None, ...]]]


#: 30 tables drawn, PER_EXAMPLE to an example, and the tables of the bugs found before, in one example.
@settings(max_examples=30 // PER_EXAMPLE + 1, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(drawn=st.lists(member_tables(), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
@example(drawn=[
    (["c0 ENUM('','') CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"], [(2,)]),
    (["c0 ENUM('a','A') CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"], [(2,)]),
    (["c0 ENUM('é','e','ss','ß') CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"], [(2,), (4,), (0,)]),
    (["c0 SET('a','A','b') CHARACTER SET latin1 COLLATE latin1_swedish_ci"], [(2,), (7,)]),
    (["c0 ENUM('a','a ','b') CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"], [(2,), (0,), (None,)]),
])
def test_enum_and_set_values_keep_their_numbers(databases: tuple[str, str], drawn: list[MemberTable]) -> None:
    """Each ENUM and SET value loads as the same member numbers, whatever members the column's collation
    holds equal: its text alone would load as the first of them."""
    source, target = databases
    numbers = []
    conn = mysql_admin_connection(source)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_mode=''")
            _drop_tables(cur)
            for number, (columns, rows) in enumerate(drawn):
                names = [column.split(" ", 1)[0] for column in columns]
                cur.execute(f"CREATE TABLE m{number} (id INT AUTO_INCREMENT PRIMARY KEY, {', '.join(columns)})")
                cur.executemany(f"INSERT INTO m{number} ({','.join(names)}) "
                                f"VALUES ({','.join(['%s'] * len(names))})", rows)
                numbers.append(f"SELECT id, {', '.join(f'{name}+0, HEX({name})' for name in names)} "
                               f"FROM m{number} ORDER BY id")
    finally:
        conn.close()
    expected = [query(source, select) for select in numbers]
    data, result = dump_bytes(source)
    install_bytes(target, data, manifest=result.tables)
    for (columns, _), select, before in zip(drawn, numbers, expected, strict=True):
        assert query(target, select) == before, columns


_NEEDLE, _REPLACEMENT = b"https://prod.example", b"http://local.test:8080"
REWRITER = ValueRewriter(needles=(_NEEDLE,), rewrite=lambda value: value.replace(_NEEDLE, _REPLACEMENT))


#: 30 tables drawn, PER_EXAMPLE to an example.
@settings(max_examples=30 // PER_EXAMPLE + 1, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(drawn=st.lists(st.tuples(tables(), st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6)),
                                                   min_size=6, max_size=6)),
                      min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
def test_rows_a_rewriter_changes_keep_their_other_values(
        databases: tuple[str, str], drawn: list[tuple[Table, list[tuple[str, str]]]]) -> None:
    """A row holding a needle is taken apart, rewritten and put together again: its every other value,
    of any type, comes back exactly, and the needle is replaced wherever it is in its value."""
    source, target = databases
    conn = mysql_admin_connection(source)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION time_zone='+00:00', SESSION sql_mode='STRICT_ALL_TABLES'")
            _drop_tables(cur)
            for number, ((kinds, keyed, rows), around) in enumerate(drawn):
                names = [f"c{index}" for index in range(len(kinds))]
                columns = ", ".join(f"{name} {kind.sql}" for name, kind in zip(names, kinds, strict=True))
                needles = [f"{before}{_NEEDLE.decode()}{after}" for before, after in around[:len(rows)]]
                cur.execute(f"CREATE TABLE r{number} ({'id INT AUTO_INCREMENT PRIMARY KEY, ' if keyed else ''}"
                            f"{columns}, url TEXT) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
                placeholders = ",".join(kind.placeholder for kind in kinds)
                if rows:
                    cur.executemany(f"INSERT INTO r{number} ({','.join(names)}, url) VALUES ({placeholders}, %s)",
                                    [(*row, url) for row, url in zip(rows, needles, strict=True)])
    finally:
        conn.close()
    data, result = dump_bytes(source)
    install_bytes(target, data, manifest=result.tables, rewriter=REWRITER)
    for number, ((kinds, keyed, _), _) in enumerate(drawn):
        # FLOAT read back as DOUBLE: its exact stored value.
        values = [f"CAST(c{index} AS DOUBLE)" if kind.sql == "FLOAT" else f"c{index}"
                  for index, kind in enumerate(kinds)]
        others = f"SELECT {', '.join(values)}, url FROM r{number}"
        expected = [(*row[:-1], row[-1].replace(_NEEDLE.decode(), _REPLACEMENT.decode()))
                    for row in query(source, others)]
        assert sorted(query(target, others), key=repr) == sorted(expected, key=repr), \
            f"r{number} (keyed: {keyed}): {[kind.sql for kind in kinds]}"


def test_enum_and_set_members_of_binary_columns_keep_their_numbers(databases: tuple[str, str]) -> None:
    """ENUM and SET columns of a ``DEFAULT CHARSET=binary`` table, whose members' weights the dump asked for
    with ``CONVERT(... USING binary) COLLATE binary``: a syntax error (``binary`` is a keyword there) that
    failed the whole dump (found by tests/fuzz/test_fuzz_mysql_schema.py)."""
    source, target = databases
    conn = mysql_admin_connection(source)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_mode=''")
            cur.execute("CREATE TABLE m (id INT PRIMARY KEY, e ENUM('a','A','b ','b'), s SET('x','X','')) "
                        "DEFAULT CHARSET=binary")
            cur.execute("INSERT INTO m VALUES (1, 2, 2), (2, 4, 7), (3, 0, 1), (4, 3, NULL)")
    finally:
        conn.close()
    numbers = "SELECT id, e+0, s+0, HEX(e), HEX(s) FROM m ORDER BY id"
    data, result = dump_bytes(source)
    install_bytes(target, data, manifest=result.tables)
    assert query(target, numbers) == query(source, numbers)
