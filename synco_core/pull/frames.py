"""Frames of the channel protocol: the frame types, encoding and decoding, the protocol's errors.

The wire format (every frame type, who sends it, its payload) is described in docs/wire-format.md,
section "The pull channel". Why frames: ssh, ``docker exec`` and ``kubectl exec`` give one ordered byte
stream each way and nothing else, so every message carries its own length and nothing depends on line
endings or text encodings. A frame longer than :data:`MAX_FRAME`, an unknown type, or a stream that
ends inside a frame is a :class:`FramingError` (a :class:`~synco_core.errors.TransferError`), never a
crash or a hang.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Protocol

from synco_core import hostilejson
from synco_core.errors import TransferError
from synco_core.redaction import one_line

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


class _Guard(Protocol):
    def arm(self) -> None: ...

    def disarm(self) -> None: ...


def _read_guarded(stream: _Reader, size: int, guard: _Guard) -> bytes:
    """:func:`read_exact` inside a frame: every piece that arrives re-arms ``guard`` (a stalled stream ends).

    ``read1`` where the stream has it: a buffered ``read(n)`` returns only once all ``n`` bytes are in, and
    the guard would not see a slow but steady stream make progress.
    """
    read = getattr(stream, "read1", stream.read)
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        guard.arm()
        chunk = read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(stream: _Reader, guard: _Guard | None = None) -> tuple[bytes, bytes]:
    """The next (type, payload); :class:`ChannelClosed` at a clean end, :class:`FramingError` otherwise.

    ``guard`` (a :class:`~synco_core.pull.stall.StallGuard`) is armed from a frame's first byte to its last:
    silence between frames is the remote side at work, silence inside one is a stalled stream.
    """
    if guard is None:
        head = read_exact(stream, HEADER.size)
    else:
        head = stream.read(1)
        try:
            head += _read_guarded(stream, HEADER.size - 1, guard) if head else b""
        finally:
            guard.disarm()
    if not head:
        raise ChannelClosed("the channel closed")
    if len(head) < HEADER.size:
        raise FramingError("the channel closed in the middle of a frame header")
    kind, length = HEADER.unpack(head)
    if kind not in FRAME_TYPES:
        raise FramingError(f"malformed frame: unknown type {kind!r}")
    if length > MAX_FRAME:
        raise FramingError(f"malformed frame: length {length} exceeds the limit of {MAX_FRAME}")
    if guard is None:
        payload = read_exact(stream, length)
    else:
        try:
            payload = _read_guarded(stream, length, guard)
        finally:
            guard.disarm()
    if len(payload) < length:
        raise FramingError(f"the channel closed in the middle of a frame ({len(payload)} of {length} bytes)")
    return kind, payload


def decode_json(kind: bytes, payload: bytes) -> dict[str, Any]:
    """The JSON object of a control frame; anything else is a :class:`FramingError`."""
    try:
        message = hostilejson.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FramingError(f"malformed {kind.decode('ascii', 'replace')} frame: not JSON") from None
    if not isinstance(message, dict):
        raise FramingError(f"malformed {kind.decode('ascii', 'replace')} frame: not a JSON object")
    return message


def int_field(message: dict[str, Any], key: str, kind: bytes, default: int | None = None) -> int | None:
    """``message[key]`` as a non-negative integer (``default`` when absent); anything else is a framing error.

    The other side may be hostile or broken: a string, a float, infinity or a list where a size belongs
    must end the pull with one line naming the frame, not with whatever ``int()`` makes of it.
    """
    value = message.get(key)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FramingError(f"malformed {kind.decode('ascii', 'replace')} frame: {key!r} should be a "
                           f"non-negative integer, not {remote_text(repr(value), 40)}")
    return value


def remote_text(value: object, limit: int = 500) -> str:
    """Text the other side sent, fit for the terminal: :func:`~synco_core.redaction.one_line`, at most ``limit``
    characters (a hostile remote must not move the cursor, set the clipboard or forge lines of output)."""
    return one_line(str(value), limit)


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
