"""Django's storages as synco file sets: ``MEDIA_ROOT`` and the other file-system storages, S3 buckets.

One set per storage of ``STORAGES`` (``DEFAULT_FILE_STORAGE`` before Django 4.2), except ``staticfiles``,
whose files ``collectstatic`` rebuilds from the code. The default storage's set is called ``media``, the
others are named after their alias.

**Public or private.** A file-system storage keeps its files in a folder (``location``, by default
``MEDIA_ROOT``) and links to them at ``base_url`` (by default ``MEDIA_URL``). Whether a web server really
serves that folder there is decided outside Django (nginx ``alias``, a CDN, or a view that checks
permissions), so synco calls a storage public only when it can tell:

- ``MEDIA_URL`` is an absolute URL (``https://media.example.com/``): the files are public there, and the
  index points at that URL (the receiver fetches them from it);
- the folder lies inside the web root synco publishes sessions in, at the very URL path ``MEDIA_URL``
  names (``public/media`` served at ``/media/`` when ``public/`` is served at ``/``): the index points
  below the session's base URL.

Otherwise the storage is **private**: packed and encrypted, which works whatever serves the files (and
whoever is allowed to see them). The set's description says which case applied and why. A ``.synco.yml``
can override either way (``serve.web_root`` for the folder served at ``/``, or a file set of the same
name).

**S3.** A django-storages S3 backend (``storages.backends.s3.S3Storage``, ``s3boto3.S3Boto3Storage`` and
their static variants) is a public set of absolute URLs when its files are served publicly: through its
``custom_domain``, or from the bucket itself when ``querystring_auth`` is off. With signed URLs (the
default) it is listed as skipped, with the reason. Settings come from the storage's ``OPTIONS`` over the
global ``AWS_*`` settings, as django-storages reads them.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from synco_core import (
    FileSet,
    FileSetOptions,
    PublicFile,
    S3Location,
    mtime_of,
    register_secret,
    s3_public_entries,
    walk_files,
)
from synco_django.static import is_unknown, why_unknown

log = logging.getLogger(__name__)

#: The set of the default storage (``MEDIA_ROOT``).
MEDIA_SET = "media"
#: The storage alias whose files are rebuilt by ``collectstatic``: never transferred.
STATICFILES = "staticfiles"
#: Django's default storage backend.
FILE_SYSTEM_STORAGE = "django.core.files.storage.FileSystemStorage"
#: Generated thumbnails, rebuilt on demand: sorl-thumbnail's ``cache/`` and django-imagekit's ``CACHE/``
#: at the top of the storage. Left out unless ``--all``, and marked regenerated: a laptop's copies go stale.
SMART_EXCLUDES = ("/cache", "/CACHE")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Storage:
    """One storage of ``STORAGES``, reduced to what synco needs."""

    alias: str
    backend: str
    options: Mapping[str, Any]

    @property
    def set_name(self) -> str:
        return MEDIA_SET if self.alias == "default" else self.alias

    @property
    def is_s3(self) -> bool:
        return "s3" in self.backend.lower()

    @property
    def is_file_system(self) -> bool:
        return "filesystemstorage" in self.backend.lower().replace("_", "")


def storages(values: Mapping[str, Any]) -> list[Storage]:
    """Every storage but ``staticfiles``, the default one first."""
    configured = values.get("STORAGES")
    raw: dict[str, Any] = dict(configured) if isinstance(configured, Mapping) else {}
    if "default" not in raw:
        backend = values.get("DEFAULT_FILE_STORAGE") or FILE_SYSTEM_STORAGE
        raw["default"] = {"BACKEND": backend}
    found = []
    for alias in sorted(raw, key=lambda a: a != "default"):
        entry = raw[alias]
        if alias == STATICFILES or not isinstance(entry, Mapping):
            continue
        options = entry.get("OPTIONS")
        found.append(Storage(str(alias), str(entry.get("BACKEND") or FILE_SYSTEM_STORAGE),
                             options if isinstance(options, Mapping) else {}))
    return found


def _resolve(project_dir: Path, value: Any) -> Path | None:
    if not value or not isinstance(value, str | Path):
        return None
    path = Path(value)
    return path if path.is_absolute() else project_dir / path


def storage_folder(storage: Storage, values: Mapping[str, Any], project_dir: Path) -> Path | None:
    """Where a storage keeps its files on this machine: its ``location``, else ``MEDIA_ROOT``.

    A backend that is neither S3 nor the file system (a project's own subclass, say) is taken to store in
    ``MEDIA_ROOT`` when it is the default storage: that is what ``FileSystemStorage`` subclasses do.
    """
    if storage.is_s3:
        return None
    location = storage.options.get("location")
    if location:
        return _resolve(project_dir, location)
    if storage.is_file_system or storage.alias == "default":
        return _resolve(project_dir, values.get("MEDIA_ROOT"))
    return None


def _unread_folder(storage: Storage, values: Mapping[str, Any]) -> str | None:
    """Why the folder of a storage on this machine could not be worked out (its ``location``, else
    ``MEDIA_ROOT``, unknown to the settings reader), or None when it was, or has none."""
    if storage.is_s3:
        return None
    location = storage.options.get("location")
    setting, value = ((f"the location of storage '{storage.alias}'", location) if location is not None
                      else ("MEDIA_ROOT", values.get("MEDIA_ROOT")))
    if not is_unknown(value):
        return None
    reason = why_unknown(value)
    return f"{setting} could not be worked out without running the settings" + (f": {reason}" if reason else "")


def storage_roots(values: Mapping[str, Any], project_dir: Path) -> dict[str, str]:
    """Each set's folder on this machine, for installing received sets (an S3 default storage's files go
    to ``MEDIA_ROOT``, where a local copy of the project with the file system storage looks for them)."""
    roots: dict[str, str] = {}
    for storage in storages(values):
        folder = storage_folder(storage, values, project_dir)
        if folder is None and storage.alias == "default":
            folder = _resolve(project_dir, values.get("MEDIA_ROOT"))
        if folder is not None:
            roots[storage.set_name] = str(folder)
    return roots


def url_path(url: str) -> str:
    """The path of a URL setting as a web server sees it, with slashes around it (``media/`` -> ``/media/``)."""
    path = urlsplit(url).path if "://" in url else url
    return "/" + path.strip("/") + "/" if path.strip("/") else "/"


@dataclass(frozen=True)
class Exposure:
    """How a storage folder is reached from the web: ``url_prefix`` below the web root, an absolute
    ``base_url``, or neither (private); ``reason`` says which and why."""

    reason: str
    url_prefix: str | None = None
    base_url: str | None = None


def exposure(folder: Path, base_url: str, web_root: Path | None, web_root_url: str) -> Exposure:
    """Whether the files of ``folder``, linked at ``base_url``, are served publicly (see the module doc)."""
    if base_url.startswith(("http://", "https://")):
        return Exposure(reason=f"served at {base_url}", base_url=base_url if base_url.endswith("/") else base_url + "/")
    if web_root is not None and folder != web_root and folder.is_relative_to(web_root):
        relative = folder.relative_to(web_root).as_posix()
        expected = url_path(web_root_url + relative)
        if base_url and url_path(base_url) == expected:
            return Exposure(reason=f"inside the web root {web_root}, served at {expected}", url_prefix=relative + "/")
        return Exposure(reason=f"inside the web root, but linked at {base_url or '(no MEDIA_URL)'} instead of "
                               f"{expected}: packed and encrypted")
    where = f"not inside the web root {web_root}" if web_root is not None else "no web root"
    return Exposure(reason=f"{where}, so synco cannot tell whether {base_url or 'its URL'} is served publicly: "
                           "packed and encrypted")


def _absolute_entries(root: Path, base_url: str, exclude: tuple[str, ...]) -> Callable[[], Iterator[PublicFile]]:
    """The index entries of a folder served at an absolute URL: the receiver fetches each file from there."""

    def entries() -> Iterator[PublicFile]:
        for relative, path in walk_files(root, exclude):
            try:
                info = path.stat()
            except OSError as exc:
                log.warning("skipping %s: %s", path, exc.strerror)
                continue
            yield PublicFile(path=relative, size=info.st_size, mtime=mtime_of(info),
                             uri=base_url + quote(relative), is_absolute_url=True)

    return entries


def _relative_base(project_dir: Path, folder: Path | None, fallback: str) -> str:
    if folder is not None and folder.is_relative_to(project_dir) and folder != project_dir:
        return folder.relative_to(project_dir).as_posix()
    return fallback


def file_sets(values: Mapping[str, Any], project_dir: Path, web_root: Path | None, web_root_url: str,
              options: FileSetOptions) -> list[FileSet]:
    """The file sets of every storage (see the module doc); ``web_root_url`` is the URL path the web root
    is served at (``/``, or ``STATIC_URL`` when the web root is ``STATIC_ROOT``)."""
    sets: list[FileSet] = []
    media_base = _relative_base(project_dir, _resolve(project_dir, values.get("MEDIA_ROOT")), MEDIA_SET)
    for storage in storages(values):
        name = storage.set_name
        if not _SAFE_NAME.fullmatch(name):
            log.warning("storage %r: its name cannot name a file set; left out", storage.alias)
            continue
        if storage.is_s3:
            sets.append(s3_file_set(storage, values, media_base if storage.alias == "default" else name))
            continue
        folder = storage_folder(storage, values, project_dir)
        unread = _unread_folder(storage, values)
        if folder is None and unread is not None:
            # A folder the settings compute from something this machine lacks: said, never a set left out
            # silently.
            sets.append(FileSet(name=name, kind="private", skipped_reason=unread,
                                description=f"Django storage '{storage.alias}' ({storage.backend})"))
            continue
        if folder is None and (storage.is_file_system or storage.alias == "default"):
            log.debug("storage %s: neither a location nor MEDIA_ROOT, so no uploads on this machine", storage.alias)
            continue
        if folder is None:
            sets.append(FileSet(name=name, kind="private", skipped_reason=f"the backend {storage.backend} is not "
                                "supported (file system and S3 storages are)",
                                description=f"Django storage '{storage.alias}' ({storage.backend})"))
            continue
        base_url = str(storage.options.get("base_url") or values.get("MEDIA_URL") or "")
        skipped = None if folder.is_dir() else f"folder {folder} does not exist"
        relative_base = _relative_base(project_dir, folder, name)
        exclude = () if options.all else SMART_EXCLUDES
        how = exposure(folder, base_url, web_root, web_root_url)
        label = f"Django storage '{storage.alias}' at {folder}"
        if how.base_url is not None:
            sets.append(FileSet(name=name, kind="public", root=folder, relative_base_path=relative_base,
                                entries=_absolute_entries(folder, how.base_url, exclude), regenerated=exclude,
                                skipped_reason=skipped, description=f"{label}: public, {how.reason}"))
        elif how.url_prefix is not None:
            sets.append(FileSet(name=name, kind="public", root=folder, relative_base_path=relative_base,
                                url_prefix=how.url_prefix, regenerated=exclude, skipped_reason=skipped,
                                description=f"{label}: public, {how.reason}"))
        else:
            sets.append(FileSet(name=name, kind="private", root=folder, relative_base_path=relative_base,
                                regenerated=exclude, skipped_reason=skipped,
                                description=f"{label}: private, {how.reason}"))
    return sets


def _s3_option(storage: Storage, values: Mapping[str, Any], option: str, *settings: str) -> Any:
    """A django-storages setting: the storage's ``OPTIONS`` first, then the global ``AWS_*`` settings."""
    if option in storage.options:
        return storage.options[option]
    for name in settings:
        if values.get(name) is not None:
            return values[name]
    return None


def register_s3_secrets(values: Mapping[str, Any]) -> None:
    """Register every S3 secret of the settings and of each storage, so no log line can show them."""
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_S3_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_S3_SESSION_TOKEN"):
        if isinstance(values.get(name), str):
            register_secret(values[name])
    for storage in storages(values):
        for option in ("secret_key", "security_token", "session_token"):
            if isinstance(storage.options.get(option), str):
                register_secret(storage.options[option])


def s3_file_set(storage: Storage, values: Mapping[str, Any], relative_base: str) -> FileSet:
    """The set of a django-storages S3 storage: public absolute URLs, or skipped with the reason."""
    name = storage.set_name
    label = f"Django storage '{storage.alias}' (S3"
    bucket = _s3_option(storage, values, "bucket_name", "AWS_STORAGE_BUCKET_NAME")
    if not bucket:
        return FileSet(name=name, kind="public", skipped_reason="S3 storage without a bucket_name",
                       description=label + ")")
    label += f" bucket {bucket}"
    region = str(_s3_option(storage, values, "region_name", "AWS_S3_REGION_NAME") or "us-east-1")
    endpoint = str(_s3_option(storage, values, "endpoint_url", "AWS_S3_ENDPOINT_URL") or "")
    style = str(_s3_option(storage, values, "addressing_style", "AWS_S3_ADDRESSING_STYLE") or "")
    location = S3Location(
        bucket=str(bucket),
        region=region,
        endpoint=endpoint,
        path_style=style == "path",
        access_key=str(_s3_option(storage, values, "access_key", "AWS_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID") or ""),
        secret_key=str(_s3_option(storage, values, "secret_key", "AWS_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")
                       or ""),
        session_token=str(_s3_option(storage, values, "security_token", "AWS_S3_SESSION_TOKEN", "AWS_SESSION_TOKEN")
                          or ""),
        prefix=str(_s3_option(storage, values, "location", "AWS_LOCATION") or "").strip("/"),
    )
    domain = _s3_option(storage, values, "custom_domain", "AWS_S3_CUSTOM_DOMAIN")
    signed = _s3_option(storage, values, "querystring_auth", "AWS_QUERYSTRING_AUTH")
    protocol = str(_s3_option(storage, values, "url_protocol", "AWS_S3_URL_PROTOCOL") or "https:")
    if domain:
        public_url = f"{protocol}//{str(domain).strip('/')}"
    elif signed is False:
        public_url = location.list_url().rstrip("/")
    else:
        return FileSet(name=name, kind="public", relative_base_path=relative_base,
                       skipped_reason="S3 storage whose files are served through signed URLs (querystring_auth) "
                                      "and no custom_domain: not public",
                       description=label + ")")
    location = dataclasses.replace(location, public_url=public_url)
    return FileSet(name=name, kind="public", relative_base_path=relative_base,
                   entries=lambda: s3_public_entries(location),
                   description=f"{label}, files fetched from {public_url})")
