"""Which kinds of objects the dumping user cannot even see, so that a dump never leaves them out silently.

``information_schema`` shows a user the tables and views it holds a privilege on, the triggers of the
tables it holds ``TRIGGER`` on, the routines it may execute, alter or create (or defined), and the events of
a database it holds ``EVENT`` on; the rest does not exist for it, by name or otherwise. A dump by such a
user would lack them and still look complete. So before anything is written, what the user cannot see is
named here, with the privilege that would show it, and :mod:`.unsupported` refuses the dump unless
``--skip-unsupported``.
"""

from __future__ import annotations

from typing import Any

import pymysql

from synco_core.engines.mysql import grants, schema
from synco_core.engines.mysql.connect import quote_name

#: "Access denied for user ... to database ...": what SHOW EVENTS answers without the EVENT privilege.
_ER_DBACCESS_DENIED = 1044
#: Any one of them on the database makes the server list every table and view of it (checked one by one on
#: MariaDB 10.11); with none, only those granted one by one. LOCK TABLES, EXECUTE, EVENT ... list none.
_LISTING_TABLES = ("SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "REFERENCES", "INDEX", "ALTER",
                   "CREATE VIEW", "SHOW VIEW", "TRIGGER", "DELETE HISTORY")
#: Any one of them makes the server list every routine of the database (their text needs more).
_LISTING_ROUTINES = ("EXECUTE", "ALTER ROUTINE", "CREATE ROUTINE")
#: Tables named in the refusal before "and N more".
_NAMED = 5


def _sees_events(conn: Any, db: str) -> bool:
    # The server answers SHOW EVENTS with the check that filters information_schema.EVENTS.
    try:
        schema.query(conn, f"SHOW EVENTS FROM {quote_name(db)}")
    except pymysql.err.OperationalError as exc:
        if exc.args and exc.args[0] == _ER_DBACCESS_DENIED:
            return False
        raise
    return True


def unseen(conn: Any, db: str, tables: list[str], *, routines: bool, events: bool) -> list[str]:
    """What the user cannot see among the tables and views, the triggers of ``tables``, the routines (if
    dumped) and the events (if dumped), each in words naming the privilege it lacks; empty when it sees all
    of them."""
    held = grants.current(conn, db)
    found: list[str] = []
    if not any(held.on_database(privilege) for privilege in _LISTING_TABLES):
        # Granted table by table: the server lists only those tables (and views) and hides the others.
        found.append(f"any tables, sequences and views besides those granted one by one (hidden from this user: it "
                     f"needs SELECT on {quote_name(db)}.*)")
    blind = [table for table in tables if not held.on_table(table, "TRIGGER")]
    if blind:
        named = ", ".join(blind[:_NAMED]) + (f" and {len(blind) - _NAMED} more" if len(blind) > _NAMED else "")
        found.append(f"any triggers on tables {named} (hidden from this user: it needs the TRIGGER privilege "
                     f"on {quote_name(db)}.*)")
    if routines and not any(held.on_database(p) for p in _LISTING_ROUTINES) and not grants.reads_mysql_proc(conn):
        found.append("any routines other users defined (hidden from this user: it needs EXECUTE on "
                     f"{quote_name(db)}.*, and SELECT on mysql.proc to read them)")
    if events and not _sees_events(conn, db):
        found.append(f"any events (hidden from this user: it needs the EVENT privilege on {quote_name(db)}.*)")
    return found
