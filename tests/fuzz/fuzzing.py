"""Shared pieces of the fuzz tests: hostile JSON, and the one outcome a parser of hostile bytes may have.

A compromised server holds the session key (it runs serve), so everything after decryption is its to
choose. Each fuzz test feeds one parser generated input and allows only two outcomes: a result, or a
:class:`~synco_core.errors.SyncoError` whose message is one line. ``SYNCO_FUZZ_EXAMPLES`` sets the examples
per test (100 by default, which keeps each test to seconds in CI; tens of thousands by hand, with
``pytest --timeout 0``, since pytest-timeout ends a test after 300 s).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from synco_core.errors import SyncoError

EXAMPLES = int(os.environ.get("SYNCO_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

T = TypeVar("T")

#: Numbers no writer makes but JSON allows: past 64 bits, past Python's 4,300-digit int parsing limit,
#: negative, fractional, infinite.
odd_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
    st.integers(max_value=-1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 2**31, 2**53 + 1, 1e308, -1e308, 0.5, 10**300]),
)
#: Strings with what trips text handling: lone surrogates, NUL and control characters, line breaks, paths.
odd_strings = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            ".",
            "..",
            "../x",
            "/etc/passwd",
            "a\nb",
            "\x00",
            "\ud800",
            "x" * 300,
            "C:\\x",
            "http://[::1/",
            "https://h:99999/",
            "http://127.0.0.1/x",
            "a/b",
            "zstd",
            "Ready",
            "2",
            "3",
        ]
    ),
)
scalars = st.one_of(st.none(), st.booleans(), odd_numbers, odd_strings)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(odd_strings, inner, max_size=4)),
    max_leaves=8,
)


def nested(depth: int, kind: str = "[") -> str:
    """A JSON value ``depth`` arrays (or objects) deep."""
    if kind == "[":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


#: Texts that are JSON no writer makes, or almost JSON: what ``json.loads`` fails on in more than one way.
hostile_json_text = st.one_of(
    json_values.map(json.dumps),
    st.integers(min_value=900, max_value=5_000).map(nested),
    st.integers(min_value=900, max_value=5_000).map(lambda depth: nested(depth, "{")),
    st.integers(min_value=4_000, max_value=20_000).map(lambda digits: "9" * digits),
    st.text(max_size=60),
)


def mutated(template: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``template`` with some of its keys given hostile values, removed, or joined by a new one."""
    keys = sorted(template)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        data = dict(template)
        for key in draw(st.lists(st.sampled_from(keys), max_size=len(keys), unique=True)):
            if draw(st.booleans()):
                data[key] = draw(json_values)
            else:
                del data[key]
        if draw(st.booleans()):
            data[draw(odd_strings)] = draw(json_values)
        return data

    return build()


def only_synco_errors(call: Callable[[], T]) -> T | SyncoError:
    """``call()``'s result, or the :class:`SyncoError` it raised (one line, as the CLI prints it); any other
    exception fails the test with its traceback."""
    try:
        return call()
    except SyncoError as exc:
        assert "\n" not in str(exc), f"a message of more than one line: {exc!r}"
        return exc


#: A public index entry as serve writes one (both index formats and the meta's tests mutate it).
ENTRY = {
    "sizeBytes": 1,
    "mTime": 2,
    "publicUri": "files/a.jpg",
    "isAbsoluteUrl": False,
    "sha256": "0" * 64,
    "pack": 0,
    "packOffset": 0,
}
