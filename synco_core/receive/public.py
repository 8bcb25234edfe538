"""Downloading a public file set: many files in parallel over keep-alive connections, skipping what is current.

A file is skipped when the local copy has the index's size and mtime (and SHA-1 where the index has
one). Everything else downloads to ``<file>.synco-part``, is checked against the index's size and content
hash (SHA-256 in sessions of this synco, SHA-1 where Flow gave one; Go synco v2 sessions have none, and
their files are checked by size only), gets the index's mtime, and is renamed into place; a failure
affects only that one file.

A download that breaks off (a dropped connection, Ctrl-C) keeps its part file, stamped with the index's
mtime so the next run knows which version of the file it holds; that run asks only for the rest
(``Range: bytes=N-``). Files the server will not give (403, 404: a ``deny`` rule, or removed since
``serve``) are reported apart from other failures, since running again cannot fetch them.

The downloads run in daemon threads that stop between two chunks when told to: Ctrl-C ends a receive
within a moment whatever is downloading, and never waits for a large file to finish.

A body longer than the index says is cut off as it arrives
(:func:`synco_core.receive.limits.check_declared`), and no file is written through a link
(:func:`synco_core.beneath.check_no_links`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import marshal
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from synco_core.beneath import check_no_links
from synco_core.errors import SyncoError, TransferError, UnsafePathError
from synco_core.index.order import merge_sorted, sorted_walk
from synco_core.index.packs import PACK_MAX_FILES
from synco_core.origins import RefusedRequestError
from synco_core.receive.limits import SizeExceededError, check_declared
from synco_core.receive.packfetch import Item, PackSource, fetch_from_pack
from synco_core.receive.transport import RangeNotSatisfiableError, Response, Transport, UnavailableError
from synco_core.wire import PublicIndexEntry

log = logging.getLogger(__name__)

PART_SUFFIX = ".synco-part"
#: Most requests sent at once on one connection (HTTP/1.1 pipelining): a batch costs one round trip, not 64.
PIPELINE_DEPTH = 64
#: A pipelined batch that breaks off (a server ending kept-alive connections after N requests) is sent again
#: for its remaining files on a fresh connection; after this many attempts without progress, one by one.
PIPELINE_ATTEMPTS = 3
#: Seconds the download threads get, once told to stop, to set their part files aside before the receive
#: ends without them.
STOP_GRACE = 0.5

T = TypeVar("T")



def batch_size(files: int, jobs: int) -> int:
    """Files per pipelined batch: every connection gets work in the first round trip, at most PIPELINE_DEPTH.

    A re-sync downloads a few hundred files; in batches of a fixed 16 that took two or three round trips
    per connection where one would do. A first sync of thousands of files uses the full depth, so each
    connection waits for a round trip once per 64 files instead of once per 16.
    """
    return max(1, min(PIPELINE_DEPTH, -(-files // max(1, jobs))))


@dataclass
class PublicResult:
    """What happened to one public set."""

    #: Files in the index.
    listed: int = 0
    downloaded: int = 0
    skipped: int = 0
    bytes: int = 0
    #: Downloaded files the index gave no content hash for (checked by their size only).
    size_checked: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: The failed files the server will not give (HTTP 403/404/410): running again cannot fetch them.
    missing: list[str] = field(default_factory=list)
    #: Local files the index no longer lists (removed with ``--delete``).
    vanished: list[str] = field(default_factory=list)
    removed: int = 0
    #: How many of ``failed`` were refused (unsafe, larger than declared, not to be fetched from): a new
    #: attempt would fail the same way.
    refused: int = 0
    #: Files that came out of packs, and the ranged requests that fetched them.
    packed: int = 0
    pack_requests: int = 0


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
    digest = hashlib.sha1(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


class _Destinations:
    """Index paths -> local paths, with the link check of :func:`check_no_links` done once per folder.

    A re-sync looks at every file of the index; checking each path's folders again for links would cost
    several system calls per file. Only regular files and folders are ever created here, so a folder
    checked once stays safe for the rest of the run.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self._root = os.fspath(base)
        self._checked: set[str] = set()

    def path(self, relative: str) -> str:
        folder, _, _name = relative.rpartition("/")
        if folder not in self._checked:
            check_no_links(self.base, relative.split("/"))
            self._checked.add(folder)
        # The index parser has already normalised the path (no '..', not absolute, no empty parts).
        return os.path.join(self._root, *relative.split("/"))


def is_current(path: StrPath, entry: PublicIndexEntry, info: os.stat_result | None = None) -> bool:
    """True when ``path`` already is the file the entry describes (a regular file, not a link).

    ``info`` is the file's ``lstat`` when the caller has it already (a folder walk does).
    """
    if info is None:
        try:
            info = os.lstat(path)
        except OSError:
            return False
    if not stat.S_ISREG(info.st_mode):
        return False
    if info.st_size != entry.size_bytes or int(info.st_mtime) != entry.mtime:
        return False
    return not entry.sha1 or _sha1_of(path) == entry.sha1.lower()


#: Flags of the ``.synco-part`` file: never follow a link planted under that name, never leak the fd to a child.
_PART_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
#: futimens() sets the mtime on the open file without looking its name up again (where the platform has it).
_UTIME_ON_FD = os.utime in os.supports_fd


class _Folders:
    """Creates each destination folder once per run instead of asking the file system again for every file.

    Many threads share it; a folder created twice (two threads at once) is harmless with ``exist_ok``.
    """

    def __init__(self) -> None:
        self._made: set[str] = set()

    def ensure(self, folder: str) -> None:
        if folder not in self._made:
            os.makedirs(folder, exist_ok=True)
            self._made.add(folder)


def _write_all(fd: int, chunk: bytes) -> None:
    view = memoryview(chunk)
    while view:
        view = view[os.write(fd, view):]


class DownloadStopped(TransferError):
    """The receive is being stopped (Ctrl-C): the download ends between two chunks, its part file kept."""


class _WrongContent(TransferError):
    """The body arrived whole but is not the file the index describes: its part file is worthless."""


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
    check once complete (and removed).
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
    folder = os.path.dirname(os.fspath(destination))
    if folders is not None:
        folders.ensure(folder)
    else:
        os.makedirs(folder, exist_ok=True)
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
    if response.total_size is not None:
        # A file past the index's size is refused before a byte of the body is read.
        check_declared(response.total_size, entry.size_bytes, "the server's answer")
    flags = (_PART_FLAGS & ~os.O_TRUNC) | os.O_APPEND if appending else _PART_FLAGS
    fd = os.open(part, flags, 0o666)
    try:
        try:
            for chunk in response.iter_bytes():
                if stop is not None and stop.is_set():
                    raise DownloadStopped("stopped")
                # Cut off at the first chunk past the index's size, before it is written.
                check_declared(size + len(chunk), entry.size_bytes, "the server sent")
                _write_all(fd, chunk)
                size += len(chunk)
                received += len(chunk)
                if digest is not None:
                    digest.update(chunk)
                on_bytes(len(chunk))
            if size != entry.size_bytes:
                raise _WrongContent(f"{size} bytes received, the index says {entry.size_bytes}")
            if digest is not None and digest.hexdigest() != (entry.sha256 or entry.sha1 or "").lower():
                raise _WrongContent(f"{'SHA-256' if entry.sha256 else 'SHA-1'} does not match the index")
            if _UTIME_ON_FD:
                os.utime(fd, (entry.mtime, entry.mtime))
        finally:
            os.close(fd)
        if not _UTIME_ON_FD:
            os.utime(part, (entry.mtime, entry.mtime))
        try:
            os.replace(part, destination)
        except IsADirectoryError:
            raise TransferError("a folder is in the way") from None
    except _WrongContent:
        _unlink(part)
        raise
    except BaseException:
        _keep_part(part, entry)
        raise
    return received


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


def save_content(destination: StrPath, entry: PublicIndexEntry, data: bytes, folders: _Folders | None = None) -> int:
    """Write a whole file that arrived in memory (out of a pack) through its part file to its final name.

    The caller has checked it (:func:`content_matches`); returns its size.
    """
    part = _part_name(destination, entry)
    folder = os.path.dirname(os.fspath(destination))
    if folders is not None:
        folders.ensure(folder)
    else:
        os.makedirs(folder, exist_ok=True)
    try:
        fd = os.open(part, _PART_FLAGS, 0o666)
        try:
            _write_all(fd, data)
            if _UTIME_ON_FD:
                os.utime(fd, (entry.mtime, entry.mtime))
        finally:
            os.close(fd)
        if not _UTIME_ON_FD:
            os.utime(part, (entry.mtime, entry.mtime))
        try:
            os.replace(part, destination)
        except IsADirectoryError:
            raise TransferError("a folder is in the way") from None
    except BaseException:
        _unlink(part)
        raise
    return len(data)


def _download_one(transport: Transport, destination: StrPath, entry: PublicIndexEntry,
                  on_bytes: Callable[[int], None], folders: _Folders | None = None,
                  stop: threading.Event | None = None) -> int:
    """Download one file, continuing its part file where one is left (``Range``); returns bytes received."""
    offset = resumable_bytes(destination, entry)
    if offset:
        try:
            with transport.open(remote_path_for(entry), offset=offset) as response:
                if response.offset == offset:
                    log.debug("resuming %s at byte %d", os.path.basename(destination), offset)
                return _save(response, destination, entry, on_bytes, folders, stop, offset)
        except RangeNotSatisfiableError:
            # The file on the server is not longer than the part: it changed; start again.
            log.debug("cannot resume %s; downloading it again", os.path.basename(destination))
    with transport.open(remote_path_for(entry)) as response:
        return _save(response, destination, entry, on_bytes, folders, stop)


def run_stoppable(tasks: Iterable[T], work: Callable[[T], None], workers: int, stop: threading.Event,
                  on_stop: Callable[[], None] = lambda: None) -> None:
    """Run ``work`` on every task in ``workers`` daemon threads, in the order given; stoppable at any moment.

    ``tasks`` may be a lazy iterator (a spool read as the threads ask): it is advanced under a lock. The
    calling thread only waits. When it is interrupted (Ctrl-C raises ``KeyboardInterrupt`` there),
    ``stop`` is set and ``on_stop`` called (which breaks the open connections), the threads get
    :data:`STOP_GRACE` seconds to set their part files aside, and the interruption goes on: nothing
    waits for a download to finish, and the threads, being daemons, never hold up the exit. An
    exception raised by ``work`` or by ``tasks`` (a bug: expected failures are recorded, not raised) is
    raised here.
    """
    pending = iter(tasks)
    lock = threading.Lock()
    errors: list[BaseException] = []
    count = max(1, min(workers, len(tasks))) if isinstance(tasks, Sized) else max(1, workers)
    running = [count]
    # The waiting thread waits on this event, never in Thread.join: a Ctrl-C that lands inside join()
    # can leave the thread marked as ended while it runs on (CPython's bpo-45274 handling), and the
    # grace period below would then not wait for it.
    finished = threading.Event()

    def loop() -> None:
        try:
            while not stop.is_set():
                try:
                    with lock:
                        task = next(pending, None)
                except BaseException as exc:
                    errors.append(exc)
                    stop.set()
                    return
                if task is None:
                    return
                try:
                    work(task)
                except BaseException as exc:  # Raised in the waiting thread below.
                    errors.append(exc)
                    stop.set()
                    return
        finally:
            with lock:
                running[0] -= 1
                if not running[0]:
                    finished.set()

    for number in range(count):
        threading.Thread(target=loop, name=f"synco-get-{number}", daemon=True).start()
    try:
        while not finished.wait(0.25):
            pass
    except BaseException:
        log.debug("stopping the downloads")
        stop.set()
        on_stop()
        finished.wait(STOP_GRACE)
        raise
    if errors:
        raise errors[0]


# ------------------------------------------------------------------------------------ comparing

#: How a file to fetch is fetched: pipelined with others from the session's host, alone (another host,
#: or a part file to continue with a Range), or out of its pack.
WHOLE, ALONE, PACKED = 0, 1, 2
#: Files to fetch kept in memory before the list goes to a spool file (a re-sync's few hundred never do).
SPOOL_AFTER = 4096
#: Most files of one pack per task: a pack of thousands of small files is read as a few ranged requests in
#: parallel (each costs at most one chunk read twice where two tasks meet), never more than a pack's worth.
PACK_TASK_FILES = min(1024, PACK_MAX_FILES)
#: Threads writing the files of packs at the same time. Every file costs a few system calls, each of which
#: hands the GIL over: with eight threads doing that at once they spent more time waking each other
#: (31 futex calls per file, 495,000 for 20,000 files) than creating files; with two, 4,000 in all. The
#: other threads go on fetching, so requests still overlap their round trips.
PACK_WRITERS = 2
#: Seconds between two looks at the stop flag while a thread waits for its turn to write.
STOP_POLL = 0.1

IndexItems = Iterable[tuple[str, PublicIndexEntry]]


@dataclass
class PublicPlan:
    """How a public set compares with the local folder, before anything is downloaded.

    Counts only: the files to fetch themselves go to a :class:`TodoSpool`, never into a list that grows
    with the set.
    """

    #: Files in the index.
    listed: int = 0
    todo_files: int = 0
    todo_bytes: int = 0
    skipped: int = 0
    skipped_bytes: int = 0
    #: Index paths refused before any request (unsafe, or leading out of the folder through a link).
    refused: list[tuple[str, str]] = field(default_factory=list)
    #: Local files the index does not list (leftover part files included), in index order.
    vanished: list[str] = field(default_factory=list)
    #: Files to fetch by kind (:data:`WHOLE`, :data:`ALONE`, :data:`PACKED`).
    kinds: list[int] = field(default_factory=lambda: [0, 0, 0])


class TodoSpool:
    """The files a receive will fetch, in index order: in memory up to :data:`SPOOL_AFTER`, then in a file.

    Records are marshalled tuples (plain str/int/bool/None, written and read by this process only) in
    blocks, so a first sync of a million files costs a file of a few dozen MB instead of the memory.
    """

    def __init__(self, folder: Path | None) -> None:
        self._folder = folder
        self._memory: list[tuple[Any, ...]] = []
        self._file: BinaryIO | None = None
        self._temp: tempfile.TemporaryDirectory[str] | None = None
        self.count = 0

    def add(self, kind: int, relative: str, entry: PublicIndexEntry) -> None:
        self._memory.append((kind, relative, entry.size_bytes, entry.mtime, entry.public_uri, entry.is_absolute_url,
                             entry.sha1, entry.sha256, entry.pack, entry.pack_offset))
        self.count += 1
        if len(self._memory) >= SPOOL_AFTER:
            self._spill()

    def _spill(self) -> None:
        if self._file is None:
            folder = self._folder
            if folder is None:
                self._temp = tempfile.TemporaryDirectory(prefix="synco-todo-")
                folder = Path(self._temp.name)
            self._file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 (closed in close())
        marshal.dump(self._memory, self._file)
        self._memory = []

    def __iter__(self) -> Iterator[tuple[int, str, PublicIndexEntry]]:
        blocks: Iterator[list[tuple[Any, ...]]]
        if self._file is None:
            blocks = iter([self._memory])
        else:
            if self._memory:
                self._spill()
            self._file.seek(0)
            blocks = self._blocks(self._file)
        for block in blocks:
            for kind, relative, *fields in block:
                yield kind, relative, PublicIndexEntry(*fields)

    @staticmethod
    def _blocks(handle: BinaryIO) -> Iterator[list[tuple[Any, ...]]]:
        while True:
            try:
                yield marshal.load(handle)
            except EOFError:
                return

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._temp is not None:
            self._temp.cleanup()
            self._temp = None


def _local_files(set_dir: Path) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """The files (anything but folders) below ``set_dir``, in index order."""
    if not set_dir.is_dir():
        return
    for relative, entry in sorted_walk(set_dir):
        if not entry.is_dir(follow_symlinks=False):
            yield relative, entry


def compare_public_files(index: IndexItems | Mapping[str, PublicIndexEntry], set_dir: Path,
                         on_current: Callable[[int], None] | None = None, spool: TodoSpool | None = None,
                         packs: PackSource | None = None) -> PublicPlan:
    """Merge ``index`` (in index order) with a sorted walk of ``set_dir``: what is current, to fetch, gone.

    Neither side is held: the index streams, the walk holds the listings of the folders it is in, and the
    files to fetch go to ``spool`` (when given). ``on_current`` is told the size of every current file.
    Both the real receive and ``receive --plan`` use this, so the plan skips exactly what a receive skips.
    A mapping (tests, callers with a small index) is sorted first.
    """
    items = sorted(index.items()) if isinstance(index, Mapping) else index
    plan = PublicPlan()
    destinations = _Destinations(set_dir)
    for relative, entry, found in merge_sorted(items, _local_files(set_dir)):
        if entry is None:
            plan.vanished.append(relative)
            continue
        plan.listed += 1
        if found is not None:
            # The walk enters real folders only, so a file it found has no link on its way: the current
            # ones, most of a re-sync, cost one lstat and no path object.
            try:
                info = found.stat(follow_symlinks=False)
            except OSError:
                info = None
            if (info is not None and stat.S_ISREG(info.st_mode) and info.st_size == entry.size_bytes
                    and int(info.st_mtime) == entry.mtime
                    and (not entry.sha1 or _sha1_of(found.path) == entry.sha1.lower())):
                plan.skipped += 1
                plan.skipped_bytes += entry.size_bytes
                if on_current is not None:
                    on_current(entry.size_bytes)
                continue
        try:
            destination = destinations.path(relative)
        except SyncoError as exc:
            plan.refused.append((relative, str(exc)))
            continue
        if packs is not None and packs.may_hold(entry):
            kind = PACKED
        elif entry.absolute or resumable_bytes(destination, entry):
            kind = ALONE
        else:
            kind = WHOLE
        plan.kinds[kind] += 1
        plan.todo_files += 1
        plan.todo_bytes += entry.size_bytes
        if spool is not None:
            spool.add(kind, relative, entry)
    return plan


def plan_public_files(index: IndexItems | Mapping[str, PublicIndexEntry], set_dir: Path,
                      on_current: Callable[[int], None] | None = None, packs: PackSource | None = None) -> PublicPlan:
    """:func:`compare_public_files` without keeping the files to fetch; writes nothing."""
    return compare_public_files(index, set_dir, on_current, None, packs)


# ------------------------------------------------------------------------------------- fetching


def _tasks(spool: TodoSpool, set_dir: Path, batch: int) -> Iterator[tuple[int, int, list[Item]]]:
    """The spool as (kind, pack, files) tasks: pipelined batches, single files, and runs of one pack.

    A pack's files come together in index order (serve fills packs in that order); a run ends at another
    pack or at :data:`PACK_TASK_FILES` files, so the threads share a pack's files (writing files is most of
    a first sync's time, and the file system takes them in parallel) and a task holds a bounded number.
    """
    whole: list[Item] = []
    packed: list[Item] = []
    pack = -1
    root = os.fspath(set_dir)
    for kind, relative, entry in spool:
        item = (relative, os.path.join(root, *relative.split("/")), entry)
        if kind == PACKED:
            if packed and (entry.pack != pack or len(packed) >= PACK_TASK_FILES):
                yield PACKED, pack, packed
                packed = []
            pack = entry.pack if entry.pack is not None else -1
            packed.append(item)
        elif kind == ALONE:
            yield ALONE, -1, [item]
        else:
            whole.append(item)
            if len(whole) >= batch:
                yield WHOLE, -1, whole
                whole = []
    if packed:
        yield PACKED, pack, packed
    if whole:
        yield WHOLE, -1, whole


def receive_public_files(
    transport: Transport,
    index: IndexItems | Mapping[str, PublicIndexEntry],
    set_dir: Path,
    jobs: int = 8,
    delete: bool = False,
    on_bytes: Callable[[int], None] | None = None,
    on_file: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
    packs: PackSource | None = None,
    scratch: Path | None = None,
) -> PublicResult:
    """Bring ``set_dir`` up to date with ``index``; per-file failures are collected, never raised.

    Two passes: the index is merged with the folder (:func:`compare_public_files`) to the end first, so
    a malformed index is refused before anything is fetched and the walk never sees this run's own
    files; the files to fetch, spooled in ``scratch``, are then fetched by ``jobs`` threads. Files in
    ``packs`` come out of their packs (a file whose pack cannot give it comes from its URL).

    ``on_file`` is called once per file of the index: with its size when it was current (skipped), with 0
    when it was downloaded or failed. ``stop`` (set by the caller, or here on Ctrl-C) ends the downloads
    between two chunks; the part files of unfinished ones are kept for the next run. Local files the index
    does not list are removed only with ``delete``, and only once the whole index has been read.
    """
    set_dir.mkdir(parents=True, exist_ok=True)
    stop = stop or threading.Event()
    lock = threading.Lock()
    folders = _Folders()
    report_bytes = on_bytes or (lambda _n: None)
    spool = TodoSpool(scratch)
    try:
        plan = compare_public_files(index, set_dir, on_file, spool, packs)
        result = PublicResult(listed=plan.listed, skipped=plan.skipped, failed=list(plan.refused),
                              refused=len(plan.refused))
        _fetch(transport, spool, plan, set_dir, jobs, result, lock, folders, report_bytes, on_file, stop, packs)
    finally:
        spool.close()
    result.vanished = plan.vanished
    if delete:
        for relative in result.vanished:
            _unlink(os.path.join(set_dir, *relative.split("/")))
            result.removed += 1
    return result


def _fetch(transport: Transport, spool: TodoSpool, plan: PublicPlan, set_dir: Path, jobs: int,
           result: PublicResult, lock: threading.Lock, folders: _Folders, report_bytes: Callable[[int], None],
           on_file: Callable[[int], None] | None, stop: threading.Event, packs: PackSource | None) -> None:
    if not spool.count:
        return

    def record(relative: str, save: Callable[[], int]) -> None:
        try:
            size = save()
        except SyncoError as exc:
            with lock:
                result.failed.append((relative, str(exc)))
                if isinstance(exc, UnavailableError):
                    result.missing.append(relative)
                if isinstance(exc, REFUSALS):
                    result.refused += 1
        except OSError as exc:
            with lock:
                result.failed.append((relative, exc.strerror or str(exc)))
        else:
            with lock:
                result.downloaded += 1
                result.bytes += size
        if on_file is not None:
            on_file(0)

    def record_entry(relative: str, entry: PublicIndexEntry, save: Callable[[], int]) -> None:
        if not (entry.sha256 or entry.sha1):
            with lock:
                result.size_checked += 1
        record(relative, save)

    def work(item: Item) -> None:
        relative, destination, entry = item
        record_entry(relative, entry,
                     lambda: _download_one(transport, destination, entry, report_bytes, folders, stop))

    open_many = getattr(transport, "open_many", None) if getattr(transport, "pipelining", True) else None

    def work_batch(batch: list[Item]) -> None:
        """Pipelined round trips for the batch where the transport can; one request per file otherwise."""
        pending = list(range(len(batch)))
        attempts = 0
        while open_many is not None and len(pending) > 1 and attempts < PIPELINE_ATTEMPTS and not stop.is_set():
            attempts += 1
            done: set[int] = set()
            try:
                responses = open_many([remote_path_for(batch[index][2]) for index in pending])
                for position, response in responses:
                    if response is None:
                        continue
                    relative, destination, entry = batch[pending[position]]
                    # A body that breaks off fails its file (the next run resumes it) and then ends the batch;
                    # a wrong size or hash, or a local write error, only fails the file.
                    record_entry(relative, entry, lambda: _save(response, destination, entry,  # noqa: B023
                                                                report_bytes, folders, stop))
                    done.add(position)
                # Answered, but not with a plain 200 (a redirect, a 404): open() below deals with those.
                pending = [index for position, index in enumerate(pending) if position not in done]
                break
            except TransferError as exc:
                log.debug("pipelining stopped (%s); %d files of the batch left", exc, len(pending) - len(done))
                if done:
                    attempts = 0
                pending = [index for position, index in enumerate(pending) if position not in done]
        for index in pending:
            if stop.is_set():
                return
            work(batch[index])

    def deliver(item: Item, data: bytes) -> bool:
        relative, destination, entry = item
        if not content_matches(entry, data):
            return False

        def save() -> int:
            size = save_content(destination, entry, data, folders)
            report_bytes(size)
            return size

        record_entry(relative, entry, save)
        with lock:
            result.packed += 1
        return True

    # Threads that write the files of a pack at a time (see PACK_WRITERS); the others fetch meanwhile.
    writers = threading.BoundedSemaphore(PACK_WRITERS)

    def count_request() -> None:
        with lock:
            result.pack_requests += 1

    def work_task(task: tuple[int, int, list[Item]]) -> None:
        kind, pack, items = task
        if kind == PACKED and packs is not None:
            held = False

            def deliver_in_slot(item: Item, data: bytes) -> bool:
                nonlocal held
                while not held:
                    if stop.is_set():
                        raise DownloadStopped("stopped")
                    held = writers.acquire(timeout=STOP_POLL)
                return deliver(item, data)

            try:
                left = fetch_from_pack(transport, packs, pack, items, deliver_in_slot, stop, count_request)
            finally:
                if held:
                    writers.release()
            if left and not stop.is_set():
                log.debug("%d file(s) of pack %d from their URL", len(left), pack)
                work_batch(left)
        elif kind == ALONE:
            work(items[0])
        else:
            work_batch(items)

    # A transport may know better (a channel is one stream: few readers, long batches).
    size = getattr(transport, "pipeline_files", None) or batch_size(plan.kinds[WHOLE], jobs)
    readers = min(jobs, getattr(transport, "pipeline_readers", None) or jobs)
    # Files on other hosts (a CDN), part files to continue and packs want their own requests, in parallel.
    workers = readers if not (plan.kinds[ALONE] or plan.kinds[PACKED]) else jobs
    run_stoppable(_tasks(spool, set_dir, size), work_task, workers, stop, getattr(transport, "abort", lambda: None))


def vanished_files(set_dir: Path, listed: Iterable[str]) -> list[str]:
    """Local files of ``set_dir`` that ``listed`` (index paths, in index order) does not hold, in index order."""
    return [relative for relative, entry, _found in merge_sorted(((path, True) for path in listed),
                                                                _local_files(set_dir)) if entry is None]
