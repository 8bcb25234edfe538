"""A captive portal or a proxy's block page that starts answering in the middle of a receive.

The server here serves the app's web root until it has answered a given number of requests for the public
files (or for the packs), then answers every request with a portal's page: 200 HTML, 403, 407, 511, or a
redirect to the portal's host. Judged file by file, every later file looked removed since serve (or of
another version), and ``--allow-missing`` installed a tree short of them with exit 0. Each fetching path
(one request per file, pipelined batches, packs, a resumed part file) must stop the receive in one line
naming what answered; a file the site itself no longer has stays a missing file.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from test_receive_support import LOCAL_MARKER, LocalProject
from test_transfer_support import FixturePlugin, make_app, publish, static_server

from synco_core.cli.main import cli

SESSION = "synco-portaltest0123456789"
TITLE = "Sign in to Hotel Wi-Fi"
#: The database and the public files only: a failed private set would keep the install off on its own.
ONLY = ("dbDump", "uploads")
PAGE = f"<!DOCTYPE html><html><head><title>{TITLE}</title></head><body>Accept the terms</body></html>".encode()


@dataclass
class Portal:
    """When and how the network starts answering for the site."""

    #: 200, 403, 407, 511, or 302 (a redirect to the portal's own host).
    status: int
    #: Requests whose path holds this are counted ...
    counted: str = "/uploads/"
    #: ... and once this many were answered by the site, the portal answers everything from the next one on.
    after: int = 1
    #: HTTP/1.1 with keep-alive (pipelined batches), else HTTP/1.0 (one request per connection).
    keep_alive: bool = True
    seen: int = 0
    portal_answers: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def takes(self, path: str) -> bool:
        """True when the portal answers this request (counted as the site's otherwise)."""
        with self.lock:
            if self.counted in path:
                self.seen += 1
            if self.seen > self.after:
                self.portal_answers += 1
                return True
            return False


class _Handler(SimpleHTTPRequestHandler):
    portal: Portal

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if not self.portal.takes(self.path.split("?")[0]):
            super().do_GET()
            return
        status = self.portal.status
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "http://portal.invalid/login")
        if status == 407:
            self.send_header("Proxy-Authenticate", 'Basic realm="proxy"')
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)


@contextlib.contextmanager
def portal_server(root: Path, portal: Portal) -> Iterator[str]:
    handler = type("Handler", (_Handler,), {
        "portal": portal, "protocol_version": "HTTP/1.1" if portal.keep_alive else "HTTP/1.0"})

    def factory(*args: Any, **kwargs: Any) -> _Handler:
        return handler(*args, directory=str(root), **kwargs)  # type: ignore[no-any-return]

    server = ThreadingHTTPServer(("127.0.0.1", 0), factory)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(name="app")
def app_fixture(tmp_path: Path, register_plugin: Any) -> Path:
    register_plugin(FixturePlugin(engine="sqlite"), "fixture")
    register_plugin(LocalProject(), "localproject")
    return make_app(tmp_path / "app", files=40)


def local_project(tmp_path: Path) -> Path:
    local = tmp_path / "local"
    local.mkdir()
    (local / LOCAL_MARKER).write_text("sqlite:///local.sqlite")
    (local / "local.sqlite").write_bytes(b"")
    return local


def receive_install(url: str, secret: str, tmp_path: Path, local: Path, monkeypatch: pytest.MonkeyPatch,
                    *extra: str) -> Any:
    monkeypatch.chdir(local)
    return CliRunner().invoke(cli, ["receive", SESSION, secret, "--all", "--install", "--yes", "--allow-missing",
                                    "--target", str(tmp_path / "dump"), "--base-url", url, *extra])


def assert_stopped_by_portal(result: Any, local: Path, named: str) -> None:
    assert result.exit_code == 1, result.output
    assert named in result.output, result.output
    assert "not given by the server" not in result.output and "Installing without" not in result.output, \
        result.output
    # Nothing was installed: the local project is as it was.
    assert (local / "local.sqlite").read_bytes() == b"" and not (local / "web").exists()


FETCHES = {
    # One request per file: HTTP/1.0 closes every connection, pipelining falls back to single requests.
    "single": {"keep_alive": False, "packs": False},
    # Pipelined batches over kept-alive connections.
    "pipelined": {"keep_alive": True, "packs": False},
    # Packs: the portal answers from the first pack request; the files then come from their URLs.
    "packs": {"keep_alive": True, "packs": True, "counted": ".pack-", "after": 0},
    # ... taken by worker processes, which judge the files they fetch from their URLs with no witness of theirs.
    "pack-workers": {"keep_alive": True, "packs": True, "counted": ".pack-", "after": 0, "workers": True},
}

ANSWERS = {200: repr(TITLE), 403: repr(TITLE), 407: "HTTP 407", 511: "HTTP 511", 302: "portal.invalid"}


@pytest.mark.parametrize("status", list(ANSWERS))
@pytest.mark.parametrize("fetch", list(FETCHES))
def test_a_portal_mid_receive_stops_it_in_one_line(app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   fetch: str, status: int) -> None:
    """Every fetching path, every kind of portal answer: exit 1, one line naming it, nothing installed."""
    how = dict(FETCHES[fetch])
    if how.pop("workers", False):
        monkeypatch.setattr("synco_core.receive.workers.MIN_FILES", 1)
        monkeypatch.setattr("synco_core.receive.workers.workerframes.usable_cores", lambda: 2)
    key = publish(app, SESSION, packs=how.pop("packs"), only=ONLY)
    local = local_project(tmp_path)
    portal = Portal(status, **how)  # type: ignore[arg-type]
    with portal_server(app / "web", portal) as url:
        result = receive_install(url, key.secret, tmp_path, local, monkeypatch)
    assert portal.portal_answers, result.output
    assert_stopped_by_portal(result, local, ANSWERS[status])
    line = next(line for line in result.output.splitlines() if ANSWERS[status] in line)
    assert line.startswith("Error: something between this machine and the site answers in its place ("), \
        result.output


@pytest.mark.parametrize("status", [200, 403])
def test_a_portal_answering_a_resumed_part_file_stops_the_receive(app: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  status: int) -> None:
    """A part file left by a cut download is continued with a Range: a portal answering that request (the
    first one for the public files) stops the receive as well."""
    key = publish(app, SESSION, packs=False, only=ONLY)
    big = max((path for path in (app / "web" / "uploads").rglob("*.bin")), key=lambda path: path.stat().st_size)
    relative = "/" + quote(big.relative_to(app / "web").as_posix())
    target = tmp_path / "dump"
    with static_server(app / "web") as (url, behaviour):
        behaviour.cut_after[relative] = big.stat().st_size // 2
        first = CliRunner().invoke(cli, ["receive", SESSION, key.secret, "--all", "--target", str(target),
                                         "--base-url", url])
    assert first.exit_code == 1, first.output
    assert list(target.rglob("*.synco-part")), first.output
    local = local_project(tmp_path)
    portal = Portal(status, after=0)
    with portal_server(app / "web", portal) as url:
        result = receive_install(url, key.secret, tmp_path, local, monkeypatch)
    assert_stopped_by_portal(result, local, ANSWERS[status])


def test_a_file_the_site_no_longer_has_stays_missing(app: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A 404 from the site itself (the file removed since serve) is what --allow-missing allows: the site's
    meta still answers, so the receive installs without that file."""
    key = publish(app, SESSION, packs=False, only=ONLY)
    gone = app / "web" / "uploads" / "dir0" / "file 0.bin"
    gone.unlink()
    local = local_project(tmp_path)
    with static_server(app / "web") as (url, _behaviour):
        result = receive_install(url, key.secret, tmp_path, local, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "Installing without 1 public file(s)" in result.output, result.output
    assert (local / "web" / "uploads" / "dir1" / "file 1.bin").exists()
    assert not (local / "web" / "uploads" / "dir0" / "file 0.bin").exists()


def test_a_portal_page_for_a_public_page_is_not_another_version(app: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A public file that is a page itself (``.html``) answered with the portal's page is judged another version
    (not a fallback page), asked for again past the caches, and stops the receive the same way."""
    for path in (app / "web" / "uploads").rglob("*"):
        if path.is_file():
            path.unlink()
    (app / "web" / "uploads" / "about.html").write_text("<!DOCTYPE html><html><title>About us</title></html>")
    key = publish(app, SESSION, packs=False, only=ONLY)
    local = local_project(tmp_path)
    portal = Portal(200, counted="/uploads/", after=0)
    with portal_server(app / "web", portal) as url:
        result = receive_install(url, key.secret, tmp_path, local, monkeypatch)
    assert_stopped_by_portal(result, local, repr(TITLE))
    assert "another version" not in result.output, result.output
