"""The exceptions synco raises on purpose.

Every error a user can cause (bad input, a refused connection, a wrong key) is a :class:`SyncoError`
whose message is one line that names what was wrong. The CLI prints it as ``Error: <message>`` and exits
with status 1; anything else is a bug and shows a traceback under ``--debug``.
"""

from __future__ import annotations


class SyncoError(Exception):
    """An error with a message fit for the user: one line, no secrets."""

    exit_code = 1


class ConfigError(SyncoError):
    """The project's configuration is missing, ambiguous or wrong."""


class DatabaseError(SyncoError):
    """A database refused a connection, a query or a load."""


class CryptoError(SyncoError):
    """An artifact could not be decrypted: wrong key, damaged header or damaged payload."""


class TransferError(SyncoError):
    """A download or upload failed."""


class UnsafePathError(SyncoError):
    """A path from the other side would escape its target (``..``, absolute, links out, devices)."""
