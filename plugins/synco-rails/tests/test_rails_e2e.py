"""End to end on Rails applications: serve -> receive -> install on PostgreSQL and on MariaDB.

Twice over:

- with Ruby: real applications made by ``rails new`` (Debian's Rails 6.1, see ``rails_app`` in conftest),
  their schema made by their own migrations (``bin/rails db:migrate``, multi-database on PostgreSQL), synco
  reading the configuration through ``bin/rails runner``, and ``install --post-install`` running
  ``bin/rails db:migrate:status`` in the laptop's copy, whose output is checked;
- without Ruby: the Rails 7-shaped tree under ``fixtures/shop`` (``config/database.yml`` with ERB and
  anchors, ``config/storage.yml``), its tables made with SQL, synco reading the files.

Either way the tables are Devise's ``users``, a ``sessions`` table and Rails' own; Active Storage blobs
live in ``storage/`` and CarrierWave uploads in ``public/uploads``. The server side reads ``production``
(its databases from ``DATABASE_URL`` / ``ANALYTICS_DATABASE_URL``, as a deployment sets them), the laptop
side ``development``. The source's ``public/`` is served by a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rails_support import ruby_environment
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
    require_tool,
)

Make = Callable[..., Path]
#: The fixture's multi-database configuration: ERB, anchors, a replica, the analytics database.
SHOP_YML = (Path(__file__).parent / "fixtures/shop/config/database.yml").read_text()
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
             server_env: dict[str, str], serve_args: tuple[str, ...] = (),
             install_args: tuple[str, ...] = ()) -> Result:
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
    installed = run("install", str(received), "--project", str(target), "--yes", *install_args)
    assert installed.exit_code == 0, installed.output
    return installed


def check_files(target: Path) -> None:
    assert (target / "storage/ab/cd/abcd1234efgh").read_text() == "resume of ann\n"
    assert not (target / "storage/zz").exists()
    assert not (target / "storage/production.sqlite3").exists(), "the server's SQLite files stay there"
    assert (target / "storage/development.sqlite3").read_text() == "the laptop's own SQLite file: kept\n"
    assert (target / "public/uploads/user/avatar/1/ann.png").read_text() == "avatar of ann\n"


def check_installed_mariadb(database: str) -> list[str]:
    """Check the rows a MariaDB install left (users sanitised, sessions empty, posts kept); its migrations."""
    conn = mysql_admin_connection(database)
    with conn.cursor() as cur:
        cur.execute("SELECT id, email, encrypted_password, reset_password_token FROM users ORDER BY id")
        users = cur.fetchall()
        cur.execute("SELECT COUNT(*) FROM sessions")
        sessions = cur.fetchone()
        cur.execute("SELECT version FROM schema_migrations ORDER BY version")
        versions = [str(version) for (version,) in cur.fetchall()]
        cur.execute("SELECT title FROM posts")
        posts = cur.fetchall()
    conn.close()
    assert [tuple(u) for u in users] == [(1, "user1@example.invalid", PASSWORD_HASH, None),
                                         (2, "user2@example.invalid", PASSWORD_HASH, None)]
    assert sessions == (0,) and posts == (("Hello from source",),)
    return versions


@pytest.mark.postgres
@pytest.mark.slow
def test_without_ruby_serve_receive_install_postgresql_multi_database(
        make_app: Make, rails_manager: SyncoPluginManager, postgres_database_factory: Callable[[], str],
        web_server: Serve, no_ruby: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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
    monkeypatch.setenv("SHOP_DATABASE_PASSWORD", PG_PASSWORD)
    for name, value in server_env.items():
        monkeypatch.setenv(name, value)
    detected = run("detect", "--json", str(source))
    assert detected.exit_code == 0, detected.output
    assert '"configSource": "files"' in detected.stdout
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
def test_without_ruby_serve_receive_install_mariadb(make_app: Make, rails_manager: SyncoPluginManager,
                                                    mysql_database_factory: Callable[[], str], web_server: Serve,
                                                    no_ruby: None, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
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
    transfer(source, target, web_server(source / "public"), tmp_path, monkeypatch,
             {"SHOP_DB_NAME": databases["source"]})

    assert len(check_installed_mariadb(databases["target"])) == 2
    check_files(target)


# ------------------------------------------------------------------------------------ with real Ruby

#: The application's migrations, as files under db/ (``ActiveRecord::Migration[x]`` of the Rails that runs them).
MIGRATIONS = {
    "db/migrate/20240101000000_devise_create_users.rb": (
        "DeviseCreateUsers", "create_table :users do |t|\n      t.string :email, null: false\n"
        "      t.string :encrypted_password, null: false\n      t.string :reset_password_token\n"
        "      t.string :last_sign_in_ip\n      t.string :avatar\n    end"),
    "db/migrate/20240101000001_create_sessions.rb": (
        "CreateSessions", "create_table :sessions do |t|\n      t.string :session_id\n      t.text :data\n    end"),
    "db/migrate/20240502120000_create_posts.rb": (
        "CreatePosts", "create_table :posts do |t|\n      t.string :title\n    end"),
}
ANALYTICS_MIGRATIONS = {
    "db/analytics_migrate/20240301000000_create_page_views.rb": (
        "CreatePageViews", "create_table :page_views do |t|\n      t.string :path\n    end"),
}
#: Only the laptop's code has it: the copy's status must show it pending.
LAPTOP_MIGRATION = {
    "db/migrate/20240601000000_add_bio_to_users.rb": ("AddBioToUsers", "add_column :users, :bio, :string")}
SOURCE_VERSIONS = ["20240101000000", "20240101000001", "20240502120000"]
#: What the application's users and posts hold on each side (the tables come from the migrations).
REAL_ROWS = (
    "INSERT INTO users (id, email, encrypted_password, reset_password_token, last_sign_in_ip, avatar) VALUES "
    "(1, 'ann@real.example', '$2a$12$realhashofann', 'reset-token-1', '198.51.100.7', 'ann.png'), "
    "(2, 'bob@real.example', '$2a$12$realhashofbob', NULL, '203.0.113.9', NULL)",
    "INSERT INTO sessions (id, session_id, data) VALUES (1, 'abc', 'secret session data')",
    "INSERT INTO posts (id, title) VALUES (1, 'Hello from SIDE')",
)


def write_migrations(app: Path, migrations: dict[str, tuple[str, str]]) -> None:
    for path, (name, body) in migrations.items():
        (app / path).parent.mkdir(parents=True, exist_ok=True)
        (app / path).write_text(f"class {name} < ActiveRecord::Migration[ActiveRecord::Migration.current_version]\n"
                                f"  def change\n    {body}\n  end\nend\n")


def bin_rails(app: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """``bin/rails ARGS`` in ``app`` with the system's Ruby (setting up a side, outside synco); its output."""
    ruby = require_tool("ruby", "ruby")
    environ = {**ruby_environment(app.parent / "ruby-home"), **(env or {})}
    result = subprocess.run([ruby, "bin/rails", *args], cwd=app, env=environ, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, f"bin/rails {' '.join(args)}: {result.stderr[-2000:]}"
    return result.stdout


def migration_status(output: str) -> dict[str, str]:
    """``bin/rails db:migrate:status`` output as {version: up/down}."""
    return {version: state for state, version in re.findall(r"^\s*(up|down)\s+(\d{14})\s", output, re.M)}


@pytest.mark.postgres
@pytest.mark.slow
def test_real_rails_serve_receive_install_postgresql_multi_database(
        rails_app: Make, rails_manager: SyncoPluginManager, postgres_database_factory: Callable[[], str],
        web_server: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    """The application's own Ruby reads its configuration on both sides; its own migrations made the
    schema; after the install its own ``db:migrate:status`` reports the copy's migrations."""
    names = {side: (postgres_database_factory(), postgres_database_factory()) for side in ("source", "target")}
    source = rails_app("source", database_yml=SHOP_YML)
    target_yml = SHOP_YML.replace("shop_analytics_development", names["target"][1]).replace(
        "shop_development", names["target"][0])
    target = rails_app("target", database_yml=target_yml)
    for app in (source, target):
        write_migrations(app, {**MIGRATIONS, **ANALYTICS_MIGRATIONS})
    write_migrations(target, LAPTOP_MIGRATION)
    url = f"postgres://{POSTGRES_USER}:{PG_PASSWORD}@{POSTGRES_HOST}:{POSTGRES_PORT}/"
    server_env = {"DATABASE_URL": url + names["source"][0], "ANALYTICS_DATABASE_URL": url + names["source"][1],
                  "SHOP_DATABASE_PASSWORD": PG_PASSWORD}
    bin_rails(source, "db:migrate", env={**server_env, "RAILS_ENV": "production"})
    bin_rails(target, "db:migrate", env={"RAILS_ENV": "development"})
    for side, (primary, analytics) in names.items():
        conn = postgres_admin_connection(primary)
        for statement in REAL_ROWS:
            conn.execute(statement.replace("SIDE", side))
        conn.close()
        stats = postgres_admin_connection(analytics)
        stats.execute("INSERT INTO page_views (id, path) VALUES (1, %s)", (f"/{side}",))
        stats.close()
    add_content(source)
    local_content(target)
    for name, value in server_env.items():
        monkeypatch.setenv(name, value)
    detected = run("detect", "--json", str(source))
    assert detected.exit_code == 0, detected.output
    assert '"configSource": "runner"' in detected.stdout
    assert '"dbDump-analytics"' in detected.stdout and PG_PASSWORD not in detected.output
    capfd.readouterr()

    installed = transfer(source, target, web_server(source / "public"), tmp_path, monkeypatch, server_env,
                         ("--only", "dbDump,dbDump-analytics,local,uploads"), ("--post-install",))
    status = capfd.readouterr().out
    assert PG_PASSWORD not in installed.output + status
    # Rails' own report on the copy, per database: the source's migrations applied, the laptop's new one
    # pending.
    assert migration_status(status) == {**dict.fromkeys(SOURCE_VERSIONS, "up"), "20240601000000": "down",
                                        "20240301000000": "up"}, status
    assert status.count("database: ") == 2, "multi-database: one status per database"

    conn = postgres_admin_connection(names["target"][0])
    users = conn.execute("SELECT id, email, encrypted_password, reset_password_token, last_sign_in_ip, avatar "
                         "FROM users ORDER BY id").fetchall()
    sessions = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()
    versions = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    metadata = conn.execute("SELECT value FROM ar_internal_metadata WHERE key = 'environment'").fetchall()
    posts = conn.execute("SELECT title FROM posts").fetchall()
    conn.close()
    assert users == [(1, "user1@example.invalid", PASSWORD_HASH, None, None, "ann.png"),
                     (2, "user2@example.invalid", PASSWORD_HASH, None, None, None)]
    assert sessions == (0,)
    assert [v for (v,) in versions] == SOURCE_VERSIONS and metadata == [("production",)]
    assert posts == [("Hello from source",)]
    stats = postgres_admin_connection(names["target"][1])
    assert stats.execute("SELECT path FROM page_views").fetchall() == [("/source",)]
    stats.close()
    check_files(target)


@pytest.mark.mysql
@pytest.mark.slow
def test_real_rails_serve_receive_install_mariadb(rails_app: Make, rails_manager: SyncoPluginManager,
                                                  mysql_database_factory: Callable[[], str], web_server: Serve,
                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    """The application ``rails new -d mysql`` makes, its database.yml as generated but for where the
    server is; the server's database from DATABASE_URL (mysql2://), merged by Rails over the file."""
    databases = {"source": mysql_database_factory(), "target": mysql_database_factory()}
    apps = {}
    for side in databases:
        app = rails_app(side, database="mysql")
        yml = (app / "config/database.yml").read_text()
        assert "socket: /var/run/mysqld/mysqld.sock" in yml and "database: shop_development" in yml, yml
        (app / "config/database.yml").write_text(
            yml.replace("socket: /var/run/mysqld/mysqld.sock",
                        f'host: <%= ENV.fetch("DB_HOST") {{ "{MYSQL_HOST}" }} %>\n  port: {MYSQL_PORT}')
            .replace("database: shop_development", f"database: {databases['target']}"))
        write_migrations(app, MIGRATIONS)
        apps[side] = app
    write_migrations(apps["target"], LAPTOP_MIGRATION)
    server_env = {"DATABASE_URL": f"mysql2://{MYSQL_USER}@{MYSQL_HOST}:{MYSQL_PORT}/{databases['source']}"}
    bin_rails(apps["source"], "db:migrate", env={**server_env, "RAILS_ENV": "production"})
    bin_rails(apps["target"], "db:migrate", env={"RAILS_ENV": "development"})
    for side, name in databases.items():
        conn = mysql_admin_connection(name)
        with conn.cursor() as cur:
            for statement in REAL_ROWS:
                cur.execute(statement.replace("SIDE", side))
        conn.close()
    add_content(apps["source"])
    local_content(apps["target"])
    for name, value in server_env.items():
        monkeypatch.setenv(name, value)
    detected = run("detect", "--json", str(apps["source"]))
    assert detected.exit_code == 0 and '"configSource": "runner"' in detected.stdout, detected.output
    for name in server_env:
        monkeypatch.delenv(name)
    capfd.readouterr()

    transfer(apps["source"], apps["target"], web_server(apps["source"] / "public"), tmp_path, monkeypatch,
             server_env, install_args=("--post-install",))
    status = capfd.readouterr().out
    assert migration_status(status) == {**dict.fromkeys(SOURCE_VERSIONS, "up"), "20240601000000": "down"}, status

    assert check_installed_mariadb(databases["target"]) == SOURCE_VERSIONS
    check_files(apps["target"])
