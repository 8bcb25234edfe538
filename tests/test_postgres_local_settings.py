"""A production dump installed into a laptop's PostgreSQL configured otherwise than production.

The laptop's cluster is whatever its image gave: initialised in ``SQL_ASCII`` or ``LATIN1`` (a database
created with ``createdb`` takes the template's encoding), small timeouts as managed databases set them,
another time zone, date, interval and float output, ``search_path``, isolation and money locale. The install
must give production's values (instants, bytes, text), or refuse in one line. Production is the shared
server; each laptop a private cluster of this module (tests/private_servers.py).
"""

from __future__ import annotations

import dataclasses
import io
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from private_servers import postgresql, postgresql_admin
from pull_support import latin1_locale

from synco_core.dburl import parse_database_url
from synco_core.engines.postgresql.dumper import PostgresDumper
from synco_core.engines.postgresql.installer import install, rollback
from synco_core.testing.services import postgres_url_for, unique_name
from synco_core.values import DatabaseConfig, DumpOptions, InstallOptions

pytestmark = pytest.mark.postgres

#: Values whose text form depends on session settings (time zone, date and interval styles, float digits,
#: money's locale) or on the database's encoding.
VALUES = """
CREATE TABLE users (id int PRIMARY KEY, name text, created timestamptz, born date, seen timestamp,
                    span interval, price money, f float8, r real, b bytea, tags text[]);
INSERT INTO users VALUES
 (1, 'Ana', '2024-03-31 01:30:00+00', '2020-02-29', '2024-10-27 01:30:00', '1 year 2 mons 3 days 04:05:06.789',
  1234.56, 0.1, 0.1, '\\x00ff', '{a,"b c",NULL,"NULL"}'),
 (2, {text}, '1900-01-01 00:00:00+00', '0001-01-01 BC', 'infinity', '-1 day', -5, 'NaN', '1e-30', NULL, NULL),
 (3, 'Ünïcode', '2000-02-29 23:59:59.999999+05:30', '5874897-12-31', '4713-01-01 BC', '1 mon -1 days', 0,
  1.7976931348623157e308, 3.4028235e38, '', '{}');
CREATE VIEW named AS SELECT name, created FROM users;
"""

#: As the laptop reads its rows back: every value as text in fixed styles, text as its UTF-8 bytes.
READ = ("SELECT id, convert_to(name, 'UTF8'), created::text, born::text, seen::text, span::text, "
        "price::numeric::text, f::text, r::text, b, tags::text FROM public.users ORDER BY id")
FIXED = ("SET statement_timeout = 0", "SET idle_in_transaction_session_timeout = 0", "SET TimeZone = 'UTC'",
         "SET DateStyle = 'ISO, YMD'", "SET IntervalStyle = 'postgres'",
         "SET extra_float_digits = 3", "SET lc_monetary = 'C'", "SET client_encoding = 'UTF8'")


def _rows(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    for statement in FIXED:
        conn.execute(statement)
    return conn.execute(READ).fetchall()


@pytest.fixture
def production(postgres_database_factory: Callable[[], str]) -> Callable[[str], tuple[bytes, list[tuple[Any, ...]]]]:
    """A production database holding VALUES with ``text`` as user 2's name: its dump and its rows."""
    def make(text: str) -> tuple[bytes, list[tuple[Any, ...]]]:
        name = postgres_database_factory()
        source = parse_database_url(postgres_url_for(name))
        with psycopg.connect(host=source.host, port=source.port, user=source.user, dbname=name,
                             autocommit=True) as conn:
            conn.execute(VALUES.replace("{text}", "'" + text.replace("'", "''") + "'"))
            rows = _rows(conn)
        return _dumped(source), rows

    return make


def _dumped(database: DatabaseConfig) -> bytes:
    out = io.BytesIO()
    PostgresDumper(database, DumpOptions()).dump(out)
    return out.getvalue()


def _laptop_rows(laptop: DatabaseConfig) -> list[tuple[Any, ...]]:
    with psycopg.connect(host=laptop.host, port=laptop.port, user="postgres", dbname=laptop.name,
                         autocommit=True) as conn:
        return _rows(conn)


def _install(laptop: DatabaseConfig, data: bytes) -> None:
    install(laptop, io.BytesIO(data), InstallOptions(yes=True))


@pytest.fixture(scope="module", params=["SQL_ASCII", "LATIN1"])
def encoded_cluster(request: pytest.FixtureRequest) -> Iterator[DatabaseConfig]:
    with postgresql([f"--encoding={request.param}", "--locale=C"]) as server:
        yield server


def test_a_database_in_the_clusters_own_encoding_gets_the_same_text(
        encoded_cluster: DatabaseConfig, production: Callable[[str], tuple[bytes, list[tuple[Any, ...]]]]) -> None:
    """A target made with ``createdb`` on a cluster initialised in SQL_ASCII: the install's own connection took
    the server's client encoding, so the catalogue came back as bytes and the scratch database's CREATE read
    ``ENCODING b'SQL_ASCII'`` (a syntax error): no install went through. Now the text is production's, byte
    for byte (in LATIN1 as far as LATIN1 holds it), and a second install and a rollback work."""
    data, rows = production("Zoë, l'été")
    laptop = dataclasses.replace(encoded_cluster, name=unique_name("laptop"))
    postgresql_admin(encoded_cluster, f'CREATE DATABASE "{laptop.name}"')
    for _ in range(2):
        _install(laptop, data)
        assert _laptop_rows(laptop) == rows
    rollback(laptop, InstallOptions(yes=True))
    assert _laptop_rows(laptop) == rows


#: What managed databases and hand-edited postgresql.conf files set, all at once.
SETTINGS = ("statement_timeout=10ms", "lock_timeout=10ms", "idle_in_transaction_session_timeout=10ms",
            "TimeZone=Pacific/Chatham", "DateStyle=SQL,DMY", "IntervalStyle=iso_8601", "extra_float_digits=0",
            "search_path=nowhere", "default_transaction_isolation=serializable", "max_locks_per_transaction=10",
            "array_nulls=off")


@pytest.fixture(scope="module")
def configured_cluster() -> Iterator[DatabaseConfig]:
    """A cluster with SETTINGS, whose money locale is German (``1.234,56 EUR``)."""
    # Where the server's account reads it (pytest's own folders are root's alone).
    folder = Path(tempfile.mkdtemp(prefix="synco-locale-"))
    try:
        environment = latin1_locale(folder / "locales")
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        with postgresql(["--encoding=UTF8", "--locale=C.UTF-8", "--data-checksums"],
                        [*SETTINGS, f"lc_monetary={environment['LANG']}"],
                        {"LOCPATH": environment["LOCPATH"]}) as server:
            yield server
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_clusters_settings_change_nothing(
        configured_cluster: DatabaseConfig, production: Callable[[str], tuple[bytes, list[tuple[Any, ...]]]]) -> None:
    """Small timeouts stopped the install's own connection (creating the scratch database takes longer than
    10 ms); a money locale other than the source's refused its values ('$1,234.56' is no German money): the
    dump now writes money in the C locale and says so; ``array_nulls = off`` read an array's NULL element as
    the text 'NULL' (the checksum, over the text sent, agreed): every session now sets it on. Instants, dates,
    intervals, floats, money, bytes, arrays and text are production's, through the same settings the other way
    round (the copy dumped again is the same dump)."""
    data, rows = production("Zoë ☃ 日本")
    assert postgresql_admin(configured_cluster, "SELECT 1234.56::money")[0][0].startswith("1.234,56")
    laptop = dataclasses.replace(configured_cluster, name=unique_name("laptop"))
    for _ in range(2):
        _install(laptop, data)
        assert _laptop_rows(laptop) == rows
    assert _dumped(laptop).split(b"\n", 3)[3] == data.split(b"\n", 3)[3]


@pytest.fixture(scope="module")
def idle_limited_cluster() -> Iterator[DatabaseConfig]:
    """A cluster that ends a session idle for 300 ms (``idle_session_timeout``, PostgreSQL 14 and later)."""
    with postgresql(["--encoding=UTF8", "--locale=C.UTF-8"], ["idle_session_timeout=300ms"]) as server:
        yield server


def test_the_install_keeps_its_idle_connection(
        idle_limited_cluster: DatabaseConfig, production: Callable[[str], tuple[bytes, list[tuple[Any, ...]]]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The install's own connection waits, idle, while the loading ones work: ``idle_session_timeout`` ended it,
    and the swap failed after the whole load ("terminating connection due to idle-session timeout"). Every
    session synco opens turns the timeout off; the copy is production's, installed twice and rolled back."""
    from synco_core.engines.postgresql import installer

    verify = installer.verify

    def slow(*args: Any) -> None:
        threading.Event().wait(1)  # a load that takes a second: the install's own connection is idle meanwhile
        verify(*args)

    monkeypatch.setattr(installer, "verify", slow)
    data, rows = production("Zoë")
    laptop = dataclasses.replace(idle_limited_cluster, name=unique_name("laptop"))
    for _ in range(2):
        _install(laptop, data)
        assert _laptop_rows(laptop) == rows
    rollback(laptop, InstallOptions(yes=True))
    assert _laptop_rows(laptop) == rows
