"""Production's instants on the laptop, whatever time zone each server runs in.

Production is a private MariaDB whose process runs with ``TZ=Europe/Berlin`` (its ``SYSTEM`` zone, as a
server installed on a European host has); the laptop is the shared server, in another zone (UTC here).
TIMESTAMP values, their defaults and the moments of an event's schedule are instants: they must name the
same instants on the laptop. DATETIME, DATE, TIME and YEAR are text: the same text.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from private_servers import mariadb, mariadb_admin

from synco_core.engines.mysql.dump import dump
from synco_core.engines.mysql.install import install
from synco_core.errors import DatabaseError
from synco_core.testing.services import mysql_admin_connection, require_tool, unique_name
from synco_core.values import DatabaseConfig, DumpOptions, InstallOptions, SanitizeRule

pytestmark = pytest.mark.mysql

PREFIX = "synco_test_time_fidelity_"


@pytest.fixture(scope="module")
def berlin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseConfig]:
    """A production server whose SYSTEM time zone is Europe/Berlin (CET/CEST, with DST)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "Europe/Berlin")
        server = mariadb(tmp_path_factory.mktemp("berlin"))
        config = server.__enter__()
    try:
        assert mariadb_admin(config, "SELECT @@system_time_zone")[0][0] in ("CET", "CEST")
        yield config
    finally:
        server.__exit__(None, None, None)


@pytest.fixture
def source(berlin: DatabaseConfig) -> Iterator[DatabaseConfig]:
    name = unique_name(PREFIX + "src")
    mariadb_admin(berlin, f"CREATE DATABASE `{name}`")
    yield dataclasses.replace(berlin, name=name)
    mariadb_admin(berlin, f"DROP DATABASE `{name}`")


@pytest.fixture
def target() -> Iterator[DatabaseConfig]:
    """A database name on the shared server, dropped with everything the install kept beside it."""
    name = unique_name(PREFIX + "tgt")
    yield DatabaseConfig(engine="mysql", name=name, user="root", host="127.0.0.1", port=3306)
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(f"SHOW DATABASES LIKE '{name}%'")
            for (database,) in cur.fetchall():
                cur.execute(f"DROP DATABASE `{database}`")
    finally:
        conn.close()


def _copy(source: DatabaseConfig, target: DatabaseConfig, options: DumpOptions) -> None:
    out = io.BytesIO()
    dump(source, out, options)
    install(target, io.BytesIO(out.getvalue()), InstallOptions(yes=True))


def _shared(sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
            cur.execute(sql, args)
            return list(cur.fetchall())
    finally:
        conn.close()


#: The instants each event's schedule names (seconds since 1970, UTC), read from information_schema in a
#: session of the event's own zone, so only the instants are compared, not the text.
_SCHEDULE = ("SELECT EVENT_NAME, TIME_ZONE, UNIX_TIMESTAMP(STARTS), UNIX_TIMESTAMP(ENDS), UNIX_TIMESTAMP(EXECUTE_AT) "
             "FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s AND EVENT_NAME = %s")


def _schedule(read: Any, database: str, names: list[str]) -> list[tuple[Any, ...]]:
    rows = []
    for name in names:
        rows += read(database, name)
    return rows


def test_an_event_in_the_servers_system_zone_keeps_its_instants(source: DatabaseConfig,
                                                                target: DatabaseConfig) -> None:
    """An event created in the SYSTEM zone fires at production's instants on a laptop in another zone.
    SHOW CREATE EVENT writes STARTS/ENDS/AT as Berlin wall-clock text and the dump created the event again
    under SYSTEM, which on a UTC laptop read that text two hours later (one in winter): the copy's event
    started at 12:00 UTC instead of 10:00 UTC."""
    mariadb_admin(source, f"USE `{source.name}`", "SET time_zone = SYSTEM",
                  "CREATE EVENT daily ON SCHEDULE EVERY 1 DAY STARTS '2030-06-01 12:00:00' "
                  "ENDS '2031-01-01 00:00:00' DO SET @a = 1",
                  "CREATE EVENT once ON SCHEDULE AT '2030-12-24 18:30:00' DO SET @a = 1",
                  "SET time_zone = '+05:30'",
                  "CREATE EVENT fixed_offset ON SCHEDULE AT '2030-06-01 12:00:00' DO SET @a = 1")
    names = ["daily", "once", "fixed_offset"]

    def production(database: str, name: str) -> list[tuple[Any, ...]]:
        zone = mariadb_admin(source, "SELECT TIME_ZONE FROM information_schema.EVENTS "
                                     f"WHERE EVENT_SCHEMA = '{database}' AND EVENT_NAME = '{name}'")[0][0]
        return mariadb_admin(source, f"SET time_zone = {'SYSTEM' if zone == 'SYSTEM' else repr(zone)}",
                             _SCHEDULE.replace("%s", f"'{database}'", 1).replace("%s", f"'{name}'", 1))

    def laptop(database: str, name: str) -> list[tuple[Any, ...]]:
        zone = _shared("SELECT TIME_ZONE FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s AND EVENT_NAME = %s",
                       database, name)[0][0]
        conn = mysql_admin_connection()
        try:
            with conn.cursor() as cur:
                cur.execute(f"SET time_zone = {'SYSTEM' if zone == 'SYSTEM' else repr(zone)}")
                cur.execute(_SCHEDULE, (database, name))
                return list(cur.fetchall())
        finally:
            conn.close()

    expected = _schedule(production, source.name, names)
    assert expected == [("daily", "SYSTEM", 1906538400, 1924988400, None),
                        ("once", "SYSTEM", None, None, 1924363800),
                        ("fixed_offset", "+05:30", None, None, 1906525800)]
    _copy(source, target, DumpOptions(events=True))
    assert _schedule(laptop, target.name, names) == expected


def test_timestamps_and_their_defaults_keep_their_instants_and_datetimes_their_text(
        source: DatabaseConfig, target: DatabaseConfig) -> None:
    """TIMESTAMPs written in Berlin (one in the autumn fold, one just before the spring gap), their literal
    default, and DATETIME/TIME/YEAR/DATE text beyond what a time zone could touch, on a UTC laptop."""
    mariadb_admin(source, f"USE `{source.name}`", "SET time_zone = SYSTEM, sql_mode = ''",
                  "CREATE TABLE t (id INT PRIMARY KEY, ts TIMESTAMP(6) NULL, dt DATETIME(6), tm TIME(6), y YEAR, "
                  "d DATE, fixed TIMESTAMP NULL DEFAULT '2024-07-01 12:00:00')",
                  "INSERT INTO t (id, ts, dt, tm, y, d) VALUES "
                  "(1, '2024-10-27 02:30:00.123456', '2024-10-27 02:30:00.5', '-838:59:59.000000', 1901, '0000-00-00'),"
                  "(2, '2024-03-31 01:59:59.999999', '9999-12-31 23:59:59.999999', '838:59:59', 2155, '2020-02-00')")
    rows = "SELECT * FROM t ORDER BY id"
    default = "SELECT COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND COLUMN_NAME = 'fixed'"
    expected = mariadb_admin(source, f"USE `{source.name}`", "SET time_zone = '+00:00'", rows)
    assert mariadb_admin(source, "SET time_zone = '+00:00'",
                         default.replace("%s", f"'{source.name}'")) == [("'2024-07-01 10:00:00'",)]
    _copy(source, target, DumpOptions())
    assert _shared(f"SELECT * FROM `{target.name}`.t ORDER BY id") == expected
    assert _shared(default, target.name) == [("'2024-07-01 10:00:00'",)]



def test_stored_generated_values_computed_in_production_zone_are_named(
        source: DatabaseConfig, target: DatabaseConfig, caplog: pytest.LogCaptureFixture) -> None:
    """``DATE(ts)`` and ``HOUR(ts)`` of a TIMESTAMP, stored: production computed them in Berlin, where the
    application wrote the rows; no statement can set a generated column, so the load computes them again in
    its UTC session and the copy held other dates and hours with nothing said. The dump now names the
    columns whose stored values its own UTC session gives otherwise (not the one that holds the instant)."""
    mariadb_admin(source, f"USE `{source.name}`", "SET time_zone = SYSTEM",
                  "CREATE TABLE g (id INT PRIMARY KEY, ts TIMESTAMP NULL, day DATE AS (DATE(ts)) STORED, "
                  "hour INT AS (HOUR(ts)) PERSISTENT, epoch BIGINT AS (UNIX_TIMESTAMP(ts)) STORED, "
                  "shown VARCHAR(30) AS (ts) VIRTUAL)",
                  "INSERT INTO g (id, ts) VALUES (1, '2024-07-01 00:30:00'), (2, '2024-01-01 12:00:00')",
                  "CREATE TABLE plain (id INT PRIMARY KEY, n INT, twice INT AS (n * 2) STORED)",
                  "INSERT INTO plain (id, n) VALUES (1, 21)")
    with caplog.at_level("WARNING"):
        _copy(source, target, DumpOptions())
    named = [r.getMessage() for r in caplog.records if "stored generated" in r.getMessage()]
    assert len(named) == 1 and named[0].startswith("table g: the stored generated columns day, hour hold values")
    # What the copy holds: the load's computation, as the warning says.
    assert _shared(f"SELECT id, day, hour FROM `{target.name}`.g ORDER BY id") == [
        (1, datetime.date(2024, 6, 30), 22), (2, datetime.date(2024, 1, 1), 11)]


def test_where_and_rules_are_read_in_utc_whatever_zone_production_runs_in(
        source: DatabaseConfig, target: DatabaseConfig) -> None:
    """docs/configuration.md: a where condition and a sanitising expression see the dump's UTC session, not
    production's SYSTEM zone (Berlin), so NOW() in them is UTC's."""
    mariadb_admin(source, f"USE `{source.name}`",
                  "CREATE TABLE t (id INT PRIMARY KEY, zone VARCHAR(10))", "INSERT INTO t VALUES (1, 'x'), (2, 'y')")
    assert mariadb_admin(source, "SELECT @@time_zone") == [("SYSTEM",)]
    options = DumpOptions(where={"t": "id = 1 AND @@session.time_zone = '+00:00'"},
                          sanitize=(SanitizeRule("t", "zone", expression="@@session.time_zone"),))
    _copy(source, target, options)
    assert _shared(f"SELECT id, zone FROM `{target.name}`.t") == [(1, "+00:00")]


@pytest.fixture(scope="module")
def bare_laptop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseConfig]:
    """A laptop's MariaDB as a distribution installs it: its time zone tables empty."""
    with mariadb(tmp_path_factory.mktemp("bare")) as server:
        yield server


def test_an_event_in_a_zone_the_laptop_does_not_know_is_named_with_the_remedy(
        berlin: DatabaseConfig, source: DatabaseConfig, bare_laptop: DatabaseConfig) -> None:
    """An event made under time_zone 'Europe/Berlin' loads only where that zone is known: on a server whose
    time zone tables are empty the install stopped with 'statement 22 of the dump failed' and the server's
    words. It still stops, the laptop's database untouched, in one line saying what to load."""
    tzinfo = require_tool("mariadb-tzinfo-to-sql", "mariadb-client", "mysql_tzinfo_to_sql")
    zone = subprocess.run([tzinfo, "/usr/share/zoneinfo/Europe/Berlin", "Europe/Berlin"], capture_output=True,
                          check=True).stdout.decode()
    if not mariadb_admin(berlin, "SELECT COUNT(*) FROM mysql.time_zone_name WHERE Name = 'Europe/Berlin'")[0][0]:
        mariadb_admin(berlin, "USE mysql", *(statement for statement in zone.split(";\n") if statement.strip()))
    mariadb_admin(source, f"USE `{source.name}`", "CREATE TABLE t (id INT PRIMARY KEY)",
                  "SET time_zone = 'Europe/Berlin'",
                  "CREATE EVENT named ON SCHEDULE EVERY 1 DAY STARTS '2030-06-01 12:00:00' DO SET @a = 1")
    laptop = dataclasses.replace(bare_laptop, name=unique_name(PREFIX + "bare"))
    mariadb_admin(laptop, f"CREATE DATABASE `{laptop.name}`", f"CREATE TABLE `{laptop.name}`.kept (a INT)")
    try:
        with pytest.raises(DatabaseError, match=r"^the dump holds an event that runs in a time zone this server "
                                                r"does not know \(\(1298\) Unknown or incorrect time zone: "
                                                r"'Europe/Berlin'\): load its time zone tables \(mariadb-tzinfo"):
            _copy(source, laptop, DumpOptions(events=True))
        assert mariadb_admin(laptop, f"SHOW DATABASES LIKE '{laptop.name}%'") == [(laptop.name,)]
        assert mariadb_admin(laptop, f"SHOW TABLES FROM `{laptop.name}`") == [("kept",)]
    finally:
        for (database,) in mariadb_admin(laptop, f"SHOW DATABASES LIKE '{laptop.name}%'"):
            mariadb_admin(laptop, f"DROP DATABASE `{database}`")
