"""Downloading one encrypted artifact: ``*.enc.part`` with Range resume, streaming decrypt and decompress.

The encrypted bytes are appended to ``<name>.enc.part`` as they arrive and, at the same time, fed
through age and zstd to a consumer (a file writer for dumps, the safe tar extractor for private sets).
Both streams are counted against what the meta declares (:mod:`synco_core.receive.limits`): the first
encrypted byte past the declared size, or the first plaintext byte past it, ends the download there.
When a download is interrupted, the part file keeps what arrived; the next run replays it through the
decryptor and asks the server only for the rest (``Range: bytes=N-``). A part file that turns out
to be damaged (age refuses it) is removed, so the next run starts clean instead of failing forever.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, cast

import zstandard

from synco_core import age
from synco_core.errors import CryptoError, TransferError, UnsafePathError
from synco_core.fsutil import open_private
from synco_core.receive.fallback import FALLBACK, SNIFF_BYTES, TITLE_BYTES, FallbackPageError, describe, is_page
from synco_core.receive.limits import (
    META_LIMIT,
    UNDECLARED,
    CappedReader,
    NotDeclaredError,
    SizeExceededError,
    check_declared,
    encrypted_bound,
    read_capped,
)
from synco_core.receive.transport import CHUNK_SIZE, RangeNotSatisfiableError, Response, Transport

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

log = logging.getLogger(__name__)

T = TypeVar("T")

#: ``on_bytes(n)`` is told about every chunk that arrives from the network (for progress bars).
BytesCallback = Callable[[int], None]


@dataclass
class ArtifactSpec:
    """What to download and how to check it."""

    #: The path at the transport (``synco-abc/dump.sql.zst.enc``).
    remote_path: str
    #: Where the encrypted bytes collect until the artifact is complete (``*.enc.part``).
    part_path: Path
    #: Size of the encrypted file, when the meta records it (Go synco does not: then it is bounded by
    #: what ``plain_size`` allows, see :func:`~synco_core.receive.limits.encrypted_bound`).
    encrypted_size: int | None = None
    #: Plaintext size (Go synco's ``sizeBytes``): the stream is refused the moment it grows past it, and
    #: verified to be exactly this long. None (no caller passes it) would leave the plaintext unbounded.
    plain_size: int | None = None
    sha256: str | None = None
    compression: str | None = None
    #: For messages: the file set's name.
    label: str = ""
    #: Filled in by :func:`receive_artifact`: the encrypted bytes that came over the network this time
    #: (less than the artifact when a part file was resumed).
    received: int = 0

    @property
    def encrypted_limit(self) -> int | None:
        """The most encrypted bytes this artifact may take: declared, or derived from the plain size."""
        if self.encrypted_size is not None:
            return self.encrypted_size
        if self.plain_size is None:
            return None
        return encrypted_bound(self.plain_size, self.compression)


class _ResumingSource(io.RawIOBase):
    """The encrypted stream: first what the part file already holds, then the network, appended as it comes."""

    def __init__(self, part_path: Path, existing: int, chunks: Iterator[bytes] | None,
                 on_bytes: BytesCallback | None, limit: int | None = None, label: str = "",
                 source: str = "declared") -> None:
        super().__init__()
        self._replay = part_path.open("rb") if existing else None
        self._replay_left = existing
        self._existing = existing
        self._limit = limit
        self._label = label
        self._source = source
        self._append = open_private(part_path, append=True) if chunks is not None else None
        self._chunks = chunks
        self._pending = memoryview(b"")
        self._on_bytes = on_bytes
        self.received = 0
        #: True once the server's body has ended (as opposed to the consumer stopping early).
        self.exhausted = chunks is None
        #: The start of what the network sent (even when refused for its size), to tell a page from an artifact.
        self.first = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        if self._replay is not None and self._replay_left > 0:
            count = self._replay.readinto(view[: min(len(view), self._replay_left)])
            if count:
                self._replay_left -= count
                return count
            # The part file shrank under us; what is left must come from the network.
            self._replay_left = 0
        if not self._pending:
            if self._chunks is None or self._append is None:
                return 0
            chunk = next(self._chunks, b"")
            if not chunk:
                self.exhausted = True
                return 0
            if not self.received:
                self.first = chunk[:SNIFF_BYTES]
            if self._limit is not None:
                # Checked before the chunk is kept: the part file never holds more than the meta allows.
                check_declared(self._existing + self.received + len(chunk), self._limit,
                               f"{self._label}: the server sent encrypted bytes", self._source)
            self._append.write(chunk)
            self.received += len(chunk)
            if self._on_bytes is not None:
                self._on_bytes(len(chunk))
            self._pending = memoryview(chunk)
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def close(self) -> None:
        for handle in (self._replay, self._append):
            if handle is not None:
                handle.close()
        super().close()


class HashingReader(io.RawIOBase):
    """Counts and hashes what the consumer reads, so the plaintext is verified without a second pass."""

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self._inner = inner
        self._hash = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        data = self._inner.read(len(view))
        count = len(data)
        view[:count] = data
        self._hash.update(data)
        self.size += count
        return count

    def drain(self) -> None:
        """Read (and hash) whatever the consumer left unread."""
        while self.read(CHUNK_SIZE):
            pass

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def receive_artifact(
    transport: Transport,
    spec: ArtifactSpec,
    identities: Sequence[Any],
    consume: Callable[[BinaryIO], T],
    on_bytes: BytesCallback | None = None,
) -> T:
    """Download, decrypt, decompress and verify ``spec``, handing the plaintext stream to ``consume``.

    Returns what ``consume`` returns. The consumer must write only under temporary names; this function
    raises (and the consumer's output must then be discarded) unless size and SHA-256 match. On success
    the part file is removed.

    A part file an earlier run left is continued. When what it makes with the rest fails authentication or
    the meta's checks, the part (not the server's file) may be what is wrong: it may hold the start of
    another file (a substitute cut off mid-way, which the server no longer sends; the same set of an
    earlier serve under the same ``--id``). The part is then dropped and the artifact fetched whole, once,
    in the same call, so ``consume`` may be called twice and must start afresh each time; only what fails
    on a whole download is the server's, and raised.
    """
    existing = spec.part_path.stat().st_size if spec.part_path.exists() else 0
    limit = spec.encrypted_limit
    try:
        return _receive_once(transport, spec, identities, consume, on_bytes)
    except (CryptoError, NotDeclaredError) as exc:
        if not existing or (limit is not None and existing > limit) or spec.part_path.exists():
            raise
        log.debug("%s: the part file of %d bytes did not continue into the server's file (%s); downloading it "
                  "whole", spec.remote_path, existing, exc)
    return _receive_once(transport, spec, identities, consume, on_bytes)


def _receive_once(
    transport: Transport,
    spec: ArtifactSpec,
    identities: Sequence[Any],
    consume: Callable[[BinaryIO], T],
    on_bytes: BytesCallback | None = None,
) -> T:
    spec.part_path.parent.mkdir(parents=True, exist_ok=True)
    existing = spec.part_path.stat().st_size if spec.part_path.exists() else 0
    limit = spec.encrypted_limit
    if limit is not None and existing > limit:
        log.debug("%s is longer than the artifact; starting over", spec.part_path)
        existing = 0
        _truncate(spec.part_path)
    with contextlib.ExitStack() as stack:
        chunks: Iterator[bytes] | None = None
        response: Response | None = None
        if spec.encrypted_size is None or existing < spec.encrypted_size:
            try:
                response = stack.enter_context(transport.open(spec.remote_path, offset=existing))
            except RangeNotSatisfiableError:
                # The part file already holds the whole artifact (a run that stopped after downloading).
                response = None
            if response is not None:
                if response.offset != existing:
                    # The server ignored the Range header: the body starts at 0, so must the part file.
                    log.debug("no range support for %s; downloading from the start", spec.remote_path)
                    _truncate(spec.part_path)
                    existing = 0
                if existing:
                    log.debug("resuming %s at byte %d", spec.remote_path, existing)
                    if on_bytes is not None:
                        on_bytes(existing)
                chunks = response.iter_bytes()
        elif on_bytes is not None:
            on_bytes(existing)
        source = stack.enter_context(_ResumingSource(
            spec.part_path, existing, chunks, on_bytes, limit, spec.label,
            "declared" if spec.encrypted_size is not None else "allowed for its declared plain size"))
        stack.callback(lambda: setattr(spec, "received", source.received))
        try:
            decrypted: Any = age.decrypt_reader(cast(BinaryIO, io.BufferedReader(source, CHUNK_SIZE)), identities)
            plain: Any = decrypted
            if spec.compression == "zstd":
                plain = zstandard.ZstdDecompressor().stream_reader(decrypted, read_size=CHUNK_SIZE)
            elif spec.compression:
                raise TransferError(f"{spec.label}: unsupported compression {spec.compression!r}")
            if spec.plain_size is not None:
                plain = CappedReader(plain, spec.plain_size, f"{spec.label}: the content after decryption")
            hashing = HashingReader(plain)
            result = consume(cast(BinaryIO, io.BufferedReader(hashing, CHUNK_SIZE)))
            hashing.drain()
        except (CryptoError, UnsafePathError, SizeExceededError, NotDeclaredError) as exc:
            # A damaged or foreign part file, an archive with unsafe paths or that is no archive at all (another
            # artifact of the session in its place), or an artifact larger than declared would fail the same
            # way on every rerun: drop it.
            source.close()
            short = spec.part_path.stat().st_size if spec.part_path.exists() else 0
            page = not existing and not isinstance(exc, UnsafePathError) and is_page(source.first)
            # An HTTP answer without a length (no Content-Length, not chunked) that ended short: it ends with its
            # connection, as a cut one does (a proxy passing a body on as it comes). Its bytes are kept.
            cut = (isinstance(exc, CryptoError) and source.exhausted and bool(spec.encrypted_size) and not page
                   and short < (spec.encrypted_size or 0) and getattr(response, "whole", None) is False)
            if cut:
                raise TransferError(f"{spec.label}: download interrupted after {short} of the {spec.encrypted_size} "
                                    "encrypted bytes the meta records: the server gave no length for its answer (no "
                                    "Content-Length) and closed the connection; running again continues it") from None
            spec.part_path.unlink(missing_ok=True)
            if page:
                raise FallbackPageError(f"{spec.label}: {spec.remote_path} is not on the server: {FALLBACK}") from None
            if isinstance(exc, CryptoError) and source.exhausted and spec.encrypted_size and \
                    short < spec.encrypted_size and getattr(response, "whole", False):
                # The server's answer was whole (its Content-Length met): its file is this short, and every
                # run gets the same. Nothing is kept to resume from.
                raise NotDeclaredError(f"{spec.label}: the server's file is shorter than the session says: "
                                       f"{spec.remote_path} ends after {short} of the {spec.encrypted_size} "
                                       "encrypted bytes the meta records") from None
            if isinstance(exc, CryptoError) and source.exhausted and spec.encrypted_size and \
                    short < spec.encrypted_size:
                # The body ended early without a broken connection: the file on the server is cut short,
                # which says more than the last chunk's failed authentication.
                raise TransferError(f"{spec.label}: truncated artifact: the server sent {short} of the "
                                    f"{spec.encrypted_size} encrypted bytes the meta records ({exc})") from None
            raise
        except zstandard.ZstdError as exc:
            source.close()
            spec.part_path.unlink(missing_ok=True)
            raise NotDeclaredError(f"{spec.label}: the decrypted artifact is not valid zstd ({exc})") from None
    # From here on age authenticated the whole stream up to its final chunk: what differs from the meta is
    # another file served under this one's name, not a download cut short.
    downloaded = spec.part_path.stat().st_size
    if spec.encrypted_size is not None and downloaded != spec.encrypted_size:
        spec.part_path.unlink(missing_ok=True)
        raise NotDeclaredError(f"{spec.label}: the server sent a whole encrypted file of {downloaded} bytes, the meta "
                               f"says {spec.encrypted_size}")
    if spec.plain_size is not None and hashing.size != spec.plain_size:
        spec.part_path.unlink(missing_ok=True)
        raise NotDeclaredError(f"{spec.label}: {hashing.size} bytes after decryption, the meta says {spec.plain_size}")
    if spec.sha256 and hashing.hexdigest() != spec.sha256.lower():
        spec.part_path.unlink(missing_ok=True)
        raise NotDeclaredError(f"{spec.label}: SHA-256 of the content does not match the meta")
    spec.part_path.unlink(missing_ok=True)
    return result


def fetch_small(transport: Transport, path: str, identities: Sequence[Any], compression: str | None = None,
                limit: int = META_LIMIT, plain_limit: int | None = None, source: str = UNDECLARED,
                plain_source: str | None = None, fresh: bool = False) -> bytes:
    """Download and decrypt a small encrypted document (meta, index) into memory.

    The first bytes must be an age header: a web server answering an unknown path with an HTML page and
    status 200 is told apart here. At most ``limit`` bytes are downloaded and at most ``plain_limit`` bytes
    (``limit`` when None) come out of decryption and decompression: both are counted as they flow, so a
    hostile server sending without end, or a small index that decompresses to gigabytes, is stopped at
    the first byte too many. ``source`` and ``plain_source`` (default: ``source``) say where the limits
    come from, for the message. ``fresh``: the document changes under its path (the meta), so it is asked
    for past any cache where the transport can (``open_fresh``).
    """
    opener: Any = getattr(transport, "open_fresh", None) if fresh else None
    with (opener(path) if opener is not None else transport.open(path)) as response:
        buffer = bytearray()
        for chunk in response.iter_bytes():
            check_declared(len(buffer) + len(chunk), limit, f"{path}: the server sent", source)
            buffer += chunk
    if not age.is_age_header(bytes(buffer[:64])):
        raise NotAnAgeFileError(f"{path} is not an encrypted synco file (got {describe(bytes(buffer[:TITLE_BYTES]))})")
    plain: Any = age.decrypt_reader(io.BytesIO(buffer), identities)
    if compression == "zstd":
        plain = zstandard.ZstdDecompressor().stream_reader(plain, read_size=CHUNK_SIZE)
    elif compression:
        raise TransferError(f"{path}: unsupported compression {compression!r}")
    try:
        return read_capped(plain, limit if plain_limit is None else plain_limit, f"{path}: the content",
                           plain_source or source)
    except zstandard.ZstdError as exc:
        raise TransferError(f"{path}: not valid zstd after decryption ({exc})") from None


def _truncate(path: Path) -> None:
    """Empty a part file (created private when it is not there)."""
    with open_private(path):
        pass


class NotAnAgeFileError(TransferError):
    """Something answered at the path, but it is not an age file (an HTML page, a redirect target ...)."""


