"""Uploaded files of a Symfony project as synco file sets.

- VichUploaderBundle mappings (``config/packages/vich_uploader.yaml``): each mapping whose
  ``upload_destination`` lies inside the web root is a public set served at its ``uri_prefix``; one
  outside the web root is private (packed and encrypted). On the ``flysystem`` storage the destination
  names a FlysystemBundle storage (``config/packages/flysystem.yaml``): one with the ``local`` adapter is
  its ``directory``; others (S3, memory ...) and Gaufrette's are reported as skipped.
- LiipImagineBundle's generated thumbnails (``public/media/cache`` or its configured ``cache_prefix``) are
  never transferred: the destination regenerates them on first request (marked regenerated, so a laptop's
  stale copies go on install and ``--delete``).
- When nothing is configured, ``public/uploads`` is offered as a public set if it exists.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from synco_core import FileSet, glob_escape, read_config_text
from synco_symfony.doctrine import merged_package_config

log = logging.getLogger(__name__)

#: LiipImagine's default web-path cache prefix, relative to the web root.
LIIP_DEFAULT_CACHE = "media/cache"


def liip_cache_dirs(project_dir: Path, web_root: Path, app_env: str) -> list[Path]:
    """Folders LiipImagine writes generated images to (always left out), when the bundle is in use."""
    config = merged_package_config(project_dir, "liip_imagine", app_env)
    bundles = (project_dir / "config" / "bundles.php")
    enabled = bool(config) or "LiipImagineBundle" in (read_config_text(bundles, kind="PHP configuration file",
                                                                        errors="replace")
                                                       if bundles.exists() else "")
    if not enabled:
        return []
    prefixes = []
    resolvers = config.get("resolvers") or {}
    if isinstance(resolvers, dict):
        for resolver in resolvers.values():
            web_path = (resolver or {}).get("web_path") if isinstance(resolver, dict) else None
            if isinstance(web_path, dict) and web_path.get("cache_prefix"):
                prefixes.append(str(web_path["cache_prefix"]).strip("/"))
    return [web_root / prefix for prefix in (prefixes or [LIIP_DEFAULT_CACHE])]


def _relative(project_dir: Path, path: Path) -> str:
    try:
        return path.relative_to(project_dir).as_posix()
    except ValueError:
        return ""


def _excludes_for(root: Path, never: list[Path]) -> tuple[str, ...]:
    """Patterns for the never-transferred folders inside ``root``, anchored there by the leading ``/`` (a
    ``cache`` folder deeper down is an upload, not LiipImagine's); a folder excludes its content."""
    inside = [path for path in never if path != root and path.is_relative_to(root)]
    return tuple("/" + glob_escape(path.relative_to(root).as_posix()) for path in inside)


#: FlysystemBundle's names of the adapter that keeps files in a local folder.
LOCAL_ADAPTERS = frozenset({"local", "lazy_local"})


def flysystem_directory(project_dir: Path, app_env: str, storage_name: Any,
                        resolve: Callable[[Any], Any]) -> tuple[Any, str]:
    """The folder of the FlysystemBundle storage ``storage_name`` (``config/packages/flysystem.yaml``) when its
    adapter is ``local``, else None and why."""
    storages = merged_package_config(project_dir, "flysystem", app_env).get("storages") or {}
    storage = storages.get(str(storage_name)) if isinstance(storages, dict) else None
    if not isinstance(storage, dict):
        return None, f"stored through the Flysystem storage {storage_name!r}, which flysystem.yaml does not define"
    adapter = str(storage.get("adapter") or "")
    if adapter not in LOCAL_ADAPTERS:
        return None, f"stored through the Flysystem storage {storage_name!r} (adapter {adapter or 'unknown'}), " \
                     "not in a local folder"
    options = storage.get("options")
    directory = resolve(options.get("directory")) if isinstance(options, dict) else None
    if not directory:
        return None, f"the directory of the Flysystem storage {storage_name!r} could not be resolved"
    return directory, ""


def vich_file_sets(project_dir: Path, web_root: Path, app_env: str, resolve: Callable[[Any], Any],
                   never: list[Path]) -> list[FileSet]:
    """One set per VichUploader mapping, named after the mapping."""
    config = merged_package_config(project_dir, "vich_uploader", app_env)
    storage = str(config.get("storage") or "file_system")
    mappings = config.get("mappings") or {}
    sets: list[FileSet] = []
    if not isinstance(mappings, dict):
        return sets
    roots: list[Path] = []
    for name, mapping in mappings.items():
        if not isinstance(mapping, dict):
            continue
        name = str(name)
        description = f"VichUploader mapping '{name}'"
        if storage == "flysystem":
            # upload_destination names a FlysystemBundle storage: a local adapter's directory is a folder.
            destination, problem = flysystem_directory(project_dir, app_env, mapping.get("upload_destination"),
                                                       resolve)
            if destination is None:
                sets.append(FileSet(name=name, kind="public", description=description, skipped_reason=problem))
                continue
        elif storage not in ("file_system", "default"):
            sets.append(FileSet(name=name, kind="public", description=description,
                                skipped_reason=f"stored through the {storage} storage, not in a local folder"))
            continue
        else:
            destination = resolve(mapping.get("upload_destination"))
        if not destination:
            sets.append(FileSet(name=name, kind="public", description=description,
                                skipped_reason="upload_destination could not be resolved"))
            continue
        root = Path(str(destination))
        root = root if root.is_absolute() else project_dir / root
        if any(root.is_relative_to(other) for other in roots):
            log.debug("VichUploader mapping %s lies inside another mapping's folder; listed once", name)
            continue
        roots.append(root)
        skipped = None if root.is_dir() else f"folder {root} does not exist"
        base = _relative(project_dir, root)
        if root.is_relative_to(web_root) and root != web_root:
            uri_prefix = str(resolve(mapping.get("uri_prefix")) or "/" + root.relative_to(web_root).as_posix())
            sets.append(FileSet(
                name=name, kind="public", root=root, relative_base_path=base,
                url_prefix=uri_prefix.strip("/") + "/", regenerated=_excludes_for(root, never), skipped_reason=skipped,
                description=f"{description}, served at /{uri_prefix.strip('/')}/",
            ))
        else:
            sets.append(FileSet(
                name=name, kind="private", root=root, relative_base_path=base, regenerated=_excludes_for(root, never),
                skipped_reason=skipped, description=f"{description} (private, packed and encrypted)",
            ))
    return sets


def default_upload_set(project_dir: Path, web_root: Path, never: list[Path]) -> list[FileSet]:
    """``public/uploads`` as a public set (the convention of Symfony's upload docs).

    Listed even where the folder does not exist (yet): serve skips it then, and on the laptop the set still
    names the place a received one is installed to.
    """
    uploads = web_root / "uploads"
    return [FileSet(
        name="uploads", kind="public", root=uploads, relative_base_path=_relative(project_dir, uploads),
        url_prefix="uploads/", regenerated=_excludes_for(uploads, never),
        skipped_reason=None if uploads.is_dir() else f"folder {uploads} does not exist",
        description="public/uploads (no upload bundle configured)",
    )]
