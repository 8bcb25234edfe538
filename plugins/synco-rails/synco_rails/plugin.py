"""The hook implementations of synco-rails (entry point ``rails`` in the ``synco`` group)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from synco_core import (
    DatabaseInventory,
    DumpOptions,
    FileSet,
    FileSetOptions,
    FilesInstallResult,
    Framework,
    ReceivedFileSet,
    hookimpl,
)
from synco_rails.config import find_ruby, read_config
from synco_rails.databases import sanitize_profile, split_databases
from synco_rails.files import disk_roots, file_sets, install_disk

log = logging.getLogger(__name__)

PLUGIN = "rails"


def is_rails(project_dir: Path) -> bool:
    """Rails' landmarks: ``config/application.rb`` and the ``bin/rails`` script."""
    return (project_dir / "config" / "application.rb").is_file() and (project_dir / "bin" / "rails").is_file()


@hookimpl
def detect_framework(project_dir: Path, side: str) -> Framework | None:
    if not is_rails(project_dir):
        return None
    config = read_config(project_dir, side)
    source = "bin/rails runner" if config.source == "runner" else "config/database.yml"
    primary_name, database, named, unusable = split_databases(config.databases, project_dir, source)
    if primary_name in unusable:
        log.warning("Rails database %s is %s", primary_name, unusable[primary_name])
    how = "bin/rails runner" if config.source == "runner" else "config/database.yml (read without Ruby)"
    ruby = find_ruby(os.environ)
    return Framework(
        name="Rails",
        plugin=PLUGIN,
        project_dir=project_dir,
        database=database,
        databases=named,
        web_root=project_dir / "public",
        reason=f"config/application.rb and bin/rails found; {config.rails_env} settings read with {how}",
        # Reported, never applied: the status says which migrations the copy has and the code expects. Run as
        # the configuration was read: by the same Ruby (bin/rails need not be executable, its #! may name
        # another), in the same Rails environment, and without Spring, which would stay running afterwards.
        post_install=[[*([ruby] if ruby else []), "bin/rails", "db:migrate:status"]],
        post_install_env={"RAILS_ENV": config.rails_env, "DISABLE_SPRING": "1"},
        settings={
            "rails_env": config.rails_env,
            "primary": primary_name,
            "storage": config.storage,
            "storage_service": config.storage_service,
            "disk_roots": {name: str(root) for name, root in disk_roots(config.storage, project_dir).items()},
            "connections": unusable,
            "notes": config.notes,
        },
        config_source=config.source,
    )


@hookimpl
def default_dump_options(framework: Framework, inventory: DatabaseInventory | None) -> DumpOptions | None:
    """Sessions without rows, users anonymised, queues and caches smart-skipped (the core keeps what exists)."""
    if framework.plugin != PLUGIN:
        return None
    return sanitize_profile(inventory)


@hookimpl
def list_file_sets(framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
    if framework.plugin != PLUGIN:
        return None
    web_root = framework.web_root or framework.project_dir / "public"
    return file_sets(framework.settings.get("storage") or {}, framework.settings.get("storage_service"),
                     framework.project_dir, web_root)


@hookimpl
def install_files(framework: Framework, file_set: ReceivedFileSet, source_dir: Path) -> FilesInstallResult | None:
    """Put a received Active Storage service where the local service of the same name keeps its blobs."""
    if framework.plugin != PLUGIN:
        return None
    destination = (framework.settings.get("disk_roots") or {}).get(file_set.name)
    if destination is None:
        # A public upload folder, or a set of .synco.yml: the core's default places it.
        return None
    log.debug("installing file set %s into the Active Storage root %s", file_set.name, destination)
    return install_disk(source_dir, Path(destination))
