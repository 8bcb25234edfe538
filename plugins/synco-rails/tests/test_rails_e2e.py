"""End to end on a Rails-shaped application: serve -> receive -> install on PostgreSQL and on MariaDB.

The application is the fixture under ``fixtures/shop`` (Rails 7's layout: ``bin/rails``,
``config/database.yml`` with ERB and anchors, ``config/storage.yml``, Active Storage blobs in
``storage/``, CarrierWave uploads in ``public/uploads``); its tables are Devise's ``users``,
activerecord-session_store's ``sessions`` and Rails' own. The server side reads ``production`` (its
databases from ``DATABASE_URL`` / ``ANALYTICS_DATABASE_URL``, as a deployment sets them), the laptop
side ``development``. The source's ``public/`` is served by a real HTTP server on 127.0.0.1.

Ruby is not installed here: each test runs once with a Ruby shim answering ``bin/rails runner`` (the
path synco takes when Ruby and the bundle work) and once with no Ruby, reading the files.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import runner_answer
from synco_rails.databases import PASSWORD_HASH

from synco_core.testing import SyncoPluginManager, cli
from synco_core.testing.services import (
    MYSQL_HOST,
    MYSQL_PORT,
    MYSQL_USER,
    POSTGRES_HOST,
    POSTGRES_PORT,
    POSTGRES_USER,
    mysql_admin_connection,
    postgres_admin_connection,
)

Make = Callable[..., Path]
Serve = Callable[[Path], str]
PG_PASSWORD = "rails-Secret-4711"

#: Devise's users, activerecord-session_store's sessions, Rails' own tables, and the application's.
TABLES = (
    "CREATE TABLE schema_migrations (version VARCHAR(20) PRIMARY KEY)",
    "CREATE TABLE ar_internal_metadata (`key` VARCHAR(50) PRIMARY KEY, value VARCHAR(50))",
    "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL, encrypted_password VARCHAR(100) NOT NULL,"
    " reset_password_token VARCHAR(100), last_sign_in_ip VARCHAR(40), avatar VARCHAR(100))",
    "CREATE TABLE sessions (id INT PRIMARY KEY, session_id VARCHAR(100), data TEXT)",
    "CREATE TABLE posts (id INT PRIMARY KEY, title VARCHAR(100))",
)
ROWS = (
    "INSERT INTO schema_migrations VALUES ('20240101000000'), ('20240502120000')",
    "INSERT INTO ar_internal_metadata VALUES ('environment', 'production')",
    "INSERT INTO users VALUES (1, 'ann@real.example', '$2a$12$realhashofann', 'reset-token-1', '198.51.100.7', "
    "'ann.png'), (2, 'bob@real.example', '$2a$12$realhashofbob', NULL, '203.0.113.9', NULL)",
    "INSERT INTO sessions VALUES (1, 'abc', 'secret session data')",
    "INSERT INTO posts VALUES (1, 'Hello from production')",
)


def statements(engine: str) -> list[str]:
    both = [*TABLES, *ROWS]
    return [s.replace("`key`", '"key"') for s in both] if engine == "postgresql" else list(both)


def add_content(app: Path) -> None:
    """Active Storage blobs (and the SQLite files Rails 7.1+ keeps beside them), CarrierWave uploads."""
    (app / "storage/ab/cd").mkdir(parents=True)
    (app / "storage/ab/cd/abcd1234efgh").write_text("resume of ann\n")
    (app / "storage/production.sqlite3").write_text("the server's own SQLite file: never sent\n")
    (app / "public/uploads/user/avatar/1").mkdir(parents=True)
    (app / "public/uploads/user/avatar/1/ann.png").write_text("avatar of ann\n")


def local_content(app: Path) -> None:
    (app / "storage/zz").mkdir(parents=True)
    (app / "storage/zz/local-blob").write_text("replaced by the install\n")
    (app / "storage/development.sqlite3").write_text("the laptop's own SQLite file: kept\n")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def transfer(source: Path, target: Path, base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             server_env: dict[str, str], serve_args: tuple[str, ...] = ()) -> Result:
    """serve in ``source`` with ``server_env`` set (as on the server), then receive and install without it."""
    for name, value in server_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(source)
    served = run("serve", "--keep", *serve_args)
    assert served.exit_code == 0, served.output
    match = re.search(r"synco receive (\S+) (AGE-SECRET-KEY-\S+)", served.output)
    assert match, served.output
    for name in server_env:
        monkeypatch.delenv(name)
    received = tmp_path / "received"
    got = run("receive", match.group(1), match.group(2), "--base-url", base_url, "--all", "--target", str(received))
    assert got.exit_code == 0, got.output
    installed = run("install", str(received), "--project", str(target), "--yes")
    assert installed.exit_code == 0, installed.output
    return installed


def check_files(target: Path) -> None:
    assert (target / "storage/ab/cd/abcd1234efgh").read_text() == "resume of ann\n"
    assert not (target / "storage/zz").exists()
    assert not (target / "storage/production.sqlite3").exists(), "the server's SQLite files stay there"
    assert (target / "storage/development.sqlite3").read_text() == "the laptop's own SQLite file: kept\n"
    assert (target / "public/uploads/user/avatar/1/ann.png").read_text() == "avatar of ann\n"


@pytest.mark.postgres
@pytest.mark.slow
def test_serve_receive_install_postgresql_multi_database(make_app: Make, rails_manager: SyncoPluginManager,
                                                         postgres_database_factory: Callable[[], str],
                                                         web_server: Serve, ruby_mode: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    names = {side: (postgres_database_factory(), postgres_database_factory()) for side in ("source", "target")}
    for side, (primary, analytics) in names.items():
        conn = postgres_admin_connection(primary)
        for statement in statements("postgresql"):
            conn.execute(statement.replace("production", side) if "posts" in statement else statement)
        conn.close()
        stats = postgres_admin_connection(analytics)
        stats.execute("CREATE TABLE page_views (id INT PRIMARY KEY, path TEXT)")
        stats.execute("INSERT INTO page_views VALUES (1, %s)", (f"/{side}",))
        stats.close()
    source, target = make_app("source"), make_app("target")
    yml = (target / "config/database.yml").read_text()
    (target / "config/database.yml").write_text(
        yml.replace("shop_analytics_development", names["target"][1]).replace("shop_development", names["target"][0]))
    add_content(source)
    local_content(target)
    url = f"postgres://{POSTGRES_USER}:{PG_PASSWORD}@{POSTGRES_HOST}:{POSTGRES_PORT}/"
    server_env = {"DATABASE_URL": url + names["source"][0], "ANALYTICS_DATABASE_URL": url + names["source"][1]}
    if ruby_mode == "runner-shim":
        # What Rails reports: the URLs merged over database.yml's settings, the replica left out.
        runner_answer(source, "production", [
            ("primary", {"adapter": "postgresql", "database": names["source"][0], "host": POSTGRES_HOST,
                         "port": POSTGRES_PORT, "username": POSTGRES_USER, "password": PG_PASSWORD}),
            ("analytics", {"adapter": "postgresql", "database": names["source"][1], "host": POSTGRES_HOST,
                           "port": POSTGRES_PORT, "username": POSTGRES_USER})])
        runner_answer(target, "development", [
            ("primary", {"adapter": "postgresql", "database": names["target"][0], "host": POSTGRES_HOST,
                         "username": POSTGRES_USER}),
            ("analytics", {"adapter": "postgresql", "database": names["target"][1], "host": POSTGRES_HOST,
                           "username": POSTGRES_USER})])
    monkeypatch.setenv("SHOP_DATABASE_PASSWORD", PG_PASSWORD)
    for name, value in server_env.items():
        monkeypatch.setenv(name, value)
    detected = run("detect", "--json", str(source))
    assert detected.exit_code == 0, detected.output
    assert f'"configSource": "{"runner" if ruby_mode == "runner-shim" else "files"}"' in detected.stdout
    assert '"dbDump-analytics"' in detected.stdout and PG_PASSWORD not in detected.output

    installed = transfer(source, target, web_server(source / "public"), tmp_path, monkeypatch, server_env,
                         ("--only", "dbDump,dbDump-analytics,local,uploads"))
    assert "bin/rails db:migrate:status" in installed.output, "the post-install step is reported, not run"
    assert PG_PASSWORD not in installed.output

    conn = postgres_admin_connection(names["target"][0])
    users = conn.execute("SELECT id, email, encrypted_password, reset_password_token, last_sign_in_ip, avatar "
                         "FROM users ORDER BY id").fetchall()
    sessions = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()
    versions = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    metadata = conn.execute("SELECT value FROM ar_internal_metadata").fetchall()
    posts = conn.execute("SELECT title FROM posts").fetchall()
    conn.close()
    assert users == [(1, "user1@example.invalid", PASSWORD_HASH, None, None, "ann.png"),
                     (2, "user2@example.invalid", PASSWORD_HASH, None, None, None)]
    assert sessions == (0,)
    assert versions == [("20240101000000",), ("20240502120000",)] and metadata == [("production",)]
    assert posts == [("Hello from source",)]
    stats = postgres_admin_connection(names["target"][1])
    assert stats.execute("SELECT path FROM page_views").fetchall() == [("/source",)]
    stats.close()
    check_files(target)


@pytest.mark.mysql
@pytest.mark.slow
def test_serve_receive_install_mariadb(make_app: Make, rails_manager: SyncoPluginManager,
                                       mysql_database_factory: Callable[[], str], web_server: Serve, ruby_mode: str,
                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    databases = {"source": mysql_database_factory(), "target": mysql_database_factory()}
    for side, name in databases.items():
        conn = mysql_admin_connection(name)
        with conn.cursor() as cur:
            for statement in statements("mysql"):
                cur.execute(statement.replace("production", side) if "posts" in statement else statement)
        conn.close()
    yml = f"""
default: &default
  adapter: mysql2
  encoding: utf8mb4
  pool: <%= ENV.fetch("RAILS_MAX_THREADS") {{ 5 }} %>
  username: {MYSQL_USER}
  password: <%= ENV["SHOP_DATABASE_PASSWORD"] %>
  host: <%= ENV.fetch("DB_HOST") {{ "{MYSQL_HOST}" }} %>
  port: {MYSQL_PORT}

development:
  <<: *default
  database: {databases["target"]}

production:
  <<: *default
  database: <%= ENV["SHOP_DB_NAME"] %>
"""
    source, target = make_app("source", database_yml=yml), make_app("target", database_yml=yml)
    add_content(source)
    local_content(target)
    if ruby_mode == "runner-shim":
        runner_answer(source, "production", [("primary", {"adapter": "mysql2", "database": databases["source"],
                                                          "host": MYSQL_HOST, "port": MYSQL_PORT,
                                                          "username": MYSQL_USER, "password": ""})])
        runner_answer(target, "development", [("primary", {"adapter": "mysql2", "database": databases["target"],
                                                           "host": MYSQL_HOST, "port": MYSQL_PORT,
                                                           "username": MYSQL_USER, "password": ""})])
    transfer(source, target, web_server(source / "public"), tmp_path, monkeypatch,
             {"SHOP_DB_NAME": databases["source"]})

    conn = mysql_admin_connection(databases["target"])
    with conn.cursor() as cur:
        cur.execute("SELECT id, email, encrypted_password, reset_password_token FROM users ORDER BY id")
        users = cur.fetchall()
        cur.execute("SELECT COUNT(*) FROM sessions")
        sessions = cur.fetchone()
        cur.execute("SELECT COUNT(*) FROM schema_migrations")
        versions = cur.fetchone()
        cur.execute("SELECT title FROM posts")
        posts = cur.fetchall()
    conn.close()
    assert [tuple(u) for u in users] == [(1, "user1@example.invalid", PASSWORD_HASH, None),
                                         (2, "user2@example.invalid", PASSWORD_HASH, None)]
    assert sessions == (0,) and versions == (2,) and posts == (("Hello from source",),)
    check_files(target)
