"""The members of a private set's tar: only what a receiver will extract, each as it is when it is read.

A receiver refuses a whole tar for one member it would not write (:mod:`synco_core.receive.tarsafe`): a
name :func:`synco_core.names.safe_relative_path` refuses, a link whose target leaves the set, a hard link
to a file the tar does not hold. Serve leaves such an entry out with a warning instead, so the rest of the
set still arrives; and a file it cannot read is left out the same way, as an unreadable folder is by the
walk.

The tree is live: between the walk and the read a file may be deleted, replaced by a link or a FIFO, or
grow or shrink, and a folder on its path may be replaced by a link (to ``/``, to the application). A file
is reached from the set's root without following a link at any step (:class:`~synco_core.beneath.BelowRoot`)
and opened without blocking, and its member is made from the ``fstat`` of what was opened, so nothing
outside the set, nor a FIFO put in a file's place, is ever read; a file that
shrinks while it is copied ends the serve with one line naming it (the tar already holds its header and
part of its data, and a tar member cannot be shorter than it says).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, cast

from synco_core import leftout
from synco_core.beneath import BelowRoot, resolve_beneath
from synco_core.errors import ConfigError, SyncoError, UnsafePathError
from synco_core.names import PLAIN_RELATIVE_PATH
from synco_core.serve.public_set import is_utf8, receivable

log = logging.getLogger(__name__)

#: Opening a file to pack: never through a link, never blocking on a FIFO put in the file's place.
_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
#: errno values meaning the entry is no longer the file the walk saw (gone, or a link now).
_CHANGED = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)


class FileShrankError(SyncoError):
    """A private file got shorter while it was being packed."""


def admitted(relative: str, path: str) -> bool:
    """True when a receiver will write a member named ``relative``; False, with a warning, otherwise."""
    if PLAIN_RELATIVE_PATH.fullmatch(relative):
        return True
    if not is_utf8(relative):
        leftout.skipped(log, "skipping %r: its name is not valid UTF-8, so a receiver could not write it", path)
        return False
    return receivable(relative)


class _ExactReader:
    """``handle`` read for a tar member of ``size`` bytes: a short read is the file shrinking, said as such."""

    def __init__(self, handle: BinaryIO, size: int, path: str) -> None:
        self.handle = handle
        self.left = size
        self.size = size
        self.path = path

    def read(self, count: int = -1) -> bytes:
        wanted = self.left if count < 0 else min(count, self.left)
        data = self.handle.read(wanted)
        if len(data) < wanted:
            raise FileShrankError(f"private file {self.path!r} got shorter while it was packed (it had "
                                  f"{self.size} bytes); run serve again once it is no longer being written")
        self.left -= len(data)
        return data


def _bare_member(relative: str, info: os.stat_result, kind: bytes) -> tarfile.TarInfo:
    member = tarfile.TarInfo(relative)
    member.type = kind
    member.mode = stat.S_IMODE(info.st_mode)
    member.mtime = info.st_mtime
    exact_mtime(member, info.st_mtime_ns)
    member.uid, member.gid = info.st_uid, info.st_gid
    return member


def exact_mtime(member: tarfile.TarInfo, mtime_ns: int) -> None:
    """Carry ``mtime_ns`` in ``member``'s PAX header to the nanosecond.

    tarfile writes a float's seconds there (about 7 digits after the point at today's dates, fewer later:
    a time just before a second of 2106 became the next second); the header's text is exact.
    """
    if mtime_ns % 1_000_000_000:
        whole, part = divmod(abs(mtime_ns), 1_000_000_000)
        member.pax_headers = {**member.pax_headers, "mtime": f"{'-' if mtime_ns < 0 else ''}{whole}.{part:09d}"}


def _extracted_before(path: str, info: os.stat_result, member: str) -> bool:
    """True when a receiver has ``path`` by the time it extracts ``member``: it comes earlier in the tar
    (index order, a folder where ``path/`` sorts) and is of a kind a tar carries (no FIFO, no device)."""
    if stat.S_ISDIR(info.st_mode):
        return path + "/" < member
    return (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)) and path < member


def _link_member(below: BelowRoot, relative: str, path: str, info: os.stat_result) -> tarfile.TarInfo | None:
    """The member of a symbolic link whose target stays inside the set as the receiver resolves it: through
    the members extracted before it, the later ones not there yet (:func:`_extracted_before`)."""
    try:
        target = below.readlink(relative)
    except OSError as exc:
        leftout.unless_exhausted(exc)
        leftout.skipped(log, "skipping %s: %s", path, exc.strerror or exc)
        return None
    what = f"link {relative!r} -> {target!r}"
    try:
        if not target:
            raise UnsafePathError(f"{what}: empty target")
        resolve_beneath(below.root_fd, relative.split("/")[:-1], target, what,
                        visible=lambda path, seen: _extracted_before(path, seen, relative))
    except UnsafePathError as exc:
        leftout.skipped(log, "skipping %s: %s; a receiver would refuse it", path, str(exc).removeprefix("unsafe "))
        return None
    except OSError as exc:
        leftout.unless_exhausted(exc)
        leftout.skipped(log, "skipping %s: %s", path, exc.strerror or exc)
        return None
    member = _bare_member(relative, info, tarfile.SYMTYPE)
    member.linkname = target
    return member


def add_members(tar: tarfile.TarFile, root: Path, entries: Iterator[tuple[str, os.DirEntry[str]]],
                advance: Callable[[int], None]) -> int:
    """Add the entries of a walk of ``root`` to ``tar``; returns the number of files (regular and hard links)."""
    count = 0
    # The set's root may itself be a link (to a shared folder of a deployment); what is below it may not.
    try:
        below = BelowRoot(os.path.realpath(root))
    except OSError as exc:
        # Not an empty set: receive would put an empty folder in place of the one it has.
        raise ConfigError(f"cannot read the private files folder {root}: {exc.strerror or exc}") from None
    try:
        for relative, entry in entries:
            path = entry.path
            if not admitted(relative, path):
                continue
            try:
                info = below.lstat(relative)
            except OSError as exc:
                leftout.unless_exhausted(exc)
                leftout.skipped(log, "skipping %s: %s", path, exc.strerror or exc)
                continue
            if stat.S_ISDIR(info.st_mode):
                tar.addfile(_bare_member(relative, info, tarfile.DIRTYPE))
            elif stat.S_ISLNK(info.st_mode):
                member = _link_member(below, relative, path, info)
                if member is not None:
                    tar.addfile(member)
            elif stat.S_ISREG(info.st_mode):
                added = _add_file(tar, below, relative, path)
                if added is not None:
                    count += 1
                    advance(added)
            else:
                log.debug("skipping special file %s", path)
    finally:
        below.close()
    return count


def _add_file(tar: tarfile.TarFile, below: BelowRoot, relative: str, path: str) -> int | None:
    """Add the regular file ``relative`` (``path``) as it is once opened; its size, or None when it was left out."""
    try:
        fd = below.open(relative, _OPEN_FLAGS)
    except OSError as exc:
        leftout.unless_exhausted(exc)
        why = "it changed since the walk" if exc.errno in _CHANGED else exc.strerror or str(exc)
        leftout.skipped(log, "skipping %s: %s", path, why)
        return None
    with open(fd, "rb") as handle:
        # From the fstat of what was opened: a link or FIFO put in the file's place is never packed.
        # gettarinfo also makes a second name of an inode already packed a hard link to the first.
        member = tar.gettarinfo(arcname=relative, fileobj=handle)
        if member.islnk():
            member.uname = member.gname = ""
            tar.addfile(member)
            return 0
        if not member.isreg():
            leftout.skipped(log, "skipping %s: it is no longer a regular file", path)
            return None
        # Owner names of the server mean nothing on the laptop; numeric ids are kept as tar does.
        member.uname = member.gname = ""
        exact_mtime(member, os.fstat(handle.fileno()).st_mtime_ns)
        tar.addfile(member, cast(BinaryIO, _ExactReader(handle, member.size, path)))
        return member.size
