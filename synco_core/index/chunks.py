"""The chunk table of a public index: what lets a re-sync parse only the parts of the index that changed.

Serve cuts its index into chunks of :data:`CHUNK_ENTRIES` consecutive entries and writes, beside the index,
one line per chunk (an artifact of its own, ``Resources-<set>.chunks.json.enc``):

.. code-block:: text

    ["a/b.jpg",2,8,680,"5be1...(32 hex digits)"]

the chunk's first path, the byte offset of its first line in the index's plaintext, its number of entries,
the bytes its entries take in a receiver's file of hashes (``path NUL sha256 LF`` for each entry with a
SHA-256, :mod:`synco_core.receive.knownhashes`), and a digest of what a receiver's folder and file of hashes
hold once those entries are current (:func:`digest_of`), or ``null`` for a chunk a receiver must always
compare in full (one with a SHA-1 entry, whose local files are judged by reading them).

A receiver that has received the set before walks its folder once, makes the same digest of the local files
in each chunk's path range (from the chunk's first path to the next chunk's) and of the lines of its file of
hashes for that range (taken as bytes, never parsed), and parses only the index lines of the chunks whose
digest differs; the others' bytes pass through decryption and decompression unparsed. Equal digests mean
the full comparison would find every file of the chunk current and no other file in its range
(:mod:`synco_core.receive.chunked`).

The table is an addition: a reader that does not know it (older synco, Go synco v2) never fetches it, and a
session without one is compared in full.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from synco_core.wire import WireFormatError, index_path

#: Entries per chunk. A re-sync parses the chunks holding a change: with changes spread evenly over the set
#: (1 % of the files, the issue's case), a chunk of N entries holds none with probability 0.99^N, so small
#: chunks leave most of the index unparsed (8: 92 %, 32: 72 %), while each chunk costs a line of the table
#: and a digest on both sides.
CHUNK_ENTRIES = 8
#: Most entries of a chunk a reader accepts (a writer may choose chunks of another size, up to this).
MAX_CHUNK = 4096
#: Longest line of a file of hashes a chunk's row may count (a path of 4 KiB, its hash): what a reader holds
#: of one chunk's lines is bounded by this.
MAX_KNOWN_LINE = 4096 + 66
#: Bytes of a chunk's digest (BLAKE2b; 128 bits, shown as 32 hex digits).
DIGEST_BYTES = 16
#: Table lines parsed per call into the JSON parser.
BATCH_LINES = 1024
#: Longest line of a table a reader accepts (a path is at most a few KB).
MAX_LINE = 64 * 1024
_HEX_DIGEST = re.compile(r"[0-9a-f]{32}")
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')


def digest_of(files: list[str], known: bytes) -> str:
    """A chunk's digest: BLAKE2b over its files' lines, ``path NUL size NUL mtime LF`` (the mtime in whole
    seconds, unclamped: a local time only a file system's clamping made equal is compared in full), a NUL,
    and its lines of the file of hashes, ``path NUL sha256 LF`` (lower case) for each file with a SHA-256."""
    digest = hashlib.blake2b("".join(files).encode(errors="surrogateescape"), digest_size=DIGEST_BYTES)
    digest.update(b"\0")
    digest.update(known)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class ChunkRow:
    """One line of the table."""

    first: str
    offset: int
    count: int
    #: Bytes of the chunk's lines in a file of hashes.
    known_bytes: int
    #: None: the chunk is always compared in full.
    digest: str | None


def _quoted(text: str) -> str:
    return f'"{text}"' if _NEEDS_ESCAPE.search(text) is None else json.dumps(text, ensure_ascii=False)


class ChunkTableWriter:
    """Serve's side: told each chunk's entries and where its lines start (:meth:`end`, by the index writer,
    which knows that), writes the table to ``out``."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._pending: list[str] = []
        #: Chunks written.
        self.count = 0

    def end(self, rows: list[tuple[Any, ...]], offset: int) -> None:
        """The chunk of ``rows`` (the index writer's: path, size, mtime, URI, absolute, sha1, sha256, ...),
        whose first line starts at ``offset``."""
        # Comprehensions over the chunk's rows, not a call per entry: serve writes hundreds of thousands.
        files = [f"{row[0]}\0{row[1]}\0{row[2]}\n" for row in rows]
        known = "".join([f"{row[0]}\0{row[6].lower()}\n" for row in rows if row[6]]).encode()
        digest = "null" if any(row[5] for row in rows) else f'"{digest_of(files, known)}"'
        self._pending.append(f"[{_quoted(rows[0][0])},{offset},{len(rows)},{len(known)},{digest}]\n")
        self.count += 1
        if len(self._pending) >= BATCH_LINES:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._out.write("".join(self._pending).encode())
            self._pending = []

    def close(self) -> None:
        self._flush()


def read_chunk_table(plain: BinaryIO, index_size: int) -> Iterator[ChunkRow]:
    """The rows of a table's plaintext, each checked: a normalised first path, paths and offsets strictly
    increasing, offsets inside the index (``index_size`` bytes), from 1 to :data:`MAX_CHUNK` entries a chunk
    (a reader holds one chunk's entries). Raises :class:`WireFormatError` naming what is wrong."""
    last: ChunkRow | None = None
    while True:
        lines: list[bytes] = []
        while len(lines) < BATCH_LINES:
            line = plain.readline(MAX_LINE + 1)
            if not line:
                break
            if len(line) > MAX_LINE or not line.endswith(b"\n"):
                raise WireFormatError("malformed chunk table: a line is too long or not ended")
            lines.append(line)
        if not lines:
            return
        try:
            rows = json.loads(b"[" + b",".join(lines) + b"]")
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise WireFormatError("malformed chunk table: not JSON") from None
        if len(rows) != len(lines):
            raise WireFormatError("malformed chunk table: not one row per line")
        for row in rows:
            if (type(row) is not list or len(row) != 5 or type(row[0]) is not str or type(row[1]) is not int
                    or type(row[2]) is not int or type(row[3]) is not int
                    or not (row[4] is None or (type(row[4]) is str and _HEX_DIGEST.fullmatch(row[4])))):
                raise WireFormatError("malformed chunk table: a row is not [path, offset, count, bytes, digest]")
            first, offset, count, known, digest = row
            if index_path(first) != first or not 1 <= count <= MAX_CHUNK or not 0 < offset < index_size \
                    or not 0 <= known <= count * MAX_KNOWN_LINE:
                raise WireFormatError(f"malformed chunk table: the row of {first!r} is out of bounds")
            if last is not None and (first <= last.first or offset <= last.offset):
                raise WireFormatError(f"malformed chunk table: {first!r} is not after {last.first!r}")
            last = ChunkRow(first, offset, count, known, digest)
            yield last
