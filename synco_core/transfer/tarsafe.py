"""Extracting a private set's tar from a stream, checking every member before anything is written.

The tar comes from the server, so it is treated as hostile: no absolute paths, no ``..``, no symlink or
hard link whose target leaves the destination, no device files or FIFOs, no writing through a link an
earlier member planted. Set-uid and set-gid bits are dropped. The first unsafe member stops the whole
extraction with :class:`UnsafePathError`; the caller extracts into a staging folder and discards it.
"""

from __future__ import annotations

import os
import posixpath
import tarfile
from pathlib import Path
from typing import BinaryIO

from synco_core.errors import TransferError, UnsafePathError
from synco_core.fsutil import resolve_inside, safe_relative_path

_COPY_CHUNK = 256 * 1024


def _check_link_target(member: tarfile.TarInfo, name: str) -> None:
    """A link target must stay inside the destination, seen from where the link sits."""
    target = member.linkname
    if not target or target.startswith("/") or "\x00" in target:
        raise UnsafePathError(f"unsafe link {name!r} -> {target!r}: absolute or empty target")
    base = posixpath.dirname(name) if member.issym() else ""
    resolved = posixpath.normpath(posixpath.join(base, target))
    if resolved == ".." or resolved.startswith("../") or posixpath.isabs(resolved):
        raise UnsafePathError(f"unsafe link {name!r} -> {target!r}: leads out of the target")


def extract_stream(stream: BinaryIO, destination: Path) -> int:
    """Extract the tar read from ``stream`` into ``destination`` (created); returns the number of files."""
    destination.mkdir(parents=True, exist_ok=True)
    count = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                name = str(safe_relative_path(member.name))
                if member.isdev() or member.isfifo() or not (
                    member.isreg() or member.isdir() or member.issym() or member.islnk()
                ):
                    raise UnsafePathError(f"unsafe member {name!r}: device, FIFO or unknown type refused")
                # resolve_inside also refuses a path that would pass through a symlink leading out.
                target = resolve_inside(destination, name)
                if member.isdir():
                    if target.is_symlink():
                        raise UnsafePathError(f"unsafe member {name!r}: a link is in the way")
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                # Never write through anything already there (it could be a link planted earlier).
                if target.is_symlink() or target.is_file():
                    target.unlink()
                elif target.exists():
                    raise UnsafePathError(f"unsafe member {name!r}: a folder is in the way")
                if member.issym():
                    _check_link_target(member, name)
                    os.symlink(member.linkname, target)
                    continue
                if member.islnk():
                    _check_link_target(member, name)
                    source = resolve_inside(destination, str(safe_relative_path(member.linkname)))
                    if source.is_symlink() or not source.is_file():
                        raise UnsafePathError(f"unsafe hard link {name!r} -> {member.linkname!r}")
                    os.link(source, target)
                    count += 1
                    continue
                data = tar.extractfile(member)
                if data is None:
                    raise TransferError(f"tar member {name!r} has no data")
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                fd = os.open(target, flags, 0o600)
                with os.fdopen(fd, "wb") as out:
                    while chunk := data.read(_COPY_CHUNK):
                        out.write(chunk)
                # Permission bits without set-uid/set-gid/sticky; owner read always, so it can be installed.
                os.chmod(target, (member.mode & 0o777) | 0o400)
                os.utime(target, (member.mtime, member.mtime))
                count += 1
    except tarfile.TarError as exc:
        raise TransferError(f"the private files archive is damaged: {exc}") from None
    return count
