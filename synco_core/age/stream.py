"""The age STREAM payload: ChaCha20-Poly1305 over 64 KiB chunks with a counter nonce and a last-chunk flag.

The payload starts with a 16-byte nonce; the payload key is HKDF-SHA256(file key, salt=nonce,
info="payload"). Chunk ``i`` is sealed with the 12-byte nonce ``i`` (11 bytes, big-endian) followed by
``0x01`` on the final chunk and ``0x00`` otherwise. Only the final chunk may be shorter than 64 KiB, and it
may be empty only when the whole payload is.

Speed matters here (artifacts are gigabytes): each chunk costs one AEAD call, one read and one write, and
data is moved through preallocated buffers and memoryviews rather than concatenated.
"""

from __future__ import annotations

import io
import os
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from synco_core.age.errors import AgeError, PayloadError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
NONCE_SIZE = 16
# The counter is 11 bytes; a file would need 2^88 chunks to overflow it, but the check is free.
_MAX_COUNTER = (1 << 88) - 1


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    """HKDF-SHA256(ikm=file key, salt=payload nonce, info="payload")."""
    return HKDF(hashes.SHA256(), 32, salt=nonce, info=b"payload").derive(file_key)


def _chunk_nonce(counter: int, last: bool) -> bytes:
    if counter > _MAX_COUNTER:
        raise AgeError("payload too large for the age STREAM counter")
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def read_full(inp: BinaryIO, view: memoryview) -> int:
    """Fill ``view`` from ``inp`` unless the stream ends first; the number of bytes read.

    Pipes and sockets return short reads, so a short count here means end of stream, never "not yet".
    """
    readinto = getattr(inp, "readinto", None)
    filled = 0
    total = len(view)
    while filled < total:
        if readinto is not None:
            count = readinto(view[filled:])
        else:
            data = inp.read(total - filled)
            count = len(data)
            view[filled : filled + count] = data
        if not count:
            break
        filled += count
    return filled


class EncryptWriter(io.BufferedIOBase):
    """Writes the STREAM payload of the plaintext written to it (the header is already on ``out``).

    At most one chunk is buffered: a full chunk is sealed only when more data arrives, because until then it
    might be the last. :meth:`close` (or leaving the ``with`` block without an exception) seals the final
    chunk; it does not close ``out``. A writer left without :meth:`close`, or whose ``with`` block raised,
    never writes its final chunk, so a reader will see the output as truncated rather than complete.
    """

    def __init__(self, out: BinaryIO, key: bytes) -> None:
        super().__init__()
        self._out = out
        #: The payload key, for a writer that lists it in an encrypted document of its own (a pack table),
        #: so readers can open chunks of this file without its header (see ``age.random_access``).
        self.payload_key = key
        self._aead = ChaCha20Poly1305(key)
        self._pending = bytearray(CHUNK_SIZE)
        self._pending_view = memoryview(self._pending)
        self._pending_len = 0
        self._counter = 0
        self._finished = False

    def writable(self) -> bool:
        return True

    def _seal(self, chunk: memoryview, last: bool) -> None:
        self._out.write(self._aead.encrypt(_chunk_nonce(self._counter, last), chunk, None))
        self._counter += 1

    def write(self, buffer: ReadableBuffer, /) -> int:
        if self._finished:
            raise ValueError("write to a closed age writer")
        view = memoryview(buffer)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        total = len(view)
        position = 0
        while position < total:
            if self._pending_len == CHUNK_SIZE:
                # More data follows, so the buffered chunk is not the last one.
                self._seal(self._pending_view, last=False)
                self._pending_len = 0
            if self._pending_len == 0 and total - position > CHUNK_SIZE:
                # Seal whole chunks straight from the caller's buffer: more of this same call follows each
                # of them, so none can be the last, and copying them first would only cost time.
                self._seal(view[position : position + CHUNK_SIZE], last=False)
                position += CHUNK_SIZE
                continue
            take = min(CHUNK_SIZE - self._pending_len, total - position)
            self._pending_view[self._pending_len : self._pending_len + take] = view[position : position + take]
            self._pending_len += take
            position += take
        return total

    def flush(self) -> None:
        if not self._finished:
            self._out.flush()

    def close(self) -> None:
        """Seal the final chunk (once) and flush ``out``; ``out`` itself stays open."""
        if not self._finished:
            self._finished = True
            self._seal(self._pending_view[: self._pending_len], last=True)
            self._pending_len = 0
            self._out.flush()
        super().close()

    def abort(self) -> None:
        """Stop without sealing the final chunk, so what was written reads back as truncated."""
        self._finished = True
        super().close()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        # IOBase.__del__ would call close() and seal a final chunk for a writer that was abandoned after an
        # error, turning a truncated output into one that looks complete. Abandoned writers stay unsealed.
        if not self._finished:
            self.abort()


class DecryptReader(io.BufferedIOBase):
    """Reads and authenticates the STREAM payload after the header and payload nonce were consumed.

    Every chunk is authenticated before any of its bytes are returned. A payload that stops before its
    final chunk, an empty final chunk after other chunks, or data after the final chunk raise
    :class:`PayloadError` when the reader gets there. Closing the reader does not close ``inp``.
    """

    def __init__(self, inp: BinaryIO, key: bytes) -> None:
        super().__init__()
        self._inp = inp
        self._aead = ChaCha20Poly1305(key)
        self._buffer = bytearray(ENCRYPTED_CHUNK_SIZE)
        self._buffer_view = memoryview(self._buffer)
        self._counter = 0
        self._eof = False
        self._chunk = b""
        self._offset = 0

    def readable(self) -> bool:
        return True

    def _open(self, length: int, last: bool) -> bytes:
        return self._aead.decrypt(_chunk_nonce(self._counter, last), self._buffer_view[:length], None)

    def _next_chunk(self) -> bytes:
        """The next authenticated plaintext chunk, or ``b""`` at the verified end of the payload."""
        if self._eof:
            return b""
        length = read_full(self._inp, self._buffer_view)
        if length < TAG_SIZE:
            if length == 0 and self._counter == 0:
                raise PayloadError("the payload is missing")
            if length == 0:
                raise PayloadError("the final chunk is missing (truncated file)")
            raise PayloadError(f"chunk {self._counter} is truncated")
        if length == ENCRYPTED_CHUNK_SIZE:
            try:
                plaintext = self._open(length, last=False)
            except InvalidTag:
                # A full chunk may still be the final one; only the nonce flag tells.
                plaintext = self._open_last(length)
                if read_full(self._inp, memoryview(bytearray(1))):
                    raise PayloadError("data after the final chunk") from None
        else:
            # A short read means the stream ended, so this chunk must be the final one.
            plaintext = self._open_last(length)
        self._counter += 1
        return plaintext

    def _open_last(self, length: int) -> bytes:
        try:
            plaintext = self._open(length, last=True)
        except InvalidTag:
            raise PayloadError(f"chunk {self._counter} failed authentication") from None
        if not plaintext and self._counter:
            raise PayloadError("empty final chunk after other chunks")
        self._eof = True
        return plaintext

    def _refill(self) -> bool:
        """Make the current chunk non-empty; False at the end of the payload."""
        if self.closed:
            raise ValueError("read from a closed age reader")
        while self._offset >= len(self._chunk):
            self._chunk = self._next_chunk()
            self._offset = 0
            if not self._chunk and self._eof:
                return False
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            return self.readall()
        if not size or not self._refill():
            return b""
        available = len(self._chunk) - self._offset
        if size <= available:
            return self._take(size)
        parts = [self._take(available)]
        missing = size - available
        while missing and self._refill():
            part = self._take(missing)
            parts.append(part)
            missing -= len(part)
        return b"".join(parts)

    def _take(self, size: int) -> bytes:
        start = self._offset
        end = min(start + size, len(self._chunk))
        self._offset = end
        if start == 0 and end == len(self._chunk):
            # A whole chunk: hand over the bytes object itself instead of a copy.
            return self._chunk
        return self._chunk[start:end]

    def read1(self, size: int = -1, /) -> bytes:
        if not self._refill():
            return b""
        available = len(self._chunk) - self._offset
        return self._take(available if size < 0 else min(size, available))

    def readall(self) -> bytes:
        parts = []
        while self._refill():
            parts.append(self._take(len(self._chunk) - self._offset))
        return b"".join(parts)

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and self._refill():
            filled += self._copy_into(view[filled:])
        return filled

    def readinto1(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        if not len(view) or not self._refill():
            return 0
        return self._copy_into(view)

    def _copy_into(self, view: memoryview) -> int:
        count = min(len(view), len(self._chunk) - self._offset)
        view[:count] = self._chunk[self._offset : self._offset + count]
        self._offset += count
        return count

    def close(self) -> None:
        """Mark the reader closed; ``inp`` stays open (its owner closes it)."""
        super().close()


def random_nonce() -> bytes:
    """A fresh payload nonce."""
    return os.urandom(NONCE_SIZE)
