"""Writing and reading the public files index as a stream of entries in index order.

The index is still one JSON object (path -> entry), so every reader that ever read one (Go synco v2, older
synco) reads this one too; but it is written one entry per line, in index order:

.. code-block:: text

    {
    "a/b.jpg":{"sizeBytes":312,"mTime":1700000000,"publicUri":"files/a/b.jpg","isAbsoluteUrl":false,...},
    "a/c.jpg":{...}
    }

A reader that knows this layout (the meta says ``indexFormat: 2``) parses a batch of lines at a time with
one call into the JSON parser, and never holds more than a batch. Any other index (one line, pretty-printed,
keys in any order) is read with an incremental parser and, since its order cannot be trusted, put into index
order through :func:`~synco_core.index.extsort.external_sort`. Either way the caller gets
``(path, PublicIndexEntry)`` pairs with every path checked and normalised, strictly increasing.
"""

from __future__ import annotations

import codecs
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from synco_core import hostilejson
from synco_core.errors import ConfigError
from synco_core.goindex import RootFinder
from synco_core.index.extsort import external_sort
from synco_core.wire import LINE_FORMATS, NewerFormatError, PublicIndexEntry, WireFormatError, index_path

#: Lines parsed per call into the JSON parser when reading the line format.
BATCH_LINES = 1024
#: Longest entry (one line, or one member of a legacy object) a reader accepts; real ones are under 1 KB.
MAX_ENTRY = 256 * 1024
#: JSON's whitespace between tokens (matched in C: an indented index, or a hostile one of nothing but
#: spaces up to its size limit, is skipped at memory speed rather than a character per Python step).
_JSON_SPACE = re.compile(r"[ \t\r\n]*")
#: Characters that make a JSON string need escaping.
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')

IndexItem = tuple[str, PublicIndexEntry]


def _quoted(text: str) -> str:
    if _NEEDS_ESCAPE.search(text) is None:
        return f'"{text}"'
    return json.dumps(text, ensure_ascii=False)


#: Encoded lines gathered before they go to the output (one write per block instead of one per entry).
WRITE_BLOCK = 64 * 1024


class IndexWriter:
    """Writes entries to ``out`` in the line format; refuses paths out of index order.

    :meth:`add_row` takes the entry's fields as a tuple (what serve's pipeline produces, without building
    an entry object per file); :meth:`add` takes a :class:`PublicIndexEntry`.
    """

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._last = ""
        #: Entries added, and entries already written out.
        self.count = 0
        self._written = 0
        #: Plaintext bytes written so far (the index's ``indexSizeBytes`` once closed).
        self.size = 0
        self._lines: list[str] = []
        self._pending = 0

    def add(self, path: str, entry: PublicIndexEntry) -> None:
        self.add_row((path, *entry))

    def add_row(self, row: tuple[str, int, int, str, bool, str | None, str | None, int | None, int | None]
                | tuple[str, int, int, str, bool, str | None, str | None, int | None, int | None, object]) -> None:
        """(path, size, mtime, URI, absolute, sha1, sha256, pack, pack offset) of one entry; a field after
        those (serve's file identity) is not written."""
        path, size, mtime, uri, absolute, sha1, sha256, pack, offset = row[:9]
        if path <= self._last and self.count:
            raise ValueError(f"index entry {path!r} after {self._last!r}: not in index order")
        line = (f'{_quoted(path)}:{{"sizeBytes":{size},"mTime":{mtime},"publicUri":{_quoted(uri)},'
                f'"isAbsoluteUrl":{"true" if absolute else "false"}')
        if sha1:
            line += f',"sha1":"{sha1}"'
        if sha256:
            line += f',"sha256":"{sha256}"'
        if pack is not None:
            line += f',"pack":{pack},"packOffset":{offset}'
        self._lines.append(line + "}")
        self._pending += len(line)
        self._last = path
        self.count += 1
        if self._pending >= WRITE_BLOCK:
            self._flush()

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self.size += len(data)

    def _flush(self) -> None:
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        try:
            data = ",\n".join(lines).encode()
        except UnicodeEncodeError:
            bad = next(line for line in lines if not _encodable(line))
            raise ConfigError(f"public file {bad.split(':', 1)[0]}: its name is not valid UTF-8") from None
        self._write((b",\n" if self._written else b"{\n") + data)
        self._written += len(lines)
        self._pending = 0

    def close(self) -> None:
        self._flush()
        self._write(b"\n}\n" if self._written else b"{\n}\n")


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def read_index(plain: BinaryIO, index_format: int | None, spill_dir: Path | None = None) -> Iterator[IndexItem]:
    """The entries of an index's plaintext ``plain``, in index order, each path checked and normalised.

    ``index_format`` is the meta's ``indexFormat``. Raises :class:`WireFormatError` (or UnsafePathError for
    a path that would leave the set) when it reaches a malformed entry; for the line format, also for an
    entry out of order or listed twice. Legacy indexes go through a bounded external sort (temporary files
    in ``spill_dir`` when they are large); a path listed twice there keeps its last entry, as JSON does.
    """
    if index_format in LINE_FORMATS:
        return _read_lines(plain)
    if index_format is not None:
        raise NewerFormatError(f"the public files index is of format {index_format}")
    return _sorted_legacy(plain, spill_dir)


def _read_lines(plain: BinaryIO) -> Iterator[IndexItem]:
    first = plain.readline(MAX_ENTRY)
    if first.rstrip(b"\r\n") != b"{":
        raise WireFormatError("malformed public files index: it does not start with '{' on a line of its own")
    last: str | None = None
    batch: list[bytes] = []
    ended = False
    while not ended:
        line = plain.readline(MAX_ENTRY + 1)
        if not line:
            raise WireFormatError("malformed public files index: it ends before its closing '}' (truncated)")
        if len(line) > MAX_ENTRY:
            raise WireFormatError("malformed public files index: an entry is longer than 256 KiB")
        body = line.rstrip(b"\r\n")
        if body == b"}":
            ended = True
        else:
            batch.append(body[:-1] if body.endswith(b",") else body)
        if batch and (ended or len(batch) >= BATCH_LINES):
            for path, entry in _parse_batch(batch):
                if last is not None and path <= last:
                    raise WireFormatError(f"malformed public files index: {path!r} comes after {last!r} "
                                          "(not in order, or listed twice)")
                last = path
                yield path, entry
            batch = []
    if plain.read(1).strip():
        raise WireFormatError("malformed public files index: data after its closing '}'")


def _parse_batch(lines: list[bytes]) -> Iterator[IndexItem]:
    # Each line becomes an object of its own in an array, so a path listed twice is seen, not merged.
    try:
        members = hostilejson.loads(b"[{" + b"},{".join(lines) + b"}]")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise WireFormatError(f"malformed public files index: not JSON ({reason})") from None
    if len(members) != len(lines):
        raise WireFormatError("malformed public files index: not one entry per line")
    for member in members:
        if len(member) != 1:
            raise WireFormatError("malformed public files index: not one entry per line")
        ((path, value),) = member.items()
        yield index_path(path), PublicIndexEntry.from_json(path, value)


def _sorted_legacy(plain: BinaryIO, spill_dir: Path | None) -> Iterator[IndexItem]:
    def encode(item: tuple[int, str, PublicIndexEntry]) -> bytes:
        return json.dumps([item[0], item[1], item[2].to_json()], separators=(",", ":")).encode()

    def decode(line: bytes) -> tuple[int, str, PublicIndexEntry]:
        number, path, entry = json.loads(line)
        return number, path, PublicIndexEntry.from_json(path, entry)

    # Go synco v2's Laravel sessions key files by their absolute path on the server; the root those keys
    # share is only known once all are read, so raw keys are sorted and made relative afterwards.
    finder = RootFinder()

    def numbered() -> Iterator[tuple[int, str, PublicIndexEntry]]:
        for number, (path, value) in enumerate(iter_object_members(plain)):
            if not isinstance(path, str):
                raise WireFormatError("malformed public files index: a path is not a string")
            finder.add(path, value)
            yield number, path if path.startswith("/") else index_path(path), PublicIndexEntry.from_json(path, value)

    def by_path(item: tuple[int, str, PublicIndexEntry]) -> str:
        return item[1]

    items = external_sort(numbered(), key=by_path, encode=encode, decode=decode, spill_dir=spill_dir)
    first = next(items, None)
    if first is not None and finder.absolute:
        # Sorted by key in the order they were listed; rebased keys keep their order among themselves, but
        # may fall among relative ones: sorted again then (a mixed index is rare, and only costs time).
        items = _rebased(itertools.chain([first], items), finder.root())
        if finder.relative:
            items = external_sort(items, key=by_path, encode=encode, decode=decode, spill_dir=spill_dir)
        first = next(items, None)
    previous: tuple[str, PublicIndexEntry] | None = None
    if first is None:
        return
    for _number, path, entry in itertools.chain([first], items):
        # Equal paths come out in input order, so the last one listed wins, as in a JSON object.
        if previous is not None and previous[0] != path:
            yield previous
        previous = (path, entry)
    if previous is not None:
        yield previous


def _rebased(items: Iterator[tuple[int, str, PublicIndexEntry]], root: str | None,
             ) -> Iterator[tuple[int, str, PublicIndexEntry]]:
    """Absolute keys under ``root`` made relative to it and checked; any other absolute key is refused."""
    prefix = root.rstrip("/") + "/" if root is not None else None
    for number, path, entry in items:
        if path.startswith("/"):
            if prefix is not None and path.startswith(prefix) and len(path) > len(prefix):
                path = path[len(prefix):]
            path = index_path(path)
        yield number, path, entry


def iter_object_members(plain: BinaryIO, read_size: int = 64 * 1024) -> Iterator[tuple[str, Any]]:
    """The (key, value) pairs of a JSON object read from ``plain`` as they come, with bounded memory.

    Whatever the layout (one line, indented), only the member being parsed and the block read last are held;
    a member longer than :data:`MAX_ENTRY` is refused.
    """
    text_of = codecs.getincrementaldecoder("utf-8")()
    buffer = ""
    position = 0
    at_end = False

    def more() -> bool:
        nonlocal buffer, position, at_end
        if at_end:
            return False
        block = plain.read(read_size)
        try:
            text = text_of.decode(block, final=not block)
        except UnicodeDecodeError:
            raise WireFormatError("malformed public files index: not UTF-8") from None
        at_end = not block
        buffer = buffer[position:] + text
        position = 0
        return True

    def skip_space() -> str:
        nonlocal position
        while True:
            position = _JSON_SPACE.match(buffer, position).end()  # type: ignore[union-attr]
            if position < len(buffer):
                return buffer[position]
            if not more():
                return ""

    def value() -> Any:
        nonlocal position
        while True:
            try:
                result, end = hostilejson.raw_decode(buffer, position)
            except hostilejson.TooComplexError as exc:
                # Reading on would not make it readable.
                raise WireFormatError(f"malformed public files index: not JSON ({exc.msg})") from None
            except json.JSONDecodeError as exc:
                if len(buffer) - position > MAX_ENTRY:
                    raise WireFormatError("malformed public files index: an entry is longer than 256 KiB") from None
                if not more():
                    raise WireFormatError(f"malformed public files index: not JSON ({exc.msg})") from None
                continue
            # A value ending exactly at the end of what was read may go on (a number): read on to be sure.
            if end == len(buffer) and not at_end and not isinstance(result, (dict, list, str)):
                more()
                continue
            position = end
            return result

    if skip_space() != "{":
        raise WireFormatError("malformed public files index: not a JSON object")
    position += 1
    if skip_space() == "}":
        position += 1
    else:
        while True:
            if skip_space() != '"':
                raise WireFormatError("malformed public files index: expected a path")
            key = value()
            if skip_space() != ":":
                raise WireFormatError("malformed public files index: expected ':' after a path")
            position += 1
            skip_space()
            yield key, value()
            separator = skip_space()
            position += 1
            if separator == "}":
                break
            if separator != ",":
                raise WireFormatError("malformed public files index: expected ',' or '}' between entries")
    if skip_space():
        raise WireFormatError("malformed public files index: data after the object")
