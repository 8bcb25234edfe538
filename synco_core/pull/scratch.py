"""The remote side's scratch: its ``synco-channel-*`` folder, and removing the ones a killed run left behind.

The remote side removes its folder whatever ends it, except what cannot be caught: SIGKILL (the OOM killer,
``kill -9``). Such a folder may hold a whole session, with a plaintext dump on a host without
``cryptography``, so the next run on that host removes it, but only when its owner is provably dead:

- Its owner holds an exclusive ``flock`` on :data:`OWNER_LOCK` inside the folder for as long as it lives.
  The kernel drops the lock when the last descriptor of it closes, however the process ended, so a lock
  that can be taken means the owner (and every child that inherited the descriptor) is gone. Process ids
  would not do: a pid means nothing in another container's pid namespace (several containers may share
  a ``/tmp`` volume, and a restarted container gets a new namespace), and a pid is reused.
- Only folders this user owns, that are folders and not links to one, named exactly as
  :func:`make_scratch_folder` names them, with the lock file in place (a folder without one is an older
  synco's, or one a few microseconds old whose owner has not locked it yet: left alone).
- The lock is taken, and the folder checked to be the one that was locked, before anything is removed;
  several runs cleaning at once then remove each folder once, and never a live one. ``shutil.rmtree``
  follows no link inside.

On a filesystem without ``flock`` (some network mounts) no lock can be taken by anyone: nothing is removed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "synco-channel-"
#: What tempfile.mkdtemp appends to the prefix: 8 characters of its own alphabet.
_NAME = re.compile(re.escape(PREFIX) + r"[a-z0-9_]{8}")
OWNER_LOCK = ".synco-owner.lock"


class ScratchFolder:
    """A private folder for one run, locked for as long as this object (or the process) lives."""

    def __init__(self, path: Path, lock_fd: int) -> None:
        self.path = path
        self._lock_fd = lock_fd

    def remove(self) -> None:
        """Remove the folder, then let go of the lock (in this order: nobody else may remove it meanwhile)."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self._lock_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = -1


def make_scratch_folder(root: str) -> ScratchFolder:
    """A new ``synco-channel-*`` folder in ``root`` (mode 0700), with its owner lock taken."""
    path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=root))
    fd = os.open(path / OWNER_LOCK, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        # No flock here: nobody can take the lock either, so nobody will remove this folder.
        log.debug("cannot lock %s: %s", path, exc.strerror)
    return ScratchFolder(path, fd)


def remove_dead_scratch(root: str) -> list[Path]:
    """Remove the scratch folders in ``root`` whose owner is provably dead (see the module docstring)."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    uid = os.getuid()
    for entry in entries:
        if not _NAME.fullmatch(entry.name):
            continue
        with contextlib.suppress(OSError):
            if _remove_if_dead(Path(entry.path), uid):
                removed.append(Path(entry.path))
    return removed


def _remove_if_dead(path: Path, uid: int) -> bool:
    # The folder is opened without following a link; everything after goes through this descriptor.
    folder_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        folder = os.fstat(folder_fd)
        if folder.st_uid != uid:
            return False
        try:
            # Read-write: where flock is emulated with POSIX locks (NFS), an exclusive one needs it.
            lock_fd = os.open(OWNER_LOCK, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder_fd)
        except FileNotFoundError:
            return False
        try:
            lock = os.fstat(lock_fd)
            if not stat.S_ISREG(lock.st_mode) or lock.st_uid != uid:
                return False
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    log.debug("cannot test the lock of %s: %s", path, exc.strerror)
                return False
            # Still the same folder and lock file under these names (not removed and made anew meanwhile).
            again = os.stat(path, follow_symlinks=False)
            if (again.st_dev, again.st_ino) != (folder.st_dev, folder.st_ino):
                return False
            if os.stat(OWNER_LOCK, dir_fd=folder_fd, follow_symlinks=False).st_ino != lock.st_ino:
                return False
            log.debug("removing %s, left by a run that was killed", path)
            shutil.rmtree(path, ignore_errors=True)
            return True
        finally:
            os.close(lock_fd)
    finally:
        os.close(folder_fd)
