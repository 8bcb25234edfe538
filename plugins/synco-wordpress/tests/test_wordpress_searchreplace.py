"""Replacing production's URLs as ``wp search-replace`` does, PHP-serialized data included.

The property test generates nested PHP values (arrays with integer and string keys, objects, booleans,
numbers, null, strings holding the production URL in every form, and serialized strings nested inside
strings), serializes them, rewrites them, and has the real PHP ``unserialize()`` every result: each is
accepted, PHP serializes it back to exactly the same bytes, and it equals the original structure with the URL
replaced in every string value (keys and class names kept).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synco_wordpress.searchreplace import UrlReplacer

from synco_core.testing.services import needs_php

OLD = "https://www.example.com"
NEW = "http://example.test:8080"
REPLACER = UrlReplacer([(OLD, NEW)])


@pytest.mark.parametrize(("text", "expected"), [
    ("https://www.example.com/a", "http://example.test:8080/a"),
    ("http://www.example.com/a", "http://example.test:8080/a"),
    ("src=//www.example.com/a.png", "src=//example.test:8080/a.png"),
    ('{"u":"https:\\/\\/www.example.com\\/a"}', '{"u":"http:\\/\\/example.test:8080\\/a"}'),
    ("Visit https://www.example.com.", "Visit http://example.test:8080."),
    ("https://www.example.com.au/", "https://www.example.com.au/"),
    ("https://www.example.community", "https://www.example.community"),
    ("https://www.example.com:8443/", "https://www.example.com:8443/"),
    ("ftp://www.example.com/", "ftp://www.example.com/"),
    ("www.example.com", "example.test:8080"),
    ("mail@www.example.com", "mail@www.example.com"),
    # URL-encoded (rawurlencode, encodeURIComponent; some encoders write lower case hexadecimal).
    ("https%3A%2F%2Fwww.example.com%2Fa", "http%3A%2F%2Fexample.test%3A8080%2Fa"),
    ("http%3a%2f%2fwww.example.com%2fa", "http%3a%2f%2fexample.test%3a8080%2fa"),
    ("?u=https%3A%2F%2Fwww.example.com%3Fp%3D1&t=x", "?u=http%3A%2F%2Fexample.test%3A8080%3Fp%3D1&t=x"),
    ("u=%2F%2Fwww.example.com%2Fa.png", "u=%2F%2Fexample.test%3A8080%2Fa.png"),
    ("https%3A%2F%2Fwww.example.com", "http%3A%2F%2Fexample.test%3A8080"),
    ("https%3A%2F%2Fwww.example.com.au%2F", "https%3A%2F%2Fwww.example.com.au%2F"),
    ("https%3A%2F%2Fwww.example.community", "https%3A%2F%2Fwww.example.community"),
    ("https%3A%2F%2Fwww.example.com%3A8443%2F", "https%3A%2F%2Fwww.example.com%3A8443%2F"),
    ("ftp%3A%2F%2Fwww.example.com%2F", "ftp%3A%2F%2Fwww.example.com%2F"),
])
def test_url_forms(text: str, expected: str) -> None:
    assert REPLACER(text.encode()).decode() == expected


def test_url_encoded_forms_of_a_host_with_a_port_and_a_path() -> None:
    """The host with its port is spelt differently once encoded (``%3A``): the value must still be looked at."""
    replacer = UrlReplacer([("https://example.com:8443/blog", "http://localhost/")])
    assert replacer(b"https%3A%2F%2Fexample.com%3A8443%2Fblog%2Fpost https%3A%2F%2Fexample.com%3A8443%2Fblogroll") \
        == b"http%3A%2F%2Flocalhost%2Fpost https%3A%2F%2Fexample.com%3A8443%2Fblogroll"
    assert any(needle in b"https%3A%2F%2Fexample.com%3A8443" for needle in replacer.needles)


def test_url_encoded_url_inside_serialized_data_gets_its_length_recomputed() -> None:
    value = b'a:1:{s:5:"share";s:38:"?u=https%3A%2F%2Fwww.example.com%2Fabc";}'
    assert REPLACER(value) == b'a:1:{s:5:"share";s:41:"?u=http%3A%2F%2Fexample.test%3A8080%2Fabc";}'


def test_longest_url_wins_and_paths_end_at_segments() -> None:
    replacer = UrlReplacer([("https://example.com/wp", "http://localhost/wordpress"),
                            ("https://example.com", "http://localhost")])
    assert replacer(b"https://example.com/wp/wp-admin https://example.com/wpx https://example.com/")\
        == b"http://localhost/wordpress/wp-admin http://localhost/wpx http://localhost/"
    blog = UrlReplacer([("https://example.com/blog", "http://localhost")])
    assert blog(b"https://example.com/blog/post https://example.com/blogroll") == \
        b"http://localhost/post https://example.com/blogroll"


def test_serialized_lengths_are_recomputed() -> None:
    value = b'a:2:{s:3:"url";s:27:"https://www.example.com/abc";s:4:"deep";s:41:"a:1:{i:0;s:23:"https://www.example.com";}";}'
    assert REPLACER(value) == (b'a:2:{s:3:"url";s:28:"http://example.test:8080/abc";'
                               b's:4:"deep";s:42:"a:1:{i:0;s:24:"http://example.test:8080";}";}')


@pytest.mark.parametrize("value", [
    b'O:8:"stdClass":1:{s:3:"url";s:23:"https://www.example.com";}',
    b'a:1:{s:23:"https://www.example.com";i:1;}',
    b'C:11:"ArrayObject":40:{x:i:0;a:1:{i:0;s:3:"www.example.com";};m:a:0:{}}',
    b'E:7:"Suit:Up";',
])
def test_keys_class_names_and_custom_payloads_are_kept(value: bytes) -> None:
    result = REPLACER(value)
    if value.startswith(b"O:"):
        assert result == b'O:8:"stdClass":1:{s:3:"url";s:24:"http://example.test:8080";}'
    else:
        assert result == value


@pytest.mark.parametrize("broken", [
    b'a:1:{s:3:"url";s:99:"https://www.example.com";}',  # a length a buggy plugin got wrong
    b'a:2:{s:3:"url";s:23:"https://www.example.com";s:4:"more";s:10:"abc',  # cut short by its column
    b'a:1:{s:3:"url";s:23:"https://www.example.com";}junk;',  # something after the value
    b'O:8:"stdClass":1:{s:3:"url";s:23:"https://www.example.com";',  # cut short right after a string
    b's:31:"s:99:"https://www.example.com";";',  # the value is fine, the serialized string in it is not
    b'C:6:"Custom":42:{s:23:"https://www.example.com";}',  # the Serializable object's length is wrong
])
def test_broken_serialization_is_left_untouched(broken: bytes) -> None:
    """WordPress cannot read these either way, and a plain replace made them harder to repair: the lengths of
    the strings that were still right went wrong too."""
    assert REPLACER(broken) == broken


@pytest.mark.parametrize(("text", "expected"), [
    (b"a: see https://www.example.com;", b"a: see http://example.test:8080;"),
    (b"s: https://www.example.com/}", b"s: http://example.test:8080/}"),
    (b"i:https://www.example.com;", b"i:http://example.test:8080;"),
])
def test_text_that_only_starts_like_serialized_data_is_text(text: bytes, expected: bytes) -> None:
    """What WordPress's ``is_serialized()`` does not take for serialized data is rewritten as text."""
    assert REPLACER(text) == expected


@pytest.mark.parametrize("space", [(b"\n", b""), (b"", b"\r\n"), (b" \t", b"\x00 "), (b"\x0b", b"\n")])
def test_serialized_value_with_whitespace_around_it_is_walked(space: tuple[bytes, bytes]) -> None:
    """WordPress trims a value before unserializing it, so a serialized value with whitespace around it is read
    as one: a plain replace left its lengths wrong and the option lost (top level and nested alike)."""
    lead, trail = space
    inner = b'a:1:{i:0;s:23:"https://www.example.com";}'
    walked = b'a:1:{i:0;s:24:"http://example.test:8080";}'
    assert REPLACER(lead + inner + trail) == lead + walked + trail
    nested = lead + inner + trail
    assert REPLACER(b's:%d:"' % len(nested) + nested + b'";') == \
        b's:%d:"' % (len(nested) + 1) + lead + walked + trail + b'";'


def test_serializable_payload_holding_serialized_data_is_walked() -> None:
    """A ``C:`` object whose payload is ``serialize()`` of its data (what most ``Serializable`` classes write)
    kept production's URLs: the payload was copied as it was."""
    value = b'C:6:"Custom":41:{a:1:{i:0;s:23:"https://www.example.com";}}'
    assert REPLACER(value) == b'C:6:"Custom":42:{a:1:{i:0;s:24:"http://example.test:8080";}}'
    nested = b'a:1:{s:1:"c";C:6:"Custom":41:{a:1:{i:0;s:23:"https://www.example.com";}}}'
    assert REPLACER(nested) == b'a:1:{s:1:"c";C:6:"Custom":42:{a:1:{i:0;s:24:"http://example.test:8080";}}}'
    # A payload in the class's own format is the class's business.
    own = b'C:6:"Opaque":31:{url=https://www.example.com;x=1}'
    assert REPLACER(own) == own


# -- the property: PHP accepts every rewritten value, with the expected structure


@dataclass(frozen=True)
class Obj:
    """A stdClass with properties (PHP serializes it as ``O:8:"stdClass":...``)."""

    props: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Nested:
    """A string that holds a serialized value (WordPress double-serializes now and then)."""

    value: Any


def serialize(value: Any) -> bytes:
    if value is None:
        return b"N;"
    if isinstance(value, bool):
        return b"b:%d;" % value
    if isinstance(value, int):
        return b"i:%d;" % value
    if isinstance(value, float):
        return b"d:" + repr(value).encode() + b";"
    if isinstance(value, bytes):
        return b's:%d:"' % len(value) + value + b'";'
    if isinstance(value, Nested):
        return serialize(serialize(value.value))
    if isinstance(value, Obj):
        body = b"".join(serialize(k.encode()) + serialize(v) for k, v in value.props)
        return b'O:8:"stdClass":%d:{' % len(value.props) + body + b"}"
    if isinstance(value, list):
        body = b"".join(serialize(k if isinstance(k, int) else k.encode()) + serialize(v) for k, v in value)
        return b"a:%d:{" % len(value) + body + b"}"
    raise TypeError(type(value))


def expected(value: Any) -> Any:
    """The structure with the URL replaced in every string value (never in keys)."""
    if isinstance(value, bytes):
        return REPLACER.plain(value)
    if isinstance(value, Nested):
        return Nested(expected(value.value))
    if isinstance(value, Obj):
        return Obj(tuple((k, expected(v)) for k, v in value.props))
    if isinstance(value, list):
        return [(k, expected(v)) for k, v in value]
    return value


_FRAGMENTS = st.sampled_from([
    OLD, OLD + "/path", "http://www.example.com", "//www.example.com/x", "https:\\/\\/www.example.com\\/y",
    "https://www.example.com.au", "www.example.com", '";s:1:"', "{", "}", ";", ":", "é", "\\", "'", "\"", " ",
    "a:1:{", "x", "\n",
])
# Plain strings start with a letter no serialized value starts with, so the expected value is plain text.
_strings = st.lists(_FRAGMENTS, max_size=6).map(lambda parts: ("t" + "".join(parts)).encode())
_keys = st.one_of(st.integers(-5, 50), st.text(alphabet="abcxyz_", min_size=1, max_size=5),
                  st.sampled_from(["www.example.com", OLD]))
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                     st.sampled_from([0.5, -2.25, 1.125]), _strings)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(st.tuples(_keys, children), max_size=4, unique_by=lambda kv: kv[0]),
        st.lists(st.tuples(st.text(alphabet="abcxyz", min_size=1, max_size=4), children), max_size=3,
                 unique_by=lambda kv: kv[0]).map(lambda props: Obj(tuple(props))),
        children.map(Nested),
    )


_values = st.recursive(_scalars, _containers, max_leaves=12)


@needs_php
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(_values, min_size=10, max_size=10))
def test_php_unserializes_every_rewritten_value(values: list[Any]) -> None:
    rewritten = [REPLACER(serialize(value)) for value in values]
    for value, result in zip(values, rewritten, strict=True):
        assert result == serialize(expected(value))
    php = shutil.which("php")
    assert php is not None
    script = ("while (($line = fgets(STDIN)) !== false) { $v = base64_decode(trim($line)); $u = @unserialize($v); "
              "echo ($u === false && $v !== 'b:0;') ? \"FAIL\\n\" "
              ": (serialize($u) === $v ? \"OK\\n\" : \"DIFF\\n\"); }")
    data = "".join(base64.b64encode(value).decode() + "\n" for value in rewritten)
    result = subprocess.run([php, "-r", script], input=data, capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.split() == ["OK"] * len(rewritten), [v for v, r in zip(rewritten, result.stdout.split(),
                                                                               strict=False) if r != "OK"]
