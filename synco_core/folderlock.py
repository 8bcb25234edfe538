"""One synco at a time in a folder: the lock an install holds on its project and a receive on its target.

Two installs into one project would interleave their database swaps and folder moves, and the second one's
start would take the first one's journal for that of a killed install and "recover" it, undoing the first
while it runs. Two receives into one folder would write the same files. So each holds an exclusive
``flock`` on a file in the folder for as long as it works there; the second one refuses at once, with one
line naming the process that holds the lock: its pid, its host when that is not this one (a folder shared
over NFS or with a container, where the pid names a process there) and its command (``synco receive``).

The kernel drops a ``flock`` when its holder exits, however it exits (``kill -9`` too), so a lock is never
left stale: a file that a killed holder leaves behind locks nothing. Otherwise the holder removes the file
before it lets go, so the folder is left as it was. Within one process the lock is re-entrant (``receive
--install`` installs through the same code as ``synco install``), counted, and released with the last
holder. On a filesystem that cannot lock (some network mounts), or a folder synco may not write to, nothing
is locked: the work then goes on as before, and fails later, with its own words, where it must write. A lock
file's name taken by something else (a symbolic link, a folder, a FIFO, a file with hard links) is refused
in one line: locking through it would lock nothing, or write into the file it stands for.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import socket
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from synco_core.errors import ConfigError

log = logging.getLogger(__name__)

#: In an install's project folder.
INSTALL_LOCK = ".synco-install.lock"
#: In a receive's target folder.
RECEIVE_LOCK = ".synco-receive.lock"

#: Errors that mean "this filesystem cannot lock", not "someone holds the lock".
_CANNOT_LOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


class FolderBusyError(ConfigError):
    """Another synco process holds the folder's lock."""


@dataclass
class _Held:
    fd: int | None
    count: int


_held: dict[Path, _Held] = {}
_guard = threading.Lock()


def _holder(fd: int) -> str:
    """`` (process N on host H: synco CMD)`` from what the holder wrote into the lock file, or what of it is there.

    The host is named when it is not this one: the folder may be shared (NFS, a container's bind mount), and
    the pid then names a process there, not here.
    """
    try:
        lines = os.pread(fd, 512, 0).decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    pid, host, command = [*lines, "", "", ""][:3]
    if not pid.isdigit():
        return ""
    where = f" on host {host}" if host and host != socket.gethostname() else ""
    doing = f": {command}" if command.startswith("synco") and command.isprintable() else ""
    return f" (process {pid}{where}{doing})"


def _identity() -> bytes:
    """What a lock file says of its holder: pid, host and the synco command it runs, one to a line.

    Only the command's name (``synco receive``), never its arguments: they may hold a key or a database URL
    with its password.
    """
    command = ""
    with contextlib.suppress(Exception):
        import click

        context = click.get_current_context(silent=True)
        if context is not None:
            command = context.command_path
    return f"{os.getpid()}\n{socket.gethostname()}\n{command}\n".encode("utf-8", "replace")


#: What stands under the lock file's name when open() fails so, and is not a lock file synco made.
_NOT_A_FILE = {errno.ELOOP: "a symbolic link", errno.EISDIR: "a folder", errno.ENXIO: "a socket"}


def _foreign(path: Path, what: str) -> ConfigError:
    """The refusal for a lock file's name taken by something else: locking it would lock nothing (a link, a
    folder) or write into another file (a hard link's other names), so the user is asked to look at it."""
    return ConfigError(f"{path} is {what}, not a lock file synco made; remove it and run again")


def _check_own(fd: int, path: Path) -> None:
    """Refuse an opened lock file that is not a plain file of its own: truncating it and writing the pid into
    it would change the FIFO's reader's stream or, through a hard link, a file of the user's."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _foreign(path, "a FIFO" if stat.S_ISFIFO(info.st_mode) else "a device or special file")
    if info.st_nlink > 1:
        os.close(fd)
        raise _foreign(path, f"a file with {info.st_nlink - 1} more name(s) (a hard link)")


def _take(path: Path, doing: str) -> int | None:
    while True:
        try:
            # O_NONBLOCK: a FIFO or device planted under the name must not hold the open (or the process) up.
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o600)
        except OSError as exc:
            if exc.errno in _NOT_A_FILE:
                raise _foreign(path, _NOT_A_FILE[exc.errno]) from None
            if exc.errno in (errno.EACCES, errno.EPERM) and os.path.lexists(path):
                # Another user's synco (or a lock left by one) works there: going on unlocked would let two
                # runs interleave, which is what the lock exists to stop.
                raise FolderBusyError(f"{path} belongs to someone this user may not lock out (another user's "
                                      "synco?); wait until it has finished, or remove the file if none runs") from None
            log.debug("not locking %s: %s", path, exc.strerror)
            return None
        _check_own(fd, path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in _CANNOT_LOCK:
                log.debug("not locking %s: %s", path, exc.strerror)
                os.close(fd)
                return None
            holder = _holder(fd)
            os.close(fd)
            raise FolderBusyError(f"another synco{holder} is {doing} {path.parent}; wait until it has finished "
                                  f"(it holds {path.name})") from None
        if _still_there(fd, path):
            break
        # The holder before us removed the file between our open and our flock: ours locks nothing.
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, _identity(), 0)
    except OSError as exc:
        log.debug("could not write the pid into %s: %s", path, exc.strerror)
    return fd


def _still_there(fd: int, path: Path) -> bool:
    try:
        named = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def acquire(folder: Path, name: str, doing: str) -> Path:
    """Take the lock file ``name`` in ``folder`` (which exists); the key to :func:`release` it with.

    ``doing`` completes the refusal (``another synco is <doing> <folder>``). Raises :class:`FolderBusyError`
    when another process holds it.
    """
    path = folder.resolve() / name
    with _guard:
        held = _held.get(path)
        if held is not None:
            held.count += 1
            return path
        _held[path] = _Held(_take(path, doing), 1)
    return path


def release(key: Path) -> None:
    with _guard:
        held = _held.get(key)
        if held is None:
            return
        held.count -= 1
        if held.count > 0:
            return
        del _held[key]
        if held.fd is not None:
            # Removed while still locked, so the folder is left as it was found; whoever opened the file
            # meanwhile finds, once it has the lock, that it is no longer there, and starts again.
            with contextlib.suppress(OSError):
                os.unlink(key)
            os.close(held.fd)


@contextmanager
def folder_lock(folder: Path, name: str, doing: str) -> Iterator[None]:
    key = acquire(folder, name, doing)
    try:
        yield
    finally:
        release(key)
