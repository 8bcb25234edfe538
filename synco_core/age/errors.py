"""The errors of the age layer, all :class:`~synco_core.errors.CryptoError` subclasses with one-line messages.

Callers that only care whether an artifact could be opened catch :class:`AgeError`; the subclasses tell a
wrong key apart from a damaged header and from a damaged or truncated payload, which is what a user needs
to know to decide between "ask for the right key" and "download it again".
"""

from __future__ import annotations

from synco_core.errors import CryptoError


class AgeError(CryptoError):
    """Something about an age file or key is wrong."""


class NoIdentityMatchError(AgeError):
    """None of the given identities (keys or passphrases) opens the file."""

    def __init__(self, message: str = "this key does not open this file") -> None:
        super().__init__(message)


class HeaderError(AgeError):
    """The header is malformed, uses an unsupported feature, or asks for too much work."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"damaged header: {reason}")


class HMACError(HeaderError):
    """The header's MAC does not match: the header was altered after it was written."""

    def __init__(self, reason: str = "the header MAC does not match (the header was altered)") -> None:
        super().__init__(reason)


class PayloadError(AgeError):
    """A payload chunk failed authentication, or the payload is truncated or followed by extra data."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"damaged or truncated payload: {reason}")
