"""A multisite network's site hosts, as a session declares them, cost the install time in proportion to their count.

``network_hosts`` comes from the session, which anyone who can answer as the server writes. The URL rewriter
was built and applied host by host against every form of every host: 1000 hosts took 9.8 CPU-seconds before a
single row was loaded, 4000 took 108, and each loaded value was searched once per host (by the engines too, one
needle per host). Now each value is matched once, by a dict lookup where a URL prefix starts, the needles shrink
to the domain the hosts share, and a session declaring more hosts than serve publishes is refused in one line.
The rewrites are the same as one regular expression of every form would make (checked here against one).
"""

from __future__ import annotations

import re
import time
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synco_wordpress import network
from synco_wordpress.searchreplace import UrlReplacer, host_of

from synco_core import ConfigError

_CONTINUES = rb"(?![A-Za-z0-9_~-]|[.:%][A-Za-z0-9])"
_CONTINUES_ENCODED = rb"(?![A-Za-z0-9_~-]|\.[A-Za-z0-9]|%(?:3[Aa]|2[Ee]|25)[A-Za-z0-9])"
_NO_SCHEME_BEFORE = rb"(?<![:\w\\])"


class Reference(UrlReplacer):
    """The same replacer, matching by one alternation of every form (longest first) and filtering by every host
    spelling: what the rewrite was before it was made linear."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__(pairs)
        alternatives = []
        for form in sorted(self.mapping, key=len, reverse=True):
            guard = _NO_SCHEME_BEFORE if form.startswith((b"//", b"\\/", b"%2F", b"%2f")) else b""
            end = _CONTINUES_ENCODED if form in self.encoded else _CONTINUES
            alternatives.append(guard + re.escape(form) + end)
        self.pattern = re.compile(b"|".join(alternatives)) if alternatives else None
        changed = [host_of(old) for old, new in pairs if old.rstrip("/") != new.rstrip("/")]
        spellings = []
        for host in changed:
            encoded = quote(host, safe="").encode()
            spellings += [host.encode(), encoded, re.sub(rb"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)]
        self.needles = tuple(dict.fromkeys(spellings))

    def plain(self, value: bytes) -> bytes:
        if value in self.hosts:
            return self.hosts[value]
        if self.pattern is None:
            return value
        return self.pattern.sub(lambda match: self.mapping[match.group(0)], value)


def _applied(replacer: UrlReplacer, value: bytes) -> bytes:
    """What a load makes of ``value``: rewritten only when it holds a needle, as the engines do."""
    return replacer(value) if any(needle in value for needle in replacer.needles) else value


HOSTS = ["example.com", "www.example.com", "shop.example.com", "a.b.example.com", "example.com:8443", "10.0.0.1",
         "[::1]:8080", "example.org", "shop.example.org"]
PIECES = ["https://", "http://", "//", "/", "https:\\/\\/", "\\/\\/", "\\/", "https%3A%2F%2F", "http%3a%2f%2f",
          "%2F%2F", "%2f%2f", "%2F", "%3A8443", "%3a", ":8443", ":", "/wp", "/wp-admin", "%2Fwp", ".", ".au", "-x",
          "x", " ", "\\", "ftp://", "s:19:\"", "\";", "a:1:{s:1:\"u\";s:", "}", "\"", *HOSTS]
URLS = st.builds(lambda scheme, host, path: f"{scheme}://{host}{path}", st.sampled_from(["http", "https"]),
                 st.sampled_from(HOSTS), st.sampled_from(["", "/", "/wp", "/blog/x", "/%7Euser"]))
PAIRS = st.lists(st.tuples(URLS, URLS), min_size=1, max_size=6)
VALUES = st.lists(st.lists(st.sampled_from(PIECES), max_size=16).map(lambda pieces: "".join(pieces).encode()),
                  min_size=1, max_size=12)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=PAIRS, values=VALUES)
def test_the_rewrite_is_the_one_of_an_alternation_of_every_form(pairs: list[tuple[str, str]],
                                                                  values: list[bytes]) -> None:
    replacer, reference = UrlReplacer(pairs), Reference(pairs)
    assert bool(replacer) == bool(reference)
    for value in values:
        assert _applied(replacer, value) == _applied(reference, value), (pairs, value)


@settings(max_examples=60, deadline=None)
@given(count=st.integers(0, 60), main=st.sampled_from(["https://example.com", "https://www.example.com/wp"]),
       values=VALUES)
def test_a_network_s_sites_rewrite_as_before(count: int, main: str, values: list[bytes]) -> None:
    source = {"network_path": "/wp/" if main.endswith("/wp") else "/",
              "network_hosts": " ".join(f"s{i}.example.com" for i in range(count))}
    local = "http://example.test" + ("/wp" if main.endswith("/wp") else "")
    pairs = [(main, local), *network.site_pairs(source, main, local)]
    replacer, reference = UrlReplacer(pairs), Reference(pairs)
    for value in [*values, b"see https://s1.example.com/x and //s0.example.com", b"s2.example.com"]:
        assert _applied(replacer, value) == _applied(reference, value), (count, value)


def _cpu_seconds(count: int) -> float:
    """CPU-seconds to build the rewriter of a network of ``count`` sites and rewrite a few hundred values."""
    source = {"network_path": "/", "network_hosts": " ".join(f"site{i}.example.com" for i in range(count))}
    values = [b"<p>see https://site%d.example.com/x and //example.com/y</p>" % i * 20 for i in range(300)]
    started = time.process_time()
    pairs = [("https://example.com", "http://example.test"),
             *network.site_pairs(source, "https://example.com", "http://example.test")]
    replacer = UrlReplacer(pairs)
    for value in values:
        _applied(replacer, value)
    return time.process_time() - started


def test_ten_times_the_sites_cost_about_ten_times_the_cpu() -> None:
    small = min(_cpu_seconds(400) for _ in range(3))
    large = _cpu_seconds(4000)
    # Linear gives about 10 (less: the values cost the same); the old square growth gave about 20 times that.
    assert large < 25 * max(small, 0.005), (small, large)


def test_more_hosts_than_serve_publishes_are_refused() -> None:
    hosts = " ".join(f"s{i}.example.com" for i in range(network.MAX_HOSTS + 1))
    with pytest.raises(ConfigError, match=r"network_hosts names 10001 .* more than the 10000"):
        network.site_pairs({"network_path": "/", "network_hosts": hosts}, "https://example.com", "http://x.test")
    at_limit = " ".join(hosts.split()[:network.MAX_HOSTS])
    assert len(network.site_pairs({"network_path": "/", "network_hosts": at_limit}, "https://example.com",
                                  "http://x.test")) == network.MAX_HOSTS


def test_a_host_longer_than_a_host_name_is_refused() -> None:
    host = "a" * 300 + ".example.com"
    with pytest.raises(ConfigError, match="a host of 312 characters"):
        network.site_pairs({"network_path": "/", "network_hosts": host}, "https://example.com", "http://x.test")
