"""``receive --install``, ``pull --install`` and ``install`` refuse a laptop whose database server lacks what the
dump needs, before anything is downloaded (or changed), in one line naming every missing thing and its fix.

Production here is a private MariaDB with the ROCKSDB storage engine loaded, holding a ROCKSDB table and a row
of 2 MB; the laptop a private MariaDB without the engine and with ``max_allowed_packet`` at 1 MiB. Before, the
whole session was downloaded and the load failed on the first ROCKSDB table (or the long row).
``--skip-requirements`` goes on, with the same line as a warning. PostgreSQL's refusals (an extension, a major
version, a collation) go through the same core path; their reading of a real server is in
tests/test_dump_requirements.py, and here one is refused end to end with a real local server.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from private_servers import mariadb, mariadb_admin
from pull_support import make_project, remote_environment, run_synco
from test_receive_support import LOCAL_MARKER, LocalProject
from test_transfer_support import publish, static_server

from synco_core import FileSet, FileSetOptions, Framework, hookimpl
from synco_core.cli.main import cli
from synco_core.dburl import parse_database_url
from synco_core.testing.services import postgres_url_for
from synco_core.values import DatabaseConfig, DumpRequirements

SESSION = "synco-requirements0123456789"
SOURCE_MARKER = "sql-source.url"
SOURCE_DB = "synco_test_h_preflight_source"
LOCAL_DB = "synco_test_h_preflight_laptop"
#: The long row: 2 MB of text, over the laptop's 1 MiB max_allowed_packet.
LONG_ROW = 2_000_000


class SqlSource:
    """The production app: ``sql-source.url`` holds its database URL; one public set of uploads."""

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Framework | None:
        marker = project_dir / SOURCE_MARKER
        if not marker.exists():
            return None
        return Framework(name="SqlSource", plugin="sqlsource", project_dir=project_dir,
                         database=parse_database_url(marker.read_text().strip()), web_root=project_dir / "web",
                         reason=f"{SOURCE_MARKER} found")

    @hookimpl
    def list_file_sets(self, framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
        if framework.plugin != "sqlsource":
            return None
        return [FileSet(name="uploads", kind="public", root=framework.project_dir / "web" / "uploads",
                        url_prefix="uploads/", relative_base_path="web/uploads")]


def url_of(server: DatabaseConfig, name: str) -> str:
    return f"mysql://root@127.0.0.1:{server.port}/{name}"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DatabaseConfig, DatabaseConfig]]:
    """(production with ROCKSDB and a long row, the laptop without ROCKSDB and with a 1 MiB packet)."""
    base = tmp_path_factory.mktemp("servers")
    with mariadb(base / "production", ["--plugin-load-add=ha_rocksdb", "--max-allowed-packet=64M"]) as production, \
            mariadb(base / "laptop", ["--max-allowed-packet=1M"]) as laptop:
        mariadb_admin(production, f"CREATE DATABASE {SOURCE_DB}",
                      f"CREATE TABLE {SOURCE_DB}.events (id INT PRIMARY KEY, body TEXT) ENGINE=ROCKSDB",
                      f"INSERT INTO {SOURCE_DB}.events VALUES (1, 'hello')",
                      f"CREATE TABLE {SOURCE_DB}.pages (id INT PRIMARY KEY, body LONGTEXT) ENGINE=InnoDB",
                      f"INSERT INTO {SOURCE_DB}.pages VALUES (1, REPEAT('x', {LONG_ROW}))")
        yield production, laptop


@pytest.fixture
def laptop_database(servers: tuple[DatabaseConfig, DatabaseConfig]) -> Iterator[str]:
    """The laptop's database with content of its own; dropped (with what an install made beside it) after."""
    laptop = servers[1]
    mariadb_admin(laptop, f"CREATE DATABASE {LOCAL_DB}", f"CREATE TABLE {LOCAL_DB}.mine (id INT PRIMARY KEY)",
                  f"INSERT INTO {LOCAL_DB}.mine VALUES (7)")
    yield url_of(laptop, LOCAL_DB)
    for (name,) in mariadb_admin(laptop, "SHOW DATABASES"):
        if str(name).startswith(LOCAL_DB):
            mariadb_admin(laptop, f"DROP DATABASE `{name}`")


def laptop_state(servers: tuple[DatabaseConfig, DatabaseConfig]) -> tuple[list[str], list[tuple[object, ...]]]:
    """The laptop's databases of the test (a scratch or kept copy would show) and the rows of its own table."""
    laptop = servers[1]
    names = sorted(str(name) for (name,) in mariadb_admin(laptop, "SHOW DATABASES") if str(name).startswith(LOCAL_DB))
    tables = sorted(str(row[0]) for row in mariadb_admin(laptop, f"SHOW TABLES FROM {LOCAL_DB}"))
    return names + tables, mariadb_admin(laptop, f"SELECT id FROM {LOCAL_DB}.mine")


@pytest.fixture
def published(tmp_path: Path, servers: tuple[DatabaseConfig, DatabaseConfig],
              register_plugin: Callable[[object, str], None]) -> Iterator[tuple[str, str, object]]:
    """Production's session on a static server: (URL, key, the server's request log)."""
    register_plugin(SqlSource(), "sqlsource")
    register_plugin(LocalProject(), "localproject")
    app = tmp_path / "app"
    (app / "web" / "uploads").mkdir(parents=True)
    (app / "web" / "uploads" / "a.txt").write_text("upload\n")
    (app / SOURCE_MARKER).write_text(url_of(servers[0], SOURCE_DB))
    key = publish(app, SESSION)
    with static_server(app / "web") as (url, behaviour):
        yield url, key.secret, behaviour


def receive(url: str, key: str, tmp_path: Path, local_url: str, *extra: str) -> Result:
    local = tmp_path / "local"
    local.mkdir(exist_ok=True)
    (local / LOCAL_MARKER).write_text(local_url)
    return CliRunner().invoke(cli, ["receive", SESSION, key, "--base-url", url, "--target", str(tmp_path / "dump"),
                                    "--project", str(local), "--all", *extra])


def refusal_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.mysql
def test_receive_install_refuses_a_laptop_without_the_engine_and_the_packet(
        published: tuple[str, str, object], tmp_path: Path, laptop_database: str,
        servers: tuple[DatabaseConfig, DatabaseConfig]) -> None:
    url, key, behaviour = published
    before = laptop_state(servers)
    result = receive(url, key, tmp_path, laptop_database, "--install", "--yes")
    assert result.exit_code == 1, result.output
    line = refusal_line(result.output)
    assert line.startswith("Error: the local database server lacks what the dump dbDump needs to load into mysql "
                           f"database '{LOCAL_DB}': "
                           "storage engine ROCKSDB (install mariadb-plugin-rocksdb, then INSTALL SONAME "
                           "'ha_rocksdb'); max_allowed_packet 1048576 is too small for the dump's longest row, a "
                           "statement of "), line
    assert "(SET GLOBAL max_allowed_packet=2097152, or max_allowed_packet=2M under [mysqld]" in line
    assert line.endswith("; nothing was downloaded (--skip-requirements goes on anyway: the load may then fail on "
                         "it, the local database as it was)")
    # The session's description only: neither the dump nor a file was asked for.
    assert list(behaviour.requests) == [f"/{SESSION}/meta.json.enc"]  # type: ignore[attr-defined]
    assert laptop_state(servers) == before


@pytest.mark.mysql
def test_install_of_a_received_folder_refuses_before_changing_anything(
        published: tuple[str, str, object], tmp_path: Path, laptop_database: str,
        servers: tuple[DatabaseConfig, DatabaseConfig]) -> None:
    url, key, _ = published
    got = receive(url, key, tmp_path, laptop_database)
    assert got.exit_code == 0, got.output
    before = laptop_state(servers)
    record = (tmp_path / "dump" / ".synco-received.json").read_bytes()
    installed = CliRunner().invoke(cli, ["install", str(tmp_path / "dump"), "--project", str(tmp_path / "local"),
                                         "--yes"])
    assert installed.exit_code == 1, installed.output
    line = refusal_line(installed.output)
    assert "storage engine ROCKSDB" in line and "max_allowed_packet 1048576" in line, line
    assert "; nothing was changed (--skip-requirements goes on anyway" in line, line
    assert laptop_state(servers) == before
    assert (tmp_path / "dump" / ".synco-received.json").read_bytes() == record


@pytest.mark.mysql
def test_skip_requirements_downloads_and_leaves_the_laptop_as_it_was_when_the_load_fails(
        published: tuple[str, str, object], tmp_path: Path, laptop_database: str,
        servers: tuple[DatabaseConfig, DatabaseConfig]) -> None:
    """With --skip-requirements the line is a warning and the session is downloaded; the load then fails on
    what was named (the long row, the engine), in the scratch database: the laptop's database as it was."""
    url, key, behaviour = published
    before = laptop_state(servers)
    result = receive(url, key, tmp_path, laptop_database, "--install", "--yes", "--skip-requirements")
    assert "going on (--skip-requirements)" in result.output, result.output
    assert any(path.startswith(f"/{SESSION}/dump.") for path in behaviour.requests), \
        behaviour.requests  # type: ignore[attr-defined]
    assert result.exit_code == 1, result.output
    assert laptop_state(servers) == before


@pytest.mark.mysql
def test_a_laptop_with_what_the_dump_needs_installs_it(
        published: tuple[str, str, object], tmp_path: Path, servers: tuple[DatabaseConfig, DatabaseConfig]) -> None:
    """The refusal is the laptop's: production's own server (ROCKSDB, a 64 MiB packet) takes the session."""
    url, key, _ = published
    production = servers[0]
    target = "synco_test_h_preflight_copy"
    try:
        result = receive(url, key, tmp_path, url_of(production, target), "--install", "--yes")
        assert result.exit_code == 0, result.output
        assert mariadb_admin(production, f"SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA="
                                         f"'{target}' AND TABLE_NAME='events'") == [("ROCKSDB",)]
        assert mariadb_admin(production, f"SELECT LENGTH(body) FROM {target}.pages") == [(LONG_ROW,)]
    finally:
        for (name,) in mariadb_admin(production, "SHOW DATABASES"):
            if str(name).startswith(target):
                mariadb_admin(production, f"DROP DATABASE `{name}`")


@pytest.mark.mysql
def test_pull_install_refuses_before_the_remote_side_dumps_anything(
        tmp_path: Path, laptop_database: str, servers: tuple[DatabaseConfig, DatabaseConfig]) -> None:
    """The remote side reads what its dump would need from the catalogue, before it builds anything: the
    streamed dump never starts, nothing arrives, the laptop's database is as it was."""
    env = remote_environment(tmp_path)
    remote = tmp_path / "srv" / "shop"
    make_project(remote, public_files=3, rows=0)
    (remote / "synco-pulltest.json").write_text(json.dumps({"database_url": url_of(servers[0], SOURCE_DB)}))
    laptop = tmp_path / "laptop"
    make_project(laptop, public_files=0, rows=0)
    (laptop / "synco-pulltest.json").write_text(json.dumps({"database_url": laptop_database}))
    before = laptop_state(servers)

    result = run_synco(["pull", f"docker://web-1{remote}", "--target", "out", "--install", "--yes"], env, laptop)

    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert "storage engine ROCKSDB (install mariadb-plugin-rocksdb" in errors[0], errors[0]
    assert errors[0].endswith("nothing was downloaded (--skip-requirements goes on anyway: the load may then fail "
                              "on it, the local database as it was)"), errors[0]
    # The remote side never began to build: no dump, no index, nothing received.
    assert "building the PullTest session" not in result.stderr, result.stderr
    assert not (laptop / "out").exists() or not any(path.is_file() for path in (laptop / "out").rglob("*"))
    assert laptop_state(servers) == before


@pytest.mark.postgres
def test_receive_install_refuses_a_postgresql_laptop_older_than_production(
        tmp_path: Path, register_plugin: Callable[[object, str], None],
        postgres_database_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A PostgreSQL dump recorded on a newer major version than the laptop's (production on 17, the laptop on
    15) and with an extension the laptop has no package for: one line names both, nothing is downloaded. The
    dump is real (the shared server's); what it says it needs is a newer server's, as recorded there."""
    import synco_core.engines.postgresql.requirements as pg_requirements

    recorded = pg_requirements.recorded

    def newer(conn: object, oids: object) -> DumpRequirements:
        needs = recorded(conn, oids)  # type: ignore[arg-type]
        return DumpRequirements(server_version="17.2", extensions={**needs.extensions, "pgrouting": "3.6.1"},
                                collations=needs.collations)

    monkeypatch.setattr(pg_requirements, "recorded", newer)
    register_plugin(SqlSource(), "sqlsource")
    register_plugin(LocalProject(), "localproject")
    app = tmp_path / "app"
    (app / "web" / "uploads").mkdir(parents=True)
    (app / "web" / "uploads" / "a.txt").write_text("upload\n")
    (app / SOURCE_MARKER).write_text(postgres_url_for(postgres_database_factory()))
    key = publish(app, SESSION)
    local_url = postgres_url_for(postgres_database_factory())
    with static_server(app / "web") as (url, behaviour):
        result = receive(url, key.secret, tmp_path, local_url, "--install", "--yes")
    assert result.exit_code == 1, result.output
    line = refusal_line(result.output)
    assert "is older than the source's 17.2, whose dump may use what" in line, line
    assert "extension pgrouting 3.6.1 (install postgresql-" in line, line
    assert line.endswith("nothing was downloaded (--skip-requirements goes on anyway: the load may then fail on "
                         "it, the local database as it was)"), line
    assert list(behaviour.requests) == [f"/{SESSION}/meta.json.enc"]  # type: ignore[attr-defined]
