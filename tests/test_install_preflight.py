"""``receive --install`` and ``pull --install`` check the local database before a byte is downloaded.

The local database must be on this machine, reachable with the configured credentials, and replaceable by
that user (the engine's ``check_install_target``): a wrong port, a wrong password or a missing right is a
one-line error in a second, and the server is never asked for anything. Checked on the real MariaDB,
PostgreSQL and SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from test_receive_support import LOCAL_MARKER, LocalProject
from test_transfer_support import FixturePlugin, make_app, publish, static_server

from synco_core.cli.main import cli
from synco_core.dburl import parse_database_url
from synco_core.errors import DatabaseError
from synco_core.plugins import get_plugin_manager
from synco_core.testing.services import (
    MYSQL_HOST,
    MYSQL_PORT,
    POSTGRES_HOST,
    POSTGRES_PORT,
    mysql_admin_connection,
    mysql_url_for,
    postgres_admin_connection,
    postgres_url_for,
    unique_name,
)
from synco_core.values import InstallOptions

SESSION = "synco-preflight0123456789"


@pytest.fixture
def published(tmp_path: Path, register_plugin: Callable[[object, str], None]) -> Iterator[tuple[str, str, object]]:
    """The fixture app's session on a static server: (URL, key, the server's request log)."""
    register_plugin(FixturePlugin(engine="sqlite"), "fixture")
    register_plugin(LocalProject(), "localproject")
    app = make_app(tmp_path / "app")
    key = publish(app, SESSION)
    with static_server(app / "web") as (url, behaviour):
        yield url, key.secret, behaviour


def receive_install(url: str, key: str, tmp_path: Path, local_url: str) -> Result:
    local = tmp_path / "local"
    local.mkdir(exist_ok=True)
    (local / LOCAL_MARKER).write_text(local_url)
    return CliRunner().invoke(cli, ["receive", SESSION, key, "--base-url", url, "--target", str(tmp_path / "dump"),
                                    "--project", str(local), "--all", "--install", "--yes"])


def check(url: str) -> object:
    database = parse_database_url(url)
    return get_plugin_manager().hook.check_install_target(database=database, options=InstallOptions())


@pytest.mark.mysql
def test_check_install_target_mysql(published: tuple[str, str, object], tmp_path: Path,
                                    mysql_database_factory: Callable[[], str]) -> None:
    url, key, behaviour = published
    database = mysql_database_factory()
    assert check(mysql_url_for(database)) is True
    # The check leaves nothing behind: no scratch database stays.
    conn = mysql_admin_connection()
    with conn.cursor() as cur:
        cur.execute("SHOW DATABASES LIKE %s", (f"{database}__synco%",))
        assert cur.fetchall() == ()
    conn.close()

    # A wrong port (nothing listens there): found before the download, in one line.
    wrong_port = mysql_url_for(database).replace(f":{MYSQL_PORT}/", ":1/")
    result = receive_install(url, key, tmp_path, wrong_port)
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot connect to ") and "127.0.0.1:1" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not behaviour.requests and not (tmp_path / "dump").exists()  # type: ignore[attr-defined]

    # A user who may log in but not create the scratch database the install needs.
    user = unique_name("ro")
    conn = mysql_admin_connection()
    with conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-{user}'")
        cur.execute(f"GRANT SELECT ON `{database}`.* TO '{user}'@'%'")
    try:
        limited = f"mysql://{user}:pw-{user}@{MYSQL_HOST}:{MYSQL_PORT}/{database}"
        with pytest.raises(DatabaseError, match=f"cannot create the database '{database}__synco_new'"):
            check(limited)
        result = receive_install(url, key, tmp_path, limited)
        assert result.exit_code == 1 and "cannot create the database" in result.output, result.output
        assert f"pw-{user}" not in result.output
        assert not behaviour.requests  # type: ignore[attr-defined]
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP USER '{user}'@'%'")
        conn.close()


@pytest.mark.postgres
def test_check_install_target_postgresql(published: tuple[str, str, object], tmp_path: Path,
                                         postgres_database_factory: Callable[[], str]) -> None:
    url, key, behaviour = published
    database = postgres_database_factory()
    assert check(postgres_url_for(database)) is True
    role = unique_name("nocreate")
    conn = postgres_admin_connection()
    conn.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        limited = f"postgresql://{role}@{POSTGRES_HOST}:{POSTGRES_PORT}/{database}"
        # Neither may create databases nor owns the target: it could replace it neither way.
        with pytest.raises(DatabaseError, match=f"database '{database}' .* belongs to .*ALTER DATABASE"):
            check(limited)
        conn.execute(f'ALTER ROLE "{role}" CREATEDB')
        # May create databases now, but the target belongs to someone else: it could not be replaced.
        with pytest.raises(DatabaseError, match=f"database '{database}' .* belongs to"):
            check(limited)
        result = receive_install(url, key, tmp_path, limited)
        assert result.exit_code == 1 and "belongs to" in result.output, result.output
        assert not behaviour.requests  # type: ignore[attr-defined]
        wrong_port = postgres_url_for(database).replace(f":{POSTGRES_PORT}/", ":1/")
        result = receive_install(url, key, tmp_path, wrong_port)
        assert result.exit_code == 1 and "cannot connect to PostgreSQL" in result.output, result.output
        assert not behaviour.requests  # type: ignore[attr-defined]
    finally:
        conn.execute(f'DROP ROLE "{role}"')
        conn.close()


@pytest.mark.postgres
def test_a_read_only_postgresql_is_refused_before_the_download(published: tuple[str, str, object], tmp_path: Path,
                                                               postgres_database_factory: Callable[[], str]) -> None:
    """A server (or role) whose transactions are read-only by default failed the install only after the
    download, on 'cannot execute DROP DATABASE in a read-only transaction'; it is named before any request."""
    url, key, behaviour = published
    database = postgres_database_factory()
    role = unique_name("readonly")
    conn = postgres_admin_connection()
    conn.execute(f'CREATE ROLE "{role}" LOGIN CREATEDB')
    conn.execute(f'ALTER DATABASE "{database}" OWNER TO "{role}"')
    conn.execute(f'ALTER ROLE "{role}" SET default_transaction_read_only = on')
    try:
        local = f"postgresql://{role}@{POSTGRES_HOST}:{POSTGRES_PORT}/{database}"
        with pytest.raises(DatabaseError, match="has default_transaction_read_only = on for this role"):
            check(local)
        result = receive_install(url, key, tmp_path, local)
        assert result.exit_code == 1 and "default_transaction_read_only = on" in result.output, result.output
        assert not behaviour.requests  # type: ignore[attr-defined]
    finally:
        conn.execute(f'ALTER DATABASE "{database}" OWNER TO CURRENT_USER')
        conn.execute(f'DROP ROLE "{role}"')
        conn.close()


def test_check_install_target_sqlite(published: tuple[str, str, object], tmp_path: Path) -> None:
    url, key, behaviour = published
    assert check(f"sqlite:///{tmp_path}/new/folder/app.sqlite") is True
    (tmp_path / "blocker").write_text("a file where the database's folder should be\n")
    blocked = f"sqlite:///{tmp_path}/blocker/app.sqlite"
    with pytest.raises(DatabaseError, match="is not a folder this user may write to"):
        check(blocked)
    result = receive_install(url, key, tmp_path, blocked)
    assert result.exit_code == 1 and "is not a folder" in result.output, result.output
    assert not behaviour.requests  # type: ignore[attr-defined]


@pytest.mark.postgres
@pytest.mark.mysql
@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_a_dump_of_another_engine_is_refused_before_the_download(
        published: tuple[str, str, object], tmp_path: Path, engine: str,
        postgres_database_factory: Callable[[], str], mysql_database_factory: Callable[[], str]) -> None:
    """The session holds an SQLite dump and the local project another engine (production on PostgreSQL and the
    laptop on Django's default SQLite is the usual way round): no engine converts another's dump, and the load
    failed half-way on the SQL error of the first statement the local engine did not know ('near "SET": syntax
    error'). Now one line names both engines, before the dump is downloaded; `synco install` of a received
    folder says the same before anything is replaced."""
    url, key, behaviour = published
    local = (postgres_url_for(postgres_database_factory()) if engine == "postgresql"
             else mysql_url_for(mysql_database_factory()))
    result = receive_install(url, key, tmp_path, local)
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: dbDump is a sqlite dump but the local database {engine}://"), result.output
    assert f"is {engine}: synco loads a dump only into a database of the same engine" in result.output
    assert len(result.output.strip().splitlines()) == 1
    # The session's description only: no artifact was asked for.
    assert list(behaviour.requests) == [f"/{SESSION}/meta.json.enc"]  # type: ignore[attr-defined]

    received = tmp_path / "received"
    got = CliRunner().invoke(cli, ["receive", SESSION, key, "--base-url", url, "--target", str(received), "--all"])
    assert got.exit_code == 0, got.output
    installed = CliRunner().invoke(cli, ["install", str(received), "--project", str(tmp_path / "local"), "--yes"])
    assert installed.exit_code == 1
    assert installed.output.startswith("Error: dbDump is a sqlite dump but the local database"), installed.output
