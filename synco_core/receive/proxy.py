"""Proxies from the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``, lower case first), as curl
reads them, and the credentials a URL carries."""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from synco_core.errors import TransferError
from synco_core.origins import Origin, quoted_url
from synco_core.redaction import register_secret


def split_auth(url: str) -> tuple[str, tuple[str, str] | None]:
    """``https://user:pw@host/`` -> (``https://host/``, (user, pw)); the password is registered as secret.

    :class:`TransferError` (never quoting the password) for an address that cannot be read: a bad port, an
    unclosed ``[`` (``urlsplit`` and ``port`` raise ValueError for those).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TransferError(f"malformed URL {quoted_url(url)} ({exc})") from None
    if parts.username is None:
        return url, None
    user = unquote(parts.username)
    password = unquote(parts.password or "")
    register_secret(password)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), (user, password)


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy from the environment (``http://[user:password@]host:port``)."""

    host: str
    port: int
    #: ``Basic ...`` for the proxy's own login, or None.
    authorization: str | None = None
    #: The variable it came from, for messages (``HTTPS_PROXY (or https_proxy)``).
    variable: str = "the proxy variable"

    @property
    def description(self) -> str:
        return f"proxy {self.host}:{self.port}"

    def login_message(self) -> str:
        """What to say when the proxy refuses the request for its login: it wants one, or refuses the one given."""
        if self.authorization is None:
            return (f"{self.description} asks for a login (HTTP 407): give it in {self.variable} as "
                    f"http://user:password@{self.host}:{self.port}")
        return f"{self.description} refused the user name and password of {self.variable}; check them"


def parse_proxy(url: str, variable: str = "the proxy variable") -> Proxy:
    """The proxy a ``*_PROXY`` variable (named ``variable`` in messages) names; its password is registered as
    secret."""
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TransferError(f"{variable} holds a malformed proxy address {quoted_url(url)} ({exc})") from None
    if parts.scheme != "http" or not parts.hostname:
        raise TransferError(f"unsupported proxy {quoted_url(url)} in {variable}: only http:// proxies (with CONNECT "
                            "for https) are supported")
    authorization = None
    if parts.username is not None:
        password = unquote(parts.password or "")
        register_secret(password)
        token = base64.b64encode(f"{unquote(parts.username)}:{password}".encode()).decode()
        register_secret(token)
        authorization = f"Basic {token}"
    return Proxy(parts.hostname, port or 80, authorization, variable)


#: The variables the proxies are read from (through :func:`urllib.request.getproxies_environment`, which takes
#: each in lower case first), by the key that function gives them, for messages.
VARIABLES = {"http": "HTTP_PROXY", "https": "HTTPS_PROXY", "all": "ALL_PROXY", "no": "NO_PROXY"}


def variable_named(key: str) -> str:
    """``HTTPS_PROXY (or https_proxy)``: the variable of a ``getproxies_environment`` key, both its forms."""
    name = VARIABLES.get(key, f"{key.upper()}_PROXY")
    return f"{name} (or {name.lower()})"


def proxy_for(origin: Origin, proxies: dict[str, str]) -> Proxy | None:
    """The proxy ``HTTP_PROXY`` / ``HTTPS_PROXY``, else ``ALL_PROXY`` (or their lower-case forms) name for
    ``origin``, unless ``NO_PROXY`` exempts its host; ``proxies`` is
    :func:`urllib.request.getproxies_environment`'s answer."""
    scheme, host, port = origin
    url, variable = proxies.get(scheme), variable_named(scheme)
    if not url:
        # curl's fallback for every scheme; urllib leaves it out, and a receive went around the proxy.
        url, variable = proxies.get("all"), variable_named("all")
    if not url:
        return None
    if bypassed(host, port, proxies.get("no", "")):
        return None
    return parse_proxy(url, variable)


def bypassed(host: str, port: int, no_proxy: str) -> bool:
    """True when ``NO_PROXY`` exempts ``host``: ``*``, the host itself or a domain above it (``example.com``,
    ``.example.com``, ``*.example.com``), optionally with ``:port`` (``[::1]:8080`` for an IPv6 address), or an
    address range (``10.0.0.0/8``)."""
    host = host.lower().strip("[]")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for item in (part.strip().lower() for part in no_proxy.split(",")):
        if not item:
            continue
        if item == "*":
            return True
        if item.startswith("["):
            # A bracketed IPv6 address (or range), with or without a port after the bracket.
            name, _, rest = item[1:].partition("]")
            wanted_port = rest.removeprefix(":")
        else:
            name, _, wanted_port = item.rpartition(":") if item.count(":") == 1 else (item, "", "")
        if wanted_port and wanted_port != str(port):
            continue
        if address is not None and "/" in name:
            try:
                network = ipaddress.ip_network(name, strict=False)
                if address in network or _unmapped(address) in network:
                    return True
            except ValueError:
                pass
            continue
        # "*.example.com" is written for ".example.com" (Go and many tools read it so).
        name = name.removeprefix("*").lstrip(".")
        if host == name or host.endswith("." + name) or (address is not None and _same_address(address, name)):
            return True
    return False


def _same_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address, name: str) -> bool:
    """True when ``name`` is ``address`` written another way (``::1`` and ``0:0:0:0:0:0:0:1``, ``::ffff:10.0.0.1``
    and ``10.0.0.1``), as curl compares addresses."""
    try:
        other = ipaddress.ip_address(name)
    except ValueError:
        return False
    return _unmapped(address) == _unmapped(other)


def _unmapped(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address
