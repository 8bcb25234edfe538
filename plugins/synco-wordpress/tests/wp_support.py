"""Shared pieces of the synco-wordpress tests: a WordPress-shaped schema with realistic rows, and the site's
configuration written into a copy of the fixture installation."""

from __future__ import annotations

import json
import re
import shutil
import stat
from pathlib import Path
from typing import Any

from synco_core.testing.services import MYSQL_HOST, MYSQL_PASSWORD, MYSQL_PORT, MYSQL_USER, mysql_admin_connection

FIXTURES = Path(__file__).parent / "fixtures"
PROD = "https://www.shop-example.com"
LOCAL = "http://shop.test:8080"

SCHEMA = [
    """CREATE TABLE {p}options (option_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        option_name VARCHAR(191) NOT NULL DEFAULT '' UNIQUE, option_value LONGTEXT NOT NULL,
        autoload VARCHAR(20) NOT NULL DEFAULT 'yes')""",
    """CREATE TABLE {p}posts (ID BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, post_title TEXT NOT NULL,
        post_content LONGTEXT NOT NULL, guid VARCHAR(255) NOT NULL DEFAULT '')""",
    """CREATE TABLE {p}postmeta (meta_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        post_id BIGINT UNSIGNED NOT NULL DEFAULT 0, meta_key VARCHAR(255), meta_value LONGTEXT)""",
    """CREATE TABLE {p}users (ID BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        user_login VARCHAR(60) NOT NULL DEFAULT '', user_pass VARCHAR(255) NOT NULL DEFAULT '',
        user_email VARCHAR(100) NOT NULL DEFAULT '', user_url VARCHAR(100) NOT NULL DEFAULT '',
        user_activation_key VARCHAR(255) NOT NULL DEFAULT '')""",
    """CREATE TABLE {p}usermeta (umeta_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT UNSIGNED NOT NULL DEFAULT 0, meta_key VARCHAR(255), meta_value LONGTEXT)""",
    """CREATE TABLE {p}comments (comment_ID BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        comment_post_ID BIGINT UNSIGNED NOT NULL DEFAULT 0, comment_author TINYTEXT NOT NULL,
        comment_author_email VARCHAR(100) NOT NULL DEFAULT '', comment_author_url VARCHAR(200) NOT NULL DEFAULT '',
        comment_author_IP VARCHAR(100) NOT NULL DEFAULT '', comment_content TEXT NOT NULL,
        comment_agent VARCHAR(255) NOT NULL DEFAULT '')""",
    """CREATE TABLE {p}woocommerce_sessions (session_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        session_key CHAR(32) NOT NULL UNIQUE, session_value LONGTEXT NOT NULL,
        session_expiry BIGINT UNSIGNED NOT NULL)""",
    """CREATE TABLE {p}actionscheduler_actions (action_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        hook VARCHAR(191) NOT NULL, status VARCHAR(20) NOT NULL)""",
    """CREATE TABLE {p}actionscheduler_logs (log_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        action_id BIGINT UNSIGNED NOT NULL, message TEXT NOT NULL)""",
]


def php_serialize(value: Any) -> str:
    """PHP's serialize() for the test rows (str lengths in UTF-8 bytes)."""
    if value is None:
        return "N;"
    if isinstance(value, bool):
        return f"b:{int(value)};"
    if isinstance(value, int):
        return f"i:{value};"
    if isinstance(value, str):
        return f's:{len(value.encode())}:"{value}";'
    if isinstance(value, dict):
        items = "".join(php_serialize(k) + php_serialize(v) for k, v in value.items())
        return f"a:{len(value)}:{{{items}}}"
    raise TypeError(type(value))


WIDGET = {"title": "Follow us", "text": f'<a href="{PROD}/about/">About</a> café',
          "nested": php_serialize({"logo": f"{PROD}/wp-content/uploads/2024/05/photo.txt"})}
ELEMENTOR = json.dumps({"url": f"{PROD}/shop/", "img": f"{PROD}/wp-content/uploads/a.png"})
POST_BODY = (f'<!-- wp:paragraph --><p>Visit <a href="{PROD}/blog/">our blog</a> or '
             f'{PROD.replace("https", "http")}/old-link, not https://www.shop-example.com.au</p><!-- /wp:paragraph -->')


def populate(database: str, prefix: str = "wp_", home: str = PROD) -> None:
    conn = mysql_admin_connection(database)
    with conn.cursor() as cur:
        for statement in SCHEMA:
            cur.execute(statement.format(p=prefix))
        options = [("siteurl", home), ("home", home), ("blogname", "Shop"),
                   ("widget_text", php_serialize({2: WIDGET, "_multiwidget": 1})),
                   ("_transient_feed_abc", "cached feed " + home), ("_transient_timeout_feed_abc", "1700000000"),
                   ("_site_transient_update_core", php_serialize({"url": home})),
                   ("elementor_settings", ELEMENTOR)]
        cur.executemany(f"INSERT INTO {prefix}options (option_name, option_value) VALUES (%s, %s)", options)
        cur.execute(f"INSERT INTO {prefix}posts (ID, post_title, post_content, guid) VALUES (1, 'Hello', %s, %s)",
                    (POST_BODY, f"{home}/?p=1"))
        cur.execute(f"INSERT INTO {prefix}postmeta (post_id, meta_key, meta_value) VALUES (1, '_elementor_data', %s),"
                    f" (1, '_thumbnail_url', %s)", (ELEMENTOR.replace("/", "\\/"), f"{home}/wp-content/uploads/t.jpg"))
        cur.execute(f"INSERT INTO {prefix}users VALUES (1, 'admin', '$P$Breal.hash', 'ceo@shop-example.com', %s, "
                    "'1700000000:activationkey')", (home,))
        cur.execute(f"INSERT INTO {prefix}usermeta (user_id, meta_key, meta_value) VALUES "
                    "(1, 'session_tokens', 'a:1:{s:64:\"token\";a:0:{}}'), (1, 'nickname', 'admin'), "
                    "(1, 'billing_email', 'ceo@shop-example.com'), (1, 'billing_phone', '+41 79 000 00 00')")
        cur.execute(f"INSERT INTO {prefix}comments (comment_post_ID, comment_author, comment_author_email, "
                    "comment_author_IP, comment_content, comment_agent) VALUES (1, 'Ann', 'ann@real.example', "
                    "'203.0.113.7', 'Nice post', 'Mozilla/5.0')")
        cur.execute(f"INSERT INTO {prefix}woocommerce_sessions (session_key, session_value, session_expiry) VALUES "
                    "('k1', 'cart of a shopper', 1700000000)")
        cur.execute(f"INSERT INTO {prefix}actionscheduler_actions (hook, status) VALUES "
                    "('woocommerce_cleanup', 'complete'), ('woocommerce_run_update', 'pending')")
        cur.execute(f"INSERT INTO {prefix}actionscheduler_logs (action_id, message) VALUES (1, 'action complete')")
    conn.close()


def configure(site: Path, database: str, *, prefix: str = "wp_", extra: str = "") -> None:
    """Point a copy of the fixture's wp-config.php at ``database`` on the test server."""
    config = site / "wp-config.php"
    text = config.read_text()
    values = {"DB_NAME": database, "DB_USER": MYSQL_USER, "DB_PASSWORD": MYSQL_PASSWORD,
              "DB_HOST": f"{MYSQL_HOST}:{MYSQL_PORT}"}
    for name, value in values.items():
        text = re.sub(rf"define\( '{name}', '[^']*' \);", f"define( '{name}', '{value}' );", text)
    text = text.replace("$table_prefix = 'wp_';", f"$table_prefix = '{prefix}';")
    if extra:
        text = text.replace("/* That's all, stop editing!", extra + "\n/* That's all, stop editing!")
    config.write_text(text)


def copy_site(target: Path, name: str = "wordpress") -> Path:
    shutil.copytree(FIXTURES / name, target, symlinks=True)
    return target


def install_wp_cli(bin_dir: Path, state: dict[str, Any]) -> Path:
    """Put the fake ``wp`` into ``bin_dir`` with its state file; returns the state file."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    wp = bin_dir / "wp"
    shutil.copy(FIXTURES / "fake-wp-cli.py", wp)
    wp.chmod(wp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    state_file = bin_dir / "wp-state.json"
    state_file.write_text(json.dumps(state))
    return state_file


def wp_cli_config(database: str, prefix: str = "wp_", **constants: Any) -> list[dict[str, Any]]:
    """What ``wp config get --format=json`` prints for a site on ``database``."""
    entries: list[dict[str, Any]] = [{"name": "table_prefix", "value": prefix, "type": "variable"}]
    values = {"DB_NAME": database, "DB_USER": MYSQL_USER, "DB_PASSWORD": MYSQL_PASSWORD,
              "DB_HOST": f"{MYSQL_HOST}:{MYSQL_PORT}", "DB_CHARSET": "utf8mb4", "DB_COLLATE": "", **constants}
    entries += [{"name": k, "value": v, "type": "constant"} for k, v in values.items()]
    return entries
