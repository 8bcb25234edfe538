"""Addresses ``urlsplit`` cannot read (an unclosed ``[``, a port that is no number or out of range), from the
user (``--base-url``, ``HTTPS_PROXY``) or from a server (a redirect's ``Location``, an index's ``publicUri``,
the meta's ``urlOrigins``), and addresses of tens of kilobytes.

Each ended the whole receive in ``Error: ValueError: Invalid IPv6 URL`` (or ``Port could not be cast ...``),
naming neither the address nor where it came from; a ``data:`` redirect was quoted whole, 60 KB on one line.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_receive_hostile_server import raw_server

from synco_core.age.recipients import X25519Identity
from synco_core.cli.main import cli
from synco_core.errors import TransferError
from synco_core.origins import URL_SHOWN, RefusedRequestError
from synco_core.receive import HttpTransport

sys.path.insert(0, str(Path(__file__).resolve().parent / "security"))
from crafted_session import CraftedServer, CraftedSession, run_receive

PASSWORD = "pr0xy-s3cret-pw"

#: Addresses urlsplit or its port refuse, each with a password to keep out of the message.
MALFORMED = [f"http://user:{PASSWORD}@[::1", f"http://user:{PASSWORD}@host:abc", f"http://user:{PASSWORD}@host:99999",
             f"http://user:{PASSWORD}@[::1]:x/"]
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy",
                   "all_proxy")


def redirect_to(location: str) -> Callable[[socket.socket], None]:
    def answer(conn: socket.socket) -> None:
        conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode("latin-1"))
    return answer


@pytest.mark.parametrize("location", ["http://[::1/x", "http://127.0.0.1:abc/x", "http://127.0.0.1:99999/x",
                                      "file:///etc/passwd", "ftp://127.0.0.1/x", "data:text/plain," + "A" * 60_000,
                                      "http://127.0.0.1/" + "a" * 60_000])
def test_a_redirect_nowhere_to_follow_is_one_refusal_of_bounded_length(location: str) -> None:
    with raw_server(redirect_to(location)) as url:
        transport = HttpTransport(url, timeout=10)
        try:
            with pytest.raises(RefusedRequestError) as raised, transport.open("meta.json.enc"):
                pass
        finally:
            transport.close()
    message = str(raised.value)
    assert message.startswith(f"refusing redirect from {url}meta.json.enc to "), message
    assert len(message) < 2 * URL_SHOWN + 200 and "\n" not in message, message


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("REQUEST_METHOD", raising=False)
    return monkeypatch


def receive(base_url: str, tmp_path: Path) -> tuple[int, str]:
    key = X25519Identity.generate().to_string()
    result = CliRunner().invoke(cli, ["receive", "synco-0123456789abcdef0123", key, "--base-url", base_url,
                                      "--target", str(tmp_path / "t"), "--all", "--timeout", "1"])
    return result.exit_code, result.output


@pytest.mark.parametrize("proxy", MALFORMED)
@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy"])
def test_a_malformed_proxy_variable_is_one_line_naming_it(proxy: str, variable: str, tmp_path: Path,
                                                          no_proxies: pytest.MonkeyPatch) -> None:
    no_proxies.setenv(variable, proxy)
    code, output = receive("https://example.invalid/", tmp_path)
    assert code == 1
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "HTTPS_PROXY (or https_proxy) holds a malformed proxy address" in errors[0], output
    assert PASSWORD not in output and "ValueError" not in output


@pytest.mark.parametrize("base_url", [url.replace("http://", "https://") + "/" for url in MALFORMED])
def test_a_malformed_base_url_is_one_line_without_its_password(base_url: str, tmp_path: Path,
                                                              no_proxies: pytest.MonkeyPatch) -> None:
    code, output = receive(base_url, tmp_path)
    # A malformed option value is a usage error, refused when the command line is read (docs/configuration.md).
    assert code == 2
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "'--base-url': URL 'https://user:***@" in errors[0], output
    assert "is malformed" in errors[0], output
    assert PASSWORD not in output and "ValueError" not in output


@pytest.mark.parametrize("uri", ["http://[::1/x.txt", "http://127.0.0.1:abc/x.txt", "http://127.0.0.1:99999/x.txt"])
@pytest.mark.parametrize("declared", [False, True], ids=["in-the-index", "in-url-origins"])
def test_a_malformed_url_of_a_session_fails_its_set_as_a_refusal(uri: str, declared: bool, tmp_path: Path) -> None:
    crafted = CraftedSession(tmp_path / "web")
    (crafted.web_root / "ok.txt").parent.mkdir(parents=True, exist_ok=True)
    (crafted.web_root / "ok.txt").write_bytes(b"ok\n")
    entry = {"sizeBytes": 3, "mTime": 1_700_000_000, "publicUri": uri, "isAbsoluteUrl": True}
    good = {"sizeBytes": 3, "mTime": 1_700_000_000, "publicUri": "ok.txt", "isAbsoluteUrl": False}
    bad = crafted.public_set({"x.txt": entry}, urlOrigins=[uri.rsplit("/", 1)[0]] if declared else None)
    other = crafted.public_set({"ok.txt": good}, name="other", relative_base_path="other")
    crafted.ready(bad, other)
    with CraftedServer(crafted.web_root) as server:
        result = run_receive(crafted, server.url, tmp_path / "t")
    assert result.exit_code == 1, result.output
    assert "ValueError" not in result.output and "Traceback" not in result.output, result.output
    assert f"'{uri.rsplit('/', 1)[0] if declared else uri}'" in result.output, result.output
    assert "running the same command again would get the same" in result.output, result.output
    assert (tmp_path / "t" / "other" / "ok.txt").read_bytes() == b"ok\n"


def test_transfer_errors_are_what_the_transport_raises_for_a_malformed_address() -> None:
    for url in MALFORMED:
        with pytest.raises(TransferError) as raised:
            HttpTransport(url)
        assert PASSWORD not in str(raised.value)


def test_a_malformed_session_address_is_one_line_without_its_password(tmp_path: Path,
                                                                     no_proxies: pytest.MonkeyPatch) -> None:
    key = X25519Identity.generate().to_string()
    result = CliRunner().invoke(cli, ["receive", f"https://user:{PASSWORD}@[::1/synco-0123456789abcdef0123/", key,
                                      "--target", str(tmp_path / "t"), "--all"])
    assert result.exit_code == 1
    assert "Error: SESSION 'https://user:***@[::1/synco-" in result.output, result.output
    assert "is malformed" in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert PASSWORD not in result.output and "ValueError" not in result.output
