"""The synco hook implementations for Neos / Flow.

- ``detect_framework``: a ``flow`` script and a ``Web/`` folder; the database from
  ``Neos.Flow.persistence.backendOptions`` and the resource settings from ``Neos.Flow.resource``, read
  through ``./flow`` when PHP is found and from ``Configuration/`` otherwise (``config_source`` says
  which). It never connects to the database.
- ``default_dump_options``: the smart transfer (no rows from the thumbnail table and the Neos 8 event log,
  and no resources that only thumbnails use; both dropped by ``serve --all``; Neos 9 content-repository
  event tables are never touched: they are the content) and the sanitising profile
  (:mod:`synco_neos.sanitize`), which masks the personal data of Neos.Party and Flow's accounts.
- ``list_file_sets``: the ``persistent`` collection as the public set ``Resources``, keyed by Flow's
  storage layout ``Resources/<a>/<b>/<c>/<d>/<sha1>`` below ``Data/Persistent`` (as Go synco v2 does).
- ``install_files``: received resources into the local storage folder, from that layout or the
  unprefixed ``<a>/<b>/<c>/<d>/<sha1>`` one of sessions made by earlier versions; the post-install
  commands publish them and flush the caches.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
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
    PublicFile,
    ReceivedFileSet,
    find_php,
    hookimpl,
    install_tree,
    register_secret,
)
from synco_neos import resourcedb
from synco_neos.database import database_from_backend_options
from synco_neos.resources import (
    DEFAULT_STORAGE_PATH,
    INDEX_BASE_PATH,
    INDEX_PREFIX,
    PersistentStorage,
    PersistentTarget,
    entries_from_database,
    entries_from_published_folder,
    resolve_storage,
    resolve_target,
)
from synco_neos.sanitize import no_rows_tables, sanitize_profile, table_columns
from synco_neos.settings import FlowSettingsReader
from synco_neos.versions import has_neos_media, neos_major_version

log = logging.getLogger(__name__)

PLUGIN = "neos"
FRAMEWORK_NAME = "Neos/Flow"
#: The name of the public file set of persistent resources (as Go synco v2 names it).
RESOURCES_SET = "Resources"
_SHA1 = re.compile(r"[0-9a-f]{40}")
#: Flow's commands after an install, without the interpreter (see :func:`post_install_commands`).
POST_INSTALL = [["resource:publish", "--collection", "persistent"], ["flow:cache:flush"]]


def post_install_commands(php: str | None) -> list[list[str]]:
    """``<php> flow <command>`` with the interpreter synco found, so a host with only ``php8.x`` works;
    ``./flow <command>`` (its ``#!/usr/bin/env php`` line) when none was found here."""
    return [[php, "flow", *command] if php else ["./flow", *command] for command in POST_INSTALL]


def is_flow_project(project_dir: Path) -> bool:
    """A Flow distribution has the ``flow`` entry script and the ``Web`` document root."""
    return (project_dir / "flow").is_file() and (project_dir / "Web").is_dir()


def _register_credentials(settings: Any) -> None:
    """Register every ``secret``/``password``/``key`` value below ``settings`` so no log line can show it."""
    if isinstance(settings, Mapping):
        for name, value in settings.items():
            if isinstance(value, str) and str(name).lower() in ("secret", "password", "key", "token"):
                register_secret(value)
            else:
                _register_credentials(value)
    elif isinstance(settings, list):
        for item in settings:
            _register_credentials(item)


def _warn_default_context(project_dir: Path, context: str) -> None:
    """A shell without FLOW_CONTEXT reads Flow's default Development context; on a server whose web server
    sets Production, that is not the site's database. Said when the project has Production settings only."""
    configuration = project_dir / "Configuration"
    if ("FLOW_CONTEXT" not in os.environ and context == "Development"
            and (configuration / "Production").is_dir() and not (configuration / "Development").is_dir()):
        log.warning("FLOW_CONTEXT is not set, so Flow's default Development context is read, but Configuration/ "
                    "has Production settings only; set FLOW_CONTEXT as the web server does (FLOW_CONTEXT=Production)")


@hookimpl
def detect_framework(project_dir: Path) -> Framework | None:
    if not is_flow_project(project_dir):
        return None
    reader = FlowSettingsReader(project_dir)
    _warn_default_context(project_dir, reader.context)
    backend_options = reader.get("Neos.Flow.persistence.backendOptions") or {}
    resource_settings = reader.get("Neos.Flow.resource") or {}
    source_label = (
        f"./flow configuration:show (FLOW_CONTEXT={reader.context})"
        if reader.source == "php"
        else f"Configuration/ files (FLOW_CONTEXT={reader.context})"
    )
    database: DatabaseConfig | None = None
    database_problem = ""
    try:
        database = database_from_backend_options(backend_options, project_dir, source_label)
    except ConfigError as exc:
        # Detection still succeeds so `synco detect` can show the project; serve refuses without a database.
        database_problem = str(exc)
        log.warning("Neos/Flow database settings: %s", exc)

    target = resolve_target(resource_settings, project_dir)
    s3_settings: Any = None
    if target.kind == "s3" and not target.base_uri and not target.pattern:
        s3_settings = reader.get("Flownative.Aws.S3")
        _register_credentials(s3_settings)
        s3_profile = s3_settings if isinstance(s3_settings, Mapping) else None
        target = resolve_target(resource_settings, project_dir, s3_profile)
    storage = resolve_storage(resource_settings, project_dir)

    base_uri = reader.get("Neos.Flow.http.baseUri")
    major = neos_major_version(project_dir)
    framework = Framework(
        name=FRAMEWORK_NAME,
        plugin=PLUGIN,
        project_dir=project_dir,
        database=database,
        web_root=project_dir / "Web",
        public_prefixes=("/_Resources",),
        reason="flow script and Web/ found" + (f" (Neos {major})" if major else ""),
        post_install=post_install_commands(reader.php or find_php(reader.environ)),
        config_source=reader.source,
        base_url=base_uri.strip() if isinstance(base_uri, str) and base_uri.strip() else None,
        base_url_source="Neos.Flow.http.baseUri",
        settings={
            "context": reader.context,
            "neos_version": major,
            "neos_media": has_neos_media(project_dir),
            "resource": resource_settings,
            "target": target,
            "storage": storage,
            "database_problem": database_problem,
        },
    )
    log.debug("Neos/Flow settings read via %s (%s)%s", reader.source, source_label,
              f"; fallback reason: {reader.fallback_reason}" if reader.fallback_reason else "")
    return framework


@hookimpl
def default_dump_options(framework: Framework, inventory: DatabaseInventory | None) -> DumpOptions | None:
    """The sanitising profile and the smart transfer: no rows from the thumbnail table and the Neos 8 event
    log, and no resources that only thumbnails use (``serve --all`` dumps them all)."""
    if framework.plugin != PLUGIN:
        return None
    # The core drops the rules for tables the database lacks; the resource filter reads three tables in
    # one condition, so it is named only when all three are there (or nothing is known).
    columns = table_columns(inventory)
    smart_tables: list[str] = []
    smart_where: dict[str, str] = {}
    if framework.settings.get("neos_media"):
        smart_tables.append(resourcedb.THUMBNAIL_TABLE)
        tables = (resourcedb.RESOURCE_TABLE, resourcedb.THUMBNAIL_TABLE, resourcedb.ASSET_TABLE)
        if columns is None or all(table in columns for table in tables):
            # Only tables PostgreSQL's inventory names without a schema count as existing: they are in public.
            database = framework.database
            schema = "public" if database is not None and database.engine == "postgresql" else ""
            smart_where[resourcedb.RESOURCE_TABLE] = resourcedb.not_thumbnail_only(schema)
    major = framework.settings.get("neos_version")
    if isinstance(major, int) and major < 9:
        # Neos 9 dropped this table; its content-repository event tables hold the content and stay.
        smart_tables.append(resourcedb.EVENTLOG_TABLE)
    return DumpOptions(exclude_tables=no_rows_tables(columns), sanitize=sanitize_profile(),
                       smart_exclude_tables=tuple(smart_tables), smart_where=smart_where)


def _target(framework: Framework) -> PersistentTarget:
    target = framework.settings.get("target")
    if isinstance(target, PersistentTarget):
        return target
    return resolve_target(framework.settings.get("resource") or {}, framework.project_dir)


def _storage(framework: Framework) -> PersistentStorage:
    storage = framework.settings.get("storage")
    if isinstance(storage, PersistentStorage):
        return storage
    return resolve_storage(framework.settings.get("resource") or {}, framework.project_dir)


def resources_file_set(framework: Framework, options: FileSetOptions) -> FileSet:
    """The ``Resources`` public set of ``framework``, with the best entry source available."""
    target = _target(framework)
    storage = _storage(framework)
    skip_thumbnails = not options.all
    base = FileSet(
        name=RESOURCES_SET,
        kind="public",
        root=storage.path,
        relative_base_path=INDEX_BASE_PATH,
        description=f"Flow persistent resources, published by {target.describe()}",
    )
    if target.kind == "unknown":
        base.skipped_reason = f"the persistent collection's target {target.class_name} is not supported"
        return base
    if options.only and RESOURCES_SET not in options.only:
        # Not wanted (the core drops it by name): skip the database round trip.
        return base
    database = framework.database
    problem = ""
    tables: resourcedb.ResourceTables | None = None
    if database is None:
        problem = framework.settings.get("database_problem") or "no database configured"
    else:
        try:
            tables = resourcedb.probe(database)
        except resourcedb.ResourceDatabaseUnavailable as exc:
            problem = str(exc)
        else:
            if not tables.resources:
                problem = f"table {resourcedb.RESOURCE_TABLE} does not exist (database not set up?)"
    if database is not None and tables is not None and not problem:
        filtered = skip_thumbnails and tables.smart_filter_possible
        db = database

        def from_database() -> Iterator[PublicFile]:
            return entries_from_database(db, target, storage, skip_thumbnail_only=filtered)

        base.entries = from_database
        if filtered:
            base.description += "; resources only thumbnails use are left out (--all includes them)"
        return base
    if target.kind == "local" and target.path is not None and target.path.is_dir():
        log.warning("reading Flow resources from %s instead of the database: %s", target.path, problem)

        def from_folder() -> Iterator[PublicFile]:
            return entries_from_published_folder(target)

        base.entries = from_folder
        base.description += f"; listed from the published folder ({problem}), thumbnails included"
        return base
    base.skipped_reason = f"cannot list persistent resources: {problem}"
    return base


@hookimpl
def list_file_sets(framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
    if framework.plugin != PLUGIN:
        return None
    return [resources_file_set(framework, options)]


#: ``relativeBasePath`` values of received resources sets: the current one, and that of sessions made
#: before index keys carried the ``Resources/`` prefix.
_RESOURCE_BASE_PATHS = (INDEX_BASE_PATH, DEFAULT_STORAGE_PATH)


def _is_storage_path(parts: list[str]) -> bool:
    """``[a, b, c, d, sha1]`` with the first four hex digits of the SHA-1 as folders."""
    return len(parts) == 5 and _SHA1.fullmatch(parts[4]) is not None and parts[:4] == list(parts[4][:4])


def _received_storage_root(source_dir: Path) -> tuple[Path, int]:
    """The folder of a received resources set that holds ``<a>/<b>/<c>/<d>/<sha1>``, and its file count.

    Keys are ``Resources/<a>/<b>/<c>/<d>/<sha1>`` (this plugin now, Go synco v2) or, in sessions made by
    earlier versions of this plugin, ``<a>/<b>/<c>/<d>/<sha1>``. One session uses one form; anything
    else is refused, since it would land in Flow's storage where no resource points at it.
    """
    prefixed = unprefixed = 0
    for directory, _, files in os.walk(source_dir):
        for name in files:
            relative = (Path(directory) / name).relative_to(source_dir).as_posix()
            parts = relative.split("/")
            if parts[0] == INDEX_PREFIX and _is_storage_path(parts[1:]):
                prefixed += 1
            elif _is_storage_path(parts):
                unprefixed += 1
            else:
                raise ConfigError(f"received Flow resource {relative!r} is not in the "
                                  f"{INDEX_PREFIX}/<a>/<b>/<c>/<d>/<sha1> layout")
    if prefixed and unprefixed:
        raise ConfigError(f"received Flow resources mix the {INDEX_PREFIX}/<a>/<b>/<c>/<d>/<sha1> and "
                          "<a>/<b>/<c>/<d>/<sha1> layouts")
    if prefixed or (source_dir / INDEX_PREFIX).is_dir():
        return source_dir / INDEX_PREFIX, prefixed
    return source_dir, unprefixed


@hookimpl
def install_files(framework: Framework, file_set: ReceivedFileSet, source_dir: Path) -> FilesInstallResult | None:
    if framework.plugin != PLUGIN:
        return None
    if file_set.name != RESOURCES_SET and file_set.relative_base_path.rstrip("/") not in _RESOURCE_BASE_PATHS:
        return None
    root, count = _received_storage_root(source_dir)
    storage = _storage(framework)
    destination = storage.path or framework.project_dir / DEFAULT_STORAGE_PATH
    destination = Path(str(destination).rstrip("/"))
    log.debug("installing %d Flow resource(s) from %s into %s", count, root, destination)
    return install_tree(root, destination)
