"""A floor under the speed of every response receive reads over HTTP: a trickling server (slowloris) ends.

A socket timeout bounds one read only: a server that sends one byte every 29 seconds (of a header, of a
body) kept receive busy for as long as it liked, a 1 MB artifact for a year. Like curl's
``--speed-limit``/``--speed-time`` (but on by default), a response must bring at least :data:`MIN_BYTES` in
every :data:`WINDOW` seconds from the moment its request was sent; otherwise the read fails with
:class:`SlowServerError` (an ``OSError``, which the transport already reports as an interrupted download
or an unreachable server). A server that is merely slow (a few KB/s) is never cut: only one that sends
almost nothing.

Receive's sockets are of the classes here: :class:`PacedSocket` for plain connections (and the connection
to a proxy), :class:`PacedSSLSocket` for TLS (the context creates it, see :func:`pace_tls`).
"""

from __future__ import annotations

import socket
import ssl
import time
from typing import Any

#: At least this many bytes ...
MIN_BYTES = 1024
#: ... in every window of this many seconds, counted from the request.
WINDOW = 30.0


class SlowServerError(TimeoutError):
    """The server sent less than :data:`MIN_BYTES` in :data:`WINDOW` seconds."""


class _Paced(socket.socket):
    """The pacing, shared by the plain and the TLS socket (``ssl`` makes the latter without ``__init__``):
    ``super()`` here is ``socket.socket`` for the one and ``ssl.SSLSocket`` for the other."""

    _window_start: float = 0.0
    _window_bytes: int = 0
    #: The timeout asked for with ``settimeout`` (http.client's per-read timeout); None blocks.
    _base_timeout: float | None = None

    def restart_window(self) -> None:
        self._window_start = time.monotonic()
        self._window_bytes = 0

    def _paced(self, read: Any, *args: Any) -> Any:
        if not self._window_start:
            self.restart_window()
        while True:
            now = time.monotonic()
            end = self._window_start + WINDOW
            if now >= end:
                if self._window_bytes < MIN_BYTES:
                    raise SlowServerError(f"the server sent less than {MIN_BYTES} bytes in {WINDOW:g} s")
                self._window_start, self._window_bytes = now, 0
                end = now + WINDOW
            left = end - now
            base = self._base_timeout
            self._set_timeout(left if base is None else min(base, left))
            try:
                result = read(*args)
            except TimeoutError:
                if time.monotonic() < self._window_start + WINDOW:
                    raise  # the per-read timeout itself
                continue  # the window ended: judged at the top
            self._window_bytes += result if isinstance(result, int) else len(result)
            return result

    def settimeout(self, value: float | None) -> None:
        self._base_timeout = value
        super().settimeout(value)

    def _set_timeout(self, value: float | None) -> None:
        super().settimeout(value)

    def sendall(self, data: Any, flags: int = 0) -> None:
        self.restart_window()
        super().sendall(data, flags)


class PacedSocket(_Paced):
    """A plain socket whose reads are paced; sending a request starts a new window."""

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        return self._paced(super().recv, bufsize, flags)  # type: ignore[no-any-return]

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        return self._paced(super().recv_into, buffer, nbytes, flags)  # type: ignore[no-any-return]


class PacedSSLSocket(_Paced, ssl.SSLSocket):
    """The same over TLS (``SSLSocket.recv`` reads through ``read``, which is left alone: no double count)."""

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        return self._paced(super().recv, buflen, flags)  # type: ignore[no-any-return]

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        return self._paced(super().recv_into, buffer, nbytes, flags)  # type: ignore[no-any-return]


def paced(sock: socket.socket) -> PacedSocket:
    """``sock`` (connected) as a :class:`PacedSocket`, keeping its timeout."""
    timeout = sock.gettimeout()
    result = PacedSocket(fileno=sock.detach())
    result.settimeout(timeout)
    return result


def pace_tls(context: ssl.SSLContext) -> ssl.SSLContext:
    """``context``, wrapping sockets as :class:`PacedSSLSocket`."""
    context.sslsocket_class = PacedSSLSocket
    return context
