"""A session key as it arrives after a copy and paste: what a chat tool or a word processor adds around it.

Quotes (curly ones too), a ``#`` or its URL-encoded ``%23`` in front, a full stop after: around an
``AGE-SECRET-KEY-1...`` key these make a text that is no key, which age would then take for a passphrase
and answer "this key does not open the session", sending the user to doubt the right key. Such a text is
refused with a line that names the characters around the key (never the key).
"""

from __future__ import annotations

import re

from synco_core.errors import ConfigError
from synco_core.redaction import printable

# The bech32 alphabet, in either case: where a key ends, whatever follows it.
_KEY = re.compile(r"AGE-SECRET-KEY-1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]*", re.IGNORECASE)

#: An age secret key's length: the prefix, then 32 bytes and a 6-character checksum in bech32.
KEY_LENGTH = len("AGE-SECRET-KEY-1") + 58

#: A run of key characters this long around the key may be part of a key (another one, or this one's tail
#: beyond a typo): it is counted in the message, never shown.
_KEY_LIKE = re.compile(r"[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{6,}", re.IGNORECASE)


def check_key_text(key: str) -> None:
    """Refuse ``key`` when it holds an age secret key with other characters around it, or one that is broken
    off (a line break, a space or a character no key has, inside it), in a line that shows no part of a key."""
    stripped = key.strip()
    match = _KEY.search(stripped)
    if match is None or match.span() == (0, len(stripped)):
        return
    before, after = stripped[:match.start()], stripped[match.end():]
    if len(match.group()) < KEY_LENGTH and after:
        # What follows is most likely the rest of the key: not a character of it is shown.
        raise ConfigError(f"the key breaks off after {len(match.group())} of its {KEY_LENGTH} characters (a line "
                          "break, a space or a character that is not in a key inside it); give the key exactly as "
                          "serve printed it, on one line")
    around = " and ".join(part for part in (f"{_shown(before)} before" if before else "",
                                             f"{_shown(after)} after" if after else "") if part)
    raise ConfigError(f"the key has {around} the AGE-SECRET-KEY-1... key (added when it was copied?); "
                      "give the key alone, exactly as serve printed it")


def _shown(text: str) -> str:
    """Characters found around the key, quoted, or their count where they may hold part of a key."""
    if _KEY_LIKE.search(text):
        return f"{len(text)} characters"
    return printable(repr(text))
