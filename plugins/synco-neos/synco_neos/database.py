"""Turning Flow's ``Neos.Flow.persistence.backendOptions`` into a :class:`~synco_core.DatabaseConfig`.

Flow passes these options to Doctrine DBAL: ``driver`` (``pdo_mysql``, ``mysqli``, ``pdo_pgsql``,
``pdo_sqlite``), ``host``, ``port``, ``dbname``, ``user``, ``password``, ``unix_socket``, ``charset``, and
for SQLite ``path``. A DBAL ``url`` option is honoured too: as in DBAL, what it says overrides the separate
keys, which fill in what it leaves out (the ``dbname`` of a URL naming only the server), and its query's keys
are DBAL's parameters by name (:data:`DBAL_QUERY`). PHP's MySQL client takes ``unix_socket`` only when the
host is ``localhost`` or not given: with another host it connects over TCP, and so does synco.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synco_core import (
    ConfigError,
    DatabaseConfig,
    normalise_engine,
    parse_database_url,
    pdo_mysql_endpoint,
    pdo_tls_options,
    register_secret,
    url_query_keys_as,
)

#: How DBAL merges a URL's query into the connection's parameters (by name), as synco's URL parser reads it: the
#: drivers read ``user``, ``password``, ``dbname``, ``host``, ``port`` and (MySQL) ``unix_socket``, so
#: ``username``, ``passwd``, ``db``, ``database`` and ``socket`` change nothing, nor does ``unix_socket`` for
#: pdo_pgsql; synco's parser names the MySQL database ``database`` (libpq's ``dbname`` for PostgreSQL).
DBAL_QUERY: dict[str, dict[str, str | None]] = {
    "mysql": {"username": None, "passwd": None, "db": None, "database": None, "socket": None, "dbname": "database"},
    "postgresql": {"username": None, "passwd": None, "db": None, "database": None, "socket": None,
                   "unix_socket": None},
}

#: The DBAL drivers synco's engines handle.
SUPPORTED_DRIVERS = ("pdo_mysql", "mysqli", "pdo_pgsql", "pdo_sqlite")


def _text(value: Any) -> str | None:
    if value is None or value is False or value == "":
        return None
    return str(value)


def database_from_backend_options(options: Mapping[str, Any], project_dir: Path, source: str) -> DatabaseConfig:
    """A :class:`DatabaseConfig` for Flow's backend options; ConfigError when they cannot work."""
    url = _text(options.get("url"))
    if url:
        port_text = _text(options.get("port"))
        password = _text(options.get("password"))
        register_secret(password)
        beside = DatabaseConfig(engine="", name=_text(options.get("dbname")) or "", host=_text(options.get("host")),
                                port=int(port_text) if port_text and port_text.isdigit() else None,
                                user=_text(options.get("user")), password=password,
                                socket=_text(options.get("unix_socket")))
        scheme, sep, rest = url.partition("://")
        # DBAL's dashed driver schemes (pdo-mysql://) are its underscored driver names.
        spelt = scheme.lower().replace("-", "_") + sep + rest
        query_keys = DBAL_QUERY.get(normalise_engine(scheme.lower().replace("-", "_")), {})
        return pdo_mysql_endpoint(parse_database_url(url_query_keys_as(spelt, query_keys), base_dir=project_dir,
                                                      source=source, beside=beside))
    driver = _text(options.get("driver")) or "pdo_mysql"
    if driver not in SUPPORTED_DRIVERS:
        raise ConfigError(
            f"Neos.Flow.persistence.backendOptions.driver {driver!r} is not supported "
            f"(supported: {', '.join(SUPPORTED_DRIVERS)})"
        )
    engine = normalise_engine(driver)
    password = _text(options.get("password"))
    register_secret(password)
    if engine == "sqlite":
        path = _text(options.get("path"))
        if not path:
            raise ConfigError("Neos.Flow.persistence.backendOptions.path is not set (pdo_sqlite needs a file)")
        file = Path(path)
        return DatabaseConfig(engine="sqlite", name=str(file if file.is_absolute() else project_dir / file),
                              source=source)
    dbname = _text(options.get("dbname"))
    if not dbname:
        raise ConfigError(f"Neos.Flow.persistence.backendOptions.dbname is not set (read from {source})")
    port_value = _text(options.get("port"))
    try:
        port = int(port_value) if port_value else None
    except ValueError:
        raise ConfigError(f"Neos.Flow.persistence.backendOptions.port is not a number: {port_value!r}") from None
    extra: dict[str, str] = {}
    charset = _text(options.get("charset"))
    if charset:
        extra["charset"] = charset
    if engine == "mysql":
        # Flow hands driverOptions to PDO as they are: TLS settings (PDO::MYSQL_ATTR_SSL_CA => ..., or its number
        # as the key in YAML) decide whether the dump verifies the server's certificate, as the site does.
        extra.update(pdo_tls_options(options.get("driverOptions")))
    return pdo_mysql_endpoint(DatabaseConfig(
        engine=engine,
        name=dbname,
        host=_text(options.get("host")),
        port=port,
        user=_text(options.get("user")),
        password=password,
        socket=_text(options.get("unix_socket")),
        options=extra,
        source=source,
    ))
