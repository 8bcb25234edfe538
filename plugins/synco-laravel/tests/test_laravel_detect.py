"""Detection and database credentials of synco-laravel, each case with PHP and with the .env fallback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from synco_laravel.config import MARKER, TINKER_CODE, detect_major_version
from synco_laravel.database import connection_config
from synco_laravel.plugin import detect_framework

from synco_core import redact

Make = Callable[..., Path]


def test_not_laravel(tmp_path: Path) -> None:
    assert detect_framework(tmp_path) is None
    (tmp_path / "artisan").write_text("<?php\n")
    assert detect_framework(tmp_path) is None, "artisan alone is not enough: bootstrap/app.php is missing"


@pytest.mark.parametrize(("fixture", "major"), [("laravel11", 11), ("laravel10", 10)])
def test_detects_skeleton(make_project: Make, php_mode: str, fixture: str, major: int) -> None:
    project = make_project(fixture)
    framework = detect_framework(project)
    assert framework is not None
    assert framework.name == "Laravel"
    assert framework.plugin == "laravel"
    assert framework.config_source == php_mode
    assert framework.web_root == project / "public"
    assert framework.public_prefixes == ("/storage",)
    assert f"Laravel {major}" in framework.reason
    assert framework.settings["version"].startswith(str(major))
    php = framework.post_install[0][0]
    assert framework.post_install == [[php, "artisan", "storage:link"], [php, "artisan", "optimize:clear"]]


def test_logs_which_way(make_project: Make, php_mode: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="synco_laravel")
    detect_framework(make_project("laravel11"))
    assert f"config_source={php_mode}" in caplog.text


def test_laravel11_defaults_to_sqlite(make_project: Make, php_mode: str) -> None:
    project = make_project("laravel11")
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert framework.database.engine == "sqlite"
    assert framework.database.name == str(project / "database" / "database.sqlite")
    assert framework.settings["connection"] == "sqlite"
    # The skeleton's other connections are boilerplate the application does not use: not listed.
    assert framework.settings["connections"] == {}


def test_laravel11_without_db_connection_is_sqlite(make_project: Make, php_mode: str) -> None:
    project = make_project("laravel11", drop=("DB_CONNECTION",))
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert framework.database.engine == "sqlite"


def test_laravel10_defaults(make_project: Make, php_mode: str) -> None:
    project = make_project("laravel10", drop=("DB_DATABASE", "DB_USERNAME"))
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    db = framework.database
    assert (db.engine, db.host, db.port, db.name, db.user, db.password) == (
        "mysql", "127.0.0.1", 3306, "forge", "forge", None)
    assert db.options["charset"] == "utf8mb4"
    assert "mariadb" not in framework.settings["connections"]


def test_mysql_credentials(make_project: Make, php_mode: str) -> None:
    project = make_project("laravel11", env={
        "DB_CONNECTION": "mysql", "DB_HOST": "db.internal", "DB_PORT": "3307", "DB_DATABASE": "shop",
        "DB_USERNAME": "shop_user", "DB_SECRET_PART": "s3cr3t", "DB_PASSWORD": '"p#ss w0rd ${DB_SECRET_PART}"',
    })
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    db = framework.database
    assert (db.engine, db.host, db.port, db.name, db.user) == ("mysql", "db.internal", 3307, "shop", "shop_user")
    assert db.password == "p#ss w0rd s3cr3t"
    assert redact(f"password is {db.password}") == "password is ***"
    assert "p#ss" not in db.url(mask_password=True)


@pytest.mark.parametrize(("written", "password"), [
    ("abc$xyz", "abc$xyz"),                       # unquoted: "$xyz" is no reference for phpdotenv
    ('"pa$word ${DB_SECRET_PART}"', "pa$word s3cr3t"),  # double quotes: only "${NAME}" expands
    ('"p\\$1"', "p$1"),                            # an escaped dollar
    ("x${DB_UNDEFINED}", "x${DB_UNDEFINED}"),     # phpdotenv keeps an undefined reference as written
])
def test_password_with_dollar_signs_as_phpdotenv_reads_it(make_project: Make, php_mode: str, written: str,
                                                        password: str) -> None:
    project = make_project("laravel11", env={"DB_CONNECTION": "mysql", "DB_SECRET_PART": "s3cr3t",
                                             "DB_PASSWORD": written})
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert framework.database.password == password


def test_mariadb_connection_is_mysql_engine(make_project: Make, php_mode: str) -> None:
    project = make_project("laravel11", env={"DB_CONNECTION": "mariadb", "DB_DATABASE": "app"})
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert (framework.database.engine, framework.database.name, framework.database.user) == ("mysql", "app", "root")


def test_postgresql_credentials(make_project: Make, php_mode: str) -> None:
    project = make_project("laravel11", env={
        "DB_CONNECTION": "pgsql", "DB_HOST": "pg.internal", "DB_DATABASE": "blog", "DB_USERNAME": "blogger",
        "DB_PASSWORD": "'single $quoted'",
    })
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    db = framework.database
    assert (db.engine, db.host, db.port, db.name, db.user, db.password) == (
        "postgresql", "pg.internal", 5432, "blog", "blogger", "single $quoted")
    assert db.options == {"charset": "utf8", "sslmode": "prefer"}


def test_database_url_wins(make_project: Make, php_mode: str) -> None:
    project = make_project("laravel11", env={
        "DB_CONNECTION": "mysql", "DB_URL": "mysql://url_user:p%40ss@url-host:3310/url_db", "DB_HOST": "ignored",
    })
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    db = framework.database
    assert (db.engine, db.host, db.port, db.name, db.user, db.password) == (
        "mysql", "url-host", 3310, "url_db", "url_user", "p@ss")


@pytest.mark.parametrize("url", ["mysql://url_user:pw@url-host:3310", "mysql://url_user:pw@url-host:3310/",
                                 "mysql://url-host"])
def test_database_url_without_a_database_takes_db_database(make_project: Make, php_mode: str, url: str) -> None:
    """ConfigurationUrlParser merges the URL's parts over the connection's settings: a DB_URL naming only the
    server (as some hosts give it) connects to DB_DATABASE. It was refused as naming no database."""
    project = make_project("laravel11", env={"DB_CONNECTION": "mysql", "DB_URL": url, "DB_DATABASE": "shop",
                                             "DB_USERNAME": "settings_user", "DB_PASSWORD": "settings-pw"})
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    db = framework.database
    assert (db.host, db.name) == ("url-host", "shop")
    assert (db.user, db.password) == (("url_user", "pw") if "@" in url else ("settings_user", "settings-pw"))


def test_laravel10_database_url(make_project: Make, php_mode: str) -> None:
    project = make_project("laravel10", env={"DATABASE_URL": "postgresql://u:pw1234@pg:5433/legacy"})
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    db = framework.database
    assert (db.engine, db.host, db.port, db.name, db.user) == ("postgresql", "pg", 5433, "legacy", "u")


def test_relative_sqlite_path(make_project: Make, php_mode: str) -> None:
    project = make_project("laravel11", env={"DB_DATABASE": "storage/app.sqlite"})
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert framework.database.name == str(project / "storage" / "app.sqlite")


def test_real_environment_wins(make_project: Make, php_mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project("laravel10")
    monkeypatch.setenv("DB_HOST", "from-environment")
    monkeypatch.setenv("DB_PASSWORD", "env-password")
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert framework.database.host == "from-environment"
    assert framework.database.password == "env-password"


APP_CONNECTIONS = """
        'analytics' => [
            'driver' => 'pgsql',
            'host' => env('ANALYTICS_HOST', 'analytics.internal'),
            'database' => 'stats',
            'username' => 'reader',
            'password' => env('DB_PASSWORD'),
        ],
"""


def test_other_connections_are_the_applications_own(make_project: Make, php_mode: str) -> None:
    """``Not dumped:`` names the connections the application defined or changed, never the skeleton's
    boilerplate (which, reading the same DB_* variables, would show a pgsql database on the MySQL port)."""
    project = make_project("laravel11", env={"DB_CONNECTION": "mysql", "DB_PASSWORD": "topsecret-pw"})
    config = project / "config" / "database.php"
    text = config.read_text()
    text = text.replace("'connections' => [", "'connections' => [" + APP_CONNECTIONS, 1)
    # The application points the skeleton's sqlsrv connection at a server of its own.
    text = text.replace("'host' => env('DB_HOST', 'localhost'),", "'host' => 'mssql.internal',", 1)
    config.write_text(text)
    framework = detect_framework(project)
    assert framework is not None
    listed = framework.settings["connections"]
    assert "topsecret-pw" not in repr(listed)
    # With PHP, or without it through synco's reading of config/database.php, alike.
    assert listed == {"analytics": "postgresql://reader:***@analytics.internal/stats", "sqlsrv": listed["sqlsrv"]}
    assert "mssql.internal" in listed["sqlsrv"]


def test_major_version_sources(make_project: Make, tmp_path: Path) -> None:
    project = make_project("laravel11")
    assert detect_major_version(project)[0] == 11
    (project / "composer.json").unlink()
    assert detect_major_version(project) == (11, "11+ (bootstrap/app.php)")
    legacy = make_project("laravel10")
    (legacy / "composer.json").unlink()
    assert detect_major_version(legacy)[0] == 10
    framework_file = legacy / "vendor/laravel/framework/src/Illuminate/Foundation/Application.php"
    framework_file.parent.mkdir(parents=True)
    framework_file.write_text("<?php class Application { const VERSION = '12.1.0'; }")
    assert detect_major_version(legacy) == (12, "12.1")


def test_broken_artisan_falls_back_to_files(make_project: Make, caplog: pytest.LogCaptureFixture) -> None:
    project = make_project("laravel11")
    (project / "vendor" / "autoload.php").write_text("<?php throw new RuntimeException('vendor is broken');\n")
    caplog.set_level("DEBUG", logger="synco_laravel")
    caplog.set_level("DEBUG", logger="synco_core")
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    if framework.config_source == "php":
        pytest.fail("a failing artisan must not be reported as the source")
    assert framework.database.engine == "sqlite"
    assert "read .env instead" in caplog.text or "no PHP interpreter" in caplog.text
    # The warning is one short line (it shows on every command); the tinker script is only in the debug log.
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    for message in warnings:
        assert "\n" not in message and len(message) < 250, message
        assert MARKER not in message and "json_encode" not in message
    if warnings:
        debug = [record.getMessage() for record in caplog.records if record.levelname == "DEBUG"]
        assert any(TINKER_CODE in message for message in debug), "the whole command is in the --debug log"


@pytest.mark.parametrize("fixture", ["laravel11", "laravel10"])
def test_mysql_tls_ca_from_skeleton_option(make_project: Make, php_mode: str, fixture: str) -> None:
    # The skeleton's options: [PDO::MYSQL_ATTR_SSL_CA => env('MYSQL_ATTR_SSL_CA')]. A PHP CLI without
    # pdo_mysql reports them empty, so the plugin puts the skeleton's value back.
    project = make_project(fixture, env={"DB_CONNECTION": "mysql", "DB_HOST": "db.example.com",
                                         "MYSQL_ATTR_SSL_CA": "/etc/ssl/certs/db-ca.pem"})
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert framework.database.options.get("ssl_ca") == "/etc/ssl/certs/db-ca.pem"
    without = detect_framework(make_project(fixture, env={"DB_CONNECTION": "mysql"}))
    assert without is not None and without.database is not None
    assert "ssl_ca" not in without.database.options


def test_pdo_option_numbers_of_this_php() -> None:
    from synco_laravel.config import name_pdo_options
    from synco_laravel.database import connection_config

    # A libmysqlclient build numbers the constants differently from mysqlnd; tinker reports the numbers.
    database = {"connections": {"mysql": {"driver": "mysql", "database": "app", "options": {
        "1012": "/ca.pem", "1009": True, "1010": "/key.pem", "1011": "/cert.pem"}}}}
    name_pdo_options(database, {"loaded": True, "attributes": {
        "1010": "MYSQL_ATTR_SSL_KEY", "1011": "MYSQL_ATTR_SSL_CERT", "1012": "MYSQL_ATTR_SSL_CA"}})
    connection = database["connections"]["mysql"]
    assert connection["options"] == {"MYSQL_ATTR_SSL_CA": "/ca.pem", "PDO_1009": True,
                                     "MYSQL_ATTR_SSL_KEY": "/key.pem", "MYSQL_ATTR_SSL_CERT": "/cert.pem"}
    config = connection_config("mysql", connection, Path("/srv/app"), "test")
    assert {k: v for k, v in config.options.items() if k.startswith("ssl")} == {
        "ssl_ca": "/ca.pem", "ssl_key": "/key.pem", "ssl_cert": "/cert.pem"}


def test_tls_settings_of_other_forms(tmp_path: Path) -> None:
    from synco_laravel.database import connection_config

    # Numbers of mysqlnd builds (a config cache or a hand-written options array), a URL, PostgreSQL files.
    mysql = connection_config("mysql", {"driver": "mysql", "database": "app", "options": {
        "1009": "/ca.pem", "1014": False}}, tmp_path, "test")
    assert (mysql.options["ssl_ca"], mysql.options["ssl_verify_cert"]) == ("/ca.pem", "false")
    url = connection_config("mysql", {"driver": "mariadb", "url": "mysql://u@db/app?ssl_ca=/url-ca.pem",
                                      "options": {"PDO::MYSQL_ATTR_SSL_CA": "/option-ca.pem",
                                                  "PDO::MYSQL_ATTR_SSL_CERT": "/cert.pem"}}, tmp_path, "test")
    assert (url.options["ssl_ca"], url.options["ssl_cert"]) == ("/url-ca.pem", "/cert.pem")
    pgsql = connection_config("pgsql", {"driver": "pgsql", "database": "app", "sslmode": "verify-full",
                                        "sslrootcert": "/root.crt", "sslcert": "", "sslkey": None}, tmp_path, "test")
    assert pgsql.options == {"sslmode": "verify-full", "sslrootcert": "/root.crt"}


def test_readme_names_the_php_interpreters_find_php_tries() -> None:
    """The README's list of PHP names (newest first, dotted and undotted) follows ``php_candidates``."""
    import re

    from synco_core import php_candidates

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    match = re.search(r"when a PHP interpreter is found \((?P<list>.*?)\)\.", readme, re.S)
    assert match, "the README no longer says which PHP interpreters are tried"
    names = re.findall(r"`(\$PHP|php[\d.]*)`", match["list"])
    tried = ["$PHP", *php_candidates({})]
    assert names[:6] == tried[:6] and names[-2:] == tried[-2:], (names, tried)


#: ``php artisan config:cache`` output (``var_export()`` of the whole configuration), trimmed to the parts
#: synco reads: another database than .env names, as after an edit of .env that was not cached again.
CONFIG_CACHE = """<?php return array (
  'app' =>
  array (
    'name' => 'Shop',
    'env' => 'production',
    'debug' => false,
    'url' => 'https://shop.example',
  ),
  'database' =>
  array (
    'default' => 'cached',
    'connections' =>
    array (
      'cached' =>
      array (
        'driver' => 'mysql',
        'url' => NULL,
        'host' => 'db.internal',
        'port' => '3307',
        'database' => 'shop_cached',
        'username' => 'shop',
        'password' => 'cached-Pa$$w0rd',
        'unix_socket' => '',
        'charset' => 'utf8mb4',
        'prefix' => '',
        'strict' => true,
        'options' =>
        array (
          1009 => '/etc/ssl/cached-ca.pem',
        ),
      ),
    ),
  ),
  'filesystems' =>
  array (
    'default' => 'local',
    'disks' =>
    array (
      'public' =>
      array (
        'driver' => 'local',
        'root' => '{project}/storage/app/public',
        'url' => 'https://shop.example/storage',
        'visibility' => 'public',
      ),
    ),
    'links' =>
    array (
      '{project}/public/storage' => '{project}/storage/app/public',
    ),
  ),
);
"""


@pytest.mark.parametrize("where", ["bootstrap/cache/config.php", "relative", "absolute"])
@pytest.mark.parametrize("fixture", ["laravel11", "laravel10"])
def test_config_cache_is_what_laravel_reads(make_project: Make, no_php: None, monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture, fixture: str, where: str) -> None:
    """While the config cache exists Laravel reads neither .env nor config/*.php: without PHP, synco reads the
    cache (plain var_export() values) too, never .env's database in its place."""
    project = make_project(fixture, env={"DB_CONNECTION": "mysql", "DB_DATABASE": "stale_env_db"})
    cache = project / "bootstrap" / "cache" / "config.php"
    if where == "relative":
        monkeypatch.setenv("APP_CONFIG_CACHE", "storage/framework/config.php")
        cache = project / "storage" / "framework" / "config.php"
        (project / "bootstrap" / "cache" / "config.php").unlink(missing_ok=True)
    elif where == "absolute":
        cache = project.parent / f"{project.name}-config-cache.php"
        monkeypatch.setenv("APP_CONFIG_CACHE", str(cache))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(CONFIG_CACHE.replace("{project}", str(project)))
    caplog.set_level("DEBUG", logger="synco_laravel")
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    database = framework.database
    assert (database.engine, database.name, database.host, database.port, database.user) == (
        "mysql", "shop_cached", "db.internal", 3307, "shop")
    assert database.password == "cached-Pa$$w0rd"
    assert framework.settings["connection"] == "cached"
    if where == "bootstrap/cache/config.php":
        assert database.source == "bootstrap/cache/config.php (connection cached)"
    assert "/etc/ssl/cached-ca.pem" in database.options.values()
    assert "cached-Pa$$w0rd" not in redact(caplog.text)
    assert not [r for r in caplog.records if r.levelname == "WARNING"], caplog.text


@pytest.mark.parametrize("cache_text", [
    "<?php return array ('database' => array ('default' => 'mysql', 'connections' => array ('mysql' => array ("
    "'driver' => 'mysql', 'database' => file_get_contents('/run/secrets/db'))))));\n",
    "<?php return array ('app' => array ());\n",
    "<?php return [\n",
])
def test_config_cache_synco_cannot_read_is_said(make_project: Make, no_php: None, caplog: pytest.LogCaptureFixture,
                                                cache_text: str) -> None:
    """A cache only PHP could read is named in a one-line warning, and .env is read as before."""
    project = make_project("laravel11", env={"DB_CONNECTION": "mysql", "DB_DATABASE": "env_db"})
    (project / "bootstrap" / "cache").mkdir(exist_ok=True)
    (project / "bootstrap" / "cache" / "config.php").write_text(cache_text)
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert framework.database.name == "env_db"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("config cache" in w and "config.php" in w for w in warnings), warnings
    assert all("\n" not in w for w in warnings)


@pytest.mark.parametrize(("real_app_env", "files", "expected"), [
    ("production", (".env.production",), ("prod_db", ".env.production")),
    ("staging", (".env.production",), ("env_db", ".env")),
    (None, (".env.production",), ("env_db", ".env")),
    ("production", (), ("env_db", ".env")),
    ("local", (".env.local", ".env.production"), ("local_db", ".env.local")),
])
def test_environment_specific_dotenv_file(make_project: Make, no_php: None, monkeypatch: pytest.MonkeyPatch,
                                          real_app_env: str | None, files: tuple[str, ...],
                                          expected: tuple[str, str]) -> None:
    """Laravel loads .env.<APP_ENV> instead of .env when APP_ENV is set in the real environment and that file
    exists; APP_ENV written inside .env does not count (it is checked before any file is read)."""
    project = make_project("laravel11", env={"APP_ENV": "production", "DB_CONNECTION": "mysql",
                                             "DB_DATABASE": "env_db"})
    for name in files:
        database = {".env.production": "prod_db", ".env.local": "local_db"}[name]
        (project / name).write_text(f"DB_CONNECTION=mysql\nDB_DATABASE={database}\nDB_PASSWORD=pw-of-{name}\n")
    if real_app_env is not None:
        monkeypatch.setenv("APP_ENV", real_app_env)
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert (framework.database.name, framework.database.source) == (expected[0], f"{expected[1]} (connection mysql)")


def test_platformsh_laravel_bridge_without_php(make_project: Make, no_php: None,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """platformsh/laravel-bridge, run by Composer's autoloader, sets DB_* from PLATFORM_RELATIONSHIPS' 'database'
    on Platform.sh, whatever the environment and .env say. Read from the files, .env's database was named (the
    wrong one dumped); php artisan tinker runs the bridge itself."""
    import base64
    import json

    project = make_project("laravel11", env={"DB_CONNECTION": "mysql", "DB_DATABASE": "from_env_file",
                                             "DB_HOST": "127.0.0.1"})
    composer = json.loads((project / "composer.json").read_text())
    composer.setdefault("require", {})["platformsh/laravel-bridge"] = "^2.0"
    (project / "composer.json").write_text(json.dumps(composer))
    endpoint = {"scheme": "pgsql", "host": "postgresql.internal", "port": 5432, "path": "main",
                "username": "main", "password": "psh-laravel-pw-7"}
    monkeypatch.setenv("PLATFORM_RELATIONSHIPS", base64.b64encode(json.dumps({"database": [endpoint]}).encode())
                       .decode())
    # The build hook (no PLATFORM_ENVIRONMENT) and a laptop: the bridge does nothing, .env is read.
    monkeypatch.setenv("PLATFORM_APPLICATION_NAME", "app")
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    assert framework.database.name == "from_env_file"
    monkeypatch.setenv("PLATFORM_ENVIRONMENT", "main-bvxea6i")
    framework = detect_framework(project)
    assert framework is not None and framework.database is not None
    db = framework.database
    assert (db.engine, db.host, db.port, db.name, db.user, db.password) == (
        "postgresql", "postgresql.internal", 5432, "main", "main", "psh-laravel-pw-7")


@pytest.mark.parametrize(("driver", "url", "expected"), [
    # ConfigurationUrlParser merges the query into the connection's settings by name: the connectors read
    # username/password/database/host/port/unix_socket, so ?user= ?passwd= ?db= ?dbname= ?socket= change nothing.
    ("mysql", "mysql://db/app?user=query_user", ("settings_user", "settings-pw", "app", None)),
    ("mysql", "mysql://db/app?username=query_user&passwd=x", ("query_user", "settings-pw", "app", None)),
    ("mysql", "mysql://db/app?password=query-pw&db=other", ("settings_user", "query-pw", "app", None)),
    ("mysql", "mysql://db?database=from_query", ("settings_user", "settings-pw", "from_query", None)),
    ("mysql", "mysql://db/app?socket=/tmp/x.sock&charset=utf8mb4", ("settings_user", "settings-pw", "app", None)),
    ("mysql", "mysql://db/app?unix_socket=/run/mysqld/mysqld.sock", ("settings_user", "settings-pw", "app",
                                                                     "/run/mysqld/mysqld.sock")),
    ("pgsql", "pgsql://db/app?user=query_user&dbname=other", ("settings_user", "settings-pw", "app", None)),
    ("pgsql", "pgsql://db/app?username=query_user&sslmode=require", ("query_user", "settings-pw", "app", None)),
    ("pgsql", "pgsql://db?database=from_query", ("settings_user", "settings-pw", "from_query", None)),
])
def test_database_url_query_credentials_as_laravel_merges_them(tmp_path: Path, driver: str, url: str,
                                                               expected: tuple[object, ...]) -> None:
    """DB_URL beside DB_USERNAME / DB_PASSWORD: the credentials are those Laravel's connector connects with."""
    found = connection_config(driver, {"driver": driver, "url": url, "username": "settings_user",
                                       "password": "settings-pw", "database": "settings_db"}, tmp_path, ".env")
    assert (found.user, found.password, found.name, found.socket) == expected
