"""Production's time values on the laptop, whatever settings production's database and role give a session.

Production's database and the role the dump connects as carry ``ALTER DATABASE/ROLE ... SET`` TimeZone,
DateStyle and IntervalStyle (each unlike the other and the laptop's); the laptop's database has its own. Every
value of every time type, infinities, BC dates and years past 9999, ranges and multiranges, defaults and view
texts must be production's; a ``where`` sees the dump's UTC session (docs/configuration.md).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from synco_core.engines.postgresql.dumper import PostgresDumper
from synco_core.engines.postgresql.installer import install
from synco_core.testing.services import drop_postgres_databases, postgres_admin_connection, unique_name
from synco_core.values import DatabaseConfig, DumpOptions, InstallOptions

pytestmark = pytest.mark.postgres

PREFIX = "synco_test_time_fidelity_"

VALUES = """
CREATE TABLE t (id int PRIMARY KEY, tz timestamptz, ts timestamp, d date, tm time(3), ttz timetz, iv interval,
  r tstzrange, mr tsmultirange, dr daterange, arr timestamptz[],
  dflt timestamptz DEFAULT '2024-07-01 12:00+02', dd date DEFAULT '2024-02-03',
  di interval DEFAULT '1 year 2 mons -3 days 04:05:06',
  gen date GENERATED ALWAYS AS ((ts + interval '1 day')::date) STORED);
INSERT INTO t (id, tz, ts, d, tm, ttz, iv, r, mr, dr, arr) VALUES
 (1, '2024-10-27 02:30:00.123456+02', '10000-01-01 00:00:00', '0044-03-15 BC', '23:59:59.999', '12:00:00+05:30',
  '-178000000 years', '[2024-03-31 01:00+00, infinity)', '{[2024-01-01, 2024-02-01), [2025-01-01,)}',
  '[-infinity, 2024-01-01)', '{"2024-01-01 00:00+14", "infinity"}'),
 (2, '-infinity', 'infinity', 'infinity', '24:00:00', '00:00:00-15:59', 'P1Y2M3DT4H5M6.5S', 'empty', '{}', '(,)', '{}'),
 (3, '294276-12-31 23:59:59.999999+00', '4713-11-24 00:00:00 BC', '5874897-12-31', '00:00', '24:00:00+15:59',
  'P-1M3DT-0.5S', NULL, NULL, NULL, NULL);
CREATE VIEW v AS SELECT id, tz::text AS shown, '2024-02-03'::date AS day, '1 day 02:00'::interval AS span FROM t;
"""

#: Read back in fixed styles, so only the values are compared.
FIXED = ("SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, YMD'", "SET IntervalStyle = 'postgres'")


def _admin(*statements: str) -> None:
    conn = postgres_admin_connection()
    try:
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


@pytest.fixture
def role() -> Iterator[str]:
    name = unique_name(PREFIX + "role")
    _admin(f'CREATE ROLE "{name}" LOGIN SUPERUSER', f"ALTER ROLE \"{name}\" SET DateStyle = 'German, DMY'",
           f"ALTER ROLE \"{name}\" SET IntervalStyle = 'sql_standard'",
           f"ALTER ROLE \"{name}\" SET TimeZone = 'America/St_Johns'")
    yield name
    _admin(f'DROP ROLE "{name}"')


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    source, laptop = unique_name(PREFIX + "src"), unique_name(PREFIX + "tgt")
    _admin(f'CREATE DATABASE "{source}"', f"ALTER DATABASE \"{source}\" SET DateStyle = 'SQL, DMY'",
           f"ALTER DATABASE \"{source}\" SET IntervalStyle = 'iso_8601'",
           f"ALTER DATABASE \"{source}\" SET TimeZone = 'Australia/Lord_Howe'",
           f'CREATE DATABASE "{laptop}"', f"ALTER DATABASE \"{laptop}\" SET DateStyle = 'Postgres, MDY'",
           f"ALTER DATABASE \"{laptop}\" SET TimeZone = 'Asia/Kathmandu'",
           f"ALTER DATABASE \"{laptop}\" SET IntervalStyle = 'sql_standard'")
    yield source, laptop
    drop_postgres_databases([source, laptop])


def _read(database: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=database, autocommit=True) as conn:
        for statement in FIXED:
            conn.execute(statement)
        return {"rows": conn.execute("SELECT t::text FROM t ORDER BY id").fetchall(),
                "view": conn.execute("SELECT v::text FROM v ORDER BY id").fetchall(),
                "view text": conn.execute("SELECT pg_get_viewdef('v')").fetchall(),
                "defaults": conn.execute("SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef ORDER BY 1").fetchall()}


def _copy(source: str, role: str, laptop: str, options: DumpOptions) -> None:
    out = io.BytesIO()
    PostgresDumper(DatabaseConfig(engine="postgresql", name=source, user=role, host="127.0.0.1", port=5432),
                   options).dump(out)
    install(DatabaseConfig(engine="postgresql", name=laptop, user="postgres", host="127.0.0.1", port=5432),
            io.BytesIO(out.getvalue()), InstallOptions(yes=True))


def test_time_values_are_productions_whatever_the_database_and_role_settings(
        role: str, databases: tuple[str, str]) -> None:
    source, laptop = databases
    with psycopg.connect(host="127.0.0.1", user=role, dbname=source, autocommit=True) as conn:
        assert conn.execute("SHOW DateStyle").fetchone() == ("German, DMY",)  # the role's, over the database's
        conn.execute(VALUES)
    expected = _read(source)
    _copy(source, role, laptop, DumpOptions())
    assert _read(laptop) == expected


def test_a_where_condition_sees_the_dumps_utc_session(role: str, databases: tuple[str, str]) -> None:
    source, laptop = databases
    with psycopg.connect(host="127.0.0.1", user=role, dbname=source, autocommit=True) as conn:
        conn.execute(VALUES)
    _copy(source, role, laptop, DumpOptions(where={"t": "id = 1 AND current_setting('TimeZone') = 'UTC' "
                                                        "AND current_setting('DateStyle') = 'ISO, YMD'"}))
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=laptop, autocommit=True) as conn:
        assert conn.execute("SELECT id FROM t").fetchall() == [(1,)]
