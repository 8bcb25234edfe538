"""Connecting to PostgreSQL with psycopg 3, and turning driver errors into one-line synco errors.

Every session the dumper opens gets fixed output settings, so the COPY text of a table (and so its
manifest checksum) depends only on its content, never on the server's or the user's defaults.
"""

from __future__ import annotations

import functools
from typing import Any

import psycopg
from psycopg import pq

from synco_core.engines.postgresql import rawtext
from synco_core.errors import DatabaseError
from synco_core.redaction import redact
from synco_core.values import DatabaseConfig

#: Session settings of the dumper. Fixed date, interval, float and bytea output styles and UTC make the
#: COPY text of a table depend only on its content, never on the server's or the user's defaults.
#: Intervals in ISO 8601: the other styles print the smallest one, -9223372036854775808 microseconds, as
#: ``-2562047788:00:54.775808``, which PostgreSQL cannot read back (the install failed, as pg_dump's restore
#: does); ISO 8601 writes each of an interval's months, days and microseconds, and every value reads back
#: exactly under any IntervalStyle, so dumps written before load as they did.
#: ``array_nulls`` is the one setting of how values are *read* that a script does not set for itself (pg_dump's
#: neither): a cluster, database or role with it off reads an array's unquoted ``NULL`` element as the text
#: 'NULL', and COPY loaded ``{a,NULL}`` as ``{a,"NULL"}`` (the checksum, taken over the text sent, agreed).
SESSION_SETTINGS = (
    "SET client_encoding = 'UTF8'",
    "SET DateStyle = 'ISO, YMD'",
    "SET IntervalStyle = 'iso_8601'",
    "SET TimeZone = 'UTC'",
    "SET extra_float_digits = 3",
    "SET bytea_output = 'hex'",
    "SET standard_conforming_strings = on",
    "SET array_nulls = on",
    "SET statement_timeout = 0",
    "SET lock_timeout = 0",
    "SET idle_in_transaction_session_timeout = 0",
)

#: Timeouts of newer servers, by the version that has them (an older one refuses to set what it does not know).
#: ``idle_session_timeout`` ended the install's own connection, idle while the loading ones worked, and the
#: swap failed after the whole load ("terminating connection due to idle-session timeout"); PostgreSQL 17's
#: ``transaction_timeout`` would end the one transaction of an install in place.
VERSIONED_SETTINGS = ((140000, "SET idle_session_timeout = 0"), (170000, "SET transaction_timeout = 0"))

#: libpq keywords a config's own fields carry (:mod:`synco_core.dburlquery` moves them there from a URL's query),
#: and those synco refuses in a URL: never passed on from the options.
_NOT_PASSED = frozenset({"host", "port", "user", "password", "dbname", "hostaddr", "service"})


@functools.cache
def libpq_options() -> frozenset[str]:
    """The options of a ``postgresql://`` URL passed on to libpq as they are: every keyword this libpq knows
    (what ``psql`` takes in a URI's query) but those of :data:`_NOT_PASSED`. Other options (Doctrine's
    ``serverVersion``, ``charset``) are the framework's, not libpq's, and stay out."""
    return frozenset(option.keyword.decode() for option in pq.Conninfo.get_defaults()) - _NOT_PASSED


def where(database: DatabaseConfig, dbname: str | None = None) -> str:
    """``host:port/db`` for messages (never the password)."""
    host = database.socket or database.host or "localhost"
    port = f":{database.port}" if database.port else ""
    return f"{host}{port}/{dbname or database.name}"


#: The first line of the error a hot standby gives a session whose read conflicts with its replay of the
#: primary's changes; the kind of conflict (what to do about it) is only in the DETAIL line that follows.
RECOVERY_CONFLICT = "conflict with recovery"


def _first_line(lines: list[str], fallback: str) -> str:
    """``lines[0]``, and for a conflict with recovery the server's DETAIL after it in brackets
    (``... conflict with recovery (User was holding a relation lock for too long.)``)."""
    if not lines:
        return fallback
    first = lines[0].strip()
    if RECOVERY_CONFLICT in first:
        details = [line.split(":", 1)[1].strip() for line in lines[1:] if line.startswith("DETAIL:")]
        if details:
            first += f" ({details[0]})"
    return first


def one_line(exc: BaseException) -> str:
    """The first line of a driver error, with registered secrets removed."""
    return redact(_first_line(str(exc).strip().splitlines(), type(exc).__name__))


def connect(database: DatabaseConfig, dbname: str | None = None, *, autocommit: bool = True,
            settings: bool = True) -> psycopg.Connection[Any]:
    """Open a connection to ``dbname`` (default: the configured database) with the shared settings."""
    kwargs: dict[str, Any] = {"dbname": dbname or database.name, "autocommit": autocommit}
    if database.socket:
        kwargs["host"] = database.socket
    elif database.host:
        kwargs["host"] = database.host
    if database.port:
        kwargs["port"] = database.port
    if database.user:
        kwargs["user"] = database.user
    if database.password:
        kwargs["password"] = database.password
    kwargs.setdefault("connect_timeout", 10)
    for key in libpq_options() & database.options.keys():
        kwargs[key] = database.options[key]
    try:
        conn = psycopg.connect(**kwargs)
    except psycopg.Error as exc:
        user = f" as {database.user}" if database.user else ""
        message = f"cannot connect to PostgreSQL at {where(database, dbname)}{user}: {one_line(exc)}"
        raise DatabaseError(message) from exc
    try:
        _readable_on_a_standby(conn)
    except psycopg.Error as exc:
        conn.close()
        raise DatabaseError(f"cannot prepare the PostgreSQL session on {where(database, dbname)}: "
                            f"{one_line(exc)}") from exc
    if settings:
        try:
            for statement in SESSION_SETTINGS:
                conn.execute(statement)
            for since, statement in VERSIONED_SETTINGS:
                if conn.info.server_version >= since:
                    conn.execute(statement)
        except psycopg.Error as exc:
            conn.close()
            raise DatabaseError(f"cannot prepare the PostgreSQL session on {where(database, dbname)}: "
                                f"{one_line(exc)}") from exc
    rawtext.adapt(conn)
    return conn


def _readable_on_a_standby(conn: psycopg.Connection[Any]) -> None:
    """On a hot standby, transactions in REPEATABLE READ where the database or the role makes them SERIALIZABLE
    (``default_transaction_isolation``): a standby refuses every query of a serializable one ("cannot use
    serializable mode in a hot standby"), and the dump, the inventory and a plugin's reader failed on their
    first, as pg_dump does. Nothing synco reads needs more than REPEATABLE READ: the dump's snapshot is one.
    PostgreSQL 14 and later say whether they are a standby when the session starts (``in_hot_standby``);
    SHOW takes no snapshot, so it runs on such a standby."""
    if conn.info.parameter_status("in_hot_standby") != "on":
        return
    isolation = conn.execute("SHOW default_transaction_isolation").fetchone()
    if isolation is not None and str(isolation[0]) == "serializable":
        conn.execute("SET default_transaction_isolation = 'repeatable read'")
    if not conn.autocommit:
        conn.commit()  # a reader's connection sets its transactions read-only next, outside one


#: SQLSTATE of a missing privilege, whose HINT says which one ("Must be superuser to create this extension").
INSUFFICIENT_PRIVILEGE = b"42501"


def result_error(result: pq.abc.PGresult | None, conn: pq.abc.PGconn) -> str:
    """The error message of a libpq result (or of the connection when there is no result), one line; for a
    missing privilege, with the server's hint naming it."""
    raw = result.error_message if result is not None else conn.error_message
    text = raw.decode("utf-8", "replace").strip() if raw else "unknown error"
    lines = [line for line in text.splitlines() if line.strip()]
    message = _first_line(lines, "unknown error")
    if result is not None and result.error_field(pq.DiagnosticField.SQLSTATE) == INSUFFICIENT_PRIVILEGE:
        hint = result.error_field(pq.DiagnosticField.MESSAGE_HINT)
        if hint:
            message += " (" + " ".join(hint.decode("utf-8", "replace").split()) + ")"
    return redact(message)


def drain_results(conn: pq.abc.PGconn) -> pq.abc.PGresult | None:
    """Collect the remaining results of a command; return the first failed one, if any."""
    failed: pq.abc.PGresult | None = None
    while True:
        result = conn.get_result()
        if result is None:
            return failed
        if failed is None and result.status in (pq.ExecStatus.FATAL_ERROR, pq.ExecStatus.BAD_RESPONSE):
            failed = result


def finish_copy(conn: pq.abc.PGconn) -> tuple[pq.abc.PGresult | None, int]:
    """Collect the results after ``PQputCopyEnd``: the failed one if any, and how many rows the server stored."""
    failed: pq.abc.PGresult | None = None
    stored = 0
    while True:
        result = conn.get_result()
        if result is None:
            return failed, stored
        if result.status in (pq.ExecStatus.FATAL_ERROR, pq.ExecStatus.BAD_RESPONSE):
            failed = failed or result
        elif result.status == pq.ExecStatus.COMMAND_OK and result.command_tuples:
            stored += result.command_tuples
