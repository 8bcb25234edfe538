"""The server end of the channel: answers a client's requests from the spaces it was given."""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import zlib
from collections.abc import Callable
from typing import IO, Any

from synco_core.errors import SyncoError
from synco_core.pull.frames import (
    ABORT,
    BYE,
    DATA,
    DATA_CHUNK,
    END,
    FATAL,
    FILE,
    FILE_HEADER,
    FILE_STATUSES,
    HEADER,
    HELLO,
    LOG,
    MAGIC,
    MAX_FRAME,
    PROTOCOL_VERSION,
    READY,
    REQUEST,
    RESPONSE,
    ChannelClosed,
    FramingError,
    decode_json,
    encode_json,
    read_frame,
)
from synco_core.pull.spaces import FileSpace
from synco_core.redaction import one_line

log = logging.getLogger(__name__)

#: ``build(options, log)`` builds the session and returns the ready message (key, encrypted ...).
BuildHandler = Callable[[dict[str, Any], Callable[[str], None]], dict[str, Any]]
#: ``requirements(options)``: what a dump of the project's database would need of the loading server, before
#: anything is built (the answer's ``requires``, as the meta writes it; ``engine``: the database's engine).
RequirementsHandler = Callable[[dict[str, Any]], dict[str, Any]]


class ChannelServer:
    """The server end: answers requests from ``reader`` on ``writer`` until bye or end of input.

    A reader thread takes requests off the input as they come, so a client that pipelines requests never
    blocks on a full pipe, and the end of the input (the client went away) is noticed even while a build
    runs: ``on_disconnect`` is then called (``channel_cmd`` interrupts the build with it).
    """

    def __init__(self, reader: IO[bytes], writer: IO[bytes], spaces: dict[str, FileSpace] | None = None,
                 build: BuildHandler | None = None, on_disconnect: Callable[[], None] | None = None,
                 capabilities: dict[str, Any] | None = None, version: str = "",
                 requirements: RequirementsHandler | None = None) -> None:
        self._reader = reader
        self._writer = writer
        self.spaces: dict[str, FileSpace] = dict(spaces or {})
        self._build = build
        self._requirements = requirements
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
            "capabilities": {**self.capabilities, "get_batch": True, "stream_database": self._build is not None,
                             "requirements": self._requirements is not None},
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
            elif op == "requirements":
                self._answer_requirements(request)
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

    def _answer_requirements(self, request: dict[str, Any]) -> None:
        if self._requirements is None:
            self.send_json(RESPONSE, {"status": "error", "message": "this channel serves no requirements"})
            return
        options = request.get("options")
        try:
            answer = self._requirements(options if isinstance(options, dict) else {})
        except Exception as exc:  # Not fatal: the build that follows says it again, or goes on without it.
            self.send_json(RESPONSE, {"status": "error", "message": one_line(str(exc))})
            return
        self.send_json(RESPONSE, {"status": "ok", **answer})

    def _error(self, message: str) -> None:
        self.send_json(RESPONSE, {"status": "error", "message": message}, flush=False)
        self._flush_if_idle()

    def _open(self, space: FileSpace, space_name: str, path: str) -> tuple[IO[bytes] | None, str, str]:
        """Open a requested file: ``(handle, "ok", "")``, or ``(None, status, message)`` saying why not."""
        try:
            return space.open(path), "ok", ""
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
