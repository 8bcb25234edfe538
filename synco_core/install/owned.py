"""What a files install put into a folder, so that nothing else in it is ever removed by synco.

An install's new folder is live as soon as it is renamed in: the application writes its uploads into it
from then on. Undoing the install (after a failure, a kill, or when a later install drops a kept copy that
a rollback took out) must throw away only what the install put there. So before the new folder goes in,
:func:`write_manifest` notes beside it (``.<folder>.synco-previous.installed``, kept with the kept copy
until the next install) the identity of the folder itself and of every entry in it: inode, size and
modification time (a hard link from the received folder, or a copy, keeps them; a new upload, a file
renamed over ours or one edited in place does not).

:func:`foreign_entries` lists what a folder holds that the install did not put there;
:func:`remove_owned` removes only the install's own entries, leaving the rest (and the folders holding it).

Atomic exchanges of two names (``renameat2(RENAME_EXCHANGE)`` on Linux) let an install or a rollback swap
the live folder with another in one step, so the application never finds the folder missing and never
recreates it between two renames: :func:`exchange`.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import sqlite3
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

from synco_core.errors import SyncoError
from synco_core.nospace import sqlite_full

MANIFEST_SUFFIX = ".synco-previous.installed"
#: Entries named in a one-line refusal; the count says how many more.
SHOWN = 3


def manifest_path(folder: Path) -> Path:
    """Where the install of ``folder`` notes what it put there (beside the kept copy)."""
    return folder.with_name("." + folder.name + MANIFEST_SUFFIX)


def identity(path: Path) -> tuple[int, int] | None:
    """``(st_dev, st_ino)`` of ``path`` (not followed), None when there is nothing there."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino


def _entry_identity(info: os.stat_result) -> str:
    # Text, not three integers: a modification time past 2262 does not fit SQLite's 64-bit integers.
    return f"{info.st_ino}:{info.st_size}:{info.st_mtime_ns}"


class Manifest:
    """The identity of an installed folder (``root``) and of each entry (relative path) the install put in it.

    Kept on disk (an SQLite file) and looked up entry by entry, never loaded whole: a folder of a million
    uploads costs the install no memory for it.
    """

    def __init__(self, root: tuple[int, int], db: sqlite3.Connection) -> None:
        self.root = root
        self._db = db

    def owns(self, relative: str, info: os.stat_result) -> bool:
        try:
            if stat.S_ISDIR(info.st_mode):
                return self._db.execute("SELECT 1 FROM folders WHERE path = ?", (relative,)).fetchone() is not None
            row = self._db.execute("SELECT identity FROM entries WHERE path = ?", (relative,)).fetchone()
        except sqlite3.Error:
            # A note damaged since it was read: nothing is taken for synco's, so nothing is removed.
            return False
        return row is not None and row[0] == _entry_identity(info)


def _walk(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every entry under ``root`` (links not followed), relative; folders after their content.

    A generator holding one folder's listing and the folders still to visit: entries may be removed as they
    come (a folder comes once everything in it did).
    """
    pending: list[tuple[str, bool]] = [("", False)]
    while pending:
        relative, listed = pending.pop()
        if listed:
            with contextlib.suppress(FileNotFoundError):
                yield relative, os.lstat(root / relative)
            continue
        if relative:
            pending.append((relative, True))
        try:
            with os.scandir(root / relative if relative else root) as scan:
                entries = list(scan)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            name = f"{relative}/{entry.name}" if relative else entry.name
            if entry.is_dir(follow_symlinks=False):
                pending.append((name, False))
            else:
                with contextlib.suppress(FileNotFoundError):
                    yield name, entry.stat(follow_symlinks=False)


_SCHEMA = ("CREATE TABLE note (version INTEGER, dev INTEGER, ino INTEGER);"
           "CREATE TABLE entries (path TEXT PRIMARY KEY, identity TEXT) WITHOUT ROWID;"
           "CREATE TABLE folders (path TEXT PRIMARY KEY) WITHOUT ROWID;")
_VERSION = 1
#: Rows inserted per statement batch while the note is written.
_BATCH = 1024


def _connect(file: Path, readonly: bool) -> sqlite3.Connection:
    uri = file.resolve().as_uri() + ("?mode=ro" if readonly else "")
    # Autocommit off (an explicit transaction), no shared cache; the note is read by one process at a time.
    return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)


def write_manifest(staging: Path, file: Path) -> Manifest:
    """Note what ``staging`` holds (before it is renamed in) into ``file``, durably; returns it."""
    info = os.lstat(staging)
    root = (info.st_dev, info.st_ino)
    temp = file.with_name(file.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    try:
        _write_note(staging, temp, root)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        if not isinstance(exc, sqlite3.Error):
            raise
        # The note is a file like the folder's: a full disk is said as for any file the install writes.
        if sqlite_full(exc):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(temp)) from exc
        raise OSError(errno.EIO, f"cannot write the note of what the install puts there: {exc}", str(temp)) from exc
    os.chmod(temp, 0o600)
    os.replace(temp, file)
    return Manifest(root, _connect(file, readonly=True))


def _write_note(staging: Path, temp: Path, root: tuple[int, int]) -> None:
    db = _connect(temp, readonly=False)
    try:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = FULL")
        db.executescript(_SCHEMA)
        db.execute("BEGIN")
        db.execute("INSERT INTO note VALUES (?, ?, ?)", (_VERSION, root[0], root[1]))
        entries: list[tuple[str, str]] = []
        for relative, entry in _walk(staging):
            if stat.S_ISDIR(entry.st_mode):
                db.execute("INSERT OR REPLACE INTO folders VALUES (?)", (relative,))
            else:
                entries.append((relative, _entry_identity(entry)))
                if len(entries) >= _BATCH:
                    db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?)", entries)
                    entries.clear()
        db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?)", entries)
        db.execute("COMMIT")
    finally:
        db.close()


def read_manifest(file: Path) -> Manifest | None:
    """The manifest in ``file``; None when there is none or it cannot be read (then nothing is synco's)."""
    if not file.is_file():
        return None
    try:
        db = _connect(file, readonly=True)
        row = db.execute("SELECT version, dev, ino FROM note").fetchone()
    except sqlite3.Error:
        return None
    if row is None or row[0] != _VERSION:
        db.close()
        return None
    return Manifest((int(row[1]), int(row[2])), db)


def remove_manifest(folder: Path) -> None:
    file = manifest_path(folder)
    for leftover in (file, file.with_name(file.name + ".tmp")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


class Found:
    """Entries found (relative paths): how many, and the first few of them for a one-line message; a folder
    of a million foreign files costs no memory for them."""

    def __init__(self) -> None:
        self.first: list[str] = []
        self.count = 0

    def add(self, relative: str) -> None:
        self.count += 1
        if len(self.first) < SHOWN:
            self.first.append(relative)

    def __bool__(self) -> bool:
        return self.count > 0


#: Names synco gives its own folders and notes beside a folder it installs: another set's, nested in this one.
SYNCO_NAMES = (".synco-previous", MANIFEST_SUFFIX, ".synco-new", ".synco-swap", ".synco-discard")


def _skipped(relative: str, skip: tuple[str, ...]) -> bool:
    if any(part.endswith(SYNCO_NAMES) for part in relative.split("/")):
        return True
    return any(relative == s or relative.startswith(s.rstrip("/") + "/") for s in skip)


def foreign_entries(folder: Path, manifest: Manifest | None, skip: tuple[str, ...] = ()) -> Found:
    """The files and links under ``folder`` (relative) that the install did not put there, or changed since;
    all of them without a manifest. ``skip``: entries moved in from the previous content (not the install's,
    not the application's). Folders count only through what they hold."""
    found = Found()
    for relative, info in _walk(folder):
        if not stat.S_ISDIR(info.st_mode) and not _skipped(relative, skip) \
                and (manifest is None or not manifest.owns(relative, info)):
            found.add(relative)
    return found


def remove_owned(folder: Path, manifest: Manifest | None) -> Found:
    """Remove from ``folder`` what the install put there (files and links it noted, unchanged), then the
    folders left empty, ``folder`` last; returns what stays (relative), which is the application's."""
    if not os.path.lexists(folder):
        return Found()
    if not os.path.isdir(folder) or os.path.islink(folder):
        info = os.lstat(folder)
        stays = Found()
        if manifest is not None and manifest.root == (info.st_dev, info.st_ino):
            folder.unlink()
        else:
            stays.add(folder.name)
        return stays
    stays = Found()
    for relative, info in _walk(folder):
        path = folder / relative
        if stat.S_ISDIR(info.st_mode):
            try:
                path.rmdir()
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                    raise
        elif manifest is not None and manifest.owns(relative, info):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        else:
            stays.add(relative)
    try:
        folder.rmdir()
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
            raise
    return stays


def named(entries: Found) -> str:
    """A few of ``entries`` for a one-line message, and how many more."""
    shown = ", ".join(entries.first)
    return shown + (f" and {entries.count - len(entries.first)} more" if entries.count > len(entries.first) else "")


class ForeignFilesError(SyncoError):
    """A folder synco would replace, undo or remove holds files it did not put there: nothing was removed."""


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_EXCHANGE = _renameat2()


def exchange(first: Path, second: Path) -> bool:
    """Swap the names ``first`` and ``second`` (both must exist) in one atomic step; False where the system
    or the file system cannot (the caller then renames one at a time), an ``OSError`` for any other failure."""
    if _EXCHANGE is None:
        return False
    if _EXCHANGE(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(first), None, str(second))
