"""Private scratch folders, and removing what a killed run left behind.

Every scratch space synco makes is one of these: the remote side of pull's ``synco-channel-*`` folder, receive's
``.synco-index-*`` beside its target (an index being read), pull's ``synco-askpass-*`` (the wrapper ssh runs to ask
on the terminal, no secret in it: see :mod:`synco_core.pull.prompts`), and the ``synco-scratch-*`` folders of
everything else (serve's work folder, the private copy of a SQLite database that is dumped, receive's list of files
to fetch, the sorted runs of an external sort). Each is removed whatever ends its owner, except what cannot be
caught: SIGKILL (the OOM killer, ``kill -9``, a container's grace period running out). Such a folder may hold a
whole session with a plaintext dump, or a plaintext copy of a production SQLite database, so the first scratch
folder a later run makes in the same temporary folder (:func:`temporary_scratch`) removes it,
but only when its owner is provably dead:

- Its owner holds an exclusive ``flock`` on :data:`OWNER_LOCK` inside the folder for as long as it lives.
  The kernel drops the lock when the last descriptor of it closes, however the process ended, so a lock
  that can be taken means the owner (and every child that inherited the descriptor) is gone. Process ids
  would not do: a pid means nothing in another container's pid namespace (several containers may share
  a ``/tmp`` volume, and a restarted container gets a new namespace), and a pid is reused.
- Only folders this user owns, that are folders and not links to one, named exactly as
  :func:`make_scratch_folder` names them, with the lock file in place (a folder without one is an older
  synco's, or one a few microseconds old whose owner has not locked it yet: left alone).
- The lock is taken, and the folder checked to be the one that was locked, before anything is removed;
  several runs cleaning at once then remove each folder once, and never a live one. The removal
  (:func:`synco_core.trees.remove_tree`) follows no link inside, at any depth.

The uploaded zipapp (:data:`synco_core.pull.bootstrap.LOADER`) is its own lock: the loader holds a
``flock`` on the archive while it runs. Its client removes it when the remote side was killed, but not when
the client died too (a laptop lid closed during an OOM kill); such an archive is removed under the same
rules, and only when it was last written more than :data:`UPLOAD_GRACE` seconds ago (the loader creates
the file, then locks it: an unlocked archive that young may be one being born).

On a filesystem without ``flock`` (some network mounts) no lock can be taken by anyone: nothing is removed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import stat
import tempfile
import time
import weakref
from pathlib import Path

from synco_core.nospace import ELSEWHERE, NO_SPACE_ERRNOS, NoSpaceError, no_space
from synco_core.tempfolder import temp_root
from synco_core.trees import remove_tree

log = logging.getLogger(__name__)

PREFIX = "synco-channel-"
#: The prefix of every other scratch folder in the temporary folder (:func:`temporary_scratch`).
SCRATCH_PREFIX = "synco-scratch-"
#: The prefix of receive's scratch folder beside its target (an index being read), hidden there.
RECEIVE_PREFIX = ".synco-index-"
#: The prefix of the folder of pull's askpass wrapper on the laptop (synco_core.pull.prompts).
ASKPASS_PREFIX = "synco-askpass-"
#: What tempfile.mkdtemp appends to the prefix: 8 characters of its own alphabet.
_NAME = re.compile("(?:" + "|".join(map(re.escape, (PREFIX, SCRATCH_PREFIX, RECEIVE_PREFIX, ASKPASS_PREFIX)))
                   + r")[a-z0-9_]{8}")
OWNER_LOCK = ".synco-owner.lock"
UPLOAD_PREFIX = "synco-upload-"
_UPLOAD = re.compile(re.escape(UPLOAD_PREFIX) + r"[0-9a-f]{16}\.pyz")
UPLOAD_GRACE = 60.0


class ScratchFolder:
    """A private folder for one run, locked for as long as this object (or the process) lives.

    Dropped without :meth:`remove` (an exception between making it and the block that removes it), it is
    removed when it is collected or the interpreter exits, by the process that made it only.
    """

    def __init__(self, path: Path, lock_fd: int) -> None:
        self.path = path
        self._remove = weakref.finalize(self, _remove_owned, path, lock_fd, os.getpid())

    def remove(self) -> None:
        """Remove the folder, then let go of the lock (in this order: nobody else may remove it meanwhile)."""
        self._remove()

    def __enter__(self) -> ScratchFolder:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.remove()


def _remove_owned(path: Path, lock_fd: int, owner: int) -> None:
    if os.getpid() == owner:
        remove_tree(path, ignore_errors=True)
    if lock_fd >= 0:
        with contextlib.suppress(OSError):
            os.close(lock_fd)


def make_scratch_folder(root: str, prefix: str = PREFIX) -> ScratchFolder:
    """A new ``<prefix>*`` folder in ``root`` (mode 0700), with its owner lock taken."""
    try:
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    except OSError as exc:
        raise _no_room(root, exc) from exc
    try:
        fd = os.open(path / OWNER_LOCK, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        failure = _no_room(root, exc)  # while the disk is as full as the failure found it
        # The folder without its lock would never be removed by anyone (see the module docstring): it goes now.
        with contextlib.suppress(OSError):
            path.rmdir()
        raise failure from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        # No flock here: nobody can take the lock either, so nobody will remove this folder.
        log.debug("cannot lock %s: %s", path, exc.strerror)
    return ScratchFolder(path, fd)


def _no_room(root: str, exc: OSError) -> OSError | NoSpaceError:
    """``exc``, or the no-space line naming ``root`` when its disk (or its inodes) ran out."""
    if exc.errno not in NO_SPACE_ERRNOS:
        return exc
    in_tmpdir = os.path.realpath(root) == os.path.realpath(tempfile.gettempdir())
    return no_space(Path(root), "a scratch folder of synco's", hint=ELSEWHERE if in_tmpdir else "")


#: The temporary folders already swept by this process (:func:`temporary_scratch`).
_swept: set[str] = set()


def temporary_scratch(root: str | None = None, prefix: str = SCRATCH_PREFIX) -> ScratchFolder:
    """A new ``<prefix>*`` folder (default ``synco-scratch-*``) in ``root`` (default: the system's temporary
    folder), removed by :meth:`ScratchFolder.remove` or leaving its block; the first one a process makes in
    a folder first removes what killed runs left there (:func:`remove_dead_scratch`)."""
    folder = root if root is not None else temp_root()
    if folder not in _swept:
        _swept.add(folder)
        for leftover in remove_dead_scratch(folder):
            log.info("removed %s, left by a synco that was killed", leftover)
    return make_scratch_folder(folder, prefix)


def remove_dead_scratch(root: str) -> list[Path]:
    """Remove the scratch folders in ``root`` whose owner is provably dead (see the module docstring)."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    uid = os.getuid()
    for entry in entries:
        remove = _remove_if_dead if _NAME.fullmatch(entry.name) else (
            _remove_upload_if_dead if _UPLOAD.fullmatch(entry.name) else None)
        if remove is None:
            continue
        with contextlib.suppress(OSError):
            if remove(Path(entry.path), uid):
                removed.append(Path(entry.path))
    return removed


def _take_lock(fd: int, what: Path) -> bool:
    """True when the exclusive lock could be taken: whoever held it is gone."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            log.debug("cannot test the lock of %s: %s", what, exc.strerror)
        return False
    return True


def _remove_upload_if_dead(path: Path, uid: int) -> bool:
    return remove_file_if_unlocked(path, uid, UPLOAD_GRACE)


def remove_file_if_unlocked(path: Path, uid: int, grace: float) -> bool:
    """Remove the regular file ``path`` of user ``uid``, not written for ``grace`` seconds (its owner may not
    have locked it yet), when its ``flock`` can be taken: its owner is gone. The same file still under its
    name once locked, never a link. True when removed."""
    fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != uid or time.time() - info.st_mtime < grace:
            return False
        if not _take_lock(fd, path):
            return False
        again = os.stat(path, follow_symlinks=False)
        if (again.st_dev, again.st_ino) != (info.st_dev, info.st_ino):
            return False
        log.debug("removing %s, left by a run that was killed", path)
        os.unlink(path)
        return True
    finally:
        os.close(fd)


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
            if not _take_lock(lock_fd, path):
                return False
            # Still the same folder and lock file under these names (not removed and made anew meanwhile).
            again = os.stat(path, follow_symlinks=False)
            if (again.st_dev, again.st_ino) != (folder.st_dev, folder.st_ino):
                return False
            if os.stat(OWNER_LOCK, dir_fd=folder_fd, follow_symlinks=False).st_ino != lock.st_ino:
                return False
            log.debug("removing %s, left by a run that was killed", path)
            remove_tree(path, ignore_errors=True)
            return True
        finally:
            os.close(lock_fd)
    finally:
        os.close(folder_fd)
