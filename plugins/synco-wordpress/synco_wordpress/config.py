"""Finding a WordPress installation and reading its ``wp-config.php``.

Where things are: WordPress itself (``ABSPATH``: the folder with ``wp-settings.php`` and ``wp-includes/``) is
the project directory, or a folder one level below it when WordPress has its own directory and the
project directory holds ``wp-config.php``. ``wp-config.php`` sits in ``ABSPATH`` or, as ``wp-load.php``
allows, in the folder above it (when that folder is not itself a WordPress). A Bedrock project (roots.io)
keeps its configuration in ``config/application.php`` (and ``config/environments/<WP_ENV>.php``), its
settings in ``.env``, and serves ``web/``: ``web/wp-config.php`` only loads ``config/application.php``,
WordPress is ``web/wp/`` and the content folder ``web/app/``.

The web root (where the uploads' URLs start) is ``ABSPATH``, or the project directory when that is where
WordPress in its own directory is served from (it holds the ``index.php`` that loads WordPress), or
Bedrock's ``web/``.

How it is read: with WP-CLI on ``PATH`` (and PHP to run it), ``wp config get --format=json`` answers first:
WordPress's own tool evaluates the file. Otherwise (or when WP-CLI fails) synco's PHP configuration reader
evaluates it without running PHP (:func:`synco_core.read_php_config`): ``define()`` calls, ``$table_prefix``,
``getenv()`` / ``$_ENV`` / the Docker image's ``getenv_docker()``, ``if`` blocks and included local
configuration files, never ``wp-settings.php``. For Bedrock the reader sees the environment as Bedrock's
``application.php`` does (``.env``, and ``.env.local`` over it, beneath the real environment) and follows
``application.php``'s ``Config::define()`` / ``Config::get()`` (roots/wp-config), which become constants.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synco_core import (
    ConfigError,
    PhpUnknown,
    load_dotenv_files,
    path_below,
    read_config_text,
    read_php_config,
    run_command,
)

log = logging.getLogger(__name__)

#: Seconds WP-CLI may take (it starts PHP; ``config get`` does not load WordPress).
WP_CLI_TIMEOUT = 60.0
#: Files WordPress itself loads: never read as configuration (running them is running WordPress).
BOOTSTRAP_FILES = frozenset({"wp-settings.php", "wp-load.php", "wp-blog-header.php", "index.php"})
_VERSION = re.compile(r"\$wp_version\s*=\s*'([^']+)'")


@dataclass(frozen=True)
class Layout:
    """Where the parts of one WordPress installation are."""

    #: ``ABSPATH``: WordPress's own folder.
    root: Path
    #: ``wp-config.php``, or None when the installation has none yet.
    config_file: Path | None
    #: The folder the web server serves at the site's home URL.
    web_root: Path
    #: A Bedrock project's folder (``config/application.php``, ``.env``), or None.
    bedrock: Path | None = None


@dataclass
class WordPressConfig:
    """What the plugin needs of one WordPress installation."""

    #: ``ABSPATH``: WordPress's own folder.
    root: Path
    #: ``wp-config.php``, or None when the installation has none yet.
    config_file: Path | None
    #: The constants ``wp-config.php`` defines (values may be :class:`~synco_core.PhpUnknown`).
    constants: dict[str, Any] = field(default_factory=dict)
    table_prefix: str = "wp_"
    #: ``wp-cli`` when WP-CLI answered, ``files`` when the reader evaluated the file.
    source: str = "files"
    #: The ``wp`` command, when WP-CLI is on PATH.
    wp: str | None = None
    version: str = ""
    notes: list[str] = field(default_factory=list)
    #: The folder served at the home URL (see :class:`Layout`).
    web_root: Path | None = None
    #: A Bedrock project's folder, or None.
    bedrock: Path | None = None

    def text(self, name: str) -> str | None:
        """A constant as text: None when it is not defined or not known without PHP."""
        value = self.constants.get(name)
        if value is None or isinstance(value, (PhpUnknown, dict)) or value is False:
            return None
        if value is True:
            return "1"
        return str(value)

    def flag(self, name: str) -> bool:
        value = self.constants.get(name)
        if isinstance(value, str):
            return value.lower() not in ("", "0", "false")
        return value is True or (isinstance(value, int) and value != 0)

    @property
    def multisite(self) -> bool:
        return self.flag("MULTISITE")


def is_wordpress(folder: Path) -> bool:
    """WordPress's own folder: ``wp-settings.php`` beside ``wp-includes/``."""
    return (folder / "wp-settings.php").is_file() and (folder / "wp-includes").is_dir()


def _bedrock_layout(project_dir: Path) -> Layout | None:
    """A Bedrock project, with ``project_dir`` its folder, its web root (``web/``) or WordPress (``web/wp``)."""
    if is_wordpress(project_dir) and (project_dir.parent.parent / "config" / "application.php").is_file():
        project_dir = project_dir.parent
    for base in (project_dir, project_dir.parent):
        if not (base / "config" / "application.php").is_file():
            continue
        web_roots = [project_dir] if base != project_dir else sorted(
            child for child in base.iterdir() if child.is_dir() and (child / "wp-config.php").is_file())
        for web in web_roots:
            if web.parent != base or not (web / "wp-config.php").is_file():
                continue
            # Bedrock installs WordPress into web/wp; composer.json's wordpress-install-dir may name another.
            cores = sorted(child for child in web.iterdir() if child.is_dir() and is_wordpress(child))
            if cores:
                return Layout(root=cores[0], config_file=web / "wp-config.php", web_root=web, bedrock=base)
    return None


def composer_install_dir(project_dir: Path) -> Path | None:
    """The WordPress core ``composer.json`` installs (``extra.wordpress-install-dir``, a folder or one per
    package, as johnpbloch's and roots' core installers read it), when it is one inside the project; a
    ``composer.json`` that cannot be read names none (Composer would refuse it too)."""
    path = project_dir / "composer.json"
    if not path.is_file():
        return None
    try:
        composer = json.loads(read_config_text(path, kind="Composer file"))
    except (OSError, ConfigError, ValueError):
        return None
    extra = composer.get("extra") if isinstance(composer, dict) else None
    named = extra.get("wordpress-install-dir") if isinstance(extra, dict) else None
    folders = [named] if isinstance(named, str) else list(named.values()) if isinstance(named, dict) else []
    for text in folders:
        folder = Path(os.path.normpath(project_dir / str(text)))
        if folder.is_relative_to(project_dir) and folder != project_dir and is_wordpress(folder):
            return folder
    return None


def find_installation(project_dir: Path) -> Layout | None:
    """Where the installation in ``project_dir`` is, or None when it is not a WordPress project."""
    bedrock = _bedrock_layout(project_dir)
    if bedrock is not None:
        return bedrock
    if is_wordpress(project_dir):
        root = project_dir
    elif (project_dir / "wp-config.php").is_file():
        # WordPress in its own directory: the project holds wp-config.php (and index.php), the core a level down.
        inner = sorted(child for child in project_dir.iterdir() if child.is_dir() and is_wordpress(child))
        if not inner:
            return None
        root = inner[0]
    else:
        installed = composer_install_dir(project_dir)
        if installed is None:
            return None
        root = installed
    # Served from the project directory when it holds the index.php that loads WordPress (its own directory);
    # a folder that only keeps wp-config.php out of the web root (public_html's parent) is not served.
    web_root = project_dir if root == project_dir or (project_dir / "index.php").is_file() else root
    if web_root == root and root.parent != project_dir and (root.parent / "index.php").is_file():
        # The core Composer put in public/wp, served by public/index.php (WordPress in its own directory).
        web_root = root.parent
    for candidate in (root / "wp-config.php", root.parent / "wp-config.php"):
        # Not is_file(): a device or a pipe is read (and refused or timed out) by read_php_config, not ignored.
        readable = candidate.exists() and not candidate.is_dir()
        if readable and (candidate.parent == root or not is_wordpress(candidate.parent)):
            return Layout(root=root, config_file=candidate, web_root=web_root)
    return Layout(root=root, config_file=None, web_root=web_root)


def wordpress_version(root: Path) -> str:
    """``$wp_version`` from ``wp-includes/version.php`` (read as text: it is one assignment)."""
    try:
        found = _VERSION.search(read_config_text(root / "wp-includes" / "version.php", kind="WordPress version file",
                                                 errors="replace"))
    except OSError:
        return ""
    return found.group(1) if found else ""


def find_wp_cli(environ: Mapping[str, str] | None = None) -> str | None:
    """The ``wp`` command on PATH (``$WP_CLI`` names another), or None."""
    env = os.environ if environ is None else environ
    return shutil.which(env.get("WP_CLI") or "wp", path=env.get("PATH"))


def wp_command(wp: str, root: Path, *arguments: str) -> list[str]:
    """A WP-CLI command line for the installation at ``root`` (``--allow-root`` when synco runs as root, which
    WP-CLI otherwise refuses)."""
    command = [wp, *arguments, f"--path={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command


def read_config(project_dir: Path, environ: Mapping[str, str] | None = None) -> WordPressConfig | None:
    """The installation in ``project_dir`` and its configuration, or None when it is not WordPress."""
    found = find_installation(project_dir)
    if found is None:
        return None
    root, config_file = found.root, found.config_file
    config = WordPressConfig(root=root, config_file=config_file, version=wordpress_version(root),
                             web_root=found.web_root, bedrock=found.bedrock)
    if config_file is None:
        config.notes.append("wp-config.php is missing (WordPress is not configured here yet)")
        return config
    env = dict(os.environ if environ is None else environ)
    config.wp = find_wp_cli(env)
    if config.wp is not None:
        try:
            _read_with_wp_cli(config, env)
            return config
        except ConfigError as exc:
            log.warning("WP-CLI could not report the configuration (%s); reading wp-config.php instead", exc)
    _read_file(config, env)
    return config


def _read_with_wp_cli(config: WordPressConfig, environ: Mapping[str, str]) -> None:
    """``wp config get --format=json``: every constant and variable of wp-config.php, as WordPress sees them."""
    assert config.wp is not None
    result = run_command(wp_command(config.wp, config.root, "config", "get", "--format=json"), cwd=config.root,
                         timeout=WP_CLI_TIMEOUT, env=dict(environ))
    try:
        entries = json.loads(result.stdout)
    except ValueError:
        raise ConfigError("wp config get printed no JSON") from None
    if not isinstance(entries, list):
        raise ConfigError("wp config get printed something other than a list")
    for entry in entries:
        if not isinstance(entry, dict) or "name" not in entry:
            continue
        name, value = str(entry["name"]), entry.get("value")
        if entry.get("type") == "variable":
            if name == "table_prefix" and isinstance(value, str):
                config.table_prefix = value
        elif entry.get("type", "constant") == "constant":
            config.constants[name] = value
    config.source = "wp-cli"
    log.debug("WordPress configuration read with %s config get (config_source=wp-cli)", config.wp)


def _read_file(config: WordPressConfig, environ: Mapping[str, str]) -> None:
    """Evaluate wp-config.php with synco's PHP reader (no PHP run, WordPress never loaded)."""
    assert config.config_file is not None
    # Bedrock's web/wp-config.php loads ../config/application.php: the whole project is read (vendor/ never).
    boundary = config.bedrock or config.config_file.parent
    functions: dict[str, Callable[..., Any]] = {}
    config_map: dict[str, Any] = {}
    if config.bedrock is not None:
        environ = bedrock_environment(config.bedrock, environ)
        functions = bedrock_functions(config_map)

    def follow(path: Path) -> bool | None:
        # Local configuration files beside wp-config.php (wp-config-local.php, a secrets file) are read, also
        # through a link into a deploy tool's shared folder; WordPress itself and Composer's autoloader never
        # are, and set no configuration (None). A file outside the project (/etc/wordpress/config-prod.php) is
        # configuration synco may not read (False): what it may define is unknown, never a fallback after it.
        parts = path_below(path, boundary)
        real_parts = path_below(Path(os.path.realpath(path)), boundary) or ()
        if path.name in BOOTSTRAP_FILES or {"wp-includes", "wp-admin", "vendor"} & {*(parts or ()), *real_parts}:
            return None
        return parts is not None

    # Bedrock's Dotenv load() is done above (bedrock_environment): its variables are not unknown after it.
    php = read_php_config(config.config_file, environ=environ, constants={"ABSPATH": f"{config.root}/"},
                          follow=follow, functions=functions, environment_loaded=config.bedrock is not None)
    # Config::apply() turns the map into constants; one define()d directly stays (PHP keeps the first).
    config.constants = {**config_map, **php.constants}
    prefix = php.variables.get("table_prefix")
    if isinstance(prefix, str):
        config.table_prefix = prefix
    elif isinstance(prefix, PhpUnknown):
        raise ConfigError(f"{config.config_file}: $table_prefix cannot be read without PHP ({prefix.reason})")
    config.notes.extend(php.notes)
    config.source = "files"
    log.debug("WordPress configuration read from %s (config_source=files)%s", config.config_file,
              "; " + "; ".join(php.notes) if php.notes else "")


def bedrock_environment(project: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment Bedrock's ``application.php`` sees: ``.env`` and ``.env.local`` (read only when ``.env``
    exists, as Bedrock does), the real environment winning over both (phpdotenv's immutable repository)."""
    env = dict(environ)
    if not (project / ".env").exists():
        return env
    env.update(load_dotenv_files([project / ".env", project / ".env.local"], environ=env, style="phpdotenv"))
    return env


def bedrock_functions(config_map: dict[str, Any]) -> dict[str, Callable[..., Any]]:
    """roots/wp-config's ``Config`` class: ``define()`` fills ``config_map`` (a later call wins, as in Bedrock),
    ``get()`` reads it back, ``apply()`` is left to the caller (the map becomes constants)."""

    def define(name: Any, value: Any) -> None:
        if isinstance(name, str):
            config_map[name] = value

    def get(name: Any) -> Any:
        if not isinstance(name, str) or name not in config_map:
            return PhpUnknown(f"Config::get({name!r}) of a key not defined before")
        return config_map[name]

    def remove(name: Any) -> None:
        if isinstance(name, str):
            config_map.pop(name, None)

    return {"Config::define": define, "Config::get": get, "Config::apply": lambda: None, "Config::remove": remove}


def required(config: WordPressConfig, name: str, *, null_is_empty: bool = False) -> str:
    """A database constant that must be readable: a one-line ConfigError saying why it is not.

    ``null_is_empty``: a constant defined as null is the empty string (a password ``DATABASE_URL`` leaves out).
    """
    value = config.constants.get(name)
    if value is None and null_is_empty and name in config.constants:
        return ""
    if isinstance(value, PhpUnknown):
        # A database named in .synco.yml alone makes the project synco-generic's, without this plugin's
        # sanitising: the advice keeps the WordPress profile.
        raise ConfigError(f"{config.config_file}: {name} cannot be read without PHP ({value.reason}); install "
                          "WP-CLI, or give the database in .synco.yml and pass --framework wordpress (or set "
                          "SYNCO_DATABASE_URL)")
    if value is None:
        if config.bedrock is not None:
            raise ConfigError(f"{config.bedrock / '.env'}: {name} is not set (Bedrock's config/application.php "
                              f"reads {name} or DATABASE_URL from .env or the environment)")
        raise ConfigError(f"{config.config_file}: {name} is not defined")
    return str(value)
