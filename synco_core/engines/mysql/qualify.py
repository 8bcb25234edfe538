"""Changing the database that qualifies names inside an SQL statement (``src.t`` becomes ``dst.t``).

A trigger written as ``CREATE TRIGGER shop.trg ... ON shop.orders``, a routine that reads ``shop.t``, a view
that calls ``shop.f()`` or a column whose default is ``nextval(shop.seq)`` name the database they were
created in. Copied elsewhere they must name the copy's database, or they act on the original (or fail).
The server stores such text as written (defaults it qualifies itself), so synco rewrites it: the loader
from the source database to the one it loads into, and the installer again when it moves objects between
databases.

The statement is tokenised as the server reads it: strings (backslash escapes unless
``NO_BACKSLASH_ESCAPES``), quoted identifiers (back-ticks, and double quotes under ``ANSI_QUOTES``), comments
(their text is left alone, but executable comments ``/*!...*/`` hold code and are read), user variables
(``@shop.x`` is one variable). A name is rewritten where it qualifies another: ``shop.t``, ``shop . t``,
``shop.t.col``, ``` `shop`.`f`( ```. Its quoting is kept when the new name allows it.

The same word can also name a table, a column or an alias (a table ``shop`` in database ``shop``, or
``FROM (...) shop``). Then ``shop.x`` may mean that table's column, and only what must be a database is
rewritten: three-part names and function calls. :func:`requalify` says when that happened, so the
caller can warn.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

#: MySQL character sets whose multi-byte characters may contain the bytes of quotes and backslashes:
#: text in them is decoded before it is tokenised. Every other one keeps those bytes for themselves.
_UNSAFE_CODECS = {"big5": "big5", "cp932": "cp932", "gbk": "gbk", "sjis": "shift_jis", "gb18030": "gb18030"}
#: How names are encoded in the other character sets synco knows; in the rest only ASCII names are found.
_NAME_CODECS = {"utf8mb4": "utf-8", "utf8mb3": "utf-8", "utf8": "utf-8", "latin1": "cp1252", "binary": "utf-8"}
#: What a word is made of, as regular-expression source for text and for bytes (taken one to one, as latin-1).
_WORD_SOURCE = r"[0-9A-Za-z_$\x80-\uffff]"
_WORD_BYTES_SOURCE = r"[0-9A-Za-z_$\x80-\xff]"
_PLAIN = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\Z")
#: The characters a quoted identifier doubles: its back-tick, ANSI_QUOTES' double quote, MSSQL's bracket.
_QUOTE_CHARACTERS = re.compile(r"[`\"\]]")
#: What a statement may not hold as the name does: those quotes, and every character that is not ASCII. Written
#: as the ASCII characters it leaves out: a class spanning every code point above 0x7F took 4 ms to compile, a
#: fortieth of a dump's start-up.
_NOT_KEPT = re.compile(r"[^\x00-\x21\x23-\x5c\x5e-\x5f\x61-\x7f]")


@dataclass(frozen=True)
class Mode:
    """How the statement's text is read: its character set and the sql_mode it is created under."""

    charset: str = "utf8mb4"
    ansi_quotes: bool = False
    backslash_escapes: bool = True
    #: Trigger bodies use ``NEW.col`` and ``OLD.col``: those words never name a database there.
    trigger: bool = False
    #: MariaDB's ``MSSQL`` mode: ``[name]`` is a quoted identifier (``]]`` stands for ``]``).
    brackets: bool = False

    @classmethod
    def of(cls, charset: str, sql_mode: str, kind: str = "") -> Mode:
        modes = {m.strip().upper() for m in sql_mode.split(",")}
        return cls(charset=(charset or "utf8mb4").lower(), ansi_quotes="ANSI_QUOTES" in modes or "ANSI" in modes,
                   backslash_escapes="NO_BACKSLASH_ESCAPES" not in modes, trigger=kind.upper() == "TRIGGER",
                   brackets="MSSQL" in modes)


def _pieces(mode: Mode, word: str) -> dict[str, str]:
    """The server's tokens under ``mode`` as regular expressions (ASCII source, for text and for bytes).

    Quoted text is written as "unrolled loops" (a run of ordinary characters, then an escape and another
    run): the same language as one alternation per character, matched many times faster, since a dump's
    statements are mostly long strings.
    """
    if mode.backslash_escapes:
        single = r"'[^'\\]*(?:(?:\\[\s\S]|'')[^'\\]*)*'"
        double = r'"[^"\\]*(?:(?:\\[\s\S]|"")[^"\\]*)*"'
    else:
        single = r"'[^']*(?:''[^']*)*'"
        double = r'"[^"]*(?:""[^"]*)*"'
    return {
        "space": r"\s+",
        "comment": r"--(?=[ \t\r\n]|$)[^\n]*|#[^\n]*|/\*(?!!|M!)[\s\S]*?\*/",
        "open": r"/\*M?!\d*",
        "close": r"\*/",
        "string": single + ("" if mode.ansi_quotes else "|" + double),
        "quoted": r"`[^`]*(?:``[^`]*)*`" + (f"|{double}" if mode.ansi_quotes else "")
        + (r"|\[[^\]]*(?:\]\][^\]]*)*\]" if mode.brackets else ""),
        "variable": rf"@@?(?:(?:{word}|\.)+|`[^`]*(?:``[^`]*)*`|'(?:[^'\\]|\\[\s\S])*')",
        "word": rf"{word}+",
        "dot": r"\.",
        "paren": r"\(",
        "other": r"[\s\S]",
    }


@functools.lru_cache(maxsize=64)
def _pattern(mode: Mode) -> re.Pattern[str]:
    return re.compile("|".join(f"(?P<{kind}>{source})" for kind, source in _pieces(mode, _WORD_SOURCE).items()))


@functools.lru_cache(maxsize=64)
def _code_pattern(mode: Mode) -> re.Pattern[bytes]:
    # The tokens that may hold a quote, a comment or the edge of one, as _pattern finds them, and between
    # them runs of the bytes that only ever make spaces, words, dots, parentheses and other single
    # characters there (a run ends before any byte that can start another token: * for */, - for --).
    pieces = _pieces(mode, _WORD_BYTES_SOURCE)
    kinds = ("comment", "open", "close", "string", "quoted", "variable")
    source = r"(?P<run>[^'\"`@#/*\-\[]+)|" + "|".join(f"(?P<{kind}>{pieces[kind]})" for kind in kinds)
    return re.compile((source + r"|(?P<other>[\s\S])").encode("ascii"))


def code_text(sql: bytes | bytearray | memoryview, mode: Mode, keep: int = 0) -> bytes:
    """``sql`` with the content of every string literal left out (each string stays as an empty one, so
    nothing around it joins), read as :func:`tokens` reads it under ``mode``: what remains is the code, the
    quoted identifiers and the comments. Made without copying ``sql``: a statement of a hundred megabytes
    is mostly strings, and what remains is small. Strings of at most ``keep`` bytes (quotes included) stay
    as they are. :mod:`.codestream` makes the same text from a statement that comes in pieces."""
    parts: list[bytes] = []
    for match in _code_pattern(mode).finditer(sql):
        if match.lastgroup == "string" and match.end() - match.start() > keep:
            quote = sql[match.start():match.start() + 1]
            parts.append(bytes(quote) * 2)
        else:
            parts.append(bytes(match.group()))
    return b"".join(parts)


def code_pattern(mode: Mode) -> re.Pattern[bytes]:
    """The pattern :func:`code_text` reads with (for :mod:`.codestream`)."""
    return _code_pattern(mode)


@dataclass
class _Token:
    kind: str
    text: str
    #: The identifier's name without quotes (words and quoted identifiers only).
    name: str = ""


def _tokens(sql: str, mode: Mode) -> list[_Token]:
    tokens = []
    for match in _pattern(mode).finditer(sql):
        kind = match.lastgroup or "other"
        text = match.group()
        name = ""
        if kind == "word" and not text.isdigit():
            name = text
        elif kind == "quoted":
            close = "]" if text[0] == "[" else text[0]
            name = text[1:-1].replace(close * 2, close)
        tokens.append(_Token(kind, text, name))
    return tokens


_SKIPPED = frozenset({"space", "comment", "open", "close"})
#: Token kinds that carry no meaning (space, comments, the edges of executable comments), for other readers.
SKIPPED = _SKIPPED
Token = _Token


def tokens(sql: str, mode: Mode) -> list[Token]:
    """``sql`` (bytes taken one to one, as latin-1) as the server's tokens under ``mode``."""
    return _tokens(sql, mode)


def _next(tokens: list[_Token], index: int) -> int:
    """The index of the next token after ``index`` that is not space or a comment marker (or len)."""
    index += 1
    while index < len(tokens) and tokens[index].kind in _SKIPPED:
        index += 1
    return index


def _previous(tokens: list[_Token], index: int) -> int:
    index -= 1
    while index >= 0 and tokens[index].kind in _SKIPPED:
        index -= 1
    return index


_SEQUENCE_FUNCTIONS = frozenset({"NEXTVAL", "LASTVAL", "SETVAL"})


def _names_sequence(tokens: list[_Token], before: int) -> bool:
    """True when the token at ``before`` opens a sequence argument: ``nextval(``, ``NEXT VALUE FOR``."""
    if before < 0:
        return False
    token = tokens[before]
    if token.kind == "paren":
        word = _previous(tokens, before)
        return word >= 0 and tokens[word].kind == "word" and tokens[word].text.upper() in _SEQUENCE_FUNCTIONS
    if token.kind == "word" and token.text.upper() == "FOR":
        word = _previous(tokens, before)
        return word >= 0 and tokens[word].kind == "word" and tokens[word].text.upper() == "VALUE"
    return False


def may_name(statement: bytes, name: str, case_insensitive: bool = False) -> bool:
    """False when ``statement`` cannot name ``name``, in whatever character set and quoting it is written: it
    lacks the longest run of the name's ASCII characters that a quoted identifier keeps as they are (a quote
    is doubled there, and the other characters are encoded as the statement's character set does)."""
    piece = max(_NOT_KEPT.split(name), key=len).encode("ascii")
    if case_insensitive:
        piece, statement = piece.lower(), statement.lower()
    return piece in statement


def requalify(statement: bytes, old: str, new: str | None, mode: Mode = Mode(),
              case_insensitive: bool = False) -> tuple[bytes, bool]:
    """``statement`` with database ``old`` qualifying names replaced by ``new`` (or removed, for None).

    Returns the statement and whether the word ``old`` also appeared in a role where it may not name the
    database (then only unmistakable qualifiers were changed). Text in another character set than the
    ones synco knows, with a name that is not ASCII, is returned unchanged.
    """
    unsafe = _UNSAFE_CODECS.get(mode.charset)
    try:
        if unsafe is not None:
            sql, old_text, new_text = statement.decode(unsafe), old, new
        else:
            # The bytes of every other character set are taken one to one (as latin-1), so that nothing
            # but the names changes; the names are found as they are encoded in that character set.
            names = _NAME_CODECS.get(mode.charset, "ascii")
            sql = statement.decode("latin-1")
            old_text = old.encode(names).decode("latin-1")
            new_text = None if new is None else new.encode(names).decode("latin-1")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return statement, False
    fold = str.lower if case_insensitive else (lambda text: text)
    # A quote inside the name is doubled where the statement quotes it (`a``b`): the longest run of the name
    # without one is what the statement must hold, if it names it at all.
    if max(_QUOTE_CHARACTERS.split(fold(old_text)), key=len) not in fold(sql):
        return statement, False
    tokens = _tokens(sql, mode)
    wanted = fold(old_text)
    qualifiers: list[tuple[int, int, bool]] = []
    ambiguous = False
    for index, token in enumerate(tokens):
        if not token.name or fold(token.name) != wanted:
            continue
        before = _previous(tokens, index)
        if before >= 0 and tokens[before].kind == "dot":
            ambiguous = True  # ``x.shop``: a table or column named like the database.
            continue
        dot = _next(tokens, index)
        if dot >= len(tokens) or tokens[dot].kind != "dot":
            ambiguous = True  # A bare ``shop``: a table or an alias.
            continue
        second = _next(tokens, dot)
        if second >= len(tokens) or not tokens[second].name:
            continue
        if mode.trigger and token.kind == "word" and token.name.upper() in ("NEW", "OLD"):
            continue
        after = _next(tokens, second)
        certain = (after < len(tokens) and tokens[after].kind in ("dot", "paren")) or _names_sequence(tokens, before)
        qualifiers.append((index, dot, certain))
    chosen = [(index, dot) for index, dot, certain in qualifiers if certain or not ambiguous]
    if not chosen:
        return statement, ambiguous and bool(qualifiers)
    for index, dot in reversed(chosen):
        if new_text is None:
            for position in range(index, _next(tokens, dot)):
                tokens[position] = _Token("space", "")
        else:
            tokens[index] = _Token("quoted", _quoted(tokens[index], new_text, mode))
    rewritten = "".join(token.text for token in tokens)
    result = rewritten.encode(unsafe) if unsafe is not None else rewritten.encode("latin-1")
    return result, ambiguous and len(chosen) < len(qualifiers)


def _quoted(token: _Token, name: str, mode: Mode) -> str:
    """``name`` written as ``token`` was: bare if it was bare and may be, else in its quotes."""
    if token.kind == "word" and _PLAIN.match(name) and not name.isdigit():
        return name
    quote = token.text[0] if token.kind == "quoted" else "`"
    close = "]" if quote == "[" else quote
    return quote + name.replace(close, close * 2) + close
