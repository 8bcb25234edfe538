"""A streamed pull's longest row is known only at the dump's end, so ``pull --install --yes`` cannot refuse it
before the download: the load refuses it where it meets it, mid-stream, in one line naming
``max_allowed_packet`` and the value to set, the laptop's database as it was; that value then loads it.

Production is a private MariaDB with a row of 2 MB between others; the laptop a private MariaDB with
``max_allowed_packet`` at 1 MiB (nothing else missing, so the requirements asked before the build pass).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from private_servers import mariadb, mariadb_admin
from pull_support import make_project, remote_environment, run_synco

from synco_core.values import DatabaseConfig

SOURCE_DB = "synco_test_h_pre2_source"
LOCAL_DB = "synco_test_h_pre2_laptop"
LONG_ROW = 2_000_000


def url_of(server: DatabaseConfig, name: str) -> str:
    return f"mysql://root@127.0.0.1:{server.port}/{name}"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DatabaseConfig, DatabaseConfig]]:
    base = tmp_path_factory.mktemp("servers")
    with mariadb(base / "production", ["--max-allowed-packet=64M"]) as production, \
            mariadb(base / "laptop", ["--max-allowed-packet=1M"]) as laptop:
        mariadb_admin(production, f"CREATE DATABASE {SOURCE_DB}",
                      f"CREATE TABLE {SOURCE_DB}.pages (id INT PRIMARY KEY, body LONGTEXT)",
                      f"INSERT INTO {SOURCE_DB}.pages SELECT seq, REPEAT('a', 100) FROM {SOURCE_DB}.seq_1_to_2000",
                      f"UPDATE {SOURCE_DB}.pages SET body = REPEAT('x', {LONG_ROW}) WHERE id = 1000",
                      f"CREATE TABLE {SOURCE_DB}.zlater (id INT PRIMARY KEY)",
                      f"INSERT INTO {SOURCE_DB}.zlater SELECT seq FROM {SOURCE_DB}.seq_1_to_100")
        yield production, laptop


@pytest.fixture
def laptop_database(servers: tuple[DatabaseConfig, DatabaseConfig]) -> Iterator[str]:
    laptop = servers[1]
    mariadb_admin(laptop, f"CREATE DATABASE {LOCAL_DB}", f"CREATE TABLE {LOCAL_DB}.mine (id INT PRIMARY KEY)",
                  f"INSERT INTO {LOCAL_DB}.mine VALUES (7)")
    yield url_of(laptop, LOCAL_DB)
    for (name,) in mariadb_admin(laptop, "SHOW DATABASES"):
        if str(name).startswith(LOCAL_DB):
            mariadb_admin(laptop, f"DROP DATABASE `{name}`")
    mariadb_admin(laptop, "SET GLOBAL max_allowed_packet=1048576")


def laptop_state(servers: tuple[DatabaseConfig, DatabaseConfig]) -> tuple[list[str], list[tuple[object, ...]]]:
    laptop = servers[1]
    names = sorted(str(name) for (name,) in mariadb_admin(laptop, "SHOW DATABASES") if str(name).startswith(LOCAL_DB))
    tables = sorted(str(row[0]) for row in mariadb_admin(laptop, f"SHOW TABLES FROM {LOCAL_DB}"))
    return names + tables, mariadb_admin(laptop, f"SELECT id FROM {LOCAL_DB}.mine")


@pytest.mark.mysql
def test_a_streamed_row_over_the_laptops_packet_is_refused_mid_stream_naming_the_value_to_set(
        tmp_path: Path, laptop_database: str, servers: tuple[DatabaseConfig, DatabaseConfig]) -> None:
    env = remote_environment(tmp_path)
    remote = tmp_path / "srv" / "shop"
    make_project(remote, public_files=3, rows=0)
    (remote / "synco-pulltest.json").write_text(json.dumps({"database_url": url_of(servers[0], SOURCE_DB)}))
    laptop = tmp_path / "laptop"
    make_project(laptop, public_files=0, rows=0)
    (laptop / "synco-pulltest.json").write_text(json.dumps({"database_url": laptop_database}))
    before = laptop_state(servers)
    pull = ["pull", f"docker://web-1{remote}", "--target", "out", "--install", "--yes"]

    result = run_synco(pull, env, laptop)

    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert "max_allowed_packet" in errors[0], errors[0]
    setting = re.search(r"SET GLOBAL max_allowed_packet=(\d+)\b", errors[0])
    assert setting is not None, errors[0]
    assert laptop_state(servers) == before

    # The value named is enough: set on the laptop's server, the same pull installs the long row.
    mariadb_admin(servers[1], f"SET GLOBAL max_allowed_packet={setting.group(1)}")
    again = run_synco(pull, env, laptop)
    assert again.returncode == 0, again.stdout + again.stderr
    assert mariadb_admin(servers[1], f"SELECT LENGTH(body) FROM {LOCAL_DB}.pages WHERE id = 1000") == [(LONG_ROW,)]
