"""Renames the standard library cannot ask for: without replacing what is there, and exchanging two names.

Linux has both in ``renameat2`` (``RENAME_NOREPLACE``, ``RENAME_EXCHANGE``), which Python does not expose:
it is called through the C library. Elsewhere, or on a file system that refuses the flags, the callers fall
back to what the system offers (a hard link, which also fails on an existing name, then a check and a rename).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import sys

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
AT_FDCWD = -100
#: What ``renameat2`` fails with where the system or the file system lacks the flag.
UNSUPPORTED = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP)


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


#: ``renameat2`` of the C library, None where there is none.
RENAMEAT2 = _renameat2()


def rename_noreplace_at(folder_fd: int, source: str, target: str) -> bool:
    """Rename ``source`` to ``target``, both in the folder ``folder_fd``, unless something is at ``target``:
    False then, nothing moved. Checked in the same step where the system can (``renameat2``), else by a hard
    link (which fails on an existing name too) and the unlink of ``source``; only where neither works (a file
    system without hard links) is ``target`` looked at first, a window of one system call."""
    if RENAMEAT2 is not None:
        if RENAMEAT2(folder_fd, os.fsencode(source), folder_fd, os.fsencode(target), RENAME_NOREPLACE) == 0:
            return True
        code = ctypes.get_errno()
        if code in (errno.EEXIST, errno.ENOTEMPTY):
            return False
        if code not in UNSUPPORTED:
            raise OSError(code, os.strerror(code), source, None, target)
    try:
        os.link(source, target, src_dir_fd=folder_fd, dst_dir_fd=folder_fd, follow_symlinks=False)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV):
            raise
        try:
            os.lstat(target, dir_fd=folder_fd)
            return False
        except FileNotFoundError:
            os.rename(source, target, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
            return True
    os.unlink(source, dir_fd=folder_fd)
    return True
