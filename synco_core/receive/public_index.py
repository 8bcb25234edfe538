"""A public set's index and pack table as the receiver reads them: streamed from a private spool, never whole.

The encrypted index is downloaded into a private temporary folder (counted against its declared size as it
arrives), then decrypted, decompressed and parsed as it is read (:func:`synco_core.index.stream.read_index`),
so a set of a million files costs the receiver a file on disk instead of a dictionary in memory. Indexes of
older writers and Go synco v2 (one JSON object in any order) are put into index order through the bounded
external sort, with its runs in the same private folder.

Every absolute URL an entry names is checked against the meta's origins (:class:`UrlPolicy`) as the entry
passes, before anything is fetched from it. A large index is read by a worker process
(:mod:`synco_core.receive.indexprocess`) while this one walks the local folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

from synco_core import age
from synco_core.age.random_access import open_payload
from synco_core.errors import TransferError
from synco_core.fsutil import process_alive
from synco_core.index.stream import IndexItem, read_index
from synco_core.origins import UrlPolicy
from synco_core.receive.artifact import NotAnAgeFileError, fetch_small
from synco_core.receive.indexprocess import entries_from_process, origin_of_uri, use_process
from synco_core.receive.limits import (
    PACK_TABLE_LIMIT,
    UNDECLARED,
    UNDECLARED_INDEX_LIMIT,
    CappedReader,
    NotDeclaredError,
    SizeExceededError,
    check_declared,
    encrypted_bound,
)
from synco_core.receive.transport import CHUNK_SIZE, Transport
from synco_core.receive.treedigest import IndexSummary, SummarisedEntries
from synco_core.scratch import RECEIVE_PREFIX, make_scratch_folder, remove_dead_scratch
from synco_core.sizes import human_size
from synco_core.trees import remove_tree
from synco_core.wire import PackInfo, PublicFilesInfo, WireFileSet, pack_table_from_bytes

#: Bytes handed to the parser per read of the decrypted index.
READ_SIZE = 256 * 1024


def index_limits(public: PublicFilesInfo) -> tuple[int, int]:
    """(encrypted, plain) bytes an index may take: what the meta declares, else what can be derived."""
    plain = public.index_size_bytes if public.index_size_bytes is not None else UNDECLARED_INDEX_LIMIT
    if public.encrypted_size_bytes is not None:
        return public.encrypted_size_bytes, plain
    if public.index_size_bytes is not None:
        return encrypted_bound(plain, public.compression), plain
    return UNDECLARED_INDEX_LIMIT, plain


SCRATCH_PREFIX = RECEIVE_PREFIX
#: How an older synco named the folder: with its pid, which means nothing in another container's pid
#: namespace and is reused (a dead receive's folder then stayed as long as another process had its pid).
_PID_NAMED = re.compile(re.escape(SCRATCH_PREFIX) + r"[0-9]+-[a-z0-9_]{8}")


def remove_stale_scratch(near: Path) -> None:
    """Remove the scratch folders that a killed receive left in ``near``: those whose owner lock can be taken
    (:mod:`synco_core.scratch`), and an older synco's named with a pid that no process has."""
    remove_dead_scratch(str(near))
    try:
        entries = list(os.scandir(near))
    except OSError:
        return
    for entry in entries:
        if not _PID_NAMED.fullmatch(entry.name) or not entry.is_dir(follow_symlinks=False):
            continue
        pid = entry.name[len(SCRATCH_PREFIX):].split("-", 1)[0]
        if not process_alive(int(pid)):
            remove_tree(entry.path, ignore_errors=True)


@contextlib.contextmanager
def scratch_folder(near: Path) -> Iterator[Path]:
    """A private (0700) temporary folder beside ``near`` (same file system, and the user's own space), locked
    by this process while it lives: a killed receive's is removed by the next one."""
    near.mkdir(mode=0o700, parents=True, exist_ok=True)
    remove_stale_scratch(near)
    with make_scratch_folder(str(near), SCRATCH_PREFIX) as folder:
        yield folder.path


def _spool(transport: Transport, path: str, out: BinaryIO, limit: int, source: str) -> None:
    with transport.open(path) as response:
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            check_declared(size, limit, f"{path}: the server sent", source)
            out.write(chunk)


@contextlib.contextmanager
def open_index(transport: Transport, folder: str, file_set: WireFileSet, identities: Sequence[Any],
               scratch: Path) -> Iterator[Iterator[IndexItem]]:
    """The entries of ``file_set``'s index in index order, read from a spool in ``scratch``.

    The whole encrypted index is downloaded before the first entry comes out, so a receive never acts on
    an index it could not fetch; entries are decrypted (each 64 KiB chunk authenticated) as they are read.
    Raises :class:`~synco_core.wire.WireFormatError` or UnsafePathError when it reaches a bad entry, and
    :class:`~synco_core.receive.limits.SizeExceededError` past a declared size.
    """
    public = file_set.public
    assert public is not None
    encrypted, plain_limit = index_limits(public)
    path = f"{folder}/{public.index_file_name}"
    spool = scratch / "index.enc"
    with open(spool, "w+b") as handle:
        declared = public.encrypted_size_bytes is not None
        _spool(transport, path, handle, encrypted, "declared" if declared else UNDECLARED)
        handle.seek(0)
        if not age.is_age_header(handle.read(64)):
            raise NotAnAgeFileError(f"{path} is not an encrypted synco file")
        handle.seek(0)
        if public.compression not in (None, "", "zstd"):
            raise TransferError(f"{path}: unsupported compression {public.compression!r}")
        what, source = f"{path}: the content", "declared" if public.index_size_bytes is not None else UNDECLARED
        policy = UrlPolicy(getattr(transport, "base_url", None), public.url_origins)
        checked: Generator[IndexItem, None, None]
        summary: IndexSummary | None = None
        if use_process(public):
            key, offset = open_payload(handle, identities)
            summary = IndexSummary()
            # The worker finds the full URLs; each origin's first is checked here (indexprocess.py).
            checked = entries_from_process(spool, key, offset, public, plain_limit, what, source, scratch, summary,
                                           policy.check)
        else:
            plain: Any = age.decrypt_reader(handle, identities)
            if public.compression == "zstd":
                plain = zstandard.ZstdDecompressor().stream_reader(plain, read_size=CHUNK_SIZE)
            capped = CappedReader(plain, plain_limit, what, source, public.index_sha256)
            reader = io.BufferedReader(capped, READ_SIZE)
            raw = _verified(read_index(reader, public.index_format, spill_dir=scratch), capped)
            checked = _checked(raw, policy)
        entries: Iterator[IndexItem] = checked if summary is None else SummarisedEntries(checked, summary)
        try:
            yield entries
        finally:
            checked.close()


def _verified(entries: Iterator[IndexItem], capped: CappedReader) -> Iterator[IndexItem]:
    """``entries``, then the index's content checked against the meta's SHA-256 (when it gives one)."""
    yield from entries
    capped.verify()


def _checked(entries: Iterator[IndexItem], policy: UrlPolicy) -> Generator[IndexItem, None, None]:
    checked: set[str] = set()
    try:
        for path, entry in entries:
            if entry.absolute:
                origin = origin_of_uri(entry.public_uri)
                if origin not in checked:
                    policy.check(entry.public_uri)
                    checked.add(origin)
            yield path, entry
    except zstandard.ZstdError as exc:
        raise NotDeclaredError(f"the index is not valid zstd after decryption ({exc})") from None
    finally:
        close = getattr(entries, "close", None)
        if close is not None:
            close()


def fetch_pack_table(transport: Transport, folder: str, public: PublicFilesInfo,
                     identities: Sequence[Any]) -> list[PackInfo]:
    """The set's pack table (payload keys and places of its packs); [] when the set has no packs."""
    if not public.packs_file_name:
        return []
    declared = public.packs_size_bytes
    if declared is not None and declared > PACK_TABLE_LIMIT:
        raise SizeExceededError(f"the pack table declares {human_size(declared)}, more than the "
                                f"{human_size(PACK_TABLE_LIMIT)} any pack table needs")
    plain = PACK_TABLE_LIMIT if declared is None else declared
    bound = encrypted_bound(plain, None)
    declared_encrypted = public.packs_encrypted_size_bytes
    encrypted = bound if declared_encrypted is None else min(declared_encrypted, bound)
    wrong = f"{public.packs_file_name} is not the pack table the session lists"
    try:
        raw = fetch_small(transport, f"{folder}/{public.packs_file_name}", identities, limit=encrypted,
                          plain_limit=plain, source="declared" if declared_encrypted is not None else UNDECLARED)
    except SizeExceededError:
        if public.packs_sha256 is None:
            raise
        raise NotDeclaredError(f"{wrong} (longer than the meta records)") from None
    if public.packs_sha256 is not None and hashlib.sha256(raw).hexdigest() != public.packs_sha256.lower():
        # Another set's table, or the set's own of an earlier serve under the same key, decrypts as well: its
        # packs hold other files.
        raise NotDeclaredError(f"{wrong} (its SHA-256 is not the one the meta records)")
    return pack_table_from_bytes(raw)
