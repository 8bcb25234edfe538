"""The public index as a stream: written one entry per line, read back in order, old layouts still read.

Properties: whatever the paths a reader accepts (quotes, non-ASCII; never a backslash or control character,
which :mod:`synco_core.names` refuses) and whatever the URIs, what the
writer writes reads back entry for entry, in order, through the streaming reader and through the old
whole-document reader (so older synco and Go synco v2 read new sessions); an index of any older layout
(one line, indented, unsorted, a path twice) reads back in index order with bounded memory; and every way
a hostile line-format index can break the order or the one-entry-per-line rule is refused, not merged.
"""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synco_core.errors import UnsafePathError
from synco_core.index import extsort
from synco_core.index.stream import IndexWriter, iter_object_members, read_index
from synco_core.names import safe_relative_path
from synco_core.wire import (
    INDEX_FORMAT_LINES,
    NewerFormatError,
    PublicIndexEntry,
    WireFormatError,
    public_index_from_bytes,
)

# What synco_core.names accepts in a path segment: no separator, backslash or control character.
SEGMENT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"), min_size=1,
                  max_size=6).filter(lambda part: part not in (".", ".."))
PATH = st.lists(SEGMENT, min_size=1, max_size=3).map("/".join).filter(lambda path: _accepted(path))


def _accepted(path: str) -> bool:
    """Paths the one naming rule lets through (serve leaves every other name out of an index)."""
    try:
        safe_relative_path(path)
    except UnsafePathError:
        return False
    return True
ENTRY = st.builds(
    PublicIndexEntry,
    size_bytes=st.integers(0, 2**40), mtime=st.integers(0, 2**33), public_uri=st.text(max_size=20),
    is_absolute_url=st.just(False), sha1=st.none() | st.text("0123456789abcdef", min_size=40, max_size=40),
    sha256=st.none() | st.text("0123456789abcdef", min_size=64, max_size=64),
    pack=st.none(), pack_offset=st.none(),
)


def write(entries: dict[str, PublicIndexEntry]) -> bytes:
    out = io.BytesIO()
    writer = IndexWriter(out)
    for path in sorted(entries):
        writer.add(path, entries[path])
    writer.close()
    assert writer.size == len(out.getvalue()) and writer.count == len(entries)
    return out.getvalue()


def lines(raw: bytes) -> list[tuple[str, PublicIndexEntry]]:
    return list(read_index(io.BytesIO(raw), INDEX_FORMAT_LINES))


@settings(max_examples=150, deadline=None)
@given(entries=st.dictionaries(PATH, ENTRY, max_size=30))
def test_round_trip_in_order_and_readable_as_one_json_object(entries: dict[str, PublicIndexEntry]) -> None:
    raw = write(entries)
    assert lines(raw) == sorted(entries.items())
    # The same bytes are one JSON object: older synco and Go synco v2 read them whole.
    assert public_index_from_bytes(raw) == entries
    assert list(json.loads(raw)) == sorted(entries)
    # ... and as an index of unknown layout, through the incremental parser.
    assert list(read_index(io.BytesIO(raw), None)) == sorted(entries.items())


def test_pack_fields_and_the_layout() -> None:
    entry = PublicIndexEntry(5, 6, "files/a b.jpg", sha256="ab" * 32, pack=3, pack_offset=1024)
    raw = write({"a b.jpg": entry, "z": PublicIndexEntry(1, 2, "https://cdn/z", True)})
    assert raw.startswith(b'{\n"a b.jpg":{"sizeBytes":5,') and raw.endswith(b"}\n}\n")
    assert raw.count(b"\n") == 4
    assert lines(raw)[0] == ("a b.jpg", entry)
    assert write({}) == b"{\n}\n" and lines(b"{\n}\n") == []


@settings(max_examples=80, deadline=None)
@given(entries=st.dictionaries(PATH, ENTRY, max_size=20), indent=st.sampled_from([None, 1, 4]),
       read_size=st.integers(1, 50), shuffle=st.randoms())
def test_legacy_layouts_read_in_index_order(entries: dict[str, PublicIndexEntry], indent: int | None,
                                            read_size: int, shuffle: object) -> None:
    keys = list(entries)
    shuffle.shuffle(keys)  # type: ignore[attr-defined]
    raw = json.dumps({key: entries[key].to_json() for key in keys}, indent=indent).encode()
    # Any block size: members cut anywhere (inside strings, numbers, between them) parse the same.
    members = list(iter_object_members(io.BytesIO(raw), read_size=read_size))
    assert [key for key, _ in members] == keys
    assert list(read_index(io.BytesIO(raw), None)) == sorted(entries.items())


@settings(max_examples=60, deadline=None)
@given(entries=st.dictionaries(PATH, ENTRY, min_size=1, max_size=8),
       spaces=st.lists(st.text(" \t\r\n", max_size=300), min_size=1), read_size=st.integers(1, 64))
def test_any_whitespace_between_tokens_is_skipped_exactly(entries: dict[str, PublicIndexEntry], spaces: list[str],
                                                          read_size: int) -> None:
    """Runs of JSON whitespace of any length and mix around every member, cut anywhere by the reads, parse
    as ``json.loads`` does; whitespace JSON does not allow (a vertical tab, a no-break space) is refused."""
    runs = iter(spaces * (4 * len(entries) + 2))
    members = [f"{next(runs)}{json.dumps(key)}{next(runs)}:{next(runs)}{json.dumps(value.to_json())}{next(runs)}"
               for key, value in entries.items()]
    raw = ("{" + ",".join(members) + "}" + next(runs)).encode()
    raw = next(runs).encode() + raw
    assert dict(iter_object_members(io.BytesIO(raw), read_size=read_size)) == json.loads(raw)
    for stray in ("\x0b", "\u00a0"):
        with pytest.raises(WireFormatError):
            list(iter_object_members(io.BytesIO(raw.replace(b"{", ("{" + stray).encode(), 1)), read_size=read_size))


def test_go_session_index_and_a_path_listed_twice() -> None:
    go = b'{"Resources/b": {"sizeBytes": 2, "mTime": 3, "publicUri": "<BASE>/b"},' \
         b' "Resources/a": {"sizeBytes": 1, "mTime": 3, "publicUri": "a"}, "Resources/a": ' \
         b'{"sizeBytes": 9, "mTime": 3, "publicUri": "a2"}}'
    got = list(read_index(io.BytesIO(go), None))
    # Sorted, and the path listed twice keeps its last entry, as JSON parsers do.
    assert got == [("Resources/a", PublicIndexEntry(9, 3, "a2")), ("Resources/b", PublicIndexEntry(2, 3, "<BASE>/b"))]
    assert list(read_index(io.BytesIO(b" {} "), None)) == []


def test_large_legacy_index_spills_and_keeps_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(extsort, "RUN_SIZE", 7)
    monkeypatch.setattr(extsort.ExternalSorter.__init__, "__defaults__", (7, None))
    keys = [f"d{number % 13}/f{number}" for number in range(200)]
    raw = json.dumps({key: {"sizeBytes": number, "mTime": 1, "publicUri": key} for number, key in
                      enumerate(keys)}).encode()
    got = list(read_index(io.BytesIO(raw), None, spill_dir=tmp_path))
    assert [path for path, _ in got] == sorted(keys)
    assert list(tmp_path.iterdir()) == [], "the sorted runs are removed once read"


def test_reading_a_large_index_holds_one_batch(tmp_path: Path) -> None:
    """Memory while reading does not grow with the number of entries (a stream, not a document)."""
    def peak(count: int) -> int:
        raw = write({f"f{number:07d}": PublicIndexEntry(number, 1, f"u/f{number:07d}", sha256="0" * 64)
                     for number in range(count)})
        source = io.BytesIO(raw)
        tracemalloc.start()
        try:
            for _ in read_index(source, INDEX_FORMAT_LINES):
                pass
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(5_000), peak(50_000)
    assert large < small * 1.5 + 100_000, (small, large)


def bad(raw: bytes) -> str:
    with pytest.raises((WireFormatError, UnsafePathError)) as caught:
        lines(raw)
    return str(caught.value)


ENTRY_JSON = '{"sizeBytes":1,"mTime":2,"publicUri":"u"}'


@pytest.mark.parametrize(("raw", "reason"), [
    (f'{{\n"b":{ENTRY_JSON},\n"a":{ENTRY_JSON}\n}}\n', "not in order"),
    (f'{{\n"a":{ENTRY_JSON},\n"a":{ENTRY_JSON}\n}}\n', "listed twice"),
    (f'{{\n"a":{ENTRY_JSON},"b":{ENTRY_JSON}\n}}\n', "one entry per line"),
    (f'{{\n"a":{ENTRY_JSON}}},{{"b":{ENTRY_JSON}\n}}\n', "one entry per line"),
    (f'{{\n"a":{ENTRY_JSON},\n', "truncated"),
    (f'{{\n"a":{ENTRY_JSON}\n}}\n{{}}', "after its closing"),
    (f'{{"a":{ENTRY_JSON}}}', "does not start"),
    ('{\n"a":{"sizeBytes":1,\n}\n', "not JSON"),
    ('{\n"a":{"sizeBytes":-1,"mTime":2,"publicUri":"u"}\n}\n', "negative"),
    ('{\n"a":{"sizeBytes":1,"mTime":2,"publicUri":"u","sha256":"xyz"}\n}\n', "hex digest"),
    ('{\n"a":{"sizeBytes":1,"mTime":2,"publicUri":"u","pack":1}\n}\n', "go together"),
    (f'{{\n"../etc/passwd":{ENTRY_JSON}\n}}\n', "unsafe path"),
    ('{\n"a":{"sizeBytes":1,"mTime":2,"publicUri":"' + "x" * 300_000 + '"}\n}\n', "longer than"),
])
def test_hostile_line_indexes_are_refused(raw: str, reason: str) -> None:
    assert reason in bad(raw.encode())


def test_unknown_format_is_refused() -> None:
    # 3 is the line layout of a set serve left files out of (read as 2); 4 is a newer synco's.
    assert list(read_index(io.BytesIO(b"{\n}\n"), 3)) == []
    with pytest.raises(NewerFormatError, match=r"index is of format 4, which this synco .* upgrade synco on this "):
        read_index(io.BytesIO(b"{}"), 4)


@pytest.mark.parametrize("raw", [b"[]", b'{"a" 1}', b'{"a":{}', b'{"a":{},}', b"{} x", b"\xff{}",
                                 b'{"a":' + b'"' + b"x" * 300_000 + b'"}'])
def test_malformed_legacy_indexes_are_refused(raw: bytes) -> None:
    with pytest.raises(WireFormatError):
        list(read_index(io.BytesIO(raw), None))


def _never_ending() -> Iterator[bytes]:
    yield b'{"a":"'
    while True:
        yield b"x" * 65536


class _Endless(io.RawIOBase):
    def __init__(self) -> None:
        self.chunks = _never_ending()
        self.served = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = next(self.chunks)
        self.served += len(chunk)
        return chunk


def test_an_endless_member_stops_at_the_limit() -> None:
    source = _Endless()
    with pytest.raises(WireFormatError, match="longer than"):
        list(iter_object_members(source))  # type: ignore[arg-type]
    assert source.served < 1024 * 1024
