"""The ``serve --listen`` HTTP server: the web root over GET, HEAD and Range requests, nothing more.

It exists for hosts whose web server should not be touched (or that have none). Deliberately small:
no directory listings, no index pages, no dotfiles (``.env``, ``.htaccess``, the TTL marker), no ``..``.

A real web server executes ``index.php``; this one would hand out its source, and a web root can hold
secrets that way (WordPress keeps ``wp-config.php`` there). So ``serve`` gives it an :class:`AllowList`:
the session folders and exactly the public files its indexes name, nothing else. Without an allow list
(other callers), server-side sources and configuration files are still refused by extension.
Files are sent with ``sendfile`` and connections are kept alive, so the receiver's parallel downloads
are not limited by the server.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import threading
from collections.abc import Callable, Iterable
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from synco_core.errors import ConfigError

log = logging.getLogger(__name__)

_RANGE = re.compile(r"bytes=(\d*)-(\d*)\Z")

#: ``on_request(method, path, status)`` is called after every request (tests count requests with it).
RequestHook = Callable[[str, str, int], None]

#: Never served without an allow list: sources a web server would execute, and configuration.
REFUSED_SUFFIXES = (".php", ".phtml", ".phar", ".inc", ".cgi", ".pl", ".py", ".rb", ".sh", ".asp", ".aspx",
                    ".jsp", ".ini", ".env", ".yml", ".yaml", ".sql", ".sqlite", ".db", ".log", ".bak", ".config")


class AllowList:
    """The paths (relative to the web root, decoded) the server may send; thread-safe to extend."""

    def __init__(self) -> None:
        self._prefixes: set[str] = set()
        self._paths: set[str] = set()
        self._lock = threading.Lock()

    def add_prefix(self, folder: str) -> None:
        """Everything below ``folder`` (a session folder)."""
        with self._lock:
            self._prefixes.add(folder.strip("/") + "/")

    def add_paths(self, paths: Iterable[str]) -> None:
        with self._lock:
            self._paths.update(path.lstrip("/") for path in paths)

    def allows(self, path: str) -> bool:
        if path in self._paths:
            return True
        return any(path.startswith(prefix) for prefix in self._prefixes)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 gives keep-alive; every response carries a Content-Length so the connection can be reused.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes (the body by sendfile); with Nagle's algorithm on, the second
    # write waits for the client's delayed ACK, 40 ms per request on a kept-alive connection.
    disable_nagle_algorithm = True
    server: WebRootServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _reply_empty(self, status: HTTPStatus, headers: dict[str, str] | None = None) -> None:
        body = f"{status.value} {status.phrase}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._report(status.value)

    def _report(self, status: int) -> None:
        hook = self.server.on_request
        if hook is not None:
            hook(self.command, urlsplit(self.path).path, status)

    def _resolve(self) -> Path | None:
        path = unquote(urlsplit(self.path).path)
        parts = [part for part in path.split("/") if part]
        for part in parts:
            if part in (".", "..") or part.startswith(".") or "\x00" in part or "\\" in part:
                return None
        if not parts:
            return None
        allow = self.server.allow
        if allow is not None:
            if not allow.allows("/".join(parts)):
                return None
        elif parts[-1].lower().endswith(REFUSED_SUFFIXES):
            return None
        return self.server.root.joinpath(*parts)

    def _serve(self, body: bool) -> None:
        target = self._resolve()
        try:
            handle = open(target, "rb") if target is not None else None  # noqa: SIM115 - closed below
        except OSError:
            handle = None
        if handle is None:
            self._reply_empty(HTTPStatus.NOT_FOUND)
            return
        with handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                # Directories: no listings, ever.
                self._reply_empty(HTTPStatus.NOT_FOUND)
                return
            size = info.st_size
            start, end = 0, size - 1
            status = HTTPStatus.OK
            range_header = self.headers.get("Range")
            if range_header:
                match = _RANGE.match(range_header.strip())
                if match and (match.group(1) or match.group(2)):
                    if match.group(1):
                        start = int(match.group(1))
                        end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
                    else:
                        start = max(size - int(match.group(2)), 0)
                    if start >= size or start > end:
                        self._reply_empty(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                                          {"Content-Range": f"bytes */{size}"})
                        return
                    status = HTTPStatus.PARTIAL_CONTENT
            length = max(end - start + 1, 0)
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Last-Modified", formatdate(info.st_mtime, usegmt=True))
            if status == HTTPStatus.PARTIAL_CONTENT:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            if body and length:
                self.wfile.flush()
                self.connection.sendfile(handle, start, length)
            self._report(status.value)


class WebRootServer(ThreadingHTTPServer):
    """A threading HTTP server for one folder."""

    daemon_threads = True
    # Many parallel connections from one receiver arrive at once.
    request_queue_size = 128

    def __init__(self, root: Path, address: tuple[str, int], on_request: RequestHook | None = None,
                 allow: AllowList | None = None) -> None:
        self.root = root
        self.on_request = on_request
        self.allow = allow
        super().__init__(address, _Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = str(host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}/"

    def start(self) -> None:
        """Serve on a background thread."""
        # A short poll interval makes stop() quick; the loop's cost at 10 wake-ups a second is nil.
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="synco-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` or ``PORT`` -> (host, port); the host defaults to all interfaces."""
    host, _, port_text = value.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(f"--listen expects HOST:PORT, not {value!r}") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"--listen port out of range: {port}")
    return host, port


def start_server(root: Path, listen: str, on_request: RequestHook | None = None,
                 allow: AllowList | None = None) -> WebRootServer:
    """Start serving ``root`` on ``listen`` in the background; the port may be 0 (any free port)."""
    host, port = parse_listen(listen)
    try:
        server = WebRootServer(root, (host, port), on_request, allow)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
    server.start()
    return server
