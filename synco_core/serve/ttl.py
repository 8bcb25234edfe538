"""The TTL marker of a session folder, and removing sessions: expired ones, or all of them.

The marker is in a new session folder before the folder has its final name (:func:`create_session_folder`),
so a ``serve`` that crashes (or is killed with SIGKILL, which cannot be caught) still leaves a folder the
next ``serve`` recognises and removes once its time is up. Its name starts with a dot, so the built-in server never
serves it, but a web server serving the web root may (nginx and Apache serve dot files unless told not to):
so it is its owner's alone (mode 0600: a web server running as another user answers 403), and holds nothing a
visitor could use where the web server runs as the same user: the expiry, a pid, the keep and lock flags, and
the host as a digest of its name (:func:`host_id`), never the name (an internal host name, a container's id).

Whether the serve that made a session still runs is told by a ``flock`` it holds on the marker for as long
as it lives (the marker says ``locked``), as for every scratch folder (:mod:`synco_core.scratch`): the pid
and host it also names mean nothing to a serve in another container's pid namespace under the same host
name (``--network host``), which would take a live session for a dead one and remove it, and a dead
serve's pid reused by another process kept its session published until its time ran out. Only a marker
without ``locked`` (an older synco's, or one on a filesystem that cannot lock) is still judged by its pid.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import secrets
import socket
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from synco_core.engines import crashpoints
from synco_core.fsutil import process_alive
from synco_core.index.hashcache import CACHE_TAG
from synco_core.permissions import take_parents_group
from synco_core.receive.meta import MAX_CLOCK_OFFSET
from synco_core.trees import TreeRemovalError, remove_tree
from synco_core.wire import META_FILE, SESSION_PREFIX

log = logging.getLogger(__name__)

MARKER_FILE = ".synco-ttl"
#: The marker is for serve alone (receive never reads it): its owner's only, out of a web server of another user.
MARKER_MODE = 0o600


def host_id() -> str:
    """This host as a marker names it: a digest of its name, which is all a marker needs (is it this host?)."""
    digest = hashlib.blake2b(socket.gethostname().encode("utf-8", "surrogateescape"), digest_size=8,
                             person=b"synco-ttl-host").hexdigest()
    return f"blake2b:{digest}"


def is_this_host(host: str) -> bool:
    """True when a marker's ``host`` names this host: its digest, or (an older synco's marker) its name."""
    return host in (host_id(), socket.gethostname())


@dataclass
class TtlMarker:
    """When a session expires, and which process on which host serves it."""

    expires_at: float
    pid: int
    host: str
    keep: bool = False
    #: The serving process holds a ``flock`` on the marker while it lives (see the module docstring).
    locked: bool = False
    #: When the marker was written, by its host's clock (None in an older synco's marker): with the marker
    #: file's time it tells another host's clock from this one's (:func:`is_stale`).
    written_at: float | None = None

    def to_bytes(self) -> bytes:
        return json.dumps({"expiresAt": self.expires_at, "pid": self.pid, "host": self.host,
                           "keep": self.keep, "locked": self.locked, "writtenAt": self.written_at}).encode()

    @classmethod
    def read(cls, folder: Path) -> TtlMarker | None:
        try:
            data = json.loads((folder / MARKER_FILE).read_bytes())
            written = data.get("writtenAt")
            return cls(expires_at=float(data["expiresAt"]), pid=int(data["pid"]), host=str(data["host"]),
                       keep=bool(data.get("keep", False)), locked=data.get("locked") is True,
                       written_at=float(written) if isinstance(written, (int, float)) else None)
        except (OSError, ValueError, KeyError, TypeError):
            return None


def write_marker(folder: Path, ttl_seconds: float, keep: bool = False) -> TtlMarker:
    """Write the marker (atomically) into ``folder``; returns it."""
    now = time.time()
    marker = TtlMarker(expires_at=now + ttl_seconds, pid=os.getpid(), host=host_id(), keep=keep, written_at=now)
    temp = folder / (MARKER_FILE + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, MARKER_MODE)
    with os.fdopen(fd, "wb") as file:
        file.write(marker.to_bytes())
    os.replace(temp, folder / MARKER_FILE)
    return marker


#: A session folder is made under this hidden name with its marker inside, then renamed into place.
CREATING_PREFIX = ".synco-creating-"
#: A session folder being removed is renamed to this hidden name first (:func:`remove_session`).
REMOVING_PREFIX = ".synco-removing-"
#: Making a folder takes a mkdir, one small file and a rename; one older than this is left from a crash.
CREATING_GRACE_SECONDS = 60.0


class SessionHold:
    """A session folder this process made: its marker's lock, held until :meth:`release`, and the folder's
    identity, which tells whether the folder under its name is still this one (:meth:`owns`)."""

    def __init__(self, path: Path, marker: TtlMarker, lock_fd: int | None) -> None:
        self.path = path
        self.marker = marker
        self._fd = lock_fd
        info = os.lstat(path)
        self._identity = (info.st_dev, info.st_ino)

    def owns(self) -> bool:
        """True while the folder under :attr:`path` is the one this process made.

        Another serve may have removed it as expired (its marker's time runs from its creation) and made a
        new session of the same ``--id`` there: removing that one would unpublish another serve's session.
        """
        try:
            info = os.lstat(self.path)
        except OSError:
            return False
        return (info.st_dev, info.st_ino) == self._identity

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def _write_locked_marker(folder: Path, ttl_seconds: float, keep: bool) -> tuple[TtlMarker, int | None]:
    """Write the marker into the new ``folder`` with its ``flock`` taken first; the marker and the lock's
    descriptor (None, and the marker not ``locked``, where the filesystem cannot lock)."""
    fd = os.open(folder / MARKER_FILE, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, MARKER_MODE)
    lock_fd: int | None = fd
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            # Nobody can lock here: the pid and host judge this session, as before.
            log.debug("cannot lock %s: %s", folder / MARKER_FILE, exc.strerror)
            lock_fd = None
        now = time.time()
        marker = TtlMarker(expires_at=now + ttl_seconds, pid=os.getpid(), host=host_id(),
                           keep=keep, locked=lock_fd is not None, written_at=now)
        os.write(fd, marker.to_bytes())
    except BaseException:
        os.close(fd)
        raise
    if lock_fd is None:
        os.close(fd)
    return marker, lock_fd


def create_session_folder(path: Path, ttl_seconds: float, keep: bool = False) -> SessionHold:
    """Create the session folder ``path`` with its TTL marker already in it, locked by this process.

    The folder is made under a hidden name, gets its marker, and is then renamed to ``path``: a ``serve``
    killed at any moment leaves either no session folder or one with a marker, never one without (which
    the next ``serve`` would have to leave alone, as it might be a running Go synco's). A hidden leftover
    is removed by :func:`cleanup_expired`. The marker's lock is taken before the folder has its name, so
    no other serve ever finds it unlocked while this one lives.
    """
    if os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, "the session folder exists already", str(path))
    temp = path.parent / f"{CREATING_PREFIX}{path.name}-{os.getpid()}"
    remove_tree(temp, ignore_errors=True)
    temp.mkdir()
    lock_fd: int | None = None
    try:
        take_parents_group(temp)
        marker, lock_fd = _write_locked_marker(temp, ttl_seconds, keep)
        # rename() fails on a non-empty folder at ``path``; the check above covers the rest.
        try:
            os.rename(temp, path)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                # Another serve of the same --id made it since the check: the same refusal as the check's.
                raise FileExistsError(errno.EEXIST, "the session folder exists already", str(path)) from None
            raise
        return SessionHold(path, marker, lock_fd)
    except BaseException:
        if lock_fd is not None:
            os.close(lock_fd)
        remove_tree(temp, ignore_errors=True)
        raise


def _creating_leftovers(web_root: Path, now: float) -> list[Path]:
    """Hidden folders of a ``serve`` that died while creating its session folder, or while removing it."""
    found = []
    for child in sorted(web_root.glob(CREATING_PREFIX + "*")) + sorted(web_root.glob(REMOVING_PREFIX + "*")):
        with contextlib.suppress(OSError):
            if not child.is_dir() or child.is_symlink():
                continue
            # A folder being removed is garbage at any age; one being created may be a moment old, and is
            # never one whose serve provably runs: its age is the file system's clock (an NFS server's),
            # which may be minutes behind this host's.
            if child.name.startswith(REMOVING_PREFIX) or (
                    now - child.lstat().st_mtime > CREATING_GRACE_SECONDS and not _being_created(child)):
                found.append(child)
    return found


def _being_created(folder: Path) -> bool:
    """True when the serve whose marker is in ``folder`` provably still runs (:func:`_serve_alive`)."""
    marker = TtlMarker.read(folder)
    return marker is not None and _serve_alive(folder, marker) is True


def _serve_alive(folder: Path, marker: TtlMarker) -> bool | None:
    """Whether the serve that wrote ``marker`` still runs: told by its lock where it holds one and the lock
    can be tested, else by its pid on this host; None for another host's marker without a lock."""
    if marker.locked:
        gone = _owner_gone(folder / MARKER_FILE)
        if gone is not None:
            return not gone
    if not is_this_host(marker.host):
        return None
    return process_alive(marker.pid)


def is_stale(folder: Path, now: float | None = None, filesystem_now: float | None = None) -> bool:
    """True when ``folder`` holds a synco session that nobody serves any more.

    That is: its TTL ran out, or (not kept) the serving process is gone: its marker's lock can be taken,
    or, for a marker without one, no process on this host has its pid. Another host's session whose serve
    provably still runs (its lock held) is never stale here: its time is that host's clock's to judge.
    Folders without a marker are left alone: they may belong to a Go synco ``serve`` that is running right now.

    Another host's session is judged by that host's clock (:func:`_their_now`), which ``filesystem_now`` (the
    web root's file system's clock now, :func:`filesystem_clock`) lets this host read.
    """
    marker = TtlMarker.read(folder)
    if marker is None:
        return False
    alive = _serve_alive(folder, marker)
    this_host = is_this_host(marker.host)
    if alive is True and not this_host:
        # Its expiry is of that host's clock, and its serve removes it then: this host's clock, hours ahead
        # (a shared web root, a container with its own clock), took a session in use for an expired one.
        return False
    now = time.time() if now is None else now
    if not this_host:
        now = _their_now(folder, marker, filesystem_now, now)
    if now >= marker.expires_at:
        return True
    return not marker.keep and alive is False


def _their_now(folder: Path, marker: TtlMarker, filesystem_now: float | None, now: float) -> float:
    """What the clock of the host that wrote ``marker`` reads now, as far as can be told.

    Its marker says when it was written by that host's clock (``writtenAt``); the file system stamped the
    same moment with its own clock (the marker's mtime), and stamps a folder made now with the time it reads
    now (``filesystem_now``): so that host's clock now is ``filesystem_now`` plus the difference of the two
    stamps, whatever this host's clock says. A session kept after its serve exited (``--keep``) was removed by
    a host whose clock is hours ahead, and kept past its time by one hours behind. As receive does
    (:data:`~synco_core.receive.meta.MAX_CLOCK_OFFSET`), another host's clock is believed when it is at most
    that far from the file system's; past that (or an older marker, or a file system whose clock cannot be
    read), this host's clock judges, as before.
    """
    if marker.written_at is None or filesystem_now is None:
        return now
    try:
        written = os.stat(folder / MARKER_FILE, follow_symlinks=False).st_mtime
    except OSError:
        return now
    offset = marker.written_at - written
    if abs(offset) > MAX_CLOCK_OFFSET:
        return now
    return filesystem_now + offset


def filesystem_clock(web_root: Path) -> float | None:
    """The time the file system of ``web_root`` reads now: the mtime of a folder made there and removed at once
    (a network file system's server stamps it with its own clock). None where nothing can be made there."""
    probe = web_root / f"{CREATING_PREFIX}clock-{secrets.token_hex(8)}"
    try:
        probe.mkdir()
    except OSError:
        return None
    try:
        return probe.lstat().st_mtime
    except OSError:
        return None
    finally:
        with contextlib.suppress(OSError):
            probe.rmdir()


def _owner_gone(marker: Path) -> bool | None:
    """Whether the ``flock`` on ``marker`` can be taken (its owner is gone); None when that cannot be told
    (a filesystem without locks here). A marker this user may not open, or not a plain file, is a live one's."""
    try:
        # Read-write: where flock is emulated with POSIX locks (NFS), an exclusive one needs it.
        fd = os.open(marker, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return False
            log.debug("cannot test the lock of %s: %s", marker, exc.strerror)
            return None
        # Let go at once: a dead owner cannot come back, and no new serve takes a folder that exists.
        return True
    finally:
        os.close(fd)


def is_synco_folder(entry: os.DirEntry[str], _relative: str = "") -> bool:
    """True for a folder synco itself made: a session folder (Go synco's too), the hidden folder of a
    session being created, or synco's cache folder. File sets never include these, wherever their root is.

    Only folders whose names could be synco's are looked into, so a walk pays nothing for the others.
    """
    name = entry.name
    if name.startswith((CREATING_PREFIX, REMOVING_PREFIX)):
        return True
    if name.startswith(SESSION_PREFIX):
        folder = entry.path
        return os.path.lexists(os.path.join(folder, MARKER_FILE)) or os.path.lexists(os.path.join(folder, META_FILE))
    if name == "synco" or name.startswith("synco-cache-"):
        try:
            with open(os.path.join(entry.path, CACHE_TAG), "rb") as tag:
                return b"synco" in tag.read(4096)
        except OSError:
            return False
    return False


def session_folders(web_root: Path) -> list[Path]:
    """The synco session folders directly in ``web_root`` (``synco-*`` with a meta file or a marker)."""
    if not web_root.is_dir():
        return []
    found = []
    for child in sorted(web_root.iterdir()):
        if not child.name.startswith(SESSION_PREFIX) or child.is_symlink() or not child.is_dir():
            continue
        try:
            # A folder this user may not look into (another user's session) is listed too: removing it
            # fails, and says so, rather than a cleanup ending at it or passing it over in silence.
            if (child / META_FILE).exists() or (child / MARKER_FILE).exists():
                found.append(child)
        except PermissionError:
            found.append(child)
    return found


def remove_session(folder: Path) -> str | None:
    """Remove a session folder; the meta file goes first, so a receiver stops seeing the session at once.

    The rest is removed under a hidden name (:data:`REMOVING_PREFIX`) that the next serve removes whatever
    is left in it, so that a removal cut short (SIGKILL when a container's grace period ends, a second
    Ctrl-C) leaves nothing behind for good. A folder that cannot be renamed (another user's) is emptied in
    place, its marker last: cut short, it is still a session the next serve recognises.

    None once the folder is gone; else why (part of) it stays, naming the file: a session of another user
    in a shared web root cannot be removed, and that must neither stop the removal of the others nor pass
    for done.
    """
    reason: str | None = None
    try:
        (folder / META_FILE).unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        reason = f"{exc.strerror or exc}: {META_FILE}"
    target = folder
    # Only a folder of this user's whose meta file could go: another user's session (a Go synco serving in a
    # shared web root) must not vanish from under its URL while what is inside stays.
    with contextlib.suppress(OSError):
        if reason is None and folder.lstat().st_uid == os.geteuid():
            renamed = folder.parent / f"{REMOVING_PREFIX}{folder.name}-{os.getpid()}"
            os.rename(folder, renamed)
            target = renamed
    try:
        _remove_marker_last(target)
    except FileNotFoundError:
        pass
    except OSError as exc:
        name = str(exc.filename or target)
        reason = reason or f"{exc.strerror or exc}: {os.path.relpath(name, target) if os.path.isabs(name) else name}"
        # Whatever can go still goes.
        remove_tree(target, ignore_errors=True)
    if not os.path.lexists(target):
        return None
    return reason or f"{target}: still there"


def _remove_marker_last(folder: Path) -> None:
    """The removal of ``folder``, with the TTL marker removed after everything else in it.

    Another serve may be removing the same folder at the same moment (it took this serve's hidden
    ``.synco-removing-*`` folder for a leftover): an entry already gone is what both want, so each goes on
    with the rest, and the folder is gone once either is done.
    """
    entries = sorted(os.scandir(folder), key=lambda entry: entry.name == MARKER_FILE)
    crashpoints.reached("serve:remove:listed")
    for child in entries:
        if child.is_dir(follow_symlinks=False):
            _remove_folder_shared(child.path)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(child.path)
        crashpoints.reached("serve:remove:entry")
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(folder)


def _remove_folder_shared(path: str) -> None:
    """Remove a folder another process may be removing too: what it removed first is passed over, as
    :func:`~synco_core.trees.remove_tree` passes over an entry gone meanwhile (any depth: a folder an
    uploader named like a leftover may be deeper than Python's recursion limit)."""
    while os.path.lexists(path):
        try:
            remove_tree(path)
        except TreeRemovalError as exc:
            cause = exc.__cause__
            if isinstance(cause, FileNotFoundError):
                continue  # The folder itself went meanwhile, between its look and its opening.
            if isinstance(cause, OSError):
                raise cause from None
            raise OSError(errno.EIO, str(exc), path) from None


def _remove_leftover(leftover: Path) -> None:
    """Remove a hidden folder a serve left while creating or removing a session (marker last, as a session)."""
    try:
        _remove_marker_last(leftover)
    except OSError:
        remove_tree(leftover, ignore_errors=True)


def cleanup_expired(web_root: Path) -> list[Path]:
    """Remove the stale sessions of ``web_root``; returns what was removed (what cannot be is warned about)."""
    removed = []
    folders = session_folders(web_root)
    clock = filesystem_clock(web_root) if folders else None
    for folder in folders:
        if is_stale(folder, filesystem_now=clock):
            log.info("removing expired session %s", folder)
            reason = remove_session(folder)
            if reason is None:
                removed.append(folder)
            else:
                log.warning("cannot remove the expired session %s (%s)", folder, reason)
    for leftover in _creating_leftovers(web_root, time.time()) if web_root.is_dir() else []:
        log.info("removing %s, left by a serve that stopped while creating or removing it", leftover)
        _remove_leftover(leftover)
        if not os.path.lexists(leftover):
            removed.append(leftover)
    return removed


def served_now(folder: Path) -> str | None:
    """Who serves ``folder`` right now (``process N on host H``), when its serve provably runs: it holds its
    marker's lock. None for every other session (kept, expired or not, a dead serve's, an older synco's)."""
    marker = TtlMarker.read(folder)
    if marker is None or not marker.locked or _owner_gone(folder / MARKER_FILE) is not False:
        return None
    if is_this_host(marker.host):
        return f"process {marker.pid}"
    shown = " on another host" if marker.host.startswith("blake2b:") else f" on host {marker.host}"
    return f"process {marker.pid}{shown}"


def cleanup_all(web_root: Path) -> tuple[list[Path], list[tuple[Path, str]], list[tuple[Path, str]]]:
    """Remove every synco session folder of ``web_root`` that no running serve publishes (``serve --cleanup``):
    (what was removed, (what could not be, why), (what a running serve still publishes, which one)).

    A running serve's session is left to it: removed from under it, its receive command fails half-way,
    and one still being built fails where it writes next. It removes the session itself when it stops.
    """
    removed: list[Path] = []
    failed: list[tuple[Path, str]] = []
    served: list[tuple[Path, str]] = []
    for folder in session_folders(web_root):
        who = served_now(folder)
        if who is not None:
            served.append((folder, who))
            continue
        reason = remove_session(folder)
        if reason is None:
            removed.append(folder)
        else:
            failed.append((folder, reason))
    for leftover in _creating_leftovers(web_root, time.time()) if web_root.is_dir() else []:
        _remove_leftover(leftover)
        if os.path.lexists(leftover):
            failed.append((leftover, f"{leftover}: still there"))
        else:
            removed.append(leftover)
    return removed, failed, served
