"""A session folder: encrypted artifacts written under temporary names, and the meta file kept current.

Nothing here knows where the folder lives (a web root, a temporary directory for ``synco pull``) or how it
is published. Every file appears under its final name only when complete: the receiver polls
``meta.json.enc`` while the session is built and must never read a half-written artifact.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import zstandard

from synco_core import age
from synco_core.wire import META_FILE, Meta

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

#: zstd level 3 is zstd's own default: several hundred MB/s on one core, well above what a database
#: dumper produces, at a ratio close to gzip -9 for SQL text.
ZSTD_LEVEL = 3
#: Temporary names end with this; the receiver never asks for them.
TEMP_SUFFIX = ".tmp"


@dataclass
class ArtifactStats:
    """What was written into one artifact."""

    file_name: str
    #: Plaintext bytes (before compression and encryption).
    size_bytes: int
    sha256: str
    encrypted_size_bytes: int
    compression: str | None


class PlaintextWriter(io.BufferedIOBase):
    """The writable end of an artifact: counts and hashes the plaintext, then compresses and encrypts it.

    Engines and the tar writer see an ordinary binary stream; they never learn about the layers below.
    """

    def __init__(self, sink: BinaryIO) -> None:
        super().__init__()
        self._sink = sink
        self._hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer, /) -> int:
        view = memoryview(data).cast("B")
        self._hash.update(view)
        self.size += len(view)
        self._sink.write(view)
        return len(view)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


class SessionFolder:
    """A folder holding one session's encrypted files, encrypted to ``recipients``."""

    def __init__(self, path: Path, recipients: Sequence[Any]) -> None:
        self.path = path
        self.recipients = list(recipients)

    def create(self) -> None:
        """Create the folder; it must not exist yet (an id collision would mix two sessions)."""
        self.path.mkdir(parents=True, exist_ok=False)

    def write_meta(self, meta: Meta) -> None:
        """Encrypt ``meta`` to a temporary file and rename it over ``meta.json.enc`` (atomic on POSIX)."""
        self.write_small(META_FILE, meta.to_bytes())

    def write_small(self, name: str, plaintext: bytes) -> int:
        """Encrypt a small in-memory document (meta, an index) atomically; returns the encrypted size."""
        final = self.path / name
        temp = final.with_name(name + TEMP_SUFFIX)
        try:
            with temp.open("wb") as out:
                writer = age.encrypt_writer(out, self.recipients)
                writer.write(plaintext)
                writer.close()
                out.flush()
                os.fsync(out.fileno())
                size = out.tell()
            os.replace(temp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        return size

    @contextlib.contextmanager
    def artifact(self, name: str, compress: bool = True) -> Iterator[tuple[PlaintextWriter, list[ArtifactStats]]]:
        """Stream an artifact: yields the plaintext writer and a list that holds its stats afterwards.

        The chain is plaintext -> (zstd) -> age -> ``name.tmp``, renamed to ``name`` when the block ends
        without error; on error the temporary file is removed.
        """
        final = self.path / name
        temp = final.with_name(name + TEMP_SUFFIX)
        stats: list[ArtifactStats] = []
        try:
            with temp.open("wb") as out:
                encrypted = age.encrypt_writer(out, self.recipients)
                compressor: Any = None
                if compress:
                    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL).stream_writer(
                        cast(BinaryIO, encrypted), closefd=False, write_return_read=True
                    )
                plain = PlaintextWriter(cast(BinaryIO, compressor or encrypted))
                yield plain, stats
                if compressor is not None:
                    # Closing the zstd writer ends the frame; closefd=False leaves the age writer open.
                    compressor.close()
                encrypted.close()
                out.flush()
                os.fsync(out.fileno())
                encrypted_size = out.tell()
            os.replace(temp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        stats.append(ArtifactStats(
            file_name=name, size_bytes=plain.size, sha256=plain.hexdigest(),
            encrypted_size_bytes=encrypted_size, compression="zstd" if compress else None,
        ))
