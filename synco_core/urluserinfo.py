"""Where the ``user:password@`` of a URL ends: one reading for the parser of database URLs and the masking of
URLs quoted in messages, so a password the parser takes is the password the masking hides.

Passwords in framework configuration often carry unencoded ``@``, ``/``, ``#`` or ``?``, which a strict URL
parser would take for the end of the userinfo, the path, a fragment or the query (and then show the password as
part of a host name, or in an error). :func:`split_userinfo` reads them leniently; :func:`password_span` adds
what the masking of free text needs on top: a URL whose authority is a plain ``host[:port]`` has no password,
whatever ``@`` its path, query or fragment holds (``https://cdn:8080/img@2x.png``).
"""

from __future__ import annotations

import re

#: A host (a name, an IPv4 address, a bracketed IPv6 address, or nothing: a socket) and an optional port.
_AUTHORITY = re.compile(r"(?:[A-Za-z0-9._~%!$&'()*+,;=-]*|\[[0-9A-Fa-f:.]+(?:%[A-Za-z0-9._~-]+)?\])(?::[0-9]*)?")

#: The same with nothing but digits (five at most) after its colon: what only a port can be.
_HOST_PORT = re.compile(r"(?:[A-Za-z0-9._~%!$&'()*+,;=-]+|\[[0-9A-Fa-f:.]+(?:%[A-Za-z0-9._~-]+)?\])(?::[0-9]{1,5})?")


def is_authority(hostpart: str) -> bool:
    """True when ``hostpart`` (what follows the userinfo) starts with a host[:port] up to its path or query."""
    authority = re.split(r"[/?#]", hostpart, maxsplit=1)[0]
    return _AUTHORITY.fullmatch(authority) is not None


def split_userinfo(rest: str) -> tuple[str | None, str]:
    """Split ``user:password@host...`` (the text after ``scheme://``) into userinfo and the rest.

    A host never contains ``@``, so the userinfo ends at the last ``@`` before the query; when that leaves no
    host[:port] a server could have (the query began inside the password: ``user:pa?ss@db:3306/app``,
    ``user:p@ss:w?rd@db/app``), at the last ``@`` of all, if that one does.
    """
    before_query = rest.split("?", 1)[0]
    first = before_query.rindex("@") if "@" in before_query else None
    if first is not None and is_authority(rest[first + 1 :]):
        return rest[:first], rest[first + 1 :]
    last = rest.rindex("@") if "@" in rest else None
    # A user name holds no "/" or "?": without one, the "@" is in the query (mysql://h/db?x=a@b).
    if (
        last is not None
        and last != first
        and is_authority(rest[last + 1 :])
        and not re.search(r"[/?]", rest[:last].partition(":")[0])
    ):
        return rest[:last], rest[last + 1 :]
    if first is None:
        return None, rest
    return rest[:first], rest[first + 1 :]


def password_span(rest: str) -> tuple[int, int] | None:
    """Where the password lies in ``rest`` (the text after ``scheme://``, up to the next space), or None.

    A URL whose authority, up to the first ``/``, ``?`` or ``#`` as RFC 3986 reads it, is a host with at most
    a port of digits has none: an ``@`` after it is in the path, query or fragment (``img@2x.png``,
    ``?from=a@b``), which the lenient reading of :func:`split_userinfo` took for the end of a password running
    over the port and the path. Only a password of one to five digits followed by an unencoded ``/``, ``?`` or
    ``#`` (``u:1234/x@db``) reads so too; such a URL is read as RFC 3986 and every HTTP client read it.
    """
    strict = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" not in strict and _HOST_PORT.fullmatch(strict):
        return None
    userinfo, _ = split_userinfo(rest)
    if userinfo is not None and re.search(r"[@/?#]", userinfo.partition(":")[0]):
        # A user name holds none of these unencoded, a password may: the lenient reading ran past the userinfo
        # into an "@" of the path or fragment (u@h#:@), and the userinfo is what RFC 3986 reads.
        userinfo = strict.rpartition("@")[0] if "@" in strict else None
    if userinfo is None or ":" not in userinfo:
        return None
    return userinfo.index(":") + 1, len(userinfo)
