"""Fuzzing the public files index as receive streams it (synco_core.index.stream): the line format of
``indexFormat`` 2 and 3, and the whole-object format of older writers and Go synco v2, read incrementally."""

from __future__ import annotations

import io
import json

import pytest
from fuzzing import ENTRY, FUZZ, hostile_json_text, json_values, mutated, nested, only_synco_errors
from hypothesis import example, given
from hypothesis import strategies as st

from synco_core.index.stream import read_index
from synco_core.wire import WireFormatError

paths = st.one_of(
    st.sampled_from(["a.jpg", "b/c.jpg", "/var/www/app/public/a.jpg", "../x", "a//b", "."]), st.text(max_size=12)
)
entries = st.one_of(mutated(ENTRY), json_values)


def read_all(raw: bytes, index_format: int | None, tmp_path) -> list[object]:
    return list(read_index(io.BufferedReader(io.BytesIO(raw)), index_format, spill_dir=tmp_path))


@st.composite
def line_indexes(draw: st.DrawFn) -> bytes:
    """An index in the line format: entries one per line, some of them hostile, the framing sometimes broken."""
    lines = [
        json.dumps(path) + ":" + json.dumps(entry)
        for path, entry in draw(st.lists(st.tuples(paths, entries), max_size=5))
    ]
    lines += draw(st.lists(hostile_json_text, max_size=2))
    lines = draw(st.permutations(lines))
    head, tail = draw(st.sampled_from([("{", "}"), ("{", ""), ("", "}"), ("{", "} x"), ("[", "]")]))
    return "\n".join([head, ",\n".join(lines), tail]).encode("utf-8", "surrogatepass")


@FUZZ
@given(raw=line_indexes())
@example(raw=b'{\n"a":' + nested(3000).encode() + b"\n}\n")
@example(raw=b'{\n"a":{"sizeBytes":' + b"9" * 5000 + b',"mTime":1,"publicUri":"a"}\n}\n')
def test_any_line_index_is_read_or_refused_in_one_line(raw, tmp_path_factory):
    only_synco_errors(lambda: read_all(raw, 2, tmp_path_factory.mktemp("spill")))


@FUZZ
@given(text=st.one_of(st.dictionaries(paths, entries, max_size=5).map(json.dumps), hostile_json_text))
@example(text='{"a":' + nested(3000) + "}")
@example(text='{"a":{"sizeBytes":' + "9" * 5000 + ',"mTime":1,"publicUri":"a"}}')
@example(text='{"/var/www/app/public/a.jpg":{"sizeBytes":1,"mTime":1,"publicUri":"http://[::1/a.jpg"}}')
def test_any_legacy_index_is_read_or_refused_in_one_line(text, tmp_path_factory):
    only_synco_errors(lambda: read_all(text.encode("utf-8", "surrogatepass"), None, tmp_path_factory.mktemp("spill")))


@pytest.mark.parametrize("index_format", [2, None])
@pytest.mark.parametrize("value", [nested(3000), nested(3000, "{"), "1" * 5000])
def test_an_entry_nested_too_deep_or_with_too_long_a_number_is_malformed(index_format, value, tmp_path):
    """The index's JSON parser raised RecursionError (an entry a thousand arrays deep) or a bare ValueError
    (a number of 4,300 digits or more): neither is JSONDecodeError, so receive ended on a Python exception,
    and the legacy reader took neither for the end of what it had read so far."""
    raw = b'{\n"a":' + value.encode() + b"\n}\n"
    with pytest.raises(WireFormatError, match="malformed public files index: not JSON"):
        read_all(raw, index_format, tmp_path)
