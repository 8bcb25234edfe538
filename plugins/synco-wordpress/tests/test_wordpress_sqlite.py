"""WordPress on SQLite through the SQLite Database Integration plugin (WordPress.org's, Playground's, Studio's).

The installation is the plugin's: ``wp-content/db.php`` is its drop-in (as the plugin's ``db.copy`` writes it,
or wp-sqlite-db's single file), the database ``wp-content/database/.ht.sqlite`` unless wp-config.php moves it
with ``DB_DIR`` / ``DB_FILE`` (or ``FQDBDIR`` / ``FQDB``). wp-config.php still holds wp-config-sample.php's
``DB_NAME`` ... ``database_name_here``: they name nothing, and detection must not offer them as a MySQL
database. The sanitising profile must run on the SQLite copy (MySQL's CONCAT()/IF()/LEFT() are not SQLite's)
and leave no personal data in the file serve ships.
"""

from __future__ import annotations

import hashlib
import io
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from synco_wordpress.urls import site_urls
from wp_support import copy_site, wp_cli_config

from synco_core import dump_with_engine
from synco_core.testing import SyncoPluginManager, detect, serve_dump_options

#: The drop-in as the plugin's activation writes it from db.copy (the implementation's path filled in).
CURRENT_DROPIN = """<?php
/**
 * Plugin Name: SQLite integration (Drop-in)
 * Version: 1.0.0
 * Author: WordPress Performance Team
 */
define( 'SQLITE_DB_DROPIN_VERSION', '2.1.16' );
if ( ! file_exists( '{plugin}/wp-includes/sqlite/db.php' ) ) {{
	return;
}}
if ( ! defined( 'DATABASE_TYPE' ) ) {{
	define( 'DATABASE_TYPE', 'sqlite' );
}}
require_once '{plugin}/wp-includes/sqlite/db.php';
"""
#: wp-sqlite-db (aaemnnosttv): one file holding everything, FQDB defined in a bootstrap method.
SINGLE_FILE_DROPIN = """<?php
/**
 * Plugin Name: SQLite Database Integration (wp-sqlite-db)
 */
namespace WP_SQLite_DB;
class WP_SQLite_DB__Main { private static function define_constants() {
    if (defined('DB_FILE')) { define('FQDB', FQDBDIR . DB_FILE); } else { define('FQDB', FQDBDIR . '.ht.sqlite'); }
} }
"""
#: Other plugins' db.php drop-ins: WordPress still talks to MySQL.
QUERY_MONITOR_DROPIN = """<?php
/**
 * Plugin Name: Query Monitor Database Class (Drop-in)
 */
if ( ! defined( 'ABSPATH' ) ) { exit; }
class QM_DB extends wpdb { }
$wpdb = new QM_DB( DB_USER, DB_PASSWORD, DB_NAME, DB_HOST );
"""


def sqlite_site(tmp_path: Path, extra: str = "", dropin: str | None = None, content: str = "wp-content") -> Path:
    """The fixture installation turned into one on SQLite: the plugin, its drop-in, the sample's DB_* left."""
    site = copy_site(tmp_path / "site")
    config = site / "wp-config.php"
    text = config.read_text()
    assert "database_name_here" in text, "the sample's placeholders stay, as on a real SQLite site"
    if extra:
        text = text.replace("/* That's all, stop editing!", extra + "\n/* That's all, stop editing!")
    config.write_text(text)
    plugin = site / content / "plugins" / "sqlite-database-integration"
    (plugin / "wp-includes" / "sqlite").mkdir(parents=True)
    (plugin / "wp-includes" / "sqlite" / "db.php").write_text("<?php\n// the implementation\n")
    (site / content / "db.php").write_text(dropin if dropin is not None else CURRENT_DROPIN.format(plugin=plugin))
    return site


@pytest.mark.parametrize(("extra", "expected"), [
    ("", "wp-content/database/.ht.sqlite"),
    ("define( 'DB_FILE', 'site.sqlite' );", "wp-content/database/site.sqlite"),
    ("define( 'DB_DIR', __DIR__ . '/../private-db' );", "../private-db/.ht.sqlite"),
    ("define( 'DB_DIR', '/srv/data/' );\ndefine( 'DB_FILE', 'wp.db' );", "/srv/data/wp.db"),
    ("define( 'FQDBDIR', '/srv/fq/' );", "/srv/fq/.ht.sqlite"),
    ("define( 'FQDB', '/srv/exact/main.sqlite' );\ndefine( 'DB_FILE', 'ignored.db' );", "/srv/exact/main.sqlite"),
    ("define( 'WP_CONTENT_DIR', __DIR__ . '/content' );", "content/database/.ht.sqlite"),
    ("define( 'DATABASE_TYPE', 'sqlite' );", "wp-content/database/.ht.sqlite"),
], ids=["default", "db-file", "db-dir", "db-dir-and-file", "fqdbdir", "fqdb", "content-dir", "database-type"])
def test_the_sqlite_database_is_found_where_the_drop_in_looks(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                                              no_php: None, extra: str, expected: str) -> None:
    content = "content" if "WP_CONTENT_DIR" in extra else "wp-content"
    site = sqlite_site(tmp_path, extra, content=content)
    framework = detect(site)
    database = framework.database
    assert database is not None, framework.reason
    assert database.engine == "sqlite", "the sample's DB_NAME/DB_USER name no MySQL database here"
    want = Path(expected) if expected.startswith("/") else site / expected
    assert Path(database.name) == want
    assert (database.user, database.password, database.host) == (None, None, None)
    assert "SQLite" in framework.reason and str(site / content / "db.php") in database.source


@pytest.mark.parametrize("dropin", ["single-file", "query-monitor"])
def test_only_an_sqlite_drop_in_means_sqlite(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None,
                                             dropin: str) -> None:
    text = SINGLE_FILE_DROPIN if dropin == "single-file" else QUERY_MONITOR_DROPIN
    framework = detect(sqlite_site(tmp_path, dropin=text))
    assert framework.database is not None
    assert framework.database.engine == ("sqlite" if dropin == "single-file" else "mysql")


@pytest.mark.parametrize("extra", ["define( 'DATABASE_TYPE', 'mysql' );", "define( 'DB_ENGINE', 'mysql' );",
                                   "define( 'USE_MYSQL', true );"])
def test_wp_config_turning_the_drop_in_off_keeps_mysql(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                                       no_php: None, extra: str) -> None:
    framework = detect(sqlite_site(tmp_path, extra))
    assert framework.database is not None
    assert (framework.database.engine, framework.database.name) == ("mysql", "database_name_here")


@pytest.mark.parametrize("extra", ["define( 'DB_DIR', wp_sqlite_folder() );",
                                   "define( 'DB_FILE', SITE_SLUG . '.sqlite' );",
                                   "define( 'DATABASE_TYPE', choose_engine() );"])
def test_a_path_known_only_at_run_time_is_not_guessed(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                                      no_php: None, extra: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    framework = detect(sqlite_site(tmp_path, extra))
    assert framework.database is None, "neither the default file nor the sample's MySQL database"
    message = next(r.getMessage() for r in caplog.records if "database settings are unusable" in r.getMessage())
    assert "wp-config.php" in message and ".synco.yml" in message and "\n" not in message


PERSONAL = "pii-"


def _fill(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE wp_options (option_id INTEGER PRIMARY KEY AUTOINCREMENT, option_name TEXT NOT NULL DEFAULT '',
            option_value TEXT NOT NULL, autoload TEXT NOT NULL DEFAULT 'yes');
        CREATE TABLE wp_users (ID INTEGER PRIMARY KEY AUTOINCREMENT, user_login TEXT NOT NULL DEFAULT '',
            user_pass TEXT NOT NULL DEFAULT '', user_email TEXT NOT NULL DEFAULT '',
            user_activation_key TEXT NOT NULL DEFAULT '');
        CREATE TABLE wp_usermeta (umeta_id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL DEFAULT 0,
            meta_key TEXT, meta_value TEXT);
        CREATE TABLE wp_posts (ID INTEGER PRIMARY KEY AUTOINCREMENT, post_title TEXT NOT NULL DEFAULT '',
            post_content TEXT NOT NULL DEFAULT '', post_excerpt TEXT NOT NULL DEFAULT '',
            post_password TEXT NOT NULL DEFAULT '', post_name TEXT NOT NULL DEFAULT '',
            post_type TEXT NOT NULL DEFAULT 'post');
        CREATE TABLE wp_postmeta (meta_id INTEGER PRIMARY KEY AUTOINCREMENT, post_id INTEGER NOT NULL DEFAULT 0,
            meta_key TEXT, meta_value TEXT);
        CREATE TABLE wp_wc_order_operational_data (id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER,
            order_key TEXT);
        -- What the plugin's MySQL emulation keeps beside WordPress's tables: shipped as it is.
        CREATE TABLE _wp_sqlite_mysql_information_schema_tables (TABLE_NAME TEXT);
        INSERT INTO _wp_sqlite_mysql_information_schema_tables VALUES ('wp_options');
        INSERT INTO wp_options (option_name, option_value) VALUES ('siteurl', 'https://www.example.com'),
            ('admin_email', 'pii-owner@real.example'), ('mailserver_pass', 'pii-s3cr3t'),
            ('acme_crm_api_key', 'pii-key'), ('woocommerce_registration_generate_password', 'yes'),
            ('_transient_feed_1', 'cached'), ('_site_transient_update', 'cached'), ('xtransient_kept', 'kept');
        INSERT INTO wp_users (user_login, user_pass, user_email)
            VALUES ('boss', '$P$pii-hash', 'pii-boss@real.example');
        INSERT INTO wp_usermeta (user_id, meta_key, meta_value) VALUES (1, 'billing_email', 'pii-bill@real.example'),
            (1, 'session_tokens', 'pii-token'), (1, 'first_name', 'pii-Ann'), (1, 'nickname', 'ann'),
            (1, 'edd_user_secret_key_x', 'edd_user_secret_key');
        INSERT INTO wp_posts (ID, post_title, post_content, post_name, post_type) VALUES
            (7, 'pii-request@real.example', 'pii-body', 'export_personal_data', 'user_request'),
            (8, 'pii-sender', 'pii-message', 'pii-sender-slug', 'flamingo_inbound'),
            (9, 'Hello', 'public text', 'hello', 'post');
        INSERT INTO wp_postmeta (post_id, meta_key, meta_value)
            VALUES (100, '_billing_email', 'pii-buyer@real.example'),
            (100, '_order_key', 'wc_order_AbCdEfGh12345'), (100, '_order_total', '99.00'),
            (100, '_customer_ip_address', '203.0.113.9');
        INSERT INTO wp_wc_order_operational_data (order_id, order_key) VALUES (100, 'wc_order_AbCdEfGh12345');
    """)
    conn.commit()
    conn.close()


@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize("all_rows", [False, True], ids=["default", "serve-all"])
def test_the_profile_sanitises_the_sqlite_copy(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None,
                                               all_rows: bool) -> None:
    site = sqlite_site(tmp_path)
    (site / "wp-content" / "database").mkdir()
    _fill(site / "wp-content" / "database" / ".ht.sqlite")
    framework = detect(site)
    assert framework.database is not None and framework.database.engine == "sqlite"
    out = io.BytesIO()
    dump_with_engine(framework.database, out, serve_dump_options(framework, all=all_rows))
    shipped = tmp_path / "shipped.sqlite"
    shipped.write_bytes(out.getvalue())
    assert PERSONAL.encode() not in out.getvalue(), "no personal data anywhere in the shipped file"
    conn = sqlite3.connect(shipped)
    options = dict(conn.execute("SELECT option_name, option_value FROM wp_options").fetchall())
    assert options["admin_email"] == "admin@example.invalid"
    assert options["woocommerce_registration_generate_password"] == "yes", "a flag is no credential"
    assert options["xtransient_kept"] == "kept", "'_' is a letter in the transients' pattern, not a wildcard"
    assert ("_transient_feed_1" in options) == all_rows and ("_site_transient_update" in options) == all_rows
    meta = dict(conn.execute("SELECT meta_key, meta_value FROM wp_usermeta").fetchall())
    assert meta["billing_email"] == "user1@example.invalid" and meta["nickname"] == "ann"
    assert "edd_user_secret_key_x" not in meta, "EDD's key, kept as a meta name, is renamed"
    # The order key replaced as on MySQL (SHA2 there): the same key gives the same replacement in every table.
    rekeyed = "wc_order_" + hashlib.sha256(b"wc_order_AbCdEfGh12345").hexdigest()[:13]
    order_meta = dict(conn.execute("SELECT meta_key, meta_value FROM wp_postmeta").fetchall())
    assert order_meta["_order_key"] == rekeyed and order_meta["_order_total"] == "99.00"
    assert order_meta["_billing_email"] == "user100@example.invalid"
    assert conn.execute("SELECT order_key FROM wp_wc_order_operational_data").fetchone() == (rekeyed,)
    posts = {row[0]: row[1:] for row in conn.execute("SELECT ID, post_title, post_name FROM wp_posts")}
    assert posts[7] == ("user7@example.invalid", "export_personal_data"), "a request's slug is its action"
    assert posts[8] == ("", "flamingo_inbound-8") and posts[9] == ("Hello", "hello")
    assert conn.execute("SELECT count(*) FROM _wp_sqlite_mysql_information_schema_tables").fetchone() == (1,)
    conn.close()


def test_the_site_urls_are_read_from_the_sqlite_database(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                                         no_php: None) -> None:
    """Without WP_HOME/WP_SITEURL, home and siteurl come from the options table, here the SQLite file's: the
    search-replace that makes the copy's links local needs them."""
    site = sqlite_site(tmp_path)
    (site / "wp-content" / "database").mkdir()
    _fill(site / "wp-content" / "database" / ".ht.sqlite")
    conn = sqlite3.connect(site / "wp-content" / "database" / ".ht.sqlite")
    conn.execute("INSERT INTO wp_options (option_name, option_value) VALUES ('home', 'https://www.example.com')")
    conn.commit()
    conn.close()
    framework = detect(site)
    assert site_urls(framework) == {"home": "https://www.example.com", "siteurl": "https://www.example.com"}


def test_bedrock_on_sqlite_finds_the_file_in_its_content_folder(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                                                no_php: None) -> None:
    """Bedrock's content folder is ``web/app`` (``WP_CONTENT_DIR`` from ``Config::define``): the drop-in is
    ``web/app/db.php`` and the database ``web/app/database/.ht.sqlite``, whatever ``.env``'s DB_* say."""
    from test_wordpress_bedrock import ENV, bedrock_site

    project = bedrock_site(tmp_path / "site", ENV)
    plugin = project / "web/app/plugins/sqlite-database-integration"
    (plugin / "wp-includes/sqlite").mkdir(parents=True)
    (project / "web/app/db.php").write_text(CURRENT_DROPIN.format(plugin=plugin))
    framework = detect(project)
    assert framework.database is not None
    assert (framework.database.engine, Path(framework.database.name)) == (
        "sqlite", project / "web/app/database/.ht.sqlite")


def test_wp_cli_constants_place_the_sqlite_file(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                                fake_wp_cli: Callable[[dict[str, Any]], Path]) -> None:
    """With WP-CLI answering, its constants (DB_DIR, DB_FILE as wp-config.php defines them) place the file."""
    site = sqlite_site(tmp_path)
    fake_wp_cli({"sites": {str(site): {"config": wp_cli_config("database_name_here", DB_DIR="/srv/wp-data",
                                                                 DB_FILE="shop.sqlite"), "options": {}}}})
    framework = detect(site)
    assert framework.config_source == "wp-cli" and framework.database is not None
    assert (framework.database.engine, framework.database.name) == ("sqlite", "/srv/wp-data/shop.sqlite")
