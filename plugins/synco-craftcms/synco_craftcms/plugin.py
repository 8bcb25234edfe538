"""The hook implementations of synco-craftcms (entry point ``craftcms`` in the ``synco`` group)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from synco_core import (
    ConfigError,
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
    read_php_config,
)
from synco_craftcms.database import CraftDatabase, read_database
from synco_craftcms.environment import as_text, env_value, project_environment, with_secrets
from synco_craftcms.files import install_roots, volume_file_sets
from synco_craftcms.general import read_aliases
from synco_craftcms.profile import dump_options
from synco_craftcms.project import craft_reason, craft_version, primary_site_url
from synco_craftcms.volumes import PathResolver, read_volumes, transform_handles

log = logging.getLogger(__name__)

PLUGIN = "craftcms"


# Where a project's web/ folder is commonly renamed to (hosting panels serve public/ or public_html/).
RENAMED_WEB_ROOTS = ("public", "public_html", "www", "html", "htdocs")


def entry_script_folder(project_dir: Path) -> Path:
    """The folder Craft's ``index.php`` runs in, which is what Craft sets ``@webroot`` to: ``web/`` (the
    starter's), or else the first folder a ``web/`` is commonly renamed to that holds an ``index.php``;
    ``web/`` when none does."""
    web = project_dir / "web"
    if web.is_dir():
        return web
    for name in RENAMED_WEB_ROOTS:
        if (project_dir / name / "index.php").is_file():
            return project_dir / name
    return web


def with_entry_constants(project_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with the ``CRAFT_*`` constants the entry scripts define (``bootstrap.php``, the web root's
    ``index.php``: ``define('CRAFT_WEB_ROOT', ...)``) where it has no such variable: ``App::env()`` falls back
    to a PHP constant of the name. A script synco cannot read is said and left out."""
    found: dict[str, str] = {}
    for script in (project_dir / "bootstrap.php", entry_script_folder(project_dir) / "index.php"):
        if not script.is_file():
            continue
        try:
            constants = read_php_config(script, environ={**found, **environ}, environment_loaded=True).constants
        except ConfigError as exc:
            log.warning("Craft's %s is not read (%s): the constants it defines are not used", script.name, exc)
            continue
        for name, value in constants.items():
            text = as_text(value) if isinstance(value, (str, int, float, bool)) else None
            if name.startswith("CRAFT_") and text is not None and name not in found:
                found[name] = text
    return {**found, **environ}


#: The folders Craft's bootstrap takes from the environment, and the alias each sets.
BOOTSTRAP_FOLDERS = {"CRAFT_STORAGE_PATH": "@storage", "CRAFT_TEMPLATES_PATH": "@templates"}


def bootstrap_aliases(project_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The aliases the environment sets through Craft's bootstrap: ``CRAFT_WEB_ROOT`` sets ``@webroot`` after
    config/general.php's aliases, so it wins over them; ``CRAFT_STORAGE_PATH`` and ``CRAFT_TEMPLATES_PATH``
    move ``@storage`` and ``@templates``. A variable Craft takes as false (empty, ``0``, ``false``) sets none.
    A relative path is the project's, where ``craft`` runs (not the web root's, as a volume's path is)."""
    found = {}
    for name, alias in {**BOOTSTRAP_FOLDERS, "CRAFT_WEB_ROOT": "@webroot"}.items():
        value = env_value(environ, name)
        if value not in (None, False, "", 0, 0.0):
            text = str(value)
            found[alias] = text if text.startswith(("@", "$", "/")) else str(project_dir / text)
    return found


#: Bootstrap paths synco does not follow, and the place it reads instead (relative to the project).
UNFOLLOWED_PATHS = {"CRAFT_CONFIG_PATH": "config", "CRAFT_DOTENV_PATH": ".env"}


def warn_unfollowed_paths(project_dir: Path, environ: Mapping[str, str]) -> None:
    """Say so when the environment moves Craft's config folder or ``.env`` elsewhere: synco reads the
    project's own, so what it reads may not be what Craft does."""
    for name, default in UNFOLLOWED_PATHS.items():
        value = env_value(environ, name)
        if value in (None, False, "", 0, 0.0):
            continue
        moved = Path(os.path.normpath(project_dir / str(value)))
        if moved != project_dir / default:
            log.warning("%s moves Craft's %s to %s, which synco does not follow: %s/%s is read instead",
                        name, default, moved, project_dir.name, default)


@hookimpl
def detect_framework(project_dir: Path) -> Framework | None:
    reason = craft_reason(project_dir)
    if reason is None:
        return None
    environ = with_secrets(project_dir, with_entry_constants(project_dir, project_environment(project_dir)))
    warn_unfollowed_paths(project_dir, environ)
    craft = read_database(project_dir, environ)
    for note in craft.notes if craft else ():
        log.warning("Craft database settings: %s", note)
    aliases = {**read_aliases(project_dir, environ), **bootstrap_aliases(project_dir, environ)}
    default_web_root = entry_script_folder(project_dir)
    resolver = PathResolver(project_dir, default_web_root, environ, aliases)
    web_root = resolver.resolve(aliases.get("@webroot", str(default_web_root)))
    if isinstance(web_root, str):
        log.warning("Craft's @webroot alias cannot be resolved (%s); %s/ is used", web_root,
                    default_web_root.name)
        web_root = default_web_root
    web_root = Path(os.path.normpath(web_root))
    resolver.web_root = web_root
    resolver.aliases["@webroot"] = str(web_root)
    volumes = [
        {"handle": v.handle, "name": v.name, "root": str(v.root) if v.root else None, "hasUrls": v.has_urls,
         "problem": v.problem}
        for v in read_volumes(project_dir, resolver)
    ]
    if not volumes and (web_root / "uploads").is_dir():
        # A project without volumes in its project config yet: Craft's documented default folder.
        volumes.append({"handle": "uploads", "name": "web/uploads", "root": str(web_root / "uploads"),
                        "hasUrls": True, "problem": ""})
    version = craft_version(project_dir)
    php = find_php()
    base_url = primary_site_url(project_dir, environ)
    return Framework(
        name=f"Craft CMS {version}" if version else "Craft CMS",
        plugin=PLUGIN,
        project_dir=project_dir,
        database=craft.database if craft else None,
        web_root=web_root,
        reason=reason,
        settings={
            "tablePrefix": craft.table_prefix if craft else "",
            "schema": craft.schema if craft else "public",
            "volumes": volumes,
            "transforms": transform_handles(project_dir),
        },
        config_source=craft.database.source if craft else "",
        base_url=base_url,
        base_url_source="config/project/sites (primary site's baseUrl)" if base_url else "",
        post_install=[[php, "craft", "clear-caches/all"]] if php else [],
    )


def _craft_database(framework: Framework) -> CraftDatabase | None:
    if framework.database is None:
        return None
    return CraftDatabase(framework.database, str(framework.settings.get("tablePrefix") or ""),
                         str(framework.settings.get("schema") or "public"))


@hookimpl
def default_dump_options(framework: Framework, inventory: DatabaseInventory | None) -> DumpOptions | None:
    if framework.plugin != PLUGIN:
        return None
    craft = _craft_database(framework)
    # The core drops the rules for tables an installation lacks (phpsessions, template caches); the inventory
    # finds the other installations sharing the database.
    return dump_options(craft, inventory) if craft else None


def _file_sets(framework: Framework, options: FileSetOptions) -> list[FileSet]:
    return volume_file_sets(framework.project_dir, framework.web_root, list(framework.settings.get("volumes", [])),
                            list(framework.settings.get("transforms", [])), options)


@hookimpl
def list_file_sets(framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
    if framework.plugin != PLUGIN:
        return None
    return _file_sets(framework, options)


@hookimpl
def install_files(framework: Framework, file_set: ReceivedFileSet, source_dir: Path) -> FilesInstallResult | None:
    if framework.plugin != PLUGIN:
        return None
    # Through the named roots, so that a volume nested in this one's folder survives its replacement.
    roots = install_roots(framework.project_dir, _file_sets(framework, FileSetOptions(all=True)))
    return install_named_root(roots, file_set.name, source_dir)
