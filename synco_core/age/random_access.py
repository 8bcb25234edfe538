"""Random access into an age payload: decrypt chunks in the middle of a file without reading what comes before.

age's STREAM seals the plaintext in 64 KiB chunks, each authenticated on its own with the chunk's
counter (and the last-chunk flag) as its nonce. Chunk ``i`` of the plaintext is therefore the bytes
``[payload_offset + i * 65552, payload_offset + (i + 1) * 65552)`` of the file (the last one shorter), where
``payload_offset`` is the length of the header plus the 16-byte payload nonce, and it can be opened with the
payload key alone. A receiver that wants a few small files out of a large pack fetches just the chunks
holding them (HTTP ``Range``) and opens those.

What is authenticated: every chunk against its position (a chunk moved elsewhere fails), and the final
chunk against being final (so a chunk the sizes say is the last one must carry the flag, and one that is
not must not). What is not: that the bytes before and after the requested chunks exist; a caller that
needs whole-file integrity reads the whole file, or checks the content against a hash from an
authenticated source (the public files index carries a SHA-256 per file).

The payload key comes either from opening the header with an identity (:func:`open_payload`, what a reader
of a single file does) or from an authenticated document that lists it (a pack table inside the
encrypted session), which spares one request and one key derivation per file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from synco_core.age.errors import HeaderError, NoIdentityMatchError, PayloadError
from synco_core.age.header import FILE_KEY_SIZE, parse_header, verify_mac
from synco_core.age.recipients import Identity
from synco_core.age.stream import CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, NONCE_SIZE, TAG_SIZE, payload_key, read_full

__all__ = [
    "ChunkDecryptor",
    "chunk_count",
    "chunk_span",
    "encrypted_size",
    "encrypted_span",
    "merge_spans",
    "open_payload",
]


def chunk_count(plain_size: int) -> int:
    """Number of chunks of a payload of ``plain_size`` bytes (an empty payload is one empty chunk)."""
    if plain_size < 0:
        raise ValueError("a size cannot be negative")
    return max(1, -(-plain_size // CHUNK_SIZE))


def encrypted_size(plain_size: int, payload_offset: int) -> int:
    """Size of the whole file: header and nonce, the plaintext, and one tag per chunk."""
    return payload_offset + plain_size + chunk_count(plain_size) * TAG_SIZE


def chunk_span(plain_offset: int, length: int) -> tuple[int, int]:
    """The first and last chunk (inclusive) holding ``length`` bytes from ``plain_offset``.

    An empty range still names the chunk its offset falls in, so that a caller can treat every range alike.
    """
    if plain_offset < 0 or length < 0:
        raise ValueError("offsets and lengths cannot be negative")
    first = plain_offset // CHUNK_SIZE
    last = (plain_offset + length - 1) // CHUNK_SIZE if length else first
    return first, last


def encrypted_span(first_chunk: int, last_chunk: int, payload_offset: int, plain_size: int) -> tuple[int, int]:
    """The byte range ``[start, stop)`` of the file that holds chunks ``first_chunk..last_chunk``.

    ``stop`` never goes past the end of the file, so ``Range: bytes=start-(stop-1)`` asks for exactly
    those chunks.
    """
    count = chunk_count(plain_size)
    if not 0 <= first_chunk <= last_chunk < count:
        raise ValueError(f"chunks {first_chunk}..{last_chunk} are outside a payload of {count} chunk(s)")
    start = payload_offset + first_chunk * ENCRYPTED_CHUNK_SIZE
    stop = min(payload_offset + (last_chunk + 1) * ENCRYPTED_CHUNK_SIZE, encrypted_size(plain_size, payload_offset))
    return start, stop


def merge_spans(spans: Iterable[tuple[int, int]], gap: int = 0) -> list[tuple[int, int]]:
    """Chunk spans (first, last) merged where they overlap, touch, or lie at most ``gap`` chunks apart.

    A receiver asks for the merged spans instead of one range per file: fewer requests, at the price of
    ``gap`` chunks it did not need between two it did.
    """
    merged: list[tuple[int, int]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + 1 + gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def open_payload(inp: BinaryIO, identities: Sequence[Identity]) -> tuple[bytes, int]:
    """Read and verify the header of ``inp``; returns the payload key and the payload's offset in the file.

    ``inp`` must be at the start of the file; it is left right after the payload nonce. The errors are
    those of :func:`synco_core.age.decrypt_reader`.
    """
    header = parse_header(inp)
    # The spec makes a passphrase stanza exclusive whatever identities are offered, so an X25519 key must
    # not open a file that also carries an scrypt stanza.
    if len(header.stanzas) > 1 and any(s.type == "scrypt" for s in header.stanzas):
        raise HeaderError("an scrypt stanza must be the only stanza")
    file_key = None
    for identity in identities:
        file_key = identity.unwrap(header.stanzas)
        if file_key is not None:
            break
    if file_key is None:
        raise NoIdentityMatchError()
    if len(file_key) != FILE_KEY_SIZE:
        raise HeaderError("the file key is not 16 bytes")
    verify_mac(header, file_key)
    nonce = bytearray(NONCE_SIZE)
    if read_full(inp, memoryview(nonce)) != NONCE_SIZE:
        raise HeaderError("the payload nonce is missing or short")
    # The header as written: every line the parser read, then the MAC line, then the nonce.
    offset = len(header.mac_input) + len(b" ") + _mac_line_length(header.mac) + NONCE_SIZE
    return payload_key(file_key, bytes(nonce)), offset


def _mac_line_length(mac: bytes) -> int:
    # The MAC line is "--- " + unpadded base64 of the 32-byte MAC + "\n"; the prefix is in mac_input.
    return -(-len(mac) * 4 // 3) + 1


@dataclass
class ChunkDecryptor:
    """Opens chunks of one payload, given its key, its plaintext size and where it starts in the file."""

    key: bytes
    plain_size: int
    #: Bytes before the payload (header and nonce); :meth:`read` asks for file offsets with it added.
    payload_offset: int = 0

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise ValueError("a payload key is 32 bytes")
        self._aead = ChaCha20Poly1305(self.key)
        self._count = chunk_count(self.plain_size)

    @property
    def chunks(self) -> int:
        return self._count

    def decrypt(self, first_chunk: int, data: bytes | memoryview) -> bytes:
        """The plaintext of consecutive whole chunks starting at ``first_chunk``, each authenticated.

        ``data`` must hold whole encrypted chunks (the last one of the payload may be short, as the format
        makes it); anything else, a chunk that fails authentication, or chunks past the end raise
        :class:`PayloadError`.
        """
        view = memoryview(data).cast("B")
        if first_chunk < 0 or first_chunk >= self._count:
            raise PayloadError(f"chunk {first_chunk} is outside a payload of {self._count} chunk(s)")
        parts: list[bytes] = []
        counter = first_chunk
        position = 0
        while position < len(view):
            if counter >= self._count:
                raise PayloadError("data past the final chunk")
            last = counter == self._count - 1
            expected = (self.plain_size - counter * CHUNK_SIZE if last else CHUNK_SIZE) + TAG_SIZE
            sealed = view[position : position + expected]
            if len(sealed) != expected:
                raise PayloadError(f"chunk {counter} is truncated")
            nonce = counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")
            try:
                parts.append(self._aead.decrypt(nonce, sealed, None))
            except InvalidTag:
                raise PayloadError(f"chunk {counter} failed authentication") from None
            position += expected
            counter += 1
        if not parts:
            raise PayloadError(f"chunk {first_chunk} is missing")
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read(self, plain_offset: int, length: int, fetch: Callable[[int, int], bytes]) -> bytes:
        """``length`` plaintext bytes from ``plain_offset``; ``fetch(start, stop)`` returns file bytes.

        ``fetch`` is called once, for the whole chunk range (a ``Range`` request, a ``pread``).
        """
        if plain_offset + length > self.plain_size:
            raise ValueError(f"bytes {plain_offset}..{plain_offset + length} are past the payload's end")
        first, last = chunk_span(plain_offset, length)
        if not length:
            # At the end of a payload of whole chunks, the chunk an empty range's offset falls in does not
            # exist: the last one is read (and authenticated) instead, as for any other empty range.
            first = last = min(first, chunk_count(self.plain_size) - 1)
        start, stop = encrypted_span(first, last, self.payload_offset, self.plain_size)
        plain = self.decrypt(first, fetch(start, stop))
        skip = plain_offset - first * CHUNK_SIZE
        return plain[skip : skip + length]
