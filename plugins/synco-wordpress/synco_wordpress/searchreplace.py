"""Replacing the production site's URLs with the local site's in database values, as ``wp search-replace`` does.

:class:`UrlReplacer` is the ``rewrite`` of the :class:`~synco_core.ValueRewriter` synco-wordpress hands the
engines. For each (old URL, new URL) pair (the site's ``home`` and ``siteurl``) it replaces, in any text:

- the URL with either scheme (``https://old`` and ``http://old`` become the new URL, scheme included) and
  without one (``//old`` becomes ``//new``);
- the same forms JSON-escaped (``https:\\/\\/old\\/path``), as block attributes and page builders store them;
- the same forms URL-encoded (``https%3A%2F%2Fold%2Fpath``, upper or lower case hexadecimal), as share links,
  redirect parameters and some page builders store them, by the local URL encoded the same way;
- a value that is exactly the old host (multisite's ``wp_blogs.domain``, ``DOMAIN_CURRENT_SITE``) by the new host.

A match counts only where the URL ends: ``https://example.com`` is not replaced inside
``https://example.com.au``, ``https://example.community`` or ``https://example.com:8443`` (nor its encoded form
inside ``https%3A%2F%2Fexample.com%3A8443``), and a path ends at a path boundary (``/blog`` not inside
``/blogroll``); the longest URL wins where two start at one place
(``siteurl`` ``https://example.com/wp`` before ``home`` ``https://example.com``). PHP-serialized values are
walked (:mod:`synco_wordpress.serialized`) and their string lengths recomputed, nested serialized strings
included, whitespace around them kept; serialized data that does not parse (a wrong length, cut short by
its column) is left untouched, and anything WordPress would not take for serialized data is text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

from synco_wordpress.serialized import (
    TooDeep,
    is_serialized,
    rewrite_serialized,
    starts_serialized,
    strip_php_whitespace,
)

log = logging.getLogger(__name__)

#: What may not follow a replaced URL: more of a host name, a port, a longer path segment.
_CONTINUES = rb"(?![A-Za-z0-9_~-]|[.:%][A-Za-z0-9])"
#: The same for a URL-encoded form, where ``%2F`` (a path) or ``%3F`` (a query) ends the URL and ``%3A`` starts a
#: port.
_CONTINUES_ENCODED = rb"(?![A-Za-z0-9_~-]|\.[A-Za-z0-9]|%(?:3[Aa]|2[Ee]|25)[A-Za-z0-9])"
#: What may not come before a form without a scheme: a scheme's colon (``https://``, ``ftp://``), the end of an
#: escaped or encoded one (``https:\/\/``, ``https%3A%2F%2F``) or a word.
_NO_SCHEME_BEFORE = rb"(?<![:\w\\])"


def split_url(url: str) -> tuple[str, str]:
    """(scheme, host and path without a trailing slash) of a site URL; a ValueError for anything else."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return parts.scheme, parts.netloc + parts.path.rstrip("/")


def host_of(url: str) -> str:
    """The host (with port) of a site URL."""
    return urlsplit(url.strip()).netloc


def _url_encoded(before: str, after: str) -> list[tuple[bytes, bytes]]:
    """(form, replacement): a URL and its replacement percent-encoded as ``rawurlencode()`` and
    ``encodeURIComponent()`` encode them, in upper and in lower case hexadecimal."""
    upper = (quote(before, safe="").encode(), quote(after, safe="").encode())
    return [upper, (_lower_escapes(upper[0]), _lower_escapes(upper[1]))]


def _lower_escapes(text: bytes) -> bytes:
    return re.sub(rb"%[0-9A-F]{2}", lambda match: match.group(0).lower(), text)


def _host_spellings(host: str) -> list[bytes]:
    """A host as the forms hold it: as written, and URL-encoded (``example.com%3A8443``) where that differs."""
    encoded = quote(host, safe="").encode()
    return list(dict.fromkeys([host.encode(), encoded, _lower_escapes(encoded)]))


def _alternatives(forms: dict[bytes, bytes], encoded: set[bytes]) -> re.Pattern[bytes] | None:
    """One pattern for ``forms``, each with its own guards, the longest first: alternation takes the first that
    matches, and a scheme-less form must not match inside a URL that has a scheme (the lookbehind) or another
    scheme (ftp://)."""
    alternatives = []
    for form in sorted(forms, key=len, reverse=True):
        guard = _NO_SCHEME_BEFORE if form.startswith((b"//", b"\\/", b"%2F", b"%2f")) else b""
        end = _CONTINUES_ENCODED if form in encoded else _CONTINUES
        alternatives.append(guard + re.escape(form) + end)
    return re.compile(b"|".join(alternatives)) if alternatives else None


class UrlReplacer:
    """Replaces the old URLs of ``pairs`` (old URL, new URL) in text, JSON and PHP-serialized values."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        pairs = list(pairs)
        self.mapping: dict[bytes, bytes] = {}
        #: The URL-encoded forms among :attr:`mapping`'s (their URL ends by other rules).
        self.encoded: set[bytes] = set()
        self.hosts: dict[bytes, bytes] = {}
        for old, new in pairs:
            _, old_rest = split_url(old)
            new_scheme, new_rest = split_url(new)
            new_url = f"{new_scheme}://{new_rest}"
            plain = {f"https://{old_rest}": new_url, f"http://{old_rest}": new_url, f"//{old_rest}": f"//{new_rest}"}
            forms = {before.encode(): after.encode() for before, after in plain.items()}
            for before, after in plain.items():
                forms[before.replace("/", "\\/").encode()] = after.replace("/", "\\/").encode()
            for before, after in plain.items():
                for encoded_before, encoded_after in _url_encoded(before, after):
                    forms[encoded_before] = encoded_after
                    self.encoded.add(encoded_before)
            for before_bytes, after_bytes in forms.items():
                # The first pair for a form wins (siteurl and home may share one).
                self.mapping.setdefault(before_bytes, after_bytes)
            self.hosts.setdefault(host_of(old).encode(), host_of(new).encode())
        self.mapping = {k: v for k, v in self.mapping.items() if k != v}
        self.hosts = {k: v for k, v in self.hosts.items() if k != v}
        self.pattern = _alternatives(self.mapping, self.encoded)
        #: What a value must contain to need this replacer: every form holds its host, as written or (a host with
        #: a port) URL-encoded.
        changed = [host_of(old) for old, new in pairs if old.rstrip("/") != new.rstrip("/")]
        self.needles = tuple(dict.fromkeys(needle for host in changed for needle in _host_spellings(host)))
        #: Per host spelling (a needle): (bytes from a form's start to the host, the forms that hold it that far
        #: in), the farthest first, so that a match is looked for only where one can start and only among the forms
        #: that fit there. A network's site hosts each get theirs.
        self.at_offsets: list[tuple[bytes, list[tuple[int, re.Pattern[bytes]]]]] = []
        for needle in self.needles:
            offsets: dict[int, dict[bytes, bytes]] = {}
            for form, replacement in self.mapping.items():
                if needle in form:
                    offsets.setdefault(form.find(needle), {})[form] = replacement
            self.at_offsets.append((needle, [(offset, pattern) for offset in sorted(offsets, reverse=True)
                                             if (pattern := _alternatives(offsets[offset], self.encoded)) is not None]))
        self._warned_deep = False

    def __bool__(self) -> bool:
        return bool(self.needles and (self.mapping or self.hosts))

    def plain(self, value: bytes) -> bytes:
        """``value`` as text: every old URL form replaced, and a value that is exactly an old host."""
        if value in self.hosts:
            return self.hosts[value]
        if self.pattern is None:
            return value
        # Every form holds its host a few bytes after its start, so the patterns are tried only there: a regular
        # expression of alternatives scanning a long post body position by position costs ten times more (fifty
        # with a network's several hosts).
        if len(self.at_offsets) == 1:
            return self._one_host(value, *self.at_offsets[0])
        found: list[tuple[int, int, bytes]] = []
        for needle, offsets in self.at_offsets:
            search = 0
            while (at := value.find(needle, search)) != -1:
                for offset, pattern in offsets:
                    start = at - offset
                    match = pattern.match(value, start) if start >= 0 else None
                    if match is not None and match.end() > at:
                        found.append((start, -match.end(), match.group(0)))
                        break
                search = at + 1
        if not found:
            return value
        # As one alternation would: the leftmost match, the longest there, then on after it.
        pieces: list[bytes] = []
        done = 0
        for start, negative_end, form in sorted(found):
            if start < done:
                continue
            pieces += [value[done:start], self.mapping[form]]
            done = -negative_end
        pieces.append(value[done:])
        return b"".join(pieces)

    def _one_host(self, value: bytes, host: bytes, offsets: list[tuple[int, re.Pattern[bytes]]]) -> bytes:
        pieces: list[bytes] = []
        done = search = 0
        while True:
            found = value.find(host, search)
            if found == -1:
                break
            match = None
            for offset, pattern in offsets:
                start = found - offset
                if start < done:
                    continue
                match = pattern.match(value, start)
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
