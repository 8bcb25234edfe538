"""How the receive side reads a session: a small :class:`Transport` protocol and its HTTP implementation.

Everything in :mod:`synco_core.receive` reads through a transport, never through HTTP directly, so
``synco pull`` can feed the same receive code from an ssh/docker/kubectl channel (or a local folder,
:class:`DirectoryTransport`) by implementing :meth:`Transport.open`.

Paths are relative to the transport's base (``synco-abc/meta.json.enc``) or, for public files hosted
elsewhere (S3, a CDN), a full ``http(s)://`` URL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Protocol

from synco_core.errors import TransferError
from synco_core.origins import RefusedRequestError

log = logging.getLogger(__name__)


#: Read size for streamed bodies: large enough to keep per-chunk overhead low, small enough for flat memory.
CHUNK_SIZE = 64 * 1024


MAX_REDIRECTS = 5


class UnavailableError(TransferError):
    """The other end answered, but will not give this path (it is missing or refused): asking again will not help.

    Public files turn out so when they vanished since ``serve`` indexed them, or when the web server
    refuses them (a ``deny`` rule answering 403).
    """


class NotFoundError(UnavailableError):
    """The path does not exist at the other end (HTTP 404/410, missing file)."""


class ForbiddenError(UnavailableError):
    """The other end refuses the path (HTTP 403), as web servers do for dotfiles and denied folders."""


class RefusedRedirectError(RefusedRequestError):
    """A redirect to another host or scheme, not followed; ``target`` is where it led (shown form)."""

    def __init__(self, message: str, target: str) -> None:
        super().__init__(message)
        self.target = target


class UnreachableError(TransferError):
    """Nothing answered: the connection was refused, timed out, or the name does not resolve."""


class UntrustedCertificateError(UnreachableError):
    """The server's TLS certificate does not verify against the CAs this machine trusts (self-signed, a private
    CA, expired, another host's name)."""


class ProxyRefusedError(UnreachableError):
    """The proxy between this machine and the server answered for the server: it will not open the way there
    (a tunnel its rules refuse, a server it cannot reach, a tunnel it closed at once)."""


class ProxyLoginError(ProxyRefusedError):
    """The proxy between this machine and the server wants a login, or refuses the one given (HTTP 407, or a
    401 to a CONNECT): nothing reached the server."""


class RangeNotSatisfiableError(TransferError):
    """The requested offset is at or past the end of the file (HTTP 416): nothing more to read."""


class Response(Protocol):
    """An open read of one path."""

    #: 200 for the whole file, 206 when the read starts at the requested offset.
    status: int
    #: Where the body starts in the file: the requested offset, or 0 when the other end ignored it.
    offset: int
    #: Size of the whole file when the other end says so, else None.
    total_size: int | None

    def iter_bytes(self) -> Iterator[bytes]:
        """The body in chunks; raises :class:`TransferError` when the connection breaks."""
        ...


class Transport(Protocol):
    """Opens paths of a session's base for reading; thread-safe (public files are read in parallel)."""

    #: Shown to the user ("http://host/", "ssh host"); never contains a password.
    description: str

    def open(self, path: str, offset: int = 0, length: int | None = None) -> AbstractContextManager[Response]:
        """Open ``path`` from byte ``offset`` (at most ``length`` bytes of it when given); raises
        :class:`NotFoundError` or :class:`TransferError`.

        An implementation may ignore the range: the response's ``offset`` says where its body starts, and
        a caller that asked for ``length`` bytes reads no more than those.
        """
        ...

    def close(self) -> None:
        ...
