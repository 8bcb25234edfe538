"""How much a session may make the laptop download, hold in memory and write: what its meta declares.

A hostile server can send an artifact far larger than its meta says, or a small one that decompresses to
gigabytes (a zstd frame of run-length blocks expands 32,000-fold). So every stream receive reads is
counted against what was declared while it flows, and stops at the first byte too many, before that byte
is written or kept:

- the encrypted bytes of an artifact against ``encryptedSizeBytes`` (:class:`CappedSource` callers);
- the plaintext after decryption and decompression against ``sizeBytes`` (dumps, tars) or
  ``indexSizeBytes`` (indexes) (:class:`CappedReader`);
- a public file's body against the index's ``sizeBytes`` (:func:`check_declared`).

Sessions that do not declare a size (Go synco v2 writes no ``encryptedSizeBytes`` and no ``indexSizeBytes``)
are bounded by what can be derived: an age file holding N plaintext bytes is at most :func:`age_size_bound`
(N) bytes long, and a zstd frame of N bytes at most :func:`zstd_size_bound` (N). An index whose plain size
nothing declares (Go indexes, and this implementation's before it wrote ``indexSizeBytes``) is bounded by
:data:`UNDECLARED_INDEX_LIMIT`; the meta by :data:`META_LIMIT`.
"""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING, Any

from synco_core.errors import TransferError
from synco_core.sizes import human_size

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

#: The meta file is a few kilobytes; a server sending more than this is not sending a meta.
META_LIMIT = 16 * 1024 * 1024
#: A pack table lists about 200 bytes per pack of up to 8,192 files: 16 MiB covers 80,000 packs (over 600
#: million small files). It is read whole, so a meta declaring more (or nothing) must not decide how much
#: memory it takes.
PACK_TABLE_LIMIT = 16 * 1024 * 1024
#: What the message says when a limit is not a declared size but this module's bound for an undeclared one.
UNDECLARED = "allowed when the meta declares no size"
#: An index whose size nothing declares: Go synco's indexes list about 200 bytes per file, so this holds
#: well over two million files, and it is the most memory a hostile index can take.
UNDECLARED_INDEX_LIMIT = 512 * 1024 * 1024
#: age's STREAM: 64 KiB chunks, each with a 16-byte tag, after a 16-byte nonce.
_AGE_CHUNK = 64 * 1024
_AGE_TAG = 16
_AGE_NONCE = 16
#: Room for an age header: a few stanzas of about 150 bytes each, generously.
AGE_HEADER_LIMIT = 64 * 1024


class SizeExceededError(TransferError):
    """A stream went past the size its meta or index declares; reading stopped there."""


class NotDeclaredError(TransferError):
    """What arrived whole is not what the meta declares: its size, its SHA-256 or its form.

    Raised only for bytes age authenticated up to a final chunk, which no cut connection makes: another
    file of the session (every artifact is encrypted to the same key), of another session under the same
    passphrase, or a cache's older copy served under this one's name. Running again gets the same, so it is
    a refusal, and nothing of it is kept to resume from.
    """


def age_size_bound(plain: int) -> int:
    """The largest an age file holding ``plain`` bytes can be (header, nonce, chunks and their tags)."""
    chunks = max(1, -(-plain // _AGE_CHUNK))
    return AGE_HEADER_LIMIT + _AGE_NONCE + plain + chunks * _AGE_TAG


def zstd_size_bound(plain: int) -> int:
    """The largest a zstd frame of ``plain`` bytes can be (zstd's ``ZSTD_compressBound``, rounded up)."""
    return plain + (plain >> 8) + 64 * 1024


def encrypted_bound(plain: int, compression: str | None) -> int:
    """The most an artifact of ``plain`` declared bytes may take on the wire when its encrypted size is unknown."""
    return age_size_bound(zstd_size_bound(plain) if compression else plain)


def check_declared(received: int, declared: int, what: str, source: str = "declared") -> None:
    """Refuse once ``received`` bytes are more than the ``declared`` ones (call before keeping the excess).

    ``source`` says where the limit comes from, for the message (``declared``, or the rule that bounds an
    undeclared size).
    """
    if received > declared:
        raise SizeExceededError(f"{what}: more than the {declared} bytes {source} "
                                f"({human_size(declared)}); stopped reading there")


class CappedReader(io.RawIOBase):
    """Reads ``inner`` and fails as soon as more than ``limit`` bytes come out of it.

    Wrapped around a decompressor, it stops a bomb after ``limit`` bytes instead of after the whole frame:
    each read asks the decompressor for at most one buffer's worth. Given the ``sha256`` the content must
    have, it hashes what passes, and :meth:`verify` (once everything was read) refuses other content.
    """

    def __init__(self, inner: Any, limit: int, what: str, source: str = "declared", sha256: str | None = None) -> None:
        super().__init__()
        self._inner = inner
        self.limit = limit
        self.what = what
        self.source = source
        self.size = 0
        self.sha256 = sha256
        self._hash = hashlib.sha256() if sha256 else None

    def verify(self) -> None:
        """Read what is left, and refuse content that is not the ``sha256`` it was given (when it was)."""
        while self.read(1024 * 1024):
            pass
        if self._hash is not None and self._hash.hexdigest() != self.sha256:
            raise NotDeclaredError(f"{self.what}: does not match the SHA-256 the meta gives")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        # One byte more than the limit allows is enough to tell "exactly the limit" from "more".
        wanted = min(len(view), self.limit - self.size + 1)
        data = self._inner.read(wanted)
        count = len(data)
        check_declared(self.size + count, self.limit, self.what, self.source)
        view[:count] = data
        self.size += count
        if self._hash is not None:
            self._hash.update(data)
        return count


def read_capped(stream: Any, limit: int, what: str, source: str = "declared") -> bytes:
    """Everything ``stream`` holds, refused once it is more than ``limit`` bytes (read in 1 MiB pieces)."""
    reader = CappedReader(stream, limit, what, source)
    out = bytearray()
    while chunk := reader.read(1024 * 1024):
        out += chunk
    return bytes(out)
