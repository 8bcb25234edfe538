"""Drupal's ``$databases`` entries as :class:`~synco_core.DatabaseConfig`.

A connection has ``driver`` (``mysql``, ``pgsql``, ``sqlite``, or a contributed driver's name), ``database``,
``username``, ``password``, ``host``, ``port``, ``prefix``, MySQL's ``unix_socket`` and PDO options under
``pdo`` (TLS). SQLite's ``database`` is a file path, relative to the Drupal root when it is not absolute.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synco_core import ConfigError, DatabaseConfig, PhpUnknown, normalise_engine, pdo_tls_options, register_secret


def _text(value: Any) -> str | None:
    if value is None or value is False or value == "":
        return None
    return str(value)


def table_prefix(connection: Mapping[str, Any]) -> str:
    """The table prefix (Drupal 9 also allowed an array of per-table prefixes: its ``default`` applies)."""
    prefix = connection.get("prefix")
    if isinstance(prefix, dict):
        prefix = prefix.get("default")
    return str(prefix or "")


def unknown_setting(value: Any, path: str = "") -> tuple[str, str] | None:
    """``(where, why)`` of the first value in ``value`` (a connection, at any depth: ``prefix.default``,
    ``pdo.<attribute>``) that cannot be known without PHP, or None."""
    if isinstance(value, PhpUnknown):
        return path or "connection", value.reason
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = unknown_setting(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    return None


def connection_config(connection: Mapping[str, Any], root: Path, source: str) -> DatabaseConfig:
    unknown = unknown_setting(connection)
    if unknown is not None:
        # Never a guess: the text of an unknown value is no host, password or table prefix.
        raise ConfigError(f"{source}: the database {unknown[0]} cannot be read without PHP ({unknown[1]})")
    driver = _text(connection.get("driver"))
    if driver is None:
        raise ConfigError(f"{source}: the database connection names no driver")
    engine = normalise_engine(driver)
    name = _text(connection.get("database"))
    if name is None:
        raise ConfigError(f"{source}: the database connection names no database")
    if engine == "sqlite":
        path = Path(name)
        return DatabaseConfig(engine="sqlite", name=str(path if path.is_absolute() else root / path), source=source)
    password = _text(connection.get("password"))
    register_secret(password)
    port_text = _text(connection.get("port"))
    try:
        port = int(port_text) if port_text else None
    except ValueError:
        raise ConfigError(f"{source}: the database port is not a number: {port_text!r}") from None
    options: dict[str, str] = {}
    if engine == "mysql":
        pdo = connection.get("pdo")
        options.update(pdo_tls_options(pdo if isinstance(pdo, dict) else None))
        if _text(connection.get("charset")):
            options["charset"] = str(connection["charset"])
    return DatabaseConfig(engine=engine, name=name, host=_text(connection.get("host")), port=port,
                          user=_text(connection.get("username")), password=password,
                          socket=_text(connection.get("unix_socket")), options=options, source=source)


def other_connections(databases: Mapping[Any, Any], root: Path) -> dict[str, str]:
    """The connections besides ``default.default`` (replicas, migration sources), masked: listed, never dumped."""
    listed: dict[str, str] = {}
    for key, targets in databases.items():
        if not isinstance(targets, dict):
            continue
        for target, connection in targets.items():
            if (key, target) == ("default", "default"):
                continue
            label = f"{key}.{target}"
            if isinstance(target, int) or not isinstance(connection, dict):
                # A list of replicas: $databases['default']['replica'][] = [...].
                continue
            try:
                listed[label] = connection_config(connection, root, "settings.php").url(mask_password=True)
            except ConfigError as exc:
                listed[label] = f"unusable: {exc}"
    return listed
