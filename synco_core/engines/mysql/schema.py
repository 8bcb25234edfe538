"""Reading a database's objects: tables, columns, views, triggers, routines and events.

Shared by the dumper (to write them) and the installer (to move them between databases, since
``RENAME TABLE`` moves tables but neither views across databases nor tables that carry triggers).
Every query goes through the connection given, so inside the dumper's snapshot transaction the
statements see the same moment as the rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from synco_core.engines.mysql.connect import quote_name
from synco_core.engines.mysql.literals import INTEGER_TYPES, Column

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
    """A view, trigger, routine or event: its kind, name, CREATE statement and sql_mode."""

    kind: str
    name: str
    create: bytes
    sql_mode: str = ""
    #: The session settings the object was created under, which the server keeps with it (and
    #: ``mariadb-dump`` restores): character_set_client, collation_connection and, for events, time_zone.
    client_charset: str = ""
    connection_collation: str = ""
    time_zone: str = ""


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


def list_tables(conn: Any, db: str) -> list[tuple[str, str]]:
    """(name, type) of every table and view, by name. Sequences count as tables."""
    rows = query(conn, "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s "
                       "ORDER BY TABLE_NAME", (db,))
    return [(text(name), "VIEW" if text(kind) == "VIEW" else text(kind)) for name, kind in rows]


def columns(conn: Any, db: str, table: str) -> list[Column]:
    rows = query(conn, "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_SET_NAME, EXTRA, IS_NULLABLE "
                       "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s "
                       "ORDER BY ORDINAL_POSITION", (db, table))
    result = []
    for name, data_type, charset, extra, nullable in rows:
        extra_text = text(extra).upper()
        # MySQL 8 marks expression defaults DEFAULT_GENERATED: those are ordinary, dumped columns.
        generated = any(tag in extra_text for tag in ("VIRTUAL GENERATED", "STORED GENERATED", "PERSISTENT GENERATED"))
        generated = generated or extra_text in ("VIRTUAL", "PERSISTENT")
        result.append(Column(text(name), text(data_type).lower(), text(charset).lower() or None, generated,
                             nullable=text(nullable).upper() != "NO"))
    return result


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


def show_create_table(conn: Any, table: str) -> bytes:
    return raw(query(conn, f"SHOW CREATE TABLE {quote_name(table)}")[0][1])


def capture(conn: Any, db: str, *, routines: bool = True, events: bool = True, keep_definer: bool = False) -> Objects:
    """Read the objects of ``db``. Selects ``db`` on the connection, so that the statements come back
    with unqualified names and can be replayed in another database.

    ``DEFINER=`` clauses are left out (the user loading a dump elsewhere may lack the privilege to name
    another definer), unless ``keep_definer``: the installer's swap re-creates objects on the server they
    came from, as they were.
    """
    conn.select_db(db)
    clean = (lambda statement: statement) if keep_definer else strip_definer
    objects = Objects()
    for name, kind in list_tables(conn, db):
        if kind == "VIEW":
            row = query(conn, f"SHOW CREATE VIEW {quote_name(name)}")[0]
            objects.views.append(Definition("VIEW", name, clean(raw(row[1])), "", text(row[2]),
                                            text(row[3])))
        else:
            objects.tables.append(name)
    trigger_rows = query(conn, "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA=%s "
                               "ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER", (db,))
    for (name,) in trigger_rows:
        row = query(conn, f"SHOW CREATE TRIGGER {quote_name(text(name))}")[0]
        objects.triggers.append(Definition("TRIGGER", text(name), clean(raw(row[2])), text(row[1]),
                                           text(row[3]), text(row[4])))
    if routines:
        for name, kind in query(conn, "SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES "
                                      "WHERE ROUTINE_SCHEMA=%s ORDER BY ROUTINE_TYPE, ROUTINE_NAME", (db,)):
            kind_text = text(kind).upper()
            if kind_text not in ("PROCEDURE", "FUNCTION"):
                continue  # MariaDB packages need Oracle mode; they are left alone.
            row = query(conn, f"SHOW CREATE {kind_text} {quote_name(text(name))}")[0]
            if row[2] is None:
                continue  # The body is hidden from users without the privilege to see it.
            objects.routines.append(Definition(kind_text, text(name), clean(raw(row[2])), text(row[1]),
                                               text(row[3]), text(row[4])))
    if events:
        for (name,) in query(conn, "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA=%s "
                                   "ORDER BY EVENT_NAME", (db,)):
            row = query(conn, f"SHOW CREATE EVENT {quote_name(text(name))}")[0]
            objects.events.append(Definition("EVENT", text(name), clean(raw(row[3])), text(row[1]),
                                             text(row[4]), text(row[5]), text(row[2])))
    return objects
