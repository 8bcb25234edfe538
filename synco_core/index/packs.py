"""Packs of small files: the files' contents back to back in one age file, so a first sync costs a request per
pack instead of one per file, and a re-sync fetches only the 64 KiB chunks that hold changed files.

A file of at most :data:`SMALL_FILE_MAX` bytes that serve can read from disk goes into the current pack, in
index order; a pack is closed once it holds :data:`PACK_TARGET_BYTES` or :data:`PACK_MAX_FILES` files. Its
index entry names the pack (by number) and where the file starts in the pack's plaintext, and keeps its
``publicUri``: a receiver that does not know packs (Go synco v2) fetches it by its URL as before, and one
that does may fall back to it.

Packs are age files like every other artifact, encrypted to the session's recipients (``age -d`` opens
them); the pack table, an encrypted artifact of its own, lists each pack's payload key and where its
payload starts, so a receiver opens chunks of a pack without fetching its header (see
``synco_core.age.random_access``). Contents are stored as they are: uploads are mostly compressed formats
already, and uncompressed chunks keep every file's position computable from the index alone.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from synco_core.fsutil import atomic_output
from synco_core.wire import PackInfo

if TYPE_CHECKING:
    from synco_core import age

#: Files up to this size are packed. A request costs a receiver some 100-200 µs whatever the size, while a
#: pack costs serve a read, an encryption and a write of every byte (about 10 ms per MB here, and again at
#: every serve, since packs are made per session): the two meet near 16 KiB. Above it a request's cost is
#: small next to the transfer itself, and the hash cache spares serve from reading the file at all.
SMALL_FILE_MAX = 16 * 1024
#: A pack is closed when its plaintext reaches this size. Packs of a few MB keep a first sync's parallel
#: downloads busy (dozens of packs per 100 MB) while costing one request each.
PACK_TARGET_BYTES = 4 * 1024 * 1024
#: ... or when it holds this many files, which bounds what a receiver keeps about one pack at a time.
PACK_MAX_FILES = 8192
#: Plaintext gathered before it goes to the encryptor (one call per block instead of one per file).
WRITE_BLOCK = 256 * 1024
#: Temporary names end with this until a pack is complete (as every artifact's, see SessionFolder).
TEMP_SUFFIX = ".tmp"


def pack_file_name(prefix: str, number: int) -> str:
    """``Resources-<set>.pack-00007.enc`` for ``prefix`` ``Resources-<set>``."""
    return f"{prefix}.pack-{number:05d}.enc"


class PackWriter:
    """Writes the packs of one public set into ``folder``, each complete before it gets its final name."""

    def __init__(self, folder: Path, prefix: str, recipients: list[Any]) -> None:
        self.folder = folder
        self.prefix = prefix
        self.recipients = recipients
        #: The packs closed so far, in order (the pack table).
        self.packs: list[PackInfo] = []
        self.files = 0
        self.bytes = 0
        self._stack: contextlib.ExitStack | None = None
        self._out: BinaryIO | None = None
        self._writer: age.EncryptWriter | None = None
        self._offset = 0
        self._size = 0
        self._count = 0
        self._block = bytearray()
        #: A full pack's last step (its fsync and rename) runs here, beside the next pack (see :meth:`_close`).
        self._closer: ThreadPoolExecutor | None = None
        self._closing: list[Future[None]] = []

    def add(self, content: bytes) -> tuple[int, int]:
        """Append one file's content; returns (pack number, offset in that pack's plaintext)."""
        if self._writer is None:
            self._open()
        number, offset = len(self.packs), self._size
        self._block += content
        if len(self._block) >= WRITE_BLOCK:
            self._flush()
        self._size += len(content)
        self._count += 1
        self.files += 1
        self.bytes += len(content)
        if self._size >= PACK_TARGET_BYTES or self._count >= PACK_MAX_FILES:
            self._close()
        return number, offset

    def _open(self) -> None:
        self._stack = contextlib.ExitStack()
        self._out = self._stack.enter_context(atomic_output(self.folder / pack_file_name(self.prefix, len(self.packs)),
                                                            TEMP_SUFFIX))
        # Imported here: serve's worker process imports this module for SMALL_FILE_MAX alone, and encryption
        # (cryptography) would cost it a third of its memory.
        from synco_core.age import encrypt_writer

        self._writer = encrypt_writer(self._out, self.recipients)
        self._offset = self._out.tell()
        self._size = self._count = 0

    def _flush(self) -> None:
        assert self._writer is not None
        self._writer.write(self._block)
        self._block = bytearray()

    def _close(self) -> None:
        assert self._writer is not None and self._out is not None and self._stack is not None
        self._flush()
        self._writer.close()
        encrypted = self._out.tell()
        # The pack's fsync and rename (atomic_output's end) wait for the disk: 10-25 ms a pack on a busy one,
        # during which this process would read no rows, and serve's worker process, whose pipe is then full,
        # would stop too. A thread does it (fsync gives up the GIL) while the next pack fills; finish()
        # waits for it, so the pack table is never published before every pack has its final name.
        if self._closer is None:
            self._closer = ThreadPoolExecutor(1, thread_name_prefix="synco-pack-close")
        self._closing.append(self._closer.submit(self._stack.close))
        self.packs.append(PackInfo(file_name=pack_file_name(self.prefix, len(self.packs)), size_bytes=self._size,
                                   encrypted_size_bytes=encrypted, payload_offset=self._offset,
                                   payload_key=self._writer.payload_key, file_count=self._count))
        self._writer = self._out = self._stack = None
        # A close that failed (a full disk) ends the set now rather than after every later pack.
        while self._closing and self._closing[0].done():
            self._closing.pop(0).result()

    def _closed(self) -> None:
        """Wait for every pack being closed; raises the first close's error."""
        try:
            for future in self._closing:
                future.result()
        finally:
            self._closing = []
            if self._closer is not None:
                self._closer.shutdown(wait=True)
                self._closer = None

    def finish(self) -> list[PackInfo]:
        """Close the last pack; returns the pack table once every pack has its final name."""
        if self._writer is not None:
            self._close()
        self._closed()
        return self.packs

    def abort(self) -> None:
        """Drop the pack being written (its temporary file goes; closed packs stay for the caller to remove,
        each with its final name or, if its close failed, none)."""
        if self._writer is not None:
            self._writer.abort()
        if self._stack is not None:
            with contextlib.suppress(Exception):
                self._stack.__exit__(RuntimeError, RuntimeError("aborted"), None)
        self._writer = self._out = self._stack = None
        with contextlib.suppress(Exception):
            self._closed()
