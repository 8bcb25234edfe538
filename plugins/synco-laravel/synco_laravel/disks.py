"""Laravel filesystem disks as synco file sets, and installing received sets into the local disks.

- A ``local`` disk whose root the web server reaches (through a ``filesystems.links`` symlink such as
  ``public/storage -> storage/app/public``, or because it lies inside ``public/``) is a *public* set: an
  index of URLs, no copy.
- Any other ``local`` disk is *private*: packed and encrypted, leaving out the roots of other disks nested
  inside it (Laravel 10's ``storage/app`` holds ``storage/app/public``).
- An ``s3`` disk with a public ``url`` is a public set of absolute URLs; one without is reported as
  skipped, with the reason. Other drivers (ftp, sftp, scoped ...) are reported as skipped too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synco_core import (
    FileSet,
    FileSetOptions,
    S3Location,
    glob_escape,
    s3_public_entries,
)

log = logging.getLogger(__name__)

#: Temporary uploads Livewire keeps on the default disk; left out unless ``--all``. A leading ``/``
#: anchors an exclude pattern at the disk's root (a ``livewire-tmp`` folder deeper down is user data).
SMART_EXCLUDES = ("/livewire-tmp",)


@dataclass(frozen=True)
class LocalDisk:
    """A ``local`` disk reduced to what synco needs."""

    name: str
    root: Path
    #: URL path under the web root the disk is served at (``storage/``), or None when it is not served.
    url_prefix: str | None


def _resolve(project_dir: Path, value: Any) -> Path:
    path = Path(str(value))
    return path if path.is_absolute() else project_dir / path


def local_disks(filesystems: Mapping[str, Any], project_dir: Path, web_root: Path) -> list[LocalDisk]:
    """Every ``local`` disk with its root and, when the web server serves it, its URL prefix."""
    links = {
        _resolve(project_dir, link): _resolve(project_dir, target)
        for link, target in (filesystems.get("links") or {}).items()
    }
    disks: list[LocalDisk] = []
    for name, disk in (filesystems.get("disks") or {}).items():
        if not isinstance(disk, Mapping) or disk.get("driver") != "local" or not disk.get("root"):
            continue
        root = _resolve(project_dir, disk["root"])
        disks.append(LocalDisk(name=str(name), root=root, url_prefix=_served_prefix(root, links, web_root)))
    return disks


def _served_prefix(root: Path, links: Mapping[Path, Path], web_root: Path) -> str | None:
    """The URL prefix (relative to the web root, with a trailing slash) that serves ``root``, if any."""
    for link, target in links.items():
        if root.is_relative_to(target) and link.is_relative_to(web_root):
            below_target = root.relative_to(target).as_posix()
            below_web = link.relative_to(web_root).as_posix()
            prefix = below_web if below_target == "." else f"{below_web}/{below_target}"
            return prefix.strip("/") + "/"
    if root.is_relative_to(web_root) and root != web_root:
        return root.relative_to(web_root).as_posix().strip("/") + "/"
    return None


def _relative_base(project_dir: Path, root: Path) -> str:
    """``root`` relative to the project (the wire format's relativeBasePath), or '' when it lies outside."""
    try:
        return root.relative_to(project_dir).as_posix()
    except ValueError:
        return ""


def disk_file_sets(filesystems: Mapping[str, Any], project_dir: Path, web_root: Path,
                   options: FileSetOptions) -> list[FileSet]:
    """The file sets of every disk, named after the disk."""
    sets: list[FileSet] = []
    disks = local_disks(filesystems, project_dir, web_root)
    seen_roots: dict[Path, str] = {}
    for disk in disks:
        if disk.root in seen_roots:
            log.debug("disk %s shares its root with disk %s; listed once", disk.name, seen_roots[disk.root])
            continue
        seen_roots[disk.root] = disk.name
        base = _relative_base(project_dir, disk.root)
        skipped = None if disk.root.is_dir() else f"folder {disk.root} does not exist"
        if disk.url_prefix is not None:
            sets.append(FileSet(
                name=disk.name, kind="public", root=disk.root, relative_base_path=base, url_prefix=disk.url_prefix,
                skipped_reason=skipped, description=f"Laravel disk '{disk.name}', served at /{disk.url_prefix}",
            ))
            continue
        nested = [
            "/" + glob_escape(other.root.relative_to(disk.root).as_posix())
            for other in disks
            if other is not disk and other.root != disk.root and other.root.is_relative_to(disk.root)
        ]
        excludes = tuple(nested) + (() if options.all else SMART_EXCLUDES)
        sets.append(FileSet(
            name=disk.name, kind="private", root=disk.root, relative_base_path=base, exclude=excludes,
            skipped_reason=skipped, description=f"Laravel disk '{disk.name}' (private, packed and encrypted)",
        ))
    for name, disk in (filesystems.get("disks") or {}).items():
        if not isinstance(disk, Mapping) or disk.get("driver") == "local":
            continue
        file_set = _remote_disk_set(str(name), disk)
        if file_set is not None:
            sets.append(file_set)
    return sets


def _remote_disk_set(name: str, disk: Mapping[str, Any]) -> FileSet | None:
    """The set of a non-local disk: S3 with a public URL, or a skipped set saying why."""
    driver = str(disk.get("driver") or "")
    if driver != "s3":
        return FileSet(name=name, kind="public", skipped_reason=f"the {driver or 'unknown'} driver is not supported",
                       description=f"Laravel disk '{name}' ({driver})")
    bucket = disk.get("bucket")
    if not bucket:
        # The skeleton always declares an s3 disk; without a bucket it is simply not in use.
        log.debug("disk %s: s3 without a bucket, not in use", name)
        return None
    url = str(disk.get("url") or "")
    if not url:
        return FileSet(name=name, kind="public",
                       skipped_reason="s3 disk without a public url (AWS_URL): its files are not served publicly",
                       description=f"Laravel disk '{name}' (s3 bucket {bucket})")
    location = S3Location(
        bucket=str(bucket),
        region=str(disk.get("region") or "us-east-1"),
        endpoint=str(disk.get("endpoint") or ""),
        path_style=bool(disk.get("use_path_style_endpoint")),
        access_key=str(disk.get("key") or ""),
        secret_key=str(disk.get("secret") or ""),
        session_token=str(disk.get("token") or ""),
        prefix=str(disk.get("root") or "").strip("/"),
        public_url=url,
    )
    return FileSet(name=name, kind="public", entries=lambda: s3_public_entries(location),
                   description=f"Laravel disk '{name}' (s3 bucket {bucket}, files fetched from {url})")
