"""The interactive parts of ``synco receive``, driven through a pseudo-terminal against a real HTTP server.

The real ``synco`` process runs on a pty (so stdin and stderr are terminals, as for a person), and the test
presses keys: the checkbox chooser (arrows, j/k, space, 'a', Enter, q), its numbered fallback where keys
cannot be read (``TERM=dumb``), the host prompt and "remember it" offer, the install confirmation, and the
prompt for a self-signed TLS certificate.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import re
import ssl
import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from test_receive_support import LOCAL_MARKER, PtyProcess, synco_argv
from test_transfer_support import FixturePlugin, fixture_app_fixture, make_app, publish, static_server  # noqa: F401

from synco_core.cli import chooser
from synco_core.cli.main import cli
from synco_core.serve import SessionKey
from synco_core.sizes import human_size

SESSION = "synco-choosertest0123456789"


def build(app: Path, **options: Any) -> SessionKey:
    key: SessionKey = publish(app, SESSION, **options)
    return key


def received(target: Path) -> set[str]:
    return {p.name for p in target.iterdir() if not p.name.startswith(".")} if target.exists() else set()


# ---------------------------------------------------------------------------------------------- keys


@pytest.mark.parametrize(("pressed", "action"), [
    (b"\x1b[A", chooser.UP), (b"\x1b[B", chooser.DOWN), (b"\x1bOA", chooser.UP), (b"\x1b[1;2B", chooser.DOWN),
    (b"k", chooser.UP), (b"j", chooser.DOWN), (b" ", chooser.TOGGLE), (b"a", chooser.ALL), (b"\r", chooser.ACCEPT),
    (b"\n", chooser.ACCEPT), (b"q", chooser.CANCEL), (b"\x03", chooser.CANCEL), (b"\x1b", chooser.CANCEL),
    (b"z", chooser.OTHER), (b"\x1b[C", chooser.OTHER),
])
def test_read_key(pressed: bytes, action: str) -> None:
    read, write = os.pipe()
    try:
        os.write(write, pressed)
        assert chooser.read_key(read) == action
    finally:
        os.close(read)
        os.close(write)


def test_keys_not_readable_without_a_terminal_or_on_a_dumb_one(monkeypatch: pytest.MonkeyPatch) -> None:
    read, write = os.pipe()
    try:
        monkeypatch.setenv("TERM", "xterm")
        assert not chooser.keys_readable(read)
        assert chooser.checkbox("title", ["a", "b"], fd=read) is None
    finally:
        os.close(read)
        os.close(write)
    master, slave = os.openpty()
    try:
        assert chooser.keys_readable(slave)
        monkeypatch.setenv("TERM", "dumb")
        assert not chooser.keys_readable(slave)
    finally:
        os.close(master)
        os.close(slave)


# ------------------------------------------------------------------------------------------ chooser


@pytest.fixture
def published(fixture_app: Path) -> Iterator[tuple[str, str]]:
    """The fixture app's session (dbDump, uploads, private) on a static server: (URL, key)."""
    key = build(fixture_app)
    with static_server(fixture_app / "web") as (url, _):
        yield url, key.secret


@pytest.mark.parametrize(("keys", "expected"), [
    # Down to "uploads", untick it, accept.
    (["j", " ", "\r"], {"dbDump.sqlite", "private"}),
    # Untick all, arrow down twice to "private", tick it, accept.
    (["a", "\x1b[B", "\x1b[B", " ", "\r"], {"private"}),
    # Up wraps around to the last one; untick it.
    (["\x1b[A", " ", "\r"], {"dbDump.sqlite", "uploads"}),
    # Nothing ticked: nothing downloaded, and said so.
    (["a", "\n"], set()),
])
def test_checkbox_chooser_in_a_terminal(published: tuple[str, str], fixture_app: Path, tmp_path: Path,
                                        keys: list[str], expected: set[str]) -> None:
    url, key = published
    target = tmp_path / "dump"
    process = PtyProcess(synco_argv("receive", SESSION, key, "--base-url", url, "--target", str(target)), tmp_path)
    process.expect("Enter accepts")
    for pressed in keys:
        process.send(pressed)
    code = process.wait()
    assert code == 0, process.output
    assert received(target) == expected
    assert "[x] dbDump" in process.output and "PublicFiles" in process.output
    # Each set with the size it takes to download: the dump's artifact as published (compressed and
    # encrypted), not the 300,000 bytes of the database file it holds.
    [artifact] = (fixture_app / "web" / SESSION).glob("dump.*.enc")
    download = human_size(artifact.stat().st_size)
    assert re.search(r"\[.\] dbDump +SqliteDump +" + re.escape(download), process.output), process.output
    assert ("no file set was chosen" in process.output) == (not expected)


def test_chooser_cancel_receives_nothing(published: tuple[str, str], tmp_path: Path) -> None:
    url, key = published
    target = tmp_path / "dump"
    process = PtyProcess(synco_argv("receive", SESSION, key, "--base-url", url, "--target", str(target)), tmp_path)
    process.expect("Enter accepts")
    process.send("q")
    assert process.wait() == 1
    assert "Aborted" in process.output
    assert received(target) == set()


def test_numbered_prompt_where_keys_cannot_be_read(published: tuple[str, str], tmp_path: Path) -> None:
    url, key = published
    target = tmp_path / "dump"
    process = PtyProcess(synco_argv("receive", SESSION, key, "--base-url", url, "--target", str(target)), tmp_path,
                         term="dumb")
    process.expect("Which sets?")
    assert "Enter accepts" not in process.output
    process.send("2\r")
    assert process.wait() == 0, process.output
    assert received(target) == {"uploads"}


# ------------------------------------------------------------------- host prompt, install confirmation


def test_asked_host_is_remembered_and_install_is_confirmed_in_a_terminal(tmp_path: Path,
                                                                          register_plugin: Callable[[object, str],
                                                                                                    None]) -> None:
    register_plugin(FixturePlugin(engine="sqlite"), "fixture")
    app = make_app(tmp_path / "app")
    key = build(app)
    local = tmp_path / "local"
    local.mkdir()
    (local / LOCAL_MARKER).write_text("sqlite:///local.sqlite")
    (local / "local.sqlite").write_bytes(b"")
    with static_server(app / "web") as (url, _):
        # Declined: the files arrive, the local project stays as it was.
        process = PtyProcess(synco_argv("receive", SESSION, key.secret, "--base-url", url, "--all", "--install"),
                             local)
        process.expect("Replace this local content?")
        assert "replace database" in process.output and "web/uploads" in process.output
        process.send("n\r")
        assert process.wait() == 1
        assert "not confirmed" in process.output
        assert (local / "local.sqlite").read_bytes() == b""
        assert not (local / "web").exists()

        # No --base-url and no hosts in .synco.yml: asked for, then offered to be remembered.
        process = PtyProcess(synco_argv("receive", SESSION, key.secret, "--all", "--install"), local)
        process.expect("Host or URL of the server")
        process.send(url + "\r")
        process.expect("in .synco.yml?")
        process.send("y\r")
        process.expect("Replace this local content?")
        process.send("y\r")
        assert process.wait() == 0, process.output
    assert yaml.safe_load((local / ".synco.yml").read_text())["hosts"] == [url]
    assert (local / "web" / "uploads" / "ünïcode & space.txt").read_text() == "hello\n"
    assert (local / "local.sqlite").stat().st_size > 0


# --------------------------------------------------------------------------------------- TLS prompt


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .sign(private_key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    return cert_file, key_file


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def https_server(root: Path, certs: Path) -> Iterator[str]:
    """A static HTTPS server for ``root`` with a self-signed certificate, on 127.0.0.1."""
    cert_file, key_file = _self_signed(certs)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_self_signed_certificate_needs_insecure_or_a_yes_in_a_terminal(fixture_app: Path, tmp_path: Path) -> None:
    key = build(fixture_app, only=("dbDump",))
    certs = tmp_path / "certs"
    certs.mkdir()
    with https_server(fixture_app / "web", certs) as url:
        refused = CliRunner().invoke(cli, ["receive", SESSION, key.secret, "--base-url", url, "--all",
                                           "--target", str(tmp_path / "refused")])
        assert refused.exit_code == 1
        assert "is not trusted (self-signed certificate)" in refused.output
        assert received(tmp_path / "refused") == set()
        allowed = CliRunner().invoke(cli, ["receive", SESSION, key.secret, "--base-url", url, "--all", "--insecure",
                                           "--target", str(tmp_path / "insecure")])
        assert allowed.exit_code == 0, allowed.output
        assert received(tmp_path / "insecure") == {"dbDump.sqlite"}
        target = tmp_path / "asked"
        process = PtyProcess(synco_argv("receive", SESSION, key.secret, "--base-url", url, "--all",
                                        "--target", str(target)), tmp_path)
        process.expect("Connect anyway?")
        process.send("y\r")
        assert process.wait() == 0, process.output
    assert received(target) == {"dbDump.sqlite"}


def test_missing_public_files_are_a_question_in_a_terminal(tmp_path: Path,
                                                          register_plugin: Callable[[object, str], None]) -> None:
    """A public file the server no longer has: in a terminal, receive --install asks whether to install
    without it (no means nothing changes); through a pipe it needs --allow-missing."""
    register_plugin(FixturePlugin(engine="sqlite"), "fixture")
    app = make_app(tmp_path / "app")
    # Without packs: a packed copy of the file would still arrive (packs are what serve saw).
    key = build(app, packs=False)
    (app / "web" / "uploads" / "dir0" / "file 0.bin").unlink()
    local = tmp_path / "local"
    local.mkdir()
    (local / LOCAL_MARKER).write_text("sqlite:///local.sqlite")
    (local / "local.sqlite").write_bytes(b"")
    argv = ["receive", SESSION, key.secret, "--all", "--install", "--target", str(tmp_path / "dump")]
    with static_server(app / "web") as (url, _):
        process = PtyProcess(synco_argv(*argv, "--base-url", url), local)
        process.expect("Install anyway, without 1 public file(s) the server would not give?")
        assert "1 public file(s) could not be fetched" in process.output and "dir0/file 0.bin" in process.output
        process.send("n\r")
        assert process.wait() == 1
        assert "pass --allow-missing" in process.output
        assert (local / "local.sqlite").read_bytes() == b"" and not (local / "web").exists()

        process = PtyProcess(synco_argv(*argv, "--base-url", url), local)
        process.expect("Install anyway, without 1 public file(s) the server would not give?")
        process.send("y\r")
        process.expect("Replace this local content?")
        process.send("y\r")
        assert process.wait() == 0, process.output
    assert (local / "local.sqlite").stat().st_size > 0
    assert (local / "web" / "uploads" / "dir1" / "file 1.bin").exists()
    assert not (local / "web" / "uploads" / "dir0" / "file 0.bin").exists()
