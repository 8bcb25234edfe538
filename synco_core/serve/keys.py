"""The session key: an X25519 identity by default, an scrypt passphrase with ``--password``.

X25519 is the default because opening an artifact then costs microseconds, where every scrypt artifact
costs a deliberate second of key derivation. A passphrase is what Go synco v2 sessions use, so
``--password`` is the way to publish a session that the Go ``receive`` can read.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from synco_core import age
from synco_core.errors import ConfigError
from synco_core.redaction import register_secret

#: The work factor of the scrypt recipient; 18 is what age and Go synco use.
SCRYPT_WORK_FACTOR = 18
#: Characters of a generated passphrase: 32 letters and digits are 190 bits, far beyond what scrypt's cost
#: needs to protect.
PASSPHRASE_LENGTH = 32
#: Letters and digits only: the passphrase is pasted into a shell command unquoted, and one starting with
#: ``-`` would be read as an option.
PASSPHRASE_ALPHABET = string.ascii_letters + string.digits


def generate_passphrase() -> str:
    """A strong random passphrase for ``--compat`` sessions without ``--password``."""
    return "".join(secrets.choice(PASSPHRASE_ALPHABET) for _ in range(PASSPHRASE_LENGTH))


@dataclass
class SessionKey:
    """What encrypts a session (``recipients``) and what the receiver needs to open it (``secret``)."""

    #: The string printed in the receive command: ``AGE-SECRET-KEY-1...`` or the passphrase.
    secret: str = field(repr=False)
    recipients: Sequence[Any] = field(repr=False)
    kind: str = "x25519"

    @classmethod
    def generate(cls, password: str | None = None, work_factor: int | None = None) -> SessionKey:
        """A fresh X25519 identity, or the scrypt recipient of ``password``; the secret is registered.

        ``work_factor`` defaults to :data:`SCRYPT_WORK_FACTOR` (read at call time, so tests can lower it).
        """
        if password is not None:
            if not password:
                raise ConfigError("--password must not be empty")
            register_secret(password)
            recipient = age.ScryptRecipient(password, work_factor=work_factor or SCRYPT_WORK_FACTOR)
            return cls(secret=password, recipients=[recipient], kind="scrypt")
        identity = age.generate_identity()
        secret = identity.to_string()
        register_secret(secret)
        return cls(secret=secret, recipients=[identity.recipient()], kind="x25519")
