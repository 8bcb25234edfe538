"""Reading a large public index in a process of its own, beside the walk of the folder it is merged with.

Decrypting, decompressing and parsing an index line by line costs about 4 µs an entry in Python; merging
it with a sorted walk of the local folder (an lstat per file) about as much again, and both ran on one
core. For an index of at least :data:`MIN_FILES` entries (the meta's ``fileCount``) on a machine of two
cores or more, a worker process (``python -m synco_core.receive.worker``, role ``index``) reads it with
the very same reader (:func:`synco_core.index.stream.read_index`: every path checked, the order enforced,
the size capped) and sends the checked entries down a pipe in marshalled blocks, while this process walks
and compares. The worker gets the payload key of the spooled index and where its payload starts
(:func:`synco_core.age.random_access.open_payload`, run here, so a wrong key or a damaged header fails as
before); an error in the worker is raised here as the same kind of error, with its message.

The worker also finds the entries whose URI is a full URL and sends, with each block, the first URI of
every origin not seen before in it (:func:`origin_of_uri`); they are checked here (``check_url``, the
receive's URL policy) before any entry of that block is handed on. The in-process reader checks each entry
on its way (``public_index._checked``); here that look at every entry of a large index, a generator layer
and a property call each, would cost the receive process, the merge's critical path, about 0.4 µs a file.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from collections.abc import Callable, Generator
from pathlib import Path
from typing import IO, Any

import zstandard

from synco_core import workerframes
from synco_core.age.errors import HeaderError, PayloadError
from synco_core.age.stream import DecryptReader
from synco_core.childenv import child_environment
from synco_core.errors import TransferError, UnsafePathError
from synco_core.index.stream import IndexItem, read_index
from synco_core.receive.limits import CappedReader, NotDeclaredError, SizeExceededError
from synco_core.receive.transport import CHUNK_SIZE
from synco_core.receive.treedigest import IndexSummary, TreeDigest
from synco_core.receive.workers import worker_command
from synco_core.wire import LINE_FORMATS, PublicFilesInfo, PublicIndexEntry, WireFormatError
from synco_core.workerframes import read_frame, write_frame

#: Entries of an index before it is read in a worker process (its start costs about a tenth of a second).
MIN_FILES = 100_000
#: Entries per block sent from the worker.
BLOCK = 2048
#: Bytes handed to the parser per read of the decrypted index (as in-process).
READ_SIZE = 256 * 1024

#: The errors a worker may report, by name; anything else arrives as a TransferError.
_ERRORS: dict[str, type[Exception]] = {cls.__name__: cls for cls in (
    WireFormatError, UnsafePathError, SizeExceededError, NotDeclaredError, PayloadError, HeaderError, TransferError)}


def origin_of_uri(uri: str) -> str:
    """What the receive's URL policy is asked about once per value: a full URL's scheme and host
    (``https://cdn.example``)."""
    return "/".join(uri.split("/", 3)[:3])


def use_process(public: PublicFilesInfo) -> bool:
    """True when ``public``'s index is worth reading in a worker process."""
    return (public.index_format in LINE_FORMATS and (public.file_count or 0) >= MIN_FILES
            and workerframes.usable_cores() >= 2)


def entries_from_process(spool: Path, key: bytes, offset: int, public: PublicFilesInfo, plain_limit: int,
                         what: str, source: str, scratch: Path, summary: IndexSummary | None = None,
                         check_url: Callable[[str], None] | None = None) -> Generator[IndexItem, None, None]:
    """The entries of the index spooled in ``spool`` (payload key ``key`` at ``offset``), read by a worker;
    ``summary`` is filled in at the end. ``check_url`` is given the first full URL of each origin the entries
    name, before any entry of its block is handed on (it raises to refuse the index)."""
    process = subprocess.Popen(worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
                               env=child_environment())
    assert process.stdin is not None and process.stdout is not None
    try:
        write_frame(process.stdin, {"role": "index", "path": os.fspath(spool), "key": key, "offset": offset,
                                    "compression": public.compression, "limit": plain_limit, "what": what,
                                    "source": source, "format": public.index_format, "scratch": os.fspath(scratch),
                                    "sha256": public.index_sha256})
        process.stdin.close()
        while True:
            try:
                frame = read_frame(process.stdout)
            except EOFError:
                raise TransferError("the process reading the public index ended before the index did (exit "
                                    f"status {process.wait()})") from None
            if frame[0] == "entries":
                if check_url is not None:
                    for uri in frame[2]:
                        check_url(uri)
                for raw in frame[1]:
                    yield raw[0], PublicIndexEntry(*raw[1:])
            elif frame[0] == "end":
                if summary is not None:
                    hexdigest, files, size = frame[1:]
                    summary.tree = TreeDigest.made_elsewhere(hexdigest, files, size) if hexdigest else None
                    summary.complete = True
                return
            else:
                raise _ERRORS.get(frame[1], TransferError)(frame[2])
    finally:
        with contextlib.suppress(OSError):
            process.stdin.close()
        if process.poll() is None:
            process.terminate()
        process.wait()
        process.stdout.close()


def index_main(header: dict[str, Any], stdout: IO[bytes]) -> int:
    """The worker: the index's entries in blocks, then ``("end",)``, or ``("error", kind, message)``."""
    block: list[tuple[Any, ...]] = []
    # The first full URL of each origin, sent with the block it is in (see the module's docstring).
    origins: set[str] = set()
    urls: list[str] = []
    try:
        with open(header["path"], "rb") as handle:
            handle.seek(header["offset"])
            plain: Any = DecryptReader(handle, header["key"])
            if header["compression"] == "zstd":
                plain = zstandard.ZstdDecompressor().stream_reader(plain, read_size=CHUNK_SIZE)
            elif header["compression"]:
                raise TransferError(f"unsupported compression {header['compression']!r}")
            capped = CappedReader(plain, header["limit"], header["what"], header["source"], header.get("sha256"))
            reader = io.BufferedReader(capped, READ_SIZE)
            # The tree digest of the entries is made here, off the receive's busy merge (treedigest.py).
            tree = TreeDigest()
            add_to_tree = tree.add_entry
            for path, entry in read_index(reader, header["format"], spill_dir=Path(header["scratch"])):
                block.append((path, *entry))
                add_to_tree(path, entry)
                if entry.absolute and (origin := origin_of_uri(entry.public_uri)) not in origins:
                    origins.add(origin)
                    urls.append(entry.public_uri)
                if len(block) >= BLOCK:
                    write_frame(stdout, ("entries", block, urls))
                    block, urls = [], []
            capped.verify()
        write_frame(stdout, ("entries", block, urls))
        digest = tree.of_index()
        write_frame(stdout, ("end", digest.hexdigest() if digest is not None else None, tree.files, tree.bytes))
    except BrokenPipeError:
        return 1
    except zstandard.ZstdError as exc:
        write_frame(stdout, ("error", "NotDeclaredError", f"the index is not valid zstd after decryption ({exc})"))
    except Exception as exc:  # Reported to the receive, which raises it as the same kind of error.
        write_frame(stdout, ("error", type(exc).__name__, str(exc)))
    return 0
