"""A statement as the server reads it: its names by what they name, its strings by their values.

The install gate (:mod:`.gate`) looks for names (``pg_read_file``, ``dblink``, ``LANGUAGE c``) and for code
inside strings (routine bodies). Spelling is not meaning: the server reads ``"lo_export"``,
``U&"\\006Co_export"`` and ``lo_export`` as one name, and ``E'be\\x5flo_export'``, ``U&'be\\005Flo_export'``
and ``'be_lo_'`` followed by ``'export'`` on the next line as one string. So the gate reads both the way
the server does: quoted names unquoted and unescaped, strings unescaped and joined across line breaks.
The parts are found by the script splitter's own scanner (:func:`.script.skip_part`), so the gate reads
exactly the statement the loader sends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from synco_core.engines.postgresql.script import BULK, PLAIN_STRING, SPECIAL, skip_part

_IDENTIFIER_CHAR = re.compile(rb"[A-Za-z0-9_$\x80-\xff]")
#: After one of these a ``$`` continues a name, and an ``E`` before a quote is no prefix (as in
#: :func:`.script.skip_part`).
_NAME_BEFORE_DOLLAR = re.compile(rb"[A-Za-z0-9_\x80-\xff]")
#: What may stand between two string constants that the server joins into one: space holding a line break.
_CONTINUATION = re.compile(rb"(?:[ \t\f\r\v]|--[^\n]*)*\n(?:\s|--[^\n]*)*")
_UESCAPE = re.compile(rb"\s*UESCAPE\s*'([^'])'", re.IGNORECASE)
_E_ESCAPE = re.compile(rb"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.DOTALL)
_E_SIMPLE = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t"}


@dataclass
class Reading:
    #: The statement's code: comments as a space, every string as ``''``, quoted names by their value
    #: (parentheses in them as ``_``).
    names: bytes
    #: The values of its strings and dollar-quoted bodies, in order (constants joined across lines as one); read
    #: without values, not these.
    strings: list[bytes] = field(default_factory=list)
    #: Where in :attr:`names` each string's ``''`` stands: its value.
    string_at: dict[int, bytes] = field(default_factory=dict)


def read(statement: bytes, values: bool = True) -> Reading:
    """The statement's :class:`Reading`; without ``values`` only its :attr:`~Reading.names` (the values of the
    plain strings, read in bulk, are left out: a data statement's thousands of strings cost a Python step each)."""
    names = bytearray()
    strings: list[bytes] = []
    string_at: dict[int, bytes] = {}
    kept_from = scan = 0
    last_string_end = -1
    after_comment = False
    while True:
        if not values and not after_comment:
            # A string after a comment may join the one before it (its continuation): read one by one.
            bulk = BULK.match(statement, scan).end()  # type: ignore[union-attr]  # matches, maybe empty
            cut = statement.rfind(b"'", scan, bulk) + 1
            if cut > 0:
                # Up to its last string: what follows is code the next part may need (a U& prefix).
                names += statement[kept_from:scan] + PLAIN_STRING.sub(b"''", statement[scan:cut])
                kept_from = cut
                if not statement[cut:bulk].strip(b" \t\f\r\v"):
                    # Its last string may go on after a line break: as a string read one by one would.
                    last_string_end = cut
                    strings[-1:] = [b""]
            scan = max(scan, bulk)
        after_comment = False
        match = SPECIAL.search(statement, scan)
        if match is None:
            break
        token, at = match.group(), match.start()
        if token in (b";", b"\\"):
            scan = at + 1
            continue
        end = skip_part(statement, token, at, True)
        end = len(statement) if end is None else end
        if token == b"$" and (end - at == 1 or (at > 0 and _NAME_BEFORE_DOLLAR.match(statement, at - 1))):
            scan = end  # a parameter ($1) or part of a name
            continue
        code = statement[kept_from:at]
        if token in (b"--", b"/*"):
            after_comment = True
            names += code + b" "
        elif token == b'"':
            unicode = _unicode_prefix(statement, at)
            value = statement[at + 1:end - 1].replace(b'""', b'"')
            if unicode and code[-2:] in (b"U&", b"u&"):
                code = code[:-2]
                escape, end = _uescape(statement, end)
                value = _unicode_unescape(value, escape)
            # Parentheses in a name would throw off whoever counts them in the code (a LANGUAGE clause
            # is one outside every parenthesis); no name the gate looks for holds one.
            names += code + value.replace(b"(", b"_").replace(b")", b"_")
        else:
            value, end = _string_value(statement, token, at, end, values)
            if strings and last_string_end >= 0 and _CONTINUATION.fullmatch(statement, last_string_end, at):
                strings[-1] += value
                if string_at:
                    string_at[max(string_at)] = strings[-1]
            else:
                if token == b"'" and code[-2:] in (b"U&", b"u&") and _unicode_prefix(statement, at):
                    code = code[:-2]
                names += code
                string_at[len(names)] = value
                names += b"''"
                strings.append(value)
            last_string_end = end
        kept_from = scan = end
    names += statement[kept_from:]
    return Reading(bytes(names), strings, string_at)


def _unicode_prefix(statement: bytes, at: int) -> bool:
    """Whether the quote at ``at`` follows ``U&`` (not the end of a longer name)."""
    return (at >= 2 and statement[at - 2:at] in (b"U&", b"u&")
            and (at < 3 or not _IDENTIFIER_CHAR.match(statement, at - 3)))


def _uescape(statement: bytes, end: int) -> tuple[bytes, int]:
    """The escape character of a ``U&`` constant ending at ``end`` and where its ``UESCAPE`` clause ends."""
    match = _UESCAPE.match(statement, end)
    return (b"\\", end) if match is None else (match.group(1), match.end())


def _string_value(statement: bytes, token: bytes, at: int, end: int, values: bool = True) -> tuple[bytes, int]:
    """The value of the string (or dollar-quoted body) at ``at``, and where it ends (its ``UESCAPE`` too); without
    ``values``, an empty value: the reading's names need only where it ends. (An ``E''`` string's value was made
    escape by escape, a Python object each, whether it was wanted or not: a 50 MB one with many backslashes took
    1.2 GB.)"""
    if not values:
        return b"", _uescape(statement, end)[1] if token == b"'" and _unicode_prefix(statement, at) else end
    if token == b"$":
        tag = statement[at:statement.index(b"$", at + 1) + 1]
        return statement[at + len(tag):end - len(tag)], end
    body = statement[at + 1:end - 1]
    if at > 0 and statement[at - 1:at] in (b"E", b"e") and (at < 2 or not _NAME_BEFORE_DOLLAR.match(statement, at - 2)):
        return _E_ESCAPE.sub(_e_escape, body.replace(b"''", b"'")), end
    if _unicode_prefix(statement, at):
        escape, end = _uescape(statement, end)
        return _unicode_unescape(body.replace(b"''", b"'"), escape), end
    return body.replace(b"''", b"'"), end


def _e_escape(match: re.Match[bytes]) -> bytes:
    octal, hexa, short, long, other = match.groups()
    if octal is not None:
        return bytes([int(octal, 8) & 0xFF])
    if hexa is not None:
        return bytes([int(hexa, 16)])
    if short is not None or long is not None:
        return _code_point(int(short or long, 16))
    return _E_SIMPLE.get(other, other)


def _unicode_unescape(value: bytes, escape: bytes) -> bytes:
    """``value`` of a ``U&`` constant with its escapes (``\\XXXX``, ``\\+XXXXXX``) replaced."""
    pattern = re.compile(re.escape(escape) + rb"(?:([0-9A-Fa-f]{4})|\+([0-9A-Fa-f]{6})|(" + re.escape(escape) + rb"))")
    return pattern.sub(lambda m: m.group(3) or _code_point(int(m.group(1) or m.group(2), 16)), value)


def _code_point(number: int) -> bytes:
    try:
        return chr(number).encode("utf-8", "surrogatepass")
    except ValueError:
        return b"?"
