"""Fetching small files out of their packs: one ranged request per run of wanted chunks, decrypted as it flows.

A pack (:mod:`synco_core.index.packs`) is an age file holding many small files back to back; the pack
table gives each pack's payload key, so any run of its 64 KiB chunks can be fetched (HTTP ``Range``, a
channel read with a length, a ``pread``) and opened alone (:mod:`synco_core.age.random_access`). For the
files of one pack that a receive wants, the chunks holding them are merged into spans (bridging gaps of at
most :data:`SPAN_GAP` chunks: fetching a few chunks too many costs less than another request), so a first
sync reads each pack in one request and a re-sync only the chunks around the files that changed.

Every chunk is authenticated as it arrives; every file is still checked against its SHA-256 from the index
by the caller before it gets its name. A span that cannot be fetched or opened leaves its files to the
caller, which falls back to their ``publicUri``. Memory holds the chunk being opened and the files that
start in it, never a pack: files larger than :data:`PACKED_FILE_MAX` are left to their URL.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from synco_core.age.errors import PayloadError
from synco_core.age.random_access import ChunkDecryptor, chunk_count, chunk_span, encrypted_span
from synco_core.age.stream import CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, TAG_SIZE
from synco_core.errors import TransferError
from synco_core.receive.transport import Transport
from synco_core.wire import PackInfo, PublicIndexEntry

log = logging.getLogger(__name__)

#: Unwanted chunks a span may bridge between two wanted ones: 4 chunks (256 KiB) take less time to
#: receive than a request's round trip on all but the fastest links.
SPAN_GAP = 4
#: Largest file taken out of a pack (serve packs files of at most 16 KiB; an index claiming more for a
#: packed file is not trusted with memory, and the file comes from its URL).
PACKED_FILE_MAX = 1024 * 1024

#: (index path, local destination, entry) of one file to fetch.
Item = tuple[str, str, PublicIndexEntry]


class PackSource:
    """The packs of one public set: where they are (session folder) and how to open them (pack table).

    The table is loaded by ``load`` when first needed, so a re-sync that finds every file current never
    asks for it. ``load`` returns [] when the table cannot be had: every packed file then comes from its URL.
    """

    def __init__(self, folder: str, load: Callable[[], Sequence[PackInfo]]) -> None:
        self.folder = folder
        self._load = load
        self._packs: list[PackInfo] | None = None
        self._lock = threading.Lock()

    @property
    def packs(self) -> list[PackInfo]:
        with self._lock:
            if self._packs is None:
                self._packs = list(self._load())
            return self._packs

    def path(self, number: int) -> str:
        return f"{self.folder}/{self.packs[number].file_name}"

    @staticmethod
    def may_hold(entry: PublicIndexEntry) -> bool:
        """True when the index places the entry in a pack (and it is small enough to take out of one)."""
        return (entry.pack is not None and entry.pack_offset is not None and not entry.absolute
                and entry.size_bytes <= PACKED_FILE_MAX)

    def holds(self, entry: PublicIndexEntry) -> bool:
        """True when the entry names a pack of the table and lies inside it."""
        if not self.may_hold(entry):
            return False
        packs = self.packs
        pack, offset = entry.pack, entry.pack_offset
        assert pack is not None and offset is not None
        return pack < len(packs) and offset + entry.size_bytes <= packs[pack].size_bytes


def spans(items: Sequence[Item], plain_size: int) -> list[tuple[int, int, list[Item]]]:
    """The files grouped into chunk spans (first, last, files by offset), at most :data:`SPAN_GAP` apart."""
    count = chunk_count(plain_size)
    grouped: list[tuple[int, int, list[Item]]] = []
    for item in sorted(items, key=lambda item: (item[2].pack_offset or 0, item[2].size_bytes)):
        first, last = chunk_span(item[2].pack_offset or 0, item[2].size_bytes)
        # An empty file at the very end of a payload of whole chunks names a chunk past the last one.
        first, last = min(first, count - 1), min(last, count - 1)
        if grouped and first <= grouped[-1][1] + 1 + SPAN_GAP:
            start, end, members = grouped[-1]
            members.append(item)
            grouped[-1] = (start, max(end, last), members)
        else:
            grouped.append((first, last, [item]))
    return grouped


def fetch_from_pack(transport: Transport, source: PackSource, number: int, items: Sequence[Item],
                    deliver: Callable[[Item, bytes], bool], stop: threading.Event,
                    on_request: Callable[[], None] = lambda: None) -> list[Item]:
    """Fetch ``items`` (all in pack ``number``) span by span, handing each file's content to ``deliver``.

    ``deliver`` returns False for content it refuses (a hash that does not match): that file is returned
    with those that could not be fetched, for the caller to get from its URL. Returns [] early when
    ``stop`` is set (the caller is ending; nothing is left to fall back on).
    """
    left = [item for item in items if not source.holds(item[2])]
    if len(left) == len(items):
        return left
    info = source.packs[number]
    decryptor = ChunkDecryptor(info.payload_key, info.size_bytes, info.payload_offset)
    for first, last, members in spans([item for item in items if source.holds(item[2])], info.size_bytes):
        if stop.is_set():
            return []
        delivered: set[int] = set()
        try:
            on_request()
            _fetch_span(transport, source.path(number), decryptor, first, last, members, deliver, delivered, stop)
        except (TransferError, PayloadError, OSError) as exc:
            log.debug("pack %s, chunks %d-%d: %s; %d file(s) from their URL", info.file_name, first, last, exc,
                      len(members) - len(delivered))
        left.extend(item for position, item in enumerate(members) if position not in delivered)
    return left


def _sealed_size(decryptor: ChunkDecryptor, counter: int) -> int:
    if counter == decryptor.chunks - 1:
        return decryptor.plain_size - counter * CHUNK_SIZE + TAG_SIZE
    return ENCRYPTED_CHUNK_SIZE


def _fetch_span(transport: Transport, path: str, decryptor: ChunkDecryptor, first: int, last: int,
                members: list[Item], deliver: Callable[[Item, bytes], bool], delivered: set[int],
                stop: threading.Event) -> None:
    start, end = encrypted_span(first, last, decryptor.payload_offset, decryptor.plain_size)
    wanted = end - start
    sealed = bytearray()
    plain = bytearray()
    #: Plaintext offset of plain[0]; the next chunk to open; the next member to hand out.
    base, counter, position = first * CHUNK_SIZE, first, 0
    received = 0
    with transport.open(path, offset=start, length=wanted) as response:
        # A server that ignores the range sends the file from its start: the bytes before are skipped.
        skip = start - response.offset
        if skip < 0:
            raise TransferError(f"{path}: the server answered from byte {response.offset}, not {start}")
        for chunk in response.iter_bytes():
            if stop.is_set():
                return
            if skip:
                dropped = min(skip, len(chunk))
                chunk, skip = chunk[dropped:], skip - dropped
            chunk = chunk[:wanted - received]
            received += len(chunk)
            sealed += chunk
            while counter <= last and len(sealed) >= (size := _sealed_size(decryptor, counter)):
                plain += decryptor.decrypt(counter, memoryview(sealed)[:size])
                del sealed[:size]
                counter += 1
                # Hand out every member that is complete now, then drop what no member still needs.
                while position < len(members):
                    entry = members[position][2]
                    offset = (entry.pack_offset or 0) - base
                    if offset + entry.size_bytes > len(plain):
                        break
                    if deliver(members[position], bytes(plain[offset:offset + entry.size_bytes])):
                        delivered.add(position)
                    position += 1
                keep_from = (members[position][2].pack_offset or 0) - base if position < len(members) else len(plain)
                keep_from = max(0, min(keep_from, len(plain)))
                del plain[:keep_from]
                base += keep_from
            if received >= wanted:
                break
    if counter <= last:
        raise TransferError(f"{path}: the range ended after {received} of {wanted} bytes")
