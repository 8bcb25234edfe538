"""Telling a web server's page for paths it does not have apart from the file that was asked for.

Sites built as single-page applications (nginx ``try_files $uri /index.html``) and many CMS answer every
unknown path with 200 and an HTML page. For receive that is a missing file in disguise: a session artifact
that is not there, or a public file removed since ``serve`` listed it. Checking the content finds it
wrong either way; these helpers name the cause instead of the symptom (a size or an age header that does
not match), and count the file as missing rather than damaged.
"""

from __future__ import annotations

import re

from synco_core.receive.transport import NotFoundError

#: How an HTML (or XHTML) page starts, after leading white space, in lower case.
_PAGE_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml", b"<!--")

#: Names of public files that are pages themselves: a changed one is not taken for a fallback page.
_PAGE_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml", ".xml", ".svg")

#: Enough of a body's start to recognise a page.
SNIFF_BYTES = 64

#: What the server does, for messages.
FALLBACK = ("the server answered with an HTML page instead: it serves a page for paths it does not have "
            "(a fallback such as nginx's try_files $uri /index.html)")


def is_page(prefix: bytes) -> bool:
    """True when a body starting with ``prefix`` is an HTML page."""
    return prefix.lstrip().lower().startswith(_PAGE_STARTS)


#: How far into a page its ``<title>`` is looked for.
TITLE_BYTES = 4096
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


def describe(prefix: bytes) -> str:
    """What a body starting with ``prefix`` looks like, for a message about a file that is not what it should be.

    A page's title is named where the first :data:`TITLE_BYTES` of ``prefix`` hold one: a proxy's
    "Access denied", a captive portal's "Sign in to Wi-Fi" or a login page tells the user at once who answered.
    """
    if is_page(prefix):
        found = _TITLE.search(prefix[:TITLE_BYTES])
        title = " ".join(found[1].decode("utf-8", "replace").split()) if found else ""
        title = "".join(char if char.isprintable() else "?" for char in title)
        if len(title) > 80:
            title = title[:77] + "..."
        return f"an HTML page titled {title!r}" if title else "an HTML page"
    if not prefix:
        return "an empty response"
    return "something else"


def is_fallback_for(name: str, prefix: bytes) -> bool:
    """True when a wrong answer for the public file ``name`` that starts with ``prefix`` is a fallback page."""
    return is_page(prefix) and not name.lower().endswith(_PAGE_SUFFIXES)


class FallbackPageError(NotFoundError):
    """The path is missing on the server, which answered with its page for unknown paths (HTTP 200)."""
