"""Whether an HTTP answer is a cache's copy rather than the site's own, as caches and CDNs say so in headers.

The meta is asked for with a query no cache has seen (:meth:`HttpTransport.open_fresh`), so an answer that is
a cache's copy all the same comes from a cache that leaves the query out of its key: whatever serve writes,
it answers with the copy it took until that expires. Saying so turns "this key does not open session X" (an
earlier serve's meta under the same ``--id``) or a wait for Ready that can never end into the one thing to
change: the cache.
"""

from __future__ import annotations

from collections.abc import Callable

#: Headers in which caches say how they answered, and the words of theirs that mean "from my copy": nginx's
#: conventional ``X-Cache-Status`` / ``X-Proxy-Cache`` ($upstream_cache_status), Squid's, Fastly's and
#: CloudFront's ``X-Cache`` (``HIT``, ``HIT, MISS``, ``Hit from cloudfront``), Cloudflare's ``CF-Cache-Status``.
#: REVALIDATED is left out: the site confirmed the copy, which is then its own content.
CACHE_HEADERS = ("X-Cache-Status", "X-Proxy-Cache", "X-Cache", "CF-Cache-Status")
COPY_WORDS = frozenset({"HIT", "STALE", "UPDATING"})


def cache_copy(header: Callable[[str], str | None]) -> str | None:
    """``Age: 120`` or ``X-Cache: HIT`` when the answer whose headers ``header`` reads is a cache's copy, else None.

    ``Age`` (RFC 9111) counts the seconds since the site made the answer: more than 0 is a copy. A header
    value is shown cut to 40 printable characters: it comes from the other end.
    """
    age = (header("Age") or "").strip()
    if age.isascii() and age.isdigit() and int(age[:18]) > 0:
        return f"Age: {age[:18]}"
    for name in CACHE_HEADERS:
        value = header(name) or ""
        words = {word.strip(" ,;").upper() for word in value.replace(",", " ").split()}
        if words & COPY_WORDS:
            shown = "".join(char if char.isprintable() else "?" for char in value.strip())[:40]
            return f"{name}: {shown}"
    return None


def cache_advice(found: str) -> str:
    """What a meta that came from a cache despite its query of its own means, and what to change."""
    return (f"it comes from a cache in front of the site ({found}) that leaves the query synco adds out of its "
            "key, and answers with the copy it took whatever serve writes: bypass the cache for /synco-* or keep "
            "the query string in its cache key")
