"""PHP applications' MySQL connections as synco's database settings: TLS (PDO driver options), and which of
a host and a socket PHP's client really uses.

PHP frameworks configure MySQL TLS through PDO driver options: ``PDO::MYSQL_ATTR_SSL_CA`` and friends
(``Pdo\\Mysql::ATTR_SSL_CA`` since PHP 8.4). In a configuration dumped as JSON, or written in YAML with a
number as key, the constant's integer value is what shows. The values depend on how PHP was built; with
mysqlnd (every PHP 8 distribution package) they are ``PDO_ATTR_DRIVER_SPECIFIC`` (1000) plus the
position in pdo_mysql's enum, listed in :data:`MYSQLND_NUMBERS`. A plugin that can ask PHP for the real
values passes them as ``numbers``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from synco_core.errors import ConfigError
from synco_core.frameworkutil.phpvalues import PhpUnknown
from synco_core.values import DatabaseConfig

#: PDO attribute -> the :class:`~synco_core.values.DatabaseConfig` option the MySQL engine reads.
TLS_OPTIONS = {
    "MYSQL_ATTR_SSL_CA": "ssl_ca",
    "MYSQL_ATTR_SSL_CERT": "ssl_cert",
    "MYSQL_ATTR_SSL_KEY": "ssl_key",
    "MYSQL_ATTR_SSL_VERIFY_SERVER_CERT": "ssl_verify_cert",
}

#: Integer values of the TLS attributes in PHP built with mysqlnd.
MYSQLND_NUMBERS = {
    1007: "MYSQL_ATTR_SSL_KEY",
    1008: "MYSQL_ATTR_SSL_CERT",
    1009: "MYSQL_ATTR_SSL_CA",
    1010: "MYSQL_ATTR_SSL_CAPATH",
    1011: "MYSQL_ATTR_SSL_CIPHER",
    1014: "MYSQL_ATTR_SSL_VERIFY_SERVER_CERT",
}

#: ``PDO::MYSQL_ATTR_SSL_CA``, ``\\PDO::MYSQL_ATTR_SSL_CA``, ``Pdo\\Mysql::ATTR_SSL_CA``, ``MYSQL_ATTR_SSL_CA``.
_NAME = re.compile(r"^(?:\\?PDO::|\\?Pdo\\Mysql::)?(?:MYSQL_)?(ATTR_[A-Z_]+)$", re.IGNORECASE)


def attribute_name(key: Any, numbers: Mapping[int, str] | None = None) -> str | None:
    """The ``MYSQL_ATTR_*`` name of a driver-option key (a constant's name or its number), or None."""
    text = str(key).strip()
    if text.isdigit():
        return (numbers or MYSQLND_NUMBERS).get(int(text))
    match = _NAME.match(text)
    return "MYSQL_" + match.group(1).upper() if match else None


def _flag(value: Any) -> str:
    if isinstance(value, str):
        return "true" if value.strip().lower() in ("1", "true", "yes", "on") else "false"
    return "true" if value else "false"


def tls_options(driver_options: Any, numbers: Mapping[int, str] | None = None) -> dict[str, str]:
    """synco's TLS options (``ssl_ca``, ``ssl_cert``, ``ssl_key``, ``ssl_verify_cert``) from PDO driver
    options; unset (null or empty) values are left out, as Laravel's ``array_filter`` does. A TLS option whose
    value only PHP could compute is a :class:`ConfigError`: left out, the connection would go without TLS (or
    without verifying the server) where the application uses it."""
    if not isinstance(driver_options, Mapping):
        return {}
    found: dict[str, str] = {}
    for key, value in driver_options.items():
        name = attribute_name(key, numbers) or ""
        option = TLS_OPTIONS.get(name)
        if option is not None and isinstance(value, PhpUnknown):
            raise ConfigError(f"the PDO option {name} cannot be read without PHP ({value.reason})")
        if option is None or value is None or value == "":
            continue
        found[option] = _flag(value) if option == "ssl_verify_cert" else str(value)
    return found


def mysql_endpoint(config: DatabaseConfig) -> DatabaseConfig:
    """``config`` as PHP's MySQL client (mysqlnd, behind pdo_mysql and mysqli) connects when it is given both
    a host and a socket (a DSN's ``host=...;unix_socket=...``, Doctrine's ``host`` and ``unix_socket``): it
    takes the socket only when the host is ``localhost`` (or not given), and connects over TCP to any other
    host, the socket unused. Anything but a MySQL connection with a socket is returned as it is."""
    if config.engine != "mysql" or not config.socket or not config.host:
        return config
    if config.host == "localhost":
        return config.replace(host=None)
    return config.replace(socket=None)
