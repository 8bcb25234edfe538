"""Storage engines from Debian's MariaDB plugin packages, in a private server started with them (plugins
are installed server-wide, so never into the shared one): what synco carries, and what it refuses up front
in one line naming the tables.

Each test needs its plugin's package (``mariadb-plugin-<name>``); without it the test is skipped, and fails
under ``CI=true``.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator

import pymysql
import pytest
from test_mysql_support import private_mariadb

from synco_core.engines.mysql.dump import dump
from synco_core.engines.mysql.install import install, rollback
from synco_core.engines.mysql.preflight import check as check_install_target
from synco_core.errors import DatabaseError
from synco_core.testing.services import unavailable
from synco_core.values import DatabaseConfig, DumpOptions, InstallOptions

pytestmark = pytest.mark.mysql

_PLUGINS = {"Mroonga": ("ha_mroonga", "mariadb-plugin-mroonga"), "ROCKSDB": ("ha_rocksdb", "mariadb-plugin-rocksdb")}


@pytest.fixture(scope="module")
def plugin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseConfig]:
    """A private MariaDB with the Mroonga and RocksDB plugins loaded (those whose package is installed)."""
    with private_mariadb(tmp_path_factory.mktemp("plugins"),
                         *(f"--plugin-load-add={library}" for library, _ in _PLUGINS.values())) as root:
        yield root


def on(server: DatabaseConfig, name: str) -> DatabaseConfig:
    return dataclasses.replace(server, name=name)


def run(server: DatabaseConfig, *statements: str, database: str | None = None) -> list[tuple[object, ...]]:
    conn = pymysql.connect(unix_socket=server.socket, user="root", database=database, autocommit=True,
                           ssl_disabled=True)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
            return list(cur.fetchall())
    finally:
        conn.close()


def require_engine(server: DatabaseConfig, engine: str) -> None:
    if not run(server, f"SELECT 1 FROM information_schema.ENGINES WHERE ENGINE = '{engine}' "
                       "AND SUPPORT IN ('YES', 'DEFAULT')"):
        unavailable(f"the {engine} storage engine is not installed ({_PLUGINS[engine][1]})")


def fresh(server: DatabaseConfig, *names: str) -> None:
    for name in names:
        run(server, f"DROP DATABASE IF EXISTS `{name}`", f"DROP DATABASE IF EXISTS `{name}__synco_new`",
            f"DROP DATABASE IF EXISTS `{name}__synco_prev`", f"CREATE DATABASE `{name}`")


def test_mroonga_tables_are_refused_up_front_by_the_dump_and_by_the_install(plugin_server: DatabaseConfig) -> None:
    """The server cannot rename a Mroonga table into another database (in storage or wrapper mode), which
    synco's swap does with every table: a dump carrying one loaded into the scratch database, then failed
    at the swap with "doesn't yet support 'ALTER TABLE'", naming nothing. Now the dump refuses it in one
    line naming the table (``--skip-unsupported``: left out, with the view reading it), and an install or
    rollback whose target holds one, or whose dump (mariadb-dump's) makes one, refuses before any change."""
    require_engine(plugin_server, "Mroonga")
    fresh(plugin_server, "src", "dst", "foreign")
    run(plugin_server,
        "CREATE TABLE docs (id INT PRIMARY KEY, body TEXT, FULLTEXT INDEX ft (body)) ENGINE=Mroonga "
        "DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE wrapped (id INT PRIMARY KEY, body TEXT, FULLTEXT INDEX ft (body)) ENGINE=Mroonga "
        "COMMENT='engine \"InnoDB\"' DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE plain (id INT PRIMARY KEY)", "INSERT INTO plain VALUES (1)",
        "INSERT INTO docs VALUES (1, 'full text search')",
        "CREATE VIEW found AS SELECT id FROM docs WHERE MATCH(body) AGAINST('text')", database="src")
    with pytest.raises(DatabaseError, match=r"^the database has objects a dump cannot carry: table docs \(engine "
                                            r"Mroonga: .*\); table wrapped \(engine Mroonga: .*"):
        dump(on(plugin_server, "src"), io.BytesIO(), DumpOptions())
    out = io.BytesIO()
    dump(on(plugin_server, "src"), out, DumpOptions(skip_unsupported=True))
    assert b"Mroonga" not in out.getvalue() and b"`found`" not in out.getvalue()
    install(on(plugin_server, "dst"), io.BytesIO(out.getvalue()), InstallOptions(yes=True))
    assert run(plugin_server, "SHOW TABLES FROM dst") == [("plain",)]

    # A target holding one: install, rollback and receive's preflight refuse before changing anything.
    run(plugin_server, "CREATE TABLE local_search (id INT PRIMARY KEY, body TEXT) ENGINE=Mroonga", database="dst")
    before = run(plugin_server, "SHOW TABLES FROM dst")
    for attempt in (lambda: install(on(plugin_server, "dst"), io.BytesIO(out.getvalue()), InstallOptions(yes=True)),
                    lambda: rollback(on(plugin_server, "dst"), InstallOptions(yes=True)),
                    lambda: check_install_target(on(plugin_server, "dst"))):
        with pytest.raises(DatabaseError, match=r"^database 'dst' holds table `local_search` \(engine Mroonga\): "
                                                r"MariaDB cannot move such a table to another database"):
            attempt()
        assert run(plugin_server, "SHOW TABLES FROM dst") == before
    # A dump of another dumper that makes one: refused once loaded, before the swap; the target is untouched.
    foreign = b"CREATE TABLE t (id INT PRIMARY KEY, body TEXT) ENGINE=Mroonga;\nINSERT INTO t VALUES (1, 'x');\n"
    with pytest.raises(DatabaseError, match=r"holds table `t` \(engine Mroonga\)"):
        install(on(plugin_server, "foreign"), io.BytesIO(foreign), InstallOptions(yes=True))
    assert run(plugin_server, "SHOW TABLES FROM `foreign`") == []
    assert run(plugin_server, "SHOW DATABASES LIKE 'foreign\\_\\_synco%'") == []


def test_rocksdb_tables_round_trip(plugin_server: DatabaseConfig) -> None:
    """RocksDB tables (column families in index comments, reverse-ordered keys, binary collations, large
    values) move between databases like InnoDB's: carried, with equal CHECKSUM TABLE."""
    require_engine(plugin_server, "ROCKSDB")
    fresh(plugin_server, "rsrc", "rdst")
    run(plugin_server,
        "CREATE TABLE r (id INT PRIMARY KEY, k VARCHAR(40) COLLATE utf8mb4_bin, v MEDIUMTEXT, n BIGINT, KEY k (k), "
        "UNIQUE KEY n (n) COMMENT 'cf_n') ENGINE=ROCKSDB",
        "CREATE TABLE r2 (a INT, b INT, c BLOB, PRIMARY KEY (a, b) COMMENT 'rev:cf_rev') ENGINE=ROCKSDB",
        "INSERT INTO r VALUES (1, 'a', 'x', 10), (2, 'b', NULL, 20), (3, 'c', REPEAT('z', 100000), NULL)",
        "INSERT INTO r2 VALUES (1, 1, 'a'), (1, 2, NULL), (2, 1, x'00ff')", database="rsrc")
    out = io.BytesIO()
    dump(on(plugin_server, "rsrc"), out, DumpOptions())
    install(on(plugin_server, "rdst"), io.BytesIO(out.getvalue()), InstallOptions(yes=True))
    for table in ("r", "r2"):
        assert run(plugin_server, f"SHOW CREATE TABLE rdst.{table}")[0][1] == \
            run(plugin_server, f"SHOW CREATE TABLE rsrc.{table}")[0][1]
        assert run(plugin_server, f"CHECKSUM TABLE rdst.{table}")[0][1] == \
            run(plugin_server, f"CHECKSUM TABLE rsrc.{table}")[0][1]
