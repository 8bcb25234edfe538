"""The hook implementations of synco-laravel (entry point ``laravel`` in the ``synco`` group)."""

from __future__ import annotations

import logging
import os
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
    find_php,
    hookimpl,
    install_named_root,
    load_dotenv_files,
    register_secret,
)
from synco_laravel.config import read_config, skeleton_connections
from synco_laravel.database import connection_config, default_connection, other_connections, sanitize_profile
from synco_laravel.disks import disk_file_sets, local_disks
from synco_laravel.sail import host_reachable

log = logging.getLogger(__name__)

PLUGIN = "laravel"


def is_laravel(project_dir: Path) -> bool:
    """Laravel's two landmarks: the ``artisan`` console script and ``bootstrap/app.php``."""
    return (project_dir / "artisan").is_file() and (project_dir / "bootstrap" / "app.php").is_file()


def _register_disk_secrets(filesystems: dict[str, Any]) -> None:
    """Register the credentials of every disk (S3 secrets, SFTP passwords) so no log line can show them."""
    for disk in (filesystems.get("disks") or {}).values():
        if isinstance(disk, dict):
            for key in ("secret", "password", "token", "passphrase"):
                if disk.get(key):
                    register_secret(str(disk[key]))


def _as_this_host_reaches_it(database: DatabaseConfig, project_dir: Path, notes: list[str]) -> DatabaseConfig:
    """Sail's DB_HOST (a Compose service) as the port it publishes on this host (see :mod:`.sail`)."""
    try:
        # Compose interpolates its file with the project's .env under the real environment.
        environ = {**load_dotenv_files([project_dir / ".env"], style="phpdotenv"), **os.environ}
    except ConfigError:
        environ = dict(os.environ)
    reachable, note = host_reachable(database, project_dir, environ)
    if note:
        notes.append(note)
    return reachable


@hookimpl
def detect_framework(project_dir: Path) -> Framework | None:
    if not is_laravel(project_dir):
        return None
    config = read_config(project_dir)
    name, connection = default_connection(config.database)
    source = "php artisan tinker" if config.source == "php" else config.files_source
    try:
        database = connection_config(name, connection, project_dir, source)
    except ConfigError as exc:
        # A project without a usable default connection still has files worth transferring.
        log.warning("Laravel database connection %s is unusable: %s", name, exc)
        database = None
    if database is not None:
        database = _as_this_host_reaches_it(database, project_dir, config.notes)
    _register_disk_secrets(config.filesystems)
    prefix = str(connection.get("prefix") or "")
    php = config.php or find_php() or "php"
    web_root = config.public_path
    disks = local_disks(config.filesystems, project_dir, web_root)
    settings: dict[str, Any] = {
        "version": config.version,
        "connection": name,
        "table_prefix": prefix,
        "connections": other_connections(config.database, project_dir, source,
                                         skeleton_connections(project_dir, os.environ)),
        "filesystems": config.filesystems,
        "disk_roots": {disk.name: str(disk.root) for disk in disks},
        "notes": config.notes,
    }
    log.debug("Laravel %s: default connection %s, other connections: %s", config.version, name,
              ", ".join(settings["connections"]) or "none")
    # The URL paths of the public disks (/storage in the skeleton; wherever config/filesystems.php links one).
    public_prefixes = tuple(dict.fromkeys(
        "/" + s.url_prefix.strip("/") for s in disk_file_sets(config.filesystems, project_dir, web_root,
                                                              FileSetOptions())
        if s.kind == "public" and s.url_prefix))
    return Framework(
        name="Laravel",
        plugin=PLUGIN,
        project_dir=project_dir,
        database=database,
        web_root=web_root,
        public_prefixes=public_prefixes,
        reason=f"artisan and bootstrap/app.php found (Laravel {config.version})",
        post_install=[[php, "artisan", "storage:link"], [php, "artisan", "optimize:clear"]],
        settings=settings,
        config_source=config.source,
        base_url=config.app_url,
        base_url_source="APP_URL",
    )


@hookimpl
def default_dump_options(framework: Framework, inventory: DatabaseInventory | None) -> DumpOptions | None:
    """The sanitising profile, for the connection's table prefix (the core keeps the tables that exist)."""
    if framework.plugin != PLUGIN:
        return None
    return sanitize_profile(str(framework.settings.get("table_prefix") or ""), inventory)


@hookimpl
def list_file_sets(framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
    if framework.plugin != PLUGIN:
        return None
    filesystems = framework.settings.get("filesystems") or {}
    web_root = framework.web_root or framework.project_dir / "public"
    return disk_file_sets(filesystems, framework.project_dir, web_root, options)


@hookimpl
def install_files(framework: Framework, file_set: ReceivedFileSet, source_dir: Path) -> FilesInstallResult | None:
    """Put a received disk where the local project's disk of the same name lives."""
    if framework.plugin != PLUGIN:
        return None
    roots = {name: Path(root) for name, root in (framework.settings.get("disk_roots") or {}).items()}
    # A set that is not a disk of this project (an extra set from .synco.yml) gets None: the core's default
    # copier places it. Disks nested in this one (Laravel 10's public disk in storage/app) are kept.
    log.debug("installing file set %s into Laravel disk root %s", file_set.name, roots.get(file_set.name))
    return install_named_root(roots, file_set.name, source_dir)
