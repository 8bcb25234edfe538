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


class NotConfirmedError(SyncoError):
    """A change that needs the user's yes did not get it: the answer was no, or there was no terminal to ask on.

    Every command that asks first (install, ``receive --install``, rollback, ``db load``) refuses with
    these same words, so a script learns the same fix (``--yes``) from each.
    """

    def __init__(self, verb: str, *, asked: bool) -> None:
        """``verb``: what would have happened (``install``, ``roll back``); ``asked``: the user answered no."""
        if asked:
            message = f"not confirmed, so nothing was changed (pass --yes to {verb} without asking)"
        else:
            message = (f"not confirmed: there is no terminal to ask on; pass --yes to {verb} without asking "
                       "(nothing was changed)")
        super().__init__(message)
