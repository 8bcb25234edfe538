"""A re-sync that parses only the chunks of the index holding a change (:mod:`synco_core.index.chunks`).

The full comparison (:func:`synco_core.receive.compare.compare_public_files`) merges every index entry with
a walk of the local folder. With the index's chunk table, this module does the same walk once and, chunk by
chunk, makes the table's digest of the local files in the chunk's path range (path, size, mtime, and the
SHA-256 each was received as). Where it equals the table's, every entry of the chunk is current and no other
file is in its range: the chunk is handed on as one :class:`CleanChunk` and its index lines are passed over
unparsed as the index streams through decryption and decompression. Any other chunk has its lines parsed and
merged with the same local files, exactly as the full comparison does, which then judges them as usual.

So the decisions are the full comparison's own: a clean chunk holds only what that comparison would find
current (a regular file of the entry's size and whole-second mtime, received as the entry's SHA-256, or with
no SHA-256 on either side), and everything else goes through it. Memory holds one chunk's entries and, while
a chunk could still be clean, its local files: a range holding more local files than its chunk has entries
is dirty already, and the rest of it streams.

The index is checked as far as it is read: every parsed line as the full reader checks it, each dirty
chunk's lines against its row (first path, count, range, where the next chunk starts), and the whole
plaintext against the meta's ``indexSha256`` (and the table against ``chunksSha256``) once the merge is
through; lines of clean chunks are not parsed.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

from synco_core.errors import TransferError
from synco_core.fsutil import second_of
from synco_core.index.chunks import ChunkRow, digest_of
from synco_core.index.order import merge_sorted, sorted_walk_lstat
from synco_core.index.stream import MAX_ENTRY, _parse_batch
from synco_core.receive.knownhashes import LOOK_UP, KnownHashes
from synco_core.wire import PublicIndexEntry, WireFormatError

#: Bytes read per call while the lines of a clean chunk are passed over.
SKIP_BLOCK = 256 * 1024

#: A local file as the chunked merge hands it on: (its path on disk, its lstat, LOOK_UP: the comparison looks
#: up the hash it was received as when it needs it).
Found = tuple[str, Any, object]


@dataclass
class ChunkedIndex:
    """An index with its chunk table, as :func:`~synco_core.receive.public_index.open_index` gives it for a
    re-sync: the index's plaintext, the table's rows, and what checks them at the end."""

    plain: BinaryIO
    rows: Iterator[ChunkRow]
    file_count: int
    #: Reads what is left of both streams and checks their SHA-256s (raises when they differ).
    verify: Callable[[], None]
    #: Checks a parsed entry before it is used (an absolute URL's origin).
    check: Callable[[PublicIndexEntry], None]


@dataclass(slots=True)
class CleanChunk:
    """The local files of a chunk the full comparison would find all current: (path, disk path, lstat) in
    index order, and their lines of the file of hashes (the entries' SHA-256s)."""

    files: list[tuple[str, str, Any]]
    known: bytes


class _Lines:
    """The index's plaintext read from one offset to the next: lines parsed, or passed over."""

    def __init__(self, plain: BinaryIO) -> None:
        self._plain = plain
        first = plain.readline(MAX_ENTRY)
        if first.rstrip(b"\r\n") != b"{":
            raise WireFormatError("malformed public files index: it does not start with '{' on a line of its own")
        self.position = len(first)

    def skip_to(self, offset: int) -> None:
        if offset < self.position:
            raise WireFormatError("malformed chunk table: a chunk starts inside the one before it")
        left = offset - self.position
        while left:
            data = self._plain.read(min(left, SKIP_BLOCK))
            if not data:
                raise WireFormatError("malformed public files index: it ends before its chunk table says")
            left -= len(data)
        self.position = offset

    def chunk(self, row: ChunkRow, bound: str | None) -> list[tuple[str, PublicIndexEntry]]:
        """The ``row.count`` entries starting at ``row.offset``, checked against the row."""
        self.skip_to(row.offset)
        lines: list[bytes] = []
        for _ in range(row.count):
            line = self._plain.readline(MAX_ENTRY + 1)
            if len(line) > MAX_ENTRY:
                raise WireFormatError("malformed public files index: an entry is longer than 256 KiB")
            body = line.rstrip(b"\r\n")
            if not line or body == b"}":
                raise WireFormatError("malformed chunk table: a chunk has fewer entries than it says")
            self.position += len(line)
            lines.append(body[:-1] if body.endswith(b",") else body)
        entries = list(_parse_batch(lines))
        last = None
        for path, _entry in entries:
            if (last is None and path != row.first) or (last is not None and path <= last) \
                    or (bound is not None and path >= bound):
                raise WireFormatError(f"malformed chunk table: the chunk of {row.first!r} does not hold "
                                      f"what its row says ({path!r})")
            last = path
        return entries

    def end(self) -> None:
        """After the last chunk's lines: the closing brace, and nothing but whitespace after it."""
        line = self._plain.readline(MAX_ENTRY)
        if line.rstrip(b"\r\n") != b"}":
            raise WireFormatError("malformed chunk table: the last chunk has more entries than it says")
        if self._plain.read(1).strip():
            raise WireFormatError("malformed public files index: data after its closing '}'")


class _Walk:
    """The local folder's files in index order, one at a time."""

    def __init__(self, set_dir: Path) -> None:
        self._walk = sorted_walk_lstat(set_dir) if set_dir.is_dir() else iter(())
        self.next: tuple[str, str, Any] | None = None
        self.advance()

    def advance(self) -> None:
        for relative, entry, info in self._walk:
            if info is None and entry.is_dir(follow_symlinks=False):
                continue
            self.next = (relative, entry.path, info)
            return
        self.next = None

    def before(self, bound: str | None) -> Iterator[tuple[str, Found]]:
        """The files left before ``bound`` (all when None), as the merge takes them."""
        while (item := self.next) is not None and (bound is None or item[0] < bound):
            self.advance()
            yield item[0], (item[1], item[2], LOOK_UP)


def merged(index: ChunkedIndex, set_dir: Path, known: KnownHashes,
           ) -> Iterator[tuple[str, PublicIndexEntry | None, Found | CleanChunk | None]]:
    """What :func:`~synco_core.index.order.merge_sorted` gives for the index and the walk of ``set_dir``,
    except that each clean chunk comes as one ``("", None, CleanChunk)``."""
    try:
        yield from _merged(index, set_dir, known)
    except zstandard.ZstdError as exc:
        raise TransferError(f"the index is not valid zstd after decryption ({exc})") from None


def _merged(index: ChunkedIndex, set_dir: Path, known: KnownHashes,
            ) -> Iterator[tuple[str, PublicIndexEntry | None, Found | CleanChunk | None]]:
    lines = _Lines(index.plain)
    walk = _Walk(set_dir)
    rows = index.rows
    row = next(rows, None)
    if row is None:
        raise WireFormatError("malformed chunk table: it has no rows")
    total = 0
    last_dirty = False
    check = index.check
    while row is not None:
        following = next(rows, None)
        bound = following.first if following is not None else None
        total += row.count
        # The range's local files, while the chunk may still be clean (at most its count of them).
        held: list[tuple[str, str, Any]] = []
        digest_lines: list[str] = []
        clean = row.digest is not None
        while (item := walk.next) is not None and (bound is None or item[0] < bound) and len(held) < row.count:
            held.append(item)
            walk.advance()
            if clean:
                info = item[2]
                if info is None or not stat.S_ISREG(info.st_mode):
                    clean = False
                else:
                    digest_lines.append(f"{item[0]}\0{info.st_size}\0{second_of(info)}\n")
        more = (item := walk.next) is not None and (bound is None or item[0] < bound)
        if clean and not more and len(held) == row.count:
            # The lines the file of hashes has from this chunk's first path on, as many bytes as the chunk's
            # would take: equal to them only when they are exactly its entries' (no line parsed).
            region = known.region(row.first, row.known_bytes)
            clean = digest_of(digest_lines, region) == row.digest
        else:
            clean = False
        if clean:
            known.pass_region(row.known_bytes, held[-1][0])
            yield "", None, CleanChunk(held, region)
        else:
            entries = lines.chunk(row, bound)
            for _path, entry in entries:
                check(entry)
            local = [(relative, (path, info, LOOK_UP)) for relative, path, info in held]
            yield from merge_sorted(entries, _chain(local, walk.before(bound)))
        last_dirty = not clean
        row = following
        if row is not None and last_dirty and lines.position != row.offset:
            raise WireFormatError("malformed chunk table: a chunk has more entries than it says")
    if last_dirty:
        lines.end()
    # Local files after the last chunk's first path belong to it: none are left here.
    if total != index.file_count:
        raise WireFormatError(f"malformed chunk table: its chunks hold {total} entries, the meta says "
                              f"{index.file_count}")
    index.verify()


def _chain(first: list[tuple[str, Found]], rest: Iterator[tuple[str, Found]]) -> Iterator[tuple[str, Found]]:
    yield from first
    yield from rest
