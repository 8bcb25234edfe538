"""Property test: random rows of random column types survive dump -> install exactly (real MariaDB)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_mysql_support import dump_bytes, install_bytes, query

from synco_core.testing.services import mysql_admin_connection

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


@pytest.fixture
def databases(mysql_database_factory: Callable[[], str]) -> tuple[str, str]:
    return mysql_database_factory(), mysql_database_factory()


def _rows(database: str, select: str) -> list[tuple[Any, ...]]:
    return sorted(query(database, select), key=repr)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(table=tables())
def test_random_rows_round_trip_exactly(databases: tuple[str, str],
                                        table: tuple[list[Kind], bool, list[tuple[Any, ...]]]) -> None:
    source, target = databases
    kinds, keyed, rows = table
    names = [f"c{index}" for index in range(len(kinds))]
    columns = ", ".join(f"{name} {kind.sql}" for name, kind in zip(names, kinds, strict=True))
    conn = mysql_admin_connection(source)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION time_zone='+00:00', SESSION sql_mode='STRICT_ALL_TABLES'")
            cur.execute("DROP TABLE IF EXISTS r")
            cur.execute(f"CREATE TABLE r ({'id INT AUTO_INCREMENT PRIMARY KEY, ' if keyed else ''}{columns}) "
                        "DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
            placeholders = ",".join(kind.placeholder for kind in kinds)
            if rows:
                cur.executemany(f"INSERT INTO r ({','.join(names)}) VALUES ({placeholders})", rows)
    finally:
        conn.close()
    data, result = dump_bytes(source)
    assert result.tables["r"].rows == len(rows)
    install_bytes(target, data, manifest=result.tables)
    assert _rows(target, "SELECT * FROM r") == _rows(source, "SELECT * FROM r")
    assert query(target, "CHECKSUM TABLE r EXTENDED")[0][1] == query(source, "CHECKSUM TABLE r EXTENDED")[0][1]
    # FLOAT read back as DOUBLE: the exact stored value, not the 6 digits the server prints by default.
    floats = [f"CAST({name} AS DOUBLE)" for name, kind in zip(names, kinds, strict=True) if kind.sql == "FLOAT"]
    if floats:
        exact = f"SELECT {', '.join(floats)} FROM r"
        assert _rows(target, exact) == _rows(source, exact)


def test_decimal_strategy_is_exact() -> None:
    # Guards the strategy above: DECIMAL(65,30) takes 35 integer digits.
    assert decimal.Decimal(10**35 - 1).adjusted() == 34
