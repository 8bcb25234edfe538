"""A temporary file for a huge row's literal, sealed with a key that only this process holds.

A row's INSERT starts with its size hint (:data:`~.splitter.SIZE_HINT`), and the size of an escaped value
is only known once all of it has been read: a huge row read off the connection in pieces goes to this
spool first, then from there to the dump. The file has no name (``tempfile.TemporaryFile``) and its
content is encrypted and authenticated in blocks (ChaCha20-Poly1305, the block's number as nonce, a fresh
random key per spool), so the row's values never rest on the disk in the clear, not even in freed blocks.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from synco_core.errors import DatabaseError, SyncoError
from synco_core.nospace import ELSEWHERE, NO_SPACE_ERRNOS, no_space, temporary_folder

#: Writes are gathered into blocks of about this size before they are sealed.
BLOCK_BYTES = 1 << 20


class SealedSpool:
    """Write pieces, then read them back once (:meth:`blocks`) in the same order; :meth:`close` at the end."""

    def __init__(self, what: str = "a huge row of the dump (held there, sealed, until its size is known)",
                 label: str = "a huge row") -> None:
        """``what`` names the spool's content in a full disk's message, ``label`` in any other failure's."""
        self.what, self.label = what, label
        try:
            self.file = tempfile.TemporaryFile(prefix="synco-row-")  # noqa: SIM115 (closed in close())
        except OSError as exc:
            raise _failed(exc, 0, what, label) from exc
        self.aead = ChaCha20Poly1305(ChaCha20Poly1305.generate_key())
        self.sealed = 0
        self.pending: list[bytes] = []
        self.pending_size = 0
        #: Bytes written so far.
        self.size = 0

    def write(self, piece: bytes) -> None:
        self.pending.append(piece)
        self.pending_size += len(piece)
        self.size += len(piece)
        if self.pending_size >= BLOCK_BYTES:
            self._seal()

    def _seal(self) -> None:
        if not self.pending:
            return
        block = self.aead.encrypt(self.sealed.to_bytes(12, "little"), b"".join(self.pending), None)
        self.pending, self.pending_size = [], 0
        try:
            self.file.write(len(block).to_bytes(4, "little"))
            self.file.write(block)
        except OSError as exc:
            raise _failed(exc, self.size, self.what, self.label) from exc
        self.sealed += 1

    def blocks(self) -> Iterator[bytes]:
        """What was written, in blocks."""
        self._seal()
        self.file.seek(0)
        for number in range(self.sealed):
            length = int.from_bytes(self.file.read(4), "little")
            try:
                yield self.aead.decrypt(number.to_bytes(12, "little"), self.file.read(length), None)
            except InvalidTag:
                raise DatabaseError("a huge row's temporary file changed on the disk while the dump wrote it") from None

    def close(self) -> None:
        # What is still buffered is never read again: a full disk refusing it must not replace the error that
        # stopped the dump (the descriptor is closed all the same).
        with contextlib.suppress(OSError):
            self.file.close()


def _failed(exc: OSError, size: int, what: str, label: str) -> SyncoError:
    if exc.errno in NO_SPACE_ERRNOS:
        return no_space(temporary_folder(), what, more_than=size, hint=ELSEWHERE)
    return DatabaseError(f"cannot write {label} to a temporary file in {tempfile.gettempdir()} "
                         f"({exc.strerror or exc}): free space there or point TMPDIR elsewhere")
