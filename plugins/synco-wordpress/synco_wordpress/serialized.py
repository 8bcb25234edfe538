"""Rewriting the strings inside PHP-serialized values, with their byte lengths recomputed.

WordPress stores options, widgets and post meta with PHP's ``serialize()``: ``a:1:{s:4:"home";s:23:"https://..."}``.
Each string carries its length in bytes, so replacing a URL with one of another length inside it, as a plain
search and replace would, leaves a value ``unserialize()`` refuses, and the widget or option is lost.
:func:`rewrite_serialized` walks the serialized value and hands every string value (not array keys, property
names or class names, as ``wp search-replace`` leaves those too) to a callback, then writes it back with its
new length. A string that is itself serialized (WordPress double-serializes now and then) is the callback's
business: :class:`synco_wordpress.searchreplace.UrlReplacer` recurses into it.

The walk reads ``N;``, ``b:``, ``i:``, ``d:``, ``s:``, ``a:``, ``O:`` (objects of any class), ``E:`` (enums),
``r:`` / ``R:`` (references) and ``C:`` (objects with their own format: a payload that is itself one serialized
value, as ``serialize()`` of the object's data makes it, is walked too; any other is copied unchanged, its
format belonging to the class). Anything else, or a value that does not end where its outermost
element ends, is not serialized data: :func:`rewrite_serialized` returns None, and the caller leaves the value
as it is when :func:`is_serialized` or :func:`starts_serialized` says WordPress would take it for serialized
data (it is broken), or treats it as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable

#: Deepest nesting walked; deeper values are left as they are rather than risked.
MAX_DEPTH = 200

_STRING = re.compile(rb's:(\d+):"')
_ARRAY = re.compile(rb"a:(\d+):\{")
_OBJECT = re.compile(rb'O:(\d+):"')
_OBJECT_COUNT = re.compile(rb'":(\d+):\{')
_CUSTOM = re.compile(rb'C:(\d+):"')
_CUSTOM_LENGTH = re.compile(rb'":(\d+):\{')
_ENUM = re.compile(rb'E:(\d+):"')
_SCALAR = re.compile(
    rb"N;|b:[01];|i:[+-]?\d+;|d:(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|NAN|-?INF);|[rR]:\d+;")
_KEY = re.compile(rb'i:[+-]?\d+;|s:(\d+):"')
_FIRST = frozenset(b"NbidsaOCErR")
#: What PHP's trim() removes, and so what WordPress's maybe_unserialize() ignores around serialized data.
PHP_WHITESPACE = b" \t\n\r\0\x0b"
_SERIALIZED_CONTAINER = re.compile(rb"[saOCE]:[0-9]+:")
_SERIALIZED_SCALAR = re.compile(rb"[bid]:[0-9.E+-]+;\Z")
_WHITESPACE_BYTES = frozenset(bytes([byte]) for byte in PHP_WHITESPACE)
_FIRST_BYTES = frozenset(bytes([byte]) for byte in b"NbidsaOCE" + PHP_WHITESPACE)
_OPENING = re.compile(rb'a:[0-9]+:\{|[OC]:[0-9]+:"|s:[0-9]+:"')


class NotSerialized(Exception):
    """The bytes are not one complete serialized PHP value."""


class TooDeep(Exception):
    """The value nests deeper than :data:`MAX_DEPTH`."""


def looks_serialized(value: bytes) -> bool:
    """A cheap first test, as WordPress's ``is_serialized()`` makes: a type letter, a colon or semicolon, and
    the end a PHP serializer writes."""
    return (len(value) >= 2 and value[0] in _FIRST and value[1:2] in (b":", b";")
            and value[-1:] in (b";", b"}"))


def is_serialized(value: bytes) -> bool:
    """What WordPress's ``is_serialized()`` (strict) says of ``value``, with ``C:`` (Serializable) accepted too:
    WordPress unserializes such a value when it reads it, and leaves anything else as text.

    Whitespace around the value does not count (WordPress trims it before unserializing).
    """
    if not _may_be_serialized(value):
        return False
    data = strip_php_whitespace(value)
    if data == b"N;":
        return True
    if len(data) < 4 or data[1:2] != b":" or data[-1:] not in (b";", b"}"):
        return False
    token = data[:1]
    if token == b"s" and data[-2:-1] != b'"':
        return False
    if token in b"saOCE":
        return _SERIALIZED_CONTAINER.match(data) is not None
    if token in b"bid":
        return _SERIALIZED_SCALAR.match(data) is not None
    return False


def starts_serialized(value: bytes) -> bool:
    """Whether ``value`` opens like a serialized array, object or string (whitespace before it aside): with
    :func:`is_serialized`, what tells serialized data cut short by its column from text."""
    return _may_be_serialized(value) and _OPENING.match(strip_php_whitespace(value)) is not None


def strip_php_whitespace(value: bytes) -> bytes:
    """``value`` without the whitespace PHP's trim() removes (no copy when there is none, the usual case)."""
    if value[:1] in _WHITESPACE_BYTES or value[-1:] in _WHITESPACE_BYTES:
        return value.strip(PHP_WHITESPACE)
    return value


def _may_be_serialized(value: bytes) -> bool:
    # A post body is not copied (strip) only to find that it starts with a letter no serialized value does.
    return value[:1] in _FIRST_BYTES


def rewrite_serialized(value: bytes, rewrite: Callable[[bytes], bytes]) -> bytes | None:
    """``value`` with ``rewrite`` applied to every string value in it and the lengths written anew; None when
    ``value`` is not serialized data. Raises :class:`TooDeep` for a value nested beyond :data:`MAX_DEPTH`."""
    if not looks_serialized(value):
        return None
    out: list[bytes] = []
    try:
        end = _Walker(value, rewrite, out).value(0, 0)
    except (NotSerialized, IndexError, ValueError):
        return None
    if end != len(value):
        return None
    return b"".join(out)


class _Walker:
    def __init__(self, data: bytes, rewrite: Callable[[bytes], bytes], out: list[bytes]) -> None:
        self.data = data
        self.rewrite = rewrite
        self.out = out

    def expect(self, position: int, text: bytes) -> int:
        if not self.data.startswith(text, position):
            raise NotSerialized()
        return position + len(text)

    def value(self, position: int, depth: int) -> int:
        """Copy (rewriting strings) the value at ``position``; returns where it ends."""
        if depth > MAX_DEPTH:
            raise TooDeep()
        data = self.data
        kind = data[position:position + 1]
        if kind == b"s":
            match = _STRING.match(data, position)
            if match is None:
                raise NotSerialized()
            start = match.end()
            end = start + int(match.group(1))
            if data[end:end + 2] != b'";':
                raise NotSerialized()
            new = self.rewrite(data[start:end])
            self.out.append(b's:%d:"' % len(new))
            self.out.append(new)
            self.out.append(b'";')
            return end + 2
        if kind == b"a":
            match = _ARRAY.match(data, position)
            if match is None:
                raise NotSerialized()
            self.out.append(match.group(0))
            return self.members(match.end(), int(match.group(1)), depth)
        if kind == b"O":
            match = _OBJECT.match(data, position)
            if match is None:
                raise NotSerialized()
            name_end = match.end() + int(match.group(1))
            count = _OBJECT_COUNT.match(data, name_end)
            if count is None:
                raise NotSerialized()
            self.out.append(data[position:count.end()])
            return self.members(count.end(), int(count.group(1)), depth)
        if kind == b"C":
            match = _CUSTOM.match(data, position)
            if match is None:
                raise NotSerialized()
            name_end = match.end() + int(match.group(1))
            length = _CUSTOM_LENGTH.match(data, name_end)
            if length is None:
                raise NotSerialized()
            payload_start = length.end()
            payload_end = payload_start + int(length.group(1))
            end = self.expect(payload_end, b"}")
            # The payload's format is the class's own (Serializable::serialize), but most classes write
            # serialize() of their data there, and WordPress's plugins keep URLs in it: such a payload is walked
            # like any serialized value, its length written anew; any other is copied as it is.
            walked = self.payload(payload_start, payload_end, depth)
            if walked is None:
                self.out.append(data[position:end])
            else:
                self.out += [data[position:name_end], b'":%d:{' % len(walked), walked, b"}"]
            return end
        if kind == b"E":
            match = _ENUM.match(data, position)
            if match is None:
                raise NotSerialized()
            end = self.expect(match.end() + int(match.group(1)), b'";')
            self.out.append(data[position:end])
            return end
        match = _SCALAR.match(data, position)
        if match is None:
            raise NotSerialized()
        self.out.append(match.group(0))
        return match.end()

    def payload(self, start: int, end: int, depth: int) -> bytes | None:
        """The serialized value filling ``data[start:end]`` exactly, rewritten; None when it is not one."""
        out: list[bytes] = []
        # Walked in the whole value (no copy of the payload per nested object): a payload that does not end
        # exactly where its length says, reading past it or stopping short, is not one serialized value.
        walker = _Walker(self.data, self.rewrite, out)
        try:
            if walker.value(start, depth + 1) != end:
                return None
        except (NotSerialized, IndexError, ValueError):
            return None
        return b"".join(out)

    def members(self, position: int, count: int, depth: int) -> int:
        """``count`` key/value pairs and the closing brace; keys are copied, values walked."""
        data = self.data
        for _ in range(count):
            key = _KEY.match(data, position)
            if key is None:
                raise NotSerialized()
            # A string key is copied as it is (its length included): keys are never rewritten.
            end = key.end() if key.group(1) is None else self.expect(key.end() + int(key.group(1)), b'";')
            self.out.append(data[position:end])
            position = self.value(end, depth + 1)
        position = self.expect(position, b"}")
        self.out.append(b"}")
        return position
