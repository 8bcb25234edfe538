"""How far a loading SQL script may make SQLite go: as far as the script itself carries it, not further.

A dump's statements carry their own data: an ``INSERT`` holds its values, a ``CREATE INDEX`` sorts rows
inserted before it. A hostile script can instead make a few bytes expand without end (a recursive CTE
inserting rows, ``zeroblob(1000000000)`` in a loop), filling the laptop's disk from an artifact of a few
hundred bytes that passed every declared-size check, or run a query that never ends (a recursive CTE
without a limit). So, while a script loads:

- the database may grow to :data:`GROWTH` times the script read so far, plus :data:`SLACK` bytes, plus two
  of the largest pages (64 KiB) per table, index or virtual table created (an empty one takes a page of
  its own whatever its size): ``PRAGMA max_page_count``, set by the installer (the gate refuses it to the
  script) and computed again after each of the script's pragmas, which may have changed the page size;
- a statement may run :data:`STEPS_PER_BYTE` virtual machine instructions per byte of the script read so far,
  plus :data:`BASE_STEPS` (a progress handler interrupts it).

Verifying a loaded database reads every row of it, and a virtual generated column is computed as it is
read: an 8 KiB file whose rows each computed ``zeroblob(200000000)`` kept a core busy for minutes. So
:class:`ReadBudget` stops the manifest check once it has read :data:`READ_GROWTH` times the database
file plus :data:`READ_SLACK`, and (Python 3.11+) no value read may be larger than twice the file plus
:data:`VALUE_SLACK` (``SQLITE_LIMIT_LENGTH``): a stored value is never larger than the file holding it.

A real dump stays far inside all of these: a 62 MB script of 300,000 rows with five indexes, an FTS table and
``ANALYZE`` loads into 1.1 times its size, and its heaviest statement (a ``CREATE INDEX``) runs 0.05
instructions per byte read.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator

from synco_core.errors import DatabaseError

#: How many times the script read so far the database may grow to.
GROWTH = 32
#: Bytes the database may take beyond that (a short script of many empty tables and indexes).
SLACK = 64 << 20
#: Virtual machine instructions a statement may run per byte of the script read so far, and beyond that.
STEPS_PER_BYTE = 100
BASE_STEPS = 200_000_000
#: How many times the database file's size the manifest check may read, and how much beyond that.
READ_GROWTH = 16
READ_SLACK = 256 << 20
#: How much larger than twice the database file a single value read may be.
VALUE_SLACK = 64 << 20
#: SQLITE_LIMIT_LENGTH (sqlite3.h), which the module names only from Python 3.11.
_LIMIT_LENGTH = 0
#: How often (in instructions) the progress handler counts.
_EVERY = 10_000
#: The allowed size is raised in steps of this many bytes (each raise is a PRAGMA of its own).
_RAISE_STEP = 1 << 20
#: SQLite's authorizer action codes for what creates a b-tree of its own.
_CREATES = frozenset({1, 2, 3, 4, 29})  # CREATE INDEX, TABLE, TEMP INDEX, TEMP TABLE, CREATE VTABLE
_PRAGMA = 19
_LARGEST_PAGE = 65536


class LoadBudget:
    """Bounds the database size and the work of each statement while a script loads into ``conn``."""

    def __init__(self, conn: sqlite3.Connection, set_pragma: Callable[[str], None], path: str | None = None) -> None:
        """``path``: the database's file, to tell a full disk from the budget when SQLite says SQLITE_FULL."""
        self._conn = conn
        self._path = path
        self._set_pragma = set_pragma
        self._limit = -1
        self._created = 0
        self._ticks = 0
        self._allowed_ticks = 0
        #: Why the last statement was stopped (None: it was not).
        self.exceeded: str | None = None
        conn.set_progress_handler(self._tick, _EVERY)

    def saw(self, action: int) -> None:
        """Called by the gate for each action it authorizes: counts what creates a b-tree, and notes a
        pragma (the page size may have changed: the page count allowed is computed again)."""
        if action in _CREATES:
            self._created += 1
        elif action == _PRAGMA:
            self._limit = -1

    def allow(self, read: int) -> None:
        """Before a statement: what it may do, the script having been read up to ``read`` bytes."""
        self.exceeded = None
        self._ticks = 0
        self._allowed_ticks = (STEPS_PER_BYTE * read + BASE_STEPS) // _EVERY
        limit = GROWTH * read + SLACK + 2 * _LARGEST_PAGE * self._created
        if self._limit < 0 or limit >= self._limit + _RAISE_STEP:
            page_size = int(self._conn.execute("PRAGMA page_size").fetchone()[0])
            self._set_pragma(f"PRAGMA max_page_count = {limit // page_size}")
            self._limit = limit

    def explain(self, exc: sqlite3.Error) -> str | None:
        """Why ``exc`` happened when it was this budget that stopped the statement, else None."""
        if self.exceeded is not None:
            return self.exceeded
        if "full" in str(exc).lower() and not self._disk_is_nearer():
            return (f"it would grow the database past {self._limit} bytes ({GROWTH} times the script up to it, "
                    "and a little more)")
        return None

    def _disk_is_nearer(self) -> bool:
        """True when the disk has less room left than this budget allows the database to grow: SQLite says
        SQLITE_FULL for both, and a full disk is not the dump's fault (the user frees space and runs again)."""
        if self._path is None:
            return False
        try:
            size = os.path.getsize(self._path)
            found = os.statvfs(os.path.dirname(self._path) or ".")
        except OSError:
            return False
        return found.f_bavail * found.f_frsize < self._limit - size

    def close(self) -> None:
        self._conn.set_progress_handler(None, 0)

    def _tick(self) -> int:
        self._ticks += 1
        if self._ticks <= self._allowed_ticks:
            return 0
        self.exceeded = (f"it ran past {self._allowed_ticks * _EVERY} steps, {STEPS_PER_BYTE} per byte of the "
                         "script up to it, and a dump's statements need far fewer")
        return 1


class ReadBudget:
    """Bounds what verifying the database file ``size`` bytes long reads (:func:`fingerprint`'s ``budget``)."""

    def __init__(self, size: int) -> None:
        self._left = READ_GROWTH * size + READ_SLACK
        self.value_limit = 2 * size + VALUE_SLACK
        self._message = (f"tables read as more than {self._left} bytes, {READ_GROWTH} times the database file "
                         "and more (a virtual generated column computing far more than the file holds)")

    def spend(self, size: int) -> None:
        self._left -= size
        if self._left < 0:
            raise DatabaseError(f"verification stopped: the dump's {self._message}")

    def explain(self, exc: sqlite3.Error) -> str:
        """The reason to give for ``exc``, raised while reading under :meth:`limiting_values`."""
        if "too big" in str(exc):
            return (f"a value of it is larger than {self.value_limit} bytes, 2 times the database file and more "
                    "(a virtual generated column computing far more than the file holds)")
        return str(exc)

    @contextlib.contextmanager
    def limiting_values(self, conn: sqlite3.Connection) -> Iterator[None]:
        """No value larger than :attr:`value_limit` while reading (where Python can set SQLite's limits)."""
        setlimit = getattr(conn, "setlimit", None)  # Python 3.11+
        if setlimit is None:
            yield
            return
        previous = setlimit(_LIMIT_LENGTH, self.value_limit)
        try:
            yield
        finally:
            setlimit(_LIMIT_LENGTH, previous)
