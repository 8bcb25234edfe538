"""The SHA-256 each local file of a public set had in the index it was last brought up to date with.

The comparison takes a local file of the index's size and mtime for current, as rsync's quick check does.
A file changed on the server with its size and mtime kept (``touch -r``, ``cp -p``, a deploy that gives
every file one fixed mtime) has another SHA-256 in the new index all the same: with the hash the local
file was received as, kept here, the receive sees the difference and fetches it. (A local edit that keeps
size and mtime is still not seen: only reading every local file would tell, which rsync does not either.)

One file per set beside ``.synco-received.json``: a header line, then ``path NUL sha256 LF`` per file in
index order, then ``end <SHA-256 of all before>``; read as a stream beside the merge (once the whole file
is found intact) and written as the merge goes, twice: as it is once the whole set arrived (every file the
index's hash), and as it is when some files did not (failed, or the receive was stopped): there a file to
fetch is noted as :data:`PENDING`, which no index hash is, so the next receive fetches it whatever its size
and mtime. Keeping the last complete receive's hashes instead took a file that did arrive, in a version of
the same size and mtime, for the old one once the server had that back (a deploy rolled back). A path that
a whole file has no line for was never received as any version (a local file, a file of the set left
behind without ``--delete``): of the index's size and mtime, it is read to tell too. A missing,
damaged or older file (or a link, a folder, a FIFO under its name) makes the receive judge by size and mtime
alone, as before it existed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from synco_core.fsutil import create_owned_temp, remove_temps_of_dead_processes
from synco_core.receive.files import sha256_of

log = logging.getLogger(__name__)

#: The first line of the file; any other makes it unknown (an older or newer format).
HEADER = b"synco-known-sha256 1\n"
#: The last line: this, the SHA-256 of all before it (hex), a line feed.
TRAILER = b"end "
#: Opening the old file: never through a link, never waiting on a FIFO.
_READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
#: Lines gathered before they are written.
BLOCK = 4096
#: Bytes of the old file read at a time.
READ_BLOCK = 256 * 1024
#: What a file to fetch is noted as for a receive that does not bring the whole set: it may hold the old
#: version or the new one, so it is no version at all.
PENDING = "0" * 64


def _intact(handle: BinaryIO, body: int) -> bool:
    """True when the first ``body`` bytes of ``handle`` are followed by the trailer naming their SHA-256."""
    digest, left = hashlib.sha256(), body
    while left > 0:
        chunk = handle.read(min(left, 1024 * 1024))
        if not chunk:
            return False
        digest.update(chunk)
        left -= len(chunk)
    return handle.read() == TRAILER + digest.hexdigest().encode() + b"\n"


def known_hashes_file(target: Path, local: str) -> Path:
    """Where the hashes of the set received into ``target / local`` are kept (a name of fixed length)."""
    key = hashlib.sha256(local.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return target / f".synco-known-{key}.sha256"


class _Draft:
    """One version of the new file, written as the merge goes; :attr:`lines` are without their line feed
    (an old file's line, split at its line feeds, is then noted as it is)."""

    def __init__(self, path: Path, suffix: str) -> None:
        # Locked while it is open: a later receive removes it only once this one is gone.
        self.temp, fd = create_owned_temp(path, suffix)
        self.lines: list[bytes] = []
        self.digest = hashlib.sha256(HEADER)
        self.out = os.fdopen(fd, "wb")
        self.out.write(HEADER)

    def flush(self) -> None:
        if not self.lines:
            return
        block = b"\n".join(self.lines) + b"\n"
        self.digest.update(block)
        self.out.write(block)
        self.lines.clear()

    def save(self, path: Path) -> None:
        self.flush()
        self.out.write(TRAILER + self.digest.hexdigest().encode() + b"\n")
        self.out.close()
        os.replace(self.temp, path)

    def drop(self) -> None:
        self.lines.clear()
        with contextlib.suppress(OSError):
            self.out.close()
        with contextlib.suppress(OSError):
            self.temp.unlink()


class KnownHashes:
    """The hashes of the last receive (:meth:`lookup`, increasing paths), and this receive's (:meth:`note`, in
    index order; :meth:`commit` when the whole set arrived, :meth:`keep_partial` when the merge was through but
    not every file arrived, else :meth:`discard`). ``write`` False only reads."""

    def __init__(self, path: Path, write: bool = True) -> None:
        self.path = path
        # Whether the old file was found whole (set as the first lookup reads it): a path it has no line for
        # was not received by synco as any version (a local file, a leftover of the set). A list the reader
        # fills, not this object: a generator holding this object would be a cycle, which keeps the old
        # file open until the garbage collector runs (a folder then cannot be unmounted).
        self._intact = [False]
        self._old: Iterator[tuple[str, str, bytes]] = self._read(path, self._intact)
        self._pending: tuple[str, str, bytes] | None = None
        #: (all arrived, some did not), or None when not written.
        self._drafts: tuple[_Draft, _Draft] | None = None
        if write:
            complete: _Draft | None = None
            try:
                complete = _Draft(path, ".part")
                self._drafts = (complete, _Draft(path, ".partial.part"))
            except OSError as exc:
                log.debug("known hashes %s not written: %s", path, exc)
                if complete is not None:
                    complete.drop()
            # What a receive that was killed left (its process is gone) is never read: removed, however
            # young. Only a receive writes these, under its lock on the folder (receive.session), so an
            # unlocked one is never one being born (run again at once, a killed receive's stayed a minute).
            remove_temps_of_dead_processes(path, ".part", grace=0.0)

    @staticmethod
    def _read(path: Path, intact: list[bool]) -> Iterator[tuple[str, str, bytes]]:
        """(path, SHA-256, the line as it is) of each line of the old file, once it is found intact."""
        try:
            fd = os.open(path, _READ_FLAGS)
        except OSError:
            return
        try:
            info = os.fstat(fd)
        except OSError:
            os.close(fd)
            return
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return
        with open(fd, "rb") as handle:
            try:
                # The whole file is checked before a line of it is used: a damaged line could name for one
                # path the hash noted for another.
                body = info.st_size - len(TRAILER) - 64 - 1
                if body < len(HEADER) or not _intact(handle, body):
                    return
                handle.seek(0)
                if handle.read(len(HEADER)) != HEADER:
                    return
                intact[0] = True
                # Read in blocks split into lines at once: a readline per file cost as much as the rest.
                left, previous, tail = body - len(HEADER), "", b""
                while left > 0:
                    chunk = handle.read(min(left, READ_BLOCK))
                    if not chunk:
                        intact[0] = False
                        return
                    left -= len(chunk)
                    lines = (tail + chunk).split(b"\n")
                    tail = lines.pop()
                    for line in lines:
                        name, separator, digest = line.partition(b"\0")
                        text = name.decode("utf-8", "surrogateescape")
                        if not separator or len(digest) != 64 or text <= previous:
                            intact[0] = False
                            return
                        previous = text
                        yield text, digest.decode("ascii", "replace"), line
                if tail:
                    # The body ends within a line: not a file this module wrote.
                    intact[0] = False
            except (OSError, ValueError) as exc:
                intact[0] = False
                log.debug("known hashes %s end early: %s", path, exc)

    def lookup(self, path: str) -> str | None:
        """The SHA-256 ``path`` was received as (lower-case hex); None when not known."""
        # index.order.seek written out: this runs once per file of the set.
        pending = self._pending
        if pending is None or pending[0] < path:
            old = self._old
            for pending in old:
                if pending[0] >= path:
                    break
            else:
                pending = None
            self._pending = pending
            if pending is None:
                return None
        return pending[1] if pending[0] == path else None

    def holds(self, path: str, sha256: str, local: str) -> bool:
        """True unless the local file ``local`` at ``path``, of the size and mtime an index entry of ``sha256``
        lists, is known not to be that version: received as another, or, when the file of hashes is whole
        and has no line for it (a local file, a file the set left behind), holding other bytes; a file noted
        as :data:`PENDING` is read to tell too."""
        was = self.lookup(path)
        if was is None and not self._intact[0]:
            return True  # No hashes to go by: size and mtime decide, as rsync's quick check.
        if was == sha256:
            return True
        return was in (None, PENDING) and sha256_of(local) == sha256

    def note(self, path: str, sha256: str, current: bool = True) -> None:
        """Note that ``path`` is to hold ``sha256`` once this receive is through; ``current``: it does already
        (else it is to be fetched, and noted as :data:`PENDING` for a receive that does not bring everything)."""
        if self._drafts is None:
            return
        # Index hashes are hex (wire.py checks them), so one encoding of the whole line is the same bytes.
        line = f"{path}\0{sha256.lower()}".encode("utf-8", "surrogateescape")
        complete, partial = self._drafts
        complete.lines.append(line)
        partial.lines.append(line if current else f"{path}\0{PENDING}".encode("utf-8", "surrogateescape"))
        if len(complete.lines) >= BLOCK:
            self._flush()

    def current(self, path: str, sha256: str, local: str) -> bool:
        """:meth:`holds` (``sha256`` in any case) and, when it holds, :meth:`note` of ``path`` as current, in one
        step: the merge's case for nearly every file of a re-sync. When the old file's line for ``path`` names
        ``sha256`` it is noted as it is, bytes the same as :meth:`note` makes (no line made per file)."""
        lowered = sha256.lower()
        if not self.holds(path, lowered, local):
            return False
        drafts = self._drafts
        if drafts is not None:
            pending = self._pending
            if pending is not None and pending[1] == lowered and pending[0] == path:
                line = pending[2]
                complete, partial = drafts
                complete.lines.append(line)
                partial.lines.append(line)
                if len(complete.lines) >= BLOCK:
                    self._flush()
            else:
                self.note(path, sha256, current=True)
        return True

    def _flush(self) -> None:
        assert self._drafts is not None
        complete, partial = self._drafts
        try:
            complete.flush()
            partial.flush()
        except OSError as exc:
            log.debug("known hashes %s not written: %s", self.path, exc)
            self.discard()

    def _save(self, which: int) -> None:
        if self._drafts is None:
            return
        kept, dropped = self._drafts[which], self._drafts[1 - which]
        self._drafts = None
        dropped.drop()
        try:
            kept.save(self.path)
        except OSError as exc:
            log.debug("known hashes %s not saved: %s", self.path, exc)
            kept.drop()
            # The old file no longer tells what the folder holds (files arrived since): none is better.
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def commit(self) -> None:
        """Keep this receive's hashes: every file of the set now holds what the index says."""
        self._save(0)

    def keep_partial(self) -> None:
        """Keep this receive's hashes for a set that did not fully arrive: the current files' hashes, and
        :data:`PENDING` for each file it was to fetch (arrived or not)."""
        self._save(1)

    def discard(self) -> None:
        """Drop this receive's hashes (its merge did not get through, so nothing was fetched): the old ones
        stay."""
        if self._drafts is not None:
            for draft in self._drafts:
                draft.drop()
            self._drafts = None
