"""PyMySQL connections built from a :class:`~synco_core.DatabaseConfig`, with synco's TLS policy.

TLS policy: over a socket or to a loopback address TLS buys nothing and costs CPU, so it is off unless
the configuration asks for it. Anywhere else TLS is used whenever the server offers it (PyMySQL's
"preferred" mode) and a plain connection is only made when the server has no TLS at all. When the
configuration asks for verification (``sslmode=verify-ca`` / ``verify-full`` / ``VERIFY_IDENTITY``,
``ssl_verify_cert=true``, or a CA file), the certificate is verified and a failure is an error, never
a reason to retry without TLS.
"""

from __future__ import annotations

import ssl
from typing import Any

import pymysql
import pymysql.cursors

from synco_core.errors import ConfigError, DatabaseError
from synco_core.secrets import redact, register_secret
from synco_core.types import DatabaseConfig

_TRUE = {"1", "true", "yes", "on"}
_LOOPBACK = {"", "localhost", "127.0.0.1", "::1", "[::1]"}


def _option(database: DatabaseConfig, *names: str) -> str | None:
    """The first option present under any of ``names`` (URL queries spell them many ways)."""
    lowered = {key.lower().replace("-", "_"): value for key, value in database.options.items()}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def tls_settings(database: DatabaseConfig) -> dict[str, Any]:
    """The PyMySQL keyword arguments that implement the TLS policy for ``database``."""
    mode = (_option(database, "sslmode", "ssl_mode") or "").lower().replace("-", "_")
    ca = _option(database, "ssl_ca", "sslrootcert", "sslca")
    cert = _option(database, "ssl_cert", "sslcert")
    key = _option(database, "ssl_key", "sslkey")
    verify_flag = (_option(database, "ssl_verify_cert", "ssl_verify_server_cert") or "").lower() in _TRUE
    if mode in ("disable", "disabled") or (_option(database, "ssl") or "").lower() in ("0", "false", "no", "off"):
        return {"ssl_disabled": True}
    verify_identity = mode in ("verify_full", "verify_identity")
    verify = verify_identity or verify_flag or mode == "verify_ca" or bool(ca)
    required = verify or mode in ("require", "required") or (_option(database, "ssl") or "").lower() in _TRUE
    if required:
        context = ssl.create_default_context(cafile=ca)
        context.check_hostname = verify_identity
        context.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
        if cert:
            context.load_cert_chain(cert, keyfile=key)
        # An SSLContext makes PyMySQL require TLS: no silent fallback after a certificate failure.
        return {"ssl": context}
    if database.socket or (database.host or "").lower() in _LOOPBACK or (database.host or "").startswith("127."):
        return {"ssl_disabled": True}
    # PyMySQL's default is "preferred": TLS when the server offers it, plain only when it has none.
    return {}


def connect(database: DatabaseConfig, *, use_database: bool = True, unbuffered: bool = False,
            raw: bool = False) -> Any:
    """Open a connection (autocommit on, utf8mb4) or raise a one-line :class:`DatabaseError`.

    ``raw`` returns every value as bytes (no decoding in Python: the dumper writes them as they come);
    ``unbuffered`` uses a server-side streaming cursor class, so big results never sit in memory.
    """
    register_secret(database.password)
    kwargs: dict[str, Any] = {
        "user": database.user or "root",
        "password": database.password or "",
        "charset": "utf8mb4",
        "autocommit": True,
        "use_unicode": not raw,
        "connect_timeout": 15,
        "cursorclass": pymysql.cursors.SSCursor if unbuffered else pymysql.cursors.Cursor,
        # The loader sends statements up to the server's limit; the client must accept as much.
        "max_allowed_packet": 1024 * 1024 * 1024,
    }
    if database.socket:
        kwargs["unix_socket"] = database.socket
    else:
        kwargs["host"] = database.host or "127.0.0.1"
        kwargs["port"] = database.port or 3306
    if use_database:
        kwargs["database"] = database.name
    try:
        kwargs.update(tls_settings(database))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot set up TLS for {where(database)}: {exc}") from exc
    try:
        return pymysql.connect(**kwargs)
    except pymysql.err.OperationalError as exc:
        code = exc.args[0] if exc.args else 0
        message = exc.args[1] if len(exc.args) > 1 else str(exc)
        if code == 1045:
            raise DatabaseError(f"access denied to {where(database)} for user {database.user or 'root'!r}"
                                " (wrong user or password)") from exc
        if code == 1049:
            raise DatabaseError(f"unknown database {database.name!r} on {where(database)}") from exc
        raise DatabaseError(f"cannot connect to {where(database)}: {one_line(message)}") from exc
    except pymysql.err.MySQLError as exc:
        raise DatabaseError(f"cannot connect to {where(database)}: {describe(exc)}") from exc


def where(database: DatabaseConfig) -> str:
    """``host:port`` or the socket path, for messages."""
    if database.socket:
        return f"socket {database.socket}"
    return f"{database.host or '127.0.0.1'}:{database.port or 3306}"


def one_line(text: str) -> str:
    """``text`` on one line, secrets removed, cut to a readable length."""
    flat = " ".join(redact(str(text)).split())
    return flat if len(flat) <= 300 else flat[:297] + "..."


def describe(exc: BaseException) -> str:
    """A driver exception as one line: ``(code) message`` for server errors."""
    if isinstance(exc, pymysql.err.MySQLError) and len(exc.args) >= 2:
        return one_line(f"({exc.args[0]}) {exc.args[1]}")
    return one_line(f"{type(exc).__name__}: {exc}")


def quote_name(name: str) -> str:
    """A back-tick quoted identifier (back-ticks inside are doubled)."""
    return "`" + name.replace("`", "``") + "`"


def quote_string(value: str) -> str:
    """A single-quoted SQL string literal that is safe whatever the sql_mode (no backslash escapes needed)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
