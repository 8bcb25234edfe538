"""The ``serve --listen`` HTTP server: the web root over GET, HEAD and Range requests, nothing more.

It exists for hosts whose web server should not be touched (or that have none). Deliberately small:
no directory listings, no index pages, no dotfiles (``.env``, ``.htaccess``, the TTL marker), no ``..``.

A real web server executes ``index.php``; this one would hand out its source, and a web root can hold
secrets that way (WordPress keeps ``wp-config.php`` there). So ``serve`` gives it an :class:`AllowList`:
the session folders and exactly the public files its indexes name, nothing else. A public file is sent
only while its path still leads to the very file serve indexed (same device and inode): this server runs
as the deploy user, and whoever can write the uploads folder (the web server's user) could otherwise put a
link to ``.env`` or ``~/.ssh/id_rsa`` in an indexed file's place, or its folder's, and fetch it. Without an
allow list (other callers), server-side sources and configuration files are still refused by extension.
Files are sent with ``sendfile`` and connections are kept alive, so the receiver's parallel downloads
are not limited by the server.
"""

from __future__ import annotations

import json
import logging
import os
import re
import select
import socket
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from synco_core.beneath import BelowRoot
from synco_core.errors import ConfigError
from synco_core.index.extsort import DigestSet
from synco_core.tempfolder import temp_root
from synco_core.urltext import shown_url, split_url

log = logging.getLogger(__name__)

_RANGE = re.compile(r"bytes=(\d*)-(\d*)\Z")

#: ``on_request(method, path, status)`` is called after every request (tests count requests with it).
RequestHook = Callable[[str, str, int], None]

#: Never served without an allow list: sources a web server would execute, and configuration.
REFUSED_SUFFIXES = (".php", ".phtml", ".phar", ".inc", ".cgi", ".pl", ".py", ".rb", ".sh", ".asp", ".aspx",
                    ".jsp", ".ini", ".env", ".yml", ".yaml", ".sql", ".sqlite", ".db", ".log", ".bak", ".config")


class AllowList:
    """The paths (relative to the web root, decoded) the server may send; thread-safe to extend.

    The paths of a public set are collected on disk (:meth:`add_set_path`) and, once the set is written
    (:meth:`seal_set`), kept as a sorted file of digests searched per request, so a set of a million
    files costs no memory here. :meth:`add_paths` keeps a few paths in memory instead.

    A set's path is kept twice: alone (:meth:`may_open`, asked before the file is opened) and with the
    (device, inode) of the file serve indexed (:meth:`allows_file`, asked of what was opened). An entry
    without one (serve could not stat its file) is never sent.
    """

    def __init__(self, work_dir: Path | None = None) -> None:
        self.work_dir = work_dir
        self._prefixes: set[str] = set()
        #: Session folder prefix -> the folder, held open: its files are read below it, no link followed.
        self._sessions: dict[str, BelowRoot] = {}
        self._paths: set[str] = set()
        self._sets: list[DigestSet] = []
        self._collecting: dict[str, tuple[Path, IO[bytes]]] = {}
        self._lock = threading.Lock()

    def add_prefix(self, folder: str, path: Path | None = None) -> None:
        """Everything below ``folder`` (a session folder, relative to the web root).

        With ``path`` (the folder on disk, as serve made it) its files are read through a descriptor of
        that folder without following a link: a web root the web server's user may write (WordPress's
        often is) lets that user see the session's name, rename the folder and put one of their own in its
        place, holding links to the deploy user's secrets.
        """
        prefix = folder.strip("/") + "/"
        below = BelowRoot(path) if path is not None else None
        with self._lock:
            self._prefixes.add(prefix)
            if below is not None:
                self._sessions[prefix] = below

    def session_file(self, path: str) -> tuple[BelowRoot, str] | None:
        """The held session folder ``path`` is in, and the path below it; None for other paths."""
        for prefix, below in self._sessions.items():
            if path.startswith(prefix):
                return below, path[len(prefix):]
        return None

    def add_paths(self, paths: Iterable[str]) -> None:
        with self._lock:
            self._paths.update(path.lstrip("/") for path in paths)

    def add_set_path(self, set_name: str, path: str, identity: tuple[int, int] | None = None) -> None:
        """Note one path of the set being written, and the (device, inode) of its file; the file is allowed
        once the set is sealed."""
        collecting = self._collecting.get(set_name)
        if collecting is None:
            folder = self.work_dir or Path(temp_root())
            fd, name = tempfile.mkstemp(prefix="synco-allow-", dir=folder)
            collecting = self._collecting[set_name] = (Path(name), os.fdopen(fd, "wb"))
        path = path.lstrip("/")
        collecting[1].write(json.dumps(path).encode() + b"\n")
        if identity is not None:
            collecting[1].write(json.dumps(_identified(path, *identity)).encode() + b"\n")

    def note(self, set_name: str, uri: str | None, identity: tuple[int, int] | None) -> None:
        """A build's report (:attr:`~synco_core.serve.build.BuildContext.on_public_uri`): one entry of a set,
        or (``uri`` None) the set written."""
        if uri is None:
            self.seal_set(set_name)
        else:
            self.add_set_path(set_name, url_path(uri), identity)

    def seal_set(self, set_name: str) -> None:
        """Allow every path noted for ``set_name``."""
        collecting = self._collecting.pop(set_name, None)
        if collecting is None:
            return
        path, handle = collecting
        handle.close()
        with path.open("rb") as lines:
            digests = DigestSet.build((json.loads(line) for line in lines), path.with_suffix(".digests"),
                                      spill_dir=self.work_dir)
        path.unlink()
        with self._lock:
            self._sets.append(digests)

    def allows(self, path: str) -> bool:
        """True for a file of a session folder or of :meth:`add_paths`: sent whatever it is."""
        return path in self._paths or any(path.startswith(prefix) for prefix in self._prefixes)

    def may_open(self, path: str) -> bool:
        """True when ``path`` is a public set's, or :meth:`allows` it: worth opening to look at."""
        return self.allows(path) or any(path in digests for digests in self._sets)

    def allows_file(self, path: str, info: os.stat_result) -> bool:
        """True when ``info`` (the ``fstat`` of what ``path`` opened) is the file serve indexed under ``path``."""
        if self.allows(path):
            return True
        key = _identified(path, info.st_dev, info.st_ino)
        return any(key in digests for digests in self._sets)

    def close(self) -> None:
        for _name, (path, handle) in self._collecting.items():
            handle.close()
            path.unlink(missing_ok=True)
        self._collecting.clear()
        for digests in self._sets:
            digests.close()
            digests.path.unlink(missing_ok=True)
        for below in self._sessions.values():
            below.close()
        self._sessions.clear()


def url_path(uri: str) -> str:
    """An index URI as the allow list keys it, and as a server sees the request path: decoded, without a query
    or empty segments."""
    return "/".join(part for part in unquote(uri.split("?")[0]).split("/") if part)


def _identified(path: str, device: int, inode: int) -> str:
    # NUL never occurs in a request path (refused), so no request can name this key by itself.
    return f"{path}\0{device}:{inode}"


#: Longest request line or header line read; longer ones end the connection (as http.server does).
MAX_LINE = 65536
MAX_HEADERS = 100
_KNOWN_METHODS = frozenset({"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"})
# MSG_MORE tells the kernel the body follows at once, so headers and the start of the body leave in one
# packet instead of the headers alone (one wake-up and one read less on the receiving side per file).
_MSG_MORE = getattr(socket, "MSG_MORE", 0)


class _Handler(BaseHTTPRequestHandler):
    """Reads requests and writes responses directly; only the class's plumbing is http.server's.

    ``BaseHTTPRequestHandler`` parses every header block with the e-mail package and formats each header
    line by line; for a receiver fetching thousands of small files over kept-alive connections that was
    most of the server's CPU time. The few headers this server looks at (``Range``, ``Connection``) are
    read here directly, and each response head goes out in one write.
    """

    # HTTP/1.1 gives keep-alive; every response carries a Content-Length so the connection can be reused.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two calls (the body by sendfile); with Nagle's algorithm on, the second
    # would wait for the client's delayed ACK, 40 ms per request on a kept-alive connection.
    disable_nagle_algorithm = True
    server: WebRootServer

    def log_message(self, format: str, *args: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s", self.address_string(), format % args)

    def handle_one_request(self) -> None:
        self.close_connection = True
        try:
            line = self.rfile.readline(MAX_LINE + 1)
        except (TimeoutError, ConnectionError):
            return
        if not line:
            return
        self.raw_requestline = line
        self.command, self.request_version = "", "HTTP/1.0"
        self.requestline = line.decode("latin-1").rstrip("\r\n")
        words = self.requestline.split()
        if len(line) > MAX_LINE or len(words) != 3 or not words[2].startswith("HTTP/1."):
            self.path = ""
            self._reply_empty(HTTPStatus.BAD_REQUEST, close=True)
            return
        self.command, self.path, self.request_version = words
        range_header = ""
        keep_alive = self.request_version != "HTTP/1.0"
        for _ in range(MAX_HEADERS + 1):
            header = self.rfile.readline(MAX_LINE + 1)
            if header in (b"\r\n", b"\n", b""):
                break
            if len(header) > MAX_LINE:
                self._reply_empty(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, close=True)
                return
            name, _, value = header.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "range":
                range_header = value.strip()
            elif name == "connection":
                tokens = value.lower()
                if "close" in tokens:
                    keep_alive = False
                elif "keep-alive" in tokens:
                    keep_alive = True
        else:
            self._reply_empty(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, close=True)
            return
        self.close_connection = not keep_alive
        if self.command in ("GET", "HEAD"):
            self._serve(self.command == "GET", range_header)
        elif self.command in _KNOWN_METHODS:
            # Closing: a request body, if any, is never read, so the connection cannot carry another request.
            self._reply_empty(HTTPStatus.NOT_IMPLEMENTED, {"Allow": "GET, HEAD"}, close=True)
        else:
            self._reply_empty(HTTPStatus.BAD_REQUEST, close=True)

    def _head(self, status: HTTPStatus, headers: list[tuple[str, str]]) -> bytes:
        lines = [f"HTTP/1.1 {status.value} {status.phrase}", f"Date: {_http_date()}", "Server: synco"]
        lines += [f"{name}: {value}" for name, value in headers]
        if self.close_connection:
            lines.append("Connection: close")
        lines.append("\r\n")
        return "\r\n".join(lines).encode("latin-1")

    def _reply_empty(self, status: HTTPStatus, headers: dict[str, str] | None = None, close: bool = False) -> None:
        if close:
            self.close_connection = True
        body = f"{status.value} {status.phrase}\n".encode()
        head = self._head(status, [("Content-Type", "text/plain; charset=utf-8"),
                                   ("Content-Length", str(len(body))), *(headers or {}).items()])
        self.wfile.write(head if self.command == "HEAD" else head + body)
        self._finish(status.value)

    def _finish(self, status: int) -> None:
        self.log_request(status)
        hook = self.server.on_request
        if hook is not None:
            hook(self.command, urlsplit(self.path).path, status)

    def _resolve(self) -> tuple[Path, str] | None:
        """The file a request names and its path relative to the root, when it may be opened at all."""
        path = unquote(urlsplit(self.path).path)
        parts = [part for part in path.split("/") if part]
        for part in parts:
            if part in (".", "..") or part.startswith(".") or "\x00" in part or "\\" in part:
                return None
        if not parts:
            return None
        relative = "/".join(parts)
        allow = self.server.allow
        if allow is not None:
            if not allow.may_open(relative):
                return None
        elif parts[-1].lower().endswith(REFUSED_SUFFIXES):
            return None
        return self.server.root.joinpath(*parts), relative

    def _serve(self, body: bool, range_header: str) -> None:
        target = self._resolve()
        try:
            # Non-blocking: a listed file replaced by a FIFO since serve walked would otherwise hold this
            # request's thread in open() until a writer comes, for ever, and the connection's other files with it.
            held = self.server.allow.session_file(target[1]) if target is not None and self.server.allow else None
            if held is not None:
                fd = held[0].open(held[1], _OPEN_FLAGS)
            else:
                fd = os.open(target[0], _OPEN_FLAGS) if target is not None else -1
        except (OSError, ValueError):
            fd = -1
        if fd < 0:
            self._reply_empty(HTTPStatus.NOT_FOUND)
            return
        try:
            info = os.fstat(fd)
            allow = self.server.allow
            if not stat.S_ISREG(info.st_mode) or (allow is not None and target is not None
                                                   and not allow.allows_file(target[1], info)):
                # Directories: no listings, ever; FIFOs, sockets and devices are no files of a set; nor is a
                # file put (or linked) in an indexed one's place since serve read it.
                self._reply_empty(HTTPStatus.NOT_FOUND)
                return
            os.set_blocking(fd, True)
            size = info.st_size
            start, end = 0, size - 1
            status = HTTPStatus.OK
            if range_header:
                match = _RANGE.match(range_header)
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
            headers = [("Content-Type", "application/octet-stream"), ("Content-Length", str(length)),
                       ("Accept-Ranges", "bytes"), *_last_modified(info.st_mtime)]
            if status == HTTPStatus.PARTIAL_CONTENT:
                headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
            head = self._head(status, headers)
            if body and length:
                self.connection.sendall(head, _MSG_MORE)
                self._send_file(fd, start, length)
            else:
                self.connection.sendall(head)
            self._finish(status.value)
        finally:
            os.close(fd)

    def _send_file(self, fd: int, offset: int, count: int) -> None:
        """``count`` bytes of ``fd`` from ``offset`` to the client, by sendfile (no copy through Python)."""
        out = self.connection.fileno()
        while count > 0:
            try:
                sent = os.sendfile(out, fd, offset, count)
            except BlockingIOError:
                # Only with a socket timeout set (non-blocking underneath): wait until it can take more.
                select.select([], [out], [], self.connection.gettimeout())
                continue
            if sent == 0:
                # The file shrank while being sent: the response cannot be completed, so end the connection.
                self.close_connection = True
                raise ConnectionError("file shrank while being sent")
            offset += sent
            count -= sent


#: How a requested file is opened (see ``_serve``).
_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)

_date_cache: tuple[int, str] = (0, "")


def _last_modified(mtime: float) -> list[tuple[str, str]]:
    """The ``Last-Modified`` header of a file of ``mtime``, or none where an HTTP date cannot say it: they run
    from the year 1 to 9999, and a file dated past them (btrfs and tmpfs hold any 64-bit time) failed every
    request for it. Receive takes a missing date for an unknown one."""
    try:
        return [("Last-Modified", formatdate(mtime, usegmt=True))]
    except (ValueError, OverflowError, OSError):
        return []


def _http_date() -> str:
    """The Date header's value, formatted once a second instead of once a response."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


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

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A receiver that goes away mid-download is normal (Ctrl-C, a retry): no traceback for that."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            log.debug("%s went away: %s", client_address, error)
            return
        super().handle_error(request, client_address)

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
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(f"--listen expects HOST:PORT, not {shown_url(value)}") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"--listen port out of range: {port}")
    if host:
        # The host as a URL would have it ("[::1]" for an address with colons): checked the way URLs are, so an
        # unbalanced bracket or a name no resolver takes is refused here, not as a resolver's exception.
        split_url(f"//{host}", "--listen host")
        if ":" in host and not (host.startswith("[") and host.endswith("]")):
            raise ConfigError(f"--listen expects an IPv6 address in brackets ([::1]:8000), not {shown_url(value)}")
    return host.strip("[]") or "0.0.0.0", port


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
