"""What the connected MariaDB/MySQL user may do in one database, read from its own ``SHOW GRANTS``.

The server hides from ``information_schema`` the objects a user lacks the privilege for, without saying
that anything is hidden: a user without ``TRIGGER`` on a table sees none of its triggers, one without
``EXECUTE``, ``ALTER ROUTINE`` or ``CREATE ROUTINE`` on the database none of the routines others defined,
one without ``EVENT`` no event. A dump must know that, or it leaves them out silently.

``information_schema.SCHEMA_PRIVILEGES`` and its siblings list the user's own grants only, not those of
its roles; ``SHOW GRANTS`` (no ``FOR``) lists the user's, its current role's and the roles granted to
that role, which is what the server checks. Database names in grants may be patterns (``shop\\_%``), and
are matched as the server matches them (see :func:`parse`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pymysql

from synco_core.engines.mysql import schema

#: What follows a grant's privilege list: `` ON [PROCEDURE|FUNCTION|PACKAGE [BODY]] <what> TO ...``.
_TARGET = re.compile(r" ON (?P<routine>(?:PROCEDURE|FUNCTION|PACKAGE(?: BODY)?) )?"
                     r"(?P<what>(?:\*|`(?:[^`]|``)*`)(?:\.(?:\*|`(?:[^`]|``)*`))?) TO ", re.DOTALL)
_NAME = re.compile(r"\*|`((?:[^`]|``)*)`")
#: A grantee that is a user (``user``@``host``), not a role.
_USER = re.compile(r"`(?:[^`]|``)*`@")
#: The grantee every user holds the grants of (MariaDB 10.11), which SHOW GRANTS writes unquoted.
_PUBLIC = re.compile(r"PUBLIC\b")
#: Privileges named as the server names them: ALL covers every one of them but GRANT OPTION.
ALL = "ALL PRIVILEGES"


@dataclass
class Privileges:
    """The privileges the user holds on the database as a whole (global or database-level grants), and on
    each of its tables by name (table-level grants)."""

    database: set[str] = field(default_factory=set)
    tables: dict[str, set[str]] = field(default_factory=dict)
    #: The global grants alone (``ON *.*``), where the server-wide privileges are.
    server: set[str] = field(default_factory=set)

    def on_server(self, privilege: str) -> bool:
        return ALL in self.server or privilege in self.server

    def on_database(self, privilege: str) -> bool:
        return ALL in self.database or privilege in self.database

    def on_table(self, table: str, privilege: str) -> bool:
        held = self.tables.get(table, set())
        return self.on_database(privilege) or ALL in held or privilege in held


def _privileges(line: str) -> tuple[list[str], int] | None:
    """The privileges a ``GRANT ... ON`` row names, without column-level ones (``SELECT (`a`)`` covers no
    whole table), and where its `` ON `` starts; None for a row without one (a role or PROXY grant).

    Column names are backtick-quoted and may hold anything (commas, brackets, `` ON ``): the list is read
    quote by quote, never split or ended inside one."""
    if not line.startswith("GRANT "):
        return None
    parts: list[str] = []
    start = position = len("GRANT ")
    depth, quoted = 0, False
    while position < len(line):
        char = line[position]
        if quoted:
            if char == "`" and line.startswith("``", position):
                position += 1
            elif char == "`":
                quoted = False
        elif char == "`":
            quoted = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and (char == "," or line.startswith(" ON ", position)):
            parts.append(line[start:position].strip())
            if char != ",":
                return [part.upper() for part in parts if part and "(" not in part], position
            start = position + 1
        position += 1
    return None


def _specificity(pattern: str) -> tuple[bool, int]:
    """Where the server sorts a database grant among a grantee's others, most specific last: a name
    without ``%`` after every name with one, and among those by the position of the first ``%`` (escapes
    counted). ``_`` matches one character but does not count here (MariaDB 10.11, checked on the server)."""
    escaped = False
    for position, char in enumerate(pattern):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            return False, position
    return True, 0


def _matches(pattern: str, db: str) -> bool:
    """Whether a grant's database name covers ``db``: ``%`` and ``_`` are wildcards, ``\\`` escapes."""
    regex, escaped = "", False
    for char in pattern:
        if escaped:
            regex += re.escape(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            regex += ".*"
        elif char == "_":
            regex += "."
        else:
            regex += re.escape(char)
    return re.fullmatch(regex, db, re.DOTALL) is not None


def parse(lines: list[str], db: str) -> Privileges:
    """The privileges ``lines`` (``SHOW GRANTS`` rows) give on ``db``.

    The server does not add up the database grants of one grantee: it takes the most specific one whose
    name covers the database (``shop`` before ``sh%``, see :func:`_specificity`) and ignores the others.
    The user's, its roles' (those of every role in the current one, merged by database name) and PUBLIC's
    are looked up apart and added up: an exact grant to PUBLIC hides no pattern grant to a role.
    """
    held = Privileges()
    by_grantee: dict[str, dict[str, set[str]]] = {"user": {}, "role": {}, "public": {}}
    for line in lines:
        listed = _privileges(line)
        match = None if listed is None else _TARGET.match(line, listed[1])
        if listed is None or match is None or match.group("routine"):
            continue
        names = [None if name.group(0) == "*" else name.group(1).replace("``", "`")
                 for name in _NAME.finditer(match.group("what"))]
        privileges = set(listed[0])
        grantee = ("user" if _USER.match(line, match.end())
                   else "public" if _PUBLIC.match(line, match.end()) else "role")
        if len(names) != 2:
            continue
        if names[0] is None:
            held.database |= privileges
            held.server |= privileges
        elif names[1] is None:
            by_grantee[grantee].setdefault(names[0], set()).update(privileges)
        elif names[0] == db:
            held.tables.setdefault(names[1], set()).update(privileges)
    for patterns in by_grantee.values():
        covering = [pattern for pattern in patterns if _matches(pattern, db)]
        if not covering:
            continue
        first = max(_specificity(pattern) for pattern in covering)
        # Grants the server sorts alike come in an order nothing here tells: count what all of them give.
        tied = [patterns[pattern] for pattern in covering if _specificity(pattern) == first]
        held.database |= set.intersection(*tied)
    return held


def current(conn: Any, db: str) -> Privileges:
    """The connected user's privileges on ``db`` (see the module docstring).

    The server quotes names in SHOW GRANTS as its session's sql_mode says: with ANSI_QUOTES (in ANSI,
    ORACLE ...) in double quotes, which :func:`parse` does not read. The session of an install keeps the
    server's own sql_mode, so the grants are read under an empty one, put back as it was afterwards."""
    mode = schema.query(conn, "SELECT @@SESSION.sql_mode")[0][0]
    schema.query(conn, "SET SESSION sql_mode = ''")
    try:
        lines = [schema.text(row[0]) for row in schema.query(conn, "SHOW GRANTS")]
    finally:
        schema.query(conn, "SET SESSION sql_mode = %s", (schema.text(mode),))
    return parse(lines, db)


def reads_mysql_proc(conn: Any) -> bool:
    """True when the user may read ``mysql.proc``: then it sees every routine and its text."""
    try:
        schema.query(conn, "SELECT 1 FROM mysql.proc WHERE 1 = 0")
    except pymysql.err.MySQLError:
        return False
    return True
