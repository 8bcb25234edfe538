"""The database dump as it arrives during a pull: decrypted, checked, written and readable at once.

``synco pull`` asks the remote side to send the dump artifact while the dumper writes it (the ``O``,
``T``, ``C`` frames of :mod:`synco_core.pull.frames`, which come between the answers to the file
requests), so that the transfer overlaps the dump and the files, and with ``--install --yes`` the local
load overlaps all of it, the way ``ssh host mysqldump | mysql`` does, instead of dump, then download,
then load.

:class:`DumpStream` is the client's handler for those frames. The channel's reader thread hands it the
encrypted bytes (it never blocks on a slow consumer beyond a bounded queue, and never raises into the
channel); a decoder thread decrypts and decompresses them into ``<set>.<session>.stream.part`` in the
receive target, hashing as it goes. Two readers of that:

- the early database install reads the growing plaintext file through :meth:`DumpStream.reader`, which
  waits for more bytes, and reports its end only once the whole stream is in and matches the size and
  SHA-256 of the ``C`` frame; a stream that breaks off or does not match raises instead, so the engine's
  atomic install never swaps in a partial load;
- receive takes the finished file instead of downloading the artifact (:meth:`DumpStream.take`), after
  checking it against the set's meta entry; the set itself reaches receive as a late set
  (:meth:`DumpStream.late_sets`), since the session's meta was written before the dump ended.

The engines' manifest check needs no change: :attr:`DumpStream.manifest` is filled from the ``C`` frame
before the reader reports the end of the dump, and engines read ``options.manifest`` only after loading.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from synco_core.engines import crashpoints
from synco_core.errors import SyncoError, TransferError
from synco_core.fsutil import open_private
from synco_core.names import MAX_SET_NAME, safe_name
from synco_core.pull.frames import remote_text
from synco_core.redaction import register_secret
from synco_core.rewriting import read_source_settings
from synco_core.values import TableManifest
from synco_core.wire import WireFileSet, WireFormatError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

log = logging.getLogger(__name__)

#: Encrypted chunks (about 64 KiB each) waiting for the decoder: about 16 MiB at most, whatever the dump size.
QUEUE_CHUNKS = 256
#: How much plaintext the decoder writes at a time.
DECODE_CHUNK = 1 << 20
#: How often a thread waiting on the stream looks whether the pull stopped (see :meth:`DumpStream.abort`).
STOP_POLL = 0.2


class _End:
    """Queue marker: the stream is complete; its meta entry."""

    def __init__(self, file_set: WireFileSet | None, problem: str = "") -> None:
        self.file_set = file_set
        self.problem = problem


class _QueueSource(io.RawIOBase):
    """The encrypted bytes, read from the queue the channel fills; stops at the end marker, or once the
    queue is drained after the pull stopped (whose own end marker may never have been put)."""

    def __init__(self, chunks: queue.Queue[bytes | _End], stopped: threading.Event, reason: Callable[[], str]) -> None:
        super().__init__()
        self._chunks = chunks
        self._stopped = stopped
        self._reason = reason
        self._pending = memoryview(b"")
        self.end: _End | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending:
            if self.end is not None:
                return 0
            item = self._next()
            if isinstance(item, _End):
                self.end = item
                return 0
            self._pending = memoryview(item)
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def _next(self) -> bytes | _End:
        while True:
            try:
                return self._chunks.get(timeout=STOP_POLL)
            except queue.Empty:
                if self._stopped.is_set():
                    return _End(None, self._reason())

    def wait_end(self) -> _End:
        """Read on to the end marker (bytes after the age stream's last chunk would be a damaged stream)."""
        extra = 0
        while self.end is None:
            extra += len(self.read(1 << 16) or b"")
        if extra and self.end.file_set is not None:
            self.end.problem = f"{extra} bytes after the end of the encrypted stream"
        return self.end


class DumpStream:
    """Receives the streamed dump (a :class:`~synco_core.pull.frames.StreamHandler`); see the module docs.

    ``on_open(stream)`` is called when the stream starts (``--install --yes`` starts loading from
    :meth:`reader` there); its failures are logged, never raised into the channel. Made with ``accepted``
    False, it is called only once :meth:`accept` says the session passed every check that refuses it (its
    project, expiry, format), however early the stream starts: a refused session must not have begun to
    replace the local database. The stream is decoded into its file meanwhile, and the load reads from there.
    """

    def __init__(self, target: Path, on_open: Callable[[DumpStream], None] | None = None,
                 accepted: bool = True) -> None:
        self.target = target
        self._on_open = on_open
        self._accepted = accepted
        self._opened = False
        self._open_lock = threading.Lock()
        #: Told the size of every encrypted chunk that arrives (a progress bar).
        self.on_bytes: Callable[[int], None] | None = None
        self.set_name = ""
        self.session = ""
        self.engine = ""
        #: The dump's format as the source announced it (``sql``).
        self.format = ""
        self.path: Path | None = None
        #: The source's manifest, filled from the ``C`` frame before :meth:`reader` reports the end.
        self.manifest: dict[str, TableManifest] = {}
        #: What the source's plugins published with the dump, announced in the ``O`` frame.
        self.source_settings: dict[str, dict[str, str]] = {}
        self.size = 0
        self.sha256 = ""
        self.error: SyncoError | None = None
        self._chunks: queue.Queue[bytes | _End] = queue.Queue(QUEUE_CHUNKS)
        self._changed = threading.Condition()
        #: Plaintext bytes in the file so far; readers may read up to here.
        self._written = 0
        self._complete = False
        self._thread: threading.Thread | None = None
        #: The decoder has its end marker (no more data is queued after it).
        self._closed = False
        self._discarded = False
        #: Set by :meth:`abort`: the decoder and the readers end without waiting for an end marker.
        self._stopped = threading.Event()
        self._stop_reason = "the pull stopped"
        #: The meta entry the source sent at the end (even when this side could not use the stream).
        self.announced: WireFileSet | None = None
        #: The source's message when its dump failed.
        self.remote_error: str | None = None

    # -- the channel's side (never raises: a problem here must not break the channel's framing)

    def open(self, message: dict[str, Any]) -> None:
        if self._thread is not None:
            self._fail("the remote side started a second dump stream")
            return
        try:
            self.set_name = _text(message, "set")
            self.session = _text(message, "session")
            self.engine = str(message.get("engine") or "")
            self.format = str(message.get("format") or "")
            self.source_settings = read_source_settings(message.get("sourceSettings"))
            key = _text(message, "key")
            register_secret(key)
            if message.get("compression") != "zstd" or not message.get("encrypted", True):
                raise TransferError(f"unsupported dump stream ({message.get('compression')!r} compression)")
            # The names become a file name: the one naming rule for whatever the other side sends.
            safe_name(self.set_name, "dump stream set name", MAX_SET_NAME)
            safe_name(self.session, "dump stream session id")
            self.target.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = self.target / f"{self.set_name}.{self.session}.stream.part"
            # Created here, not in the decoder thread, so that a reader opened right after this finds it; the
            # decrypted dump is for its owner alone, whatever the umask.
            out = open_private(path, buffering=0)
            self.path = path
        except (SyncoError, OSError) as exc:
            self._fail(f"cannot take the dump stream: {exc}")
            return
        self._thread = threading.Thread(target=self._decode, args=(key, out), name="synco-dump-stream", daemon=True)
        self._thread.start()
        with self._open_lock:
            self._opened = True
            start = self._accepted
        if start:
            self._start_use()

    def accept(self) -> None:
        """The session passed every check that refuses it: the stream may be used (``on_open``) from now on."""
        with self._open_lock:
            self._accepted = True
            start = self._opened
        if start:
            self._start_use()

    def _start_use(self) -> None:
        if self._on_open is not None:
            try:
                self._on_open(self)
            except Exception as exc:
                log.debug("the early use of the dump stream failed to start: %s", exc)

    def data(self, chunk: bytes) -> None:
        if self._thread is not None and not self._closed:
            self._put(chunk)
            if self.on_bytes is not None:
                self.on_bytes(len(chunk))

    def _put(self, item: bytes | _End) -> None:
        """Queue ``item``, waiting while the decoder lags behind; never once the stream is stopped."""
        while not self._stopped.is_set():
            try:
                self._chunks.put(item, timeout=STOP_POLL)
                return
            except queue.Full:
                continue

    def close(self, message: dict[str, Any]) -> None:
        if "error" in message:
            self.remote_error = remote_text(message.get("error") or "the dump failed")
            self._end(_End(None, self.remote_error))
            return
        try:
            file_set = WireFileSet.from_json(message.get("fileSet"))
            if file_set.dump is None or (self.set_name and file_set.name != self.set_name):
                raise WireFormatError(f"the end of the dump stream names {file_set.name!r}, not {self.set_name!r}")
        except SyncoError as exc:
            self._end(_End(None, str(exc)))
            return
        self.announced = file_set
        self._end(_End(file_set))

    def _end(self, end: _End) -> None:
        if self._thread is not None and not self._closed:
            self._closed = True
            # Where a stop cut the end marker's put short and hung the pull once (see abort): its test stops here.
            crashpoints.reached("pull:stream:end-marker")
            self._put(end)

    def abort(self, reason: str = "the pull stopped") -> None:
        """The channel ended without completing the stream (the build failed, the connection dropped, the pull
        was stopped).

        The decoder and the readers end through ``_stopped``, not through an end marker alone: a stop (SIGTERM,
        Ctrl-C, raised in the main thread, which puts the chunks) can cut the ``put`` of the remote side's end
        marker short after the stream was marked closed, or land while that ``put`` waits on a full queue. The
        decoder then waited for a marker nobody would put, :meth:`discard` for the decoder and the early load
        for more of the dump, for ever, with the install lock held. What is queued still reaches the decoder.
        """
        if not self._closed:
            self._stop_reason = reason
        self._stopped.set()
        if self._thread is not None and not self._closed:
            self._closed = True
            # Only a wake-up: the decoder ends at its next look if the queue is full.
            with contextlib.suppress(queue.Full):
                self._chunks.put_nowait(_End(None, reason))

    def late_sets(self) -> list[WireFileSet]:
        """After the end of the stream: the set to receive (from the stream, else by download).

        Raises :class:`~synco_core.errors.TransferError` when the source's dump failed.
        """
        if self.remote_error is not None:
            raise TransferError(f"the remote dump failed: {self.remote_error}")
        if self.announced is None:
            raise TransferError("the remote side ended the dump stream without saying what it holds")
        return [self.announced]

    # -- the decoder thread

    def _decode(self, key: str, file: BinaryIO) -> None:
        import zstandard

        from synco_core import age

        assert self.path is not None
        source = _QueueSource(self._chunks, self._stopped, lambda: self._stop_reason)
        digest = hashlib.sha256()
        try:
            with file as out:
                decrypted = age.decrypt_reader(cast(BinaryIO, io.BufferedReader(source, 1 << 16)),
                                               [age.parse_identity(key)])
                plain = zstandard.ZstdDecompressor().stream_reader(cast(BinaryIO, decrypted), read_size=1 << 16)
                while True:
                    # read1: what one input chunk gives, so the plaintext follows the stream closely.
                    chunk = plain.read1(DECODE_CHUNK)
                    if not chunk:
                        break
                    digest.update(chunk)
                    out.write(chunk)
                    with self._changed:
                        self._written += len(chunk)
                        self._changed.notify_all()
                end = source.wait_end()
                self._check(end, digest.hexdigest())
                # Readers may finish (the load, its verification) while the file is being synced.
                with self._changed:
                    self._complete = True
                    self._changed.notify_all()
                log.debug("the streamed dump is complete: %d bytes, SHA-256 checked", self.size)
                os.fsync(out.fileno())
        except (SyncoError, OSError, zstandard.ZstdError) as exc:
            problem = source.end.problem if source.end is not None and source.end.problem else str(exc)
            self._fail(f"the database stream broke off: {problem}")
        except Exception as exc:  # Anything else is a bug; it must still not leave readers waiting.
            log.debug("dump stream decoder failed", exc_info=True)
            self._fail(f"the database stream broke off: {type(exc).__name__}: {exc}")
        finally:
            # Whatever happened, the channel must never block on a full queue.
            source.wait_end()

    def _check(self, end: _End, sha256: str) -> None:
        if end.file_set is None or end.problem:
            raise TransferError(end.problem or "no end of the stream")
        dump = end.file_set.dump
        assert dump is not None
        size = self._written
        if dump.size_bytes and size != dump.size_bytes:
            raise TransferError(f"{size} bytes after decryption, the source wrote {dump.size_bytes}")
        if dump.sha256 and sha256 != dump.sha256.lower():
            raise TransferError("SHA-256 of the streamed dump does not match the source's")
        self.size, self.sha256 = size, sha256
        self.manifest.update(dump.tables)

    def _fail(self, message: str) -> None:
        with self._changed:
            if self.error is None:
                self.error = TransferError(message)
            self._changed.notify_all()
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)

    # -- the readers

    @property
    def failed(self) -> bool:
        return self.error is not None

    def reader(self) -> BinaryIO:
        """The plaintext dump from its first byte, as it arrives (blocks for more; raises if the stream breaks)."""
        if self.path is None:
            raise TransferError("no dump stream was opened")
        try:
            raw = _GrowingFileReader(self)
        except FileNotFoundError:
            # The decoder failed already and removed the file: its error says why.
            raise self.error or TransferError("the database stream broke off") from None
        return cast(BinaryIO, io.BufferedReader(raw, 1 << 20))

    def _readable_beyond(self, position: int) -> int:
        """How many bytes may be read from ``position`` on, waiting for some; 0 at the end of the dump.

        The last byte is held back until the whole stream is in and checked: a reader can only have read
        the complete dump once it is known to be complete, and the manifest filled in.
        """
        with self._changed:
            while True:
                if self.error is not None:
                    raise self.error
                limit = self._written if self._complete else self._written - 1
                if limit > position:
                    return limit - position
                if self._complete:
                    return 0
                if self._thread is not None and not self._thread.is_alive():
                    # A decoder that ended says so (complete or failed) before it ends; this is the safety net.
                    raise TransferError("the database stream broke off")
                self._changed.wait(STOP_POLL)

    def take(self, file_set: WireFileSet) -> Path | None:
        """Receive's hook: the complete, verified plaintext of ``file_set``, or None to download it as usual.

        The file is checked against ``file_set`` (the session's meta); the caller moves it to its final name.
        """
        if file_set.name != self.set_name or self._thread is None or self.path is None or self._discarded:
            return None
        self._thread.join()
        dump = file_set.dump
        if self.error is not None or dump is None or not self._complete:
            if self.error is not None:
                log.debug("downloading %s again: %s", file_set.name, self.error)
            return None
        if (dump.size_bytes and dump.size_bytes != self.size) or (dump.sha256 and dump.sha256.lower() != self.sha256):
            log.debug("the streamed %s differs from the session's meta; downloading it again", file_set.name)
            return None
        return self.path

    def discard(self) -> None:
        """Stop and remove what was not taken (at the end of the pull, whatever its outcome)."""
        self._discarded = True
        self.abort()
        if self._thread is not None:
            self._thread.join()
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)


class _GrowingFileReader(io.RawIOBase):
    """Reads the stream's plaintext file while the decoder is still appending to it."""

    def __init__(self, stream: DumpStream) -> None:
        super().__init__()
        assert stream.path is not None
        self._stream = stream
        self._file = stream.path.open("rb", buffering=0)
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        # Only what the decoder has announced is read: the file may hold a partly written chunk beyond.
        available = self._stream._readable_beyond(self._position)
        if not available:
            return 0
        count = self._file.readinto(view[: min(len(view), available)])
        if not count:
            raise TransferError("the streamed dump file shrank while it was read")
        self._position += count
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


def _text(message: dict[str, Any], key: str) -> str:
    value = message.get(key)
    if not isinstance(value, str) or not value:
        raise TransferError(f"the dump stream announcement has no {key}")
    return value
