"""The MariaDB/MySQL swap of install and rollback, safe against ``kill -9`` at any moment.

Databases named after the target ``db``: ``db__synco_new`` (the scratch database the dump is loaded into),
``db__synco_prev`` (the kept copy, for ``synco db rollback``) and ``db__synco_swap`` (through which a
rollback passes the tables it takes out). Tables move between them with one ``RENAME TABLE`` statement,
which the server applies atomically. Views, triggers, routines and events cannot move that way (a view
cannot change database, nor can a table with triggers), so they are dropped before the rename and created
again after it, as they were: their definer and the session each was made in (sql_mode, client character
set and collation, the database's default collation, an event's time zone; see
:func:`~synco_core.engines.mysql.schema.create_definition`), with the names they qualify with the database
they came from pointed at the one they are created in (:mod:`.qualify`). Column defaults that draw from a
sequence name its database too: after the rename they are pointed at the database their table is in now.
Between the drop and the creation, the definitions exist only in the journal:

- ``db__synco_prev.__synco_journal`` is an InnoDB table holding the swap's state (with the default
  character set and collation of the target and the kept copy, which creating an object switches for a
  moment), the tables and the CREATE statement of every view, trigger, routine and event on both sides,
  each with its session settings, as it is to be created in the target. It is written and committed
  before anything is dropped.
- A marker table ``__synco_moving`` starts in the scratch (or swap) database and moves into the kept copy
  in the same ``RENAME TABLE`` as the data: where it is tells whether that statement ran, even when the
  process died waiting for it (the server finishes a statement whose client is gone).

While the journal says ``swapping``, nothing is final: whatever stopped the swap (an error, Ctrl-C, a
kill), :func:`recover` puts the target back exactly as it was before the interrupted install or rollback.
Every install and rollback runs it first, under a server lock (``GET_LOCK``) that makes two synco commands
on one database wait for each other. Once the journal says ``kept``, the kept copy holds the previous
content, which its ``before`` rows describe; a rollback refuses a kept copy that has no such journal or
lacks a table the journal lists.

What the next command does after a kill: an interrupted install is undone (a rollback then stops there:
the target is what it was before that install); an interrupted rollback is undone and, by a rollback,
done again in full.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import pymysql

from synco_core.engines import crashpoints, guard
from synco_core.engines.mysql import grants, schema, visibility
from synco_core.engines.mysql.connect import describe, quote_name
from synco_core.errors import DatabaseError, SyncoError
from synco_core.listing import some_names

log = logging.getLogger(__name__)

SCRATCH_SUFFIX = "__synco_new"
BACKUP_SUFFIX = "__synco_prev"
TRANSIT_SUFFIX = "__synco_swap"
JOURNAL = "__synco_journal"
MARKER = "__synco_moving"
#: Most objects a one-line message names (a Magento target holds hundreds of triggers, an ERP thousands of
#: routines); the rest are counted.
NAMED = 20
#: The databases beside a target, by suffix: what each holds (a target may not be named so).
OWN_DATABASES = {SCRATCH_SUFFIX: "the scratch copy an install loads", BACKUP_SUFFIX: "the previous content",
                 TRANSIT_SUFFIX: "what a rollback takes out"}
#: synco's own tables, which never count as content.
OWN_TABLES = frozenset({JOURNAL, MARKER})
#: Engines whose tables the server cannot rename into another database (Mroonga answers "doesn't yet
#: support 'ALTER TABLE'"), which every swap does; the dump refuses them too (:mod:`.unsupported`).
UNMOVABLE_ENGINES = frozenset({"MROONGA"})
_MAX_NAME = 64
#: How long an install or rollback waits for another one on the same database (or for the last statement
#: of a killed one, which the server finishes first) before giving up.
LOCK_WAIT_SECONDS = 30

#: How long the swap waits for a table, view or sequence that another session holds (an open transaction
#: of the application that read or wrote it, a database console with autocommit off, LOCK TABLES) before
#: giving up, in s. The server's own wait (lock_wait_timeout) is a day by default, and while a DROP or
#: RENAME waits for a table, every other query on it waits behind that: the application would hang too.
TABLE_WAIT_SECONDS = 30

#: "Access denied for user ... to database ...".
ER_DBACCESS_DENIED = 1044
#: "Lock wait timeout exceeded": here, a metadata lock another session held for lock_wait_timeout.
ER_LOCK_WAIT_TIMEOUT = 1205

SWAPPING = "swapping"
KEPT = "kept"


def derived_name(db: str, suffix: str, *, fold: bool = False) -> str:
    """``db + suffix``, shortened with a hash when that would exceed MySQL's 64-character limit.

    ``fold``: the server folds database names (``lower_case_table_names``), so the hash is of the name in lower
    case, and every spelling of one database gets the same names beside it (the server folds the rest).
    """
    name = db + suffix
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha1((db.lower() if fold else db).encode()).hexdigest()[:8]
    return db[:_MAX_NAME - len(suffix) - 9] + "_" + digest + suffix


@dataclass(frozen=True)
class Names:
    """The target and the databases named after it."""

    target: str
    scratch: str
    backup: str
    transit: str

    @staticmethod
    def of(target: str, where: str = "the server") -> Names:
        """The names beside ``target``; a target that is itself one of them (another's) is refused."""
        # Database names are folded to lower case where the server runs with lower_case_table_names.
        guard.refuse_derived_name(target, OWN_DATABASES, "MySQL", where, fold_case=True)
        return Names(target, derived_name(target, SCRATCH_SUFFIX), derived_name(target, BACKUP_SUFFIX),
                     derived_name(target, TRANSIT_SUFFIX))

    @staticmethod
    def on_server(conn: Any, target: str, where: str = "the server") -> Names:
        """:meth:`of`, as the server ``conn`` reaches folds database names.

        Under ``lower_case_table_names`` ``Shop`` and ``shop`` are one database, but the hash in a long target's
        names was of the name as written: an install through one spelling kept the previous content where a
        rollback through another never looked. There the hash is of the folded name (:func:`derived_name`); a
        database an older synco named after the spelling's own hash, when the folded name has none, is still
        the one used, so its kept copy is rolled back and its leftovers cleaned up.
        """
        written = Names.of(target, where)
        if int(schema.query(conn, "SELECT @@lower_case_table_names")[0][0] or 0) == 0:
            return written
        chosen = []
        for suffix, older in zip((SCRATCH_SUFFIX, BACKUP_SUFFIX, TRANSIT_SUFFIX), written.beside(), strict=True):
            folded = derived_name(target, suffix, fold=True)
            older_only = folded.lower() != older.lower() and not exists(conn, folded) and exists(conn, older)
            chosen.append(older if older_only else folded)
        return Names(target, *chosen)

    def beside(self) -> tuple[str, str, str]:
        """The databases synco creates and drops beside the target."""
        return self.scratch, self.backup, self.transit

    def needed_grant(self) -> str:
        """What a user whose rights end at the target database lacks, in words, with the grant that gives it."""
        named = ", ".join(repr(name) for name in self.beside())
        escaped = self.target.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%").replace("`", "``")
        shortened = any(name != self.target + suffix for name, suffix in
                        zip(self.beside(), (SCRATCH_SUFFIX, BACKUP_SUFFIX, TRANSIT_SUFFIX), strict=True))
        grant = "" if shortened else f" (GRANT ALL ON `{escaped}\\_\\_synco\\_%`.* TO the user)"
        return f"the right to create and drop the databases {named} beside it{grant}"

    def denied(self, exc: BaseException) -> bool:
        """True for the server's refusal to let this user at one of the databases beside the target."""
        return (isinstance(exc, pymysql.err.MySQLError) and len(exc.args) >= 2 and exc.args[0] == ER_DBACCESS_DENIED
                and any(f"'{name}'" in str(exc.args[1]) for name in self.beside()))

    def staging(self, operation: str) -> str:
        """Where the marker starts: the scratch database of an install, the swap database of a rollback."""
        return self.scratch if operation == "install" else self.transit


@dataclass
class Journal:
    """What ``__synco_journal`` says: the operation, its phase, and both sides' objects.

    ``before`` is the target's content when the operation started (once ``kept``: the kept copy's content),
    ``after`` what the operation puts into the target.
    """

    operation: str = ""
    phase: str = ""
    created_target: bool = False
    before: schema.Objects = field(default_factory=schema.Objects)
    after: schema.Objects = field(default_factory=schema.Objects)
    #: Database name -> (default character set, collation) before the swap, to be put back by an undo.
    defaults: dict[str, tuple[str, str]] = field(default_factory=dict)


def execute(conn: Any, sql: str | bytes, args: Any = None) -> None:
    with conn.cursor() as cur:
        cur.execute(sql, args)


def plain_session(conn: Any) -> None:
    """Put ``conn`` in the sql_mode the swap reads definitions in: none. The server's own may hold
    ANSI_QUOTES (ANSI and ORACLE do), and then writes SHOW CREATE with names in double quotes, which the
    definition's own sql_mode, the one it is created again in, need not parse: the swap and its undo would
    stop halfway."""
    execute(conn, "SET SESSION sql_mode = ''")


def exists(conn: Any, db: str) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME=%s", (db,))
        return cur.fetchone() is not None


def _has_table(conn: Any, db: str, table: str) -> bool:
    return bool(schema.query(conn, "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s",
                             (db, table)))


def database_defaults(conn: Any, db: str) -> tuple[str, str] | None:
    """The default character set and collation of ``db``; None when there is no such database."""
    rows = schema.query(conn, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM "
                              "information_schema.SCHEMATA WHERE SCHEMA_NAME=%s", (db,))
    return (schema.text(rows[0][0]), schema.text(rows[0][1])) if rows else None


def create_like(conn: Any, db: str, model: str) -> None:
    """Create ``db`` (dropping any leftover) with the character set, collation and comment of ``model``; without
    one, with the server's, as ``CREATE DATABASE`` makes one (a script that names none loads as into a database its user
    made: its tables' defaults follow the database's). A dump naming its own sets them when it loads."""
    execute(conn, f"DROP DATABASE IF EXISTS {quote_name(db)}")
    defaults = database_defaults(conn, model)
    if defaults is None:
        execute(conn, f"CREATE DATABASE {quote_name(db)}")
        return
    charset, collation = defaults
    execute(conn, f"CREATE DATABASE {quote_name(db)} CHARACTER SET {charset} COLLATE {collation}")
    comment = schema.database_comment(conn, model)
    if comment:
        # Quoted by the connection, which knows the session's NO_BACKSLASH_ESCAPES (a name may hold a %).
        execute(conn, f"ALTER DATABASE {quote_name(db)} COMMENT {conn.escape(comment)}")


def lock(conn: Any, target: str) -> None:
    """Hold the server lock of ``target`` on ``conn`` until it closes (a killed process's closes with it).

    Named after the name in lower case: where the server folds database names (lower_case_table_names 1 or
    2), ``Shop`` and ``shop`` are one database, whose installs must wait for each other. Elsewhere two
    databases differing only by case merely wait for each other too.
    """
    name = "synco:" + hashlib.sha1(target.lower().encode("utf-8", "surrogateescape")).hexdigest()
    with conn.cursor() as cur:
        cur.execute("SELECT GET_LOCK(%s, %s)", (name, LOCK_WAIT_SECONDS))
        got = cur.fetchone()[0]
    if got != 1:
        raise SyncoError(f"another synco command is installing into or rolling back MySQL database {target!r} "
                         "(or the last statement of one that was stopped is still running on the server); "
                         "try again when it is done")


def require_read_write(conn: Any) -> None:
    """Refuse a server whose sessions start read-only (``tx_read_only``, MySQL 8's ``transaction_read_only``):
    every statement that writes failed, in the check before the download and in the install, in the server's
    words naming no setting ("Cannot execute statement in a READ ONLY transaction"). The setting is the
    server's owner's choice, as ``read_only`` is, so it is named rather than overridden. Called first, before
    anything is written (a journal recovered included)."""
    for name, value in schema.query(conn, "SHOW SESSION VARIABLES WHERE Variable_name IN "
                                          "('tx_read_only', 'transaction_read_only')"):
        if schema.text(value).upper() in ("ON", "1"):
            setting = schema.text(name)
            raise DatabaseError(f"the server starts every session read-only ({setting}=ON), so no install can "
                                f"write: turn it off on this server (SET GLOBAL {setting}=0, and in its "
                                "configuration) and install again")


def require_replaceable(conn: Any, db: str, user: str, *, sides: tuple[str, ...] = ()) -> None:
    """Refuse, before anything changes, a swap of ``db`` this user could not finish nor undo.

    - Tables, triggers, routines or events of ``db`` the server may hide from the user (:mod:`.visibility`):
      what the swap does not see stays in the target beside the new content.
    - A routine or event in ``db`` whose text the user may not read: the swap must drop every definition of
      the target and create it again elsewhere (in the kept copy, or back in the target on rollback); one it
      cannot read would stay in the target beside the new content, missing from the kept copy, and a new one
      of the same name would fail halfway through the swap.
    - Triggers or stored functions in ``db`` or in ``sides`` (the kept copy a rollback brings back) while
      the server writes a binary log, does not trust function creators and the user lacks SUPER: MariaDB
      then lets it neither drop nor create them (``DROP TRIGGER IF EXISTS`` included), so the swap would
      fail, and so would its undo, which needs the same statements.
    """
    if not exists(conn, db):
        return
    tables = [name for name, kind in schema.list_tables(conn, db) if kind not in ("VIEW", "SEQUENCE")]
    unseen = visibility.unseen(conn, db, tables, routines=True, events=True)
    if unseen:
        # What the swap cannot see it cannot move: it would stay in the target beside the new content.
        raise DatabaseError(f"user {user!r} may not see all of database {db!r}, which the swap moves whole: "
                            + "; ".join(unseen))
    require_movable(conn, db, *sides)
    hidden: list[schema.HiddenDefinition] = []
    schema.capture(conn, db, hidden=hidden)
    if hidden:
        named = ", ".join(f"{h.kind.lower()} {h.name}" for h in hidden)
        needed = " and ".join(sorted({"EVENT on the database" if h.kind == "EVENT" else "SELECT on mysql.proc"
                                      for h in hidden}))
        raise DatabaseError(f"database {db!r} holds {named}, whose text user {user!r} may not read (another user "
                            f"defined it; reading it needs {needed}): synco could neither keep it for rollback nor "
                            "replace it")
    (binlog, trusted, version) = schema.query(conn, "SELECT @@log_bin, @@log_bin_trust_function_creators, VERSION()")[0]
    if not int(binlog) or int(trusted) or grants.current(conn, db).on_server("SUPER"):
        return
    # MySQL asks for SUPER for stored functions only; MariaDB for triggers too.
    kinds = "triggers and stored functions" if "mariadb" in schema.text(version).lower() else "stored functions"
    for side in (db, *sides):
        if not exists(conn, side):
            continue
        found = [f"function {schema.text(name)}" for (name,) in schema.query(
            conn, "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA=%s "
                  "AND ROUTINE_TYPE='FUNCTION'", (side,))]
        if kinds.startswith("triggers"):
            found += [f"trigger {schema.text(name)}" for (name,) in schema.query(
                conn, "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA=%s", (side,))]
        if found:
            raise DatabaseError(f"database {side!r} holds {some_names(sorted(found), NAMED)}, and the server writes "
                                f"a binary log: without the SUPER privilege user {user!r} may neither drop nor create "
                                f"{kinds} there (set log_bin_trust_function_creators=1 in the server's "
                                "configuration, or grant SUPER)")


def unmovable_tables(engines: dict[str, str]) -> list[str]:
    """``table `t` (engine Mroonga)`` for each table of ``engines`` (name: engine) the swap could not move."""
    return [f"table `{name}` (engine {engine})" for name, engine in sorted(engines.items())
            if engine.upper() in UNMOVABLE_ENGINES]


def require_movable(conn: Any, *databases: str) -> None:
    """Refuse, before anything changes, a swap through databases holding tables it could not move."""
    for db in databases:
        found = unmovable_tables({schema.text(name): schema.text(engine) for name, engine in schema.query(
            conn, "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s "
                  "AND ENGINE IS NOT NULL", (db,))})
        if found:
            raise DatabaseError(f"database {db!r} holds {', '.join(found)}: MariaDB cannot move such a table to "
                                "another database, which synco's swap does (install, rollback); convert it "
                                "(ALTER TABLE ... ENGINE=InnoDB) or load it with the mariadb client")


def content(conn: Any, db: str) -> schema.Objects:
    """The tables and definitions of ``db``, without synco's own tables.

    Definitions whose text this user may not read are left out: they cannot be created again (an install
    or rollback refuses a target holding one first, see :func:`require_replaceable`).
    """
    objects = schema.capture(conn, db, keep_definer=True, hidden=[])
    objects.tables = [t for t in objects.tables if t not in OWN_TABLES]
    return objects


# ----------------------------------------------------------------------------------------------- journal

_JOURNAL_TABLE = f"""CREATE TABLE {{db}}.{quote_name(JOURNAL)} (
  position INT NOT NULL PRIMARY KEY,
  side VARCHAR(8) NOT NULL,
  kind VARCHAR(16) NOT NULL,
  name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  sql_mode VARCHAR(1024) NOT NULL,
  charset_client VARCHAR(64) NOT NULL,
  collation_connection VARCHAR(64) NOT NULL,
  database_collation VARCHAR(64) NOT NULL,
  time_zone VARCHAR(64) NOT NULL,
  trigger_table VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  body LONGBLOB NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""
_COLUMNS = ("position, side, kind, name, sql_mode, charset_client, collation_connection, database_collation, "
            "time_zone, trigger_table, body")


def _rows(journal: Journal) -> list[tuple[Any, ...]]:
    state = json.dumps({"operation": journal.operation, "phase": journal.phase,
                        "created_target": journal.created_target,
                        "defaults": {db: list(pair) for db, pair in journal.defaults.items()}}).encode()
    rows: list[tuple[Any, ...]] = [(0, "state", "STATE", "", "", "", "", "", "", "", state)]
    for side, objects in (("before", journal.before), ("after", journal.after)):
        for table in objects.tables:
            rows.append((len(rows), side, "TABLE", table, "", "", "", "", "", "", b""))
        for d in [*objects.routines, *objects.views, *objects.triggers, *objects.events]:
            rows.append((len(rows), side, d.kind, d.name, d.sql_mode, d.charset_client, d.collation_connection,
                         d.database_collation, d.time_zone, d.table, d.create))
    return rows


def write_journal(conn: Any, backup: str, journal: Journal) -> None:
    """Replace the journal's content in one committed transaction."""
    table = f"{quote_name(backup)}.{quote_name(JOURNAL)}"
    execute(conn, "START TRANSACTION")
    try:
        execute(conn, f"DELETE FROM {table}")
        with conn.cursor() as cur:
            # PyMySQL formats the statement with %: a % in the database's name must reach it as %%.
            cur.executemany(f"INSERT INTO {table.replace('%', '%%')} ({_COLUMNS}) VALUES ({', '.join(['%s'] * 11)})",
                            _rows(journal))
        execute(conn, "COMMIT")
    except BaseException:
        # On a connection that is gone the ROLLBACK fails too (PyMySQL's bare "(0)"), and its error would
        # replace the one that says what happened.
        if conn.open:
            with contextlib.suppress(pymysql.err.MySQLError):
                execute(conn, "ROLLBACK")
        raise


def read_journal(conn: Any, backup: str) -> Journal | None:
    """The journal of the kept copy; None when there is none (no kept copy, or one without a journal).

    A journal without its state row (an install stopped while creating it) reads as a Journal whose
    phase is empty.
    """
    if not _has_table(conn, backup, JOURNAL):
        return None
    journal = Journal()
    rows = schema.query(conn, f"SELECT {_COLUMNS} FROM {quote_name(backup)}.{quote_name(JOURNAL)} ORDER BY position")
    for _, side, kind, name, sql_mode, client, connection, database, time_zone, table, body in rows:
        side, kind, name = schema.text(side), schema.text(kind), schema.text(name)
        if side == "state":
            state = json.loads(schema.raw(body))
            journal.operation, journal.phase = str(state["operation"]), str(state["phase"])
            journal.created_target = bool(state.get("created_target"))
            journal.defaults = {str(db): (str(pair[0]), str(pair[1]))
                                for db, pair in state.get("defaults", {}).items()}
            continue
        objects = journal.before if side == "before" else journal.after
        if kind == "TABLE":
            objects.tables.append(name)
            continue
        definition = schema.Definition(kind, name, schema.raw(body), sql_mode=schema.text(sql_mode),
                                       charset_client=schema.text(client), collation_connection=schema.text(connection),
                                       database_collation=schema.text(database), time_zone=schema.text(time_zone),
                                       table=schema.text(table))
        {"VIEW": objects.views, "TRIGGER": objects.triggers, "EVENT": objects.events}.get(
            kind, objects.routines).append(definition)
    return journal


def create_journal(conn: Any, names: Names, model: str) -> None:
    """A new, empty kept copy with an empty journal table (the previous kept copy is dropped)."""
    create_like(conn, names.backup, model)
    execute(conn, _JOURNAL_TABLE.format(db=quote_name(names.backup)))


# ------------------------------------------------------------------------------------------- definitions

def drop_definitions(conn: Any, db: str, step: str) -> None:
    """Drop every view, trigger, routine and event of ``db`` (as they are now, whatever they are), but
    those this user may not read (which could not be created again)."""
    objects = schema.capture(conn, db, hidden=[])
    conn.select_db(db)
    for definition in [*objects.triggers, *objects.views, *objects.routines, *objects.events]:
        _drop_one(conn, definition)
        crashpoints.reached(f"{step}:definition-dropped")


def _drop_one(conn: Any, definition: schema.Definition) -> None:
    statement = f"DROP {definition.kind} IF EXISTS {quote_name(definition.name)}"
    if not definition.kind.startswith("PACKAGE"):
        execute(conn, statement)
        return
    # DROP PACKAGE exists only in the grammar of sql_mode ORACLE (SET STATEMENT comes too late: the
    # statement is parsed before it applies).
    with conn.cursor() as cur:
        cur.execute("SELECT @@SESSION.sql_mode")
        (mode,) = cur.fetchone()
    execute(conn, "SET SESSION sql_mode = 'ORACLE'")
    try:
        execute(conn, statement)
    finally:
        execute(conn, "SET SESSION sql_mode = %s", (schema.text(mode),))


def create_definitions(conn: Any, db: str, objects: schema.Objects, step: str, *,
                       disable_events: bool = False) -> None:
    """Create routines (views may call them), views (in dependency order, by retrying), triggers and
    events in ``db``, each as it was: its definer and the session it was made in."""
    conn.select_db(db)
    for definition in objects.routines:
        _create_one(conn, db, definition, step)
    pending = list(objects.views)
    while pending:
        # A view on a view not created yet fails: retry the failed ones while each round makes progress.
        failed: list[tuple[schema.Definition, DatabaseError]] = []
        for definition in pending:
            try:
                _create_one(conn, db, definition, step)
            except DatabaseError as exc:
                failed.append((definition, exc))
        if len(failed) == len(pending):
            raise failed[0][1]
        pending = [definition for definition, _ in failed]
    for definition in [*objects.triggers, *objects.events]:
        _create_one(conn, db, definition, step, disable=disable_events and definition.kind == "EVENT")


#: "You need the SUPER or SET USER privilege": naming another definer is not allowed to this user.
_ER_SPECIFIC_ACCESS_DENIED = 1227


def _create_one(conn: Any, db: str, definition: schema.Definition, step: str, *, disable: bool = False) -> None:
    def switched() -> None:
        crashpoints.reached(f"{step}:collation-switched")

    try:
        try:
            schema.create_definition(conn, db, definition, switched=switched)
        except pymysql.err.MySQLError as exc:
            if not exc.args or exc.args[0] != _ER_SPECIFIC_ACCESS_DENIED:
                raise
            # Only a privileged user may name another definer: this one becomes the definer instead.
            schema.create_definition(conn, db, dataclasses.replace(definition,
                                                                   create=schema.strip_definer(definition.create)))
            log.warning("%s %s in %s is now defined by this user, not %s (naming another definer needs SUPER or "
                        "SET USER)", definition.kind.lower(), definition.name, db,
                        schema.definer(definition.create) or "its definer")
        if disable:
            execute(conn, f"ALTER EVENT {quote_name(definition.name)} DISABLE")
    except pymysql.err.MySQLError as exc:
        raise DatabaseError(f"cannot create {definition.kind.lower()} {definition.name!r} in {db!r}: "
                            f"{describe(exc)}") from exc
    crashpoints.reached(f"{step}:definition-created")


def _keep_definitions(conn: Any, names: Names, objects: schema.Objects, step: str) -> None:
    """Create the kept copy's views and triggers too (pointed at the kept copy where they name the
    target), so it can be looked at; its events stay disabled so that it never acts on its own. Only for
    looking: a rollback takes the definitions from the journal."""
    backup = names.backup
    try:
        create_definitions(conn, backup, schema.moved(objects, names.target, backup, _folds_names(conn)), step,
                           disable_events=True)
    except SyncoError as exc:
        log.warning("the kept copy %s lacks some views or triggers (the rollback has them all): %s", backup, exc)


# ------------------------------------------------------------------------------------------------ moving

def _moves(pairs: list[tuple[str, str, list[str]]]) -> str:
    """One ``RENAME TABLE`` statement moving, in order, each (from, to, tables) group."""
    return "RENAME TABLE " + ", ".join(
        f"{quote_name(source)}.{quote_name(t)} TO {quote_name(destination)}.{quote_name(t)}"
        for source, destination, tables in pairs for t in tables)


def _rename(conn: Any, names: Names, journal: Journal, *, back: bool = False) -> None:
    """The swap itself, in one statement: the outgoing tables leave the target, the incoming ones enter
    it, and the marker moves from the staging database into the kept copy. ``back`` does the reverse."""
    outgoing, incoming = journal.before.tables, journal.after.tables
    if back:
        outgoing, incoming = incoming, outgoing
    target, backup, staging = names.target, names.backup, names.staging(journal.operation)
    if journal.operation == "install":
        moves = [(target, staging if back else backup, outgoing), (backup if back else staging, target, incoming)]
    else:
        # A rollback's incoming tables are in the kept copy, where the outgoing ones go: those pass
        # through the swap database, in the same statement.
        moves = [(target, staging, outgoing), (backup, target, incoming), (staging, backup, outgoing)]
    moves.append((backup, staging, [MARKER]) if back else (staging, backup, [MARKER]))
    execute(conn, _moves(moves))


def _move_defaults(conn: Any, names: Names, journal: Journal, step: str, *, back: bool = False) -> None:
    """After :func:`_rename`: the column defaults that name the database a table was in (a sequence's
    ``nextval``) name the database it is in now. Each default is rewritten only while it names the old
    database, so this can run again after a kill (and runs, reversed, after a rename back)."""
    arrived = names.staging(journal.operation) if journal.operation == "install" else names.backup
    if back:
        schema.move_defaults(conn, names.target, journal.before.tables, names.backup)
        crashpoints.reached(f"{step}:defaults-moved")
        schema.move_defaults(conn, arrived, journal.after.tables, names.target)
    else:
        schema.move_defaults(conn, names.target, journal.after.tables, arrived)
        schema.move_foreign_keys(conn, names.target, journal.after.tables, arrived)
        crashpoints.reached(f"{step}:defaults-moved")
        schema.move_defaults(conn, names.backup, journal.before.tables, names.target)
    crashpoints.reached(f"{step}:defaults-moved")


def _restore_defaults(conn: Any, journal: Journal) -> None:
    """Put back the default character set and collation of the databases the journal names (creating a
    definition switches them for a moment, which a kill can leave switched)."""
    for db, (charset, collation) in journal.defaults.items():
        current = database_defaults(conn, db)
        if current is not None and current != (charset, collation):
            execute(conn, f"ALTER DATABASE {quote_name(db)} CHARACTER SET {charset} COLLATE {collation}")


def _swap(conn: Any, names: Names, journal: Journal) -> None:
    """Everything of the swap between the committed journal and its completion; undone on any failure."""
    step = f"mysql:{journal.operation}"
    try:
        if journal.created_target:
            create_like(conn, names.target, names.scratch if journal.operation == "install" else names.backup)
        drop_definitions(conn, names.target, step)
        drop_definitions(conn, names.scratch if journal.operation == "install" else names.backup, step)
        crashpoints.reached(f"{step}:definitions-dropped")
        _rename(conn, names, journal)
        crashpoints.reached(f"{step}:renamed")
        _move_defaults(conn, names, journal, step)
        create_definitions(conn, names.target, journal.after, step)
        crashpoints.reached(f"{step}:definitions-created")
    except BaseException as exc:
        waited = isinstance(exc, pymysql.err.MySQLError) and bool(exc.args) and exc.args[0] == ER_LOCK_WAIT_TIMEOUT
        try:
            # The undo needs the same tables; a half-swapped target is worse than waiting for them, so it
            # waits as long as the server lets any statement wait.
            execute(conn, "SET SESSION lock_wait_timeout = DEFAULT")
            undo(conn, names, journal)
        except BaseException as again:  # The error that stopped the swap matters more; recover() retries.
            log.error("could not undo the interrupted swap of %s (the next synco install or rollback will): %s",
                      names.target, again)
        if waited:
            raise DatabaseError(f"swapping the tables of {names.target!r} failed: another session held one of them "
                                f"for more than {TABLE_WAIT_SECONDS} s (an open transaction: the application, a "
                                "worker, a database console with autocommit off); it is as it was before") from exc
        if isinstance(exc, pymysql.err.MySQLError):
            raise DatabaseError(f"swapping the tables of {names.target!r} failed: {describe(exc)}; it is as it was "
                                "before") from exc
        raise


def _finish(conn: Any, names: Names, journal: Journal, *, keep: bool) -> None:
    """Make the swap final: the kept copy's journal says ``kept`` (or, with nothing to keep, the kept
    copy goes), after the staging database and before the marker."""
    step = f"mysql:{journal.operation}"
    if keep:
        _keep_definitions(conn, names, journal.before, step)
    execute(conn, f"DROP DATABASE IF EXISTS {quote_name(names.staging(journal.operation))}")
    crashpoints.reached(f"{step}:staging-dropped")
    if keep:
        write_journal(conn, names.backup, Journal(journal.operation, KEPT, before=journal.before))
        crashpoints.reached(f"{step}:committed")
        try:
            execute(conn, f"DROP TABLE IF EXISTS {quote_name(names.backup)}.{quote_name(MARKER)}")
        except pymysql.err.MySQLError as exc:
            # Committed: the target holds the new content. Failing here (a connection lost) would report a
            # swap that happened as one that did not, and nothing would put the old content back; the marker
            # alone is left, which the next install or rollback removes (recover).
            log.warning("the %s of MySQL database %r is complete, but its marker table could not be dropped "
                        "(the next install or rollback will): %s", journal.operation, names.target, describe(exc))
    else:
        execute(conn, f"DROP DATABASE IF EXISTS {quote_name(names.backup)}")
        crashpoints.reached(f"{step}:committed")


def _prepare(conn: Any, names: Names, journal: Journal) -> None:
    """The marker into the staging database, then the journal, committed: from here on a kill is undone."""
    step = f"mysql:{journal.operation}"
    staging = quote_name(names.staging(journal.operation))
    execute(conn, f"CREATE TABLE {staging}.{quote_name(MARKER)} (id INT PRIMARY KEY) ENGINE=InnoDB")
    for db in (names.target, names.backup):
        defaults = database_defaults(conn, db)
        if defaults is not None:
            journal.defaults[db] = defaults
    write_journal(conn, names.backup, journal)
    crashpoints.reached(f"{step}:journal-saved")


def _wait_for_tables(conn: Any, operation: str, databases: list[str]) -> None:
    """Refuse, before anything changes, to swap tables another session holds; and bound every later wait.

    Each table, view and sequence of ``databases`` is locked for writing and let go at once, one at a time:
    that waits for the other sessions' open transactions on it to end (new ones wait behind it for that
    moment), at most :data:`TABLE_WAIT_SECONDS`, and a table still held then is named. The session keeps
    that wait for the swap, which a session taking a table after this check can then hold up no longer.
    Without the LOCK TABLES privilege, or for an object that cannot be locked (a view on a table that is
    gone), the check is skipped: the swap's own wait is bounded all the same.
    """
    execute(conn, f"SET SESSION lock_wait_timeout = {TABLE_WAIT_SECONDS}")
    for db in databases:
        for name, _kind in schema.list_tables(conn, db):
            if name in OWN_TABLES:
                continue
            try:
                execute(conn, f"LOCK TABLES {quote_name(db)}.{quote_name(name)} WRITE")
            except pymysql.err.MySQLError as exc:
                if exc.args and exc.args[0] == ER_LOCK_WAIT_TIMEOUT:
                    raise DatabaseError(
                        f"MySQL database {db!r} is in use: another session has held {quote_name(name)} for more "
                        f"than {TABLE_WAIT_SECONDS} s (an open transaction or LOCK TABLES: the application, a "
                        f"worker, a database console with autocommit off){_holders(conn, db)}; nothing was "
                        "changed; end that transaction (COMMIT, ROLLBACK or closing the session, or KILL its "
                        f"thread) and run the {operation} again"
                    ) from exc
                log.debug("could not check whether %s.%s is in use (%s)", db, name, describe(exc))
            finally:
                execute(conn, "UNLOCK TABLES")


def _holders(conn: Any, db: str) -> str:
    """``; sessions using it: thread 12 (user 'app'@'localhost'), ...``: the other sessions whose database is
    ``db``, among which the one holding the table usually is; empty when none is visible. The server does not
    say which session holds a metadata lock (without a plugin), and one holding it through a qualified name
    from another database is not seen; another user's sessions show only with the PROCESS privilege."""
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT ID, USER, HOST FROM information_schema.PROCESSLIST "
                        "WHERE ID <> CONNECTION_ID() AND DB = %s ORDER BY ID", (db,))
            rows = list(cur.fetchall())
    except pymysql.err.MySQLError as exc:
        log.debug("could not list the sessions using %s (%s)", db, describe(exc))
        return ""
    if not rows:
        return ""
    sessions = [f"thread {thread} (user {user!r}@{str(host).rpartition(':')[0] or host!r})"
                for thread, user, host in rows]
    return "; sessions using it: " + some_names(sessions, 5)


def install(conn: Any, names: Names, enabled_events: Collection[str] = ()) -> int:
    """Swap the loaded and verified scratch database into the target; the target's content becomes the
    kept copy. ``enabled_events``, held disabled in the scratch database, are created enabled. Returns the
    number of tables now in the target."""
    created = not exists(conn, names.target)
    # Before the previous kept copy goes: a refusal here leaves everything as it was.
    _wait_for_tables(conn, "install", [] if created else [names.target])
    # The previous kept copy is replaced only now that the new content is known to be good.
    create_journal(conn, names, names.scratch if created else names.target)
    crashpoints.reached("mysql:install:backup-replaced")
    before = schema.Objects() if created else content(conn, names.target)
    # The journal holds the definitions as they are to be in the target: names the loaded ones qualify
    # with the scratch database point at the target.
    after = _enabled(schema.moved(content(conn, names.scratch), names.scratch, names.target, _folds_names(conn)),
                     enabled_events)
    journal = Journal("install", SWAPPING, created, before=before, after=after)
    _prepare(conn, names, journal)
    _swap(conn, names, journal)
    # With nothing before, there is nothing to keep: no empty kept copy is left to roll back to.
    _finish(conn, names, journal, keep=not created)
    return len(journal.after.tables)


def _folds_names(conn: Any) -> bool:
    """The server compares database and table names without case (``lower_case_table_names`` 1 or 2)."""
    return int(schema.query(conn, "SELECT @@lower_case_table_names")[0][0] or 0) != 0


def _enabled(objects: schema.Objects, names: Collection[str]) -> schema.Objects:
    """``objects`` with the events ``names`` enabled (``SHOW CREATE EVENT`` writes their status before
    their body, as ``ON COMPLETION [NOT] PRESERVE DISABLE``)."""
    def enable(definition: schema.Definition) -> schema.Definition:
        if definition.name not in names:
            return definition
        create, found = _DISABLED_EVENT.subn(rb"\1ENABLE", definition.create, count=1)
        if not found:
            raise DatabaseError(f"cannot tell the status of event {definition.name!r} in: {definition.create[:200]!r}")
        return dataclasses.replace(definition, create=create)

    return dataclasses.replace(objects, events=[enable(definition) for definition in objects.events])


_DISABLED_EVENT = re.compile(rb"(\bON\s+COMPLETION\s+(?:NOT\s+)?PRESERVE\s+)DISABLE\b(?!\s+ON\s+SLAVE)",
                             re.IGNORECASE)


def check_kept(conn: Any, names: Names) -> Journal:
    """The kept copy's journal, when the kept copy is complete; a one-line SyncoError otherwise."""
    what = f"MySQL database {names.target!r}"
    if not exists(conn, names.backup):
        raise SyncoError(f"nothing to roll back for {what}: no previous content kept ({names.backup!r} does not "
                         "exist)")
    journal = read_journal(conn, names.backup)
    if journal is None:
        # The first synco versions (before 2026-12-05) moved tables and views with no journal: what such a
        # copy's views, triggers and routines are to be in the target is not written anywhere.
        raise SyncoError(f"cannot roll back {what}: {names.backup!r} has no synco journal saying what it holds, "
                         "as a kept copy made by a synco from before 2026-12-05 (or not by synco); roll it back "
                         "with the synco that made it; nothing was changed")
    if journal.phase != KEPT:
        raise SyncoError(f"cannot roll back {what}: {names.backup!r} is not a complete kept copy (its synco "
                         "journal does not say it is complete); nothing was changed")
    present = {name for name, kind in schema.list_tables(conn, names.backup) if kind != "VIEW"}
    missing = [table for table in journal.before.tables if table not in present]
    if missing:
        raise SyncoError(f"cannot roll back {what}: the kept copy {names.backup!r} is incomplete (missing "
                         f"{', '.join(map(repr, missing[:5]))}{' ...' if len(missing) > 5 else ''}); nothing was "
                         "changed")
    return journal


def rollback(conn: Any, names: Names, kept: Journal, *, discard: bool) -> int:
    """Swap the kept copy into the target; what it replaces becomes the kept copy (or is dropped with
    ``discard``). Returns the number of tables now in the target."""
    created = not exists(conn, names.target)
    _wait_for_tables(conn, "rollback", [names.backup] if created else [names.target, names.backup])
    create_like(conn, names.transit, names.backup)
    before = schema.Objects() if created else content(conn, names.target)
    journal = Journal("rollback", SWAPPING, created, before=before, after=kept.before)
    _prepare(conn, names, journal)
    _swap(conn, names, journal)
    _finish(conn, names, journal, keep=not discard)
    return len(journal.after.tables)


# ---------------------------------------------------------------------------------------------- recovery

def undo(conn: Any, names: Names, journal: Journal) -> None:
    """Put the target back exactly as it was before the operation the journal describes.

    Every step can run again: a kill during the undo is undone by the next recovery.
    """
    step = f"mysql:undo-{journal.operation}"
    staging = names.staging(journal.operation)
    if _has_table(conn, names.backup, MARKER):
        swapped = True
    elif _has_table(conn, staging, MARKER):
        swapped = False
    else:
        raise DatabaseError(f"cannot tell whether the interrupted {journal.operation} of {names.target!r} swapped its "
                            f"tables: the marker table {MARKER} is neither in {staging!r} nor in {names.backup!r}; "
                            f"the journal {names.backup}.{JOURNAL} lists what belongs where")
    if swapped:
        execute(conn, f"CREATE DATABASE IF NOT EXISTS {quote_name(staging)}")
        drop_definitions(conn, names.target, step)
        drop_definitions(conn, names.backup, step)
        _rename(conn, names, journal, back=True)
        crashpoints.reached(f"{step}:renamed")
    # Runs whether or not the rename happened: a kill can come between the rename and the moving of the
    # defaults, and only defaults that name the other database are rewritten.
    _move_defaults(conn, names, journal, step, back=True)
    if journal.created_target:
        execute(conn, f"DROP DATABASE IF EXISTS {quote_name(names.target)}")
    else:
        drop_definitions(conn, names.target, step)
        create_definitions(conn, names.target, journal.before, step)
    _restore_defaults(conn, journal)
    crashpoints.reached(f"{step}:restored")
    if journal.operation == "install":
        # The kept copy was replaced by this install's, which held nothing else yet.
        execute(conn, f"DROP DATABASE IF EXISTS {quote_name(names.backup)}")
    else:
        drop_definitions(conn, names.backup, step)
        _keep_definitions(conn, names, journal.after, step)
        _restore_defaults(conn, journal)
        write_journal(conn, names.backup, Journal("undo", KEPT, before=journal.after))
    crashpoints.reached(f"{step}:committed")
    execute(conn, f"DROP DATABASE IF EXISTS {quote_name(staging)}")


def recover(conn: Any, names: Names) -> str | None:
    """Undo what an interrupted install or rollback of ``names.target`` left, before anything else runs.

    Returns a sentence for the user when the command that was interrupted leaves nothing more to do for a
    rollback: an install it undid (the target is as it was before it), or a rollback that had completed.
    None when there was nothing to undo, or when it undid a rollback (which a rollback then does again).
    """
    journal = read_journal(conn, names.backup)
    if journal is not None and journal.phase == SWAPPING:
        undo(conn, names, journal)
        if journal.operation == "rollback":
            log.warning("an interrupted rollback of MySQL database %r was undone first", names.target)
            return None
        return (f"an interrupted install into MySQL database {names.target!r} was undone: it is as it was before "
                "that install")
    note = None
    if journal is not None and journal.phase == KEPT and _has_table(conn, names.backup, MARKER):
        # Only the marker of a finished swap was left behind.
        execute(conn, f"DROP TABLE IF EXISTS {quote_name(names.backup)}.{quote_name(MARKER)}")
        if journal.operation == "rollback":
            note = (f"an interrupted rollback of MySQL database {names.target!r} had completed: it holds the "
                    "content from before the last install")
    # A rollback stopped before its journal was saved had changed nothing but this.
    execute(conn, f"DROP DATABASE IF EXISTS {quote_name(names.transit)}")
    if not exists(conn, names.scratch):
        return note
    # A scratch database outside a swap: an install stopped while loading, or before its journal was saved.
    execute(conn, f"DROP DATABASE IF EXISTS {quote_name(names.scratch)}")
    dropped = ""
    if (journal is None or not journal.phase) and exists(conn, names.backup) and not content(conn, names.backup).tables:
        # The install was replacing the kept copy: the previous one was dropped, this one holds nothing yet.
        execute(conn, f"DROP DATABASE IF EXISTS {quote_name(names.backup)}")
        dropped = " (its previous kept copy was already discarded)"
    return f"an interrupted install had not changed MySQL database {names.target!r} yet: it is as it was{dropped}"
