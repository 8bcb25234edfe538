"""A database server whose data directory runs out of space while an install loads the dump into its scratch
copy (a private server on a small tmpfs): the scratch copy is dropped, the live database is as it was, and
the one line says that the server's disk is full (before, the server's words alone: ``statement 21 of the
dump failed: (1114) The table 'big' is full; statement: INSERT INTO ...``, read as a broken dump).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from private_servers import mariadb, mariadb_admin, postgresql
from test_serve_wild_trees import small_file_system

from synco_core.values import DatabaseConfig

SYNCO = [sys.executable, "-m", "synco_core"]
LIVE = "synco_test_disk_full_live"
SOURCE = "synco_test_disk_full_source"


def used_kib(folder: Path) -> int:
    found = subprocess.run(["df", "--output=used", "-k", str(folder)], capture_output=True, text=True, check=True)
    return int(found.stdout.split()[-1])


@pytest.fixture
def small_mariadb(tmp_path: Path) -> Iterator[tuple[DatabaseConfig, Path]]:
    """A private MariaDB whose data directory is on a tmpfs, and the tmpfs's folder."""
    home = tmp_path / "server"
    home.mkdir()
    # Its temporary folder (InnoDB's merge files) on the large disk: a full one there makes MariaDB say only
    # "(1180) Got error 1 "Operation not permitted" during COMMIT", which names no disk (not told apart).
    scratch = tmp_path / "server-tmp"
    scratch.mkdir()
    with small_file_system(home, "200m"), \
            mariadb(home, ["--innodb-log-file-size=8M", f"--tmpdir={scratch}"]) as server:
        yield server, home


def test_a_full_server_disk_drops_the_scratch_copy_and_keeps_the_database(
        tmp_path: Path, small_mariadb: tuple[DatabaseConfig, Path]) -> None:
    server, home = small_mariadb
    mariadb_admin(server, f"CREATE DATABASE {SOURCE}", f"CREATE DATABASE {LIVE}",
                  f"CREATE TABLE {SOURCE}.big (id INT AUTO_INCREMENT PRIMARY KEY, b LONGBLOB)",
                  f"CREATE TABLE {LIVE}.mine (id INT PRIMARY KEY, t TEXT)",
                  f"INSERT INTO {LIVE}.mine VALUES (1, 'local')")
    for _ in range(25):
        mariadb_admin(server, f"INSERT INTO {SOURCE}.big (b) SELECT REPEAT(MD5(RAND() * seq), 32) "
                              f"FROM {SOURCE}.seq_1_to_1000")
    url = f"mysql://root@127.0.0.1:{server.port}"
    dump = tmp_path / "dump.sql"
    made = subprocess.run([*SYNCO, "db", "dump", f"{url}/{SOURCE}", "-o", str(dump)], capture_output=True, text=True,
                          check=False, timeout=300)
    assert made.returncode == 0, made.stderr
    mariadb_admin(server, f"DROP DATABASE {SOURCE}")
    # The server's disk keeps 12 MB free: the 25 MB dump does not fit.
    subprocess.run(["mount", "-o", f"remount,size={used_kib(home) + 12 * 1024}k", str(home)], check=True)
    result = subprocess.run([*SYNCO, "db", "load", "--yes", f"{url}/{LIVE}", str(dump)], capture_output=True,
                            text=True, check=False, timeout=300, stdin=subprocess.DEVNULL)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[-1].startswith(f"Error: the MySQL server at 127.0.0.1:{server.port} ran out of disk space while it "
                                f"loaded the dump into a scratch copy of '{LIVE}' ("), result.stderr
    assert lines[-1].endswith(f"the copy was dropped and '{LIVE}' is as it was; free space on the server's data "
                              "directory (the copy needs about as much as the database itself, beside it) and run "
                              "the same command again"), result.stderr
    databases = {row[0] for row in mariadb_admin(server, "SHOW DATABASES")}
    assert {name for name in databases if name.startswith("synco_test_disk_full")} == {LIVE}
    assert mariadb_admin(server, f"SELECT * FROM {LIVE}.mine") == [(1, "local")]
    assert [row[0] for row in mariadb_admin(server, f"SHOW TABLES FROM {LIVE}")] == ["mine"]


def test_a_full_postgresql_tablespace_drops_the_scratch_copy_and_keeps_the_database() -> None:
    """The database and the scratch copy (made from template0) live in a tablespace on a small tmpfs; the
    server's own files (WAL, catalogs) are elsewhere, as a server keeps running when one disk fills up."""
    import psycopg

    folder = Path(tempfile.mkdtemp(prefix="synco-disk-full-pg-"))
    folder.chmod(0o711)
    space = folder / "space"
    space.mkdir()
    try:
        with small_file_system(space, "28m"), postgresql() as server:
            shutil.chown(space, "postgres", "postgres")

            def run(dbname: str, *statements: str) -> list[tuple[object, ...]]:
                with psycopg.connect(host="127.0.0.1", port=server.port, user="postgres", dbname=dbname,
                                     autocommit=True) as conn:
                    rows: list[tuple[object, ...]] = []
                    for statement in statements:
                        cursor = conn.execute(statement)
                        rows = cursor.fetchall() if cursor.description else []
                    return rows

            run("postgres", f"CREATE DATABASE {SOURCE}", f"CREATE TABLESPACE small LOCATION '{space}'",
                f"CREATE DATABASE {LIVE} TABLESPACE small", "ALTER DATABASE template0 SET TABLESPACE small")
            run(SOURCE, "CREATE TABLE big (id serial PRIMARY KEY, b bytea)",
                "INSERT INTO big (b) SELECT decode(repeat(md5(random()::text), 32), 'hex') "
                "FROM generate_series(1, 40000)")
            run(LIVE, "CREATE TABLE mine (id int PRIMARY KEY, t text)", "INSERT INTO mine VALUES (1, 'local')")
            url = f"postgresql://postgres@127.0.0.1:{server.port}"
            dump = folder / "dump"
            made = subprocess.run([*SYNCO, "db", "dump", f"{url}/{SOURCE}", "-o", str(dump)], capture_output=True,
                                  text=True, check=False, timeout=300)
            assert made.returncode == 0, made.stderr
            result = subprocess.run([*SYNCO, "db", "load", "--yes", f"{url}/{LIVE}", str(dump)], capture_output=True,
                                    text=True, check=False, timeout=300, stdin=subprocess.DEVNULL)
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
            assert lines[-1].startswith(f"Error: the PostgreSQL server at 127.0.0.1:{server.port}/{LIVE} ran out of "
                                        f"disk space while it loaded the dump into a scratch copy of '{LIVE}' ("), lines
            assert f"the copy was dropped and '{LIVE}' is as it was" in lines[-1], lines
            names = {str(row[0]) for row in run("postgres", "SELECT datname FROM pg_database")}
            assert {name for name in names if name.startswith("synco_test_disk_full")} == {SOURCE, LIVE}
            assert run(LIVE, "SELECT * FROM mine") == [(1, "local")]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
