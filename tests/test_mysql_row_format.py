"""An InnoDB table keeps production's row format on a laptop whose server defaults to another one.

A table created without ``ROW_FORMAT`` takes the server's ``innodb_default_row_format``, and its ``SHOW CREATE
TABLE`` names none: loaded on a laptop configured COMPACT (an old configuration's), production's DYNAMIC tables
became COMPACT (and a long key refused them), and the other way round. The dump notes the format of such a
table; the load names it only where the laptop's default differs, so that elsewhere the copy's ``SHOW CREATE
TABLE`` is the source's to the byte.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Iterator

import pytest
from private_servers import mariadb, mariadb_admin
from test_mysql_support import config, install_bytes, load_with_client, query

from synco_core.engines.mysql.dump import dump
from synco_core.engines.mysql.install import install
from synco_core.testing.services import unique_name
from synco_core.values import DatabaseConfig, DumpOptions, InstallOptions

pytestmark = pytest.mark.mysql

#: Tables of every way a row format comes about: the server's default, named, a KEY_BLOCK_SIZE (COMPRESSED),
#: partitions, a key longer than COMPACT allows, and a table COMMENT that mentions a row format.
TABLES = b"""
CREATE TABLE plain (id INT PRIMARY KEY, note VARCHAR(20)) ENGINE=InnoDB;
CREATE TABLE long_key (id INT PRIMARY KEY, email VARCHAR(255) UNIQUE) ENGINE=InnoDB CHARSET utf8mb4;
CREATE TABLE named (id INT PRIMARY KEY) ENGINE=InnoDB ROW_FORMAT=REDUNDANT;
CREATE TABLE squeezed (id INT PRIMARY KEY, body TEXT) ENGINE=InnoDB KEY_BLOCK_SIZE=8;
CREATE TABLE parts (id INT PRIMARY KEY) ENGINE=InnoDB PARTITION BY RANGE (id)
  (PARTITION p0 VALUES LESS THAN (10), PARTITION p1 VALUES LESS THAN MAXVALUE);
CREATE TABLE commented (id INT PRIMARY KEY) ENGINE=InnoDB COMMENT=' ROW_FORMAT=REDUNDANT, says the comment';
CREATE TABLE heap (id INT PRIMARY KEY) ENGINE=MyISAM;
INSERT INTO plain VALUES (1, 'a'), (2, 'b');
INSERT INTO long_key VALUES (1, REPEAT('x', 255));
INSERT INTO parts VALUES (1), (20);
"""


@pytest.fixture(scope="module")
def compact(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseConfig]:
    """A laptop's MariaDB configured with an old default row format."""
    with mariadb(tmp_path_factory.mktemp("compact"), ["--innodb-default-row-format=compact"]) as server:
        yield server


def _database(server: DatabaseConfig) -> Iterator[DatabaseConfig]:
    name = unique_name("rowformat")
    yield dataclasses.replace(server, name=name)
    for (database,) in mariadb_admin(server, f"SHOW DATABASES LIKE '{name}%'"):
        mariadb_admin(server, f"DROP DATABASE `{database}`")


@pytest.fixture
def on_compact(compact: DatabaseConfig) -> Iterator[DatabaseConfig]:
    yield from _database(compact)


def _formats(rows: list[tuple[object, ...]]) -> dict[str, str]:
    return {str(name): str(row_format) for name, row_format in rows}


FORMATS = "SELECT TABLE_NAME, ROW_FORMAT FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s"


def _dump(source: DatabaseConfig) -> bytes:
    out = io.BytesIO()
    dump(source, out, DumpOptions())
    return out.getvalue()


def test_production_tables_keep_their_row_format_on_a_compact_laptop(
        on_compact: DatabaseConfig, compact: DatabaseConfig, mysql_database_factory: Callable[[], str]) -> None:
    source = mysql_database_factory()
    load_with_client(source, TABLES)
    expected = _formats(query(source, FORMATS, (source,)))
    assert expected["plain"] == "Dynamic" and expected["squeezed"] == "Compressed"
    install(on_compact, io.BytesIO(_dump(config(source))), InstallOptions(yes=True))
    assert _formats(mariadb_admin(compact, FORMATS.replace("%s", f"'{on_compact.name}'"))) == expected
    assert mariadb_admin(compact, f"SELECT email FROM `{on_compact.name}`.long_key") == [("x" * 255,)]
    assert mariadb_admin(compact, f"SELECT id FROM `{on_compact.name}`.parts ORDER BY id") == [(1,), (20,)]


def test_a_compact_table_stays_compact_on_a_dynamic_laptop_and_the_same_default_adds_nothing(
        on_compact: DatabaseConfig, compact: DatabaseConfig, mysql_database_factory: Callable[[], str]) -> None:
    mariadb_admin(compact, f"CREATE DATABASE `{on_compact.name}`",
                  f"CREATE TABLE `{on_compact.name}`.old (id INT PRIMARY KEY) ENGINE=InnoDB")
    data = _dump(on_compact)
    assert b"/* synco-row-format: COMPACT */" in data
    target = mysql_database_factory()
    install_bytes(target, data)
    assert _formats(query(target, FORMATS, (target,))) == {"old": "Compact"}
    # Loaded where the default is the source's, the statement is the source's: nothing named.
    source = mysql_database_factory()
    load_with_client(source, TABLES)
    copy = mysql_database_factory()
    install_bytes(copy, _dump(config(source)))
    for table in ("plain", "parts", "commented", "squeezed"):
        assert query(copy, f"SHOW CREATE TABLE `{table}`") == query(source, f"SHOW CREATE TABLE `{table}`")


def test_the_client_loads_a_dump_with_row_format_notes(mysql_database_factory: Callable[[], str]) -> None:
    """The note is a comment: the mariadb client drops it and loads the table in its server's default."""
    source = mysql_database_factory()
    load_with_client(source, TABLES)
    target = mysql_database_factory()
    load_with_client(target, _dump(config(source)))
    assert _formats(query(target, FORMATS, (target,))) == _formats(query(source, FORMATS, (source,)))
