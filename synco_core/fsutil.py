"""File-system helpers: atomic outputs, safe relative paths (rule in :mod:`synco_core.names`), a file's second."""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import os
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from synco_core.errors import ConfigError, UnsafePathError
from synco_core.names import PLAIN_RELATIVE_PATH, safe_relative_path
from synco_core.nospace import NO_SPACE_ERRNOS, is_no_space, no_space
from synco_core.tempfolder import rearrangeable_at

__all__ = [
    "PLAIN_RELATIVE_PATH",
    "PRIVATE_MODE",
    "atomic_output",
    "mode_kind",
    "open_private",
    "private_folder",
    "private_folder_problem",
    "resolve_inside",
    "safe_relative_path",
    "set_mode",
    "special_kind",
    "start_writeback",
    "user_output",
]

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer


def private_folder(folder: Path) -> bool:
    """True when ``folder`` is usable as a private folder of this user (:func:`private_folder_problem`)."""
    return private_folder_problem(folder) is None


def private_folder_problem(folder: Path) -> str | None:
    """Make ``folder`` (0700) if needed, with its missing parents (0700 too); None when it is a real folder of
    this user (never a link) that nobody else may write to, put back to 0700 when group or other users had any
    access to it (an earlier run under ``umask 000`` made it so), in folders that do not let other users rename
    it away; else what is wrong, in a few words.

    The parents matter as much as the folder: under ``umask 000`` a ``~/.cache`` made with the umask let any
    user rename ``~/.cache/synco`` away (receive's records of the sessions it received with it, which refuse a
    replay) and put a folder of theirs in its place.
    """
    # Judged before anything is made: nothing of this user's is left in a folder others may rearrange.
    shared = rearrangeable_at(os.path.dirname(os.path.abspath(folder)))
    if shared is not None:
        return f"other users may rename or replace what is in {shared}"
    try:
        _make_private_parents(folder)
        folder.mkdir(mode=0o700, exist_ok=True)
        # Judged and changed through a descriptor opened without following a link: what is checked is what
        # is changed.
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        return exc.strerror or str(exc)
    try:
        info = os.fstat(fd)
        if info.st_uid != os.getuid():
            return "not a folder of this user"
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.fchmod(fd, 0o700)
    except OSError as exc:
        return exc.strerror or str(exc)
    finally:
        os.close(fd)
    return None


def _make_private_parents(folder: Path) -> None:
    missing = [parent for parent in Path(os.path.abspath(folder)).parents if not os.path.lexists(parent)]
    for parent in reversed(missing):
        with contextlib.suppress(FileExistsError):
            parent.mkdir(mode=0o700)


def make_folders(path: str | os.PathLike[str], mode: int = 0o777) -> None:
    """``os.makedirs(path, mode, exist_ok=True)`` in a loop: ``makedirs`` (and ``Path.mkdir(parents=True)``)
    recurse once per missing folder, so a received file 1,000 folders down ended in ``RecursionError``.

    As ``makedirs`` does, an existing folder (or a link to one) is taken as it is, and a failure raises the
    ``OSError`` of the folder that could not be made, naming it.
    """
    missing = []
    current = os.fspath(path)
    while True:
        missing.append(current)
        head, tail = os.path.split(current)
        if not tail:
            head, tail = os.path.split(head)
        if not head or not tail or os.path.exists(head):
            break
        current = head
    for folder in reversed(missing):
        try:
            os.mkdir(folder, mode)
        except OSError:
            # Made meanwhile (another thread of the same run), or there already: what makedirs accepts.
            if not os.path.isdir(folder):
                raise


def user_cache_dir() -> Path:
    """synco's folder in the user's cache (``$XDG_CACHE_HOME/synco``, else ``~/.cache/synco``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "synco"


#: Bytes written between two requests to start write-back (see :class:`_EarlyWriteback`).
WRITEBACK_EVERY = 64 * 1024 * 1024
_SYNC_FILE_RANGE_WRITE = 2


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """Linux's ``sync_file_range`` from the C library, or None where there is none (it is not in ``os``)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return cast("Callable[[int, int, int, int], int]", function)


def start_writeback(fd: int, offset: int, length: int) -> bool:
    """Ask the kernel to start writing ``length`` dirty bytes at ``offset`` to disk, without waiting.

    False where that is not possible (not Linux) or the request failed; the final fsync still writes
    everything, so this only ever changes when the work is done, never whether.
    """
    function = _sync_file_range()
    return function is not None and function(fd, offset, length, _SYNC_FILE_RANGE_WRITE) == 0


class _EarlyWriteback(io.BufferedWriter):
    """A file whose dirty pages start going to disk every :data:`WRITEBACK_EVERY` bytes.

    Left alone, the kernel holds gigabytes of a large output in memory until the closing fsync, which then
    waits for all of it: ``synco decrypt`` took a third longer than ``age -d`` (which does not sync) for
    that wait alone. Started early, the write-back runs while the rest is produced and the fsync finds
    little left. A background thread calling fdatasync was tried too; it stalled the writer instead.
    """

    def __init__(self, raw: io.FileIO) -> None:
        super().__init__(raw)
        self._unsynced = 0
        self._mark = 0
        #: Bytes taken so far, and whether a write of this file found its disk full (told apart from the
        #: failures of whatever else the writer's block does).
        self.taken = 0
        self.no_room = False

    def flush(self) -> None:
        try:
            super().flush()
        except OSError as exc:
            self.no_room = exc.errno in NO_SPACE_ERRNOS
            raise

    def sync(self) -> None:
        """Flush, then ``fsync``: a file system that allocates late (ext4, XFS) finds it full only here."""
        self.flush()
        try:
            os.fsync(self.fileno())
        except OSError as exc:
            self.no_room = exc.errno in NO_SPACE_ERRNOS
            raise

    def write(self, buffer: ReadableBuffer, /) -> int:
        try:
            count = super().write(buffer)
        except OSError as exc:
            self.no_room = exc.errno in NO_SPACE_ERRNOS
            raise
        self.taken += count
        self._unsynced += count
        if self._unsynced >= WRITEBACK_EVERY:
            self._unsynced = 0
            self.flush()
            # Ranges, not the whole file, so pages already on their way are not asked for again; a writer
            # that seeks back only leaves its rewritten pages for the final fsync.
            end = self.tell()
            if end > self._mark:
                start_writeback(self.fileno(), self._mark, end - self._mark)
            self._mark = end
        return count


#: Files holding what synco received or decrypted (dumps, part files, ``synco decrypt`` output): for the
#: owner alone, whatever the umask, so other users of the machine never read production data.
PRIVATE_MODE = 0o600


#: What a file system that keeps no Unix modes answers a chmod of one its mount options do not give: the
#: kernel's FAT and exFAT drivers EPERM, fusefat ENOSYS, some network and FUSE mounts EOPNOTSUPP.
_NO_MODES = frozenset({errno.EPERM, errno.ENOSYS, errno.EOPNOTSUPP})


def set_mode(fd: int, mode: int) -> None:
    """``os.fchmod(fd, mode)``; a file of this user on a file system that keeps no modes (a FAT or exFAT disk,
    whose mount options give every file the same) keeps the mount's. Before, that refusal failed every
    receive there, with the advice to run again."""
    try:
        os.fchmod(fd, mode)
    except OSError as exc:
        # The owner may always change a mode where modes are kept: a refusal to this user is the file system's.
        if exc.errno not in _NO_MODES or os.fstat(fd).st_uid != os.geteuid():
            raise


def _create_private(path: Path, extra_flags: int) -> int:
    """A descriptor of ``path`` created (or reused) with mode 0600 whatever the umask; never through a link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0) | extra_flags
    fd = os.open(path, flags, PRIVATE_MODE)
    try:
        # The mode given to open() is reduced by the umask, and an existing file keeps its own: set it.
        set_mode(fd, PRIVATE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def create_fresh(path: Path, private: bool = False) -> int:
    """A descriptor of a new file at ``path``, one of synco's own temporary names: whatever is there is removed
    first, never opened. A link there (a cloned repository carries links as links) had the output written into
    the file it leads to, and a hard link had that file truncated. ``private``: mode 0600 whatever the umask."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    flags = os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    if private:
        return _create_private(path, flags)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | flags, 0o666)


def open_private(path: Path, append: bool = False, buffering: int = -1) -> BinaryIO:
    """``path`` opened for writing, truncated (or appended to), readable and writable by the owner only."""
    fd = _create_private(path, os.O_APPEND if append else os.O_TRUNC)
    return os.fdopen(fd, "ab" if append else "wb", buffering=buffering)


@contextlib.contextmanager
def atomic_output(path: Path, suffix: str = ".part", private: bool = False) -> Iterator[BinaryIO]:
    """Write to ``path + suffix`` and rename to ``path`` only when the block ends without error.

    On any exception the partial file is removed, so nothing half-written ever sits under the final name.
    The data is fsynced before the rename (a crash leaves the old file or the whole new one); write-back
    starts every :data:`WRITEBACK_EVERY` bytes on the way, so that fsync has little left to wait for.
    ``private`` creates the file with mode 0600 whatever the umask (:data:`PRIVATE_MODE`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + suffix)
    out: _EarlyWriteback | None = None
    try:
        raw = io.FileIO(create_fresh(temp, private), "wb")
        with _EarlyWriteback(raw) as out:
            yield cast(BinaryIO, out)
            out.sync()
        os.replace(temp, path)
    except BaseException as exc:
        # What reached the disk (a large write fails part-way, after what the writer was told it took).
        on_disk = temp.stat().st_size if temp.is_file() else 0
        with contextlib.suppress(OSError):
            temp.unlink()
        if out is not None and out.no_room and is_no_space(exc):
            raise no_space(path.parent, path.name, more_than=max(out.taken, on_disk)) from exc
        raise


#: What :func:`special_kind` calls the kinds of file a command writes into in place.
FIFO = "a FIFO (named pipe)"
CHARACTER_DEVICE = "a character device"
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, FIFO), (stat.S_ISCHR, CHARACTER_DEVICE),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def mode_kind(mode: int) -> str | None:
    """What a file of ``mode`` is (``"a folder"``, :data:`FIFO`, ...), for an error; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def special_kind(path: Path) -> str | None:
    """What ``path`` is (``"a folder"``, :data:`FIFO`, ...) when it exists but is not a regular file, links
    followed; None for a regular file or for nothing at all (whatever else is wrong is left to the open)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "a broken symbolic link" if path.is_symlink() else None
    except OSError:
        return None
    return mode_kind(mode)


@contextlib.contextmanager
def user_output(path: Path, private: bool = False) -> Iterator[BinaryIO]:
    """:func:`atomic_output` for a path the user named (``-o``), each wrong path refused in one line.

    A FIFO or character device (``-o /dev/null``, ``-o >(age ...)``) is written into in place: the rename
    would replace it with a regular file (as root, ``/dev/null`` itself), and chmod it to 0600; it holds
    nothing that a half-written output could spoil. A folder, block device or socket is refused, and so
    is a path under a file; missing folders are created, as :func:`atomic_output` does.
    """
    kind = special_kind(path)
    if kind in (FIFO, CHARACTER_DEVICE):
        try:
            device = path.open("wb")
        except OSError as exc:
            raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc
        with device:
            yield device
        return
    if kind is not None:
        raise ConfigError(f"cannot write {path}: it is {kind}")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(f"cannot write {path}: {ancestor} is not a folder")
    with contextlib.ExitStack() as stack:
        try:
            out = stack.enter_context(atomic_output(path, private=private))
        except OSError as exc:
            # Only creating the file is worded here: errors of the writing itself belong to the writer.
            raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc
        yield out


def resolve_inside(base: Path, name: str) -> Path:
    """``base / name`` after checking ``name`` and that no existing link along it leads out of ``base``."""
    relative = safe_relative_path(name)
    target = base.joinpath(*relative.parts)
    base_real = base.resolve()
    parent_real = target.parent.resolve()
    if parent_real != base_real and base_real not in parent_real.parents:
        raise UnsafePathError(f"unsafe path {name!r}: leads out of {base} through a link")
    return target


def path_below(path: Path, base: Path) -> tuple[str, ...] | None:
    """The segments of ``path`` below ``base``, as written (``..`` folded) or else once both are resolved;
    None when it is below ``base`` neither way.

    A deployed project reaches parts of itself through links into a shared folder (``settings.local.php``,
    ``sites/default/files`` of a Deployer or Capistrano release): PHP and the web server name them by the
    written path, so that path is what places them in the project. The resolved one places a link from
    outside into the project.
    """
    written = Path(os.path.normpath(os.path.abspath(path)))
    written_base = Path(os.path.normpath(os.path.abspath(base)))
    if written.is_relative_to(written_base):
        return written.relative_to(written_base).parts
    real, real_base = Path(os.path.realpath(path)), Path(os.path.realpath(base))
    if real.is_relative_to(real_base):
        return real.relative_to(real_base).parts
    return None


#: An unlocked temporary file younger than this may be one being born (created, not yet locked): left alone.
TEMP_GRACE = 60.0


def create_owned_temp(path: Path, suffix: str) -> tuple[Path, int]:
    """A new private file ``<path>.t<random><suffix>`` beside ``path``, opened for writing, with an exclusive
    ``flock`` held on it for as long as the returned descriptor (or a ``dup`` of it) is open.

    The lock, not a process id, says the owner lives (see :mod:`synco_core.scratch`): a pid means nothing
    in another container's pid namespace sharing the folder (two containers' pid 1 would even write the
    same name), and pids are reused. On a filesystem without ``flock`` nobody can take the lock: nothing is
    removed there.
    """
    import fcntl
    import secrets

    temp = path.with_name(f"{path.name}.t{secrets.token_hex(8)}{suffix}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return temp, fd


def remove_temps_of_dead_processes(path: Path, suffix: str, grace: float = TEMP_GRACE) -> None:
    """Remove the temporary files ``<path>.*<suffix>`` beside ``path`` whose owner is gone (killed before it
    could remove them): one made by :func:`create_owned_temp` whose lock can be taken, an older synco's
    ``<path>.<pid><suffix>`` whose process is gone. A file of a running owner is left alone.

    ``grace``: an unlocked file written less than this many seconds ago may be one being born (created, not
    yet locked) and is left; 0 where the caller holds a lock that keeps every other writer of such files
    away (a receive's lock on its folder)."""
    from synco_core.scratch import remove_file_if_unlocked

    for temp in path.parent.glob(f"{path.name}.*{suffix}"):
        # "<pid>" or "<pid>.partial" before this version, "t<random>" (and "t<random>.partial") since.
        middle = temp.name[len(path.name) + 1:-len(suffix)].split(".", 1)[0]
        with contextlib.suppress(OSError):
            if middle.isdigit():
                if not process_alive(int(middle)):
                    temp.unlink()
            elif middle.startswith("t"):
                remove_file_if_unlocked(temp, os.getuid(), grace)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs on this host: a folder named after a dead one is a leftover."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


def second_of(info: os.stat_result) -> int:
    """The second a file's time falls in, as stat, ls and Go synco give it (an index's ``mTime``). Not
    ``int(st_mtime)``: that float has no room for the nanoseconds, so 1700000000.999999999 read as the next
    second, and int() cuts a time before 1970 towards zero (-1.5 became -1, not -2)."""
    return info.st_mtime_ns // 1_000_000_000
