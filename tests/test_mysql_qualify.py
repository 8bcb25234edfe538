"""Pointing names qualified with one database at another inside SQL text, as the server tokenises it."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synco_core.engines.mysql.qualify import Mode, code_text, requalify, tokens


@pytest.mark.parametrize(("sql", "expected"), [
    (b"CREATE TRIGGER shop.trg BEFORE INSERT ON shop.t FOR EACH ROW SET NEW.a = shop.f(1)",
     b"CREATE TRIGGER dev.trg BEFORE INSERT ON dev.t FOR EACH ROW SET NEW.a = dev.f(1)"),
    (b"SELECT `shop`.`t`.`c`, shop . t, `shop`.f() FROM `shop`.`t`",
     b"SELECT `dev`.`t`.`c`, dev . t, `dev`.f() FROM `dev`.`t`"),
    (b"SELECT 'shop.t', \"shop.t\", @shop.t, @@shop.t, shopx.t, xshop.t /* shop.t */ -- shop.t\n",
     b"SELECT 'shop.t', \"shop.t\", @shop.t, @@shop.t, shopx.t, xshop.t /* shop.t */ -- shop.t\n"),
    (b"/*!50003 CREATE*/ /*!50003 TRIGGER shop.trg AFTER INSERT ON shop.t FOR EACH ROW DELETE FROM shop.u */",
     b"/*!50003 CREATE*/ /*!50003 TRIGGER dev.trg AFTER INSERT ON dev.t FOR EACH ROW DELETE FROM dev.u */"),
    (b"SELECT 'it\\'s shop.t', shop.t", b"SELECT 'it\\'s shop.t', dev.t"),
    (b"DEFAULT nextval(`shop`.`seq`)", b"DEFAULT nextval(`dev`.`seq`)"),
    (b"SET NEW.x = 1.5, NEW.shop = 2", b"SET NEW.x = 1.5, NEW.shop = 2"),
])
def test_only_qualifiers_change(sql: bytes, expected: bytes) -> None:
    assert requalify(sql, "shop", "dev", Mode.of("utf8mb4", "", "TRIGGER"))[0] == expected


def test_sql_modes_decide_what_is_a_string() -> None:
    ansi = Mode.of("utf8mb4", "ANSI_QUOTES")
    assert requalify(b'SELECT "shop".t, \'shop.t\'', "shop", "dev", ansi)[0] == b'SELECT "dev".t, \'shop.t\''
    raw = Mode.of("utf8mb4", "NO_BACKSLASH_ESCAPES")
    # Without backslash escapes 'a\' is a whole string, and what follows it is code again.
    sql = b"SET x = 'a\\', y = shop.t -- '"
    assert requalify(sql, "shop", "dev", raw)[0] == b"SET x = 'a\\', y = dev.t -- '"
    assert requalify(sql, "shop", "dev", Mode())[0] == sql


def test_removing_the_qualifier_and_quoting_new_names() -> None:
    assert requalify(b"nextval(`shop`.`seq`), shop . t", "shop", None)[0] == b"nextval(`seq`), t"
    assert requalify(b"shop.t, `shop`.t", "shop", "my-db")[0] == b"`my-db`.t, `my-db`.t"
    assert requalify(b'"shop".t', "shop", 'a"b', Mode.of("utf8mb4", "ANSI_QUOTES"))[0] == b'"a""b".t'


def test_character_sets() -> None:
    # latin1 text: only the name changes, every other byte stays; a name written in latin1 is found.
    sql = b"INSERT INTO shop.t VALUES ('\xe9', 'shop.t')"
    assert requalify(sql, "shop", "dev", Mode.of("latin1", ""))[0] == b"INSERT INTO dev.t VALUES ('\xe9', 'shop.t')"
    assert requalify("SELECT caf\xe9.t".encode("latin1"), "caf\xe9", "dev", Mode.of("latin1", ""))[0] == b"SELECT dev.t"
    # sjis: the second byte of a character may be a backslash; decoded first, it is not taken for one.
    sjis = "SELECT '\u8868', shop.t".encode("shift_jis")
    assert b"\\" in sjis
    assert requalify(sjis, "shop", "dev", Mode.of("sjis", ""))[0] == "SELECT '\u8868', dev.t".encode("shift_jis")


def test_a_word_used_otherwise_too_leaves_what_may_be_a_column() -> None:
    sql = b"SELECT shop.x, shop.f(), shop.t.c, nextval(shop.s) FROM (SELECT 1 AS x) shop"
    rewritten, ambiguous = requalify(sql, "shop", "dev")
    assert ambiguous
    assert rewritten == b"SELECT shop.x, dev.f(), dev.t.c, nextval(dev.s) FROM (SELECT 1 AS x) shop"


_NAMES = st.sampled_from(["t", "orders", "f", "x_1", "shop", "shopx"])


def _piece(kind: str, name: str, quote: bool, spaced: bool) -> tuple[str, str]:
    """One piece of a statement: (as written with database ``shop``, as expected with ``dev``)."""
    dot = " . " if spaced else "."
    db = "`shop`" if quote else "shop"
    new = "`dev`" if quote else "dev"
    target = f"`{name}`" if quote else name
    if kind == "qualified":
        return f"{db}{dot}{target}", f"{new}{dot}{target}"
    if kind == "call":
        return f"{db}{dot}{target}(1)", f"{new}{dot}{target}(1)"
    if kind == "string":
        text = f"'shop.{name} it''s \\' shop.t'"
        return text, text
    if kind == "comment":
        text = f"/* shop.{name} */"
        return text, text
    if kind == "line":
        text = f"-- shop.{name}\n"
        return text, text
    if kind == "variable":
        text = f"@shop.{name}"
        return text, text
    if kind == "prefix":
        text = f"shopping.{name}"
        return text, text
    text = f"{name} + 1"
    return text, text


_PIECES = st.lists(st.tuples(st.sampled_from(["qualified", "call", "string", "comment", "line", "variable",
                                               "prefix", "other"]), _NAMES, st.booleans(), st.booleans()),
                   max_size=12)


@settings(max_examples=300, deadline=None)
@given(_PIECES)
def test_property_qualifiers_change_and_nothing_else(pieces: list[tuple[str, str, bool, bool]]) -> None:
    written, expected = zip(*(_piece(*p) for p in pieces), strict=True) if pieces else ((), ())
    sql = ("SELECT " + " , ".join(written)).encode()
    rewritten, ambiguous = requalify(sql, "shop", "dev")
    # The word "shop" as a table or column name ("x.shop", or alone) makes "shop.x" a possible column.
    used_otherwise = any(name == "shop" and kind in ("qualified", "call", "prefix", "other")
                         for kind, name, _, _ in pieces)
    qualifies = any(kind in ("qualified", "call") for kind, _, _, _ in pieces)
    assert ambiguous == (used_otherwise and qualifies and any(kind == "qualified" for kind, *_ in pieces))
    if not used_otherwise:
        assert rewritten == ("SELECT " + " , ".join(expected)).encode()
        # And back again.
        assert requalify(rewritten, "dev", "shop")[0] == sql


def test_bracket_identifiers_of_mssql_mode_are_qualifiers_too() -> None:
    """MariaDB's sql_mode MSSQL reads ``[shop].[t]`` as a qualified name (``]]`` is a ``]``)."""
    mode = Mode.of("utf8mb4", "PIPES_AS_CONCAT,ANSI_QUOTES,MSSQL")
    rewritten, _ = requalify(b"SELECT [x]]y] FROM [shop].[t]", "shop", "new]db", mode)
    assert rewritten == b"SELECT [x]]y] FROM [new]]db].[t]"
    assert requalify(b"SELECT [shop].[t]", "shop", "new", Mode())[0] == b"SELECT [shop].[t]"


# The tokeniser's grammar before its quoted text was written as unrolled loops: one alternation per
# character. The two must read every text the same way.
_BEFORE_SINGLE = {True: r"'(?:[^'\\]|\\[\s\S]|'')*'", False: r"'(?:[^']|'')*'"}
_BEFORE_DOUBLE = {True: r'"(?:[^"\\]|\\[\s\S]|"")*"', False: r'"(?:[^"]|"")*"'}


def _tokens_before(sql: str, mode: Mode) -> list[tuple[str, str]]:
    single, double = _BEFORE_SINGLE[mode.backslash_escapes], _BEFORE_DOUBLE[mode.backslash_escapes]
    word = "[0-9A-Za-z_$\x80-\uffff]"
    pattern = re.compile(
        r"(?P<space>\s+)"
        r"|(?P<comment>--(?=[ \t\r\n]|$)[^\n]*|#[^\n]*|/\*(?!!|M!)[\s\S]*?\*/)"
        r"|(?P<open>/\*M?!\d*)|(?P<close>\*/)"
        rf"|(?P<string>{single}{'' if mode.ansi_quotes else '|' + double})"
        r"|(?P<quoted>`(?:[^`]|``)*`" + (f"|{double}" if mode.ansi_quotes else "")
        + (r"|\[(?:[^\]]|\]\])*\]" if mode.brackets else "") + ")"
        rf"|(?P<variable>@@?(?:(?:{word}|\.)+|`(?:[^`]|``)*`|'(?:[^'\\]|\\[\s\S])*'))"
        rf"|(?P<word>{word}+)"
        r"|(?P<dot>\.)|(?P<paren>\()|(?P<other>[\s\S])")
    return [(match.lastgroup or "other", match.group()) for match in pattern.finditer(sql)]


MODES = [Mode(ansi_quotes=ansi, backslash_escapes=escapes, brackets=brackets)
         for ansi in (False, True) for escapes in (True, False) for brackets in (False, True)]
# Every character that starts, ends or escapes a token, beside a few that do not.
SQL_TEXT = st.text(alphabet="'\"`\\[]@#/*-!M0 \n.(x,é", max_size=60)


@settings(max_examples=400, deadline=None)
@given(sql=SQL_TEXT, mode=st.sampled_from(MODES))
def test_tokens_read_as_before_the_faster_grammar(sql: str, mode: Mode) -> None:
    assert [(token.kind, token.text) for token in tokens(sql, mode)] == _tokens_before(sql, mode)


@settings(max_examples=400, deadline=None)
@given(sql=SQL_TEXT, mode=st.sampled_from(MODES))
def test_code_text_is_the_tokens_with_every_string_emptied(sql: str, mode: Mode) -> None:
    """The gate searches INSERT values for other databases' names in the code between their strings
    (code_text); it must find the strings exactly where the tokeniser does, or a name could hide."""
    data = sql.encode("latin-1")
    expected = "".join(token.text[0] * 2 if token.kind == "string" else token.text for token in tokens(sql, mode))
    assert code_text(data, mode) == expected.encode("latin-1")
    assert code_text(bytearray(data), mode) == code_text(memoryview(data), mode) == expected.encode("latin-1")


def test_the_characters_a_statement_may_not_hold_as_the_name_does() -> None:
    """may_name() cuts the name at the quotes a quoted identifier doubles and at every character that is not
    ASCII, whatever its code point (the class is written by the ASCII characters it leaves out)."""
    from synco_core.engines.mysql.qualify import _NOT_KEPT

    cut = [c for c in range(0x110000) if _NOT_KEPT.fullmatch(chr(c))]
    assert cut == [ord("\""), ord("]"), ord("`"), *range(0x80, 0x110000)]
