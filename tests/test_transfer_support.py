"""Shared pieces of the serve/receive tests: a fixture app with its framework plugin, and HTTP servers.

The fixture app is a project folder with a small database file (dumped by an in-test engine that ships
it as a ``SqliteDump``), public files under ``web/uploads`` (some in subfolders, one excluded by a glob,
one set skipped by default), and a private folder. The servers are real HTTP servers on 127.0.0.1: the
built-in ``--listen`` one and a plain static server (Python's ``http.server``) that can misbehave on
purpose (HTML for unknown paths, a connection cut mid-file).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import random
import shutil
import sqlite3
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from synco_core import hookimpl
from synco_core.values import DatabaseConfig, DumpOptions, DumpResult, FileSet, FileSetOptions, Framework, TableManifest

MARKER = "fixture-app.txt"


class FixturePlugin:
    """Detects the fixture app, lists its sets, and dumps its ``fixturedb`` database (a file copied as is).

    With ``engine="sqlite"`` the app's database is the real SQLite file ``app.sqlite``, dumped by the
    built-in SQLite engine instead.
    """

    def __init__(self, engine: str = "fixturedb") -> None:
        self.engine = engine

    @hookimpl
    def detect_framework(self, project_dir: Path) -> Framework | None:
        if not (project_dir / MARKER).exists():
            return None
        return Framework(
            name="Fixture", plugin="fixture", project_dir=project_dir,
            database=DatabaseConfig(engine="sqlite", name=str(project_dir / "app.sqlite")) if self.engine == "sqlite"
            else DatabaseConfig(engine="fixturedb", name=str(project_dir / "data.db")),
            web_root=project_dir / "web", reason=f"{MARKER} found",
        )

    @hookimpl
    def list_file_sets(self, framework: Framework, options: FileSetOptions) -> list[FileSet] | None:
        if framework.plugin != "fixture":
            return None
        web = framework.project_dir / "web"
        return [
            FileSet(name="uploads", kind="public", root=web / "uploads", url_prefix="uploads/",
                    relative_base_path="web/uploads", exclude=("**/*.tmp",)),
            FileSet(name="thumbs", kind="public", root=web / "thumbs", url_prefix="thumbs/",
                    relative_base_path="web/thumbs", smart_skip=True),
            FileSet(name="private", kind="private", root=framework.project_dir / "private",
                    relative_base_path="private"),
        ]

    @hookimpl
    def dump_database(self, database: DatabaseConfig, out: BinaryIO, options: DumpOptions) -> DumpResult | None:
        if database.engine != "fixturedb":
            return None
        with open(database.name, "rb") as handle:
            shutil.copyfileobj(handle, out)
        return DumpResult(engine="fixturedb", wire_type="SqliteDump", format="sqlite", server_version="1.0",
                          tables={"items": TableManifest(rows=3, checksum="abc")},
                          applied_rules=["items.secret -> null"])


def publish(app: Path, session: str, password: str | None = None, work_factor: int = 10,
            expires_at: int | None = None, **options: Any) -> Any:
    """Build session ``session`` of ``app`` in its web root, as serve would; returns its SessionKey.

    A password key gets a low scrypt work factor, which keeps the tests fast (receive accepts up to 2^22).
    """
    from synco_core.detection import detect
    from synco_core.serve import BuildOptions, SessionFolder, SessionKey, build_session
    from synco_core.serve.build import BuildContext

    framework = detect(app)
    key = SessionKey.generate(password, work_factor=work_factor)
    assert framework.web_root is not None
    build_session(framework, SessionFolder(framework.web_root / session, key.recipients), BuildOptions(**options),
                  context=BuildContext(expires_at=expires_at))
    return key


@contextlib.contextmanager
def builtin_transport(web_root: Path) -> Iterator[Any]:
    """An ``HttpTransport`` to serve's own ``--listen`` server for ``web_root`` on 127.0.0.1 and a free port;
    both are closed after the block."""
    from synco_core.receive import HttpTransport
    from synco_core.serve.server import start_server

    server = start_server(web_root, "127.0.0.1:0")
    try:
        transport = HttpTransport(server.url)
        try:
            yield transport
        finally:
            transport.close()
    finally:
        server.stop()


def publish_and_receive(app: Path, session: str, target: Path, serve: dict[str, Any] | None = None,
                        **options: Any) -> Any:
    """Publish ``app`` afresh as ``session`` (``serve``: the build options) and receive it into ``target`` with
    ``ReceiveOptions(target=target, **options)`` over serve's built-in server; returns the ReceiveSummary."""
    from synco_core.receive import ReceiveOptions, receive_session

    shutil.rmtree(app / "web" / session, ignore_errors=True)
    key = publish(app, session, **(serve or {}))
    with builtin_transport(app / "web") as transport:
        return receive_session(transport, session, key.secret, ReceiveOptions(target=target, **options))


def make_app(root: Path, files: int = 12, seed: int = 1) -> Path:
    """Create the fixture app in ``root``; returns ``root``."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("fixture\n")
    (root / "data.db").write_bytes(rng.randbytes(300_000))
    with contextlib.closing(sqlite3.connect(root / "app.sqlite")) as conn, conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, blob BLOB)")
        conn.executemany("INSERT INTO items (name, blob) VALUES (?, ?)",
                         [(f"item {n}", rng.randbytes(100)) for n in range(500)])
    uploads = root / "web" / "uploads"
    for number in range(files):
        path = uploads / f"dir{number % 3}" / f"file {number}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(rng.randint(0, 40_000)))
        os.utime(path, (1_700_000_000 + number, 1_700_000_000 + number))
    (uploads / "skip.tmp").write_bytes(b"not published")
    (uploads / "ünïcode & space.txt").write_text("hello\n")
    thumbs = root / "web" / "thumbs"
    thumbs.mkdir(parents=True)
    (thumbs / "t.jpg").write_bytes(b"thumb")
    (root / "web" / ".env").write_text("SECRET=1\n")
    (root / "web" / "index.php").write_text("<?php $password = 'SECRET';\n")
    private = root / "private"
    (private / "nested" / "deeper").mkdir(parents=True)
    (private / "a.txt").write_text("private a\n")
    (private / "nested" / "b.bin").write_bytes(rng.randbytes(70_000))
    (private / "nested" / "deeper" / "empty").write_bytes(b"")
    (private / "empty-dir").mkdir()
    (private / "link-inside").symlink_to("a.txt")
    return root


def tree_digest(root: Path) -> dict[str, str]:
    """relative path -> sha256 (or ``link:<target>``) of every file under ``root``."""
    result: dict[str, str] = {}
    for current, _dirs, files in os.walk(root):
        for name in files:
            path = Path(current) / name
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                result[relative] = "link:" + os.readlink(path)
            else:
                result[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return result


# ------------------------------------------------------------------------------------------- servers


@dataclass
class StaticBehaviour:
    """How the plain static server misbehaves."""

    #: Unknown paths answer 200 with an HTML page (as many CMS do).
    html_for_missing: bool = False
    #: path -> bytes after which the first GET of that path is cut off.
    cut_after: dict[str, int] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    ranges: list[tuple[str, str]] = field(default_factory=list)
    #: HTTP/1.1 with keep-alive (``http.server`` speaks HTTP/1.0, one request per connection, by default).
    keep_alive: bool = False
    #: client port -> the paths asked for on that connection, in order.
    connections: dict[int, list[str]] = field(default_factory=dict)
    #: (path prefix, barrier): a connection whose first request starts with the prefix waits at the barrier
    #: before it is answered, so a test can prove that N connections are open at once.
    gate: tuple[str, threading.Barrier] | None = None
    #: A content coding applied to every file whatever the request's ``Accept-Encoding`` says, as some CDNs
    #: and proxies do: ``gzip`` compresses (a ``Range`` then selects bytes of the compressed form, answered
    #: 206), any other name is only announced (``br``). ``stored`` sends ``.gz`` files as they are, labelled
    #: ``Content-Encoding: x-gzip`` (Apache's ``AddEncoding x-gzip .gz``, S3 objects stored compressed).
    coding: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class _StaticHandler(SimpleHTTPRequestHandler):
    behaviour: StaticBehaviour

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        with self.behaviour.lock:
            self.behaviour.requests[path] += 1
            seen = self.behaviour.connections.setdefault(self.client_address[1], [])
            seen.append(path)
            first = len(seen) == 1
        gate = self.behaviour.gate
        if first and gate is not None and path.startswith(gate[0]):
            # A broken barrier (too few or too many connections) is the test's to report, not the server's.
            with contextlib.suppress(threading.BrokenBarrierError):
                gate[1].wait()
        if "Range" in self.headers:
            self.behaviour.ranges.append((path, self.headers["Range"]))
        local = Path(self.translate_path(self.path))
        if not local.is_file() and self.behaviour.html_for_missing:
            body = b"<!DOCTYPE html><html><body>Welcome to our site</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        coding = self.behaviour.coding
        if coding is not None and local.is_file() and (coding != "stored" or local.name.endswith(".gz")):
            self._send_coded(local, self.behaviour.cut_after.pop(path, None))
            return
        cut = self.behaviour.cut_after.pop(path, None)
        if cut is not None and local.is_file():
            data = local.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:cut])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)
            return
        super().do_GET()

    def _send_coded(self, local: Path, cut: int | None) -> None:
        coding = "x-gzip" if self.behaviour.coding == "stored" else self.behaviour.coding
        body = gzip.compress(local.read_bytes()) if coding == "gzip" else local.read_bytes()
        status, total = 200, len(body)
        asked = self.headers.get("Range", "")
        if asked.startswith("bytes="):
            first, _, last = asked.removeprefix("bytes=").partition("-")
            start, stop = int(first), min(total, int(last) + 1) if last else total
            body, status = body[start:stop], 206
        self.send_response(status)
        self.send_header("Content-Encoding", str(coding))
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{start + len(body) - 1}/{total}")
        self.end_headers()
        self.wfile.write(body if cut is None else body[:cut])
        if cut is not None:
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)


@contextlib.contextmanager
def static_server(root: Path, behaviour: StaticBehaviour | None = None) -> Iterator[tuple[str, StaticBehaviour]]:
    """Python's ``http.server`` for ``root`` on a free port of 127.0.0.1: yields (base URL, behaviour)."""
    behaviour = behaviour or StaticBehaviour()
    handler = type("Handler", (_StaticHandler,), {
        "behaviour": behaviour, "protocol_version": "HTTP/1.1" if behaviour.keep_alive else "HTTP/1.0"})

    def factory(*args: Any, **kwargs: Any) -> _StaticHandler:
        return handler(*args, directory=str(root), **kwargs)  # type: ignore[no-any-return]

    server = ThreadingHTTPServer(("127.0.0.1", 0), factory)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", behaviour
    finally:
        server.shutdown()
        server.server_close()


SERVE_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from synco_core.plugins import build_plugin_manager, set_plugin_manager
from test_transfer_support import FixturePlugin
manager = build_plugin_manager(load_entrypoints=False)
manager.register(FixturePlugin(), "fixture")
set_plugin_manager(manager)
from synco_core.cli.main import cli
cli(sys.argv[1:], prog_name="synco")
"""


def serve_argv(*args: str) -> list[str]:
    """The command line running ``synco serve`` with the fixture plugin registered, in a subprocess."""
    return [sys.executable, "-c", SERVE_SCRIPT.format(tests=str(Path(__file__).parent)), "serve", *args]


@pytest.fixture(name="fixture_app")
def fixture_app_fixture(tmp_path: Path, register_plugin: Any) -> Path:
    """The fixture app in a temporary folder, its plugin registered (import this to use ``fixture_app``)."""
    register_plugin(FixturePlugin(), "fixture")
    return make_app(tmp_path / "app")


def test_fixture_app_detected(fixture_app: Path) -> None:
    from synco_core.detection import detect

    framework = detect(fixture_app)
    assert framework.name == "Fixture"
    assert framework.web_root == fixture_app / "web"
