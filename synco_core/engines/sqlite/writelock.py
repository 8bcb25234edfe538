"""The target's write lock, held by the install and the rollback from before its file is kept until the
file that replaces it is in place and the replaced one's side files are gone.

Another process's connection (the running application, a queue worker, a database console) writes to the
file it opened, and finds its side files by name. In rollback-journal mode its journal is
``<target>-journal``: once the target is renamed over, a connection to the new file that finds that journal,
with no writer of its own file behind it, takes it for a crashed transaction's and plays the old file's pages
into the new one. A write transaction open across an install (an import, a console's unsaved edit) left the
installed database a silent mix of both contents that ``PRAGMA integrity_check`` calls ok. SQLite itself
refuses a write to a file renamed away from under its connection (``SQLITE_READONLY_DBMOVED``), but only to a
transaction that starts after the rename. In write-ahead-log mode a commit that lands in the log between the
checkpoint and the rename is lost with the log, from the new file and the kept copy alike.

So the install takes the write lock itself (``BEGIN IMMEDIATE``) once the log is folded in, and keeps it
across the swap: a transaction open elsewhere is waited for a bounded time (30 s), then the
command stops in one line, nothing changed.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from synco_core.errors import DatabaseError

#: SQLite's primary result codes of a lock another connection holds (BUSY, LOCKED).
_BUSY = (5, 6)


def _busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return bool(code & 0xFF in _BUSY)
    return "locked" in str(exc)


def _in_use(target: Path, waited: int, what: str) -> DatabaseError:
    return DatabaseError(f"SQLite database {target} is in use: another connection (the application, a console) "
                         f"kept a transaction open on it for more than {waited} s, {what}; end that transaction "
                         "(or stop that program) and run again; nothing was changed")


@contextlib.contextmanager
def writers_shut_out(target: Path, waited: int) -> Iterator[contextlib.ExitStack]:
    """Fold the target's write-ahead log into it and hold its write lock until the block ends.

    Yields a stack for descriptors of the target that the block opens (a copy where hard links are not
    possible): closing any descriptor of a file drops every POSIX lock this process holds on it, the
    connection's write lock with them, so they are closed only after the connection. ``waited``: how long, in
    seconds, another connection's transaction is waited for.
    """
    deadline = time.monotonic() + waited
    with contextlib.ExitStack() as descriptors, \
            contextlib.closing(sqlite3.connect(target, timeout=waited, isolation_level=None)) as conn:
        try:
            while True:
                row = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if row is not None and row[0]:
                    raise _in_use(target, waited, "so its write-ahead log could not be folded into the file kept "
                                                  "for 'synco db rollback'")
                conn.execute("BEGIN IMMEDIATE")
                # A commit between the checkpoint and the lock is in the log again: fold it in too.
                if not os.path.exists(f"{target}-wal") or os.path.getsize(f"{target}-wal") == 0:
                    break
                conn.execute("ROLLBACK")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _in_use(target, waited, "writing to its write-ahead log")
                conn.execute(f"PRAGMA busy_timeout = {int(left * 1000)}")
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
            raise _in_use(target, waited, "writing to it, and replacing the file under an unfinished write "
                                          "would let its journal be played into the new one") from None
        yield descriptors
