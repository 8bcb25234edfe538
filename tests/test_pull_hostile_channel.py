"""A hostile or broken remote side of ``synco pull``: whatever it sends, pull ends with one line, in bounded
memory, and nothing it says reaches the terminal as escape sequences.

The unit tests feed crafted frame streams to :class:`ChannelClient`; the end-to-end ones run ``synco pull``
through the docker shim against a fake remote ``synco`` that writes the frames a test chose.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
import time
import tracemalloc
import unicodedata
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pull_support import SHIMS, run_synco

from synco_core.errors import TransferError
from synco_core.pull.client import MAX_EXPANDED_CHUNK, ChannelClient
from synco_core.pull.frames import (
    ABORT,
    DATA,
    END,
    FATAL,
    FILE,
    FILE_HEADER,
    HEADER,
    HELLO,
    LOG,
    MAGIC,
    READY,
    RESPONSE,
    FramingError,
    encode_frame,
    encode_json,
    remote_text,
)
from synco_core.pull.remote import Remote
from synco_core.pull.run import PullOptions, pull
from synco_core.pull.stall import StallGuard

ESCAPE = "\x1b]52;c;ZXZpbA==\x07\x1b[2J\r\nError: forged line\u202e"


def _client(raw: bytes, hello: dict[str, Any] | None = None) -> ChannelClient:
    stream = io.BytesIO(MAGIC + encode_json(HELLO, hello or {"protocol": 1}) + raw)
    client = ChannelClient(stream, io.BytesIO())  # type: ignore[arg-type]
    client.handshake()
    return client


def _read(client: ChannelClient, compress: str | None = None) -> list[bytes]:
    with client.get("session", "x", compress=compress) as response:
        return list(response.iter_chunks())


def _shown_safely(text: str) -> bool:
    return "\n" not in text and not any(unicodedata.category(char) in ("Cc", "Cf") for char in text)


@pytest.mark.parametrize("hello", [
    {"protocol": "1"}, {"protocol": 1.0}, {"protocol": 1e400}, {"protocol": [1]}, {"protocol": True},
    {"protocol": -1}, {"protocol": 1, "capabilities": "get_batch"}, {"protocol": 1, "capabilities": [1]},
])
def test_a_hello_with_fields_of_the_wrong_type_is_a_framing_error(hello: dict[str, Any]) -> None:
    with pytest.raises(FramingError, match=r"^malformed H frame: '(protocol|capabilities)' should be"):
        _client(b"", hello)


@pytest.mark.parametrize("header", [
    {"status": "ok", "size": "10"}, {"status": "ok", "size": 1e400}, {"status": "ok", "size": -10},
    {"status": "ok", "size": 10, "offset": [0]}, {"status": "ok", "size": 10, "length": -1},
    {"status": "ok", "size": 10, "offset": 11}, {"status": ["ok"], "size": 10}, {"status": "fine", "size": 10},
    {"status": None, "size": 10},
])
def test_a_response_header_that_lies_about_its_type_breaks_the_client_with_one_line(header: dict[str, Any]) -> None:
    client = _client(encode_json(RESPONSE, header) + encode_frame(DATA, b"0123456789") + encode_json(END, {}))
    with pytest.raises(FramingError, match=r"^malformed R frame: "):
        _read(client)
    with pytest.raises(FramingError, match="no longer usable"):
        _read(client)


@pytest.mark.parametrize("compress", [None, "zlib"])
def test_a_response_longer_than_announced_stops_at_the_first_byte_too_many(compress: str | None) -> None:
    body = b"x" * (3 << 20)
    payload = zlib.compress(body) if compress else body[: 1 << 20]
    frames = encode_frame(DATA, payload) * (1 if compress else 3)
    client = _client(encode_json(RESPONSE, {"status": "ok", "size": 10, "offset": 0}) + frames + encode_json(END, {}))
    received = 0
    with pytest.raises(FramingError, match="more than the 10 bytes it announced"), \
            client.get("session", "x", compress=compress) as response:
        for chunk in response.iter_chunks():
            received += len(chunk)
    assert received == 0, "nothing past the announced size is handed out"


def test_a_zlib_bomb_in_one_frame_is_never_expanded_at_once() -> None:
    """One 4 MiB ``D`` frame of zlib can hold 4 GiB: it expanded in one call (here 256 MiB from 256 KiB)."""
    size = 256 << 20
    bomb = zlib.compress(b"\0" * size, 9)
    assert len(bomb) < (1 << 20)
    client = _client(encode_json(RESPONSE, {"status": "ok", "size": size, "offset": 0}) + encode_frame(DATA, bomb)
                     + encode_json(END, {}))
    tracemalloc.start()
    try:
        total = 0
        biggest = 0
        with client.get("session", "x", compress="zlib") as response:
            for chunk in response.iter_chunks():
                total += len(chunk)
                biggest = max(biggest, len(chunk))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size and biggest <= MAX_EXPANDED_CHUNK
    assert peak < 16 << 20, f"peak {peak >> 20} MiB while reading a {size >> 20} MiB response"


@pytest.mark.parametrize("raw", [
    encode_json(FATAL, {"message": ESCAPE}),
    encode_json(RESPONSE, {"status": "ok", "size": 5, "offset": 0}) + encode_frame(DATA, b"12")
    + encode_json(FATAL, {"message": ESCAPE}),
])
def test_the_remote_sides_errors_reach_the_terminal_without_escape_sequences(raw: bytes) -> None:
    with pytest.raises(TransferError) as caught:
        _read(_client(raw))
    assert _shown_safely(str(caught.value)) and "\\u001b]52" in str(caught.value)


def test_progress_lines_batch_messages_and_versions_are_escaped_too() -> None:
    frames = (encode_json(LOG, {"message": ESCAPE}) + encode_json(READY, {})
              + encode_frame(FILE, FILE_HEADER.pack(1, 0) + ESCAPE.encode())
              + encode_frame(FILE, FILE_HEADER.pack(0, 4)) + encode_frame(DATA, b"ab")
              + encode_frame(ABORT, ESCAPE.encode()))
    client = _client(frames, {"protocol": 1, "version": ESCAPE, "python": ESCAPE, "capabilities": {"get_batch": True}})
    assert client.hello is not None and _shown_safely(client.hello.version) and _shown_safely(client.hello.python)
    lines: list[str] = []
    client.build({}, on_log=lines.append)
    assert lines and all(_shown_safely(line) for line in lines)
    answers = client.get_batch("public", ["a", "b"])
    _position, missing = next(answers)
    assert missing.status == "missing" and _shown_safely(missing.message)
    _position, aborted = next(answers)
    with pytest.raises(TransferError) as caught:
        aborted.drain()
    assert _shown_safely(str(caught.value))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=700))
def test_remote_text_is_always_one_short_line_without_controls(text: str) -> None:
    shown = remote_text(text, 200)
    assert len(shown) <= 200 and _shown_safely(shown)
    assert not any(unicodedata.category(char) in ("Zl", "Zp", "Cs", "Co", "Cn") for char in shown)


# ---------------------------------------------------------------------------------------------- end to end

_FAKE_SYNCO = r'''
import os, sys
out = os.fdopen(1, "wb", buffering=0)
out.write(open(os.environ["HOSTILE_FRAMES"], "rb").read())
if os.environ.get("HOSTILE_THEN") == "exit":
    sys.exit(0)
# Read the client's requests until it goes away, as a remote side that stopped answering would.
while os.read(0, 65536):
    pass
'''


@pytest.fixture
def hostile(tmp_path: Path) -> Any:
    fake = tmp_path / "hostile-synco"
    fake.write_text(f"#!{sys.executable}\n{_FAKE_SYNCO}")
    fake.chmod(0o755)
    (tmp_path / "app").mkdir()

    def run(frames: bytes, then: str = "read") -> Any:
        (tmp_path / "frames").write_bytes(frames)
        env = {**os.environ, "PATH": f"{SHIMS}{os.pathsep}{os.environ.get('PATH', '')}",
               "SYNCO_REMOTE_SYNCO": str(fake), "HOSTILE_FRAMES": str(tmp_path / "frames"),
               "SYNCO_CONNECT_TIMEOUT": "20", "HOSTILE_THEN": then}
        return run_synco(["pull", f"docker://web{tmp_path / 'app'}", "--target", "out"], env, tmp_path)

    return run


@pytest.fixture
def hostile_pull(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[bytes], Any]:
    """The same fake remote side, for ``pull`` run in this process (so a test can shorten its limits)."""
    fake = tmp_path / "hostile-synco"
    fake.write_text(f"#!{sys.executable}\n{_FAKE_SYNCO}")
    fake.chmod(0o755)
    (tmp_path / "app").mkdir()
    monkeypatch.setenv("PATH", f"{SHIMS}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("HOSTILE_FRAMES", str(tmp_path / "frames"))

    def run(frames: bytes) -> Any:
        (tmp_path / "frames").write_bytes(frames)
        remote = Remote(kind="docker", host="web", path=str(tmp_path / "app"))
        return pull(remote, PullOptions(target=tmp_path / "out", connect_timeout=20), echo=lambda _line: None,
                    env={**os.environ, "SYNCO_REMOTE_SYNCO": str(fake)})

    return run


HELLO_FRAME = MAGIC + encode_json(HELLO, {"protocol": 1, "version": "9", "python": "3.12", "capabilities": {}})


@pytest.mark.parametrize(("frames", "expected"), [
    (HELLO_FRAME + encode_json(READY, {"session": "../../../home", "key": "AGE-SECRET-KEY-1X"}),
     "unsafe session id"),
    (HELLO_FRAME + encode_json(READY, {"session": ["x"], "key": "AGE-SECRET-KEY-1X"}),
     "malformed S frame: 'session' should be a session id"),
    (MAGIC + encode_json(HELLO, {"protocol": "one"}), "malformed H frame: 'protocol' should be"),
    (HELLO_FRAME + HEADER.pack(b"L", 100) + b"short", "the channel closed in the middle of a frame (5 of 100 bytes)"),
    # The remote side says why and goes: its words, whether pull's request reached it or found it gone.
    (HELLO_FRAME + encode_json(FATAL, {"message": "short and gone"}), "Error: short and gone"),
    (HELLO_FRAME + HEADER.pack(b"L", 1 << 31), "length 2147483648 exceeds the limit"),
    (HELLO_FRAME + HEADER.pack(b"Z", 2) + b"{}", "unknown type b'Z'"),
    (HELLO_FRAME + encode_json(FATAL, {"message": ESCAPE}), "\\u001b]52;c;ZXZpbA==\\u0007\\u001b[2J Error: forged"),
])
def test_a_hostile_remote_side_ends_the_pull_with_one_clean_line(hostile: Any, tmp_path: Path, frames: bytes,
                                                                 expected: str) -> None:
    # A stream that stops in the middle of a frame: the remote side is gone (its output closed).
    result = hostile(frames, "exit" if b"short" in frames else "read")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and expected in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert "\x1b" not in result.stderr + result.stdout and "forged line\n" not in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.sql*"))


def test_progress_lines_of_a_hostile_remote_are_escaped(hostile: Any) -> None:
    result = hostile(HELLO_FRAME + encode_json(LOG, {"message": ESCAPE}) + encode_json(FATAL, {"message": "stop"}))
    assert result.returncode == 1
    assert "\x1b" not in result.stderr and "\\u001b]52" in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("Error:")] == ["Error: stop"]


# ------------------------------------------------------------------------------------------- stalls


def _piped_client(write: Callable[[int], None], limit: float) -> tuple[ChannelClient, StallGuard]:
    """A client reading a real pipe that ``write`` fills from a thread; the guard "kills" by closing it."""
    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "rb", buffering=65536)
    closed = threading.Event()

    def kill() -> None:
        if not closed.is_set():
            closed.set()
            with contextlib.suppress(OSError):
                os.close(write_fd)

    def feed() -> None:
        with contextlib.suppress(OSError):
            os.write(write_fd, MAGIC + encode_json(HELLO, {"protocol": 1}))
            write(write_fd)
        kill()

    threading.Thread(target=feed, daemon=True).start()
    client = ChannelClient(reader, io.BytesIO())  # type: ignore[arg-type]
    client.handshake()
    guard = client.stall_guard = StallGuard(kill, limit)
    return client, guard


def test_a_stream_that_stops_inside_a_frame_ends_with_one_line() -> None:
    def write(fd: int) -> None:
        os.write(fd, encode_json(RESPONSE, {"status": "ok", "size": 10, "offset": 0}) + HEADER.pack(b"D", 10) + b"12")
        time.sleep(30)  # then nothing, with the stream open

    client, guard = _piped_client(write, 0.5)
    started = time.monotonic()
    try:
        with pytest.raises(FramingError, match=r"stopped in the middle of a frame and sent nothing for 0\.5s"):
            _read(client)
    finally:
        guard.close()
    assert time.monotonic() - started < 10


#: The stall limit of the slow-but-steady test, and the gap between the pieces of its frame: ten gaps to a
#: limit, so a thread descheduled for a while on a loaded machine does not make a gap a stall (with 0.3 s gaps
#: to a 1 s limit, 0.7 s of delay did).
_LIMIT, _GAP = 3.0, 0.3


def test_silence_between_frames_and_a_slow_steady_frame_are_fine() -> None:
    body = os.urandom(64 * 1024)
    piece = 4096
    # The frame as a whole takes longer than the limit: only the gaps between its pieces are each shorter.
    assert len(body) // piece * _GAP > 1.5 * _LIMIT

    def write(fd: int) -> None:
        time.sleep(_LIMIT + 0.5)  # the remote side at work between two frames: allowed
        os.write(fd, encode_json(RESPONSE, {"status": "ok", "size": len(body), "offset": 0})
                 + HEADER.pack(b"D", len(body)))
        for start in range(0, len(body), piece):  # a slow link: a piece every _GAP seconds
            time.sleep(_GAP)
            os.write(fd, body[start:start + piece])
        os.write(fd, encode_json(END, {}))

    client, guard = _piped_client(write, _LIMIT)
    try:
        assert b"".join(_read(client)) == body
    finally:
        guard.close()
    assert guard.message is None


def test_a_pull_whose_remote_side_stalls_mid_frame_ends(hostile_pull: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("synco_core.pull.stall.MID_FRAME_SILENCE", 1.0)
    frames = HELLO_FRAME + HEADER.pack(b"L", 100) + b'{"message": "half'
    started = time.monotonic()
    with pytest.raises(TransferError, match=r"^the remote side stopped in the middle of a frame and sent nothing "
                                            "for 1s"):
        hostile_pull(frames)
    assert time.monotonic() - started < 20


# ------------------------------------------------------------------ a request that finds the channel closed


class _ClosedPipe(io.RawIOBase):
    """The client's end of a channel whose remote side has gone: every write fails as a closed pipe does."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def _closed_client(reader: Any) -> ChannelClient:
    client = ChannelClient(reader, _ClosedPipe())  # type: ignore[arg-type]
    client.handshake()
    return client


@pytest.mark.parametrize(("rest", "expected"), [
    # Whatever the remote side wrote before it went is why it went: it wins over the closed pipe.
    (encode_json(FATAL, {"message": "cannot read the database: access denied"}),
     r"^cannot read the database: access denied$"),
    (encode_json(LOG, {"message": "dumping"}) + encode_json(FATAL, {"message": "disk full"}), r"^disk full$"),
    (HEADER.pack(b"L", 100) + b"short", r"^the channel closed in the middle of a frame \(5 of 100 bytes\)$"),
    (HEADER.pack(b"Z", 2) + b"{}", r"unknown type b'Z'"),
    # Nothing more, or something that says nothing: the closed pipe is the reason.
    (b"", r"^the channel closed while sending a request$"),
    (encode_json(READY, {"session": "x"}), r"^the channel closed while sending a request$"),
])
def test_a_request_sent_after_the_remote_side_left_reports_its_last_words(rest: bytes, expected: str) -> None:
    client = _closed_client(io.BytesIO(MAGIC + encode_json(HELLO, {"protocol": 1}) + rest))
    with pytest.raises(TransferError, match=expected):
        client.build({})
    with pytest.raises(FramingError, match="no longer usable"):
        client.build({})


def test_last_words_never_hang_on_a_remote_side_that_keeps_its_output_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("synco_core.pull.client.LAST_WORDS_WAIT", 0.3)
    read_fd, write_fd = os.pipe()
    os.write(write_fd, MAGIC + encode_json(HELLO, {"protocol": 1}))
    try:
        client = _closed_client(os.fdopen(read_fd, "rb"))
        started = time.monotonic()
        with pytest.raises(TransferError, match=r"^the channel closed while sending a request$"):
            client.build({})
        assert time.monotonic() - started < 20
    finally:
        os.close(write_fd)  # ends the reader thread still waiting for a frame
