"""The site's URLs: production's, published with the dump, and the local one they become on install.

WordPress keeps its address in the database (the ``home`` and ``siteurl`` options) unless ``wp-config.php``
pins it (``WP_HOME``, ``WP_SITEURL``), and links to itself with absolute URLs everywhere: post bodies,
serialized widget and theme settings, JSON in block attributes. A copy loaded as it is sends every click back
to production. So:

- on the source (``source_settings``), the plugin publishes ``home`` and ``siteurl``: from WP-CLI
  (``wp option get``) when it is there, else from ``WP_HOME`` / ``WP_SITEURL``, else from the options table
  (read through the engine, after detection);
- on the destination (``value_rewriter``), the local URL is ``--site-url``, else the local ``WP_HOME`` /
  ``WP_SITEURL``, else what the local database says before it is replaced; the engine then replaces every
  occurrence while loading (:mod:`synco_wordpress.searchreplace`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from synco_core import (
    ConfigError,
    DatabaseError,
    Framework,
    ValueRewriter,
    connect_with_engine,
    run_command,
)
from synco_wordpress import network
from synco_wordpress.config import WP_CLI_TIMEOUT, wp_command
from synco_wordpress.searchreplace import UrlReplacer, split_url

log = logging.getLogger(__name__)

PLUGIN = "wordpress"


def _url(value: object) -> str | None:
    """A usable site URL (http or https, with a host), without its trailing slash; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        split_url(value)
    except ValueError:
        return None
    return value.strip().rstrip("/")


def _from_wp_cli(framework: Framework) -> dict[str, str]:
    wp = framework.settings.get("wp")
    if not wp:
        return {}
    found: dict[str, str] = {}
    for option in ("home", "siteurl"):
        try:
            result = run_command(wp_command(str(wp), Path(framework.settings["root"]), "option", "get", option),
                                 cwd=framework.project_dir, timeout=WP_CLI_TIMEOUT)
        except ConfigError as exc:
            log.debug("wp option get %s failed: %s", option, exc)
            return {}
        url = _url(result.stdout.strip())
        if url:
            found[option] = url
    return found


def _from_database(framework: Framework) -> dict[str, str]:
    database = framework.database
    if database is None:
        return {}
    table = f"{framework.settings.get('table_prefix', 'wp_')}options"
    found: dict[str, str] = {}
    try:
        with connect_with_engine(database) as reader:
            sql = (f"SELECT option_name, option_value FROM {table} "
                   f"WHERE option_name IN ({reader.placeholder}, {reader.placeholder})")
            for name, value in reader.rows(sql, ("home", "siteurl")):
                text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                url = _url(text)
                if url:
                    found[str(name)] = url
    except (DatabaseError, ConfigError) as exc:
        log.debug("the site URL could not be read from %s: %s", table, exc)
        return {}
    return found


def site_urls(framework: Framework, *, ask_database: bool = True) -> dict[str, str]:
    """``home`` and ``siteurl`` of the installation (what is known of them), by the sources in order."""
    constants = framework.settings.get("urls") or {}
    urls = {key: value for key, value in constants.items() if _url(value)}
    if len(urls) < 2:
        for key, value in _from_wp_cli(framework).items():
            urls.setdefault(key, value)
    if len(urls) < 2 and ask_database:
        for key, value in _from_database(framework).items():
            urls.setdefault(key, value)
    if "home" in urls and "siteurl" not in urls:
        urls["siteurl"] = urls["home"]
    if "siteurl" in urls and "home" not in urls:
        urls["home"] = urls["siteurl"]
    return urls


def source_settings(framework: Framework) -> dict[str, str]:
    """What the destination needs: the production site's ``home`` and ``siteurl``, and for a multisite network
    its sites' hosts and its path (:mod:`synco_wordpress.network`)."""
    urls = site_urls(framework)
    if not urls:
        log.warning("the WordPress site URL could not be found (no WP_HOME, no WP-CLI, no home option): URLs "
                    "will not be rewritten on the destination")
    elif framework.settings.get("multisite"):
        urls.update(network.published(framework, urls["home"]))
    return urls


def _local_urls(framework: Framework, source: Mapping[str, str]) -> dict[str, str]:
    """The local ``home`` and ``siteurl``: --site-url, the local WP_HOME/WP_SITEURL, the local database."""
    given = _url(framework.site_url) if framework.site_url else None
    if framework.site_url and given is None:
        raise ConfigError(f"--site-url {framework.site_url!r} is not an http(s) URL")
    if given:
        # WordPress in a subdirectory of its site (siteurl = home + /wp) keeps that shape locally.
        suffix = ""
        if source["siteurl"].startswith(source["home"] + "/"):
            suffix = source["siteurl"][len(source["home"]):]
        constants = framework.settings.get("urls") or {}
        return {"home": given, "siteurl": _url(constants.get("siteurl")) or given + suffix}
    return site_urls(framework)


def value_rewriter(framework: Framework, settings: Mapping[str, Mapping[str, str]]) -> ValueRewriter | None:
    """The rewriter replacing production's URLs with the local site's, or None when they are the same."""
    published = settings.get(PLUGIN) or {}
    source = {key: url for key in ("home", "siteurl") if (url := _url(published.get(key)))}
    if not source:
        return None
    source.setdefault("home", source.get("siteurl", ""))
    source.setdefault("siteurl", source["home"])
    local = _local_urls(framework, source)
    if not local:
        raise ConfigError(f"the local WordPress site's URL is not known (production's is {source['home']}): "
                          "define WP_HOME in the local wp-config.php or pass --site-url URL")
    pairs = [(source["siteurl"], local["siteurl"]), (source["home"], local["home"])]
    pairs += network.site_pairs(published, source["home"], local["home"])
    if all(old == new for old, new in pairs):
        return None
    replacer = UrlReplacer(pairs)
    if not replacer:
        return None
    description = ", ".join(f"{old} -> {new}" for old, new in dict(pairs).items() if old != new)
    log.debug("WordPress URLs rewritten while loading: %s", description)
    return ValueRewriter(needles=replacer.needles, rewrite=replacer, description=description)
