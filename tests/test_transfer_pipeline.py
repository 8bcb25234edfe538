"""Pipelined downloads on real sockets: the built-in server's request handling, the client's response parser.

The client's pipelined reader parses responses itself (not through http.client), so these tests feed it
what real servers send: interim responses, error bodies between files, a closing server, chunked bodies,
and responses cut into tiny pieces. The server side is checked with raw pipelined requests.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_transfer_support import StaticBehaviour, fixture_app_fixture, publish, static_server  # noqa: F401

from synco_core.cli.main import cli
from synco_core.errors import TransferError
from synco_core.receive.files import PART_SUFFIX, part_path
from synco_core.receive.http_transport import HttpTransport
from synco_core.receive.public import PIPELINE_DEPTH, batch_size, receive_public_files
from synco_core.serve.server import start_server
from synco_core.wire import PublicIndexEntry

SESSION = "synco-pipeline0123456789"


@contextlib.contextmanager
def scripted_server(reply: bytes, requests: int, piece: int = 0) -> Iterator[int]:
    """Accepts one connection, waits for ``requests`` requests, then sends ``reply`` (in ``piece``-byte writes)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = int(listener.getsockname()[1])

    def run() -> None:
        conn, _ = listener.accept()
        with conn:
            received = b""
            while received.count(b"\r\n\r\n") < requests:
                data = conn.recv(65536)
                if not data:
                    return
                received += data
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            step = piece or len(reply)
            for start in range(0, len(reply), step):
                conn.sendall(reply[start:start + step])
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_WR)
                conn.recv(1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        listener.close()
        thread.join(timeout=5)


def _response(status: str, body: bytes = b"", extra: str = "") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


def _bodies(transport: HttpTransport, paths: list[str]) -> list[bytes | None]:
    bodies: list[bytes | None] = []
    for position, response in transport.open_many(paths):
        assert position == len(bodies)
        bodies.append(None if response is None else b"".join(response.iter_bytes()))
    return bodies


@pytest.mark.parametrize("piece", [0, 1, 7])
def test_pipelined_reader_handles_interim_responses_errors_and_split_packets(piece: int) -> None:
    reply = (
        b"HTTP/1.1 100 Continue\r\n\r\n" + _response("200 OK", b"first body", "Content-Type: x\r\n")
        + _response("404 Not Found", b"missing!") + _response("200 OK", b"")
        + _response("200 OK", b"x" * 3000, "Connection: keep-alive\r\n")
    )
    with scripted_server(reply, 4, piece) as port:
        transport = HttpTransport(f"http://127.0.0.1:{port}/")
        assert _bodies(transport, ["a", "b", "c", "d"]) == [b"first body", None, b"", b"x" * 3000]
        transport.close()


def test_pipelined_reader_stops_at_a_closing_server_after_its_last_response() -> None:
    reply = _response("200 OK", b"one") + _response("200 OK", b"two", "Connection: close\r\n")
    with scripted_server(reply, 3) as port:
        transport = HttpTransport(f"http://127.0.0.1:{port}/")
        seen: list[bytes] = []
        with pytest.raises(TransferError, match="closed the kept-alive connection"):
            for _position, response in transport.open_many(["a", "b", "c"]):
                assert response is not None
                seen.append(b"".join(response.iter_bytes()))
        assert seen == [b"one", b"two"]
        transport.close()


@pytest.mark.parametrize("reply, message", [
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "chunked"),
    (b"HTTP/1.1 200 OK\r\n\r\nbody until close", "no Content-Length"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP response"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", "interrupted after 5 of 100 bytes"),
])
def test_pipelined_reader_refuses_what_it_cannot_pipeline(reply: bytes, message: str) -> None:
    with scripted_server(reply, 2) as port:
        transport = HttpTransport(f"http://127.0.0.1:{port}/")
        with pytest.raises(TransferError, match=message):
            _bodies(transport, ["a", "b"])
        transport.close()


@pytest.fixture
def web_root(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    root = tmp_path / "web"
    (root / "files" / "sub").mkdir(parents=True)
    for number in range(40):
        (root / "files" / "sub" / f"f{number}.bin").write_bytes(bytes([number]) * (1000 + number * 997))
    server = start_server(root, "127.0.0.1:0")
    try:
        yield root, int(server.server_address[1])
    finally:
        server.stop()


def _exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_built_in_server_answers_pipelined_requests_in_order(web_root: tuple[Path, int]) -> None:
    root, port = web_root
    names = [f"f{number}.bin" for number in (3, 0, 39, 17)]
    requests = "".join(f"GET /files/sub/{name} HTTP/1.1\r\nHost: x\r\n\r\n" for name in names)
    received = _exchange(port, requests.encode() + b"GET /files/sub/f1.bin HTTP/1.1\r\nConnection: close\r\n\r\n")
    expected = [(root / "files" / "sub" / name).read_bytes() for name in [*names, "f1.bin"]]
    for position, body in enumerate(expected):
        head, _, received = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert f"Content-Length: {len(body)}".encode() in head
        assert (b"Connection: close" in head) == (position == len(expected) - 1)
        assert received[:len(body)] == body
        received = received[len(body):]
    assert received == b""


@pytest.mark.parametrize("request_bytes, status", [
    (b"POST /files/sub/f1.bin HTTP/1.1\r\nContent-Length: 4\r\n\r\nGET /files/sub/f2.bin HTTP/1.1\r\n\r\n", b"501"),
    (b"nonsense\r\n\r\n", b"400"),
    (b"GET /files/sub/f1.bin HTTP/1.0\r\n\r\nGET /files/sub/f2.bin HTTP/1.0\r\n\r\n", b"200"),
    (b"GET /files/sub/f1.bin HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", b"431"),
])
def test_built_in_server_closes_after_what_it_cannot_continue(web_root: tuple[Path, int], request_bytes: bytes,
                                                              status: bytes) -> None:
    received = _exchange(web_root[1], request_bytes)
    # Exactly one response, then the connection is closed (the request body, or the next request, is not read).
    assert received.startswith(b"HTTP/1.1 " + status)
    assert received.count(b"HTTP/1.1 ") == 1
    assert b"Connection: close" in received


def _index(root: Path) -> dict[str, PublicIndexEntry]:
    index = {}
    for path in sorted((root / "files").rglob("*.bin")):
        relative = path.relative_to(root / "files").as_posix()
        info = path.stat()
        index[relative] = PublicIndexEntry(size_bytes=info.st_size, mtime=int(info.st_mtime),
                                           public_uri=f"<BASE>/files/{relative}")
    return index


def test_receive_fails_only_the_file_with_a_folder_in_the_way(web_root: tuple[Path, int], tmp_path: Path) -> None:
    root, port = web_root
    target = tmp_path / "target"
    # A folder holding a local file (an empty one makes way, as with rsync).
    (target / "sub" / "f5.bin").mkdir(parents=True)
    (target / "sub" / "f5.bin" / "mine.txt").write_text("local\n")
    transport = HttpTransport(f"http://127.0.0.1:{port}/")
    result = receive_public_files(transport, _index(root), target)
    transport.close()
    assert result.failed == [("sub/f5.bin", "a folder holding files the server does not have is in the way")]
    assert result.in_the_way == 1 and result.refused == 0
    assert result.downloaded == 39
    assert (target / "sub" / "f7.bin").read_bytes() == (root / "files" / "sub" / "f7.bin").read_bytes()
    assert int((target / "sub" / "f7.bin").stat().st_mtime) == int((root / "files" / "sub" / "f7.bin").stat().st_mtime)
    assert not list(target.rglob("*" + PART_SUFFIX))


def test_receive_never_writes_through_a_planted_part_link(web_root: tuple[Path, int], tmp_path: Path) -> None:
    root, port = web_root
    target = tmp_path / "target"
    (target / "sub").mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    index = _index(root)
    # The part name a receive of this version of the file uses (it carries the file's size and hash).
    os.symlink(victim, part_path(target / "sub" / "f9.bin", index["sub/f9.bin"]))
    transport = HttpTransport(f"http://127.0.0.1:{port}/")
    result = receive_public_files(transport, index, target)
    transport.close()
    assert victim.read_text() == "keep me"
    assert [relative for relative, _reason in result.failed] == ["sub/f9.bin"]
    assert result.downloaded == 39


class _CountingTransport(HttpTransport):
    """Counts one-by-one requests: the fallback a pipelined batch should not need."""

    single_requests = 0

    def open(self, path: str, offset: int = 0) -> Any:
        type(self).single_requests += 1
        return super().open(path, offset)


def test_batches_continue_on_a_fresh_connection_when_the_server_limits_requests(web_root: tuple[Path, int],
                                                                               tmp_path: Path) -> None:
    root, _port = web_root
    files = root / "files"

    class Limited(BaseHTTPRequestHandler):
        # Like Apache's MaxKeepAliveRequests: the 5th response on a connection says "Connection: close".
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            self.answered = 0

        def do_GET(self) -> None:
            self.answered += 1
            body = (files / self.path.removeprefix("/files/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            if self.answered == 5:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Limited)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        transport = _CountingTransport(f"http://127.0.0.1:{server.server_address[1]}/")
        result = receive_public_files(transport, _index(root), tmp_path / "target", jobs=2)
        transport.close()
    finally:
        server.shutdown()
        server.server_close()
    assert (result.downloaded, result.failed) == (40, [])
    assert _CountingTransport.single_requests == 0
    for number in (0, 21, 39):
        name = f"sub/f{number}.bin"
        assert (tmp_path / "target" / name).read_bytes() == (files / name).read_bytes()


def test_batch_size_fills_every_connection_in_one_round_trip() -> None:
    assert batch_size(208, 8) == 26
    assert batch_size(10_000, 8) == PIPELINE_DEPTH
    assert batch_size(3, 8) == 1
    assert batch_size(0, 8) == 1


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def test_sha1_in_the_index_decides_what_is_current_and_checks_downloads(tmp_path: Path) -> None:
    root = tmp_path / "web"
    (root / "files").mkdir(parents=True)
    served = {name: name.encode() * 500 for name in ("same", "stale", "corrupt", "nohash")}
    for name, data in served.items():
        (root / "files" / name).write_bytes(data)
    target = tmp_path / "target"
    target.mkdir()
    index: dict[str, PublicIndexEntry] = {}
    for name, data in served.items():
        local = {"same": data, "stale": bytes(len(data)), "nohash": bytes(len(data))}.get(name)
        if local is not None:
            # Size and mtime as the index says: only a hash can tell "stale" and "nohash" apart from the server's.
            (target / name).write_bytes(local)
            os.utime(target / name, (1_700_000_000, 1_700_000_000))
        sha1 = {"same": _sha1(data), "stale": _sha1(data), "corrupt": _sha1(b"what the index promised")}.get(name)
        index[name] = PublicIndexEntry(size_bytes=len(data), mtime=1_700_000_000, public_uri=f"files/{name}",
                                       sha1=sha1)
    asked: list[str] = []
    server = start_server(root, "127.0.0.1:0", on_request=lambda _method, path, _status: asked.append(path))
    try:
        transport = HttpTransport(server.url)
        result = receive_public_files(transport, index, target)
        transport.close()
    finally:
        server.stop()
    # A file of another hash is asked for once more, past any cache in front of the site (a query of its own).
    assert sorted(asked) == ["/files/corrupt", "/files/corrupt", "/files/stale"]
    assert (result.skipped, result.downloaded) == (2, 1)
    assert [(path, reason.partition(":")[0]) for path, reason in result.failed] == [
        ("corrupt", "SHA-1 does not match the index")]
    assert (target / "stale").read_bytes() == served["stale"]
    assert (target / "same").read_bytes() == served["same"]
    assert (target / "nohash").read_bytes() == bytes(len(served["nohash"])), "without a hash, size and mtime decide"
    assert not (target / "corrupt").exists()
    assert not list(target.glob("*" + PART_SUFFIX))


@pytest.mark.parametrize("jobs", [1, 4])
def test_jobs_gives_that_many_parallel_keep_alive_connections(fixture_app: Path, tmp_path: Path, jobs: int) -> None:
    # Without packs, so that every file is a request of its own on the pooled connections.
    key = publish(fixture_app, SESSION, only=("uploads",), packs=False)
    # Every download connection waits until `jobs` of them are open: fewer (no parallelism) or more (no cap)
    # break the barrier, and the count below tells which.
    behaviour = StaticBehaviour(keep_alive=True, gate=("/uploads/", threading.Barrier(jobs, timeout=20)))
    target = tmp_path / "t"
    with static_server(fixture_app / "web", behaviour) as (url, _):
        result = CliRunner().invoke(cli, ["receive", SESSION, key.secret, "--base-url", url, "--target",
                                          str(target), "--all", "--jobs", str(jobs)])
    assert result.exit_code == 0, result.output
    downloads = {port: paths for port, paths in behaviour.connections.items()
                 if any(path.startswith("/uploads/") for path in paths)}
    assert len(downloads) == jobs, downloads
    files = sum(len(paths) for paths in downloads.values())
    assert files == 13 and files > jobs, "connections are kept alive for several files"
    assert not behaviour.gate[1].broken  # type: ignore[index]
