"""Receiving from web servers and CDNs configured as people do: what they do to a session's files.

A session's files are served as the web server is set up for the rest of the site, so receive meets
compression it did not ask for (a CDN or proxy that ignores ``Accept-Encoding: identity``), fallback pages
for missing paths (a single-page application's ``try_files $uri /index.html``), logins, and certificates
the laptop does not know. Each case must either work or end with one line saying what the server did;
never a traceback, never a wrong or half file under a final name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from pull_support import start_on_free_port
from test_receive_chooser import _self_signed
from test_transfer_support import (  # noqa: F401
    FixturePlugin,
    StaticBehaviour,
    fixture_app_fixture,
    make_app,
    publish,
    static_server,
    tree_digest,
)

from synco_core import age
from synco_core.cli.main import cli
from synco_core.errors import TransferError
from synco_core.receive import HttpTransport
from synco_core.receive.artifact import fetch_small
from synco_core.receive.files import part_path
from synco_core.receive.limits import SizeExceededError
from synco_core.receive.transport import CHUNK_SIZE
from synco_core.serve import SessionFolder, SessionKey
from synco_core.testing.services import nginx, require_tool
from synco_core.wire import META_FILE, Meta, PublicIndexEntry

SESSION = "synco-webservers0123456789"


def build(app: Path, session: str = SESSION, **options: Any) -> SessionKey:
    key: SessionKey = publish(app, session, **options)
    return key


def receive(url: str, key: str, target: Path, *extra: str, session: str = SESSION) -> Any:
    return CliRunner().invoke(cli, ["receive", session, key, "--base-url", url, "--target", str(target), "--all",
                                    *extra])


def expected_uploads(app: Path) -> dict[str, str]:
    digest = tree_digest(app / "web" / "uploads")
    del digest["skip.tmp"]
    return digest


def leftovers(target: Path) -> list[str]:
    return [str(path) for path in target.rglob("*") if path.name.endswith((".part", ".synco-part"))]


# ------------------------------------------------------------------------ compression nobody asked for


def test_a_server_compressing_everything_is_received_first_resumed_and_resynced(fixture_app: Path,
                                                                                 tmp_path: Path) -> None:
    """gzip on every answer, a Range answered with bytes of the compressed form: still every byte right."""
    key = build(fixture_app)
    artifact = next((fixture_app / "web" / SESSION).glob("dump.*.enc"))
    target = tmp_path / "dump"
    # The dump's first answer breaks off: the next run asks for the rest with a Range, which this server
    # answers with a slice of the compressed file.
    behaviour = StaticBehaviour(keep_alive=True, coding="gzip", cut_after={f"/{SESSION}/{artifact.name}": 50_000})
    with static_server(fixture_app / "web", behaviour) as (url, seen):
        first = receive(url, key.secret, target)
        assert first.exit_code == 1, first.output
        assert "dbDump" in first.output and "interrupted" in first.output
        assert not (target / "dbDump.sqlite").exists()
        assert list(target.glob("*.enc.part")), "what arrived is kept for the next run"
        assert tree_digest(target / "uploads") == expected_uploads(fixture_app)

        resumed = receive(url, key.secret, target)
        assert resumed.exit_code == 0, resumed.output
        assert any(path == f"/{SESSION}/{artifact.name}" for path, _range in seen.ranges)
        assert (target / "dbDump.sqlite").read_bytes() == (fixture_app / "data.db").read_bytes()
        assert tree_digest(target / "private") == tree_digest(fixture_app / "private")

        changed = fixture_app / "web" / "uploads" / "dir1" / "file 1.bin"
        changed.write_bytes(b"changed on the server\n" * 5000)
        (fixture_app / "web" / "uploads" / "dir2" / "new.txt").write_text("new\n")
        again = build(fixture_app, session="synco-webservers0123456790", only=("uploads",))
        resync = receive(url, again.secret, target, session="synco-webservers0123456790")
        assert resync.exit_code == 0, resync.output
        assert tree_digest(target / "uploads") == expected_uploads(fixture_app)
    assert not leftovers(target)


def test_a_compressed_body_is_decoded_a_chunk_at_a_time_and_counted_decoded(fixture_app: Path) -> None:
    """A small compressed answer that inflates to much more is handed out in bounded pieces, and the limits
    of what may arrive apply to what it inflates to."""
    web = fixture_app / "web"
    (web / "zeros.bin").write_bytes(bytes(8 * CHUNK_SIZE + 5))
    with static_server(web, StaticBehaviour(keep_alive=True, coding="gzip")) as (url, _):
        transport = HttpTransport(url)
        with transport.open("zeros.bin") as response:
            assert response.total_size is None, "Content-Length is the compressed size, not the file's"
            chunks = list(response.iter_bytes())
        assert b"".join(chunks) == bytes(8 * CHUNK_SIZE + 5)
        assert max(len(chunk) for chunk in chunks) <= CHUNK_SIZE
        with pytest.raises(SizeExceededError):
            fetch_small(transport, "zeros.bin", [], limit=2 * CHUNK_SIZE)
        transport.close()


def test_a_damaged_compressed_body_is_a_transfer_error(fixture_app: Path) -> None:
    web = fixture_app / "web"
    (web / "cut.bin").write_bytes(bytes(range(256)) * 400)
    compressed = len(zlib.compress(bytes(range(256)) * 400))
    with static_server(web, StaticBehaviour(coding="gzip", cut_after={"/cut.bin": compressed // 2})) as (url, _):
        transport = HttpTransport(url)
        with pytest.raises(TransferError, match=r"interrupted|damaged"), transport.open("cut.bin") as response:
            for _chunk in response.iter_bytes():
                pass
        transport.close()


def test_a_coding_that_cannot_be_undone_is_one_line_naming_it(fixture_app: Path, tmp_path: Path) -> None:
    key = build(fixture_app, only=("dbDump",))
    with static_server(fixture_app / "web", StaticBehaviour(coding="br")) as (url, _):
        result = receive(url, key.secret, tmp_path / "t")
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()[-1:]
    assert line.startswith("Error: ") and "Content-Encoding br" in line and "Traceback" not in result.output
    assert "turn compression off" in line
    assert not (tmp_path / "t" / "dbDump.sqlite").exists()


# ------------------------------------------------------------------------------------------ logins


def test_basic_auth_of_nginx_wrong_password_said_apart_from_none_and_never_shown(fixture_app: Path,
                                                                                   tmp_path: Path) -> None:
    key = build(fixture_app, only=("dbDump", "uploads"))
    users = tmp_path / "htpasswd"
    users.write_text("deploy:{PLAIN}right-Pa55word\n")
    protected = f'    location / {{ auth_basic "staging"; auth_basic_user_file {users}; }}\n'
    with nginx(fixture_app / "web", tmp_path / "nginx", laravel=False, locations=protected) as server:
        host = server.url.removeprefix("http://")
        good = receive(f"http://deploy:right-Pa55word@{host}", key.secret, tmp_path / "good")
        assert good.exit_code == 0, good.output
        assert tree_digest(tmp_path / "good" / "uploads") == expected_uploads(fixture_app)
        wrong = receive(f"http://deploy:wrong-Pa55word@{host}", key.secret, tmp_path / "wrong", "--debug")
        none = receive(server.url, key.secret, tmp_path / "none")
    assert wrong.exit_code == 1 and none.exit_code == 1
    assert "refused the user name and password of the address (HTTP 401)" in wrong.output.splitlines()[-1]
    assert "wrong-Pa55word" not in wrong.output
    assert "needs a login (HTTP 401)" in none.output.splitlines()[-1]
    assert not (tmp_path / "wrong" / "dbDump.sqlite").exists()


# ------------------------------------------------------------------------------ fallback pages (SPA)


SPA = "    location / { try_files $uri /index.html; }\n"


def test_a_fallback_page_for_missing_files_is_named_and_counted_missing(fixture_app: Path, tmp_path: Path) -> None:
    """nginx's ``try_files $uri /index.html``: a public file removed since serve, and a session artifact that is
    not there, come back as 200 and the site's page; receive says so, and keeps neither."""
    key = build(fixture_app, only=("uploads", "private"))
    web = fixture_app / "web"
    (web / "index.html").write_text("<!DOCTYPE html>\n<html><body><div id=app></div></body></html>\n" * 40)
    # The largest upload is fetched by its URL (small ones come out of packs).
    gone = max((web / "uploads").rglob("*.bin"), key=lambda path: path.stat().st_size)
    name = gone.relative_to(web / "uploads").as_posix()
    gone.unlink()
    (web / SESSION / "encrypted-resources-private").unlink()
    target = tmp_path / "t"
    with nginx(web, tmp_path / "nginx", laravel=False, locations=SPA) as server:
        result = receive(server.url, key.secret, target)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    private = next(line for line in result.output.splitlines() if "failed     private" in line)
    assert "encrypted-resources-private is not on the server: the server answered with an HTML page" in private
    assert "try_files" in private
    assert f"could not be fetched (the server refused them or no longer has them): {name}" in result.output
    assert not (target / "uploads" / name).exists() and not (target / "private").exists()
    assert not leftovers(target)
    expected = expected_uploads(fixture_app)
    assert tree_digest(target / "uploads") == expected


def test_a_page_that_is_a_listed_file_is_not_taken_for_a_fallback(fixture_app: Path, tmp_path: Path) -> None:
    """A listed HTML file that changed since serve is a changed file, not a missing one."""
    page = fixture_app / "web" / "uploads" / "page.html"
    page.write_text("<!DOCTYPE html><html><body>" + "first version " * 2000 + "</body></html>\n")
    key = build(fixture_app, only=("uploads",))
    page.write_text("<!DOCTYPE html><html><body>" + "second version " * 2000 + "</body></html>\n")
    with nginx(fixture_app / "web", tmp_path / "nginx", laravel=False, locations=SPA) as server:
        result = receive(server.url, key.secret, tmp_path / "t")
    assert result.exit_code == 1, result.output
    assert "failed: page.html: the server's answer: more than the" in result.output
    assert "HTML page instead" not in result.output


# ---------------------------------------------------------------------------------------------- TLS


def test_https_with_a_self_signed_certificate_says_how_to_trust_it(fixture_app: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """nginx over HTTP/2 and TLS with its own certificate, and its plain-HTTP server answering ``return 301
    https://...``: refused in one line naming SSL_CERT_FILE, then received once that names the certificate."""
    key = build(fixture_app, only=("dbDump", "uploads"))
    certs = tmp_path / "certs"
    certs.mkdir()
    tls = _self_signed(certs)
    web = fixture_app / "web"
    with nginx(web, tmp_path / "tls", laravel=False, tls=tls) as secure:
        upgrade = f"    location / {{ return 301 https://127.0.0.1:{secure.port}$request_uri; }}\n"
        with nginx(web, tmp_path / "plain", laravel=False, locations=upgrade) as plain:
            for url in (secure.url, plain.url):
                refused = receive(url, key.secret, tmp_path / "refused")
                assert refused.exit_code == 1
                [line] = refused.output.strip().splitlines()[-1:]
                assert line == (f"Error: the TLS certificate of {secure.url} is not trusted (self-signed certificate): "
                                "give the CA that signed it with SSL_CERT_FILE=/path/to/ca.pem, or use --insecure "
                                "for a test server"), refused.output
            assert not (tmp_path / "refused").exists() or not any((tmp_path / "refused").iterdir())
            monkeypatch.setenv("SSL_CERT_FILE", str(tls[0]))
            trusted = receive(plain.url, key.secret, tmp_path / "t")
    assert trusted.exit_code == 0, trusted.output
    assert (tmp_path / "t" / "dbDump.sqlite").read_bytes() == (fixture_app / "data.db").read_bytes()
    assert tree_digest(tmp_path / "t" / "uploads") == expected_uploads(fixture_app)


# ------------------------------------------------------------------------------------ a caching CDN


@pytest.mark.parametrize("cache_key", ["$request_uri", "$uri"], ids=["keyed-on-query", "query-ignored"])
def test_a_cache_in_front_of_the_site_holding_old_copies(fixture_app: Path, tmp_path: Path, cache_key: str) -> None:
    """nginx as a CDN (``proxy_cache``, 200s kept ten minutes) in front of the site: a re-sync after two uploads
    changed on the server gets the cached old copies, one of another size, one of the same size. They are asked
    for again past the cache (a query of their own) and arrive; a cache that ignores the query (its key the
    path only) still hands out the old copies: each then fails naming the likely cache, and the laptop keeps its
    copy."""
    key = build(fixture_app, only=("uploads",))
    uploads = fixture_app / "web" / "uploads"
    grown, same_size = sorted((path for path in uploads.rglob("*.bin") if path.stat().st_size > 20_000),
                              key=lambda path: path.stat().st_size)[-2:]
    target = tmp_path / "t"
    with nginx(fixture_app / "web", tmp_path / "origin", laravel=False) as origin:
        cache = tmp_path / "cdn-cache"
        directives = f"  proxy_cache_path {cache} keys_zone=cdn:1m;\n"
        locations = (f"    location / {{ proxy_pass {origin.url}; proxy_cache cdn; proxy_cache_valid 200 10m; "
                     f"proxy_ignore_headers Cache-Control Expires; proxy_cache_key {cache_key}; }}\n")
        with nginx(fixture_app / "web", tmp_path / "cdn", laravel=False, directives=directives,
                   locations=locations) as cdn:
            first = receive(cdn.url, key.secret, target)
            assert first.exit_code == 0, first.output
            before = tree_digest(target / "uploads")
            grown.write_bytes(grown.read_bytes() + b"more")
            same_size.write_bytes(bytes(reversed(same_size.read_bytes())))
            again = build(fixture_app, session="synco-webservers0123456790", only=("uploads",))
            resync = receive(cdn.url, again.secret, target, session="synco-webservers0123456790")
    if cache_key == "$request_uri":
        assert resync.exit_code == 0, resync.output
        assert tree_digest(target / "uploads") == expected_uploads(fixture_app)
        assert not leftovers(target)
        return
    assert resync.exit_code == 1, resync.output
    failed = {line.strip().split(": ", 2)[1]: line for line in resync.output.splitlines() if "failed: " in line}
    assert set(failed) == {grown.relative_to(uploads).as_posix(), same_size.relative_to(uploads).as_posix()}
    for line in failed.values():
        assert line.endswith("the server has another version than serve listed (changed since serve, or an old "
                             "copy in a cache or CDN in front of the site)"), line
    assert "SHA-256 does not match the index" in failed[same_size.relative_to(uploads).as_posix()]
    assert "any cache or CDN in front of it" in resync.output.splitlines()[-1]
    assert tree_digest(target / "uploads") == before, "the laptop's copies stay as they were"
    assert not leftovers(target)


def test_a_compressed_upload_labelled_with_its_coding_is_kept_as_it_is(fixture_app: Path, tmp_path: Path) -> None:
    """Apache's ``AddEncoding x-gzip .gz`` (and S3 objects stored compressed) send a ``.gz`` file's own bytes
    with ``Content-Encoding``: the file is those bytes, not what they inflate to."""
    uploads = fixture_app / "web" / "uploads"
    # Larger than packed files are, so fetched by their URLs: one by one and pipelined.
    for number in range(3):
        (uploads / f"backup-{number}.sql.gz").write_bytes(
            gzip.compress(b"".join(b"INSERT INTO t VALUES (%d);\n" % row for row in range(30_000 * (number + 1)))))
    key = build(fixture_app, only=("uploads",))
    with static_server(fixture_app / "web", StaticBehaviour(keep_alive=True, coding="stored")) as (url, _):
        result = receive(url, key.secret, tmp_path / "t")
    assert result.exit_code == 0, result.output
    assert tree_digest(tmp_path / "t" / "uploads") == expected_uploads(fixture_app)


# ------------------------------------------------------------------------------------------ redirects


def test_a_redirect_to_another_host_names_the_address_to_give(fixture_app: Path, tmp_path: Path) -> None:
    """``example.com`` answering ``return 301 https://www.example.com$request_uri``: refused (credentials and
    the address check stay with the host the user named), in one line naming the address to give instead."""
    key = build(fixture_app, only=("dbDump",))
    web = fixture_app / "web"
    with nginx(web, tmp_path / "www", laravel=False) as www:
        elsewhere = f"http://localhost:{www.port}/"
        moved = f"    location / {{ return 301 http://localhost:{www.port}$request_uri; }}\n"
        with nginx(web, tmp_path / "apex", laravel=False, locations=moved) as apex:
            refused = receive(apex.url, key.secret, tmp_path / "refused")
        followed = receive(elsewhere, key.secret, tmp_path / "t")
    assert refused.exit_code == 1
    [line] = refused.output.strip().splitlines()[-1:]
    assert f"refusing redirect from {apex.url}{SESSION}/meta.json.enc to {elsewhere}{SESSION}/meta.json.enc" in line
    assert line.endswith(f"if the site lives at {elsewhere}, give that address with --base-url)"), line
    assert followed.exit_code == 0, followed.output
    assert (tmp_path / "t" / "dbDump.sqlite").read_bytes() == (fixture_app / "data.db").read_bytes()


# ------------------------------------------------------------------------------------------- Apache


#: Modules of Debian's apache2 a site's ``.htaccess`` commonly relies on.
APACHE_MODULES = ("mpm_event", "authz_core", "authz_host", "mime", "dir", "rewrite", "alias", "headers",
                  "setenvif", "deflate", "filter")


@contextlib.contextmanager
def apache(root: Path, work: Path) -> Iterator[str]:
    """Debian's Apache serving ``root`` on a free port of 127.0.0.1 with its default MIME and compression
    settings and ``AllowOverride All`` (the site's ``.htaccess`` applies); yields its base URL."""
    binary = require_tool("apache2", "apache2")
    modules = Path("/usr/lib/apache2/modules")
    work.mkdir(parents=True)
    # Run as root, Apache serves as www-data, which must be able to read the site.
    user = "User www-data\nGroup www-data\n" if os.geteuid() == 0 else ""
    loads = "".join(f"LoadModule {name}_module {modules / f'mod_{name}.so'}\n" for name in APACHE_MODULES)

    def launch(port: int) -> subprocess.Popen[bytes]:
        (work / "httpd.conf").write_text(
            f"{loads}ServerName localhost\nListen 127.0.0.1:{port}\nPidFile {work / 'httpd.pid'}\n"
            f"DefaultRuntimeDir {work}\nErrorLog {work / 'error.log'}\n{user}TypesConfig /etc/mime.types\n"
            "Include /etc/apache2/mods-available/mime.conf\nInclude /etc/apache2/mods-available/deflate.conf\n"
            f"DocumentRoot {root}\n<Directory />\n  AllowOverride None\n  Require all denied\n</Directory>\n"
            f"<Directory {root}>\n  Options FollowSymLinks\n  AllowOverride All\n  Require all granted\n"
            "</Directory>\n")
        return subprocess.Popen([binary, "-f", str(work / "httpd.conf"), "-DFOREGROUND"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    process, port = start_on_free_port(launch, "apache")
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


#: A front controller's rules (Laravel's and WordPress's ``.htaccess``, with a page standing in for PHP), and
#: ``.gz`` files labelled with their coding.
HTACCESS = """\
AddEncoding x-gzip .gz
<IfModule mod_rewrite.c>
    RewriteEngine On
    RewriteCond %{REQUEST_FILENAME} !-d
    RewriteCond %{REQUEST_FILENAME} !-f
    RewriteRule ^ index.html [L]
</IfModule>
"""


def test_apache_with_a_front_controllers_htaccess(tmp_path: Path, register_plugin: Any) -> None:
    """A compressed upload Apache labels ``x-gzip`` arrives as it is stored; one removed since serve (answered
    with the front controller's page) is named missing; the rest arrives, and a re-sync fetches what changed."""
    # Apache's workers (www-data when run as root) must read the site: not below pytest's private folder.
    site = Path(tempfile.mkdtemp(prefix="synco-apache-"))
    try:
        site.chmod(0o755)
        register_plugin(FixturePlugin(), "fixture")
        app = make_app(site / "app")
        web = app / "web"
        (web / ".htaccess").write_text(HTACCESS)
        (web / "index.html").write_text("<!DOCTYPE html>\n<html><body>Welcome</body></html>\n")
        uploads = web / "uploads"
        (uploads / "export.csv.gz").write_bytes(gzip.compress(b"".join(b"%d,row\n" % n for n in range(40_000))))
        gone = max(uploads.rglob("*.bin"), key=lambda path: path.stat().st_size)
        key = build(app, only=("dbDump", "uploads"))
        gone.unlink()
        for path in [site, *site.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0))
        target = tmp_path / "t"
        with apache(web, tmp_path / "apache") as url:
            first = receive(url, key.secret, target)
            (uploads / "export.csv.gz").write_bytes(gzip.compress(b"changed\n" * 30_000, mtime=0))
            (uploads / "export.csv.gz").chmod(0o644)
            again = build(app, session="synco-webservers0123456790", only=("uploads",))
            resync = receive(url, again.secret, target, session="synco-webservers0123456790")
        assert first.exit_code == 1, first.output
        name = gone.relative_to(uploads).as_posix()
        assert f"could not be fetched (the server refused them or no longer has them): {name}" in first.output
        assert (target / "dbDump.sqlite").read_bytes() == (app / "data.db").read_bytes()
        assert resync.exit_code == 0, resync.output
        assert tree_digest(target / "uploads") == expected_uploads(app)
        assert not leftovers(target)
    finally:
        shutil.rmtree(site, ignore_errors=True)


def test_a_cache_in_front_does_not_keep_a_receive_waiting_for_ready(fixture_app: Path, tmp_path: Path) -> None:
    """A receive that starts while the session is built polls the meta; a CDN that took the meta then (nginx
    ``proxy_cache``, 200s kept ten minutes, query strings part of the key as usual) must not hand that copy
    out until it expires: the receive goes on once the session is Ready."""
    key = build(fixture_app, only=("dbDump",))
    meta = fixture_app / "web" / SESSION / META_FILE
    ready = meta.read_bytes()
    folder = SessionFolder(fixture_app / "web" / SESSION, key.recipients)
    folder.write_meta(dataclasses.replace(Meta.from_bytes(age.decrypt_bytes(ready, [age.parse_identity(key.secret)])),
                                          state="Initializing"))
    results: list[Any] = []
    with nginx(fixture_app / "web", tmp_path / "origin", laravel=False) as origin:
        directives = f"  proxy_cache_path {tmp_path / 'cdn-cache'} keys_zone=cdn:1m;\n"
        locations = (f"    location / {{ proxy_pass {origin.url}; proxy_cache cdn; proxy_cache_valid 200 10m; "
                     "proxy_ignore_headers Cache-Control Expires; }\n")
        with nginx(fixture_app / "web", tmp_path / "cdn", laravel=False, directives=directives,
                   locations=locations) as cdn:
            waiting = threading.Thread(target=lambda: results.append(
                receive(cdn.url, key.secret, tmp_path / "t", "--timeout", "15")))
            waiting.start()
            # The receive polls the meta (once a second) while it says Initializing, then the build ends.
            deadline = time.monotonic() + 15
            while sum(META_FILE in path for _method, path, *_rest in cdn.requests()) < 2:
                assert time.monotonic() < deadline, "the receive never asked for the meta"
                time.sleep(0.05)
            meta.write_bytes(ready)
            waiting.join()
    [result] = results
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t" / "dbDump.sqlite").read_bytes() == (fixture_app / "data.db").read_bytes()


def test_a_part_file_resumed_against_a_fallback_page_is_named_missing(fixture_app: Path, tmp_path: Path) -> None:
    """A download cut short leaves a part; by the next run the file is gone from the server, whose fallback page
    answers the ``Range`` with a slice of itself (206). The part and the slice are not the file; downloaded
    whole, the page is recognised, and the file is named missing in this same run."""
    web = fixture_app / "web"
    (web / "index.html").write_text("<!DOCTYPE html>\n<html><body><div id=app></div></body></html>\n" * 2000)
    uploads = web / "uploads"
    gone = max(uploads.rglob("*.bin"), key=lambda path: path.stat().st_size)
    key = build(fixture_app, only=("uploads",))
    content = gone.read_bytes()
    entry = PublicIndexEntry(size_bytes=len(content), mtime=int(gone.stat().st_mtime), public_uri="",
                             sha256=hashlib.sha256(content).hexdigest())
    name = gone.relative_to(uploads).as_posix()
    target = tmp_path / "t"
    part = part_path(target / "uploads" / name, entry)
    part.parent.mkdir(parents=True)
    part.write_bytes(content[:1000])
    gone.unlink()
    with nginx(web, tmp_path / "nginx", laravel=False, locations=SPA) as server:
        result = receive(server.url, key.secret, target)
        asked = [(path, status, ranged) for _method, path, status, _size, ranged in server.requests()
                 if path.endswith(quote(name))]
    assert result.exit_code == 1, result.output
    assert asked == [(f"/uploads/{quote(name)}", 206, "bytes=1000-"), (f"/uploads/{quote(name)}", 200, "")]
    assert f"could not be fetched (the server refused them or no longer has them): {name}" in result.output
    assert not (target / "uploads" / name).exists() and not leftovers(target)


# ------------------------------------------------------------------------------------- request limits


def test_a_site_limiting_requests_and_connections_is_waited_out(fixture_app: Path, tmp_path: Path) -> None:
    """nginx's ``limit_req`` (answering 503 past the rate) and ``limit_conn`` (503 past two busy connections),
    as sites set them against bots: receive pauses and asks again, and gets every file."""
    uploads = fixture_app / "web" / "uploads"
    for number in range(40):
        # Larger than packed files are: each is a request of its own.
        (uploads / "many" / f"{number}.bin").parent.mkdir(exist_ok=True)
        (uploads / "many" / f"{number}.bin").write_bytes(bytes([number]) * (20_000 + number))
    key = build(fixture_app, only=("dbDump", "uploads"))
    limits = ("  limit_req_zone $binary_remote_addr zone=bots:1m rate=40r/s;\n"
              "  limit_conn_zone $binary_remote_addr zone=perip:1m;\n")
    locations = "    location / { limit_req zone=bots burst=5 nodelay; limit_conn perip 2; }\n"
    with nginx(fixture_app / "web", tmp_path / "nginx", laravel=False, directives=limits,
               locations=locations) as server:
        result = receive(server.url, key.secret, tmp_path / "t", "--jobs", "8")
        statuses = [status for _method, _path, status, *_rest in server.requests()]
    assert 503 in statuses, "the limits were reached"
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t" / "dbDump.sqlite").read_bytes() == (fixture_app / "data.db").read_bytes()
    assert tree_digest(tmp_path / "t" / "uploads") == expected_uploads(fixture_app)


@pytest.mark.parametrize(("retry_after", "said"), [("0", "7 times in a row"), ("3600", "and asks to wait 3600 s")])
def test_a_server_that_stays_busy_is_one_line_saying_so(fixture_app: Path, tmp_path: Path, retry_after: str,
                                                        said: str) -> None:
    key = build(fixture_app, only=("dbDump",))
    busy = f"    location / {{ add_header Retry-After {retry_after} always; return 503; }}\n"
    with nginx(fixture_app / "web", tmp_path / "nginx", laravel=False, locations=busy) as server:
        result = receive(server.url, key.secret, tmp_path / "t")
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()[-1:]
    assert f"the server answers HTTP 503 for {server.url}{SESSION}/meta.json.enc {said}: it limits requests" in line
    assert line.endswith("receive again later or with a lower --jobs)"), line
