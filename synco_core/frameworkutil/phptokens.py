"""The tokenizer of the PHP configuration reader (:mod:`synco_core.frameworkutil.phpconfig`).

It turns PHP source into a flat list of :class:`Token` (comments, white space and inline HTML dropped),
understanding what configuration files hold: ``<?php`` / ``?>`` tags, ``//``, ``#`` and ``/* */`` comments,
single- and double-quoted strings (the latter split into literal text and variable references for
interpolation), heredoc and nowdoc, numbers in every base, variables, names (with namespaces), casts and
operators. It never executes anything; input it cannot make sense of raises :class:`~synco_core.ConfigError`
naming the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from synco_core.errors import ConfigError

#: What PHP source may contain between tags (everything else is inline HTML, which is output, not code).
_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n\f\v]+)
  | (?P<comment>(?://|\#)[^\n?]*(?:\?(?!>)[^\n?]*)*|/\*.*?\*/)
  | (?P<close>\?>\r?\n?)
  | (?P<heredoc><<<[ \t]*(?P<quote>["']?)(?P<label>[A-Za-z_][A-Za-z0-9_]*)(?P=quote)\r?\n)
  | (?P<sq>'[^'\\]*(?:\\.[^'\\]*)*')
  | (?P<dq>"[^"\\]*(?:\\.[^"\\]*)*")
  | (?P<num>0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*|0[bB][01](?:_?[01])*|0[oO][0-7](?:_?[0-7])*
       |(?:[0-9](?:_?[0-9])*)?\.[0-9](?:_?[0-9])*(?:[eE][+-]?[0-9]+)?
       |[0-9](?:_?[0-9])*(?:\.(?![.0-9])|(?:\.[0-9](?:_?[0-9])*)?(?:[eE][+-]?[0-9]+)?))
  | (?P<var>\$[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_\x80-\U0010ffff]*)
  | (?P<name>\\?[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_\x80-\U0010ffff]*
       (?:\\[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_\x80-\U0010ffff]*)*)
  | (?P<op>\?\?=|\*\*=|<=>|===|!==|\.\.\.|<<=|>>=|\?->|\?\?|::|=>|->|==|!=|<>|<=|>=|&&|\|\||\+\+|--|\+=|-=|\*=|/=
       |\.=|%=|&=|\|=|\^=|<<|>>|\*\*|[-+*/%.=<>!?:;,()\[\]{}@&|^~$\\])
    """,
    re.VERBOSE | re.DOTALL,
)
_OPEN_TAG = re.compile(r"<\?(?:php(?=[\s])|=|(?![A-Za-z]))", re.IGNORECASE)
_DQ_ESCAPE = re.compile(r"\\(?:([nrtvef\\$\"])|([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|u\{([0-9A-Fa-f]+)\})")
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "v": "\v", "e": "\x1b", "f": "\f", "\\": "\\", "$": "$", '"': '"'}
_INTERPOLATION = re.compile(r"\{\$|\$\{|\$[A-Za-z_\x80-\U0010ffff]")
_NAME_CHARS = re.compile(r"[A-Za-z0-9_\x80-\U0010ffff]*")


@dataclass(frozen=True)
class Token:
    """One token: ``kind`` is ``str`` (a string without interpolation), ``interp`` (a double-quoted string
    or heredoc with variables: ``value`` is a tuple of parts), ``num``, ``var``, ``name``, ``op`` or ``end``."""

    kind: str
    value: object
    line: int
    #: The file the token comes from, for error messages.
    source: str = field(default="", compare=False)

    def shown(self) -> str:
        """The token as an error message names it: operators and variables as written, the rest by their kind.

        A string's text, or a name or number right after one, is often a password's: a quote inside it ends the
        string early (``'it's-secret'``) and the rest reads as names and operators. The line number says where.
        """
        if self.kind in ("op", "var"):
            return repr(self.value)
        return _KIND_NAMES.get(self.kind, "a token")


#: How :meth:`Token.shown` names the tokens whose text it does not show.
_KIND_NAMES = {"str": "a string", "interp": "a string", "num": "a number", "name": "a name",
               "end": "the end of the file"}


def _unescape_double(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        simple, octal, hexa, code = match.groups()
        if simple is not None:
            return _SIMPLE_ESCAPES[simple]
        if octal is not None:
            return chr(int(octal, 8) & 0xFF)
        if hexa is not None:
            return chr(int(hexa, 16))
        return chr(int(code, 16)) if int(code, 16) <= 0x10FFFF else match.group(0)

    return _DQ_ESCAPE.sub(replace, text)


def _unescape_single(text: str) -> str:
    return re.sub(r"\\([\\'])", r"\1", text)


def _interpolated(text: str, line: int, source: str, escapes: bool = True) -> Token:
    """A double-quoted string or heredoc body as a ``str`` token, or ``interp`` with literal and variable parts.

    Variable parts are ``("var", name, keys)`` for ``$name``, ``$name[key]`` and ``${name}``, or ``("expr",
    text)`` for ``{$...}``, whose text the parser reads as an expression.
    """
    if not _INTERPOLATION.search(text):
        return Token("str", _unescape_double(text) if escapes else text, line, source)
    parts: list[object] = []
    literal: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "\\" and escapes and position + 1 < len(text):
            match = _DQ_ESCAPE.match(text, position)
            if match:
                literal.append(_unescape_double(match.group(0)))
                position = match.end()
            else:
                literal.append(text[position:position + 2])
                position += 2
            continue
        if text.startswith("{$", position):
            depth, end = 0, position
            while end < len(text):
                if text[end] == "{":
                    depth += 1
                elif text[end] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                end += 1
            if end >= len(text):
                raise ConfigError(f"{source}:{line}: unterminated {{$...}} in a string")
            parts.append("".join(literal))
            literal = []
            parts.append(("expr", text[position + 1:end]))
            position = end + 1
            continue
        if text.startswith("${", position):
            end = text.find("}", position)
            if end == -1:
                raise ConfigError(f"{source}:{line}: unterminated ${{...}} in a string")
            parts.append("".join(literal))
            literal = []
            parts.append(("var", text[position + 2:end].strip(), ()))
            position = end + 1
            continue
        if char == "$" and _INTERPOLATION.match(text, position):
            name_match = _NAME_CHARS.match(text, position + 1)
            assert name_match is not None
            name = name_match.group(0)
            position = name_match.end()
            keys: tuple[object, ...] = ()
            if text.startswith("[", position):
                end = text.find("]", position)
                if end != -1:
                    key_text = text[position + 1:end].strip("'\"")
                    keys = (int(key_text) if key_text.lstrip("-").isdigit() else key_text,)
                    position = end + 1
            elif text.startswith("->", position):
                prop = _NAME_CHARS.match(text, position + 2)
                if prop and prop.group(0):
                    keys = (("->", prop.group(0)),)
                    position = prop.end()
            parts.append("".join(literal))
            literal = []
            parts.append(("var", name, keys))
            continue
        literal.append(char)
        position += 1
    parts.append("".join(literal))
    return Token("interp", tuple(parts), line, source)


def _heredoc(text: str, start: int, label: str, nowdoc: bool, line: int, source: str) -> tuple[Token, int]:
    """The heredoc or nowdoc whose body starts at ``start``; returns the token and the position after it."""
    closing = re.compile(r"^([ \t]*)" + re.escape(label) + r"(?![A-Za-z0-9_\x80-\U0010ffff])", re.MULTILINE)
    match = closing.search(text, start)
    if match is None:
        raise ConfigError(f"{source}:{line}: heredoc <<<{label} has no end")
    indent = match.group(1)
    body = text[start:match.start()]
    if body.endswith("\n"):
        body = body[:-1]
        if body.endswith("\r"):
            body = body[:-1]
    if indent:
        # PHP 7.3's flexible heredoc: the closing marker's indentation is removed from every line.
        body = "\n".join(row[len(indent):] if row.startswith(indent) else row.lstrip(" \t")
                         for row in body.split("\n"))
    token = Token("str", body, line, source) if nowdoc else _interpolated(body, line, source)
    return token, match.end()


def tokenize(text: str, source: str = "PHP file") -> list[Token]:
    """The tokens of ``text`` (PHP code between tags; inline HTML dropped), ending with an ``end`` token."""
    tokens: list[Token] = []
    position = 0
    line = 1
    length = len(text)
    while position < length:
        # Inline HTML up to the next open tag.
        opening = _OPEN_TAG.search(text, position)
        if opening is None:
            break
        line += text.count("\n", position, opening.end())
        if opening.group(0) == "<?=":
            tokens.append(Token("name", "echo", line, source))
        position = opening.end()
        while position < length:
            match = _TOKEN.match(text, position)
            if match is None:
                # The text is not shown: what cannot be read is most often a quote never closed, and what follows
                # it a password's characters.
                char = text[position]
                if char in "'\"":
                    raise ConfigError(f"{source}:{line}: a string whose quote {char} is never closed")
                raise ConfigError(f"{source}:{line}: cannot read the character {char!r} (U+{ord(char):04X})")
            kind = match.lastgroup
            value = match.group(0)
            end = match.end()
            if kind == "close":
                # "?>" ends a statement, like ";".
                tokens.append(Token("op", ";", line, source))
                line += value.count("\n")
                position = end
                break
            if kind == "heredoc":
                token, end = _heredoc(text, end, match.group("label"), match.group("quote") == "'", line, source)
                tokens.append(token)
            elif kind == "sq":
                tokens.append(Token("str", _unescape_single(value[1:-1]), line, source))
            elif kind == "dq":
                tokens.append(_interpolated(value[1:-1], line, source))
            elif kind == "num":
                tokens.append(Token("num", _number(value), line, source))
            elif kind in ("var", "name", "op"):
                tokens.append(Token(kind or "", value, line, source))
            line += text.count("\n", position, end)
            position = end
    tokens.append(Token("end", "", line, source))
    return tokens


def _number(text: str) -> int | float:
    clean = text.replace("_", "")
    lowered = clean.lower()
    if lowered.startswith("0x"):
        return int(clean[2:], 16)
    if lowered.startswith("0b"):
        return int(clean[2:], 2)
    if lowered.startswith("0o"):
        return int(clean[2:], 8)
    if "." in clean or "e" in lowered:
        return float(clean)
    if len(clean) > 1 and clean.startswith("0") and clean.isdigit():
        # A leading zero means octal in PHP ("0755"); digits 8 and 9 make it invalid there, read as decimal here.
        return int(clean, 8) if set(clean) <= set("01234567") else int(clean)
    return int(clean)
