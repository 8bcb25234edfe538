"""PyMySQL connections built from a :class:`~synco_core.DatabaseConfig`, with synco's TLS policy.

TLS policy (also in docs/security.md):

* Over a socket or to a loopback address TLS buys nothing and costs CPU, so it is off unless the
  configuration asks for it.
* Anywhere else TLS is used whenever the server offers it ("preferred"), with a non-verifying context;
  a plain connection is made only when the server's greeting says it has no TLS at all (nothing has been
  sent yet at that point, so falling back gives nothing away).
* ``sslmode=require`` (or ``ssl=true``) requires TLS; ``sslmode=verify-ca`` / ``verify-full`` /
  ``VERIFY_IDENTITY``, ``ssl_verify_cert=true`` or a CA file (``ssl_ca``) also verify the certificate.
  Then a server without TLS is refused, the session is checked to be encrypted, and a certificate or
  handshake failure is an error: there is never a second, plain attempt.
"""

from __future__ import annotations

import re
import ssl
from typing import Any

import pymysql
import pymysql.cursors

from synco_core.errors import ConfigError, DatabaseError
from synco_core.redaction import error_line, one_line, register_secret
from synco_core.values import DatabaseConfig, is_loopback_host

_TRUE = {"1", "true", "yes", "on"}
#: Driver messages in errors are cut to this many characters (a TLS failure can quote a whole certificate).
MESSAGE_LIMIT = 300


def _option(database: DatabaseConfig, *names: str) -> str | None:
    """The first option present under any of ``names`` (URL queries spell them many ways)."""
    lowered = {key.lower().replace("-", "_"): value for key, value in database.options.items()}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def _loopback(database: DatabaseConfig) -> bool:
    return bool(database.socket) or not database.host or is_loopback_host(database.host)


def _asked(database: DatabaseConfig) -> bool:
    """True when the configuration sets any TLS requirement (disabling it is not one)."""
    mode = (_option(database, "sslmode", "ssl_mode") or "").lower().replace("-", "_")
    return (mode in ("require", "required", "verify_ca", "verify_full", "verify_identity")
            or bool(_option(database, "ssl_ca", "sslrootcert", "sslca"))
            or (_option(database, "ssl_verify_cert", "ssl_verify_server_cert") or "").lower() in _TRUE
            or (_option(database, "ssl") or "").lower() in _TRUE)


def tls_settings(database: DatabaseConfig) -> dict[str, Any]:
    """The PyMySQL keyword arguments that implement the TLS policy for ``database``."""
    mode = (_option(database, "sslmode", "ssl_mode") or "").lower().replace("-", "_")
    ca = _option(database, "ssl_ca", "sslrootcert", "sslca")
    cert = _option(database, "ssl_cert", "sslcert")
    key = _option(database, "ssl_key", "sslkey")
    verify_option = (_option(database, "ssl_verify_cert", "ssl_verify_server_cert") or "").lower()
    verify_flag = verify_option in _TRUE
    # A CA alone means "verify with it", except where the configuration says outright not to verify (PDO's
    # MYSQL_ATTR_SSL_VERIFY_SERVER_CERT => false beside a CA): TLS is still required then, as in PHP.
    verify_refused = verify_option in ("0", "false", "no", "off")
    if mode in ("disable", "disabled") or (_option(database, "ssl") or "").lower() in ("0", "false", "no", "off"):
        return {"ssl_disabled": True}
    if not _asked(database):
        if _loopback(database):
            return {"ssl_disabled": True}
        # Preferred: PyMySQL upgrades only when given a context (1.1) or always tries (1.2+, where a
        # context also makes TLS mandatory; connect() then retries plain only if the server has no TLS).
        # Nothing is verified because nothing was asked for: this protects against passive listeners.
        preferred = ssl.create_default_context()
        preferred.check_hostname = False
        preferred.verify_mode = ssl.CERT_NONE
        return {"ssl": preferred}
    verify_identity = mode in ("verify_full", "verify_identity")
    verify = verify_identity or verify_flag or mode == "verify_ca" or (bool(ca) and not verify_refused)
    context = ssl.create_default_context(cafile=ca)
    context.check_hostname = verify_identity
    context.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    if cert:
        context.load_cert_chain(cert, keyfile=key)
    return {"ssl": context}


def _encrypted(connection: Any) -> bool:
    """True when the server reports a cipher for this session (the ground truth, whatever the driver did)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        rows = cursor.fetchall()
    value = rows[0][1] if rows else b""
    return bool(value)


#: Limits a server's configuration may put on every session, lifted for synco's own: ``sql_select_limit``
#: cut every SELECT (the install's listing of the tables it loaded found one, and refused "table 'w' is
#: missing after loading"); MariaDB's ``max_statement_time`` (what managed servers set to stop runaway
#: queries) stopped the install's statements and the dump's long reads alike; ``sql_safe_updates`` refused
#: the swap's emptying of its journal, and a small ``max_join_size`` its reads of the catalogue; a short
#: ``wait_timeout`` closed the install's own connection while it waited, idle, for the load ("server has gone
#: away" at the swap); MariaDB's ``idle_transaction_timeout`` and ``idle_readonly_transaction_timeout`` (which
#: hostings set to end forgotten transactions) ended the dump's connection, idle in its snapshot's transaction
#: between two pages while its reader (the laptop's download) was slow, "server has gone away" again; each in
#: words naming no setting. (Setting ``max_join_size`` to its largest value sets ``sql_big_selects`` too;
#: 28800 s is the servers' default wait.) ``/*M!`` keeps MySQL, which has none of MariaDB's, from reading them.
SESSION_LIMITS = ("SET SESSION sql_select_limit = 18446744073709551615, sql_safe_updates = 0, "
                  "max_join_size = 18446744073709551615, wait_timeout = GREATEST(@@SESSION.wait_timeout, 28800)"
                  " /*M!100108 , max_statement_time = 0 */"
                  " /*M!100300 , idle_transaction_timeout = 0, idle_readonly_transaction_timeout = 0,"
                  " idle_write_transaction_timeout = 0 */")


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
        "init_command": SESSION_LIMITS,
    }
    if database.socket:
        kwargs["unix_socket"] = database.socket
    else:
        kwargs["host"] = database.host or "127.0.0.1"
        kwargs["port"] = database.port or 3306
    if use_database:
        kwargs["database"] = database.name
    try:
        settings = tls_settings(database)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot set up TLS for {where(database)}: {exc}") from exc
    required = _asked(database)
    try:
        connection = _open(database, {**kwargs, **settings}, required)
    except _NoTlsOffered:
        # Preferred mode and the server's greeting has no TLS: plain is the policy (no credentials sent yet).
        connection = _open(database, {**kwargs, "ssl_disabled": True}, required)
    if required and not _encrypted(connection):
        connection.close()
        raise DatabaseError(_no_tls(database))
    return connection


class _NoTlsOffered(Exception):
    """The server's greeting offers no TLS (PyMySQL stopped before sending anything)."""


_CR_SSL_CONNECTION_ERROR = 2026


def _no_tls(database: DatabaseConfig) -> str:
    return (f"the server at {where(database)} offers no TLS, but the configuration requires it"
            " (sslmode/ssl options of the database URL)")


def _open(database: DatabaseConfig, kwargs: dict[str, Any], required: bool) -> Any:
    try:
        return pymysql.connect(**kwargs)
    except pymysql.err.OperationalError as exc:
        code = exc.args[0] if exc.args else 0
        message = exc.args[1] if len(exc.args) > 1 else str(exc)
        if code == _CR_SSL_CONNECTION_ERROR and "support" in str(message):
            if required:
                raise DatabaseError(_no_tls(database)) from exc
            raise _NoTlsOffered from exc
        original = getattr(exc, "original_exception", None)
        if isinstance(original, ssl.SSLCertVerificationError):
            raise DatabaseError(f"TLS certificate of {where(database)} failed verification:"
                                f" {one_line(original.verify_message or str(original), MESSAGE_LIMIT)}") from exc
        if isinstance(original, ssl.SSLError):
            raise DatabaseError(f"TLS handshake with {where(database)} failed: "
                                f"{one_line(str(original), MESSAGE_LIMIT)}") from exc
        if code == 1045:
            raise DatabaseError(f"access denied to {where(database)} for user {database.user or 'root'!r}"
                                " (wrong user or password)") from exc
        if code == 1049:
            raise DatabaseError(f"unknown database {database.name!r} on {where(database)}") from exc
        raise DatabaseError(f"cannot connect to {where(database)}: {one_line(message, MESSAGE_LIMIT)}") from exc
    except pymysql.err.MySQLError as exc:
        raise DatabaseError(f"cannot connect to {where(database)}: {describe(exc)}") from exc


def where(database: DatabaseConfig) -> str:
    """``host:port`` or the socket path, for messages."""
    if database.socket:
        return f"socket {database.socket}"
    return f"{database.host or '127.0.0.1'}:{database.port or 3306}"


def describe(exc: BaseException) -> str:
    """A driver exception as one line: ``(code) message`` for server errors."""
    if isinstance(exc, pymysql.err.InterfaceError) and exc.args[:2] == (0, ""):
        # PyMySQL's error for a statement sent on a connection an earlier error closed: "(0)" says nothing.
        return "the connection to the server was lost"
    if isinstance(exc, pymysql.err.MySQLError) and len(exc.args) >= 2:
        worded = storage_failure(exc.args[0], str(exc.args[1]))
        if worded is not None:
            return one_line(f"({exc.args[0]}) {worded}", MESSAGE_LIMIT)
        return one_line(f"({exc.args[0]}) {exc.args[1]}", MESSAGE_LIMIT)
    return error_line(exc, MESSAGE_LIMIT)


#: ER_GET_ERRNO ("Got error 30 "Read-only file system" from storage engine InnoDB") and ER_ERROR_DURING_COMMIT
#: ("Got error 1 "Operation not permitted" during COMMIT"): the server passing on an error of its storage
#: engine or of the system beneath it, in words that name neither what failed nor what to do.
ER_GET_ERRNO = 1030
ER_ERROR_DURING_COMMIT = 1180
#: The system errors behind them that have a cause the user can act on (errno -> what it means on the server).
_SERVER_CAUSES = {
    1: "the server was not permitted to write a file (often its temporary folder, tmpdir, full or not writable)",
    5: "its disk failed to read or write (an I/O error)",
    13: "the server was not permitted to write a file",
    28: "its disk is full",
    30: "its data directory is on a read-only file system",
    122: "its disk quota is exceeded",
}
#: MariaDB writes ``Got error 30 "Read-only file system" from storage engine InnoDB``, MySQL ``Got error 30 -
#: 'Read-only file system' from storage engine`` or no words at all.
_GOT_ERROR = re.compile(r"Got error (-?\d+)(?: \"(.*?)\"| - '(.*?)')?(?: from storage engine ?(\S*)| during COMMIT)?",
                        re.DOTALL)


def storage_failure(code: object, message: str) -> str | None:
    """Errors 1030 and 1180 in one clear line naming what failed (the storage engine, the commit), the system's
    words and what they mean on the server; None for any other error."""
    if code not in (ER_GET_ERRNO, ER_ERROR_DURING_COMMIT):
        return None
    found = _GOT_ERROR.match(message)
    errno = int(found.group(1)) if found else None
    words = (found.group(2) or found.group(3) or "") if found else ""
    engine = (found.group(4) or "") if found else ""
    system = f" with error {errno}" + (f" ({words})" if words else "") if errno is not None else f": {message}"
    if code == ER_ERROR_DURING_COMMIT:
        what = f"the server could not commit, nothing of the transaction was kept: its storage engine failed{system}"
    else:
        what = f"the server's storage engine{' ' + engine if engine else ''} failed{system}"
    cause = _SERVER_CAUSES.get(errno) if errno is not None else None
    return what + (f": {cause}" if cause else "")


def quote_name(name: str) -> str:
    """A back-tick quoted identifier (back-ticks inside are doubled)."""
    return "`" + name.replace("`", "``") + "`"


def quote_string(value: str) -> str:
    """A single-quoted SQL string literal that is safe whatever the sql_mode (no backslash escapes needed)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
