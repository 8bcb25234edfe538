"""Craft's database connection, as ``craft\\services\\Config`` builds its ``DbConfig``.

The settings come from ``config/db.php`` (an array, possibly multi-environment with a ``'*'`` key), with the
``CRAFT_DB_*`` environment variables on top: Craft 4 and 5 merge them over the file (``App::envConfig``),
so they win. ``url`` (``CRAFT_DB_URL``) and ``dsn`` (``CRAFT_DB_DSN``) give the connection in one string.
The file is read by synco's PHP reader, which runs no PHP; ``App::env()``, ``App::parseEnv()`` and
``getenv()`` see the project's environment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synco_core import (
    ConfigError,
    DatabaseConfig,
    PhpConfigObject,
    PhpUnknown,
    normalise_engine,
    parse_database_url,
    read_php_config,
    register_secret,
)
from synco_craftcms.environment import as_text, env_value, normalise_value, parse_env

#: DbConfig's settings synco needs, by the suffix of their ``CRAFT_DB_`` variable.
SETTINGS = {
    "DRIVER": "driver", "SERVER": "server", "PORT": "port", "DATABASE": "database", "USER": "user",
    "PASSWORD": "password", "SCHEMA": "schema", "TABLE_PREFIX": "tablePrefix", "UNIX_SOCKET": "unixSocket",
    "DSN": "dsn", "URL": "url",
}
#: Craft's App helper, by its full name: the PHP reader finds it however config/db.php spells it.
APP = "craft\\helpers\\App"
#: The config classes whose fluent form (``DbConfig::create()->server(...)``, Craft 4 and 5) is read.
CONFIG_CLASSES = ("craft\\config\\DbConfig", "craft\\config\\GeneralConfig")
#: The driver constants a config/db.php may name the driver with.
PHP_CONSTANTS = {f"{cls}::{name}": value for cls in ("craft\\db\\Connection", "craft\\config\\DbConfig")
                 for name, value in (("DRIVER_MYSQL", "mysql"), ("DRIVER_PGSQL", "pgsql"))}


@dataclass
class CraftDatabase:
    """The connection, and what the dump profile needs to name Craft's tables."""

    database: DatabaseConfig
    table_prefix: str = ""
    schema: str = "public"
    notes: list[str] = field(default_factory=list)

    def table(self, name: str) -> str:
        """A Craft table (``users``) as synco's options name it: prefixed, and qualified outside ``public``."""
        qualified = self.table_prefix + name
        if self.database.engine == "postgresql" and self.schema and self.schema != "public":
            return f"{self.schema}.{qualified}"
        return qualified


def craft_environment_name(environ: Mapping[str, str]) -> str | None:
    """``CRAFT_ENVIRONMENT`` (Craft 4 and 5), or Craft 3's ``ENVIRONMENT`` that ``web/index.php`` defined it from."""
    return environ.get("CRAFT_ENVIRONMENT") or environ.get("ENVIRONMENT") or None


def php_helpers(environ: Mapping[str, str]) -> dict[str, Callable[..., Any]]:
    """``App::env()`` and friends, for the PHP reader."""

    def parse_boolean(value: object) -> bool | None:
        parsed = normalise_value(parse_env(environ, value)) if isinstance(value, str) else value
        return parsed if isinstance(parsed, bool) else None

    def create(cls: str) -> Callable[..., PhpConfigObject]:
        # BaseConfig::create(array $config = []): the fluent form's start, its setters named as the settings.
        def made(config: object = None) -> PhpConfigObject:
            return PhpConfigObject(cls, {str(k): v for k, v in config.items()} if isinstance(config, dict) else {})
        return made

    return {
        **{f"{cls}::create": create(cls) for cls in CONFIG_CLASSES},
        f"{APP}::env": lambda name: env_value(environ, str(name)),
        f"{APP}::parseEnv": lambda value: parse_env(environ, value) if isinstance(value, str) else value,
        f"{APP}::parseBooleanEnv": parse_boolean,
    }


def merge_environments(config: dict[Any, Any], environment: str | None) -> dict[Any, Any]:
    """A multi-environment config (a ``'*'`` key): ``'*'``, then every key the environment's name contains,
    as Craft merges them (``StringHelper::contains($env, $key)``)."""
    if "*" not in config:
        return config
    merged: dict[Any, Any] = {}
    for key, values in config.items():
        if not isinstance(values, dict):
            continue
        if key == "*" or (environment is not None and str(key) and str(key) in environment):
            merged.update(values)
    return merged


def read_config(path: Path, environ: Mapping[str, str]) -> object:
    """What a config file returns: an array, or the settings of the fluent form (``DbConfig::create()->...``,
    whose setters are named as the array's keys) as one."""
    returned = read_php_config(path, environ=environ, functions=php_helpers(environ), constants=PHP_CONSTANTS).returned
    if isinstance(returned, PhpConfigObject):
        return returned.settings
    return returned


def file_settings(config_file: Path, environ: Mapping[str, str], notes: list[str]) -> dict[str, Any]:
    """What ``config/db.php`` returns (for this environment); empty when there is no file."""
    if not config_file.exists():
        return {}
    returned = read_config(config_file, environ)
    if isinstance(returned, PhpUnknown):
        # A config object synco cannot build (new DbConfig(...)): only the CRAFT_DB_* variables can stand in.
        notes.append(f"config/{config_file.name} is not read without PHP ({returned.reason}); "
                     "only the CRAFT_DB_* variables are used")
        return {}
    if not isinstance(returned, dict):
        return {}
    return merge_environments(returned, craft_environment_name(environ))


def environment_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """The ``CRAFT_DB_*`` overrides (``App::envConfig(DbConfig::class, 'CRAFT_DB_')``)."""
    found: dict[str, Any] = {}
    for suffix, setting in SETTINGS.items():
        name = f"CRAFT_DB_{suffix}"
        if name in environ:
            found[setting] = env_value(environ, name)
    return found


def _known(settings: Mapping[str, Any], name: str, origin: str) -> str | None:
    value = settings.get(name)
    if isinstance(value, PhpUnknown):
        raise ConfigError(f"Craft's database setting {name!r} in {origin} cannot be read without PHP "
                          f"({value.reason}); set CRAFT_DB_{_suffix(name)} in .env or the environment instead")
    if isinstance(value, (dict, list)):
        raise ConfigError(f"Craft's database setting {name!r} in {origin} is not a single value")
    return as_text(value)


#: DbConfig's $user when nothing sets it (Craft 3 to 5), beside a URL without a user too.
DEFAULT_USER = "root"


def _suffix(setting: str) -> str:
    return next(suffix for suffix, name in SETTINGS.items() if name == setting)


def _parse_dsn(dsn: str) -> dict[str, str]:
    """A PDO DSN (``mysql:host=db;port=3306;dbname=craft``) as DbConfig settings."""
    driver, separator, rest = dsn.partition(":")
    if not separator or not driver or "=" in driver:
        # Not quoted: a DSN may carry the password.
        raise ConfigError("Craft's database dsn is not a PDO DSN (driver:key=value;...)")
    pairs = dict(part.split("=", 1) for part in rest.split(";") if "=" in part)
    names = {"host": "server", "port": "port", "dbname": "database", "unix_socket": "unixSocket",
             "user": "user", "password": "password"}
    settings = {names[key.strip()]: value.strip() for key, value in pairs.items() if key.strip() in names}
    settings["driver"] = driver.strip()
    return settings


#: DbConfig's settings the connection takes from the DSN alone when there is one (Craft builds the DSN from them
#: only when none is given): one the DSN leaves out is the driver's default, not the separate setting.
DSN_PLACE = ("server", "port", "database", "unixSocket")


def _with_dsn(text: Mapping[str, str | None], dsn: Mapping[str, str]) -> dict[str, str | None]:
    """The settings PDO connects with when Craft hands it ``dsn`` beside its ``user`` and ``password``.

    The credentials depend on the driver: pdo_pgsql appends the constructor's user and password to the
    conninfo before the DSN's keys, and libpq keeps the last, so the DSN's win; pdo_mysql reads the DSN's
    ``user=`` / ``password=`` only when the constructor gets none, and Craft always passes DbConfig's (``root``
    and ``''`` by default), so the separate settings win there."""
    merged: dict[str, str | None] = {**text, **{name: None for name in DSN_PLACE}}
    credentials = ("user", "password")
    pgsql = normalise_engine(dsn["driver"].lower()) == "postgresql"
    merged.update({key: value for key, value in dsn.items() if pgsql or key not in credentials})
    if not merged["database"]:
        # Not quoted: a DSN may carry the password.
        raise ConfigError("Craft's database dsn names no database (dbname=): PDO would connect to none, whatever "
                          "CRAFT_DB_DATABASE says")
    return merged


def read_database(project_dir: Path, environ: Mapping[str, str]) -> CraftDatabase | None:
    """The database Craft connects to, or None when neither ``config/db.php`` nor ``CRAFT_DB_*`` name one."""
    notes: list[str] = []
    config_file = project_dir / "config" / "db.php"
    file_part, environment_part = file_settings(config_file, environ, notes), environment_settings(environ)
    settings = {**file_part, **environment_part}
    origin = "config/db.php and CRAFT_DB_* variables"
    text = {name: _known(settings, name, origin) for name in SETTINGS.values()}
    if text["password"]:
        register_secret(text["password"])
    if text["url"]:
        # Craft's Db::url2config reads the same URL forms as DATABASE_URL (mysql://, pgsql://, postgres://) and
        # sets only the settings the URL has: the others (CRAFT_DB_DATABASE beside a URL naming only the
        # server) stay as configured.
        port = text["port"]
        beside = DatabaseConfig(engine="", name=text["database"] or "", host=text["server"],
                                port=int(port) if port and re.fullmatch(r"\d{1,5}", port) else None,
                                user=text["user"] if text["user"] is not None else DEFAULT_USER,
                                password=text["password"], socket=text["unixSocket"])
        base = parse_database_url(text["url"], source="CRAFT_DB_URL / url", beside=beside)
        return _finish(base, text, notes)
    if text["dsn"]:
        text = _with_dsn(text, _parse_dsn(text["dsn"]))
    password = text["password"]
    if password:
        register_secret(password)
    if not text["database"]:
        if notes:
            # A config/db.php synco could not read (a config object built with new, a match) names the database
            # the site uses: said, not a silent "Database: none".
            raise ConfigError(f"{notes[0]}, but no CRAFT_DB_DATABASE (or CRAFT_DB_DSN / CRAFT_DB_URL) is set: the "
                              "database is unknown; set the CRAFT_DB_* variables in .env (Craft reads them over "
                              "config/db.php), or give the database in .synco.yml and pass --framework craftcms")
        return None
    driver = (text["driver"] or "mysql").lower()
    engine = normalise_engine(driver)
    if engine not in ("mysql", "postgresql"):
        raise ConfigError(f"Craft's database driver {driver!r} is not supported (Craft uses mysql or pgsql)")
    port = text["port"]
    if port is not None and not re.fullmatch(r"\d{1,5}", port):
        raise ConfigError(f"Craft's database port {port!r} is not a number")
    database = DatabaseConfig(
        engine=engine,
        name=text["database"],
        host=None if text["unixSocket"] else (text["server"] or "localhost"),
        port=int(port) if port and not text["unixSocket"] else None,
        user=text["user"] if text["user"] is not None else DEFAULT_USER,
        password=password,
        socket=text["unixSocket"],
        source=_source(bool(file_part), bool(environment_part)),
    )
    return _finish(database, text, notes)


def _source(from_file: bool, from_environment: bool) -> str:
    if from_file and from_environment:
        return "config/db.php and .env (CRAFT_DB_*)"
    return "config/db.php" if from_file else ".env (CRAFT_DB_*)"


def _finish(database: DatabaseConfig, text: Mapping[str, str | None], notes: list[str]) -> CraftDatabase:
    prefix = text["tablePrefix"] or ""
    # DbConfig appends the underscore Craft's tables are named with ("craft" -> "craft_").
    if prefix and not prefix.endswith("_"):
        prefix += "_"
    return CraftDatabase(database=database, table_prefix=prefix, schema=text["schema"] or "public", notes=notes)
