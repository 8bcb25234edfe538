"""receive through a corporate proxy: HTTP_PROXY / HTTPS_PROXY / NO_PROXY (and lower case), via a real tinyproxy.

A tinyproxy on a free port of 127.0.0.1 is the proxy; between receive and it sits a relay that records
every byte receive sends, which is what the proxy (or anyone on its path) sees. For https the proxy must
see one ``CONNECT host:port`` and then only TLS: no path, no header, no login. For http the requests go
to the proxy with absolute URLs (that is what a plain HTTP proxy is). ``NO_PROXY`` sends a host around it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_receive_chooser import https_server
from test_transfer_support import fixture_app_fixture, publish, static_server, tree_digest  # noqa: F401

from synco_core.cli.main import cli
from synco_core.errors import TransferError
from synco_core.receive.http_transport import HttpTransport
from synco_core.receive.proxy import bypassed
from synco_core.testing.services import listens, refused_port, unavailable

SESSION = "synco-proxytest0123456789"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "ALL_PROXY",
                   "all_proxy")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def tinyproxy(work: Path, login: str | None = None, extra: str = "") -> Iterator[tuple[int, Path]]:
    """A tinyproxy on 127.0.0.1, asking for ``login`` (``user password``) when given, with ``extra`` lines of
    configuration (``ConnectPort 443``); (its port, its log file). Stopped when the block ends."""
    binary = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
    if not os.access(binary, os.X_OK):
        unavailable("tinyproxy is not installed (Debian package tinyproxy)")
    work.mkdir(parents=True, exist_ok=True)
    log = work / "tinyproxy.log"
    for _attempt in range(5):
        port = _free_port()
        config = work / "tinyproxy.conf"
        # No ConnectPort line: CONNECT to any port (the test servers' ports are random).
        user = "User root\nGroup root\n" if os.geteuid() == 0 else ""
        config.write_text(f"{user}Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{log}\"\nLogLevel Info\n"
                          "MaxClients 50\nAllow 127.0.0.1\nDisableViaHeader Yes\n"
                          + (f"BasicAuth {login}\n" if login else "") + extra)
        process = subprocess.Popen([binary, "-d", "-c", str(config)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30  # only catches a hang: a loaded machine may start it slowly
        up = False
        while time.monotonic() < deadline and process.poll() is None:
            # Its own listener, not another server's that took the port first.
            if listens(process.pid, port):
                up = True
                break
            time.sleep(0.05)
        if up:
            break
        process.kill()
        process.wait()
    else:
        raise RuntimeError("tinyproxy did not start")
    try:
        yield port, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


class Relay:
    """A TCP relay in front of the proxy that keeps every byte the client sends (what the proxy sees)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.sent = bytearray()
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, record: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if record:
                    with self._lock:
                        self.sent += data
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("REQUEST_METHOD", raising=False)
    return monkeypatch


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
def test_receive_over_http_goes_through_the_proxy(fixture_app: Path, tmp_path: Path,
                                                  clean_environment: pytest.MonkeyPatch, variable: str) -> None:
    key = publish(fixture_app, SESSION, only=("uploads",))
    with tinyproxy(tmp_path / "proxy") as (port, log), \
            static_server(fixture_app / "web", None) as (url, _behaviour):
        relay = Relay(port)
        clean_environment.setenv(variable, f"http://127.0.0.1:{relay.port}")
        result = CliRunner().invoke(cli, ["receive", SESSION, key.secret, "--base-url", url, "--target",
                                          str(tmp_path / "t"), "--all"])
        relay.close()
    assert result.exit_code == 0, result.output
    expected = tree_digest(fixture_app / "web" / "uploads")
    del expected["skip.tmp"]
    assert tree_digest(tmp_path / "t" / "uploads") == expected
    sent = bytes(relay.sent)
    # Everything went to the proxy, asked for by absolute URL: meta, index, packs (ranged), files.
    # The meta with a query of its own, past any cache (HttpTransport.open_fresh).
    assert re.search(rf"GET {re.escape(url)}{SESSION}/meta\.json\.enc\?synco-poll=[0-9a-f]{{16}} HTTP/1\.1".encode(),
                     sent)
    assert b"Range: bytes=" in sent and f"GET {url}uploads/".encode() in sent
    assert "GET" in log.read_text()


def test_https_through_the_proxy_is_a_tunnel_it_cannot_read(tmp_path: Path,
                                                            clean_environment: pytest.MonkeyPatch) -> None:
    root = tmp_path / "web"
    (root / "files").mkdir(parents=True)
    (root / "files" / "secret-name.bin").write_bytes(b"x" * 100_000)
    (tmp_path / "certs").mkdir()
    with tinyproxy(tmp_path / "proxy") as (port, log), https_server(root, tmp_path / "certs") as url:
        relay = Relay(port)
        clean_environment.setenv("https_proxy", f"http://127.0.0.1:{relay.port}")
        # The proxy variable for http must not be taken for https.
        clean_environment.setenv("HTTP_PROXY", "http://127.0.0.1:9")
        transport = HttpTransport(url, verify=False, auth=("user", "pass-word-123"))
        with transport.open("files/secret-name.bin", offset=10, length=1000) as response:
            body = b"".join(response.iter_bytes())
        transport.close()
        relay.close()
    # (This server ignores Range and sends the whole file; the Range header still went, inside the tunnel.)
    assert body[:1000] == b"x" * 1000
    sent = bytes(relay.sent)
    host_port = url.removeprefix("https://").rstrip("/")
    assert sent.startswith(f"CONNECT {host_port} HTTP/1.".encode())
    head, _, tunnel = sent.partition(b"\r\n\r\n")
    for plaintext in (b"secret-name", b"Authorization", b"cGFzcy13b3JkLTEyMw", b"pass-word-123", b"Range"):
        assert plaintext not in tunnel and plaintext not in head
    assert "CONNECT" in log.read_text()


def test_no_proxy_sends_a_host_around_the_proxy(fixture_app: Path, tmp_path: Path,
                                                clean_environment: pytest.MonkeyPatch) -> None:
    key = publish(fixture_app, SESSION, only=("uploads",))
    with tinyproxy(tmp_path / "proxy") as (port, _log), \
            static_server(fixture_app / "web", None) as (url, _behaviour):
        relay = Relay(port)
        clean_environment.setenv("HTTP_PROXY", f"http://127.0.0.1:{relay.port}")
        clean_environment.setenv("no_proxy", "example.com,127.0.0.0/8")
        result = CliRunner().invoke(cli, ["receive", SESSION, key.secret, "--base-url", url, "--target",
                                          str(tmp_path / "t"), "--all"])
        relay.close()
    assert result.exit_code == 0, result.output
    assert relay.sent == b"", "nothing went through the proxy"


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("where", ["free-port", "unknown-name"])
def test_a_proxy_that_is_not_there_is_a_one_line_error(fixture_app: Path, tmp_path: Path,
                                                       clean_environment: pytest.MonkeyPatch, scheme: str,
                                                       where: str) -> None:
    """A proxy variable naming nothing that answers was "cannot reach the server: no server answered (... through
    proxy ...); check the address, and that serve (or the web server) is running": the server was never asked."""
    key = publish(fixture_app, SESSION, only=("uploads",))
    with refused_port() as free, static_server(fixture_app / "web", None) as (url, _behaviour):
        proxy = f"127.0.0.1:{free}" if where == "free-port" else "proxy.invalid:3128"
        if scheme == "https":
            url = url.replace("http://", "https://")
        variable = f"{scheme.upper()}_PROXY"
        clean_environment.setenv(variable, f"http://user:proxy-pw-456@{proxy}")
        result = CliRunner().invoke(cli, ["receive", SESSION, key.secret, "--base-url", url, "--target",
                                          str(tmp_path / "t"), "--all"])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert errors[0].startswith(f"Error: cannot reach {url}{SESSION}/meta.json.enc: proxy {proxy}, which {variable} "
                                f"(or {scheme}_proxy) names, does not answer ("), errors[0]
    assert errors[0].endswith("): check the variable, or unset it if this machine reaches the site directly")
    assert "proxy-pw-456" not in result.output and "Traceback" not in result.output
    assert not (tmp_path / "t").exists() or not any((tmp_path / "t").iterdir())


@pytest.mark.parametrize(("host", "port", "no_proxy", "expected"), [
    ("example.com", 80, "*", True),
    ("example.com", 80, "example.com", True),
    ("cdn.example.com", 443, ".example.com", True),
    ("cdn.example.com", 443, "example.com", True),
    ("badexample.com", 443, "example.com", False),
    ("example.com", 443, "example.com:80", False),
    ("example.com", 80, "example.com:80", True),
    ("10.1.2.3", 80, "10.0.0.0/8", True),
    ("11.1.2.3", 80, "10.0.0.0/8", False),
    ("::1", 80, "::1/128", True),
    ("Example.COM", 80, " other.org , EXAMPLE.com ", True),
    ("example.com", 80, "", False),
    ("cdn.example.com", 443, "*.example.com", True),
    ("example.com", 443, "*.example.com", True),
    ("badexample.com", 443, "*.example.com", False),
    ("cdn.example.com", 443, "*.example.com:443", True),
    ("::1", 8080, "[::1]:8080", True),
    ("::1", 80, "[::1]:8080", False),
    ("::1", 80, "[::1]", True),
    ("fd00::5", 443, "[fd00::/8]:443", True),
    ("fd00::5", 80, "[fd00::/8]:443", False),
    # An address written another way is the same address (curl compares them so).
    ("0:0:0:0:0:0:0:1", 80, "::1", True),
    ("::1", 8080, "[0::1]:8080", True),
    ("::ffff:10.1.2.3", 80, "10.1.2.3", True),
    ("::ffff:10.1.2.3", 80, "10.0.0.0/8", True),
    ("10.1.2.3", 80, "::ffff:10.1.2.4", False),
    ("2001:db8::1", 80, "2001:DB8:0::1", True),
])
def test_no_proxy_rules(host: str, port: int, no_proxy: str, expected: bool) -> None:
    assert bypassed(host, port, no_proxy) is expected


@pytest.mark.parametrize("credentials", ["", "user:wrong-pw-789@"], ids=["no-login", "wrong-login"])
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_proxy_asking_for_a_login_is_one_line_naming_it(fixture_app: Path, tmp_path: Path, scheme: str,
                                                          credentials: str,
                                                          clean_environment: pytest.MonkeyPatch) -> None:
    """A plain HTTP proxy's 407 was "unexpected HTTP 407 for http://site/...", naming no proxy; a CONNECT's
    was "Tunnel connection failed: 407 ...". Either way the line now says which proxy wants what."""
    key = publish(fixture_app, SESSION, only=("uploads",))
    (tmp_path / "certs").mkdir()
    server = https_server(fixture_app / "web", tmp_path / "certs") if scheme == "https" else \
        static_server(fixture_app / "web", None)
    with tinyproxy(tmp_path / "proxy", login="user right-pw-456") as (port, _log), server as served:
        url = served if scheme == "https" else served[0]
        variable = f"{scheme.upper()}_PROXY"
        clean_environment.setenv(variable, f"http://{credentials}127.0.0.1:{port}")
        result = CliRunner().invoke(cli, ["receive", SESSION, key.secret, "--base-url", url, "--target",
                                          str(tmp_path / "t"), "--all", "--insecure"])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    said = "refused the user name and password of" if credentials else "asks for a login (HTTP 407): give it in"
    assert f"proxy 127.0.0.1:{port} {said} {variable} (or {scheme}_proxy)" in errors[0], result.output
    # The proxy's refusal is the whole story: not a session "not found", nor "no server answered".
    assert errors[0].startswith(f"Error: cannot reach {url}{SESSION}/meta.json.enc: "), errors[0]
    assert "wrong-pw-789" not in result.output and "Traceback" not in result.output


def test_an_error_page_through_a_plain_proxy_names_the_proxy(clean_environment: pytest.MonkeyPatch) -> None:
    """A 502 or 504 through a plain HTTP proxy is often the proxy's own (the site is down, or out of its
    reach): the line named only the site."""
    from test_receive_hostile_server import raw_server

    page = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"
    with raw_server(lambda conn: conn.sendall(page)) as proxy_url:
        clean_environment.setenv("http_proxy", proxy_url)
        transport = HttpTransport("http://example.invalid/")
        try:
            with pytest.raises(TransferError) as raised, transport.open("file.bin"):
                pass
        finally:
            transport.close()
    port = proxy_url.rstrip("/").rsplit(":", 1)[1]
    said = f"unexpected HTTP 502 for http://example.invalid/file.bin through proxy 127.0.0.1:{port}"
    assert str(raised.value) == said


def test_all_proxy_is_the_proxy_of_every_scheme_without_its_own() -> None:
    """curl takes ALL_PROXY for any scheme without a variable of its own; urllib leaves it out, and receive
    went around the proxy the user had set."""
    from synco_core.receive.proxy import proxy_for

    proxies = {"all": "http://all.example:3128", "https": "http://tls.example:3128", "no": "direct.example"}
    assert proxy_for(("http", "site.example", 80), proxies) == proxy_for(("http", "x", 80), {"all": proxies["all"]})
    assert proxy_for(("http", "site.example", 80), proxies).host == "all.example"  # type: ignore[union-attr]
    assert proxy_for(("https", "site.example", 443), proxies).host == "tls.example"  # type: ignore[union-attr]
    assert proxy_for(("http", "direct.example", 80), proxies) is None
    with pytest.raises(TransferError, match=r"unsupported proxy 'socks5://all\.example:1080' in ALL_PROXY"):
        proxy_for(("http", "site.example", 80), {"all": "socks5://all.example:1080"})


# ------------------------------------------------------------------------ what the proxy did, named


def proxy_receive(url: str, tmp_path: Path, *extra: str) -> Any:
    from synco_core.serve import SessionKey

    return CliRunner().invoke(cli, ["receive", SESSION, SessionKey.generate(None).secret, "--base-url", url,
                                    "--target", str(tmp_path / "t"), "--all", *extra])


def only_error(result: Any) -> str:
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output and "proxy-pw-31" not in result.output
    return errors[0]


def test_a_tunnel_the_proxys_rules_refuse_names_the_proxy_and_the_port(tmp_path: Path,
                                                                       clean_environment: pytest.MonkeyPatch) -> None:
    """Company proxies open CONNECT tunnels to port 443 only (tinyproxy's ConnectPort). The refusal (403) was
    "no server answered (... Tunnel connection failed: 403 Access violation); check the address, and that serve
    (or the web server) is running": the server never saw the request."""
    (tmp_path / "certs").mkdir()
    with tinyproxy(tmp_path / "proxy", extra="ConnectPort 443\n") as (port, _log), \
            https_server(tmp_path, tmp_path / "certs") as url:
        clean_environment.setenv("HTTPS_PROXY", f"http://user:proxy-pw-31@127.0.0.1:{port}")
        line = only_error(proxy_receive(url, tmp_path))
    site = url.removeprefix("https://").rstrip("/")
    assert line == (f"Error: cannot reach {url}{SESSION}/meta.json.enc: proxy 127.0.0.1:{port} refuses a tunnel to "
                    f"{site} (HTTP 403 Access violation): its rules do not let this machine reach that host or port "
                    "(many proxies open tunnels to port 443 only); have it allowed, or name the host in NO_PROXY if "
                    "this machine reaches it directly")
    assert not (tmp_path / "t").exists()


def test_a_server_the_proxy_cannot_reach_is_named_the_proxys_finding(tmp_path: Path,
                                                                     clean_environment: pytest.MonkeyPatch) -> None:
    with refused_port() as refusing, tinyproxy(tmp_path / "proxy") as (port, _log):
        closed = f"127.0.0.1:{refusing}"
        clean_environment.setenv("https_proxy", f"http://127.0.0.1:{port}")
        line = only_error(proxy_receive(f"https://{closed}/", tmp_path))
    assert line.startswith(f"Error: cannot reach https://{closed}/{SESSION}/meta.json.enc: proxy 127.0.0.1:{port} "
                           f"could not open a tunnel to {closed} (HTTP 500 "), line
    assert line.endswith("the proxy cannot reach the server; check the address, and that serve (or the web server) "
                         "is running"), line


@pytest.mark.parametrize("answer", [b"HTTP/1.1 200 Connection established\r\n\r\n", b""],
                         ids=["closed-after-connect", "closed-before-answering"])
def test_a_proxy_closing_the_tunnel_is_named(tmp_path: Path, clean_environment: pytest.MonkeyPatch,
                                             answer: bytes) -> None:
    """A proxy that says the tunnel is open and then closes it (or closes at once) was "no server answered
    ([SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol ...)"."""
    from test_receive_hostile_server import raw_server

    def close(conn: socket.socket) -> None:
        conn.sendall(answer)
        conn.shutdown(socket.SHUT_RDWR)

    with raw_server(close) as proxy_url:
        clean_environment.setenv("HTTPS_PROXY", proxy_url.replace("http://", "http://user:proxy-pw-31@"))
        line = only_error(proxy_receive("https://site.example:8443/", tmp_path))
    port = proxy_url.rstrip("/").rsplit(":", 1)[1]
    assert line == (f"Error: cannot reach https://site.example:8443/{SESSION}/meta.json.enc: proxy 127.0.0.1:{port} "
                    "closed the tunnel to site.example:8443 before TLS with the server began: the proxy may let no "
                    "tunnel through to that host or port, or the server there does not answer; have it allowed, or "
                    "name the host in NO_PROXY if this machine reaches it directly")


def test_a_certificate_not_trusted_through_a_proxy_names_tls_inspection(tmp_path: Path,
                                                                        clean_environment: pytest.MonkeyPatch) -> None:
    """A company proxy that inspects TLS answers with a certificate of its own: the line names the proxy, and
    SSL_CERT_FILE for its CA."""
    (tmp_path / "certs").mkdir()
    with tinyproxy(tmp_path / "proxy") as (port, _log), https_server(tmp_path, tmp_path / "certs") as url:
        clean_environment.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
        line = only_error(proxy_receive(url, tmp_path))
    assert line == (f"Error: the TLS certificate of {url} is not trusted (self-signed certificate): give the CA that "
                    "signed it with SSL_CERT_FILE=/path/to/ca.pem, or use --insecure for a test server (this machine "
                    f"reaches it through proxy 127.0.0.1:{port}: a proxy that inspects TLS shows a certificate of its "
                    "own, and SSL_CERT_FILE must then name its CA)")


def test_a_page_the_plain_proxy_refuses_names_the_proxy(tmp_path: Path, clean_environment: pytest.MonkeyPatch) -> None:
    """A plain HTTP proxy's filter (a blocked site) answers 403 itself: the line said "refused by the server"."""
    (tmp_path / "filter").write_text("127\\.0\\.0\\.1\n")
    rules = f'Filter "{tmp_path / "filter"}"\nFilterDefaultDeny No\n'
    with tinyproxy(tmp_path / "proxy", extra=rules) as (port, _log), \
            static_server(tmp_path, None) as (url, behaviour):
        clean_environment.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        line = only_error(proxy_receive(url, tmp_path))
    assert f"refused by the server, or by proxy 127.0.0.1:{port} on the way: {url}{SESSION}/meta.json.enc (HTTP 403)" \
        in line, line
    assert not behaviour.requests, "the proxy refused it itself"


def test_a_block_page_answered_with_200_is_named_by_its_title(tmp_path: Path,
                                                              clean_environment: pytest.MonkeyPatch) -> None:
    """A company proxy's block page, a captive portal or a login page answered with 200 instead of the meta: the
    line names the page by its title, so the user sees who answered."""
    from test_receive_hostile_server import raw_server

    page = ("<!DOCTYPE html>\n<html><head><meta charset=utf-8>\n<TITLE>\n  Access denied \u2013 Corporate\n web "
            "filter</TITLE></head><body>" + "x" * 3000 + "</body></html>").encode()

    def block(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(page) + page)

    with raw_server(block) as proxy_url:
        clean_environment.setenv("http_proxy", proxy_url)
        line = only_error(proxy_receive("http://site.example/", tmp_path))
    assert line.endswith(f"{SESSION}/meta.json.enc is not an encrypted synco file (got an HTML page titled "
                         "'Access denied \u2013 Corporate web filter'))"), line


@pytest.mark.parametrize(("body", "said"), [
    (b"<html><head><title>Sign in to Wi-Fi</title>", "an HTML page titled 'Sign in to Wi-Fi'"),
    (b"<html><title></title>", "an HTML page"),
    (b"<html><body>no title</body>", "an HTML page"),
    (b"<html><title>\x1b[31mred\x07</title>", "an HTML page titled '?[31mred?'"),
    (b"<html><title>" + b"long " * 40 + b"</title>", "an HTML page titled '" + ("long " * 16)[:77] + "...'"),
    (b"<html>" + b" " * 5000 + b"<title>too far</title>", "an HTML page"),
    (b"\x00\x01binary", "something else"),
])
def test_a_page_is_described_by_its_title(body: bytes, said: str) -> None:
    from synco_core.receive.fallback import TITLE_BYTES, describe

    assert describe(body[:TITLE_BYTES]) == said


def test_a_304_nobody_asked_for_is_one_line_naming_the_cache(tmp_path: Path,
                                                             clean_environment: pytest.MonkeyPatch) -> None:
    """synco sends no conditional request: a 304 is a cache answering for a copy this machine never had. It was
    "unexpected HTTP 304 for ...", which said nothing of who or what to change."""
    from test_receive_hostile_server import raw_server

    with raw_server(lambda conn: conn.sendall(b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n")) as url:
        line = only_error(proxy_receive(url, tmp_path))
    assert line.endswith(f"{url}{SESSION}/meta.json.enc was answered with 304 Not Modified although synco asks "
                         "without a condition (no If-None-Match, no If-Modified-Since): a cache or proxy in front of "
                         "the site answers for a copy this machine does not have; have it send the file, or bypass it "
                         "for /synco-* and the uploads)"), line
