"""``synco db dump -o FILE`` writes what the dump needs in its header (``-- synco-requires: {json}``, beside the
comment lines synco already writes), and ``synco db load FILE`` checks it against the local server before any
change: one line naming what is missing, exit 1, the target database as it was. A header without the line (an
older synco's dump, mariadb-dump's) loads as before, and the line is only a comment to other readers.

The shared MariaDB has no ROCKSDB; a dump naming it is the dump of a server that has it, with its header
line edited to say so (its tables are InnoDB, so ``--skip-requirements`` loads it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from synco_core.cli.main import cli
from synco_core.dumpheader import REQUIRES_PREFIX
from synco_core.testing.services import mysql_admin_connection, mysql_url_for, postgres_url_for


def dumped(tmp_path: Path, mysql_database_factory: Callable[[], str]) -> Path:
    source = mysql_database_factory()
    conn = mysql_admin_connection(source)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE posts (id INT PRIMARY KEY, title VARCHAR(20) COLLATE utf8mb4_bin) ENGINE=InnoDB")
        cur.execute("INSERT INTO posts VALUES (1, 'hello')")
    conn.commit()
    conn.close()
    out = tmp_path / "dump.sql"
    result = CliRunner().invoke(cli, ["db", "dump", mysql_url_for(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def header_requires(dump: Path) -> dict[str, object]:
    with dump.open("rb") as file:
        for line in file:
            if line.startswith(REQUIRES_PREFIX):
                loaded = json.loads(line[len(REQUIRES_PREFIX):])
                assert isinstance(loaded, dict)
                return loaded
            assert line.startswith(b"--") or not line.strip(), f"no requirements line in the header: {line!r}"
    raise AssertionError("no requirements line")


def needing(dump: Path, tmp_path: Path, **requires: object) -> Path:
    """``dump`` with its header's requirements replaced by ``requires``."""
    edited = tmp_path / "needing.sql"
    data = dump.read_bytes()
    start = data.index(REQUIRES_PREFIX)
    end = data.index(b"\n", start)
    edited.write_bytes(data[:start] + REQUIRES_PREFIX + json.dumps(requires).encode() + data[end:])
    return edited


def target_state(name: str) -> list[tuple[object, ...]]:
    conn = mysql_admin_connection()
    with conn.cursor() as cur:
        cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s", (name + "%",))
        names = sorted(cur.fetchall())
        cur.execute(f"SELECT id FROM `{name}`.mine")
        rows = sorted(cur.fetchall())
    conn.close()
    return names + rows


def laptop(mysql_database_factory: Callable[[], str]) -> str:
    name = mysql_database_factory()
    conn = mysql_admin_connection(name)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE mine (id INT PRIMARY KEY)")
        cur.execute("INSERT INTO mine VALUES (7)")
    conn.commit()
    conn.close()
    return name


def load(name: str, dump: Path, *extra: str, stdin: bytes | None = None) -> Result:
    file = "-" if stdin is not None else str(dump)
    return CliRunner().invoke(cli, ["db", "load", mysql_url_for(name), file, "--yes", *extra], input=stdin)


@pytest.mark.mysql
def test_the_dump_header_records_engines_and_collations(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    requires = header_requires(dumped(tmp_path, mysql_database_factory))
    assert requires["engines"] == ["InnoDB"], requires
    assert "MariaDB" in str(requires["serverVersion"]), requires
    assert "utf8mb4_bin" in requires["collations"], requires  # type: ignore[operator]
    # Known only once the dump is written: the load refuses a longer row itself.
    assert "maxStatementBytes" not in requires, requires


@pytest.mark.mysql
@pytest.mark.parametrize("from_stdin", [False, True], ids=["file", "stdin"])
def test_db_load_refuses_a_dump_needing_what_the_server_lacks_before_any_change(
        tmp_path: Path, mysql_database_factory: Callable[[], str], from_stdin: bool) -> None:
    dump = needing(dumped(tmp_path, mysql_database_factory), tmp_path, engines=["InnoDB", "ROCKSDB"],
                   collations=["utf8mb4_bin", "utf8mb4_uca1400_nonexistent_ci"])
    name = laptop(mysql_database_factory)
    before = target_state(name)
    result = load(name, dump, stdin=dump.read_bytes() if from_stdin else None)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    where = "the dump on standard input" if from_stdin else f"the dump {dump}"
    assert lines[0].startswith(f"Error: the local database server lacks what {where} needs to load into mysql "
                               f"database '{name}': storage engine ROCKSDB"), lines[0]
    assert "utf8mb4_uca1400_nonexistent_ci" in lines[0], lines[0]
    assert "nothing was changed (--skip-requirements goes on anyway" in lines[0], lines[0]
    assert target_state(name) == before


@pytest.mark.mysql
def test_db_load_with_skip_requirements_or_without_the_line_loads(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    dump = dumped(tmp_path, mysql_database_factory)
    skipped = load(laptop(mysql_database_factory), needing(dump, tmp_path, engines=["ROCKSDB"]),
                   "--skip-requirements")
    assert skipped.exit_code == 0 and "going on (--skip-requirements)" in skipped.output, skipped.output
    # A header without the line (an older synco's dump) loads as before.
    older = tmp_path / "older.sql"
    older.write_bytes(b"".join(line for line in dump.read_bytes().splitlines(keepends=True)
                               if not line.startswith(REQUIRES_PREFIX)))
    assert load(laptop(mysql_database_factory), older).exit_code == 0


@pytest.mark.mysql
def test_a_malformed_requirements_line_is_one_line_and_changes_nothing(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    dump = needing(dumped(tmp_path, mysql_database_factory), tmp_path, engines="ROCKSDB")
    name = laptop(mysql_database_factory)
    before = target_state(name)
    result = load(name, dump)
    assert result.exit_code == 1, result.output
    assert len(result.output.splitlines()) == 1, result.output
    assert result.output.startswith(f"Error: malformed -- synco-requires line of the dump {dump}: "), result.output
    assert target_state(name) == before


@pytest.mark.mysql
def test_the_mariadb_client_reads_the_line_as_a_comment(
        tmp_path: Path, mysql_database_factory: Callable[[], str]) -> None:
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        from synco_core.testing.services import require_tool
        client = require_tool("mariadb", "mariadb-client", "mysql")
    dump = dumped(tmp_path, mysql_database_factory)
    name = mysql_database_factory()
    with dump.open("rb") as file:
        subprocess.run([client, "-uroot", "-h127.0.0.1", name], stdin=file, check=True, capture_output=True)
    conn = mysql_admin_connection(name)
    with conn.cursor() as cur:
        cur.execute("SELECT title FROM posts")
        assert cur.fetchall() == (("hello",),)
    conn.close()


@pytest.mark.postgres
def test_a_postgresql_dump_header_is_checked_by_db_load_too(
        tmp_path: Path, postgres_database_factory: Callable[[], str]) -> None:
    """PostgreSQL's header records its extensions and version as well: a laptop lacking an extension, or of an
    older major version, is refused before any change."""
    import psycopg

    source = postgres_database_factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        conn.execute("CREATE TABLE posts (id int PRIMARY KEY, title text)")
        conn.execute("INSERT INTO posts VALUES (1, 'hello')")
        version = str(conn.execute("SHOW server_version").fetchone()[0]).split(" ")[0]  # type: ignore[index]
    out = tmp_path / "dump.sql"
    dumped_pg = CliRunner().invoke(cli, ["db", "dump", postgres_url_for(source), "-o", str(out)])
    assert dumped_pg.exit_code == 0, dumped_pg.output
    requires = header_requires(out)
    assert requires["serverVersion"] == version and "pg_trgm" in requires["extensions"], requires  # type: ignore[operator]
    target = postgres_database_factory()
    edited = needing(out, tmp_path, serverVersion="99.1", extensions={**requires["extensions"],  # type: ignore[dict-item]
                                                                      "pgrouting": "3.6.1"})
    result = CliRunner().invoke(cli, ["db", "load", postgres_url_for(target), str(edited), "--yes"])
    assert result.exit_code == 1, result.output
    assert len(result.output.splitlines()) == 1, result.output
    assert "older than the source's 99.1" in result.output and "extension pgrouting 3.6.1" in result.output, \
        result.output
    with psycopg.connect(postgres_url_for(target)) as conn:
        assert conn.execute("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
    # The dump as written (what the shared server has) loads.
    loaded = CliRunner().invoke(cli, ["db", "load", postgres_url_for(target), str(out), "--yes"])
    assert loaded.exit_code == 0, loaded.output
