"""Opening a dump for ``synco db load``, a file or standard input: its kind is told by its first bytes, not its name.

A name is a claim the content may not keep (``dump.sql.zst`` that is plain SQL, a ``.gz`` someone already
unpacked, an ``.age`` file that is not encrypted): the decompressor chosen by the name would fail deep in the
load with a library's message. So the content decides, and a name that promises what the content is not is
refused in one line naming the file and what it really is, as ``gunzip`` and ``zstd -d`` refuse such files.
A compressed file without the suffix is read all the same, as ``pg_restore`` reads an archive by its header.
Standard input (``-``) is told by the same bytes: ``ssh prod cat dump.sql.zst | synco db load URL -`` loads as
the file would, and an empty stream (the command before the pipe failed) is refused instead of loaded.
"""

from __future__ import annotations

import contextlib
import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from synco_core.errors import ConfigError

ZSTD = "zstd-compressed"
GZIP = "gzip-compressed"
AGE = "encrypted (age)"

#: What a file is, by its first bytes; the kinds synco can read through come first.
_KINDS = {
    b"\x28\xb5\x2f\xfd": ZSTD,
    b"\x1f\x8b": GZIP,
    b"age-encryption.org/": AGE,
    b"PGDMP": "a pg_dump archive (custom or tar format)",
    b"SQLite format 3\x00": "an SQLite database file",
}

#: The suffixes that promise a wrapping, and the wrapping they promise.
_SUFFIXES = {".zst": ZSTD, ".gz": GZIP, ".age": AGE}

#: Enough for every magic above.
_HEAD = 32


def kind_of(head: bytes) -> str:
    """What a file whose first bytes are ``head`` is, in words for an error message."""
    for magic, kind in _KINDS.items():
        if head.startswith(magic):
            return kind
    if not head:
        return "empty"
    if b"\x00" in head:
        return "binary data"
    return "plain text (an uncompressed SQL script?)"


class _Reader:
    """``readinto`` and ``readable`` over a subclass's ``read``: what a binary file object needs besides."""

    def read(self, size: int = -1) -> bytes:
        raise NotImplementedError

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


class _ReadErrors(_Reader):
    """A decompressing reader whose failures name the file instead of the library's exception class."""

    def __init__(self, reader: BinaryIO, name: str, kind: str) -> None:
        self._reader = reader
        self._path = name
        self._kind = kind

    def read(self, size: int = -1) -> bytes:
        try:
            return self._reader.read(size)
        except Exception as exc:
            # zstandard raises its own ZstdError, which is not an OSError.
            if not isinstance(exc, (OSError, EOFError, zlib.error)) and type(exc).__name__ != "ZstdError":
                raise
            raise ConfigError(f"cannot load {self._path}: its {self._kind} data is damaged or cut short "
                              f"({exc})") from None


class _ZstdFrames:
    """zstd frames one after another, decompressed as read; input ending inside a frame is an error.

    ``zstandard``'s stream reader ends quietly where the input ends, so a half-copied ``.zst`` would load
    half a dump; a decompression object says whether its frame was complete.
    """

    def __init__(self, raw: BinaryIO) -> None:
        import zstandard

        self._new = zstandard.ZstdDecompressor().decompressobj
        self._raw = raw
        self._frame = self._new()
        self._fed = False
        self._pending = b""
        self._ended = False
        self._buffer = b""

    def _more(self) -> bytes:
        while not self._ended:
            chunk = self._pending or self._raw.read(1 << 16)
            self._pending = b""
            if not chunk:
                self._ended = True
                if self._fed and not self._frame.eof:
                    raise EOFError("the input ends inside a zstd frame")
                return b""
            self._fed = True
            out = self._frame.decompress(chunk)
            if self._frame.eof:
                self._pending = self._frame.unused_data
                self._frame = self._new()
                self._fed = False
            if out:
                return bytes(out)
        return b""

    def read(self, size: int = -1) -> bytes:
        # Bounded: at most one decompressed piece beyond ``size`` is held.
        buffered = self._buffer
        while size < 0 or len(buffered) < size:
            part = self._more()
            if not part:
                break
            buffered += part
        if size < 0:
            size = len(buffered)
        self._buffer = buffered[size:]
        return buffered[:size]


class Prefixed(_Reader):
    """A stream whose first bytes were read already to tell its kind: they come first, then the rest.

    Standard input cannot be sought back to its start, so what was read to sniff it is handed out again.
    """

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                data, self._head = self._head + self._rest.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._rest.read(size)


#: Kinds that are no dump synco can load, and what to do instead.
_REFUSED = {
    "empty": "there is nothing to load (did the command writing it fail?)",
    _KINDS[b"PGDMP"]: "turn it into SQL first (pg_restore -f - FILE)",
    "binary data": "it is not a dump synco can read (SQL, an SQLite database, zstd or gzip of either)",
}


def _read_head(raw: BinaryIO) -> bytes:
    """Up to :data:`_HEAD` first bytes of ``raw``: a pipe may hand them over in several pieces."""
    head = b""
    while len(head) < _HEAD:
        piece = raw.read(_HEAD - len(head))
        if not piece:
            break
        head += piece
    return head


@dataclass(frozen=True)
class OpenedDump:
    """A dump opened for loading: its content (decompressed on the fly) and the format to load it as."""

    stream: BinaryIO
    #: ``sqlite`` for an SQLite database file, ``sql`` for everything else (a script, or a compressed stream,
    #: which the SQLite engine tells apart by its content).
    format: str


@contextlib.contextmanager
def open_dump(path: Path, stdin: BinaryIO | None = None) -> Iterator[OpenedDump]:
    """``path`` (``-``: ``stdin``) opened for reading, decompressed on the fly when its first bytes say zstd
    or gzip; a file and standard input are told apart by nothing else.

    A suffix (``.zst``, ``.gz``, ``.age``) the content does not bear out, an encrypted or empty input, a
    pg_dump archive and binary data are :class:`ConfigError` naming the input and what it is, before
    anything is loaded; compressed data that is damaged or cut short is one when it is read.
    """
    if str(path) == "-" and stdin is not None:
        with contextlib.nullcontext(stdin) as raw:
            yield from _opened(raw, "standard input", None)
        return
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise ConfigError(f"cannot read dump {path}: {exc.strerror}") from exc
    with raw:
        yield from _opened(raw, str(path), _SUFFIXES.get(path.suffix.lower()))


def _opened(raw: BinaryIO, name: str, promised: str | None) -> Iterator[OpenedDump]:
    try:
        head = _read_head(raw)
    except OSError as exc:
        raise ConfigError(f"cannot read dump {name}: {exc.strerror}") from exc
    kind = kind_of(head)
    if promised is not None and promised != kind:
        raise ConfigError(f"cannot load {name}: its name says {promised} but it is {kind}; rename it")
    if kind == AGE:
        raise ConfigError(f"cannot load {name}: it is still encrypted (age); decrypt it first (synco decrypt)")
    if kind in _REFUSED:
        raise ConfigError(f"cannot load {name}: it is {kind}; {_REFUSED[kind]}")
    stream = cast(BinaryIO, Prefixed(head, raw))
    if kind == ZSTD:
        yield OpenedDump(cast(BinaryIO, _ReadErrors(cast(BinaryIO, _ZstdFrames(stream)), name, kind)), "sql")
    elif kind == GZIP:
        with gzip.open(stream, "rb") as unpacked:
            yield OpenedDump(cast(BinaryIO, _ReadErrors(cast(BinaryIO, unpacked), name, kind)), "sql")
    else:
        yield OpenedDump(stream, "sqlite" if kind == _KINDS[b"SQLite format 3\x00"] else "sql")
