"""Range requests answered otherwise than asked, by a raw server on 127.0.0.1 (or a proxy in front of one).

receive continues artifacts and public files with ``Range: bytes=N-`` and reads packs by ``bytes=A-B``. A 206
whose ``Content-Range`` starts elsewhere, ends elsewhere, is contradicted by its ``Content-Length``, or whose
body is shorter or longer than the range it names, must fail in one line naming the server, before a byte
of it is placed anywhere; a 200 (the range ignored) and a correct 206 must still be taken.
"""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest
from test_receive_hostile_server import Answer, raw_server

from synco_core import age
from synco_core.errors import TransferError
from synco_core.receive import HttpTransport
from synco_core.receive.artifact import ArtifactSpec, receive_artifact

FILE = bytes(range(256)) * 40
SIZE = len(FILE)


def answer_with(head: str, body: bytes, *, close: bool = False) -> Answer:
    def answer(conn: socket.socket) -> None:
        conn.sendall(head.encode("latin-1") + body)
        if close:
            conn.shutdown(socket.SHUT_RDWR)
            conn.close()
    return answer


def partial(content_range: str, body: bytes, length: int | None = None, *, close: bool = False) -> Answer:
    length_line = "" if length is None and close else f"Content-Length: {len(body) if length is None else length}\r\n"
    return answer_with(f"HTTP/1.1 206 Partial Content\r\nContent-Range: {content_range}\r\n{length_line}\r\n", body,
                       close=close)


def read(url: str, offset: int, length: int | None) -> tuple[int, bytes]:
    transport = HttpTransport(url, timeout=10)
    try:
        with transport.open("file.bin", offset, length) as response:
            return response.offset, b"".join(response.iter_bytes())
    finally:
        transport.close()


ASKED = "to a request for bytes 100-199"

#: (offset, length asked; what the server answers; what the one line says).
WRONG: dict[str, tuple[int, int | None, Answer, str]] = {
    "another-start-after": (100, 100, partial(f"bytes 200-299/{SIZE}", FILE[200:300]), ASKED),
    "another-start-before": (100, 100, partial(f"bytes 0-199/{SIZE}", FILE[0:200]), ASKED),
    "open-range-another-start": (100, None, partial(f"bytes 200-{SIZE - 1}/{SIZE}", FILE[200:]),
                                 "to a request for bytes 100-"),
    "more-than-asked": (100, 100, partial(f"bytes 100-399/{SIZE}", FILE[100:400]), ASKED),
    "less-than-the-end": (100, None, partial(f"bytes 100-199/{SIZE}", FILE[100:200]),
                          f"interrupted after 100 bytes: the server sent bytes 100-199 of {SIZE}, not to byte "
                          f"{SIZE - 1}"),
    "less-than-asked": (100, 100, partial(f"bytes 100-149/{SIZE}", FILE[100:150]),
                        f"interrupted after 50 bytes: the server sent bytes 100-149 of {SIZE}, not to byte 199"),
    "a-part-for-the-whole-file": (0, None, partial(f"bytes 0-99/{SIZE}", FILE[:100]),
                                  f"interrupted after 100 bytes: the server sent bytes 0-99 of {SIZE}, not to byte"),
    "a-part-elsewhere-for-the-whole-file": (0, None, partial(f"bytes 100-199/{SIZE}", FILE[100:200]),
                                            "to a request for the whole file"),
    "length-contradicts-range": (100, 100, partial(f"bytes 100-199/{SIZE}", FILE[100:400]),
                                 "with a body of 300 bytes"),
    "star-size": (100, 100, partial(f"bytes */{SIZE}", FILE[100:200]), "bad Content-Range"),
    "negative-size": (100, 100, partial("bytes 100-199/-5", FILE[100:200]), "bad Content-Range"),
    "last-before-first": (100, 100, partial(f"bytes 100-50/{SIZE}", FILE[100:200]), "bad Content-Range"),
    "past-the-size": (100, 100, partial("bytes 100-199/150", FILE[100:200]), "bad Content-Range"),
    "not-digits": (100, 100, partial(f"bytes 1_00-199/{SIZE}", FILE[100:200]), "bad Content-Range"),
    "multipart": (100, 100, answer_with("HTTP/1.1 206 Partial Content\r\nContent-Type: multipart/byteranges; "
                                        "boundary=B\r\nContent-Length: 4\r\n\r\n", b"--B\n"),
                  "names no Content-Range (Content-Type multipart/byteranges"),
    "shorter-body-to-close": (100, 100, partial(f"bytes 100-199/{SIZE}", FILE[100:150], close=True),
                              "interrupted after 50 of 100 bytes"),
    "longer-body-to-close": (100, 100, partial(f"bytes 100-199/{SIZE}", FILE[100:400], close=True),
                             "more than the 100 bytes"),
    "conflicting-lengths": (0, None, answer_with("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\n",
                                                 b"abcde"), "conflicting Content-Length headers (3, 5)"),
}


@pytest.mark.parametrize("case", WRONG.values(), ids=WRONG.keys())
def test_an_answer_that_is_not_the_range_asked_is_one_line_naming_the_server(
        case: tuple[int, int | None, Answer, str]) -> None:
    """A 206 of another range was handed to the caller, placed by its Content-Range (an artifact restarted from
    byte 0 with bytes of the middle, losing its part file); one cut short without Content-Length was taken whole."""
    offset, length, answer, said = case
    with raw_server(answer) as url, pytest.raises(TransferError) as raised:
        read(url, offset, length)
    message = str(raised.value)
    assert said in message and url.rstrip("/") in message and "\n" not in message, message


#: (offset, length asked; the answer; where its body starts) of answers that are the range, or the whole file.
RIGHT: dict[str, tuple[int, int | None, Answer, int]] = {
    "the-range": (100, 100, partial(f"bytes 100-199/{SIZE}", FILE[100:200]), 100),
    "to-the-end": (100, None, partial(f"bytes 100-{SIZE - 1}/{SIZE}", FILE[100:]), 100),
    "cut-at-the-end": (SIZE - 50, 100, partial(f"bytes {SIZE - 50}-{SIZE - 1}/{SIZE}", FILE[-50:]), SIZE - 50),
    "unknown-size": (100, 100, partial("bytes 100-199/*", FILE[100:200]), 100),
    "no-length-to-close": (100, 100, partial(f"bytes 100-199/{SIZE}", FILE[100:200], close=True), 100),
    "whole-file-as-206": (0, None, partial(f"bytes 0-{SIZE - 1}/{SIZE}", FILE), 0),
    "range-ignored": (100, 100, answer_with(f"HTTP/1.1 200 OK\r\nContent-Length: {SIZE}\r\n\r\n", FILE), 0),
    "upper-case-unit": (100, 100, partial(f"BYTES 100-199/{SIZE}", FILE[100:200]), 100),
}


@pytest.mark.parametrize("case", RIGHT.values(), ids=RIGHT.keys())
def test_the_range_asked_or_the_whole_file_is_taken(case: tuple[int, int | None, Answer, int]) -> None:
    offset, length, answer, start = case
    with raw_server(answer) as url:
        body_offset, body = read(url, offset, length)
    assert body_offset == start
    assert body == FILE[start:start + len(body)] and body


def test_a_resumed_artifact_keeps_its_part_when_the_server_answers_another_range(tmp_path: Path) -> None:
    """An artifact continued from its part file, answered with a 206 from another offset, restarted from byte 0
    with that body: the bytes failed authentication and the part file that held the beginning was deleted."""
    identity = age.X25519Identity.generate()
    plain = hashlib.sha256(b"seed").digest() * 8192
    encrypted = age.encrypt_bytes(plain, [identity.recipient()])
    held = 70_000
    part = tmp_path / "dump.sql.enc.part"
    part.write_bytes(encrypted[:held])
    later = held + 4096
    answer = partial(f"bytes {later}-{len(encrypted) - 1}/{len(encrypted)}", encrypted[later:])
    with raw_server(answer) as url:
        transport = HttpTransport(url, timeout=10)
        spec = ArtifactSpec("dump.sql.enc", part, encrypted_size=len(encrypted), plain_size=len(plain),
                            label="database")
        try:
            with pytest.raises(TransferError, match=rf"with bytes {later}-.* to a request for bytes {held}-"):
                receive_artifact(transport, spec, [identity], lambda stream: stream.read())
        finally:
            transport.close()
    assert part.read_bytes() == encrypted[:held]


def test_a_resumed_artifact_keeps_what_a_shorter_part_brought(tmp_path: Path) -> None:
    """A server sending less than the rest asked for (some stream a few megabytes per answer) sends the right
    bytes at the right place: they are kept, and the read ends as an interrupted one, continued next time."""
    identity = age.X25519Identity.generate()
    plain = hashlib.sha256(b"seed").digest() * 8192
    encrypted = age.encrypt_bytes(plain, [identity.recipient()])
    held, brought = 70_000, 50_000
    part = tmp_path / "dump.sql.enc.part"
    part.write_bytes(encrypted[:held])
    answer = partial(f"bytes {held}-{held + brought - 1}/{len(encrypted)}", encrypted[held:held + brought])
    with raw_server(answer) as url:
        transport = HttpTransport(url, timeout=10)
        spec = ArtifactSpec("dump.sql.enc", part, encrypted_size=len(encrypted), plain_size=len(plain),
                            label="database")
        try:
            with pytest.raises(TransferError, match=rf"interrupted after {brought} bytes: the server sent bytes "):
                receive_artifact(transport, spec, [identity], lambda stream: stream.read())
        finally:
            transport.close()
    assert part.read_bytes() == encrypted[:held + brought]
