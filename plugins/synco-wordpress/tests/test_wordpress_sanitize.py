"""The sanitising profile on databases shaped as WordPress and WooCommerce make them, on the real MariaDB.

Every value of personal data the test writes carries a marker (``pii``, an address in 203.0.113.0/24 or
``s3cr3t``); after a dump with the options ``serve`` uses, none of them may be left anywhere in it. That holds
for every table prefix WordPress accepts (``wp9_``, upper case, a hyphen) and for every site of a multisite
network, each of which has its own options, comments, post meta and WooCommerce tables, and with ``serve --all``,
which ships WooCommerce's sessions too, without turning sanitising off.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from synco_wordpress.profile import dump_options, site_prefixes
from wp_support import configure, copy_site

from synco_core import DatabaseInventory, TableInfo, dump_with_engine
from synco_core.testing import SyncoPluginManager, detect, options_kept_for, serve_dump_options
from synco_core.testing.services import mysql_admin_connection

#: The tables of one site, as WordPress (wp-admin/includes/schema.php) and WooCommerce create them, reduced
#: to the columns that matter here.
SITE_SCHEMA = [
    """CREATE TABLE `{p}options` (option_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        option_name VARCHAR(191) NOT NULL DEFAULT '' UNIQUE, option_value LONGTEXT NOT NULL,
        autoload VARCHAR(20) NOT NULL DEFAULT 'yes')""",
    """CREATE TABLE `{p}postmeta` (meta_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        post_id BIGINT UNSIGNED NOT NULL DEFAULT 0, meta_key VARCHAR(255), meta_value LONGTEXT)""",
    """CREATE TABLE `{p}comments` (comment_ID BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        comment_post_ID BIGINT UNSIGNED NOT NULL DEFAULT 0, comment_author TINYTEXT NOT NULL,
        comment_author_email VARCHAR(100) NOT NULL DEFAULT '', comment_author_IP VARCHAR(100) NOT NULL DEFAULT '',
        comment_content TEXT NOT NULL, comment_agent VARCHAR(255) NOT NULL DEFAULT '')""",
    """CREATE TABLE `{p}wc_customer_lookup` (customer_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT UNSIGNED DEFAULT NULL UNIQUE, username VARCHAR(60) NOT NULL DEFAULT '',
        first_name VARCHAR(255) NOT NULL, last_name VARCHAR(255) NOT NULL, email VARCHAR(100) NULL DEFAULT NULL,
        country CHAR(2) DEFAULT '' NOT NULL, postcode VARCHAR(20) DEFAULT '' NOT NULL,
        city VARCHAR(100) DEFAULT '' NOT NULL, state VARCHAR(100) DEFAULT '' NOT NULL)""",
    """CREATE TABLE `{p}wc_orders` (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, status VARCHAR(20) NULL,
        customer_id BIGINT UNSIGNED NULL, billing_email VARCHAR(320) NULL, ip_address VARCHAR(100) NULL,
        user_agent TEXT NULL, customer_note TEXT NULL)""",
    """CREATE TABLE `{p}wc_orders_meta` (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        order_id BIGINT UNSIGNED NULL, meta_key VARCHAR(255), meta_value TEXT NULL)""",
    """CREATE TABLE `{p}wc_order_addresses` (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        order_id BIGINT UNSIGNED NOT NULL, address_type VARCHAR(20) NULL, first_name TEXT NULL, last_name TEXT NULL,
        company TEXT NULL, address_1 TEXT NULL, address_2 TEXT NULL, city TEXT NULL, state TEXT NULL,
        postcode TEXT NULL, country TEXT NULL, email VARCHAR(320) NULL, phone VARCHAR(100) NULL,
        UNIQUE KEY address_type_order_id (address_type, order_id))""",
    """CREATE TABLE `{p}woocommerce_api_keys` (key_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT UNSIGNED NOT NULL, consumer_key CHAR(64) NOT NULL, consumer_secret CHAR(43) NOT NULL)""",
    """CREATE TABLE `{p}woocommerce_sessions` (session_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        session_key CHAR(32) NOT NULL UNIQUE, session_value LONGTEXT NOT NULL,
        session_expiry BIGINT UNSIGNED NOT NULL)""",
    """CREATE TABLE `{p}woocommerce_downloadable_product_permissions` (
        permission_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, download_id VARCHAR(36) NOT NULL,
        product_id BIGINT UNSIGNED NOT NULL, order_id BIGINT UNSIGNED NOT NULL DEFAULT 0,
        order_key VARCHAR(200) NOT NULL, user_email VARCHAR(200) NOT NULL, user_id BIGINT UNSIGNED NULL)""",
    """CREATE TABLE `{p}wc_download_log` (download_log_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        timestamp DATETIME NOT NULL, permission_id BIGINT UNSIGNED NOT NULL, user_id BIGINT UNSIGNED NULL,
        user_ip_address VARCHAR(100) NULL DEFAULT '')""",
    """CREATE TABLE `{p}woocommerce_payment_tokens` (token_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        gateway_id VARCHAR(200) NOT NULL, token TEXT NOT NULL, user_id BIGINT UNSIGNED NOT NULL DEFAULT 0,
        type VARCHAR(200) NOT NULL, is_default TINYINT(1) NOT NULL DEFAULT 0)""",
    """CREATE TABLE `{p}wc_webhooks` (webhook_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        status VARCHAR(200) NOT NULL, name TEXT NOT NULL, user_id BIGINT UNSIGNED NOT NULL,
        delivery_url TEXT NULL, secret TEXT NOT NULL, topic VARCHAR(200) NOT NULL)""",
]

#: The tables a multisite network shares.
NETWORK_SCHEMA = [
    """CREATE TABLE `{p}users` (ID BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        user_login VARCHAR(60) NOT NULL DEFAULT '', user_pass VARCHAR(255) NOT NULL DEFAULT '',
        user_email VARCHAR(100) NOT NULL DEFAULT '', user_activation_key VARCHAR(255) NOT NULL DEFAULT '')""",
    """CREATE TABLE `{p}usermeta` (umeta_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT UNSIGNED NOT NULL DEFAULT 0, meta_key VARCHAR(255), meta_value LONGTEXT)""",
    """CREATE TABLE `{p}sitemeta` (meta_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        site_id BIGINT UNSIGNED NOT NULL DEFAULT 0, meta_key VARCHAR(255), meta_value LONGTEXT)""",
    """CREATE TABLE `{p}blogs` (blog_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        site_id BIGINT UNSIGNED NOT NULL DEFAULT 0, domain VARCHAR(200) NOT NULL DEFAULT '',
        path VARCHAR(100) NOT NULL DEFAULT '')""",
    """CREATE TABLE `{p}signups` (signup_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        domain VARCHAR(200) NOT NULL DEFAULT '', user_login VARCHAR(60) NOT NULL DEFAULT '',
        user_email VARCHAR(100) NOT NULL DEFAULT '', activation_key VARCHAR(50) NOT NULL DEFAULT '')""",
    """CREATE TABLE `{p}registration_log` (ID BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        email VARCHAR(255) NOT NULL DEFAULT '', IP VARCHAR(30) NOT NULL DEFAULT '',
        blog_id BIGINT UNSIGNED NOT NULL DEFAULT 0)""",
]

#: Every value the test writes that is personal data or a credential matches this.
LEAK = re.compile(r"pii[\w.-]*|203\.0\.113\.\d+|s3cr3t\w*|Mozilla/[\d.]+ \(pii\)")


def fill_site(cur: Any, p: str, site: int, *, lower: bool = False) -> None:
    """One site's rows: a customer with an order stored both ways (posts and HPOS), comments, downloads.
    ``lower``: every column named in lower case (``comment_author_ip``), which MySQL does not tell apart."""
    for statement in SITE_SCHEMA:
        cur.execute((statement.lower() if lower else statement).format(p=p))
    run = cur.execute
    run(f"INSERT INTO `{p}options` (option_name, option_value) VALUES ('admin_email', 'pii-owner{site}@real.example'),"
        f" ('new_admin_email', 'pii-newowner{site}@real.example'), ('blogname', 'Shop {site}')")
    order_meta = [("_billing_email", f"pii-buyer{site}@real.example"), ("_customer_ip_address", "203.0.113.5"),
                  ("_customer_user_agent", "Mozilla/5.0 (pii)"), ("_billing_address_index", "pii Ann Street 1 Bern"),
                  ("_shipping_address_index", "pii Ann Street 2 Bern"), ("_order_total", "99.00")]
    for kind in ("billing", "shipping"):
        for field in ("first_name", "last_name", "company", "address_1", "address_2", "city", "postcode", "state",
                      "phone"):
            order_meta.append((f"_{kind}_{field}", f"pii-{kind}-{field}"))
    for order in (100, 101):
        for key, value in order_meta:
            run(f"INSERT INTO `{p}postmeta` (post_id, meta_key, meta_value) VALUES (%s, %s, %s)", (order, key, value))
    run(f"INSERT INTO `{p}comments` (comment_post_ID, comment_author, comment_author_email, comment_author_IP, "
        "comment_content, comment_agent) VALUES (1, 'Ann', 'pii-commenter@real.example', '203.0.113.7', 'Nice', "
        "'Mozilla/5.0 (pii)'), (1, 'Bob', 'pii-other@real.example', '203.0.113.8', 'Yes', 'Mozilla/5.0 (pii)')")
    run(f"INSERT INTO `{p}wc_customer_lookup` (user_id, username, first_name, last_name, email, postcode, city, "
        "state) VALUES (1, 'pii-login', 'pii-first', 'pii-last', 'pii-customer@real.example', 'pii-3000', "
        "'pii-Bern', 'pii-BE'), (NULL, '', 'pii-guestfirst', 'pii-guestlast', 'pii-guest@real.example', "
        "'pii-3001', 'pii-Thun', 'pii-BE')")
    run(f"INSERT INTO `{p}wc_orders` VALUES (100, 'wc-completed', 1, 'pii-buyer{site}@real.example', "
        "'203.0.113.5', 'Mozilla/5.0 (pii)', 'leave at the door'), (101, 'wc-completed', 0, "
        f"'pii-guest{site}@real.example', '203.0.113.6', 'Mozilla/5.0 (pii)', '')")
    for order in (100, 101):
        run(f"INSERT INTO `{p}wc_orders_meta` (order_id, meta_key, meta_value) VALUES (%s, '_billing_address_index', "
            "'pii Ann Street 1 Bern'), (%s, '_shipping_address_index', 'pii Ann Street 2 Bern'), "
            "(%s, 'is_vat_exempt', 'no')", (order, order, order))
        for kind in ("billing", "shipping"):
            run(f"INSERT INTO `{p}wc_order_addresses` (order_id, address_type, first_name, last_name, company, "
                "address_1, address_2, city, state, postcode, country, email, phone) VALUES "
                "(%s, %s, 'pii-f', 'pii-l', 'pii-c', 'pii-a1', 'pii-a2', 'pii-city', 'pii-st', 'pii-pc', 'CH', "
                "'pii-addr@real.example', 'pii-+41790000000')", (order, kind))
    run(f"INSERT INTO `{p}woocommerce_api_keys` (user_id, consumer_key, consumer_secret) VALUES "
        "(1, 's3cr3tconsumerkeyhash', 'cs_s3cr3tconsumers3cr3t')")
    customer = 'a:2:{s:4:"cart";s:6:"a:0:{}";s:8:"customer";s:27:"pii-shopper@real.example...";}'
    run(f"INSERT INTO `{p}woocommerce_sessions` (session_key, session_value, session_expiry) VALUES "
        "('k1', %s, 1700000000)", (customer,))
    run(f"INSERT INTO `{p}woocommerce_downloadable_product_permissions` (download_id, product_id, order_id, "
        "order_key, user_email, user_id) VALUES ('d1', 5, 100, 'wc_order_abc', 'pii-downloader@real.example', 1),"
        " ('d1', 5, 101, 'wc_order_def', 'pii-downloader2@real.example', NULL)")
    run(f"INSERT INTO `{p}wc_download_log` (timestamp, permission_id, user_id, user_ip_address) VALUES "
        "('2024-05-01 10:00:00', 1, 1, '203.0.113.9')")
    run(f"INSERT INTO `{p}woocommerce_payment_tokens` (gateway_id, token, user_id, type) VALUES "
        "('stripe', 's3cr3t_pm_1NvXYZ', 1, 'CC')")
    run(f"INSERT INTO `{p}wc_webhooks` (status, name, user_id, delivery_url, secret, topic) VALUES "
        "('active', 'ERP', 1, 'https://erp.example.com/hook', 's3cr3twebhooksigningkey', 'order.created')")


def fill_network(cur: Any, p: str, *, lower: bool = False) -> None:
    run = cur.execute
    for statement in NETWORK_SCHEMA:
        run((statement.lower() if lower else statement).format(p=p))
    run(f"INSERT INTO `{p}users` (user_login, user_pass, user_email, user_activation_key) VALUES "
        "('admin', '$P$Bs3cr3tphpasshash', 'pii-admin@real.example', '1700000000:s3cr3tkey'), "
        "('ann', '$wp$2y$10$s3cr3tbcrypthash', 'pii-ann@real.example', '')")
    meta = [("session_tokens", 'a:1:{s:64:"s3cr3t";a:1:{s:2:"ip";s:11:"203.0.113.4";}}'), ("first_name", "pii-Ann"),
            ("last_name", "pii-Example"), ("billing_email", "pii-billing@real.example"), ("nickname", "ann"),
            *((f"{kind}_{field}", f"pii-{kind}-{field}") for kind in ("billing", "shipping")
              for field in ("first_name", "last_name", "company", "address_1", "address_2", "city", "postcode",
                            "state", "phone"))]
    for user in (1, 2):
        for key, value in meta:
            run(f"INSERT INTO `{p}usermeta` (user_id, meta_key, meta_value) VALUES (%s, %s, %s)", (user, key, value))
    run(f"INSERT INTO `{p}sitemeta` (site_id, meta_key, meta_value) VALUES (1, 'admin_email', "
        "'pii-network@real.example'), (1, 'site_name', 'Network')")
    run(f"INSERT INTO `{p}signups` (domain, user_login, user_email, activation_key) VALUES "
        "('shop.example.com', 'newbie', 'pii-signup@real.example', 's3cr3tactivation')")
    run(f"INSERT INTO `{p}registration_log` (email, IP, blog_id) VALUES ('pii-registrant@real.example', "
        "'203.0.113.3', 2)")


def dump_site(tmp_path: Path, database: str, prefix: str, *, all_rows: bool) -> str:
    site = copy_site(tmp_path / "site")
    configure(site, database, prefix=prefix)
    framework = detect(site)
    out = io.BytesIO()
    assert framework.database is not None
    dump_with_engine(framework.database, out, serve_dump_options(framework, all=all_rows))
    return out.getvalue().decode()


def inserts(dump: str, table: str) -> str:
    """The INSERT statements of ``table`` in ``dump``."""
    return "\n".join(line for line in dump.splitlines() if line.startswith(f"INSERT INTO `{table}` "))


@pytest.mark.mysql
@pytest.mark.hook("default_dump_options")
@pytest.mark.parametrize("all_rows", [False, True], ids=["default", "serve-all"])
@pytest.mark.parametrize(("prefix", "sites", "lower"), [
    ("wp_", (), False), ("wp9_", (2,), False), ("WP_", (2, 13), False), ("my-site_", (3,), False), ("wp_", (2,), True)])
def test_no_personal_data_leaves_in_any_site(prefix: str, sites: tuple[int, ...], lower: bool, all_rows: bool,
                                             no_php: None,
                                             wordpress_manager: SyncoPluginManager, tmp_path: Path,
                                             mysql_database_factory: Callable[[], str]) -> None:
    database = mysql_database_factory()
    conn = mysql_admin_connection(database)
    with conn.cursor() as cur:
        fill_network(cur, prefix, lower=lower)
        fill_site(cur, prefix, 1, lower=lower)
        for site in sites:
            fill_site(cur, f"{prefix}{site}_", site, lower=lower)
    conn.close()

    dump = dump_site(tmp_path, database, prefix, all_rows=all_rows)

    rows = "\n".join(line for line in dump.splitlines() if line.startswith("INSERT INTO"))
    leaked = sorted({found.group(0) for found in LEAK.finditer(rows)})
    assert not leaked, f"personal data in the dump: {leaked}"
    for site_prefix in (prefix, *(f"{prefix}{n}_" for n in sites)):
        assert inserts(dump, f"{site_prefix}wc_orders"), f"{site_prefix}wc_orders ships its rows, sanitised"
        assert "user100@example.invalid" in inserts(dump, f"{site_prefix}wc_orders")
        postmeta = inserts(dump, f"{site_prefix}postmeta")
        assert "'_billing_email','user100@example.invalid'" in postmeta
        assert "'_billing_email','user101@example.invalid'" in postmeta
        assert "'_order_total','99.00'" in postmeta, "what is not personal is left alone"
        assert "'admin_email','admin@example.invalid'" in inserts(dump, f"{site_prefix}options")
        assert not inserts(dump, f"{site_prefix}woocommerce_api_keys"), "API keys never ship"
        assert bool(inserts(dump, f"{site_prefix}woocommerce_sessions")) == all_rows, "sessions ship with --all"
    assert "'ann'" in inserts(dump, f"{prefix}usermeta"), "a nickname is not sanitised"


def test_a_server_storing_table_names_in_lower_case() -> None:
    """MySQL with ``lower_case_table_names`` (Windows, macOS, some hosted servers) stores a ``WP_`` site's tables
    as ``wp_users``, ``wp_2_comments`` ...; WordPress finds them under its prefix, and so must the profile."""
    tables = [TableInfo(name=name, columns=columns) for name, columns in [
        ("wp_users", ["ID", "user_email", "user_pass", "user_activation_key"]),
        ("wp_comments", ["comment_ID", "comment_author_email", "comment_author_IP", "comment_agent"]),
        ("wp_options", ["option_id", "option_name", "option_value"]),
        ("wp_2_comments", ["comment_ID", "comment_author_email", "comment_author_IP", "comment_agent"]),
        ("wp_2_options", ["option_id", "option_name", "option_value"]),
        ("wp_2_woocommerce_api_keys", ["key_id", "consumer_secret"])]]
    inventory = DatabaseInventory(engine="mysql", server_version="8.0", tables=tables, tables_ignore_case=True,
                                  columns_ignore_case=True)
    assert site_prefixes("WP_", inventory) == ["WP_", "WP_2_"]
    options = options_kept_for(dump_options("WP_", inventory), inventory)
    masked = {(rule.table, rule.column) for rule in options.sanitize}
    assert {("wp_users", "user_email"), ("wp_users", "user_pass"), ("wp_comments", "comment_author_IP"),
            ("wp_2_comments", "comment_author_email"), ("wp_2_options", "option_value")} <= masked
    assert options.exclude_tables == ("wp_2_woocommerce_api_keys",)
