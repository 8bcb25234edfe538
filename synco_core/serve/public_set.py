"""Writing a public file set: its files in index order, hashed and the small ones packed, into a streamed index.

The pipeline, one file at a time, with memory that does not grow with the number of files:

1. **Entries in index order.** A set the core walks (``root`` and ``url_prefix``) comes from
   :func:`~synco_core.index.order.sorted_walk_lstat`, already in order; a plugin's own entries (Flow resources,
   a bucket) go through an external sort first. synco's own folders (session folders, their leftovers)
   are never part of a set, whatever its root.
2. **Content hash.** A small file (up to 16 KiB) that did not change since the last serve comes out of
   the cache (:mod:`synco_core.index.hashcache`) with its hash and content, after one ``lstat``; otherwise
   it is read whole (it is packed anyway) and hashed from that read. A larger one is looked up in the
   same cache and hashed only when it changed, in worker threads (hashlib and reads release the GIL),
   while the walk goes on.
3. **Packs.** Small files that serve can read directly (not through a link) go into packs
   (:mod:`synco_core.index.packs`), in index order.
4. **Index.** Each entry is written as one line of the index (:class:`~synco_core.index.stream.IndexWriter`),
   through zstd and age.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import json
import logging
import os
import re
import stat
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, TypeVar, cast
from urllib.parse import quote

from synco_core import leftout, workerframes
from synco_core.beneath import BelowRoot
from synco_core.errors import ConfigError
from synco_core.fsutil import second_of
from synco_core.index.extsort import ExternalSorter
from synco_core.index.hashcache import HashCache
from synco_core.index.order import SkipFolder, sorted_walk_lstat
from synco_core.index.packs import SMALL_FILE_MAX, PackWriter
from synco_core.index.stream import IndexWriter
from synco_core.names import receiver_refusal
from synco_core.origins import origin_of, origin_text
from synco_core.pull import fallback
from synco_core.serve import walkprocess
from synco_core.serve.ttl import is_synco_folder
from synco_core.values import FileSet, PublicFile
from synco_core.wire import INDEX_FORMAT_LINES, PublicFilesInfo, pack_table_to_bytes

if TYPE_CHECKING:
    # Only the process that writes the session needs it; serve's worker process imports this module too.
    from synco_core.serve.folder import SessionFolder

log = logging.getLogger(__name__)

#: Files whose hashing may be under way at once (each holds one read buffer in a worker thread).
HASH_WINDOW = 64
#: Bytes read per call while hashing a larger file.
HASH_BLOCK = 1024 * 1024
#: Worker threads hashing files larger than :data:`SMALL_FILE_MAX` (the walk itself is the third).
HASH_WORKERS = 2
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC
# Packed files are read without following a link: a link may point anywhere on the server, and a pack is
# published content. Linked files are hashed through the link (what the web server sends) but not packed.
_PACK_OPEN_FLAGS = _OPEN_FLAGS | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


@dataclass(slots=True)
class Candidate:
    """A file on its way into the index: a plugin's :class:`PublicFile`, or a file the walk found.

    Not a :class:`PublicFile` itself: that one is frozen, and a frozen dataclass costs some 4 µs to make,
    a second for a million files; this one costs a tenth of that.
    """

    path: str
    #: Size and mtime as the plugin gave them; the walk leaves them at -1 and 0 (the file's stat decides).
    size: int
    mtime: int
    uri: str
    is_absolute_url: bool = False
    sha1: str | None = None
    #: The file on disk behind the URI, when known.
    source: str | None = None
    #: False for a file reached through a link (hashed, but never packed).
    packable: bool = True
    #: True when the walk found it (a file that turns out not to be a regular file is then left out).
    walked: bool = False
    #: The walk's ``lstat`` of it (None: not walked, or gone meanwhile).
    lstat: os.stat_result | None = None
    #: A walked file is read through these: the set's real root, and the link-free path below it (a link's
    #: target); never by ``source``, whose folders an uploader may swap for links after the walk.
    below: BelowRoot | None = None
    inner: str = ""


#: A file's identity on the server: (device, inode) of what serve read or stat'ed for its entry.
Identity = tuple[int, int]
#: An index entry on its way out: path, size, mtime, URI, absolute, sha1, sha256, pack, pack offset, and the
#: identity of its file (not written to the index: ``serve --listen`` sends the URI only while it names that
#: file).
Row = tuple[str, int, int, str, bool, str | None, str | None, int | None, int | None, Identity | None]


@dataclass
class SetWriteResult:
    """What writing one public set produced, for its meta entry."""

    info: PublicFilesInfo
    hashed: int = 0
    cache_hits: int = 0


def is_utf8(relative: str) -> bool:
    """True unless the name had bytes that are not UTF-8 (the walk carries them as surrogate escapes)."""
    if relative.isascii():
        return True
    try:
        relative.encode()
    except UnicodeEncodeError:
        return False
    return True


#: Paths whose URL is the path itself (quote() would change nothing), checked at C speed.
_URL_SAFE = re.compile(r"[A-Za-z0-9_.\-~/]*")


def receivable(relative: str) -> bool:
    """True when a receiver will accept ``relative`` (:mod:`synco_core.names`); a name it would refuse (a
    control character, a backslash, a drive letter) would make it refuse the whole index, so serve leaves
    that one file out and says so."""
    refusal = receiver_refusal(relative)
    if refusal is not None:
        leftout.skipped(log, "skipping %r: %s", relative, refusal)
        return False
    return True


def _url(prefix: str, relative: str) -> str:
    return prefix + (relative if _URL_SAFE.fullmatch(relative) else quote(relative))


#: Paths that are ASCII, receivable (:data:`~synco_core.names.PLAIN_RELATIVE_PATH`) and their own URL
#: (:data:`_URL_SAFE`) at once: one match instead of three checks, for the names most uploads have.
PLAIN_URL_PATH = re.compile(r"[A-Za-z0-9_\-~][A-Za-z0-9_.\-~]{0,254}(?:/[A-Za-z0-9_\-~][A-Za-z0-9_.\-~]{0,254})*")


#: A walked file the pipeline may take whole from the cache without a :class:`Candidate`: a regular file
#: of at most :data:`SMALL_FILE_MAX` bytes (not empty) whose path is its own URL. Path, URI, the walk's
#: ``lstat``, the file's path, and the set's real root (:func:`candidate_of` makes its candidate).
QuickFile = tuple[str, str, os.stat_result, str, BelowRoot]


def candidate_of(item: Candidate | QuickFile) -> Candidate:
    """The candidate :func:`walked_candidates` makes of a file :func:`walked_items` gave as a quick one."""
    if isinstance(item, Candidate):
        return item
    path, uri, info, source, below = item
    return Candidate(path, -1, 0, uri, source=source, packable=True, walked=True, lstat=info, below=below,
                     inner=path)


def walked_items(file_set: FileSet, skip_folder: SkipFolder | None = None,
                 after: str | None = None) -> Iterator[Candidate | QuickFile]:
    """:func:`walked_candidates`, with each file that may be unchanged since the last serve as a
    :data:`QuickFile` instead: on a re-serve most files are, and :func:`hashed_rows` takes them from the
    cache without the candidate (one object of eleven fields per file, a sixth of a re-serve's Python in
    serve's worker process). The rest are the same candidates, in the same order."""
    return _walked(file_set, skip_folder, after, True)


def walked_candidates(file_set: FileSet, skip_folder: SkipFolder | None = None,
                      after: str | None = None) -> Iterator[Candidate]:
    """The files below the set's root (regular files and links), in index order, with URIs under ``url_prefix``.

    Each comes with the walk's ``lstat`` (relative to its folder, the cheapest stat there is): an unchanged
    small file is then taken from the cache without another system call. A file the pipeline opens is
    judged by its ``fstat`` there (a link's target is looked at by following it, as the web server does).
    ``after`` starts the walk past a path (the rest of a set handed to a worker process).

    The root may itself be a link (a deploy tool's shared uploads folder); a link below it is listed only
    when it leads to a place inside the root's real folder, as a private set's links are: one to ``/etc``
    or to the application's code is left out (with a warning), so synco's own servers, which send only
    what the index lists, never hand it out.
    """
    return cast(Iterator[Candidate], _walked(file_set, skip_folder, after, False))


def _walked(file_set: FileSet, skip_folder: SkipFolder | None, after: str | None,
            quick: bool) -> Iterator[Candidate | QuickFile]:
    assert file_set.root is not None
    prefix = file_set.url_prefix
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    inside = os.path.join(os.path.realpath(file_set.root), "")
    below = BelowRoot(inside)
    for relative, entry, info in sorted_walk_lstat(file_set.root, file_set.left_out, skip_folder, after):
        regular = entry.is_file(follow_symlinks=False)
        inner = relative
        if not regular:
            if not entry.is_symlink():
                continue
            real = os.path.realpath(entry.path)
            if not real.startswith(inside):
                leftout.skipped(log, "skipping %s: it is a link leading out of the %s set's folder", entry.path,
                            file_set.name)
                continue
            # Hashed from where the link led when it was judged: a link pointed elsewhere since is not followed.
            inner = real[len(inside):]
        if PLAIN_URL_PATH.fullmatch(relative):
            if quick and regular and info is not None and 0 < info.st_size <= SMALL_FILE_MAX and \
                    stat.S_ISREG(info.st_mode):
                yield relative, prefix + relative, info, entry.path, below
                continue
            yield Candidate(relative, -1, 0, prefix + relative, source=entry.path, packable=regular, walked=True,
                            lstat=info, below=below, inner=inner)
            continue
        if not is_utf8(relative):
            leftout.skipped(log, "skipping %r: its name is not valid UTF-8, so no URL or index can name it", entry.path)
            continue
        if not receivable(relative):
            continue
        yield Candidate(relative, -1, 0, _url(prefix, relative), source=entry.path, packable=regular, walked=True,
                        lstat=info, below=below, inner=inner)


def _encode_file(item: PublicFile) -> bytes:
    return json.dumps([item.path, item.size, item.mtime, item.uri, item.is_absolute_url, item.sha1, item.source],
                      separators=(",", ":")).encode()


def _decode_file(line: bytes) -> PublicFile:
    path, size, mtime, uri, absolute, sha1, source = json.loads(line)
    return PublicFile(path=path, size=size, mtime=mtime, uri=uri, is_absolute_url=absolute, sha1=sha1, source=source)


def plugin_candidates(entries: Iterator[PublicFile], spill_dir: Path | None = None,
                      root: Path | None = None) -> Iterator[Candidate]:
    """A plugin's entries in index order (sorted with bounded memory); a path listed twice keeps its last.

    An entry whose source lies below the set's ``root`` is read as a walked file is, below the root with no
    link followed (a link there, or a folder swapped for one, leaves it without a hash); other sources (a
    Flow resource store outside any root) are read by their path.
    """
    sorter: ExternalSorter[PublicFile] = ExternalSorter(lambda item: item.path, _encode_file, _decode_file,
                                                        spill_dir=spill_dir)
    for item in entries:
        if receivable(item.path):
            sorter.add(item)
    below: BelowRoot | None = None
    prefixes: tuple[str, ...] = ()
    if root is not None:
        real = os.path.realpath(root)
        # A root serve may not read lists nothing a plugin could walk; its entries are then read by path.
        with contextlib.suppress(PermissionError):
            below, prefixes = BelowRoot(real), (os.path.join(os.path.abspath(root), ""), os.path.join(real, ""))
    previous: PublicFile | None = None
    for item in sorter.sorted():
        if previous is not None and previous.path != item.path:
            yield _candidate(previous, below, prefixes)
        previous = item
    if previous is not None:
        yield _candidate(previous, below, prefixes)


def _candidate(item: PublicFile, below: BelowRoot | None, prefixes: tuple[str, ...]) -> Candidate:
    candidate = Candidate(item.path, item.size, item.mtime, item.uri, item.is_absolute_url, item.sha1, item.source)
    if below is not None and item.source is not None:
        source = os.path.abspath(item.source)
        for prefix in prefixes:
            if source.startswith(prefix):
                candidate.below, candidate.inner = below, source[len(prefix):]
                break
    return candidate


#: What a public set leaves out unless it asks for dotfiles (:attr:`FileSet.dotfiles`): every name that
#: starts with a dot, at any depth (a dot-folder is not entered). They are not uploaded content, and web
#: servers deny them (Laravel's recommended nginx configuration answers 403 for ``.gitignore``).
DOTFILES = ".*"


def is_dotfile(path: str) -> bool:
    # "." and ".." are no dotfiles: a path holding them is for receivable() to refuse out loud, not to drop.
    return any(part.startswith(".") and part not in (".", "..") for part in path.split("/"))


def public_candidates(file_set: FileSet, skip_folder: SkipFolder | None = None,
                      spill_dir: Path | None = None) -> Iterator[Candidate]:
    """The files of a public set in index order: the plugin's own entries, or a walk of its root.

    Dotfiles are left out unless the set asks for them.
    """
    if file_set.entries is not None:
        entries = file_set.entries()
        if not file_set.dotfiles:
            entries = (entry for entry in entries if not is_dotfile(entry.path))
        return plugin_candidates(entries, spill_dir, file_set.root if file_set.root is not None
                                 and file_set.root.is_dir() else None)
    if file_set.root is None:
        raise ConfigError(f"public file set {file_set.name!r} has neither entries nor a root folder")
    if not file_set.root.is_dir():
        raise ConfigError(f"public file set {file_set.name!r}: folder {file_set.root} does not exist")
    if not file_set.dotfiles:
        file_set = dataclasses.replace(file_set, exclude=(*file_set.exclude, DOTFILES))
    return walked_candidates(file_set, skip_folder)


_HashResult = tuple[str | None, os.stat_result | None]
T = TypeVar("T")
#: Seconds between two looks at pending signals while waiting for a worker (see :func:`_result`).
WAIT_SLICE = 0.2


def _result(future: Future[T]) -> T:
    """``future.result()``, waited for in slices: a signal (Ctrl-C) that the kernel hands to a worker thread
    does not wake a main thread blocked on a lock, so the main thread looks up now and then."""
    while True:
        try:
            return future.result(timeout=WAIT_SLICE)
        except FutureTimeout:
            continue


def _open(item: Candidate, flags: int) -> int:
    """A descriptor of ``item``'s file: a walked one below its set's root with no link followed on the way
    (:class:`~synco_core.beneath.BelowRoot`), a plugin's by its source path."""
    if item.below is not None:
        return item.below.open(item.inner, flags)
    assert item.source is not None
    return os.open(item.source, flags)


def _lstat(item: Candidate) -> os.stat_result:
    if item.below is not None:
        return item.below.lstat(item.inner)
    assert item.source is not None
    return os.lstat(item.source)


def _hash_file(item: Candidate, stop: threading.Event | None = None,
               known: os.stat_result | None = None) -> _HashResult:
    """(SHA-256, the stat it belongs to) of a file read whole; no hash when it changed while being read.

    A file that cannot be read (no permission, an I/O error) keeps ``known``, the stat it was listed by:
    it is listed without a hash, as the web server may well read it. One that is gone, or is no longer a
    regular file, gets no stat at all and is left out. ``stop`` set (the serve is being stopped) ends the
    read at the next block, without a hash.
    """
    source = item.source
    digest = hashlib.sha256()
    buffer = bytearray(HASH_BLOCK)
    view = memoryview(buffer)
    read = 0
    try:
        # Non-blocking: a file replaced by a FIFO since it was stat'ed must not hang this thread in open().
        fd = _open(item, _OPEN_FLAGS | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        gone = exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)
        (leftout.skipped if gone else leftout.unhashed)(log, "%s %s: %s", "skipping" if gone else "not hashing",
                                                        source, exc.strerror or exc)
        return None, None if gone else known
    try:
        with open(fd, "rb", buffering=0) as handle:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode):
                leftout.skipped(log, "skipping %s: it is no longer a regular file", source)
                return None, None
            # Never past the size it had when opened: a file an uploader keeps appending to faster than it
            # is read would otherwise hold this thread, and the serve, for ever. One that grew is listed
            # without a hash below.
            size = before.st_size
            while read < size and (count := handle.readinto(view[:min(HASH_BLOCK, size - read)])):
                if stop is not None and stop.is_set():
                    return None, None
                # hashlib releases the GIL for blocks this large, so two workers hash on two cores.
                digest.update(view[:count])
                read += count
            after = os.fstat(fd)
    except OSError as exc:
        leftout.unhashed(log, "not hashing %s: %s", source, exc.strerror or exc)
        return None, known
    if read != before.st_size or after.st_mtime_ns != before.st_mtime_ns or after.st_size != before.st_size:
        leftout.unhashed(log, "%s changed while it was read; it is listed without a content hash", source)
        return None, before
    return digest.hexdigest(), before


def _open_small(item: Candidate) -> tuple[bytes | None, os.stat_result | None]:
    """(content, stat) of a small regular file read without following a link; (None, stat) for a larger
    regular file; (None, None) for anything else (a link, a FIFO, gone).

    ``O_NONBLOCK`` keeps a FIFO from blocking the open; it changes nothing for regular files.
    """
    try:
        fd = _open(item, _PACK_OPEN_FLAGS)
    except OSError:
        # A link (ELOOP), a file gone or unreadable: the caller looks again through the link, and says why.
        return None, None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, None
        if info.st_size > SMALL_FILE_MAX:
            return None, info
        content = os.read(fd, info.st_size + 1)
    finally:
        os.close(fd)
    if len(content) != info.st_size:
        leftout.unhashed(log, "%s changed while it was read; it is listed without a content hash", item.source)
        return None, info
    return content, info


def _stat(item: Candidate) -> os.stat_result | None:
    """The stat of a regular file (a plugin's through links); None (with a warning) when there is none.

    A file the walk found is then left out; a plugin's entry stays listed, without a hash.
    """
    source, walked = item.source, item.walked
    try:
        info = _lstat(item) if item.below is not None else os.stat(source or "")
    except OSError as exc:
        leftout.unless_exhausted(exc)
        (leftout.skipped if walked else leftout.unhashed)(log, "%s %s: %s", "skipping" if walked else "not hashing",
                                                          source, exc.strerror or exc)
        return None
    return info if stat.S_ISREG(info.st_mode) else None


def _row(item: Candidate, info: os.stat_result | None, sha256: str | None, pack: tuple[int, int] | None = None) -> Row:
    size, mtime = (info.st_size, second_of(info)) if info is not None else (item.size, item.mtime)
    return (item.path, size, mtime, item.uri, item.is_absolute_url, item.sha1, sha256,
            pack[0] if pack else None, pack[1] if pack else None,
            (info.st_dev, info.st_ino) if info is not None and item.source is not None else None)


class Packer(Protocol):
    """What takes small files' contents: the :class:`PackWriter`, or a worker process's stand-in."""

    def add(self, content: bytes) -> tuple[int, int]: ...


def hashed_rows(candidates: Iterator[Candidate | QuickFile], cache: HashCache | None, packs: Packer | None,
                pool: ThreadPoolExecutor | None, counts: SetWriteResult, hash_large: bool = True,
                stop: threading.Event | None = None) -> Iterator[Row]:
    """Index rows in the order of ``candidates``, each with its SHA-256 where its file can be read.

    Small files are taken from ``cache`` when unchanged, else read and hashed, and packed; larger ones are
    looked up in ``cache`` and otherwise hashed in ``pool``, at most :data:`HASH_WINDOW` at a time, their
    rows held back until their turn.
    ``hash_large`` False lists larger files without a hash (only for measuring what hashing costs). A
    walked file that turns out not to be a regular file (a link to a folder, a FIFO) is left out.
    A :data:`QuickFile` (from :func:`walked_items`) is taken from the cache as it is when it can be, and
    otherwise goes the way of its candidate (:func:`candidate_of`).
    """
    # Each row waits here, in order, until it leaves: (candidate, hashing in progress, row when known, the
    # stat to remember its hash by, the content to keep with it). The new cache is written as rows leave, so
    # it stays in index order.
    pending: deque[tuple[Candidate, Future[_HashResult] | None, Row | None, os.stat_result | None,
                         bytes | None]] = deque()
    pack = packs.add if packs is not None else None

    def leave(item: Candidate, future: Future[_HashResult] | None, row: Row | None,
              info: os.stat_result | None, content: bytes | None) -> Row | None:
        if future is not None:
            sha256, info = _result(future)
            if sha256 is not None:
                counts.hashed += 1
            elif info is None and item.walked:
                # Gone, or no longer a regular file, since the walk: not listed (see _hash_file).
                return None
            row = _row(item, info, sha256)
        assert row is not None
        if cache is not None and info is not None and row[6] is not None:
            cache.record(row[0], info, row[6], content, item.source)
        return row

    # With small files' contents in the cache, a small file is stat'ed and its content taken from the cache
    # when it is unchanged. Small files are opened here, not read ahead by a thread: a thread whose every
    # system call gives up the GIL and waits to get it back from this busy loop made the serve a third
    # slower, with the page cache full or dropped alike.
    from_cache = cache is not None and cache.has_contents and pack is not None
    take = cache.take_content if cache is not None else None
    for walked in candidates:
        if isinstance(walked, tuple):
            # The quick file's row is the one the candidate's way below makes from a cache hit.
            if from_cache and not pending:
                assert take is not None and pack is not None
                path, uri, walk_stat, file_path, _below = walked
                if (taken := take(path, walk_stat, file_path)) is not None:
                    counts.cache_hits += 1
                    yield (path, walk_stat.st_size, second_of(walk_stat), uri, False, None, taken[0], *pack(taken[1]),
                           (walk_stat.st_dev, walk_stat.st_ino))
                    continue
            item = candidate_of(walked)
        else:
            item = walked
        row: Row | None = None
        future: Future[_HashResult] | None = None
        # The stat the row's hash is remembered by in the cache (None: not cached), and the content kept.
        remember: os.stat_result | None = None
        kept: bytes | None = None
        source = item.source
        if source is None:
            row = _row(item, None, None)
        else:
            info: os.stat_result | None = None
            if from_cache and item.packable:
                assert cache is not None and pack is not None
                # The common case first: an unchanged small file the walk stat'ed, its record copied into the
                # new cache at once (only while no earlier row waits to be recorded: records go in order).
                seen = item.lstat
                if not pending and seen is not None and stat.S_ISREG(seen.st_mode) and 0 < seen.st_size <= \
                        SMALL_FILE_MAX and (taken := cache.take_content(item.path, seen, source)) is not None:
                    counts.cache_hits += 1
                    yield _row(item, seen, taken[0], pack(taken[1]))
                    continue
                info, hit = _cached_small(cache, item)
                if hit is not None and info is not None:
                    cached_sha256, kept = hit
                    row, remember = _row(item, info, cached_sha256, pack(kept)), info
                    counts.cache_hits += 1
            # A larger regular file seen by an lstat (the cache's, or the walk's) goes straight to its hash.
            seen = info or item.lstat
            if row is None and pack is not None and item.packable and (seen is None or seen.st_size <= SMALL_FILE_MAX):
                content, info = _open_small(item)
                if content is not None and info is not None:
                    counts.hashed += 1
                    row = _row(item, info, hashlib.sha256(content).hexdigest() if content else _EMPTY_SHA256,
                               pack(content) if content else None)
                    # Kept for the next serve: a packed file is read again at every serve otherwise.
                    remember, kept = (info, content) if content else (None, None)
            if row is None and info is None:
                info = _stat(item)
                if info is None and item.walked:
                    continue
            if row is None:
                cached = cache.lookup(item.path, info) if cache is not None and info is not None else None
                if cached is not None:
                    counts.cache_hits += 1
                    # Written again into the new cache, which holds exactly the files of this serve.
                    row, remember = _row(item, info, cached), info
                elif not hash_large or info is None:
                    row = _row(item, info, None)
                elif pool is None:
                    sha256, remember = _hash_file(item, None, info)
                    if remember is None and item.walked:
                        continue
                    counts.hashed += sha256 is not None
                    row = _row(item, remember, sha256)
                else:
                    # The stat goes along: a file that cannot be read is still listed by it.
                    future, remember = pool.submit(_hash_file, item, stop, info), info
        if not pending and future is None:
            if (left := leave(item, None, row, remember, kept)) is not None:
                yield left
            continue
        pending.append((item, future, row, remember, kept))
        # Rows leave in order: the head goes once its hash is in; a full window waits for it.
        while pending and (pending[0][1] is None or pending[0][1].done() or len(pending) > HASH_WINDOW):
            if (left := leave(*pending.popleft())) is not None:
                yield left
    while pending:
        if (left := leave(*pending.popleft())) is not None:
            yield left


def _cached_small(cache: HashCache, item: Candidate) -> tuple[os.stat_result | None, tuple[str, bytes] | None]:
    """(lstat, (SHA-256, content)) of a small regular file unchanged since the cache kept its content.

    The lstat alone when the file is a regular one without usable content (changed, new, larger, not
    kept); (None, None) for anything else (a link, gone): :func:`_open_small` then decides.
    """
    assert item.source is not None
    info = item.lstat
    if info is None:
        try:
            info = _lstat(item)
        except OSError:
            return None, None
    if not stat.S_ISREG(info.st_mode):
        return None, None
    if not 0 < info.st_size <= SMALL_FILE_MAX:
        return info, None
    return info, cache.lookup_content(item.path, info)


#: What Go synco v2 puts before a URI relative to the site's root (its receive turns it into ``..``).
GO_BASE = "<BASE>/"


@dataclass
class PublicSetOptions:
    """How :func:`write_public_set` writes one set."""

    #: Index artifact name, and the prefix of the pack names (``Resources-<set>``).
    prefix: str
    compress: bool = True
    #: Hash the files larger than SMALL_FILE_MAX (SHA-256 in the index); small ones are read for their
    #: pack anyway, and always hashed. Off only to measure what hashing costs.
    hash_large: bool = True
    #: Pack small files (off for a session a Go synco v2 receiver reads: it would fetch every file anyway).
    packs: bool = True
    cache: HashCache | None = None
    skip_folder: SkipFolder | None = None
    spill_dir: Path | None = None
    #: Told the URI and file identity of every entry that is relative to the session's base URL
    #: (``serve --listen``).
    on_relative_uri: Callable[[str, Identity | None], None] | None = None
    #: Write relative URIs as ``<BASE>/<uri>`` (``--compat``): Go synco v2's receive resolves a relative
    #: ``publicUri`` against the session folder and reads ``<BASE>`` as the site's root, as its serve writes.
    go_uris: bool = False


def _worker_allowed(file_set: FileSet, options: PublicSetOptions) -> bool:
    """True when the rest of a large set may go to a worker process (:mod:`~synco_core.serve.walkprocess`):
    a set serve walks itself, with nothing the worker could not be told (a plugin's skip function), on a
    machine of two cores or more, with the compiled packages the pipeline imports (a zipapp without them
    runs every set here)."""
    return (file_set.entries is None and options.skip_folder in (None, is_synco_folder)
            and workerframes.usable_cores() >= 2 and fallback.available("cryptography")
            and fallback.available("zstandard"))


class _Head:
    """The first ``limit`` candidates of a walked set; the worker is started half way through them, and once
    it is, the walk here stops at ``limit`` (``last`` then names where the worker goes on)."""

    def __init__(self, candidates: Iterator[Candidate], limit: int, worker: walkprocess.WalkWorker) -> None:
        self.candidates = candidates
        self.limit = limit
        self.worker = worker
        self.last: str | None = None

    def __iter__(self) -> Iterator[Candidate]:
        started = False
        start_at = max(1, self.limit // 2)
        for number, item in enumerate(self.candidates, 1):
            yield item
            if number == start_at:
                started = self.worker.start()
            if started and number >= self.limit:
                self.last = item.path
                return


def set_rows(file_set: FileSet, options: PublicSetOptions, packs: PackWriter | None, pool: ThreadPoolExecutor,
             counts: SetWriteResult, stop: threading.Event) -> Generator[Row, None, None]:
    """The rows of a set in index order: all made here, or, for a large walked set, the first
    :func:`walkprocess.min_files` here and the rest by a worker process (their contents packed here)."""
    candidates = public_candidates(file_set, options.skip_folder, options.spill_dir)
    limit = walkprocess.min_files() if _worker_allowed(file_set, options) else 0
    if not limit:
        yield from hashed_rows(candidates, options.cache, packs, pool, counts, options.hash_large, stop)
        return
    worker = walkprocess.WalkWorker()
    head = _Head(candidates, limit, worker)
    try:
        yield from hashed_rows(iter(head), options.cache, packs, pool, counts, options.hash_large, stop)
        if head.last is None:
            return
        # The walk here holds a descriptor per folder level: closed before the worker walks on.
        close = getattr(candidates, "close", None)
        if close is not None:
            close()
        assert file_set.root is not None
        header = {"root": os.fspath(file_set.root), "url_prefix": file_set.url_prefix,
                  "exclude": [*file_set.left_out, *(() if file_set.dotfiles else (DOTFILES,))],
                  "skip_synco_folders": options.skip_folder is not None, "after": head.last,
                  "cache": options.cache.hand_over() if options.cache is not None else None,
                  "packs": packs is not None, "hash_large": options.hash_large,
                  "debug": logging.getLogger("synco_core").isEnabledFor(logging.DEBUG)}
        add = packs.add if packs is not None else None
        for path, size, mtime, uri, absolute, sha1, sha256, content, identity in worker.rows(header):
            if content is not None and add is not None:
                pack, offset = add(content)
                yield path, size, mtime, uri, absolute, sha1, sha256, pack, offset, identity
            else:
                yield path, size, mtime, uri, absolute, sha1, sha256, None, None, identity
        counts.hashed += worker.counts[0]
        counts.cache_hits += worker.counts[1]
    finally:
        worker.close()


def write_public_set(file_set: FileSet, folder: SessionFolder, options: PublicSetOptions) -> SetWriteResult:
    """Write the index (and the packs and pack table) of ``file_set`` into ``folder``."""
    index_name = f"{options.prefix}.index.json.enc"
    counts = SetWriteResult(PublicFilesInfo(index_file_name=index_name, size_bytes=0))
    packs = PackWriter(folder.path, options.prefix, folder.recipients) if options.packs else None
    total = 0
    origins: set[str] = set()
    on_uri = options.on_relative_uri
    pool = ThreadPoolExecutor(HASH_WORKERS, thread_name_prefix="synco-hash")
    stop = threading.Event()
    try:
        with folder.artifact(index_name, compress=options.compress) as (plain, stats), \
                contextlib.closing(set_rows(file_set, options, packs, pool, counts, stop)) as rows:
            writer = IndexWriter(cast(BinaryIO, plain))
            add = writer.add_row
            for row in rows:
                absolute = row[4] or row[3].startswith(("http://", "https://"))
                add(row if absolute or not options.go_uris else (*row[:3], GO_BASE + row[3], *row[4:]))
                total += row[1]
                if absolute:
                    # Receive fetches absolute URLs only from origins the encrypted meta declares.
                    origins.add(origin_text(origin_of(row[3])))
                elif on_uri is not None:
                    on_uri(row[3], row[9])
            writer.close()
        table = packs.finish() if packs is not None else []
    except BaseException:
        # Ctrl-C must not wait for large files still being hashed: their workers stop at the next block.
        stop.set()
        if packs is not None:
            packs.abort()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    info = counts.info
    info.size_bytes, info.file_count = total, writer.count
    info.compression, info.encrypted_size_bytes = stats[0].compression, stats[0].encrypted_size_bytes
    info.relative_base_path = file_set.relative_base_path or None
    info.index_format, info.index_size_bytes = INDEX_FORMAT_LINES, writer.size
    info.index_sha256 = stats[0].sha256
    info.url_origins = sorted(origins)
    if table:
        packs_name = f"{options.prefix}.packs.json.enc"
        raw = pack_table_to_bytes(table)
        info.packs_file_name, info.packs_size_bytes = packs_name, len(raw)
        info.packs_sha256 = hashlib.sha256(raw).hexdigest()
        info.packs_encrypted_size_bytes = folder.write_small(packs_name, raw)
        info.pack_count = len(table)
        assert packs is not None
        info.packed_file_count, info.packed_size_bytes = packs.files, packs.bytes
    return counts

