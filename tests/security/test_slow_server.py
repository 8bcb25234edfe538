"""A server that trickles (slowloris) cannot keep receive busy: every response must bring at least
``MIN_BYTES`` in every ``WINDOW`` seconds (:mod:`synco_core.receive.pace`), in its headers as in its body.

The window is shortened to one second here; a server sending a byte every 0.2 s kept receive reading for
as long as it liked before (each read stayed under the 30 s socket timeout).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from crafted_session import CraftedServer, CraftedSession, Reply, run_receive

from synco_core.errors import TransferError
from synco_core.receive.http_transport import HttpTransport


@pytest.fixture(autouse=True)
def short_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("synco_core.receive.pace.WINDOW", 1.0)


def _trickle(data: bytes, pause: float, pieces: int) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        step = max(1, len(data) // pieces)
        for start in range(0, len(data), step):
            time.sleep(pause)
            yield data[start:start + step]

    return chunks


def test_a_trickled_artifact_is_given_up_on(crafted: CraftedSession, crafted_server: Callable[..., CraftedServer],
                                           tmp_path: Path) -> None:
    dump = crafted.dump_set(b"SELECT 1;\n" * 2000)
    crafted.ready(dump)
    server = crafted_server(crafted.web_root)
    path = f"/{crafted.session_id}/dump.sql.zst.enc"
    data = (crafted.folder / "dump.sql.zst.enc").read_bytes()
    server.reply(path, Reply(body=_trickle(data, 0.2, len(data)), length=len(data)))
    started = time.monotonic()
    result = run_receive(crafted, server.url, tmp_path / "t")
    assert time.monotonic() - started < 20
    assert result.exit_code == 1
    assert "the server sent less than 1024 bytes in 1 s" in result.output, result.output
    assert not (tmp_path / "t" / "dbDump.sql").exists()


def test_a_slow_but_steady_server_is_not_cut_off(crafted: CraftedSession,
                                                 crafted_server: Callable[..., CraftedServer],
                                                 tmp_path: Path) -> None:
    """2 KiB every 0.4 s (5 KB/s) is slow, not hostile."""
    plain = bytes(range(256)) * 80
    crafted.ready(crafted.dump_set(plain, compress=False))
    server = crafted_server(crafted.web_root)
    path = f"/{crafted.session_id}/dump.sql.zst.enc"
    data = (crafted.folder / "dump.sql.zst.enc").read_bytes()
    server.reply(path, Reply(body=_trickle(data, 0.4, len(data) // 2048 + 1), length=len(data)))
    result = run_receive(crafted, server.url, tmp_path / "t")
    assert result.exit_code == 0, result.output


@contextlib.contextmanager
def _header_trickler() -> Iterator[str]:
    """A server that answers every request with a status line, then one header byte every 0.2 s."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not stop.is_set():
                time.sleep(0.2)
                try:
                    conn.sendall(b"a")
                except OSError:
                    return

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                conn, _ = listener.accept()
                threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_trickled_headers_are_given_up_on() -> None:
    with _header_trickler() as url:
        transport = HttpTransport(url)
        started = time.monotonic()
        with pytest.raises(TransferError, match="less than 1024 bytes in 1 s"), transport.open("meta.json.enc"):
            pass
        transport.close()
    assert time.monotonic() - started < 10
