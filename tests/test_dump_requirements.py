"""What a dump needs of the loading server (the meta's ``requires``): recorded by the dump, read from the meta,
and checked against a real server by the engines' ``check_dump_requirements``.

The refusals of ``receive --install``, ``pull --install`` and ``install`` built on these are in
tests/test_requirements_refused.py.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pymysql
import pytest
from private_servers import mariadb, mariadb_admin

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine
from synco_core.engines.mysql.requirements import missing as mysql_missing
from synco_core.plugins import get_plugin_manager
from synco_core.testing.services import (
    mysql_admin_connection,
    mysql_url_for,
    postgres_admin_connection,
    postgres_url_for,
)
from synco_core.values import DatabaseConfig, DumpOptions, DumpRequirements
from synco_core.wire import DumpInfo, WireFormatError, requirements_from_json, requirements_to_json


def check(database: DatabaseConfig, requires: DumpRequirements) -> list[str]:
    answer = get_plugin_manager().hook.check_dump_requirements(database=database, requirements=requires)
    assert isinstance(answer, list)
    return answer


# ----------------------------------------------------------------------------------------------- wire


def test_requires_round_trips_and_a_meta_without_it_checks_nothing() -> None:
    requires = DumpRequirements(server_version="10.11.6-MariaDB", engines=["InnoDB", "ROCKSDB"],
                                extensions={"postgis": "3.3.2"}, collations=["utf8mb4_uca1400_ai_ci"],
                                max_statement_bytes=5_000_000)
    info = DumpInfo(file_name="dump.sql.zst.enc", size_bytes=1, requires=requires)
    again = DumpInfo.from_json(json.loads(json.dumps(info.to_json())), "dbDump")
    assert again.requires == requires
    # Go synco's and older synco's dumps record nothing: nothing is checked.
    assert DumpInfo.from_json({"fileName": "dump.sql", "sizeBytes": 1}, "dbDump").requires is None
    # Nothing needed is not written at all (a Go-style meta stays as small as before).
    assert "requires" not in DumpInfo(file_name="d.sql", size_bytes=1, requires=DumpRequirements()).to_json()


@pytest.mark.parametrize("raw", [
    {"engines": "InnoDB"}, {"engines": [1]}, {"engines": [""]}, {"engines": ["x" * 201]},
    {"extensions": {"postgis": 3}}, {"extensions": ["postgis"]}, {"collations": ["a\nb"]},
    {"maxStatementBytes": -1}, {"maxStatementBytes": "5"}, {"maxStatementBytes": True},
    {"engines": ["e"] * 1001}, {"serverVersion": 16},
])
def test_a_malformed_requires_is_a_one_line_wire_error(raw: dict[str, object]) -> None:
    with pytest.raises(WireFormatError, match=r"^malformed dbDump: ") as caught:
        requirements_from_json(raw, "dbDump")
    assert "\n" not in str(caught.value)


def test_requires_to_json_leaves_out_what_is_not_needed() -> None:
    assert requirements_to_json(DumpRequirements(engines=["InnoDB"])) == {"engines": ["InnoDB"]}


# ---------------------------------------------------------------------------------------------- MySQL


@pytest.fixture
def mysql_source(mysql_database_factory: Callable[[], str]) -> Iterator[str]:
    yield mysql_database_factory()


def _dump(database: DatabaseConfig) -> tuple[DumpRequirements, bytes]:
    out = io.BytesIO()
    result = dump_with_engine(database, out, DumpOptions())
    assert result.requirements is not None
    return result.requirements, out.getvalue()


@pytest.mark.mysql
def test_a_mysql_dump_records_its_engines_collations_and_longest_row(mysql_source: str) -> None:
    """The longest statement recorded is exactly the longest one-row INSERT a loader has to send whole, whatever
    the rows (carriage returns grow by a byte each when escaped, rows go through each of the writer's paths)."""
    rng = random.Random(7)
    conn = mysql_admin_connection(mysql_source)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, body LONGTEXT COLLATE utf8mb4_bin) ENGINE=InnoDB")
        cur.execute("CREATE TABLE m (id INT PRIMARY KEY, note VARCHAR(20)) ENGINE=MyISAM "
                    "DEFAULT CHARSET=latin1 COLLATE latin1_german2_ci")
        cur.execute("CREATE TABLE empty_aria (id INT PRIMARY KEY) ENGINE=Aria")
        rows = [(n, "".join(rng.choice("ab\r'\\\n") for _ in range(rng.randint(0, 3000)))) for n in range(200)]
        rows.append((999, "\r" * 40_000))  # the longest once escaped, not the longest as stored
        rows.append((1000, "x" * 39_000))
        cur.executemany("INSERT INTO t VALUES (%s, %s)", rows)
        cur.execute("INSERT INTO m VALUES (1, 'ä')")
    conn.close()
    requires, dump = _dump(parse_database_url(mysql_url_for(mysql_source)))
    assert requires.engines == ["Aria", "InnoDB", "MyISAM"]
    assert {"utf8mb4_bin", "latin1_german2_ci"} <= set(requires.collations)
    head = b"INSERT INTO `t` (`id`,`body`) VALUES "
    longest = len(head) + len(b"(999,'" + b"\\r" * 40_000 + b"')")
    assert requires.max_statement_bytes == longest
    assert b"\\r" * 40_000 in dump


@pytest.mark.mysql
def test_check_dump_requirements_reads_the_local_mysql_server() -> None:
    """The shared MariaDB: no ROCKSDB loaded, no collation of an unknown name; MySQL 8's are mapped, not required;
    max_allowed_packet is compared with the longest statement (one byte more travels with it, and the server
    refuses a packet of that size or more: tests/test_mysql_packet_boundary.py loads each side of it)."""
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@max_allowed_packet")
            packet = int(cur.fetchone()[0])
        lacking = mysql_missing(conn, DumpRequirements(
            server_version="11.4.2-MariaDB", engines=["InnoDB", "ROCKSDB", "Aria"],
            # An older server's utf8_general_ci is MariaDB 10.6+'s utf8mb3_general_ci, which SHOW COLLATION lists
            # alone (the old name is still taken), and the other way round.
            collations=["utf8mb4_unicode_ci", "utf8mb4_synco_missing_ci", "utf8mb4_0900_ai_ci", "utf8_general_ci",
                        "UTF8MB3_unicode_ci", "utf8_bin"],
            max_statement_bytes=packet - 1))
        assert lacking[0] == ("storage engine ROCKSDB (install mariadb-plugin-rocksdb, then "
                              "INSTALL SONAME 'ha_rocksdb')")
        assert lacking[1] == ("collation utf8mb4_synco_missing_ci (a server release that has it (the source runs "
                              "11.4.2-MariaDB))")
        assert lacking[2].startswith(f"max_allowed_packet {packet} is too small for the dump's longest row, a "
                                     f"statement of {packet - 1} bytes (SET GLOBAL max_allowed_packet=")
        assert len(lacking) == 3
        assert mysql_missing(conn, DumpRequirements(engines=["innodb"], max_statement_bytes=packet - 2)) == []
    finally:
        conn.close()


@pytest.mark.mysql
def test_no_collation_the_server_has_is_reported_missing() -> None:
    """MariaDB 10.10 and later name the UCA 14.0 collations once for every character set they apply to
    (``SHOW COLLATION`` lists ``uca1400_ai_ci`` with no character set), while a column's is the full name
    (``utf8mb4_uca1400_ai_ci``, MariaDB 11.5's default; ``utf16_uca1400_as_cs``): a dump holding one was
    refused by the very server it came from, "the local database server lacks ... collation
    utf16_uca1400_ai_ci". Every collation a column of this server can have is one it has."""
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT CHARACTER_SET_NAME FROM information_schema.CHARACTER_SETS")
            charsets = [str(name) for (name,) in cur.fetchall()]
            full: list[str] = []
            for charset in charsets:
                cur.execute("SHOW COLLATION WHERE Charset = %s OR Charset IS NULL", (charset,))
                for (name, *_) in cur.fetchall():
                    try:  # the name a column of that character set given that collation gets
                        cur.execute(f"SELECT COLLATION(CONVERT('a' USING {charset}) COLLATE {name})")
                    except pymysql.err.MySQLError:
                        continue  # a collation of another character set
                    full.append(str(cur.fetchone()[0]))
        assert full
        assert mysql_missing(conn, DumpRequirements(collations=sorted(set(full)))) == []
    finally:
        conn.close()


@pytest.mark.mysql
def test_a_private_mariadb_with_rocksdb_has_it(tmp_path: Path) -> None:
    """The engine check reads the server's own list: with the plugin loaded, ROCKSDB is not missing."""
    with mariadb(tmp_path / "rocks", ["--plugin-load-add=ha_rocksdb"]) as server:
        assert mariadb_admin(server, "SELECT SUPPORT FROM information_schema.ENGINES WHERE ENGINE='ROCKSDB'") \
            == [("YES",)]
        assert check(server, DumpRequirements(engines=["ROCKSDB", "InnoDB"])) == []


# ----------------------------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
def test_a_postgresql_dump_records_its_extensions_and_collations(
        postgres_database_factory: Callable[[], str]) -> None:
    name = postgres_database_factory()
    with postgres_admin_connection(name) as conn:
        conn.execute("CREATE EXTENSION hstore")
        conn.execute('CREATE TABLE t (id int PRIMARY KEY, h hstore, s text COLLATE "C", p text COLLATE "POSIX")')
        has_locale = conn.execute("SELECT 1 FROM pg_collation WHERE collname = 'en_US'").fetchone() is not None
        if has_locale:
            conn.execute('CREATE TABLE l (s text COLLATE "en_US")')
        version = str(conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'hstore'").fetchone()[0])
        server = str(conn.execute("SHOW server_version").fetchone()[0]).split(" ")[0]
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(postgres_url_for(name)), out, DumpOptions())
    assert result.requirements is not None
    assert result.requirements.extensions == {"hstore": version}
    # Built-in collations are not required; a locale's is.
    assert result.requirements.collations == (["en_US"] if has_locale else [])
    assert result.server_version == server


@pytest.mark.postgres
def test_check_dump_requirements_reads_the_local_postgresql_server() -> None:
    """The shared PostgreSQL: postgis is available (not installed anywhere needed), an extension it has no
    package for is missing with the package to install, a newer major version and an unknown collation are
    missing too; an available extension at another version is not refused."""
    with postgres_admin_connection() as conn:
        local = str(conn.execute("SHOW server_version").fetchone()[0]).split(" ")[0]
    major = int(local.split(".")[0])
    database = parse_database_url(postgres_url_for("postgres"))
    lacking = check(database, DumpRequirements(
        server_version=f"{major + 2}.1", extensions={"postgis": "3.3.2", "hstore": "0.1", "pgrouting": "3.6.1",
                                                     "citext_missing": "1.0"},
        collations=["de-CH-x-icu-synco-missing", "xx_XX.synco"]))
    assert lacking == [
        f"PostgreSQL {local} is older than the source's {major + 2}.1, whose dump may use what {major} lacks "
        f"(PostgreSQL {major + 2} or later on this machine)",
        f"extension pgrouting 3.6.1 (install postgresql-{major}-pgrouting or the package that provides it)",
        f"extension citext_missing 1.0 (install postgresql-{major}-citext-missing or the package that provides it)",
        "collation de-CH-x-icu-synco-missing (add the locale to the system (locale-gen), then SELECT "
        "pg_import_system_collations('pg_catalog'))",
        "collation xx_XX.synco (add the locale to the system (locale-gen), then SELECT "
        "pg_import_system_collations('pg_catalog'))",
    ]
    assert check(database, DumpRequirements(server_version=local, extensions={"postgis": "3.3.2"})) == []


@pytest.mark.postgres
def test_a_thousand_missing_things_stay_one_short_line(tmp_path: Path) -> None:
    """A hostile (or huge) meta's requires may name 1,000 extensions of 200 characters: the refusal names the
    first ten and counts the rest, as every list in a one-line message does."""
    from synco_core.install.requirements import NOTHING_DOWNLOADED, RequirementsError, check_requirements
    from synco_core.values import Framework

    framework = Framework(name="Local", plugin="local", project_dir=tmp_path,
                          database=parse_database_url(postgres_url_for("postgres")))
    needs = DumpRequirements(extensions={f"synco_missing_{n:04d}_" + "x" * 180: "1.0" for n in range(1000)})
    with pytest.raises(RequirementsError) as caught:
        check_requirements(framework, "dbDump", needs, skip=False, nothing_done=NOTHING_DOWNLOADED)
    line = str(caught.value)
    assert "\n" not in line
    assert len(line) < 8000, len(line)
    assert "synco_missing_0009_" in line and "synco_missing_0010_" not in line
    assert "(and 990 more); nothing was downloaded (--skip-requirements goes on anyway" in line
