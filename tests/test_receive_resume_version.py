"""A public file's part continued with the rest of another version of it: never joined into a final file.

A file the index gives no content hash for (Go synco v2 sessions) is checked by its size only. When it was
replaced on the server by another of the same size between an interrupted receive and the next, the next
asked for the rest (``Range: bytes=N-``) and joined the old beginning to the new end: a file that never
existed, under its final name. The rest of the file is now taken only while its ``Last-Modified`` is the
index's mtime; otherwise the file is fetched whole.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

from synco_core.receive import HttpTransport
from synco_core.receive.files import _download_one, part_path
from synco_core.wire import PublicIndexEntry

MTIME = 1_700_000_000
OLD = b"A" * 50_000
NEW = b"B" * 50_000
HELD = 20_000


@contextlib.contextmanager
def file_server(body: bytes, last_modified: int | None) -> Iterator[tuple[str, list[str]]]:
    """A server of one file, ``Range: bytes=N-`` answered 206, with ``last_modified`` as its Last-Modified;
    (its URL, the Range headers of the requests it got)."""
    listener = socket.create_server(("127.0.0.1", 0))
    ranges: list[str] = []
    date = f"Last-Modified: {formatdate(last_modified, usegmt=True)}\r\n" if last_modified is not None else ""

    def client(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            pending = b""
            while True:
                while b"\r\n\r\n" not in pending:
                    data = conn.recv(65536)
                    if not data:
                        return
                    pending += data
                head, pending = pending.split(b"\r\n\r\n", 1)
                asked = re.search(rb"(?im)^range: bytes=(\d+)-\s*$", head)
                ranges.append(asked[1].decode() if asked else "")
                start = int(asked[1]) if asked else 0
                status = "206 Partial Content" if asked else "200 OK"
                extra = f"Content-Range: bytes {start}-{len(body) - 1}/{len(body)}\r\n" if asked else ""
                conn.sendall(f"HTTP/1.1 {status}\r\n{date}{extra}Content-Length: {len(body) - start}\r\n\r\n"
                             .encode() + body[start:])

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                threading.Thread(target=client, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/", ranges
    finally:
        listener.close()


def receive_with_part(tmp_path: Path, served: bytes, last_modified: int | None, held: bytes,
                      **hashes: str) -> tuple[bytes, list[str]]:
    entry = PublicIndexEntry(len(OLD), MTIME, "file.bin", **hashes)  # type: ignore[arg-type]
    destination = tmp_path / "file.bin"
    part_path(destination, entry).write_bytes(held)
    with file_server(served, last_modified) as (url, ranges):
        transport = HttpTransport(url, timeout=10)
        try:
            _download_one(transport, destination, entry, lambda _n: None)
        finally:
            transport.close()
    return destination.read_bytes(), ranges


@pytest.mark.parametrize("changed_by", [1, 3600, -86400])
def test_the_rest_of_another_version_is_never_joined_to_a_part(tmp_path: Path, changed_by: int) -> None:
    received, ranges = receive_with_part(tmp_path, NEW, MTIME + changed_by, OLD[:HELD])
    assert received == NEW
    assert ranges == [str(HELD), ""], "asked for the rest, then for the whole file"


@pytest.mark.parametrize("last_modified", [MTIME, None], ids=["same-date", "no-date"])
def test_the_same_version_is_still_continued(tmp_path: Path, last_modified: int | None) -> None:
    received, ranges = receive_with_part(tmp_path, OLD, last_modified, OLD[:HELD])
    assert received == OLD
    assert ranges == [str(HELD)], "only the rest was asked for"


def test_a_file_with_a_hash_is_continued_whatever_its_date(tmp_path: Path) -> None:
    """Its hash checks the joined file whole (a CDN's Last-Modified is the upload's, not the index's mtime)."""
    import hashlib

    received, ranges = receive_with_part(tmp_path, OLD, MTIME + 99, OLD[:HELD],
                                         sha256=hashlib.sha256(OLD).hexdigest())
    assert received == OLD
    assert ranges == [str(HELD)]
