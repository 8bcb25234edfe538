"""The framed request/response protocol spoken over a channel's stdin and stdout.

Why frames: ssh, ``docker exec`` and ``kubectl exec`` give one ordered byte stream each way and nothing
else, so every message carries its own length and nothing depends on line endings or text encodings.

Wire layout. The server first writes :data:`MAGIC` (anything a login script printed before it is skipped
by the client, up to :data:`MAX_PREAMBLE` bytes), then frames. A frame is one type byte, a 4-byte
big-endian payload length and the payload; the payload is JSON for control frames and raw bytes for data.
A frame longer than :data:`MAX_FRAME`, an unknown type, or a stream that ends inside a frame is a
:class:`FramingError` (a :class:`~synco_core.errors.TransferError`), never a crash or a hang.

=====  ==========  =====================================================================================
type   direction   payload
=====  ==========  =====================================================================================
``H``  S -> C      hello: ``{"protocol": 1, "version": ..., "python": ..., "capabilities": {...}}``
``Q``  C -> S      request: ``{"op": "build", "options": {...}}``, ``{"op": "get", "space": "session" |
                   "public", "path": ..., "offset": N, "compress": "zlib" | null}``, ``{"op": "get_batch",
                   "space": ..., "paths": [...]}``, ``{"op": "wait_stream"}`` (answered with ``R`` once the
                   streamed dump has ended), ``{"op": "bye"}``
``L``  S -> C      progress while building (and of a streamed dump, between later frames): ``{"message": ...}``
``S``  S -> C      the session is ready: ``{"key": ... | null, "encrypted": bool, ...}``
``R``  S -> C      response header: ``{"status": "ok", "size": total, "offset": N}`` or
                   ``{"status": "missing" | "refused" | "error", "message": ...}``
``D``  S -> C      data of the current response (zlib-compressed when the request asked for it)
``E``  S -> C      end of the current response's data
``F``  S -> C      one file of a ``get_batch``: 1 status byte (0 ok, 1 missing, 2 refused, 3 error), 8-byte
                   big-endian size, then (not ok) a UTF-8 message; an ok file's ``size`` bytes follow as ``D``
``A``  S -> C      the current ``get_batch`` file broke off after its ``F`` (it shrank, a read error):
                   UTF-8 message; the client drops that file and goes on with the next
``O``  S -> C      when the build asked for ``stream_database``: the database artifact is being written:
                   ``{"set": "dbDump", "session": ..., "key": ..., "engine": ..., "format": "sql",
                   "compression": "zstd", "sourceSettings": {...}}`` (the plugins' ``source_settings``)
``T``  S -> C      the next encrypted bytes of that artifact, exactly as written to the file
``C``  S -> C      the artifact is complete: ``{"fileSet": {...}}``, its meta entry (sizes, SHA-256,
                   manifest); or the dump failed: ``{"error": ...}``
``X``  S -> C      fatal error: ``{"message": ...}``; the server exits after it
``B``  both        bye: the client is done; the server answers with ``B`` after its cleanup
=====  ==========  =====================================================================================

Requests are answered strictly in order, so a client may send several ``get`` requests before reading
the responses (:meth:`ChannelClient.get_many` keeps a window of them in flight): with many small files
the round trips overlap instead of adding up. ``get_batch`` goes further for the thousands of small
public files of a first pull: one request names many files and each comes back as a binary ``F`` header
and its data, with no JSON, no thread hand-off and no flush per file on either side. Servers that offer
it say so in their hello (``capabilities.get_batch``); the client falls back to ``get`` otherwise.

The database dump, the one big artifact, does not hold up the rest either: when the build request asks
for ``"stream_database": true`` and the server offers ``capabilities.stream_database``, the server dumps
in a thread of its own, sending the artifact as ``T`` frames while the dumper writes it, and builds the
rest of the session meanwhile. Its ready message (and meta) then leave the database out, so the client
fetches the files while the dump is still on its way: ``O``, ``T``, ``C`` and ``L`` frames may come
between any two frames of later answers, and the client hands them to the build's handlers wherever they
turn up. The ``O`` frame carries the session key, so the client can decrypt and load the dump as it
arrives, as ``ssh host mysqldump | mysql`` would; the ``C`` frame carries the artifact's meta entry,
which the client checks the whole stream against, and ``wait_stream`` waits for it.

The server side (:class:`ChannelServer`) serves a session folder and the application's public files
read-only. Every path is checked: no absolute paths, no ``..``, no dotfiles (``.env``, ``.git``), no
temporary files, regular files only, and the real path (links followed) must stay inside the allowed
roots, so a request can never read anything the session or the public site would not show anyway.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import stat
import struct
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import unquote

from synco_core.errors import SyncoError, TransferError, UnsafePathError
from synco_core.fsutil import PLAIN_RELATIVE_PATH, safe_relative_path

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
#: Written by the server before the first frame; the client skips whatever comes before it.
MAGIC = b"\x00\x00SYNCO-CHANNEL-1\n"
#: How much noise (motd, login-script output) the client tolerates before the magic.
MAX_PREAMBLE = 1 << 20
#: Largest payload accepted in one frame; a longer length is a damaged or foreign stream.
MAX_FRAME = 4 << 20
#: Size of the data frames the server sends.
DATA_CHUNK = 256 << 10
#: Requests a client keeps in flight in :meth:`ChannelClient.get_many`.
PIPELINE_WINDOW = 32

HEADER = struct.Struct(">cI")
#: The fixed part of an ``F`` frame: status, size.
FILE_HEADER = struct.Struct(">BQ")
FILE_STATUSES = ("ok", "missing", "refused", "error")
#: Paths per ``get_batch`` request: big enough that requests are rare, small enough for one frame.
BATCH_PATHS = 512

HELLO = b"H"
REQUEST = b"Q"
LOG = b"L"
READY = b"S"
RESPONSE = b"R"
DATA = b"D"
END = b"E"
FATAL = b"X"
BYE = b"B"
FILE = b"F"
ABORT = b"A"
STREAM_OPEN = b"O"
STREAM_DATA = b"T"
STREAM_CLOSE = b"C"
FRAME_TYPES = frozenset({HELLO, REQUEST, LOG, READY, RESPONSE, DATA, END, FATAL, BYE, FILE, ABORT,
                         STREAM_OPEN, STREAM_DATA, STREAM_CLOSE})
JSON_TYPES = frozenset({HELLO, REQUEST, LOG, READY, RESPONSE, END, FATAL, BYE, STREAM_OPEN, STREAM_CLOSE})


class StreamHandler(Protocol):
    """Receives the database artifact streamed during a build (``O``, ``T``, ``C`` frames)."""

    def open(self, message: dict[str, Any]) -> None: ...

    def data(self, chunk: bytes) -> None: ...

    def close(self, message: dict[str, Any]) -> None: ...


class FramingError(TransferError):
    """The channel's byte stream is not (or no longer) a valid frame stream."""


class ChannelClosed(FramingError):
    """The other side closed the stream between two frames."""


class ProtocolMismatch(FramingError):
    """The remote synco speaks another version of this protocol (an older or newer synco there)."""


class RemoteError(TransferError):
    """The remote side reported a fatal error (its one-line message is this error's message)."""


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


# ----------------------------------------------------------------------------------------------- frames


def encode_frame(kind: bytes, payload: bytes = b"") -> bytes:
    """One frame as bytes (header and payload)."""
    if kind not in FRAME_TYPES:
        raise ValueError(f"unknown frame type {kind!r}")
    if len(payload) > MAX_FRAME:
        raise ValueError(f"frame payload of {len(payload)} bytes exceeds {MAX_FRAME}")
    return HEADER.pack(kind, len(payload)) + payload


def encode_json(kind: bytes, message: dict[str, Any]) -> bytes:
    return encode_frame(kind, json.dumps(message, separators=(",", ":")).encode())


def read_exact(stream: _Reader, size: int) -> bytes:
    """Exactly ``size`` bytes; fewer only when the stream ends (the caller decides if that is an error)."""
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(stream: _Reader) -> tuple[bytes, bytes]:
    """The next (type, payload); :class:`ChannelClosed` at a clean end, :class:`FramingError` otherwise."""
    head = read_exact(stream, HEADER.size)
    if not head:
        raise ChannelClosed("the channel closed")
    if len(head) < HEADER.size:
        raise FramingError("the channel closed in the middle of a frame header")
    kind, length = HEADER.unpack(head)
    if kind not in FRAME_TYPES:
        raise FramingError(f"malformed frame: unknown type {kind!r}")
    if length > MAX_FRAME:
        raise FramingError(f"malformed frame: length {length} exceeds the limit of {MAX_FRAME}")
    payload = read_exact(stream, length)
    if len(payload) < length:
        raise FramingError(f"the channel closed in the middle of a frame ({len(payload)} of {length} bytes)")
    return kind, payload


def decode_json(kind: bytes, payload: bytes) -> dict[str, Any]:
    """The JSON object of a control frame; anything else is a :class:`FramingError`."""
    try:
        message = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FramingError(f"malformed {kind.decode('ascii', 'replace')} frame: not JSON") from None
    if not isinstance(message, dict):
        raise FramingError(f"malformed {kind.decode('ascii', 'replace')} frame: not a JSON object")
    return message


def skip_to_magic(stream: _Reader, limit: int = MAX_PREAMBLE) -> bytes:
    """Read up to and including :data:`MAGIC`; returns the noise before it (for the debug log)."""
    seen = bytearray()
    while True:
        byte = stream.read(1)
        if not byte:
            noise = bytes(seen[-200:]).decode("utf-8", "replace").strip()
            raise ChannelClosed("the remote side ended before synco started" + (f": {noise}" if noise else ""))
        seen += byte
        if seen.endswith(MAGIC):
            return bytes(seen[: -len(MAGIC)])
        if len(seen) > limit:
            raise FramingError(f"no synco channel greeting in the first {limit} bytes of the remote output")


# ----------------------------------------------------------------------------------------------- client


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
        self.status = str(header.get("status", "error"))
        self.message = str(header.get("message", ""))
        self.size = int(header.get("size", 0) or 0)
        self.offset = int(header.get("offset", 0) or 0)
        #: Bytes the response carries when the request asked for a range with an end (else to the end).
        self.length: int | None = header.get("length") if isinstance(header.get("length"), int) else None
        self._decompressor = zlib.decompressobj() if compressed and self.ok else None
        self.done = not self.ok
        self.received = 0

    def iter_chunks(self) -> Iterator[bytes]:
        """The data, chunk by chunk (decompressed); the channel is free again once this is exhausted."""
        while not self.done:
            kind, payload = self._client._read_frame()
            if kind == DATA:
                chunk = self._decompressor.decompress(payload) if self._decompressor else payload
                if chunk:
                    self.received += len(chunk)
                    yield chunk
            elif kind == END:
                if self._decompressor is not None:
                    tail = self._decompressor.flush()
                    if tail:
                        self.received += len(tail)
                        yield tail
                self.done = True
                expected = self.length if self.length is not None else self.size - self.offset
                if self.received != expected:
                    raise FramingError(f"response ended after {self.received} of {expected} bytes")
            elif kind == FATAL:
                self.done = True
                raise RemoteError(str(decode_json(kind, payload).get("message", "remote error")))
            else:
                raise FramingError(f"unexpected {kind.decode('ascii', 'replace')} frame inside a response")


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
                raise TransferError(f"the remote side could not send the file: {payload.decode('utf-8', 'replace')}")
            elif kind == FATAL:
                self.done = True
                self._client._broken = RemoteError(str(decode_json(kind, payload).get("message", "remote error")))
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

    # -- low level

    def _read_frame(self) -> tuple[bytes, bytes]:
        """The next frame for the current reader; stream and progress frames go to their handlers."""
        while True:
            try:
                kind, payload = read_frame(self._reader)
            except (FramingError, OSError, ValueError) as exc:
                error = exc if isinstance(exc, FramingError) else ChannelClosed(f"the channel broke: {exc}")
                self._broken = error
                raise error from None
            if kind == LOG:
                if self._on_log is not None:
                    self._on_log(str(decode_json(kind, payload).get("message", "")))
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
            except BaseException:
                # The ticket was taken but no response will come: release it, so no waiter hangs.
                self._advance(ticket)
                raise
            return ticket

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
            raise RemoteError(str(decode_json(kind, payload).get("message", "remote error")))
        if kind != HELLO:
            raise FramingError(f"expected a hello frame, got {kind!r}")
        message = decode_json(kind, payload)
        hello = Hello(
            protocol=int(message.get("protocol", 0)), version=str(message.get("version", "")),
            python=str(message.get("python", "")), capabilities=dict(message.get("capabilities") or {}),
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
                    raise RemoteError(str(message.get("message", "remote error")))
                else:
                    raise FramingError(f"unexpected {kind.decode('ascii', 'replace')} frame while building")

    def _read_response(self, compressed: bool) -> Response:
        kind, payload = self._read_frame()
        if kind == FATAL:
            self._broken = RemoteError(str(decode_json(kind, payload).get("message", "remote error")))
            raise self._broken
        if kind != RESPONSE:
            self._broken = FramingError(f"expected a response header, got {kind.decode('ascii', 'replace')!r}")
            raise self._broken
        return Response(self, decode_json(kind, payload), compressed)

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
            self._broken = RemoteError(str(decode_json(kind, payload).get("message", "remote error")))
            raise self._broken
        if kind == RESPONSE:
            # The whole request was refused (malformed): no files follow.
            self._broken = FramingError(str(decode_json(kind, payload).get("message", "get_batch refused")))
            raise self._broken
        if kind != FILE or len(payload) < FILE_HEADER.size:
            self._broken = FramingError(f"expected a file header, got {kind.decode('ascii', 'replace')!r}")
            raise self._broken
        code, size = FILE_HEADER.unpack_from(payload)
        status = FILE_STATUSES[code] if code < len(FILE_STATUSES) else "error"
        message = payload[FILE_HEADER.size:].decode("utf-8", "replace")
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
                self._broken = RemoteError(str(decode_json(kind, payload).get("message", "remote error")))
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
                    raise RemoteError(str(decode_json(kind, payload).get("message", "remote error")))
            raise FramingError("no acknowledgement of bye from the remote side")


# ----------------------------------------------------------------------------------------------- server


class FileSpace(Protocol):
    """Something a ``get`` can name: resolves a requested path to a file it may serve, or raises."""

    def resolve(self, path: str) -> Path: ...


def _check_regular(path: Path, shown: str) -> Path:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise FileNotFoundError(shown) from None
    except OSError as exc:
        raise UnsafePathError(f"cannot read {shown!r}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePathError(f"{shown!r} is not a regular file")
    return path


class _RealParents:
    """Real paths of the folders files are served from, resolved once per folder.

    Resolving every requested path from the root costs one ``lstat`` per path component; a pull of ten
    thousand files in a few hundred folders then spends most of its system calls there. With the folder's
    real path cached, a file costs one ``lstat`` (and a full resolve only when the file itself is a link).
    The result is checked against the allowed roots every time, cached or not.
    """

    LIMIT = 4096

    def __init__(self) -> None:
        self._cache: dict[Path, Path] = {}

    def real_file(self, target: Path, shown: str) -> Path:
        parent = self._cache.get(target.parent)
        if parent is None:
            parent = target.parent.resolve()
            if len(self._cache) >= self.LIMIT:
                self._cache.clear()
            self._cache[target.parent] = parent
        candidate = parent / target.name
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            raise FileNotFoundError(shown) from None
        except OSError as exc:
            raise UnsafePathError(f"cannot read {shown!r}: {exc.strerror}") from None
        if stat.S_ISLNK(info.st_mode):
            return _check_regular(candidate.resolve(), shown)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafePathError(f"{shown!r} is not a regular file")
        return candidate


@dataclass
class FolderSpace:
    """Files inside one folder (the session folder): plain relative paths, no dotfiles, no temp files."""

    root: Path
    hidden_suffixes: tuple[str, ...] = (".tmp", ".part")
    _real_root: Path = field(default=Path("/"), init=False, repr=False)
    _parents: _RealParents = field(default_factory=_RealParents, init=False, repr=False)

    def __post_init__(self) -> None:
        self._real_root = self.root.resolve()

    def resolve(self, path: str) -> Path:
        relative = safe_relative_path(path)
        if any(part.startswith(".") for part in relative.parts) or path.endswith(self.hidden_suffixes):
            raise UnsafePathError(f"refused {path!r}: hidden or temporary file")
        real = self._parents.real_file(self.root.joinpath(*relative.parts), path)
        if not real.is_relative_to(self._real_root):
            raise UnsafePathError(f"refused {path!r}: leads out of the session folder")
        return real


@dataclass
class PublicSpace:
    """The public files of the application: URL paths relative to the web root, as the web server sees them.

    The web server follows links (Laravel's ``public/storage`` points to ``storage/app/public``), so
    links are followed here too, but the real target must stay inside one of ``allowed_roots`` (the web
    root and the project directory). Dotfiles are refused at every level, as web servers are told to.
    """

    web_root: Path
    allowed_roots: tuple[Path, ...] = ()
    #: The real paths of the roots, resolved once (a pull asks for thousands of files).
    _real_roots: list[Path] = field(default_factory=list, init=False, repr=False)
    _parents: _RealParents = field(default_factory=_RealParents, init=False, repr=False)
    #: URL folder -> its real path, for folders found inside the roots (see ``_resolve_plain``).
    _plain_folders: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._real_roots = [self.web_root.resolve(), *(root.resolve() for root in self.allowed_roots)]

    def resolve(self, path: str) -> Path:
        fast = self._resolve_plain(path)
        if fast is not None:
            return fast
        # Public URIs are URL paths: percent-encoded, maybe with a query string the files never depend on.
        decoded = unquote(path.split("?", 1)[0].split("#", 1)[0])
        relative = safe_relative_path(decoded)
        if any(part.startswith(".") for part in relative.parts):
            raise UnsafePathError(f"refused {path!r}: hidden file")
        real = self._parents.real_file(self.web_root.joinpath(*relative.parts), path)
        if not any(real.is_relative_to(root) for root in self._real_roots):
            raise UnsafePathError(f"refused {path!r}: leads out of the application")
        return real

    def _resolve_plain(self, path: str) -> Path | None:
        """The common case, with string operations only: a plain path to a regular file in a folder already
        seen inside the roots. Anything unusual (escapes, dots, links, a folder not seen yet) returns None
        for the full check above."""
        # Plain paths need no URL decoding either: '%' is not among their characters.
        if not PLAIN_RELATIVE_PATH.fullmatch(path):
            return None
        folder, _, name = path.rpartition("/")
        real_folder = self._plain_folders.get(folder)
        if real_folder is None:
            real = Path(os.path.realpath(os.path.join(self.web_root, folder)))
            if not any(real.is_relative_to(root) for root in self._real_roots):
                return None
            if len(self._plain_folders) >= _RealParents.LIMIT:
                self._plain_folders.clear()
            real_folder = self._plain_folders[folder] = str(real)
        candidate = real_folder + "/" + name
        try:
            info = os.lstat(candidate)
        except OSError:
            return None
        return Path(candidate) if stat.S_ISREG(info.st_mode) else None


#: ``build(options, log)`` builds the session and returns the ready message (key, encrypted ...).
BuildHandler = Callable[[dict[str, Any], Callable[[str], None]], dict[str, Any]]


class ChannelServer:
    """The server end: answers requests from ``reader`` on ``writer`` until bye or end of input.

    A reader thread takes requests off the input as they come, so a client that pipelines requests never
    blocks on a full pipe, and the end of the input (the client went away) is noticed even while a build
    runs: ``on_disconnect`` is then called (``channel_cmd`` interrupts the build with it).
    """

    def __init__(self, reader: IO[bytes], writer: IO[bytes], spaces: dict[str, FileSpace] | None = None,
                 build: BuildHandler | None = None, on_disconnect: Callable[[], None] | None = None,
                 capabilities: dict[str, Any] | None = None, version: str = "") -> None:
        self._reader = reader
        self._writer = writer
        self.spaces: dict[str, FileSpace] = dict(spaces or {})
        self._build = build
        self._on_disconnect = on_disconnect
        self.capabilities = dict(capabilities or {})
        self.version = version
        self._requests: queue.Queue[dict[str, Any] | BaseException | None] = queue.Queue()
        self._write_lock = threading.Lock()
        self.closed_by_client = False
        self.served = 0
        #: Work that goes on after a request was answered (a dump streamed beside the file transfer);
        #: ``wait_stream`` and ``bye`` wait for it.
        self.background: list[threading.Thread] = []
        #: Set when the input ends: a response in progress stops instead of streaming to nobody.
        self.disconnected = threading.Event()

    # -- output

    def send(self, kind: bytes, payload: bytes = b"") -> None:
        if len(payload) > MAX_FRAME:
            raise ValueError(f"frame payload of {len(payload)} bytes exceeds {MAX_FRAME}")
        with self._write_lock:
            # Header and payload written apart: a large payload then skips the buffer instead of being copied.
            self._writer.write(HEADER.pack(kind, len(payload)))
            self._writer.write(payload)

    def send_json(self, kind: bytes, message: dict[str, Any], flush: bool = True) -> None:
        with self._write_lock:
            self._writer.write(encode_json(kind, message))
            if flush:
                self._writer.flush()

    def _flush_if_idle(self) -> None:
        """Flush unless more requests are already waiting: pipelined answers then leave in few large writes."""
        if self._requests.empty():
            with self._write_lock:
                self._writer.flush()

    def log(self, message: str) -> None:
        """A progress line for the client (shown like receive's progress)."""
        self.send_json(LOG, {"message": message})

    def fatal(self, message: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.send_json(FATAL, {"message": message})

    # -- input

    def _read_requests(self) -> None:
        try:
            while True:
                kind, payload = read_frame(self._reader)
                if kind != REQUEST:
                    raise FramingError(f"unexpected {kind.decode('ascii', 'replace')} frame from the client")
                message = decode_json(kind, payload)
                self._requests.put(message)
                if message.get("op") == "bye":
                    return
        except ChannelClosed:
            self._requests.put(None)
        except (FramingError, OSError, ValueError) as exc:
            self._requests.put(exc if isinstance(exc, FramingError) else ChannelClosed(str(exc)))
        self.disconnected.set()
        if self._on_disconnect is not None:
            self._on_disconnect()

    def _next_request(self) -> dict[str, Any] | None:
        item = self._requests.get()
        if isinstance(item, BaseException):
            raise item
        return item

    # -- main loop

    def serve(self) -> None:
        """Greet, then answer requests until bye (acknowledged) or the end of the input."""
        self._writer.write(MAGIC)
        self.send_json(HELLO, {
            "protocol": PROTOCOL_VERSION, "version": self.version,
            "python": ".".join(str(part) for part in __import__("sys").version_info[:3]),
            "capabilities": {**self.capabilities, "get_batch": True, "stream_database": self._build is not None},
        })
        threading.Thread(target=self._read_requests, name="channel-requests", daemon=True).start()
        while True:
            request = self._next_request()
            if request is None:
                self.closed_by_client = True
                log.debug("the client closed the channel")
                return
            op = request.get("op")
            if op == "bye":
                self.closed_by_client = True
                self.wait_background()
                return
            if op == "wait_stream":
                self.wait_background()
                self.send_json(RESPONSE, {"status": "ok"})
            elif op == "get":
                self._answer_get(request)
            elif op == "get_batch":
                self._answer_get_batch(request)
            elif op == "build":
                self._answer_build(request)
            else:
                self.send_json(RESPONSE, {"status": "error", "message": f"unknown request {op!r}"})

    def wait_background(self, timeout: float | None = None) -> None:
        """Wait for the background jobs (each up to ``timeout`` seconds; a job still running is left)."""
        while self.background:
            self.background.pop(0).join(timeout)

    def acknowledge_bye(self) -> None:
        """Send the bye acknowledgement (after cleanup, so the client knows the remote side is clean)."""
        with contextlib.suppress(OSError, ValueError):
            self.send_json(BYE, {})

    def _answer_build(self, request: dict[str, Any]) -> None:
        if self._build is None:
            self.send_json(FATAL, {"message": "this channel serves no build"})
            return
        options = request.get("options")
        ready = self._build(options if isinstance(options, dict) else {}, self.log)
        self.send_json(READY, ready)

    def _error(self, message: str) -> None:
        self.send_json(RESPONSE, {"status": "error", "message": message}, flush=False)
        self._flush_if_idle()

    def _open(self, space: FileSpace, space_name: str, path: str) -> tuple[IO[bytes] | None, str, str]:
        """Open a requested file: ``(handle, "ok", "")``, or ``(None, status, message)`` saying why not."""
        try:
            return space.resolve(path).open("rb"), "ok", ""
        except FileNotFoundError:
            return None, "missing", f"no such file: {path}"
        except SyncoError as exc:
            log.debug("refused %s %r: %s", space_name, path, exc)
            return None, "refused", str(exc)
        except OSError as exc:
            return None, "error", f"cannot read {path}: {exc.strerror}"

    def _answer_get(self, request: dict[str, Any]) -> None:
        space_name = request.get("space")
        path = request.get("path")
        offset = request.get("offset", 0)
        length = request.get("length")
        compress = request.get("compress")
        space = self.spaces.get(space_name) if isinstance(space_name, str) else None
        if space is None or not isinstance(path, str) or not isinstance(offset, int) or offset < 0 or (
                length is not None and (not isinstance(length, int) or length < 1)):
            self._error("malformed get request")
            return
        if compress not in (None, "zlib"):
            self._error(f"unsupported compression {compress!r}")
            return
        handle, status, message = self._open(space, str(space_name), path)
        if handle is None:
            self.send_json(RESPONSE, {"status": status, "message": message}, flush=False)
            self._flush_if_idle()
            return
        with handle:
            size = os.fstat(handle.fileno()).st_size
            if offset and offset >= size:
                # As HTTP's 416: nothing left to read from there (the transport's RangeNotSatisfiableError).
                self.send_json(RESPONSE, {"status": "range", "message": f"offset {offset} at or past size {size}",
                                          "size": size}, flush=False)
                self._flush_if_idle()
                return
            handle.seek(offset)
            remaining = size - offset if length is None else min(size - offset, length)
            header: dict[str, Any] = {"status": "ok", "size": size, "offset": offset}
            if length is not None:
                header["length"] = remaining
            self.send_json(RESPONSE, header, flush=False)
            compressor = zlib.compressobj(3) if compress == "zlib" else None
            # A file that grows while served is cut at the announced size; one that shrinks ends early,
            # which the client notices from the byte count (the END frame comes too soon).
            while remaining > 0:
                if self.disconnected.is_set():
                    raise ChannelClosed("the client went away during a response")
                chunk = handle.read(min(DATA_CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                data = compressor.compress(chunk) if compressor else chunk
                if data:
                    self.send(DATA, data)
            if compressor is not None:
                tail = compressor.flush()
                if tail:
                    self.send(DATA, tail)
            self.send_json(END, {}, flush=False)
        self._flush_if_idle()
        self.served += 1

    def _answer_get_batch(self, request: dict[str, Any]) -> None:
        """Many whole files in one answer: per file an ``F`` frame, then its data (see the module docs)."""
        space_name = request.get("space")
        paths = request.get("paths")
        space = self.spaces.get(space_name) if isinstance(space_name, str) else None
        if space is None or not isinstance(paths, list) or not all(isinstance(path, str) for path in paths):
            self._error("malformed get_batch request")
            return
        for path in paths:
            if self.disconnected.is_set():
                raise ChannelClosed("the client went away during a response")
            handle, status, message = self._open(space, str(space_name), path)
            if handle is None:
                self.send(FILE, FILE_HEADER.pack(FILE_STATUSES.index(status), 0) + message.encode("utf-8", "replace"))
                continue
            with handle:
                size = os.fstat(handle.fileno()).st_size
                self.send(FILE, FILE_HEADER.pack(0, size))
                remaining = size
                while remaining > 0:
                    try:
                        chunk = handle.read(min(DATA_CHUNK, remaining))
                        problem = "it shrank while it was read"
                    except OSError as exc:
                        chunk, problem = b"", f"cannot read it: {exc.strerror}"
                    if not chunk:
                        # The header promised more than there is: the client drops this one file.
                        self.send(ABORT, f"{path}: {problem}".encode("utf-8", "replace"))
                        break
                    remaining -= len(chunk)
                    self.send(DATA, chunk)
            if remaining == 0:
                self.served += 1
        self._flush_if_idle()


# -------------------------------------------------------------------------------------- client transport


@dataclass
class ChannelResponse:
    """One open read, in the shape of :class:`synco_core.transfer.transport.Response`."""

    status: int
    offset: int
    total_size: int | None
    chunks: Iterator[bytes]

    def iter_bytes(self) -> Iterator[bytes]:
        yield from self.chunks


class _Collect:
    """A write-only sink the age writer encrypts into; its content is taken out after every write."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: Any) -> int:
        self.buffer += data
        return len(data)

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


class ChannelTransport:
    """A :class:`~synco_core.transfer.transport.Transport` reading a session through a channel.

    Paths under ``<session folder>/`` are the session's artifacts; any other relative path is a public
    file (a URL path under the web root); absolute ``http(s)://`` URLs (files on S3 or a CDN) are fetched
    directly from this machine over HTTP, as receive would.

    When the remote host could not encrypt (no ``cryptography`` there), the session arrives as plaintext
    through the already encrypted channel. So that the receive code stays one code path, this transport
    then wraps what it hands on in age encryption to ``rewrap`` (a local recipient whose identity only
    this process knows): the meta file (its ``encryptedSizeBytes`` removed, since the local re-encryption
    has its own sizes), the indexes, and the artifacts as streams. Plaintext sizes and SHA-256 sums are
    still verified by receive against the meta.
    """

    #: Files per :meth:`open_many` call, and readers (see ``receive_public_files``): a channel is one
    #: ordered stream, so two readers keep it busy (one reads while the other's files are on their way)
    #: and more would only wait for their turn.
    pipeline_files = 2048
    pipeline_readers = 2

    def __init__(self, client: ChannelClient, session_folder: str, *, description: str,
                 channel_compression: str | None = None, rewrap: Sequence[Any] | None = None,
                 meta_limit: int = 512 << 20) -> None:
        self.client = client
        self.session_folder = session_folder.strip("/")
        self.description = description
        self.channel_compression = channel_compression
        self.rewrap = list(rewrap) if rewrap else None
        self._meta_limit = meta_limit
        self._small_documents: set[str] = {"meta.json.enc"}
        self._http: dict[str, Any] = {}
        self._http_lock = threading.Lock()

    @contextlib.contextmanager
    def open(self, path: str, offset: int = 0, length: int | None = None) -> Iterator[ChannelResponse]:
        from synco_core.transfer.transport import ForbiddenError, NotFoundError, RangeNotSatisfiableError

        if path.startswith(("http://", "https://")):
            with self._http_transport(path).open(path, offset, length) as response:
                yield response
            return
        prefix = self.session_folder + "/"
        if path.startswith(prefix):
            space, name, compress = "session", path[len(prefix):], self.channel_compression
        else:
            space, name, compress = "public", path, None
        rewrap = self.rewrap is not None and space == "session"
        with self.client.get(space, name, 0 if rewrap else offset, compress,
                             None if rewrap else length) as response:
            if response.status == "missing":
                raise NotFoundError(f"not found on the remote side: {path}")
            if response.status == "range":
                raise RangeNotSatisfiableError(f"range not satisfiable: {path}")
            if response.status == "refused":
                # As a web server's 403: asking again will not get it.
                raise ForbiddenError(f"the remote side refused {path}: {response.message or response.status}")
            if not response.ok:
                raise TransferError(f"the remote side refused {path}: {response.message or response.status}")
            if not rewrap:
                yield ChannelResponse(status=206 if response.offset else 200, offset=response.offset,
                                      total_size=response.size, chunks=response.iter_chunks())
            elif name in self._small_documents or name.endswith(".index.json.enc"):
                data = self._encrypt_document(name, response)
                yield ChannelResponse(status=200, offset=0, total_size=len(data), chunks=iter([data]))
            else:
                # The re-encrypted stream always starts at 0 (a fresh file key), which receive handles like
                # a server ignoring a Range request: it restarts its part file.
                yield ChannelResponse(status=200, offset=0, total_size=None,
                                      chunks=self._encrypt_stream(response.iter_chunks()))

    def open_many(self, paths: Sequence[str]) -> Iterator[tuple[int, ChannelResponse | None]]:
        """Pipelined public-file reads, in the shape of :meth:`HttpTransport.open_many`.

        One thread keeps a window of requests in flight and reads the answers in order, so thousands of
        small files cost no thread hand-off each. ``None`` stands for an answer that is not a plain ``ok``
        (missing, refused): the caller asks again with :meth:`open`, which turns it into the right error.
        """
        prefix = self.session_folder + "/"
        if any(path.startswith((prefix, "http://", "https://")) for path in paths):
            raise TransferError("open_many reads public files of the application only")
        answers: Iterator[tuple[int, Response | BatchFile]]
        if self.client.batches:
            answers = self.client.get_batch("public", paths)
        else:
            answers = ((position, response) for position, (_request, response)
                       in enumerate(self.client.get_many([("public", path, 0) for path in paths])))
        for position, response in answers:
            if not response.ok:
                yield position, None
                continue
            yield position, ChannelResponse(status=200, offset=0, total_size=response.size,
                                            chunks=response.iter_chunks())

    def _encrypt_document(self, name: str, response: Response) -> bytes:
        from synco_core import age

        data = bytearray()
        for chunk in response.iter_chunks():
            data += chunk
            if len(data) > self._meta_limit:
                raise TransferError(f"{name} is larger than {self._meta_limit} bytes; refusing to hold it in memory")
        plain = bytes(data)
        if name == "meta.json.enc":
            plain = self._strip_encrypted_sizes(plain)
        assert self.rewrap is not None
        return age.encrypt_bytes(plain, self.rewrap)

    def _strip_encrypted_sizes(self, plain: bytes) -> bytes:
        from synco_core.wire import Meta

        meta = Meta.from_bytes(plain)
        for file_set in meta.file_sets:
            for detail in (file_set.dump, file_set.public, file_set.private):
                if detail is not None:
                    detail.encrypted_size_bytes = None
            if file_set.public is not None:
                self._small_documents.add(file_set.public.index_file_name)
        return meta.to_bytes()

    def _encrypt_stream(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        from synco_core import age

        assert self.rewrap is not None
        sink = _Collect()
        writer = age.encrypt_writer(sink, self.rewrap)  # type: ignore[arg-type]
        yield sink.take()
        for chunk in chunks:
            writer.write(chunk)
            if sink.buffer:
                yield sink.take()
        writer.close()
        yield sink.take()

    def _http_transport(self, url: str) -> Any:
        from urllib.parse import urlsplit

        from synco_core.transfer.transport import HttpTransport

        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}/"
        with self._http_lock:
            if origin not in self._http:
                self._http[origin] = HttpTransport(origin)
            return self._http[origin]

    def close(self) -> None:
        with self._http_lock:
            for transport in self._http.values():
                transport.close()
            self._http.clear()
