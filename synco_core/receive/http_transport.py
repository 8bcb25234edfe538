"""The HTTP transport: keep-alive connections, pipelined GETs for many small files, Range reads.

It is built on the standard library's http.client rather than httpx: a public set is thousands of small
requests from several threads, and per request httpx costs many times the CPU of pipelined http.client,
with HTTP/2 no better (benchmarks/bench_http_client.py; the numbers and the decision are in
docs/dependencies.md). Everything else httpx would give is done here explicitly: keep-alive connections
(one per thread and origin), TLS verification, proxies from the environment (CONNECT tunnels for https,
:mod:`synco_core.receive.proxy`), basic auth only towards the session's exact origin, the redirect
policy, and the address check of every connection to another host (:mod:`synco_core.origins`).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import logging
import re
import secrets
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit
from urllib.request import getproxies_environment

from synco_core.errors import TransferError
from synco_core.origins import (
    Origin,
    RefusedRequestError,
    address_scope,
    check_address,
    origin_of,
    same_site,
    shown_url,
)
from synco_core.receive.busy import (
    BUSY_RETRIES,
    BUSY_STATUSES,
    LONGEST_PAUSE,
    Calm,
    asked_pause,
    busy_message,
    http_date,
    pause_for,
)
from synco_core.receive.cachecopy import cache_copy
from synco_core.receive.fallback import TITLE_BYTES, describe, is_page
from synco_core.receive.interception import intercepted
from synco_core.receive.pace import PacedSocket, pace_tls, paced
from synco_core.receive.proxy import Proxy, proxy_for, split_auth
from synco_core.receive.ranges import parse_content_range, partial_problem, short_of
from synco_core.receive.silence import Silence
from synco_core.receive.transport import (
    CHUNK_SIZE,
    MAX_REDIRECTS,
    ForbiddenError,
    NotFoundError,
    ProxyLoginError,
    ProxyRefusedError,
    RangeNotSatisfiableError,
    RefusedRedirectError,
    UnreachableError,
    UntrustedCertificateError,
)
from synco_core.redaction import mask_url_passwords, register_secret, register_url_secrets

log = logging.getLogger(__name__)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())



def _origin(url: str) -> Origin:
    return origin_of(url)


def _redirect_allowed(origin: Origin, target: Origin) -> bool:
    """Only to the same host, keeping or upgrading the scheme (http -> https, never https -> http)."""
    return same_site(origin, target)


def _redirect_hint(origin: Origin, target: str) -> str:
    """What to do about a refused redirect to another host (``example.com`` to ``www.example.com``): name that
    address, unless the redirect goes from https to http."""
    try:
        scheme, host, port = _origin(target)
    except TransferError:
        return ""
    if origin[0] == "https" and scheme != "https":
        return ""
    return f"; if the site lives at {_address(scheme, host, port)}, give that address with --base-url"


def _address(scheme: str, host: str, port: int) -> str:
    """An origin as the user would write it: ``https://www.example.com/``, the port only when not the default."""
    shown = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{shown}{'' if port == default else f':{port}'}/"


#: The queries :meth:`HttpTransport.open_fresh` and :meth:`HttpTransport.pin_session` add: never shown in
#: messages, where they would only be noise.
FRESH_QUERY = re.compile(r"(?:[?&]synco-(?:poll|serve)=[0-9a-f-]*)+$")


def _shown(url: str) -> str:
    """``url`` as messages show it: without the queries that keep caches out, and with the credentials of its
    query (a CDN's ``?token=``, a presigned URL's signature) and its password masked."""
    return mask_url_passwords(FRESH_QUERY.sub("", url))


#: OpenSSL's verify codes for a certificate whose issuer this machine does not know (self-signed, a private CA):
#: the only case that giving the CA (SSL_CERT_FILE) puts right.
UNKNOWN_ISSUER = frozenset({18, 19, 20, 21})
#: ... for one that has expired or is not valid yet, and for one made for another name or address.
EXPIRED, NOT_YET_VALID, OTHER_NAMES = 10, 9, frozenset({62, 64})


def _certificate_advice(code: int) -> str:
    """What to do about a certificate that does not verify, by OpenSSL's reason: a CA file helps only for an
    unknown issuer, not for an expired certificate or one for another name."""
    if code in UNKNOWN_ISSUER:
        return "give the CA that signed it with SSL_CERT_FILE=/path/to/ca.pem, or use --insecure for a test server"
    if code == EXPIRED:
        return "the server must renew it; --insecure accepts it for a test server"
    if code == NOT_YET_VALID:
        return "check this machine's clock, or the server's certificate; --insecure accepts it for a test server"
    if code in OTHER_NAMES:
        return ("it is made for another name: give the address it was made for, or use --insecure for a test "
                "server")
    return "use --insecure for a test server"


#: ``resolve(host, port)``: the addresses to try for a host, in order.
Resolver = Callable[[str, int], list[str]]


def system_resolve(host: str, port: int) -> list[str]:
    """The host's addresses from the system resolver (``getaddrinfo``), without duplicates."""
    found: list[str] = []
    for _family, _type, _proto, _name, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if address not in found:
            found.append(address)
    return found


#: Content codings a server may apply although asked for ``identity``, and undone here (zlib's automatic
#: header detection takes gzip and the zlib stream HTTP calls "deflate").
DECODABLE = frozenset({"gzip", "x-gzip", "deflate"})


def content_codings(response: http.client.HTTPResponse) -> list[str]:
    """The codings the server applied to the body (``Content-Encoding``), ``identity`` left out."""
    value = response.getheader("Content-Encoding") or ""
    return [token for token in (part.strip().lower() for part in value.split(",")) if token and token != "identity"]


def header_number(value: str | None) -> int | None:
    """A header's non-negative number (``Content-Length``), or None where it holds none.

    ASCII digits only (a header is read as Latin-1, where ``str.isdigit`` takes ``'\xb2'`` that ``int`` refuses),
    and at most 18 of them: no file is longer, and ``int`` refuses strings of thousands of digits.
    """
    value = (value or "").strip()
    if value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def http_time(value: str | None) -> int | None:
    """An HTTP date (``Last-Modified``) as Unix seconds, or None where it is missing or cannot be read."""
    when = http_date(value)
    try:
        return None if when is None else int(when.timestamp())
    except (OverflowError, OSError, ValueError):
        return None


class _Decoder:
    """Undoes a gzip (or zlib) coding as the body arrives, never more than a chunk of output at a time: a
    small body that inflates to gigabytes is stopped by the caller's size limits, not held in memory.

    A gzip body may be several members one after the other (RFC 1952; ``cat a.gz b.gz``, what some servers
    and tools write): each is decoded in turn, as ``gzip -d`` does. Anything else after the end of the
    stream is damage, whichever chunk it arrives in.
    """

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(wbits=32 + zlib.MAX_WBITS)
        self._gzip: bool | None = None

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            if self._gzip is None:
                self._gzip = data[:1] == b"\x1f"
            if self._inflate.eof:
                if not self._gzip:
                    raise zlib.error("data after the end of the compressed stream")
                # The next member; one that is not gzip fails its header check.
                self._inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            out = self._inflate.decompress(data, CHUNK_SIZE)
            # Input past the end of a member is in unused_data, not in unconsumed_tail.
            data = self._inflate.unused_data if self._inflate.eof else self._inflate.unconsumed_tail
            if out:
                yield out

    def finish(self) -> None:
        if not self._inflate.eof:
            raise zlib.error("the compressed stream ends early")


class _HttpResponse:
    """A response body read in chunks; a connection that ends early is an error, not a short file.

    With a ``decoder`` the body came compressed (a server ignoring ``Accept-Encoding: identity``) and is
    handed out decoded; its length is then only known once read, so ``total_size`` is None.
    """

    def __init__(self, response: http.client.HTTPResponse, url: str, status: int, offset: int,
                 total_size: int | None, length: int | None, decoder: _Decoder | None = None,
                 short: str | None = None) -> None:
        self._response = response
        self._url = url
        self.status = status
        self.offset = offset
        self.total_size = None if decoder is not None else total_size
        self._total_as_sent = total_size
        self._length = length
        self._decoder = decoder
        #: The length of the body as sent when it came with a coding to undo, else None.
        self.coded_size = length if decoder is not None else None
        #: Why the body, a part ending before the range asked for, ends the read as an interrupted one.
        self._short = short
        #: The file's ``Last-Modified`` (Unix seconds), or None where the server sends none that can be read.
        self.last_modified = http_time(response.getheader("Last-Modified"))
        self.complete = False
        #: True once the body ended where the server said it would (its Content-Length met, or the last chunk
        #: of a chunked body): a file shorter than expected is then the server's file, not a cut connection.
        #: A body without either ends with its connection, which a cut ends the same way: never whole.
        self.whole = False

    def as_sent(self) -> None:
        """Hand the body out as it comes, without undoing its coding: for a file that is stored compressed and
        that the server labels with its coding (Apache's ``AddEncoding x-gzip .gz``, an S3 object uploaded
        with ``Content-Encoding``), whose bytes as sent are the file."""
        self._decoder = None
        self.total_size = self._total_as_sent

    def iter_bytes(self) -> Iterator[bytes]:
        received = 0
        try:
            while True:
                # read() (unlike read1) releases the connection for the next request once the body is in.
                chunk = self._response.read(CHUNK_SIZE)
                if not chunk:
                    break
                received += len(chunk)
                if self._length is not None and received > self._length:
                    # A body without Content-Length (to the end of the connection) past the range it names.
                    raise TransferError(f"{self._url}: the server sent more than the {self._length} bytes of its "
                                        "answer")
                if self._decoder is None:
                    yield chunk
                else:
                    yield from self._decoder.feed(chunk)
        except (OSError, http.client.HTTPException) as exc:
            raise TransferError(f"download of {self._url} interrupted after {received} bytes: "
                                f"{_describe(exc)}") from None
        except zlib.error as exc:
            raise TransferError(f"{self._url}: the server's compressed answer is damaged ({exc})") from None
        if self._length is not None and received != self._length:
            raise TransferError(f"download of {self._url} interrupted after {received} of {self._length} bytes")
        if self._decoder is not None:
            try:
                self._decoder.finish()
            except zlib.error as exc:
                raise TransferError(f"{self._url}: the server's compressed answer is damaged ({exc})") from None
        if self._short is not None:
            # Its bytes were handed out (and kept by the caller): what is missing is asked for next time.
            raise TransferError(f"download of {self._url} interrupted after {received} bytes: {self._short}")
        self.complete = True
        self.whole = self._length is not None or bool(getattr(self._response, "chunked", False))


#: The most of a body that is not the file (a 503's or a 404's page, a redirect's note) read only to keep its
#: connection for the next request. A longer one is left unread and its connection closed instead: a server
#: (or the proxy in front of it) answering a page of gigabytes costs neither memory nor the time to read it.
DISCARD_LIMIT = 64 * 1024


#: How http.client reports a CONNECT that the proxy answered 407 (``Tunnel connection failed: 407 ...``), or 401
#: (tinyproxy's answer to a wrong login): a CONNECT is answered by the proxy alone.
TUNNEL_LOGIN = re.compile(r"Tunnel connection failed: 40[17]\b")
#: ... and any other answer but 200: the proxy's rules refuse the tunnel (403), or it cannot reach the server (5xx).
TUNNEL_FAILED = re.compile(r"Tunnel connection failed: ([0-9]{3})\s*(.*)", re.DOTALL)


class _ProxyUnreachable(OSError):
    """The proxy itself does not answer (its name does not resolve, nothing listens there): wraps the error."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(_describe(cause))
        self.cause = cause


def _tunnel_problem(proxy: Proxy, origin: Origin, exc: BaseException) -> str | None:
    """What the proxy did when an https request through it failed before TLS with the server was up: refused
    the CONNECT, could not reach the server, or closed the tunnel it had opened; None for another failure."""
    _scheme, host, port = origin
    target = f"{f'[{host}]' if ':' in host else host}:{port}"
    if (failed := TUNNEL_FAILED.match(str(exc))) is not None:
        code = int(failed[1])
        reason = "".join(char if char.isprintable() else "?" for char in failed[2].strip())[:60]
        said = f"HTTP {code}{f' {reason}' if reason else ''}"
        if 500 <= code < 600:
            return (f"{proxy.description} could not open a tunnel to {target} ({said}): the proxy cannot reach the "
                    "server; check the address, and that serve (or the web server) is running")
        return (f"{proxy.description} refuses a tunnel to {target} ({said}): its rules do not let this machine "
                "reach that host or port (many proxies open tunnels to port 443 only); have it allowed, or name the "
                "host in NO_PROXY if this machine reaches it directly")
    if isinstance(exc, (ssl.SSLEOFError, ConnectionResetError, http.client.RemoteDisconnected)) or (
            isinstance(exc, ssl.SSLError) and "EOF" in str(exc)):
        return (f"{proxy.description} closed the tunnel to {target} before TLS with the server began: the proxy "
                "may let no tunnel through to that host or port, or the server there does not answer; have it "
                "allowed, or name the host in NO_PROXY if this machine reaches it directly")
    return None


#: Interim answers (``100 Continue``, ``103 Early Hints``) taken before the final one. A server sending them
#: without end kept a request waiting for ever: bytes keep coming, so no timeout or pace check fires.
MAX_INTERIM = 20

INTERIM_FLOOD = f"more than {MAX_INTERIM} interim answers (HTTP 1xx) and no final one"


class _InterimFlood(http.client.HTTPException):
    """More interim answers than :data:`MAX_INTERIM`: the server answers, but never with the file."""


class _BoundedResponse(http.client.HTTPResponse):
    """``http.client``'s response, reading at most :data:`MAX_INTERIM` ``100 Continue`` before the real one
    (``begin`` skips them in a loop of its own)."""

    _status_lines = 0

    def _read_status(self) -> tuple[str, int, str]:
        self._status_lines += 1
        if self._status_lines > MAX_INTERIM + 1:
            raise _InterimFlood(INTERIM_FLOOD)
        answer: tuple[str, int, str] = super()._read_status()  # type: ignore[misc]
        return answer


#: Largest header block accepted from a pipelined response; a server sending more is not one to pipeline with.
MAX_HEAD_SIZE = 64 * 1024


#: Socket read size for pipelined bodies: one read takes whatever the kernel holds, up to this.
PIPELINE_READ_SIZE = 256 * 1024


class _PipelineReader:
    """Reads consecutive HTTP/1.1 responses off one socket, for :meth:`HttpTransport.open_many`.

    ``http.client`` parses every header block with the e-mail package and reads bodies through a
    buffered file; for thousands of small files that was the receiver's largest cost after the file
    system. A pipelined batch only ever needs the status, ``Content-Length`` and ``Connection``, so this
    reads them directly: one ``recv`` usually brings a whole header block, and body bytes go from the
    socket to the caller without another copy through a buffer.
    """

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        #: Bytes received but not handed out yet (the rest of a header read: body, or the next response).
        self._pending = b""

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _receive(self, size: int) -> bytes:
        data: bytes = self._sock.recv(size)
        if not data:
            raise TransferError("the server closed the connection")
        return data

    def head(self) -> tuple[int, int | None, bool, bool]:
        """The next final response's (status, Content-Length or None, whether the server closes afterwards,
        whether its body is compressed)."""
        for _answer in range(MAX_INTERIM + 1):
            while (end := self._pending.find(b"\r\n\r\n")) < 0:
                if len(self._pending) > MAX_HEAD_SIZE:
                    raise TransferError("response headers too long")
                self._pending += self._receive(MAX_HEAD_SIZE)
            block, self._pending = self._pending[:end], self._pending[end + 4:]
            lines = block.split(b"\r\n")
            version, _, rest = lines[0].partition(b" ")
            code = rest[:3]
            if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
                raise TransferError(f"not an HTTP response: {lines[0][:60]!r}")
            status = int(code)
            if 100 <= status < 200:
                # An interim response (100 Continue, 103 Early Hints): the real one follows.
                continue
            length: int | None = None
            closes = version == b"HTTP/1.0"
            coded = False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    value = value.strip()
                    length = header_number(value.decode("latin-1"))
                    if length is None:
                        raise TransferError(f"bad Content-Length {value[:30]!r}")
                elif name == b"transfer-encoding":
                    # A chunked body would need its own parser; open() handles such servers one by one.
                    raise TransferError("the server sent a chunked response")
                elif name == b"content-encoding":
                    coded = any(token.strip() not in (b"", b"identity") for token in value.lower().split(b","))
                elif name == b"connection":
                    tokens = value.strip().lower()
                    if b"close" in tokens:
                        closes = True
                    elif b"keep-alive" in tokens:
                        closes = False
            return status, length, closes, coded
        raise TransferError(INTERIM_FLOOD)

    def body(self, length: int) -> Iterator[bytes]:
        """Exactly ``length`` bytes of body, in chunks as they arrive; never reads past the body."""
        remaining = length
        if self._pending and remaining:
            chunk, self._pending = self._pending[:remaining], self._pending[remaining:]
            remaining -= len(chunk)
            yield chunk
        while remaining:
            chunk = self._receive(min(remaining, PIPELINE_READ_SIZE))
            remaining -= len(chunk)
            yield chunk


class _PipelinedResponse:
    """One 200 response of a pipelined batch; its body must be read to the end before the next one."""

    status = 200
    offset = 0

    def __init__(self, reader: _PipelineReader, url: str, length: int) -> None:
        self._reader = reader
        self._url = url
        self.total_size: int | None = length
        self._length = length
        self.complete = length == 0

    def iter_bytes(self) -> Iterator[bytes]:
        received = 0
        try:
            for chunk in self._reader.body(self._length):
                received += len(chunk)
                yield chunk
        except (OSError, TransferError) as exc:
            raise TransferError(f"download of {self._url} interrupted after {received} of {self._length} bytes: "
                                f"{_describe(exc)}") from None
        self.complete = True


class HttpTransport:
    """A :class:`Transport` over HTTP(S): keep-alive connections per thread, Range reads, careful redirects."""

    def __init__(self, base_url: str, *, verify: bool = True, timeout: float = 30.0, max_connections: int = 8,
                 auth: tuple[str, str] | None = None, resolve: Resolver | None = None,
                 pins: dict[str, str] | None = None) -> None:
        register_url_secrets(base_url)
        base_url, url_auth = split_auth(base_url)
        # A query of the base URL (a CDN's ?token=, a presigned prefix's signature) goes on every request for a
        # path under it, not into the path ("http://h/?token=T" + "/" + "synco-.../meta.json.enc").
        base_url, _, query = base_url.partition("#")[0].partition("?")
        if not base_url.endswith("/"):
            base_url += "/"
        self.base_url = base_url
        #: The base URL's query, without its "?"; "" when it has none.
        self.base_query = query
        self.description = base_url
        self._origin = _origin(base_url)
        auth = auth or url_auth
        self._auth = auth
        self._verify = verify
        self._custom_resolver = resolve is not None
        self._authorization: str | None = None
        if auth:
            register_secret(auth[1])
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            self._authorization = f"Basic {token}"
            register_secret(token)
        self._timeout = timeout
        # Every socket is paced: a server trickling a byte now and then is cut off (synco_core.receive.pace).
        self._ssl = pace_tls(ssl.create_default_context() if verify else ssl._create_unverified_context())
        # max_connections is the caller's thread count; connections are per thread, so it needs no pool cap.
        self.max_connections = max_connections
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._resolve = resolve or system_resolve
        #: The kind of address the session's own server answered at (``loopback``, ``private`` ...), known
        #: after the first connection to it; other hosts must be public or of the same kind.
        self.session_scope: str | None = None
        # Read once: HTTP_PROXY / HTTPS_PROXY / NO_PROXY, lower-case forms first (as curl and urllib do).
        self._proxies = getproxies_environment()
        self._proxy_of: dict[Origin, Proxy | None] = {}
        #: The pause every connection keeps after a 429 or 503 (:mod:`synco_core.receive.busy`).
        self._calm = Calm()
        #: The origins that stopped answering (:mod:`synco_core.receive.silence`).
        self._silence = Silence(max_connections)
        #: The server's clock as its last answer to a fresh request (the meta) gave it (``Date``), with this
        #: computer's at that moment: what a session's expiry is judged by when the two clocks disagree.
        self._server_clock: tuple[int, float] | None = None
        #: Whether the last answer to a fresh request was a cache's copy, and what said so.
        self._fresh_copy: str | None = None
        #: Session folder (``synco-<id>/``) -> the query naming the serve its files are of (:meth:`pin_session`).
        self._pins: dict[str, str] = dict(pins or {})
        # A bad proxy variable is reported before anything is fetched.
        self._proxy(self._origin)

    def worker_spec(self) -> dict[str, Any] | None:
        """What a worker process needs to open the same transport (secrets included: it goes down a
        pipe, never onto a command line); None when a test's resolver stands in for the system's."""
        if self._custom_resolver:
            return None
        base_url = f"{self.base_url}?{self.base_query}" if self.base_query else self.base_url
        return {"kind": "http", "base_url": base_url, "verify": self._verify, "timeout": self._timeout,
                "auth": list(self._auth) if self._auth else None, "pins": dict(self._pins)}

    def pin_session(self, folder: str, created_at: int | None) -> None:
        """Ask for every file of session ``folder`` (but its meta, asked for fresh) with a query naming the serve
        that made it: its ``createdAt``.

        A session's files never change under their URLs within one serve, but ``serve --id`` run again
        publishes new files under the same URLs, and a CDN or caching proxy in front of the site handed out the
        earlier serve's dump, index and packs with the new meta (another key, other sizes: every set failed,
        as if the key were wrong). Caches key on the query, static file servers ignore it; everyone receiving
        the same serve asks for the same URLs, so a CDN still serves them from its cache. Sessions without
        ``createdAt`` (Go synco v2) are asked for as they are.
        """
        if created_at is not None:
            self._pins[folder.strip("/") + "/"] = f"synco-serve={created_at}"

    def _proxy(self, origin: Origin) -> Proxy | None:
        if origin not in self._proxy_of:
            self._proxy_of[origin] = proxy_for(origin, self._proxies)
        return self._proxy_of[origin]

    @property
    def pipelining(self) -> bool:
        """False when the session's host is reached through a plain HTTP proxy (which sees each request
        on its own; through a CONNECT tunnel, pipelining works as directly)."""
        return self._origin[0] == "https" or self._proxy(self._origin) is None

    def url_for(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return self._with_base_query(path) if path.startswith(self.base_url) else path
        if urlsplit(path).scheme:
            raise RefusedRequestError(f"refusing URL {path!r}: only http(s) URLs are fetched")
        # ':' is escaped so a relative path can never be read as a scheme; '%' is kept because index
        # URIs arrive already percent-encoded.
        relative = path.lstrip("/")
        url = self._with_base_query(urljoin(self.base_url, quote(relative, safe="/%@!$&'()*+,;=~-._")))
        pin = next((query for folder, query in self._pins.items() if relative.startswith(folder)), None)
        return url if pin is None else url + ("&" if urlsplit(url).query else "?") + pin

    def _with_base_query(self, url: str) -> str:
        """``url`` (under the base URL) with the base URL's query added, unless it holds it already."""
        if not self.base_query:
            return url
        url = url.partition("#")[0]
        held = set(urlsplit(url).query.split("&"))
        if all(item in held for item in self.base_query.split("&") if item):
            return url
        return url + ("&" if "?" in url else "?") + self.base_query

    def _connection(self, origin: Origin) -> http.client.HTTPConnection:
        pool: dict[Origin, http.client.HTTPConnection] | None = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        conn = pool.get(origin)
        if conn is None:
            scheme, host, port = origin
            proxy = self._proxy(origin)
            connect_host, connect_port = (proxy.host, proxy.port) if proxy is not None else (host, port)
            if scheme == "https":
                conn = http.client.HTTPSConnection(connect_host, connect_port, timeout=self._timeout, context=self._ssl)
                if proxy is not None:
                    # CONNECT host:port, then TLS with the origin inside the tunnel: the proxy sees the host
                    # name, never a request, a header or a byte of what comes back.
                    tunnel_headers = {"Proxy-Authorization": proxy.authorization} if proxy.authorization else None
                    conn.set_tunnel(host, port, headers=tunnel_headers)
            else:
                conn = http.client.HTTPConnection(connect_host, connect_port, timeout=self._timeout)
            conn.response_class = _BoundedResponse
            # http.client opens its socket through this attribute (TLS is wrapped around it afterwards), so
            # every connection, pipelined or not, goes through the address check.
            conn._create_connection = lambda _address, timeout=None, _source=None, origin=origin: (  # type: ignore[attr-defined]
                self._connect(origin, timeout))
            pool[origin] = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _connect(self, origin: Origin, timeout: object) -> socket.socket:
        """A socket connected to ``origin``: any address for the session's own host (the user named it),
        only allowed addresses (:func:`~synco_core.origins.check_address`) for any other."""
        _scheme, host, port = origin
        own = host == self._origin[1]
        proxy = self._proxy(origin)
        if proxy is not None:
            return self._connect_proxy(proxy, host, port, own, timeout)
        addresses = self._resolve(host, port)
        if not own:
            # Every address the name has is checked, not only the one that answers first.
            for address in addresses:
                check_address(address, self.session_scope, host)
        error: OSError | None = None
        for address in addresses:
            sock = PacedSocket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
            try:
                if isinstance(timeout, (int, float)):
                    sock.settimeout(timeout)
                sock.connect((address, port))
                peer = str(sock.getpeername()[0])
                if own:
                    self.session_scope = self.session_scope or address_scope(peer)
                else:
                    check_address(peer, self.session_scope, host)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            except BaseException:
                sock.close()
                raise
            return sock
        raise error or OSError(f"{host} has no address")

    def _connect_proxy(self, proxy: Proxy, host: str, port: int, own: bool, timeout: object) -> socket.socket:
        """A socket connected to the proxy (the user named it, as the session's host).

        Another host than the session's is still checked where this machine can resolve its name; the
        proxy resolves it otherwise, and what it then reaches is the proxy's rule.
        """
        if not own:
            try:
                addresses = self._resolve(host, port)
            except OSError:
                addresses = []
            for address in addresses:
                check_address(address, self.session_scope, host)
        try:
            sock = paced(socket.create_connection((proxy.host, proxy.port),
                                                  timeout=timeout if isinstance(timeout, (int, float)) else None))
        except OSError as exc:
            raise _ProxyUnreachable(exc) from None
        if own and self.session_scope is None:
            # Through a proxy the session's own address is unknown here: other hosts must be public.
            self.session_scope = "public"
        return sock

    def _drop(self, origin: Origin) -> None:
        pool = getattr(self._local, "pool", {})
        conn = pool.pop(origin, None)
        if conn is not None:
            conn.close()

    def _request(self, url: str, headers: dict[str, str]) -> http.client.HTTPResponse:
        origin = _origin(url)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        proxy = self._proxy(origin)
        if proxy is not None and origin[0] == "http":
            # A plain HTTP proxy is asked for the absolute URL (http.client takes the Host header from it).
            target = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))
            if proxy.authorization:
                headers = {**headers, "Proxy-Authorization": proxy.authorization}
        self._silence.check(origin, _shown(split_auth(url)[0]))
        # A kept-alive connection may have been closed by the server while idle: one retry on a fresh one.
        for attempt in (1, 2):
            conn = self._connection(origin)
            reused = conn.sock is not None
            # True until the connection is up (the proxy's tunnel and TLS with the server included): only what
            # fails meanwhile can be the proxy's doing.
            connecting = not reused
            try:
                if connecting:
                    conn.connect()
                connecting = False
                conn.request("GET", target, headers=headers)
                response = conn.getresponse()
                self._silence.answered(origin)
                return response
            except _InterimFlood:
                self._drop(origin)
                raise TransferError(f"{_shown(split_auth(url)[0])}: the server sent {INTERIM_FLOOD}") from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop(origin)
                if attempt == 1 and reused and isinstance(
                    exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
                ):
                    continue
                via = f" through {proxy.description}" if proxy is not None else ""
                if isinstance(exc, TimeoutError):
                    # No answer in time (to the connection, the request or its status line), not a refusal.
                    self._silence.unanswered(origin)
                if proxy is not None and isinstance(exc, _ProxyUnreachable):
                    # Nothing went further than this machine: "no server answered ... is serve running" sent the
                    # user to the server, where the variable naming the proxy is what is wrong (or the proxy is down).
                    if isinstance(exc.cause, TimeoutError):
                        self._silence.unanswered(origin)
                    raise ProxyRefusedError(f"cannot reach {_shown(split_auth(url)[0])}: {proxy.description}, which "
                                            f"{proxy.variable} names, does not answer ({exc}): check the variable, or "
                                            "unset it if this machine reaches the site directly") from None
                if proxy is not None and TUNNEL_LOGIN.match(str(exc)):
                    # http.client's own words for a CONNECT answered 407.
                    shown = _shown(split_auth(url)[0])
                    raise ProxyLoginError(f"cannot reach {shown}: {proxy.login_message()}") from None
                if proxy is not None and origin[0] == "https" and connecting \
                        and not isinstance(exc, ssl.SSLCertVerificationError) \
                        and (problem := _tunnel_problem(proxy, origin, exc)) is not None:
                    # The proxy answered for the server: "no server answered ... is serve running" sent the user
                    # to the server, which never saw the request.
                    raise ProxyRefusedError(f"cannot reach {_shown(split_auth(url)[0])}: {problem}") from None
                if isinstance(exc, http.client.HTTPException) and not isinstance(exc, ConnectionError):
                    # Something answered (a status line that is not HTTP, headers past http.client's limits):
                    # the server was reached, and asking again meets the same answer.
                    raise TransferError(f"{_shown(split_auth(url)[0])}{via}: the answer is not HTTP that synco "
                                        f"reads ({_describe(exc)[:120]})") from None
                if isinstance(exc, ssl.SSLCertVerificationError):
                    inspected = ""
                    if proxy is not None and exc.verify_code in UNKNOWN_ISSUER:
                        # A company proxy that inspects TLS answers with a certificate it made, signed by its own CA.
                        inspected = (f" (this machine reaches it through {proxy.description}: a proxy that inspects "
                                     "TLS shows a certificate of its own, and SSL_CERT_FILE must then name its CA)")
                    raise UntrustedCertificateError(
                        f"the TLS certificate of {_address(*origin)} is not trusted "
                        f"({exc.verify_message}): {_certificate_advice(exc.verify_code)}{inspected}") from None
                raise UnreachableError(f"cannot reach {_shown(split_auth(url)[0])}{via}: {_describe(exc)}") from None
        raise AssertionError("unreachable")

    def _answer(self, url: str, base_headers: dict[str, str]) -> tuple[http.client.HTTPResponse, str]:
        """The 200 or 206 response for ``url`` after the redirects allowed, and the URL that gave it; any other
        status is raised as the error it stands for (its body read, so the connection stays usable)."""
        current = url
        redirects = busy = 0
        while redirects <= MAX_REDIRECTS:
            origin = _origin(current)
            headers = dict(base_headers)
            # Credentials go only to the exact origin they were given for (scheme, host and port), never
            # to a CDN named in an index, another port of the same host, or along a redirect.
            login = self._authorization if origin == self._origin else None
            if login:
                headers["Authorization"] = login
            self._calm.wait()
            response = self._request(current, headers)
            status = response.status
            if status in BUSY_STATUSES:
                self._discard(response, origin)
                if self._calm.given_up:
                    raise TransferError(busy_message(status, _shown(current), again=True))
                asked = asked_pause(response.getheader("Retry-After"), response.getheader("Date"))
                if asked is not None and asked > LONGEST_PAUSE:
                    raise TransferError(busy_message(status, _shown(current), asked))
                if busy == BUSY_RETRIES:
                    self._calm.given_up = True
                    raise TransferError(busy_message(status, _shown(current)))
                # Only a pause the server asked for is reported as its own; the doubling one is never too long.
                pause = asked if asked is not None else pause_for(None, busy)
                busy += 1
                log.debug("HTTP %d for %s; every request waits %.2f s", status, _shown(current), pause)
                self._calm.extend(pause)
                continue
            busy = 0
            self._calm.given_up = False
            if status in (301, 302, 303, 307, 308):
                redirects += 1
                location = response.getheader("Location", "")
                self._discard(response, origin)
                try:
                    target = urljoin(current, location)
                    allowed = bool(location) and _redirect_allowed(origin, _origin(target))
                except (ValueError, TransferError):
                    # Another scheme (file:, data:), a bad port, an unclosed '[': nothing to follow.
                    target, allowed = location, False
                if not allowed:
                    # Refused, not failed: asking again meets the same redirect.
                    shown = shown_url(_shown(target))
                    raise RefusedRedirectError(f"refusing redirect from {_shown(current)} to {shown} "
                                               f"(another host or scheme){_redirect_hint(origin, target)}", shown)
                current = target
                continue
            if status in (200, 206):
                return response, current
            head = self._discard(response, origin)
            if status in (404, 410):
                raise NotFoundError(f"not found: {_shown(current)} (HTTP {status})")
            # A page's title names who answered: a proxy's "Access denied", a portal's "Sign in to Wi-Fi".
            page = f", {describe(head)}" if is_page(head) else ""
            if status == 403:
                # Through a plain HTTP proxy, the refusal may be the proxy's own (a blocked site or category).
                plain_proxy = self._proxy(origin) if origin[0] == "http" else None
                refused = (f"refused by the server, or by {plain_proxy.description} on the way"
                           if plain_proxy is not None else "refused by the server")
                raise ForbiddenError(f"{refused}: {_shown(current)} (HTTP 403){page}")
            if status == 511:
                # RFC 6585: the network (a captive portal), not the site, wants a login before it lets anything by.
                raise intercepted(_shown(current), f"HTTP 511 Network Authentication Required{page}")
            if status == 416:
                raise RangeNotSatisfiableError(f"range not satisfiable at {_shown(current)}")
            if status == 304:
                # synco never asks with a condition: a 304 is a cache answering for a copy the laptop never had.
                raise TransferError(f"{_shown(current)} was answered with 304 Not Modified although synco asks without "
                                    "a condition (no If-None-Match, no If-Modified-Since): a cache or proxy in front "
                                    "of the site answers for a copy this machine does not have; have it send the "
                                    "file, or bypass it for /synco-* and the uploads")
            proxy = self._proxy(origin) if origin[0] == "http" else None
            if proxy is not None and (status == 407 or (status == 401 and proxy.authorization and not login)):
                # tinyproxy answers a wrong proxy login with 401 (not 407): with a proxy login sent and none for
                # the site, the 401 may be the proxy's as well as the site's.
                site = f"{_shown(current)} needs a login (HTTP 401), or " if status == 401 else ""
                raise ProxyLoginError(f"cannot reach {_shown(current)}: {site}{proxy.login_message()}")
            if status == 407:
                # No proxy is named, yet one asks for its login: a transparent proxy stands between here and the site.
                raise intercepted(_shown(current), f"HTTP 407 Proxy Authentication Required{page} (a proxy that no "
                                  "proxy variable names)")
            if status == 401 and login:
                raise TransferError(f"{_shown(current)} refused the user name and password of the address (HTTP 401); "
                                    "check them")
            if status == 401:
                raise TransferError(f"{_shown(current)} needs a login (HTTP 401); give it as https://user:password@host")
            # Through a plain HTTP proxy, a 502 or 504 may be the proxy's own: name it.
            via = f" through {proxy.description}" if proxy is not None else ""
            raise TransferError(f"unexpected HTTP {status} for {_shown(current)}{via}")
        raise TransferError(f"too many redirects for {_shown(url)}")

    def _discard(self, response: http.client.HTTPResponse, origin: Origin) -> bytes:
        """Read past a body that is not the file, up to :data:`DISCARD_LIMIT`, so the connection can ask again;
        a longer body (or a connection that breaks meanwhile) closes the connection instead. Returns the
        body's first :data:`TITLE_BYTES` read, so that a page's title can name who answered."""
        head = b""
        with contextlib.suppress(OSError, http.client.HTTPException):
            # http.client's length is what is left of a body whose Content-Length it was told (None: chunked
            # or until the connection closes), so a declared giant is not read at all.
            if response.length is None or response.length <= DISCARD_LIMIT:
                left = DISCARD_LIMIT
                while left > 0 and (chunk := response.read(min(left, CHUNK_SIZE))):
                    if len(head) < TITLE_BYTES:
                        head += chunk[:TITLE_BYTES - len(head)]
                    left -= len(chunk)
        if not response.isclosed():
            self._drop(origin)
        return head

    def open_fresh(self, path: str) -> contextlib.AbstractContextManager[_HttpResponse]:
        """:meth:`open` for a document that changes under its URL (the meta, polled until Ready), past any cache.

        A CDN or caching proxy that took the meta while the session was being built would hand out that copy
        until it expires, and a receive would wait for Ready in vain. A query of its own makes every
        request a URL no cache has seen (caches key on the query; static file servers ignore it), and
        ``Cache-Control: no-cache`` asks the caches that honour it to check with the server.
        """
        return self.open(path, fresh=True)

    def _note_server_clock(self, response: http.client.HTTPResponse) -> None:
        self._fresh_copy = cache_copy(response.getheader)
        # A cache's copy carries the Date of when the server made it (Age counts since), not the server's now.
        date = None if response.getheader("Age") or self._fresh_copy else http_time(response.getheader("Date"))
        self._server_clock = None if date is None else (date, time.time())

    def cached_copy(self) -> str | None:
        """``X-Cache: HIT`` (what said so) when the last answer to a fresh request was a cache's copy all the same
        (:mod:`synco_core.receive.cachecopy`), else None."""
        return self._fresh_copy

    def server_now(self) -> float | None:
        """The server's clock now, as its last fresh answer set it (None when it sent no ``Date``)."""
        clock = self._server_clock
        return None if clock is None else clock[0] + (time.time() - clock[1])

    @contextlib.contextmanager
    def open(self, path: str, offset: int = 0, length: int | None = None, *,
             fresh: bool = False) -> Iterator[_HttpResponse]:
        url = self.url_for(path)
        if fresh:
            # Last in the URL, where messages find it to leave it out (_shown).
            url += ("&" if urlsplit(url).query else "?") + f"synco-poll={secrets.token_hex(8)}"
        base_headers = {"User-Agent": "synco-receive", "Accept-Encoding": "identity"}
        if fresh:
            base_headers["Cache-Control"] = "no-cache"
        if length is not None:
            if length <= 0:
                raise ValueError("a range must hold at least one byte")
            base_headers["Range"] = f"bytes={offset}-{offset + length - 1}"
        elif offset:
            base_headers["Range"] = f"bytes={offset}-"
        response: http.client.HTTPResponse | None = None
        current = url
        try:
            response, current = self._answer(url, base_headers)
            if fresh:
                self._note_server_clock(response)
            codings = content_codings(response)
            if codings and response.status == 206 and "Range" in base_headers:
                # A server compressing although asked not to: a range of its compressed form cannot be decoded
                # on its own, so the whole file is asked for (the caller sees a body starting at 0).
                log.debug("%s came compressed (%s) for a range; asking for the whole file", current, codings)
                self._drop(_origin(current))
                del base_headers["Range"]
                response, current = self._answer(url, base_headers)
                codings = content_codings(response)
            if codings and response.status == 206:
                # A part of a compressed form, to a request for the whole file: nothing it holds can be decoded.
                raise TransferError(f"the server answered {_shown(current)} with a compressed part of it (HTTP 206, "
                                    f"Content-Encoding {', '.join(codings)}) although the whole file was asked for")
            decoder: _Decoder | None = None
            if codings:
                if any(coding not in DECODABLE for coding in codings) or len(codings) > 1:
                    raise TransferError(
                        f"the server answered {_shown(current)} with Content-Encoding {', '.join(codings)} although "
                        "synco asks for files as they are (Accept-Encoding: identity): turn compression off for "
                        "the session folder and the public files (nginx: gzip/brotli off; a CDN: its compression "
                        "setting)")
                log.debug("%s came %s-compressed although not asked for; decoding it", current, codings[0])
                decoder = _Decoder()
            status = response.status
            lengths = {value.strip() for value in response.headers.get_all("Content-Length") or []}
            if len(lengths) > 1:
                # http.client reads the body by the first, a caller would check it against another.
                raise TransferError(f"the server answered {_shown(current)} with conflicting Content-Length "
                                    f"headers ({', '.join(sorted(lengths))[:80]})")
            body_length = header_number(response.getheader("Content-Length"))
            short: str | None = None
            body_offset = 0
            total: int | None = body_length
            if status == 206:
                header = response.getheader("Content-Range", "")
                answered = parse_content_range(header)
                if answered is None and not header:
                    kind = response.getheader("Content-Type", "")
                    raise TransferError(f"the server answered {_shown(current)} with a part (HTTP 206) that names no "
                                        f"Content-Range{f' (Content-Type {kind[:60]})' if kind else ''}")
                if answered is None:
                    raise TransferError(f"bad Content-Range {header[:80]!r} from {_shown(current)} (HTTP 206)")
                ranged = "Range" in base_headers
                last = offset + length - 1 if ranged and length is not None else None
                problem = partial_problem(answered, offset if ranged else 0, last, body_length, ranged=ranged)
                if problem is not None:
                    raise TransferError(f"the server answered {_shown(current)} with {problem}")
                body_offset, total, body_length = answered.first, answered.total, answered.length
                short = short_of(answered, last)
            yield _HttpResponse(response, _shown(current), status, body_offset, total, body_length, decoder, short)
        finally:
            # A body left half-read makes the connection unusable for the next request: close it.
            if response is not None and not response.isclosed():
                self._drop(_origin(current))

    def open_many(self, paths: Sequence[str]) -> Iterator[tuple[int, _PipelinedResponse | None]]:
        """Pipelined GETs of several paths of the base URL's host over one kept-alive connection.

        All requests are sent at once and the responses read in order, so a batch costs one round trip
        instead of one per file: what makes many small files fast over a long link. Yields
        ``(position, response)``; the caller must read each response's body completely before taking the
        next. ``None`` stands for a response that is not a plain 200 (a redirect, a 404, a login, a
        compressed body): the caller asks for that path again with :meth:`open`, which knows how to handle it. A
        :class:`TransferError` ends the batch; the caller falls back to :meth:`open` for the rest.
        """
        origin = self._origin
        if not self.pipelining:
            raise TransferError("no pipelining through a plain HTTP proxy")
        scheme, host, port = origin
        default_port = 443 if scheme == "https" else 80
        host_header = (f"[{host}]" if ":" in host else host) + ("" if port == default_port else f":{port}")
        auth = f"Authorization: {self._authorization}\r\n" if self._authorization else ""
        requests = []
        for path in paths:
            parts = urlsplit(self.url_for(path))
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            requests.append(f"GET {target} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: synco-receive\r\n"
                            f"Accept-Encoding: identity\r\n{auth}\r\n")
        conn = self._connection(origin)
        self._calm.wait()
        try:
            if conn.sock is None:
                conn.connect()
            sock = conn.sock
            sock.sendall("".join(requests).encode("latin-1"))
        except (OSError, http.client.HTTPException) as exc:
            self._drop(origin)
            raise TransferError(f"cannot reach {self.base_url}: {_describe(exc)}") from None
        reader = _PipelineReader(sock)
        try:
            for position, path in enumerate(paths):
                status, length, closes, coded = reader.head()
                if status in BUSY_STATUSES:
                    # The rest is asked for again one by one (open() waits the pause out); all wait first.
                    self._calm.extend(pause_for(None, 0))
                # A compressed body (the server ignored "identity") is fetched again by open(), which decodes it.
                if status != 200 or coded:
                    if length is None:
                        raise TransferError(f"HTTP {status} without Content-Length for {path}")
                    if status != 200 and length > DISCARD_LIMIT:
                        # Not read through (DISCARD_LIMIT): open() asks for the rest one by one.
                        raise TransferError(f"HTTP {status} with a body of {length} bytes for {path}")
                    for _chunk in reader.body(length):
                        pass
                    yield position, None
                else:
                    if length is None:
                        # Without a length the body runs to the end of the connection: no pipelining then.
                        raise TransferError(f"no Content-Length for {path}")
                    response = _PipelinedResponse(reader, _shown(self.url_for(path)), length)
                    yield position, response
                    if not response.complete:
                        raise TransferError(f"the body of {path} was not read to its end")
                if closes:
                    raise TransferError("the server closed the kept-alive connection")
            if reader.pending:
                raise TransferError("the server sent more responses than were asked for")
        except (OSError, TransferError) as exc:
            self._drop(origin)
            raise TransferError(f"pipelined download from {self.base_url} broke off: {_describe(exc)}") from None
        except BaseException:
            # The caller stopped early (GeneratorExit) or failed: the rest of the batch is still on the wire.
            self._drop(origin)
            raise

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
        for conn in connections:
            conn.close()

    def abort(self) -> None:
        """Break every open connection at once, so threads blocked reading a body stop now (Ctrl-C).

        ``close()`` from another thread does not wake a thread waiting in ``recv``; shutting the socket
        down does: the read returns at once and the download fails like a dropped connection.
        """
        with self._lock:
            connections = list(self._all)
        for conn in connections:
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
