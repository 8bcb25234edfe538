"""Doctrine DBAL connections of a Symfony project as :class:`~synco_core.DatabaseConfig`.

``config/packages/doctrine.yaml`` says where the connection comes from: almost always
``url: '%env(resolve:DATABASE_URL)%'``, sometimes several named connections, sometimes separate
``host``/``dbname``/``user``/``password`` settings. Values may use ``%env(...)%`` with processors
(``resolve:``, ``default:``, ``string:`` ...) and ``%kernel.project_dir%``; this module resolves the
ones a database connection uses and leaves the rest alone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from synco_core import (
    ConfigError,
    DatabaseConfig,
    normalise_engine,
    parse_database_url,
    pdo_mysql_endpoint,
    pdo_tls_options,
    read_config_text,
    register_secret,
    url_query_keys_as,
)
from synco_symfony.envprocessors import EnvProcessors, php_text

log = logging.getLogger(__name__)

_ENV_REF = re.compile(r"%env\(([^)]*)\)%")
_PARAMETER = re.compile(r"%([A-Za-z0-9_.]+)%")

#: Doctrine's driver names for the separate-settings form.
DRIVERS = {
    "pdo_mysql": "mysql", "mysqli": "mysql", "pdo_pgsql": "postgresql", "pgsql": "postgresql",
    "pdo_sqlite": "sqlite", "sqlite3": "sqlite",
}


@dataclass
class DbalConnection:
    """One DBAL connection as configured: either a URL or separate settings (already resolved)."""

    name: str
    settings: dict[str, Any]
    #: The environment variable holding the URL (``DATABASE_URL``), for ``debug:dotenv`` and messages.
    url_variable: str | None


def load_yaml(path: Path) -> dict[str, Any]:
    """A YAML config file as a dict (empty when missing).

    ``!php/const NAME`` becomes the string ``NAME`` (Doctrine's ``options`` use it for PDO attributes);
    other Symfony tags (``!tagged_iterator`` ...) become None.
    """
    try:
        # Bounded and never waiting on a pipe: a doctrine.yaml linked to /dev/zero is a one-line error.
        text = read_config_text(path, kind="YAML configuration file")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {type(exc).__name__}") from None

    class _Loader(yaml.SafeLoader):
        pass

    def tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        if suffix == "php/const" and isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        return None

    _Loader.add_multi_constructor("!", tagged)
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return data if isinstance(data, dict) else {}


def package_files(project_dir: Path, app_env: str) -> list[Path]:
    """The YAML files the kernel loads from ``config/packages/`` and then ``config/packages/<env>/``, each
    folder's in name order (``.yaml``, and Symfony 4's ``.yml``): any of them may configure any bundle."""
    found: list[Path] = []
    for folder in (project_dir / "config/packages", project_dir / "config/packages" / app_env):
        if folder.is_dir():
            found += sorted(path for path in folder.iterdir()
                            if path.suffix in (".yaml", ".yml") and not path.is_dir())
    return found


def unread_package_files(project_dir: Path, app_env: str, root_key: str) -> list[str]:
    """The PHP and XML package files that configure ``root_key`` (``DoctrineConfig``, ``'doctrine'``,
    ``<doctrine:config>``), which synco does not read, as paths relative to the project."""
    names = re.compile(rf"""{re.escape(root_key)}Config\b|['"]{re.escape(root_key)}['"]|<{re.escape(root_key)}:""",
                       re.IGNORECASE)
    unread = []
    for folder in (project_dir / "config/packages", project_dir / "config/packages" / app_env):
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.iterdir() if p.suffix in (".php", ".xml")):
            try:
                text = read_config_text(path, kind="package configuration file")
            except (OSError, ConfigError):
                text = root_key + "Config"  # unreadable: said as not read, which it is
            if names.search(text):
                unread.append(path.relative_to(project_dir).as_posix())
    return unread


def merged_package_config(project_dir: Path, root_key: str, app_env: str) -> dict[str, Any]:
    """``root_key`` as the package files configure it (:func:`package_files`), with ``when@<env>``.

    Later sources override earlier ones key by key, as Symfony's config merge does for the scalars and
    maps a database or upload setting lives in.
    """
    merged: dict[str, Any] = {}
    for path in package_files(project_dir, app_env):
        data = load_yaml(path)
        for section in (data.get(root_key), (data.get(f"when@{app_env}") or {}).get(root_key)):
            if isinstance(section, dict):
                _deep_merge(merged, section)
    return merged


def container_parameters(project_dir: Path, app_env: str) -> dict[str, Any]:
    """The ``parameters:`` a database setting may name (``%app.db_name%``, and ``env(DATABASE_URL)``: the
    default of an environment variable): from ``config/services.yaml``, ``config/services_<env>.yaml`` and
    the package files, ``when@<env>`` included, later files winning."""
    parameters: dict[str, Any] = {}
    for path in (project_dir / "config" / "services.yaml", project_dir / "config" / f"services_{app_env}.yaml",
                 *package_files(project_dir, app_env)):
        data = load_yaml(path)
        for section in (data.get("parameters"), (data.get(f"when@{app_env}") or {}).get("parameters")):
            if isinstance(section, dict):
                parameters.update({str(key): value for key, value in section.items()})
    return parameters


def _deep_merge(target: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = dict(value) if isinstance(value, Mapping) else value


class Resolver:
    """Resolves ``%env(...)%`` and ``%parameter%`` references against the environment and known parameters."""

    def __init__(self, lookup: Callable[[str], str | None], parameters: Mapping[str, Any],
                 base_dir: Path | None = None) -> None:
        self.lookup = lookup
        self.parameters = parameters
        self._depth = 0
        self._processors = EnvProcessors(lookup, self.parameter, base_dir)

    def parameter(self, name: str) -> str | None:
        """A parameter's value as text, its own ``%...%`` references resolved (a bounded depth: a cycle is
        an error in Symfony, here it stops resolving)."""
        value = self.parameters.get(name)
        if value is None or isinstance(value, (dict, list)):
            return None
        if not isinstance(value, str):
            return str(value).lower() if isinstance(value, bool) else str(value)
        if self._depth > 8:
            return value
        self._depth += 1
        try:
            resolved = self(value)
        finally:
            self._depth -= 1
        return None if resolved is None else str(resolved)

    def parameters_in(self, value: str) -> str:
        def replace(match: re.Match[str]) -> str:
            found = self.parameter(match.group(1))
            return match.group(0) if found is None else found

        return _PARAMETER.sub(replace, value.replace("%%", "\x00")).replace("\x00", "%")

    def env(self, expression: str) -> Any:
        """One ``%env(...)%`` body: ``resolve:DATABASE_URL``, ``default:fallback_param:NAME``,
        ``trim:file:PASSWORD_FILE`` ... (:mod:`synco_symfony.envprocessors`); None when the variable is set
        nowhere."""
        return self._processors(expression, self.parameters_in)

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        whole = _ENV_REF.fullmatch(value)
        if whole:
            return self.env(whole.group(1))
        resolved = _ENV_REF.sub(lambda m: php_text(self.env(m.group(1))), value)
        return self.parameters_in(resolved)


def dbal_connections(project_dir: Path, app_env: str) -> tuple[str, dict[str, DbalConnection]]:
    """The default connection's name and every DBAL connection, unresolved but with their URL variable."""
    dbal = merged_package_config(project_dir, "doctrine", app_env).get("dbal") or {}
    unread = unread_package_files(project_dir, app_env, "doctrine")
    if unread:
        log.warning("%s may configure Doctrine in PHP or XML, which synco does not read: the connection is "
                    "read from the YAML package files and the recipe's DATABASE_URL; if it differs, give it in "
                    ".synco.yml with --framework symfony", ", ".join(unread))
    if not isinstance(dbal, dict):
        dbal = {}
    raw_connections = dbal.get("connections")
    if isinstance(raw_connections, dict) and raw_connections:
        connections = {str(name): dict(settings or {}) for name, settings in raw_connections.items()}
        default = str(dbal.get("default_connection") or ("default" if "default" in connections
                                                         else next(iter(connections))))
    else:
        settings = {k: v for k, v in dbal.items() if k not in ("types", "default_connection")}
        if not settings:
            # No doctrine.yaml (or an empty dbal section): DoctrineBundle's recipe default.
            settings = {"url": "%env(resolve:DATABASE_URL)%"}
        connections = {"default": settings}
        default = "default"
    result = {}
    for name, settings in connections.items():
        url = settings.get("url")
        variable = None
        if isinstance(url, str):
            match = _ENV_REF.fullmatch(url.strip())
            if match:
                variable = match.group(1).split(":")[-1]
        result[name] = DbalConnection(name=name, settings=settings, url_variable=variable)
    if default not in result:
        raise ConfigError(f"doctrine default_connection {default!r} is not among the connections: {', '.join(result)}")
    return default, result


def connection_config(connection: DbalConnection, resolver: Resolver, project_dir: Path,
                      source: str) -> DatabaseConfig | None:
    """The resolved :class:`DatabaseConfig` of ``connection`` (None when its URL variable is empty)."""
    settings = connection.settings
    url = resolver(settings.get("url")) if settings.get("url") else None
    server_version = resolver(settings.get("server_version"))
    tls = _tls_settings(settings, resolver)
    if url:
        # DBAL's DriverManager parses the URL over the connection's other parameters: what the URL says
        # wins, and dbname, host, user, password ... beside it fill in what it leaves out (a URL naming only
        # the server, with ``dbname: '%env(DB_NAME)%'``).
        beside = _settings_config(connection, resolver, source, tls, server_version, name_required=False)
        spelt = doctrine_scheme(str(url))
        query_keys = DOCTRINE_QUERY.get(normalise_engine(spelt.partition("://")[0]), {})
        return pdo_mysql_endpoint(parse_database_url(url_query_keys_as(spelt, query_keys), base_dir=project_dir,
                                                      source=source, beside=beside))
    if settings.get("url") is not None and not any(k in settings for k in ("dbname", "path", "host")):
        return None
    driver = str(resolver(settings.get("driver")) or "pdo_mysql")
    engine = DRIVERS.get(driver, driver)
    if engine == "sqlite":
        path = resolver(settings.get("path")) or ""
        if not path:
            raise ConfigError(f"doctrine connection {connection.name!r}: sqlite without a path")
        full = Path(str(path))
        return DatabaseConfig(engine="sqlite", name=str(full if full.is_absolute() else project_dir / full),
                              source=source)
    return pdo_mysql_endpoint(_settings_config(connection, resolver, source, tls, server_version,
                                                name_required=True, engine=engine))


def _settings_config(connection: DbalConnection, resolver: Resolver, source: str, tls: Mapping[str, str],
                     server_version: Any, *, name_required: bool, engine: str = "") -> DatabaseConfig:
    """The server connection the parameters other than ``url`` describe."""
    settings = connection.settings
    dbname = resolver(settings.get("dbname"))
    if not dbname and name_required:
        raise ConfigError(f"doctrine connection {connection.name!r} names no database (dbname)")
    password = resolver(settings.get("password"))
    register_secret(str(password) if password else None)
    port = resolver(settings.get("port"))
    options = {"charset": str(resolver(settings["charset"]))} if settings.get("charset") else {}
    if server_version:
        options["serverVersion"] = str(server_version)
    options.update(tls)
    try:
        port_number = int(port) if port not in (None, "") else None
    except (TypeError, ValueError):
        raise ConfigError(f"doctrine connection {connection.name!r}: port is not a number") from None
    return DatabaseConfig(
        engine=engine,
        name=str(dbname or ""),
        host=str(resolver(settings.get("host")) or "") or None,
        port=port_number,
        user=str(resolver(settings.get("user")) or "") or None,
        password=str(password) if password else None,
        socket=str(resolver(settings.get("unix_socket")) or "") or None,
        options=options,
        source=source,
    )


#: libpq's TLS settings, which DoctrineBundle accepts beside the URL and DBAL passes to pdo_pgsql.
PGSQL_TLS_SETTINGS = ("sslmode", "sslrootcert", "sslcert", "sslkey")


def _tls_settings(settings: Mapping[str, Any], resolver: Resolver) -> dict[str, str]:
    """TLS options of a connection: PDO ``MYSQL_ATTR_SSL_*`` driver ``options`` (by ``!php/const`` name or
    number) and the libpq settings, with ``%env()%`` resolved."""
    found: dict[str, str] = {}
    for key in ("options", "driver_options"):
        raw = settings.get(key)
        if isinstance(raw, Mapping):
            found.update(pdo_tls_options({name: resolver(value) for name, value in raw.items()}))
    for key in PGSQL_TLS_SETTINGS:
        value = resolver(settings.get(key))
        if value not in (None, ""):
            found[key] = str(value)
    return found


#: How DBAL merges a URL's query into the connection's parameters (by name: ``array_merge($params, $query)``)
#: as synco's URL parser reads it, per engine: the drivers read ``user``, ``password``, ``dbname``, ``host``,
#: ``port`` and (MySQL) ``unix_socket``, so ``username``, ``passwd``, ``db``, ``database`` and ``socket``
#: change nothing, nor ``unix_socket`` for pdo_pgsql; synco's parser names the MySQL database ``database``
#: (libpq's ``dbname`` for PostgreSQL).
DOCTRINE_QUERY: dict[str, dict[str, str | None]] = {
    "mysql": {"username": None, "passwd": None, "db": None, "database": None, "socket": None, "dbname": "database"},
    "postgresql": {"username": None, "passwd": None, "db": None, "database": None, "socket": None,
                   "unix_socket": None},
}


def doctrine_scheme(url: str) -> str:
    """``url`` with Doctrine's dashed driver schemes (``pdo-mysql://``) turned into names synco knows."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError("DATABASE_URL is not a URL (expected scheme://...)")
    return scheme.lower().replace("-", "_") + "://" + rest
