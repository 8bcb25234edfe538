"""What a dump may ask of the local MySQL/MariaDB server: its own database's objects and rows, nothing else.

A dump comes from the session, and the session from a server that may be hostile (or compromised). The
install runs its statements on the user's local server, usually as ``root``: a statement the loader sent
as it came could drop another database's tables, create users and grants, change the server's global
settings, write files with ``SELECT ... INTO OUTFILE`` or install a plugin from a shared library. So
before a statement is sent, this gate refuses (the install fails, nothing is swapped in):

- names qualified with another database of the server (``other.t``, ``mysql.user``), anywhere in the
  statement, routine and trigger bodies included; the scratch database and the target are allowed. Views
  may read other databases (dumps carry such views, see :mod:`.unsupported`), but such a view cannot be
  written through: any later statement naming it, other than another view's definition, is refused;
- the file system and other servers: ``INTO OUTFILE``/``DUMPFILE``, ``LOAD DATA``/``XML``, ``LOAD_FILE()``,
  ``DATA``/``INDEX DIRECTORY``, tablespaces, ``CREATE SERVER``, tables of engines whose rows live
  elsewhere (FEDERATED, CONNECT, ...), plugins and ``SONAME`` functions, ``sys_exec``/``sys_eval``;
- the server as a whole: global and persisted variables, users, roles, passwords and grants, databases
  other than the one loaded into (``CREATE``/``DROP DATABASE``), ``KILL``, ``SHUTDOWN``, ``RESTART``,
  ``FLUSH``, ``RESET``, ``PURGE``, ``BACKUP STAGE``, ``XA`` (which ends other sessions' prepared
  transactions), replication and binary log statements;
- dynamic SQL (``PREPARE``, ``EXECUTE``), whose text this gate cannot see;
- switching the connection to a character set in which a quote byte can be part of a letter (``SET NAMES
  sjis``), which would make the server read a statement otherwise than this gate did. Written otherwise
  (``SET character_set_client = @v``), the switch is caught by :func:`check_session`, which the loader
  runs after every statement that may change the session (``SET``, ``CALL``).

The statement is tokenised as the server reads it (:mod:`.qualify`); executable comments ``/*!...*/``
count as code. A routine is stored with the ``sql_mode`` it was created under (``SET STATEMENT sql_mode=...
FOR CREATE PROCEDURE``), so the gate reads every statement with and without ``ANSI_QUOTES``, backslash
escapes and MSSQL's ``[name]`` identifiers, and refuses when any reading breaks a rule.

INSERT and REPLACE of rows, the bulk of a dump, are checked by their head (the table written) with a
regular expression, and their values by a search at C speed for another database's name or ``LOAD_FILE``/
``sys_exec`` before a dot or a parenthesis; only then are they tokenised, in the one reading the session
has (:meth:`StatementGate.observe`): values are expressions, and ``SETVAL(other.seq, 1)`` writes there.
An INSERT sent as it is read from the dump (a row with a huge value) gets the same verdict from its pieces
(:meth:`StatementGate.streamed`, :mod:`.gatestream`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from synco_core.engines.mysql import qualify
from synco_core.engines.mysql.gatestream import KEPT_STRING, StreamedCheck
from synco_core.engines.mysql.unsupported import EXTERNAL_ENGINES, SPLIT_LETTER_CHARSETS
from synco_core.errors import DatabaseError

#: Words that are refused wherever they appear as a keyword (a bare word, not a quoted identifier, nor a
#: column's name qualified or assigned: :func:`_names_a_column`). ``KILL``
#: and ``FLUSH`` take expressions (``KILL (1)``, ``KILL @id``): they are refused whatever follows them.
_WORDS = frozenset({
    "GRANT", "REVOKE", "SONAME", "OUTFILE", "DUMPFILE", "SHUTDOWN", "BINLOG", "PREPARE", "EXECUTE", "LOAD_FILE",
    "SYS_EXEC", "SYS_EVAL", "DATAFILE", "KILL", "FLUSH", "CLONE",
})
#: Scopes of a ``SET`` that reach the whole server, refused after ``SET`` and after any comma (``SET @a = 1,
#: GLOBAL x = 2`` sets a global variable too); elsewhere the word is harmless (``SHOW GLOBAL STATUS``).
_SCOPES = frozenset({"GLOBAL", "PERSIST", "PERSIST_ONLY"})
#: Two-word sequences refused wherever they appear (first word -> second words).
_PAIRS: dict[str, frozenset[str]] = {
    "LOAD": frozenset({"DATA", "XML"}),
    "SET": frozenset({"PASSWORD", "ROLE"}),
    # CREATE and DROP DATABASE of the dump's own database are skipped by the loader before they get here.
    "CREATE": frozenset({"USER", "ROLE", "SERVER", "TABLESPACE", "LOGFILE", "DATABASE", "SCHEMA"}),
    "ALTER": frozenset({"USER", "ROLE", "SERVER", "TABLESPACE", "LOGFILE", "INSTANCE"}),
    "DROP": frozenset({"USER", "ROLE", "SERVER", "TABLESPACE", "LOGFILE", "DATABASE", "SCHEMA"}),
    "RENAME": frozenset({"USER"}),
    "INSTALL": frozenset({"PLUGIN", "SONAME", "COMPONENT"}),
    "UNINSTALL": frozenset({"PLUGIN", "SONAME", "COMPONENT"}),
    "RESET": frozenset({"MASTER", "SLAVE", "REPLICA", "QUERY", "PERSIST", "BINARY"}),
    "PURGE": frozenset({"BINARY", "MASTER"}),
    "CHANGE": frozenset({"MASTER", "REPLICATION"}),
    "START": frozenset({"SLAVE", "REPLICA", "ALL", "GROUP_REPLICATION"}),
    "STOP": frozenset({"SLAVE", "REPLICA", "ALL", "GROUP_REPLICATION"}),
    "DATA": frozenset({"DIRECTORY"}),
    "INDEX": frozenset({"DIRECTORY"}),
    "DEFAULT": frozenset({"ROLE"}),
    # BACKUP STAGE BLOCK_COMMIT stops every commit of the server until the connection ends.
    "BACKUP": frozenset({"STAGE", "LOCK"}),
    # MySQL 8: spatial reference systems and resource groups belong to the whole server.
    "SPATIAL": frozenset({"REFERENCE"}),
    "RESOURCE": frozenset({"GROUP"}),
}
#: Words that may stand between the two of a pair: ``CREATE OR REPLACE USER``, ``CREATE UNDO TABLESPACE``.
_BETWEEN = frozenset({"OR", "REPLACE", "UNDO", "IF", "NOT", "EXISTS"})
#: Statements refused where a statement begins (elsewhere the words are harmless: ALTER SEQUENCE s RESTART):
#: MySQL 8's RESTART restarts the server; XA COMMIT/ROLLBACK end transactions other sessions prepared.
_STATEMENTS = frozenset({"RESTART", "XA"})
#: Where a statement begins, in a script or a routine body: a word there is the statement's first.
_STATEMENT_START = frozenset({";", ")", ":", "BEGIN", "THEN", "ELSE", "DO", "LOOP", "REPEAT"})
#: ``@@global.x``, ``@@global .x`` (the server allows space before the dot), ``@@persist.x``.
_SERVER_SCOPES = frozenset({"global", "persist", "persist_only"})
#: Words between ``DATABASE`` and its name: ``DROP DATABASE IF EXISTS other``.
_DATABASE_CLAUSE = frozenset({"IF", "NOT", "EXISTS"})
#: Character sets in which a multi-byte letter may contain the byte of a quote or a backslash.
_UNSAFE_CHARSETS = frozenset(name.upper() for name in SPLIT_LETTER_CHARSETS)
#: Words after which a character set name switches the connection's (``SET NAMES x``, ``SET CHARSET x``),
#: in the assignments of a ``SET`` (elsewhere ``CHARSET gbk`` is a table's, a column's or a routine's).
_CONNECTION_CHARSET = frozenset({"NAMES", "CHARSET", "CHARACTER_SET_CLIENT", "CHARACTER_SET_CONNECTION",
                                 "CHARACTER_SET_RESULTS"})
#: Words before a ``SET`` that makes it no assignment: ``CHARACTER SET``, ``ON DELETE SET NULL``, ``ON UPDATE
#: SET DEFAULT``. Any other ``SET`` begins assignments (a statement's, an ``UPDATE``'s, a handler's) up to
#: the end of the statement, which can only count more words as a switch than there are.
_NOT_ASSIGNING = frozenset({"CHARACTER", "DELETE", "UPDATE"})
_MODES = tuple(qualify.Mode(ansi_quotes=ansi, backslash_escapes=escapes, brackets=brackets)
               for ansi in (False, True) for escapes in (True, False) for brackets in (False, True))
#: Databases every statement may read: the server's catalog (writing there is refused by the server).
_CATALOG = frozenset({"information_schema"})

_NAME = rb"(?:`(?:[^`]|``)+`|[0-9A-Za-z_$]+)"
#: The head of a plain data statement: ``INSERT [modifiers] [INTO] [db.]table [(...)] VALUES|VALUE|SET``.
_DATA_HEAD = re.compile(
    rb"^(?:INSERT|REPLACE)\s+(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE)\s+)*(?:INTO\s+)?"
    rb"(?:(" + _NAME + rb")\s*\.\s*)?(" + _NAME + rb")\s*"
    rb"(?:\((?:[^()`'\"]|`(?:[^`]|``)*`)*\)\s*)?(?:VALUES?\b|\()", re.IGNORECASE)
_VIEW = re.compile(rb"^(?:/\*!\d*\s*)?(?:CREATE|ALTER)\s+(?:/\*!\d*\s*)?(?:OR\s+REPLACE\s+)?"
                   rb"(?:ALGORITHM\s*=\s*\w+\s+)?(?:/\*!\d*\s*)?(?:DEFINER\s*=\s*\S+\s+)?(?:SQL\s+SECURITY\s+\w+\s+)?"
                   rb"(?:\*/\s*)?(?:/\*!\d*\s*)?VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?"
                   rb"(?:" + _NAME + rb"\s*\.\s*)?(" + _NAME + rb")", re.IGNORECASE)


def _unquote(name: bytes) -> str:
    if name.startswith(b"`"):
        name = name[1:-1].replace(b"``", b"`")
    return name.decode("utf-8", "surrogateescape")


def _raw(name: bytes) -> str:
    """A name's bytes as the gate's tokens hold them (one character per byte), unquoted."""
    if name.startswith(b"`"):
        name = name[1:-1].replace(b"``", b"`")
    return name.decode("latin-1")


#: Connection character sets whose names the gate reads by itself: the UTF-8 ones, and binary (whose bytes
#: the server takes as UTF-8 names).
_UTF8_NAMES = frozenset({"utf8mb4", "utf8mb3", "utf8", "binary"})


#: What may stand between a database's name and the dot or parenthesis after it: space, comments, the
#: edges of executable comments, the closing quote of the name.
_QUALIFIER_TAIL = re.compile(rb"[`\"\]]?(?:\s|/\*[\s\S]*?\*/|/\*M?!\d*|\*/|#[^\n]*|--[^\n]*)*[.(]")
#: A byte of a letter beyond ASCII (:meth:`StatementGate.code_reaches`).
_BEYOND_ASCII = re.compile(rb"[\x80-\xff]")
#: How much of a statement's values :meth:`StatementGate._values_reach` lowers at a time.
_WINDOW = 1 << 20
#: Functions that reach beyond the database, named in INSERT values (refused there as everywhere else).
_VALUE_FUNCTIONS = (b"load_file", b"sys_exec", b"sys_eval")


#: What may follow a column's name but none of the words the gate refuses, whose statements or clauses go on
#: with a name, a number, a string, an option or an expression (``KILL -1``, ``KILL (1)``, ``FLUSH LOCAL``,
#: ``SHUTDOWN;``): a column selected, listed, renamed or compared (``SELECT clone, flush AS f FROM jobs
#: WHERE shutdown > 0 ORDER BY execute DESC``). Each is a reserved word or a character no expression starts with.
_AFTER_A_COLUMN = frozenset({",", ")", "<", ">", "FROM", "AS", "IS", "IN", "LIKE", "BETWEEN", "AND", "OR", "XOR",
                             "DESC", "ASC", "WHERE", "ORDER", "GROUP", "HAVING", "LIMIT"})


def _names_a_column(words: list[qualify.Token], index: int) -> bool:
    """True when the word at ``index`` is a column's name, not the statement or function it spells: qualified
    (``NEW.flush``, ``jobs.execute``: after a name and a dot, a function is a stored one of that database),
    assigned or compared (``SET clone = 0``), or followed by what only follows a column (:data:`_AFTER_A_COLUMN`):
    MariaDB takes ``execute``, ``flush``, ``clone`` ... bare."""
    if index >= 2 and words[index - 1].kind == "dot" and words[index - 2].kind in ("word", "quoted"):
        return True
    following = [token.text for token in words[index + 1:index + 3]]
    return (following[:1] == ["="] or following == [":", "="]
            or (bool(following) and following[0].upper() in _AFTER_A_COLUMN))


def _assigned(words: list[qualify.Token], index: int, in_assignments: bool) -> bool:
    """True when the token at ``index`` stands where a SET assigns: first in a statement, right after
    ``SET``, or after a comma between a SET's assignments (``in_assignments``)."""
    before = words[index - 1].text.upper() if index else None
    return before is None or before == "SET" or (before == "," and in_assignments)


class StatementGate:
    """Refuses the statements of a dump that reach beyond the database it is loaded into (module docstring).

    :param allowed: the databases the dump may name (the scratch database, the target).
    :param databases: every database of the server the connection can see: a name qualified with one of
        them that is not allowed is refused.
    :param case_insensitive: the server compares database names without case (``lower_case_table_names``);
        the gate always compares without case, which can only refuse more.
    """

    #: What may follow a name of :attr:`needles` for it to qualify something (for :mod:`.gatestream`).
    qualifier_tail = _QUALIFIER_TAIL

    def __init__(self, allowed: Iterable[str], databases: Iterable[str]) -> None:
        self.allowed = {name.lower() for name in allowed} | _CATALOG
        self.others = {name.lower() for name in databases} - self.allowed
        #: Views that read another database: writing through them would write there.
        self.foreign_views: set[str] = set()
        #: How the loading session reads statements now (:meth:`observe`): INSERT values are read this way.
        self.session = qualify.Mode()
        #: How the session's character set reads each byte, when it is one of one byte per letter other than
        #: the UTF-8 ones (``SET NAMES cp1251``): the server turns a name's bytes into these letters.
        self.letters: str | None = None
        #: True when another database's name is not ASCII and the session spells names in other bytes than
        #: UTF-8's: the search for those names in INSERT values cannot rely on their bytes.
        self.spelled_elsewhere = False
        self._foreign_letters = sorted(name for name in self.others if not name.isascii())
        names = {form for name in self.others for form in (name, name.upper())}
        #: What INSERT values may not name (lowered bytes, as the server may receive them): every other
        #: database, in UTF-8 and latin-1, and the functions that reach beyond the database.
        self.needles = sorted({spelling for name in names for codec in ("utf-8", "latin-1")
                                for spelling in [name.encode(codec, "ignore").lower()] if spelling}
                               | set(_VALUE_FUNCTIONS))

    def observe(self, charset: str, sql_mode: str, letters: Sequence[str] | None = None, number: int = 0) -> None:
        """The loading session's character set and sql_mode, as the server reported them after statement
        ``number``, and for a character set of one byte per letter other than the UTF-8 ones the letter the
        server reads for each byte 0..255 (``letters``).

        The server reads a name in the session's character set (after ``SET NAMES cp1251`` the bytes E1 E4
        before ``.t`` are ``бд``): the gate reads it so too. A character set of several bytes per letter
        other than UTF-8 (ujis, euckr) it cannot read names in: switching to one is refused when another
        database's name is not ASCII (the ones whose letters may hold a quote byte, sjis and the like, are
        refused anyway).
        """
        self.session = qualify.Mode.of(charset, sql_mode)
        utf8 = charset.lower() in _UTF8_NAMES
        self.letters = None if utf8 or letters is None else "".join(letters)
        if self.letters is not None and len(self.letters) != 256:
            raise ValueError("a character set of one byte per letter reads 256 of them")
        if not utf8 and self.letters is None and self._foreign_letters:
            self.refuse(number, f"it switches the connection to character set {charset}, in which the names of "
                                f"other databases ({', '.join(self._foreign_letters)}) cannot be told apart")
        self.spelled_elsewhere = not utf8 and bool(self._foreign_letters)

    def _spellings(self, name: str) -> set[str]:
        """``name`` (a token's text: bytes taken as latin-1) as the server may read it, lowered: as it is (a
        latin1 connection), as UTF-8 (the loader's connection), and as the session's character set reads its
        bytes, so that ``café.t`` is found whichever bytes spell it."""
        found = {name.lower()}
        with contextlib.suppress(UnicodeError):
            found.add(name.encode("latin-1").decode("utf-8").lower())
        if self.letters is not None and not name.isascii():
            found.add("".join(self.letters[ord(byte)] for byte in name).lower())
        return found

    def check(self, statement: bytes | bytearray, number: int) -> None:
        """Raise a one-line :class:`DatabaseError` when ``statement`` (number ``number``) must not run."""
        head = _DATA_HEAD.match(statement)
        if head is not None and self._plain_values(statement, head):
            self._check_head(head, number)
            if self._values_reach(statement, head.end()):
                # Values are expressions: NEXTVAL(other.seq), other.f() would act there. Read as the session
                # reads them (the other readings of a dump's strings would turn its text into "code").
                self.check_code(statement, number, (self.session,), None)
            return
        # A reading differs from another only where the statement holds the byte it reads otherwise.
        modes = [mode for mode in _MODES if (not mode.ansi_quotes or b'"' in statement)
                 and (mode.backslash_escapes or b"\\" in statement) and (not mode.brackets or b"[" in statement)]
        self.check_code(statement, number, modes, _VIEW.match(statement))

    def streamed(self, start: bytes | bytearray, number: int) -> StreamedCheck:
        """The check of a statement sent as it is read, whose beginning ``start`` passes
        :meth:`checked_by_head`: its head is checked here, its values by the :class:`StreamedCheck`
        returned, which reaches the verdict :meth:`check` gives the whole statement."""
        head = _DATA_HEAD.match(start)
        if head is None or not self.checked_by_head(start):
            raise ValueError("only a plain data statement is checked as it is sent")
        self._check_head(head, number)
        return StreamedCheck(self, number, head.end())

    def _check_head(self, head: re.Match[bytes], number: int) -> None:
        """Refuse a data statement's head that writes into another database or through a foreign view."""
        database, table = head.group(1), _unquote(head.group(2)).lower()
        if database is not None and _unquote(database).lower() not in self.allowed:
            self.refuse(number, f"it writes into database {_unquote(database)!r}")
        if table in self.foreign_views or self._spellings(_raw(head.group(2))) & self.foreign_views:
            self.refuse(number, f"it writes through view {table!r}, which reads another database")

    def check_code(self, statement: bytes | bytearray, number: int, modes: Iterable[qualify.Mode],
                   view: re.Match[bytes] | None) -> None:
        reasons: list[str] = []
        names: set[str] = set()
        for mode in modes:
            # A long string is read as an empty one: its text only matters where it could be a character
            # set's or an engine's name, and a streamed statement's check (gatestream) keeps no long string.
            tokens = [qualify.Token("string", token.text[0] * 2)
                      if token.kind == "string" and len(token.text) > KEPT_STRING else token
                      for token in qualify.tokens(statement.decode("latin-1"), mode)]
            reason = self._forbidden(tokens)
            if reason is not None:
                reasons.append(reason)
            names |= self._names(tokens)
        foreign = sorted(names & self.others)
        views = sorted(names & self.foreign_views)
        if reasons:
            self.refuse(number, reasons[0])
        if view is not None:
            if foreign or views:
                if not _raw(view.group(1)).isascii() and self.letters is None and (
                        self.session.charset not in _UTF8_NAMES):
                    # Its name, spelled in bytes this gate cannot read, could not be recognised later.
                    self.refuse(number, "it creates a view reading another database, named in character set "
                                        f"{self.session.charset}, whose letters this gate cannot read")
                # Reading another database is what some views do; writing through them is refused later.
                self.foreign_views.add(_unquote(view.group(1)).lower())
                self.foreign_views |= self._spellings(_raw(view.group(1)))
            return
        if foreign:
            self.refuse(number, f"it names database {foreign[0]!r}, not the one installed")
        if views:
            self.refuse(number, f"it names view {views[0]!r}, which reads another database")

    def databases_named(self, statement: bytes) -> set[str]:
        """The other databases ``statement`` names as qualifiers, lowered, under every reading of it."""
        names: set[str] = set()
        for mode in _MODES:
            names |= self._names(qualify.tokens(statement.decode("latin-1"), mode))
        return names & self.others

    def _values_reach(self, statement: bytes | bytearray, start: int) -> bool:
        """True when the values might name another database (``other.f()``, ``NEXTVAL(other.seq)``) or call
        a function such as LOAD_FILE: a first look at C speed that only says where the statement must be read
        token by token."""
        if not self.spelled_elsewhere and not self.mentions(statement, start):
            return False
        # Mostly the name is a word of a string's text ("Powered by WordPress." with a database `wordpress`
        # on the laptop): the code between the strings, found as the session reads them, decides.
        return self.code_reaches(qualify.code_text(memoryview(statement)[start:], self.session))

    def code_reaches(self, code: bytes | bytearray) -> bool:
        """:meth:`mentions` over the code between a statement's strings; where another database's name may be
        spelled in other bytes than the gate searches for (:attr:`spelled_elsewhere`), any letter beyond
        ASCII in that code counts (it is rare there: a name, which the tokens then read)."""
        return self.mentions(code, 0) or (self.spelled_elsewhere and _BEYOND_ASCII.search(code) is not None)

    def mentions(self, statement: bytes | bytearray, start: int) -> bool:
        """True when a name of :attr:`needles` is followed by what would make it qualify something (a dot,
        a parenthesis), looked at a megabyte at a time (a huge statement is never copied whole)."""
        overlap = max(len(needle) for needle in self.needles) - 1
        for offset in range(start, len(statement), _WINDOW):
            window = statement[offset:offset + _WINDOW + overlap].lower()
            for needle in self.needles:
                found = window.find(needle)
                while found >= 0:
                    if _QUALIFIER_TAIL.match(statement, offset + found + len(needle)) is not None:
                        return True
                    found = window.find(needle, found + 1)
        return False

    def checked_by_head(self, start: bytes | bytearray) -> bool:
        """True when ``start``, the beginning of a statement, is all :meth:`check` reads of it: the head of
        a plain data statement and what follows it, a statement that may be sent without being read whole."""
        head = _DATA_HEAD.match(start)
        return head is not None and head.end() + 64 <= len(start) and self._plain_values(start, head)

    @staticmethod
    def _plain_values(statement: bytes | bytearray, head: re.Match[bytes]) -> bool:
        """True when nothing but the rows follow the head: no ``SELECT`` that could read through it."""
        rest = statement[head.end() - 1:head.end() + 64].upper()
        return not rest.lstrip(b"( \t\r\n").startswith((b"SELECT", b"WITH", b"TABLE"))

    def _names(self, tokens: list[qualify.Token]) -> set[str]:
        """Every name that qualifies another (``x.y``), and every name a foreign view might be, lowered."""
        found: set[str] = set()
        significant = [(index, token) for index, token in enumerate(tokens) if token.kind not in qualify.SKIPPED]
        for position, (index, token) in enumerate(significant):
            if not token.name:
                continue
            follows = significant[position + 1][1] if position + 1 < len(significant) else None
            before = significant[position - 1][1] if position else None
            qualifier = follows is not None and follows.kind == "dot" and (before is None or before.kind != "dot")
            if not qualifier and not self.foreign_views:
                continue
            spellings = self._spellings(token.name)
            if token.kind == "word" and index and tokens[index - 1].kind == "open":
                # ``/*!2024shop*/``: the gate took the digits for the comment's version, a server may not
                # (MariaDB reads five or six, MySQL five): then the name is ``2024shop``, or ``4shop``.
                digits = tokens[index - 1].text.partition("!")[2]
                spellings |= {digits[cut:] + name for cut in range(len(digits)) for name in list(spellings)}
            found |= spellings & self.foreign_views
            if qualifier:
                found |= spellings
        return found

    def _forbidden(self, tokens: list[qualify.Token]) -> str | None:
        words = [token for token in tokens if token.kind not in qualify.SKIPPED]
        assigning = False
        # Parentheses open now, and where the SET whose assignments these are stood: a comma there begins
        # the next assignment, one inside parentheses the next argument of a function.
        depth = set_depth = 0
        for index, token in enumerate(words):
            if token.text == ";":
                assigning = False
            depth += 1 if token.text == "(" else -1 if token.text == ")" else 0
            if token.kind == "variable" and token.text.startswith("@@") and (
                    token.text[2:].partition(".")[0].strip("`").lower() in _SERVER_SCOPES) and (
                    _assigned(words, index, assigning and depth == set_depth)):
                # Read elsewhere (IF @@global.read_only = 0, CONVERT_TZ(d, @@global.time_zone, ...)).
                return f"it changes the server's variable {token.text}"
            if token.kind != "word":
                continue
            word = token.text.upper()
            following = words[index + 1] if index + 1 < len(words) else None
            after = following.text.upper().strip("'\"") if following is not None else ""
            if word in ("USE", "DATABASE", "SCHEMA"):
                named = index + 1
                while named < len(words) and words[named].kind == "word" and (
                        words[named].text.upper() in _DATABASE_CLAUSE):
                    named += 1
                if named < len(words) and words[named].name and self._spellings(words[named].name) & self.others:
                    # ``USE other`` written so that the loader does not skip it, ``DROP DATABASE other`` alike.
                    return f"it names database {words[named].name!r} with {word}"
            if word in _WORDS and not _names_a_column(words, index):
                return f"it uses {word}, which acts beyond the database installed"
            if word in _SCOPES and index and words[index - 1].text.upper() in (",", "SET") and not (
                    _names_a_column(words, index)):
                return f"it uses {word}, which acts beyond the database installed"
            second = _PAIRS.get(word)
            if second is not None:
                paired = index + 1
                while paired < len(words) - 1 and words[paired].text.upper() in _BETWEEN:
                    paired += 1
                if paired < len(words) and words[paired].kind == "word" and words[paired].text.upper() in second:
                    return f"it uses {word} {words[paired].text.upper()}, which acts beyond the database installed"
            if word in _STATEMENTS and (not index or words[index - 1].text.upper() in _STATEMENT_START):
                return f"it uses {word}, which acts beyond the database installed"
            if word == "ENGINE":
                engine = words[index + 2] if after == "=" and index + 2 < len(words) else following
                if engine is not None and engine.text.upper().strip("'\"`") in EXTERNAL_ENGINES:
                    return f"it creates a table of engine {engine.text}, whose rows live outside the database"
            if word == "SET" and after != "(" and not (index and words[index - 1].text.upper() in _NOT_ASSIGNING):
                assigning, set_depth = True, depth
            if assigning and (word in _CONNECTION_CHARSET or (word == "SET" and after == "CHARACTER")):
                for value in words[index + 1:index + 5]:
                    if value.text.upper().strip("'\"`") in _UNSAFE_CHARSETS:
                        return f"it switches the connection to character set {value.text}"
        return None

    @staticmethod
    def refuse(number: int, reason: str) -> None:
        raise RefusedStatement(number, reason)


class RefusedStatement(DatabaseError):
    """A statement of the dump the gate refuses, and why (``reason``, a phrase)."""

    def __init__(self, number: int, reason: str) -> None:
        super().__init__(f"refusing statement {number} of the dump: {reason} (a dump may only create and fill "
                         "the database it is installed into)")
        self.reason = reason


#: What the session must not be left with after a statement (:func:`check_session`).
_SESSION_STATE = "SELECT @@character_set_client, @@sql_mode, @@default_storage_engine, @@default_tmp_storage_engine"


_CHARSET_NAME = re.compile(r"[0-9a-z_]+")


def session_letters(conn: Any, charset: str) -> str | None:
    """The letter the server reads for each byte 0..255 in ``charset`` when it has one byte per letter and is
    not UTF-8 (for :meth:`StatementGate.observe`); None otherwise. Asked of the server: Python's codecs of
    the same names read some bytes otherwise (cp866's 0xFC, greek's 0xA1)."""
    charset = charset.lower()
    if charset in _UTF8_NAMES or not _CHARSET_NAME.fullmatch(charset):
        return None
    with conn.cursor() as cur:
        cur.execute("SELECT MAXLEN FROM information_schema.CHARACTER_SETS WHERE CHARACTER_SET_NAME = %s",
                    (charset,))
        row = cur.fetchone()
        if row is None or int(row[0]) != 1:
            return None
        # As hex: the session's results may come in any character set.
        every_byte = bytes(range(256)).hex()
        cur.execute(f"SELECT HEX(CONVERT(CONVERT(UNHEX('{every_byte}') USING {charset}) USING utf8mb4))")
        value = cur.fetchone()[0]
    letters = bytes.fromhex(value.decode() if isinstance(value, bytes) else str(value)).decode("utf-8")
    return letters if len(letters) == 256 else None


def check_session(conn: Any, number: int) -> tuple[str, str]:
    """The character set and sql_mode of ``conn``'s session after statement ``number`` of the dump.

    Refuses (one-line :class:`DatabaseError`) a character set in which a quote byte can be part of a
    letter, however the statement reached it (``SET character_set_client = @saved``, a number, an
    expression: the gate cannot read those), and a default storage engine whose rows live elsewhere (a
    ``CREATE TABLE`` without ``ENGINE=`` would create such a table).
    """
    with conn.cursor() as cur:
        cur.execute(_SESSION_STATE)
        row = [value.decode() if isinstance(value, bytes) else str(value) for value in cur.fetchone()]
    charset, sql_mode = row[0], row[1]
    if charset.upper() in _UNSAFE_CHARSETS:
        StatementGate.refuse(number, f"it switches the connection to character set {charset}")
    for engine in row[2:]:
        if engine.upper() in EXTERNAL_ENGINES:
            StatementGate.refuse(number, f"it makes {engine} the default engine, whose rows live outside the "
                                          "database")
    return charset, sql_mode
