"""Connection settings in a database URL's query (``?password=``, ``?user=``, ``?host=``, ``?port=``, libpq's
other keywords, PyMySQL's ``passwd`` and ``db``) are used, against real servers with a user that has a password.

They were left among the driver options, where nothing read them: the connection went without the password
(``postgresql://u@127.0.0.1/db?password=x`` failed, "no password supplied"), as another user or to another
server. A setting given twice with two values, or one synco cannot follow (``hostaddr``, ``service``), is
refused in one line naming its key, and the password never shows.
"""

from __future__ import annotations

import json
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pymysql
import pytest
from click.testing import CliRunner
from private_servers import postgresql, postgresql_admin

from synco_core import DatabaseConfig
from synco_core.cli.main import cli
from synco_core.dburl import parse_database_url
from synco_core.engines.mysql.connect import connect as mysql_connect
from synco_core.engines.postgresql.connection import connect as pg_connect
from synco_core.errors import ConfigError, DatabaseError
from synco_core.testing.services import MYSQL_HOST, MYSQL_PORT, mysql_admin_connection, unique_name

#: A password with what URL forms read specially: "+" (libpq keeps it, form decoding makes it a space), "&", "=".
PASSWORD = "Pa+ss w&rd=9x"
ENCODED = quote(PASSWORD, safe="")


@pytest.fixture
def pg_role() -> Iterator[tuple[int, str]]:
    """A private cluster whose TCP logins need a password but the superuser's, and a role with one: (port, role)."""
    folder = Path(tempfile.mkdtemp(prefix="synco-test-p-small-fixes-hba-"))
    try:
        # The server runs as the postgres account: the folder and the file must be readable by it.
        folder.chmod(0o755)
        hba = folder / "pg_hba.conf"
        hba.write_text("local all all trust\nhost all postgres 127.0.0.1/32 trust\n"
                       "host all all 127.0.0.1/32 scram-sha-256\n")
        hba.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
        with postgresql(settings=[f"hba_file={hba}"]) as server:
            role = unique_name("synco_test_p_small_fixes")
            escaped = PASSWORD.replace("'", "''")
            postgresql_admin(server, "SET password_encryption = 'scram-sha-256'",
                             f"CREATE ROLE {role} LOGIN PASSWORD '{escaped}'")
            assert server.port is not None
            yield server.port, role
    finally:
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()


@pytest.mark.postgres
@pytest.mark.parametrize("url", [
    "postgresql://{role}@127.0.0.1:{port}/postgres?password={pw}",
    "postgresql:///postgres?host=127.0.0.1&port={port}&user={role}&password={pw}",
    "postgresql://127.0.0.1:{port}/?dbname=postgres&user={role}&password={pw}&connect_timeout=5&serverVersion=15",
    "postgres://{role}:{pw}@127.0.0.1:{port}/postgres?password={pw}&keepalives=1",
], ids=["password", "every part", "dbname, libpq and framework keys", "twice, alike"])
def test_postgresql_query_settings_are_used(pg_role: tuple[int, str], url: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    port, role = pg_role
    monkeypatch.delenv("PGPASSWORD", raising=False)
    database = parse_database_url(url.format(role=role, port=port, pw=ENCODED))
    assert database.password == PASSWORD and PASSWORD not in repr(database) and PASSWORD not in database.url(
        mask_password=True)
    with pg_connect(database) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (role, "postgres")


@pytest.mark.postgres
def test_postgresql_wrong_query_password_is_one_line_without_it(pg_role: tuple[int, str]) -> None:
    port, role = pg_role
    wrong = "Wr0ng+secret-pw"
    with pytest.raises(DatabaseError, match="password authentication failed") as failure:
        pg_connect(parse_database_url(f"postgresql://{role}@127.0.0.1:{port}/postgres?password={wrong}"))
    assert wrong not in str(failure.value) and "\n" not in str(failure.value)


@pytest.fixture
def mysql_user(mysql_database_factory: Callable[[], str]) -> Iterator[tuple[str, str]]:
    """A MariaDB user with a password, allowed into one throw-away database: (user, database)."""
    name = mysql_database_factory()
    user = unique_name("synco_test_p_small_fixes")
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            for host in ("%", "localhost", "127.0.0.1"):
                # PyMySQL formats the statement with its arguments: the host's "%" is written "%%".
                cur.execute(f"CREATE USER '{user}'@'{host.replace('%', '%%')}' IDENTIFIED BY %s", (PASSWORD,))
                cur.execute(f"GRANT ALL ON `{name}`.* TO '{user}'@'{host}'")
        yield user, name
    finally:
        with conn.cursor() as cur:
            for host in ("%", "localhost", "127.0.0.1"):
                cur.execute(f"DROP USER IF EXISTS '{user}'@'{host}'")
        conn.close()


@pytest.mark.mysql
@pytest.mark.parametrize("url", [
    "mysql://{user}@{host}:{port}/{db}?password={pw}",
    "mysql://{host}:{port}/?user={user}&passwd={pw}&db={db}&charset=utf8mb4",
    "mariadb://{host}/{db}?username={user}&password={pw}&port={port}",
], ids=["password", "PyMySQL's names", "Rails' username, port"])
def test_mysql_query_settings_are_used(mysql_user: tuple[str, str], url: str) -> None:
    user, name = mysql_user
    database = parse_database_url(url.format(user=user, host=MYSQL_HOST, port=MYSQL_PORT, db=name, pw=ENCODED))
    assert database.password == PASSWORD and PASSWORD not in repr(database)
    conn = mysql_connect(database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1), DATABASE()")
            assert cur.fetchone() == (user, name)
    finally:
        conn.close()


@pytest.mark.mysql
def test_db_dump_with_the_password_in_the_query(mysql_user: tuple[str, str], tmp_path: Path) -> None:
    user, name = mysql_user
    conn = pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user=user, password=PASSWORD, database=name,
                           ssl_disabled=True)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE t (id INT PRIMARY KEY, note VARCHAR(20))")
            cur.execute("INSERT INTO t VALUES (1, 'reached')")
        conn.commit()
    finally:
        conn.close()
    out = tmp_path / "dump.sql"
    url = f"mysql://{user}@{MYSQL_HOST}:{MYSQL_PORT}/{name}?password={ENCODED}"
    result = CliRunner().invoke(cli, ["db", "dump", url, "-o", str(out), "--debug"])
    assert result.exit_code == 0, result.output
    assert b"reached" in out.read_bytes()
    assert PASSWORD not in result.output and ENCODED not in result.output


@pytest.mark.parametrize(("url", "message"), [
    ("postgresql://u:one-secret-pw@h/db?password=two-secret-pw",
     "gives the password twice, with different values (user:password@ and ?password=)"),
    ("mysql://h/db?password=one-secret-pw&passwd=two-secret-pw",
     "gives the password twice, with different values (?password= and ?passwd=)"),
    ("postgresql://u@h/db?user=v", "gives the user name twice, with different values (user@ and ?user=): u, v"),
    ("postgresql://u@h:5432/db?port=5433", "gives the port twice, with different values (host:port and ?port=)"),
    ("mysql://u@h/db?db=other", "gives the database name twice, with different values (the path and ?db=)"),
    ("postgresql://u@h/db?hostaddr=10.0.0.5", "option ?hostaddr= is not supported"),
    ("postgresql://u@h/db?service=prod", "option ?service= is not supported"),
    ("postgresql://u@h/db?port=none&password=three-secret-pw", "invalid port in ?port=: 'none'"),
])
def test_query_settings_synco_cannot_follow_are_refused(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_database_url(url)
    text = str(refused.value)
    assert message in text and "\n" not in text, text
    assert "secret-pw" not in text, text


def test_libpq_ssl_true_means_sslmode_require() -> None:
    assert parse_database_url("postgresql://u@h/db?ssl=true").options["sslmode"] == "require"
    assert parse_database_url("postgresql://u@h/db?ssl=true&sslmode=disable").options["sslmode"] == "disable"


def test_libpq_options_pass_what_libpq_knows() -> None:
    from synco_core.engines.postgresql.connection import libpq_options

    known = libpq_options()
    assert {"sslmode", "keepalives", "tcp_user_timeout", "passfile", "connect_timeout"} <= known
    assert not {"password", "user", "host", "port", "dbname", "hostaddr", "service", "serverVersion"} & known


def test_a_query_host_decides_whether_the_database_is_local() -> None:
    """``db load`` replaces a remote database only with ``--force-remote-target``: a ``?host=`` the connection
    follows must count, not the empty host before it."""
    remote = parse_database_url("postgresql:///app?host=db.example.com&port=6432")
    assert (remote.host, remote.port, remote.is_local()) == ("db.example.com", 6432, False)
    assert parse_database_url("mysql:///app?host=127.0.0.1&user=app").is_local()


# Credentials a plugin gives among a DatabaseConfig's options: the plugin API documents the options as driver
# options and the password among them as a secret, so a plugin that read ``'password' => ...`` from a
# framework's connection array into ``options`` (as a URL's query once was) connected without it.

OWN_PREFIX = "synco_test_secret_edges"


@pytest.fixture
def own_mysql_user() -> Iterator[tuple[str, str]]:
    """A MariaDB user with a password and its own throw-away database: (user, database)."""
    name, user = unique_name(OWN_PREFIX), unique_name(OWN_PREFIX)
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
            for host in ("%", "localhost", "127.0.0.1"):
                cur.execute(f"CREATE USER '{user}'@'{host.replace('%', '%%')}' IDENTIFIED BY %s", (PASSWORD,))
                cur.execute(f"GRANT ALL ON `{name}`.* TO '{user}'@'{host}'")
        yield user, name
    finally:
        with conn.cursor() as cur:
            for host in ("%", "localhost", "127.0.0.1"):
                cur.execute(f"DROP USER IF EXISTS '{user}'@'{host}'")
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


@pytest.fixture
def own_pg_role() -> Iterator[tuple[int, str]]:
    """A private cluster whose TCP logins need a password but the superuser's, and a role with one: (port, role)."""
    folder = Path(tempfile.mkdtemp(prefix="synco-test-secret-edges-hba-"))
    try:
        folder.chmod(0o755)
        hba = folder / "pg_hba.conf"
        hba.write_text("local all all trust\nhost all postgres 127.0.0.1/32 trust\n"
                       "host all all 127.0.0.1/32 scram-sha-256\n")
        hba.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
        with postgresql(settings=[f"hba_file={hba}"]) as server:
            role = unique_name(OWN_PREFIX)
            escaped = PASSWORD.replace("'", "''")
            postgresql_admin(server, "SET password_encryption = 'scram-sha-256'",
                             f"CREATE ROLE {role} LOGIN PASSWORD '{escaped}'")
            assert server.port is not None
            yield server.port, role
    finally:
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()


@pytest.mark.mysql
@pytest.mark.parametrize("fields, options", [
    ({"user": "{user}", "name": "{db}"}, {"password": "{pw}"}),
    ({"user": "{user}", "name": "{db}"}, {"passwd": "{pw}", "charset": "utf8mb4"}),
    ({"name": ""}, {"username": "{user}", "password": "{pw}", "db": "{db}", "port": "{port}"}),
    ({"user": "{user}", "password": "{pw}", "name": "{db}"}, {"password": "{pw}"}),
], ids=["password", "PyMySQL's passwd", "every field", "twice, alike"])
def test_mysql_credentials_among_a_plugins_options_are_used(own_mysql_user: tuple[str, str],
                                                             fields: dict[str, str], options: dict[str, str]) -> None:
    user, name = own_mysql_user
    values = {"user": user, "db": name, "pw": PASSWORD, "port": str(MYSQL_PORT)}
    given: dict[str, object] = {key: value.format(**values) for key, value in fields.items()}
    given.setdefault("port", MYSQL_PORT)
    database = DatabaseConfig(engine="mysql", host=MYSQL_HOST, options={k: v.format(**values)
                                                                         for k, v in options.items()},
                              **given)  # type: ignore[arg-type]
    assert database.password == PASSWORD
    assert PASSWORD not in repr(database) and PASSWORD not in json.dumps(database.masked())
    assert not set(database.options) & {"password", "passwd", "username", "user", "db", "port"}
    conn = mysql_connect(database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1), DATABASE()")
            assert cur.fetchone() == (user, name)
    finally:
        conn.close()


@pytest.mark.postgres
@pytest.mark.parametrize("fields, options", [
    ({"user": "{role}"}, {"password": "{pw}"}),
    ({"user": "{role}"}, {"password": "{pw}", "connect_timeout": "5"}),
    ({}, {"user": "{role}", "password": "{pw}", "dbname": "postgres", "host": "127.0.0.1", "port": "{port}"}),
], ids=["password", "with a libpq keyword", "every field"])
def test_postgresql_credentials_among_a_plugins_options_are_used(own_pg_role: tuple[int, str],
                                                                  fields: dict[str, str], options: dict[str, str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    port, role = own_pg_role
    monkeypatch.delenv("PGPASSWORD", raising=False)
    values = {"role": role, "pw": PASSWORD, "port": str(port)}
    given: dict[str, object] = {"name": "postgres", "host": "127.0.0.1", "port": port}
    if "host" in options:
        given = {"name": ""}
    given.update({key: value.format(**values) for key, value in fields.items()})
    database = DatabaseConfig(engine="postgresql", options={k: v.format(**values) for k, v in options.items()},
                              **given)  # type: ignore[arg-type]
    assert database.password == PASSWORD and PASSWORD not in repr(database)
    assert PASSWORD not in database.url(mask_password=True)
    with pg_connect(database) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (role, "postgres")


def test_credentials_a_plugins_options_give_twice_are_refused_without_the_password() -> None:
    with pytest.raises(ConfigError, match="password twice") as failure:
        DatabaseConfig(engine="mysql", name="app", user="u", password="Fir5t-secret-pw",
                       options={"password": "Sec0nd-secret-pw"}, source=".env")
    assert "secret-pw" not in str(failure.value) and ".env" in str(failure.value)
