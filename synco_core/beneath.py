"""Paths resolved on the real file system beneath a root, the way ``openat2(RESOLVE_BENEATH)`` resolves them.

Extraction of a received tar and installation into a project must never reach outside their root, and a
check on the text of a path cannot promise that: a chain of links that each look harmless (``s0 -> .``,
``s1 -> s0/..``) leaves the root although no link's target starts with ``..``. So paths are resolved here
one segment at a time against what is really on disk, relative to an open directory of the root:

- :func:`resolve_beneath` follows links only as long as every step stays below the root (as Linux's
  ``RESOLVE_BENEATH`` and Go's ``os.Root`` do): a ``..`` that would climb above the root, an absolute
  link, or more than :data:`MAX_LINK_HOPS` links refuse the path. A ``..`` after a segment that does not
  exist yet is refused too, since what is created there later (a link) decides where it leads.
- :func:`open_folder` walks down to a folder without following any link at all (``O_NOFOLLOW`` on every
  segment), creating folders on the way; what is written there cannot land anywhere else.
- :func:`check_no_links` refuses a relative path whose existing folders include a link (for folders that
  synco itself fills with nothing but regular files and folders).
- :class:`BelowRoot` opens and stats files of a tree serve walked, by their path below the tree's root and
  without following a link on the way: a folder an uploader swapped for a link to ``/`` between the walk
  and the read fails the open instead of leading it out of the tree.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path

from synco_core.errors import UnsafePathError
from synco_core.names import safe_segment

#: The number of links Linux follows in one path lookup before it gives up with ELOOP.
MAX_LINK_HOPS = 40
_DIRECTORY_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC


def open_root(path: Path) -> int:
    """A descriptor of the folder ``path`` (itself not a link); the caller closes it."""
    try:
        return os.open(path, _DIRECTORY_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePathError(f"{path} is not a folder (a link or a file is in the way)") from None
        raise


def resolve_beneath(root_fd: int, start: Sequence[str], target: str, what: str,
                    visible: Callable[[str, os.stat_result], bool] | None = None) -> list[str]:
    """The real location, as folder names below the root, that ``target`` names when seen from ``start``.

    ``start`` is a folder below the root given as real (link-free) names; ``target`` is a relative path
    such as a link's content. Existing links on the way are followed within the root; segments that do not
    exist are taken as they are. Raises :class:`UnsafePathError` (naming ``what``) when the path leaves
    the root, is absolute, loops, or climbs with ``..`` out of a segment that does not exist.

    ``visible(path, lstat)`` False takes an existing segment as one that does not exist: serve judges a
    link as a receiver will, which has extracted only the members before it.
    """
    if target.startswith("/"):
        raise UnsafePathError(f"{what}: an absolute path leads out of its folder")
    resolved = list(start)
    pending = list(reversed(target.split("/")))
    hops = 0
    missing = False
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if missing:
                raise UnsafePathError(f"{what}: '..' after {'/'.join(resolved)!r}, which does not exist, "
                                      "could lead anywhere")
            if not resolved:
                raise UnsafePathError(f"{what}: leads out of its folder")
            resolved.pop()
            continue
        safe_segment(part, what)
        resolved.append(part)
        if missing:
            continue
        joined = "/".join(resolved)
        try:
            info = os.lstat(joined, dir_fd=root_fd)
        except (FileNotFoundError, NotADirectoryError):
            missing = True
            continue
        if visible is not None and not visible(joined, info):
            missing = True
            continue
        if stat.S_ISLNK(info.st_mode):
            hops += 1
            if hops > MAX_LINK_HOPS:
                raise UnsafePathError(f"{what}: more than {MAX_LINK_HOPS} links on the way")
            link = os.readlink(joined, dir_fd=root_fd)
            resolved.pop()
            if link.startswith("/"):
                raise UnsafePathError(f"{what}: passes through {joined!r}, a link to the absolute path {link!r}")
            pending.extend(reversed(link.split("/")))
    return resolved


def open_folder(root_fd: int, parts: Sequence[str], create: bool = False, mode: int = 0o777) -> int:
    """A descriptor of the folder ``parts`` below the root, reached without following any link.

    Missing folders are created with ``mode`` (less the umask) when ``create``. A link or a file where a
    folder should be refuses the path. The caller closes the descriptor.
    """
    fd = os.dup(root_fd)
    try:
        for number, part in enumerate(parts):
            try:
                try:
                    child = os.open(part, _DIRECTORY_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    # Made meanwhile by another thread: opened (and so checked) below all the same.
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, mode, dir_fd=fd)
                    child = os.open(part, _DIRECTORY_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    where = "/".join(parts[:number + 1])
                    raise UnsafePathError(f"unsafe path {'/'.join(parts)!r}: {where!r} is a link or a file, not a "
                                          "folder; nothing is written through it") from None
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


class NameTooLong(UnsafePathError):
    """A name of the path is longer than the file system of the folder takes (eCryptfs takes 143 bytes), the
    path itself within the system's limit: no other --target on that file system helps."""


def _path_max(folder: Path) -> int:
    """The system's limit on a path's length, in bytes (4096 on Linux, 1024 on macOS)."""
    try:
        return os.pathconf(folder, "PC_PATH_MAX")
    except (OSError, ValueError):
        return 1024


def check_no_links(base: Path, parts: Sequence[str]) -> None:
    """Refuse ``base/parts...`` when one of its existing folders is a link (the missing rest is fine)."""
    current = base
    for part in parts:
        current = current / part
        try:
            info = current.lstat()
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            if exc.errno != errno.ENAMETOOLONG:
                raise
            if len(os.fsencode(current)) < _path_max(base):
                size = len(os.fsencode(part))
                raise NameTooLong(f"the target folder's file system cannot hold the name {part[:40] + '...'!r}: "
                                  f"{size} bytes, longer than it takes (eCryptfs takes 143)") from None
            # Longer than the system's path limit (4096 bytes on Linux, 1024 on macOS) with the target's own
            # path: this one path cannot be written here, which must not end the comparison of the whole set.
            raise UnsafePathError(f"path {'/'.join(parts)[:60] + '...'!r} cannot be written in {base}: with it the "
                                  "path is longer than this system allows (a shorter --target may do)") from None
        if stat.S_ISLNK(info.st_mode):
            raise UnsafePathError(f"unsafe path {'/'.join(parts)!r}: {current.relative_to(base)} is a link")


class BelowRoot:
    """Files below one folder, reached by their relative path with no link followed on the way.

    Every folder of the path is opened with ``O_NOFOLLOW`` from a descriptor of the root, and the file
    itself too, so what is opened is below the root whatever was renamed or swapped for a link since the
    walk listed it (an ``OSError`` with ``ELOOP`` or ``ENOTDIR`` then, as for a file that is a link now).
    The last folder's descriptor is kept for the next file (a walk's files come folder by folder), so a
    file costs one ``open`` as a full path did. Thread-safe: serve's hashing threads share one. The
    descriptors are closed by :meth:`close`, or once nothing refers to the object any more (the hashing
    threads may outlive the walk that made it).
    """

    def __init__(self, root: Path | str) -> None:
        self.root = os.fspath(root)
        root_fd = open_root(Path(root))
        # [root, (parts, descriptor) of the folder kept]: the finalizer closes what is in it at the time.
        self._fds: list[int] = [root_fd, os.dup(root_fd)]
        self._parts: list[str] = []
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _close_all, self._fds)

    @property
    def root_fd(self) -> int:
        """The root's descriptor, for :func:`resolve_beneath` (closed with this object)."""
        return self._fds[0]

    def close(self) -> None:
        self._finalizer()

    def _folder(self, parts: list[str]) -> int:
        """The kept descriptor of the folder ``parts``, opened first when another folder is kept (lock held)."""
        if parts != self._parts:
            kept = self._parts
            # Going down from the folder kept (a walk's usual next step) opens only the new segments.
            deeper = len(parts) > len(kept) and parts[:len(kept)] == kept
            fd = os.dup(self._fds[1] if deeper else self._fds[0])
            try:
                for part in parts[len(kept):] if deeper else parts:
                    child = os.open(part, _PASSAGE_FLAGS, dir_fd=fd)
                    os.close(fd)
                    fd = child
            except BaseException:
                os.close(fd)
                raise
            os.close(self._fds[1])
            self._fds[1], self._parts = fd, parts
        return self._fds[1]

    def open(self, relative: str, flags: int) -> int:
        """A descriptor of ``relative`` opened with ``flags`` and ``O_NOFOLLOW``; the caller closes it."""
        *parts, name = relative.split("/")
        try:
            with self._lock:
                return os.open(name, flags | _NOFOLLOW, dir_fd=self._folder(parts))
        except OSError as exc:
            raise self._named(exc, relative) from None

    def lstat(self, relative: str) -> os.stat_result:
        *parts, name = relative.split("/")
        try:
            with self._lock:
                return os.lstat(name, dir_fd=self._folder(parts))
        except OSError as exc:
            raise self._named(exc, relative) from None

    def readlink(self, relative: str) -> str:
        *parts, name = relative.split("/")
        try:
            with self._lock:
                return os.readlink(name, dir_fd=self._folder(parts))
        except OSError as exc:
            raise self._named(exc, relative) from None

    def _named(self, exc: OSError, relative: str) -> OSError:
        """``exc`` naming the full path: the system names only the last segment of a call relative to a folder,
        and the one line a serve stops with must say which file."""
        return type(exc)(exc.errno, exc.strerror, os.path.join(self.root, relative))


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
#: Folders on the way to a file are opened only to pass through them: with ``O_PATH`` (Linux) a folder this
#: user may search but not list (mode 0711) is passed as a full path's lookup would pass it.
_PASSAGE_FLAGS = _DIRECTORY_FLAGS | getattr(os, "O_PATH", 0)


def _close_all(fds: list[int]) -> None:
    while fds:
        with contextlib.suppress(OSError):
            os.close(fds.pop())
