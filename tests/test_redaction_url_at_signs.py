"""An "@" in a URL's path, query or fragment is no password's end; only ``scheme://user:password@host`` is.

The masking of URLs in messages read a password from the first ``:`` after ``scheme://`` to the last ``@`` of
the URL, so ``https://cdn:8080/img@2x.png`` showed as ``https://cdn:***@2x.png`` (and an IPv6 host as
``https://[:***@2x.png``): an error about a retina image named no server. The properties: masking never
changes text that holds no password, and never leaves one that the database URL parser would read.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from synco_core import mask_url_passwords
from synco_core.redaction import mask_passwords, redact, register_url_secrets, secrets_isolated
from synco_core.urltext import shown_url
from synco_core.urluserinfo import split_userinfo

SCHEMES = st.sampled_from(["http", "https", "postgres", "mysql", "redis", "ftp", "s3"])
HOSTS = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{0,8}(\.[a-z]{2,4}){0,2}", fullmatch=True),
    st.sampled_from(["127.0.0.1", "10.0.0.7", "[::1]", "[2001:db8::5]", "[fe80::1%25eth0]", "2x.png"]),
)
PORTS = st.one_of(st.just(""), st.integers(1, 65535).map(lambda port: f":{port}"))
#: Pieces of paths, queries and fragments: "@", ":" and an encoded "@" among them.
PIECES = st.sampled_from(["a", "img", "@", "@2x", ":", "%40", "x.png", "-", "~", "u:p@h", "v1", "."])
PATHS = st.lists(st.lists(PIECES, max_size=4).map("".join), max_size=3).map(
    lambda segments: "".join("/" + segment for segment in segments)
)
QUERIES = st.one_of(
    st.just(""),
    st.lists(
        st.tuples(st.sampled_from(["x", "from", "next", "q", "page"]), st.lists(PIECES, max_size=3).map("".join)),
        min_size=1,
        max_size=3,
    ).map(lambda items: "?" + "&".join(f"{key}={value}" for key, value in items)),
)
FRAGMENTS = st.one_of(
    st.just(""),
    st.lists(st.sampled_from(["top", "@", ":", "/", "?", "a@b"]), max_size=4).map(lambda pieces: "#" + "".join(pieces)),
)
USERS = st.from_regex(r"[a-z][a-z0-9._-]{0,8}", fullmatch=True)
#: Text that is no URL, with "@" and ":" in it.
WORDS = st.sampled_from(
    [
        "error",
        "h:8080/a@2x.png",
        "mail a@b.c",
        "12:30@home",
        "see",
        "user@host:path",
        "cdn/img@2x.png?x=1",
        "(",
        ")",
        "'",
        "note:",
    ]
)


@st.composite
def urls_without_password(draw: st.DrawFn) -> str:
    user = draw(st.one_of(st.just(""), USERS.map(lambda name: name + "@"), st.just("a%40b@")))
    return f"{draw(SCHEMES)}://{user}{draw(HOSTS)}{draw(PORTS)}{draw(PATHS)}{draw(QUERIES)}{draw(FRAGMENTS)}"


TEXTS_WITHOUT_PASSWORD = st.lists(st.one_of(WORDS, urls_without_password()), max_size=5).map(" ".join)


@pytest.mark.parametrize(
    "text",
    [
        "https://cdn:8080/img@2x.png",
        "https://cdn/img@2x.png?x=1",
        "https://[::1]:8080/a@2x.png",
        "http://h/a#x:y@z",
        "https://h/?from=a:b@c",
        "https://h:8080/a%40b",
        "https://user@h/a@2x.png",
        "fetching https://h:443/u/a:b@2x.png failed",
        "h:8080/a@2x.png",
    ],
)
def test_an_at_sign_after_the_host_is_no_password(text: str) -> None:
    assert mask_url_passwords(text) == text


@settings(max_examples=200, deadline=None)
@given(TEXTS_WITHOUT_PASSWORD)
def test_text_without_a_password_is_left_as_it_is(text: str) -> None:
    with secrets_isolated():
        assert mask_url_passwords(text) == text
        assert mask_passwords(text) == text
        for word in text.split():
            register_url_secrets(word)
        assert redact(text) == text


@given(TEXTS_WITHOUT_PASSWORD)
def test_a_shown_url_without_a_password_is_quoted_as_it_is(text: str) -> None:
    with secrets_isolated():
        assert shown_url(text) == repr(text if len(text) <= 80 else text[:80] + "...")


PASSWORD_CHARS = st.sampled_from(list("abcXYZ0123456789@:/?#%!$&*+,;=.-_~"))


@st.composite
def urls_with_password(draw: st.DrawFn) -> tuple[str, str, str]:
    """``(head, password, rest)``: the URL is ``head + password + "@" + rest``, ``head`` ending in ``user:``."""
    raw = draw(st.text(PASSWORD_CHARS, min_size=1, max_size=12))
    password = draw(st.sampled_from([raw, quote(raw, safe="")]))
    head = f"{draw(SCHEMES)}://{draw(USERS)}:"
    rest = f"{draw(HOSTS)}{draw(PORTS)}{draw(PATHS)}{draw(QUERIES)}{draw(FRAGMENTS)}"
    # The parser of database URLs must read this password: an unencoded one it cannot tell from a host, path
    # or query (p@h/x where a later "@" follows) is no password anyone could use.
    assume(split_userinfo(head.partition("://")[2] + password + "@" + rest)[0] == head.partition("://")[2] + password)
    # The one form read as RFC 3986 reads it: digits up to a "/", "?" or "#" are a port (urluserinfo.password_span).
    assume(not re.match(r"[0-9]{1,5}[/?#]", password))
    return head, password, rest


@settings(max_examples=200, deadline=None)
@given(urls_with_password(), TEXTS_WITHOUT_PASSWORD, TEXTS_WITHOUT_PASSWORD)
def test_masking_never_leaves_a_password(url: tuple[str, str, str], before: str, after: str) -> None:
    head, password, rest = url
    prefix = f"{before} " if before else ""
    text = f"{prefix}{head}{password}@{rest} {after}"
    with secrets_isolated():
        masked = mask_url_passwords(text)
    # Everything up to the password stays; after "***" comes only what followed the password (perhaps less of
    # it, when the URL cannot tell a later "@" from the password's), never a character of the password itself.
    assert masked.startswith(prefix + head + "***")
    assert text[len(prefix + head + password) :].endswith(masked[len(prefix + head + "***") :])


@settings(max_examples=200, deadline=None)
@given(urls_with_password())
def test_a_url_given_registers_its_password(url: tuple[str, str, str]) -> None:
    head, password, rest = url
    assume(len(password) >= 4)
    with secrets_isolated():
        register_url_secrets(head + password + "@" + rest)
        assert redact(f"said {password}.") == "said ***."
