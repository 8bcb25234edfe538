"""A compromised or broken server (or the proxy in front of it) against receive's HTTP transport.

The server here is a raw socket on 127.0.0.1 that answers whatever the test tells it to, byte for byte: a 503
whose page is tens of megabytes, headers a real server would not send (digits that are not ASCII, a number
of thousands of digits, a Retry-After date). Each must end in the error that names the situation, with the
memory of the receive bounded by a chunk, never in a traceback.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import socket
import threading
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from synco_core.cli.main import setup_logging
from synco_core.errors import TransferError
from synco_core.origins import RefusedRequestError
from synco_core.receive import HttpTransport, busy
from synco_core.receive.transport import NotFoundError, UnreachableError

#: Larger than any chunk or buffer of the transport: reading it whole shows in the peak of the memory.
BIG = 48 * 1024 * 1024

Answer = Callable[[socket.socket], None]


@contextlib.contextmanager
def raw_server(answer: Answer) -> Iterator[str]:
    """A server calling ``answer(connection)`` for every request it reads, until the client goes away."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def client(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            pending = b""
            while not stop.is_set():
                while b"\r\n\r\n" not in pending:
                    data = conn.recv(65536)
                    if not data:
                        return
                    pending += data
                pending = pending.split(b"\r\n\r\n", 1)[1]
                answer(conn)

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                threading.Thread(target=client, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        listener.close()


#: What the server sends, made before any memory is traced (the server's threads are in this process too).
_BLOCK = b"<html>busy</html>" + b" " * (1024 * 1024 - 17)
_CHUNK = f"{len(_BLOCK):x}\r\n".encode() + _BLOCK + b"\r\n"


def send_body(conn: socket.socket, head: str, size: int, chunked: bool = False) -> None:
    conn.sendall(head.encode("latin-1"))
    for _ in range(size // len(_BLOCK)):
        conn.sendall(_CHUNK if chunked else _BLOCK)
    if chunked:
        conn.sendall(b"0\r\n\r\n")


def peak_of(action: Callable[[], object]) -> tuple[BaseException | None, int]:
    """The error ``action`` raised (or None) and the peak of the memory Python allocated meanwhile."""
    tracemalloc.start()
    try:
        action()
        raised: BaseException | None = None
    except Exception as exc:
        raised = exc
    finally:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return raised, peak


def fetch(url: str) -> bytes:
    transport = HttpTransport(url)
    try:
        with transport.open("file.bin") as response:
            return b"".join(response.iter_bytes())
    finally:
        transport.close()


@pytest.fixture
def quick_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The doubling pause of busy answers shortened, so that six of them in a row take no time."""
    monkeypatch.setattr(busy, "FIRST_PAUSE", 0.001)


# ------------------------------------------------------------------------ bodies that are not the file


@pytest.mark.parametrize("chunked", [False, True], ids=["with-length", "chunked"])
@pytest.mark.parametrize(("status", "headers", "error", "said"), [
    (503, "Retry-After: 0\r\n", TransferError, "the server answers HTTP 503"),
    (429, "", TransferError, "the server answers HTTP 429"),
    (404, "", NotFoundError, "not found"),
    (500, "", TransferError, "unexpected HTTP 500"),
    (302, "Location: http://elsewhere.example/\r\n", RefusedRequestError, "refusing redirect"),
])
def test_the_page_of_an_answer_that_is_not_the_file_is_never_read_whole(
        quick_pauses: None, status: int, headers: str, error: type[Exception], said: str, chunked: bool) -> None:
    """A 503 (or any answer but the file) carrying a page of gigabytes: the page was read into memory whole to
    keep the connection, once per retry; it is now read to a small limit, or the connection closed."""
    framing = "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {BIG}\r\n"
    head = f"HTTP/1.1 {status} Whatever\r\n{headers}{framing}\r\n"
    with raw_server(lambda conn: send_body(conn, head, BIG, chunked)) as url:
        raised, peak = peak_of(lambda: fetch(url))
    assert isinstance(raised, error) and said in str(raised), raised
    assert peak < BIG // 8, f"{peak} bytes held for a page of {BIG}"


def test_a_pipelined_batch_does_not_read_through_a_giant_page() -> None:
    """In a pipelined batch a busy answer's page was read through to reach the next answer; a page longer
    than the limit breaks the batch off instead (the rest is asked for one by one)."""
    head = f"HTTP/1.1 503 Busy\r\nContent-Length: {BIG}\r\n\r\n"
    sent: list[int] = []

    def answer(conn: socket.socket) -> None:
        sent.append(1)
        send_body(conn, head, BIG)

    with raw_server(answer) as url:
        transport = HttpTransport(url)
        try:
            with pytest.raises(TransferError, match=f"HTTP 503 with a body of {BIG} bytes"):
                for _position, _response in transport.open_many(["a.bin", "b.bin"]):
                    pass
        finally:
            transport.close()


# ---------------------------------------------------------------------------------- headers as numbers


@pytest.mark.parametrize("value", ["\xb2", "\xb9\xb2", "9" * 5000, "-5", "1e9"],
                         ids=["superscript", "superscripts", "thousands-of-digits", "negative", "float"])
def test_a_content_length_that_is_no_number_does_not_end_in_a_traceback(value: str) -> None:
    """``str.isdigit`` takes Latin-1's superscript digits, which ``int`` refuses, and ``int`` refuses strings of
    thousands of digits: either was a ValueError out of the transport. The body then runs to the close."""
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {value}\r\nConnection: close\r\n\r\n"

    def answer(conn: socket.socket) -> None:
        conn.sendall(head.encode("latin-1") + b"data")
        conn.shutdown(socket.SHUT_WR)

    with raw_server(answer) as url:
        assert fetch(url) == b"data"


@pytest.mark.parametrize("value", ["\xb2", "9" * 5000, "-1"], ids=["superscript", "thousands-of-digits", "negative"])
def test_a_pipelined_content_length_that_is_no_number_breaks_the_batch_off(value: str) -> None:
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {value}\r\n\r\n"
    with raw_server(lambda conn: conn.sendall(head.encode("latin-1") + b"data")) as url:
        transport = HttpTransport(url)
        try:
            with pytest.raises(TransferError, match="bad Content-Length"):
                for _position, _response in transport.open_many(["a.bin", "b.bin"]):
                    pass
        finally:
            transport.close()


def http_date(delta: timedelta) -> str:
    return format_datetime(datetime.now(timezone.utc) + delta, usegmt=True)


@pytest.mark.parametrize(("retry_after", "said"), [
    ("\xb2", "7 times in a row"),
    ("9" * 5000, f"and asks to wait far longer than {busy.LONGEST_PAUSE:g} s"),
    ("99999999999999999999", f"and asks to wait far longer than {busy.LONGEST_PAUSE:g} s"),
    ("-5", "7 times in a row"),
    ("soon", "7 times in a row"),
    (None, "7 times in a row"),
], ids=["superscript", "thousands-of-digits", "twenty-digits", "negative", "words", "past-date"])
def test_every_retry_after_ends_in_the_one_busy_line(quick_pauses: None, retry_after: str | None, said: str) -> None:
    """A Retry-After of Latin-1 superscript digits was a ValueError out of the transport; a huge one was
    written as ``inf s``. A date already past asks for no pause: the doubling one is waited."""
    value = retry_after if retry_after is not None else http_date(timedelta(hours=-1))
    head = f"HTTP/1.1 429 Too Many\r\nRetry-After: {value}\r\nContent-Length: 0\r\n\r\n"
    with raw_server(lambda conn: conn.sendall(head.encode("latin-1"))) as url, \
            pytest.raises(TransferError) as raised:
        fetch(url)
    line = str(raised.value)
    assert f"the server answers HTTP 429 for {url}file.bin {said}: it limits requests" in line, line
    assert "\n" not in line and "inf" not in line


@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.999])
@pytest.mark.parametrize("retry_after", [None, "-5", "soon"], ids=["none", "negative", "words"])
def test_a_server_asking_for_no_pause_is_never_said_to_ask_for_one(monkeypatch: pytest.MonkeyPatch,
                                                                  retry_after: str | None, jitter: float) -> None:
    """The doubling pause of the seventh busy answer was computed before giving up, and when its random stretch
    took it past the longest pause (one time in eight) the line said the server "asks to wait 31 s", which it
    never did. The pauses themselves are not waited here (Calm.wait), only counted."""
    monkeypatch.setattr(busy.random, "random", lambda: jitter)
    monkeypatch.setattr(busy.Calm, "wait", lambda _self: None)
    header = f"Retry-After: {retry_after}\r\n" if retry_after is not None else ""
    head = f"HTTP/1.1 503 Busy\r\n{header}Content-Length: 0\r\n\r\n"
    with raw_server(lambda conn: conn.sendall(head.encode("latin-1"))) as url, \
            pytest.raises(TransferError) as raised:
        fetch(url)
    line = str(raised.value)
    assert f"for {url}file.bin {busy.BUSY_RETRIES + 1} times in a row" in line and "asks to wait" not in line, line


def test_a_retry_after_date_is_the_pause_it_names() -> None:
    """RFC 9110 lets Retry-After be an HTTP date; it was taken for no Retry-After, and a server asking for an
    hour was asked again within seconds, six times."""
    assert 3590 < busy.pause_for(http_date(timedelta(hours=1)), 0) <= 3600
    assert 5 < busy.pause_for(http_date(timedelta(seconds=20)), 0) <= 20
    # Past, or written with -0000 (a date without a zone): not a pause to wait for, nor one taken as local time.
    assert busy.pause_for(http_date(timedelta(hours=-1)), 0) <= 2 * busy.FIRST_PAUSE
    assert busy.pause_for("Thu, 01 Jan 1970 00:00:00 -0000", 0) <= 2 * busy.FIRST_PAUSE


@pytest.mark.parametrize("server_ahead", [timedelta(hours=2), timedelta(hours=-2)],
                         ids=["server-ahead", "laptop-ahead"])
def test_a_retry_after_date_counts_from_the_servers_own_clock(monkeypatch: pytest.MonkeyPatch,
                                                              server_ahead: timedelta) -> None:
    """A server whose clock is two hours ahead of the laptop's asks to come back in 3 s (its Date and a
    Retry-After 3 s later): the laptop counted from its own clock, took that for 2 hours and failed the file as
    asked to wait too long; two hours behind, it did not wait at all. The pause is now the 3 s asked for."""
    waited: list[float] = []
    monkeypatch.setattr(busy.Calm, "extend", lambda _self, pause: waited.append(pause))
    answers = [(f"HTTP/1.1 503 Busy\r\nDate: {http_date(server_ahead)}\r\nRetry-After: "
                f"{http_date(server_ahead + timedelta(seconds=3))}\r\nContent-Length: 0\r\n\r\n").encode()]

    def answer(conn: socket.socket) -> None:
        conn.sendall(answers.pop(0) if answers else b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")

    with raw_server(answer) as url:
        assert fetch(url) == b"abc"
    assert len(waited) == 1 and 2 <= waited[0] <= 3


def test_a_retry_after_date_too_far_is_the_one_busy_line() -> None:
    head = f"HTTP/1.1 503 Busy\r\nRetry-After: {http_date(timedelta(hours=1))}\r\nContent-Length: 0\r\n\r\n"
    with raw_server(lambda conn: conn.sendall(head.encode("latin-1"))) as url, \
            pytest.raises(TransferError, match=r"HTTP 503 for .* and asks to wait 3[56]\d\d s: it limits"):
        fetch(url)


def test_once_the_server_stayed_busy_other_requests_do_not_wait_their_retries_out(quick_pauses: None) -> None:
    """A server answering 503 to everything (no Retry-After) had each file of a set wait its own six doubling
    pauses (16 to 32 s each): hours for thousands of files. Once one request has given up, the others fail
    at their first busy answer, until the server answers anything else."""
    answers: list[bytes] = []
    busy_head = b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"

    def answer(conn: socket.socket) -> None:
        conn.sendall(answers.pop(0) if answers else busy_head)

    with raw_server(answer) as url:
        transport = HttpTransport(url)
        try:
            with pytest.raises(TransferError, match="7 times in a row"), transport.open("first.bin"):
                pass
            for number in range(5):
                answers.append(busy_head)
                with pytest.raises(TransferError, match="while it stays busy") as raised, \
                        transport.open(f"{number}.bin"):
                    pass
                assert "\n" not in str(raised.value)
                assert not answers, "a single busy answer was enough"
            # The server answering again (here a 404) ends it: the next busy streak is waited out as before.
            answers.append(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            with pytest.raises(NotFoundError), transport.open("gone.bin"):
                pass
            answers.extend([busy_head, busy_head, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
            with transport.open("back.bin") as response:
                assert b"".join(response.iter_bytes()) == b"ok"
        finally:
            transport.close()


# ------------------------------------------------------------------------------------ compressed bodies


def coded_answer(body: bytes) -> Answer:
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    return lambda conn: conn.sendall(head + body)


@pytest.mark.parametrize("first_size", [10, 300_000], ids=["members-in-one-chunk", "members-across-chunks"])
def test_a_gzip_body_of_several_members_is_decoded_whole(first_size: int) -> None:
    """``cat a.gz b.gz`` is one gzip stream (RFC 1952). A second member in the same chunk as the first's end
    was dropped without a word (the file then short: 'another version'); in a later chunk it was 'damaged'."""
    first, second = os.urandom(first_size), b"second member" * 100
    with raw_server(coded_answer(gzip.compress(first) + gzip.compress(second))) as url:
        assert fetch(url) == first + second


@pytest.mark.parametrize("first_size", [10, 300_000], ids=["small-body", "body-of-several-chunks"])
@pytest.mark.parametrize("coder", [gzip.compress, zlib.compress], ids=["gzip", "deflate"])
def test_bytes_after_the_end_of_a_compressed_body_are_damage_wherever_they_arrive(
        first_size: int, coder: Callable[[bytes], bytes]) -> None:
    with raw_server(coded_answer(coder(os.urandom(first_size)) + b"<html>junk</html>")) as url, \
            pytest.raises(TransferError, match="compressed answer is damaged"):
        fetch(url)


def coded_part(body: bytes) -> bytes:
    return (f"HTTP/1.1 206 Partial Content\r\nContent-Encoding: gzip\r\nContent-Range: bytes 0-4/5\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


@pytest.mark.parametrize("offset", [0, 2], ids=["whole-file-asked", "range-asked-then-whole"])
def test_a_compressed_part_to_a_request_for_the_whole_file_is_one_line(offset: int) -> None:
    """A server answering 206 with a coding to a request without Range (at once, or to the whole-file request
    that a compressed 206 to a Range makes) ended in ``KeyError: 'Range'``, or had the part decoded as if it were
    the file from its offset."""
    answer = coded_part(gzip.compress(b"hello"))
    with raw_server(lambda conn: conn.sendall(answer)) as url:
        transport = HttpTransport(url)
        try:
            with pytest.raises(TransferError, match=r"compressed part of it \(HTTP 206, Content-Encoding gzip\) "
                                                    "although the whole file was asked for"), \
                    transport.open("file.bin", offset) as response:
                b"".join(response.iter_bytes())
        finally:
            transport.close()


# ------------------------------------------------------------------------------------- --debug output


def test_debug_lines_quoting_a_server_carry_no_terminal_escapes(capsys: pytest.CaptureFixture[str]) -> None:
    """The transport logs what a server sent (a Content-Encoding, a redirect's Location) under --debug; the
    error lines were made printable, the debug lines were not: ESC and BEL reached the terminal as sent."""
    setup_logging(True)
    try:
        hostile = "gzip\x1b]0;owned\x07\x1b[2J\u202e"
        logging.getLogger("synco_core.receive.http_transport").debug("%s came %s-compressed", "url", hostile)
        try:
            raise ValueError("from a server: \x1b[31m")
        except ValueError:
            logging.getLogger("synco_core.receive").debug("failed", exc_info=True)
    finally:
        setup_logging(False)
    err = capsys.readouterr().err
    assert "came gzip\\u001b]0;owned\\u0007\\u001b[2J\\u202e-compressed" in err, err
    assert not any(char in err for char in "\x1b\x07\u202e")
    assert "Traceback (most recent call last):\n" in err and "\\u001b[31m" in err


# ---------------------------------------------------------------------------------- answers without end


def endless_interim(status: bytes) -> Answer:
    def answer(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn.sendall(b"HTTP/1.1 " + status + b"\r\nLink: </style.css>\r\n\r\n")
    return answer


@pytest.mark.parametrize("status", [b"100 Continue", b"103 Early Hints"])
def test_interim_answers_without_end_are_one_line_not_a_wait_for_ever(status: bytes) -> None:
    """A server (or proxy) sending ``100 Continue`` over and over kept open() waiting for ever: bytes keep
    arriving, so neither the timeout nor the pace check fires; a pipelined batch looped the same way."""
    with raw_server(endless_interim(status)) as url:
        if status.startswith(b"100"):
            with pytest.raises(TransferError, match=r"file.bin: the server sent more than 20 interim answers"):
                fetch(url)
        transport = HttpTransport(url)
        try:
            with pytest.raises(TransferError, match="more than 20 interim answers"):
                for _position, _response in transport.open_many(["a.bin", "b.bin"]):
                    pass
        finally:
            transport.close()


# ------------------------------------------------------------------------------ answers that are not HTTP


@pytest.mark.parametrize(("answer", "said"), [
    (b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-H%d: a\r\n" % n for n in range(150)) + b"Content-Length: 2\r\n\r\nok",
     "got more than 100 headers"),
    (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\nContent-Length: 2\r\n\r\nok", "got more than 65536 bytes"),
    (b"hello, this is not HTTP\r\n\r\n", "hello, this is not HTTP"),
    (b"HTTP/1.1 abc OK\r\n\r\n", "HTTP/1.1 abc OK"),
], ids=["many-headers", "long-header", "no-status-line", "status-no-number"])
def test_an_answer_that_is_not_http_is_the_servers_not_an_unreachable_one(answer: bytes, said: str) -> None:
    """A server answering with more headers than http.client takes, or without an HTTP status line, was
    "cannot reach" it, and the search for the session then said "no server answered ... check that serve is
    running", of a server that answered every time."""
    with raw_server(lambda conn: conn.sendall(answer)) as url, pytest.raises(TransferError) as raised:
        fetch(url)
    assert not isinstance(raised.value, UnreachableError), raised.value
    line = str(raised.value)
    assert line.startswith(f"{url}file.bin: the answer is not HTTP that synco reads (") and said in line, line
    assert len(line) < 300 and "\n" not in line


# ---------------------------------------------------------------------------- a server that stops answering


@contextlib.contextmanager
def answering_server(answers: Callable[[int], bytes | None]) -> Iterator[tuple[str, list[int]]]:
    """A server that answers its n-th request (from 0) with ``answers(n)``, or never (None); (URL, requests)."""
    seen: list[int] = []
    lock = threading.Lock()

    def answer(conn: socket.socket) -> None:
        with lock:
            number = len(seen)
            seen.append(number)
        reply = answers(number)
        if reply is not None:
            conn.sendall(reply)

    with raw_server(answer) as url:
        yield url, seen


def test_a_server_that_stops_answering_is_not_waited_for_file_after_file() -> None:
    """A server accepting requests and never answering cost the per-read timeout (30 s) per file: thousands of
    files, eight at a time, took hours to fail one by one. Once every connection has waited in vain twice in
    a row, the server is not asked again in this receive."""
    with answering_server(lambda _n: None) as (url, seen):
        transport = HttpTransport(url, timeout=0.3, max_connections=1)
        errors = []
        try:
            for number in range(8):
                with pytest.raises(TransferError) as raised, transport.open(f"{number}.bin"):
                    pass
                errors.append(str(raised.value))
        finally:
            transport.close()
    assert len(seen) == 2, "only the first round of requests (twice the connections) was waited for"
    assert all("timed out" in error for error in errors[:2]), errors
    said = "the server left 2 requests in a row without an answer, and is not asked again in this receive"
    assert all(error == f"cannot reach {url}{number + 2}.bin: {said}; run the same command again once it answers"
               for number, error in enumerate(errors[2:])), errors


def test_a_server_that_answers_now_and_then_is_asked_every_time() -> None:
    """Only requests in a row count: any answer (a 404 here) starts the count again."""
    gone = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    with answering_server(lambda n: gone if n % 2 else None) as (url, seen):
        transport = HttpTransport(url, timeout=0.3, max_connections=1)
        try:
            for number in range(6):
                with pytest.raises(TransferError), transport.open(f"{number}.bin"):
                    pass
        finally:
            transport.close()
    assert len(seen) == 6


@pytest.mark.parametrize("framing, whole", [
    ("length", True), ("chunked", True), ("to the close", False), ("length, cut", None), ("chunked, cut", None)])
def test_a_body_is_whole_only_when_it_ends_where_the_server_said(framing: str, whole: bool | None) -> None:
    """An artifact shorter than the meta records is refused as the server's file only when the answer was
    whole (its Content-Length met, its last chunk sent); a body ending with its connection may be a cut one,
    and a body ending before its declared end is an interruption (running again resumes it)."""
    body = b"x" * 1000

    def answer(conn: socket.socket) -> None:
        head = "HTTP/1.1 200 OK\r\n"
        if framing.startswith("length"):
            sent = body[:500] if "cut" in framing else body
            conn.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + sent)
        elif framing.startswith("chunked"):
            conn.sendall(f"{head}Transfer-Encoding: chunked\r\n\r\n{len(body):x}\r\n".encode() + body + b"\r\n"
                         + (b"" if "cut" in framing else b"0\r\n\r\n"))
        else:
            conn.sendall(f"{head}Connection: close\r\n\r\n".encode() + body)
        conn.shutdown(socket.SHUT_RDWR)
        conn.close()

    with raw_server(answer) as url:
        transport = HttpTransport(url)
        try:
            with transport.open("file") as response:
                if whole is None:
                    with pytest.raises(TransferError, match="interrupted"):
                        b"".join(response.iter_bytes())
                    assert not response.whole
                    return
                assert b"".join(response.iter_bytes()) == body
                assert response.whole is whole
        finally:
            transport.close()
