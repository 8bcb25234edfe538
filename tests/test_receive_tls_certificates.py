"""TLS certificates that do not verify, each with the advice that puts it right.

Every one is refused (without ``--insecure``), and the line says why; it also said "give the CA that signed
it with SSL_CERT_FILE" for an expired certificate and for one made for another name, which the CA the
certificate comes from (here trusted through SSL_CERT_FILE already) cannot put right.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from synco_core.receive import HttpTransport
from synco_core.receive.transport import UntrustedCertificateError

DAY = datetime.timedelta(days=1)


def certificate(folder: Path, names: list[x509.GeneralName], start: datetime.timedelta,
                end: datetime.timedelta) -> tuple[Path, Path]:
    """A self-signed CA certificate for ``names``, valid from now + ``start`` to now + ``end``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "synco test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now + start).not_valid_after(now + end)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def tls_server(root: Path, cert_file: Path, key_file: Path) -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


LOOPBACK: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
OTHER: list[x509.GeneralName] = [x509.DNSName("other.example")]


@pytest.mark.parametrize(("names", "start", "end", "trusted", "reason", "advice"), [
    (LOOPBACK, -DAY, DAY, False, "self-signed certificate", "give the CA that signed it with SSL_CERT_FILE"),
    (LOOPBACK, -10 * DAY, -DAY, True, "certificate has expired", "the server must renew it"),
    (LOOPBACK, DAY, 10 * DAY, True, "certificate is not yet valid", "check this machine's clock"),
    (OTHER, -DAY, DAY, True, "IP address mismatch", "it is made for another name"),
], ids=["self-signed", "expired", "not-yet-valid", "another-name"])
def test_a_certificate_that_does_not_verify_is_refused_with_what_puts_it_right(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, names: list[x509.GeneralName], start: datetime.timedelta,
        end: datetime.timedelta, trusted: bool, reason: str, advice: str) -> None:
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "file.bin").write_bytes(b"body")
    cert_file, key_file = certificate(tmp_path, names, start, end)
    if trusted:
        # The issuer is known: only the certificate's dates or names are wrong.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    with tls_server(tmp_path / "web", cert_file, key_file) as url:
        transport = HttpTransport(url)
        try:
            with pytest.raises(UntrustedCertificateError) as raised, transport.open("file.bin"):
                pass
        finally:
            transport.close()
        insecure = HttpTransport(url, verify=False)
        try:
            with insecure.open("file.bin") as response:
                assert b"".join(response.iter_bytes()) == b"body"
        finally:
            insecure.close()
    line = str(raised.value)
    assert line.startswith(f"the TLS certificate of {url} is not trusted ({reason}"), line
    assert advice in line, line
    assert ("SSL_CERT_FILE" in line) is (not trusted), line
