"""Reading a Drupal site's ``settings.php``: its ``$databases`` and ``$settings``.

Without Drush (or when it fails) synco's PHP configuration reader evaluates ``settings.php`` without running
PHP (:func:`synco_core.read_php_config`), with Drupal's ``$app_root`` and ``$site_path`` set as Drupal sets
them, following the includes a site's settings use (``settings.local.php``, a hosting platform's
``settings.*.php``) inside the Drupal root's ``sites/`` folder and the project, never Drupal's own code.

With Drush on ``PATH`` or in ``vendor/bin`` (Composer's), the site's own tool answers first: ``drush status
--format=json`` gives the database connection and the file paths as Drupal resolved them, ``drush
sql:connect`` the password (its command line carries it for MySQL); what Drush does not say (the table
prefix, a Unix socket, a PostgreSQL password) is taken from the file reading.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synco_core import (
    ConfigError,
    PhpUnknown,
    find_php,
    load_dotenv_files,
    path_below,
    read_config_text,
    read_php_config,
    run_command,
)
from synco_drupal.database import unknown_setting
from synco_drupal.settings_php import settings_with_php
from synco_drupal.site import DrupalSite

log = logging.getLogger(__name__)

#: Drush bootstraps Drupal for ``status``; a cold cache takes a while.
DRUSH_TIMEOUT = 90.0
#: Folders whose PHP files are Drupal or its dependencies: never read as configuration.
CODE_FOLDERS = frozenset({"core", "vendor", "modules", "themes", "profiles", "libraries"})


@dataclass
class DrupalSettings:
    """What ``settings.php`` (or Drush) says about the site."""

    #: ``$databases``: key -> target -> connection settings.
    databases: dict[Any, Any] = field(default_factory=dict)
    #: ``$settings``.
    settings: dict[Any, Any] = field(default_factory=dict)
    #: ``drush`` when Drush answered, ``php`` when the PHP CLI ran settings.php (what the reader could not
    #: evaluate), ``files`` when the reader evaluated it.
    source: str = "files"
    #: The ``drush`` command, when there is one.
    drush: str | None = None
    notes: list[str] = field(default_factory=list)
    #: Why ``$databases`` as a whole is not known without PHP (it is then empty), or None.
    unknown_databases: str | None = None

    def setting(self, name: str) -> str | None:
        value = self.settings.get(name)
        return value if isinstance(value, str) and value else None

    def unknown(self, name: str) -> str | None:
        """Why ``$settings[name]`` is not known without PHP, or None when it is known (or not set)."""
        value = self.settings.get(name)
        return value.reason if isinstance(value, PhpUnknown) else None


def find_drush(project_dir: Path, root: Path, environ: Mapping[str, str]) -> str | None:
    """``drush`` on PATH, else the project's Composer-installed ``vendor/bin/drush``."""
    found = shutil.which("drush", path=environ.get("PATH"))
    if found:
        return found
    for base in (project_dir, root.parent):
        local = base / "vendor" / "bin" / "drush"
        if local.is_file() and os.access(local, os.X_OK):
            return str(local)
    return None


def drush_command(drush: str, site: DrupalSite, *arguments: str) -> list[str]:
    folder = site.site_path.split("/", 1)[1]
    return [drush, f"--root={site.root}", f"--uri={folder}", *arguments]


def read_settings(site: DrupalSite, project_dir: Path, environ: Mapping[str, str] | None = None) -> DrupalSettings:
    """The site's settings: from the file (always, when it exists), with Drush's answer on top."""
    env = composer_environment(site, project_dir, dict(os.environ if environ is None else environ))
    result = DrupalSettings()
    # Anything but a folder: a named pipe (a secrets manager's) is read, a device refused with an error
    # by read_config_text, rather than either being silently taken for no configuration.
    if site.settings_file.exists() and not site.settings_file.is_dir():
        _read_file(site, project_dir, env, result)
    else:
        result.notes.append(f"{site.settings_file} is missing (the site is not installed here yet)")
    result.drush = find_drush(project_dir, site.root, env)
    if result.drush is not None:
        try:
            _read_with_drush(site, env, result)
        except ConfigError as exc:
            log.warning("drush could not report the site's settings (%s); using settings.php as read", exc)
    if result.source != "drush" and site.settings_file.is_file() and _unknown_default(result) is not None:
        _read_with_php(site, env, result)
    return result


def _read_with_php(site: DrupalSite, environ: Mapping[str, str], result: DrupalSettings) -> None:
    """What the reader left unknown (a reference, a loop, a function of the site's), from settings.php run by
    the PHP CLI (:mod:`synco_drupal.settings_php`) where there is one; otherwise the reader's refusal stands."""
    php = find_php(environ)
    if php is None:
        return
    try:
        databases, settings = settings_with_php(php, site, environ)
    except ConfigError as exc:
        log.warning("settings.php could not be read with PHP either (%s)", exc)
        return
    result.databases, result.settings, result.unknown_databases, result.source = databases, settings, None, "php"
    log.debug("Drupal settings read by running %s with %s (config_source=php)", site.settings_file, php)


def _composer_root(site: DrupalSite, project_dir: Path) -> Path | None:
    for folder in (project_dir, site.root.parent, site.root):
        if (folder / "composer.json").is_file():
            return folder
    return None


def composer_environment(site: DrupalSite, project_dir: Path, environ: dict[str, str]) -> dict[str, str]:
    """The environment settings.php's ``getenv()`` sees: with drupal-composer/drupal-project, Composer's
    autoloader first runs ``load.environment.php``, which loads the project's ``.env`` with phpdotenv
    (the real environment wins). Any file of ``autoload.files`` that uses Dotenv counts."""
    root = _composer_root(site, project_dir)
    if root is None or not (root / ".env").exists():
        return environ
    try:
        manifest = json.loads(read_config_text(root / "composer.json", kind="composer.json"))
    except (OSError, ValueError):
        return environ  # Composer itself would refuse it; settings.php is read with the real environment.
    autoload = manifest.get("autoload") if isinstance(manifest, dict) else None
    files = autoload.get("files") if isinstance(autoload, dict) else None
    for name in files if isinstance(files, list) else []:
        path = root / str(name)
        try:
            loads_dotenv = path.is_file() and "Dotenv" in read_config_text(path, kind="autoloaded file",
                                                                           errors="replace")
        except OSError:
            loads_dotenv = False
        if loads_dotenv:
            loaded = load_dotenv_files([root / ".env"], environ=environ, style="phpdotenv")
            log.debug("%s loads %s (Composer's autoload.files)", name, root / ".env")
            return {**environ, **loaded}
    return environ


def _read_file(site: DrupalSite, project_dir: Path, environ: Mapping[str, str], result: DrupalSettings) -> None:
    boundaries = [site.root, project_dir]

    def follow(path: Path) -> bool | None:
        # The path as PHP names it counts, as well as where it leads: a deploy tool links settings.local.php
        # of each release to a shared folder beside the releases, and PHP reads it through the link. Drupal's
        # and its dependencies' code sets no settings (None); a file outside the project (a secrets file under
        # /etc) is settings synco may not read (False), which leaves what it may set unknown.
        for boundary in boundaries:
            parts = path_below(path, boundary)
            if parts is not None:
                real_parts = path_below(Path(os.path.realpath(path)), boundary) or ("",)
                if {*parts[:-1], *real_parts[:-1]} & CODE_FOLDERS:
                    return None
                return path.suffix == ".php"
        return False

    php = read_php_config(site.settings_file, environ=environ,
                          variables={"app_root": str(site.root), "site_path": site.site_path, "databases": {},
                                     "settings": {}, "config": {}},
                          constants={"DRUPAL_ROOT": str(site.root)}, follow=follow, cwd=site.root)
    databases = php.variables.get("databases")
    settings = php.variables.get("settings")
    result.databases = databases if isinstance(databases, dict) else {}
    if isinstance(databases, PhpUnknown):
        result.unknown_databases = databases.reason
    result.settings = settings if isinstance(settings, dict) else {}
    result.notes.extend(php.notes)
    log.debug("Drupal settings read from %s (config_source=files)", ", ".join(str(f) for f in php.files))


def _read_with_drush(site: DrupalSite, environ: Mapping[str, str], result: DrupalSettings) -> None:
    assert result.drush is not None
    status_run = run_command(drush_command(result.drush, site, "status", "--format=json"), cwd=site.root,
                             timeout=DRUSH_TIMEOUT, env=dict(environ))
    try:
        status = json.loads(status_run.stdout)
    except ValueError:
        raise ConfigError("drush status printed no JSON") from None
    if not isinstance(status, dict) or not status.get("db-driver"):
        raise ConfigError("drush status reports no database (is the site installed?)")
    connection = dict(_default_connection(result.databases))
    for key, name in (("db-driver", "driver"), ("db-hostname", "host"), ("db-port", "port"),
                      ("db-username", "username"), ("db-name", "database")):
        if status.get(key) not in (None, ""):
            connection[name] = str(status[key])
    password = _password_from_sql_connect(result.drush, site, environ)
    if password is not None:
        connection["password"] = password
    result.databases.setdefault("default", {})["default"] = connection
    # Drush named the connection: what the files could not work out of $databases no longer matters.
    result.unknown_databases = None
    for key, name in (("files", "file_public_path"), ("private", "file_private_path")):
        if isinstance(status.get(key), str) and status[key]:
            result.settings[name] = status[key]
    result.source = "drush"
    log.debug("Drupal settings read with %s status (config_source=drush)", result.drush)


def _password_from_sql_connect(drush: str, site: DrupalSite, environ: Mapping[str, str]) -> str | None:
    """The password ``drush sql:connect`` puts on the client's command line (MySQL's ``--password=``)."""
    try:
        connect = run_command(drush_command(drush, site, "sql:connect"), cwd=site.root, timeout=DRUSH_TIMEOUT,
                              env=dict(environ))
    except ConfigError as exc:
        log.debug("drush sql:connect failed: %s", exc)
        return None
    try:
        words = shlex.split(connect.stdout.strip())
    except ValueError:
        return None
    for word in words:
        if word.startswith("--password="):
            return word.split("=", 1)[1]
    return None


def _default_connection(databases: Mapping[Any, Any]) -> Mapping[str, Any]:
    default = databases.get("default")
    target = default.get("default") if isinstance(default, dict) else None
    return target if isinstance(target, dict) else {}


def _unknown_default(settings: DrupalSettings) -> tuple[str, str] | None:
    """``(where, why)`` when ``$databases['default']['default']``, or a value in it, is not known without PHP."""
    if settings.unknown_databases is not None:
        return "settings", settings.unknown_databases
    default = settings.databases.get("default")
    for value in (default, default.get("default") if isinstance(default, dict) else None):
        if isinstance(value, PhpUnknown):
            return "settings", value.reason
    return unknown_setting(dict(_default_connection(settings.databases)))


def default_connection(settings: DrupalSettings) -> dict[str, Any]:
    """``$databases['default']['default']``, checked to be readable (at any depth: a table prefix or a TLS
    option computed by code is as unknown as a host)."""
    unknown = _unknown_default(settings)
    if unknown is not None:
        key, reason = unknown
        raise ConfigError(f"settings.php: the database {key} cannot be read without PHP ({reason}); install drush, "
                          "or give the database in .synco.yml and pass --framework drupal (which keeps its sanitising)")
    return dict(_default_connection(settings.databases))
