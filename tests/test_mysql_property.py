"""Property test: random rows of random column types survive dump -> install exactly (real MariaDB)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_mysql_support import dump_bytes, install_bytes, load_with_client, query

from synco_core.testing import mysql_admin_connection

pytestmark = pytest.mark.mysql

TABLE = b"""
CREATE TABLE r (
  id INT AUTO_INCREMENT PRIMARY KEY,
  bu BIGINT UNSIGNED, bs BIGINT, d DECIMAL(65,30), f FLOAT, db DOUBLE, bt BIT(64),
  vc VARCHAR(40), lt LONGTEXT, lat VARCHAR(40) CHARACTER SET latin1, vb VARBINARY(60), lb LONGBLOB,
  dtm DATETIME(6), tm TIME(6), dte DATE, yr YEAR, js JSON, e ENUM('a','b','c'), s SET('x','y','z')
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
"""
COLUMNS = ["bu", "bs", "d", "f", "db", "bt", "vc", "lt", "lat", "vb", "lb", "dtm", "tm", "dte", "yr", "js", "e", "s"]

_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)


def nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def _float32(value: float) -> bool:
    return value != 0.0 or str(value) == "0.0"  # -0.0 has no SQL literal (see the engine notes)


ROW = st.tuples(
    nullable(st.integers(0, 2**64 - 1)),
    nullable(st.integers(-(2**63), 2**63 - 1)),
    nullable(st.decimals(min_value=-(10**35) + 1, max_value=10**35 - 1, places=30, allow_nan=False)),
    nullable(st.floats(width=32, allow_nan=False, allow_infinity=False).filter(_float32)),
    nullable(st.floats(allow_nan=False, allow_infinity=False).filter(_float32)),
    nullable(st.integers(0, 2**64 - 1)),
    nullable(st.text(max_size=40)),
    nullable(st.text(max_size=200)),
    # MariaDB's latin1 is cp1252: only characters it can store.
    nullable(st.text(st.characters(codec="cp1252"), max_size=40)),
    nullable(st.binary(max_size=60)),
    nullable(st.binary(max_size=300)),
    nullable(st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 31))),
    nullable(st.timedeltas(min_value=-dt.timedelta(hours=838, minutes=59, seconds=59),
                           max_value=dt.timedelta(hours=838, minutes=59, seconds=59))),
    nullable(st.dates(min_value=dt.date(1000, 1, 1))),
    nullable(st.integers(1901, 2155)),
    nullable(_json.map(json.dumps)),
    nullable(st.sampled_from(["a", "b", "c"])),
    nullable(st.sets(st.sampled_from(["x", "y", "z"])).map(lambda s: ",".join(sorted(s)))),
)


def _bits(value: Any) -> Any:
    return value if value is None else value.to_bytes(8, "big")


@pytest.fixture
def databases(mysql_database_factory: Callable[[], str]) -> tuple[str, str]:
    source = mysql_database_factory()
    load_with_client(source, TABLE)
    return source, mysql_database_factory()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(rows=st.lists(ROW, max_size=6))
def test_random_rows_round_trip_exactly(databases: tuple[str, str], rows: list[tuple[Any, ...]]) -> None:
    source, target = databases
    conn = mysql_admin_connection(source)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION time_zone='+00:00', SESSION sql_mode='STRICT_ALL_TABLES'")
            cur.execute("TRUNCATE r")
            placeholders = ",".join(["%s"] * len(COLUMNS))
            cur.executemany(f"INSERT INTO r ({','.join(COLUMNS)}) VALUES ({placeholders})",
                            [(*row[:5], _bits(row[5]), *row[6:]) for row in rows])
    finally:
        conn.close()
    data, result = dump_bytes(source)
    assert result.tables["r"].rows == len(rows)
    install_bytes(target, data, manifest=result.tables)
    select = "SELECT * FROM r ORDER BY id"
    assert query(target, select) == query(source, select)
    assert query(target, "CHECKSUM TABLE r EXTENDED")[0][1] == query(source, "CHECKSUM TABLE r EXTENDED")[0][1]
    # FLOAT read back as DOUBLE: the exact stored value, not the 6 digits the server prints by default.
    exact = "SELECT CAST(f AS DOUBLE), d FROM r ORDER BY id"
    assert query(target, exact) == query(source, exact)


def test_decimal_strategy_is_exact() -> None:
    # Guards the strategy above: DECIMAL(65,30) takes 35 integer digits.
    assert decimal.Decimal(10**35 - 1).adjusted() == 34
