"""The SHA-256 each local file of a public set had in the index it was last brought up to date with.

The comparison takes a local file of the index's size and mtime for current, as rsync's quick check does.
A file changed on the server with its size and mtime kept (``touch -r``, ``cp -p``, a deploy that gives
every file one fixed mtime) has another SHA-256 in the new index all the same: with the hash the local
file was received as, kept here, the receive sees the difference and fetches it. (A local edit that keeps
size and mtime is still not seen: only reading every local file would tell, which rsync does not either.)

One file per set beside ``.synco-received.json``: a header line, then ``path NUL sha256 LF`` per file in
index order, then ``end <SHA-256 of all before>``; read as a stream beside the merge (once the whole file
is found intact) and written as the merge goes; it replaces the old one only when the whole set arrived
(nothing failed). A missing, damaged or older file (or a link, a folder, a FIFO under its name) makes the
receive judge by size and mtime alone, as before it existed.
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

from synco_core.fsutil import remove_temps_of_dead_processes
from synco_core.index.order import seek

log = logging.getLogger(__name__)

#: The first line of the file; any other makes it unknown (an older or newer format).
HEADER = b"synco-known-sha256 1\n"
#: The last line: this, the SHA-256 of all before it (hex), a line feed.
TRAILER = b"end "
#: Opening the old file: never through a link, never waiting on a FIFO.
_READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
#: Lines gathered before they are written.
BLOCK = 4096


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


class KnownHashes:
    """The hashes of the last complete receive (:meth:`lookup`, increasing paths), and this receive's
    (:meth:`note`, in index order; :meth:`commit` or :meth:`discard`). ``write`` False only reads."""

    def __init__(self, path: Path, write: bool = True) -> None:
        self.path = path
        self._old: Iterator[tuple[str, str]] = self._read(path)
        self._pending: tuple[str, str] | None = None
        self._temp = path.with_name(f"{path.name}.{os.getpid()}.part")
        self._new: BinaryIO | None = None
        self._lines: list[bytes] = []
        self._digest = hashlib.sha256(HEADER)
        if write:
            try:
                fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
                self._new = os.fdopen(fd, "wb")
                self._new.write(HEADER)
            except OSError as exc:
                log.debug("known hashes %s not written: %s", path, exc)
                self.discard()
            # What a receive that was killed left (its process is gone) is never read: removed.
            remove_temps_of_dead_processes(path, ".part")

    @staticmethod
    def _read(path: Path) -> Iterator[tuple[str, str]]:
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
                if handle.readline() != HEADER:
                    return
                at, previous = len(HEADER), ""
                while at < body:
                    line = handle.readline()
                    at += len(line)
                    name, separator, digest = line[:-1].partition(b"\0")
                    text = name.decode("utf-8", "surrogateescape")
                    if not separator or not line.endswith(b"\n") or len(digest) != 64 or text <= previous:
                        return
                    previous = text
                    yield text, digest.decode("ascii", "replace")
            except (OSError, ValueError) as exc:
                log.debug("known hashes %s end early: %s", path, exc)

    def lookup(self, path: str) -> str | None:
        """The SHA-256 ``path`` was received as (lower-case hex); None when not known."""
        pending = self._pending = seek(self._old, self._pending, path)
        return pending[1] if pending is not None and pending[0] == path else None

    def note(self, path: str, sha256: str) -> None:
        """Note that ``path`` is to hold ``sha256`` once this receive is through."""
        if self._new is None:
            return
        self._lines.append(f"{path}\0{sha256.lower()}\n".encode("utf-8", "surrogateescape"))
        if len(self._lines) >= BLOCK:
            self._flush()

    def _flush(self) -> None:
        if self._new is None:
            return
        block = b"".join(self._lines)
        self._digest.update(block)
        try:
            self._new.write(block)
        except OSError as exc:
            log.debug("known hashes %s not written: %s", self.path, exc)
            self.discard()
        self._lines.clear()

    def commit(self) -> None:
        """Keep this receive's hashes: every file of the set now holds what the index says."""
        self._flush()
        if self._new is None:
            return
        try:
            self._new.write(TRAILER + self._digest.hexdigest().encode() + b"\n")
            self._new.close()
            os.replace(self._temp, self.path)
        except OSError as exc:
            log.debug("known hashes %s not saved: %s", self.path, exc)
            self.discard()
        self._new = None

    def discard(self) -> None:
        """Drop this receive's hashes (the set did not fully arrive): the old ones stay."""
        self._lines.clear()
        if self._new is not None:
            with contextlib.suppress(OSError):
                self._new.close()
            self._new = None
        with contextlib.suppress(OSError):
            self._temp.unlink()
