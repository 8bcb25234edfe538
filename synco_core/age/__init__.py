"""The age v1 file format (age-encryption.org/v1), built on ``cryptography`` and the standard library.

Every artifact synco publishes is an age file, so any age tool can open it. Two recipient types are
supported: X25519 keys (``age1...`` / ``AGE-SECRET-KEY-1...``), the default for new sessions because
opening a file costs microseconds, and scrypt passphrases, which Go synco v2 sessions use.

Typical use::

    identity = generate_identity()
    with open("dump.sql.enc", "wb") as raw, encrypt_writer(raw, [identity.recipient()]) as out:
        out.write(data)
    with open("dump.sql.enc", "rb") as raw, decrypt_reader(raw, [identity]) as inp:
        data = inp.read()

Both directions stream in 64 KiB chunks, so memory stays flat whatever the size.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import BinaryIO

from synco_core.age.errors import AgeError, HeaderError, HMACError, NoIdentityMatchError, PayloadError
from synco_core.age.header import (
    AGE_MAGIC,
    FILE_KEY_SIZE,
    VERSION_LINE,
    Stanza,
    encode_header,
)
from synco_core.age.random_access import ChunkDecryptor, chunk_span, encrypted_span, open_payload
from synco_core.age.recipients import (
    Identity,
    Recipient,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    X25519Recipient,
    generate_identity,
    parse_identity,
    recipient_for_key,
)
from synco_core.age.stream import DecryptReader, EncryptWriter, payload_key, random_nonce

__all__ = [
    "AGE_MAGIC",
    "AgeError",
    "ChunkDecryptor",
    "DecryptReader",
    "EncryptWriter",
    "HMACError",
    "HeaderError",
    "Identity",
    "NoIdentityMatchError",
    "PayloadError",
    "Recipient",
    "ScryptIdentity",
    "ScryptRecipient",
    "Stanza",
    "X25519Identity",
    "X25519Recipient",
    "chunk_span",
    "decrypt_bytes",
    "decrypt_reader",
    "encrypt_bytes",
    "encrypt_writer",
    "encrypted_span",
    "generate_identity",
    "is_age_header",
    "open_payload",
    "parse_identity",
    "recipient_for_key",
]


def encrypt_writer(out: BinaryIO, recipients: Sequence[Recipient]) -> EncryptWriter:
    """Write the header for ``recipients`` to ``out`` and return a writer for the plaintext.

    The writer is a context manager; :meth:`EncryptWriter.close` writes the final chunk but leaves ``out``
    open. Raises :class:`ValueError` for no recipients, or an scrypt recipient alongside others (the
    format allows a passphrase only as the sole recipient).
    """
    if not recipients:
        raise ValueError("at least one recipient is needed")
    if len(recipients) > 1 and any(isinstance(r, ScryptRecipient) for r in recipients):
        raise ValueError("an scrypt (passphrase) recipient must be the only recipient")
    file_key = os.urandom(FILE_KEY_SIZE)
    stanzas = [stanza for recipient in recipients for stanza in recipient.wrap(file_key)]
    nonce = random_nonce()
    out.write(encode_header(stanzas, file_key) + nonce)
    return EncryptWriter(out, payload_key(file_key, nonce))


def decrypt_reader(inp: BinaryIO, identities: Sequence[Identity]) -> DecryptReader:
    """Read and verify the header of ``inp`` now and return a reader of the authenticated plaintext.

    Raises :class:`NoIdentityMatchError` when no identity opens the file, :class:`HeaderError` (or its
    subclass :class:`HMACError`) for a damaged header; the reader raises :class:`PayloadError` for a damaged
    or truncated payload when it reaches it. ``inp`` is never closed here.
    """
    key, _offset = open_payload(inp, identities)
    return DecryptReader(inp, key)


def encrypt_bytes(data: bytes, recipients: Sequence[Recipient]) -> bytes:
    """``data`` encrypted to ``recipients`` (for small values such as meta.json)."""
    out = io.BytesIO()
    with encrypt_writer(out, recipients) as writer:
        writer.write(data)
    return out.getvalue()


def decrypt_bytes(data: bytes, identities: Sequence[Identity]) -> bytes:
    """The plaintext of the age file ``data`` (for small values such as meta.json)."""
    with decrypt_reader(io.BytesIO(data), identities) as reader:
        return reader.read()


def is_age_header(prefix: bytes) -> bool:
    """True if ``prefix`` (the first bytes of a file or response) starts an age v1 file."""
    return prefix.startswith(VERSION_LINE)
