"""End to end on a WordPress fixture backed by the real MariaDB: serve -> receive -> install, URLs rewritten.

The production site's database holds its own URL everywhere WordPress puts it: options, a serialized widget
(with a serialized string nested in it), JSON (plain and with escaped slashes, as page builders store it),
post bodies, guids, post meta, the user's profile URL. After the install every one of them points at the
local site, each changed serialized value is accepted by PHP's ``unserialize()`` (run by the real php CLI), and
what is not the site's URL (``https://www.shop-example.com.au``) is untouched. The sanitising profile and the
smart transfer are checked on the same rows.

It runs twice (``wp_mode``): with the WP-CLI stand-in on PATH (its ``config get``, ``option get`` and the
post-install flushes), and with neither WP-CLI nor PHP on PATH, where the plugin reads wp-config.php itself
and learns the local URL from the local database before it is replaced.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from wp_support import LOCAL, PROD, configure, copy_site, populate, wp_cli_config

from synco_core.testing import SyncoPluginManager, cli, detect, run_post_install
from synco_core.testing.services import mysql_admin_connection, serve_receive_install

PHP = shutil.which("php")


def rows(database: str, sql: str) -> list[tuple[Any, ...]]:
    conn = mysql_admin_connection(database)
    with conn.cursor() as cur:
        cur.execute(sql)
        result = [tuple(row) for row in cur.fetchall()]
    conn.close()
    return result


def php_unserializes(values: list[str]) -> list[bool]:
    """Whether PHP's unserialize() accepts each value (the real php CLI)."""
    assert PHP is not None, "the php CLI is needed to check serialized values (apt-get install php-cli)"
    script = ("while (($line = fgets(STDIN)) !== false) { $v = base64_decode(trim($line)); "
              "echo (@unserialize($v) !== false || $v === 'b:0;') ? \"1\\n\" : \"0\\n\"; }")
    import base64

    data = "".join(base64.b64encode(v.encode()).decode() + "\n" for v in values)
    result = subprocess.run([PHP, "-r", script], input=data, capture_output=True, text=True, check=True, timeout=60)
    return [line == "1" for line in result.stdout.split()]


@pytest.mark.mysql
@pytest.mark.slow
@pytest.mark.hook("value_rewriter")
@pytest.mark.hook("source_settings")
def test_serve_receive_install_rewrites_urls(wp_mode: str, wordpress_manager: SyncoPluginManager, tmp_path: Path,
                                            mysql_database_factory: Callable[[], str],
                                            web_server: Callable[[Path], str],
                                            fake_wp_cli: Callable[[dict[str, Any]], Path]) -> None:
    source_db, target_db = mysql_database_factory(), mysql_database_factory()
    populate(source_db, home=PROD)
    # The laptop already has a local copy of the site, at its local URL (the URL the install keeps).
    populate(target_db, home=LOCAL)
    source = copy_site(tmp_path / "production")
    configure(source, source_db)
    target = copy_site(tmp_path / "laptop")
    configure(target, target_db)
    shutil.rmtree(target / "wp-content" / "uploads")
    state = None
    if wp_mode == "wp-cli-stand-in":
        state = fake_wp_cli({"sites": {
            str(source): {"config": wp_cli_config(source_db), "options": {"home": PROD, "siteurl": PROD}},
            str(target): {"config": wp_cli_config(target_db), "options": {"home": LOCAL, "siteurl": LOCAL}},
        }})
    detected = CliRunner().invoke(cli, ["detect", "--json", str(source)])
    assert detected.exit_code == 0, detected.output
    found = json.loads(detected.stdout)
    assert found["configSource"] == ("wp-cli" if state else "files")
    assert (found["database"]["engine"], found["database"]["name"]) == ("mysql", source_db)

    serve_receive_install(source, web_server(source), tmp_path / "received", target)

    options = dict(rows(target_db, "SELECT option_name, option_value FROM wp_options"))
    assert options["home"] == options["siteurl"] == LOCAL
    assert not [name for name in options if name.startswith(("_transient", "_site_transient"))]
    widget = options["widget_text"]
    assert PROD not in widget and f"{LOCAL}/about/" in widget
    assert f"{LOCAL}/wp-content/uploads/2024/05/photo.txt" in widget, "the serialized string nested in the widget"
    assert json.loads(options["elementor_settings"]) == {"url": f"{LOCAL}/shop/",
                                                         "img": f"{LOCAL}/wp-content/uploads/a.png"}
    ((body, guid),) = rows(target_db, "SELECT post_content, guid FROM wp_posts")
    assert f'href="{LOCAL}/blog/"' in body and f"{LOCAL}/old-link" in body
    assert "https://www.shop-example.com.au" in body, "another site's URL is left alone"
    assert guid == f"{LOCAL}/?p=1"
    meta = dict(rows(target_db, "SELECT meta_key, meta_value FROM wp_postmeta"))
    assert json.loads(meta["_elementor_data"])["url"] == f"{LOCAL}/shop/"
    assert "\\/" in meta["_elementor_data"], "JSON-escaped slashes stay escaped"
    assert meta["_thumbnail_url"] == f"{LOCAL}/wp-content/uploads/t.jpg"
    # Every serialized value is still valid for PHP, with its lengths recomputed.
    serialized = [v for v in [*options.values(), *meta.values()] if v[:2] in ("a:", "s:", "O:")]
    assert serialized and all(php_unserializes(serialized)), serialized

    from synco_wordpress.profile import PASSWORD_HASH

    assert rows(target_db, "SELECT user_email, user_pass, user_activation_key, user_url FROM wp_users") == [
        ("user1@example.invalid", PASSWORD_HASH, "", LOCAL)]
    usermeta = dict(rows(target_db, "SELECT meta_key, meta_value FROM wp_usermeta"))
    assert usermeta == {"session_tokens": "", "nickname": "admin", "billing_email": "user1@example.invalid",
                        "billing_phone": ""}
    assert rows(target_db, "SELECT comment_author_email, comment_author_IP, comment_agent FROM wp_comments") == [
        ("user1@example.invalid", "127.0.0.1", "")]
    assert rows(target_db, "SELECT COUNT(*) FROM wp_woocommerce_sessions") == [(0,)]
    assert rows(target_db, "SELECT status FROM wp_actionscheduler_actions") == [("pending",)]
    assert rows(target_db, "SELECT COUNT(*) FROM wp_actionscheduler_logs") == [(0,)]

    assert (target / "wp-content/uploads/2024/05/photo.txt").read_text() == "uploaded photo of May 2024\n"
    assert not (target / "wp-content/uploads/cache").exists(), "a caching plugin's folder is not transferred"

    if state is not None:
        calls = (state.parent / "calls.log").read_text()
        assert f"config get --format=json --path={source}" in calls
        assert f"option get home --path={source}" in calls
        assert f"option get home --path={target}" in calls
        framework = detect(target)
        run_post_install(framework)
        calls = (state.parent / "calls.log").read_text()
        assert f"cache flush --path={target}" in calls and f"rewrite flush --path={target}" in calls
