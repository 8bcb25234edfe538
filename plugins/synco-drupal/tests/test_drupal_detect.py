"""Detecting Drupal and reading settings.php: every driver, local overrides, multisite, Drush first when it is
there (a stand-in here), and the files and profile that follow from it."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import synco_drupal.plugin
from drupal_support import connection, copy_project, drush_site, local_settings
from synco_drupal.profile import SHA512_PASSWORD, drupal_sha512_hash, dump_options

from synco_core import (
    BCRYPT_PASSWORD,
    ConfigError,
    DatabaseInventory,
    FileSetOptions,
    ReceivedFileSet,
    TableInfo,
    redact,
)
from synco_core.testing import FrameworkPluginContract, SyncoPluginManager, detect, list_file_sets
from synco_core.testing.services import needs_php


class TestDrupalContract(FrameworkPluginContract):
    plugin = synco_drupal.plugin
    plugin_name = "drupal"

    @pytest.fixture
    def project_dir(self, tmp_path: Path) -> Path:
        return copy_project(tmp_path / "site")


def test_settings_read_without_php(tmp_path: Path, drupal_manager: SyncoPluginManager, no_php: None) -> None:
    project = copy_project(tmp_path / "site")
    framework = detect(project)
    assert (framework.name, framework.plugin, framework.config_source) == ("Drupal", "drupal", "files")
    assert "Drupal 10.3.1" in framework.reason and framework.web_root == project / "web"
    database = framework.database
    assert database is not None
    assert (database.engine, database.name, database.host, database.port, database.user) == (
        "mysql", "drupal", "localhost", 3306, "drupal")
    assert database.password == "drupal-db-password"
    assert "drupal-db-password" not in redact("pw drupal-db-password")
    assert "fixture-hash-salt-4f8e2a9c1b7d" not in redact("salt fixture-hash-salt-4f8e2a9c1b7d")
    assert framework.post_install == []


@pytest.mark.parametrize(("override", "expected"), [
    ({"driver": "pgsql", "host": "pg.internal", "port": "5433", "database": "site"},
     ("postgresql", "site", "pg.internal", 5433, None)),
    ({"unix_socket": "/run/mysqld/mysqld.sock", "host": "", "port": ""},
     ("mysql", "drupal", None, None, "/run/mysqld/mysqld.sock")),
])
def test_drivers_and_sockets(tmp_path: Path, drupal_manager: SyncoPluginManager, no_php: None,
                             override: dict[str, str], expected: tuple[Any, ...]) -> None:
    project = copy_project(tmp_path / "site")
    local_settings(project, override)
    database = detect(project).database
    assert database is not None
    assert (database.engine, database.name, database.host, database.port, database.socket) == expected


def test_sqlite_path_is_relative_to_the_root(tmp_path: Path, drupal_manager: SyncoPluginManager,
                                             no_php: None) -> None:
    project = copy_project(tmp_path / "site")
    local_settings(project, {"driver": "sqlite", "database": "sites/default/files/.ht.sqlite"})
    database = detect(project).database
    assert database is not None
    assert (database.engine, database.name) == ("sqlite", str(project / "web/sites/default/files/.ht.sqlite"))


def test_prefix_tls_and_other_connections(tmp_path: Path, drupal_manager: SyncoPluginManager, no_php: None) -> None:
    project = copy_project(tmp_path / "site")
    local_settings(project, {"prefix": "d10_"}, extra=(
        "$databases['default']['default']['pdo'] = [PDO::MYSQL_ATTR_SSL_CA => '/etc/ssl/ca.pem'];\n"
        "$databases['migrate']['default'] = ['driver' => 'mysql', 'database' => 'd7', 'username' => 'old', "
        "'password' => 'old-secret', 'host' => 'legacy'];"))
    framework = detect(project)
    assert framework.settings["table_prefix"] == "d10_"
    assert framework.database is not None and framework.database.options["ssl_ca"] == "/etc/ssl/ca.pem"
    assert framework.settings["connections"] == {"migrate.default": "mysql://old:***@legacy/d7"}
    options = dump_options("d10_", "mysql", None, modern_hash=True)
    assert "d10_sessions" in options.exclude_tables and "d10_cachetags" in options.smart_exclude_tables


def test_multisite(tmp_path: Path, drupal_manager: SyncoPluginManager, no_php: None,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    project = copy_project(tmp_path / "site")
    sites = project / "web/sites"
    shutil.copytree(sites / "default", sites / "shop")
    (sites / "shop/settings.local.php").write_text("<?php\n$databases['default']['default']['database'] = 'shop';\n"
                                                   "$settings['file_public_path'] = 'sites/shop/files';\n")
    (sites / "sites.php").write_text("<?php\n$sites['shop.example.com'] = 'shop';\n")
    assert detect(project).database.name == "drupal"  # type: ignore[union-attr]
    monkeypatch.setenv("SYNCO_DRUPAL_SITE", "shop.example.com")
    framework = detect(project)
    assert framework.database is not None and framework.database.name == "shop"
    assert "site sites/shop" in framework.reason
    public = {s.name: s for s in list_file_sets(framework, FileSetOptions())}["public"]
    assert public.url_prefix == "sites/shop/files/"
    monkeypatch.setenv("SYNCO_DRUPAL_SITE", "nowhere")
    with pytest.raises(ConfigError, match="SYNCO_DRUPAL_SITE=nowhere"):
        detect(project)
    monkeypatch.delenv("SYNCO_DRUPAL_SITE")
    shutil.copytree(sites / "shop", sites / "blog")
    shutil.rmtree(sites / "default")
    with pytest.raises(ConfigError, match="several sites"):
        detect(project)


def test_file_sets(tmp_path: Path, drupal_manager: SyncoPluginManager, no_php: None) -> None:
    project = copy_project(tmp_path / "site")
    sets = {s.name: s for s in list_file_sets(detect(project), FileSetOptions())}
    public, private = sets["public"], sets["private"]
    assert (public.kind, public.url_prefix, public.relative_base_path) == (
        "public", "sites/default/files/", "web/sites/default/files")
    # Drupal builds these again: regenerated, so a laptop's stale copies go on install and --delete.
    assert set(public.regenerated) == {"/styles", "/css", "/js", "/php"} and public.exclude == ()
    assert (private.kind, private.relative_base_path, private.root) == ("private", "private", project / "private")


def test_drush_is_asked_first(tmp_path: Path, drupal_manager: SyncoPluginManager,
                              fake_drush: Callable[[dict[str, Any]], Path]) -> None:
    project = copy_project(tmp_path / "site")
    from_drush = connection("mysql", "from_drush") | {"password": "drush-password"}
    state = fake_drush({"sites": {str(project / "web"): drush_site(project, from_drush)}})
    framework = detect(project)
    assert framework.config_source == "drush"
    assert framework.database is not None
    assert (framework.database.name, framework.database.password) == ("from_drush", "drush-password")
    drush = str(state.parent / "drush")
    assert framework.post_install == [[drush, f"--root={project / 'web'}", "--uri=default", "cr"]]


def test_drush_failure_falls_back_to_settings(tmp_path: Path, drupal_manager: SyncoPluginManager,
                                              fake_drush: Callable[[dict[str, Any]], Path],
                                              caplog: pytest.LogCaptureFixture) -> None:
    project = copy_project(tmp_path / "site")
    fake_drush({"sites": {}})
    framework = detect(project)
    assert framework.config_source == "files"
    assert framework.database is not None and framework.database.name == "drupal"
    assert "drush could not report" in caplog.text


def test_computed_password_keeps_the_files(tmp_path: Path, drupal_manager: SyncoPluginManager, no_php: None,
                                           caplog: pytest.LogCaptureFixture) -> None:
    project = copy_project(tmp_path / "site")
    (project / "web/sites/default/settings.local.php").write_text(
        "<?php\n$databases['default']['default']['password'] = file_get_contents('/run/secrets/db');\n")
    framework = detect(project)
    assert framework.database is None
    assert "password cannot be read without PHP" in caplog.text


def test_not_drupal(tmp_path: Path) -> None:
    (tmp_path / "web").mkdir()
    assert synco_drupal.plugin.detect_framework(tmp_path) is None


def test_password_hash_by_version() -> None:
    inventory = DatabaseInventory(engine="mysql", server_version="", tables=[
        TableInfo("cache_custom", ["cid"]), TableInfo("node", ["nid"])])
    old = dump_options("", "mysql", inventory, modern_hash=False)
    new = dump_options("", "mysql", inventory, modern_hash=True)
    assert [r.transform for r in old.sanitize if r.column == "pass"] == [f"fixed:{SHA512_PASSWORD}"]
    assert [r.transform for r in new.sanitize if r.column == "pass"] == [f"fixed:{BCRYPT_PASSWORD}"]
    assert "cache_custom" in new.exclude_tables and "node" not in new.exclude_tables + new.smart_exclude_tables


@needs_php
def test_sha512_hash_checks_in_php() -> None:
    """Drupal's PhpassHashedPassword algorithm, written again in PHP, accepts the hash for "password"."""
    php = shutil.which("php")
    assert php is not None
    script = r"""
$itoa = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function enc($input, $count, $itoa) { $out = ''; $i = 0; do { $v = ord($input[$i++]); $out .= $itoa[$v & 0x3f];
  if ($i < $count) $v |= ord($input[$i]) << 8; $out .= $itoa[($v >> 6) & 0x3f]; if ($i++ >= $count) break;
  if ($i < $count) $v |= ord($input[$i]) << 16; $out .= $itoa[($v >> 12) & 0x3f]; if ($i++ >= $count) break;
  $out .= $itoa[($v >> 18) & 0x3f]; } while ($i < $count); return $out; }
$stored = $argv[1]; $setting = substr($stored, 0, 12); $count = 1 << strpos($itoa, $setting[3]);
$salt = substr($setting, 4, 8); $hash = hash('sha512', $salt . 'password', TRUE);
do { $hash = hash('sha512', $hash . 'password', TRUE); } while (--$count);
echo substr($setting . enc($hash, strlen($hash), $itoa), 0, 55) === $stored ? 'match' : 'differ';
"""
    result = subprocess.run([php, "-r", script, SHA512_PASSWORD], capture_output=True, text=True, check=True)
    assert result.stdout == "match"
    assert drupal_sha512_hash("password", salt="abcdefgh", count_log2=7).startswith("$S$5abcdefgh")
    assert len(SHA512_PASSWORD) == 55


def test_listed_by_synco_plugins() -> None:
    """Installed (nox installs every plugin), the entry point is found and its hooks are listed."""
    import json

    from click.testing import CliRunner

    from synco_core.testing import cli

    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    plugins = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}
    assert plugins["drupal"]["distribution"] == "synco-drupal"
    assert {"detect_framework", "list_file_sets", "default_dump_options", "install_files"} <= set(
        plugins["drupal"]["hooks"])


#: Host names as SYNCO_DRUPAL_SITE may give them, and the site folder Drupal's findSitePath() serves them
#: from (sites.php maps shop.example.com and 8080.shop.local to "shop", example.com.blog is its own folder,
#: so is en.example.org); None: refused, nothing matches (Drupal would fall back to sites/default).
HOSTS = [
    ("shop", "shop"),
    ("shop.example.com", "shop"),
    ("www.shop.example.com", "shop"),
    ("WWW.Shop.Example.COM.", "shop"),
    ("https://www.shop.example.com/", "shop"),
    ("shop.local:8080", "shop"),
    ("shop.local", None),
    ("example.com/blog", "example.com.blog"),
    ("www.example.com/blog/", "example.com.blog"),
    ("example.com", None),
    ("fr.en.example.org", "en.example.org"),
    ("en.example.org:443", "en.example.org"),
    ("nowhere.example.net", None),
    ("typo.example.com", None),
]


@pytest.mark.parametrize(("wanted", "folder"), HOSTS)
def test_multisite_host_names_as_drupal_matches_them(tmp_path: Path, drupal_manager: SyncoPluginManager, no_php: None,
                                                     monkeypatch: pytest.MonkeyPatch, wanted: str,
                                                     folder: str | None) -> None:
    project = copy_project(tmp_path / "site")
    sites = project / "web/sites"
    for name in ("shop", "example.com.blog", "en.example.org"):
        shutil.copytree(sites / "default", sites / name)
        (sites / name / "settings.local.php").write_text(
            f"<?php\n$databases['default']['default']['database'] = '{name}';\n")
    (sites / "sites.php").write_text("<?php\n$sites['shop.example.com'] = 'shop';\n"
                                     "$sites['8080.shop.local'] = 'shop';\n$sites['typo.example.com'] = 'gone';\n")
    monkeypatch.setenv("SYNCO_DRUPAL_SITE", wanted)
    if folder is None:
        with pytest.raises(ConfigError, match=f"SYNCO_DRUPAL_SITE={wanted}:.*sites.php maps no part of it"):
            detect(project)
        return
    framework = detect(project)
    assert framework.database is not None and framework.database.name == folder
    assert f"site sites/{folder}" in framework.reason


@pytest.mark.parametrize(("code", "where"), [
    ("$databases['default']['default'] = my_db_settings();", "my_db_settings()"),
    ("$databases['default'] = platform_databases();", "platform_databases()"),
    ("if ($_SERVER['HTTP_HOST'] === 'stage.example.com') {\n"
     "  $databases['default']['default']['database'] = 'stage';\n}", "HTTP_HOST"),
    ("$databases['default']['default']['prefix'] = ['default' => site_prefix()];", "prefix.default"),
    ("$databases['default']['default']['pdo'] = [PDO::MYSQL_ATTR_SSL_CA => ca_path()];", "MYSQL_ATTR_SSL_CA"),
    ("$databases['default']['default']['pdo'] = [\\PDO::MYSQL_ATTR_SSL_VERIFY_SERVER_CERT => verify()];",
     "MYSQL_ATTR_SSL_VERIFY_SERVER_CERT"),
], ids=["connection", "key", "by-host", "nested-prefix", "tls-ca", "tls-verify"])
def test_a_connection_only_php_knows_is_reported_not_guessed(tmp_path: Path, drupal_manager: SyncoPluginManager,
                                                             no_php: None, caplog: pytest.LogCaptureFixture,
                                                             code: str, where: str) -> None:
    """Whatever part of ``$databases['default']['default']`` code computes, at any depth (a table prefix, a TLS
    option), the connection is unknown with one line saying why: never "defines no database", never the text of
    the unknown value as a prefix or a CA file, never a traceback."""
    project = copy_project(tmp_path / "site")
    settings = project / "web/sites/default/settings.php"
    settings.write_text(settings.read_text() + "\n" + code + "\n")
    framework = detect(project)
    assert framework.database is None
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("cannot be read without PHP" in w and where in w and ".synco.yml" in w for w in warnings), warnings
    assert all("\n" not in w for w in warnings)


@pytest.mark.parametrize("name", ["file_public_path", "file_private_path"])
def test_a_files_folder_only_php_knows_is_skipped_saying_so(tmp_path: Path, drupal_manager: SyncoPluginManager,
                                                            no_php: None, name: str) -> None:
    """``$settings['file_public_path'] = my_files_dir();``: the public files are not taken from the default
    ``sites/default/files`` (another folder than the site's), nor is a private folder left out unsaid; the set
    is listed as skipped with the reason, and installing into it is refused."""
    project = copy_project(tmp_path / "site")
    settings = project / "web/sites/default/settings.php"
    settings.write_text(settings.read_text() + f"\n$settings['{name}'] = my_files_dir();\n")
    framework = detect(project)
    kind = "public" if name == "file_public_path" else "private"
    found = {s.name: s for s in list_file_sets(framework, FileSetOptions())}[kind]
    assert found.root is None and found.skipped_reason is not None
    assert name in found.skipped_reason and "my_files_dir()" in found.skipped_reason
    received = tmp_path / "received"
    received.mkdir()
    received_set = ReceivedFileSet(name=kind, kind="public" if kind == "public" else "private")
    with pytest.raises(ConfigError, match=f"cannot install the Drupal {kind} files"):
        synco_drupal.plugin.install_files(framework, received_set, received)
