"""The client end of the channel: handshake, build, pipelined ``get`` and ``get_batch``, the streamed dump, bye.

Requests are answered strictly in order, so a client may send several before reading the answers
(:meth:`ChannelClient.get_many` keeps a window in flight) and round trips overlap instead of adding
up. The frames the streamed dump sends (``O``, ``T``, ``C``) may come between any two frames of later
answers; the client hands them to the build's handler wherever they turn up.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from synco_core.errors import TransferError
from synco_core.pull.frames import (
    ABORT,
    BATCH_PATHS,
    BYE,
    DATA,
    END,
    FATAL,
    FILE,
    FILE_HEADER,
    FILE_STATUSES,
    HELLO,
    JSON_TYPES,
    LOG,
    MAX_FRAME,
    PIPELINE_WINDOW,
    PROTOCOL_VERSION,
    READY,
    REQUEST,
    RESPONSE,
    STREAM_CLOSE,
    STREAM_DATA,
    STREAM_OPEN,
    ChannelClosed,
    FramingError,
    ProtocolMismatch,
    RemoteError,
    StreamHandler,
    decode_json,
    encode_json,
    int_field,
    read_frame,
    remote_text,
    skip_to_magic,
)
from synco_core.pull.stall import StallGuard

log = logging.getLogger(__name__)

#: The most a compressed ``D`` frame may expand to in one step: a 4 MiB frame of zlib can hold 4 GiB.
MAX_EXPANDED_CHUNK = 1 << 20
#: What a response header's status may say (anything else is a framing error).
RESPONSE_STATUSES = frozenset({"ok", "missing", "range", "refused", "error"})
#: How long a failed request waits for what the remote side wrote before it closed the channel (seconds).
LAST_WORDS_WAIT = 5.0


def remote_error(kind: bytes, payload: bytes) -> RemoteError:
    """The remote side's fatal error, its message fit for the terminal."""
    return RemoteError(remote_text(decode_json(kind, payload).get("message", "remote error")))

@dataclass
class Hello:
    """What the server said about itself."""

    protocol: int
    version: str = ""
    python: str = ""
    capabilities: dict[str, Any] = field(default_factory=dict)


class _Answer:
    """What ``get`` and ``get_batch`` answers share: a status, and data read as chunks until done."""

    status: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def iter_chunks(self) -> Iterator[bytes]:
        raise NotImplementedError

    def drain(self) -> None:
        """Read and drop the rest of the data (the caller stopped early)."""
        for _ in self.iter_chunks():
            pass


class Response(_Answer):
    """One ``get`` response: ``size`` bytes from ``offset``, read as chunks; holds the channel until done."""

    def __init__(self, client: ChannelClient, header: dict[str, Any], compressed: bool) -> None:
        self._client = client
        status = header.get("status", "error")
        if not isinstance(status, str) or status not in RESPONSE_STATUSES:
            raise FramingError(f"malformed R frame: unknown status {remote_text(repr(status), 40)}")
        self.status = str(status)
        self.message = remote_text(header.get("message", ""))
        self.size = int_field(header, "size", RESPONSE, 0) or 0
        self.offset = int_field(header, "offset", RESPONSE, 0) or 0
        #: Bytes the response carries when the request asked for a range with an end (else to the end).
        self.length: int | None = int_field(header, "length", RESPONSE)
        self.expected = self.length if self.length is not None else self.size - self.offset
        if self.ok and self.expected < 0:
            raise FramingError(f"malformed R frame: offset {self.offset} past the size {self.size}")
        self._decompressor = zlib.decompressobj() if compressed and self.ok else None
        self.done = not self.ok
        self.received = 0

    def iter_chunks(self) -> Iterator[bytes]:
        """The data, chunk by chunk (decompressed); the channel is free again once this is exhausted.

        Never more than announced: a response that goes past its size is a framing error at the first
        byte too many, and a compressed frame is expanded in steps of :data:`MAX_EXPANDED_CHUNK`, so a
        decompression bomb costs neither memory nor time beyond the announced size.
        """
        while not self.done:
            kind, payload = self._client._read_frame()
            if kind == DATA:
                yield from self._expand(payload)
            elif kind == END:
                if self._decompressor is not None:
                    yield from self._expand(b"")
                    tail = self._decompressor.flush(MAX_EXPANDED_CHUNK)
                    if tail:
                        yield self._count(tail)
                self.done = True
                if self.received != self.expected:
                    raise FramingError(f"response ended after {self.received} of {self.expected} bytes")
            elif kind == FATAL:
                self.done = True
                raise remote_error(kind, payload)
            else:
                raise FramingError(f"unexpected {kind.decode('ascii', 'replace')} frame inside a response")

    def _expand(self, payload: bytes) -> Iterator[bytes]:
        if self._decompressor is None:
            if payload:
                yield self._count(payload)
            return
        data = payload
        while True:
            chunk = self._decompressor.decompress(data, MAX_EXPANDED_CHUNK)
            if chunk:
                yield self._count(chunk)
            data = self._decompressor.unconsumed_tail
            if not data:
                return

    def _count(self, chunk: bytes) -> bytes:
        self.received += len(chunk)
        if self.received > self.expected:
            self._client._broken = FramingError(f"a response sent more than the {self.expected} bytes it announced")
            raise self._client._broken
        return chunk


class BatchFile(_Answer):
    """One file of a ``get_batch`` answer: its status and, when ok, ``size`` bytes to read as chunks."""

    def __init__(self, client: ChannelClient, status: str, size: int, message: str) -> None:
        self._client = client
        self.status = status
        self.size = size
        self.message = message
        self.received = 0
        self.done = status != "ok" or size == 0

    def iter_chunks(self) -> Iterator[bytes]:
        """The data; a file the server could not finish raises :class:`TransferError` (the stream stays usable)."""
        while not self.done:
            kind, payload = self._client._read_frame()
            if kind == DATA:
                self.received += len(payload)
                if self.received > self.size:
                    self._client._broken = FramingError("a batch file sent more bytes than announced")
                    raise self._client._broken
                self.done = self.received == self.size
                yield payload
            elif kind == ABORT:
                self.done = True
                raise TransferError("the remote side could not send the file: "
                                    + remote_text(payload.decode("utf-8", "replace")))
            elif kind == FATAL:
                self.done = True
                self._client._broken = remote_error(kind, payload)
                raise self._client._broken
            else:
                self._client._broken = FramingError(
                    f"unexpected {kind.decode('ascii', 'replace')} frame inside a batch file")
                raise self._client._broken


class ChannelClient:
    """The client end: handshake, build, gets (pipelined across threads), bye.

    Requests go out in ticket order and the server answers in the same order, so each caller waits for
    its ticket's turn to read its response. Several threads (receive's parallel public downloads) thus
    keep several requests in flight, and their round trips overlap, while the frames stay in step.
    After any framing error the client is broken: every later call raises at once.
    """

    def __init__(self, reader: IO[bytes], writer: IO[bytes]) -> None:
        self._reader = reader
        self._writer = writer
        self._send_lock = threading.Lock()
        self._turn_lock = threading.Lock()
        #: One event per waiting ticket, so finishing a response wakes exactly the next reader, not all.
        self._turn_events: dict[int, threading.Event] = {}
        self._next_ticket = 0
        self._serving = 0
        self._broken: BaseException | None = None
        self.hello: Hello | None = None
        self.preamble = b""
        #: Set by :meth:`build`: where the frames that may come between any others go (the streamed
        #: dump, and progress lines of the dump that goes on after the session is ready).
        self._stream: StreamHandler | None = None
        self._on_log: Callable[[str], None] | None = None
        #: Ends a stream that stops inside a frame (set by ``pull``, which can kill the channel).
        self.stall_guard: StallGuard | None = None

    # -- low level

    def _read_frame(self) -> tuple[bytes, bytes]:
        """The next frame for the current reader; stream and progress frames go to their handlers."""
        while True:
            try:
                kind, payload = read_frame(self._reader, self.stall_guard)
            except (FramingError, OSError, ValueError) as exc:
                error = exc if isinstance(exc, FramingError) else ChannelClosed(f"the channel broke: {exc}")
                if self.stall_guard is not None and self.stall_guard.message is not None:
                    # The guard ended the stream: say why, not what the cut-off read saw.
                    error = FramingError(self.stall_guard.message)
                self._broken = error
                raise error from None
            if kind == LOG:
                if self._on_log is not None:
                    self._on_log(remote_text(decode_json(kind, payload).get("message", "")))
                continue
            if kind not in (STREAM_OPEN, STREAM_DATA, STREAM_CLOSE):
                return kind, payload
            if self._stream is None:
                self._broken = FramingError("a dump stream from the server, which was not asked for")
                raise self._broken
            if kind == STREAM_DATA:
                self._stream.data(payload)
            elif kind == STREAM_OPEN:
                self._stream.open(decode_json(kind, payload))
            else:
                self._stream.close(decode_json(kind, payload))

    def _check(self) -> None:
        if self._broken is not None:
            raise FramingError(f"the channel is no longer usable ({self._broken})")

    def _send(self, kind: bytes, message: dict[str, Any]) -> None:
        try:
            self._writer.write(encode_json(kind, message))
            self._writer.flush()
        except (BrokenPipeError, ConnectionResetError, ValueError, OSError):
            self._broken = ChannelClosed("the channel closed while sending a request")
            raise self._broken from None

    def _request(self, message: dict[str, Any]) -> int:
        """Send a request; returns its ticket (its place in the response order)."""
        with self._send_lock:
            self._check()
            ticket = self._next_ticket
            self._next_ticket += 1
            try:
                self._send(REQUEST, message)
            except ChannelClosed as closed:
                idle = self._serving == ticket
                self._advance(ticket)
                if not idle:
                    raise
                # No answer is being read, so what is still on the stream is the remote side's last words:
                # a fatal error, or a frame cut short, says why it went away better than the closed pipe.
                raise self._last_words(closed) from None
            except BaseException:
                # The ticket was taken but no response will come: release it, so no waiter hangs.
                self._advance(ticket)
                raise
            return ticket

    def _last_words(self, closed: ChannelClosed) -> BaseException:
        """Why the remote side closed the channel, when it wrote why before going; else ``closed``.

        Read in a daemon thread with a deadline: a remote side that closed its input but keeps its output
        open and silent must not hang the pull (killing the channel later ends that read).
        """
        found: list[BaseException] = []

        def read() -> None:
            try:
                kind, payload = self._read_frame()
            except ChannelClosed:
                return
            except (FramingError, RemoteError) as exc:
                found.append(exc)
                return
            if kind == FATAL:
                found.append(remote_error(kind, payload))

        reader = threading.Thread(target=read, name="synco-last-words", daemon=True)
        reader.start()
        reader.join(LAST_WORDS_WAIT)
        self._broken = found[0] if found and not reader.is_alive() else closed
        return self._broken

    def _wait_turn(self, ticket: int) -> None:
        with self._turn_lock:
            event = None if self._serving == ticket else self._turn_events.setdefault(ticket, threading.Event())
        if event is not None:
            event.wait()
        self._check()

    def _advance(self, ticket: int) -> None:
        with self._turn_lock:
            if self._serving != ticket:
                return
            self._serving += 1
            self._turn_events.pop(ticket, None)
            following = self._turn_events.get(self._serving)
            if following is None:
                following = self._turn_events[self._serving] = threading.Event()
        following.set()

    @contextlib.contextmanager
    def _exchange(self, message: dict[str, Any]) -> Iterator[None]:
        """Send ``message``, then hold the stream while its response is read."""
        ticket = self._request(message)
        try:
            self._wait_turn(ticket)
            yield
        finally:
            self._advance(ticket)

    def _abandon(self, response: Response, exc: BaseException) -> None:
        """The caller failed while reading ``response``: drain it only when the stream is known to be in step.

        An interruption (Ctrl-C) may have struck in the middle of a frame, after which the next bytes are
        not a frame header; reading on would turn the interruption into a bogus framing error.
        """
        if response.done or self._broken is not None:
            return
        if isinstance(exc, Exception) and not isinstance(exc, FramingError):
            with contextlib.suppress(FramingError):
                response.drain()
            return
        self._broken = ChannelClosed(f"the transfer was interrupted ({type(exc).__name__})")

    # -- protocol

    def handshake(self, skip_magic: bool = True) -> Hello:
        """Skip any login noise, read the server's hello and check the protocol version.

        With ``skip_magic=False`` the caller has already read up to the greeting (the launch negotiation).
        A different protocol version raises :class:`ProtocolMismatch`.
        """
        if skip_magic:
            self.preamble = skip_to_magic(self._reader)
            if self.preamble.strip():
                log.debug("remote output before synco started: %r", self.preamble[-500:])
        kind, payload = self._read_frame()
        if kind == FATAL:
            raise remote_error(kind, payload)
        if kind != HELLO:
            raise FramingError(f"expected a hello frame, got {kind!r}")
        message = decode_json(kind, payload)
        capabilities = message.get("capabilities") or {}
        if not isinstance(capabilities, dict):
            raise FramingError("malformed H frame: 'capabilities' should be an object")
        hello = Hello(
            protocol=int_field(message, "protocol", HELLO, 0) or 0, version=remote_text(message.get("version", ""), 80),
            python=remote_text(message.get("python", ""), 80), capabilities=capabilities,
        )
        if hello.protocol != PROTOCOL_VERSION:
            raise ProtocolMismatch(
                f"the remote synco speaks channel protocol {hello.protocol}, this one {PROTOCOL_VERSION}"
            )
        self.hello = hello
        return hello

    @property
    def streams_database(self) -> bool:
        """Whether the server can send the dump while building it (said in its hello)."""
        return bool(self.hello is not None and self.hello.capabilities.get("stream_database"))

    def build(self, options: dict[str, Any], on_log: Callable[[str], None] | None = None,
              on_stream: StreamHandler | None = None) -> dict[str, Any]:
        """Ask the server to build the session; relays its progress; returns the ready message.

        ``on_stream`` gets the database artifact while it is being written, when ``options`` asks for
        ``stream_database`` and the server can (:attr:`streams_database`). The dump then goes on after
        the ready message, its frames arriving between the answers to later requests; :meth:`wait_stream`
        waits for its end. ``on_log`` keeps getting its progress lines until then.
        """
        self._stream = on_stream
        self._on_log = on_log
        with self._exchange({"op": "build", "options": options}):
            while True:
                kind, payload = self._read_frame()
                message = decode_json(kind, payload) if kind in JSON_TYPES else {}
                if kind == READY:
                    return message
                elif kind == FATAL:
                    raise RemoteError(remote_text(message.get("message", "remote error")))
                else:
                    raise FramingError(f"unexpected {kind.decode('ascii', 'replace')} frame while building")

    def requirements(self, options: dict[str, Any]) -> dict[str, Any] | None:
        """What a dump of the remote project's database would need of the loading server (``requires``, as the
        meta writes it, and ``engine``), asked before the build; None when the remote synco cannot say (an
        older one) or could not read it (the build then says why, or goes on without it)."""
        if self.hello is None or not self.hello.capabilities.get("requirements"):
            return None
        with self._exchange({"op": "requirements", "options": options}):
            kind, payload = self._read_frame()
            if kind == FATAL:
                self._broken = remote_error(kind, payload)
                raise self._broken
            if kind != RESPONSE:
                self._broken = FramingError(f"expected the database's requirements, got {kind!r}")
                raise self._broken
            message = decode_json(kind, payload)
        if message.get("status") != "ok":
            log.debug("the remote side could not say what its dump needs: %s",
                      remote_text(str(message.get("message", "")), 300))
            return None
        return message

    def _read_response(self, compressed: bool) -> Response:
        kind, payload = self._read_frame()
        if kind == FATAL:
            self._broken = remote_error(kind, payload)
            raise self._broken
        if kind != RESPONSE:
            self._broken = FramingError(f"expected a response header, got {kind.decode('ascii', 'replace')!r}")
            raise self._broken
        try:
            return Response(self, decode_json(kind, payload), compressed)
        except FramingError as exc:
            self._broken = exc
            raise

    @contextlib.contextmanager
    def get(self, space: str, path: str, offset: int = 0, compress: str | None = None,
            length: int | None = None) -> Iterator[Response]:
        """One file from ``offset`` (``length`` bytes of it when given); whatever the caller leaves unread is
        drained when the block ends. A remote side that predates ``length`` sends the rest of the file."""
        request: dict[str, Any] = {"op": "get", "space": space, "path": path, "offset": offset, "compress": compress}
        if length is not None:
            request["length"] = length
        with self._exchange(request):
            response = self._read_response(compress is not None)
            try:
                yield response
            except BaseException as exc:
                self._abandon(response, exc)
                raise
            if not response.done and self._broken is None:
                response.drain()

    def get_many(
        self, requests: Iterable[tuple[str, str, int]], compress: str | None = None, window: int = PIPELINE_WINDOW
    ) -> Iterator[tuple[tuple[str, str, int], Response]]:
        """Pipelined gets from one thread: yields ((space, path, offset), response) in order.

        Up to ``window`` requests are in flight. Each response must be read before the next is yielded
        (an unread rest is drained). Stopping early still reads the answers already asked for.
        """
        in_flight: deque[tuple[int, tuple[str, str, int]]] = deque()
        source = iter(requests)
        exhausted = False
        try:
            while True:
                while not exhausted and len(in_flight) < window:
                    item = next(source, None)
                    if item is None:
                        exhausted = True
                        break
                    space, path, offset = item
                    ticket = self._request({"op": "get", "space": space, "path": path, "offset": offset,
                                            "compress": compress})
                    in_flight.append((ticket, item))
                if not in_flight:
                    return
                ticket, item = in_flight.popleft()
                try:
                    self._wait_turn(ticket)
                    response = self._read_response(compress is not None)
                    try:
                        yield item, response
                    except GeneratorExit:
                        # The caller stopped early between two reads: the stream is still in step.
                        if not response.done and self._broken is None:
                            response.drain()
                        raise
                    except BaseException as exc:
                        self._abandon(response, exc)
                        raise
                    if not response.done and self._broken is None:
                        response.drain()
                finally:
                    self._advance(ticket)
        finally:
            # An early exit leaves answers on their way: read and drop them to keep the stream in step.
            while in_flight and self._broken is None:
                ticket, _ = in_flight.popleft()
                try:
                    self._wait_turn(ticket)
                    self._read_response(compress is not None).drain()
                finally:
                    self._advance(ticket)

    @property
    def batches(self) -> bool:
        """Whether the server answers ``get_batch`` (said in its hello)."""
        return bool(self.hello is not None and self.hello.capabilities.get("get_batch"))

    def get_batch(self, space: str, paths: Sequence[str], window: int = 2) -> Iterator[tuple[int, BatchFile]]:
        """Whole files by ``get_batch`` requests: yields ``(position, file)`` in order.

        The paths go out in requests of at most :data:`BATCH_PATHS` (and well under a frame's size), up to
        ``window`` requests ahead, so the server always has the next files to send while these are read.
        Each file must be read before the next is yielded (an unread rest is drained).
        """
        requests: list[list[str]] = []
        current: list[str] = []
        current_bytes = 0
        for path in paths:
            if current and (len(current) >= BATCH_PATHS or current_bytes + len(path) > MAX_FRAME // 4):
                requests.append(current)
                current, current_bytes = [], 0
            current.append(path)
            current_bytes += len(path) + 4
        if current:
            requests.append(current)
        in_flight: deque[tuple[int, list[str]]] = deque()
        pending = iter(requests)
        position = 0
        try:
            while True:
                while len(in_flight) < window:
                    batch = next(pending, None)
                    if batch is None:
                        break
                    in_flight.append((self._request({"op": "get_batch", "space": space, "paths": batch}), batch))
                if not in_flight:
                    return
                ticket, batch = in_flight.popleft()
                try:
                    self._wait_turn(ticket)
                    for index in range(len(batch)):
                        item = self._read_batch_file()
                        try:
                            yield position, item
                        except BaseException as exc:
                            in_step = isinstance(exc, (GeneratorExit, Exception)) and not isinstance(exc, FramingError)
                            if in_step:
                                # Stopped between two frames: this request's other answers are on their way too.
                                self._finish_batch_file(item)
                                for _rest in range(len(batch) - index - 1):
                                    if self._broken is not None:
                                        break
                                    self._finish_batch_file(self._read_batch_file())
                            elif not item.done and self._broken is None:
                                # An interruption (Ctrl-C) may have struck inside a frame: reading on is unsafe.
                                self._broken = ChannelClosed(f"the transfer was interrupted ({type(exc).__name__})")
                            raise
                        self._finish_batch_file(item)
                        position += 1
                finally:
                    self._advance(ticket)
        finally:
            # Stopped early: the answers already asked for are still coming; read and drop them.
            while in_flight and self._broken is None:
                ticket, batch = in_flight.popleft()
                try:
                    self._wait_turn(ticket)
                    for _path in batch:
                        self._finish_batch_file(self._read_batch_file())
                finally:
                    self._advance(ticket)

    def _read_batch_file(self) -> BatchFile:
        kind, payload = self._read_frame()
        if kind == FATAL:
            self._broken = remote_error(kind, payload)
            raise self._broken
        if kind == RESPONSE:
            # The whole request was refused (malformed): no files follow.
            self._broken = FramingError(remote_text(decode_json(kind, payload).get("message", "get_batch refused")))
            raise self._broken
        if kind != FILE or len(payload) < FILE_HEADER.size:
            self._broken = FramingError(f"expected a file header, got {kind.decode('ascii', 'replace')!r}")
            raise self._broken
        code, size = FILE_HEADER.unpack_from(payload)
        status = FILE_STATUSES[code] if code < len(FILE_STATUSES) else "error"
        message = remote_text(payload[FILE_HEADER.size:].decode("utf-8", "replace"))
        return BatchFile(self, status, size, message)

    def _finish_batch_file(self, item: BatchFile) -> None:
        if not item.done and self._broken is None:
            with contextlib.suppress(TransferError):
                item.drain()

    def wait_stream(self) -> None:
        """Read on until the dump streamed by :meth:`build` has ended (its handler has had ``close``)."""
        with self._exchange({"op": "wait_stream"}):
            kind, payload = self._read_frame()
            if kind == FATAL:
                self._broken = remote_error(kind, payload)
                raise self._broken
            if kind != RESPONSE:
                self._broken = FramingError(f"expected the end of the dump stream, got {kind!r}")
                raise self._broken

    def bye(self, max_frames: int = 10000) -> None:
        """Tell the server we are done and wait for its acknowledgement (sent after its cleanup)."""
        with self._exchange({"op": "bye"}):
            for _ in range(max_frames):
                kind, payload = self._read_frame()
                if kind == BYE:
                    return
                if kind == FATAL:
                    raise remote_error(kind, payload)
            raise FramingError("no acknowledgement of bye from the remote side")
