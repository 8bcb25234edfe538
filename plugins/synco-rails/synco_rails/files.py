"""A Rails application's uploaded files as synco file sets, and installing them on the laptop.

- **Active Storage**: every ``Disk`` service of ``config/storage.yml`` keeps its blobs under its ``root``
  (``storage/`` by default). The environment's service is a *private* set named after the service: Active
  Storage serves blobs through the application (signed, expiring URLs), never as plain files, so they are
  packed and encrypted. Rails 7.1 and later also keep SQLite databases in ``storage/``: files named
  ``*.sqlite3*`` are left out of the set, and kept in place on the laptop when the set is installed.
  A ``Mirror`` is its primary's folder when that is a Disk (blobs are read from the primary). A service of
  another kind (S3, GCS, Azure, a Mirror of one) is shown as skipped, with the reason.
- **CarrierWave and Paperclip** write uploads below ``public/`` (``public/uploads``, ``public/system``),
  which the web server serves as they are: each of those folders that exists is a *public* set of the
  same name.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synco_core import ExcludeMatcher, FileSet, FilesInstallResult, install_tree

log = logging.getLogger(__name__)

#: SQLite databases (and their journals, and synco's kept copies) inside an Active Storage root.
SQLITE_FILES = "*.sqlite3*"
#: Folders below ``public/`` that hold uploads: CarrierWave's default, Paperclip's default.
PUBLIC_UPLOADS = ("uploads", "system")


def disk_roots(storage: Mapping[str, Any], project_dir: Path) -> dict[str, Path]:
    """Every ``Disk`` service of the services file with its root folder, and each ``Mirror`` whose primary is
    one with that folder."""
    roots: dict[str, Path] = {}
    for name, service in storage.items():
        if isinstance(service, Mapping) and str(service.get("service") or "") == "Disk":
            root = Path(str(service.get("root") or "storage"))
            roots[str(name)] = root if root.is_absolute() else project_dir / root
    # A Mirror serves and reads every blob from its primary (the mirrors only get copies): a Disk primary's
    # folder holds the mirror's files.
    for name, service in storage.items():
        if isinstance(service, Mapping) and str(service.get("service") or "") == "Mirror":
            primary = str(service.get("primary") or "")
            if primary in roots:
                roots[str(name)] = roots[primary]
    return roots


def file_sets(storage: Mapping[str, Any], service: str | None, project_dir: Path, web_root: Path) -> list[FileSet]:
    """The Active Storage set of the environment's service, and the public upload folders."""
    sets: list[FileSet] = []
    if service:
        settings = storage.get(service)
        kind = str(settings.get("service") or "") if isinstance(settings, Mapping) else ""
        roots = disk_roots(storage, project_dir)
        if kind in ("Disk", "Mirror") and service in roots:
            root = roots[service]
            base = root.relative_to(project_dir).as_posix() if root.is_relative_to(project_dir) else "storage"
            sets.append(FileSet(
                name=service, kind="private", root=root, relative_base_path=base, exclude=(SQLITE_FILES,),
                skipped_reason=None if root.is_dir() else f"folder {root} does not exist",
                description=f"Active Storage service '{service}' ({kind}, private: served through the application)",
            ))
        elif kind:
            assert isinstance(settings, Mapping)
            reason = (f"Active Storage service Mirror: its primary {str(settings.get('primary'))!r} is not a Disk "
                      "service (only Disk is supported)" if kind == "Mirror"
                      else f"Active Storage service {kind} is not supported (Disk is)")
            sets.append(FileSet(name=service, kind="private", skipped_reason=reason,
                                description=f"Active Storage service '{service}' ({kind})"))
        else:
            log.debug("Active Storage service %s is not in config/storage.yml", service)
    for folder in PUBLIC_UPLOADS:
        root = web_root / folder
        base = root.relative_to(project_dir).as_posix() if root.is_relative_to(project_dir) else f"public/{folder}"
        # Listed even where the folder does not exist (yet): serve skips it then, and on the laptop the set
        # still names the place a received one is installed to.
        sets.append(FileSet(name=folder, kind="public", root=root, relative_base_path=base, url_prefix=f"{folder}/",
                            skipped_reason=None if root.is_dir() else f"folder {root} does not exist",
                            description=f"uploads in public/{folder} (CarrierWave, Paperclip), served at "
                                        f"/{folder}/"))
    return sets


def install_disk(source_dir: Path, destination: Path) -> FilesInstallResult:
    """Replace a local Active Storage root with the received one, keeping the local SQLite files in it.

    The source left its SQLite databases out of the set; the laptop's own (``storage/development.sqlite3``,
    and the copies synco keeps for ``synco db rollback``) stay where they are.
    """
    matcher = ExcludeMatcher((SQLITE_FILES,))
    keep: list[str] = []
    if destination.is_dir():
        with os.scandir(destination) as entries:
            keep = sorted(entry.name for entry in entries if matcher(entry.name))
    return install_tree(source_dir, destination, keep)
