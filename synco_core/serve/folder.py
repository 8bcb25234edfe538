"""A session folder: encrypted artifacts written under temporary names, and the meta file kept current.

Nothing here knows where the folder lives (a web root, a temporary directory for ``synco pull``) or how it
is published. Every file appears under its final name only when complete: the receiver polls
``meta.json.enc`` while the session is built and must never read a half-written artifact.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from synco_core import age
from synco_core.errors import ConfigError, SyncoError
from synco_core.fsutil import atomic_output
from synco_core.wire import META_FILE, Meta

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

#: zstd level 3 is zstd's own default: several hundred MB/s on one core, well above what a database
#: dumper produces, at a ratio close to gzip -9 for SQL text.
ZSTD_LEVEL = 3
#: zstd's own range of ordinary levels (negative "fast" levels are left out on purpose: they trade too
#: much ratio for speed the database dumper cannot use anyway).
ZSTD_LEVELS = range(1, 23)
#: The compressor runs in worker threads of its own, so it overlaps with the dumper producing the next
#: rows, and cuts its input into 1 MiB jobs, which bounds its memory whatever the level's window.
#: Measured with benchmarks/bench_serve_zstd.py (200 MB of SQL text through zstd, age and fsync): level 3
#: took 2.5 s with one worker thread against 3.3 s in the caller, at the same peak memory (about 40 MB);
#: without a bounded job size a threaded compressor buffers several window sizes. A second worker pays
#: where the database sends faster than one zstd thread compresses at level 3 (PostgreSQL's COPY): the
#: 1.37 GB dump of bench_postgres.py --size full took 10.2-10.4 s with two against 12.4-13.7 s with one
#: (pg_dump | zstd -3 | age: 11.4-14.6 s), 5 MB more memory; MySQL, where the server's formatting is the
#: limit, was the same either way (within this host's noise).
ZSTD_THREADS = 2
ZSTD_JOB_SIZE = 1 << 20
#: How the default level searches database dumps for matches: level 3's window (2 MiB) and hash table (2^17
#: entries), but zstd's "fast" strategy (one hash table, as levels 1 and 2) instead of "dfast" (two), and
#: matches of at least 7 bytes instead of 5. SQL dumps are full of short digit runs and hex strings, where
#: short matches cost more to encode than they save: on the dumps of docs/performance.md ("zstd's search for
#: the default level") this compressed 20-30 % faster than zstd's own level 3, to fewer bytes on every one
#: (1-5 %). Only dumps get it: a tar of a tree of text files came out 4 % bigger, which is not what the
#: default level promises. Any zstd decoder reads the result: these are settings of the compressor only.
#: (1 is ``ZSTD_fast``, spelt as a number because zstandard is imported only where it is used.)
ZSTD_DUMP_TUNING = {"strategy": 1, "min_match": 7}
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


#: ``artifact_tee(name)`` may return a callable that gets a copy of every encrypted byte written to that
#: artifact, as it is written: ``synco pull`` sends the dump down the channel while it is being made,
#: instead of after it.
ArtifactTee = Callable[[str], Callable[[bytes], object] | None]


class SessionFolder:
    """A folder holding one session's encrypted files, encrypted to ``recipients``."""

    def __init__(self, path: Path, recipients: Sequence[Any], zstd_level: int = ZSTD_LEVEL,
                 artifact_tee: ArtifactTee | None = None) -> None:
        self.path = path
        self.recipients = list(recipients)
        #: The zstd level of compressed artifacts (an attribute, not an ``artifact`` argument, so the
        #: subclasses of ``synco pull`` keep the ``artifact(name, compress)`` signature).
        self.zstd_level = zstd_level
        self.artifact_tee = artifact_tee

    def create(self) -> None:
        """Create the folder; it must not exist yet (an id collision would mix two sessions)."""
        self.path.mkdir(parents=True, exist_ok=False)

    def write_meta(self, meta: Meta) -> None:
        """Encrypt ``meta`` to a temporary file and rename it over ``meta.json.enc`` (atomic on POSIX)."""
        self.write_small(META_FILE, meta.to_bytes())

    def write_small(self, name: str, plaintext: bytes) -> int:
        """Encrypt a small in-memory document (meta, an index) atomically; returns the encrypted size."""
        with _writing(self.path / name), atomic_output(self.path / name, TEMP_SUFFIX) as out:
            writer = age.encrypt_writer(out, self.recipients)
            writer.write(plaintext)
            writer.close()
            return out.tell()

    @contextlib.contextmanager
    def artifact(self, name: str, compress: bool = True, *,
                 dump: bool = False) -> Iterator[tuple[PlaintextWriter, list[ArtifactStats]]]:
        """Stream an artifact: yields the plaintext writer and a list that holds its stats afterwards.

        The chain is plaintext -> (zstd at :attr:`zstd_level`) -> age -> ``name.tmp``, renamed to ``name``
        when the block ends without error; on error the temporary file is removed. ``dump``: the artifact
        is a database dump, compressed with the settings for dumps (:func:`zstd_parameters`).
        """
        stats: list[ArtifactStats] = []
        with _writing(self.path / name), atomic_output(self.path / name, TEMP_SUFFIX) as out:
            tee = self.artifact_tee(name) if self.artifact_tee is not None else None
            sink: BinaryIO = out if tee is None else cast(BinaryIO, _TeeWriter(out, tee))
            encrypted = age.encrypt_writer(sink, self.recipients)
            compressor: Any = None
            if compress:
                compressor = _zstd_compressor(self.zstd_level, dump).stream_writer(
                    cast(BinaryIO, encrypted), closefd=False, write_return_read=True
                )
            plain = PlaintextWriter(cast(BinaryIO, compressor or encrypted))
            yield plain, stats
            if compressor is not None:
                # Closing the zstd writer ends the frame; closefd=False leaves the age writer open.
                compressor.close()
            encrypted.close()
            encrypted_size = out.tell()
        stats.append(ArtifactStats(
            file_name=name, size_bytes=plain.size, sha256=plain.hexdigest(),
            encrypted_size_bytes=encrypted_size, compression="zstd" if compress else None,
        ))


#: errno values only a write gives: the session folder's file system is full, over quota or read-only.
_WRITE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """A full (or read-only) file system while ``path`` is written: one line naming it, not a bare errno."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _WRITE_ERRORS:
            raise
        raise SyncoError(f"cannot write {path}: {exc.strerror or exc}") from None


class _TeeWriter(io.RawIOBase):
    """Writes to ``out`` and hands the same bytes to ``copy``."""

    def __init__(self, out: BinaryIO, copy: Callable[[bytes], object]) -> None:
        super().__init__()
        self._out = out
        self._copy = copy

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer, /) -> int:
        chunk = data if isinstance(data, bytes) else bytes(data)
        self._out.write(chunk)
        self._copy(chunk)
        return len(chunk)

    def flush(self) -> None:
        self._out.flush()


def _zstd_compressor(level: int, dump: bool = False) -> Any:
    """A zstd compressor with :func:`zstd_parameters`.

    ``zstandard`` is imported here, not at module level, so ``synco pull``'s zipapp can import this module
    on a remote host that lacks the package, as long as it writes uncompressed artifacts.
    """
    import zstandard

    return zstandard.ZstdCompressor(compression_params=zstd_parameters(level, dump))


def zstd_parameters(level: int, dump: bool = False) -> Any:
    """The ``zstandard.ZstdCompressionParameters`` of artifacts at ``level``, in :data:`ZSTD_THREADS` worker
    threads with :data:`ZSTD_JOB_SIZE` jobs (which bound its memory whatever the level's window): zstd's own
    search for the level, except for a database ``dump`` at the default level :data:`ZSTD_LEVEL`, which
    searches as :data:`ZSTD_DUMP_TUNING` says."""
    import zstandard

    if level not in ZSTD_LEVELS:
        raise ConfigError(f"--zstd-level {level} is outside {ZSTD_LEVELS.start}..{ZSTD_LEVELS.stop - 1}")
    tuning = ZSTD_DUMP_TUNING if dump and level == ZSTD_LEVEL else {}
    return zstandard.ZstdCompressionParameters.from_level(level, threads=ZSTD_THREADS, job_size=ZSTD_JOB_SIZE,
                                                          **tuning)
