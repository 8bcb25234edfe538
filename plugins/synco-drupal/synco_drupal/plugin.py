"""The hook implementations of synco-drupal (entry point ``drupal`` in the ``synco`` group)."""

from __future__ import annotations

import logging
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
    hookimpl,
    install_tree,
    register_secret,
)
from synco_drupal.database import connection_config, other_connections, table_prefix
from synco_drupal.files import file_sets
from synco_drupal.profile import dump_options
from synco_drupal.settings import DrupalSettings, default_connection, drush_command, read_settings
from synco_drupal.site import DrupalSite, find_site

log = logging.getLogger(__name__)

PLUGIN = "drupal"


def _database(site: DrupalSite, settings: DrupalSettings) -> DatabaseConfig | None:
    connection = default_connection(settings)
    if not connection:
        if site.settings_file.exists():
            # Said rather than a silent "Database: none": a truncated settings.php, or a site not installed yet.
            log.warning("Drupal database settings: %s defines no $databases['default']['default']",
                        site.settings_file)
        return None
    how = {"drush": "drush status", "php": "run by the PHP CLI"}.get(settings.source, "read without PHP")
    source = f"{site.settings_file} ({how})"
    return connection_config(connection, site.root, source)


@hookimpl
def detect_framework(project_dir: Path) -> Framework | None:
    site = find_site(project_dir)
    if site is None:
        return None
    settings = read_settings(site, project_dir)
    salt = settings.settings.get("hash_salt")
    if isinstance(salt, str):
        register_secret(salt)
    database = None
    try:
        database = _database(site, settings)
    except ConfigError as exc:
        # The files are still worth transferring; the dump reports the database problem.
        log.warning("Drupal database settings are unusable: %s", exc)
    connection = default_connection(settings) if database is not None else {}
    info: dict[str, Any] = {
        "root": str(site.root),
        "site_path": site.site_path,
        "version": site.version,
        "sites": site.sites,
        "table_prefix": table_prefix(connection),
        "file_public_path": settings.setting("file_public_path"),
        "file_private_path": settings.setting("file_private_path"),
        # Why a files folder only PHP could compute is unknown: its set is skipped saying so, never guessed.
        "unknown_paths": {name: reason for name in ("file_public_path", "file_private_path")
                          if (reason := settings.unknown(name)) is not None},
        "connections": other_connections(settings.databases, site.root),
        "drush": settings.drush,
        "notes": settings.notes,
    }
    post_install = [drush_command(settings.drush, site, "cr")] if settings.drush else []
    multisite = f", site {site.site_path}" if len(site.sites) > 1 else ""
    framework = Framework(
        name="Drupal",
        plugin=PLUGIN,
        project_dir=project_dir,
        database=database,
        web_root=site.root,
        reason=f"core/lib/Drupal.php and {site.site_path}/settings.php found "
               f"(Drupal {site.version or 'unknown version'}{multisite})",
        post_install=post_install,
        settings=info,
        config_source=settings.source,
    )
    framework.public_prefixes = tuple(
        "/" + s.url_prefix.strip("/") for s in _file_sets(framework) if s.kind == "public" and s.url_prefix)
    return framework


def _file_sets(framework: Framework) -> list[FileSet]:
    settings = framework.settings
    return file_sets(framework.project_dir, Path(settings["root"]), settings["site_path"],
                     settings.get("file_public_path"), settings.get("file_private_path"),
                     unknown=settings.get("unknown_paths") or {})


@hookimpl
def list_file_sets(framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
    if framework.plugin != PLUGIN:
        return None
    return _file_sets(framework)


@hookimpl
def default_dump_options(framework: Framework, inventory: DatabaseInventory | None) -> DumpOptions | None:
    if framework.plugin != PLUGIN or framework.database is None:
        return None
    version = str(framework.settings.get("version") or "")
    site = DrupalSite(root=Path(framework.settings["root"]), site_path=str(framework.settings["site_path"]),
                      version=version)
    return dump_options(str(framework.settings.get("table_prefix") or ""), framework.database.engine, inventory,
                        modern_hash=site.at_least(10, 1))


@hookimpl
def install_files(framework: Framework, file_set: ReceivedFileSet, source_dir: Path) -> FilesInstallResult | None:
    """Put the public and private files where the local site keeps them (its paths may differ)."""
    if framework.plugin != PLUGIN:
        return None
    sets = {s.name: s for s in _file_sets(framework)}
    target = sets.get(file_set.name)
    if target is not None and target.root is None and target.skipped_reason:
        # The local site's folder is not known: installing at the default would put the files where it does
        # not look for them.
        raise ConfigError(f"cannot install the Drupal {file_set.name} files: {target.skipped_reason}")
    if target is None or target.root is None:
        return None
    log.debug("installing file set %s into %s", file_set.name, target.root)
    return install_tree(source_dir, target.root)
