"""The URL rewrite of database values, differentially against PHP itself.

Hypothesis builds random PHP values (arrays with integer and string keys, objects with public, protected and
private properties, ``Serializable`` objects (``C:``), ``__serialize`` objects, enums, references ``R:`` and
``r:``, floats, multibyte strings, serialized strings inside strings, JSON with and without escaped slashes,
URL-encoded, HTML-escaped and base64 text) as PHP code; PHP builds and serializes each
(``fixtures/serialized_oracle.php``), synco rewrites the result, and it must be byte for byte what PHP makes of
the same value the way ``wp search-replace`` does: unserialize, replace in every string recursively, serialize.
Broken serialized values (a length off, truncated by a column limit) must come back untouched.

``SYNCO_WPSER_EXAMPLES`` sets how many examples to run (a long run: thousands); the default keeps CI cheap.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from synco_wordpress.searchreplace import UrlReplacer

from synco_core.testing.services import needs_php, require_tool

ORACLE = Path(__file__).parent / "fixtures" / "serialized_oracle.php"
EXAMPLES = int(os.environ.get("SYNCO_WPSER_EXAMPLES", "40"))
#: A long exploring run reports its first divergence as found rather than spend minutes shrinking it.
PHASES = [Phase.explicit, Phase.reuse, Phase.generate,
          *([] if os.environ.get("SYNCO_WPSER_NO_SHRINK") else [Phase.shrink])]

pytestmark = needs_php


class Php:
    """One PHP process answering the oracle's requests for the whole module."""

    def __init__(self) -> None:
        php = require_tool("php", "php-cli")
        self.process = subprocess.Popen([php, str(ORACLE)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def ask(self, **request: Any) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "the PHP oracle stopped"
        answer = json.loads(line)
        assert isinstance(answer, str)
        return answer

    def init(self, pairs: list[tuple[str, str]]) -> None:
        assert self.ask(op="init", pairs=pairs) == "ok"

    def make(self, code: str, *, serialize: bool = True) -> bytes:
        return base64.b64decode(self.ask(op="make", code=code, serialize=serialize))

    def expect(self, value: bytes) -> bytes:
        return base64.b64decode(self.ask(op="expect", value=base64.b64encode(value).decode()))

    def unserializes(self, value: bytes) -> bool:
        return self.ask(op="unserializes", value=base64.b64encode(value).decode()) == "yes"

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def php() -> Iterator[Php]:
    oracle = Php()
    yield oracle
    oracle.close()


# -- the site URLs: production's (old) and the local one (new)

_OLD_HOSTS = ["example.com", "www.example.com", "example.com:8443", "shop.example.co.uk"]
_NEW_HOSTS = ["localhost", "localhost:8080", "example.test", "mysite.local"]


@st.composite
def url_pairs(draw: st.DrawFn) -> list[tuple[str, str]]:
    """(siteurl, home) pairs as synco-wordpress builds them: WordPress in a subfolder or not, any scheme, port,
    path prefix, trailing slash."""
    scheme = draw(st.sampled_from(["http", "https"]))
    host = draw(st.sampled_from(_OLD_HOSTS))
    path = draw(st.sampled_from(["", "/blog", "/blog/"]))
    home = f"{scheme}://{host}{path}"
    new_scheme = draw(st.sampled_from(["http", "https"]))
    new_home = f"{new_scheme}://{draw(st.sampled_from(_NEW_HOSTS))}{draw(st.sampled_from(['', '/sub', '/']))}"
    where = draw(st.sampled_from(["", "/wp", "other host"]))
    if where == "other host":
        # WordPress's files on a host of their own: two hosts to look for, not one.
        return [("https://static.example.net/wp", new_home.rstrip("/") + "/wp"), (home, new_home)]
    return [(home.rstrip("/") + where, new_home.rstrip("/") + where), (home, new_home)]


def _fragments(pairs: list[tuple[str, str]]) -> list[str]:
    """Text pieces around the old URLs: every form, what may and may not follow one, and noise."""
    site, home = pairs[0][0].rstrip("/"), pairs[1][0].rstrip("/")
    host = home.split("://", 1)[1].split("/", 1)[0]
    rest = home.split("://", 1)[1]
    bare = host.removeprefix("www.")
    site_rest = site.split("://", 1)[1]
    forms = [home, site, "http://" + rest, "https://" + rest, "//" + rest, "http://www." + bare, "https://" + bare,
             host, bare, "//" + site_rest, site_rest.split("/", 1)[0]]
    encoded = [quote(form, safe="") for form in forms]
    forms += [form.replace("/", "\\/") for form in forms] + encoded + [form.lower() for form in encoded]
    return [
        *forms,
        "/", "/page?x=1&y=2", "/blogroll", "/wp-content/uploads/a.jpg", ".evil.org", "munity", ".", ":8443", ":",
        "%2F", "%2f", "%3A%2F%2F", "%3A8443", "%3a8443", "%2Fblogroll", "%3Fp%3D1", "%2E", "%2Eau", "%25", "A",
        "?", "#top", "\\/", '"', "'", "\\", ";", '";', '";s:1:"', "{", "}", "a:1:{", "s:3:\"",
        " ", "\n", "\t", "\x00", "é", "日本", "x", "mailto:", "src=", "ftp:", "<a href=\"", "\">",
    ]


@dataclass(frozen=True)
class Top:
    """One database value: PHP ``code`` serialized by PHP, or (``serialize`` False) a PHP string as it is."""

    code: str
    serialize: bool


def _php_bytes(text: bytes) -> str:
    return f"base64_decode('{base64.b64encode(text).decode()}')"


def values(pairs: list[tuple[str, str]]) -> st.SearchStrategy[Top]:
    pieces = st.sampled_from(_fragments(pairs))
    strings = st.lists(pieces, max_size=7).map(lambda parts: _php_bytes("".join(parts).encode()))
    scalars = st.one_of(
        strings, strings, st.just("null"), st.sampled_from(["true", "false"]),
        st.integers(-(2 ** 63), 2 ** 63 - 1).map(lambda i: f"(int) '{i}'"),
        st.sampled_from(["0.1", "-0.0", "1.0E+25", "1.5e-7", "INF", "-INF", "NAN", "3.0", "PHP_FLOAT_EPSILON"]),
        st.just("Suit::Up"),
    )
    keys = st.one_of(st.integers(-3, 20).map(str), strings)

    def containers(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        entries = st.lists(st.tuples(keys, children), max_size=4)
        return st.one_of(
            entries.map(lambda kv: "[" + ", ".join(f"{k} => {v}" for k, v in kv) + "]"),
            st.lists(children, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
            st.lists(st.tuples(st.sampled_from(["a", "url", "0", "b c"]), children), max_size=3).map(
                lambda kv: "(object) [" + ", ".join(f"'{k}' => {v}" for k, v in kv) + "]"),
            st.tuples(children, children, children).map(lambda t: f"new Widget({', '.join(t)})"),
            children.map(lambda c: f"new Custom({c})"),
            strings.map(lambda s: f"new Opaque({s})"),
            children.map(lambda c: f"new Modern({c})"),
            children.map(lambda c: f"ref2({c})"),
            children.map(lambda c: f"objref({c})"),
            # Serialized data in a string, as WordPress double-serializes (whitespace around it too).
            children.map(lambda c: f"serialize({c})"),
            children.map(lambda c: f"(\"\\n \" . serialize({c}) . \"\\r\\n\")"),
            # Text encodings of a value: JSON, URL-encoded, HTML entities, base64.
            children.map(lambda c: f"json_encode({c}, JSON_INVALID_UTF8_SUBSTITUTE)"),
            children.map(lambda c: f"json_encode({c}, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE)"),
            strings.map(lambda s: f"rawurlencode({s})"),
            strings.map(lambda s: f"urlencode({s})"),
            strings.map(lambda s: f"htmlentities({s})"),
            strings.map(lambda s: f"base64_encode({s})"),
        )

    tree = st.recursive(scalars, containers, max_leaves=10)
    return st.one_of(
        tree.map(lambda code: Top(code, True)),
        strings.map(lambda code: Top(code, False)),
        tree.map(lambda code: Top(f"(string) json_encode({code}, JSON_INVALID_UTF8_SUBSTITUTE)", False)),
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[tuple[str, str]], list[tuple[Top, int | None]]]:
    pairs = draw(url_pairs())
    # A value broken after the fact: cut short (a column limit) or one byte dropped (a length off by one).
    damage = st.one_of(st.none(), st.none(), st.integers(0, 10 ** 6))
    return pairs, draw(st.lists(st.tuples(values(pairs), damage), min_size=1, max_size=8))


def _broken(value: bytes, where: int) -> bytes:
    if len(value) < 2:
        return value
    cut = 1 + where % (len(value) - 1)
    return value[:cut] if where % 2 else value[:cut - 1] + value[cut:]


def check(php: Php, replacer: UrlReplacer, value: bytes) -> None:
    expected = php.expect(value)
    got = replacer(value)
    assert got == expected, f"\nvalue:    {value!r}\nsynco:    {got!r}\nexpected: {expected!r}"


@settings(max_examples=EXAMPLES, deadline=None, phases=PHASES, suppress_health_check=list(HealthCheck))
@given(cases())
def test_rewrite_matches_php_recursive_replacement(php: Php, case: tuple[list[tuple[str, str]],
                                                                         list[tuple[Top, int | None]]]) -> None:
    pairs, tops = case
    php.init(pairs)
    replacer = UrlReplacer(pairs)
    for top, damage in tops:
        value = php.make(top.code, serialize=top.serialize)
        if damage is not None:
            value = _broken(value, damage)
        check(php, replacer, value)
