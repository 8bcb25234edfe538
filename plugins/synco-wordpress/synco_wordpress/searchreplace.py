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


#: The prefixes every form starts with: a scheme and ``//``, or ``//`` alone, as written, JSON-escaped and
#: URL-encoded (upper or lower case hexadecimal). No two of them match at one place.
_PREFIX = re.compile(rb"https?:(?://|\\/\\/)|https?%3A%2F%2F|https?%3a%2f%2f|//|\\/\\/|%2F%2F|%2f%2f")
_SCHEMELESS = (b"//", b"\\/", b"%2F", b"%2f")
_GUARD = re.compile(_NO_SCHEME_BEFORE)
_ENDS = re.compile(_CONTINUES)
_ENDS_ENCODED = re.compile(_CONTINUES_ENCODED)


def _fewest_needles(needles: Iterable[bytes]) -> tuple[bytes, ...]:
    """``needles`` without those that hold another one after a dot (``shop.example.com`` holds ``example.com``),
    and those below one domain (two labels or more) that several share reduced to it: a value holding the longer
    one holds the shorter, so the shorter finds every value the longer would. The engines search every statement
    for each needle: a network's thousands of site hosts would cost thousands of searches per statement."""
    listed = list(needles)
    parents: dict[bytes, int] = {}
    for needle in listed:
        parent = _parent(needle)
        if parent is not None:
            parents[parent] = parents.get(parent, 0) + 1
    reduced = dict.fromkeys(parent if parent is not None and parents[parent] > 1 else needle
                            for needle in listed for parent in [_parent(needle)])
    kept = [needle for needle in reduced if not any(suffix in reduced for suffix in _dot_suffixes(needle))]
    return tuple(kept)


def _parent(needle: bytes) -> bytes | None:
    """``needle`` without its first label, when what is left is still a domain of two labels or more."""
    _, dot, rest = needle.partition(b".")
    return rest if dot and b"." in rest.split(b"%", 1)[0].split(b":", 1)[0] else None


def _dot_suffixes(needle: bytes) -> Iterable[bytes]:
    """Every proper part of ``needle`` after one of its dots."""
    at = needle.find(b".")
    while at != -1:
        yield needle[at + 1:]
        at = needle.find(b".", at + 1)


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
        #: Per prefix a form starts with (``https://``, ``\\/\\/``, ``%2F%2F`` ...): what follows it in each form (its
        #: URL without the scheme) to that form, and those lengths, longest first. A match is looked up where a prefix
        #: starts, one dict lookup per length: a network's thousands of sites cost no more per value than one, where
        #: a regular expression of alternatives (or a search per host) costs as many tries as there are forms.
        self.by_prefix: dict[bytes, tuple[dict[bytes, bytes], tuple[int, ...]]] = {}
        rests: dict[bytes, dict[bytes, bytes]] = {}
        for form in self.mapping:
            starts = _PREFIX.match(form)
            assert starts is not None, form  # Every form is built from one of those prefixes.
            rests.setdefault(starts.group(0), {})[form[starts.end():]] = form
        for prefix, forms in rests.items():
            self.by_prefix[prefix] = (forms, tuple(sorted({len(rest) for rest in forms}, reverse=True)))
        #: What a value must contain to need this replacer: every form holds its host, as written or (a host with
        #: a port) URL-encoded; a host below another one's domain holds that one too (see :func:`_fewest_needles`).
        changed = [host_of(old) for old, new in pairs if old.rstrip("/") != new.rstrip("/")]
        self.needles = _fewest_needles(dict.fromkeys(needle for host in changed for needle in _host_spellings(host)))
        #: The longest form: a match starts at most this far before a needle it holds.
        self.longest = max(map(len, self.mapping), default=0)
        self._warned_deep = False

    def __bool__(self) -> bool:
        return bool(self.needles and (self.mapping or self.hosts))

    def plain(self, value: bytes) -> bytes:
        """``value`` as text: every old URL form replaced, and a value that is exactly an old host.

        As one alternation of every form would: the leftmost match, the longest there, then on after it."""
        if value in self.hosts:
            return self.hosts[value]
        if not self.by_prefix:
            return value
        pieces: list[bytes] = []
        done = 0
        for first, last in self._windows(value):
            search = max(first, done)
            # Searched again from the next byte, not after the prefix: prefixes overlap (``///host``: a form may
            # start at the second slash).
            while (found := _PREFIX.search(value, search)) is not None and found.start() <= last:
                start = search = found.start()
                search += 1
                if start < done:
                    continue
                form = self._form_at(value, start, found.group(0))
                if form is not None:
                    pieces += [value[done:start], self.mapping[form]]
                    done = search = start + len(form)
        if not pieces:
            return value
        pieces.append(value[done:])
        return b"".join(pieces)

    def _windows(self, value: bytes) -> list[tuple[int, int]]:
        """Where a form may start in ``value`` (first and last place, in order, merged): every form holds a needle
        at most :attr:`longest` bytes from its start, so only the bytes before each needle found are looked at (a
        long post body is searched for the needles at C speed, not byte by byte for prefixes)."""
        found: list[int] = []
        for needle in self.needles:
            at = value.find(needle)
            while at != -1:
                found.append(at)
                at = value.find(needle, at + 1)
        windows: list[tuple[int, int]] = []
        for at in sorted(found):
            first = max(0, at - self.longest)
            if windows and first <= windows[-1][1] + 1:
                windows[-1] = (windows[-1][0], at)
            else:
                windows.append((first, at))
        return windows

    def _form_at(self, value: bytes, start: int, prefix: bytes) -> bytes | None:
        """The longest form that matches at ``start`` (where ``prefix`` is), guards included; None without one."""
        group = self.by_prefix.get(prefix)
        if group is None:
            return None
        if prefix.startswith(_SCHEMELESS) and _GUARD.match(value, start) is None:
            return None
        forms, lengths = group
        after = start + len(prefix)
        for length in lengths:
            form = forms.get(value[after:after + length])
            if form is None:
                continue
            end = _ENDS_ENCODED if form in self.encoded else _ENDS
            if end.match(value, after + length) is not None:
                return form
        return None

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
