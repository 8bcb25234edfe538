"""Where receive may send a request: the user's server, the hosts the session declares, and no further.

A session's index may name files by absolute URL (a CDN, an S3 bucket). Taken as they come, such URLs
would let a hostile server make the laptop fetch anything it can reach: the router's admin page, a
service on localhost, a cloud metadata endpoint. So:

- :class:`UrlPolicy`: an absolute URL is fetched only from the session's own origin (the same host,
  same or upgraded scheme) or from an origin the encrypted meta declares in ``urlOrigins`` (written by
  ``serve`` from the URLs the plugins' file sets produced). Go synco v2 sessions declare none, so their
  absolute URLs must be on the session's own host.
- :func:`check_address`: whatever the name, the address actually connected to must be public, unless the
  session itself is reached at an address of the same kind (a staging server on the LAN may point at
  another LAN host; a session on a public host may not point at 127.0.0.1 or 169.254.169.254). The
  transport checks the addresses a name resolves to before connecting and the peer of the connected
  socket, so a name that resolves differently a second time (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from synco_core.errors import TransferError
from synco_core.redaction import mask_url_passwords


class RefusedRequestError(TransferError):
    """A request that was never made: its URL or address is not one receive may fetch from."""


#: (scheme, host, port), the host lower-cased: what "the same origin" compares.
Origin = tuple[str, str, int]

LOOPBACK = "loopback"
LINK_LOCAL = "link-local"
PRIVATE = "private"
PUBLIC = "public"
#: Unspecified and multicast addresses: never a server to fetch from.
UNUSABLE = "unusable"


#: The most of a URL a message quotes: a redirect's Location or an index's URI may be a ``data:`` URL of
#: tens of kilobytes, and a line of that size is no message.
URL_SHOWN = 200


def shown_url(url: str) -> str:
    """``url`` as a message shows it: its password masked, cut at :data:`URL_SHOWN` characters."""
    text = mask_url_passwords(url)
    return text if len(text) <= URL_SHOWN else text[:URL_SHOWN - 3] + "..."


def quoted_url(url: str) -> str:
    """:func:`shown_url`, quoted."""
    return repr(shown_url(url))


def origin_of(url: str) -> Origin:
    """The origin of an http(s) URL; :class:`TransferError` for any other scheme, a bad port or a URL that
    cannot be read (``http://[::1/``, which ``urlsplit`` refuses with a ValueError)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise TransferError(f"malformed URL {quoted_url(url)}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise RefusedRequestError(f"refusing URL {quoted_url(url)}: only http(s) URLs are fetched")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise TransferError(f"bad port in URL {quoted_url(url)}") from None
    return scheme, (parts.hostname or "").lower(), port


def origin_text(origin: Origin) -> str:
    """``https://cdn.example.com`` (the port only when it is not the scheme's default)."""
    scheme, host, port = origin
    shown = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{shown}" + ("" if port == default else f":{port}")


def same_site(session: Origin, target: Origin) -> bool:
    """The same host, with the same scheme and port or upgraded from http to https (never the other way)."""
    if target[1] != session[1]:
        return False
    if session[0] == target[0]:
        return target[2] == session[2]
    return session[0] == "http" and target[0] == "https"


class UrlPolicy:
    """Which absolute URLs of a session's indexes may be fetched (see the module's description)."""

    def __init__(self, session_url: str | None, declared: Iterable[str] = ()) -> None:
        self.session = origin_of(session_url) if session_url else None
        self.declared: set[Origin] = set()
        for text in declared:
            try:
                self.declared.add(origin_of(text))
            except TransferError:
                raise RefusedRequestError(f"the session declares the unusable origin {quoted_url(text)}") from None

    def allows(self, url: str) -> bool:
        try:
            origin = origin_of(url)
        except TransferError:
            return False
        return origin in self.declared or (self.session is not None and same_site(self.session, origin))

    def check(self, url: str) -> None:
        """Refuse ``url`` unless it is on the session's own site or on an origin the session declares."""
        if not self.allows(url):
            try:
                shown = origin_text(origin_of(url)) if url.startswith(("http://", "https://")) else quoted_url(url)
            except TransferError:
                shown = quoted_url(url)
            raise RefusedRequestError(f"the index names files on {shown}, which the session does not declare "
                                "(only its own server and the hosts in its meta are fetched from)")


def address_scope(address: str) -> str:
    """What kind of address ``address`` is: loopback, link-local, private (any other non-global), public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified or ip.is_multicast:
        return UNUSABLE
    if ip.is_loopback:
        return LOOPBACK
    if ip.is_link_local:
        return LINK_LOCAL
    if not ip.is_global:
        return PRIVATE
    return PUBLIC


def address_allowed(address: str, session_scope: str | None) -> bool:
    """True when a host other than the session's may be reached at ``address``."""
    scope = address_scope(address)
    return scope == PUBLIC or (scope != UNUSABLE and scope == session_scope)


def check_address(address: str, session_scope: str | None, host: str) -> None:
    """Refuse to connect to ``host`` at ``address`` unless :func:`address_allowed`."""
    if not address_allowed(address, session_scope):
        scope = address_scope(address)
        where = f"at a {session_scope} address" if session_scope else "not connected to yet"
        raise RefusedRequestError(f"refusing to fetch from {host}: it is at {address}, a {scope} address, which only "
                            f"a session on such an address may use (the session's server is {where})")
