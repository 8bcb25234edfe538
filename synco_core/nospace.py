"""A file system that ran out of space (or a quota that ran out): told apart from other failures, and said in one
line that names the folder whose disk is full, what needed the space and about how much.

Every writer synco has meets it the same way: the dumps' scratch copies in ``$TMPDIR``, the files a user names
with ``-o``, the folders receive and install write. Without this, the user read a bare ``OSError: [Errno 28]``
or SQLite's "database or disk is full" behind words that blamed the database being read.
"""

from __future__ import annotations

import errno
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from synco_core.errors import SyncoError
from synco_core.sizes import human_size

#: The errno values of a write that found no room: a full file system or an exhausted quota.
NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: SQLITE_FULL: SQLite's own word for a write that found no room (its temporary files included).
SQLITE_FULL = 13


class NoSpaceError(SyncoError):
    """A write found no room on a disk (or in a quota); running again helps only once space is freed."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the errors it was raised from or while handling, each once; not past a ``raise ... from None``,
    which says the error before it is not the reason (a hostile dump's refusal is not a full disk)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)


def sqlite_full(exc: BaseException) -> bool:
    """True when SQLite found no room for a write (its database, journal or temporary files), in ``exc``'s chain."""
    # Not imported here: pull's remote side may run on a Python without it, and no SQLite error exists then.
    sqlite3 = sys.modules.get("sqlite3")
    return sqlite3 is not None and any(
        isinstance(found, sqlite3.Error) and (getattr(found, "sqlite_errorcode", None) == SQLITE_FULL
                                              or "database or disk is full" in str(found))
        for found in _chain(exc))


def is_no_space(exc: BaseException) -> bool:
    """True when ``exc`` (or an error it was raised from) is a write that found no room on its disk."""
    return sqlite_full(exc) or any(isinstance(found, NoSpaceError)
                                   or (isinstance(found, OSError) and found.errno in NO_SPACE_ERRNOS)
                                   for found in _chain(exc))


def temporary_folder() -> Path:
    """The folder synco's scratch files go to (``$TMPDIR``, else the system's)."""
    return Path(tempfile.gettempdir())


def _left(folder: Path) -> str:
    """``", 1.2 MB free"``, or that no file can be created there (its inodes are used up); "" when unknown."""
    try:
        found = os.statvfs(folder)
    except OSError:
        return ""
    if found.f_files and not found.f_favail:
        return " (no file can be created there: its inodes are used up)"
    return f", {human_size(found.f_bavail * found.f_frsize)} free"


def no_space(folder: Path, what: str, needed: int | None = None, hint: str = "",
             more_than: int | None = None) -> NoSpaceError:
    """The one line for ``what`` (``"the dump"``) that did not fit on the disk holding ``folder``.

    ``needed``: about how many bytes it needs there, when that is known; else ``more_than``: how many it had
    written when the disk was full; ``hint``: another way out than freeing space (``" or point TMPDIR at a
    larger disk"``).
    """
    if needed:
        size = f" needs about {human_size(needed)}"
    elif more_than:
        size = f" needs more than {human_size(more_than)}"
    else:
        size = " needs more space than is left"
    left = _left(folder)
    named = f"{folder} (TMPDIR)" if folder == temporary_folder() else str(folder)
    return NoSpaceError(f"no space left on the disk that holds {named}: {what}{size} there{left}; free some "
                        f"space{hint} and run the same command again")


#: The advice for a scratch file in the temporary folder.
ELSEWHERE = " or point TMPDIR at a larger disk"


#: MySQL/MariaDB errors that say the server found no room: ER_DISK_FULL, ER_RECORD_FILE_FULL ("The table 'x' is
#: full": the data directory's disk, or a table's own size limit).
_MYSQL_FULL = frozenset({1021, 1114})
#: How a database server's message says its disk is full (an OS error 28 passed on, PostgreSQL's disk_full).
_SERVER_WORDS = ("no space left on device", "errcode: 28", "errno: 28", "error 28 ", "disk full",
                 "could not extend file")


def server_out_of_space(exc: BaseException) -> bool:
    """True when ``exc`` (or what it was raised from) is a database server saying it found no room for a write."""
    for found in _chain(exc):
        if isinstance(found, (OSError, NoSpaceError)) or type(found).__module__ == "sqlite3":
            continue  # the laptop's own disk, not the server's
        code = found.args[0] if found.args and isinstance(found.args[0], int) else None
        if code in _MYSQL_FULL or getattr(found, "sqlstate", None) == "53100":
            return True
        text = str(found).lower()
        if any(words in text for words in _SERVER_WORDS):
            return True
    return False


def server_full(engine: str, where: str, target: str, reason: str, dropped: bool) -> NoSpaceError:
    """The one line for an install whose database server ran out of space while it loaded the scratch copy
    (the target is as it was); ``reason`` is the server's own words, ``dropped`` whether the copy is gone."""
    copy = "the copy was dropped" if dropped else "the copy could not be dropped yet (the next install drops it)"
    return NoSpaceError(f"the {engine} server at {where} ran out of disk space while it loaded the dump into a "
                        f"scratch copy of {target!r} ({reason}): {copy} and {target!r} is as it was; free space on "
                        "the server's data directory (the copy needs about as much as the database itself, beside "
                        "it) and run the same command again")
