"""Flow's resource management: where persistent resources are stored and where they are published.

Storage (``WritableFileSystemStorage``) keeps each resource under its SHA-1 as
``<path>/<a>/<b>/<c>/<d>/<sha1>`` (the first four hex digits as folders). The index keys are that layout
below ``Data/Persistent``: ``Resources/<a>/<b>/<c>/<d>/<sha1>``, as Go synco v2 writes them, so the
destination puts files exactly where its own Flow expects them.

Publication depends on the ``persistent`` collection's target:

- ``FileSystemSymlinkTarget`` / ``FileSystemTarget``: published under the target ``path`` (usually
  ``Web/_Resources/Persistent/``) and served at ``baseUri``, as ``<a>/<b>/<c>/<d>/<sha1>/<filename>``
  with ``subdivideHashPathSegment`` (Flow's default) or ``<sha1>/<filename>`` without it;
- Flownative's ``S3Target`` / ``GcsTarget``: objects ``<keyPrefix><sha1>/<filename>`` in a bucket, with
  absolute URLs built from ``persistentResourceUris.pattern`` when it is set, otherwise from ``baseUri``
  or the provider's default public URL.

File names in URIs are URL-encoded per path segment, as Flow's ``encodeRelativePathAndFilenameForUri``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from synco_core import DatabaseConfig, PublicFile, mtime_of
from synco_neos import resourcedb

log = logging.getLogger(__name__)

_SHA1 = re.compile(r"[0-9a-f]{40}")

#: Where Flow keeps persistent resources by default, relative to the project.
DEFAULT_STORAGE_PATH = "Data/Persistent/Resources"
#: The ``relativeBasePath`` of the resources set: index keys start with ``Resources/`` below it.
INDEX_BASE_PATH = "Data/Persistent"
#: The first segment of every index key (the storage folder's name below ``INDEX_BASE_PATH``).
INDEX_PREFIX = "Resources"


@dataclass(frozen=True)
class PersistentTarget:
    """The publishing target of the ``persistent`` collection, reduced to what the index needs."""

    #: ``local`` (file system target), ``s3``, ``gcs``, or ``unknown``.
    kind: str
    class_name: str
    #: Local targets: the folder resources are published to.
    path: Path | None = None
    #: Where published resources are served: relative to the site (``_Resources/Persistent/``) or absolute.
    base_uri: str = ""
    subdivide: bool = True
    bucket: str = ""
    key_prefix: str = ""
    pattern: str = ""
    #: S3 only: region or custom endpoint for the default object URL.
    region: str = ""
    endpoint: str = ""

    def describe(self) -> str:
        if self.kind == "local":
            return f"{self.class_name.rsplit(chr(92), 1)[-1]} at {self.path} ({self.base_uri or 'no baseUri'})"
        if self.kind in ("s3", "gcs"):
            return f"{self.class_name.rsplit(chr(92), 1)[-1]} bucket {self.bucket!r} prefix {self.key_prefix!r}"
        return self.class_name


@dataclass(frozen=True)
class PersistentStorage:
    """The storage of the ``persistent`` collection."""

    class_name: str
    #: The local folder for ``WritableFileSystemStorage``; None for object storages (S3, GCS).
    path: Path | None


def _short(class_name: str) -> str:
    return class_name.rsplit("\\", 1)[-1]


def _as_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(value)


def persistent_collection(resource_settings: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The storage and target settings of the ``persistent`` collection (empty maps when missing)."""
    collections = resource_settings.get("collections") or {}
    collection = collections.get("persistent") or {}
    storage = (resource_settings.get("storages") or {}).get(collection.get("storage") or "") or {}
    target = (resource_settings.get("targets") or {}).get(collection.get("target") or "") or {}
    return storage, target


def resolve_storage(resource_settings: Mapping[str, Any], project_dir: Path) -> PersistentStorage:
    storage, _ = persistent_collection(resource_settings)
    class_name = str(storage.get("storage") or "")
    options = storage.get("storageOptions") or {}
    if _short(class_name) in ("WritableFileSystemStorage", "FileSystemStorage") and options.get("path"):
        path = Path(str(options["path"]))
        return PersistentStorage(class_name, path if path.is_absolute() else project_dir / path)
    return PersistentStorage(class_name or "unknown", None)


def resolve_target(
    resource_settings: Mapping[str, Any], project_dir: Path, extra_settings: Mapping[str, Any] | None = None
) -> PersistentTarget:
    """The ``persistent`` collection's target from ``Neos.Flow.resource`` settings.

    :param extra_settings: ``Flownative.Aws.S3`` settings (region, endpoint) for the default S3 URL.
    """
    _, target = persistent_collection(resource_settings)
    class_name = str(target.get("target") or "")
    options = target.get("targetOptions") or {}
    short = _short(class_name)
    base_uri = str(options.get("baseUri") or "")
    uris = options.get("persistentResourceUris") or {}
    pattern = str(uris.get("pattern") or "") if isinstance(uris, Mapping) else ""
    if short in ("FileSystemSymlinkTarget", "FileSystemTarget"):
        raw_path = str(options.get("path") or project_dir / "Web/_Resources/Persistent/")
        path = Path(raw_path)
        return PersistentTarget(
            kind="local",
            class_name=class_name,
            path=path if path.is_absolute() else project_dir / path,
            base_uri=base_uri or "_Resources/Persistent/",
            subdivide=_as_bool(options.get("subdivideHashPathSegment"), True),
        )
    if short in ("S3Target", "GcsTarget"):
        profile = ((extra_settings or {}).get("profiles") or {}).get("default") or {}
        return PersistentTarget(
            kind="s3" if short == "S3Target" else "gcs",
            class_name=class_name,
            base_uri=base_uri,
            bucket=str(options.get("bucket") or ""),
            key_prefix=str(options.get("keyPrefix") or ""),
            pattern=pattern,
            region=str(profile.get("region") or "") if isinstance(profile, Mapping) else "",
            endpoint=str(profile.get("endpoint") or "") if isinstance(profile, Mapping) else "",
            subdivide=False,
        )
    return PersistentTarget(kind="unknown", class_name=class_name or "none")


def _encode(relative: str) -> str:
    return "/".join(quote(part, safe="") for part in relative.split("/"))


def storage_key(sha1: str) -> str:
    """``<a>/<b>/<c>/<d>/<sha1>``: where WritableFileSystemStorage keeps a resource."""
    return f"{sha1[0]}/{sha1[1]}/{sha1[2]}/{sha1[3]}/{sha1}"


def index_key(sha1: str) -> str:
    """``Resources/<a>/<b>/<c>/<d>/<sha1>``: the index key of a resource, relative to ``Data/Persistent``."""
    return f"{INDEX_PREFIX}/{storage_key(sha1)}"


def publication_path(target: PersistentTarget, sha1: str, filename: str, relative_publication_path: str = "") -> str:
    """The path below the target's base where Flow publishes a resource."""
    if relative_publication_path:
        return relative_publication_path.rstrip("/") + "/" + filename
    if target.subdivide:
        return f"{storage_key(sha1)}/{filename}"
    return f"{sha1}/{filename}"


def public_uri(target: PersistentTarget, row: resourcedb.ResourceRow) -> tuple[str, bool]:
    """The URI a resource is served at, and whether it is absolute (``http(s)://``)."""
    relative = publication_path(target, row.sha1, row.filename, row.relative_publication_path)
    encoded = _encode(relative)
    if target.kind in ("s3", "gcs") and target.pattern:
        extension = row.filename.rsplit(".", 1)[-1].lower() if "." in row.filename else ""
        variables = {
            "{baseUri}": target.base_uri,
            "{bucketName}": target.bucket,
            "{keyPrefix}": target.key_prefix,
            "{sha1}": row.sha1,
            "{filename}": quote(row.filename, safe=""),
            "{fileExtension}": extension,
        }
        uri = target.pattern
        for name, value in variables.items():
            uri = uri.replace(name, value)
        return uri, uri.startswith(("http://", "https://"))
    base = target.base_uri
    if not base and target.kind == "s3":
        if target.endpoint:
            base = f"{target.endpoint.rstrip('/')}/{target.bucket}/"
        else:
            region = target.region or "us-east-1"
            base = f"https://{target.bucket}.s3.{region}.amazonaws.com/"
        base += target.key_prefix
    elif not base and target.kind == "gcs":
        base = f"https://storage.googleapis.com/{target.bucket}/{target.key_prefix}"
    if base.startswith(("http://", "https://")):
        return (base if base.endswith("/") else base + "/") + encoded, True
    if base.startswith("//"):
        return "https:" + (base if base.endswith("/") else base + "/") + encoded, True
    base = base.lstrip("/")
    return (base if base.endswith("/") or not base else base + "/") + encoded, False


def entries_from_database(
    database: DatabaseConfig, target: PersistentTarget, storage: PersistentStorage, *, skip_thumbnail_only: bool
) -> Iterator[PublicFile]:
    """Index entries for every persistent resource the database lists, streaming.

    With a local storage the size and modification time come from the stored file, and resources whose
    file is missing are left out (their URL would answer 404 anyway); with an object storage the size
    comes from the database.
    """
    missing = 0
    for row in resourcedb.iter_resources(database, skip_thumbnail_only=skip_thumbnail_only):
        if not _SHA1.fullmatch(row.sha1):
            log.debug("skipping resource with malformed sha1 %r", row.sha1)
            continue
        size, mtime = row.size, 0
        source = None
        if storage.path is not None:
            stored = storage.path / storage_key(row.sha1)
            try:
                stat = stored.stat()
            except FileNotFoundError:
                missing += 1
                continue
            size, mtime, source = stat.st_size, mtime_of(stat), str(stored)
        uri, absolute = public_uri(target, row)
        # The stored file is what the published URL serves: serve hashes it (SHA-256) and packs it when small.
        yield PublicFile(path=index_key(row.sha1), size=size, mtime=mtime, uri=uri, is_absolute_url=absolute,
                         sha1=row.sha1, source=source)
    if missing:
        log.warning("%d persistent resource(s) listed in the database have no file in %s", missing, storage.path)


def entries_from_published_folder(target: PersistentTarget) -> Iterator[PublicFile]:
    """Index entries from what a local target has published, without the database.

    Both layouts are recognised (``<a>/<b>/<c>/<d>/<sha1>/<filename>`` and ``<sha1>/<filename>``): a file
    whose parent folder is named by a SHA-1 is a published resource. Thumbnails cannot be told apart
    here, so nothing is filtered.
    """
    if target.path is None or not target.path.is_dir():
        return
    root = target.path
    seen_previous = ""
    for directory, folders, files in os.walk(root, followlinks=False):
        folders.sort()
        name = os.path.basename(directory)
        if not _SHA1.fullmatch(name) or not files:
            continue
        # One resource folder holds one file (the resource under its file name); take the first.
        filename = sorted(files)[0]
        if name == seen_previous:
            continue
        seen_previous = name
        file_path = Path(directory) / filename
        try:
            stat = file_path.stat()
        except FileNotFoundError:
            continue
        relative = Path(directory).relative_to(root).as_posix() + "/" + filename
        base = target.base_uri
        absolute = base.startswith(("http://", "https://"))
        base = base if absolute else base.lstrip("/")
        uri = (base if base.endswith("/") or not base else base + "/") + _encode(relative)
        yield PublicFile(path=index_key(name), size=stat.st_size, mtime=mtime_of(stat), uri=uri,
                         is_absolute_url=absolute, sha1=name, source=str(file_path))
