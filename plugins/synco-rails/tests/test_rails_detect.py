"""Detecting Rails applications without Ruby (the Rails-shaped fixture tree): the environment by side,
database.yml as Rails merges it with DATABASE_URL, multi-database configurations, Active Storage and public
upload folders, the sanitising profile, and the plugin contract; and, through the Ruby shim, a
``bin/rails runner`` answer of a Rails newer than the one installed here. ``test_rails_real.py`` has the
same reading through a real ``bin/rails runner``."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import synco_rails.plugin
from click.testing import CliRunner
from rails_support import hide_ruby, runner_answer
from synco_rails.databases import PASSWORD_HASH
from synco_rails.plugin import detect_framework, install_files, list_file_sets

from synco_core import ConfigError, FileSet, FileSetOptions, Framework, ReceivedFileSet, redact
from synco_core.testing import (
    FrameworkPluginContract,
    SyncoPluginManager,
    cli,
    configured_dump_options,
    run_post_install,
)
from synco_core.testing.services import unavailable

Make = Callable[..., Path]


def detected(project: Path, side: str = "source") -> Framework:
    framework = detect_framework(project, side)
    assert framework is not None
    return framework


def sets_of(framework: Framework) -> dict[str, FileSet]:
    found = list_file_sets(framework, FileSetOptions())
    assert found is not None
    return {s.name: s for s in found}


class TestRailsContract(FrameworkPluginContract):
    plugin = synco_rails.plugin
    plugin_name = "rails"

    @pytest.fixture
    def project_dir(self, make_app: Make, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
        hide_ruby(monkeypatch, tmp_path)
        monkeypatch.setenv("SHOP_DATABASE_PASSWORD", "contract-secret-pw")
        return make_app("contract")


def test_fixture_without_ruby_by_side(make_app: Make, no_ruby: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server dumps production, the laptop installs into development; a replica is never listed."""
    monkeypatch.setenv("SHOP_DATABASE_PASSWORD", "prod-Secret-1")
    app = make_app("shop")
    source = detected(app, "source")
    assert source.config_source == "files" and source.settings["rails_env"] == "production"
    assert source.database is not None
    assert (source.database.name, source.database.user, source.database.password, source.database.host) == (
        "shop_production", "shop", "prod-Secret-1", "127.0.0.1")
    assert list(source.databases) == ["analytics"], "primary_replica is a replica: left out"
    assert source.databases["analytics"].name == "shop_analytics_production"
    assert "production settings read with config/database.yml (read without Ruby)" in source.reason
    assert redact("prod-Secret-1") == "***"
    local = detected(app, "destination")
    assert local.settings["rails_env"] == "development"
    assert local.database is not None and local.database.name == "shop_development"
    monkeypatch.setenv("RAILS_ENV", "test")
    assert detected(app, "destination").database.name == "shop_test"  # type: ignore[union-attr]


def test_database_url_merged_as_rails_merges_it(make_app: Make, no_ruby: None, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app("shop")
    monkeypatch.setenv("DATABASE_URL", "postgres://live:url-Secret-2@db.internal:6432/shop_live?sslmode=require")
    monkeypatch.setenv("ANALYTICS_DATABASE_URL", "postgresql://stats@10.0.0.9/stats")
    framework = detected(app)
    db = framework.database
    assert db is not None
    assert (db.name, db.host, db.port, db.user, db.password, db.options) == (
        "shop_live", "db.internal", 6432, "live", "url-Secret-2", {"sslmode": "require"})
    analytics = framework.databases["analytics"]
    assert (analytics.name, analytics.host, analytics.user) == ("stats", "10.0.0.9", "stats")
    assert redact("url-Secret-2") == "***"


@pytest.mark.parametrize("yml, env, expected", [
    # A URL in the file is kept: DATABASE_URL does not replace it (Rails merges it only into configurations
    # without one).
    ("production:\n  url: mysql2://app@db/file_db\n  password: <%= ENV['P'] %>\n",
     {"DATABASE_URL": "postgres://x@y/env_db", "P": "pw-from-file"}, ("mysql", "file_db", "db", "pw-from-file")),
    # The URL's settings win over the file's; the file fills in what the URL leaves out.
    ("production:\n  adapter: postgresql\n  database: from_file\n  host: filehost\n  username: fileuser\n",
     {"DATABASE_URL": "postgres://urluser@/url_db"}, ("postgresql", "url_db", "filehost", None)),
    # A DATABASE_URL naming only the server: database.yml's database fills it in (refused before, as a URL
    # naming no database), for a URL in the file as for the variable.
    ("production:\n  adapter: postgresql\n  database: from_file\n",
     {"DATABASE_URL": "postgres://urluser:pw@db.internal:5432"}, ("postgresql", "from_file", "db.internal", "pw")),
    ("production:\n  url: mysql2://app:pw@db.internal/\n  database: from_file\n", {},
     ("mysql", "from_file", "db.internal", "pw")),
    # No section for the environment: DATABASE_URL alone.
    ("development:\n  adapter: sqlite3\n  database: db/dev.sqlite3\n",
     {"DATABASE_URL": "trilogy://root@127.0.0.1:3306/only_url"}, ("mysql", "only_url", "127.0.0.1", None)),
    # An environment given as a URL string.
    ("production: postgis://geo@gis/geo_db\n", {}, ("postgresql", "geo_db", "gis", None)),
    # SQLite: a path relative to the application, also as Active Record's opaque URL.
    ("production:\n  adapter: sqlite3\n  database: storage/production.sqlite3\n", {},
     ("sqlite", "{app}/storage/production.sqlite3", None, None)),
    ("production:\n  url: sqlite3:db/production.sqlite3\n", {}, ("sqlite", "{app}/db/production.sqlite3", None, None)),
    # A PostgreSQL socket folder as the host; mysql2's socket.
    ("production:\n  adapter: postgresql\n  database: d\n  host: /var/run/postgresql\n", {},
     ("postgresql", "d", None, None)),
])
def test_database_yml_forms(make_app: Make, no_ruby: None, monkeypatch: pytest.MonkeyPatch, yml: str,
                            env: dict[str, str], expected: tuple[str, str, str | None, str | None]) -> None:
    app = make_app("app", database_yml=yml)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    db = detected(app).database
    assert db is not None
    engine, name, host, password = expected
    assert (db.engine, db.name, db.host) == (engine, name.format(app=app), host)
    if password is not None:
        assert db.password == password
    if "/var/run/postgresql" in yml:
        assert db.socket == "/var/run/postgresql"


def test_primary_is_the_first_without_one_and_unusable_ones_are_listed(make_app: Make, no_ruby: None) -> None:
    app = make_app("app", database_yml="""
production:
  main:
    adapter: mysql2
    database: main_db
    socket: /run/mysqld/mysqld.sock
    sslca: /etc/ssl/ca.pem
    encoding: utf8mb4
  cache:
    adapter: sqlite3
    database: storage/production_cache.sqlite3
  legacy:
    adapter: sqlserver
    database: old
  scratch:
    adapter: sqlite3
    database: ":memory:"
  hidden:
    adapter: postgresql
    database: internal
    database_tasks: false
""")
    framework = detected(app)
    db = framework.database
    assert db is not None and framework.settings["primary"] == "main"
    assert (db.engine, db.name, db.socket, db.options) == ("mysql", "main_db", "/run/mysqld/mysqld.sock",
                                                           {"ssl_ca": "/etc/ssl/ca.pem", "charset": "utf8mb4"})
    assert list(framework.databases) == ["cache"]
    connections = framework.settings["connections"]
    assert connections["legacy"].startswith("unusable: Rails database 'legacy': the adapter sqlserver is not supported")
    assert "in-memory" in connections["scratch"]
    assert "hidden" not in connections and "hidden" not in framework.databases


def test_code_tags_are_a_one_line_error_naming_the_line(make_app: Make, no_ruby: None,
                                                        rails_manager: SyncoPluginManager) -> None:
    app = make_app("app", database_yml="production:\n  adapter: postgresql\n"
                                       "<% if ENV['X'] %>\n  database: a\n<% end %>\n")
    result = CliRunner().invoke(cli, ["detect", str(app)])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: config/database.yml line 3: unsupported ERB <% if ENV['X'] %>")
    assert len(result.stderr.strip().splitlines()) == 1


CREDENTIALS = "<%= Rails.application.credentials.dig(:database, :password) %>"


@pytest.mark.parametrize("key", ["database", "password", "username", "host", "port", "url", "sslca", "encoding"])
def test_a_value_only_ruby_computes_makes_that_database_unusable_not_the_detection(
        make_app: Make, no_ruby: None, rails_manager: SyncoPluginManager, key: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials in database.yml (as Rails' guides advise) without a working bin/rails runner: synco stopped
    with an error, whatever DATABASE_URL or .synco.yml said, so the application could not be used at all. Now
    only the databases whose connection holds such a value are unusable, said in one line with how to give it;
    the files are still listed, another environment's or database's value does not matter, and a DATABASE_URL
    that gives the value (it wins over database.yml, as in Rails) makes the database usable."""
    tag = CREDENTIALS if key != "url" else "mysql2://app:<%= Rails.application.credentials.db_pw %>@db/shop"
    app = make_app("app", database_yml=(
        "default: &default\n  adapter: mysql2\n  database: shop\n  username: app\n  host: db\n\n"
        f"production:\n  primary:\n    <<: *default\n    {key}: \"{tag}\"\n"
        "  cache:\n    <<: *default\n    database: shop_cache\n"
        f"development:\n  <<: *default\n  password: {CREDENTIALS}\n"))
    result = CliRunner().invoke(cli, ["detect", str(app)])
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "unusable" in line]
    assert len(warned) == 1 and "config/database.yml line 10:" in warned[0]
    assert "cannot be evaluated without Ruby" in warned[0] and "DATABASE_URL" in warned[0]
    framework = detected(app)
    assert framework.database is None and framework.databases["cache"].name == "shop_cache"
    assert "cannot be evaluated without Ruby" in framework.settings["connections"]["primary"]
    assert list_file_sets(framework, FileSetOptions()) is not None
    development = detected(app, "destination")
    assert development.database is None and "line 16:" in development.settings["connections"]["primary"]
    if key not in ("sslca", "encoding", "url"):
        # A URL gives the connection's own settings; TLS options and the encoding it may leave to the file.
        monkeypatch.setenv("DATABASE_URL", "mysql2://app:url-pw@db:3306/shop?socket=/run/my.sock")
        framework = detected(app)
        assert framework.database is not None and framework.database.password == "url-pw"
        assert "synco-unknown" not in repr(framework.database)


def test_yaml_errors_never_quote_the_rendered_values(make_app: Make, no_ruby: None,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_PW", "yaml-Secret: [broken")
    app = make_app("app", database_yml="production:\n  adapter: postgresql\n  password: <%= ENV['SHOP_PW'] %>\n")
    with pytest.raises(ConfigError) as error:
        detected(app)
    assert "config/database.yml line 3: not valid YAML" in str(error.value)
    assert "yaml-Secret" not in str(error.value)


def test_shim_runner_answer_of_a_newer_rails(make_app: Make, ruby_shim: Path) -> None:
    """An answer as Rails 7.1+ gives it (this machine's Rails is 6.1): SQLite databases under ``storage/``,
    Solid Queue's ``queue`` database; ``bin/rails runner`` is run in the side's environment from the
    application's folder, and its answer used as it is (the files hold ERB only Ruby evaluates)."""
    app = make_app("app", database_yml="production:\n  database: <%= Rails.application.credentials.db %>\n")
    runner_answer(app, "production", [
        ("primary", {"adapter": "postgresql", "database": "from_runner", "host": "db", "username": "app",
                     "password": "runner-Secret-3"}),
        ("queue", {"adapter": "sqlite3", "database": "storage/production_queue.sqlite3"})])
    runner_answer(app, "development", [("primary", {"adapter": "sqlite3", "database": "storage/development.sqlite3"})])
    framework = detected(app)
    assert framework.config_source == "runner" and "read with bin/rails runner" in framework.reason
    assert framework.database is not None and framework.database.name == "from_runner"
    assert framework.databases["queue"].name == str(app / "storage/production_queue.sqlite3")
    assert redact("runner-Secret-3") == "***"
    local = detected(app, "destination")
    assert local.database is not None and local.database.name == str(app / "storage/development.sqlite3")
    calls = [json.loads(line) for line in ruby_shim.read_text().splitlines()]
    assert [(c["argv"], c["rails_env"], c["cwd"], c["spring"]) for c in calls] == [
        (["bin/rails", "runner"], "production", str(app), "1"), (["bin/rails", "runner"], "development", str(app), "1")]


def test_post_install_runs_as_the_configuration_was_read(make_app: Make, ruby_shim: Path) -> None:
    """``bin/rails db:migrate:status`` after an install ran as ``bin/rails`` itself (whichever Ruby its #!
    names, not the one that read the configuration) and with Spring allowed, which an application that has it
    leaves running afterwards. It now runs by the same Ruby, in the Rails environment that was read, without
    Spring, as the runner did."""
    app = make_app("app")
    runner_answer(app, "development", [("primary", {"adapter": "sqlite3", "database": "storage/development.sqlite3"})])
    framework = detected(app, "destination")
    run_post_install(framework)
    calls = [json.loads(line) for line in ruby_shim.read_text().splitlines()]
    assert (calls[-1]["argv"], calls[-1]["rails_env"], calls[-1]["cwd"], calls[-1]["spring"]) == (
        ["bin/rails", "db:migrate:status"], "development", str(app), "1")


def test_active_storage_and_public_uploads(make_app: Make, no_ruby: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_DATABASE_PASSWORD", "x")
    app = make_app("app")
    (app / "public/uploads/user/avatar/1").mkdir(parents=True)
    (app / "public/system").mkdir()
    sets = sets_of(detected(app))
    local = sets["local"]
    assert (local.kind, local.root, local.relative_base_path, local.exclude) == (
        "private", app / "storage", "storage", ("*.sqlite3*",))
    assert (sets["uploads"].kind, sets["uploads"].url_prefix, sets["uploads"].relative_base_path) == (
        "public", "uploads/", "public/uploads")
    assert sets["system"].url_prefix == "system/"
    (app / "config/environments/production.rb").write_text("config.active_storage.service = :amazon\n")
    amazon = sets_of(detected(app))["amazon"]
    assert amazon.skipped_reason == "Active Storage service S3 is not supported (Disk is)"


def test_install_keeps_the_local_sqlite_databases(make_app: Make, no_ruby: None, tmp_path: Path) -> None:
    app = make_app("app", database_yml="development:\n  adapter: sqlite3\n  database: storage/development.sqlite3\n")
    (app / "storage/development.sqlite3").write_text("local database")
    (app / "storage/development.sqlite3.synco-previous").write_text("kept for rollback")
    (app / "storage/zz").mkdir()
    (app / "storage/zz/old-blob").write_text("a local blob")
    received = tmp_path / "received"
    (received / "ab/cd").mkdir(parents=True)
    (received / "ab/cd/abcdkey").write_text("a blob from production")
    framework = detected(app, "destination")
    result = install_files(framework, ReceivedFileSet("local", "private", "storage"), received)
    assert result is not None and result.destination == app / "storage"
    assert (app / "storage/ab/cd/abcdkey").read_text() == "a blob from production"
    assert not (app / "storage/zz").exists()
    assert (app / "storage/development.sqlite3").read_text() == "local database"
    assert (app / "storage/development.sqlite3.synco-previous").read_text() == "kept for rollback"
    assert set(result.kept) == {"development.sqlite3", "development.sqlite3.synco-previous"}
    assert install_files(framework, ReceivedFileSet("uploads", "public", "public/uploads"), received) is None


def test_sanitising_profile(make_app: Make, no_ruby: None, tmp_path: Path) -> None:
    path = tmp_path / "prod.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, encrypted_password TEXT, "
                     "reset_password_token TEXT, last_sign_in_ip TEXT)")
        conn.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, session_id TEXT, data TEXT)")
        conn.execute("CREATE TABLE schema_migrations (version TEXT PRIMARY KEY)")
        conn.execute("CREATE TABLE ar_internal_metadata (key TEXT PRIMARY KEY, value TEXT)")
        conn.execute("CREATE TABLE solid_queue_jobs (id INTEGER PRIMARY KEY)")
    conn.close()
    app = make_app("app", database_yml=f"production:\n  adapter: sqlite3\n  database: {path}\n")
    options = configured_dump_options(detected(app))
    assert options.exclude_tables == ("sessions",)
    assert options.smart_exclude_tables == ("solid_queue_jobs",)
    assert sorted(f"{r.table}.{r.column}={r.transform}" for r in options.sanitize) == [
        "users.email=email", f"users.encrypted_password=fixed:{PASSWORD_HASH}", "users.last_sign_in_ip=null",
        "users.reset_password_token=null"]
    kept = {"schema_migrations", "ar_internal_metadata"}
    assert not kept & {*options.exclude_tables, *options.smart_exclude_tables}, "Rails' own tables keep their rows"


@pytest.fixture(scope="session")
def bcrypt_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with the bcrypt package (from the package index), once per session."""
    venv = tmp_path_factory.mktemp("bcrypt-venv")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
        subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "bcrypt>=4"], check=True, capture_output=True, text=True, timeout=300)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        unavailable(f"cannot install bcrypt into a virtual environment: {exc}")
    return venv / "bin/python"


def test_the_password_hash_is_what_devise_accepts(bcrypt_python: Path) -> None:
    """The fixed hash is bcrypt's of "password" in the ``$2a$`` form Ruby's bcrypt gem writes and reads."""
    code = ("import bcrypt, sys; h = sys.argv[1].encode(); "
            "print(bcrypt.checkpw(b'password', h), bcrypt.checkpw(b'Password', h))")
    result = subprocess.run([str(bcrypt_python), "-c", code, PASSWORD_HASH], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.split() == ["True", "False"]
    assert PASSWORD_HASH.startswith("$2a$10$") and len(PASSWORD_HASH) == 60


@pytest.mark.parametrize(("yml", "outcome"), [
    ("<?php\nthis is not YAML for Rails\n", "expected a mapping of environments at the top level, found str"),
    ("- production\n- development\n", "expected a mapping of environments at the top level, found list"),
    ("", "has no production database"),
    ("development:\n  adapter: sqlite3\n  database: storage/development.sqlite3\n", "has no production database"),
])
def test_database_yml_without_a_usable_database_says_why(make_app: Make, no_ruby: None,
                                                         caplog: pytest.LogCaptureFixture, yml: str,
                                                         outcome: str) -> None:
    """Never a silent 'Database: none': a database.yml Rails would refuse is a one-line error naming it, one
    without the environment's database a one-line warning."""
    app = make_app("app", database_yml=yml)
    try:
        framework = detected(app)
    except ConfigError as exc:
        message = str(exc)
        assert str(app / "config" / "database.yml") in message
    else:
        assert framework.database is None
        message = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert outcome in message and "\n" not in message


@pytest.mark.parametrize(("database_yml", "name", "variable"), [
    ("production:\n  url: <%= ENV['DATABASE_URL'] %>\n  pool: 5\n", "primary", "DATABASE_URL"),
    ("production:\n  primary:\n    adapter: postgresql\n    database: shop\n"
     "  cache:\n    url: <%= ENV['CACHE_DB'] %>\n", "cache", "CACHE_DATABASE_URL"),
])
def test_an_empty_url_says_so(make_app: Make, no_ruby: None, monkeypatch: pytest.MonkeyPatch, database_yml: str,
                              name: str, variable: str) -> None:
    """url: <%= ENV[...] %> with the variable unset names the empty url, not an adapter '(none)'."""
    for unset in ("DATABASE_URL", "CACHE_DATABASE_URL", "CACHE_DB"):
        monkeypatch.delenv(unset, raising=False)
    app = make_app("app", database_yml=database_yml)
    framework = detected(app)
    reason = framework.settings["connections"][name]
    assert f"Rails database {name!r}: its url is empty and it names no adapter" in reason
    assert f"Rails also takes {variable}" in reason and "(none)" not in reason
