"""Receiving through a cache in front of the site: a real nginx with ``proxy_cache``, as a CDN or Varnish is.

The cache here keeps every answer (200, 206, 404 ...) for ten minutes whatever the site says
(``proxy_ignore_headers Cache-Control Expires``), the way agencies set up "cache everything" on a CDN, and keys
on the whole request URI (``$request_uri``: path and query, nginx's and most CDNs' default) unless a test
gives another key. Each case ends with every byte right, or with one line naming what the cache did.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_transfer_support import fixture_app_fixture, publish, tree_digest  # noqa: F401

from synco_core.cli.main import cli
from synco_core.testing.services import Nginx, nginx

SESSION = "synco-caches0123456789ab"
OTHER = "synco-caches0123456789ac"


@contextlib.contextmanager
def caching_proxy(origin: str, work: Path, key: str = "$scheme$proxy_host$request_uri") -> Iterator[Nginx]:
    """An nginx in front of ``origin`` keeping every answer for ten minutes, keyed by ``key``; its access log
    (``requests()``) shows what receive asked for, and ``X-Cache-Status`` what the cache did."""
    cache = work / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    directives = (f"  proxy_cache_path {cache} levels=1:2 keys_zone=synco:1m max_size=100m inactive=60m "
                  "use_temp_path=off;\n")
    locations = ("    location / {\n"
                 f"      proxy_pass {origin.rstrip('/')};\n"
                 "      proxy_cache synco;\n"
                 "      proxy_cache_valid any 10m;\n"
                 "      proxy_ignore_headers Cache-Control Expires Set-Cookie;\n"
                 f"      proxy_cache_key {key};\n"
                 "      add_header X-Cache-Status $upstream_cache_status always;\n"
                 "    }\n")
    with nginx(work, work, laravel=False, directives=directives, locations=locations) as server:
        yield server


@contextlib.contextmanager
def site_behind_cache(app: Path, work: Path, key: str = "$scheme$proxy_host$request_uri") -> Iterator[Nginx]:
    """The app's web root served by a plain nginx, behind :func:`caching_proxy`; yields the cache."""
    with nginx(app / "web", work / "origin", laravel=False) as origin, \
            caching_proxy(origin.url, work / "cache", key) as cache:
        yield cache


def receive(url: str, key: str, target: Path, *extra: str, session: str = SESSION) -> Any:
    return CliRunner().invoke(cli, ["receive", session, key, "--base-url", url, "--target", str(target), "--all",
                                    *extra])


def expected_uploads(app: Path) -> dict[str, str]:
    digest = tree_digest(app / "web" / "uploads")
    del digest["skip.tmp"]
    return digest


def next_second() -> None:
    """Wait into the next second: two serves of one name differ by their ``createdAt`` (whole seconds)."""
    time.sleep(1.05 - time.time() % 1)


def serve_again(app: Path, session: str, password: str | None) -> Any:
    """The session ``session`` removed and published again (``serve --id`` run again), with other content."""
    shutil.rmtree(app / "web" / session)
    (app / "data.db").write_bytes(b"the second serve's database " * 4000)
    (app / "web" / "uploads" / "dir0" / "file 0.bin").write_bytes(b"packed, changed")
    (app / "web" / "uploads" / "dir1" / "file 1.bin").write_bytes(b"whole, changed " * 3000)
    (app / "private" / "a.txt").write_text("private a, changed\n")
    next_second()
    return publish(app, session, password=password)


@pytest.mark.parametrize("password", [None, "one passphrase for both serves"], ids=["new-key", "same-passphrase"])
def test_a_cache_holding_an_earlier_serve_of_the_same_id_is_passed_by(fixture_app: Path, tmp_path: Path,
                                                                      password: str | None) -> None:
    """``serve --id X`` run again publishes new files under the URLs of the first serve's. The cache handed
    out the first serve's dump, index, pack table, packs and tar with the second serve's meta: every set
    failed ("this key does not open this file", "more than the 246 bytes declared"). Each serve's files are
    now asked for with a query naming that serve, so the cache keeps both apart (and still serves each to
    everyone receiving it)."""
    key = publish(fixture_app, SESSION, password=password)
    with site_behind_cache(fixture_app, tmp_path) as cache:
        first = receive(cache.url, key.secret, tmp_path / "first")
        assert first.exit_code == 0, first.output
        asked_first = [path for _method, path, _status, _size, _range in cache.requests()]
        again = serve_again(fixture_app, SESSION, password)
        second = receive(cache.url, again.secret, tmp_path / "second")
        assert second.exit_code == 0, second.output
        asked = [path for _method, path, _status, _size, _range in cache.requests()]
    assert (tmp_path / "second" / "dbDump.sqlite").read_bytes() == (fixture_app / "data.db").read_bytes()
    assert tree_digest(tmp_path / "second" / "uploads") == expected_uploads(fixture_app)
    assert tree_digest(tmp_path / "second" / "private") == tree_digest(fixture_app / "private")
    # Every session file but the meta (asked for fresh each time) carries its serve's query, and none of the
    # second serve's requests is one the cache answered for the first.
    def session_files(paths: list[str]) -> list[str]:
        return [path for path in paths if path.startswith(f"/{SESSION}/") and "/meta.json.enc?" not in path]

    assert session_files(asked) and all("?synco-serve=" in path for path in session_files(asked)), asked
    second_files = session_files(asked[len(asked_first):])
    assert second_files and not set(second_files) & set(asked_first), (second_files, asked_first)


@pytest.mark.parametrize("changed", [
    {"dir1/file 1.bin": b"longer " * 9000},
    {"dir1/file 1.bin": b"shorter " * 2500},
    {"dir1/file 1.bin": "same size"},
    # Several whole files of one folder: a pipelined batch, each asked for again once the batch is through.
    {"dir1/file 1.bin": b"one " * 9000, "dir1/file 4.bin": "same size", "dir1/file 7.bin": b"seven " * 5000,
     "dir2/file 5.bin": b"five " * 6000},
], ids=["longer", "shorter", "same-size", "pipelined"])
def test_a_public_file_a_cache_keeps_an_old_copy_of_is_fetched_past_it(fixture_app: Path, tmp_path: Path,
                                                                       changed: dict[str, Any]) -> None:
    """A public file replaced on the site (an image edited, the same name uploaded again) came from the cache as
    the old copy it took: `the server has another version than serve listed`, at every receive until somebody
    purged the cache. It is now asked for once more past the cache, and arrives as the index lists it."""
    key = publish(fixture_app, SESSION)
    uploads = fixture_app / "web" / "uploads"
    with site_behind_cache(fixture_app, tmp_path) as cache:
        first = receive(cache.url, key.secret, tmp_path / "t")
        assert first.exit_code == 0, first.output
        before = len(cache.requests())
        for name, content in changed.items():
            path = uploads / name
            if content == "same size":
                content = bytes(255 - byte for byte in path.read_bytes())
            path.write_bytes(content)
        again = publish(fixture_app, OTHER, only=("uploads",))
        second = receive(cache.url, again.secret, tmp_path / "t", session=OTHER)
        log = cache.requests()[before:]
    assert second.exit_code == 0, second.output
    assert f"{len(changed)} downloaded" in second.output, second.output
    assert tree_digest(tmp_path / "t" / "uploads") == expected_uploads(fixture_app)
    # The old copy did come from the cache first: the case is the one of a cache, not of a miss.
    assert ("GET", "/uploads/dir1/file%201.bin", 200, 22029, "") in log, log


def test_a_file_the_site_itself_changed_since_serve_is_still_one_line(fixture_app: Path, tmp_path: Path) -> None:
    """Past the cache the file is still another version (changed on the site after serve): the error stays the
    one line it was, and the laptop's copy stays."""
    key = publish(fixture_app, SESSION)
    path = fixture_app / "web" / "uploads" / "dir1" / "file 1.bin"
    with site_behind_cache(fixture_app, tmp_path) as cache:
        assert receive(cache.url, key.secret, tmp_path / "t").exit_code == 0
        kept = (tmp_path / "t" / "uploads" / "dir1" / "file 1.bin").read_bytes()
        path.write_bytes(b"listed by serve " * 3000)
        again = publish(fixture_app, OTHER, only=("uploads",))
        path.write_bytes(b"changed after serve " * 3000)
        second = receive(cache.url, again.secret, tmp_path / "t", session=OTHER)
    assert second.exit_code == 1, second.output
    assert "failed: dir1/file 1.bin: " in second.output and "another version than serve listed" in second.output
    assert (tmp_path / "t" / "uploads" / "dir1" / "file 1.bin").read_bytes() == kept
    assert not list((tmp_path / "t").rglob("*.synco-part"))


# ------------------------------------------------------------------ a cache that leaves the query out of its key


def write_meta(app: Path, session: str, key: Any, state: str) -> None:
    """Session ``session``'s meta written anew in ``state`` (a serve still building it), nothing else."""
    from synco_core.serve import SessionFolder
    from synco_core.wire import Meta

    now = int(time.time())
    folder = SessionFolder(app / "web" / session, key.recipients)
    if not folder.path.exists():
        folder.create()
    folder.write_meta(Meta(state=state, framework_name="Fixture", session_id=session,  # type: ignore[arg-type]
                           created_at=now, expires_at=now + 3600))


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error:")]


def test_a_meta_the_cache_keeps_while_serve_builds_is_one_line_not_a_wait(fixture_app: Path, tmp_path: Path) -> None:
    """The cache took the meta while serve was still building the session and leaves the query out of its key:
    every poll got that copy, and receive waited its whole --timeout for a Ready it could never see, then
    advised to raise --timeout. The first poll answered from the cache now ends the wait, naming the cache."""
    from synco_core.serve import SessionKey

    key = SessionKey.generate(None)
    write_meta(fixture_app, SESSION, key, "Initializing")
    with site_behind_cache(fixture_app, tmp_path, key="$scheme$proxy_host$uri") as cache:
        started = time.monotonic()
        result = receive(cache.url, key.secret, tmp_path / "t", "--timeout", "60")
        took = time.monotonic() - started
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert line == (f"Error: session {SESSION} is not ready (state Initializing), and its meta will not change: it "
                    "comes from a cache in front of the site (X-Cache-Status: HIT) that leaves the query synco adds "
                    "out of its key, and answers with the copy it took whatever serve writes: bypass the cache for "
                    "/synco-* or keep the query string in its cache key"), result.output
    assert took < 30, f"waited {took:.0f} s"
    assert not (tmp_path / "t").exists() or not any((tmp_path / "t").iterdir())


def test_an_earlier_serves_meta_the_cache_keeps_is_named_not_the_key(fixture_app: Path, tmp_path: Path) -> None:
    """``serve --id`` run again, with a new key, behind a cache keyed on the path only: the cache answers with
    the first serve's meta, which the new key cannot open. That was "this key does not open session X", which
    sends the user to check a key that is right."""
    key = publish(fixture_app, SESSION)
    with site_behind_cache(fixture_app, tmp_path, key="$scheme$proxy_host$uri") as cache:
        assert receive(cache.url, key.secret, tmp_path / "first").exit_code == 0
        again = serve_again(fixture_app, SESSION, None)
        result = receive(cache.url, again.secret, tmp_path / "second")
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.output)
    assert line.startswith(f"Error: this key does not open the meta of session {SESSION} the server answered with: "
                           "it comes from a cache in front of the site (X-Cache-Status: HIT) that leaves the query "
                           "synco adds out of its key"), line
    assert again.secret not in result.output


@pytest.mark.parametrize(("headers", "expected"), [
    ({}, None),
    ({"Age": "0"}, None),
    ({"Age": "37"}, "Age: 37"),
    ({"Age": "soon"}, None),
    ({"X-Cache": "MISS"}, None),
    ({"X-Cache": "HIT, MISS"}, "X-Cache: HIT, MISS"),
    ({"X-Cache": "Hit from cloudfront"}, "X-Cache: Hit from cloudfront"),
    ({"CF-Cache-Status": "DYNAMIC"}, None),
    ({"CF-Cache-Status": "HIT"}, "CF-Cache-Status: HIT"),
    ({"CF-Cache-Status": "REVALIDATED"}, None),
    ({"X-Cache-Status": "STALE"}, "X-Cache-Status: STALE"),
    ({"X-Proxy-Cache": "UPDATING"}, "X-Proxy-Cache: UPDATING"),
    ({"X-Cache": "HIT \x1b[2J" + "x" * 100}, "X-Cache: HIT ?[2J" + "x" * 32),
    ({"X-Cache": "WHITEHIT"}, None),
])
def test_what_says_an_answer_is_a_caches_copy(headers: dict[str, str], expected: str | None) -> None:
    from synco_core.receive.cachecopy import cache_copy

    lower = {name.lower(): value for name, value in headers.items()}
    assert cache_copy(lambda name: lower.get(name.lower())) == expected


# ------------------------------------------------------------------ a body cut short without a Content-Length


@pytest.mark.parametrize("files", [1, 3], ids=["one-file", "a-batch"])
def test_a_body_without_length_cut_short_is_an_interruption_kept_for_the_next_run(tmp_path: Path,
                                                                                   files: int) -> None:
    """A cache or proxy that sends a body without Content-Length (and not chunked) ends it by closing the
    connection, which is also what a cut looks like. A file that ended so short of its size was "another
    version than serve listed": its part file thrown away, and (since files of another version are asked for
    again past the caches) asked for once more to the same end. It is now an interrupted download whose part
    the next run continues with a Range."""
    import hashlib

    from test_receive_hostile_server import raw_server

    from synco_core.receive.files import part_path
    from synco_core.receive.http_transport import HttpTransport
    from synco_core.receive.public import receive_public_files
    from synco_core.serve.server import start_server
    from synco_core.wire import PublicIndexEntry

    root = tmp_path / "web"
    (root / "files").mkdir(parents=True)
    content = {f"f{number}.bin": bytes([number]) * 100 + hashlib.sha256(bytes([number])).digest() * 3000
               for number in range(files)}
    for name, data in content.items():
        (root / "files" / name).write_bytes(data)
    index = {name: PublicIndexEntry(size_bytes=len(data), mtime=1_700_000_000, public_uri=f"files/{name}",
                                    sha256=hashlib.sha256(data).hexdigest()) for name, data in content.items()}
    target = tmp_path / "t"
    target.mkdir()
    asked: list[bytes] = []

    def cut(conn: Any) -> None:
        asked.append(b"GET")
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
                     + b"\x00" * 100 + b"x" * 40_000)
        conn.shutdown(2)

    with raw_server(cut) as url:
        transport = HttpTransport(url)
        result = receive_public_files(transport, index, target)
        transport.close()
    assert result.downloaded == 0 and len(result.failed) == files, result.failed
    for _path, reason in result.failed:
        assert "interrupted after 40100 bytes" in reason and "another version" not in reason, reason
    assert len(asked) == files, "asked for once each: a cut is not an old copy"
    for name in content:
        assert part_path(target / name, index[name]).stat().st_size == 40_100
    server = start_server(root, "127.0.0.1:0")
    try:
        transport = HttpTransport(server.url)
        again = receive_public_files(transport, index, target)
        transport.close()
    finally:
        server.stop()
    assert (again.downloaded, again.failed) == (files, [])
    for name, data in content.items():
        assert (target / name).read_bytes() == data


def test_an_artifact_without_length_cut_short_is_kept_and_continued(fixture_app: Path, tmp_path: Path) -> None:
    """The dump answered without Content-Length (a proxy passing it on as it comes) and cut: it was "truncated
    artifact" and its part thrown away, so every run started the dump over. It is now an interrupted download;
    the next run (here through nginx, which answers ranges) continues it from the bytes kept."""
    import http.server
    import threading

    key = publish(fixture_app, SESSION, only=("dbDump",))
    dump = next((fixture_app / "web" / SESSION).glob("dump.*.enc"))
    sent = dump.stat().st_size // 2

    class Cutting(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.split("?")[0] != f"/{SESSION}/{dump.name}":
                super().do_GET()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            self.wfile.write(dump.read_bytes()[:sent])
            self.close_connection = True

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *args: Cutting(*args, directory=str(
        fixture_app / "web")))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        first = receive(f"http://127.0.0.1:{server.server_address[1]}/", key.secret, tmp_path / "t")
    finally:
        server.shutdown()
        server.server_close()
    assert first.exit_code == 1, first.output
    assert f"dbDump: download interrupted after {sent} of the {dump.stat().st_size} encrypted bytes" in first.output
    assert not (tmp_path / "t" / "dbDump.sqlite").exists()
    [part] = (tmp_path / "t").glob("*.part")
    assert part.stat().st_size == sent
    with nginx(fixture_app / "web", tmp_path / "nginx", laravel=False) as site:
        again = receive(site.url, key.secret, tmp_path / "t")
        asked = site.requests()
    assert again.exit_code == 0, again.output
    assert (tmp_path / "t" / "dbDump.sqlite").read_bytes() == (fixture_app / "data.db").read_bytes()
    assert any(path.startswith(f"/{SESSION}/{dump.name}") and asked_range == f"bytes={sent}-"
               for _method, path, _status, _size, asked_range in asked), asked
