"""The source's cache of content hashes, and of small files' contents, so a serve reads only the files that
changed since the last one.

One cache file per project and public set, in synco's cache folder (``$SYNCO_CACHE_DIR``, else
``$XDG_CACHE_HOME/synco``, else ``~/.cache/synco``, else ``/var/tmp/synco-cache-<uid>``), never inside the
web root or a public set: a folder there would be served to anyone who guesses its name, and would be
indexed as public content itself. The folder is made 0700 and must belong to the user running serve.

An entry is trusted only while the file has the same size, modification and change time (nanoseconds),
inode and device as when it was hashed; a file changed within :data:`RACY_SECONDS` before the serve started
is not recorded, since a change in the same clock tick would not show in its times. The change time decides
with the modification time because only the file system sets it (``touch -d`` and ``rsync -t`` set the
other); both are compared with this computer's clock, which a file system's own clock may be behind (an NFS
server's): the clock of each device the set's files are on is measured (:func:`clock_of`, in the session
folder, and in the folder of the first file of each other device) and files of that device are judged by the
earlier one. A device where no file can be made (a read-only mount) is not (docs/security.md says so).

Packed files (up to 16 KiB) are kept with their content, up to :data:`CONTENT_BUDGET_BYTES` per set: a
pack is published content encrypted to each session's own key, so every serve must build every pack
again, and reading a few hundred thousand small files costs an open, a read and a close each. Their bytes
are read back here as one stream instead. They are the set's public files, served to anyone by the web
server already; the cache is private all the same.

The cache is a binary file: a header line, then one record per file in index order (the order the serve
walks the set), see :data:`RECORD`, each with a check of its own (a 64-bit BLAKE2b of the whole record, its
kept content included), so a damaged record is never used: the cache simply ends there. (A CRC-32 was the
check of the second format: damage of the polynomial's own shape, 33 bits, passed it, and a wrong hash went
into the index, wrong bytes into a pack, at every serve after. The third format's check left the content
out, and every kept content was hashed again with SHA-256 before it was packed: two hashes per unchanged
file, a sixth of a re-serve's CPU in serve's walk worker. One check over the whole record guards the content
as well as the fields, for one hash.) A serve reads the old
cache as a stream beside its walk and writes the new one as it goes: memory holds a block of each,
whatever the number of files. It is not compressed: contents are
mostly compressed images already, and zstd at its fastest cost a re-serve of 300,000 small files most of
a second of the two it saved.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
import struct
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, cast

from synco_core.bounded import CACHE_CONTENT_MB
from synco_core.fsutil import (
    TEMP_GRACE,
    create_owned_temp,
    private_folder,
    process_alive,
    remove_temps_of_dead_processes,
    user_cache_dir,
)
from synco_core.index.order import seek
from synco_core.scratch import remove_file_if_unlocked

log = logging.getLogger(__name__)

#: The tag file of synco's cache folder (the Cache Directory Tagging convention, so backup tools skip it).
CACHE_TAG = "CACHEDIR.TAG"
CACHE_TAG_TEXT = ("Signature: 8a477f597d28d172789f06886806bc55\n"
                  "# This folder holds synco's cache of content hashes; it can be deleted at any time.\n")

#: The first line of a cache file; another first line (an older or newer format) makes the cache start empty.
HEADER = b"synco-hash-cache 4\n"
#: A record: the check (:func:`_check`) of all that follows it in the record (the content included), the
#: fingerprint (size, mtime and ctime in nanoseconds, inode, device), the SHA-256, the path's length and
#: the content's (0 when not kept), then the path (UTF-8, surrogate escapes for other bytes) and the
#: content. Binary: a serve reads and writes one per file, and text fields cost three times as much.
RECORD = struct.Struct("<8sQqqQQ32sII")
_CHECK = struct.Struct("<8s")
_FINGERPRINT = struct.Struct("<QqqQQ")
_DIGEST = struct.Struct("<32sII")
# Bound once: _OldRecords.take runs once per unchanged file of a re-serve.
_RECORD_SIZE = RECORD.size
_RECORD_UNPACK = RECORD.unpack_from
_CHECK_SIZE = _CHECK.size
#: Longest path a record may name (longer ones end the old cache: it is damaged).
MAX_PATH_BYTES = 64 * 1024
#: Bytes read from, and gathered before writing to, a cache file at a time.
BLOCK = 1024 * 1024
#: A file whose times are this close to the start of the serve is hashed but not cached.
RACY_SECONDS = 2.0
#: A set's cache file no serve has written for this many days is removed by the next serve of any set: the
#: caches of a project deleted or moved, of a release folder a deploy removed, of a set renamed, would
#: otherwise stay for ever (each with up to :data:`CONTENT_BUDGET_BYTES` of contents).
STALE_DAYS = 30
#: ``$SYNCO_CACHE_DIR`` overrides where synco keeps its cache (tests, hosts with a read-only home).
CACHE_ENV = "SYNCO_CACHE_DIR"
#: Packed files' contents kept per set, at most (the first files in index order beyond it are kept by
#: hash only, and read again at the next serve). ``$SYNCO_CACHE_CONTENT_MB`` sets it; 0 keeps none.
CONTENT_BUDGET_BYTES = int(CACHE_CONTENT_MB.default) * 1024 * 1024
CONTENT_BUDGET_ENV = CACHE_CONTENT_MB.name
#: The world-writable folder of the last candidate, ``<it>/synco-cache-<uid>``.
SHARED_PARENT = Path("/var/tmp")


def _inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _private_folder(folder: Path) -> bool:
    """Make ``folder`` (0700) if needed; True when it is a real folder of this user that nobody else can use.

    It gets a ``CACHEDIR.TAG``, which tells backup tools to skip it and a walk of a file set that it is
    synco's (see ``session.ttl.is_synco_folder``).
    """
    if not private_folder(folder):
        return False
    try:
        tag = folder / CACHE_TAG
        if not tag.exists():
            tag.write_text(CACHE_TAG_TEXT)
        return True
    except OSError:
        return False


def _own_entry(candidate: Path) -> bool:
    """True when ``candidate``, in a folder anybody may write to, is a real folder of this user (made here
    if missing), never a link or anything else of that name.

    Any user can put a link there before the first serve: followed, it made serve chmod a folder of this
    user elsewhere (the home, a site's folder) to 0700, write ``CACHEDIR.TAG`` into it (which has backup
    tools skip it and all below) and keep its cache there. Once it is a folder of this user, the sticky
    bit of such a folder keeps others from renaming or replacing it.
    """
    with contextlib.suppress(OSError):
        os.mkdir(candidate, 0o700)
    try:
        info = candidate.lstat()
    except OSError:
        return False
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
        return True
    log.warning("not keeping synco's cache in %s: it is not a folder of this user (%s)", candidate,
                "a link" if stat.S_ISLNK(info.st_mode) else "another user's" if stat.S_ISDIR(info.st_mode)
                else "not a folder")
    return False


def content_budget() -> int:
    """Bytes of packed files' contents one set may keep (:data:`CONTENT_BUDGET_ENV`, else the default)."""
    return int(CACHE_CONTENT_MB.read() * 1024 * 1024)


def cache_folder(avoid: Iterable[Path]) -> Path | None:
    """The folder for synco's cache: the first candidate that is private and outside every ``avoid`` folder.

    ``avoid`` holds the web root and the public sets' folders (resolved here). None when no candidate
    works; serve then hashes every file.
    """
    roots = [Path(os.path.realpath(root)) for root in avoid]
    candidates = []
    if os.environ.get(CACHE_ENV):
        candidates.append(Path(os.environ[CACHE_ENV]))
    with contextlib.suppress(RuntimeError):
        candidates.append(user_cache_dir())
    shared = SHARED_PARENT / f"synco-cache-{os.getuid()}"
    candidates.append(shared)
    for candidate in candidates:
        if not candidate.is_absolute():
            continue
        if candidate == shared and not _own_entry(candidate):
            continue
        resolved = Path(os.path.realpath(candidate))
        if _inside(resolved, roots):
            log.warning("not keeping synco's cache in %s: it is inside the web root or a public file set", candidate)
            continue
        if _private_folder(resolved):
            return resolved
    return None


def clock_of(folder: Path) -> tuple[int, int] | None:
    """(device, nanoseconds its file system's clock is ahead of this computer's) of ``folder``, told by the
    change time of a file made there and gone at once (unnamed where the file system can); None when no file
    can be made. A clock of whole seconds reads up to a second behind: the window only grows."""
    before = time.time_ns()
    try:
        with tempfile.TemporaryFile(dir=folder) as probe:
            info = os.fstat(probe.fileno())
    except OSError:
        return None
    return info.st_dev, info.st_ctime_ns - before


def cache_file(folder: Path, owner: Path, set_name: str) -> Path:
    """The cache file of one public set: ``owner`` is the set's folder, or the project when it has none.

    Keyed by the real path, so the releases of a deployment (a new folder at every deploy, its uploads a
    link to the same shared folder) share one cache: the first serve after a deploy does not hash every
    upload again. Entries are trusted only while the file's inode and times are unchanged, whoever wrote them.
    """
    key = hashlib.sha256(f"{os.path.realpath(owner)}\0{set_name}".encode()).hexdigest()[:32]
    return folder / "hashes" / f"{key}.bin"


def remove_stale(folder: Path, keep: Path) -> None:
    """Remove what no serve will read again from ``folder`` (the ``hashes`` folder), whichever set it is of:
    cache files no serve has written for :data:`STALE_DAYS` days (a set's file is rewritten by each of its
    serves), and the temporary files of serves that were killed (their lock is free). ``keep`` (the cache this
    serve reads) and links or anything but files of this user are left alone."""
    stale_before = time.time() - STALE_DAYS * 86400
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        entry = folder / name
        with contextlib.suppress(OSError):
            if name.endswith(".tmp") and ".bin." in name:
                middle = name.rsplit(".bin.", 1)[1][:-len(".tmp")].split(".", 1)[0]
                if middle.isdigit():  # an older synco's "<pid>": removed once that process is gone
                    if not process_alive(int(middle)):
                        entry.unlink()
                elif middle.startswith("t"):
                    remove_file_if_unlocked(entry, os.getuid(), TEMP_GRACE)
            elif name.endswith((".bin", ".zst")) and entry != keep:
                info = entry.lstat()
                if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid() and info.st_mtime < stale_before:
                    log.debug("removing the hash cache %s: no serve has used it for %d days", entry, STALE_DAYS)
                    entry.unlink()


def _check(checked: bytes | memoryview) -> bytes:
    """A record's check: 64 bits of BLAKE2b over its fields, path and content. Any damage passes it by chance
    only (one in 2^64); a CRC-32 is blind to every damage that is a multiple of its polynomial. It covers the
    content too, so a kept content whose record's check holds is the content that was hashed into the record's
    SHA-256 when it was written (:meth:`HashCache._add_record` writes only a hash made of that content)."""
    return hashlib.blake2b(checked, digest_size=_CHECK.size).digest()


def _check_of(checked: bytes, content: bytes | None) -> bytes:
    """:func:`_check` of a record's fields and path (``checked``) followed by ``content``, without joining them."""
    hasher = hashlib.blake2b(checked, digest_size=_CHECK.size)
    if content:
        hasher.update(content)
    return hasher.digest()


def _fingerprint(info: os.stat_result) -> bytes:
    """The record's fingerprint of a file; b"" (never equal to a record's, never recorded) for a time in
    nanoseconds beyond what 64 bits hold: after 2262 or before 1677, which ext4 allows (up to 2446)."""
    try:
        return _FINGERPRINT.pack(info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)
    except struct.error:
        return b""


#: One entry of the old cache: path, fingerprint, SHA-256, the content when it was kept, and the record as
#: it is in the file (an unchanged file's record is copied into the new cache as it is).
_Entry = tuple[str, bytes, bytes, bytes | None, bytes]
#: Opening the old cache: never through a link, never waiting on a FIFO.
_OLD_FLAGS = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
#: Largest content a record may carry (a packed file is at most 16 KiB; this only bounds a damaged cache).
MAX_CONTENT_BYTES = 1024 * 1024


class _OldRecords:
    """The old cache's entries in order (an iterator that stops quietly at anything unexpected), and
    :meth:`take`: the next record compared as bytes where it is, for an unchanged file.

    The bytes read stay in one buffer: a record is parsed into an entry (its name decoded, fields sliced)
    only when :meth:`take` cannot match it as it lies, so an unchanged set costs one ``unpack`` and a few
    slice comparisons per file instead of an entry built and then compared.
    """

    def __init__(self, path: Path, old: BinaryIO) -> None:
        self.path = path
        self._file: BinaryIO | None = old
        self._data = b""
        self._at = 0
        #: The last name read: records must come in strictly increasing order.
        self.previous = ""

    def close(self) -> None:
        """Stop reading: nothing more is read or matched."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        self._data, self._at = b"", 0

    def _has(self, count: int) -> bool:
        """True when ``count`` bytes from the current record are in the buffer (reading more if needed)."""
        if len(self._data) - self._at >= count:
            return True
        if self._file is None:
            return False
        data = self._data[self._at:]
        self._at = 0
        try:
            while len(data) < count:
                more = self._file.read(max(BLOCK, count - len(data)))
                if not more:
                    # The end of the file: what the buffer holds is all there is.
                    self._file.close()
                    self._file = None
                    break
                data += more
        except OSError as exc:
            log.debug("hash cache %s ends early: %s", self.path, exc)
            self._data = data
            self.close()
            return False
        self._data = data
        return len(data) >= count

    def _end(self, why: str) -> None:
        log.debug("hash cache %s ends %s", self.path, why)
        self.close()

    def __iter__(self) -> Iterator[_Entry]:
        return self

    def __next__(self) -> _Entry:
        size = RECORD.size
        if not self._has(size):
            self.close()
            raise StopIteration
        check, file_size, _, _, _, _, digest, path_length, content_length = RECORD.unpack_from(self._data, self._at)
        if path_length > MAX_PATH_BYTES or content_length not in (0, file_size) or content_length > MAX_CONTENT_BYTES:
            self._end("at a record of impossible lengths")
            raise StopIteration
        length = size + path_length + content_length
        if not self._has(length):
            self.close()
            raise StopIteration
        at = self._at
        raw = self._data[at:at + length]
        if _check(memoryview(raw)[_CHECK.size:]) != check:
            self._end("at a damaged record")
            raise StopIteration
        name = raw[size:size + path_length].decode(errors="surrogateescape")
        if name <= self.previous:
            self._end("at a record out of order")
            raise StopIteration
        self.previous = name
        self._at = at + length
        return name, raw[_CHECK.size:_CHECK.size + _FINGERPRINT.size], digest, raw[size + path_length:] \
            if content_length else None, raw

    def take(self, path: str, name: bytes, fingerprint: bytes, size: int) -> tuple[bytes, bytes, bytes] | None:
        """(SHA-256, content, the record) when the next record is ``name``'s (``path`` encoded) with this
        ``fingerprint`` and a content of ``size`` bytes (the file's, which the fingerprint holds) and its check
        holds (over the content too: no SHA-256 of the content is needed); it is then read. None otherwise,
        with nothing read: :meth:`__next__` then judges the record as it always does (a damaged one ends the
        cache there). ``path`` must come after every path looked up before."""
        data, at = self._data, self._at
        name_length = len(name)
        stop = at + _RECORD_SIZE + name_length
        # Read ahead so that this record fits (or up to the file's end). Only as far as a matching record
        # reaches: asking for the largest record a cache may hold (1 MiB) had every refill copy the megabyte
        # left in the buffer again. (Not min(): that builtin call cost this loop about 0.4 µs a file.)
        need = size if size < MAX_CONTENT_BYTES else MAX_CONTENT_BYTES
        if len(data) < stop + need and self._file is not None:
            self._has(stop - at + need)
            data, at = self._data, self._at
            stop = at + _RECORD_SIZE + name_length
        # The name and the fingerprint first, compared where they lie (no slice copied), and most mismatches
        # stop there. The name's length is checked against the record's below; an empty fingerprint (a time
        # no record holds) matches nothing.
        if not (fingerprint and data.startswith(name, stop - name_length)
                and data.startswith(fingerprint, at + _CHECK_SIZE)):
            return None
        check, file_size, _, _, _, _, digest, path_length, content_length = _RECORD_UNPACK(data, at)
        end = stop + content_length
        if path_length != name_length or content_length != file_size or not 0 < content_length <= MAX_CONTENT_BYTES \
                or len(data) < end:
            return None
        if _check(memoryview(data)[at + _CHECK_SIZE:end]) != check:
            return None
        self.previous = path
        self._at = end
        return digest, data[stop:end], data[at:end]


class HashCache:
    """Hashes (and small files' contents) of the last serve, read in index order, and this serve's, written
    in index order.

    Call :meth:`lookup`, :meth:`lookup_content` and :meth:`record` with increasing paths; :meth:`commit` makes
    the new cache the current one, :meth:`discard` drops it (a failed serve keeps the old cache).
    """

    def __init__(self, path: Path | None, budget: int | None = None, clock: tuple[int, int] | None = None) -> None:
        """``clock`` (:func:`clock_of`): a device and how far its file system's clock is ahead of this
        computer's; its files are judged racy by that clock too."""
        self.path = path
        self.started_ns = time.time_ns()
        #: Content bytes this serve may still keep.
        self.budget = content_budget() if budget is None else budget
        self._old: Iterator[_Entry] = iter(())
        #: The old cache being read, when there is one (:meth:`take_content` matches its records as bytes).
        self._old_file: _OldRecords | None = None
        self._pending: _Entry | None = None
        self._new: BinaryIO | None = None
        self._temp: Path | None = None
        self._lock_fd = -1
        self._block = bytearray()
        self._fingerprinted: tuple[os.stat_result | None, bytes] = (None, b"")
        #: The last hit: the stat it was looked up with, the hash handed out, and the old entry.
        self._last_hit: tuple[os.stat_result, str, _Entry] | None = None
        self._racy_ns = self.started_ns - int(RACY_SECONDS * 1e9)
        # A file system whose clock is behind this computer's gives a file just changed times that already
        # look settled by this computer's clock: on its device, the earlier of the two moments decides. Each
        # device the set's files are on is measured when its first file is recorded (a set may span mounts:
        # an NFS share of uploads under a local web root), in that file's folder.
        self._clocks: dict[int, int] = {}
        if clock is not None:
            self._clocks[clock[0]] = min(self._racy_ns, self._racy_ns + clock[1])
        self.hits = self.misses = 0
        #: Files whose content came from the cache (counted in :attr:`hits` too).
        self.content_hits = 0
        #: True when the old cache holds contents (worth a stat before opening a small file).
        self.has_contents = False
        #: True once :meth:`hand_over` gave the rest of the new cache to another process.
        self._handed_over = False
        if path is None:
            return
        old = self._open_old(path)
        if old is not None:
            self._old = self._old_file = _OldRecords(path, old)
            self.has_contents = self.budget > 0
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._temp, fd = create_owned_temp(path, ".tmp")
            # The lock on the temporary file lives as long as this copy of its descriptor: past hand_over,
            # which closes the file while a worker appends to it, until commit or discard.
            self._lock_fd = os.dup(fd)
            self._new = os.fdopen(fd, "wb")
            self._new.write(HEADER)
        except OSError as exc:
            # The old cache is still read: only this serve's hashes are not kept.
            log.debug("hash cache %s not written: %s", path, exc)
            if self._new is not None:
                with contextlib.suppress(OSError):
                    self._new.close()
            self._new = None
            if self._temp is not None:
                with contextlib.suppress(OSError):
                    self._temp.unlink()
            self._temp = None
            self._release_lock()
            return
        remove_temps_of_dead_processes(path, ".tmp")
        # The first format's cache (zstd-compressed text) of the same set is never read again.
        with contextlib.suppress(OSError):
            path.with_suffix(".zst").unlink()
        # Killed serves' temporary files of other sets, and caches nobody served for long.
        remove_stale(path.parent, keep=path)

    @staticmethod
    def _open_old(path: Path) -> BinaryIO | None:
        """The old cache, past its header; None when there is none, it is in another format, or it is not a
        regular file of this user (a FIFO there would hang the serve in open(), a link could lead anywhere).
        """
        try:
            fd = os.open(path, _OLD_FLAGS)
        except OSError:
            return None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            log.debug("hash cache %s not read: not a regular file of this user", path)
            os.close(fd)
            return None
        handle = open(fd, "rb", buffering=0)  # noqa: SIM115 (handed to the caller, closed by _OldRecords)
        try:
            if handle.read(len(HEADER)) == HEADER:
                return cast(BinaryIO, handle)
        except OSError as exc:
            log.debug("hash cache %s not read: %s", path, exc)
        handle.close()
        return None

    def _find(self, path: str, info: os.stat_result) -> _Entry | None:
        self._fingerprinted = info, _fingerprint(info)
        pending = self._pending = seek(self._old, self._pending, path)
        if pending is not None and pending[0] == path and pending[1] == self._fingerprinted[1]:
            return pending
        return None

    def lookup(self, path: str, info: os.stat_result) -> str | None:
        """The cached SHA-256 of ``path`` if the file is unchanged since it was hashed."""
        entry = self._find(path, info)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        digest = entry[2].hex()
        self._last_hit = info, digest, entry
        return digest

    def lookup_content(self, path: str, info: os.stat_result) -> tuple[str, bytes] | None:
        """(SHA-256, content) of ``path`` if the file is unchanged since it was kept with its content.

        A miss is not counted: the caller reads the file and records it, or looks up its hash alone.
        """
        entry = self._find(path, info)
        if entry is None or entry[3] is None:
            return None
        if hashlib.sha256(entry[3]).digest() != entry[2]:
            # A record whose check holds over a content that is not its hash's (never written so, and the check
            # covers the content since the fourth format; kept as a second guard on this rare, parsed path): the
            # file is read again, and the record is dropped (never looked up again, never copied).
            log.debug("hash cache %s: the content kept for %s is damaged", self.path, path)
            self._pending = None
            return None
        self.hits += 1
        self.content_hits += 1
        digest = entry[2].hex()
        self._last_hit = info, digest, entry
        return digest, entry[3]

    def take_content(self, path: str, info: os.stat_result, source: str | None = None) -> tuple[str, bytes] | None:
        """:meth:`lookup_content` and :meth:`record` of the same file in one step, for the pipeline's most
        common case: an unchanged small file kept with its content, recorded again as it is.

        (SHA-256, content) when the file is unchanged since it was kept with its content; its record is then
        already in the new cache (copied as it is), so the caller must not record it again. None otherwise,
        with nothing recorded: the caller goes the long way (:meth:`lookup_content`, :meth:`lookup`, reading
        the file). Only for a caller with no record of an earlier file still to write (records are written
        in index order). ``source``: the file's path, whose folder's clock is measured (see :meth:`record`).
        """
        pending = self._pending
        fingerprint = _fingerprint(info)
        old = self._old_file
        # No record parsed ahead: the next one is matched where it lies, as bytes (an unchanged set's case).
        if pending is None and old is not None and \
                (taken := old.take(path, path.encode(errors="surrogateescape"), fingerprint, info.st_size)) is not None:
            raw_digest, content, raw = taken
        else:
            if pending is None or pending[0] < path:
                pending = self._pending = seek(self._old, pending, path)
            if pending is None or pending[0] != path or pending[3] is None or pending[1] != fingerprint:
                return None
            raw_digest, content, raw = pending[2], pending[3], pending[4]
            if hashlib.sha256(content).digest() != raw_digest:
                # Damaged: lookup_content drops the record and says so; the caller reads the file.
                return None
            # Used: the next path is later, so the next record is matched where it lies again.
            self._pending = None
        self.hits += 1
        self.content_hits += 1
        digest = raw_digest.hex()
        if self._new is not None:
            # _racy_of, its common case inline (a device measured already).
            racy = self._clocks.get(info.st_dev)
            if racy is None:
                racy = self._measure(info.st_dev, source)
            if info.st_mtime_ns < racy and info.st_ctime_ns < racy:
                if len(content) <= self.budget:
                    self.budget -= len(content)
                    self._block += raw
                else:
                    self._fingerprinted = info, fingerprint
                    self._add_record(path, info, digest, content)
                if len(self._block) >= BLOCK:
                    self._write_block()
        return digest, content

    def _racy_of(self, info: os.stat_result, source: str | None) -> int:
        """The moment from which a change of this file is too recent to be trusted."""
        racy = self._clocks.get(info.st_dev)
        return self._measure(info.st_dev, source) if racy is None else racy

    def _measure(self, device: int, source: str | None) -> int:
        """The racy moment of ``device``, measured in the folder of ``source`` (a file on it) once per serve.
        A device with no folder synco can make a file in (a read-only mount) is judged by this computer's
        clock, as every file was before devices were measured (docs/security.md says so)."""
        clock = clock_of(Path(source).parent) if source is not None else None
        if clock is None or clock[0] != device:
            log.debug("the clock of device %d is not measured (no file can be made beside %s); its files are "
                      "judged by this computer's clock", device, source)
            racy = self._racy_ns
        else:
            racy = min(self._racy_ns, self._racy_ns + clock[1])
        self._clocks[device] = racy
        return racy

    def record(self, path: str, info: os.stat_result, sha256: str, content: bytes | None = None,
               source: str | None = None) -> None:
        """Remember ``sha256`` (and ``content``, while the budget lasts) for ``path`` as it is now, unless it
        changed too recently to be trusted. ``source``, the file's path: the first file of a device not yet
        measured has its folder's clock measured (by a file made there and gone at once)."""
        if self._new is None:
            return
        racy = self._racy_of(info, source)
        if info.st_mtime_ns >= racy or info.st_ctime_ns >= racy:
            return
        last = self._last_hit
        old = last[2][3] if last is not None else None
        if last is not None and last[0] is info and last[1] is sha256 and (content is None) is (old is None) \
                and (old is None or len(old) <= self.budget):
            # Unchanged since the old cache: its record is copied as it is.
            if old is not None:
                self.budget -= len(old)
            self._block += last[2][4]
        else:
            self._add_record(path, info, sha256, content)
        if len(self._block) >= BLOCK:
            self._write_block()

    def _write_block(self) -> None:
        """Write the gathered records; a write that fails (a full disk, a quota) ends the new cache, never
        the serve: its files are simply read and hashed again by the next one."""
        if self._new is None:
            return
        try:
            self._new.write(self._block)
        except OSError as exc:
            self._give_up_writing(exc)
        self._block.clear()

    def _give_up_writing(self, exc: OSError) -> None:
        log.warning("synco's hash cache %s could not be written (%s); the next serve reads and hashes these "
                    "files again", self.path, exc.strerror or exc)
        new, self._new = self._new, None
        if new is not None:
            with contextlib.suppress(OSError):
                new.close()
        self._block.clear()
        # The temporary file is this process's own (a worker appending to the serve's leaves it: a record
        # cut short at its end only ends the cache there).
        if self._temp is not None:
            with contextlib.suppress(OSError):
                self._temp.unlink()
            self._temp = None

    def _add_record(self, path: str, info: os.stat_result, sha256: str, content: bytes | None) -> None:
        if content is not None and (len(content) > self.budget or len(content) != info.st_size or not content):
            content = None
        # The fingerprint of a file just looked up is not made twice.
        looked_up, fingerprint = self._fingerprinted
        if looked_up is not info:
            fingerprint = _fingerprint(info)
        if not fingerprint:
            return
        name = path.encode(errors="surrogateescape")
        checked = b"".join((fingerprint, _DIGEST.pack(bytes.fromhex(sha256), len(name), len(content) if content else 0),
                            name))
        if content:
            self.budget -= len(content)
        self._block += _check_of(checked, content)
        self._block += checked
        if content:
            self._block += content

    def _close_old(self) -> None:
        self._pending = None
        self._old = iter(())
        if self._old_file is not None:
            with contextlib.suppress(Exception):
                self._old_file.close()
            self._old_file = None

    def hand_over(self) -> dict[str, str | int] | None:
        """Write out what this process recorded and stop here: another process (:meth:`appending`) looks
        up and records the rest of the set, after the last path recorded here. None without a cache; a
        ``temp`` of "" when only the old cache can be read (the new one is not being written)."""
        self._close_old()
        if self.path is None:
            return None
        if self._new is not None:
            new, self._new = self._new, None
            try:
                with new:
                    new.write(self._block)
                self._handed_over = self._temp is not None
            except OSError as exc:
                self._give_up_writing(exc)
            self._block.clear()
        return {"path": os.fspath(self.path), "temp": os.fspath(self._temp) if self._handed_over and self._temp else "",
                "budget": self.budget, "racy_ns": self._racy_ns,
                "clocks": ",".join(f"{device}:{racy}" for device, racy in self._clocks.items())}

    @classmethod
    def appending(cls, state: dict[str, str | int]) -> HashCache:
        """The cache :meth:`hand_over` gave away, in the process that takes it: the old cache read from its
        start (lookups skip what comes before their path), new records appended to the same temporary file.
        :meth:`close_appended` ends it; the process that handed it over commits or discards it."""
        cache = cls(None, int(state["budget"]))
        path = Path(str(state["path"]))
        cache.path = path
        # The serve's own start decides which files changed too recently to be kept, not the worker's.
        cache._racy_ns = int(state["racy_ns"])
        # Devices measured already are not measured again (nor differently) in the worker.
        cache._clocks = {int(device): int(racy) for device, racy in
                         (pair.split(":") for pair in str(state["clocks"]).split(",") if pair)}
        old = cls._open_old(path)
        if old is not None:
            cache._old = cache._old_file = _OldRecords(path, old)
            cache.has_contents = cache.budget > 0
        if state["temp"]:
            try:
                fd = os.open(str(state["temp"]), os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW)
                cache._new = os.fdopen(fd, "wb")
            except OSError as exc:
                log.debug("hash cache %s not written: %s", path, exc)
        return cache

    def close_appended(self) -> None:
        """Write out what :meth:`appending`'s process recorded (it neither commits nor discards)."""
        self._close_old()
        if self._new is not None:
            new = self._new
            try:
                new.write(self._block)
                self._new = None
                new.close()
            except OSError as exc:
                self._new = new
                self._give_up_writing(exc)
            self._block.clear()

    def commit(self) -> None:
        """Replace the old cache with the one just written."""
        try:
            self._commit()
        finally:
            self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = -1

    def _commit(self) -> None:
        self._close_old()
        if self._handed_over and self._temp is not None and self.path is not None:
            try:
                os.replace(self._temp, self.path)
            except OSError as exc:
                log.debug("hash cache %s not saved: %s", self.path, exc)
                self.discard()
            return
        if self._new is None or self._temp is None or self.path is None:
            return
        try:
            self._new.write(self._block)
            self._new.close()
        except OSError as exc:
            self._give_up_writing(exc)
            return
        finally:
            self._new = None
        try:
            os.replace(self._temp, self.path)
        except OSError as exc:
            log.debug("hash cache %s not saved: %s", self.path, exc)
            self.discard()

    def discard(self) -> None:
        self._close_old()
        if self._new is not None:
            with contextlib.suppress(OSError):
                self._new.close()
            self._new = None
        if self._temp is not None:
            with contextlib.suppress(OSError):
                self._temp.unlink()
        self._release_lock()
