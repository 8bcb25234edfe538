"""The PHP configuration reader: what wp-config.php, Drupal's settings.php and ``return [...]`` files hold, read
without running PHP, with hostile input costing at most a one-line ConfigError.

The differential property test evaluates random expressions both here and with the real ``php`` CLI and
compares the results, so the reader's semantics (operators, precedence, conversions) are PHP's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synco_core import ConfigError, PhpUnknown, parse_php_config, read_php_config
from synco_core.testing.services import needs_php

WP_CONFIG = """<?php
/**
 * The base configuration for WordPress
 *
 * @package WordPress
 */

// ** Database settings - You can get this info from your web host ** //
/** The name of the database for WordPress */
define( 'DB_NAME', 'shop_wp' );

/** Database username */
define( 'DB_USER', getenv( 'WP_DB_USER' ) ?: 'shop' );

/** Database password */
define( 'DB_PASSWORD', "s3cr3t\\$pw" );

/** Database hostname */
define( 'DB_HOST', $_ENV['WP_DB_HOST'] ?? 'localhost:/run/mysqld/mysqld.sock' );

define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );

define( 'AUTH_KEY',         'put your unique phrase here' );

$table_prefix = 'shop_';

define( 'WP_DEBUG', false );

/* Add any custom values between this line and the "stop editing" line. */
if ( file_exists( __DIR__ . '/wp-config-local.php' ) ) {
    include __DIR__ . '/wp-config-local.php';
}

/* That's all, stop editing! Happy publishing. */

/** Absolute path to the WordPress directory. */
if ( ! defined( 'ABSPATH' ) ) {
	define( 'ABSPATH', __DIR__ . '/' );
}

/** Sets up WordPress vars and included files. */
require_once ABSPATH . 'wp-settings.php';
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_wp_config_sample_layout(tmp_path: Path) -> None:
    config_file = write(tmp_path / "wp-config.php", WP_CONFIG)
    write(tmp_path / "wp-settings.php", "<?php die('never read');")
    # wp-settings.php is WordPress itself: code that sets no configuration (None), as the plugin's rule says.
    config = read_php_config(config_file, environ={"WP_DB_HOST": "db.internal:3307"}, follow=lambda path: None)
    assert config.constants["DB_NAME"] == "shop_wp"
    assert config.constants["DB_USER"] == "shop"
    assert config.constants["DB_PASSWORD"] == "s3cr3t$pw"
    assert config.constants["DB_HOST"] == "db.internal:3307"
    assert config.constants["ABSPATH"] == f"{tmp_path}/"
    assert config.variables["table_prefix"] == "shop_"
    assert config.files == [config_file]
    # wp-settings.php is never read unless the caller allows it: it is WordPress itself.
    assert any("wp-settings.php was not read" in note for note in config.notes)


def test_includes_only_what_follow_allows(tmp_path: Path) -> None:
    config_file = write(tmp_path / "wp-config.php", WP_CONFIG)
    write(tmp_path / "wp-config-local.php", "<?php define('DB_NAME', 'local_wp'); $table_prefix = 'loc_';")
    write(tmp_path / "wp-settings.php", "<?php define('DB_NAME', 'from_settings');")
    config = read_php_config(config_file, environ={},
                             follow=lambda path: None if path.name == "wp-settings.php" else True)
    # The local file runs in the same scope: its variable wins, but define() keeps the first definition
    # (PHP warns about the second), which is the one before the include.
    assert config.constants["DB_NAME"] == "shop_wp"
    assert config.variables["table_prefix"] == "loc_"
    assert [p.name for p in config.files] == ["wp-config.php", "wp-config-local.php"]
    assert config.constants["DB_HOST"] == "localhost:/run/mysqld/mysqld.sock"


DRUPAL_SETTINGS = """<?php

// phpcs:ignoreFile

/**
 * @file
 * Drupal site-specific configuration file.
 */

$databases = [];

$databases['default']['default'] = [
  'database' => 'drupal',
  'username' => 'drupal',
  'password' => getenv('DRUPAL_DB_PASSWORD'),
  'prefix' => '',
  'host' => 'localhost',
  'port' => '3306',
  'isolation_level' => 'READ COMMITTED',
  'driver' => 'mysql',
  'namespace' => 'Drupal\\\\mysql\\\\Driver\\\\Database\\\\mysql',
  'autoload' => 'core/modules/mysql/src/Driver/Database/mysql/',
  'pdo' => [PDO::MYSQL_ATTR_SSL_CA => '/etc/ssl/ca.pem'],
];

$settings['hash_salt'] = file_get_contents('/home/example/salt.txt');
$settings['update_free_access'] = FALSE;
$settings['file_public_path'] = 'sites/default/files';
$settings['file_private_path'] = $app_root . '/../private';
$settings['container_yamls'][] = $app_root . '/' . $site_path . '/services.yml';

if (file_exists($app_root . '/' . $site_path . '/settings.local.php')) {
  include $app_root . '/' . $site_path . '/settings.local.php';
}
"""


def test_drupal_settings_with_local_override(tmp_path: Path) -> None:
    site = tmp_path / "web" / "sites" / "default"
    settings_file = write(site / "settings.php", DRUPAL_SETTINGS)
    write(site / "settings.local.php", "<?php\n$databases['default']['default']['host'] = 'db';\n"
                                       "$settings['file_public_path'] = 'files';\n")
    config = read_php_config(settings_file, environ={"DRUPAL_DB_PASSWORD": "pw"},
                             variables={"app_root": str(tmp_path / "web"), "site_path": "sites/default"},
                             follow=lambda path: path.name.startswith("settings."))
    database = config.variables["databases"]["default"]["default"]
    assert database["host"] == "db"
    assert database["password"] == "pw"
    assert database["namespace"] == "Drupal\\mysql\\Driver\\Database\\mysql"
    assert database["pdo"] == {"PDO::MYSQL_ATTR_SSL_CA": "/etc/ssl/ca.pem"}
    assert config.variables["settings"]["file_public_path"] == "files"
    assert config.variables["settings"]["container_yamls"] == {0: f"{tmp_path}/web/sites/default/services.yml"}
    assert isinstance(config.variables["settings"]["hash_salt"], PhpUnknown)


def test_return_array_file(tmp_path: Path) -> None:
    path = write(tmp_path / ".env.local.php", "<?php\n\n// generated by \"composer dump-env prod\"\n\n"
                                               "return array (\n  'APP_ENV' => 'prod',\n  'DATABASE_URL' => "
                                               "'mysql://app:p%40ss@db:3306/app?serverVersion=8.0',\n  'N' => 3,\n);\n")
    config = read_php_config(path)
    assert config.returned == {"APP_ENV": "prod", "DATABASE_URL": "mysql://app:p%40ss@db:3306/app?serverVersion=8.0",
                               "N": 3}


def test_docker_image_wp_config(tmp_path: Path) -> None:
    secret = write(tmp_path / "secret", "from-file\n")
    text = """<?php
if (!function_exists('getenv_docker')) {
	function getenv_docker($env, $default) {
		if ($fileEnv = getenv($env . '_FILE')) { return rtrim(file_get_contents($fileEnv), "\\r\\n"); }
		else if (($val = getenv($env)) !== false) { return $val; }
		else { return $default; }
	}
}
define( 'DB_NAME', getenv_docker('WORDPRESS_DB_NAME', 'wordpress') );
define( 'DB_PASSWORD', getenv_docker('WORDPRESS_DB_PASSWORD', 'example password') );
define( 'DB_HOST', getenv_docker('WORDPRESS_DB_HOST', 'mysql') );
$table_prefix = getenv_docker('WORDPRESS_TABLE_PREFIX', 'wp_');
if ($configExtra = getenv_docker('WORDPRESS_CONFIG_EXTRA', '')) {
	eval($configExtra);
}
"""
    config = parse_php_config(text, environ={"WORDPRESS_DB_NAME": "site", "WORDPRESS_DB_PASSWORD_FILE": str(secret)})
    assert config.constants == {"DB_NAME": "site", "DB_PASSWORD": "from-file", "DB_HOST": "mysql"}
    assert config.variables["table_prefix"] == "wp_"


@pytest.mark.parametrize(("code", "expected"), [
    ("$x = 'a' . 1 + 2;", "a3"),  # PHP 8: + binds tighter than .
    ("$x = true ? 'a' : (false ? 'b' : 'c');", "a"),
    ("$x = null ?? getenv('NOPE') ?: 'default';", "default"),
    ("$x = \"tab\\there\";", "tab\there"),
    ("$x = 'it\\'s \\\\ \\n';", "it's \\ \\n"),
    ("$x = 0x1F + 0b11 + 0o17 + 017 + 1_000;", 31 + 3 + 15 + 15 + 1000),
    ("$x = (int) '12abc' + (bool) '0';", 12),
    ("$x = ['a' => 1, 'b'][0];", "b"),
    ("$x = [3 => 'a', 'b', '5' => 'c', 'd'];", {3: "a", 4: "b", 5: "c", 6: "d"}),
    ("$x = dirname('/a/b/c/d.php', 2);", "/a/b"),
    ("$x = str_replace(['a', 'b'], ['1', '2'], 'abc');", "12c"),
    ("$x = sprintf('%s:%d', 'h', '3306');", "h:3306"),
    ("$x = 'a' == 0;", False),
    ("$x = '1e1' == '10';", True),
    ("$x = filter_var('yes', FILTER_VALIDATE_BOOLEAN);", True),
    ("$x = parse_url('https://example.com:8443/p?q=1', PHP_URL_PORT);", 8443),
    ("$a = ['x' => ['y' => 1]]; $b = $a; $b['x']['y'] = 2; $x = $a['x']['y'];", 1),
    ("$x['a'][] = 1; $x['a'][] = 2;", {"a": {0: 1, 1: 2}}),
    ("$x = 'a'; $x .= 'b'; $x ??= 'c';", "ab"),
    ("if (false): $x = 1; elseif (true): $x = 2; else: $x = 3; endif;", 2),
    ("if (0) $x = 1; else if ('') $x = 2; else { $x = 3; }", 3),
    ("$name = 'World'; $x = \"Hello {$name}! ${name} $name[0]\";", "Hello World! World W"),
    ("$x = <<<'EOT'\n  raw $x\n  EOT;", "raw $x"),
    ("const A = 'a', B = A . 'b'; $x = B;", "ab"),
])
def test_expressions(code: str, expected: Any) -> None:
    assert parse_php_config("<?php " + code, environ={}).variables["x"] == expected


def test_unknown_values_say_why_and_refuse_to_be_guessed() -> None:
    config = parse_php_config("<?php $a = some_function(); $b = $a . 'x'; $c = new Foo(); $d = $obj->prop;"
                              "if ($a) { $e = 1; } $f = isset($a) ? 1 : 2;", environ={})
    assert config.variables["a"] == PhpUnknown("some_function() at line 1 is not evaluated")
    assert config.variables["b"] == PhpUnknown("some_function() at line 1 is not evaluated")
    assert isinstance(config.variables["c"], PhpUnknown)
    assert isinstance(config.variables["d"], PhpUnknown)
    # The branch may have run: $e is unknown, not absent.
    assert isinstance(config.variables["e"], PhpUnknown) and "condition is not known" in config.variables["e"].reason
    assert any("condition is not known" in note for note in config.notes)
    assert isinstance(config.variables["f"], PhpUnknown)
    with pytest.raises(TypeError):
        bool(config.variables["a"])


@pytest.mark.parametrize("key", ["HTTP_HOST", "SERVER_NAME", "HTTPS", "REQUEST_URI", "HTTP_X_FORWARDED_PROTO",
                                 "DOCUMENT_ROOT", "SERVER_PORT", "REMOTE_ADDR"])
@pytest.mark.parametrize(("code", "read"), [
    ("$x = 'https://' . $_SERVER['{key}'];", "x"),
    ("$x = $_SERVER['{key}'] ?? 'fallback';", "x"),
    ("$x = isset($_SERVER['{key}']) ? 'request' : 'command line';", "x"),
    ("$x = empty($_SERVER['{key}']) ? 'a' : 'b';", "x"),
    ("if ($_SERVER['{key}'] === 'staging.example.com') {{ $x = 'stage'; }} else {{ $x = 'prod'; }}", "x"),
    ("$copy = $_SERVER; $x = $copy['{key}'] ?? 'fallback';", "x"),
    ("define('WP_HOME', 'https://' . $_SERVER['{key}']);", "WP_HOME"),
])
def test_what_the_web_server_sets_per_request_is_unknown(key: str, code: str, read: str) -> None:
    """synco reads the configuration outside any request: a value computed from a request's ``$_SERVER`` key is
    unknown, never computed from the null PHP's command line has there (``'https://'`` as the site's URL, the
    ``else`` branch's database chosen for every host)."""
    config = parse_php_config("<?php " + code.format(key=key), environ={"HOME": "/root"})
    value = config.constants.get(read, config.variables.get(read))
    assert isinstance(value, PhpUnknown), value
    assert "web server" in value.reason and key in value.reason


def test_request_keys_the_environment_sets_and_other_server_keys_are_read() -> None:
    config = parse_php_config("<?php $host = $_SERVER['HTTP_HOST']; $home = $_SERVER['HOME'];"
                              "$missing = $_SERVER['SYNCO_NOT_SET'] ?? 'fallback';",
                              environ={"HTTP_HOST": "shop.example.com", "HOME": "/root"})
    assert config.variables == {"host": "shop.example.com", "home": "/root", "missing": "fallback"}


ENVIRONMENT_LOADERS = [
    "Dotenv\\Dotenv::createImmutable(__DIR__)->load();",
    "$dotenv = Dotenv\\Dotenv::createImmutable(__DIR__);\n$dotenv->safeLoad();",
    "(new Symfony\\Component\\Dotenv\\Dotenv())->bootEnv(__DIR__ . '/.env');",
    "Env::init();",
    "putenv(trim(file_get_contents('/run/secrets/env')));",
]
ENVIRONMENT_READS = [
    "$_ENV['DB_NAME']", "$_SERVER['DB_NAME']", "getenv('DB_NAME')", "$_ENV['DB_NAME'] ?? 'fallback'",
    "getenv('DB_NAME') ?: 'fallback'", "env('DB_NAME', 'fallback')", "getenv_docker('DB_NAME', 'fallback')",
    "isset($_SERVER['DB_NAME']) ? $_SERVER['DB_NAME'] : 'fallback'",
]


@pytest.mark.parametrize("loader", ENVIRONMENT_LOADERS)
@pytest.mark.parametrize("read", ENVIRONMENT_READS)
def test_variables_code_that_is_not_run_may_load_are_unknown_not_unset(loader: str, read: str) -> None:
    """A wp-config.php that loads .env itself (``require vendor/autoload.php;`` then phpdotenv's ``load()``), or
    calls ``putenv()``: a variable the real environment does not set is unknown after it (the database was
    reported as "DB_NAME is not defined", or a fallback was taken for it), never read as unset. Before it,
    and for variables the real environment sets (Dotenv's immutable loading keeps them), nothing changes."""
    code = (f"<?php $before = getenv('DB_NAME') ?: 'fallback';\n{loader}\n"
            f"define('DB_NAME', {read});\ndefine('DB_HOST', {read.replace('DB_NAME', 'DB_HOST')});")
    config = parse_php_config(code, environ={"DB_HOST": "db.internal"})
    value = config.constants["DB_NAME"]
    assert isinstance(value, PhpUnknown), value
    assert "line 2" in value.reason or "line 3" in value.reason, value.reason
    assert config.constants["DB_HOST"] == "db.internal"
    assert config.variables["before"] == "fallback"


def test_putenv_is_seen_by_getenv_only() -> None:
    """``putenv('NAME=value')`` sets what ``getenv()`` (and ``env()``) return afterwards, not ``$_ENV`` or
    ``$_SERVER`` (as in PHP); ``putenv('NAME')`` unsets it. The other variables stay known."""
    config = parse_php_config("<?php $before = getenv('DB_NAME') ?: 'none'; putenv('DB_NAME=from_putenv');"
                              "$a = getenv('DB_NAME'); $b = $_ENV['DB_NAME'] ?? 'none'; $c = env('DB_NAME');"
                              "$d = getenv('DB_HOST'); putenv('DB_HOST'); $e = getenv('DB_HOST');"
                              "$f = getenv('OTHER') ?: 'fallback';", environ={"DB_HOST": "db"})
    assert config.variables == {"before": "none", "a": "from_putenv", "b": "none", "c": "from_putenv", "d": "db",
                                "e": False, "f": "fallback"}


def test_exit_stops_evaluation() -> None:
    config = parse_php_config("<?php $a = 1; if (true) { exit; } $a = 2;", environ={})
    assert config.variables["a"] == 1


def test_skipped_constructs_do_not_leak() -> None:
    config = parse_php_config("""<?php
        function f() { $x = 1; define('X', 1); }
        class C { public function g() { return [1, 2]; } }
        foreach ([1, 2] as $v) { $y = $v; }
        while (true) { $z = 1; }
        switch ($a) { case 1: $w = 1; break; }
        try { $t = 1; } catch (Exception $e) { $t = 2; } finally { $t = 3; }
        $fn = fn($a) => $a * 2;
        $cl = function ($a) use ($b) { return $a; };
        $m = match ($x) { 1 => 'a', default => 'b' };
        $after = 'ok';
    """, environ={})
    assert config.variables["after"] == "ok"
    # A function's body does not run where it stands; a loop's, a switch's or a try's may have: what they
    # assign is unknown, never a value they did not compute.
    assert "x" not in config.variables and "X" not in config.constants
    for name in ("y", "z", "w", "t"):
        assert isinstance(config.variables[name], PhpUnknown), name
        assert "is not evaluated" in config.variables[name].reason


#: Statements the reader does not evaluate, each setting $x (to "changed") and maybe the constant CHANGED.
NOT_EVALUATED = [
    "switch (getenv('SITE_ENV')) { case 'production': $x = 'changed'; break; default: $x = 'changed'; }",
    "switch (getenv('SITE_ENV')): case 'production': $x = 'changed'; endswitch;",
    "foreach (['a'] as $site) { $x = 'changed'; }",
    "foreach (['a'] as $site): $x .= 'changed'; endforeach;",
    "for ($i = 0; $i < 1; $i++) { $x = 'changed'; }",
    "while (some_function()) { $x = 'changed'; }",
    "do { $x = 'changed'; } while (false);",
    "try { $x = some_function(); } catch (Exception $e) { $x = 'changed'; }",
    "if (some_function()) { $x = 'changed'; }",
    "if (some_function()) { } elseif (true) { } else { $x = 'changed'; }",
    "if (some_function()): $x['db']['name'] = 'changed'; endif;",
    "if (some_function()) { foreach ([1] as $i) { $x++; } }",
]


@pytest.mark.parametrize("statement", NOT_EVALUATED)
def test_what_an_unevaluated_statement_may_set_is_unknown(statement: str) -> None:
    """Never the value from before a statement that may change it: a database read as it was before a
    switch on the environment is another database (or another table prefix) silently."""
    config = parse_php_config(f"<?php $x = 'before'; $other = 'kept'; {statement} $after = $x;", environ={})
    assert isinstance(config.variables["x"], PhpUnknown)
    assert isinstance(config.variables["after"], PhpUnknown)
    assert config.variables["other"] == "kept"
    defined = parse_php_config(f"<?php define('KEPT', 1); {statement.replace('$x', '$y')} "
                               "if (!defined('DB')) { define('DB', 'before'); }", environ={})
    assert defined.constants == {"KEPT": 1, "DB": "before"}
    with_define = statement.replace("$x['db']['name'] = 'changed'", "define('DB', 'changed')").replace(
        "$x .= 'changed'", "define('DB', 'changed')").replace("$x++", "define('DB', 'changed')").replace(
        "$x = some_function()", "define('DB', 'changed')").replace("$x = 'changed'", "define('DB', 'changed')")
    assert "define('DB'" in with_define
    config = parse_php_config(f"<?php define('KEPT', 1); {with_define} "
                              "if (!defined('DB')) { define('DB', 'before'); }", environ={})
    assert config.constants["KEPT"] == 1
    assert isinstance(config.constants["DB"], PhpUnknown)


@pytest.mark.parametrize("statement", NOT_EVALUATED)
def test_what_an_unevaluated_statement_may_set_through_globals_is_unknown(statement: str) -> None:
    """$GLOBALS['x'] is $x in the global scope the files run in: a write to it that is not evaluated makes $x
    unknown as a write to $x does, never the value from before it."""
    through_globals = statement.replace("$x", "$GLOBALS['x']")
    config = parse_php_config(f"<?php $x = 'before'; $other = 'kept'; {through_globals} $after = $x;", environ={})
    assert isinstance(config.variables["x"], PhpUnknown), through_globals
    assert isinstance(config.variables["after"], PhpUnknown)
    assert config.variables["other"] == "kept"


#: Code that may set a variable it does not name ($x among others) or, for an include, define constants too.
SETS_UNNAMED = [
    "$name = 'x'; $$name = 'changed';",
    "${'x'} = 'changed';",
    "$GLOBALS[some_function()] = 'changed';",
    "[$x, $y] = ['changed', 1];",
    "list($x) = ['changed'];",
    "extract(['x' => 'changed']);",
    "extract($row, EXTR_OVERWRITE);",
    "parse_str('x=changed');",
    "mb_parse_str('x=changed');",
    "foreach (['x' => 'changed'] as $k => $v) { $$k = $v; }",
    "foreach ($rows as $row) { extract($row); }",
    "while (false) { ${$k} = 1; }",
    "if (some_function()) { extract($row); }",
    "if (some_function()) { $$name = 1; }",
    "some_function() && extract($row);",
    "foreach (glob(__DIR__ . '/conf.d/*.php') as $file) { include $file; }",
    "foreach ($files as $file): require $file; endforeach;",
    "try { require __DIR__ . '/local.php'; } catch (Exception $e) { }",
    "if (some_function()) { foreach ($files as $file) { include_once $file; } }",
]


@pytest.mark.parametrize("code", SETS_UNNAMED)
def test_code_that_may_set_unnamed_variables_makes_them_unknown(code: str) -> None:
    """A variable variable, extract(), a destructuring assignment or an include in a loop may set $x: $x is
    unknown after it, whether it was set before or not, never its old value or unset."""
    config = parse_php_config(f"<?php $x = 'before'; {code} $after = $x; $later = $unset_before;", environ={})
    for name in ("x", "after", "later"):
        assert isinstance(config.variables[name], PhpUnknown), (code, name)
    assert "not" in config.variables["after"].reason


@pytest.mark.parametrize("code", [code for code in SETS_UNNAMED if "include" in code or "require" in code])
def test_an_include_inside_a_loop_may_define_any_constant(code: str) -> None:
    config = parse_php_config(f"<?php {code} defined('DB_NAME') || define('DB_NAME', 'fallback');", environ={})
    assert isinstance(config.constants["DB_NAME"], PhpUnknown)
    assert "was not read" in config.constants["DB_NAME"].reason


def test_what_sets_variables_inside_a_definition_does_not_run_where_it_stands() -> None:
    config = parse_php_config("""<?php $x = 'kept';
        function f($row) { extract($row); $$name = 1; include 'other.php'; }
        $fn = function () { extract($row); };
        define('DB_NAME', $x);
    """, environ={})
    assert (config.variables["x"], config.constants["DB_NAME"]) == ("kept", "kept")


@pytest.mark.parametrize("code", [
    "$x[some_function()] = 'changed';",
    "$x->name = 'changed';",
    "$x++;",
    "--$x;",
    "$ref = &$x; $ref = 'changed';",
    "$ref = &$x['db']; $ref['name'] = 'changed';",
    "parse_str('a=changed', $x);",
])
def test_a_named_target_that_is_not_evaluated_makes_that_variable_unknown(code: str) -> None:
    """An increment (PHP increments strings too), a property, a key only PHP knows, a reference that a later write
    goes through: $x is unknown after it, never the value from before."""
    config = parse_php_config(f"<?php $x = 'before'; $other = 'kept'; {code} $after = $x;", environ={})
    assert isinstance(config.variables["x"], PhpUnknown) and isinstance(config.variables["after"], PhpUnknown)
    assert config.variables["other"] == "kept"


TYPO3_SETTINGS = """<?php
return [
    'DB' => [
        'Connections' => [
            'Default' => [
                'dbname' => 'from_settings', 'driver' => 'pdo_pgsql', 'host' => '127.0.0.1',
                'password' => 'settings-pw', 'port' => 5432, 'user' => 'typo3',
            ],
        ],
    ],
    'SYS' => ['sitename' => 'Site', 'trustedHostsPattern' => '.*'],
];
"""

#: TYPO3's config/system/additional.php as projects write it: the database from the environment (TYPO3's
#: docker images), DDEV's generated array_replace_recursive, single settings written and unset.
TYPO3_ADDITIONAL = """<?php
$GLOBALS['TYPO3_CONF_VARS']['DB']['Connections']['Default'] = array_merge(
    $GLOBALS['TYPO3_CONF_VARS']['DB']['Connections']['Default'],
    ['dbname' => getenv('TYPO3_DB_NAME') ?: 'from_additional', 'password' => getenv('TYPO3_DB_PASSWORD')]
);
if (getenv('IS_DDEV_PROJECT') == 'true') {
    $GLOBALS['TYPO3_CONF_VARS'] = array_replace_recursive(
        $GLOBALS['TYPO3_CONF_VARS'],
        ['DB' => ['Connections' => ['Default' => ['host' => 'db', 'port' => '3306', 'driver' => 'mysqli']]]]
    );
}
$GLOBALS['TYPO3_CONF_VARS']['SYS']['trustedHostsPattern'] = 'localhost';
unset($GLOBALS['TYPO3_CONF_VARS']['SYS']['sitename']);
$local = $GLOBALS['TYPO3_CONF_VARS']['SYS']['trustedHostsPattern'] . '|127.0.0.1';
"""


def _typo3_conf_vars(tmp_path: Path, environ: dict[str, str]) -> Any:
    settings_file = write(tmp_path / "settings.php", TYPO3_SETTINGS)
    additional = write(tmp_path / "additional.php", TYPO3_ADDITIONAL)
    conf = read_php_config(settings_file, environ=environ).returned
    config = read_php_config(additional, environ=environ, variables={"TYPO3_CONF_VARS": conf})
    assert config.variables["local"] == "localhost|127.0.0.1"
    return config.variables["TYPO3_CONF_VARS"]


def test_globals_are_the_variables_of_the_files_scope(tmp_path: Path) -> None:
    """TYPO3's additional.php changes the settings through $GLOBALS['TYPO3_CONF_VARS']. Those writes were
    dropped with a note, so a plugin read settings.php's database where the site uses another one."""
    conf = _typo3_conf_vars(tmp_path, {"TYPO3_DB_PASSWORD": "env-pw"})
    assert conf["DB"]["Connections"]["Default"] == {
        "dbname": "from_additional", "driver": "pdo_pgsql", "host": "127.0.0.1", "password": "env-pw",
        "port": 5432, "user": "typo3"}
    assert conf["SYS"] == {"trustedHostsPattern": "localhost"}
    ddev = _typo3_conf_vars(tmp_path, {"IS_DDEV_PROJECT": "true", "TYPO3_DB_NAME": "db", "TYPO3_DB_PASSWORD": "db"})
    assert ddev["DB"]["Connections"]["Default"] == {
        "dbname": "db", "driver": "mysqli", "host": "db", "password": "db", "port": "3306", "user": "typo3"}
    unknown = _typo3_conf_vars(tmp_path, {"IS_DDEV_PROJECT": "true"})
    assert unknown["DB"]["Connections"]["Default"]["password"] is False


@needs_php
@pytest.mark.parametrize("environ", [{"TYPO3_DB_PASSWORD": "env-pw"},
                                     {"IS_DDEV_PROJECT": "true", "TYPO3_DB_NAME": "db", "TYPO3_DB_PASSWORD": "db"}])
def test_globals_agree_with_php(tmp_path: Path, environ: dict[str, str]) -> None:
    ours = _typo3_conf_vars(tmp_path, environ)
    # TYPO3 includes additional.php from inside a method: only $GLOBALS reaches the settings there.
    script = ("$GLOBALS['TYPO3_CONF_VARS'] = require $argv[1]; (function () { require $GLOBALS['argv'][2]; })();"
              "echo json_encode($GLOBALS['TYPO3_CONF_VARS']);")
    php = shutil.which("php")
    assert php is not None
    result = subprocess.run([php, "-r", script, str(tmp_path / "settings.php"), str(tmp_path / "additional.php")],
                            capture_output=True, text=True, check=True, timeout=60, env=environ)
    assert _plain(ours) == json.loads(result.stdout)


# -- hostile input: bounded work, one-line errors


@pytest.mark.parametrize("text", [
    "<?php $x = " + "(" * 5000 + "1" + ")" * 5000 + ";",
    "<?php $x = " + "[" * 5000 + "]" * 5000 + ";",
    "<?php " + "if (1) { " * 3000 + "}" * 3000,
    "<?php $x = 'unterminated;",
    "<?php $x = <<<EOT\nno end",
    "<?php $x = ;",
    "<?php define('A', 1",
    "<?php \x00\x01\x02",
])
def test_hostile_syntax_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_php_config(text, source="hostile.php", environ={})
    assert "\n" not in str(error.value)
    assert "hostile.php" in str(error.value)


def test_exponential_values_are_refused() -> None:
    doubling = "<?php $a = 'xxxxxxxx';" + "$a = $a . $a;" * 40
    config = parse_php_config(doubling, environ={})
    assert isinstance(config.variables["a"], PhpUnknown)
    arrays = "<?php $a = [1, 2];" + "$a = [$a, $a];" * 40
    with pytest.raises(ConfigError, match="too large"):
        parse_php_config(arrays, environ={})
    power = parse_php_config("<?php $a = 10 ** 100000; $b = 1 << 9999;", environ={})
    assert isinstance(power.variables["a"], PhpUnknown) and isinstance(power.variables["b"], PhpUnknown)


def test_include_cycles_and_depth_are_bounded(tmp_path: Path) -> None:
    write(tmp_path / "a.php", "<?php include __DIR__ . '/b.php'; $a = 1;")
    write(tmp_path / "b.php", "<?php include __DIR__ . '/a.php';")
    with pytest.raises(ConfigError, match="too many nested includes"):
        read_php_config(tmp_path / "a.php", follow=lambda path: True)
    write(tmp_path / "c.php", "<?php include_once __DIR__ . '/c.php'; $c = 1;")
    assert read_php_config(tmp_path / "c.php", follow=lambda path: True).variables["c"] == 1


def test_oversized_and_unreadable_files(tmp_path: Path) -> None:
    big = write(tmp_path / "big.php", "<?php //" + "x" * (2 << 20))
    with pytest.raises(ConfigError, match="too large"):
        read_php_config(big)
    with pytest.raises(ConfigError, match="cannot read"):
        read_php_config(tmp_path / "missing.php")


def test_no_file_is_read_without_permission(tmp_path: Path) -> None:
    secret = write(tmp_path / "secret.php", "<?php $leak = 'secret';")
    config = parse_php_config(f"<?php $a = include '{secret}'; $b = file_get_contents('{secret}');",
                              environ={})
    assert "leak" not in config.variables
    assert isinstance(config.variables["a"], PhpUnknown)
    assert isinstance(config.variables["b"], PhpUnknown)


# -- differential: the reader agrees with the real PHP on random expressions

_STRINGS = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters="\\'\"$"),
                   max_size=6)


def _php_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value) + "'"


_atoms = st.one_of(st.integers(-50, 50), _STRINGS, st.booleans(), st.none(),
                   st.sampled_from(["'10'", "'1e1'", "'abc'", "''", "'0'"])).map(
    lambda v: v if isinstance(v, str) and v.startswith("'") else _php_literal(v))


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from([".", "==", "!=", "===", "!==", "&&", "||", "??", "?:", "+", "-",
                                                  "<", ">=", " and ", " or "]), children)
    return st.one_of(
        binary.map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
        children.map(lambda c: f"!{c}"),
        st.lists(children, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        st.lists(st.tuples(_STRINGS, children), max_size=3).map(
            lambda items: "[" + ", ".join(f"'{k}' => {v}" for k, v in items) + "]"),
    )


_expressions = st.recursive(_atoms, _combine, max_leaves=6)


def _known(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_known(v) for v in value.values())
    return not isinstance(value, PhpUnknown)


def _plain(value: Any) -> Any:
    """Our value as PHP's json_encode shows it: arrays with keys 0..n-1 as lists."""
    if isinstance(value, dict):
        if list(value) == list(range(len(value))):
            return [_plain(v) for v in value.values()]
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@needs_php
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_expressions, min_size=20, max_size=20))
def test_reader_agrees_with_php(expressions: list[str]) -> None:
    # Arithmetic on arrays or non-numeric strings is an error in PHP 8: such expressions are left out of
    # the comparison (PHP prints ERROR for them), which the reader answers with some value instead.
    script = "".join(
        f"try {{ $v = @({e}); echo json_encode($v), \"\\n\"; }} catch (Throwable $t) {{ echo \"ERROR\\n\"; }}\n"
        for e in expressions)
    php = shutil.which("php")
    assert php is not None
    result = subprocess.run([php, "-d", "error_reporting=0", "-r", script], capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    for expression, line in zip(expressions, lines, strict=False):
        if line == "ERROR":
            continue
        ours = parse_php_config(f"<?php $v = {expression};", environ={}).variables["v"]
        if not _known(ours):
            continue
        assert _plain(ours) == json.loads(line), expression


def test_properties_of_objects_cast_from_arrays() -> None:
    # Bedrock's config/application.php reads DATABASE_URL through (object) parse_url(...).
    config = parse_php_config("""<?php
$dsn = (object) parse_url('mysql://user:pw@db.internal:3307/shop');
$name = substr($dsn->path, 1);
$pass = isset($dsn->pass) ? $dsn->pass : null;
$host = isset($dsn->port) ? "{$dsn->host}:{$dsn->port}" : $dsn->host;
$plain = "$dsn->user@$dsn->host";
$none = (object) parse_url('mysql://db.internal/shop');
$nopass = isset($none->pass) ? $none->pass : 'no password';
$empty = (object) null;
$missing = $empty?->anything;
$nothing = null;
$safe = $nothing?->host;
""")
    variables = config.variables
    assert (variables["name"], variables["pass"], variables["host"], variables["plain"]) == (
        "shop", "pw", "db.internal:3307", "user@db.internal")
    assert (variables["nopass"], variables["missing"], variables["safe"]) == ("no password", None, None)


def test_properties_of_other_objects_are_unknown() -> None:
    config = parse_php_config("<?php\n$a = $undefined->host;\n$b = (new Foo())->bar;\n$c = $x->method();\n"
                              "$d = ['k' => 1];\n$e = $d->k;\n")
    for name in "abce":
        assert isinstance(config.variables[name], PhpUnknown), name


#: Every way a file can name Craft's ``craft\helpers\App`` class, each with what it imports first.
APP_SPELLINGS = {
    "imported": ("use craft\\helpers\\App;", "App"),
    "imported with a leading backslash": ("use \\craft\\helpers\\App;", "App"),
    "imported under an alias": ("use craft\\helpers\\App as Env;", "Env"),
    "imported in a group": ("use craft\\helpers\\{Db, App as Env, StringHelper};", "Env"),
    "imported among others": ("use craft\\config\\DbConfig, craft\\helpers\\App;", "App"),
    "its namespace imported": ("use craft\\helpers;", "helpers\\App"),
    "fully qualified": ("", "\\craft\\helpers\\App"),
    "qualified without the leading backslash": ("", "craft\\helpers\\App"),
}


@pytest.mark.parametrize("spelling", APP_SPELLINGS, ids=list(APP_SPELLINGS))
@pytest.mark.parametrize("registered", ["craft\\helpers\\App::env", "\\craft\\helpers\\App::env"])
def test_static_helper_registered_by_its_full_name_is_found_however_the_file_spells_it(
        spelling: str, registered: str) -> None:
    imports, written = APP_SPELLINGS[spelling]
    config = parse_php_config(f"<?php\n{imports}\nreturn ['db' => {written}::env('CRAFT_DB_DATABASE')];\n",
                              functions={registered: lambda name: f"value of {name}"})
    assert config.returned == {"db": "value of CRAFT_DB_DATABASE"}


def test_helper_name_as_written_still_matches_and_imports_stay_in_their_file(tmp_path: Path) -> None:
    # A function registered by the short name a file writes (Bedrock's `Config::define`) keeps matching;
    # a class of the same short name from elsewhere is not taken for the registered one; and an included
    # file's imports do not change what its includer's names mean (PHP's imports are per file).
    (tmp_path / "inner.php").write_text("<?php\nuse craft\\helpers\\App;\n$inner = App::env('X');\n")
    (tmp_path / "outer.php").write_text("<?php\nuse other\\App;\ninclude __DIR__ . '/inner.php';\n"
                                        "$outer = App::env('X');\n$short = Config::define('Y');\n"
                                        "use craft\\helpers;\n$global = \\helpers\\App::env('X');\n")
    config = read_php_config(tmp_path / "outer.php", follow=lambda path: True,
                             functions={"craft\\helpers\\App::env": lambda name: "craft",
                                        "Config::define": lambda name: "defined"})
    assert config.variables["inner"] == "craft"
    assert isinstance(config.variables["outer"], PhpUnknown)
    assert config.variables["short"] == "defined"
    # \helpers\App is fully qualified: the global helpers namespace, whatever `helpers` imports.
    assert isinstance(config.variables["global"], PhpUnknown)


def test_unusual_use_statements_are_stepped_over() -> None:
    config = parse_php_config("<?php\nuse function craft\\helpers\\env;\nuse const A\\B;\n"
                              "use A\\{function f, const C};\n$f = function () use ($x) { return 1; };\n"
                              "return 'read';\n")
    assert config.returned == "read"


@pytest.mark.parametrize(("text", "reason"), [
    ("define('DB_PASSWORD', 'Secr3t-PW);\n", "a string whose quote ' is never closed"),
    ("define('DB_PASSWORD', 'it's-Secr3t-PW');\n", "a string whose quote ' is never closed"),
    ("define('DB_PASSWORD', 'it's-Secr3t-PW'');\n", "expected ')', found a name"),
    ("define('DB_PASSWORD', 'Secr3t' 'Secr3t-PW');\n", "expected ')', found a string"),
    ("$databases['default']['default'] = ['password' => 'Secr3t' 'Secr3t-PW'];\n", "expected ',', found a string"),
    ("$db_password = 'Secr3t-PW' 'x';\n", "expected ';', found a string"),
    ("$x = 1 ` 'Secr3t-PW';\n", "cannot read the character '`' (U+0060)"),
])
def test_a_syntax_error_never_quotes_a_string(text: str, reason: str) -> None:
    """A quote inside a password (``'it's-secret'``), an unclosed one, two strings side by side: the error quoted
    the string or what followed it, so the password reached the terminal (and CI logs) through ``synco detect``."""
    with pytest.raises(ConfigError) as info:
        parse_php_config("<?php\n" + text, source="wp-config.php")
    assert str(info.value) == f"wp-config.php:2: {reason}"


@pytest.mark.parametrize("statement", [
    "if ($platformsh->hasRelationship('database')) {\n  $databases['default']['default'] = ['database' => 'x'];\n}",
    "foreach ($relationships as $instance) {\n  $databases['default']['default'] = $instance;\n}",
    "while (false) {\n  $databases = [];\n}",
])
def test_a_reason_from_an_included_file_names_that_file(tmp_path: Path, statement: str) -> None:
    """Platform.sh's settings.platformsh.php, DDEV's settings.ddev.php: what an included file leaves unknown was
    said as '... at line 5' under the including file's name (Drupal's 'settings.php: ...'), so the reader was
    sent to the wrong file's line. The included file is named; the first file's own reasons stay as they were."""
    (tmp_path / "sites").mkdir()
    (tmp_path / "sites/settings.php").write_text(
        "<?php\n$databases = [];\ninclude __DIR__ . '/settings.platformsh.php';\n")
    (tmp_path / "sites/settings.platformsh.php").write_text("<?php\n\n\n\n" + statement + "\n")
    config = read_php_config(tmp_path / "sites/settings.php", follow=lambda path: True)
    reason = config.variables["databases"].reason
    assert reason.endswith(" in settings.platformsh.php"), reason
    (tmp_path / "sites/alone.php").write_text("<?php\n$databases = [];\n" + statement + "\n")
    alone = read_php_config(tmp_path / "sites/alone.php").variables["databases"].reason
    assert " in " not in alone.split(")")[-1], alone


_SECRETS_THEN_FALLBACKS = """<?php
$databases['default']['default'] = ['database' => 'dev_default', 'host' => 'localhost'];
require_once '/etc/app/secrets.php';
defined('DB_NAME') || define('DB_NAME', 'wordpress');
if (!defined('DB_HOST')) { define('DB_HOST', 'localhost'); }
define('DB_USER', 'root');
$fallback = $settings ?? 'unset';
"""


@pytest.mark.parametrize("include", ["require_once '/etc/app/secrets.php';", "include secrets_path();",
                                     "if ($_SERVER['HTTP_HOST'] === 'x') { include __DIR__ . '/secrets.php'; }",
                                     "$ok = $_SERVER['HTTP_HOST'] && include __DIR__ . '/secrets.php';"])
@pytest.mark.parametrize("rule", ["no rule", "refused"])
def test_what_an_unread_include_may_set_is_unknown(tmp_path: Path, include: str, rule: str) -> None:
    """A secrets file synco may not read (outside the project, Debian's /etc/wordpress/config-<host>.php), then
    fallbacks: defined('DB_NAME') || define('DB_NAME', 'wordpress'). The fallbacks were read as the database
    (the wrong one dumped, or the wrong local one replaced), and variables set before the include kept their
    values. After an include that is not read, every variable and every constant not defined yet is unknown;
    one the caller's rule calls code (None) changes nothing."""
    (tmp_path / "secrets.php").write_text("<?php define('DB_NAME', 'real');")
    config_file = write(tmp_path / "wp-config.php", _SECRETS_THEN_FALLBACKS.replace(
        "require_once '/etc/app/secrets.php';", include.replace("/etc/app", str(tmp_path))))
    follow = None if rule == "no rule" else (lambda path: False)
    config = read_php_config(config_file, environ={}, follow=follow)
    for name in ("DB_NAME", "DB_HOST", "DB_USER"):
        assert isinstance(config.constants.get(name), PhpUnknown), (name, config.constants.get(name))
    assert isinstance(config.variables["databases"], PhpUnknown)
    assert isinstance(config.variables["fallback"], PhpUnknown)
    code = read_php_config(config_file, environ={}, follow=lambda path: None)
    if "HTTP_HOST" not in include and "secrets_path" not in include:
        assert code.constants["DB_NAME"] == "wordpress" and code.variables["fallback"] == "unset"


def test_an_unknown_condition_before_define_leaves_the_constant_unknown(tmp_path: Path) -> None:
    """getenv() of a request's host || define(...): whether the define ran is not known; it was left undefined
    (then reported as 'not defined'), or, with a later fallback, read as that fallback."""
    config = read_php_config(write(tmp_path / "a.php", "<?php $_SERVER['HTTP_HOST'] || define('DB_NAME', 'x');\n"
                                   "defined('DB_NAME') || define('DB_NAME', 'fallback');\n"), environ={})
    assert isinstance(config.constants["DB_NAME"], PhpUnknown)


def _builder(cls: str) -> Any:
    from synco_core import PhpConfigObject
    return lambda settings=None: PhpConfigObject(cls, settings if isinstance(settings, dict) else {})


@pytest.mark.parametrize(("code", "expected"), [
    ("return Config::create()->host('db')->port(5432);", {"host": "db", "port": 5432}),
    ("return Config::create(['host' => 'a'])->host('b');", {"host": "b"}),
    ("return Config::create()->devMode();", {"devMode": True}),
    ("$c = Config::create();\n$c->host('db');\nreturn $c;", {"host": "db"}),
    ("$c = Config::create()->host('a');\n$d = $c;\n$d->host('b');\nreturn $c;", {"host": "b"}),
    ("return Config::create()->host(getenv('DB_HOST') ?: 'fallback')->name(Config::create()->name('x')->name);",
     {"host": "from-env", "name": "x"}),
    ("return Config::create()->host(value: 'named');", {"host": "named"}),
])
def test_a_plugins_config_object_is_built_by_its_setters(code: str, expected: dict[str, Any]) -> None:
    """A fluent config (Craft's DbConfig::create()->server(...)) whose start a plugin gives: every setter sets
    the setting of its name, on one object as PHP's handles do."""
    config = parse_php_config("<?php\n" + code + "\n", environ={"DB_HOST": "from-env"},
                              functions={"Config::create": _builder("Config")})
    assert config.returned.settings == expected


@pytest.mark.parametrize("code", [
    "return $undefined->host('db');",
    "return (new Config())->host('db');",
    "return Other::create()->host('db');",
    "$o = Other::make();\nreturn $o->host('db');",
])
def test_a_method_on_anything_else_is_unknown(code: str) -> None:
    returned = parse_php_config("<?php\n" + code + "\n", functions={"Config::create": _builder("Config")}).returned
    assert isinstance(returned, PhpUnknown)


def test_a_method_run_as_a_statement_on_an_unknown_object_may_still_load_the_environment() -> None:
    config = parse_php_config("<?php\n$dotenv = Dotenv\\Dotenv::createImmutable(__DIR__);\n$dotenv->load();\n"
                              "$name = getenv('DB_NAME');\n", environ={})
    assert isinstance(config.variables["name"], PhpUnknown)
    built = parse_php_config("<?php\n$c = Config::create();\n$c->host('db');\n$name = getenv('DB_NAME');\n",
                             environ={}, functions={"Config::create": _builder("Config")})
    assert built.variables["name"] is False  # getenv() of an unset variable


def test_a_class_constant_the_caller_gives_is_its_value_however_it_is_spelt() -> None:
    code = ("<?php\nuse craft\\db\\Connection;\nuse craft\\db\\Connection as C;\n"
            "return [Connection::DRIVER_PGSQL, C::DRIVER_PGSQL, \\craft\\db\\Connection::DRIVER_PGSQL, "
            "PDO::MYSQL_ATTR_SSL_CA];\n")
    returned = parse_php_config(code, constants={"craft\\db\\Connection::DRIVER_PGSQL": "pgsql"}).returned
    assert returned == {0: "pgsql", 1: "pgsql", 2: "pgsql", 3: "PDO::MYSQL_ATTR_SSL_CA"}


@pytest.mark.parametrize("code", [
    "$a = new class { public $a = 1; };",
    "$a = new class(1, [2]) extends Base implements One, Two { function f() { return [1]; } };",
    "foo(new class { });",
    "$app->singleton('x', new class { public function __invoke() { return 1; } });",
    "$r = [new class { }];",
])
def test_an_anonymous_class_is_stepped_over_as_any_new_object(code: str) -> None:
    """An anonymous class (new class {...}) was a syntax error, so the whole file was refused."""
    config = parse_php_config("<?php\n" + code + "\n$after = 'read';\n")
    assert config.variables["after"] == "read"
    assert all(isinstance(value, PhpUnknown) for name, value in config.variables.items() if name == "a")


@pytest.mark.parametrize("code", [
    "$app->bind('x', fn() => 1);", "$app->bind('x', function () use ($a) { return 1; });",
    "$c->set(Foo::class, new Bar(1, 2));", "$x->y($a ?? throw new Exception('no'));",
    "$x->y(match($a) { 1 => 'a', default => 'b' });", "$x->y(...$args);", "$x->y(strlen(...));",
    "$x->y(a: 1, b: 2,);", "$x->y(<<<EOT\nhello\nEOT);", "$x->y(clone $z);", "$x->y(static fn($q) => $q);",
    "$x->y([$a, $b] = $c);", "$x?->y($a)->z();", "$x->{'y'}($a);", "$x->y()['k'];", "$x->y()();",
    "$x->y(&$a);", "$kernel->handle($request = Request::capture())->send();",
])
def test_a_method_calls_arguments_read_in_any_form(code: str) -> None:
    """Method calls' arguments are parsed now (a fluent config's setters), where they were skipped: every form
    a configuration file's calls take still reads."""
    assert parse_php_config("<?php\n" + code + "\n$after = 'read';\n").variables["after"] == "read"
