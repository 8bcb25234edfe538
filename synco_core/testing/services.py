"""Integration fixtures: throw-away databases on the local servers, a static web server, PHP on and off.

These are the fixtures synco's own suite runs on, and its plugins' integration tests; a third-party plugin
that runs the same kind of tests (a real database, the real ``php``, serve -> receive -> install) uses them
too. They are a pytest plugin of their own, apart from the plugin-author API of :mod:`synco_core.testing`:
enable them with ``-p synco_core.testing.services``.

- ``mysql_url`` / ``postgres_url``: a uniquely named throw-away database on the local server, dropped
  afterwards (``mysql_database_factory`` / ``postgres_database_factory`` for as many as needed). The servers
  are found through ``SYNCO_TEST_MYSQL_HOST``/``_PORT``/``_USER``/``_PASSWORD`` and
  ``SYNCO_TEST_POSTGRES_HOST``/``_PORT``/``_USER`` (default: 127.0.0.1, root / postgres, no password).
- Whatever a test needs from outside the code goes through :func:`unavailable` when it is missing: a
  server that does not answer, a command (:func:`require_tool`, or the :func:`needs_tool` mark), a Python
  module (:func:`require_module`). The test is then skipped, except under ``CI=true``, where it fails: CI
  must never pass with tests skipped.
- ``web_server``: ``web_server(root)`` serves a web root with a plain static HTTP server on 127.0.0.1;
  ``nginx_server(root)`` does the same with a real nginx (:class:`Nginx`).
- Every test gets a cache folder of its own (``$SYNCO_CACHE_DIR``), so serve's hash cache never lands in
  the user's real cache and no test sees another's.
- For PHP frameworks, which plugins read through the ``php`` CLI where there is one and from the files
  where there is not: ``php_mode`` runs a test twice (``"php"``, which needs the CLI, and ``"files"`` with
  PHP hidden), ``no_php`` hides PHP for one test, ``needs_php`` marks a test that needs the CLI.
- ``s3_bucket``: a stand-in S3 bucket on 127.0.0.1 answering ``ListObjectsV2`` (signed requests only), for
  plugins that list a bucket with :func:`synco_core.s3_public_entries`.
- :func:`serve_receive_install`: the whole round trip through the command line, as a user runs it;
  :func:`install_into_empty_copy`: a dump installed into a fresh database of its engine (does it load?).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import importlib
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import pytest

from synco_core import redaction

if TYPE_CHECKING:
    from synco_core.plugins import SyncoPluginManager
    from synco_core.values import DatabaseConfig, DumpResult, InstallResult

MYSQL_HOST = os.environ.get("SYNCO_TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("SYNCO_TEST_MYSQL_PORT", "3306"))
MYSQL_USER = os.environ.get("SYNCO_TEST_MYSQL_USER", "root")
MYSQL_PASSWORD = os.environ.get("SYNCO_TEST_MYSQL_PASSWORD", "")
POSTGRES_HOST = os.environ.get("SYNCO_TEST_POSTGRES_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("SYNCO_TEST_POSTGRES_PORT", "5432"))
POSTGRES_USER = os.environ.get("SYNCO_TEST_POSTGRES_USER", "postgres")


@pytest.fixture(autouse=True)
def _private_synco_cache(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setenv("SYNCO_CACHE_DIR", str(tmp_path_factory.mktemp("synco-cache")))


@pytest.fixture(autouse=True)
def _secrets_of_this_test_only() -> Iterator[None]:
    with redaction.secrets_isolated():
        yield


def in_ci() -> bool:
    """True under ``CI=true`` (or ``1``, ``yes``): where a test must never be skipped."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> NoReturn:
    """Skip the test with ``reason``, or fail it under CI.

    The one way a test gives up for want of something outside the code (a server, a command, a module,
    a feature of the platform): on a laptop it is skipped and counted in the summary; under ``CI=true``
    it fails, so that CI can never pass with tests skipped.
    """
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a test may not be skipped for want of a server or tool)")
    pytest.skip(reason)


#: Where Debian keeps daemons (sshd), which an ordinary PATH does not reach.
_SYSTEM_DIRECTORIES = ("/usr/sbin", "/sbin")


def require_tool(name: str, package: str, *alternatives: str) -> str:
    """The path of command ``name`` (or of the first of ``alternatives`` found); :func:`unavailable` when
    none is installed, naming the Debian ``package`` that has it."""
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), *_SYSTEM_DIRECTORIES])
    for candidate in (name, *alternatives):
        path = shutil.which(candidate, path=search)
        if path is not None:
            return path
    unavailable(f"the {name} command is not installed (apt-get install {package})")


def require_module(name: str, hint: str) -> Any:
    """The module ``name`` imported; :func:`unavailable` when it is not installed (``hint``: how to get it)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        unavailable(f"the Python module {name} is not installed ({hint})")


def needs_tool(name: str, package: str, *alternatives: str) -> pytest.MarkDecorator:
    """Mark a test (or, as ``pytestmark``, a module) as needing command ``name``: checked with
    :func:`require_tool` when the test runs, so it is skipped without it, and fails under CI."""
    return pytest.mark.needs_tool(name, package, *alternatives)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_tool(name, package, *alternatives): the test runs command NAME "
                                       "(from Debian PACKAGE); skipped without it, a failure under CI=true")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs_tool"):
        require_tool(*mark.args)


def unique_name(prefix: str = "synco_test") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def mysql_admin_connection(database: str | None = None):  # type: ignore[no-untyped-def]
    import pymysql

    from synco_core.values import is_loopback_host

    try:
        # PyMySQL 1.2 tries TLS unless told not to, and builds a context with the system's CA certificates
        # for every connection (40 ms of CPU, 60 times the connection itself): the tests open thousands.
        # To a loopback server TLS buys nothing, as synco's own connections judge (engines/mysql/connect.py).
        return pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER, password=MYSQL_PASSWORD,
                               database=database, autocommit=True, charset="utf8mb4",
                               ssl_disabled=is_loopback_host(MYSQL_HOST))
    except pymysql.err.OperationalError as exc:
        unavailable(f"MariaDB/MySQL not reachable at {MYSQL_HOST}:{MYSQL_PORT}: {exc}")
        raise


def mysql_url_for(name: str) -> str:
    auth = MYSQL_USER + (f":{MYSQL_PASSWORD}" if MYSQL_PASSWORD else "")
    return f"mysql://{auth}@{MYSQL_HOST}:{MYSQL_PORT}/{name}"


def postgres_admin_connection(database: str = "postgres"):  # type: ignore[no-untyped-def]
    import psycopg

    try:
        return psycopg.connect(host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, dbname=database,
                               autocommit=True)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL not reachable at {POSTGRES_HOST}:{POSTGRES_PORT}: {exc}")
        raise


def postgres_url_for(name: str) -> str:
    return f"postgresql://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"


def create_mysql_database(name: str | None = None) -> str:
    """A new, empty MySQL database (utf8mb4) named ``name``, or a unique name; its name."""
    name = name or unique_name()
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        conn.close()
    return name


def drop_mysql_databases(names: Iterable[str]) -> None:
    """Drop ``names`` and the scratch and backup databases installers created named after them."""
    names = list(names)
    if not names:
        return
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES")
            for (existing,) in cur.fetchall():
                if existing.startswith(tuple(names)):
                    cur.execute(f"DROP DATABASE IF EXISTS `{existing}`")
    finally:
        conn.close()


@contextlib.contextmanager
def mysql_database(name: str | None = None) -> Iterator[str]:
    """A throw-away MySQL database for the block (a module-scoped fixture's; ``mysql_database_factory`` is a
    test's), dropped afterwards with what installers named after it."""
    name = create_mysql_database(name)
    try:
        yield name
    finally:
        drop_mysql_databases([name])


@pytest.fixture
def mysql_database_factory() -> Iterator[Callable[[], str]]:
    """Creates throw-away MySQL databases (returns their names); all are dropped afterwards."""
    created: list[str] = []

    def create() -> str:
        created.append(create_mysql_database())
        return created[-1]

    yield create
    drop_mysql_databases(created)


@pytest.fixture
def mysql_url(mysql_database_factory: Callable[[], str]) -> str:
    """URL of a fresh, empty MySQL database, dropped after the test."""
    return mysql_url_for(mysql_database_factory())


class PostgresDatabases:
    """Throw-away PostgreSQL databases for a test, a module or a benchmark: :meth:`create` makes one (running
    ``script`` in it, statements without parameters), :meth:`drop_all` drops them all with the scratch and
    backup databases installers named after them. The ``postgres_database_factory`` fixture is its ``create``
    for one test; a module-scoped fixture holds one itself and calls ``drop_all`` in its ``finally``."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def create(self, script: str = "") -> str:
        name = unique_name()
        conn = postgres_admin_connection()
        try:
            conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        self.created.append(name)
        if script:
            with postgres_admin_connection(name) as conn:
                conn.execute(script)
        return name

    def drop_all(self) -> None:
        drop_postgres_databases(self.created)
        self.created.clear()


@pytest.fixture
def postgres_database_factory() -> Iterator[Callable[..., str]]:
    """Creates throw-away PostgreSQL databases (returns their names; an optional ``script`` of statements is
    run in each); all are dropped afterwards."""
    databases = PostgresDatabases()
    try:
        yield databases.create
    finally:
        databases.drop_all()


def postgres_databases_starting_with(prefix: str) -> set[str]:
    """The names of the databases on the PostgreSQL test server that start with ``prefix`` (a throw-away
    database and the scratch or backup copies an installer named after it)."""
    conn = postgres_admin_connection()
    try:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)",
                                               (prefix,))}
    finally:
        conn.close()


def drop_postgres_databases(names: Iterable[str]) -> None:
    """Drop these databases, and the scratch and backup databases installers named after them."""
    names = list(names)
    if not names:
        return
    conn = postgres_admin_connection()
    try:
        for name in names:
            for db in postgres_databases_starting_with(name):
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    finally:
        conn.close()


@pytest.fixture
def postgres_url(postgres_database_factory: Callable[[], str]) -> str:
    """URL of a fresh, empty PostgreSQL database, dropped after the test."""
    return postgres_url_for(postgres_database_factory())


def database_from_script(engine: str, statements: Sequence[str], request: pytest.FixtureRequest, sqlite_path: Path,
                         *, mysql_sql_mode: str | None = None) -> DatabaseConfig:
    """A throw-away database of ``engine`` (``mysql``, ``postgresql`` or ``sqlite``) made by running
    ``statements``, SQL as that engine reads it, without parameters. MySQL and PostgreSQL ones come from the
    ``*_database_factory`` fixtures (dropped after the test), a SQLite one is the file ``sqlite_path``;
    ``mysql_sql_mode`` is added to the MySQL session's mode first (``ANSI_QUOTES`` for double-quoted names)."""
    from synco_core import DatabaseConfig, parse_database_url

    if engine == "sqlite":
        lite = sqlite3.connect(sqlite_path)
        try:
            with lite:
                for statement in statements:
                    lite.execute(statement)
        finally:
            lite.close()
        return DatabaseConfig(engine="sqlite", name=str(sqlite_path))
    if engine == "mysql":
        name = request.getfixturevalue("mysql_database_factory")()
        conn = mysql_admin_connection(name)
        try:
            with conn.cursor() as cur:
                if mysql_sql_mode:
                    cur.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, %s)", ("," + mysql_sql_mode,))
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()
        return parse_database_url(mysql_url_for(name))
    name = request.getfixturevalue("postgres_database_factory")()
    with postgres_admin_connection(name) as pg:
        for statement in statements:
            pg.execute(statement)
    return parse_database_url(postgres_url_for(name))


def install_into_empty_copy(database: DatabaseConfig, dump: Path, result: DumpResult, request: pytest.FixtureRequest,
                            sqlite_path: Path, manager: SyncoPluginManager | None = None) -> InstallResult:
    """Install ``dump`` (written by a dump of ``database`` that returned ``result``) into a new, empty
    throw-away database of the same engine, as ``receive --install`` would: what a sanitising test checks last,
    that the masked values still fit their columns (NOT NULL, UNIQUE, JSON, types) and the dump loads. MySQL
    and PostgreSQL copies come from the ``*_database_factory`` fixtures; a SQLite one is ``sqlite_path``."""
    import dataclasses

    from synco_core import InstallOptions, parse_database_url
    from synco_core.plugins import get_plugin_manager

    if database.engine == "sqlite":
        target = parse_database_url(f"sqlite:///{sqlite_path}")
    else:
        fixture = "mysql_database_factory" if database.engine == "mysql" else "postgres_database_factory"
        target = dataclasses.replace(database, name=request.getfixturevalue(fixture)())
    options = InstallOptions(format=result.format, yes=True, manifest=result.tables)
    with dump.open("rb") as stream:
        installed: InstallResult | None = (manager or get_plugin_manager()).hook.install_database(
            database=target, dump=stream, options=options)
    assert installed is not None, f"no engine installed the {database.engine} dump"
    return installed


class _QuietStaticHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def web_server() -> Iterator[Callable[[Path], str]]:
    """``web_server(root)``: a plain static HTTP server for ``root`` on 127.0.0.1 and a free port, as a
    production web server would serve a web root; returns its base URL. Stopped after the test."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(root: Path) -> str:
        handler = functools.partial(_QuietStaticHandler, directory=str(root))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now (another process may take it before a server binds
    it: start the server in a loop, and know it started by :func:`listens`, not by a connection alone)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A TCP port of 127.0.0.1 that refuses connections for as long as the block runs: held bound but not
    listening, so no other process's server can take it meanwhile (a port found free, then let go, may be)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


def _listening_sockets(port: int) -> set[str]:
    """The ``socket:[inode]`` names of the TCP sockets listening on ``port`` (any address), from /proc."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table, encoding="ascii") as rows:
            next(rows, None)
            for row in rows:
                fields = row.split()
                # local address "ADDR:PORT" in hex, state 0A is LISTEN, the inode is the tenth field.
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    found.add(f"socket:[{fields[9]}]")
    return found


def listens(pid: int, port: int) -> bool:
    """True when process ``pid`` (or one of its descendants) holds a socket listening on TCP ``port``.

    A connection to the port only shows that something listens there: when another test's server took the
    port first, the one started for it has failed (or is failing) to bind, and the connection reaches the
    other one."""
    sockets = _listening_sockets(port)
    pending, seen = [pid], set()
    while sockets and pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{current}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{current}/fd/{fd}") in sockets:
                        return True
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with contextlib.suppress(OSError), open(f"/proc/{current}/task/{task}/children") as children:
                    pending.extend(int(child) for child in children.read().split())
    return False


def nginx_binary() -> str | None:
    """The nginx executable (Debian package ``nginx``), or None."""
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)


#: The server block Laravel's deployment guide recommends (``try_files`` to ``index.php``, dotfiles denied with
#: 403), minus PHP-FPM: a request that would reach ``index.php`` gets the 404 an application answers for an
#: unknown path.
_LARAVEL_LOCATIONS = """\
    add_header X-Frame-Options "SAMEORIGIN";
    add_header X-Content-Type-Options "nosniff";
    index index.php;
    charset utf-8;
    location / { try_files $uri $uri/ /index.php?$query_string; }
    location = /favicon.ico { access_log off; log_not_found off; }
    location = /robots.txt { access_log off; log_not_found off; }
    error_page 404 /index.php;
    location ~ ^/index\\.php(/|$) { return 404; }
    location ~ /\\.(?!well-known).* { deny all; }
"""


class Nginx:
    """A throw-away nginx serving ``root`` on a free port of 127.0.0.1, stopped by :meth:`stop`.

    By default the plain static configuration a site uses for uploads (``sendfile``, kept-alive
    connections, ``Range`` requests, no access log). ``laravel`` gives Laravel's recommended server block
    instead (dotfiles answer 403, unknown paths 404); ``limit_rate`` (``4m``: 4 MB/s per connection) slows
    downloads down for tests that interrupt them; ``log_requests`` keeps an access log that
    :meth:`requests` reads (method, path, status, bytes, ``Range``). Everything nginx writes stays in
    ``work``; ``extra_address`` makes it listen on that address too (the benchmarks' network namespace).
    ``directives`` go into the ``http`` block (``gzip on; max_ranges 0;``), ``locations`` replace the
    server's locations (``location / { try_files $uri /index.html; }``), as sites configure them. With
    ``tls`` (certificate and key files) it speaks HTTPS, offering HTTP/2. ``worker_user`` (run as root
    only) has the workers read the site as that user, ``www-data`` as Debian's nginx does.
    """

    def __init__(self, root: Path, work: Path, extra_address: str | None = None, *, laravel: bool = False,
                 limit_rate: str | None = None, log_requests: bool = False, directives: str = "",
                 locations: str | None = None, tls: tuple[Path, Path] | None = None,
                 worker_user: str | None = None) -> None:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed (apt-get install nginx)")
        base = work / "nginx"
        self.state = base
        self.scheme = "https" if tls else "http"
        shutil.rmtree(base, ignore_errors=True)
        (base / "tmp").mkdir(parents=True)
        # Workers run as the invoking user: as root, nginx would otherwise switch to "nobody", who may not
        # read a folder under /root.
        # worker_user: the workers as another user (www-data), as a distribution's nginx runs them.
        user = f"user {worker_user or 'root root'};\n" if os.geteuid() == 0 else ""
        temp_paths = "".join(f"  {name}_temp_path {base / 'tmp' / name};\n"
                             for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        logging = (f"  log_format synco '$request_method|$request_uri|$status|$body_bytes_sent|$http_range';\n"
                   f"  access_log {base / 'access.log'} synco;\n") if log_requests else "  access_log off;\n"
        if locations is None:
            locations = _LARAVEL_LOCATIONS if laravel else "    location / { }\n"
        rate = f"    limit_rate {limit_rate};\n" if limit_rate else ""
        error = ""
        # A free port found here may be taken by another process before nginx binds it: a few attempts.
        for _attempt in range(5):
            self.port = free_port()
            secure = " ssl http2" if tls else ""
            listens = f"    listen 127.0.0.1:{self.port}{secure};\n"
            if extra_address:
                listens += f"    listen {extra_address}:{self.port}{secure};\n"
            if tls:
                listens += f"    ssl_certificate {tls[0]};\n    ssl_certificate_key {tls[1]};\n"
            config = base / "nginx.conf"
            config.write_text(
                f"{user}worker_processes 2;\npid {base / 'nginx.pid'};\nerror_log {base / 'error.log'} warn;\n"
                "events { worker_connections 1024; }\n"
                f"http {{\n{logging}  sendfile on;\n  tcp_nopush on;\n  tcp_nodelay on;\n"
                "  keepalive_requests 100000;\n  keepalive_timeout 65;\n  default_type application/octet-stream;\n"
                f"{temp_paths}{directives}\n"
                f"  server {{\n{listens}    server_name _;\n    root {root};\n{rate}{locations}  }}\n}}\n"
            )
            self.process = subprocess.Popen([binary, "-c", str(config), "-p", str(base), "-g", "daemon off;"],
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE)
            error = self._wait_listening()
            if not error:
                return
            if "Address already in use" not in error:
                break
        raise RuntimeError(f"nginx did not start: {error.strip()}")

    def _wait_listening(self) -> str:
        """"" once nginx accepts connections, else what it said before it ended."""
        # The bound only catches a hang: a loaded machine may take seconds to start it.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                said = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                log = self.state / "error.log"
                return said + (log.read_text(errors="replace") if log.exists() else "") or "it ended"
            # Its own listener, not another server's that took the port first.
            if listens(self.process.pid, self.port):
                return ""
            time.sleep(0.05)
        self.stop()
        return "it did not start listening"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/"

    def requests(self) -> list[tuple[str, str, int, int, str]]:
        """The access log so far (``log_requests``): (method, path as requested, status, body bytes, Range or "")."""
        entries = []
        log = self.state / "access.log"
        for line in log.read_text().splitlines() if log.exists() else []:
            method, path, status, size, asked = line.split("|", 4)
            entries.append((method, path, int(status), int(size), "" if asked == "-" else asked))
        return entries

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGQUIT is nginx's graceful stop: the workers finish what they send, then all exit.
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()


@contextlib.contextmanager
def nginx(root: Path, work: Path, *, laravel: bool = True, limit_rate: str | None = None,
          log_requests: bool = True, directives: str = "", locations: str | None = None,
          tls: tuple[Path, Path] | None = None, worker_user: str | None = None) -> Iterator[Nginx]:
    """:class:`Nginx` for the length of a ``with`` block: Laravel's server block and an access log unless
    told otherwise. Missing nginx skips the test, or fails it under ``CI=true``."""
    if nginx_binary() is None:
        unavailable("nginx is not installed (apt-get install nginx)")
    server = Nginx(root, work, laravel=laravel, limit_rate=limit_rate, log_requests=log_requests,
                   directives=directives, locations=locations, tls=tls, worker_user=worker_user)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def nginx_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[Path], str]]:
    """``nginx_server(root)``: a real nginx serving ``root`` on 127.0.0.1 (see :class:`Nginx`); returns its
    base URL. Missing nginx skips the test, or fails it under ``CI=true``. Stopped after the test."""
    if nginx_binary() is None:
        unavailable("nginx is not installed (apt-get install nginx)")
    servers: list[Nginx] = []

    def start(root: Path) -> str:
        server = Nginx(root, tmp_path_factory.mktemp("nginx"))
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()


@dataclass
class FakeBucket:
    """What the ``s3_bucket`` fixture serves and saw: change ``objects`` before listing."""

    #: The server's URL, for ``S3Location(endpoint=..., path_style=True)``.
    endpoint: str
    #: ``(key, size)`` of every object, in the order S3 lists them (by key).
    objects: list[tuple[str, int]] = field(default_factory=list)
    #: Keys per page, so a small bucket already needs continuation tokens.
    page_size: int = 2
    #: The access key a request must be signed with; None answers anonymous requests too.
    access_key: str | None = "AKIDEXAMPLE"
    #: The query of every listing request received.
    requests: list[dict[str, list[str]]] = field(default_factory=list)


class _BucketHandler(http.server.BaseHTTPRequestHandler):
    bucket: FakeBucket

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        bucket = self.bucket
        bucket.requests.append(query)
        auth = self.headers.get("authorization", "")
        signed = auth.startswith(f"AWS4-HMAC-SHA256 Credential={bucket.access_key}/") and "x-amz-date" in self.headers
        if bucket.access_key is not None and not signed:
            self._answer(403, "<Error><Code>AccessDenied</Code></Error>")
            return
        prefix = query.get("prefix", [""])[0]
        matching = [(key, size) for key, size in bucket.objects if key.startswith(prefix)]
        start = int(query.get("continuation-token", ["0"])[0])
        page = matching[start:start + bucket.page_size]
        more = start + bucket.page_size < len(matching)
        items = "".join(f"<Contents><Key>{escape(key)}</Key><Size>{size}</Size>"
                        "<LastModified>2024-03-01T12:00:00.000Z</LastModified></Contents>" for key, size in page)
        token = f"<NextContinuationToken>{start + bucket.page_size}</NextContinuationToken>" if more else ""
        self._answer(200, '<?xml version="1.0" encoding="UTF-8"?>'
                          '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                          f"<IsTruncated>{'true' if more else 'false'}</IsTruncated>{items}{token}</ListBucketResult>")

    def _answer(self, status: int, body: str) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/xml")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def s3_bucket() -> Iterator[FakeBucket]:
    """A stand-in S3 bucket on 127.0.0.1 (path-style, any bucket name) answering ``ListObjectsV2``: pages of
    ``page_size`` keys with continuation tokens, requests not signed with ``access_key`` refused with 403
    ``AccessDenied``, as S3 does. Stopped after the test."""
    bucket = FakeBucket(endpoint="")
    # A handler class of its own per bucket: the server builds a handler per request and knows no state.
    handler = type("BucketHandler", (_BucketHandler,), {"bucket": bucket})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    bucket.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield bucket
    server.shutdown()
    server.server_close()


def serve_receive_install(source: Path, base_url: str, received: Path, project: Path,
                          serve_args: Sequence[str] = ()) -> None:
    """The whole round trip through the CLI, as a user runs it: ``synco serve --keep`` in ``source``,
    ``synco receive`` from ``base_url`` into ``received``, then ``synco install`` into ``project``.

    Each step must exit 0; a failure shows that step's output. The session folder is left in the web
    root (``--keep``), which the test's temporary directory removes.
    """
    from click.testing import CliRunner

    from synco_core.cli.main import cli

    runner = CliRunner()
    previous = Path.cwd()
    os.chdir(source)
    try:
        served = runner.invoke(cli, ["serve", "--keep", *serve_args])
    finally:
        os.chdir(previous)
    assert served.exit_code == 0, served.output
    match = re.search(r"synco receive (\S+) (AGE-SECRET-KEY-\S+)", served.output)
    assert match, served.output
    got = runner.invoke(cli, ["receive", match.group(1), match.group(2), "--base-url", base_url, "--all",
                              "--target", str(received), "--timeout", "30"])
    assert got.exit_code == 0, got.output
    installed = runner.invoke(cli, ["install", str(received), "--project", str(project), "--yes"])
    assert installed.exit_code == 0, installed.output


# ------------------------------------------------------------------------------------------------ PHP

#: The test runs the ``php`` CLI: skipped without it, a failure under CI.
needs_php = needs_tool("php", "php-cli")


def hide_php(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Point PATH at an empty folder and unset ``$PHP``, so no PHP interpreter can be found."""
    empty = tmp_path / "no-php-bin"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("PHP", raising=False)


@pytest.fixture
def no_php(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """PHP hidden from PATH for this test: the plugin has to read the configuration files itself."""
    hide_php(monkeypatch, tmp_path)


@pytest.fixture(params=["php", "files"])
def php_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Runs a test twice: with the real ``php`` CLI (skipped without one, a failure under CI), and with
    PHP hidden."""
    monkeypatch.delenv("PHP", raising=False)
    if request.param == "php":
        require_tool("php", "php-cli")
    else:
        hide_php(monkeypatch, tmp_path)
    return str(request.param)
