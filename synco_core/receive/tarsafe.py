"""Extracting a private set's tar from a stream, checking every member before anything is written.

The tar comes from the server, so it is treated as hostile. Compared with Python's ``tarfile`` ``data``
filter (PEP 706) and rsync's ``--safe-links``, this is stricter where they leave gaps:

- names pass the one naming rule (:func:`synco_core.names.safe_relative_path`): no absolute paths, no
  ``..``, no control characters; a name that appears twice is refused (a second member must not replace
  a link or file the first one made, since earlier members were checked against the first);
- every member is created through descriptors opened with ``O_NOFOLLOW`` segment by segment from the
  destination (:func:`synco_core.beneath.open_folder`): nothing is ever written through a link;
- a symbolic link is created only when its target, resolved on the real file system through the links
  already extracted (:func:`synco_core.beneath.resolve_beneath`), stays inside the destination: a chain
  such as ``s0 -> .``, ``s1 -> s0/..`` is refused, although each target alone looks harmless, and so is
  a lone link pointing out, even when nothing is written through it;
- a hard link may only point at a regular file extracted earlier from the same archive;
- devices, FIFOs and unknown types are refused; set-uid, set-gid and sticky bits, and write permission
  for group and others, are dropped; files are created with mode 0600 and get their own bits only once
  complete.

The first unsafe member stops the whole extraction with :class:`UnsafePathError`; the caller extracts into
a staging folder and discards it. A member the destination's file system cannot hold (a name with ``:`` or
``?``, or a symbolic link, on exFAT, FAT or NTFS) is left out and named; a hard link on a file system
without them becomes a copy of its file.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import tarfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from synco_core.beneath import open_folder, open_root, resolve_beneath
from synco_core.errors import TransferError, UnsafePathError
from synco_core.fsutil import PRIVATE_MODE, set_mode
from synco_core.names import folded, safe_relative_path, windows_rule
from synco_core.permissions import PRIVATE_SET_FOLDER_MODE, private_set_file_mode
from synco_core.receive.files import ECRYPTFS_NAME_MAX, NAME_ERRORS, not_held_reason
from synco_core.receive.limits import NotDeclaredError
from synco_core.receive.mtimes import stamp_tar_time
from synco_core.receive.tarheaders import BoundedTarInfo

log = logging.getLogger(__name__)

_COPY_CHUNK = 256 * 1024
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)


def _entry_free(folder_fd: int, leaf: str, name: str) -> str | None:
    """None when nothing has the member's name yet; the name the folder holds instead when it is another
    spelling of it (a folder that does not tell upper from lower case apart: exFAT, APFS, NTFS). Refuses
    when the name itself is taken (only folders are made implicitly)."""
    try:
        os.lstat(leaf, dir_fd=folder_fd)
    except FileNotFoundError:
        return None
    # The staging folder started empty, so what is there came from an earlier member. When the listing
    # does not hold this very name, the file system took it for an earlier member's (``Photo.jpg`` for
    # ``photo.jpg``): writing would fail, or replace that member's content.
    listed = os.listdir(folder_fd)
    if leaf not in listed:
        key = folded(leaf)
        return next((other for other in sorted(listed) if folded(other) == key), "?")
    raise UnsafePathError(f"unsafe member {name!r}: a folder of that name is in the way")


def _make_folder(folder_fd: int, leaf: str, name: str) -> None:
    try:
        os.mkdir(leaf, PRIVATE_SET_FOLDER_MODE, dir_fd=folder_fd)
    except FileExistsError:
        # Made earlier for a member inside it; a link or file there is refused by opening it as a folder.
        os.close(open_folder(folder_fd, [leaf], mode=PRIVATE_SET_FOLDER_MODE))


def _write_file(folder_fd: int, leaf: str, member: tarfile.TarInfo, tar: tarfile.TarFile, name: str) -> None:
    data = tar.extractfile(member)
    if data is None:
        raise TransferError(f"tar member {name!r} has no data")
    fd = os.open(leaf, _FILE_FLAGS, PRIVATE_MODE, dir_fd=folder_fd)
    with os.fdopen(fd, "wb") as out:
        while chunk := data.read(_COPY_CHUNK):
            out.write(chunk)
        out.flush()
        # The file's own permission bits once complete, on the descriptor (never looked up by name again).
        set_mode(out.fileno(), private_set_file_mode(member.mode))
        stamp_tar_time(out.fileno(), member.pax_headers.get("mtime"), member.mtime)


#: What a file system without links answers for one (exFAT and FAT; NTFS through some drivers).
_NO_LINKS = frozenset({errno.EPERM, errno.ENOSYS, errno.EOPNOTSUPP, errno.EMLINK})


def _not_held(exc: OSError, member: tarfile.TarInfo) -> str | None:
    """Why the destination's file system cannot hold ``member`` when ``exc`` says so (None: another failure,
    such as a full disk, which ends the extraction). Its folder exists: ENOENT for a new name is the FUSE
    exFAT driver refusing it."""
    if member.issym() and exc.errno in _NO_LINKS:
        return f"not written: the target folder's file system has no symbolic links ({exc.strerror or exc})"
    if exc.errno in NAME_ERRORS or exc.errno == errno.ENOENT:
        *folders, leaf = [part for part in member.name.split("/") if part not in ("", ".")] or [""]
        # The folder of its path whose name breaks a rule, or is too long, when one does (it is made first,
        # and fails first).
        too_long = exc.errno == errno.ENAMETOOLONG
        folder = next((part for part in folders if windows_rule(part)
                       or (too_long and len(os.fsencode(part)) > ECRYPTFS_NAME_MAX)), None)
        if folder is not None:
            return not_held_reason(folder, exc, "the name of a folder of its path")
        return not_held_reason(leaf, exc)
    return None


def _copy_of(root: int, source: PurePosixPath, folder_fd: int, leaf: str, member: tarfile.TarInfo) -> None:
    """A copy of the regular file ``source`` extracted before, where a hard link to it cannot be made."""
    source_fd = open_folder(root, source.parts[:-1])
    try:
        fd = os.open(source.parts[-1], os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), dir_fd=source_fd)
    finally:
        os.close(source_fd)
    with os.fdopen(fd, "rb") as data:
        info = os.fstat(data.fileno())
        out_fd = os.open(leaf, _FILE_FLAGS, PRIVATE_MODE, dir_fd=folder_fd)
        with os.fdopen(out_fd, "wb") as out:
            while chunk := data.read(_COPY_CHUNK):
                out.write(chunk)
            out.flush()
            set_mode(out.fileno(), info.st_mode & 0o7777)
            os.utime(out.fileno(), ns=(info.st_mtime_ns, info.st_mtime_ns))
    log.debug("%s: a copy of %s (the target folder's file system has no hard links)", member.name, source)


def extract_stream(stream: BinaryIO, destination: Path, left_out: list[tuple[str, str]] | None = None) -> int:
    """Extract the tar read from ``stream`` into ``destination`` (created); returns the number of files.

    A member the destination's file system takes for an earlier one (a name differing only in case, on a
    case-insensitive folder) is not written: it goes to ``left_out`` as (name, why), the earlier one is kept.
    """
    destination.mkdir(mode=PRIVATE_SET_FOLDER_MODE, parents=True, exist_ok=True)
    root = open_root(destination)
    folders = _LastFolder(root)
    count = 0
    seen: set[str] = set()
    regular: set[str] = set()
    dropped: set[str] = set()
    try:
        with tarfile.open(fileobj=stream, mode="r|", tarinfo=BoundedTarInfo) as tar:
            for member in tar:
                relative = safe_relative_path(member.name)
                name = str(relative)
                if member.isdev() or member.isfifo() or not (
                    member.isreg() or member.isdir() or member.issym() or member.islnk()
                ):
                    raise UnsafePathError(f"unsafe member {name!r}: device, FIFO or unknown type refused")
                if name in seen:
                    raise UnsafePathError(f"unsafe member {name!r}: it appears twice in the archive")
                seen.add(name)
                folder, leaf = relative.parts[:-1], relative.parts[-1]
                try:
                    folder_fd = folders.open(folder)
                except OSError as exc:
                    # A folder of its path the file system would not make (its own member said why).
                    if (why := _not_held(exc, member)) is None:
                        raise
                    _leave_out(name, why, dropped, left_out)
                    continue
                try:
                    if member.isdir():
                        _make_folder(folder_fd, leaf, name)
                        continue
                    taken_by = _entry_free(folder_fd, leaf, name)
                    reason = None
                    if taken_by is not None:
                        reason = (f"not written: this folder does not tell it from {taken_by!r} (a file system that "
                                  "ignores case or Unicode normalisation), which is kept")
                    elif member.islnk() and str(safe_relative_path(member.linkname)) in dropped:
                        reason = f"not written: a hard link to {member.linkname!r}, which was not written"
                    if reason is not None:
                        _leave_out(name, reason, dropped, left_out)
                        continue
                    count += _made(root, folder_fd, leaf, member, tar, name, regular)
                except OSError as exc:
                    if (why := _not_held(exc, member)) is None:
                        raise
                    _leave_out(name, why, dropped, left_out)
                finally:
                    os.close(folder_fd)
    except tarfile.TarError as exc:
        # The stream was authenticated chunk by chunk and a cut one fails there, never here: this is what the
        # server sent whole (another artifact of the session in the archive's place), and would be again.
        raise NotDeclaredError(f"the private files archive is damaged: {exc}") from None
    finally:
        folders.close()
        with contextlib.suppress(OSError):
            os.close(root)
    return count


class _LastFolder:
    """The folders members go into, opened (and made) as :func:`open_folder` does, from the last one opened
    where the next member's folder is in it: a tar lists a folder's content after it, so a tree 1,200 folders
    deep costs one open per level instead of one per level for every member below it."""

    def __init__(self, root: int) -> None:
        self._root = root
        self._parts: tuple[str, ...] = ()
        self._fd = -1

    def open(self, parts: tuple[str, ...]) -> int:
        """A descriptor of the folder ``parts`` below the root, made where missing; the caller closes it."""
        known = self._parts
        fd = -1
        if self._fd >= 0 and parts[:len(known)] == known:
            # A refusal is said again from the root below, naming the member's whole path.
            with contextlib.suppress(OSError, UnsafePathError):
                fd = open_folder(self._fd, parts[len(known):], create=True, mode=PRIVATE_SET_FOLDER_MODE)
        if fd < 0:
            fd = open_folder(self._root, parts, create=True, mode=PRIVATE_SET_FOLDER_MODE)
        self.close()
        self._fd, self._parts = os.dup(fd), parts
        return fd

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _leave_out(name: str, reason: str, dropped: set[str], left_out: list[tuple[str, str]] | None) -> None:
    dropped.add(name)
    log.warning("%s: %s", name, reason)
    if left_out is not None:
        left_out.append((name, reason))


def _made(root: int, folder_fd: int, leaf: str, member: tarfile.TarInfo, tar: tarfile.TarFile, name: str,
          regular: set[str]) -> bool:
    """Create the link or file ``member`` as ``leaf`` in ``folder_fd`` (``name`` below ``root``); True for a
    file (regular, or a hard link to one), False for a symbolic link."""
    relative = safe_relative_path(name)
    if member.issym():
        what = f"unsafe link {name!r} -> {member.linkname!r}"
        if not member.linkname or "\x00" in member.linkname:
            raise UnsafePathError(f"{what}: empty target")
        resolve_beneath(root, relative.parts[:-1], member.linkname, what)
        os.symlink(member.linkname, leaf, dir_fd=folder_fd)
        return False
    if member.islnk():
        source = safe_relative_path(member.linkname)
        if str(source) not in regular:
            raise UnsafePathError(f"unsafe hard link {name!r} -> {member.linkname!r}: not a file "
                                  "extracted earlier from this archive")
        source_fd = open_folder(root, source.parts[:-1])
        try:
            os.link(source.parts[-1], leaf, src_dir_fd=source_fd, dst_dir_fd=folder_fd, follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
            _copy_of(root, source, folder_fd, leaf, member)
        finally:
            os.close(source_fd)
    else:
        _write_file(folder_fd, leaf, member, tar, name)
    regular.add(name)
    return True
