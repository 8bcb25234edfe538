"""The age v1 header: parsing with every check the spec asks for, writing, and its HMAC.

A header is the version line, one or more stanzas (``-> type arg...`` plus a base64 body wrapped at 64
columns and ended by a short line), and the MAC line ``--- <base64 HMAC>``. The MAC covers every byte up
to and including ``---``. Base64 is the standard alphabet without padding and must be canonical.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from synco_core.age.errors import HeaderError, HMACError

AGE_MAGIC = b"age-encryption.org/v1"
VERSION_LINE = AGE_MAGIC + b"\n"
STANZA_PREFIX = b"->"
MAC_PREFIX = b"---"
FILE_KEY_SIZE = 16
MAC_SIZE = 32
BODY_COLUMNS = 64

# Limits that keep a hostile header from using unbounded memory. Real stanzas are far smaller (the largest,
# post-quantum, is under 2 KiB per line), and age itself writes one stanza per recipient.
MAX_LINE = 16 * 1024
MAX_HEADER = 1024 * 1024


@dataclass(frozen=True)
class Stanza:
    """One recipient stanza: its type (first argument), the remaining arguments, and the decoded body."""

    type: str
    args: tuple[str, ...]
    body: bytes


@dataclass(frozen=True)
class Header:
    """A parsed header: the stanzas, the MAC, and the exact bytes the MAC covers."""

    stanzas: tuple[Stanza, ...]
    mac: bytes
    mac_input: bytes


def b64encode(data: bytes) -> str:
    """Standard base64 without padding, as age writes it."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def b64decode(text: str | bytes, what: str) -> bytes:
    """Decode canonical unpadded base64 or raise :class:`HeaderError` naming ``what``."""
    raw = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    if b"=" in raw or len(raw) % 4 == 1:
        raise HeaderError(f"invalid base64 in {what}")
    try:
        data = base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise HeaderError(f"invalid base64 in {what}") from None
    # Unused trailing bits must be zero; re-encoding is the simplest exact check of that.
    if base64.b64encode(data).rstrip(b"=") != raw:
        raise HeaderError(f"non-canonical base64 in {what}")
    return data


def header_mac(file_key: bytes, mac_input: bytes) -> bytes:
    """HMAC-SHA256 of the header with the key HKDF-SHA256(file key, salt empty, info "header")."""
    mac_key = HKDF(hashes.SHA256(), 32, salt=b"", info=b"header").derive(file_key)
    return hmac.digest(mac_key, mac_input, "sha256")


def encode_header(stanzas: list[Stanza], file_key: bytes) -> bytes:
    """The complete header, MAC line included, for ``stanzas`` and ``file_key``."""
    parts = [VERSION_LINE]
    for stanza in stanzas:
        parts.append(b" ".join([STANZA_PREFIX, *(a.encode("ascii") for a in (stanza.type, *stanza.args))]) + b"\n")
        body = b64encode(stanza.body).encode("ascii")
        lines = [body[i : i + BODY_COLUMNS] for i in range(0, len(body), BODY_COLUMNS)]
        # The body must end with a line shorter than 64 columns, so a full (or absent) last line gets an
        # empty one after it.
        if not lines or len(lines[-1]) == BODY_COLUMNS:
            lines.append(b"")
        parts.extend(line + b"\n" for line in lines)
    parts.append(MAC_PREFIX)
    mac_input = b"".join(parts)
    return mac_input + b" " + b64encode(header_mac(file_key, mac_input)).encode("ascii") + b"\n"


def _is_argument(word: bytes) -> bool:
    return bool(word) and all(0x21 <= c <= 0x7E for c in word)


class _LineReader:
    """Reads header lines one by one without reading past the header, so the payload stays in the stream."""

    def __init__(self, inp: BinaryIO) -> None:
        self._inp = inp
        self.consumed = 0
        self.raw: list[bytes] = []
        self.last = b""

    def line(self) -> bytes:
        """The next line without its ``\\n``; raises if the header ends early or a line is too long."""
        line = self._inp.readline(MAX_LINE + 1)
        self.last = line
        self.consumed += len(line)
        if self.consumed > MAX_HEADER:
            raise HeaderError("header larger than 1 MiB")
        if not line.endswith(b"\n"):
            if len(line) > MAX_LINE:
                raise HeaderError("header line too long")
            raise HeaderError("header is truncated" if line or self.consumed else "the file is empty")
        self.raw.append(line)
        return line[:-1]


def _parse_body(lines: _LineReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        line = lines.line()
        if len(line) > BODY_COLUMNS:
            raise HeaderError("stanza body line longer than 64 columns")
        chunks.append(line)
        if len(line) < BODY_COLUMNS:
            return b64decode(b"".join(chunks), "stanza body")


def parse_header(inp: BinaryIO) -> Header:
    """Read and check the header's syntax; the MAC is checked later, once a file key is known."""
    lines = _LineReader(inp)
    try:
        version = lines.line()
    except HeaderError:
        # An HTML error page or a random binary file should be called what it is, not a truncated header.
        if lines.last and not lines.last.startswith(b"age-encryption.org/"[: len(lines.last)]):
            raise HeaderError("not an age file (no age-encryption.org/v1 line)") from None
        raise
    if version != AGE_MAGIC:
        if version.startswith(b"age-encryption.org/"):
            raise HeaderError("unsupported age format version")
        raise HeaderError("not an age file (no age-encryption.org/v1 line)")
    stanzas: list[Stanza] = []
    while True:
        line = lines.line()
        words = line.split(b" ")
        if words[0] == MAC_PREFIX:
            if len(words) != 2:
                raise HeaderError("malformed MAC line")
            mac = b64decode(words[1], "header MAC")
            if len(mac) != MAC_SIZE:
                raise HeaderError("header MAC has the wrong length")
            if not stanzas:
                raise HeaderError("no recipient stanza")
            # The MAC covers every byte as written up to and including "---" (not the space after it).
            mac_input = b"".join(lines.raw[:-1]) + MAC_PREFIX
            return Header(tuple(stanzas), mac, mac_input)
        if words[0] != STANZA_PREFIX:
            raise HeaderError("expected a stanza or the MAC line")
        if len(words) < 2 or not all(_is_argument(w) for w in words[1:]):
            raise HeaderError("malformed stanza line")
        args = tuple(w.decode("ascii") for w in words[1:])
        body = _parse_body(lines)
        stanzas.append(Stanza(args[0], args[1:], body))


def verify_mac(header: Header, file_key: bytes) -> None:
    """Raise :class:`HMACError` unless the header's MAC matches ``file_key``."""
    if not hmac.compare_digest(header_mac(file_key, header.mac_input), header.mac):
        raise HMACError()
