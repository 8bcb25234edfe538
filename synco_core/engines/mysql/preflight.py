"""Before a receive downloads anything: could an install replace this MySQL/MariaDB database?

The installer needs a connection with the configured credentials and the right to create (and drop) the
scratch database ``<db>__synco_new``. Checking exactly that, by creating and dropping it, answers both
questions in a few milliseconds, where a missing right would otherwise surface after the whole download.
A scratch database that already exists (left by an install that was killed) is left alone: the next
install drops it first anyway. The targets the install refuses before changing anything
(:func:`~synco_core.engines.mysql.swap.require_replaceable`) are refused here too.
"""

from __future__ import annotations

import logging
from typing import Any

import pymysql

from synco_core.engines.mysql import needed, swap
from synco_core.engines.mysql.connect import connect, describe, quote_name, where
from synco_core.engines.mysql.swap import Names
from synco_core.errors import DatabaseError
from synco_core.values import DatabaseConfig

log = logging.getLogger(__name__)


def _exists(conn: Any, name: str) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME=%s", (name,))
        return cur.fetchone() is not None


def check(database: DatabaseConfig) -> bool:
    """True when the server answers and the scratch database can be created; else one-line DatabaseError."""
    names = Names.of(database.name, where(database))
    scratch = names.scratch
    conn = connect(database, use_database=False)
    try:
        swap.plain_session(conn)
        swap.require_read_write(conn)
        names = Names.on_server(conn, database.name, where(database))
        scratch = names.scratch
        if not _exists(conn, scratch):
            try:
                with conn.cursor() as cur:
                    cur.execute(f"CREATE DATABASE {quote_name(scratch)}")
                    cur.execute(f"DROP DATABASE {quote_name(scratch)}")
            except pymysql.err.MySQLError as exc:
                raise DatabaseError(_cannot_create(database, scratch, exc)) from exc
        # Then what the install itself refuses before changing anything (after the same order of checks).
        needed.require(conn, names, log.warning)
        swap.require_replaceable(conn, database.name, database.user or "root")
        return True
    except pymysql.err.MySQLError as exc:
        raise DatabaseError(f"checking whether user {database.user or 'root'!r} may replace database "
                            f"{database.name!r} on {where(database)} failed: {describe(exc)}") from exc
    finally:
        conn.close()


#: "The MariaDB server is running with the --read-only option so it cannot execute this statement".
_ER_OPTION_PREVENTS_STATEMENT = 1290


def _cannot_create(database: DatabaseConfig, scratch: str, exc: pymysql.err.MySQLError) -> str:
    """Why the scratch database could not be made, in one line: only a refused privilege is a missing grant
    (a server in read_only mode refuses every user without READ_ONLY ADMIN, whatever its grants)."""
    user, code = database.user or "root", exc.args[0] if exc.args else 0
    needs = f"the database {scratch!r} on {where(database)} that installing {database.name!r} needs"
    if code == _ER_OPTION_PREVENTS_STATEMENT:
        return (f"user {user!r} cannot create {needs}: the server runs with read_only, which lets no user "
                "without READ_ONLY ADMIN (or SUPER) change anything; turn it off on this server (SET GLOBAL "
                f"read_only=0) or install as such a user; {describe(exc)}")
    if code in (swap.ER_DBACCESS_DENIED, _ER_ACCESS_DENIED):
        return (f"user {user!r} cannot create {needs}: it lacks {Names.of(database.name).needed_grant()}; "
                f"{describe(exc)}")
    return f"user {user!r} cannot create {needs}: {describe(exc)}"


#: "Access denied; you need (at least one of) the ... privilege(s)".
_ER_ACCESS_DENIED = 1227
