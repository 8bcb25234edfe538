"""Ending the other sessions on the databases a swap renames, while the renames wait for them to go.

``ALTER DATABASE ... RENAME`` takes the database's lock (AccessExclusiveLock on the database object), then
waits up to 5 s for the other sessions on it to leave, and fails with "is being accessed by other users" if
one stays. A new connection to a database takes that same lock (RowExclusiveLock) before it counts as a
session on it, so while a rename holds it nobody can come in: a connection arriving then waits, and once the
rename commits it fails ("database ... does not exist. It seems to have just been dropped or renamed.") and
its program's next attempt reaches the new database.

Ending the sessions before the rename, from the same connection, cannot win against a program that
reconnects at once (a connection pool, a worker's retry loop): it is back before the rename takes the lock.
So the sessions are ended from a second connection *while* the renames wait: :class:`SessionEnder` ends them
every few milliseconds, from just before the rename transaction until its renames are done (but not yet
committed). Nothing is changed on the server to keep the program out, so nothing has to be put back: a
failure or a kill at any moment rolls the renames back and leaves the databases, their names and their
connection settings (``ALLOW_CONNECTIONS``, ``CONNECTION LIMIT``) exactly as they were.

``ALTER DATABASE ... ALLOW_CONNECTIONS false`` would not do instead: new connections read the catalogue's
committed rows, so it keeps nobody out until it is committed, and a committed one is a change that a kill
would leave behind, with the application locked out of its database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import psycopg

from synco_core.engines.postgresql.connection import one_line
from synco_core.errors import SyncoError

log = logging.getLogger(__name__)

#: How often the sessions are looked for again while the renames wait: the server checks every 100 ms
#: whether they are gone, for 5 s.
INTERVAL_SECONDS = 0.02

#: The sessions the connected role may end (PostgreSQL's own rule): its own roles', and with
#: pg_signal_backend any but a superuser's. Asking to end another one fails the whole statement ("must be a
#: superuser to terminate superuser process"), which failed the install after the whole load when a
#: superuser's psql or GUI session was open on the target.
MAY_END = ("(pg_catalog.pg_has_role(s.usesysid, 'MEMBER') OR (pg_catalog.pg_has_role('pg_signal_backend', "
           "'MEMBER') AND NOT COALESCE((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = s.usesysid), "
           "true)))")

#: Ends the other sessions on the databases of the given oids (by oid: within the rename transaction the
#: names change, and the sessions to end are those on these databases, whatever they are called).
_END = ("SELECT count(pg_catalog.pg_terminate_backend(s.pid, 5000)) FROM pg_catalog.pg_stat_activity s "
        f"WHERE s.datid = ANY(%s) AND s.pid <> pg_catalog.pg_backend_pid() AND s.pid <> ALL(%s) AND {MAY_END}")


def end_sessions(conn: psycopg.Connection[Any], oids: list[int], spared: list[int] | None = None) -> int:
    """End the other sessions on the databases ``oids`` the role may end, but those of the pids ``spared``
    (the installer's own), waiting for each to exit; how many."""
    row = conn.execute(_END, (oids, spared or [])).fetchone()
    return int(row[0]) if row else 0


class SessionEnder:
    """Ends the other sessions on some databases, over a connection of its own, in a thread, until stopped.

    Used as a context manager around a rename transaction; :meth:`stop` is called once the renames are done
    and before the commit, so that no session of the renamed-in database is ended once it has its name.
    """

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], oids: list[int],
                 spared: list[int] | None = None) -> None:
        self._connect = connect
        self._oids = oids
        self._spared = spared or []
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None
        #: Why it could not end sessions, if it could not (a message for the debug log and the error).
        self.failure: str | None = None
        self.ended = 0

    def __enter__(self) -> SessionEnder:
        try:
            self._conn = self._connect()
            self._conn.autocommit = True
        except (psycopg.Error, SyncoError) as exc:
            # A second connection may be refused (max_connections, a role's CONNECTION LIMIT): the caller
            # then ends the sessions itself, once before each try, as before this class.
            self.failure = one_line(exc)
            log.debug("cannot open a second connection to end the sessions during the swap: %s", self.failure)
            return self
        self._thread = threading.Thread(target=self._run, name="synco-end-sessions", daemon=True)
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self.failure is None

    def _run(self) -> None:
        assert self._conn is not None
        try:
            while True:
                self.ended += end_sessions(self._conn, self._oids, self._spared)
                if self._stopped.wait(INTERVAL_SECONDS):
                    return
        except psycopg.Error as exc:
            self.failure = one_line(exc)
            log.debug("ending the sessions during the swap failed: %s", self.failure)

    def stop(self) -> None:
        """Stop ending sessions and wait until the last ``pg_terminate_backend`` has returned."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
