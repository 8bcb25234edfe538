"""The hook implementations of synco-wordpress (entry point ``wordpress`` in the ``synco`` group)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synco_core import (
    ConfigError,
    DatabaseConfig,
    DatabaseInventory,
    DumpOptions,
    FileSet,
    FileSetOptions,
    FilesInstallResult,
    Framework,
    ReceivedFileSet,
    ValueRewriter,
    hookimpl,
    install_tree,
    register_secret,
)
from synco_wordpress import urls
from synco_wordpress.config import WordPressConfig, read_config, required, wp_command
from synco_wordpress.dbhost import parse_db_host
from synco_wordpress.files import upload_sets
from synco_wordpress.profile import dump_options
from synco_wordpress.sqlite import sqlite_dropin, sqlite_file, uses_sqlite

log = logging.getLogger(__name__)

PLUGIN = urls.PLUGIN
#: The constants the file sets depend on, kept in ``Framework.settings`` so listing and installing files need
#: not read the configuration (or ask WP-CLI) again.
FILE_CONSTANTS = ("WP_CONTENT_DIR", "WP_CONTENT_URL", "UPLOADS", "WP_SITEURL", "MULTISITE")


def _config_source(config: WordPressConfig) -> str:
    how = "wp config get" if config.source == "wp-cli" else "read without PHP"
    return (f"{config.bedrock / '.env'} and config/application.php ({how})" if config.bedrock is not None
            else f"{config.config_file} ({how})")


def database_config(config: WordPressConfig) -> DatabaseConfig:
    """The database wp-config.php names: MySQL or MariaDB, or SQLite through the SQLite drop-in (whose DB_NAME,
    DB_USER ... are left over from wp-config-sample.php and name nothing)."""
    if uses_sqlite(config):
        dropin = sqlite_dropin(config)
        return DatabaseConfig(engine="sqlite", name=str(sqlite_file(config)),
                              source=f"{_config_source(config)}, SQLite drop-in {dropin}")
    name = required(config, "DB_NAME")
    user = required(config, "DB_USER")
    password = required(config, "DB_PASSWORD", null_is_empty=True)
    register_secret(password)
    host = parse_db_host(config.text("DB_HOST") or "localhost")
    options: dict[str, str] = {}
    charset = config.text("DB_CHARSET")
    if charset:
        options["charset"] = charset
    return DatabaseConfig(engine="mysql", name=name, host=host.host if host.host or not host.socket else None,
                          port=host.port, user=user, password=password or None, socket=host.socket,
                          options=options, source=_config_source(config))


def _relative_core(config: WordPressConfig) -> str:
    base = config.bedrock or config.root
    try:
        return f"WordPress in {config.root.relative_to(base).as_posix()}/"
    except ValueError:
        return f"WordPress in {config.root}"


def _web_root_url(config: WordPressConfig, site: Mapping[str, str]) -> tuple[str | None, str]:
    """The URL the web root is served at, and which constant gave it.

    ABSPATH is served at WP_SITEURL; a web root above it (WordPress in its own directory, Bedrock's web/) at
    WP_HOME, or at WP_SITEURL less the core folder's path below the web root (``https://x.test/wp`` -> ``/``).
    """
    web_root = config.web_root or config.root
    siteurl, home = site.get("siteurl"), site.get("home")
    if web_root == config.root:
        if siteurl:
            return siteurl, "WP_SITEURL"
        return (home, "WP_HOME") if home else (None, "")
    if home:
        return home, "WP_HOME"
    if siteurl:
        try:
            below = config.root.relative_to(web_root).as_posix()
        except ValueError:
            below = ""
        trimmed = siteurl.rstrip("/")
        if below and trimmed.endswith("/" + below):
            return trimmed[: -len(below) - 1] or trimmed, "WP_SITEURL"
    return None, ""


def _register_secrets(config: WordPressConfig) -> None:
    """The keys and salts of wp-config.php: never in a log line."""
    for name, value in config.constants.items():
        if isinstance(value, str) and (name.endswith(("_KEY", "_SALT")) or "PASSWORD" in name or "SECRET" in name):
            register_secret(value)


@hookimpl
def detect_framework(project_dir: Path) -> Framework | None:
    config = read_config(project_dir)
    if config is None:
        return None
    _register_secrets(config)
    database: DatabaseConfig | None = None
    if config.config_file is not None:
        try:
            database = database_config(config)
        except ConfigError as exc:
            # The uploads are still worth transferring; the dump reports the database problem.
            log.warning("WordPress database settings are unusable: %s", exc)
    web_root = config.web_root or project_dir
    site = {key: value for key, value in (("home", config.text("WP_HOME")), ("siteurl", config.text("WP_SITEURL")))
            if value}
    base_url, base_url_source = _web_root_url(config, site)
    settings: dict[str, Any] = {
        "root": str(config.root),
        "config_file": str(config.config_file) if config.config_file else None,
        "bedrock": str(config.bedrock) if config.bedrock else None,
        "table_prefix": config.table_prefix,
        "multisite": config.multisite,
        "version": config.version,
        "urls": site,
        "constants": {name: config.constants[name] for name in FILE_CONSTANTS
                      if isinstance(config.constants.get(name), (str, int, float, bool))},
        "wp": config.wp,
        "notes": config.notes,
    }
    post_install = []
    if config.wp:
        post_install = [wp_command(config.wp, config.root, "cache", "flush"),
                        wp_command(config.wp, config.root, "rewrite", "flush")]
    version = config.version or "unknown version"
    if config.bedrock is not None:
        where = f"Bedrock's config/application.php ({_relative_core(config)})"
    else:
        where = "wp-config.php" if config.config_file and config.config_file.parent == config.root else (
            "wp-config.php above ABSPATH" if config.config_file else "no wp-config.php")
    framework = Framework(
        name="WordPress",
        plugin=PLUGIN,
        project_dir=project_dir,
        database=database,
        web_root=web_root,
        reason=f"wp-settings.php and {where} found (WordPress {version}"
               + (", multisite" if config.multisite else "")
               + (", on SQLite" if database is not None and database.engine == "sqlite" else "") + ")",
        post_install=post_install,
        settings=settings,
        config_source=config.source,
        site_url=site.get("home") or site.get("siteurl"),
        # The URL of the web root, where the uploads' URL paths start: serve prints it as --base-url.
        base_url=base_url,
        base_url_source=base_url_source,
    )
    framework.public_prefixes = tuple(
        "/" + s.url_prefix.strip("/") for s in _file_sets(framework, config) if s.kind == "public" and s.url_prefix)
    return framework


def _config_of(framework: Framework) -> WordPressConfig:
    """The part of the configuration the file sets need, as detection read it."""
    settings = framework.settings
    config_file = settings.get("config_file")
    return WordPressConfig(root=Path(settings["root"]), config_file=Path(config_file) if config_file else None,
                           constants=dict(settings.get("constants") or {}),
                           table_prefix=str(settings.get("table_prefix") or "wp_"),
                           web_root=framework.web_root,
                           bedrock=Path(settings["bedrock"]) if settings.get("bedrock") else None)


def _file_sets(framework: Framework, config: WordPressConfig) -> list[FileSet]:
    return upload_sets(config, framework.project_dir, framework.web_root or framework.project_dir)


@hookimpl
def list_file_sets(framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
    if framework.plugin != PLUGIN:
        return None
    return _file_sets(framework, _config_of(framework))


@hookimpl
def default_dump_options(framework: Framework, inventory: DatabaseInventory | None) -> DumpOptions | None:
    if framework.plugin != PLUGIN:
        return None
    engine = inventory.engine if inventory is not None else (
        framework.database.engine if framework.database is not None else "mysql")
    return dump_options(str(framework.settings.get("table_prefix") or "wp_"), inventory, engine)


@hookimpl
def source_settings(framework: Framework) -> dict[str, str] | None:
    if framework.plugin != PLUGIN:
        return None
    return urls.source_settings(framework) or None


@hookimpl
def value_rewriter(framework: Framework, source_settings: Mapping[str, Mapping[str, str]]) -> ValueRewriter | None:
    if framework.plugin != PLUGIN:
        return None
    return urls.value_rewriter(framework, source_settings)


@hookimpl
def install_files(framework: Framework, file_set: ReceivedFileSet, source_dir: Path) -> FilesInstallResult | None:
    """Put the uploads where the local installation keeps them (its UPLOADS / WP_CONTENT_DIR may differ)."""
    if framework.plugin != PLUGIN:
        return None
    local = {s.name: s for s in _file_sets(framework, _config_of(framework)) if s.root is not None}
    target = local.get(file_set.name)
    if target is None or target.root is None:
        return None
    log.debug("installing file set %s into %s", file_set.name, target.root)
    return install_tree(source_dir, target.root)
