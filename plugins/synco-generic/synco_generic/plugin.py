"""The synco hook implementations for explicit configuration (``.synco.yml`` and database URLs).

Detection rules, so explicit configuration wins over guessing but never hides a framework by accident:

- ``.synco.yml`` names a database (``serve.database.url``): detected with priority 1, so it wins over
  any framework plugin's guess (``--framework`` still picks another plugin, and the URL then overrides
  that plugin's database through ``amend_framework``);
- otherwise ``SYNCO_DATABASE_URL`` or ``DATABASE_URL`` in the environment, or a ``serve:`` section without
  a database: detected with priority -1, a fallback that any framework plugin beats;
- otherwise: not detected.

``amend_framework`` applies ``.synco.yml`` on top of whatever won: web root, table filters, sanitising
rules, strict mode, post-install commands, and (explicit configuration only) the database.
``list_file_sets`` adds the file sets of ``.synco.yml`` to any framework's.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from synco_core import (
    ConfigError,
    DatabaseConfig,
    FileSet,
    FileSetOptions,
    Framework,
    PublicFile,
    SanitizeRule,
    hookimpl,
    mtime_of,
    parse_database_url,
    walk_files,
)
from synco_generic.config import FileSetConfig, SyncoConfig, load_config, relative_path

log = logging.getLogger(__name__)

PLUGIN = "generic"
DEFAULT_NAME = "Generic"
#: Environment variables naming the database, in order of precedence.
DATABASE_ENV = ("SYNCO_DATABASE_URL", "DATABASE_URL")
#: Folders commonly served as the document root, tried when ``web_root`` is not configured.
WEB_ROOT_GUESSES = ("public", "web", "Web", "htdocs", "public_html", "www")
_APPLIED = "generic_synco_yml_applied"
#: Why ``DATABASE_URL`` cannot be used, kept until the framework is chosen (see :func:`amend_framework`).
_URL_REFUSED = "generic_database_url_refused"


def database_from_environment(project_dir: Path) -> tuple[DatabaseConfig, str] | None:
    """The database named by ``SYNCO_DATABASE_URL`` or ``DATABASE_URL``, and which variable named it."""
    for name in DATABASE_ENV:
        url = os.environ.get(name, "").strip()
        if url:
            try:
                return parse_database_url(url, base_dir=project_dir, source=f"${name}"), name
            except ConfigError as exc:
                raise ConfigError(f"${name}: {exc}") from None
    return None


def _web_root(config: SyncoConfig | None, project_dir: Path) -> Path | None:
    if config is not None and config.web_root:
        return project_dir.joinpath(*relative_path(config, config.web_root, "serve.web_root", project_dir).parts)
    for name in WEB_ROOT_GUESSES:
        if (project_dir / name).is_dir():
            return project_dir / name
    return None


@hookimpl
def detect_framework(project_dir: Path) -> Framework | None:
    config = load_config(project_dir)
    database = config.database(project_dir) if config is not None else None
    priority = 1
    if database is not None:
        reason = f"{config.path.name if config else '.synco.yml'} names the database"
    else:
        priority = -1
        try:
            from_env = database_from_environment(project_dir)
        except ConfigError as exc:
            if os.environ.get("SYNCO_DATABASE_URL", "").strip():
                raise
            # DATABASE_URL is every framework's variable, and often read with settings beside it (Rails' and
            # Laravel's URL naming only the server, database.yml or DB_DATABASE the database): refused here,
            # it must not stop the framework plugin that reads it as its framework does. Said when this
            # fallback is the one chosen.
            return Framework(name=config.name if config is not None and config.name else DEFAULT_NAME,
                             plugin=PLUGIN, project_dir=project_dir, web_root=_web_root(config, project_dir),
                             reason="$DATABASE_URL is set", priority=priority, config_source="files",
                             settings={_URL_REFUSED: str(exc)})
        if from_env is not None:
            database, variable = from_env
            reason = f"${variable} is set"
        elif config is not None and config.has_serve:
            reason = f"{config.path.name} has a serve section (no database)"
        else:
            return None
    framework = Framework(
        name=(config.name if config is not None and config.name else DEFAULT_NAME),
        plugin=PLUGIN,
        project_dir=project_dir,
        database=database,
        web_root=_web_root(config, project_dir),
        reason=reason,
        priority=priority,
        config_source="files",
    )
    if config is not None:
        apply_config(framework, config, override_database=False)
    log.debug("generic: %s (priority %d)", reason, priority)
    return framework


def _merge_rules(existing: tuple[SanitizeRule, ...], added: list[SanitizeRule]) -> tuple[SanitizeRule, ...]:
    """The framework's rules with ``.synco.yml``'s on top: a rule for the same column replaces its rule."""
    by_column = {(rule.table, rule.column): rule for rule in existing}
    for rule in added:
        by_column[(rule.table, rule.column)] = rule
    return tuple(by_column.values())


def apply_config(framework: Framework, config: SyncoConfig, *, override_database: bool) -> None:
    """Apply ``config`` to ``framework`` in place (once: a second call does nothing)."""
    if framework.settings.get(_APPLIED):
        return
    framework.settings[_APPLIED] = str(config.path)
    project_dir = framework.project_dir
    if override_database:
        database = config.database(project_dir)
        if database is not None:
            log.debug("%s overrides the database %s detected by %s", config.path.name,
                      framework.database.url(mask_password=True) if framework.database else "(none)", framework.plugin)
            framework.database = database
    if config.web_root:
        framework.web_root = _web_root(config, project_dir)
    options = framework.dump_options
    options.exclude_tables = tuple(dict.fromkeys((*options.exclude_tables, *config.exclude_tables)))
    options.where = {**dict(options.where), **config.where}
    options.keep_newest = {**dict(options.keep_newest), **config.keep_newest}
    options.sanitize = _merge_rules(options.sanitize, config.sanitize)
    options.strict = options.strict or config.strict
    options.keep = tuple(dict.fromkeys((*options.keep, *config.keep)))
    for command in config.post_install:
        if command not in framework.post_install:
            framework.post_install.append(list(command))
    if config.local_hosts:
        # Read by the install guard (synco_core.install.plan.local_hosts_of, synco db load/rollback).
        framework.settings["local_hosts"] = list(dict.fromkeys((*framework.settings.get("local_hosts", ()),
                                                                *config.local_hosts)))


# trylast: called after every other plugin, so what .synco.yml says is applied last and wins.
@hookimpl(trylast=True)
def amend_framework(framework: Framework) -> None:
    refused = framework.settings.get(_URL_REFUSED) if framework.plugin == PLUGIN else None
    if refused:
        raise ConfigError(str(refused))
    config = load_config(framework.project_dir)
    if config is not None:
        apply_config(framework, config, override_database=framework.plugin != PLUGIN)
    # SYNCO_DATABASE_URL is synco's own, explicit setting: it overrides a guessed database unless
    # .synco.yml names one (the file in the project is the more specific of the two).
    explicit_file_db = config is not None and config.database_url
    url = os.environ.get("SYNCO_DATABASE_URL", "").strip()
    if url and not explicit_file_db and framework.plugin != PLUGIN:
        try:
            framework.database = parse_database_url(url, base_dir=framework.project_dir, source="$SYNCO_DATABASE_URL")
        except ConfigError as exc:
            raise ConfigError(f"$SYNCO_DATABASE_URL: {exc}") from None
        log.debug("$SYNCO_DATABASE_URL overrides the database detected by %s", framework.plugin)


def _absolute_entries(root: Path, base_url: str, exclude: tuple[str, ...]) -> Iterator[PublicFile]:
    """Index entries for a public set served from another host (a CDN or bucket mirror)."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    for relative, path in walk_files(root, exclude):
        stat = path.stat()
        uri = base + "/".join(quote(part, safe="") for part in relative.split("/"))
        # The local copy is what the CDN serves: serve hashes it and may pack it with other small files.
        yield PublicFile(path=relative, size=stat.st_size, mtime=mtime_of(stat), uri=uri, is_absolute_url=True,
                         source=str(path))


def build_file_set(framework: Framework, config: SyncoConfig, item: FileSetConfig, index: int) -> FileSet:
    """A :class:`FileSet` for one ``serve.file_sets`` entry of ``config``."""
    project_dir = framework.project_dir
    key = f"serve.file_sets[{index}]"
    relative = relative_path(config, item.path, f"{key}.path", project_dir)
    root = project_dir.joinpath(*relative.parts)
    file_set = FileSet(
        name=item.name,
        kind="public" if item.public else "private",
        root=root,
        relative_base_path=relative.as_posix(),
        exclude=item.exclude,
        regenerated=item.regenerated,
        description=item.description or f"from {config.path.name}",
        dotfiles=item.dotfiles,
    )
    if not root.is_dir():
        file_set.skipped_reason = f"folder {relative.as_posix()} does not exist"
        return file_set
    if not item.public:
        return file_set
    url = item.url
    if url and url.startswith(("http://", "https://")):
        base_url = url

        def absolute() -> Iterator[PublicFile]:
            return _absolute_entries(root, base_url, (*item.exclude, *item.regenerated))

        file_set.entries = absolute
        return file_set
    if url is not None:
        prefix = url.strip("/")
        file_set.url_prefix = prefix + "/" if prefix else ""
        return file_set
    # The web root written in .synco.yml is the one its file sets were written against.
    web_root = _web_root(config, project_dir) if config.web_root else framework.web_root
    if web_root is not None:
        try:
            inside = root.relative_to(web_root).as_posix()
        except ValueError:
            inside = None
        if inside is not None:
            file_set.url_prefix = "" if inside == "." else inside + "/"
            return file_set
    raise ConfigError(
        f"{config.path}: {key}.url: public file set {item.name!r} is not below the web root; give its url"
    )


# trylast: the core lets a later set replace an earlier one of the same name, so .synco.yml's sets come last.
@hookimpl(trylast=True)
def list_file_sets(framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
    config = load_config(framework.project_dir)
    if config is None or not config.file_sets:
        return None
    return [build_file_set(framework, config, item, index) for index, item in enumerate(config.file_sets)]
