"""Bech32 (BIP-173, the original checksum constant, not bech32m) as age uses it for keys.

age encodes X25519 recipients as ``age1...`` and identities as ``AGE-SECRET-KEY-1...``. Unlike BIP-173
addresses, age strings are not limited to 90 characters (post-quantum keys are much longer), so no
length limit is applied here beyond a generous sanity cap.
"""

from __future__ import annotations

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_REV = {c: i for i, c in enumerate(_CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)

# Long enough for every key type age defines, short enough that garbage input cannot cost real work.
_MAX_LENGTH = 5000


class Bech32Error(ValueError):
    """The string is not valid bech32 (the message never repeats the string, which may be a secret)."""


def _polymod(values: list[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            if (top >> i) & 1:
                checksum ^= _GENERATOR[i]
    return checksum


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    accumulator = 0
    bits = 0
    result: list[int] = []
    max_value = (1 << to_bits) - 1
    for value in data:
        accumulator = (accumulator << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            result.append((accumulator >> bits) & max_value)
    if pad:
        if bits:
            result.append((accumulator << (to_bits - bits)) & max_value)
    elif bits >= from_bits or (accumulator << (to_bits - bits)) & max_value:
        # Leftover bits must be fewer than one input group and all zero, so that every byte string has
        # exactly one encoding.
        raise Bech32Error("non-zero padding in bech32 data")
    return result


def encode(hrp: str, data: bytes) -> str:
    """``data`` as bech32 with human-readable part ``hrp``; upper case if ``hrp`` is upper case."""
    lower_hrp = hrp.lower()
    values = _convert_bits(data, 8, 5, pad=True)
    polymod = _polymod([*_hrp_expand(lower_hrp), *values, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    text = lower_hrp + "1" + "".join(_CHARSET[v] for v in values + checksum)
    return text.upper() if hrp.isupper() else text


def decode(text: str) -> tuple[str, bytes]:
    """``(hrp, data)`` of a bech32 string; the hrp is returned in the case it was written in."""
    if len(text) > _MAX_LENGTH:
        raise Bech32Error("bech32 string too long")
    if text.lower() != text and text.upper() != text:
        raise Bech32Error("bech32 string mixes upper and lower case")
    if any(ord(c) < 33 or ord(c) > 126 for c in text):
        raise Bech32Error("invalid character in bech32 string")
    separator = text.rfind("1")
    if separator < 1 or separator + 7 > len(text):
        raise Bech32Error("bech32 separator misplaced")
    hrp = text[:separator]
    try:
        values = [_CHARSET_REV[c] for c in text[separator + 1 :].lower()]
    except KeyError:
        raise Bech32Error("invalid character in bech32 data") from None
    if _polymod([*_hrp_expand(hrp.lower()), *values]) != 1:
        raise Bech32Error("invalid bech32 checksum")
    return hrp, bytes(_convert_bits(values[:-6], 5, 8, pad=False))
