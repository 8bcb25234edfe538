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


def check_key_text(key: str) -> None:
    """Refuse ``key`` when it holds an age secret key with other characters around it."""
    stripped = key.strip()
    match = _KEY.search(stripped)
    if match is None or match.span() == (0, len(stripped)):
        return
    before, after = stripped[:match.start()], stripped[match.end():]
    around = " and ".join(part for part in (f"{before!r} before" if before else "",
                                             f"{after!r} after" if after else "") if part)
    raise ConfigError(f"the key has {printable(around)} the AGE-SECRET-KEY-1... key (added when it was copied?); "
                      "give the key alone, exactly as serve printed it")
