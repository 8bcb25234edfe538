"""Installs of one MySQL database wait for each other however the name is written.

Every install and rollback holds a server lock (``GET_LOCK``) named after its target. On a server that
folds database names (``lower_case_table_names=1``, Windows' default, and 2, macOS'), ``Shop`` and
``shop`` are one database, but the lock was named after the name as written: an install of ``SHOP`` went
ahead while one of ``shop`` held the lock, and the two swapped the same database and its kept copy in
turn. A private MariaDB configured so (the shared server may not be changed).
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pymysql
import pytest
from private_servers import mariadb, mariadb_admin

from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import install_with_engine
from synco_core.engines.mysql import swap
from synco_core.errors import SyncoError
from synco_core.values import DatabaseConfig, InstallOptions

SCRIPT = b"CREATE TABLE t (v VARCHAR(40));\nINSERT INTO t VALUES ('installed');\n"


@pytest.fixture(scope="module")
def folding(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseConfig]:
    with mariadb(tmp_path_factory.mktemp("folding"), ["--lower-case-table-names=1"]) as server:
        mariadb_admin(server, "CREATE DATABASE shop", "CREATE TABLE shop.t (v VARCHAR(40))",
                      "INSERT INTO shop.t VALUES ('original')")
        yield server


def _load(server: DatabaseConfig, name: str) -> None:
    database = parse_database_url(f"mysql://root@{server.host}:{server.port}/{name}")
    install_with_engine(database, io.BytesIO(SCRIPT), InstallOptions(yes=True, format="sql"))


def test_an_install_of_the_name_in_another_case_waits_for_the_running_one(
        folding: DatabaseConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    # Held as a running install of "shop" holds it, on a connection of its own.
    holder = pymysql.connect(ssl_disabled=True, host=folding.host, port=folding.port, user="root", autocommit=True)
    try:
        swap.lock(holder, "shop")
        monkeypatch.setattr(swap, "LOCK_WAIT_SECONDS", 1)
        for name in ("SHOP", "Shop"):
            with pytest.raises(SyncoError, match="^another synco command is installing into or rolling back MySQL "
                                                 f"database '{name}'"):
                _load(folding, name)
            assert mariadb_admin(folding, "SELECT v FROM shop.t") == [("original",)]
            assert mariadb_admin(folding, "SHOW DATABASES LIKE 'shop%'") == [("shop",)]
    finally:
        holder.close()
    # Let go (the running install ended), the same install goes ahead.
    _load(folding, "SHOP")
    assert mariadb_admin(folding, "SELECT v FROM shop.t") == [("installed",)]
