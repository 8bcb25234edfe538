"""A Drupal site's files as synco file sets.

- The public files folder (``$settings['file_public_path']``, by default ``sites/<site>/files``) is public:
  the web server serves it below the Drupal root. Image style derivatives (``styles/``), aggregated CSS and
  JavaScript (``css/``, ``js/``) and compiled Twig templates (``php/``) are left out: Drupal regenerates them,
  so they are marked regenerated (a laptop's copies, stale once the originals change, go on install).
- The private files folder (``$settings['file_private_path']``), when configured, is private: packed and
  encrypted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from synco_core import FileSet, glob_escape, path_below

#: What Drupal regenerates in the public files folder: never transferred.
REGENERATED = ("styles", "css", "js", "php")


def _resolve(root: Path, value: str) -> Path:
    # "../private" is usual (outside the web root): the folder is named without the "..".
    return Path(os.path.normpath(root / value))


def _relative(base: Path, path: Path) -> str:
    # As written first: sites/default/files linked to a deploy tool's shared folder is still served there.
    parts = path_below(path, base)
    return "/".join(parts) if parts else ""


def public_path(root: Path, site_path: str, configured: str | None) -> Path:
    return _resolve(root, configured or f"{site_path}/files")


def private_path(root: Path, configured: str | None) -> Path | None:
    return _resolve(root, configured) if configured else None


def file_sets(project_dir: Path, root: Path, site_path: str, public: str | None, private: str | None,
              unknown: Mapping[str, str] | None = None) -> list[FileSet]:
    """The public set and, when configured, the private one. ``unknown`` says why a path setting
    (``file_public_path``, ``file_private_path``) is not known without PHP: its set is listed as skipped, not
    put at the default folder (public) or left out (private)."""
    unknown = unknown or {}
    sets: list[FileSet] = []
    if "file_public_path" in unknown:
        sets.append(FileSet(name="public", kind="public", description="Drupal public files",
                            skipped_reason=f"$settings['file_public_path'] cannot be read without PHP "
                                           f"({unknown['file_public_path']}); give the folder in .synco.yml"))
    else:
        sets.append(_public_set(project_dir, root, site_path, public))
    if "file_private_path" in unknown:
        sets.append(FileSet(name="private", kind="private", description="Drupal private files",
                            skipped_reason=f"$settings['file_private_path'] cannot be read without PHP "
                                           f"({unknown['file_private_path']}); give the folder in .synco.yml"))
        return sets
    secret = private_path(root, private)
    if secret is not None:
        relative = _relative(project_dir, secret) or secret.name
        sets.append(FileSet(name="private", kind="private", root=secret, relative_base_path=relative,
                            description="Drupal private files (packed and encrypted)",
                            skipped_reason=None if secret.is_dir() else f"folder {secret} does not exist"))
    return sets


def _public_set(project_dir: Path, root: Path, site_path: str, public: str | None) -> FileSet:
    folder = public_path(root, site_path, public)
    url = _relative(root, folder)
    base = _relative(project_dir, folder) or url
    regenerated = tuple("/" + glob_escape(name) for name in REGENERATED)
    if not folder.is_dir():
        return FileSet(name="public", kind="public", root=folder, relative_base_path=base,
                       description="Drupal public files", skipped_reason=f"folder {folder} does not exist")
    if not url:
        return FileSet(name="public", kind="public", root=folder, relative_base_path=base,
                       description="Drupal public files",
                       skipped_reason=f"{folder} is outside the Drupal root, so its URL is not known")
    return FileSet(name="public", kind="public", root=folder, relative_base_path=base, url_prefix=url + "/",
                   regenerated=regenerated, description=f"Drupal public files, served at /{url}/ "
                                                "(image styles, css, js and php left out)")
