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
(:func:`synco_core.transfer.limits.check_declared`), and no file is written through a link
(:func:`synco_core.beneath.check_no_links`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from synco_core.beneath import check_no_links
from synco_core.errors import SyncoError, TransferError, UnsafePathError
from synco_core.origins import RefusedRequestError
from synco_core.transfer.limits import SizeExceededError, check_declared
from synco_core.transfer.transport import RangeNotSatisfiableError, Response, Transport, UnavailableError
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


def _sha1_of(path: Path) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    with path.open("rb") as handle:
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
        self._checked: set[str] = set()

    def path(self, relative: str) -> Path:
        folder, _, _name = relative.rpartition("/")
        if folder not in self._checked:
            check_no_links(self.base, relative.split("/"))
            self._checked.add(folder)
        # The index parser has already normalised the path (no '..', not absolute, no empty parts).
        return self.base.joinpath(*relative.split("/"))


def is_current(path: Path, entry: PublicIndexEntry) -> bool:
    """True when ``path`` already is the file the entry describes (a regular file, not a link)."""
    try:
        info = path.lstat()
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
        self._made: set[Path] = set()

    def ensure(self, folder: Path) -> None:
        if folder not in self._made:
            folder.mkdir(parents=True, exist_ok=True)
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


def part_path(destination: Path) -> Path:
    return destination.with_name(destination.name + PART_SUFFIX)


def resumable_bytes(destination: Path, entry: PublicIndexEntry) -> int:
    """Bytes of ``destination``'s part file that a download can continue from (0: start again).

    Only a regular file stamped with the index entry's mtime counts: an interrupted download stamps its
    part so, and a part of an older version of the file (or one left by a killed process) does not match.
    """
    try:
        info = part_path(destination).lstat()
    except OSError:
        return 0
    if not stat.S_ISREG(info.st_mode) or int(info.st_mtime) != entry.mtime:
        return 0
    return info.st_size if 0 < info.st_size < entry.size_bytes else 0


def _save(response: Response, destination: Path, entry: PublicIndexEntry, on_bytes: Callable[[int], None],
          folders: _Folders | None = None, stop: threading.Event | None = None, resume_from: int = 0) -> int:
    """Write a response body to ``<file>.synco-part``, check it against the index, and rename it into place.

    Returns the bytes that came over the network. With ``resume_from`` the part file already holds that
    many bytes and the response starts there (a 206 to a Range request); a response from byte 0 rewrites
    the part file. A body that breaks off, or a ``stop`` set meanwhile, leaves the part file for the next
    run (stamped with the entry's mtime); a body that is complete but wrong removes it.

    This runs once per file, thousands of times per set, so it keeps to the fewest system calls: a plain
    file descriptor (no buffered writer on top of chunks that are already large), the mtime set on that
    descriptor, and no separate check for a folder in the way (the rename reports it).
    """
    part = part_path(destination)
    if folders is not None:
        folders.ensure(destination.parent)
    else:
        destination.parent.mkdir(parents=True, exist_ok=True)
    appending = bool(resume_from) and response.offset == resume_from
    size = resume_from if appending else 0
    received = 0
    # SHA-256 where the index has it (sessions of this synco), else SHA-1 where Flow gave it for free; the
    # file gets its final name only when the content is the one the index lists.
    digest = hashlib.sha256() if entry.sha256 else hashlib.sha1(usedforsecurity=False) if entry.sha1 else None
    if digest is not None and appending:
        with part.open("rb") as held:
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
        part.unlink(missing_ok=True)
        raise
    except BaseException:
        _keep_part(part, entry)
        raise
    return received


def _keep_part(part: Path, entry: PublicIndexEntry) -> None:
    """Keep what a broken-off download wrote, stamped with the entry's mtime so the next run resumes it."""
    try:
        size = part.lstat().st_size
        if 0 < size < entry.size_bytes:
            os.utime(part, (entry.mtime, entry.mtime), follow_symlinks=False)
            log.debug("kept %d of %d bytes in %s for the next run", size, entry.size_bytes, part.name)
            return
    except OSError:
        pass
    part.unlink(missing_ok=True)


def _download_one(transport: Transport, destination: Path, entry: PublicIndexEntry,
                  on_bytes: Callable[[int], None], folders: _Folders | None = None,
                  stop: threading.Event | None = None) -> int:
    """Download one file, continuing its part file where one is left (``Range``); returns bytes received."""
    offset = resumable_bytes(destination, entry)
    if offset:
        try:
            with transport.open(remote_path_for(entry), offset=offset) as response:
                if response.offset == offset:
                    log.debug("resuming %s at byte %d", destination.name, offset)
                return _save(response, destination, entry, on_bytes, folders, stop, offset)
        except RangeNotSatisfiableError:
            # The file on the server is not longer than the part: it changed; start again.
            log.debug("cannot resume %s; downloading it again", destination.name)
    with transport.open(remote_path_for(entry)) as response:
        return _save(response, destination, entry, on_bytes, folders, stop)


def run_stoppable(tasks: Sequence[T], work: Callable[[T], None], workers: int, stop: threading.Event,
                  on_stop: Callable[[], None] = lambda: None) -> None:
    """Run ``work`` on every task in ``workers`` daemon threads, in the order given; stoppable at any moment.

    The calling thread only waits. When it is interrupted (Ctrl-C raises ``KeyboardInterrupt`` there),
    ``stop`` is set and ``on_stop`` called (which breaks the open connections), the threads get
    :data:`STOP_GRACE` seconds to set their part files aside, and the interruption goes on: nothing
    waits for a download to finish, and the threads, being daemons, never hold up the exit. An
    exception raised by ``work`` (a bug: expected failures are recorded, not raised) is raised here.
    """
    pending = iter(tasks)
    lock = threading.Lock()
    errors: list[BaseException] = []
    count = max(1, min(workers, len(tasks)))
    running = [count]
    # The waiting thread waits on this event, never in Thread.join: a Ctrl-C that lands inside join()
    # can leave the thread marked as ended while it runs on (CPython's bpo-45274 handling), and the
    # grace period below would then not wait for it.
    finished = threading.Event()

    def loop() -> None:
        try:
            while not stop.is_set():
                with lock:
                    task = next(pending, None)
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


@dataclass
class PublicPlan:
    """How a public set compares with the local folder, before anything is downloaded."""

    #: (index path, local path, entry) of every file that is missing or differs locally.
    todo: list[tuple[str, Path, PublicIndexEntry]] = field(default_factory=list)
    skipped: int = 0
    skipped_bytes: int = 0
    #: Index paths refused before any request (unsafe, or leading out of the folder through a link).
    refused: list[tuple[str, str]] = field(default_factory=list)

    @property
    def todo_bytes(self) -> int:
        return sum(entry.size_bytes for _relative, _path, entry in self.todo)


def plan_public_files(index: dict[str, PublicIndexEntry], set_dir: Path,
                      on_current: Callable[[int], None] | None = None) -> PublicPlan:
    """Sort ``index`` into files to download and files already current in ``set_dir``; writes nothing.

    ``on_current`` is told the size of every file found current.

    Both the real receive and ``receive --plan`` use this, so the plan skips exactly what a receive skips.
    """
    plan = PublicPlan()
    destinations = _Destinations(set_dir)
    for relative, entry in index.items():
        try:
            destination = destinations.path(relative)
        except SyncoError as exc:
            plan.refused.append((relative, str(exc)))
            continue
        if is_current(destination, entry):
            plan.skipped += 1
            plan.skipped_bytes += entry.size_bytes
            if on_current is not None:
                on_current(entry.size_bytes)
        else:
            plan.todo.append((relative, destination, entry))
    return plan


def receive_public_files(
    transport: Transport,
    index: dict[str, PublicIndexEntry],
    set_dir: Path,
    jobs: int = 8,
    delete: bool = False,
    on_bytes: Callable[[int], None] | None = None,
    on_file: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> PublicResult:
    """Bring ``set_dir`` up to date with ``index``; per-file failures are collected, never raised.

    ``on_file`` is called once per file of the index: with its size when it was current (skipped), with 0
    when it was downloaded or failed. ``stop`` (set by the caller, or here on Ctrl-C) ends the downloads
    between two chunks; the part files of unfinished ones are kept for the next run.
    """
    set_dir.mkdir(parents=True, exist_ok=True)
    stop = stop or threading.Event()
    lock = threading.Lock()
    folders = _Folders()
    report_bytes = on_bytes or (lambda _n: None)
    plan = plan_public_files(index, set_dir, on_file)
    result = PublicResult(skipped=plan.skipped, failed=list(plan.refused), refused=len(plan.refused))
    todo = plan.todo

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

    def work(item: tuple[str, Path, PublicIndexEntry]) -> None:
        relative, destination, entry = item
        record_entry(relative, entry,
                     lambda: _download_one(transport, destination, entry, report_bytes, folders, stop))

    open_many = getattr(transport, "open_many", None)

    def work_batch(batch: list[tuple[str, Path, PublicIndexEntry]]) -> None:
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

    if todo:
        # Files on other hosts (a CDN) cannot share a pipelined connection with the session's host, and a
        # file with a part to continue is asked for with a Range of its own.
        whole: list[tuple[str, Path, PublicIndexEntry]] = []
        alone: list[list[tuple[str, Path, PublicIndexEntry]]] = []
        for item in todo:
            if item[2].absolute or resumable_bytes(item[1], item[2]):
                alone.append([item])
            else:
                whole.append(item)
        # A transport may know better (a channel is one stream: few readers, long batches).
        size = getattr(transport, "pipeline_files", None) or batch_size(len(whole), jobs)
        readers = min(jobs, getattr(transport, "pipeline_readers", None) or jobs)
        batches = [whole[start:start + size] for start in range(0, len(whole), size)]
        run_stoppable(batches + alone, work_batch, readers if not alone else jobs, stop,
                      getattr(transport, "abort", lambda: None))
    result.vanished = vanished_files(set_dir, index.keys())
    if delete:
        for relative in result.vanished:
            (set_dir / relative).unlink(missing_ok=True)
            result.removed += 1
    return result


def vanished_files(set_dir: Path, listed: Iterable[str]) -> list[str]:
    """Local files of ``set_dir`` that the index does not list (leftover ``.synco-part`` files included), sorted."""
    wanted = set(listed)
    found: list[str] = []

    def walk(folder: str, prefix: str) -> None:
        with os.scandir(folder) as entries:
            for entry in entries:
                name = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    walk(entry.path, name + "/")
                elif name not in wanted:
                    found.append(name)

    if set_dir.is_dir():
        walk(str(set_dir), "")
    return sorted(found)
