"""The MySQL engine's TLS policy on the wire (docs/security.md).

The local MariaDB has no TLS, so a tiny fake server on 127.0.0.1 speaks the MySQL greeting (with or
without the SSL capability, with a self-signed certificate), records what each client connection did
(TLS handshake, plain login with a user name, failed handshake) and answers any login with "access
denied". That is enough to see, with the real PyMySQL, whether the client upgrades, falls back, or retries.
"""

from __future__ import annotations

import socket
import ssl
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from synco_core.engines.mysql import connect as mysql_connect
from synco_core.errors import DatabaseError
from synco_core.testing.services import require_tool
from synco_core.values import DatabaseConfig


def openssl() -> str:
    """The openssl command, which makes the test certificates."""
    return require_tool("openssl", "openssl")


CLIENT_SSL = 0x800
# LONG_PASSWORD | PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH: what PyMySQL needs to log in.
CAPABILITIES = 0x0001 | 0x0200 | 0x8000 | 0x80000


def _packet(seq: int, payload: bytes) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def _read_packet(conn: socket.socket | ssl.SSLSocket) -> tuple[int, bytes] | None:
    header = _read_exactly(conn, 4)
    if header is None:
        return None
    length = int.from_bytes(header[:3], "little")
    payload = _read_exactly(conn, length)
    return (header[3], payload) if payload is not None else None


def _read_exactly(conn: socket.socket | ssl.SSLSocket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _greeting(tls: bool) -> bytes:
    caps = CAPABILITIES | (CLIENT_SSL if tls else 0)
    return (b"\x0a" + b"10.11.0-fake\x00" + struct.pack("<I", 7) + b"abcdefgh\x00"
            + struct.pack("<H", caps & 0xFFFF) + bytes([45]) + struct.pack("<H", 2) + struct.pack("<H", caps >> 16)
            + bytes([21]) + bytes(10) + b"ijklmnopqrst\x00" + b"mysql_native_password\x00")


def _user(payload: bytes) -> str:
    return payload[32:payload.index(b"\x00", 32)].decode()


class FakeServer:
    """Counts connections; ``events`` gets ``tls:<user>``, ``plain:<user>``, ``tls-failed`` or ``closed``."""

    def __init__(self, tls: ssl.SSLContext | None) -> None:
        self.tls = tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.handled = 0
        self.events: list[str] = []
        self.idle = threading.Condition()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(10)
                try:
                    self._handle(conn)
                except OSError:
                    self.events.append("closed")
            with self.idle:
                self.handled += 1
                self.idle.notify_all()

    def settle(self) -> None:
        """Wait until every accepted connection has been handled (the client may give up first)."""
        with self.idle:
            assert self.idle.wait_for(lambda: self.handled == self.connections, timeout=30)

    def _handle(self, conn: socket.socket) -> None:
        conn.sendall(_packet(0, _greeting(self.tls is not None)))
        first = _read_packet(conn)
        if first is None:
            self.events.append("closed")
            return
        seq, payload = first
        if self.tls is not None and struct.unpack("<I", payload[:4])[0] & CLIENT_SSL and len(payload) == 32:
            try:
                secure = self.tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                self.events.append("tls-failed")
                return
            login = _read_packet(secure)
            if login is None:
                self.events.append("closed")
                return
            self.events.append("tls:" + _user(login[1]))
            secure.sendall(_packet(login[0] + 1, _denied()))
            return
        self.events.append("plain:" + _user(payload))
        conn.sendall(_packet(seq + 1, _denied()))

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (close() alone does not)
        self.listener.close()
        self.thread.join(timeout=10)


def _denied() -> bytes:
    return b"\xff" + struct.pack("<H", 1045) + b"#28000Access denied (fake server)"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and its key (the "CA" a verifying client would need)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl(), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=fake-db",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[FakeServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server = FakeServer(context)
    yield server
    server.close()


@pytest.fixture
def plain_server() -> Iterator[FakeServer]:
    server = FakeServer(None)
    yield server
    server.close()


@pytest.fixture
def remote(monkeypatch: pytest.MonkeyPatch) -> None:
    """Treat 127.0.0.1 as a remote host, so the default ("preferred") policy applies to the fake server."""
    monkeypatch.setattr(mysql_connect, "_loopback", lambda database: False)


def config(server: FakeServer, **options: str) -> DatabaseConfig:
    return DatabaseConfig(engine="mysql", name="app", host="127.0.0.1", port=server.port, user="alice",
                          password="s3cret", options=options)


def test_preferred_upgrades_when_the_server_offers_tls(tls_server: FakeServer, remote: None) -> None:
    with pytest.raises(DatabaseError, match="access denied"):
        mysql_connect.connect(config(tls_server))
    tls_server.settle()
    # The login (user name and password scramble) went inside TLS; the self-signed certificate is fine
    # because nothing asked for verification.
    assert tls_server.events == ["tls:alice"]
    assert tls_server.connections == 1


def test_preferred_falls_back_to_plain_only_when_the_server_has_no_tls(plain_server: FakeServer,
                                                                       remote: None) -> None:
    with pytest.raises(DatabaseError, match="access denied"):
        mysql_connect.connect(config(plain_server))
    plain_server.settle()
    # PyMySQL 1.2 stops after the greeting when a context is given, so a second (plain) connection may follow.
    assert plain_server.events[-1] == "plain:alice"
    assert all(not event.startswith("tls") for event in plain_server.events)


@pytest.mark.parametrize("options", [{"sslmode": "verify-ca"}, {"sslmode": "VERIFY_IDENTITY"},
                                     {"ssl_verify_cert": "true"}])
def test_certificate_failure_is_one_attempt_and_never_plain(tls_server: FakeServer, remote: None,
                                                             options: dict[str, str]) -> None:
    with pytest.raises(DatabaseError, match=r"TLS certificate of 127\.0\.0\.1:\d+ failed verification") as info:
        mysql_connect.connect(config(tls_server, **options))
    tls_server.settle()
    assert "\n" not in str(info.value) and "s3cret" not in str(info.value)
    assert tls_server.connections == 1
    assert tls_server.events == ["tls-failed"]


def test_verification_passes_with_the_right_ca(tls_server: FakeServer, certificate: tuple[Path, Path]) -> None:
    with pytest.raises(DatabaseError, match="access denied"):
        mysql_connect.connect(config(tls_server, sslmode="verify-ca", ssl_ca=str(certificate[0])))
    tls_server.settle()
    assert tls_server.events == ["tls:alice"]


def test_a_ca_verifies_unless_the_configuration_says_not_to(tls_server: FakeServer, tmp_path: Path) -> None:
    # The fake server's certificate is self-signed; a CA that is not it fails verification...
    other_ca = str(tmp_path / "other-ca.pem")
    subprocess.run([openssl(), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=other",
                    "-keyout", str(tmp_path / "other-key.pem"), "-out", other_ca], check=True, capture_output=True)
    with pytest.raises(DatabaseError, match="failed verification"):
        mysql_connect.connect(config(tls_server, ssl_ca=other_ca))
    # ... unless verification is turned off outright (PDO's MYSQL_ATTR_SSL_VERIFY_SERVER_CERT => false): then
    # the session is still TLS, unverified, as PHP would connect.
    with pytest.raises(DatabaseError, match="access denied"):
        mysql_connect.connect(config(tls_server, ssl_ca=other_ca, ssl_verify_cert="false"))
    tls_server.settle()
    assert tls_server.events == ["tls-failed", "tls:alice"]


@pytest.mark.parametrize("options", [{"sslmode": "require"}, {"sslmode": "verify-ca"}, {"ssl": "true"}])
def test_required_tls_refuses_a_server_without_it_before_logging_in(plain_server: FakeServer,
                                                                    options: dict[str, str]) -> None:
    with pytest.raises(DatabaseError, match="offers no TLS, but the configuration requires it"):
        mysql_connect.connect(config(plain_server, **options))
    plain_server.settle()
    assert plain_server.connections == 1
    assert not any(event.startswith("plain:") for event in plain_server.events)


@pytest.mark.mysql
def test_sslmode_require_against_the_local_server_is_one_clear_line(mysql_url: str, tmp_path: Path) -> None:
    out = tmp_path / "dump.sql"
    argv = [sys.executable, "-c", "from synco_core.cli.main import main; main()", "db", "dump",
            mysql_url + "?sslmode=require", "-o", str(out)]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"Error: the server at {mysql_url.split('@')[1].split('/')[0]} offers no TLS, but the configuration "
        "requires it (sslmode/ssl options of the database URL)"], proc.stderr
    assert not out.exists() and not list(tmp_path.iterdir())
