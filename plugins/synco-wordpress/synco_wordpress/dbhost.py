"""WordPress's ``DB_HOST`` forms, read the way ``wpdb::parse_db_host()`` reads them.

``host``, ``host:port``, ``localhost:/path/to/mysqld.sock``, ``:/path/to/socket`` (the socket alone),
``127.0.0.1:3307:/tmp/mysql.sock`` (both), an IPv6 address (``::1``, ``[::1]``, ``[::1]:3307``). The socket is
peeled off at the first ``:/``; what is left is a host with an optional port, IPv6 when it holds two colons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from synco_core import ConfigError

_IPV6 = re.compile(r"^\[?(?P<host>[0-9a-fA-F:.]+)(?:\]:(?P<port>\d+))?\]?$")
#: An empty port ("db:", what getenv('DB_HOST') . ':' . getenv('DB_PORT') gives without DB_PORT) is WordPress's
#: default port: its pattern takes the host and finds no digits.
_IPV4 = re.compile(r"^(?P<host>[^:/]*)(?::(?P<port>\d*))?$")


@dataclass(frozen=True)
class DbHost:
    """Where ``DB_HOST`` points: a host (None for the socket alone), a port, a Unix socket."""

    host: str | None
    port: int | None
    socket: str | None


def parse_db_host(value: str) -> DbHost:
    """Split ``DB_HOST`` into host, port and socket; a ConfigError names a value WordPress could not use."""
    text = value.strip()
    socket = None
    at = text.find(":/")
    if at != -1:
        socket = text[at + 1:]
        text = text[:at]
    pattern = _IPV6 if text.count(":") > 1 else _IPV4
    match = pattern.match(text)
    if match is None:
        raise ConfigError(f"wp-config.php: DB_HOST {value!r} is not host, host:port, host:/socket or [IPv6]:port")
    port = int(match.group("port")) if match.group("port") else None
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"wp-config.php: DB_HOST {value!r} has an invalid port")
    return DbHost(host=match.group("host") or None, port=port, socket=socket or None)
