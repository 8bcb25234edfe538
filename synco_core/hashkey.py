"""The key of the ``hash`` sanitising transform: made for each dump, never written anywhere.

A plain digest of an e-mail address, a phone number or a name is no mask: whoever has the dump hashes the
candidates (a customer list, every number of a region) and compares. The engines hash the key followed by
the value instead, with a key they make when a dump starts and forget when it ends: equal values stay equal
within the dump (joins and unique columns keep working), but nothing outside it, the next dump included,
can be matched against them.
"""

from __future__ import annotations

import secrets

from synco_core.redaction import register_secret


def new_hash_key() -> str:
    """A fresh random key (hex, so it is the same bytes in every engine's SQL), hidden from logs and errors."""
    key = secrets.token_hex(32)
    register_secret(key)
    return key
