"""Saving one public file: a part file named for the version it holds, resumed with a Range, checked
against the index's size and content hash before it gets its final name.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

from synco_core import trees
from synco_core.beneath import check_no_links
from synco_core.errors import TransferError, UnsafePathError
from synco_core.fsutil import make_folders, second_of
from synco_core.names import windows_rule
from synco_core.origins import RefusedRequestError
from synco_core.receive.fallback import FALLBACK, SNIFF_BYTES, FallbackPageError, is_fallback_for
from synco_core.receive.limits import SizeExceededError, check_declared
from synco_core.receive.mtimes import same_mtime, stamp
from synco_core.receive.transport import RangeNotSatisfiableError, Response, Transport, UnavailableError
from synco_core.trees import Choice, select_entries
from synco_core.wire import PublicIndexEntry

log = logging.getLogger(__name__)


PART_SUFFIX = ".synco-part"


def remote_path_for(entry: PublicIndexEntry) -> str:
    """The transport path of an index entry: an absolute URL, or a path relative to the base URL.

    Go synco wrote ``<BASE>/path`` and, in some versions, paths relative to the session folder
    (``../_Resources/...``); both mean "relative to the base URL".
    """
    if entry.absolute:
        return entry.public_uri
    uri = entry.public_uri.removeprefix("<BASE>")
    while uri.startswith(("/", "../", "./")):
        uri = uri.removeprefix("/").removeprefix("../").removeprefix("./")
    return uri


#: A local path. Per-file paths are plain strings: pathlib (3.11) interns every name it parses, so a Path per
#: received file made the interpreter's table of interned strings grow with the set.
StrPath = str | Path


def _unlink(path: StrPath) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _sha1_of(path: StrPath) -> str:
    return _digest_of(path, hashlib.sha1(usedforsecurity=False))


def sha256_of(path: StrPath) -> str:
    """The SHA-256 of a local file (hex); "" when it cannot be read."""
    try:
        return _digest_of(path, hashlib.sha256())
    except OSError:
        return ""


def _digest_of(path: StrPath, digest: hashlib._Hash) -> str:
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def local_paths(root: StrPath) -> Callable[[str], str]:
    """The function from an index path (already normalised by the index parser: no ``..``, not absolute, no
    empty part) to its local path below ``root``, as ``os.path.join(root, *relative.split("/"))`` makes it.

    Where the separator is ``/`` that is the root with one separator and the path itself: a concatenation
    instead of a join of every part, which cost a first sync's receive about a microsecond per file, twice.
    """
    top = os.fspath(root)
    if os.sep == "/" and not os.altsep:
        return os.path.join(top, "").__add__
    return lambda relative: os.path.join(top, *relative.split("/"))


class _Destinations:
    """Index paths -> local paths, with the link check of :func:`check_no_links` done once per folder.

    A re-sync looks at every file of the index; checking each path's folders again for links would cost
    several system calls per file. Only regular files and folders are ever created here, so a folder
    checked once stays safe for the rest of the run.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self._local = local_paths(base)
        self._checked: set[str] = set()

    def path(self, relative: str) -> str:
        folder, _, _name = relative.rpartition("/")
        if folder not in self._checked:
            check_no_links(self.base, relative.split("/"))
            self._checked.add(folder)
        return self._local(relative)


def is_current(path: StrPath, entry: PublicIndexEntry, info: os.stat_result | None = None,
               odd_seconds: bool = False) -> bool:
    """True when ``path`` already is the file the entry describes (a regular file, not a link).

    ``info`` is the file's ``lstat`` when the caller has it already (a folder walk does); ``odd_seconds``:
    the folder's file system holds odd seconds (:func:`~synco_core.receive.mtimes.holds_odd_seconds`).
    """
    if info is None:
        try:
            info = os.lstat(path)
        except OSError:
            return False
    if not stat.S_ISREG(info.st_mode):
        return False
    if info.st_size != entry.size_bytes or not same_mtime(second_of(info), entry.mtime, odd_seconds):
        return False
    return not entry.sha1 or _sha1_of(path) == entry.sha1.lower()


#: Flags of a file receive writes (a ``.synco-part`` file, or a file in a staging folder): never follow a link
#: planted under that name, never leak the fd to a child.
_PART_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)


#: futimens() sets the mtime on the open file without looking its name up again (where the platform has it).
_UTIME_ON_FD = os.utime in os.supports_fd


class _Folders:
    """Creates each destination folder once per run instead of asking the file system again for every file.

    Many threads share it; a folder created twice (two threads at once) is harmless with ``exist_ok``.
    """

    def __init__(self) -> None:
        self._made: set[str] = set()
        #: Folders this run makes or made, known before they exist: a file of the index named as one of them
        #: must not take it for an empty folder of nobody's and remove it while this run fills it.
        self._claimed: set[str] = set()

    def ensure(self, folder: str) -> None:
        if folder not in self._made:
            self._claimed.add(folder)
            make_folders(folder)
            self._made.add(folder)

    def made_under(self, top: str) -> bool:
        """This run made ``top`` or a folder in it for files of its own (an index naming ``a`` and ``a/b``)."""
        inside = top + os.sep
        return any(folder == top or folder.startswith(inside) for folder in list(self._claimed))


def _ensure_folder(destination: StrPath, folders: _Folders | None) -> None:
    folder = os.path.dirname(os.fspath(destination))
    try:
        if folders is not None:
            folders.ensure(folder)
        else:
            make_folders(folder)
    except (FileExistsError, NotADirectoryError):
        # An index listing both "a" and "a/b" (or a local file where the index now has a folder): running
        # again meets the same file, so this is a refusal, not an interruption.
        raise InTheWay("a file is in the way of its folder") from None
    except OSError as exc:
        # make_folders made every folder above the one that failed: the file system refuses that one's name.
        if exc.errno in NAME_ERRORS or exc.errno == errno.ENOENT:
            refused = os.path.basename(exc.filename) if isinstance(exc.filename, str) else ""
            raise NameNotHeld(not_held_reason(refused, exc, "the name of a folder of its path")) from None
        raise


class NameNotHeld(TransferError):
    """The target's file system refuses the file's name: running again meets the same refusal."""


#: What a file system answers for a name it cannot hold: exFAT, FAT and NTFS (and SMB shares of them) take
#: no ``\\ : * ? " < > |`` (EINVAL; the FUSE exFAT driver says ENOENT), eCryptfs no name past 143 bytes.
NAME_ERRORS = frozenset({errno.EINVAL, errno.EILSEQ, errno.ENAMETOOLONG})
#: The longest name eCryptfs (an encrypted home folder) takes, in bytes.
ECRYPTFS_NAME_MAX = 143


def not_held_reason(name: str, exc: OSError, what: str = "this name") -> str:
    """Why a file was not written where the file system refused ``name`` (one segment) with ``exc``: the rule
    the name breaks, where it is one of the known ones, so that the user sees what to rename."""
    rule = windows_rule(name) if name else None
    if rule is None and exc.errno == errno.ENAMETOOLONG:
        size = len(name.encode("utf-8", "surrogateescape"))
        rule = (f"{size} bytes, longer than it takes (eCryptfs takes {ECRYPTFS_NAME_MAX})" if size > ECRYPTFS_NAME_MAX
                else "its path is longer than the file system takes")
    rule = rule or "exFAT, FAT and NTFS take no \\ : * ? \" < > | in names"
    shown = f" {name!r}" if what != "this name" and name else ""
    return f"not written: the target folder's file system cannot hold {what}{shown}: {rule} ({exc.strerror or exc})"


def _name_not_held(exc: OSError, path: StrPath) -> NameNotHeld | None:
    """The :class:`NameNotHeld` that ``exc``, met creating ``path``, means; None for any other failure (a
    missing folder, a full disk, no permission)."""
    if exc.errno in NAME_ERRORS or (exc.errno == errno.ENOENT and os.path.isdir(os.path.dirname(path))):
        return NameNotHeld(not_held_reason(os.path.basename(os.fspath(path)), exc))
    return None


def _create(path: StrPath, flags: int) -> int:
    """``os.open(path, flags)`` for a file receive writes; a name the file system refuses is a NameNotHeld."""
    try:
        return os.open(path, flags, 0o666)
    except OSError as exc:
        if (refused := _name_not_held(exc, path)) is not None:
            raise refused from None
        raise


def _check_final_name(destination: StrPath, part: str) -> None:
    """Refuse, before a byte is downloaded, a new file whose name the file system takes for its part file but
    not for itself: one ending in a dot or a space (NTFS as Windows sees it), or one so long that its part
    file has a short name of its own (eCryptfs, 143 bytes). Before, such a file was downloaded whole at every
    receive and thrown away when the rename refused its name. Other names are refused with their part file."""
    leaf = os.path.basename(os.fspath(destination))
    if not leaf.endswith((".", " ")) and os.path.basename(part).startswith(leaf):
        return
    try:
        fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0),
                     0o600)
    except FileExistsError:
        return  # a file or folder of that name is there: the name is held (what is there is handled later)
    except OSError as exc:
        if (refused := _name_not_held(exc, destination)) is not None:
            raise refused from None
        raise
    # Empty for an instant only; should the run end here, the next receive finds it of the wrong size.
    os.close(fd)
    _unlink(destination)


def _written(path: StrPath, data: bytes) -> int:
    """A new (or truncated) file at ``path`` holding ``data``, still open: its descriptor (closed on failure)."""
    fd = _create(path, _PART_FLAGS)
    try:
        _write_all(fd, data)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_all(fd: int, chunk: bytes) -> None:
    view = memoryview(chunk)
    while view:
        view = view[os.write(fd, view):]


class DownloadStopped(TransferError):
    """The receive is being stopped (Ctrl-C): the download ends between two chunks, its part file kept."""


class _WrongContent(TransferError):
    """The body arrived whole but is not the file the index describes: its part file is worthless."""


#: Why a public file arrives as another file than the index lists, for messages.
OTHER_VERSION = ("the server has another version than serve listed (changed since serve, or an old copy in a "
                 "cache or CDN in front of the site)")


class InTheWay(TransferError):
    """A local file where the index needs a folder, or a local folder holding files where it needs a file:
    running again meets it again, ``--delete`` (which removes what the index does not list first) does not."""


#: Failures that a second attempt would meet again: what the server sent, or where it pointed, is refused.
REFUSALS = (UnsafePathError, SizeExceededError, RefusedRequestError, _WrongContent)


#: Longest file name the common file systems take (bytes).
NAME_MAX = 255


def part_tag(entry: PublicIndexEntry) -> str:
    """What a part file holds the beginning of: the entry's size and content hash (its mtime without one).

    Part of the part file's name, so a part is resumed only for the very version of the file it started
    as, whatever happened to its mtime (an interrupted process does not get to stamp anything).
    """
    identity = entry.sha256 or entry.sha1 or f"mtime {entry.mtime}"
    return hashlib.sha256(f"{entry.size_bytes} {identity}".encode()).hexdigest()[:12]


def part_path(destination: StrPath, entry: PublicIndexEntry) -> Path:
    """``<file>.<tag>.synco-part`` beside ``destination`` (a hashed name where that one would be too long)."""
    return Path(_part_name(destination, entry))


def _part_name(destination: StrPath, entry: PublicIndexEntry) -> str:
    folder, base = os.path.split(os.fspath(destination))
    name = f"{base}.{part_tag(entry)}{PART_SUFFIX}"
    if len(name.encode("utf-8", "surrogateescape")) > NAME_MAX:
        hashed = hashlib.sha256(base.encode("utf-8", "surrogateescape")).hexdigest()[:24]
        name = f".synco-{hashed}.{part_tag(entry)}{PART_SUFFIX}"
    return os.path.join(folder, name)


def resumable_bytes(destination: StrPath, entry: PublicIndexEntry) -> int:
    """Bytes of ``destination``'s part file that a download can continue from (0: start again).

    The part's name carries the entry's size and hash (:func:`part_tag`): a part of another version of
    the file has another name, and a part that holds wrong bytes all the same is found out by the hash
    check once complete (and the file downloaded whole, :func:`_download_one`).
    """
    try:
        info = os.lstat(_part_name(destination, entry))
    except OSError:
        return 0
    if not stat.S_ISREG(info.st_mode):
        return 0
    return info.st_size if 0 < info.st_size < entry.size_bytes else 0


def _save(response: Response, destination: StrPath, entry: PublicIndexEntry, on_bytes: Callable[[int], None],
          folders: _Folders | None = None, stop: threading.Event | None = None, resume_from: int = 0) -> int:
    """Write a response body to ``<file>.synco-part``, check it against the index, and rename it into place.

    Returns the bytes that came over the network. With ``resume_from`` the part file already holds that
    many bytes and the response starts there (a 206 to a Range request); a response from byte 0 rewrites
    the part file. A body that breaks off, or a ``stop`` set meanwhile, leaves the part file for the next
    run (its name says which version of the file it holds); a body that is complete but wrong removes it.

    This runs once per file, thousands of times per set, so it keeps to the fewest system calls: a plain
    file descriptor (no buffered writer on top of chunks that are already large), the mtime set on that
    descriptor, and no separate check for a folder in the way (the rename reports it).
    """
    part = _part_name(destination, entry)
    _ensure_folder(destination, folders)
    _check_final_name(destination, part)
    appending = bool(resume_from) and response.offset == resume_from
    size = resume_from if appending else 0
    received = 0
    # SHA-256 where the index has it (sessions of this synco), else SHA-1 where Flow gave it for free; the
    # file gets its final name only when the content is the one the index lists.
    digest = hashlib.sha256() if entry.sha256 else hashlib.sha1(usedforsecurity=False) if entry.sha1 else None
    if digest is not None and appending:
        with open(part, "rb") as held:
            while chunk := held.read(1024 * 1024):
                digest.update(chunk)
    if response.offset == 0 and getattr(response, "coded_size", None) == entry.size_bytes:
        # Sent with a coding to undo, but exactly as long as the file: a compressed file (``.gz``) the server
        # labels with its coding, not a file the server compressed on the way.
        response.as_sent()  # type: ignore[attr-defined]
    flags = (_PART_FLAGS & ~os.O_TRUNC) | os.O_APPEND if appending else _PART_FLAGS
    fd = _create(part, flags)
    head = b""
    holes = False
    try:
        try:
            for chunk in response.iter_bytes():
                if stop is not None and stop.is_set():
                    raise DownloadStopped("stopped")
                if not received:
                    head = chunk[:SNIFF_BYTES]
                    if response.total_size is not None:
                        # A file past the index's size is refused before a byte of the body is written.
                        check_declared(response.total_size, entry.size_bytes, "the server's answer")
                # Cut off at the first chunk past the index's size, before it is written.
                check_declared(size + len(chunk), entry.size_bytes, "the server sent")
                if appending or not _zeros(chunk):
                    _write_all(fd, chunk)
                else:
                    # A run of zeros (a sparse file on the server, a disk image) becomes a hole: a 5 GB
                    # file of zeros takes no 5 GB of the laptop's disk. The length is set once complete.
                    os.lseek(fd, len(chunk), os.SEEK_CUR)
                    holes = True
                size += len(chunk)
                received += len(chunk)
                if digest is not None:
                    digest.update(chunk)
                on_bytes(len(chunk))
            if size < entry.size_bytes and not getattr(response, "whole", True):
                # No Content-Length and not chunked: the body ends with its connection, as a cut one does (a proxy
                # or cache passing a body on as it comes). What came is kept for the next run to continue.
                raise TransferError(f"download interrupted after {received} bytes: the server gave no length for "
                                    "its answer (no Content-Length) and closed the connection short of the "
                                    f"{entry.size_bytes} bytes the index lists; running again continues it")
            if size != entry.size_bytes:
                raise _WrongContent(f"{size} bytes received, the index says {entry.size_bytes}")
            if digest is not None and digest.hexdigest() != (entry.sha256 or entry.sha1 or "").lower():
                raise _WrongContent(f"{'SHA-256' if entry.sha256 else 'SHA-1'} does not match the index")
        except (_WrongContent, SizeExceededError) as exc:
            os.close(fd)
            if appending:
                # Part of what is wrong may be the part file's, not the server's.
                raise
            if is_fallback_for(os.fspath(destination), head):
                raise FallbackPageError(f"not on the server: {FALLBACK}") from None
            raise type(exc)(f"{exc}: {OTHER_VERSION}") from None
        except BaseException:
            os.close(fd)
            raise
        if holes:
            _end_at(fd, size)
        _finish_part(fd, part, destination, entry, folders)
    except (_WrongContent, FallbackPageError):
        _unlink(part)
        raise
    except BaseException:
        _keep_part(part, entry)
        raise
    return received


def _zeros(chunk: bytes) -> bool:
    """True when ``chunk`` is all zero bytes (its ends looked at first: most chunks are not)."""
    return bool(chunk) and chunk[0] == 0 and chunk[-1] == 0 and chunk.count(0) == len(chunk)


def _end_at(fd: int, size: int) -> None:
    """Give a part file whose last bytes were holes (skipped, never written) its length; closed on failure."""
    try:
        os.ftruncate(fd, size)
    except BaseException:
        os.close(fd)
        raise


def _stamp_and_close(fd: int, path: StrPath, entry: PublicIndexEntry) -> None:
    """Give the file written through ``fd`` the index's mtime (on the descriptor where the platform can) and
    close it."""
    try:
        if _UTIME_ON_FD:
            stamp(fd, entry.mtime)
    finally:
        os.close(fd)
    if not _UTIME_ON_FD:
        stamp(os.fspath(path), entry.mtime)


def _finish_part(fd: int, part: str, destination: StrPath, entry: PublicIndexEntry,
                 folders: _Folders | None = None) -> None:
    """Stamp a complete part file with the index's mtime, close it, and give it its final name."""
    _stamp_and_close(fd, part, entry)
    try:
        os.replace(part, destination)
    except IsADirectoryError:
        if folders is not None and folders.made_under(os.fspath(destination)):
            _unlink(part)
            raise InTheWay("a folder of another file of the set is in the way") from None
        _replace_empty_folder(part, destination)
    except OSError as exc:
        if (refused := _name_not_held(exc, destination)) is not None:
            _unlink(part)
            raise refused from None
        raise


def _replace_empty_folder(part: str, destination: StrPath) -> None:
    """Give ``part`` its final name where a folder is: a folder holding no file (folders at most) holds nobody's
    data and goes (as rsync replaces an empty one); one holding files is in the way (``--delete`` removes the
    files the index does not list first), and the part file goes too, so that nothing half-done stays under a
    name of the set."""
    try:
        _remove_folders_without_files(os.fspath(destination))
        os.replace(part, destination)
    except OSError:
        _unlink(part)
        raise InTheWay("a folder holding files the server does not have is in the way") from None


def _remove_folders_without_files(top: str) -> None:
    """Remove ``top`` when it holds folders only; OSError (and nothing removed) when it holds anything else."""

    def choose(_relative: str, is_folder: bool) -> Choice:
        return Choice.ENTER if is_folder else Choice.TAKE

    # A link to a folder is an entry of its own (rmdir refuses it), as any file is.
    if next(select_entries(top, choose), None) is not None:
        raise IsADirectoryError(top)
    trees.remove_empty_folders(top, root_too=True)
    if os.path.lexists(top):
        raise IsADirectoryError(top)


def _keep_part(part: str, entry: PublicIndexEntry) -> None:
    """Keep what a broken-off download wrote for the next run to resume; remove a part that is useless."""
    try:
        size = os.lstat(part).st_size
        if 0 < size < entry.size_bytes:
            log.debug("kept %d of %d bytes in %s for the next run", size, entry.size_bytes, os.path.basename(part))
            return
    except OSError:
        pass
    _unlink(part)


def content_matches(entry: PublicIndexEntry, data: bytes) -> bool:
    """True when ``data`` is the file the entry describes: its size, and its hash where the index has one."""
    if len(data) != entry.size_bytes:
        return False
    if entry.sha256:
        return hashlib.sha256(data).hexdigest() == entry.sha256.lower()
    if entry.sha1:
        return hashlib.sha1(data, usedforsecurity=False).hexdigest() == entry.sha1.lower()
    return True


def save_content(destination: StrPath, entry: PublicIndexEntry, data: bytes, folders: _Folders | None = None,
                 *, staged: bool = False) -> int:
    """Write a whole file that arrived in memory (out of a pack) through its part file to its final name.

    The caller has checked it (:func:`content_matches`); returns its size. ``staged``: ``destination``
    lies in a staging folder that nobody takes for the set yet, so the file is written under its own name
    and stamped with the index's mtime last (a file cut short keeps the time of its writing, and the next
    run fetches it again).
    """
    if staged:
        return _save_staged(destination, entry, data, folders)
    part = _part_name(destination, entry)
    _ensure_folder(destination, folders)
    try:
        _finish_part(_written(part, data), part, destination, entry, folders)
    except BaseException:
        _unlink(part)
        raise
    return len(data)


def _save_staged(destination: StrPath, entry: PublicIndexEntry, data: bytes, folders: _Folders | None) -> int:
    _ensure_folder(destination, folders)
    try:
        _stamp_and_close(_written(destination, data), destination, entry)
    except BaseException:
        _unlink(destination)
        raise
    return len(data)


def _other_version(response: Response, entry: PublicIndexEntry, offset: int) -> bool:
    """True when the rest of a file the server sends to continue a part file is of another version than the one
    the index lists, by its ``Last-Modified``: for a file the index gives no content hash for (Go synco v2
    sessions), the part and that rest would otherwise be joined into a file of two versions that only its
    size is checked against. A file with a hash is checked whole, and a server sending no date is trusted."""
    if response.offset != offset or entry.sha256 or entry.sha1:
        return False
    modified = getattr(response, "last_modified", None)
    return modified is not None and modified != entry.mtime


def _download_one(transport: Transport, destination: StrPath, entry: PublicIndexEntry,
                  on_bytes: Callable[[int], None], folders: _Folders | None = None,
                  stop: threading.Event | None = None) -> int:
    """Download one file, continuing its part file where one is left (``Range``); returns bytes received."""
    offset = resumable_bytes(destination, entry)
    if offset:
        try:
            with transport.open(remote_path_for(entry), offset=offset) as response:
                if not _other_version(response, entry, offset):
                    if response.offset == offset:
                        log.debug("resuming %s at byte %d", os.path.basename(destination), offset)
                    return _save(response, destination, entry, on_bytes, folders, stop, offset)
            log.debug("%s changed on the server since its part was written; downloading it whole",
                      os.path.basename(destination))
        except RangeNotSatisfiableError:
            # The file on the server is not longer than the part: it changed; start again.
            log.debug("cannot resume %s; downloading it again", os.path.basename(destination))
        except (_WrongContent, SizeExceededError) as exc:
            # The part and the rest the server sent are not the file together: the file changed on the server
            # since the part was written, the part holds wrong bytes, or the server answers with a page for a
            # file it lost. A whole download says which (and gives the file when the part was at fault).
            log.debug("%s resumed is not the listed file (%s); downloading it whole", os.path.basename(destination),
                      exc)
    return save_whole(transport, destination, entry, on_bytes, folders, stop)


def save_whole(transport: Transport, destination: StrPath, entry: PublicIndexEntry, on_bytes: Callable[[int], None],
               folders: _Folders | None = None, stop: threading.Event | None = None) -> int:
    """Download one file whole; what comes as another version than the index lists is asked for once more past
    any cache (:func:`save_past_caches`)."""
    try:
        with transport.open(remote_path_for(entry)) as response:
            return _save(response, destination, entry, on_bytes, folders, stop)
    except STALE as exc:
        if not can_ask_fresh(transport):
            raise
        first: TransferError = exc
    return save_past_caches(transport, destination, entry, on_bytes, folders, stop, first)


#: What a file that came whole from a cache's old copy fails with: another size, or another hash.
STALE = (_WrongContent, SizeExceededError)


def can_ask_fresh(transport: Transport) -> bool:
    """True when ``transport`` can ask for a file past the caches in front of the site (HTTP)."""
    return getattr(transport, "open_fresh", None) is not None


def save_past_caches(transport: Transport, destination: StrPath, entry: PublicIndexEntry,
                     on_bytes: Callable[[int], None], folders: _Folders | None, stop: threading.Event | None,
                     first: TransferError) -> int:
    """Download one file that came whole as another version than the index lists (``first``: that error) once
    more, past any cache.

    A CDN or caching proxy in front of the site hands out the copy it took of a public file until that
    expires, whatever the site holds now: a file replaced on the server since (the same name uploaded again,
    an edited image) failed at every receive until somebody purged the cache. Asked for fresh
    (:meth:`HttpTransport.open_fresh`: a query no cache has seen, ``Cache-Control: no-cache``), it comes from
    the site itself. A file that is still another version is the site's own (changed since serve), and the
    error says so; an answer refusing the fresh request (a signed URL that takes no other query) leaves
    ``first``.
    """
    log.debug("%s came as another version (%s); asking for it past any cache", os.path.basename(destination), first)
    try:
        with transport.open_fresh(remote_path_for(entry)) as response:  # type: ignore[attr-defined]
            size: int = _save(response, destination, entry, on_bytes, folders, stop)
    except UnavailableError:
        raise first from None
    log.info("%s: a cache in front of the site had an old version of it; fetched past the cache",
             remote_path_for(entry))
    return size
