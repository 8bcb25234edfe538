"""The HTTP side on real sockets: the built-in server's GET/HEAD/Range and refusals, the client's policies."""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import os
import socket
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from synco_core.errors import TransferError, UnsafePathError
from synco_core.receive.http_transport import HttpTransport, _origin, _redirect_allowed
from synco_core.receive.tarsafe import extract_stream
from synco_core.receive.transport import NotFoundError, RangeNotSatisfiableError
from synco_core.serve.server import start_server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    root = tmp_path / "web"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "file.bin").write_bytes(bytes(range(256)) * 40)
    (root / ".env").write_text("SECRET=1")
    (root / "sub" / "index.php").write_text("<?php $SECRET = 1;")
    (tmp_path / "outside.txt").write_text("outside")
    server = start_server(root, "127.0.0.1:0")
    try:
        yield root, int(server.server_address[1])
    finally:
        server.stop()


def _raw(port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None
         ) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request(method, path, headers=headers or {})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), body


def test_built_in_server_get_head_range(served: tuple[Path, int]) -> None:
    root, port = served
    data = (root / "sub" / "file.bin").read_bytes()
    assert _raw(port, "/sub/file.bin")[2] == data
    status, headers, body = _raw(port, "/sub/file.bin", "HEAD")
    assert (status, headers["Content-Length"], body) == (200, str(len(data)), b"")
    status, headers, body = _raw(port, "/sub/file.bin", headers={"Range": "bytes=100-199"})
    assert (status, headers["Content-Range"], body) == (206, f"bytes 100-199/{len(data)}", data[100:200])
    status, headers, body = _raw(port, "/sub/file.bin", headers={"Range": "bytes=-10"})
    assert (status, body) == (206, data[-10:])
    status, headers, _ = _raw(port, "/sub/file.bin", headers={"Range": f"bytes={len(data)}-"})
    assert (status, headers["Content-Range"]) == (416, f"bytes */{len(data)}")


@pytest.mark.parametrize("path", ["/sub/", "/sub", "/", "/.env", "/sub/index.php", "/sub/../../outside.txt",
                                  "/%2e%2e/outside.txt", "/missing"])
def test_built_in_server_refuses_listings_dotfiles_and_escapes(served: tuple[Path, int], path: str) -> None:
    status, _headers, body = _raw(served[1], path)
    assert status == 404
    assert b"SECRET" not in body and b"outside" not in body and b"file.bin" not in body


def test_transport_reads_ranges_and_reports_missing(served: tuple[Path, int]) -> None:
    root, port = served
    data = (root / "sub" / "file.bin").read_bytes()
    transport = HttpTransport(f"http://127.0.0.1:{port}")
    with transport.open("sub/file.bin", offset=1000) as response:
        assert (response.status, response.offset, response.total_size) == (206, 1000, len(data))
        assert b"".join(response.iter_bytes()) == data[1000:]
    # The kept-alive connection is reused for the next request.
    with transport.open("sub/file.bin") as response:
        assert b"".join(response.iter_bytes()) == data
    with pytest.raises(NotFoundError), transport.open("nothing.bin"):
        pass
    with pytest.raises(RangeNotSatisfiableError), transport.open("sub/file.bin", offset=len(data)):
        pass
    with pytest.raises(TransferError, match="only http"):
        transport.url_for("file:///etc/passwd")
    transport.close()


class _PolicyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    port = 0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/elsewhere":
            self._send(302, headers={"Location": f"http://localhost:{self.port}/target"})
        elif self.path == "/same":
            self._send(301, headers={"Location": "/target"})
        elif self.path == "/target":
            self._send(200, b"target")
        elif self.path == "/private":
            expected = "Basic " + base64.b64encode(b"user:s3cr3t-pass").decode()
            if self.headers.get("Authorization") == expected:
                self._send(200, b"welcome")
            else:
                self._send(401, b"login")
        else:
            self._send(404)


@contextlib.contextmanager
def policy_server() -> Iterator[int]:
    handler = type("Handler", (_PolicyHandler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield handler.port
    finally:
        server.shutdown()
        server.server_close()


def test_redirects_only_to_the_same_host() -> None:
    with policy_server() as port:
        transport = HttpTransport(f"http://127.0.0.1:{port}/")
        with transport.open("same") as response:
            assert b"".join(response.iter_bytes()) == b"target"
        with pytest.raises(TransferError, match="refusing redirect"), transport.open("elsewhere"):
            pass
        transport.close()
    assert _redirect_allowed(_origin("http://a.example/"), _origin("https://a.example/x"))
    assert not _redirect_allowed(_origin("https://a.example/"), _origin("http://a.example/x"))
    assert not _redirect_allowed(_origin("https://a.example/"), _origin("https://b.example/x"))


def test_basic_auth_from_the_url_and_no_password_in_errors() -> None:
    with policy_server() as port:
        transport = HttpTransport(f"http://user:s3cr3t-pass@127.0.0.1:{port}/")
        assert "s3cr3t" not in transport.description
        with transport.open("private") as response:
            assert b"".join(response.iter_bytes()) == b"welcome"
        with pytest.raises(NotFoundError) as info, transport.open("missing"):
            pass
        assert "s3cr3t" not in str(info.value)
        transport.close()
        anonymous = HttpTransport(f"http://127.0.0.1:{port}/")
        with pytest.raises(TransferError, match="needs a login"), anonymous.open("private"):
            pass
        anonymous.close()


def _tar(build: Any) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        build(tar)
    buffer.seek(0)
    return buffer


def _add(tar: tarfile.TarFile, name: str, data: bytes = b"", **fields: Any) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if data else None)


def test_tar_hard_link_inside_is_fine_outside_is_refused(tmp_path: Path) -> None:
    good = _tar(lambda tar: (_add(tar, "a.txt", b"a"), _add(tar, "b.txt", type=tarfile.LNKTYPE, linkname="a.txt")))
    assert extract_stream(good, tmp_path / "good") == 2
    assert (tmp_path / "good" / "b.txt").read_bytes() == b"a"
    bad = _tar(lambda tar: _add(tar, "b.txt", type=tarfile.LNKTYPE, linkname="../outside"))
    with pytest.raises(UnsafePathError):
        extract_stream(bad, tmp_path / "bad")


def test_tar_cannot_write_through_a_planted_link(tmp_path: Path) -> None:
    (tmp_path / "victim").mkdir()
    evil = _tar(lambda tar: (_add(tar, "dir", type=tarfile.SYMTYPE, linkname="."),
                             _add(tar, "dir/../../victim/x", b"evil")))
    with pytest.raises(UnsafePathError):
        extract_stream(evil, tmp_path / "t")
    assert not (tmp_path / "victim" / "x").exists()
    setuid = _tar(lambda tar: _add(tar, "tool", b"#!", mode=0o4755))
    extract_stream(setuid, tmp_path / "s")
    # Set-uid dropped; executable for its owner still; nothing for other users (a private set's file).
    mode = (tmp_path / "s" / "tool").stat().st_mode & 0o7777
    assert mode & 0o7000 == 0 and mode & 0o700 == 0o700 and mode & 0o007 == 0, oct(mode)


def test_pipelined_batch_on_one_connection(served: tuple[Path, int]) -> None:
    root, port = served
    (root / "sub" / "second.txt").write_bytes(b"second")
    data = (root / "sub" / "file.bin").read_bytes()
    transport = HttpTransport(f"http://127.0.0.1:{port}/")
    bodies: list[bytes | None] = []
    for position, response in transport.open_many(["sub/file.bin", "sub/missing", "sub/second.txt"]):
        assert position == len(bodies)
        bodies.append(None if response is None else b"".join(response.iter_bytes()))
    assert bodies == [data, None, b"second"]
    # The connection stays usable for ordinary requests afterwards.
    with transport.open("sub/second.txt") as response:
        assert b"".join(response.iter_bytes()) == b"second"
    transport.close()


@pytest.mark.timeout(60)
def test_a_fifo_or_socket_where_a_file_was_is_not_found_and_holds_nothing_up(served: tuple[Path, int]) -> None:
    """A listed file replaced by a FIFO after serve walked (or a socket there): a 404 at once. Before, the
    request's thread waited in open() for a writer for ever, and the files pipelined after it on the same
    connection with it (the receiver gave up on them after its 30 s pace check)."""
    root, port = served
    os.mkfifo(root / "sub" / "fifo.bin")
    listening = socket.socket(socket.AF_UNIX)
    listening.bind(str(root / "sub" / "socket.bin"))
    (root / "sub" / "after.txt").write_bytes(b"after")
    try:
        for path in ("/sub/fifo.bin", "/sub/socket.bin"):
            assert _raw(port, path)[0] == 404
            assert _raw(port, path, "HEAD")[0] == 404
        transport = HttpTransport(f"http://127.0.0.1:{port}/")
        bodies = [None if response is None else b"".join(response.iter_bytes())
                  for _position, response in transport.open_many(["sub/fifo.bin", "sub/after.txt"])]
        transport.close()
        assert bodies == [None, b"after"]
    finally:
        listening.close()


def test_pipelined_batch_that_is_not_read_to_the_end_stops(served: tuple[Path, int]) -> None:
    _root, port = served
    transport = HttpTransport(f"http://127.0.0.1:{port}/")
    batch = transport.open_many(["sub/file.bin", "sub/file.bin"])
    _position, first = next(batch)
    assert first is not None
    with pytest.raises(TransferError, match="not read to its end"):
        next(batch)
    with transport.open("sub/file.bin") as response:
        assert len(b"".join(response.iter_bytes())) == 256 * 40
    transport.close()
