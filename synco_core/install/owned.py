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
import errno
import os
import sqlite3
import stat
from pathlib import Path

from synco_core.errors import SyncoError
from synco_core.nospace import sqlite_full
from synco_core.renames import AT_FDCWD, RENAME_EXCHANGE, RENAMEAT2, UNSUPPORTED, rename_noreplace_at
from synco_core.trees import remove_tree, walk_tree

MANIFEST_SUFFIX = ".synco-previous.installed"
#: The last install's kept copy of a folder while an install that replaces the folder runs, and its note.
PARKED_SUFFIX = ".synco-older"
PARKED_MANIFEST_SUFFIX = ".synco-older.installed"
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

    def __init__(self, root: tuple[int, int], db: sqlite3.Connection, blind: bool = False) -> None:
        self.root = root
        self._db = db
        #: Only the folder is noted, not what it holds (see :func:`note_folder_only`): nothing in it is synco's.
        self.blind = blind

    def owns(self, relative: str, info: os.stat_result) -> bool:
        if self.blind:
            return False
        try:
            if stat.S_ISDIR(info.st_mode):
                return self._db.execute("SELECT 1 FROM folders WHERE path = ?", (relative,)).fetchone() is not None
            row = self._db.execute("SELECT identity FROM entries WHERE path = ?", (relative,)).fetchone()
        except sqlite3.Error:
            # A note damaged since it was read: nothing is taken for synco's, so nothing is removed.
            return False
        return row is not None and row[0] == _entry_identity(info)


_SCHEMA = ("CREATE TABLE note (version INTEGER, dev INTEGER, ino INTEGER);"
           "CREATE TABLE entries (path TEXT PRIMARY KEY, identity TEXT) WITHOUT ROWID;"
           "CREATE TABLE folders (path TEXT PRIMARY KEY) WITHOUT ROWID;")
_VERSION = 1
#: A table present only in a note of the folder alone (notes without it predate it, and list their entries).
_BLIND = "folder_only"
#: Rows inserted per statement batch while the note is written.
_BATCH = 1024


def _connect(file: Path, readonly: bool) -> sqlite3.Connection:
    uri = file.resolve().as_uri() + ("?mode=ro" if readonly else "")
    # Autocommit off (an explicit transaction), no shared cache; the note is read by one process at a time.
    return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)


def write_manifest(staging: Path, file: Path, received: Path | None = None, blind: bool = False) -> Manifest:
    """Note what ``staging`` holds (before it is renamed in) into ``file``, durably; returns it.

    ``received``: ``staging`` is live already (a plugin's install put it there), so only the entries that
    are as in the received folder at the same path (kind, size, modification time: a link or a copy of it)
    are noted; what the application wrote meanwhile is not, and so is never removed. ``blind``: the folder
    alone is noted (:func:`note_folder_only`).
    """
    info = os.lstat(staging)
    root = (info.st_dev, info.st_ino)
    temp = file.with_name(file.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    try:
        _write_note(staging, temp, root, received, blind)
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
    return Manifest(root, _connect(file, readonly=True), blind)


def note_folder_only(folder: Path) -> Manifest:
    """Note the identity of ``folder`` alone, as an undo with no note of what an install put there does before
    it swaps names: a run cut short then still tells the install's folder from the previous one, and takes
    nothing in it for synco's."""
    return write_manifest(folder, manifest_path(folder), blind=True)


def _as_received(received: Path, relative: str, info: os.stat_result) -> bool:
    try:
        source = os.lstat(received.joinpath(relative))
    except OSError:
        return False
    if stat.S_IFMT(source.st_mode) != stat.S_IFMT(info.st_mode):
        return False
    return stat.S_ISDIR(info.st_mode) or (source.st_size == info.st_size and source.st_mtime_ns == info.st_mtime_ns)


def _write_note(staging: Path, temp: Path, root: tuple[int, int], received: Path | None, blind: bool) -> None:
    db = _connect(temp, readonly=False)
    try:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = FULL")
        db.executescript(_SCHEMA)
        db.execute("BEGIN")
        db.execute("INSERT INTO note VALUES (?, ?, ?)", (_VERSION, root[0], root[1]))
        if blind:
            db.execute(f"CREATE TABLE {_BLIND} (marker INTEGER)")
            db.execute("COMMIT")
            return
        entries: list[tuple[str, str]] = []

        def note(relative: str, entry: os.stat_result) -> None:
            if received is not None and not _as_received(received, relative, entry):
                return
            if stat.S_ISDIR(entry.st_mode):
                db.execute("INSERT OR REPLACE INTO folders VALUES (?)", (relative,))
            else:
                entries.append((relative, _entry_identity(entry)))
                if len(entries) >= _BATCH:
                    db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?)", entries)
                    entries.clear()

        walk_tree(staging, note)
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
        blind = db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (_BLIND,)).fetchone() is not None
    except sqlite3.Error:
        return None
    if row is None or row[0] != _VERSION:
        db.close()
        return None
    return Manifest((int(row[1]), int(row[2])), db, blind)


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
SYNCO_NAMES = (".synco-previous", MANIFEST_SUFFIX, ".synco-new", ".synco-swap", ".synco-discard", PARKED_SUFFIX,
               PARKED_MANIFEST_SUFFIX)


def _skipped(relative: str, skip: tuple[str, ...]) -> bool:
    if any(part.endswith(SYNCO_NAMES) for part in relative.split("/")):
        return True
    return any(relative == s or relative.startswith(s.rstrip("/") + "/") for s in skip)


def foreign_entries(folder: Path, manifest: Manifest | None, skip: tuple[str, ...] = ()) -> Found:
    """The files and links under ``folder`` (relative) that the install did not put there, or changed since;
    all of them without a manifest. ``skip``: entries moved in from the previous content (not the install's,
    not the application's). Folders count only through what they hold."""
    found = Found()
    if os.path.lexists(folder) and (os.path.islink(folder) or not os.path.isdir(folder)):
        # Something else stands where the folder was (a link, a file): not the install's content.
        found.add(folder.name)
        return found

    def visit(relative: str, info: os.stat_result) -> None:
        if not stat.S_ISDIR(info.st_mode) and not _skipped(relative, skip) \
                and (manifest is None or not manifest.owns(relative, info)):
            found.add(relative)

    with contextlib.suppress(FileNotFoundError):
        walk_tree(folder, visit)
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

    def keep(relative: str, info: os.stat_result) -> bool:
        if manifest is not None and manifest.owns(relative, info):
            return False
        stays.add(relative)
        return True

    # The same walk as any tree removal (descriptors, links never followed, read-only folders, any depth),
    # filtered: what the install did not put there stays, with the folders holding it.
    remove_tree(folder, keep=keep)
    return stays


def named(entries: Found) -> str:
    """A few of ``entries`` for a one-line message, and how many more."""
    shown = ", ".join(entries.first)
    return shown + (f" and {entries.count - len(entries.first)} more" if entries.count > len(entries.first) else "")


def kept_copy_holds_foreign_files(destination: Path, backup: Path, foreign: Found) -> ForeignFilesError:
    """The refusal to replace ``destination`` while its kept copy ``backup``, the content of the install a rollback
    took out, holds ``foreign`` files that install did not put there (written by the application meanwhile)."""
    return ForeignFilesError(
        f"cannot replace {destination}: its kept copy {backup} (the content of the install a rollback took out) "
        f"holds files that install did not put there ({named(foreign)}), written by the application meanwhile; "
        f"move them out of {backup}, then install again")


class ForeignFilesError(SyncoError):
    """A folder synco would replace, undo or remove holds files it did not put there: nothing was removed."""


_EXCHANGE = RENAMEAT2


def rename_new(source: Path, target: Path) -> bool:
    """Rename ``source`` to ``target`` unless something is there (checked in the same step where the system
    can: ``renameat2(RENAME_NOREPLACE)``, else by a hard link); False, nothing moved, when something is. A file
    the application writes at ``target`` just before is never replaced."""
    return rename_noreplace_at(AT_FDCWD, str(source), str(target))


def exchange(first: Path, second: Path) -> bool:
    """Swap the names ``first`` and ``second`` (both must exist) in one atomic step; False where the system
    or the file system cannot (the caller then renames one at a time), an ``OSError`` for any other failure."""
    if _EXCHANGE is None:
        return False
    if _EXCHANGE(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), str(first), None, str(second))
