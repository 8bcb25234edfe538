"""A second connection that takes half of a big ``COPY ... FROM stdin`` block.

One backend parses and stores COPY rows on one core; ``psql`` leaves it at that. The loader reads the dump
much faster than one backend can store it, so once a block has proved big it opens the same COPY on a
second connection and hands it every other run of whole rows: two backends store the table at once. A
text-format COPY has exactly one row per line (newlines inside values are escaped), so cutting at a
newline never splits a row. Which backend stores a row changes only where it lands in the heap, which no
dump or checksum depends on: the checksum is still taken over the block in the dump's order.

The second connection repeats the session settings the script made before (``SET``, ``set_config``), so
both parse the rows alike. It sends from a thread of its own through a small bounded queue: memory stays
at a few blocks whatever the table's size.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable
from typing import Any

from psycopg import pq

from synco_core.engines.postgresql import rawtext
from synco_core.engines.postgresql.connection import drain_results, finish_copy, result_error
from synco_core.errors import DatabaseError
from synco_core.handoff import end, until_ended

#: A block is shared once this much of it has gone to the first connection: small tables are not worth
#: a second COPY, and most tables of a dump are small.
SHARE_AFTER = 16 << 20
#: Pieces waiting for the second connection (each at most one read of the dump, 1 MiB).
QUEUE_PIECES = 4

#: Only a plain text-format COPY is shared: with options (CSV, another delimiter, binary) a line is not
#: always a row.
PLAIN_COPY = re.compile(rb"^\s*COPY\s+[^;]*?\bFROM\s+stdin\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_OPTIONS = re.compile(rb"\bFROM\s+stdin\s*(?:\(|WITH\b|CSV\b|BINARY\b|DELIMITER\b|NULL\b)", re.IGNORECASE)
#: Statements whose effect lasts for the session and so must be repeated on the second connection.
SESSION_SETTING = re.compile(rb"^\s*(?:SET\s+(?!LOCAL\b|TRANSACTION\b)|SELECT\s+pg_catalog\.set_config\s*\()",
                             re.IGNORECASE)



def shareable(statement: bytes) -> bool:
    """Whether the rows of this COPY statement are one per line (text format, no options)."""
    return bool(PLAIN_COPY.match(statement)) and not _OPTIONS.search(statement)


class SecondConnection:
    """The loader's second connection, opened on the first big block and kept for the rest of the script."""

    def __init__(self, opener: Callable[[], Any]) -> None:
        self._opener = opener
        self._connection: Any = None
        self.settings: list[bytes] = []

    def remember(self, statement: bytes) -> None:
        """Note a statement the script ran on the first connection, if it changes session settings."""
        if SESSION_SETTING.match(statement):
            self.settings.append(statement)

    def pgconn(self) -> pq.abc.PGconn:
        if self._connection is None:
            connection = self._opener()
            try:
                for statement in self.settings:
                    result = connection.pgconn.exec_params(statement, [])
                    if result.status != pq.ExecStatus.COMMAND_OK and result.status != pq.ExecStatus.TUPLES_OK:
                        raise DatabaseError(f"the second loading connection refused {statement[:60]!r}: "
                                            f"{result_error(result, connection.pgconn)}")
                rawtext.check_bytes(connection.pgconn)
            except BaseException:
                connection.close()
                raise
            # Blocking mode, as on the first connection: libpq then waits for the socket instead of buffering.
            connection.pgconn.nonblocking = 0
            self._connection = connection
        return self._connection.pgconn  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class SharedCopy:
    """The second half of one COPY block: started on the second connection, fed from a thread."""

    def __init__(self, pgconn: pq.abc.PGconn, statement: bytes, line: int) -> None:
        self._pgconn = pgconn
        self._line = line
        result = pgconn.exec_params(statement, [])
        if result.status != pq.ExecStatus.COPY_IN:
            raise DatabaseError(f"the COPY at line {line} of the dump failed on the second connection: "
                                f"{result_error(result, pgconn)}")
        self._pieces: queue.Queue[Any] = queue.Queue(QUEUE_PIECES)
        self.error: str | None = None
        #: Rows the server reports it stored through this connection, once finished.
        self.stored = 0
        self._abort: bytes | None = None
        #: Set once nothing more is put (after the last piece, or to abort); see :mod:`synco_core.handoff`.
        self._ending = threading.Event()
        self._thread = threading.Thread(target=self._send, name="synco-copy", daemon=True)
        self._thread.start()

    def put(self, piece: bytes | memoryview) -> None:
        """Queue a piece of whole rows; raise as soon as the second COPY has failed."""
        while True:
            if self.error is not None:
                raise DatabaseError(self.error)
            try:
                self._pieces.put(piece, timeout=0.2)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """End the COPY and wait for the server's answer; raise DatabaseError if it failed."""
        self._close(None)
        if self.error is not None:
            raise DatabaseError(self.error)

    def abort(self) -> None:
        """End the COPY with an error (the first connection failed), so the server discards these rows too."""
        self._close(b"load aborted")

    def _close(self, abort: bytes | None) -> None:
        self._abort = abort
        end(self._pieces, self._ending)
        self._thread.join()

    def _send(self) -> None:
        pgconn = self._pgconn
        failed = False
        for piece in until_ended(self._pieces, self._ending):
            if self._abort is not None and self._ending.is_set():
                break  # the rows still queued are not sent: the server discards this COPY anyway
            if failed:
                continue  # keep taking pieces until the end, so the reader is never stuck on a full queue
            if pgconn.put_copy_data(piece) != 1:
                self.error = (f"the COPY at line {self._line} of the dump failed: "
                              f"{result_error(None, pgconn)}")
                failed = True
        if failed:
            pgconn.put_copy_end(b"load aborted")
            drain_results(pgconn)
            return
        pgconn.put_copy_end(self._abort)
        result, self.stored = finish_copy(pgconn)
        if result is not None and self._abort is None:
            self.error = f"the COPY at line {self._line} of the dump failed: {result_error(result, pgconn)}"
