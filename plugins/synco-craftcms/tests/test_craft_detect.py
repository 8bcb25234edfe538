"""synco-craftcms: the framework-plugin contract, and how a Craft project's database settings are read."""

from __future__ import annotations

from pathlib import Path

import pytest
import synco_craftcms.plugin
from craft_support import make_craft4, set_env

from synco_core import ConfigError, DatabaseConfig, Framework, redact
from synco_core.testing import FrameworkPluginContract, SyncoPluginManager, detect

CRAFT3_DB_PHP = """<?php
return [
    'driver' => getenv('DB_DRIVER'),
    'server' => getenv('DB_SERVER'),
    'user' => getenv('DB_USER'),
    'password' => getenv('DB_PASSWORD'),
    'database' => getenv('DB_DATABASE'),
    'schema' => getenv('DB_SCHEMA'),
    'tablePrefix' => getenv('DB_TABLE_PREFIX'),
    'port' => getenv('DB_PORT'),
];
"""


class TestCraftContract(FrameworkPluginContract):
    plugin = synco_craftcms.plugin
    plugin_name = "craftcms"

    @pytest.fixture
    def project_dir(self, tmp_path: Path) -> Path:
        return make_craft4(tmp_path)


def craft(project: Path) -> Framework:
    framework = synco_craftcms.plugin.detect_framework(project)
    assert framework is not None
    return framework


def database(project: Path) -> DatabaseConfig:
    found = craft(project).database
    assert found is not None
    return found


def test_craft4_env_only(tmp_path: Path, craft_manager: SyncoPluginManager) -> None:
    project = make_craft4(tmp_path)
    framework = detect(project, manager=craft_manager)
    assert (framework.plugin, framework.name, framework.web_root) == ("craftcms", "Craft CMS", project / "web")
    assert framework.database == DatabaseConfig(engine="mysql", name="craft", host="db.internal", port=3306,
                                                user="craft", password="s3cr$t pass", source=".env (CRAFT_DB_*)")
    assert framework.base_url == "https://www.example.org/"
    assert "s3cr" not in repr(framework.database)


def test_not_craft(tmp_path: Path) -> None:
    make_craft4(tmp_path, {"composer.json": '{"require": {"laravel/framework": "^11"}}',
                           "config/project/project.yaml": None})
    (tmp_path / "config/project").rename(tmp_path / "elsewhere")
    assert synco_craftcms.plugin.detect_framework(tmp_path) is None
    assert synco_craftcms.plugin.detect_framework(tmp_path / "web") is None


def test_version_from_composer_lock(tmp_path: Path) -> None:
    project = make_craft4(tmp_path, {"composer.lock": '{"packages": [{"name": "craftcms/cms", "version": "4.5.11"}]}'})
    assert craft(project).name == "Craft CMS 4.5.11"


def test_craft3_db_php_with_getenv(tmp_path: Path) -> None:
    env = ("DB_DRIVER=pgsql\nDB_SERVER=localhost\nDB_USER=craft\nDB_PASSWORD=pw-3\nDB_DATABASE=craft3\n"
           "DB_SCHEMA=content\nDB_TABLE_PREFIX=cr\nDB_PORT=\n")
    project = make_craft4(tmp_path, {".env": env, "config/db.php": CRAFT3_DB_PHP})
    framework = craft(project)
    assert framework.database == DatabaseConfig(engine="postgresql", name="craft3", host="localhost", user="craft",
                                                password="pw-3", source="config/db.php")
    # DbConfig appends the underscore; a schema other than public qualifies every table.
    assert (framework.settings["tablePrefix"], framework.settings["schema"]) == ("cr_", "content")


@pytest.mark.parametrize("spelling", ["use craft\\helpers\\App;\n", "use craft\\helpers\\App as Env;\n", ""])
def test_craft4_db_php_with_app_env(tmp_path: Path, spelling: str) -> None:
    helper = {"use craft\\helpers\\App;\n": "App", "use craft\\helpers\\App as Env;\n": "Env",
              "": "\\craft\\helpers\\App"}
    db_php = (f"<?php\n{spelling}return [\n  'driver' => {helper[spelling]}::env('MY_DRIVER'),\n"
              f"  'server' => {helper[spelling]}::env('MY_HOST'),\n  'port' => {helper[spelling]}::env('MY_PORT'),\n"
              f"  'database' => {helper[spelling]}::env('MY_NAME'),\n  'user' => 'app',\n"
              f"  'password' => {helper[spelling]}::env('MY_PASSWORD'),\n];\n")
    project = make_craft4(tmp_path, {".env": "MY_DRIVER=mysql\nMY_HOST=10.0.0.5\nMY_PORT=3307\nMY_NAME=site\n"
                                             "MY_PASSWORD=12345\n", "config/db.php": db_php})
    # App::env() turns "12345" into an integer; PDO receives its digits.
    assert database(project) == DatabaseConfig(engine="mysql", name="site", host="10.0.0.5", port=3307, user="app",
                                               password="12345", source="config/db.php")


def test_environment_variables_override_db_php(tmp_path: Path) -> None:
    # Craft 4 merges App::envConfig(DbConfig::class, 'CRAFT_DB_') over the file's array.
    db_php = "<?php\nreturn ['database' => 'from_file', 'user' => 'fileuser'];\n"
    project = make_craft4(tmp_path, {"config/db.php": db_php})
    found = database(project)
    assert (found.name, found.user) == ("craft", "craft")


def test_multi_environment_db_php(tmp_path: Path) -> None:
    db_php = ("<?php\nreturn [\n  '*' => ['driver' => 'mysql', 'database' => 'shared', 'user' => 'u'],\n"
              "  'production' => ['server' => 'prod-db', 'database' => 'live'],\n"
              "  'dev' => ['server' => 'localhost'],\n];\n")
    project = make_craft4(tmp_path, {".env": "CRAFT_ENVIRONMENT=production\n", "config/db.php": db_php})
    found = database(project)
    assert (found.host, found.name) == ("prod-db", "live")
    set_env(project, CRAFT_ENVIRONMENT="dev")
    found = database(project)
    assert (found.host, found.name) == ("localhost", "shared")


def test_dsn_and_url(tmp_path: Path) -> None:
    project = make_craft4(tmp_path, {".env": "CRAFT_DB_DSN=pgsql:host=pg.internal;port=6432;dbname=cms\n"
                                             "CRAFT_DB_USER=cms\nCRAFT_DB_PASSWORD=pw-dsn\n"})
    assert database(project) == DatabaseConfig(engine="postgresql", name="cms", host="pg.internal", port=6432,
                                               user="cms", password="pw-dsn", source=".env (CRAFT_DB_*)")
    set_env(project, CRAFT_DB_URL="mysql://u:pw-url@mysql.internal:3310/fromurl", CRAFT_DB_TABLE_PREFIX="c")
    found = craft(project)
    assert found.database is not None and (found.database.engine, found.database.host, found.database.port,
                                           found.database.name, found.database.password) == (
        "mysql", "mysql.internal", 3310, "fromurl", "pw-url")
    assert found.settings["tablePrefix"] == "c_"


def test_url_naming_only_the_server(tmp_path: Path) -> None:
    """Db::url2config sets only what the URL has: CRAFT_DB_DATABASE and the user beside a URL naming the
    server stay (the URL was refused as naming no database)."""
    project = make_craft4(tmp_path, {".env": "CRAFT_DB_URL=mysql://mysql.internal:3310\nCRAFT_DB_DATABASE=cms\n"
                                             "CRAFT_DB_USER=cms\nCRAFT_DB_PASSWORD=pw-beside\n"})
    found = database(project)
    assert (found.host, found.port, found.name, found.user, found.password) == (
        "mysql.internal", 3310, "cms", "cms", "pw-beside")


@pytest.mark.parametrize("env", [
    "CRAFT_DB_DATABASE=cms\n",
    "CRAFT_DB_DSN=mysql:host=db.internal;dbname=cms\n",
    "CRAFT_DB_URL=mysql://db.internal/cms\n",
    "CRAFT_DB_URL=pgsql://db.internal:5433/cms\n",
])
def test_user_defaults_to_root_as_in_craft(tmp_path: Path, env: str) -> None:
    """DbConfig's $user is 'root' when nothing sets it, with a DSN or a URL without a user too (Craft's
    Db::url2config sets only what the URL has)."""
    project = make_craft4(tmp_path, {".env": env})
    assert database(project).user == "root"


def test_unix_socket(tmp_path: Path) -> None:
    project = make_craft4(tmp_path)
    set_env(project, CRAFT_DB_UNIX_SOCKET="/run/mysqld/mysqld.sock")
    found = database(project)
    assert (found.socket, found.host, found.port) == ("/run/mysqld/mysqld.sock", None, None)


def test_real_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRAFT_DB_DATABASE", "from_environment")
    assert database(make_craft4(tmp_path)).name == "from_environment"


@pytest.mark.parametrize(("env", "message"), [
    ("CRAFT_DB_DRIVER=sqlsrv\nCRAFT_DB_DATABASE=x\n", "driver 'sqlsrv' is not supported"),
    ("CRAFT_DB_DATABASE=x\nCRAFT_DB_PORT=abc\n", "port 'abc' is not a number"),
    ("CRAFT_DB_DSN=nonsense\n", "is not a PDO DSN"),
])
def test_bad_settings_are_one_line(tmp_path: Path, env: str, message: str) -> None:
    project = make_craft4(tmp_path, {".env": env})
    with pytest.raises(ConfigError, match=message) as caught:
        synco_craftcms.plugin.detect_framework(project)
    assert "\n" not in str(caught.value)


def test_setting_only_php_knows_is_named(tmp_path: Path) -> None:
    project = make_craft4(tmp_path, {".env": "", "config/db.php": "<?php\nreturn ['database' => 'x', "
                                     "'password' => file_get_contents('/run/secrets/db')];\n"})
    with pytest.raises(ConfigError, match=r"'password' .* cannot be read without PHP .*CRAFT_DB_PASSWORD"):
        synco_craftcms.plugin.detect_framework(project)


def test_fluent_db_config_is_read_under_the_environment(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db_php = "<?php\nuse craft\\config\\DbConfig;\nreturn DbConfig::create()->driver('mysql')->database('x');\n"
    project = make_craft4(tmp_path, {"config/db.php": db_php})
    assert database(project).name == "craft"
    assert "db.php is not read without PHP" not in caplog.text


def test_db_config_synco_cannot_build_falls_back_to_environment(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    db_php = "<?php\nuse craft\\config\\DbConfig;\nreturn new DbConfig(['database' => 'x']);\n"
    project = make_craft4(tmp_path, {"config/db.php": db_php})
    assert database(project).name == "craft"
    assert "db.php is not read without PHP" in caplog.text


@pytest.mark.parametrize("env", ["DB_SERVER=legacy-db\nDB_DATABASE=legacy\nDB_USER=legacy\nDB_PASSWORD=pw\n",
                                 "CRAFT_ENVIRONMENT=production\n"])
def test_db_config_synco_cannot_build_without_craft_db_variables_is_said(tmp_path: Path, env: str) -> None:
    """A config object synco cannot build (new DbConfig(...), here with the older DB_* names): the database
    the site uses is unknown to synco, which says so (naming config/db.php and what to set) instead of
    reporting that no database is configured."""
    db_php = ("<?php\nuse craft\\config\\DbConfig;\nuse craft\\helpers\\App;\n\nreturn new DbConfig([\n"
              "    'server' => App::env('DB_SERVER'),\n    'database' => App::env('DB_DATABASE'),\n"
              "    'user' => App::env('DB_USER'),\n    'password' => App::env('DB_PASSWORD'),\n]);\n")
    project = make_craft4(tmp_path, {".env": env, "config/db.php": db_php})
    with pytest.raises(ConfigError, match=r"config/db\.php is not read without PHP .*CRAFT_DB_DATABASE.*\.synco\.yml"):
        synco_craftcms.plugin.detect_framework(project)


def test_no_database_configured(tmp_path: Path) -> None:
    project = make_craft4(tmp_path, {".env": "CRAFT_ENVIRONMENT=dev\n"})
    assert craft(project).database is None


def test_password_inside_a_dsn_is_used_and_kept_secret(tmp_path: Path) -> None:
    # PDO's pgsql DSN may carry the credentials; the DSN's own win over CRAFT_DB_USER / CRAFT_DB_PASSWORD.
    project = make_craft4(tmp_path, {".env": "CRAFT_DB_DSN='pgsql:host=pg;dbname=cms;user=dsnuser;"
                                             "password=dsn-secret-pw'\nCRAFT_DB_PASSWORD=env-secret-pw\n"})
    found = database(project)
    assert (found.user, found.password) == ("dsnuser", "dsn-secret-pw")
    assert "dsn-secret-pw" not in redact("connecting with dsn-secret-pw")
    set_env(project, CRAFT_DB_DSN="'password=dsn-other-pw;host=pg'")
    with pytest.raises(ConfigError) as caught:
        craft(project)
    assert "dsn-other-pw" not in str(caught.value) and "not a PDO DSN" in str(caught.value)


@pytest.mark.parametrize(("files", "source"), [
    ({}, ".env (CRAFT_DB_*)"),
    ({"config/db.php": "<?php\nreturn ['schema' => 'public'];\n"}, "config/db.php and .env (CRAFT_DB_*)"),
    ({".env": "", "config/db.php": "<?php\nreturn ['database' => 'craft'];\n"}, "config/db.php"),
])
def test_source_names_where_the_settings_came_from(tmp_path: Path, files: dict[str, str], source: str) -> None:
    assert database(make_craft4(tmp_path, dict(files))).source == source


@pytest.mark.parametrize(("dsn", "expected"), [
    # PDO's MySQL driver reads a DSN's user= and password= only when the constructor gets none, and Craft always
    # passes DbConfig's (root and '' by default): the separate settings are the credentials.
    ("mysql:host=db.internal;dbname=cms", ("db.internal", None, "cms", "cms", "pw-beside")),
    ("mysql:host=db.internal;dbname=cms;user=dsnuser;password=dsn-pw", ("db.internal", None, "cms", "cms",
                                                                          "pw-beside")),
    # PostgreSQL's conninfo is read last-wins, the DSN's keys after the constructor's: the DSN's credentials win.
    ("pgsql:host=pg;dbname=cms;user=dsnuser;password=dsn-pw", ("pg", None, "cms", "dsnuser", "dsn-pw")),
    ("pgsql:host=pg;dbname=cms", ("pg", None, "cms", "cms", "pw-beside")),
    # The connection is made from the DSN alone: what it leaves out is the driver's default, not CRAFT_DB_SERVER,
    # CRAFT_DB_PORT or CRAFT_DB_DATABASE.
    ("mysql:host=db.internal;port=3310;dbname=cms", ("db.internal", 3310, "cms", "cms", "pw-beside")),
])
def test_dsn_with_credentials_beside_it_connects_as_pdo_does(tmp_path: Path, dsn: str,
                                                             expected: tuple[object, ...]) -> None:
    """CRAFT_DB_DSN with CRAFT_DB_USER / CRAFT_DB_PASSWORD given separately (from .env, the real environment or
    config/db.php): the user and password are the ones PDO connects with, per driver."""
    for files in [
        {".env": f"CRAFT_DB_DSN='{dsn}'\nCRAFT_DB_USER=cms\nCRAFT_DB_PASSWORD=pw-beside\n"
                 "CRAFT_DB_SERVER=other-host\nCRAFT_DB_PORT=3399\nCRAFT_DB_DATABASE=other_db\n"},
        {".env": "DB_USER=cms\nDB_PASSWORD=pw-beside\n",
         "config/db.php": f"<?php\nreturn ['dsn' => '{dsn}', 'user' => getenv('DB_USER'), "
                          "'password' => getenv('DB_PASSWORD'), 'server' => 'other-host'];\n"},
    ]:
        project = make_craft4(tmp_path / str(len(files)), dict(files))
        found = database(project)
        assert (found.host, found.port, found.name, found.user, found.password) == expected, files


def test_dsn_naming_no_database_is_refused(tmp_path: Path) -> None:
    """PDO connects to no database when the DSN names none (CRAFT_DB_DATABASE is not part of the connection):
    refused in one line, never the database CRAFT_DB_DATABASE names."""
    project = make_craft4(tmp_path, {".env": "CRAFT_DB_DSN=mysql:host=db.internal\nCRAFT_DB_DATABASE=cms\n"})
    with pytest.raises(ConfigError, match="dsn names no database") as caught:
        craft(project)
    assert "\n" not in str(caught.value)
