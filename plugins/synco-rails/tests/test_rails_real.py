"""Detection against a real Rails application booted by the system's Ruby (Debian's Rails 6.1).

The application is made by ``rails new`` (see ``rails_app`` in conftest). What ``bin/rails runner``
reports is Rails' own answer, so these tests also hold synco's Ruby-less reading of ``config/database.yml``
(ERB, anchors, ``DATABASE_URL`` merging) to what Rails itself makes of the same file and environment.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from synco_rails.config import MARKER, RUNNER_CODE, read_from_files, read_with_runner
from synco_rails.databases import split_databases
from synco_rails.plugin import detect_framework, list_file_sets

from synco_core import ConfigError, DatabaseConfig, FileSetOptions, Framework, redact
from synco_core.testing.services import needs_tool, require_tool

pytestmark = needs_tool("ruby", "ruby")

Make = Callable[..., Path]
SHOP_YML = (Path(__file__).parent / "fixtures/shop/config/database.yml").read_text()


def detected(project: Path, side: str = "source") -> Framework:
    framework = detect_framework(project, side)
    assert framework is not None
    return framework


def comparable(configs: list[tuple[str, dict[str, object]]], app: Path) -> tuple[object, ...]:
    """What synco makes of a list of configurations, without the label saying where they were read."""
    primary, database, named, unusable = split_databases(configs, app, "")

    def plain(config: DatabaseConfig | None) -> object:
        return None if config is None else dataclasses.replace(config, source="", options=dict(config.options))

    return primary, plain(database), {name: plain(c) for name, c in named.items()}, sorted(unusable)


def test_the_runner_code_is_valid_ruby_and_prints_the_marker() -> None:
    ruby = require_tool("ruby", "ruby")
    checked = subprocess.run([ruby, "-c", "-e", RUNNER_CODE], capture_output=True, text=True, timeout=60, check=False)
    assert checked.returncode == 0 and "Syntax OK" in checked.stdout, checked.stderr
    assert f'"{MARKER}"' in RUNNER_CODE


def test_multi_database_config_read_through_the_real_runner(rails_app: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    """The primary and a second named database of a three-level database.yml with ERB, with DATABASE_URL
    and ANALYTICS_DATABASE_URL merged by Rails; the replica left out by Rails; each side's environment."""
    app = rails_app("shop", database_yml=SHOP_YML)
    monkeypatch.setenv("SHOP_DATABASE_PASSWORD", "file-Secret-5")
    monkeypatch.setenv("DB_HOST", "db.from-erb.internal")
    monkeypatch.setenv("DATABASE_URL", "postgres://live:url-Secret-6@db.internal:6432/shop_live?sslmode=require")
    monkeypatch.setenv("ANALYTICS_DATABASE_URL", "postgresql://stats@10.0.0.9/stats")
    framework = detected(app)
    assert framework.config_source == "runner" and framework.settings["rails_env"] == "production"
    assert "production settings read with bin/rails runner" in framework.reason
    db = framework.database
    assert db is not None and framework.settings["primary"] == "primary"
    assert (db.engine, db.name, db.host, db.port, db.user, db.password, db.options) == (
        "postgresql", "shop_live", "db.internal", 6432, "live", "url-Secret-6", {"sslmode": "require"})
    assert list(framework.databases) == ["analytics"], "Rails leaves the replica out"
    analytics = framework.databases["analytics"]
    assert (analytics.name, analytics.host, analytics.user) == ("stats", "10.0.0.9", "stats")
    assert redact("url-Secret-6") == "***"

    for name in ("DATABASE_URL", "ANALYTICS_DATABASE_URL"):
        monkeypatch.delenv(name)
    # Without the URLs the file's own settings, its ERB evaluated by Ruby.
    production = detected(app)
    assert production.database is not None
    assert (production.database.name, production.database.host, production.database.user,
            production.database.password) == ("shop_production", "db.from-erb.internal", "shop", "file-Secret-5")
    assert production.databases["analytics"].name == "shop_analytics_production"
    local = detected(app, "destination")
    assert local.config_source == "runner" and local.settings["rails_env"] == "development"
    assert local.database is not None and local.database.name == "shop_development"
    assert local.databases["analytics"].name == "shop_analytics_development"


def test_erb_only_ruby_evaluates_is_read_through_the_runner(rails_app: Make, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    """ERB synco's own renderer refuses (any Ruby) is evaluated by the application itself when Ruby works;
    without Ruby that database is unusable, said in one line naming the line."""
    app = rails_app("app", database_yml=(
        "production:\n  adapter: postgresql\n"
        "  database: <%= Rails.application.class.module_parent_name.underscore %>_<%= Rails.env %>\n"
        "  port: <%= 5400 + 32 %>\n"))
    framework = detected(app)
    assert framework.config_source == "runner" and framework.database is not None
    assert (framework.database.name, framework.database.port) == ("shop_production", 5432)
    hide = tmp_path / "no-ruby"
    hide.mkdir()
    monkeypatch.setenv("PATH", str(hide))
    framework = detected(app)
    assert framework.database is None
    assert framework.settings["connections"]["primary"].startswith("unusable: config/database.yml line 3: <%= Rails.")


#: database.yml forms and environments whose reading without Ruby must equal Rails' own.
AGREEMENT_CASES = {
    "three-level with anchors, ERB and both URLs": (SHOP_YML, {
        "SHOP_DATABASE_PASSWORD": "pw-1", "DB_USERNAME": "ops",
        "DATABASE_URL": "postgres://live:pw-2@db.internal:6432/shop_live?sslmode=require",
        "ANALYTICS_DATABASE_URL": "postgresql://stats@10.0.0.9:5433/stats"}),
    "three-level, the files' values": (SHOP_YML, {"SHOP_DATABASE_PASSWORD": "pw-3", "DB_HOST": "db.lan"}),
    "URL in the file wins over DATABASE_URL": (
        "production:\n  url: mysql2://app@db/file_db\n  password: <%= ENV['P'] %>\n",
        {"DATABASE_URL": "postgres://x@y/env_db", "P": "pw-4"}),
    "DATABASE_URL over the file's settings": (
        "production:\n  adapter: postgresql\n  database: from_file\n  host: filehost\n  username: fileuser\n"
        "  port: 5544\n", {"DATABASE_URL": "postgres://urluser@urlhost/url_db"}),
    "DATABASE_URL alone for a missing environment": (
        "development:\n  adapter: sqlite3\n  database: db/dev.sqlite3\n",
        {"DATABASE_URL": "mysql2://root@127.0.0.1:3306/only_url"}),
    "ENV.fetch forms and ||": (
        "production:\n  adapter: mysql2\n  database: <%= ENV.fetch('DB_NAME', 'shop') %>\n"
        "  host: <%= ENV.fetch(\"DB_HOST\") { 'localhost' } %>\n  port: <%= ENV['DB_PORT'] || 3307 %>\n"
        "  username: <%= ENV.fetch('DB_USER') { \"app\" } %>\n  encoding: utf8mb4\n  sslca: /etc/ssl/ca.pem\n",
        {"DB_HOST": "10.1.1.1"}),
    "SQLite paths relative to the application": (
        "production:\n  primary:\n    adapter: sqlite3\n    database: storage/production.sqlite3\n"
        "  cache:\n    adapter: sqlite3\n    database: <%= Rails.root.join('storage', 'cache.sqlite3') %>\n", {}),
    "socket folder as the PostgreSQL host": (
        "production:\n  adapter: postgresql\n  database: d\n  host: /var/run/postgresql\n", {}),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(AGREEMENT_CASES))
def test_reading_without_ruby_agrees_with_rails(rails_app: Make, case: str) -> None:
    yml, environ = AGREEMENT_CASES[case]
    app = rails_app("app", database_yml=yml)
    env = {**os.environ, **environ}
    ruby = require_tool("ruby", "ruby")
    by_rails = read_with_runner(app, ruby, "production", env)
    by_synco = read_from_files(app, "production", env)
    assert comparable(by_synco.databases, app) == comparable(by_rails.databases, app)
    assert (by_synco.storage_service, by_synco.storage) == (by_rails.storage_service, by_rails.storage)
    assert by_rails.source == "runner" and by_synco.source == "files"


def test_active_storage_root_from_the_real_runner(rails_app: Make) -> None:
    app = rails_app("app")
    (app / "public/uploads").mkdir()
    framework = detected(app)
    assert framework.config_source == "runner" and framework.settings["storage_service"] == "local"
    sets = {s.name: s for s in list_file_sets(framework, FileSetOptions()) or []}
    assert (sets["local"].kind, sets["local"].root) == ("private", app / "storage")
    assert (sets["uploads"].kind, sets["uploads"].url_prefix) == ("public", "uploads/")
    assert framework.settings["disk_roots"]["local"] == str(app / "storage")


def test_a_storage_yml_rails_cannot_read_leaves_the_databases(rails_app: Make,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """Production loads Active Storage while booting, so there the application does not boot at all and the
    files are read; development boots without it, and the runner reports the databases without the files."""
    app = rails_app("app")
    (app / "config/storage.yml").write_text("local:\n  service: Disk\n  root: <%= raise 'no storage' %>\n")
    with caplog.at_level(logging.WARNING):
        local = detected(app, "destination")
    assert local.config_source == "runner" and local.database is not None
    assert local.settings["storage"] == {} and "local" not in local.settings["disk_roots"]
    assert "config/storage.yml could not be read by Rails (RuntimeError); Active Storage files are left out" \
        in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        server = detected(app)
    assert server.config_source == "files" and server.database is not None
    assert server.settings["storage"] == {}
    assert "config/storage.yml line 3: unsupported ERB" in caplog.text


def test_a_broken_bundle_falls_back_to_the_files(rails_app: Make, caplog: pytest.LogCaptureFixture,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Ruby is there, but the bundle names a gem this machine does not have: Bundler refuses to boot, and
    the files are read instead."""
    app = rails_app("app", database_yml=SHOP_YML)
    with (app / "Gemfile").open("a") as gemfile:
        gemfile.write("gem 'synco-gem-that-is-not-installed'\n")
    monkeypatch.setenv("SHOP_DATABASE_PASSWORD", "bundle-Secret-8")
    with caplog.at_level(logging.WARNING):
        framework = detected(app)
    assert framework.config_source == "files"
    assert framework.database is not None and framework.database.name == "shop_production"
    assert "bin/rails runner could not report the configuration" in caplog.text
    assert "reading config/database.yml instead" in caplog.text
    assert "bundle-Secret-8" not in caplog.text


def test_a_url_rails_cannot_parse_is_never_quoted_with_its_password(rails_app: Make, monkeypatch: pytest.MonkeyPatch,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Ruby's URI error quotes the whole URL; the warning synco logs for it hides the password."""
    app = rails_app("app")
    monkeypatch.setenv("DATABASE_URL", "postgres://live:leak-Secret-9@bad host:5432/shop")
    with caplog.at_level(logging.WARNING):
        try:
            detected(app)
        except ConfigError as exc:
            assert "leak-Secret-9" not in str(exc)
    assert "bin/rails runner could not report the configuration" in caplog.text
    assert "InvalidURIError" in caplog.text and "leak-Secret-9" not in caplog.text


def test_the_environments_own_storage_file_through_the_real_runner(rails_app: Make) -> None:
    """Active Storage reads config/storage/<env>.yml over config/storage.yml (Rails 6.1+); the runner read
    config/storage.yml, so the files came from the wrong folder."""
    app = rails_app("app")
    (app / "config/storage").mkdir()
    (app / "config/storage/production.yml").write_text(
        'local:\n  service: Disk\n  root: <%= Rails.root.join("shared/storage") %>\n')
    (app / "shared/storage").mkdir(parents=True)
    framework = detected(app)
    assert framework.config_source == "runner"
    assert framework.settings["disk_roots"]["local"] == str(app / "shared/storage")
