"""Where the site URLs come from: production's (published with the dump) and the local one (--site-url, the
local WP_HOME / WP_SITEURL, or the local database before the install replaces it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from synco_wordpress import urls
from wp_support import LOCAL, PROD, configure, copy_site, populate

from synco_core import ConfigError
from synco_core.testing import SyncoPluginManager, detect


def site_with(tmp_path: Path, database: str, extra: str = "") -> Path:
    site = copy_site(tmp_path / "site")
    configure(site, database, extra=extra)
    return site


def test_source_settings_from_wp_config_constants(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                                  no_php: None) -> None:
    site = site_with(tmp_path, "unreachable", f"define( 'WP_HOME', '{PROD}' );\n"
                                              f"define( 'WP_SITEURL', '{PROD}/wp' );")
    framework = detect(site)
    assert urls.source_settings(framework) == {"home": PROD, "siteurl": f"{PROD}/wp"}
    assert framework.site_url == PROD
    # The web root (ABSPATH) is served at the site URL: serve's receive command gets it as --base-url.
    assert (framework.base_url, framework.base_url_source) == (f"{PROD}/wp", "WP_SITEURL")


@pytest.mark.mysql
def test_source_settings_from_the_database(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None,
                                           mysql_database_factory: Callable[[], str]) -> None:
    database = mysql_database_factory()
    populate(database, prefix="shop_", home=PROD)
    site = site_with(tmp_path, database)
    config = site / "wp-config.php"
    config.write_text(config.read_text().replace("$table_prefix = 'wp_';", "$table_prefix = 'shop_';"))
    assert urls.source_settings(detect(site)) == {"home": PROD, "siteurl": PROD}


def rewriter_for(site: Path, site_url: str | None = None, source: str = PROD) -> bytes:
    framework = detect(site)
    if site_url:
        framework.site_url = site_url
    rewriter = urls.value_rewriter(framework, {"wordpress": {"home": source, "siteurl": source + "/wp"}})
    assert rewriter is not None
    return rewriter.rewrite(f"{source}/page {source}/wp/wp-admin".encode())


def test_local_url_from_site_url_option(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None) -> None:
    site = site_with(tmp_path, "unreachable")
    # WordPress in a subdirectory of its site keeps that shape locally.
    assert rewriter_for(site, "http://localhost:9000/") == b"http://localhost:9000/page http://localhost:9000/wp/wp-admin"


def test_local_url_from_local_wp_home(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None) -> None:
    site = site_with(tmp_path, "unreachable", f"define( 'WP_HOME', '{LOCAL}' );\ndefine( 'WP_SITEURL', '{LOCAL}/wp' );")
    assert rewriter_for(site) == f"{LOCAL}/page {LOCAL}/wp/wp-admin".encode()


@pytest.mark.mysql
def test_local_url_from_the_local_database(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None,
                                           mysql_database_factory: Callable[[], str]) -> None:
    database = mysql_database_factory()
    populate(database, home=LOCAL)
    site = site_with(tmp_path, database)
    assert rewriter_for(site).startswith(f"{LOCAL}/page".encode())


@pytest.mark.mysql
def test_unknown_local_url_refuses_before_anything_changes(tmp_path: Path, wordpress_manager: SyncoPluginManager,
                                                           no_php: None,
                                                           mysql_database_factory: Callable[[], str]) -> None:
    site = site_with(tmp_path, mysql_database_factory())  # an empty local database: no home option
    with pytest.raises(ConfigError, match="--site-url"):
        rewriter_for(site)
    with pytest.raises(ConfigError, match="not an http"):
        rewriter_for(site, "localhost:8080")


def test_same_url_needs_no_rewriter(tmp_path: Path, wordpress_manager: SyncoPluginManager, no_php: None) -> None:
    site = site_with(tmp_path, "unreachable", f"define( 'WP_HOME', '{PROD}' );")
    framework = detect(site)
    assert urls.value_rewriter(framework, {"wordpress": {"home": PROD, "siteurl": PROD}}) is None
    assert urls.value_rewriter(framework, {}) is None, "a dump without source settings: nothing to rewrite"
