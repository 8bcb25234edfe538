"""Reading a Laravel project's database and filesystem configuration.

Two ways, tried in this order:

- ``php artisan tinker --execute`` printing ``config('database')`` and ``config('filesystems')`` as JSON:
  the framework's own answer, which honours ``config/*.php``, the config cache and every environment
  variable exactly as the application sees them;
- without PHP (or when that command fails), ``.env`` read with dotenv rules and the defaults of the
  skeleton's ``config/database.php`` / ``config/filesystems.php`` for the project's Laravel version.

Both produce the same :class:`LaravelConfig`, so everything downstream is shared.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synco_core import (
    MAX_LOCK_FILE_BYTES,
    ConfigError,
    FrameworkCommandError,
    PhpUnknown,
    find_php,
    load_dotenv_files,
    pdo_attribute_name,
    platform_endpoint_parts,
    platform_in_runtime,
    platform_relationship,
    read_config_text,
    read_php_config,
    run_command,
)
from synco_laravel.configfiles import read_config_file
from synco_laravel.publicpath import moved_public_path

log = logging.getLogger(__name__)

#: Seconds ``php artisan tinker`` may take: it boots the whole application, which is slow on a cold cache.
ARTISAN_TIMEOUT = 60.0

#: Printed before the JSON, so output from service providers or PsySH around it cannot confuse the parser.
MARKER = "SYNCO-LARAVEL-CONFIG:"

#: The PDO attributes whose numbers tinker reports, so JSON's numeric option keys can be named.
_PDO_ATTRIBUTES = ("MYSQL_ATTR_SSL_KEY", "MYSQL_ATTR_SSL_CERT", "MYSQL_ATTR_SSL_CA", "MYSQL_ATTR_SSL_CAPATH",
                   "MYSQL_ATTR_SSL_CIPHER", "MYSQL_ATTR_SSL_VERIFY_SERVER_CERT")

#: The PHP that tinker runs. ``app()->version()`` and the path helpers exist in every supported version.
#: ``pdo_mysql`` tells whether this PHP has the extension (the skeleton's connection ``options`` are empty
#: without it) and the numbers of its ``PDO::MYSQL_ATTR_SSL_*`` constants.
TINKER_CODE = (
    "$synco_pdo = ['loaded' => extension_loaded('pdo_mysql'), 'attributes' => [], "
    "'skeleton_ssl_ca' => env('MYSQL_ATTR_SSL_CA')]; "
    "foreach (['" + "', '".join(_PDO_ATTRIBUTES) + "'] as $synco_name) { "
    "if (defined('PDO::' . $synco_name)) { $synco_pdo['attributes'][(string) constant('PDO::' . $synco_name)] "
    "= $synco_name; } } "
    "echo PHP_EOL . '" + MARKER + "' . json_encode(["
    "'version' => app()->version(), "
    "'database' => config('database'), "
    "'filesystems' => config('filesystems'), "
    "'public_path' => public_path(), "
    "'base_path' => base_path(), "
    "'app_url' => config('app.url'), "
    "'pdo_mysql' => $synco_pdo"
    "], JSON_UNESCAPED_SLASHES | JSON_PARTIAL_OUTPUT_ON_ERROR) . PHP_EOL;"
)

_VERSION_CONST = re.compile(r"const\s+VERSION\s*=\s*'(\d+)\.(\d+)[^']*'")


@dataclass
class LaravelConfig:
    """What the plugin needs of a Laravel project's configuration."""

    #: ``config('database')``: ``default`` and ``connections``.
    database: dict[str, Any]
    #: ``config('filesystems')``: ``default``, ``disks`` and ``links``.
    filesystems: dict[str, Any]
    #: The web root (``public_path()``).
    public_path: Path
    #: Major version (10, 11, ...) when known.
    major: int | None
    #: The full version string when known (``11.31.0``), else what it was guessed from.
    version: str
    #: ``php`` when artisan answered, ``files`` when ``.env`` and the defaults were read.
    source: str
    #: The interpreter used (None on the file fallback).
    php: str | None = None
    #: ``config('app.url')``: where the site is served (``APP_URL``), or None when not set.
    app_url: str | None = None
    notes: list[str] = field(default_factory=list)
    #: What the files-mode settings came from, for ``detect``: ``.env``, ``.env.production`` (see
    #: :func:`environment_file`) or the config cache.
    files_source: str = ".env"


def detect_major_version(project_dir: Path) -> tuple[int | None, str]:
    """Laravel's major version from the installed framework, composer files, or the skeleton's shape.

    Returns ``(major, description)``; the description says where the version came from, for ``detect``.
    """
    application = project_dir / "vendor/laravel/framework/src/Illuminate/Foundation/Application.php"
    try:
        match = _VERSION_CONST.search(read_config_text(application, kind="Laravel source file", errors="replace"))
    except OSError:
        match = None
    if match:
        return int(match.group(1)), f"{match.group(1)}.{match.group(2)}"
    try:
        # A lock file lists every package: bigger than a configuration file, so its own documented bound.
        lock = json.loads(read_config_text(project_dir / "composer.lock", kind="Composer lock file",
                                           limit=MAX_LOCK_FILE_BYTES, errors="replace"))
        for package in lock.get("packages", []):
            if package.get("name") == "laravel/framework":
                version = str(package.get("version", "")).lstrip("v")
                if version[:2].isdigit() or version[:1].isdigit():
                    return int(version.split(".")[0]), version
    except (OSError, ValueError, AttributeError):
        pass
    try:
        composer = json.loads(read_config_text(project_dir / "composer.json", kind="composer.json file",
                                               errors="replace"))
        constraint = str(composer.get("require", {}).get("laravel/framework", ""))
        found = re.search(r"(\d+)", constraint)
        if found:
            return int(found.group(1)), f"{found.group(1)}.x (composer.json {constraint})"
    except (OSError, ValueError, AttributeError):
        pass
    # Laravel 11 replaced the kernels with Application::configure() in bootstrap/app.php.
    try:
        bootstrap = read_config_text(project_dir / "bootstrap/app.php", kind="PHP configuration file", errors="replace")
    except OSError:
        return None, "unknown"
    if "Application::configure(" in bootstrap:
        return 11, "11+ (bootstrap/app.php)"
    return 10, "10 or older (bootstrap/app.php)"


def read_config(project_dir: Path, environ: Mapping[str, str] | None = None) -> LaravelConfig:
    """The project's configuration, from ``php artisan`` when possible, else from the files."""
    env = dict(os.environ if environ is None else environ)
    php = find_php(env)
    if php is not None:
        try:
            config = read_config_with_php(project_dir, php, env)
        except ConfigError as exc:
            # The files are a reasonable second opinion: a broken vendor/ or a missing tinker package must
            # not stop a transfer the .env file describes well enough. One short line: this runs on every
            # command, and the whole tinker command is in the --debug log.
            reason = f"php artisan tinker {exc.reason}" if isinstance(exc, FrameworkCommandError) else str(exc)
            log.warning("%s; read .env instead", reason)
        else:
            log.debug("Laravel configuration read with %s artisan tinker (config_source=php)", php)
            return config
    else:
        log.debug("no PHP interpreter found; reading the Laravel configuration from .env")
    config = read_config_from_files(project_dir, env)
    log.debug("Laravel configuration read from .env and Laravel %s defaults (config_source=files)", config.version)
    return config


def read_config_with_php(project_dir: Path, php: str, environ: Mapping[str, str]) -> LaravelConfig:
    """Ask the application itself through ``php artisan tinker --execute``."""
    result = run_command([php, "artisan", "tinker", "--execute", TINKER_CODE], cwd=project_dir,
                         timeout=ARTISAN_TIMEOUT, env=environ)
    payload: dict[str, Any] | None = None
    for line in result.stdout.splitlines():
        if line.startswith(MARKER):
            try:
                decoded = json.loads(line[len(MARKER):])
            except ValueError:
                break
            if isinstance(decoded, dict):
                payload = decoded
            break
    if payload is None:
        raise ConfigError("php artisan tinker printed no configuration (is laravel/tinker installed?)")
    database = payload.get("database")
    filesystems = payload.get("filesystems")
    if not isinstance(database, dict) or not isinstance(database.get("connections"), dict):
        raise ConfigError("php artisan tinker: config('database') has no connections")
    version = str(payload.get("version") or "")
    major = int(version.split(".")[0]) if version[:1].isdigit() else None
    public_path = Path(str(payload.get("public_path") or project_dir / "public"))
    name_pdo_options(database, payload.get("pdo_mysql"))
    app_url = payload.get("app_url")
    return LaravelConfig(
        database=database,
        filesystems=filesystems if isinstance(filesystems, dict) else {},
        public_path=public_path if public_path.is_absolute() else project_dir / public_path,
        major=major,
        version=version or "unknown",
        source="php",
        php=php,
        app_url=str(app_url) if isinstance(app_url, str) and app_url.strip() else None,
    )


def name_pdo_options(database: dict[str, Any], pdo_mysql: Any) -> None:
    """Give the MySQL connections' PDO options their constant names, in place.

    JSON shows ``PDO::MYSQL_ATTR_SSL_CA => ...`` under the constant's number, which depends on how PHP
    was built; tinker reports this PHP's numbers. A PHP without pdo_mysql (a CLI that is not the web
    server's) leaves the skeleton's ``options`` empty, although the application, where it runs, reads
    ``MYSQL_ATTR_SSL_CA``: that value is then put back, as the skeleton would.
    """
    info = pdo_mysql if isinstance(pdo_mysql, dict) else {}
    raw = info.get("attributes")
    numbers = {int(k): str(v) for k, v in raw.items() if str(k).isdigit()} if isinstance(raw, dict) else {}
    for connection in (database.get("connections") or {}).values():
        if not isinstance(connection, dict) or connection.get("driver") not in ("mysql", "mariadb"):
            continue
        options = connection.get("options")
        if isinstance(options, dict) and options:
            connection["options"] = {_option_name(key, numbers): value for key, value in options.items()}
        elif info and not info.get("loaded") and info.get("skeleton_ssl_ca"):
            connection["options"] = {"MYSQL_ATTR_SSL_CA": info["skeleton_ssl_ca"]}


def _option_name(key: Any, numbers: dict[int, str]) -> str:
    """The constant's name for a numeric key; another number is marked so no other table reads it as TLS."""
    name = pdo_attribute_name(key, numbers or None)
    if name:
        return name
    return f"PDO_{key}" if str(key).isdigit() else str(key)


class _Env:
    """Laravel's ``env()``: the real environment first, then ``.env``, with its literal conversions."""

    def __init__(self, values: Mapping[str, str], environ: Mapping[str, str]) -> None:
        self._values = values
        self._environ = environ

    def __call__(self, name: str, default: Any = None) -> Any:
        if name in self._environ:
            raw: str | None = self._environ[name]
        else:
            raw = self._values.get(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in ("true", "(true)"):
            return True
        if lowered in ("false", "(false)"):
            return False
        if lowered in ("empty", "(empty)"):
            return ""
        if lowered in ("null", "(null)"):
            return None
        return raw


#: Platform.sh's bridge for Laravel: Composer's autoloader runs it before Laravel reads ``.env``.
LARAVEL_BRIDGE = "platformsh/laravel-bridge"


def platform_bridge_environment(project_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment after ``platformsh/laravel-bridge`` ran, when the project uses it on Platform.sh
    (:func:`synco_core.platform_in_runtime`): ``DB_CONNECTION``, ``DB_HOST``, ``DB_PORT``, ``DB_DATABASE``,
    ``DB_USERNAME`` and ``DB_PASSWORD`` from the relationship named ``database``, over the real environment
    (the bridge sets them whatever was set), so ``.env`` never names them. Elsewhere ``environ`` as it is.
    ``php artisan tinker`` runs the bridge itself: this is for the files' reading."""
    env = dict(environ)
    if not platform_in_runtime(env):
        return env
    uses = (project_dir / "vendor" / LARAVEL_BRIDGE).is_dir()
    if not uses:
        try:
            composer = json.loads(read_config_text(project_dir / "composer.json", kind="composer.json file",
                                                   errors="replace"))
            uses = isinstance(composer, dict) and LARAVEL_BRIDGE in (composer.get("require") or {})
        except (OSError, ValueError, TypeError):
            uses = False
    endpoint = platform_relationship(env, "database") if uses else None
    if endpoint is None:
        return env
    parts = platform_endpoint_parts(endpoint, "database", ("scheme", "host", "port", "path", "username", "password"))
    names = ("DB_CONNECTION", "DB_HOST", "DB_PORT", "DB_DATABASE", "DB_USERNAME", "DB_PASSWORD")
    return {**env, **dict(zip(names, parts, strict=True))}


def read_config_from_files(project_dir: Path, environ: Mapping[str, str]) -> LaravelConfig:
    """``.env``, the project's ``config/database.php`` and ``config/filesystems.php`` read without PHP
    (:mod:`synco_laravel.configfiles`), and the skeleton's defaults for what only PHP could compute."""
    environ = platform_bridge_environment(project_dir, environ)
    major, version = detect_major_version(project_dir)
    notes: list[str] = []
    cache = config_cache_path(project_dir, environ)
    if cache.exists():
        cached = read_config_cache(project_dir, cache, major, version, environ)
        if cached is not None:
            return cached
        notes.append(f"{cache} could not be read without PHP; .env is read instead")
    env_file = environment_file(project_dir, environ)
    # phpdotenv's rules: "$word" in a password is not a reference, only "${NAME}" is.
    values = load_dotenv_files([env_file], environ=environ, style="phpdotenv")
    env = _Env(values, environ)
    modern = major is None or major >= 11
    # The project's own config files over the skeleton's: env() there sees the environment, then .env.
    seen = {**values, **environ}
    own, other = url_variable(modern), url_variable(not modern)
    if not (project_dir / "config" / "database.php").exists() and env(other) and not env(own):
        log.warning("%s is set, but Laravel %s reads %s: it is not used (the DB_* settings are)", other,
                    "11 and later" if modern else "10 and earlier", own)
    database = read_config_file(project_dir / "config" / "database.php",
                                _default_database_config(project_dir, env, modern), project_dir, seen, notes)
    public = public_path_without_php(project_dir)
    filesystems = read_config_file(project_dir / "config" / "filesystems.php",
                                   _default_filesystems_config(project_dir, env, modern, public), project_dir, seen,
                                   notes, public)
    return LaravelConfig(
        database=database,
        filesystems=filesystems,
        public_path=public,
        major=major,
        version=version,
        source="files",
        notes=notes,
        # config/app.php: 'url' => env('APP_URL', 'http://localhost').
        app_url=str(env("APP_URL") or "") or "http://localhost",
        files_source=env_file.name,
    )


def environment_file(project_dir: Path, environ: Mapping[str, str]) -> Path:
    """The dotenv file Laravel loads: ``.env.<APP_ENV>`` instead of ``.env`` when ``APP_ENV`` is set in the
    real environment and that file exists (``LoadEnvironmentVariables::checkForSpecificEnvironmentFile()``,
    which looks before any file is loaded, so an ``APP_ENV`` inside ``.env`` does not count)."""
    app_env = environ.get("APP_ENV", "")
    # A name with a separator would leave the project folder; Laravel would look there, synco does not.
    if app_env and "/" not in app_env and "\\" not in app_env:
        specific = project_dir / f".env.{app_env}"
        if specific.is_file():
            return specific
    return project_dir / ".env"


def config_cache_path(project_dir: Path, environ: Mapping[str, str]) -> Path:
    """Where ``php artisan config:cache`` wrote the configuration: ``$APP_CONFIG_CACHE`` (read from the real
    environment only, as Laravel checks it before loading ``.env``; relative to the project unless absolute),
    else ``bootstrap/cache/config.php``."""
    configured = environ.get("APP_CONFIG_CACHE", "")
    if configured:
        path = Path(configured)
        return path if path.is_absolute() else project_dir / path
    return project_dir / "bootstrap" / "cache" / "config.php"


def _has_unknown(value: Any) -> bool:
    if isinstance(value, PhpUnknown):
        return True
    if isinstance(value, dict):
        return any(_has_unknown(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_unknown(item) for item in value)
    return False


def read_config_cache(project_dir: Path, cache: Path, major: int | None, version: str,
                      environ: Mapping[str, str]) -> LaravelConfig | None:
    """The configuration from Laravel's config cache, or None (with a warning) when it cannot be read.

    While the cache exists, Laravel reads neither ``.env`` nor ``config/*.php``: the cache is what the
    application uses, so ``.env`` (often left from before the last ``config:cache``, or absent from a
    container image) must not be read in its place. ``config:cache`` writes the array with
    ``var_export()``: plain values that synco's PHP configuration reader reads without running PHP.
    """
    try:
        returned = read_php_config(cache, environ=environ).returned
    except ConfigError as exc:
        log.warning("Laravel config cache %s cannot be read without PHP (%s); reading .env, which Laravel "
                    "ignores while the cache exists", cache, exc)
        return None
    database = returned.get("database") if isinstance(returned, dict) else None
    filesystems = returned.get("filesystems") if isinstance(returned, dict) else None
    if not isinstance(database, dict) or not isinstance(database.get("connections"), dict):
        log.warning("Laravel config cache %s has no database connections; reading .env, which Laravel ignores "
                    "while the cache exists", cache)
        return None
    if _has_unknown(database) or _has_unknown(filesystems):
        log.warning("Laravel config cache %s holds values only PHP could compute; reading .env, which Laravel "
                    "ignores while the cache exists", cache)
        return None
    name_pdo_options(database, None)
    app = returned.get("app")
    app_url = app.get("url") if isinstance(app, dict) else None
    log.debug("Laravel configuration read from the config cache %s (.env is not read while it exists)", cache)
    return LaravelConfig(
        database=database,
        filesystems=filesystems if isinstance(filesystems, dict) else {},
        # The cache holds no public_path(): the application's own files say where it is.
        public_path=public_path_without_php(project_dir),
        major=major,
        version=version,
        source="files",
        app_url=str(app_url) if isinstance(app_url, str) and app_url.strip() else None,
        notes=[f"read from the config cache {cache} (Laravel does not read .env while it exists)"],
        files_source=cache.relative_to(project_dir).as_posix() if cache.is_relative_to(project_dir) else str(cache),
    )


def skeleton_connections(project_dir: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    """The connections the skeleton's ``config/database.php`` gives with this ``.env``: the boilerplate
    every project carries (sqlite, mysql, mariadb, pgsql, sqlsrv), which ``detect`` leaves unmentioned."""
    major, _version = detect_major_version(project_dir)
    environ = platform_bridge_environment(project_dir, environ)
    env = _Env(load_dotenv_files([environment_file(project_dir, environ)], environ=environ, style="phpdotenv"),
               environ)
    modern = major is None or major >= 11
    connections: dict[str, Any] = _default_database_config(project_dir, env, modern)["connections"]
    return connections


def public_path_without_php(project_dir: Path) -> Path:
    """``public_path()`` as the application's files set it (``public/`` unless they move it); a move only PHP
    could work out, or a folder that does not exist, is said in one line (the web root stays ``public/``)."""
    moved = moved_public_path(project_dir)
    if moved is None:
        return project_dir / "public"
    if moved.path is None:
        log.warning("%s moves the public folder in a way synco cannot read without PHP (%s); the web root is "
                    "taken as public/ (set serve.web_root in .synco.yml)", moved.where, moved.why)
        return project_dir / "public"
    if not moved.path.is_dir():
        log.warning("%s moves the public folder to %s, which does not exist", moved.where, moved.path)
    log.debug("the public folder is %s (%s)", moved.path, moved.where)
    return moved.path


def url_variable(modern: bool) -> str:
    """The variable the framework's own ``config/database.php`` takes the connection's URL from."""
    return "DB_URL" if modern else "DATABASE_URL"


def _default_database_config(project_dir: Path, env: _Env, modern: bool) -> dict[str, Any]:
    """``config('database')`` of the Laravel 11 (``modern``) or Laravel 10 skeleton."""
    # Laravel 11 renamed DATABASE_URL to DB_URL, and the framework's config/database.php reads only its
    # version's name: the other one (a platform's DATABASE_URL) connects nowhere (read_config_from_files
    # says so). A project upgraded in place that kept its own config/database.php reads what that file reads.
    url = env(url_variable(modern))
    default_name, default_user = ("laravel", "root") if modern else ("forge", "forge")
    sqlite_path = str(project_dir / "database" / "database.sqlite")

    def server(driver: str, port: str, host: str = "127.0.0.1", charset: str = "utf8mb4") -> dict[str, Any]:
        connection: dict[str, Any] = {
            "driver": driver,
            "url": url,
            "host": env("DB_HOST", host),
            "port": env("DB_PORT", port),
            "database": env("DB_DATABASE", default_name),
            "username": env("DB_USERNAME", default_user),
            "password": env("DB_PASSWORD", ""),
            "charset": env("DB_CHARSET", charset) if modern else charset,
            "prefix": "",
        }
        if driver in ("mysql", "mariadb"):
            connection["unix_socket"] = env("DB_SOCKET", "")
            # The skeleton: array_filter([PDO::MYSQL_ATTR_SSL_CA => env('MYSQL_ATTR_SSL_CA')]).
            ssl_ca = env("MYSQL_ATTR_SSL_CA")
            connection["options"] = {"MYSQL_ATTR_SSL_CA": ssl_ca} if ssl_ca else {}
        if driver == "pgsql":
            connection["search_path"] = "public"
            connection["sslmode"] = "prefer"
        return connection

    connections: dict[str, Any] = {
        "sqlite": {
            "driver": "sqlite",
            "url": url,
            "database": env("DB_DATABASE", sqlite_path),
            "prefix": "",
        },
        "mysql": server("mysql", "3306"),
    }
    if modern:
        connections["mariadb"] = server("mariadb", "3306")
    connections["pgsql"] = server("pgsql", "5432", charset="utf8")
    connections["sqlsrv"] = server("sqlsrv", "1433", host="localhost", charset="utf8")
    return {"default": env("DB_CONNECTION", "sqlite" if modern else "mysql"), "connections": connections}


def _default_filesystems_config(project_dir: Path, env: _Env, modern: bool,
                                public: Path | None = None) -> dict[str, Any]:
    """``config('filesystems')`` of the Laravel 11 (``modern``) or Laravel 10 skeleton (``public``: the
    folder ``public_path()`` names)."""
    storage = project_dir / "storage"
    app_url = env("APP_URL") or ""
    return {
        "default": env("FILESYSTEM_DISK", "local"),
        "disks": {
            # Laravel 11 moved the private disk to storage/app/private; before, it was storage/app itself.
            "local": {"driver": "local", "root": str(storage / "app" / "private" if modern else storage / "app")},
            "public": {
                "driver": "local",
                "root": str(storage / "app" / "public"),
                "url": f"{app_url}/storage",
                "visibility": "public",
            },
            "s3": {
                "driver": "s3",
                "key": env("AWS_ACCESS_KEY_ID"),
                "secret": env("AWS_SECRET_ACCESS_KEY"),
                "region": env("AWS_DEFAULT_REGION"),
                "bucket": env("AWS_BUCKET"),
                "url": env("AWS_URL"),
                "endpoint": env("AWS_ENDPOINT"),
                "use_path_style_endpoint": env("AWS_USE_PATH_STYLE_ENDPOINT", False),
            },
        },
        "links": {str((public or project_dir / "public") / "storage"): str(storage / "app" / "public")},
    }
