"""Packs of small files served by a plain static web server (a real nginx) and by ``serve --listen``.

What a receiver needs from the server to use packs, checked with real HTTP: a whole pack over one GET,
decrypted as a stream from its payload offset (a first sync), and single files out of a pack through a
``Range`` request for just the chunks holding them (a re-sync), several files in one request where they
share chunks. Everything a receiver reads is checked against the index's SHA-256.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from test_serve_public_index import Session, build
from test_transfer_support import fixture_app_fixture  # noqa: F401

from synco_core import age
from synco_core.age.random_access import chunk_span, encrypted_span
from synco_core.age.stream import CHUNK_SIZE
from synco_core.detection import detect
from synco_core.serve.runner import PublishedSession, ServeOptions, serve
from synco_core.serve.server import AllowList, start_server


def make_many_small_files(uploads: Path, count: int = 600) -> None:
    for number in range(count):
        path = uploads / f"many{number % 7}" / f"{number:04d}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(hashlib.sha256(b"%d" % number).hexdigest().encode() * (1 + number % 9))


@pytest.fixture(params=["nginx", "listen"])
def published(request: pytest.FixtureRequest, fixture_app: Path) -> tuple[Session, str]:
    """The fixture app with many small files, its session built and served; (session, base URL)."""
    make_many_small_files(fixture_app / "web" / "uploads")
    session = build(fixture_app)
    web = fixture_app / "web"
    if request.param == "nginx":
        start: Callable[[Path], str] = request.getfixturevalue("nginx_server")
        return session, start(web)
    allow = AllowList()
    allow.add_prefix(session.folder.name)
    server = start_server(web, "127.0.0.1:0", allow=allow)
    request.addfinalizer(server.stop)
    return session, server.url


def test_first_sync_reads_each_pack_in_one_request(published: tuple[Session, str], fixture_app: Path) -> None:
    session, url = published
    table = session.packs("uploads")
    assert len(table) >= 1
    entries = [(path, entry) for path, entry in session.index("uploads") if entry.pack is not None]
    with httpx.Client(base_url=url) as client:
        for number, pack in enumerate(table):
            response = client.get(f"{session.folder.name}/{pack.file_name}")
            assert response.status_code == 200 and len(response.content) == pack.encrypted_size_bytes
            stream = io.BytesIO(response.content)
            stream.seek(pack.payload_offset)
            plain = age.DecryptReader(stream, pack.payload_key).read()
            # The pack's files, back to back in index order.
            mine = [(path, entry) for path, entry in entries if entry.pack == number]
            assert sum(entry.size_bytes for _path, entry in mine) == len(plain) == pack.size_bytes
            for path, entry in mine:
                assert entry.pack_offset is not None
                content = plain[entry.pack_offset : entry.pack_offset + entry.size_bytes]
                assert hashlib.sha256(content).hexdigest() == entry.sha256
                assert content == (fixture_app / "web" / "uploads" / path).read_bytes()


def test_resync_fetches_only_the_chunks_of_a_file(published: tuple[Session, str]) -> None:
    session, url = published
    table = session.packs("uploads")
    entries = [entry for _path, entry in session.index("uploads") if entry.pack is not None]
    # A file in the middle of the biggest pack, and one at each end of it.
    biggest = max(range(len(table)), key=lambda number: table[number].size_bytes)
    pack = table[biggest]
    mine = [entry for entry in entries if entry.pack == biggest]
    picked = [mine[0], mine[len(mine) // 2], mine[-1]]
    decryptor = age.ChunkDecryptor(pack.payload_key, pack.size_bytes, pack.payload_offset)
    requested: list[int] = []

    def fetch(client: httpx.Client) -> Callable[[int, int], bytes]:
        def get(start: int, stop: int) -> bytes:
            response = client.get(f"{session.folder.name}/{pack.file_name}",
                                  headers={"Range": f"bytes={start}-{stop - 1}"})
            assert response.status_code == 206, response.status_code
            assert response.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{pack.encrypted_size_bytes}"
            requested.append(len(response.content))
            return response.content
        return get

    with httpx.Client(base_url=url) as client:
        for entry in picked:
            assert entry.pack_offset is not None
            content = decryptor.read(entry.pack_offset, entry.size_bytes, fetch(client))
            assert hashlib.sha256(content).hexdigest() == entry.sha256
        # Every request asked for one or two chunks, never the pack.
        assert all(size <= 2 * (CHUNK_SIZE + 16) for size in requested)
        # Neighbouring files share a request: one range covering both.
        first, second = mine[0], mine[1]
        assert first.pack_offset is not None and second.pack_offset is not None
        low, _ = chunk_span(first.pack_offset, first.size_bytes)
        _, high = chunk_span(second.pack_offset, second.size_bytes)
        start, stop = encrypted_span(low, high, pack.payload_offset, pack.size_bytes)
        plain = decryptor.decrypt(low, fetch(client)(start, stop))
        base = low * CHUNK_SIZE
        for entry in (first, second):
            assert entry.pack_offset is not None
            chunk = plain[entry.pack_offset - base : entry.pack_offset - base + entry.size_bytes]
            assert hashlib.sha256(chunk).hexdigest() == entry.sha256


def test_listen_allows_listed_files_and_nothing_else(fixture_app: Path) -> None:
    """``serve --listen`` keeps its allow list on disk: listed public files and the session, nothing else."""
    answers: dict[str, int] = {}

    def on_ready(published: PublishedSession) -> None:
        assert published.base_url is not None
        with httpx.Client(base_url=published.base_url) as client:
            answers["listed"] = client.get("uploads/dir0/file%200.bin").status_code
            answers["excluded"] = client.get("uploads/skip.tmp").status_code
            answers["php"] = client.get("index.php").status_code
            answers["meta"] = client.get(f"{published.session}/meta.json.enc").status_code

    serve(detect(fixture_app), ServeOptions(listen="127.0.0.1:0", keep=True), echo=lambda _line: None,
          on_ready=on_ready)
    assert answers == {"listed": 200, "excluded": 404, "php": 404, "meta": 200}
