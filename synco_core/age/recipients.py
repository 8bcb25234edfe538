"""Recipients (who a file key is wrapped for) and identities (what unwraps it): X25519 keys and scrypt.

An X25519 stanza is ``-> X25519 <ephemeral share>`` whose body is the file key sealed with
ChaCha20-Poly1305 under HKDF-SHA256(shared secret, salt=share||recipient, info="age-encryption.org/v1/X25519")
and a zero nonce. An scrypt stanza is ``-> scrypt <salt> <log2 N>`` sealed the same way under
scrypt(passphrase, salt="age-encryption.org/v1/scrypt"||salt, N, r=8, p=1); it must be the only stanza.

Identities return ``None`` for stanzas that are not theirs (including a wrong key or passphrase, which shows
as a failed tag) and raise :class:`HeaderError` for stanzas of their type that are malformed, so a
damaged file is never reported as "wrong key".
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from synco_core.age import bech32
from synco_core.age.errors import AgeError, HeaderError
from synco_core.age.header import FILE_KEY_SIZE, Stanza, b64decode, b64encode

X25519_LABEL = b"age-encryption.org/v1/X25519"
SCRYPT_LABEL = b"age-encryption.org/v1/scrypt"
IDENTITY_HRP = "AGE-SECRET-KEY-"
RECIPIENT_HRP = "age"
DEFAULT_WORK_FACTOR = 18
MAX_WORK_FACTOR = 22
_ZERO_NONCE = bytes(12)
# The sealed file key: 16 bytes plus the 16-byte tag. Checking the length before decrypting keeps a stanza
# with a longer "file key" from being accepted.
_WRAPPED_SIZE = FILE_KEY_SIZE + 16
_WORK_FACTOR = re.compile(r"[1-9][0-9]{0,2}")


@runtime_checkable
class Identity(Protocol):
    """Something that can unwrap a file key from a header's stanzas."""

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """The file key if one of ``stanzas`` is for this identity, else ``None``.

        Raises :class:`HeaderError` when a stanza of this identity's type is malformed.
        """
        ...


@runtime_checkable
class Recipient(Protocol):
    """Something a file key can be wrapped for."""

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """The stanza(s) that let the matching identity recover ``file_key``."""
        ...


def _seal(key: bytes, file_key: bytes) -> bytes:
    return ChaCha20Poly1305(key).encrypt(_ZERO_NONCE, file_key, None)


def _open(key: bytes, body: bytes) -> bytes | None:
    try:
        return ChaCha20Poly1305(key).decrypt(_ZERO_NONCE, body, None)
    except InvalidTag:
        return None


def _x25519_wrap_key(shared: bytes, share: bytes, recipient: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=share + recipient, info=X25519_LABEL).derive(shared)


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class X25519Recipient:
    """An ``age1...`` public key."""

    def __init__(self, public_key: bytes) -> None:
        if len(public_key) != 32:
            raise AgeError("an X25519 recipient is 32 bytes")
        self._bytes = public_key
        self._key = X25519PublicKey.from_public_bytes(public_key)

    @classmethod
    def from_string(cls, text: str) -> X25519Recipient:
        """Parse an ``age1...`` recipient."""
        try:
            hrp, data = bech32.decode(text.strip())
        except bech32.Bech32Error as exc:
            raise AgeError(f"malformed age recipient: {exc}") from None
        if hrp != RECIPIENT_HRP or len(data) != 32:
            raise AgeError("malformed age recipient: not an age1... X25519 key")
        return cls(data)

    def to_string(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self._bytes)

    def __str__(self) -> str:
        return self.to_string()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, X25519Recipient) and other._bytes == self._bytes

    def __hash__(self) -> int:
        return hash(self._bytes)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        ephemeral = X25519PrivateKey.generate()
        share = _raw_public(ephemeral.public_key())
        shared = ephemeral.exchange(self._key)
        body = _seal(_x25519_wrap_key(shared, share, self._bytes), file_key)
        return [Stanza("X25519", (b64encode(share),), body)]


#: What a key that fails its checksum (or is cut short) is told, in words; the key itself is never repeated.
MISTYPED_KEY = ("the key is mistyped: an AGE-SECRET-KEY-1... key carries a checksum, and this one does not match "
                "it (a character changed, missing or added); copy the whole key as it was printed")


class X25519Identity:
    """An ``AGE-SECRET-KEY-1...`` private key."""

    def __init__(self, private_key: bytes) -> None:
        if len(private_key) != 32:
            raise AgeError("an X25519 identity is 32 bytes")
        self._bytes = private_key
        self._key = X25519PrivateKey.from_private_bytes(private_key)
        self._public = _raw_public(self._key.public_key())

    @classmethod
    def from_string(cls, text: str) -> X25519Identity:
        """Parse an ``AGE-SECRET-KEY-1...`` identity (the message never quotes it)."""
        try:
            hrp, data = bech32.decode(text.strip())
        except bech32.Bech32Error:
            raise AgeError(MISTYPED_KEY) from None
        if hrp.upper() != IDENTITY_HRP or len(data) != 32:
            raise AgeError(MISTYPED_KEY)
        return cls(data)

    @classmethod
    def generate(cls) -> X25519Identity:
        return cls(os.urandom(32))

    def to_string(self) -> str:
        return bech32.encode(IDENTITY_HRP, self._bytes)

    def recipient(self) -> X25519Recipient:
        return X25519Recipient(self._public)

    def __repr__(self) -> str:
        # Never show the secret, not even in a debug traceback.
        return f"X25519Identity(recipient={self.recipient().to_string()})"

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        for stanza in stanzas:
            if stanza.type != "X25519":
                continue
            if len(stanza.args) != 1:
                raise HeaderError("X25519 stanza must have exactly one argument")
            share = b64decode(stanza.args[0], "X25519 share")
            if len(share) != 32:
                raise HeaderError("X25519 share is not 32 bytes")
            if len(stanza.body) != _WRAPPED_SIZE:
                raise HeaderError("X25519 stanza body is not a wrapped 16-byte file key")
            try:
                shared = self._key.exchange(X25519PublicKey.from_public_bytes(share))
            except ValueError:
                # cryptography refuses the all-zero shared secret of low-order points, as the spec requires.
                raise HeaderError("X25519 share is a low-order point") from None
            file_key = _open(_x25519_wrap_key(shared, share, self._public), stanza.body)
            if file_key is not None:
                return file_key
        return None


def _scrypt_key(passphrase: str, salt: bytes, work_factor: int) -> bytes:
    kdf = Scrypt(salt=SCRYPT_LABEL + salt, length=32, n=1 << work_factor, r=8, p=1)
    return kdf.derive(passphrase.encode("utf-8"))


class ScryptRecipient:
    """A passphrase, for encrypting; ``work_factor`` is log2 of scrypt's N (18 costs about a second)."""

    def __init__(self, passphrase: str, work_factor: int = DEFAULT_WORK_FACTOR) -> None:
        if not passphrase:
            raise AgeError("the passphrase is empty")
        if not 1 <= work_factor <= 30:
            raise AgeError("scrypt work factor must be between 1 and 30")
        self._passphrase = passphrase
        self.work_factor = work_factor

    def __repr__(self) -> str:
        return f"ScryptRecipient(work_factor={self.work_factor})"

    def wrap(self, file_key: bytes) -> list[Stanza]:
        salt = os.urandom(16)
        body = _seal(_scrypt_key(self._passphrase, salt, self.work_factor), file_key)
        return [Stanza("scrypt", (b64encode(salt), str(self.work_factor)), body)]


class ScryptIdentity:
    """A passphrase, for decrypting; work factors above ``max_work_factor`` are refused (denial of service).

    ``remember`` keeps that many derived keys (by salt and work factor), so a file read again (a session's
    meta, polled until it is ready) costs one key derivation, not one per read. The keys are as secret as
    the passphrase and live as long as this object.
    """

    def __init__(self, passphrase: str, max_work_factor: int = MAX_WORK_FACTOR, remember: int = 0) -> None:
        self._passphrase = passphrase
        self.max_work_factor = max_work_factor
        self._remember = remember
        self._keys: dict[tuple[bytes, int], bytes] = {}
        #: Key derivations done (each costs 2^work factor memory-hard work).
        self.derivations = 0

    def _key(self, salt: bytes, work_factor: int) -> bytes:
        key = self._keys.get((salt, work_factor))
        if key is None:
            key = _scrypt_key(self._passphrase, salt, work_factor)
            self.derivations += 1
            if self._remember:
                if len(self._keys) >= self._remember:
                    self._keys.pop(next(iter(self._keys)))
                self._keys[(salt, work_factor)] = key
        return key

    def __repr__(self) -> str:
        return f"ScryptIdentity(max_work_factor={self.max_work_factor})"

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        for stanza in stanzas:
            if stanza.type != "scrypt":
                continue
            if len(stanzas) != 1:
                raise HeaderError("an scrypt stanza must be the only stanza")
            if len(stanza.args) != 2:
                raise HeaderError("scrypt stanza must have exactly two arguments")
            salt = b64decode(stanza.args[0], "scrypt salt")
            if len(salt) != 16:
                raise HeaderError("scrypt salt is not 16 bytes")
            if not _WORK_FACTOR.fullmatch(stanza.args[1]):
                raise HeaderError("malformed scrypt work factor")
            work_factor = int(stanza.args[1])
            if work_factor > self.max_work_factor:
                raise HeaderError(
                    f"scrypt work factor {work_factor} is above the limit of {self.max_work_factor}"
                )
            if len(stanza.body) != _WRAPPED_SIZE:
                raise HeaderError("scrypt stanza body is not a wrapped 16-byte file key")
            return _open(self._key(salt, work_factor), stanza.body)
        return None


def generate_identity() -> X25519Identity:
    """A new random X25519 identity."""
    return X25519Identity.generate()


def _looks_like_identity(key: str) -> bool:
    return key.strip().upper().startswith(IDENTITY_HRP)


def parse_identity(key: str, max_work_factor: int = MAX_WORK_FACTOR, remember: int = 0) -> Identity:
    """``AGE-SECRET-KEY-1...`` -> :class:`X25519Identity`; anything else is a passphrase (a
    :class:`ScryptIdentity` with ``max_work_factor`` and ``remember``)."""
    if _looks_like_identity(key):
        if key.strip().upper().startswith(IDENTITY_HRP + "PQ-"):
            raise AgeError("post-quantum age identities are not supported")
        return X25519Identity.from_string(key)
    return ScryptIdentity(key, max_work_factor, remember)


def recipient_for_key(key: str, work_factor: int = DEFAULT_WORK_FACTOR) -> Recipient:
    """The recipient whose files ``key`` opens: an identity's public key, or the passphrase itself."""
    identity = parse_identity(key)
    if isinstance(identity, X25519Identity):
        return identity.recipient()
    return ScryptRecipient(key, work_factor)
