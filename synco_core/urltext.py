"""URLs typed by people (``--base-url``, a session's address, ``hosts:``, a remote): split in one place.

``urllib.parse.urlsplit`` raises ``ValueError`` for an unbalanced ``[`` and reads ports only when asked
(``.port`` raises then, or returns 0), and a host name with a label longer than 63 characters or a byte
that is not text fails only in the resolver, as a ``UnicodeError``. Each reached the user as a Python
exception's name; here each is one line naming the URL (its password masked).
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from synco_core.errors import ConfigError
from synco_core.redaction import mask_url_passwords, printable

#: How much of a refused URL the message quotes.
SHOWN = 80


def shown_url(url: str) -> str:
    text = printable(mask_url_passwords(url))
    return repr(text if len(text) <= SHOWN else text[:SHOWN] + "...")


def _authority(url: str) -> str:
    """The raw ``user:password@host:port`` of ``url``, as typed (before urlsplit cleans anything)."""
    rest = url.partition("//")[2] if "//" in url else ""
    for end in "/?#":
        rest = rest.partition(end)[0]
    return rest


def split_url(url: str, what: str = "URL") -> SplitResult:
    """``urlsplit(url)`` with its port (1 to 65535 when given) and host name checked; :class:`ConfigError`
    naming ``what`` otherwise."""
    if any(char.isspace() or not char.isprintable() for char in _authority(url)):
        # urlsplit keeps them (a host "h " or "h\x00"), or drops line breaks and tabs without a word, and only a
        # resolver refuses them, in its own words. A path may hold them: an ssh remote's folder "/srv/my app".
        raise ConfigError(f"{what} {shown_url(url)} holds a space, a control character or a byte that is not text")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{what} {shown_url(url)} is malformed: {exc}") from None
    if port == 0:
        raise ConfigError(f"{what} {shown_url(url)} has port 0, where nothing can listen")
    host = parts.hostname
    if host:
        try:
            host.encode("idna")
        except UnicodeError:
            raise ConfigError(f"{what} {shown_url(url)} has an invalid host name (a label longer than 63 "
                              "characters, or characters a host name cannot hold)") from None
    return parts
