"""What a ``206 Partial Content`` answer must be before its body is taken: the range that was asked for.

Callers place a 206's body by its ``Content-Range`` (an artifact's part file is continued there, a public
file's part is appended to, a pack's chunks are counted from there). A server or proxy that answers another
range than the one asked (another start, a ``Content-Range`` its ``Content-Length`` contradicts, a body
shorter than the range it names) made a resumed artifact restart from byte 0 with bytes from the middle of
the file, lost its part file to the authentication failure that followed, or had a cut body taken as a
complete one. Such an answer is refused here, in one line naming the server and what it sent, before a byte
of it is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: RFC 9110's ``Content-Range`` for bytes: ``bytes first-last/complete`` (``*`` for an unknown length); at most
#: 18 digits a number (no file is longer, and ``int`` refuses strings of thousands of digits).
_CONTENT_RANGE = re.compile(r"bytes[ \t]+([0-9]{1,18})-([0-9]{1,18})/([0-9]{1,18}|\*)", re.IGNORECASE | re.ASCII)


@dataclass(frozen=True)
class ContentRange:
    """The bytes a 206 answer says its body holds: ``first`` to ``last`` (inclusive) of ``total``."""

    first: int
    last: int
    #: The size of the whole file, or None where the server does not know it (``*``).
    total: int | None

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    def __str__(self) -> str:
        return f"bytes {self.first}-{self.last} of {'an unknown size' if self.total is None else self.total}"


def parse_content_range(value: str) -> ContentRange | None:
    """The range a ``Content-Range`` header names, or None where it names none that is possible (last before
    first, a range past the size, ``*/size``, which belongs to a 416, not a 206)."""
    match = _CONTENT_RANGE.fullmatch(value.strip())
    if match is None:
        return None
    first, last = int(match[1]), int(match[2])
    total = None if match[3] == "*" else int(match[3])
    if last < first or (total is not None and last >= total):
        return None
    return ContentRange(first, last, total)


def asked_text(first: int, last: int | None) -> str:
    """The range asked for, as messages name it."""
    return f"bytes {first}-{'' if last is None else last}"


def expected_last(answered: ContentRange, last: int | None) -> int | None:
    """The last byte an answer to a request ending at ``last`` (None: to the end) should hold: ``last``, or the
    file's last byte where the range runs past it; None where neither is known."""
    if answered.total is None:
        return last
    return answered.total - 1 if last is None else min(last, answered.total - 1)


def partial_problem(answered: ContentRange, first: int, last: int | None, content_length: int | None,
                    *, ranged: bool) -> str | None:
    """What is wrong with a 206 answering ``answered`` to a request for bytes ``first`` to ``last`` (None: to
    the end; ``ranged`` False: no Range was asked, the whole file was), or None when it is that range or the
    start of it.

    The answer must start where asked and end no later than asked (or than the file's last byte); its
    ``Content-Length``, when given, must be the range's length. One that ends earlier (some streaming servers
    send a few megabytes at a time) holds the right bytes at the right place: the caller keeps them, and
    the read ends as an interrupted one (:func:`short_of`), continued from there the next time.
    """
    expected = expected_last(answered, last)
    if answered.first != first or (expected is not None and answered.last > expected):
        asked = asked_text(first, last) if ranged else "the whole file"
        return f"{answered} (HTTP 206) to a request for {asked}"
    if content_length is not None and content_length != answered.length:
        return f"{answered} (HTTP 206) with a body of {content_length} bytes (Content-Length)"
    return None


def short_of(answered: ContentRange, last: int | None) -> str | None:
    """Why a read ends early when the answer ends before the range asked for (or the file) does, else None."""
    expected = expected_last(answered, last)
    if expected is None or answered.last >= expected:
        return None
    return f"the server sent {answered}, not to byte {expected}"
