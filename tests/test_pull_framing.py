"""The framed protocol: frames, malformed input, the read-only server, the client and its transport."""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synco_core import age
from synco_core.errors import TransferError, UnsafePathError
from synco_core.pull import client as channel_client
from synco_core.pull import server as channel_server
from synco_core.pull.client import ChannelClient
from synco_core.pull.frames import (
    ABORT,
    DATA,
    DATA_CHUNK,
    END,
    FATAL,
    FILE,
    FILE_HEADER,
    HEADER,
    HELLO,
    MAGIC,
    MAX_FRAME,
    READY,
    RESPONSE,
    STREAM_CLOSE,
    STREAM_DATA,
    STREAM_OPEN,
    ChannelClosed,
    FramingError,
    RemoteError,
    decode_json,
    encode_frame,
    encode_json,
    read_frame,
    skip_to_magic,
)
from synco_core.pull.server import ChannelServer
from synco_core.pull.spaces import FolderSpace, PublicSpace
from synco_core.pull.transport import ChannelTransport
from synco_core.receive.directory import DirectoryTransport
from synco_core.receive.transport import NotFoundError, RangeNotSatisfiableError
from synco_core.wire import DumpInfo, Meta, WireFileSet

BINARY = bytes(range(256)) * 7 + MAGIC + HEADER.pack(b"E", 0) + b"\x00" * 100


# ------------------------------------------------------------------------------------------------ frames


def test_frames_roundtrip_binary_payloads() -> None:
    stream = io.BytesIO(encode_frame(DATA, BINARY) + encode_frame(DATA, b"") + encode_json(END, {"a": [1, "x"]}))
    assert read_frame(stream) == (DATA, BINARY)
    assert read_frame(stream) == (DATA, b"")
    kind, payload = read_frame(stream)
    assert kind == END and decode_json(kind, payload) == {"a": [1, "x"]}
    with pytest.raises(ChannelClosed):
        read_frame(stream)


@pytest.mark.parametrize(("raw", "message"), [
    (b"Z" + (0).to_bytes(4, "big"), "unknown type"),
    (b"D" + (MAX_FRAME + 1).to_bytes(4, "big"), "exceeds the limit"),
    (b"D\x00\x00", "middle of a frame header"),
    (b"D" + (10).to_bytes(4, "big") + b"abc", "3 of 10 bytes"),
])
def test_malformed_frames(raw: bytes, message: str) -> None:
    with pytest.raises(FramingError, match=message):
        read_frame(io.BytesIO(raw))


@pytest.mark.parametrize(("payload", "message"), [(b"\xff\xfe", "not JSON"), (b"[1,2]", "not a JSON object")])
def test_malformed_control_payloads(payload: bytes, message: str) -> None:
    with pytest.raises(FramingError, match=message):
        decode_json(RESPONSE, payload)


def test_encode_refuses_unknown_type_and_oversize() -> None:
    with pytest.raises(ValueError):
        encode_frame(b"?", b"")
    with pytest.raises(ValueError):
        encode_frame(DATA, b"x" * (MAX_FRAME + 1))


def test_skip_to_magic_drops_login_noise() -> None:
    stream = io.BytesIO(b"Welcome!\n\x00\x00half" + MAGIC + b"rest")
    assert skip_to_magic(stream) == b"Welcome!\n\x00\x00half"
    assert stream.read() == b"rest"


def test_skip_to_magic_errors() -> None:
    with pytest.raises(ChannelClosed, match="before synco started: sh: synco: not found"):
        skip_to_magic(io.BytesIO(b"sh: synco: not found\n"))
    with pytest.raises(FramingError, match="no synco channel greeting"):
        skip_to_magic(io.BytesIO(b"x" * 5000), limit=1000)


# ------------------------------------------------------------------------------------------------ spaces


@pytest.fixture
def app(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    (root / "public" / "img").mkdir(parents=True)
    (root / "public" / "img" / "a b.png").write_bytes(BINARY)
    (root / "public" / ".env").write_text("SECRET")
    (root / "storage" / "app" / "public").mkdir(parents=True)
    (root / "storage" / "app" / "public" / "avatar.jpg").write_bytes(b"avatar")
    (root / "public" / "storage").symlink_to(root / "storage" / "app" / "public")
    (tmp_path / "outside.txt").write_text("outside")
    (root / "public" / "leak").symlink_to(tmp_path / "outside.txt")
    (root / "public" / "outdir").symlink_to(tmp_path)
    session = tmp_path / "session"
    session.mkdir()
    (session / "meta.json.enc").write_bytes(b"META")
    (session / "dump.sql.enc").write_bytes(BINARY * 50)
    (session / "dump.sql.enc.tmp").write_bytes(b"partial")
    (session / "sub").mkdir()
    return root


def test_folder_space(app: Path) -> None:
    space = FolderSpace(app.parent / "session")
    assert space.resolve("dump.sql.enc").read_bytes() == BINARY * 50
    for bad in ("../app/public/.env", "/etc/passwd", "dump.sql.enc.tmp", ".hidden", "sub"):
        with pytest.raises(UnsafePathError):
            space.resolve(bad)
    with pytest.raises(FileNotFoundError):
        space.resolve("nope")


def test_public_space(app: Path) -> None:
    space = PublicSpace(app / "public", (app,))
    assert space.resolve("img/a%20b.png").read_bytes() == BINARY
    assert space.resolve("img/a b.png?v=3").read_bytes() == BINARY
    # Laravel's public/storage link leads into the project: served, as the web server would.
    assert space.resolve("storage/avatar.jpg").read_bytes() == b"avatar"
    for bad in (".env", "img/../.env", "../storage/app/public/avatar.jpg", "leak", "img", "/etc/passwd",
                "%2e%2e/outside.txt", "outdir/outside.txt"):
        with pytest.raises(UnsafePathError):
            space.resolve(bad)


# ------------------------------------------------------------------------------------------ server/client


class Pair:
    """A server thread and a client connected by two pipes."""

    def __init__(self, spaces: dict[str, Any], build: Any = None) -> None:
        c2s_r, c2s_w = os.pipe()
        s2c_r, s2c_w = os.pipe()
        self.server_in = os.fdopen(c2s_r, "rb")
        self.server_out = os.fdopen(s2c_w, "wb")
        self.client_in = os.fdopen(s2c_r, "rb")
        self.client_out = os.fdopen(c2s_w, "wb")
        self.server = ChannelServer(self.server_in, self.server_out, spaces, build=build,
                                    capabilities={"age": True}, version="test")
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.client = ChannelClient(self.client_in, self.client_out)

    def _run(self) -> None:
        try:
            self.server.serve()
            if self.server.closed_by_client:
                self.server.acknowledge_bye()
        except BaseException as exc:
            self.error = exc
        finally:
            with contextlib.suppress(OSError):
                self.server_out.close()

    def close(self) -> None:
        for stream in (self.client_out, self.client_in):
            stream.close()
        self.thread.join(5)
        self.server_in.close()


@pytest.fixture
def pair(app: Path) -> Iterator[Pair]:
    spaces = {"session": FolderSpace(app.parent / "session"), "public": PublicSpace(app / "public", (app,))}
    connected = Pair(spaces)
    connected.client.handshake()
    yield connected
    connected.close()


def _read(client: ChannelClient, space: str, path: str, offset: int = 0, compress: str | None = None) -> bytes:
    with client.get(space, path, offset, compress) as response:
        assert response.ok, response.message
        return b"".join(response.iter_chunks())


def test_handshake_reports_server(pair: Pair) -> None:
    assert pair.client.hello is not None
    assert (pair.client.hello.version, pair.client.hello.capabilities) == (
        "test", {"age": True, "get_batch": True, "stream_database": False, "requirements": False})
    assert pair.client.batches
    # This server has no build handler, so there is no dump to stream.
    assert not pair.client.streams_database


def test_get_whole_offset_and_compressed(pair: Pair) -> None:
    assert _read(pair.client, "session", "dump.sql.enc") == BINARY * 50
    assert _read(pair.client, "session", "dump.sql.enc", offset=1000) == (BINARY * 50)[1000:]
    assert _read(pair.client, "session", "dump.sql.enc", offset=7, compress="zlib") == (BINARY * 50)[7:]
    assert _read(pair.client, "public", "img/a%20b.png") == BINARY


@pytest.mark.parametrize(("space", "path", "offset", "status"), [
    ("session", "missing.enc", 0, "missing"),
    ("session", "../app/public/.env", 0, "refused"),
    ("public", ".env", 0, "refused"),
    ("public", "leak", 0, "refused"),
    ("session", "meta.json.enc", 4, "range"),
    ("nowhere", "meta.json.enc", 0, "error"),
    ("session", "meta.json.enc", -1, "error"),
])
def test_get_errors_keep_the_channel_usable(pair: Pair, space: str, path: str, offset: int, status: str) -> None:
    with pair.client.get(space, path, offset) as response:
        assert response.status == status
        assert list(response.iter_chunks()) == []
    assert _read(pair.client, "session", "meta.json.enc") == b"META"


def test_unread_response_is_drained(pair: Pair) -> None:
    with pair.client.get("session", "dump.sql.enc") as response:
        next(response.iter_chunks())
    assert _read(pair.client, "session", "meta.json.enc") == b"META"


def test_parallel_gets_from_threads(pair: Pair) -> None:
    results: dict[int, bytes] = {}

    def work(number: int) -> None:
        if number % 2:
            results[number] = _read(pair.client, "session", "dump.sql.enc", offset=number)
        else:
            results[number] = _read(pair.client, "public", "img/a b.png")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 16
    for number, data in results.items():
        assert data == ((BINARY * 50)[number:] if number % 2 else BINARY)


def test_get_many_pipelines_and_survives_early_exit(pair: Pair) -> None:
    requests = [("session", "dump.sql.enc", n) for n in range(40)]
    for seen, ((_, _, offset), response) in enumerate(pair.client.get_many(requests, window=8), 1):
        assert b"".join(response.iter_chunks()) == (BINARY * 50)[offset:]
        if seen == 20:
            break
    assert _read(pair.client, "session", "meta.json.enc") == b"META"


def test_get_batch_files_in_order_with_errors_inline(pair: Pair, app: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    big = os.urandom(DATA_CHUNK * 2 + 17)
    (app / "public" / "big.bin").write_bytes(big)
    (app / "public" / "empty.txt").write_bytes(b"")
    # Small requests, so the batch spans several of them (the window keeps two in flight).
    monkeypatch.setattr(channel_client, "BATCH_PATHS", 2)
    paths = ["img/a%20b.png", "missing.png", "big.bin", ".env", "empty.txt", "storage/avatar.jpg", "leak"]
    seen = [(position, item.status, b"".join(item.iter_chunks())) for position, item
            in pair.client.get_batch("public", paths)]
    assert seen == [(0, "ok", BINARY), (1, "missing", b""), (2, "ok", big), (3, "refused", b""), (4, "ok", b""),
                    (5, "ok", b"avatar"), (6, "refused", b"")]
    assert _read(pair.client, "session", "meta.json.enc") == b"META"


def test_get_batch_unread_files_and_early_exit_keep_the_stream_in_step(pair: Pair,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(channel_client, "BATCH_PATHS", 3)
    paths = ["img/a b.png", "storage/avatar.jpg"] * 10
    for position, item in pair.client.get_batch("public", paths):
        if position == 0:
            next(item.iter_chunks())  # read a little of the first, nothing of the second: drained
        if position == 7:
            break  # the rest of this request and the next one in flight are read and dropped
    assert _read(pair.client, "public", "storage/avatar.jpg") == b"avatar"


def test_get_batch_caller_failing_mid_file_keeps_the_stream_in_step(pair: Pair) -> None:
    with pytest.raises(ValueError, match="disk full"):
        for position, item in pair.client.get_batch("public", ["img/a b.png"] * 5):
            next(item.iter_chunks())
            if position == 1:
                raise ValueError("disk full")
    assert _read(pair.client, "public", "storage/avatar.jpg") == b"avatar"


def test_get_batch_file_that_shrinks_is_aborted_alone(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    real_fstat = os.fstat

    def grown(fd: int) -> os.stat_result:
        info = real_fstat(fd)
        if info.st_size == len(b"avatar"):
            # The size read before sending is larger than what is left to read: the file "shrank".
            values = list(info)
            values[6] = 100
            return os.stat_result(values)
        return info

    monkeypatch.setattr(channel_server.os, "fstat", grown)
    results = []
    for _position, item in pair.client.get_batch("public", ["storage/avatar.jpg", "img/a b.png"]):
        try:
            results.append(b"".join(item.iter_chunks()))
        except TransferError as exc:
            results.append(str(exc).encode())
    assert b"shrank while it was read" in results[0]
    assert results[1] == BINARY


def test_batch_file_frames_from_a_broken_server() -> None:
    ok = encode_frame(FILE, FILE_HEADER.pack(0, 10))
    raw = ok + encode_frame(DATA, b"12345") + encode_frame(ABORT, b"gone") + \
        encode_frame(FILE, FILE_HEADER.pack(0, 3)) + encode_frame(DATA, b"abc")
    client = _client_for(raw)
    items = client.get_batch("public", ["a", "b"])
    _position, first = next(items)
    with pytest.raises(TransferError, match="gone"):
        b"".join(first.iter_chunks())
    _position, second = next(items)
    assert b"".join(second.iter_chunks()) == b"abc"

    client = _client_for(ok + encode_frame(DATA, b"0123456789AB"))
    items = client.get_batch("public", ["a"])
    _position, item = next(items)
    with pytest.raises(FramingError, match="more bytes than announced"):
        b"".join(item.iter_chunks())

    client = _client_for(encode_json(RESPONSE, {"status": "error", "message": "malformed get_batch request"}))
    with pytest.raises(FramingError, match="malformed"):
        next(client.get_batch("public", ["a"]))


def test_bye_is_acknowledged(pair: Pair) -> None:
    pair.client.bye()
    pair.thread.join(5)
    assert pair.server.closed_by_client and pair.error is None


def test_client_going_away_ends_the_server(pair: Pair) -> None:
    pair.client_out.close()
    pair.thread.join(5)
    assert not pair.thread.is_alive()
    assert pair.server.closed_by_client


def test_build_relays_progress_and_ready(app: Path) -> None:
    def build(options: dict[str, Any], log: Any) -> dict[str, Any]:
        log("step one")
        log("step two")
        return {"session": "synco-x", "echo": options}

    connected = Pair({}, build=build)
    try:
        connected.client.handshake()
        lines: list[str] = []
        ready = connected.client.build({"only": ["dbDump"]}, lines.append)
        assert lines == ["step one", "step two"]
        assert ready == {"session": "synco-x", "echo": {"only": ["dbDump"]}}
    finally:
        connected.close()


class _Recorder:
    """A stream handler that records what it is given, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def open(self, message: dict[str, Any]) -> None:
        self.events.append(("open", message))

    def data(self, chunk: bytes) -> None:
        self.events.append(("data", chunk))

    def close(self, message: dict[str, Any]) -> None:
        self.events.append(("close", message))


def test_build_streams_the_dump_between_progress_frames(app: Path) -> None:
    server_ref: list[ChannelServer] = []

    def build(options: dict[str, Any], log: Any) -> dict[str, Any]:
        server = server_ref[0]
        log("dumping")
        server.send_json(STREAM_OPEN, {"set": "dbDump", "key": "k"})
        for chunk in (b"first", b"second"):
            server.send(STREAM_DATA, chunk)
        server.send_json(STREAM_CLOSE, {"fileSet": {"name": "dbDump"}})
        log("indexing")
        return {"session": "synco-x"}

    connected = Pair({}, build=build)
    server_ref.append(connected.server)
    try:
        hello = connected.client.handshake()
        assert hello.capabilities["stream_database"] is True
        assert connected.client.streams_database
        lines: list[str] = []
        recorder = _Recorder()
        ready = connected.client.build({"stream_database": True}, lines.append, on_stream=recorder)
        assert ready == {"session": "synco-x"}
        assert lines == ["dumping", "indexing"]
        assert recorder.events == [("open", {"set": "dbDump", "key": "k"}), ("data", b"first"), ("data", b"second"),
                                   ("close", {"fileSet": {"name": "dbDump"}})]
        # The channel is still in step afterwards.
        connected.client.bye()
    finally:
        connected.close()


@pytest.mark.parametrize("frame", [encode_frame(STREAM_DATA, b"x"), encode_json(STREAM_OPEN, {"set": "dbDump"})])
def test_stream_frames_nobody_asked_for_are_a_framing_error(frame: bytes) -> None:
    client = _client_for(frame + encode_json(READY, {}))
    with pytest.raises(FramingError, match="not asked for"):
        client.build({})


def _client_for(raw: bytes) -> ChannelClient:
    client = ChannelClient(io.BytesIO(MAGIC + encode_json(HELLO, {"protocol": 1}) + raw), io.BytesIO())  # type: ignore[arg-type]
    client.handshake()
    return client


def test_server_fatal_during_response_is_remote_error() -> None:
    raw = encode_json(RESPONSE, {"status": "ok", "size": 10, "offset": 0}) + encode_frame(DATA, b"12345") + \
        encode_json(FATAL, {"message": "disk on fire"})
    client = _client_for(raw)
    with pytest.raises(RemoteError, match="disk on fire"), client.get("session", "x") as response:
        b"".join(response.iter_chunks())


def test_short_response_is_detected() -> None:
    raw = encode_json(RESPONSE, {"status": "ok", "size": 10, "offset": 0}) + encode_frame(DATA, b"12345") + \
        encode_json(END, {})
    client = _client_for(raw)
    with pytest.raises(FramingError, match="5 of 10 bytes"), client.get("session", "x") as response:
        b"".join(response.iter_chunks())


def test_garbage_after_handshake_breaks_the_client_for_good() -> None:
    client = _client_for(b"HTTP/1.1 200 OK\r\n\r\n")
    with pytest.raises(FramingError), client.get("session", "x"):
        pass
    with pytest.raises(FramingError, match="no longer usable"), client.get("session", "y"):
        pass


def test_wrong_protocol_version() -> None:
    client = ChannelClient(io.BytesIO(MAGIC + encode_json(HELLO, {"protocol": 99})), io.BytesIO())  # type: ignore[arg-type]
    with pytest.raises(FramingError, match="protocol 99"):
        client.handshake()


# ---------------------------------------------------------------------------------------------- transport


def test_channel_transport_routes_and_maps_errors(pair: Pair) -> None:
    transport = ChannelTransport(pair.client, "synco-abc", description="test")
    with transport.open("synco-abc/dump.sql.enc", offset=5) as response:
        assert (response.status, response.offset, response.total_size) == (206, 5, len(BINARY * 50))
        assert b"".join(response.iter_bytes()) == (BINARY * 50)[5:]
    with transport.open("img/a%20b.png") as response:
        assert b"".join(response.iter_bytes()) == BINARY
    with pytest.raises(NotFoundError), transport.open("synco-abc/nope"):
        pass
    with pytest.raises(RangeNotSatisfiableError), transport.open("synco-abc/meta.json.enc", offset=4):
        pass
    with pytest.raises(TransferError, match="refused"), transport.open(".env"):
        pass


@pytest.mark.parametrize("batches", [True, False], ids=["get_batch", "older-server-get_many"])
def test_channel_transport_open_many(pair: Pair, batches: bool) -> None:
    assert pair.client.hello is not None
    if not batches:
        # A server from before get_batch says nothing about it: the transport pipelines plain gets.
        pair.client.hello.capabilities.pop("get_batch")
    transport = ChannelTransport(pair.client, "synco-abc", description="test")
    answers = [(position, None if response is None else b"".join(response.iter_bytes()))
               for position, response in transport.open_many(["img/a%20b.png", "nope.png", "storage/avatar.jpg"])]
    assert answers == [(0, BINARY), (1, None), (2, b"avatar")]
    served = pair.server.served
    with pytest.raises(TransferError, match="public files"):
        list(transport.open_many(["synco-abc/meta.json.enc"]))
    assert pair.server.served == served


def test_channel_transport_rewraps_plaintext_sessions(tmp_path: Path) -> None:
    session = tmp_path / "plain"
    session.mkdir()
    meta = Meta(state="Ready", framework_name="X", file_sets=[WireFileSet(
        name="dbDump", type="SqliteDump",
        dump=DumpInfo(file_name="dump.sqlite.enc", size_bytes=len(BINARY), encrypted_size_bytes=len(BINARY)))])
    (session / "meta.json.enc").write_bytes(meta.to_bytes())
    (session / "dump.sqlite.enc").write_bytes(BINARY * 300)
    connected = Pair({"session": FolderSpace(session)})
    try:
        connected.client.handshake()
        identity = age.generate_identity()
        transport = ChannelTransport(connected.client, "synco-p", description="t", channel_compression="zlib",
                                     rewrap=[identity.recipient()])
        with transport.open("synco-p/meta.json.enc") as response:
            encrypted = b"".join(response.iter_bytes())
        received = Meta.from_bytes(age.decrypt_bytes(encrypted, [identity]))
        assert received.file_sets[0].dump is not None
        assert received.file_sets[0].dump.encrypted_size_bytes is None
        # A resumed read still starts at 0: the re-encryption cannot continue an earlier stream.
        with transport.open("synco-p/dump.sqlite.enc", offset=100) as response:
            assert response.offset == 0
            encrypted = b"".join(response.iter_bytes())
        assert age.decrypt_bytes(encrypted, [identity]) == BINARY * 300
    finally:
        connected.close()



@pytest.mark.parametrize(("offset", "length"),
                         [(0, 1), (0, 100), (5, 65_552), (1000, 10**9), (len(BINARY * 50) - 1, 5)])
def test_ranged_reads_with_a_length_send_only_those_bytes(pair: Pair, app: Path, offset: int, length: int) -> None:
    """Pack chunks are read as (offset, length) ranges: the channel sends those bytes and no more (a length
    past the end stops at the end), and the next request on the channel is answered as usual."""
    whole = BINARY * 50
    transport = ChannelTransport(pair.client, "synco-abc", description="test")
    with transport.open("synco-abc/dump.sql.enc", offset=offset, length=length) as response:
        assert response.offset == offset and response.total_size == len(whole)
        assert b"".join(response.iter_bytes()) == whole[offset:offset + length]
    with transport.open("synco-abc/dump.sql.enc", offset=3) as response:
        assert b"".join(response.iter_bytes()) == whole[3:]
    # The same ranges from a folder laid out as a web root.
    folder = DirectoryTransport(app.parent)
    with folder.open("session/dump.sql.enc", offset=offset, length=length) as response:
        assert b"".join(response.iter_bytes()) == whole[offset:offset + length]


def test_a_length_that_is_not_a_positive_number_is_refused(pair: Pair) -> None:
    for length in (0, -1, "10"):
        with pair.client.get("session", "dump.sql.enc", 0, None, length) as response:  # type: ignore[arg-type]
            assert not response.ok
    assert _read(pair.client, "session", "dump.sql.enc") == BINARY * 50
