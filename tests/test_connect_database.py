"""``connect_database`` / ``connect_with_engine``: how a plugin reads rows of its own tables, whichever engine.

Against the real servers (and a real SQLite file): rows come as tuples with the engine's placeholder, stream
in batches, the connection is read-only, and failures are one line without the password.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from synco_core import connect_with_engine, parse_database_url
from synco_core.engines import reader as reader_module
from synco_core.errors import ConfigError, DatabaseError
from synco_core.plugins import SyncoPluginManager
from synco_core.redaction import register_secret
from synco_core.testing.services import (
    mysql_admin_connection,
    mysql_url_for,
    postgres_admin_connection,
    postgres_url_for,
)
from synco_core.values import DatabaseConfig, DatabaseReader

pytestmark = pytest.mark.hook("connect_database")

ROWS = 5
CREATE = "CREATE TABLE resources (id INTEGER PRIMARY KEY, sha1 VARCHAR(40), collection VARCHAR(20))"
INSERT = "INSERT INTO resources VALUES " + ", ".join(
    f"({i}, '{i:040x}', '{'persistent' if i % 2 else 'static'}')" for i in range(1, ROWS + 1))


def sqlite_url(tmp_path: Path) -> str:
    path = tmp_path / "app.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(CREATE)
        conn.execute(INSERT)
    conn.close()
    return f"sqlite:///{path}"


def mysql_url(factory: Callable[[], str]) -> str:
    name = factory()
    conn = mysql_admin_connection(name)
    with conn.cursor() as cur:
        cur.execute(CREATE)
        cur.execute(INSERT)
    conn.close()
    return mysql_url_for(name)


def postgres_url(factory: Callable[[], str]) -> str:
    name = factory()
    conn = postgres_admin_connection(name)
    conn.execute(CREATE)
    conn.execute(INSERT)
    conn.close()
    return postgres_url_for(name)


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql),
                        pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path, mysql_database_factory: Callable[[], str],
             postgres_database_factory: Callable[[], str]) -> DatabaseConfig:
    if request.param == "sqlite":
        return parse_database_url(sqlite_url(tmp_path))
    if request.param == "mysql":
        return parse_database_url(mysql_url(mysql_database_factory))
    return parse_database_url(postgres_url(postgres_database_factory))


def test_connect_database_reads_rows_in_batches(database: DatabaseConfig, plugin_manager: SyncoPluginManager,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader_module, "BATCH_ROWS", 2)  # several batches out of five rows
    with connect_with_engine(database) as reader:
        assert isinstance(reader, DatabaseReader)
        sql = f"SELECT id, sha1 FROM resources WHERE collection = {reader.placeholder} ORDER BY id"
        rows = reader.rows(sql, ("persistent",))
        assert next(rows) == (1, f"{1:040x}")
        assert list(rows) == [(3, f"{3:040x}"), (5, f"{5:040x}")]
        # The same connection answers one query after another.
        assert list(reader.rows("SELECT COUNT(*) FROM resources")) == [(ROWS,)]


def test_connect_database_is_read_only(database: DatabaseConfig, plugin_manager: SyncoPluginManager) -> None:
    with connect_with_engine(database) as reader, pytest.raises(DatabaseError) as refused:
        list(reader.rows("DELETE FROM resources"))
    assert "\n" not in str(refused.value)
    with connect_with_engine(database) as reader:
        assert list(reader.rows("SELECT COUNT(*) FROM resources")) == [(ROWS,)]


def test_connect_database_bad_query_is_one_line(database: DatabaseConfig, plugin_manager: SyncoPluginManager) -> None:
    with connect_with_engine(database) as reader:
        with pytest.raises(DatabaseError, match="failed") as failed:
            list(reader.rows("SELECT nothing FROM no_such_table"))
        assert "\n" not in str(failed.value)
        # The connection is still usable after a failed query (PostgreSQL's aborted transaction is undone).
        assert list(reader.rows("SELECT COUNT(*) FROM resources")) == [(ROWS,)]


@pytest.mark.mysql
def test_connect_database_refused_without_the_password(plugin_manager: SyncoPluginManager) -> None:
    secret = "wrong-Pass-4411-x"
    register_secret(secret)
    database = parse_database_url(f"mysql://nobody:{secret}@127.0.0.1:3306/nothing")
    with pytest.raises(DatabaseError) as refused:
        connect_with_engine(database)
    assert secret not in str(refused.value) and "\n" not in str(refused.value)


def test_connect_database_missing_sqlite_file(tmp_path: Path, plugin_manager: SyncoPluginManager) -> None:
    with pytest.raises(ConfigError, match="SQLite database not found"):
        connect_with_engine(DatabaseConfig(engine="sqlite", name=str(tmp_path / "none.sqlite")))


def test_connect_database_without_an_engine(plugin_manager: SyncoPluginManager) -> None:
    with pytest.raises(ConfigError, match="no installed engine handles 'duckdb' databases"):
        connect_with_engine(DatabaseConfig(engine="duckdb", name="x"))


def test_closing_twice_is_harmless(tmp_path: Path, plugin_manager: SyncoPluginManager) -> None:
    reader = connect_with_engine(parse_database_url(sqlite_url(tmp_path)))
    reader.close()
    reader.close()
