"""The dump's snapshot, shared with more connections when the server allows it, so that the rows of one
table are formatted by two server threads instead of one.

The server's one thread is the dump's critical path (docs/performance.md, "MySQL dump by key"). InnoDB
gives each connection a snapshot of its own, taken when its transaction starts: two connections see the
same rows of a table only when no transaction that wrote to it commits in between. So a short-lived
coordinating connection takes ``LOCK TABLES ... READ`` on the InnoDB tables the helpers read (and on every
InnoDB table when their filters or sanitising rules may read others, see :mod:`.dump`), which waits for
the transactions writing to them to end and holds new writes back; every reading connection then starts
its snapshot, and ``UNLOCK TABLES`` lets writes go on. The lock is held for a few ``START TRANSACTION``
statements, about a millisecond, and waited for at most :data:`LOCK_WAIT_SECONDS` (a long transaction
writing to one of the tables), after which the dump gives up on it rather than hold writers up longer.
It needs the LOCK TABLES privilege, which mariadb-dump's default ``--lock-tables`` needs too, and it
flushes nothing (``BACKUP STAGE`` or ``FLUSH TABLES WITH READ LOCK`` would also drop every sequence's
cached values, and need RELOAD).

Where that is not available (no LOCK TABLES privilege, a wait past the timeout, helpers that cannot
connect), or ``SYNCO_MYSQL_DUMP_CONNECTIONS=1`` says so, the dump reads through its one connection as
mariadb-dump does, and nothing else changes.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import pymysql

from synco_core.bounded import MYSQL_DUMP_CONNECTIONS
from synco_core.engines.mysql import rowstream
from synco_core.engines.mysql.connect import connect, describe, quote_name
from synco_core.errors import DatabaseError
from synco_core.values import DatabaseConfig

log = logging.getLogger(__name__)

#: How many connections read rows, the dump's own included (the environment variable overrides it).
DEFAULT_CONNECTIONS = int(MYSQL_DUMP_CONNECTIONS.default)
CONNECTIONS_VARIABLE = MYSQL_DUMP_CONNECTIONS.name
#: The longest the coordinating connection waits for its read lock (transactions writing to the tables), in s.
LOCK_WAIT_SECONDS = 1
START = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"


def wanted_connections() -> int:
    """How many connections the dump should read through: :data:`CONNECTIONS_VARIABLE` or the default."""
    return int(MYSQL_DUMP_CONNECTIONS.read())


def begin(database: DatabaseConfig, conn: Any, session: list[str], extra: int, tables: list[str]) -> list[Any]:
    """Start the dump's transaction on ``conn`` and, when the server allows it, on ``extra`` new connections
    that see the same rows of ``tables`` (InnoDB tables of ``database``), each set up with the ``session``
    statements first, as ``conn`` was.

    Returns those new connections, or an empty list when the snapshot could not be shared: ``conn`` alone
    holds the snapshot then, as it would have without this.
    """
    helpers = _open_helpers(database, session, extra) if extra > 0 and tables else []
    coordinator = _hold_writes(database, tables) if helpers else None
    if coordinator is None:
        close(helpers)
        _start(conn)
        return []
    started = False
    try:
        _start(conn)
        started = True
        _between_starts()
        for reader in helpers:
            _start(reader)
    except (pymysql.err.MySQLError, OSError) as exc:
        close(helpers)
        if not started:
            raise
        # The dump's own snapshot is taken: a helper that failed only leaves it reading alone.
        log.debug("a helper's snapshot failed (%s): reading through one connection", describe(exc))
        return []
    except BaseException:
        close(helpers)
        raise
    finally:
        _release(coordinator)
    return helpers


def _start(reader: Any) -> None:
    with reader.cursor() as cur:
        cur.execute(START)


def _between_starts() -> None:
    """Nothing: a test makes a writer commit here, between the dump's snapshot and its helpers'."""


def close(connections: list[Any]) -> None:
    for reader in connections:
        with contextlib.suppress(Exception):  # A helper only ever read: nothing is lost by a failed close.
            reader.close()


def _open_helpers(database: DatabaseConfig, session: list[str], count: int) -> list[Any]:
    helpers: list[Any] = []
    try:
        for _ in range(count):
            reader = connect(database, raw=True)
            helpers.append(reader)
            rowstream.widen_read_buffer(reader)
            with reader.cursor() as cur:
                for statement in session:
                    cur.execute(statement)
    except (pymysql.err.MySQLError, OSError, DatabaseError) as exc:
        # Too many connections for the user, say: the dump still works through its own.
        log.debug("a second dump connection could not be opened (%s): reading through one", describe(exc))
        close(helpers)
        return []
    return helpers


def _hold_writes(database: DatabaseConfig, tables: list[str]) -> Any | None:
    """A connection holding a read lock on ``tables``, or None when the server will not give it in time."""
    try:
        coordinator = connect(database, raw=True)
    except (pymysql.err.MySQLError, OSError, DatabaseError) as exc:
        log.debug("no connection to coordinate a shared snapshot (%s): reading through one", describe(exc))
        return None
    db = quote_name(database.name)
    try:
        with coordinator.cursor() as cur:
            cur.execute(f"SET SESSION lock_wait_timeout = {LOCK_WAIT_SECONDS}")
            cur.execute("LOCK TABLES " + ", ".join(f"{db}.{quote_name(table)} READ" for table in tables))
    except (pymysql.err.MySQLError, OSError, UnicodeError) as exc:
        # Closing the connection releases whatever it holds.
        log.debug("the snapshot cannot be shared (%s): reading through one connection", describe(exc))
        close([coordinator])
        return None
    return coordinator


def _release(coordinator: Any) -> None:
    try:
        with coordinator.cursor() as cur:
            cur.execute("UNLOCK TABLES")
    except (pymysql.err.MySQLError, OSError):
        log.debug("UNLOCK TABLES failed; closing the connection releases the lock", exc_info=True)
    finally:
        close([coordinator])
