"""Detecting WordPress and reading wp-config.php: every DB_HOST form, the environment, the layouts WordPress
allows, WP-CLI first when it is there (a stand-in here), and never WordPress's own bootstrap."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import synco_wordpress.plugin
from synco_wordpress.dbhost import DbHost, parse_db_host
from wp_support import FIXTURES, configure, copy_site, wp_cli_config

from synco_core import ConfigError, Framework, hookimpl, parse_database_url, redact
from synco_core.testing import FrameworkPluginContract, SyncoPluginManager, detect


class TestWordPressContract(FrameworkPluginContract):
    plugin = synco_wordpress.plugin
    plugin_name = "wordpress"

    @pytest.fixture
    def project_dir(self, tmp_path: Path) -> Path:
        site = copy_site(tmp_path / "site")
        configure(site, "contract_db")
        return site


@pytest.mark.parametrize(("value", "expected"), [
    ("localhost", DbHost("localhost", None, None)),
    ("db.internal:3307", DbHost("db.internal", 3307, None)),
    ("localhost:/var/run/mysqld/mysqld.sock", DbHost("localhost", None, "/var/run/mysqld/mysqld.sock")),
    (":/tmp/mysql.sock", DbHost(None, None, "/tmp/mysql.sock")),
    ("127.0.0.1:3307:/tmp/mysql.sock", DbHost("127.0.0.1", 3307, "/tmp/mysql.sock")),
    ("[::1]:3307", DbHost("::1", 3307, None)),
    ("[2001:db8::5]", DbHost("2001:db8::5", None, None)),
    ("::1", DbHost("::1", None, None)),
    ("  mysql  ", DbHost("mysql", None, None)),
    # getenv('DB_HOST') . ':' . getenv('DB_PORT') with no DB_PORT: WordPress connects to the default port.
    ("db:", DbHost("db", None, None)),
    ("db::/tmp/mysql.sock", DbHost("db", None, "/tmp/mysql.sock")),
])
def test_db_host_forms(value: str, expected: DbHost) -> None:
    assert parse_db_host(value) == expected


@pytest.mark.parametrize("value", ["host:notaport", "host:99999", "db:33o6", "[::1]:x"])
def test_bad_db_host(value: str) -> None:
    with pytest.raises(ConfigError, match="DB_HOST"):
        parse_db_host(value)


@pytest.mark.parametrize(("db_host", "host", "port", "socket"), [
    ("db.internal:3307", "db.internal", 3307, None),
    ("localhost:/run/mysqld/mysqld.sock", "localhost", None, "/run/mysqld/mysqld.sock"),
    (":/run/mysqld/mysqld.sock", None, None, "/run/mysqld/mysqld.sock"),
    ("[::1]:3307", "::1", 3307, None),
])
def test_detect_reads_wp_config_without_php(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                            no_php: None, db_host: str, host: str | None, port: int | None,
                                            socket: str | None) -> None:
    site = copy_site(tmp_path / "site")
    configure(site, "shop")
    config = site / "wp-config.php"
    config.write_text(config.read_text().replace("define( 'DB_HOST', '127.0.0.1:3306' );",
                                                 f"define( 'DB_HOST', '{db_host}' );")
                      .replace("define( 'DB_PASSWORD', '' );", "define( 'DB_PASSWORD', 'pa$$w0rd' );"))
    framework = detect(site)
    assert (framework.name, framework.plugin, framework.config_source) == ("WordPress", "wordpress", "files")
    assert "WordPress 6.6.2" in framework.reason
    database = framework.database
    assert database is not None
    assert (database.engine, database.name, database.host, database.port, database.socket) == (
        "mysql", "shop", host, port, socket)
    assert database.password == "pa$$w0rd" and database.options == {"charset": "utf8mb4"}
    assert "pa$$w0rd" not in redact("password pa$$w0rd")
    assert "fixture-auth-key-7f3a" not in redact("key fixture-auth-key-7f3a"), "keys and salts are secrets"
    assert framework.settings["table_prefix"] == "wp_"
    assert framework.post_install == [], "no WP-CLI, nothing to run after an install"


def test_constants_from_the_environment(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    site = copy_site(tmp_path / "site")
    config = site / "wp-config.php"
    config.write_text(config.read_text()
                      .replace("define( 'DB_NAME', 'database_name_here' );",
                               "define( 'DB_NAME', getenv( 'WORDPRESS_DB_NAME' ) ?: 'fallback' );")
                      .replace("define( 'DB_HOST', 'localhost' );",
                               "define( 'DB_HOST', $_ENV['WORDPRESS_DB_HOST'] ?? 'localhost' );")
                      .replace("$table_prefix = 'wp_';", "$table_prefix = getenv( 'WP_PREFIX' ) ?: 'wp_';"))
    monkeypatch.setenv("WORDPRESS_DB_NAME", "from_env")
    monkeypatch.setenv("WORDPRESS_DB_HOST", "db:3310")
    monkeypatch.setenv("WP_PREFIX", "shop_")
    framework = detect(site)
    assert framework.database is not None
    assert (framework.database.name, framework.database.host, framework.database.port) == ("from_env", "db", 3310)
    assert framework.settings["table_prefix"] == "shop_"


def test_wp_config_one_level_above(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None) -> None:
    site = copy_site(tmp_path / "account" / "public_html")
    configure(site, "above")
    (site / "wp-config.php").rename(tmp_path / "account" / "wp-config.php")
    framework = detect(site)
    assert framework.database is not None and framework.database.name == "above"
    assert "above ABSPATH" in framework.reason


def test_wordpress_in_its_own_directory(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None) -> None:
    project = tmp_path / "project"
    copy_site(project / "wp")
    configure(project / "wp", "own_dir")
    (project / "wp" / "wp-config.php").rename(project / "wp-config.php")
    shutil.move(str(project / "wp" / "wp-content"), project / "wp-content")
    config = project / "wp-config.php"
    config.write_text(config.read_text().replace(
        "/* That's all", "define( 'WP_CONTENT_DIR', __DIR__ . '/wp-content' );\n/* That's all"))
    framework = detect(project)
    assert framework.database is not None and framework.database.name == "own_dir"
    assert framework.settings["root"] == str(project / "wp")


def test_local_config_file_is_read_but_never_wordpress(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                                       no_php: None) -> None:
    site = copy_site(tmp_path / "site")
    configure(site, "ignored")
    (site / "wp-config-local.php").write_text("<?php\ndefine( 'DB_NAME', 'from_local_file' );\n")
    # wp-config.php defines DB_NAME before including the local file, so PHP keeps the first definition...
    framework = detect(site)
    assert framework.database is not None and framework.database.name == "ignored"
    # ...and wp-settings.php (which throws if run) is never read: detection succeeded.
    notes = framework.settings["notes"]
    assert any("wp-settings.php was not read" in note for note in notes)


def test_unreadable_password_keeps_the_files(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                             no_php: None, caplog: pytest.LogCaptureFixture) -> None:
    site = copy_site(tmp_path / "site")
    config = site / "wp-config.php"
    computed = "define( 'DB_PASSWORD', trim( file_get_contents( '/run/secret' ) ) );"
    config.write_text(config.read_text().replace("define( 'DB_PASSWORD', 'password_here' );", computed))
    framework = detect(site)
    assert framework.database is None
    assert "DB_PASSWORD cannot be read without PHP" in caplog.text


def test_settings_chosen_by_the_request_are_not_guessed(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                                        no_php: None, caplog: pytest.LogCaptureFixture) -> None:
    """One wp-config.php serving two hosts, as agencies write it: outside a request neither branch is the site's,
    and the URL built from the request's host is not ``https://``."""
    site = copy_site(tmp_path / "site")
    config = site / "wp-config.php"
    by_host = ("if ( $_SERVER['HTTP_HOST'] === 'staging.shop.example' ) {\n"
               "    define( 'DB_NAME', 'shop_staging' );\n} else {\n    define( 'DB_NAME', 'shop_live' );\n}\n"
               "define( 'WP_HOME', 'https://' . $_SERVER['HTTP_HOST'] );")
    config.write_text(config.read_text().replace("define( 'DB_NAME', 'database_name_here' );", by_host))
    framework = detect(site)
    assert framework.database is None, "neither shop_staging nor shop_live is known to be this site's"
    assert "DB_NAME cannot be read without PHP" in caplog.text and "HTTP_HOST" in caplog.text
    assert framework.site_url is None and "WP_HOME" not in framework.settings["urls"]


class ExplicitConfiguration:
    """What synco-generic does with a .synco.yml naming the database (this plugin's tests run without it): the
    project becomes its own (priority 1, explicit configuration), and a framework chosen with --framework gets
    that database."""

    URL = "mysql://shop:pw@127.0.0.1/shop"

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Framework | None:
        if not (project_dir / ".synco.yml").exists():
            return None
        return Framework(name="Configured", plugin="explicit", project_dir=project_dir, priority=1,
                         reason=".synco.yml names the database", database=parse_database_url(self.URL))

    @hookimpl
    def amend_framework(self, framework: Framework) -> None:
        if framework.plugin != "explicit" and (framework.project_dir / ".synco.yml").exists():
            framework.database = parse_database_url(self.URL)


def test_the_advice_for_an_unreadable_database_keeps_the_sanitising(
        tmp_path: Path, wordpress_manager: SyncoPluginManager, register_plugin: Callable[[object, str], None],
        no_php: None, caplog: pytest.LogCaptureFixture) -> None:
    """A database named in .synco.yml alone makes the project synco-generic's (explicit configuration wins),
    and then none of this plugin's sanitising applies: users' password hashes and e-mail addresses would ship
    as they are. So the advice for a database wp-config.php computes says to keep WordPress (--framework), and
    a project where that happened anyway is told so, naming the option."""
    register_plugin(ExplicitConfiguration(), "explicit")
    site = copy_site(tmp_path / "site")
    config = site / "wp-config.php"
    computed = "define( 'DB_PASSWORD', trim( file_get_contents( '/run/secret' ) ) );"
    config.write_text(config.read_text().replace("define( 'DB_PASSWORD', 'password_here' );", computed))
    detect(site)
    assert "give the database in .synco.yml and pass --framework wordpress" in caplog.text
    caplog.clear()

    (site / ".synco.yml").write_text("serve:\n  database: mysql://shop:pw@127.0.0.1/shop\n")
    chosen = detect(site)
    assert chosen.plugin == "explicit"
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "--framework" in r.getMessage()]
    assert any("WordPress's sanitising rules and settings are not applied; --framework wordpress" in message
               for message in warned), warned
    kept = detect(site, "wordpress")
    assert kept.plugin == "wordpress" and kept.database is not None and kept.database.name == "shop"


def test_not_configured_yet(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None) -> None:
    site = copy_site(tmp_path / "site")
    (site / "wp-config.php").unlink()
    framework = detect(site)
    assert framework.plugin == "wordpress" and framework.database is None


def test_not_wordpress(tmp_path: Path, wordpress_manager: SyncoPluginManager) -> None:
    (tmp_path / "wp-config.php").write_text("<?php\n")
    assert synco_wordpress.plugin.detect_framework(tmp_path) is None
    assert synco_wordpress.plugin.detect_framework(FIXTURES) is None


def test_wp_cli_is_asked_first(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                               fake_wp_cli: Callable[[dict[str, Any]], Path]) -> None:
    """With WP-CLI (the stand-in) on PATH, its answer wins over the file, and the post-install flushes use it."""
    site = copy_site(tmp_path / "site")
    configure(site, "from_file")
    state = fake_wp_cli({"sites": {str(site): {"config": wp_cli_config("from_wp_cli", prefix="cli_"),
                                               "options": {}}}})
    framework = detect(site)
    assert framework.config_source == "wp-cli"
    assert framework.database is not None and framework.database.name == "from_wp_cli"
    assert framework.settings["table_prefix"] == "cli_"
    wp = str(state.parent / "wp")
    assert [argv[:3] for argv in framework.post_install] == [[wp, "cache", "flush"], [wp, "rewrite", "flush"]]
    assert "config get --format=json" in (state.parent / "calls.log").read_text()


def test_wp_cli_failure_falls_back_to_the_file(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                               fake_wp_cli: Callable[[dict[str, Any]], Path],
                                               caplog: pytest.LogCaptureFixture) -> None:
    site = copy_site(tmp_path / "site")
    configure(site, "from_file")
    fake_wp_cli({"sites": {str(site): {"config": []}}, "fail": ["config get"]})
    framework = detect(site)
    assert framework.config_source == "files"
    assert framework.database is not None and framework.database.name == "from_file"
    assert "WP-CLI could not report the configuration" in caplog.text


def test_listed_by_synco_plugins() -> None:
    """Installed (nox installs every plugin), the entry point is found and its hooks are listed."""
    import json

    from click.testing import CliRunner

    from synco_core.testing import cli

    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    plugins = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}
    assert plugins["wordpress"]["distribution"] == "synco-wordpress"
    assert {"detect_framework", "list_file_sets", "default_dump_options", "source_settings",
            "value_rewriter", "install_files"} <= set(plugins["wordpress"]["hooks"])


@pytest.mark.parametrize("block", [
    "switch ( getenv( 'WP_ENVIRONMENT_TYPE' ) ) {\n  case 'production': $table_prefix = 'prod_'; break;\n}\n",
    "foreach ( array( 'shop' ) as $site ) { $table_prefix = $site . '_'; }\n",
    "if ( some_function_of_the_site() ) { $table_prefix = 'other_'; }\n",
])
def test_table_prefix_changed_where_synco_cannot_follow_is_refused(
        tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None, monkeypatch: pytest.MonkeyPatch,
        block: str) -> None:
    """A prefix set, then changed in a switch on the environment (a loop, an if only PHP can decide) is not
    known: refused in one line naming it, never read as the value before the change (its users table would
    then be dumped without being sanitised)."""
    monkeypatch.setenv("WP_ENVIRONMENT_TYPE", "production")
    site = copy_site(tmp_path / "site")
    configure(site, "shop")
    config = site / "wp-config.php"
    text = config.read_text()
    assert "$table_prefix = 'wp_';" in text
    config.write_text(text.replace("$table_prefix = 'wp_';", "$table_prefix = 'wp_';\n" + block))
    with pytest.raises(ConfigError) as error:
        detect(site)
    message = str(error.value)
    assert "wp-config.php" in message and "$table_prefix cannot be read without PHP" in message
    assert "\n" not in message


def test_database_name_defined_in_a_switch_is_not_guessed(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                                          no_php: None, caplog: pytest.LogCaptureFixture) -> None:
    site = copy_site(tmp_path / "site")
    configure(site, "shop")
    config = site / "wp-config.php"
    text = config.read_text()
    switch = "switch ( getenv( 'SITE' ) ) { case 'a': define( 'DB_NAME', 'a' ); }"
    config.write_text(text.replace("<?php", "<?php\n" + switch, 1))
    framework = detect(site)
    assert framework.database is None
    assert "DB_NAME" in caplog.text and "switch" in caplog.text


def test_a_secrets_file_outside_the_project_is_never_replaced_by_the_fallbacks(
        tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None, caplog: pytest.LogCaptureFixture) -> None:
    """Debian's /etc/wordpress/config-<host>.php, a secrets file under /etc: wp-config.php requires it, then
    defines fallbacks with defined() || define(). synco does not read a file outside the project, and read the
    fallbacks as the database (root@localhost/wordpress: the wrong one dumped, or a local one replaced)."""
    site = copy_site(tmp_path / "site")
    secrets = tmp_path / "etc" / "config-prod.php"
    secrets.parent.mkdir()
    secrets.write_text("<?php define('DB_NAME', 'real_prod'); define('DB_USER', 'wp');\n")
    config = site / "wp-config.php"
    text = config.read_text()
    for name, value in (("DB_NAME", "database_name_here"), ("DB_USER", "username_here")):
        text = text.replace(f"define( '{name}', '{value}' );",
                            f"defined( '{name}' ) || define( '{name}', 'wordpress' );")
    config.write_text(text.replace("<?php", f"<?php\nrequire_once '{secrets}';", 1))
    framework = detect(site)
    assert framework.database is None
    assert "DB_NAME cannot be read without PHP" in caplog.text and str(secrets) in caplog.text


@pytest.mark.parametrize("loader", [
    "require_once __DIR__ . '/vendor/autoload.php';\nDotenv\\Dotenv::createImmutable(__DIR__)->load();",
    "require_once __DIR__ . '/vendor/autoload.php';\n$dotenv = Dotenv\\Dotenv::createImmutable(__DIR__);\n"
    "$dotenv->safeLoad();",
])
@pytest.mark.parametrize("read", ["$_ENV['DB_NAME']", "getenv('DB_NAME') ?: 'wordpress'",
                                  "$_SERVER['DB_NAME'] ?? 'wordpress'"])
def test_a_wp_config_that_loads_its_own_env_file_is_reported_not_read_as_unset(
        tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None, caplog: pytest.LogCaptureFixture,
        loader: str, read: str) -> None:
    """wp-config.php loading .env with phpdotenv itself (Composer's autoloader, then load()), which synco does
    not run: DB_NAME was "not defined", or the fallback after it ('wordpress', the wrong database), instead of
    unknown. It is reported, naming the line; a variable the real environment sets is still read."""
    site = copy_site(tmp_path / "site")
    (site / ".env").write_text("DB_NAME=from_dotenv\n")
    config = site / "wp-config.php"
    text = config.read_text().replace("define( 'DB_NAME', 'database_name_here' );", f"define( 'DB_NAME', {read} );")
    config.write_text(text.replace("<?php", "<?php\n" + loader, 1))
    framework = detect(site)
    assert framework.database is None
    line = loader.count("\n") + 2
    assert "DB_NAME cannot be read without PHP" in caplog.text and f"line {line}" in caplog.text
    caplog.clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DB_NAME", "from_environment")
        framework = detect(site)
    assert framework.database is not None and framework.database.name == "from_environment"
