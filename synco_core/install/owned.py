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
import json
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

from synco_core.errors import SyncoError

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


def _entry_identity(info: os.stat_result) -> list[int]:
    return [info.st_ino, info.st_size, info.st_mtime_ns]


@dataclass
class Manifest:
    """The identity of an installed folder (``root``) and of each entry (relative path) the install put in it."""

    root: tuple[int, int]
    entries: dict[str, list[int]] = field(default_factory=dict)
    folders: set[str] = field(default_factory=set)

    def owns(self, relative: str, info: os.stat_result) -> bool:
        if stat.S_ISDIR(info.st_mode):
            return relative in self.folders
        return self.entries.get(relative) == _entry_identity(info)


def _walk(root: Path) -> list[tuple[str, os.stat_result]]:
    """Every entry under ``root`` (links not followed), relative; folders after their content."""
    found: list[tuple[str, os.stat_result]] = []
    pending: list[tuple[str, bool]] = [("", False)]
    while pending:
        relative, listed = pending.pop()
        if listed:
            found.append((relative, os.lstat(root / relative)))
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
                    found.append((name, entry.stat(follow_symlinks=False)))
    return found


def write_manifest(staging: Path, file: Path) -> Manifest:
    """Note what ``staging`` holds (before it is renamed in) into ``file``, durably; returns it."""
    info = os.lstat(staging)
    manifest = Manifest((info.st_dev, info.st_ino))
    for relative, entry in _walk(staging):
        if stat.S_ISDIR(entry.st_mode):
            manifest.folders.add(relative)
        else:
            manifest.entries[relative] = _entry_identity(entry)
    data = {"version": 1, "root": list(manifest.root), "folders": sorted(manifest.folders),
            "entries": manifest.entries}
    temp = file.with_name(file.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, json.dumps(data, separators=(",", ":")).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, file)
    return manifest


def read_manifest(file: Path) -> Manifest | None:
    """The manifest in ``file``; None when there is none or it cannot be read (then nothing is synco's)."""
    try:
        data = json.loads(file.read_bytes())
        root = data["root"]
        return Manifest((int(root[0]), int(root[1])), {str(k): [int(n) for n in v] for k, v in data["entries"].items()},
                        {str(f) for f in data["folders"]})
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def remove_manifest(folder: Path) -> None:
    file = manifest_path(folder)
    for leftover in (file, file.with_name(file.name + ".tmp")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


#: Names synco gives its own folders and notes beside a folder it installs: another set's, nested in this one.
SYNCO_NAMES = (".synco-previous", MANIFEST_SUFFIX, ".synco-new", ".synco-swap", ".synco-discard")


def _skipped(relative: str, skip: tuple[str, ...]) -> bool:
    if any(part.endswith(SYNCO_NAMES) for part in relative.split("/")):
        return True
    return any(relative == s or relative.startswith(s.rstrip("/") + "/") for s in skip)


def foreign_entries(folder: Path, manifest: Manifest | None, skip: tuple[str, ...] = ()) -> list[str]:
    """The files and links under ``folder`` (relative) that the install did not put there, or changed since;
    all of them without a manifest. ``skip``: entries moved in from the previous content (not the install's,
    not the application's). Folders count only through what they hold."""
    return [relative for relative, info in _walk(folder)
            if not stat.S_ISDIR(info.st_mode) and not _skipped(relative, skip)
            and (manifest is None or not manifest.owns(relative, info))]


def remove_owned(folder: Path, manifest: Manifest | None) -> list[str]:
    """Remove from ``folder`` what the install put there (files and links it noted, unchanged), then the
    folders left empty, ``folder`` last; returns what stays (relative), which is the application's."""
    if not os.path.lexists(folder):
        return []
    if not os.path.isdir(folder) or os.path.islink(folder):
        info = os.lstat(folder)
        if manifest is not None and manifest.root == (info.st_dev, info.st_ino):
            folder.unlink()
            return []
        return [folder.name]
    stays: list[str] = []
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
            stays.append(relative)
    try:
        folder.rmdir()
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
            raise
    return stays


def named(entries: list[str]) -> str:
    """A few of ``entries`` for a one-line message, and how many more."""
    shown = ", ".join(entries[:SHOWN])
    return shown + (f" and {len(entries) - SHOWN} more" if len(entries) > SHOWN else "")


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
