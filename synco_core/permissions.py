"""Which permission bits what synco writes on the laptop gets: the one place that decides.

On the server, what serve publishes in the web root (the session folder, its artifacts and marker) is
created under the user's umask with group and other write always taken away (:func:`published_files`): the
web server must read it, nobody but its owner may add to it or change it. It must read it whatever the
umask, too: a read or search bit the web root gives its group or other users is not taken away by the umask.

- Production data synco keeps for itself (dumps, part files, records, the install's own record): 0600
  whatever the umask (:data:`synco_core.fsutil.PRIVATE_MODE`).
- Public sets' files and folders: what the user's umask says, as any program that creates files.
- Private sets' files: the server's bits less set-uid, set-gid, sticky and group write, never any bit for
  other users, and less the umask; their folders 0750 less the umask. The owner always reads and writes.
  Other users of the laptop never read private data, whatever the server's bits or the umask.
- A SQLite database the install creates is private data too (0640 less the umask, owner read/write).
- What an install puts in place of something of the user's (a set's folder, a SQLite database, the
  ``.synco.yml`` synco adds a host to) keeps that one's mode and group: the user (or a local web server
  sharing a group) chose who may read and write it, and replacing its content does not undo that choice.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
from collections.abc import Iterator

#: The bits a private set's file may keep from the server (none for others, no group write).
PRIVATE_SET_BITS = 0o750
#: The mode a private set's folder is created with (less the umask).
PRIVATE_SET_FOLDER_MODE = 0o750
_OWNER_READ_WRITE = 0o600


#: What serve's umask always holds while it publishes (:func:`published_files`): no write for group or other.
PUBLISHED_UMASK_BITS = 0o022


def published_umask(previous: int, web_root_mode: int | None) -> int:
    """The umask serve publishes under: ``previous`` with group and other write added, and without the read
    and search bits that the web root (mode ``web_root_mode``, None: unknown) gives group or other."""
    readable = 0 if web_root_mode is None else web_root_mode & 0o055
    return (previous & ~readable) | PUBLISHED_UMASK_BITS


@contextlib.contextmanager
def published_files(web_root: str | os.PathLike[str] | None = None) -> Iterator[None]:
    """Within the block, every file and folder this process creates is not writable by group or other, and
    readable by whoever may read ``web_root`` through its group or other bits.

    Under ``umask 000`` (or 002) the session folder in the web root was 0777 and its files 0666: another user
    of the server could put a script in it that the web server then runs under the site's name, or replace
    the marker that says when the session is removed. Under ``umask 077`` (a hardened account's) it was 0700
    and its files 0600: a web server running as another user (nginx as www-data reading a 0755 web root)
    answered 403 for the session's meta, and receive could only say "refused by the server". The artifacts
    are encrypted, and the web root's own bits say through which of them the web server reads. The umask is
    the process's, so it also covers what ``publish_session`` writes through any helper; it is put back when
    the block ends.
    """
    mode: int | None = None
    if web_root is not None:
        with contextlib.suppress(OSError):
            mode = os.stat(web_root).st_mode
    previous = os.umask(0o077)
    os.umask(published_umask(previous, mode))
    try:
        yield
    finally:
        os.umask(previous)


def take_parents_group(folder: str | os.PathLike[str]) -> None:
    """Give the new ``folder`` its parent's group and the set-group-id bit, as a set-group-id parent would.

    The group bits :func:`published_files` keeps are the web root's, for a web server in the web root's group
    (a 0750 site of group www-data); but a new folder gets the creator's own group, and www-data, reading
    through the group bits of another group, answered 403. With the set-group-id bit everything made in the
    folder gets that group too. Best effort: an owner who is not in that group cannot give it, and the
    session is then as unreadable to that group as it was before.
    """
    path = os.fspath(folder)
    try:
        parent = os.stat(os.path.dirname(os.path.abspath(path)))
        own = os.stat(path)
        if own.st_gid == parent.st_gid or not parent.st_mode & 0o050:
            return  # a set-group-id parent gave it already, or its group reads nothing there anyway
        os.chown(path, -1, parent.st_gid)
        os.chmod(path, stat.S_IMODE(own.st_mode) | stat.S_ISGID)
    except OSError:
        return


@functools.cache
def umask() -> int:
    """This process's umask, read without changing it where the system tells (Linux's ``/proc``).

    Elsewhere it is set and put back once, on the first call; synco makes that call before it starts
    threads (:func:`synco_core.cli.main`), as setting it is not atomic.
    """
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii",
                                                         errors="replace") as status:
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    current = os.umask(0o077)
    os.umask(current)
    return current


def private_set_file_mode(server_mode: int) -> int:
    """The mode of a private set's file whose mode on the server was ``server_mode``."""
    return (server_mode & PRIVATE_SET_BITS & ~umask()) | _OWNER_READ_WRITE


def new_database_mode() -> int:
    """The mode of a database file an install creates where there was none."""
    return (0o640 & ~umask()) | _OWNER_READ_WRITE


def keep_mode(path: str | os.PathLike[str], replaced: os.stat_result) -> None:
    """Give ``path`` (about to take the place of what ``replaced`` describes) its mode and, where this user may
    set it, its group; an owner never loses its own read and write (search for a folder) bits."""
    owner = 0o700 if stat.S_ISDIR(replaced.st_mode) else _OWNER_READ_WRITE
    # The group first: changing it clears set-gid on some systems, which the mode then puts back.
    if os.lstat(path).st_gid != replaced.st_gid:
        with contextlib.suppress(PermissionError):
            os.chown(path, -1, replaced.st_gid, follow_symlinks=False)
    os.chmod(path, stat.S_IMODE(replaced.st_mode) | owner)


def keep_mode_of(path: str | os.PathLike[str], replaced: str | os.PathLike[str]) -> None:
    """:func:`keep_mode` with what ``replaced`` is now (links followed); nothing when it does not exist."""
    try:
        info = os.stat(replaced)
    except FileNotFoundError:
        return
    keep_mode(path, info)
