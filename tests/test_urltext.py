"""URLs people type reach synco's code through split_url: each malformed part is one ConfigError line."""

from __future__ import annotations

import pytest

from synco_core.errors import ConfigError
from synco_core.receive.locate import candidate_urls, split_session_url, without_session_folder
from synco_core.serve.server import parse_listen
from synco_core.urltext import split_url

#: One malformed part each: scheme-less host, port (0, too big, not a number), IPv6 brackets, userinfo,
#: a host label too long, bytes that are not text, spaces and control characters.
MALFORMED = {
    "http://h:0/": "port 0",
    "http://h:65536/": "Port out of range",
    "http://h:abc/": "Port could not be cast",
    "http://[::1/": "Invalid IPv6 URL",
    "http://u:secret@[::1/": "Invalid IPv6 URL",
    "http://" + "a" * 64 + ".example/": "invalid host name",
    "http://\udcff.example/": "a byte that is not text",
    "http://h x/": "a space, a control character",
    "http://h\x00/": "a space, a control character",
    "http://h\x1b[31m/": "a space, a control character",
    "http://h\n.example/": "a space, a control character",
}


@pytest.mark.parametrize(("url", "message"), MALFORMED.items())
def test_a_malformed_url_is_one_line(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        split_url(url)
    assert "\n" not in str(info.value) and "secret" not in str(info.value)


@pytest.mark.parametrize("url", ["http://[::1]:8080/x", "https://shop.example.com/", "//h:1", "http://café.example/",
                                 "http://[fe80::1%25eth0]/", "http://u:p%40ss@h:65535/",
                                 "ssh://h/srv/my app", "ssh://h/srv/caf\udce9"])
def test_good_urls_pass(url: str) -> None:
    split_url(url)


@pytest.mark.parametrize("url", [url for url in MALFORMED if "://" in url])
def test_every_place_receive_reads_an_address_uses_it(url: str) -> None:
    """The session's address, --base-url and the hosts of .synco.yml: ValueError and UnicodeError reached the
    user as Python's exception names before."""
    with pytest.raises(ConfigError):
        split_session_url(url + "synco-abc/")
    with pytest.raises(ConfigError):
        without_session_folder(url, "abc")
    with pytest.raises(ConfigError):
        candidate_urls(url.split("://", 1)[1])


@pytest.mark.parametrize("value", ["abc", "h:99999", "[::1", "::1:80", "[::1]:abc", "h x:80", "\udcff:80",
                                   "a" * 64 + ".example:80"])
def test_a_malformed_listen_address_is_one_line(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_listen(value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("value", "expected"), [("8000", ("0.0.0.0", 8000)), (":0", ("0.0.0.0", 0)),
                                                 ("127.0.0.1:80", ("127.0.0.1", 80)), ("[::1]:80", ("::1", 80))])
def test_listen_addresses(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value) == expected
