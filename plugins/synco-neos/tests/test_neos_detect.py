"""Detection and credentials of Neos 8 and Neos 9 distributions, through ./flow and from the files."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from synco_neos import plugin
from synco_neos.database import database_from_backend_options
from synco_neos.resourcedb import EVENTLOG_TABLE, RESOURCE_TABLE, THUMBNAIL_TABLE
from synco_neos.settings import context_chain, merge_overrule, parse_configuration_show, resolve_placeholders

from synco_core import ConfigError, find_php, redact
from synco_core.testing import cli, configured_dump_options
from synco_core.testing.services import needs_php


def test_not_a_flow_project(tmp_path: Path) -> None:
    assert plugin.detect_framework(tmp_path) is None
    (tmp_path / "flow").write_text("<?php\n")
    assert plugin.detect_framework(tmp_path) is None  # no Web/
    (tmp_path / "Web").mkdir()
    (tmp_path / "flow").unlink()
    assert plugin.detect_framework(tmp_path) is None  # no flow


def test_neos8_development(make_project: Callable[[str], Path], php_mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project("neos8")
    for name, value in {"DB_HOST": "127.0.0.1", "DB_PORT": "3306", "DB_NAME": "neos_dev", "DB_USER": "dev",
                        "DB_PASSWORD": "dev-pass-1234"}.items():
        monkeypatch.setenv(name, value)
    framework = plugin.detect_framework(project)
    assert framework is not None
    assert framework.name == "Neos/Flow" and framework.plugin == "neos"
    assert framework.config_source == php_mode
    assert framework.web_root == project / "Web"
    assert framework.settings["neos_version"] == 8
    db = framework.database
    assert db is not None
    assert (db.engine, db.host, db.port, db.name, db.user, db.password) == (
        "mysql", "127.0.0.1", 3306, "neos_dev", "dev", "dev-pass-1234")
    # Settings.Charset.yaml is a split source read after Settings.yaml: its charset wins.
    assert dict(db.options) == {"charset": "utf8mb4"}
    assert "FLOW_CONTEXT=Development" in db.source
    assert ("./flow" in db.source) == (php_mode == "php")
    assert redact("pw dev-pass-1234") == "pw ***"
    # Post-install runs Flow with the interpreter found (a host may only have php8.x), ./flow without one.
    flow = [shutil.which("php"), "flow"] if php_mode == "php" else ["./flow"]
    assert framework.post_install == [[*flow, "resource:publish", "--collection", "persistent"],
                                      [*flow, "flow:cache:flush"]]
    # Smart transfer: Neos 8 has the event log table; both go in the smart (--all removable) excludes.
    assert set(configured_dump_options(framework).smart_exclude_tables) == {THUMBNAIL_TABLE, EVENTLOG_TABLE}
    assert RESOURCE_TABLE in configured_dump_options(framework).smart_where
    assert configured_dump_options(framework).exclude_tables == ()
    assert configured_dump_options(framework).effective(all=True).exclude_tables == ()


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ("Production", ("mysql", "db.internal", 3307, "neos_prod", "neos_prod", None)),
        ("Production/Live", ("mysql", None, 3307, "neos_prod", "neos_prod", "/run/mysqld/mysqld.sock")),
    ],
)
def test_neos8_production_contexts(make_project: Callable[[str], Path], php_mode: str, monkeypatch: pytest.MonkeyPatch,
                                   context: str, expected: tuple[object, ...]) -> None:
    project = make_project("neos8")
    monkeypatch.setenv("FLOW_CONTEXT", context)
    monkeypatch.setenv("NEOS_DB_PASSWORD", "prod-secret-9876")
    framework = plugin.detect_framework(project)
    assert framework is not None and framework.database is not None
    db = framework.database
    assert (db.engine, db.host, db.port, db.name, db.user, db.socket) == expected
    assert db.password == "prod-secret-9876"
    assert f"FLOW_CONTEXT={context}" in db.source


def test_unset_env_password_is_none(make_project: Callable[[str], Path], php_mode: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOW_CONTEXT", "Production")
    framework = plugin.detect_framework(make_project("neos8"))
    assert framework is not None and framework.database is not None
    assert framework.database.password is None


def test_neos9_postgresql(make_project: Callable[[str], Path], php_mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project("neos9")
    monkeypatch.setenv("DATABASE_HOST", "pg.local")
    monkeypatch.setenv("DATABASE_NAME", "neos9")
    monkeypatch.setenv("DATABASE_USER", "neos")
    monkeypatch.setenv("DATABASE_PASSWORD", "pg-secret-5555")
    framework = plugin.detect_framework(project)
    assert framework is not None and framework.database is not None
    db = framework.database
    assert (db.engine, db.host, db.port, db.name, db.user, db.password) == (
        "postgresql", "pg.local", 5432, "neos9", "neos", "pg-secret-5555")
    assert framework.config_source == php_mode
    assert framework.settings["neos_version"] == 9
    # Neos 9 has no event log table, and its content-repository event tables are never skipped.
    smart_tables = configured_dump_options(framework).smart_exclude_tables
    assert smart_tables == (THUMBNAIL_TABLE,)
    assert not any("events" in t or t.startswith("cr_") for t in smart_tables)


def test_missing_dbname_still_detects(make_project: Callable[[str], Path], php_mode: str) -> None:
    framework = plugin.detect_framework(make_project("neos9"))  # no DATABASE_* variables set
    assert framework is not None
    assert framework.database is None
    assert "dbname is not set" in framework.settings["database_problem"]


def test_bad_flow_context(make_project: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOW_CONTEXT", "Staging")
    with pytest.raises(ConfigError, match="root context must be one of"):
        plugin.detect_framework(make_project("neos8"))


def test_failing_flow_falls_back_to_files(make_project: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch,
                                          caplog: pytest.LogCaptureFixture) -> None:
    project = make_project("neos8")
    (project / "flow").write_text("<?php\nfwrite(STDERR, \"Flow could not connect\\n\"); exit(255);\n")
    monkeypatch.setenv("FLOW_CONTEXT", "Production")
    framework = plugin.detect_framework(project)
    assert framework is not None and framework.database is not None
    assert framework.config_source == "files"
    assert framework.database.host == "db.internal"
    assert "Flow could not connect" in caplog.text


def test_settings_helpers() -> None:
    assert context_chain("Production/Live/Blue") == ["Production", "Production/Live", "Production/Live/Blue"]
    merged = merge_overrule({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"c": 3}, "d": [2], "e": None})
    assert merged == {"a": {"b": 1, "c": 3}, "d": [2], "e": None}
    resolved = resolve_placeholders({"p": "%FLOW_PATH_WEB%x/", "e": "%env:X%", "s": "a-%env:X%-%env:Y%"},
                                    Path("/srv/app"), {"X": "1"})
    assert resolved == {"p": "/srv/app/Web/x/", "e": "1", "s": "a-1-"}
    assert resolve_placeholders("%env:UNSET%", Path("/"), {}) is None
    output = "Deprecated: something\nConfiguration \"Settings: A\":\n\nkey: 'va''lue'\n\n"
    assert parse_configuration_show(output, "cmd") == {"key": "va'lue"}
    assert parse_configuration_show('Configuration "Settings: A" was empty!\n', "cmd") is None
    with pytest.raises(ConfigError, match="printed no configuration"):
        parse_configuration_show("PHP Fatal error\n", "cmd")


def test_debug_detect_says_which_way(make_project: Callable[[str], Path], php_mode: str,
                                     monkeypatch: pytest.MonkeyPatch,
                                     register_plugin: Callable[[object, str], None]) -> None:
    register_plugin(plugin, "neos")
    monkeypatch.setenv("DB_NAME", "neos_debug")
    monkeypatch.setenv("DB_PASSWORD", "debug-secret-7531")
    result = CliRunner().invoke(cli, ["--debug", "detect", str(make_project("neos8"))])
    assert result.exit_code == 0, result.output
    log = result.stderr
    assert "framework Neos/Flow detected by neos (flow script and Web/ found (Neos 8))" in log
    assert f"settings from {php_mode}\n" in log
    if php_mode == "php":
        assert "Neos/Flow settings read via php (./flow configuration:show (FLOW_CONTEXT=Development))" in log
        assert "read Neos.Flow.persistence.backendOptions with ./flow configuration:show" in log
    else:
        assert "Neos/Flow settings read via files (Configuration/ files (FLOW_CONTEXT=Development))" in log
        assert "fallback reason: no PHP interpreter found" in log
        assert "reading Flow settings from " in log and "Configuration/Development/Settings.yaml" in log
    assert "debug-secret-7531" not in result.output


def _php_named(folder: Path, *names: str) -> Path:
    """``folder`` with the real php under each of ``names`` (symlinks; find_php only looks at names)."""
    real = shutil.which("php")
    assert real is not None
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).symlink_to(real)
    return folder


@needs_php
@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("php74", "php83"), "php83"),  # Alpine/Remi names, newest first
        (("php8.1", "php8.3"), "php8.3"),  # Debian names, newest first
        (("php83", "php8.3"), "php8.3"),  # the same version: Debian's name first
        (("php83", "php"), "php"),  # plain php before any versioned name
    ],
)
def test_versioned_php_names(make_project: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             names: tuple[str, ...], expected: str) -> None:
    """A host with only versioned PHP binaries: Flow still reads the settings and runs the post-install steps."""
    folder = _php_named(tmp_path / "bin", *names)
    monkeypatch.delenv("PHP", raising=False)
    monkeypatch.setenv("PATH", str(folder))
    assert find_php() == str(folder / expected)
    monkeypatch.setenv("DB_NAME", "neos_php83")
    framework = plugin.detect_framework(make_project("neos8"))
    assert framework is not None and framework.config_source == "php"
    assert framework.database is not None and framework.database.name == "neos_php83"
    assert framework.post_install[0][:2] == [str(folder / expected), "flow"]


@needs_php
def test_php_variable_wins(make_project: Callable[[str], Path], tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _php_named(tmp_path / "bin", "php", "php8.3")
    other = _php_named(tmp_path / "custom", "php-custom")
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.setenv("PHP", str(other / "php-custom"))
    framework = plugin.detect_framework(make_project("neos8"))
    assert framework is not None and framework.config_source == "php"
    assert framework.post_install[1] == [str(other / "php-custom"), "flow", "flow:cache:flush"]


def test_sqlite_and_url_backend_options(tmp_path: Path) -> None:
    sqlite = database_from_backend_options({"driver": "pdo_sqlite", "path": "Data/neos.sqlite"}, tmp_path, "test")
    assert (sqlite.engine, sqlite.name) == ("sqlite", str(tmp_path / "Data/neos.sqlite"))
    absolute = database_from_backend_options({"driver": "pdo_sqlite", "path": "/srv/neos.db"}, tmp_path, "test")
    assert absolute.name == "/srv/neos.db"
    with pytest.raises(ConfigError, match="path is not set"):
        database_from_backend_options({"driver": "pdo_sqlite"}, tmp_path, "test")
    # DBAL's url option wins over the separate keys.
    url = database_from_backend_options(
        {"url": "pgsql://neos:url-secret-2468@pg.example:5433/neos9", "driver": "pdo_mysql", "dbname": "ignored"},
        tmp_path, "test")
    assert (url.engine, url.host, url.port, url.name, url.user, url.password) == (
        "postgresql", "pg.example", 5433, "neos9", "neos", "url-secret-2468")
    assert redact("url-secret-2468") == "***"
    # A URL naming only the server: DBAL keeps the separate keys for what it leaves out (it was refused as
    # naming no database, and a user given beside it was dropped).
    beside = database_from_backend_options(
        {"url": "mysql://db.example:3307", "dbname": "neos", "user": "flow", "password": "beside-secret-1357",
         "host": "127.0.0.1"}, tmp_path, "Settings.yaml")
    assert (beside.host, beside.port, beside.name, beside.user, beside.password) == (
        "db.example", 3307, "neos", "flow", "beside-secret-1357")
    with pytest.raises(ConfigError, match="'pdo_oci' is not supported"):
        database_from_backend_options({"driver": "pdo_oci", "dbname": "x"}, tmp_path, "test")


def test_url_option_from_settings_files(make_project: Callable[[str], Path], no_php: None) -> None:
    project = make_project("neos8")
    (project / "Configuration/Development/Settings.yaml").write_text(
        "Neos:\n  Flow:\n    persistence:\n      backendOptions:\n        url: 'sqlite:///%FLOW_PATH_DATA%neos.sqlite'\n")
    framework = plugin.detect_framework(project)
    assert framework is not None and framework.database is not None
    assert (framework.database.engine, framework.database.name) == ("sqlite", str(project / "Data/neos.sqlite"))


def test_base_uri_is_the_sites_url(make_project: Callable[[str], Path], php_mode: str) -> None:
    """Flow's ``Neos.Flow.http.baseUri`` is where the site is served: serve prints it as ``--base-url``."""
    project = make_project("neos8")
    framework = plugin.detect_framework(project)
    assert framework is not None and framework.base_url is None, "not set in the fixture: not known"
    (project / "Configuration" / "Settings.BaseUri.yaml").write_text(
        "Neos:\n  Flow:\n    http:\n      baseUri: 'https://neos.example.com/'\n")
    # The fixture's ./flow answers from its own layers, kept in step with the files by hand.
    flow = project / "flow"
    flow.write_text(flow.read_text().replace(
        "$backend(['charset' => 'utf8mb4'])",
        "$backend(['charset' => 'utf8mb4']), ['Neos' => ['Flow' => ['http' => ['baseUri' => 'https://neos.example.com/']]]]",
        1))
    framework = plugin.detect_framework(project)
    assert framework is not None
    assert (framework.base_url, framework.base_url_source) == ("https://neos.example.com/", "Neos.Flow.http.baseUri")


def test_unset_flow_context_with_production_settings_only_is_warned(
        make_project: Callable[[str], Path], no_php: None, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """A shell on the server without the web server's FLOW_CONTEXT reads Development: said in one line when
    the project only has Production settings; not when FLOW_CONTEXT is set, or Development settings exist."""
    import shutil

    project = make_project("neos8")
    monkeypatch.delenv("FLOW_CONTEXT", raising=False)
    plugin.detect_framework(project)
    assert not [r for r in caplog.records if "FLOW_CONTEXT is not set" in r.getMessage()]
    shutil.rmtree(project / "Configuration" / "Development")
    plugin.detect_framework(project)
    [warning] = [r.getMessage() for r in caplog.records if "FLOW_CONTEXT is not set" in r.getMessage()]
    assert "Production settings only" in warning and "\n" not in warning
    caplog.clear()
    monkeypatch.setenv("FLOW_CONTEXT", "Production")
    plugin.detect_framework(project)
    assert not [r for r in caplog.records if "FLOW_CONTEXT is not set" in r.getMessage()]


def _package_settings(project: Path, package: str, level: str, options: dict[str, object]) -> None:
    folder = project / "Packages" / package / "Configuration" / level
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["Neos:", "  Flow:", "    persistence:", "      backendOptions:"]
    lines += [f"        {key}: {value}" for key, value in options.items()]
    (folder / "Settings.yaml").write_text("\n".join(lines) + "\n")


def test_file_mode_reads_the_site_package_as_flow_does(make_project: Callable[[str], Path], no_php: None,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A site package's ``Configuration/<Context>/Settings.yaml`` overrides the project's base
    ``Configuration/Settings.yaml`` (Flow merges, per level, the packages first and the project's files over
    them): read without PHP, the database must be the one Flow connects to, not the base file's."""
    project = make_project("neos8")
    monkeypatch.setenv("FLOW_CONTEXT", "Development")
    # A package's base settings lose to the project's base file, its Development settings win over it.
    _package_settings(project, "Sites/Acme.Site", "", {"dbname": "from_package_base", "user": "pkg"})
    _package_settings(project, "Sites/Acme.Site", "Development", {"dbname": "site_dev", "host": "site-db"})
    _package_settings(project, "Application/Acme.Shop", "Development", {"port": 3310})
    (project / "Configuration/Development/Settings.yaml").write_text("Neos:\n  Flow:\n    core:\n      x: 1\n")
    framework = plugin.detect_framework(project)
    assert framework is not None and framework.database is not None
    db = framework.database
    assert (db.name, db.host, db.port, db.user) == ("site_dev", "site-db", 3310, "neos")


def test_the_project_context_file_still_wins_over_the_package(make_project: Callable[[str], Path], no_php: None,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project("neos8")
    monkeypatch.setenv("FLOW_CONTEXT", "Production")
    monkeypatch.setenv("NEOS_DB_PASSWORD", "prod-pw")
    _package_settings(project, "Sites/Acme.Site", "Production", {"dbname": "from_package", "host": "pkg-db"})
    framework = plugin.detect_framework(project)
    assert framework is not None and framework.database is not None
    assert (framework.database.name, framework.database.host) == ("neos_prod", "db.internal")
