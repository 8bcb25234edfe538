"""A :class:`~synco_core.DatabaseReader` over any DB-API 2 connection, for the engines' ``connect_database``.

Each built-in engine opens its driver's connection its own way (TLS policy, read-only session) and hands it
here with the driver's placeholder and the kind of cursor that streams: PyMySQL's unbuffered ``SSCursor``, a
named (server-side) psycopg cursor, or SQLite's ordinary cursor, which steps through the file as it is read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from synco_core.errors import DatabaseError
from synco_core.redaction import error_line
from synco_core.values import DatabaseReader

#: Rows fetched from the driver at a time: big enough for few round trips, small enough for flat memory.
BATCH_ROWS = 2000


class DbApiReader(DatabaseReader):
    """Rows of queries on one DB-API 2 ``connection``; ``cursor()`` makes the streaming cursor of a query."""

    def __init__(self, connection: Any, *, placeholder: str, where: str,
                 cursor: Callable[[], Any] | None = None) -> None:
        self.connection = connection
        self.placeholder = placeholder
        #: The database as messages name it (``host:port/name``, never the password).
        self.where = where
        self._cursor = cursor or connection.cursor
        self._closed = False

    def rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        cursor = self._cursor()
        try:
            try:
                cursor.execute(sql, tuple(params))
            except Exception as exc:
                # A failed statement aborts PostgreSQL's transaction; rolling back keeps the connection usable.
                with contextlib.suppress(Exception):
                    self.connection.rollback()
                raise DatabaseError(f"query on {self.where} failed: {error_line(exc)}") from exc
            while True:
                try:
                    batch = cursor.fetchmany(BATCH_ROWS)
                except Exception as exc:
                    raise DatabaseError(f"reading rows from {self.where} failed: {error_line(exc)}") from exc
                if not batch:
                    return
                for row in batch:
                    yield tuple(row)
        finally:
            # A cursor of a broken connection cannot close; the connection goes with close() anyway.
            with contextlib.suppress(Exception):
                cursor.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            # Closing is best effort: the server may have gone away already.
            with contextlib.suppress(Exception):
                self.connection.close()
