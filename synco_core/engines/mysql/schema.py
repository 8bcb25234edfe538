"""Reading a database's objects: tables, columns, views, triggers, routines and events.

Shared by the dumper (to write them) and the installer (to move them between databases, since
``RENAME TABLE`` moves tables but neither views across databases nor tables that carry triggers).
Every query goes through the connection given, so inside the dumper's snapshot transaction the
statements see the same moment as the rows.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pymysql

from synco_core.engines.mysql import eventtimes, qualify
from synco_core.engines.mysql.connect import quote_name, quote_string
from synco_core.engines.mysql.literals import INTEGER_TYPES, Column

log = logging.getLogger(__name__)

_DEFINER = re.compile(
    rb"DEFINER\s*=\s*(?:`(?:[^`]|``)*`|'(?:[^'\\]|\\.)*'|[^\s@*]+)(?:\s*@\s*(?:`(?:[^`]|``)*`|'(?:[^'\\]|\\.)*'|[^\s*]+))?\s*",
    re.IGNORECASE,
)
_DEFINER_SCAN = 512


def strip_definer(statement: bytes) -> bytes:
    """``statement`` without its ``DEFINER=user@host`` clause (which needs SUPER to load elsewhere).

    Only the head of the statement is searched: the clause always precedes the body, and a body may
    legitimately contain the word.
    """
    head = statement[:_DEFINER_SCAN]
    if b"DEFINER" not in head.upper():
        return statement
    return _DEFINER.sub(b"", head, count=1) + statement[_DEFINER_SCAN:]


def definer(statement: bytes) -> str | None:
    """The ``user@host`` of ``statement``'s DEFINER clause (as written), None without one."""
    head = statement[:_DEFINER_SCAN]
    match = _DEFINER.search(head) if b"DEFINER" in head.upper() else None
    if match is None:
        return None
    return match.group(0).split(b"=", 1)[1].strip().decode("utf-8", "replace").replace(" ", "")


def text(value: Any) -> str:
    """A metadata value as str, whether the connection decodes values or returns bytes."""
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "surrogateescape")
    return str(value)


def raw(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return str(value).encode("utf-8", "surrogateescape")


@dataclass
class Definition:
    """A view, trigger, routine (procedure, function, package) or event, and the session it was made in.

    ``create`` is the statement as the server keeps it, in the bytes of ``charset_client`` (the client's
    character set when it was created, which the server reads it in again), without its DEFINER clause
    (except for the installer's swap, which creates it again on the same server as it was).
    mariadb-dump writes the same settings around each object; synco's dump does too, and the installer
    creates each object again under them (``character_set_client`` and ``collation_connection`` decide
    how its text and string literals are read, ``sql_mode`` how its body is parsed and runs, an event's
    ``time_zone`` when it fires).
    """

    kind: str
    name: str
    create: bytes
    sql_mode: str = ""
    charset_client: str = ""
    collation_connection: str = ""
    #: The database's default collation when the object was created (triggers, routines, events keep it).
    database_collation: str = ""
    #: Events only.
    time_zone: str = ""
    #: Triggers only: the table they belong to.
    table: str = ""


@dataclass
class Objects:
    """Everything in one database that synco moves or dumps."""

    tables: list[str] = field(default_factory=list)
    views: list[Definition] = field(default_factory=list)
    triggers: list[Definition] = field(default_factory=list)
    routines: list[Definition] = field(default_factory=list)
    events: list[Definition] = field(default_factory=list)

    @property
    def definitions(self) -> list[Definition]:
        return [*self.views, *self.triggers, *self.routines, *self.events]


def query(conn: Any, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def database_comment(conn: Any, db: str) -> str:
    """``db``'s COMMENT; empty without one, or where the server keeps none (before MariaDB 10.5, MySQL)."""
    with conn.cursor() as cur:
        # Every column, so that a server without SCHEMA_COMMENT answers as well, without a version check.
        cur.execute("SELECT * FROM information_schema.SCHEMATA WHERE SCHEMA_NAME=%s", (db,))
        names = [str(column[0]).upper() for column in cur.description]
        row = cur.fetchone()
    return text(row[names.index("SCHEMA_COMMENT")]) if row is not None and "SCHEMA_COMMENT" in names else ""


def list_tables(conn: Any, db: str) -> list[tuple[str, str]]:
    """(name, type) of every table and view, by name. Sequences count as tables."""
    rows = query(conn, "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s "
                       "ORDER BY TABLE_NAME", (db,))
    return [(text(name), "VIEW" if text(kind) == "VIEW" else text(kind)) for name, kind in rows]


def columns(conn: Any, db: str, table: str) -> list[Column]:
    """The table's columns as the dump writes them and the checksum covers them.

    Generated columns are marked (the dump leaves them out). The period columns of a system-versioned table
    whose periods are timestamps are dumpable, so that its history rows can be carried: named ones as
    declared, the hidden ``row_start``/``row_end`` of ``WITH SYSTEM VERSIONING`` alone added at the end.
    Periods kept as transaction ids (``BIGINT``) stay generated: their values mean nothing on another server.

    information_schema compares names in a case-insensitive collation, while table names are case-sensitive
    (``Foo`` and ``foo`` are two tables on Linux): the join is on the names' bytes, or each table would get
    the other's columns too. TABLES is filtered by the name as well: a join condition alone does not let the
    server look the table up, so it opened every table of the database for each call (150 ms a table with
    2,000 tables, most of a dump's time; 1 ms with the filter).
    """
    rows = query(conn, "SELECT c.COLUMN_NAME, c.DATA_TYPE, c.CHARACTER_SET_NAME, c.EXTRA, c.IS_NULLABLE, "
                       "c.GENERATION_EXPRESSION, t.TABLE_TYPE, c.COLUMN_TYPE, c.COLLATION_NAME "
                       "FROM information_schema.COLUMNS c "
                       "JOIN information_schema.TABLES t "
                       "ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND BINARY t.TABLE_NAME = BINARY c.TABLE_NAME "
                       "WHERE c.TABLE_SCHEMA=%s AND c.TABLE_NAME=%s AND t.TABLE_NAME=%s ORDER BY c.ORDINAL_POSITION",
                 (db, table, table))
    result = []
    versioned = False
    periods = 0
    for name, data_type, charset, extra, nullable, expression, table_type, column_type, collation in rows:
        extra_text = text(extra).upper()
        versioned = text(table_type).upper() == "SYSTEM VERSIONED"
        kind = text(data_type).lower()
        # MySQL 8 marks expression defaults DEFAULT_GENERATED: those are ordinary, dumped columns.
        generated = any(tag in extra_text for tag in ("VIRTUAL GENERATED", "STORED GENERATED", "PERSISTENT GENERATED"))
        generated = generated or extra_text in ("VIRTUAL", "PERSISTENT")
        period = _PERIODS.get(text(expression).upper()) if versioned else None
        if period is not None:
            periods += 1
            if kind == "timestamp":
                generated = False
            else:
                period = None
        result.append(Column(text(name), kind, text(charset).lower() or None, generated,
                             nullable=text(nullable).upper() != "NO", period=period,
                             numbered=numbered_members(conn, kind, text(column_type), text(charset), text(collation))))
    if versioned and not periods:
        result += [Column(name, "timestamp", None, nullable=False, period=period)
                   for name, period in (("row_start", "start"), ("row_end", "end"))]
    return result


_PERIODS = {"ROW START": "start", "ROW END": "end"}
#: One quoted member of an ENUM or SET's COLUMN_TYPE, which doubles quotes and escapes a few characters.
_MEMBER = re.compile(r"'((?:[^'\\]|''|\\.)*)'")
_ESCAPES = {"0": "\0", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a", "b": "\b"}
_ESCAPE = re.compile(r"''|\\(.)", re.DOTALL)
#: Printable ASCII: no collation holds two such members equal unless they differ in case only.
_PLAIN = re.compile(r"[\x20-\x7e]*\Z")
_NAME = re.compile(r"[A-Za-z0-9_]+\Z")


def members(column_type: str) -> list[str]:
    """The members of ``enum(...)``/``set(...)`` as the column holds them."""
    return [_ESCAPE.sub(lambda m: "'" if m.group(0) == "''" else _ESCAPES.get(m.group(1), m.group(1)), raw)
            for raw in _MEMBER.findall(column_type)]


def numbered_members(conn: Any, kind: str, column_type: str, charset: str, collation: str) -> tuple[int, ...]:
    """The numbers of an ENUM's values whose text would load as another value; for a SET, any number means
    that its text is ambiguous.

    An ENUM's text loads as the first member the column's collation holds equal to it. Index 0 (an invalid
    value stored under a permissive sql_mode) reads as ``''``, which is a member's text when one is empty
    (declared ``''``, or one of spaces, which the server strips). A member equal to an earlier one (``'a'``
    after ``'A'`` under a case-insensitive collation, ``'e'`` after ``'é'`` under an accent-insensitive
    one: a permissive sql_mode lets such a column be created, with a note) loads as the earlier. A SET
    leaves an empty member out of its text, and a repeated member's bit loads as the earlier one's.
    Equality is the server's, through each member's ``WEIGHT_STRING`` under the column's collation; members
    that are distinct printable ASCII letters whatever their case need no query.
    """
    if kind not in ("enum", "set"):
        return ()
    names = members(column_type)
    numbered = [0] if "" in names else []
    if all(_PLAIN.match(name) for name in names) and len({name.lower() for name in names}) == len(names):
        return (0,) if numbered else ()
    if _NAME.match(charset) and _NAME.match(collation):
        # Quoted: ``binary`` (an ENUM of a DEFAULT CHARSET=binary table) is a keyword there, and failed the dump.
        weight = f"WEIGHT_STRING(CONVERT(%s USING `{charset}`) COLLATE `{collation}`)"
        weights = query(conn, "SELECT " + ",".join([weight] * len(names)), names)[0]
    else:
        weights = tuple(name.rstrip(" ").lower() for name in names)
    seen: set[Any] = set()
    for number, key in enumerate(weights, 1):
        if key in seen:
            numbered.append(number)
        seen.add(key)
    return tuple(numbered) if kind == "enum" or not numbered else (0,)


def transaction_versioned(conn: Any, db: str, table: str) -> bool:
    """True for a system-versioned table whose periods are transaction ids: its history cannot be carried."""
    rows = query(conn, "SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s "
                       "AND GENERATION_EXPRESSION IN ('ROW START', 'ROW END') AND DATA_TYPE <> 'timestamp'",
                 (db, table))
    return bool(rows)


def loadable_periods(conn: Any, db: str, table: str, table_columns: list[Column]) -> tuple[str, int]:
    """A condition keeping the history rows of a system-versioned table that can be loaded, and how many
    rows it leaves out ("" and 0 when the table's history is not carried, or all of it loads).

    The server stores a history row whose period ends where it starts when a row is changed or deleted at
    the very instant it was written (under ``SET timestamp``, or two statements within one microsecond),
    but refuses to insert one ("Incorrect row_start value", ``system_versioning_insert_history`` or not).
    No ``AS OF`` query ever sees such a row.
    """
    periods = {column.period: quote_name(column.name) for column in table_columns if column.period}
    if set(periods) != {"start", "end"}:
        return "", 0
    condition = f"{periods['start']} < {periods['end']}"
    rows = query(conn, f"SELECT COUNT(*) FROM {quote_name(db)}.{quote_name(table)} FOR SYSTEM_TIME ALL "
                       f"WHERE NOT ({condition})")
    empty = int(rows[0][0]) if rows else 0
    return (condition, empty) if empty else ("", 0)


def row_source(table: str, table_columns: list[Column], db: str | None = None) -> str:
    """What to read a table's rows from: with the history of a system-versioned table, if it is carried."""
    name = quote_name(table) if db is None else f"{quote_name(db)}.{quote_name(table)}"
    if any(column.period for column in table_columns):
        return name + " FOR SYSTEM_TIME ALL"
    return name


def primary_key(conn: Any, db: str, table: str) -> list[str]:
    rows = query(conn, "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA=%s "
                       "AND TABLE_NAME=%s AND INDEX_NAME='PRIMARY' ORDER BY SEQ_IN_INDEX", (db, table))
    return [text(r[0]) for r in rows]


def integer_key(conn: Any, db: str, table: str, table_columns: list[Column]) -> str | None:
    """The table's primary key when it is one integer column (the dump pages through such keys)."""
    key = primary_key(conn, db, table)
    if len(key) != 1:
        return None
    kinds = {c.name: c.data_type for c in table_columns}
    return key[0] if kinds.get(key[0]) in INTEGER_TYPES - {"year"} else None


def paging_key(conn: Any, db: str, table: str, table_columns: list[Column]) -> list[Column]:
    """The columns of the index the table's rows are stored in order of, when pages can be read through it.

    That is the primary key, or without one the first unique index of NOT NULL columns (which InnoDB then
    stores the rows in). Only a B-tree index of whole columns will do: a HASH index (MEMORY tables) cannot
    read a range, and a prefix index does not order the values. Any other index would make every page a
    lookup per row, so the table is streamed instead (an empty list).
    """
    with conn.cursor() as cur:
        cur.execute(f"SHOW INDEX FROM {quote_name(table)} IN {quote_name(db)}")
        names = [text(d[0]).lower() for d in cur.description]
        rows = list(cur.fetchall())
    indexes: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        entry = {name: text(value) for name, value in zip(names, row, strict=True)}
        indexes.setdefault(entry["key_name"], []).append(entry)
    by_name = {c.name: c for c in table_columns}
    candidates = [indexes["PRIMARY"]] if "PRIMARY" in indexes else [
        parts for parts in indexes.values() if parts[0]["non_unique"] == "0" and all(not p["null"] for p in parts)]
    if not candidates:
        return []
    parts = sorted(candidates[0], key=lambda p: int(p["seq_in_index"]))
    usable = all(p["index_type"].upper() == "BTREE" and not p["sub_part"] and p["column_name"] in by_name
                 and p.get("ignored", "NO").upper() != "YES" and p.get("visible", "YES").upper() != "NO"
                 and not p.get("expression") for p in parts)
    return [by_name[p["column_name"]] for p in parts] if usable else []


def show_create_table(conn: Any, table: str) -> bytes:
    return raw(query(conn, f"SHOW CREATE TABLE {quote_name(table)}")[0][1])


#: SHOW CREATE ... of each kind: where the statement, sql_mode, time zone, character sets and database
#: collation are in its row (None: not there).
_SHOW = {
    "VIEW": (1, None, None, 2, 3, None),
    "TRIGGER": (2, 1, None, 3, 4, 5),
    "FUNCTION": (2, 1, None, 3, 4, 5),
    "PROCEDURE": (2, 1, None, 3, 4, 5),
    "PACKAGE": (2, 1, None, 3, 4, 5),
    "PACKAGE BODY": (2, 1, None, 3, 4, 5),
    "EVENT": (3, 1, 2, 4, 5, 6),
}
ROUTINE_KINDS = ("FUNCTION", "PROCEDURE", "PACKAGE", "PACKAGE BODY")


class HiddenDefinition(Exception):
    """The server shows the object's name but not its text (the user lacks the privilege to see it)."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"{kind.lower()} {name}")
        self.kind, self.name = kind, name


def show_definition(conn: Any, kind: str, name: str, *, keep_definer: bool = False) -> Definition:
    """The definition of one object of the current database, its text as stored (see :class:`Definition`),
    without its DEFINER clause unless ``keep_definer``."""
    row = query(conn, f"SHOW CREATE {kind} {quote_name(name)}")[0]
    create, mode, zone, client, connection, database = _SHOW[kind]
    if row[create] is None or not raw(row[create]).strip():
        raise HiddenDefinition(kind, name)
    statement = raw(row[create]) if keep_definer else strip_definer(raw(row[create]))
    if kind in (*ROUTINE_KINDS, "EVENT"):
        statement = _comment_as_created(conn, kind, name, statement, text(row[client]),
                                        mode is not None and "NO_BACKSLASH_ESCAPES" in text(row[mode]).upper())
    if zone is not None and eventtimes.depends_on_server(text(row[zone])):
        statement = eventtimes.schedule_as_instants(conn, name, statement)
    return Definition(kind, name, statement,
                      sql_mode=text(row[mode]) if mode is not None else "",
                      charset_client=text(row[client]), collation_connection=text(row[connection]),
                      database_collation=text(row[database]) if database is not None else "",
                      time_zone=text(row[zone]) if zone is not None else "")


def _comment_as_created(conn: Any, kind: str, name: str, statement: bytes, client: str, no_escapes: bool) -> bytes:
    """The statement with its COMMENT written as it must be sent to create the object again: in the bytes
    of ``client`` (the object's ``character_set_client``), for the ``sql_mode`` it is created in.

    SHOW CREATE writes a routine's or event's body in the client's bytes but its comment, which the server
    keeps as utf8, in utf8 whatever the client was: created again under a latin1 client (as mariadb-dump's
    script does too, over a binary ``character_set_results``) an ``é`` in the comment became ``Ã©``, and
    more on every copy. It also writes the comment with backslash escapes whatever its sql_mode, so created
    again under ``NO_BACKSLASH_ESCAPES`` the comment would gain a backslash before every backslash, newline
    and NUL. A comment the client's character set cannot hold (changed by an ALTER over another client)
    is left as SHOW CREATE writes it.
    """
    if kind == "EVENT":
        sql = ("SELECT EVENT_COMMENT, CONVERT(EVENT_COMMENT USING {client}) FROM information_schema.EVENTS "
               "WHERE EVENT_SCHEMA=DATABASE() AND EVENT_NAME=%s")
        args: tuple[str, ...] = (name,)
    else:
        sql = ("SELECT ROUTINE_COMMENT, CONVERT(ROUTINE_COMMENT USING {client}) FROM information_schema.ROUTINES "
               "WHERE ROUTINE_SCHEMA=DATABASE() AND ROUTINE_NAME=%s AND ROUTINE_TYPE=%s")
        args = (name, kind)
    # Character set names are words the server gave; anything else is not converted.
    convert = client if re.fullmatch(r"[a-z0-9_]+", client or "") and client not in ("utf8mb4", "utf8mb3", "utf8",
                                                                                       "binary") else "utf8mb4"
    rows = query(conn, sql.format(client=convert), args)
    if not rows or not rows[0][0]:
        return statement
    comment, converted = raw(rows[0][0]), raw(rows[0][1])
    if convert != "utf8mb4":
        back = query(conn, f"SELECT CONVERT(CONVERT(%s USING {convert}) USING utf8mb4) = CONVERT(%s USING utf8mb4) "
                           "COLLATE utf8mb4_bin", (converted, comment))
        if not back or not back[0][0]:
            converted = comment

    def escaped(value: bytes) -> bytes:
        return (value.replace(b"\\", b"\\\\").replace(b"\0", b"\\0").replace(b"\n", b"\\n")
                .replace(b"\r", b"\\r").replace(b"'", b"''"))

    shown = b"COMMENT '" + escaped(comment) + b"'"
    wanted = b"COMMENT '" + (converted.replace(b"'", b"''") if no_escapes else escaped(converted)) + b"'"
    return statement.replace(shown, wanted, 1)


#: The server refuses to open some views inside a READ ONLY transaction (one that calls NEXTVAL()).
_READ_ONLY_TRANSACTION = 1792


def capture(conn: Any, db: str, *, routines: bool = True, events: bool = True,
            hidden: list[HiddenDefinition] | None = None, outside: Callable[[], Any] | None = None,
            keep_definer: bool = False) -> Objects:
    """Read the objects of ``db``. Selects ``db`` on the connection, so that the statements come back
    with unqualified names where the server writes them itself (views) and can be replayed in another
    database. Texts are read as the server keeps them (``character_set_results`` binary, for the time of
    the reading), in the character set each was created in.

    A routine or event whose text the user may not see raises :class:`HiddenDefinition`, unless
    ``hidden`` is given: then it is added there and left out. A view the server will not show inside the
    dumper's read-only transaction is read through ``outside``, a connection outside it (the text of a
    view is not part of the snapshot anyway).

    ``DEFINER=`` clauses are left out (the user loading a dump elsewhere may lack the privilege to name
    another definer), unless ``keep_definer``: the installer's swap re-creates objects on the server they
    came from, as they were.
    """
    conn.select_db(db)
    (results,) = query(conn, "SELECT @@character_set_results")[0]
    objects = Objects()
    try:
        query(conn, "SET SESSION character_set_results = binary")
        for name, kind in list_tables(conn, db):
            if kind != "VIEW":
                objects.tables.append(name)
                continue
            try:
                objects.views.append(show_definition(conn, "VIEW", name, keep_definer=keep_definer))
            except pymysql.err.OperationalError as exc:
                if outside is None or exc.args[0] != _READ_ONLY_TRANSACTION:
                    raise
                other = outside()
                other.select_db(db)
                query(other, "SET SESSION character_set_results = binary")
                objects.views.append(show_definition(other, "VIEW", name, keep_definer=keep_definer))
        tables = {}
        found: list[tuple[str, str]] = []
        for name, table in query(conn, "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS "
                                       "WHERE TRIGGER_SCHEMA=%s ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, "
                                       "EVENT_MANIPULATION, ACTION_ORDER", (db,)):
            found.append(("TRIGGER", text(name)))
            tables[text(name)] = text(table)
        if routines:
            found += [(text(kind).upper(), text(name)) for name, kind in query(
                conn, "SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA=%s "
                      "ORDER BY ROUTINE_TYPE, ROUTINE_NAME", (db,)) if text(kind).upper() in ROUTINE_KINDS]
        if events:
            found += [("EVENT", text(name)) for (name,) in query(
                conn, "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA=%s ORDER BY EVENT_NAME",
                (db,))]
        for kind, name in found:
            try:
                definition = show_definition(conn, kind, name, keep_definer=keep_definer)
            except HiddenDefinition as exc:
                if hidden is None:
                    raise
                hidden.append(exc)
                continue
            if kind == "TRIGGER":
                definition.table = tables[name]
            {"TRIGGER": objects.triggers, "EVENT": objects.events}.get(kind, objects.routines).append(definition)
    finally:
        query(conn, f"SET SESSION character_set_results = {text(results) or 'NULL'}")
    return objects


#: The completion clause of an event dropped on completion, as ``SHOW CREATE EVENT`` (and so every dump) writes
#: it, before its status.
_NOT_PRESERVED = re.compile(rb"(\bON\s+COMPLETION\s+)NOT\s+(PRESERVE\s+(?:ENABLE|DISABLE)\b)", re.IGNORECASE)


def kept_event(statement: bytes, name: str) -> list[bytes]:
    """The statements that make the event ``statement`` creates as production holds it, when it is one the
    server drops the moment it is created (empty otherwise): an event ``ON COMPLETION NOT PRESERVE`` whose
    schedule has ended, which the server keeps while it is disabled or the scheduler is off, but drops at
    once when ``CREATE EVENT`` makes it (with a note only). It is created preserved, then altered."""
    preserved, found = _NOT_PRESERVED.subn(rb"\1\2", statement, count=1)
    if not found:
        return []
    return [preserved, b"ALTER EVENT " + quote_name(name).encode("utf-8", "surrogateescape")
            + b" ON COMPLETION NOT PRESERVE"]


def event_exists(conn: Any, name: str) -> bool:
    """Whether the database selected on ``conn`` has the event ``name``."""
    return bool(query(conn, "SELECT 1 FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() AND "
                            "EVENT_NAME = %s", (name,)))


def create_definition(conn: Any, db: str, definition: Definition, *,
                      switched: Callable[[], None] | None = None) -> None:
    """Create ``definition`` in ``db`` (selected on ``conn``) under the session settings it was made in.

    The database's default collation is switched to the object's own for the moment of its creation
    when they differ, as mariadb-dump's script does, since triggers, routines and events keep it. The
    session's settings and the database's default are put back afterwards, whatever happens (short of a
    kill: the installer's swap calls ``switched`` while the default is another, and puts a killed swap's
    databases' defaults back itself).
    """
    (mode, client, connection, zone, current) = query(
        conn, "SELECT @@sql_mode, @@character_set_client, @@collation_connection, @@time_zone, "
              "@@collation_database")[0]
    switch = bool(definition.database_collation) and definition.database_collation != text(current)
    settings = [f"sql_mode = {quote_string(definition.sql_mode)}"]
    if definition.charset_client:
        settings.append(f"character_set_client = {definition.charset_client}")
    if definition.collation_connection:
        settings.append(f"collation_connection = {definition.collation_connection}")
    if definition.time_zone:
        settings.append(f"time_zone = {quote_string(definition.time_zone)}")
    try:
        if switch:
            query(conn, f"ALTER DATABASE {quote_name(db)} COLLATE {definition.database_collation}")
            if switched is not None:
                switched()
        query(conn, "SET SESSION " + ", ".join(settings))
        with conn.cursor() as cur:
            cur.execute(definition.create)
            if definition.kind == "EVENT" and (again := kept_event(definition.create, definition.name)) and (
                    not event_exists(conn, definition.name)):
                for statement in again:
                    cur.execute(statement)
    finally:
        query(conn, f"SET SESSION sql_mode = {quote_string(text(mode))}, character_set_client = {text(client)}, "
                    f"collation_connection = {text(connection)}, time_zone = {quote_string(text(zone))}")
        if switch:
            query(conn, f"ALTER DATABASE {quote_name(db)} COLLATE {text(current)}")


def moved(objects: Objects, old: str, new: str, case_insensitive: bool = False) -> Objects:
    """``objects`` as they must be created in database ``new`` when they come from ``old``: names they
    qualify with ``old`` point at ``new`` (see :mod:`.qualify`), in any case where the server compares
    database names without it (``lower_case_table_names``: under 2, macOS' default, a view of database
    ``App__synco_new`` names its tables' database ``app__synco_new``)."""
    def move(definition: Definition) -> Definition:
        mode = qualify.Mode.of(definition.charset_client, definition.sql_mode, definition.kind)
        create, ambiguous = qualify.requalify(definition.create, old, new, mode, case_insensitive)
        if ambiguous:
            log.warning("%s %s: %r also names a table, column or alias in it; only the names that must be the "
                        "database were pointed at %r", definition.kind.lower(), definition.name, old, new)
        return dataclasses.replace(definition, create=create)

    return Objects(tables=list(objects.tables), views=[move(d) for d in objects.views],
                   triggers=[move(d) for d in objects.triggers], routines=[move(d) for d in objects.routines],
                   events=[move(d) for d in objects.events])


#: A foreign key's line in SHOW CREATE TABLE (one per line, after the columns and keys), its name in group 1.
_FOREIGN_KEY_LINE = re.compile(rb"^  (CONSTRAINT `((?:[^`]|``)+)` FOREIGN KEY .*?),?$", re.MULTILINE)


def move_foreign_keys(conn: Any, db: str, tables: list[str], old: str) -> None:
    """Point the foreign keys of ``tables`` (now in ``db``) that refer to a table of database ``old`` at the
    table of that name in ``db``.

    ``RENAME TABLE`` moves a table with its foreign keys, and those to a table moved with it follow; one to a
    table that does not exist (dropped under ``foreign_key_checks = 0``, or never made) keeps naming it in the
    database it was made in. Each is dropped and made again (the server takes no two keys of one name in one
    ``ALTER``), in place, without checking the rows, which production holds as they are. Only keys still naming
    ``old`` are changed, so this can run again after a kill; an install killed between the two ``ALTER``s is
    undone whole, the scratch tables dropped with it.
    """
    if not tables or old == db:
        return
    moving = set(tables)
    rows = query(conn, "SELECT TABLE_NAME, CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS "
                       "WHERE CONSTRAINT_SCHEMA=%s AND UNIQUE_CONSTRAINT_SCHEMA=%s ORDER BY TABLE_NAME", (db, old))
    names: dict[str, set[bytes]] = {}
    for table, constraint in rows:
        if text(table) in moving:
            names.setdefault(text(table), set()).add(raw(constraint))
    if not names:
        return
    (checks,) = query(conn, "SELECT @@SESSION.foreign_key_checks")[0]
    query(conn, "SET SESSION foreign_key_checks = 0")
    try:
        for table, wanted in names.items():
            qualified = f"{quote_name(db)}.{quote_name(table)}"
            create = raw(query(conn, f"SHOW CREATE TABLE {qualified}")[0][1])
            clauses = [match.group(1) for match in _FOREIGN_KEY_LINE.finditer(create)
                       if match.group(2).replace(b"``", b"`") in wanted]
            if not clauses:
                continue
            drops = b", ".join(b"DROP FOREIGN KEY " + clause.split(b" FOREIGN KEY ", 1)[0][len(b"CONSTRAINT "):]
                               for clause in clauses)
            adds = b", ".join(b"ADD " + qualify.requalify(clause, old, None)[0] for clause in clauses)
            with conn.cursor() as cur:
                cur.execute(qualified.encode().join([b"ALTER TABLE ", b" " + drops]))
                cur.execute(qualified.encode().join([b"ALTER TABLE ", b" " + adds]))
    finally:
        query(conn, f"SET SESSION foreign_key_checks = {int(checks)}")


def move_defaults(conn: Any, db: str, tables: list[str], old: str) -> None:
    """Point the column defaults of ``tables`` (now in ``db``) that name database ``old`` at ``db``.

    ``RENAME TABLE`` moves a table to another database with its defaults as written, and the server
    writes a default that draws from a sequence with the sequence's database (``nextval(`old`.`seq`)``).
    """
    if not tables or old == db:
        return
    moving = set(tables)
    rows = query(conn, "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_DEFAULT FROM information_schema.COLUMNS "
                       "WHERE TABLE_SCHEMA=%s AND LOCATE(%s, COLUMN_DEFAULT) > 0 ORDER BY TABLE_NAME, "
                       "ORDINAL_POSITION", (db, old))
    # One ALTER per table for all its columns: the server checks every default of the table's new definition,
    # and one still naming a sequence in ``old`` (two columns drawing from sequences) failed the first ALTER
    # ("Table 'old.seq' doesn't exist").
    changes: dict[str, list[bytes]] = {}
    for table, column, default in rows:
        if text(table) not in moving:
            continue
        expression, _ = qualify.requalify(raw(default), old, db)
        if expression != raw(default):
            changes.setdefault(text(table), []).append(
                f"ALTER COLUMN {quote_name(text(column))} SET DEFAULT (".encode() + expression + b")")
    for table, clauses in changes.items():
        with conn.cursor() as cur:
            cur.execute(f"ALTER TABLE {quote_name(db)}.{quote_name(table)} ".encode() + b", ".join(clauses))
