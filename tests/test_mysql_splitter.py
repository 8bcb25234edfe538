"""The streaming statement splitter (no database needed)."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synco_core.engines.mysql.splitter import SIZE_HINT, StatementSplitter, StreamedStatement
from synco_core.errors import DatabaseError

SCRIPT = b"""/*M!999999\\- enable the sandbox mode */
-- MariaDB dump 10.19
--
/*!40101 SET NAMES utf8mb4 */;
# a hash comment
INSERT INTO `t` VALUES (1,'a;b\\'c',"x;y",-1, 2/3, 'it''s', 0x3B3B),(2,'--',NULL); -- trailing
/* plain comment; with a semicolon */ SELECT 1 -- line comment ;
 ;
SELECT 5--3;
DELIMITER ;;
CREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = ';'; SET NEW.b=2; END ;;
DELIMITER ;
delimiter $$
CREATE PROCEDURE p() BEGIN SELECT '$'; END$$
delimiter ;
select `a;b` from t;
"""

EXPECTED = [
    # A comment for a version no server reaches is only a comment: the header after it is seen as one.
    b"/*!40101 SET NAMES utf8mb4 */",
    b"INSERT INTO `t` VALUES (1,'a;b\\'c',\"x;y\",-1, 2/3, 'it''s', 0x3B3B),(2,'--',NULL)",
    b"SELECT 1",
    b"SELECT 5--3",
    b"CREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = ';'; SET NEW.b=2; END",
    b"CREATE PROCEDURE p() BEGIN SELECT '$'; END",
    b"select `a;b` from t",
]


def split(data: bytes, chunk_size: int = 1 << 20) -> list[bytes]:
    statements = []
    for statement in StatementSplitter(io.BytesIO(data), chunk_size=chunk_size):
        assert not isinstance(statement, StreamedStatement)
        statements.append(bytes(statement))
    return statements


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64, 1 << 20])
def test_splits_like_the_client_whatever_the_chunk_size(chunk_size: int) -> None:
    assert [" ".join(s.decode().split()) for s in split(SCRIPT, chunk_size)] == [
        " ".join(e.decode().split()) for e in EXPECTED]


def _routine_script(delimiter: bytes) -> tuple[bytes, list[bytes]]:
    """A script that switches to ``delimiter`` for a routine whose body holds what could be taken for a
    delimiter or a comment (a division, a subtraction, comments, the delimiter in strings and names)."""
    body = (b"CREATE PROCEDURE p() BEGIN /* a comment; with ' and */ SELECT 6/3, 5-1, '" + delimiter + b"', `a"
            + delimiter + b"`, \"x" + delimiter + b"\"; -- comment ' \n # comment ' \n"
            + b" SELECT 1 /*!50003 , 2 */; END")
    script = (b"DELIMITER " + delimiter + b"\n" + body + b" " + delimiter + b"\n"
              b"SELECT 2/1 " + delimiter + delimiter + b"\nDELIMITER ;\nSELECT 3;\n")
    expected = [b"CREATE PROCEDURE p() BEGIN SELECT 6/3, 5-1, '" + delimiter + b"', `a" + delimiter + b"`, \"x"
                + delimiter + b"\"; SELECT 1 /*!50003 , 2 */; END", b"SELECT 2/1", b"SELECT 3"]
    return script, expected


@pytest.mark.parametrize("delimiter", [b";;", b"$$", b"//", b"/!", b"-$", b"|", b"##", b"GO"])
@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 1 << 20])
def test_any_delimiter_ends_statements_as_in_the_client(delimiter: bytes, chunk_size: int) -> None:
    """``DELIMITER //`` (the MySQL manual's, Cacti's schema) was never seen: the ``/`` were taken for
    divisions, and the script ran on to its end as one statement. A delimiter starting with ``/`` or ``-``
    ends a statement where the client ends it; where it does not follow, a comment may still start."""
    script, expected = _routine_script(delimiter)
    assert [b" ".join(s.split()) for s in split(script, chunk_size)] == [b" ".join(e.split()) for e in expected]


def multi_statement_script(delimiter: bytes) -> tuple[bytes, list[bytes]]:
    """ZoneMinder's triggers.sql and FreeRADIUS's procedures: plain statements, then a routine, in what the
    client sends as one multi-statement query."""
    script = (b"DELIMITER " + delimiter + b"\n"
              b"DROP TRIGGER IF EXISTS t_upd;\n/* a ; comment */ SET @x = ';' ; # ; \n"
              b"CREATE TRIGGER t_upd AFTER UPDATE ON t FOR EACH ROW BEGIN\n IF NEW.a <> OLD.a THEN\n"
              b"  UPDATE u SET n = n + 1 WHERE `k;` = ';';\n END IF;\nEND " + delimiter + b"\n"
              b"DROP PROCEDURE IF EXISTS p" + delimiter + b"\n"
              b"CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END" + delimiter + b"\n"
              b"DELIMITER ;\nSELECT 3;\n")
    expected = [b"DROP TRIGGER IF EXISTS t_upd", b"SET @x = ';'",
                b"CREATE TRIGGER t_upd AFTER UPDATE ON t FOR EACH ROW BEGIN IF NEW.a <> OLD.a THEN "
                b"UPDATE u SET n = n + 1 WHERE `k;` = ';'; END IF; END",
                b"DROP PROCEDURE IF EXISTS p", b"CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END", b"SELECT 3"]
    return script, expected


@pytest.mark.parametrize("delimiter", [b"$$", b"//", b";;", b"|"])
@pytest.mark.parametrize("chunk_size", [1, 3, 1 << 20])
def test_plain_statements_before_a_routine_are_sent_one_by_one(delimiter: bytes, chunk_size: int) -> None:
    """The client sends ``DROP TRIGGER IF EXISTS t; CREATE TRIGGER t ... END //`` as one multi-statement
    query; the loader, which sends one statement at a time, sent it whole and the server refused it at
    the ``CREATE``. Plain statements at the head are split off at their ``;`` (not at one in a string, a
    quoted name or a comment), and a routine's body, whose ``;`` are its own, stays whole."""
    script, expected = multi_statement_script(delimiter)
    assert [b" ".join(s.split()) for s in split(script, chunk_size)] == [b" ".join(e.split()) for e in expected]


def test_comments_are_reported() -> None:
    comments: list[bytes] = []
    list(StatementSplitter(io.BytesIO(b"-- one\nSELECT 1;\n-- two\n"), on_comment=comments.append))
    assert comments == [b"-- one", b"-- two"]


@pytest.mark.parametrize("chunk_size", [1, 5, 1 << 20])
def test_mariadb_dump_header_comments_are_reported_after_the_sandbox_line(chunk_size: int) -> None:
    """mariadb-dump starts with ``/*M!999999\\- enable the sandbox mode */`` and no delimiter; the comment
    lines after it (``-- Host: ... Database: shop``) name the source database, so they must be seen."""
    comments: list[bytes] = []
    data = b"/*M!999999\\- enable the sandbox mode */ \n-- Host: x    Database: shop\n--\nSELECT 1;\n"
    statements = list(StatementSplitter(io.BytesIO(data), on_comment=comments.append, chunk_size=chunk_size))
    assert statements == [b"SELECT 1"]
    assert comments == [b"-- Host: x    Database: shop", b"--"]


@pytest.mark.parametrize(("data", "what"), [
    (b"INSERT INTO t VALUES ('abc", "a quoted string"),
    (b"INSERT INTO t VALUES (1),(2)", "a statement"),
    (b"SELECT 1 /* never closed", "a comment"),
    (b"SELECT `unterminated", "a quoted string"),
])
@pytest.mark.parametrize("chunk_size", [3, 1 << 20])
def test_truncated_input_is_an_error(data: bytes, what: str, chunk_size: int) -> None:
    with pytest.raises(DatabaseError, match=f"ends inside {what}"):
        split(data, chunk_size)


def test_empty_and_comment_only_scripts() -> None:
    assert split(b"") == []
    assert split(b"-- only a comment\n/* and this */\n\n") == []
    assert split(b"SELECT 1;;") == [b"SELECT 1"]


# Values as the dumper writes them: strings with every awkward byte, numbers, hex literals.
_value = st.one_of(
    st.binary(max_size=40).map(lambda b: b"'" + b.replace(b"\\", b"\\\\").replace(b"'", b"\\'") + b"'"),
    st.integers().map(lambda i: str(i).encode()),
    st.binary(min_size=1, max_size=20).map(lambda b: b"0x" + b.hex().encode()),
    st.just(b"NULL"),
)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.lists(_value, min_size=1, max_size=5), min_size=1, max_size=8),
       chunk_size=st.integers(min_value=1, max_value=50))
def test_any_values_survive_splitting(rows: list[list[bytes]], chunk_size: int) -> None:
    statement = b"INSERT INTO `t` VALUES " + b",".join(b"(" + b",".join(r) + b")" for r in rows)
    script = b"SET NAMES utf8mb4;\n" + statement + b";\n" + statement + b";\n"
    assert split(script, chunk_size) == [b"SET NAMES utf8mb4", statement, statement]


def _hinted(statement: bytes) -> bytes:
    return SIZE_HINT + str(len(statement)).encode() + b"\n" + statement + b";\n"


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.lists(_value, min_size=1, max_size=5), min_size=1, max_size=8),
       chunk_size=st.integers(min_value=1, max_value=50))
def test_size_hints_give_the_same_statements(rows: list[list[bytes]], chunk_size: int) -> None:
    # Values with ';', ');' and newlines inside strings: a hinted statement is taken whole, not scanned.
    statement = b"INSERT INTO `t` VALUES " + b",".join(b"(" + b",".join(r) + b")" for r in rows) + b",('x);\ny;')"
    script = b"SET NAMES utf8mb4;\n" + _hinted(statement) + statement + b";\n" + _hinted(statement)
    assert split(script, chunk_size) == [b"SET NAMES utf8mb4", statement, statement, statement]


@pytest.mark.parametrize("chunk_size", [2, 1 << 20])
@pytest.mark.parametrize("hint", [b"-- synco-size: 21\n", b"-- synco-size: 23\n", b"-- synco-size: x\n",
                                  b"-- synco-size: 0\n"])
def test_a_wrong_size_hint_is_a_damaged_dump(hint: bytes, chunk_size: int) -> None:
    # The statement is 22 bytes: a hint one byte off either way must not cut it at a wrong place.
    with pytest.raises(DatabaseError, match="the dump is damaged"):
        split(hint + b"INSERT INTO t VALUES 1;\nSELECT 1;\n", chunk_size)


def test_a_hinted_statement_cut_short_is_truncated() -> None:
    with pytest.raises(DatabaseError, match="ends inside a statement"):
        split(b"-- synco-size: 300\nINSERT INTO t VALUES (1);\n")


def test_a_right_size_hint_is_followed() -> None:
    assert split(b"-- synco-size: 22\nINSERT INTO t VALUES 1;\nSELECT 1;\n") == [b"INSERT INTO t VALUES 1", b"SELECT 1"]


@pytest.mark.parametrize("chunk_size", [1, 7, 1 << 20])
def test_no_backslash_escapes_is_followed_as_the_client_follows_it(chunk_size: int) -> None:
    """Under NO_BACKSLASH_ESCAPES ``'a\\'`` is a whole string (the client learns the mode from the server;
    the splitter from the script's SET statements, including dumps' saving and restoring)."""
    script = (b"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n"
              b"SELECT 'a\\';', 1;\n"
              b"/*!50003 SET @saved_sql_mode = @@sql_mode */;\n"
              b"/*!50003 SET sql_mode = 'ANSI,NO_BACKSLASH_ESCAPES' */;\n"
              b"DELIMITER ;;\nCREATE PROCEDURE p() SELECT 'a\\';;\nDELIMITER ;\n"
              b"SELECT \"b\\\";\n"
              b"/*!50003 SET sql_mode = @saved_sql_mode */;\n"
              b"SELECT 'c\\';', 2;\n"
              b"SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES';\nSELECT 'd\\';\n"
              b"SET @@session.sql_mode = DEFAULT;\nSELECT 'e\\';', 3;\n")
    statements = split(script, chunk_size)
    assert [s for s in statements if not s.startswith((b"/*!", b"SET"))] == [
        b"SELECT 'a\\';', 1", b"CREATE PROCEDURE p() SELECT 'a\\'", b"SELECT \"b\\\"", b"SELECT 'c\\';', 2",
        b"SELECT 'd\\'", b"SELECT 'e\\';', 3"]


def _read_streamed(data: bytes, chunk_size: int, use: str = "pieces") -> list[bytes | str]:
    """The statements of ``data``; a streamed one read through ``use`` (its pieces no longer than the chunk
    size), or only looked at (``head``: given as ``head:`` and its head), or left alone (``streamed N``)."""
    found: list[bytes | str] = []
    for statement in StatementSplitter(io.BytesIO(data), chunk_size=chunk_size):
        if not isinstance(statement, StreamedStatement):
            found.append(bytes(statement))
        elif use == "pieces":
            pieces = list(statement.pieces())
            assert all(len(piece) <= max(chunk_size, len(pieces[0])) for piece in pieces)
            found.append(b"".join(pieces))
        elif use == "whole":
            found.append(bytes(statement.whole()))
        elif use == "head":
            found.append(b"head:" + statement.head)
        else:
            found.append(f"streamed {len(statement)}")
    return found


@pytest.mark.parametrize("chunk_size", [1, 3, 16, 1 << 20])
@pytest.mark.parametrize("use", ["pieces", "whole", "head", "none"])
def test_big_hinted_statements_are_streamed(chunk_size: int, use: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hinted statement of BIG_STATEMENT bytes or more, not yet in the read buffer, is handed over to be read
    as it is used (in pieces no longer than a read chunk, or whole), with what follows it split as usual
    whatever its user read of it; a wrong hint or a cut still say so."""
    from synco_core.engines.mysql import splitter

    monkeypatch.setattr(splitter, "BIG_STATEMENT", 40)
    monkeypatch.setattr(splitter, "HEAD_BYTES", 30)
    big = b"INSERT INTO `t` VALUES ('" + bytes(range(256)).replace(b"'", b"\\'").replace(b"\\", b"\\\\") + b"')"
    small = b"INSERT INTO `t` VALUES (1)"
    script = _hinted(big) + _hinted(small) + b"SELECT 1;\n" + _hinted(big) + _hinted(big)
    statements = _read_streamed(script, chunk_size, use)
    if chunk_size < len(big):  # Not read whole with what came before it: the big path is taken.
        read = {"pieces": big, "whole": big, "head": b"head:" + big[:30], "none": f"streamed {len(big)}"}[use]
        assert statements == [read, small, b"SELECT 1", read, read]
    else:
        assert statements == [big, small, b"SELECT 1", big, big]
    with pytest.raises(DatabaseError, match="ends inside a statement"):
        _read_streamed(_hinted(big)[:-10], chunk_size, use)
    with pytest.raises(DatabaseError, match="ends inside a statement"):
        _read_streamed(_hinted(big)[:-2], chunk_size, use)
    with pytest.raises(DatabaseError, match="does not end where its size hint says"):
        _read_streamed(_hinted(big).replace(b";\n", b" \n"), chunk_size, use)


def _read_any(data: bytes, chunk_size: int, keep_comments: bool = False) -> list[tuple[bool, bytes]]:
    """The statements of ``data``, each as (whether it came through the spool, its bytes)."""
    statements = StatementSplitter(io.BytesIO(data), chunk_size=chunk_size)
    statements.keep_comments = keep_comments
    return [(True, b"".join(s.pieces())) if isinstance(s, StreamedStatement) else (False, bytes(s))
            for s in statements]


def _delimited_script(delimiter: bytes, value: bytes) -> tuple[bytes, list[bytes]]:
    """Under ``delimiter``: plain statements at the head of a delimited text (one of them holding ``value``),
    then a trigger holding ``value`` too, with the delimiter in strings, quoted names and comments on both
    sides of where a spool would begin; and the statements the client makes of it."""
    d = delimiter
    script = (b"DELIMITER " + d + b"\n"
              b"DROP TRIGGER IF EXISTS t; INSERT INTO a VALUES ('" + value + b"', '" + d + b"'); # " + d + b" ;\n"
              b"CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN SET NEW.v = '" + d + b";" + value + b"';\n"
              b"-- " + d + b" ;\n SET NEW.w = `x" + d + b"`; /* " + d + b" ; */ END " + d + b"\n"
              b"DELIMITER ;\nSELECT 1;\n")
    expected = [b"DROP TRIGGER IF EXISTS t", b"INSERT INTO a VALUES ('" + value + b"', '" + d + b"')",
                b"CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN SET NEW.v = '" + d + b";" + value + b"';\n"
                b"\n SET NEW.w = `x" + d + b"`;  END", b"SELECT 1"]
    return script, expected


@pytest.mark.parametrize("delimiter", [b";;", b";;;", b"$$", b"//", b"|", b"-$"])
@pytest.mark.parametrize("chunk_size", [1, 3, 7, 64, 1 << 20])
def test_a_statement_past_the_spool_bound_under_another_delimiter_is_split_as_a_held_one(
        delimiter: bytes, chunk_size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A statement without a size hint goes to a spool once it grows past BIG_STATEMENT. Under another
    DELIMITER the plain statements at the head of a delimited text were no longer split off once that text had
    gone to the spool (``DROP TRIGGER IF EXISTS t; CREATE TRIGGER ...`` sent whole, refused by the server): a
    spooled statement now ends where a held one does, whatever the delimiter, the reads and the bound."""
    from synco_core.engines.mysql import splitter

    value = bytes(range(32, 127)).replace(b"'", b"").replace(b"\\", b"") * 3
    script, expected = _delimited_script(delimiter, value)
    for bound in (1 << 30, 40, 200, 400):
        monkeypatch.setattr(splitter, "BIG_STATEMENT", bound)
        statements = _read_any(script, chunk_size)
        assert [statement for _, statement in statements] == expected, bound
        assert all(len(statement) >= bound for spooled, statement in statements if spooled), bound
        if bound == 40 and chunk_size <= 7:  # read in small pieces: the INSERT and the trigger go to the spool
            assert [spooled for spooled, _ in statements] == [False, True, True, False]


@pytest.mark.parametrize("delimiter", [b";;", b"$$"])
@pytest.mark.parametrize("over", [-1, 0, 1, 1 << 16])
def test_statements_straddling_the_real_spool_bound_under_another_delimiter(delimiter: bytes, over: int) -> None:
    """The same at the real bound (4 MiB): the INSERT one byte short of it, just at it, one byte and 64 KiB past
    it, and the trigger a little longer, read in pieces of 4 KiB (where the spool may begin)."""
    from synco_core.engines.mysql.splitter import BIG_STATEMENT

    value = b"v" * (BIG_STATEMENT + over - len(b"INSERT INTO a VALUES ('', '" + delimiter + b"')"))
    script, expected = _delimited_script(delimiter, value)
    statements = _read_any(script, 4096)
    assert [statement for _, statement in statements] == expected
    assert all(len(statement) >= BIG_STATEMENT for spooled, statement in statements if spooled)
    if over > 4096:
        assert [spooled for spooled, _ in statements] == [False, True, True, False]


@pytest.mark.parametrize("chunk_size", [1, 5, 16])
def test_comments_of_a_synco_dumps_routine_stay_when_they_come_past_the_spool_bound(
        chunk_size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A synco dump keeps the comments of a CREATE (see StatementSplitter.keep_comments), decided at the
    statement's first comment by its first word. When that comment came after the statement had gone to the
    spool, the word looked at was one in the middle of the body, and the comments were removed."""
    from synco_core.engines.mysql import splitter

    monkeypatch.setattr(splitter, "BIG_STATEMENT", 64)
    body = b"CREATE PROCEDURE p() BEGIN SELECT '" + b"x" * 200 + b"';\n  -- why ;;\n SELECT 2 /* the two */; END"
    script = b"DELIMITER ;;\n" + body + b" ;;\nDELIMITER ;\nDROP TABLE t; -- gone\nSELECT 1 /* c */;\n"
    assert _read_any(script, chunk_size, keep_comments=True) == [
        (True, body), (False, b"DROP TABLE t"), (False, b"SELECT 1")]


class _WatchedStream(io.BytesIO):
    """A dump whose reads note the largest read buffer the splitter held (:attr:`peak`)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.splitter: StatementSplitter | None = None
        self.peak = 0

    def read(self, size: int | None = -1) -> bytes:
        if self.splitter is not None:
            self.peak = max(self.peak, len(self.splitter.buf))
        return super().read(size)


def _long_comment_scripts(body: bytes) -> list[tuple[bytes, list[bytes], bool]]:
    """Scripts with a long comment of every kind the client knows, where it may stand: (script, the statements the
    client sends, whether the splitter keeps comments as in a synco dump)."""
    quoted = b"'*/ in a string;' " + body + b' "*/" `*/`'
    return [
        (b"/*!40000 INSERT INTO t VALUES (1) " + quoted + b" */;\nSELECT 2;\n",
         [b"/*!40000 INSERT INTO t VALUES (1) " + quoted + b" */", b"SELECT 2"], False),
        (b"INSERT /*M!100000 IGNORE " + quoted + b" */ INTO t VALUES (1);\nSELECT 2;\n",
         [b"INSERT /*M!100000 IGNORE " + quoted + b" */ INTO t VALUES (1)", b"SELECT 2"], False),
        (b"SELECT 1 /* " + body + b" */;\nSELECT 2/* " + body + b" */+3;\n", [b"SELECT 1", b"SELECT 2 +3"], False),
        (b"SELECT 1 -- " + body + b"\n;\nSELECT 2 # " + body + b"\n+3;\n", [b"SELECT 1", b"SELECT 2 \n+3"], False),
        (b"/* " + body + b" */\n-- " + body + b"\n# " + body + b"\n/*M!999999 " + body + b" */SELECT 1;\n",
         [b"SELECT 1"], False),
        (b"CREATE PROCEDURE p() SELECT 1 /* " + body + b" */ -- " + body + b"\n;\nSELECT 2;\n",
         [b"CREATE PROCEDURE p() SELECT 1 /* " + body + b" */ -- " + body, b"SELECT 2"], True),
    ]


@pytest.mark.parametrize("chunk_size", [1, 7, 4096])
def test_long_comments_are_split_as_the_client_splits_them(chunk_size: int) -> None:
    """Every kind of comment, in a statement (kept, executable, dropped) or between statements, with a body far
    longer than a read: an executable comment's quoted strings are strings ('*/' inside does not end it)."""
    body = b"a*b/c;d-e" * 300
    for script, expected, keep in _long_comment_scripts(body):
        assert [statement for _, statement in _read_any(script, chunk_size, keep)] == expected, script[:40]


@pytest.mark.parametrize("case", range(6))
def test_a_long_comment_is_never_held_in_the_read_buffer(case: int) -> None:
    """The splitter held a comment whole in its read buffer until its end was found (a 50 MB ``/*! ... */`` took
    its size in memory and was scanned again at every read): now a kept one goes to the spool as a long statement
    does, and a dropped one is dropped as it is read. Read in 64 KiB pieces, the buffer stays within a few. (The
    comment is twice BIG_STATEMENT, so that a kept one is spooled: held whole, it would be 32 times the bound.)"""
    from synco_core.engines.mysql.splitter import BIG_STATEMENT

    chunk = 1 << 16
    body = b"0123456789abcdef" * (2 * BIG_STATEMENT // 16)
    script, expected, keep = _long_comment_scripts(body)[case]
    stream = _WatchedStream(script)
    statements = StatementSplitter(stream, chunk_size=chunk)
    statements.keep_comments = keep
    stream.splitter = statements
    got = [b"".join(s.pieces()) if isinstance(s, StreamedStatement) else bytes(s) for s in statements]
    assert got == expected
    assert stream.peak <= 4 * chunk, stream.peak


def _one_executable_comment(statement: bytes) -> int | None:
    """Where the executable comment ``statement`` opens with ends, read as the client reads it (quoted strings
    whole, backslash escapes); None when it does not open with one."""
    if not statement.startswith((b"/*!", b"/*M!")):
        return None
    at = 3
    while at < len(statement):
        byte = statement[at:at + 1]
        if byte in (b"'", b'"', b"`"):
            at += 1
            while statement[at:at + 1] != byte:
                at += 2 if byte != b"`" and statement[at:at + 1] == b"\\" else 1
        elif statement.startswith(b"*/", at):
            return at + 2
        at += 1
    return None


_WRAPPED_PARTS = [b"INSERT INTO t VALUES (1,'a*/b')", b",(2,\"q\\\"*/;\")", b" `x*/` ", b"*/", b" ",
                  b" /* dropped */ ", b"-- line\n", b"\n", b"/*!50000 inner */", b"0x2a2f", b"'it''s'"]


@settings(max_examples=300, deadline=None)
@given(opening=st.sampled_from([b"/*!40000 ", b"/*!", b"/*M!100100\n", b"/*!40101", b""]),
       parts=st.lists(st.sampled_from(_WRAPPED_PARTS), max_size=8),
       closing=st.sampled_from([b"*/", b" */", b"*/ ", b"*/ /* c */ ", b"*/ -- c\n", b"", b"*/ x"]),
       chunk_size=st.sampled_from([1, 3, 7, 64]), bound=st.sampled_from([4, 16, 40]))
def test_a_spooled_statement_knows_whether_it_is_one_executable_comment(
        opening: bytes, parts: list[bytes], closing: bytes, chunk_size: int, bound: int) -> None:
    """``/*!40000 INSERT ... */`` as one statement is unwrapped by the loader and sent as an INSERT (it was held
    whole to be checked). The splitter alone sees where the comment ends: ``wrapped`` must be true exactly when
    the statement the client sends is one executable comment from its first byte to its last, and what
    :func:`unwrapped` gives must be the text inside it, whatever the reads and wherever the spool begins."""
    from unittest import mock

    from synco_core.engines.mysql import splitter

    body = opening + b"".join(parts) + closing
    script = body + b";\nSELECT 1;\n"
    try:
        held = _read_any(script, chunk_size)
    except DatabaseError:
        return  # a comment left open: not a script the client runs either
    with mock.patch.object(splitter, "BIG_STATEMENT", bound):
        # The splitter's iterator stays alive: it drops what is left of the statement once it is asked for the next.
        statements = iter(StatementSplitter(io.BytesIO(script), chunk_size=chunk_size))
        statement = next(statements)
        if not isinstance(statement, splitter.SpooledStatement):
            return  # read whole before it grew past the bound
        text = held[0][1]
        assert statement.size == len(text)
        assert statement.wrapped == (_one_executable_comment(text) == len(text)), text
        inner = splitter.unwrapped(statement, 101106, True)
        if not statement.wrapped:
            assert inner is None
            return
        assert inner is not None or opening not in (b"/*!40000 ", b"/*M!100100\n")
        if inner is not None:
            opened = splitter._OPENING.match(text)
            assert opened is not None
            assert inner.head == text[opened.end():][:len(inner.head)]
            assert b"".join(inner.pieces()) == text[opened.end():-2]
