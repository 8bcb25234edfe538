"""Replacing the production site's URLs with the local site's in database values, as ``wp search-replace`` does.

:class:`UrlReplacer` is the ``rewrite`` of the :class:`~synco_core.ValueRewriter` synco-wordpress hands the
engines. For each (old URL, new URL) pair (the site's ``home`` and ``siteurl``) it replaces, in any text:

- the URL with either scheme (``https://old`` and ``http://old`` become the new URL, scheme included) and
  without one (``//old`` becomes ``//new``);
- the same forms JSON-escaped (``https:\\/\\/old\\/path``), as block attributes and page builders store them;
- a value that is exactly the old host (multisite's ``wp_blogs.domain``, ``DOMAIN_CURRENT_SITE``) by the new host.

A match counts only where the URL ends: ``https://example.com`` is not replaced inside
``https://example.com.au``, ``https://example.community`` or ``https://example.com:8443``, and a path ends at a
path boundary (``/blog`` not inside ``/blogroll``); the longest URL wins where two start at one place
(``siteurl`` ``https://example.com/wp`` before ``home`` ``https://example.com``). PHP-serialized values are
walked (:mod:`synco_wordpress.serialized`) and their string lengths recomputed, nested serialized strings
included, whitespace around them kept; serialized data that does not parse (a wrong length, cut short by
its column) is left untouched, and anything WordPress would not take for serialized data is text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from synco_wordpress.serialized import (
    TooDeep,
    is_serialized,
    rewrite_serialized,
    starts_serialized,
    strip_php_whitespace,
)

log = logging.getLogger(__name__)

#: The longest text before the host in a replaced form: ``https:\/\/``.
_LONGEST_PREFIX = len(b"https:\\/\\/")
#: What may not follow a replaced URL: more of a host name, a port, a longer path segment.
_CONTINUES = rb"(?![A-Za-z0-9_~-]|[.:%][A-Za-z0-9])"


def split_url(url: str) -> tuple[str, str]:
    """(scheme, host and path without a trailing slash) of a site URL; a ValueError for anything else."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return parts.scheme, parts.netloc + parts.path.rstrip("/")


def host_of(url: str) -> str:
    """The host (with port) of a site URL."""
    return urlsplit(url.strip()).netloc


class UrlReplacer:
    """Replaces the old URLs of ``pairs`` (old URL, new URL) in text, JSON and PHP-serialized values."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        pairs = list(pairs)
        self.mapping: dict[bytes, bytes] = {}
        self.hosts: dict[bytes, bytes] = {}
        for old, new in pairs:
            _, old_rest = split_url(old)
            new_scheme, new_rest = split_url(new)
            new_url = f"{new_scheme}://{new_rest}"
            forms = {f"https://{old_rest}": new_url, f"http://{old_rest}": new_url, f"//{old_rest}": f"//{new_rest}"}
            for before, after in list(forms.items()):
                forms[before.replace("/", "\\/")] = after.replace("/", "\\/")
            for before, after in forms.items():
                # The first pair for a form wins (siteurl and home may share one).
                self.mapping.setdefault(before.encode(), after.encode())
            self.hosts.setdefault(host_of(old).encode(), host_of(new).encode())
        self.mapping = {k: v for k, v in self.mapping.items() if k != v}
        self.hosts = {k: v for k, v in self.hosts.items() if k != v}
        # The longest form first: alternation takes the first that matches, and a scheme-less form must not
        # match inside a URL that has a scheme (the lookbehind) or another scheme (ftp://).
        alternatives = []
        for form in sorted(self.mapping, key=len, reverse=True):
            guard = rb"(?<![:\w\\])" if form.startswith((b"//", b"\\/")) else b""
            alternatives.append(guard + re.escape(form))
        self.pattern = re.compile(b"(?:" + b"|".join(alternatives) + b")" + _CONTINUES) if alternatives else None
        #: What a value must contain to need this replacer: every form holds its host.
        self.needles = tuple(dict.fromkeys(host_of(old).encode() for old, new in pairs
                                           if old.rstrip("/") != new.rstrip("/")))
        self._warned_deep = False

    def __bool__(self) -> bool:
        return bool(self.needles and (self.mapping or self.hosts))

    def plain(self, value: bytes) -> bytes:
        """``value`` as text: every old URL form replaced, and a value that is exactly an old host."""
        if value in self.hosts:
            return self.hosts[value]
        if self.pattern is None:
            return value
        if len(self.needles) != 1:
            return self.pattern.sub(lambda match: self.mapping[match.group(0)], value)
        # Every form holds the host a few bytes after its start, so the pattern is tried only there: a regular
        # expression of alternatives scanning a long post body position by position costs ten times more.
        host = self.needles[0]
        pieces: list[bytes] = []
        done = search = 0
        while True:
            found = value.find(host, search)
            if found == -1:
                break
            match = None
            for start in range(max(done, found - _LONGEST_PREFIX), found + 1):
                match = self.pattern.match(value, start)
                if match is not None and match.end() > found:
                    break
                match = None
            if match is None:
                search = found + 1
                continue
            pieces += [value[done:match.start()], self.mapping[match.group(0)]]
            done = search = match.end()
        if not pieces:
            return value
        pieces.append(value[done:])
        return b"".join(pieces)

    def __call__(self, value: bytes) -> bytes:
        """The rewrite of one database value (serialized data walked, anything else as text)."""
        if not any(needle in value for needle in self.needles):
            return value
        if is_serialized(value) or starts_serialized(value):
            # WordPress trims a value before unserializing it, so the whitespace around one is no reason to take
            # it for text: its lengths would go wrong under a plain replace.
            core = strip_php_whitespace(value)
            start = value.find(core)
            try:
                walked = rewrite_serialized(core, self)
            except (TooDeep, RecursionError):
                if not self._warned_deep:
                    self._warned_deep = True
                    log.warning("a serialized value nests too deeply to rewrite safely; it is left as it is")
                return value
            if walked is None:
                # Broken serialized data (a length a buggy plugin got wrong, a value cut short by its column):
                # WordPress cannot read it either way, and only its original bytes can still be repaired.
                return value
            return value[:start] + walked + value[start + len(core):]
        return self.plain(value)
