"""The privileges an install uses on the target and the databases beside it, checked before the dump is read.

A user whose grants cover the scratch database's creation but not all that the load and the swap do (a
user given a list of privileges ``ON *.*`` or on a pattern, not ``ALL``) learned it after the whole download:
``INSERT command denied`` on the first row, ``ALTER command denied`` at the swap (``RENAME TABLE`` takes
ALTER and DROP on the table it renames, CREATE and INSERT on the new name), ``DELETE`` on the swap's journal,
or a raw server error from the preflight itself (``SHOW VIEW`` to read a view's definition). The server only
says so when the statement runs, so the user's own ``SHOW GRANTS`` is read instead (:mod:`.grants`).

What every install uses is required. What depends on the objects is required where the target holds such
objects (the swap drops and creates them again), and otherwise named in a warning: a dump that holds one
would fail, in the scratch database, after the download, the target untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from synco_core.engines.mysql import grants, schema
from synco_core.engines.mysql.swap import Names
from synco_core.errors import DatabaseError

#: Creating the tables and loading the rows, reading them back for the verification, renaming the tables
#: (ALTER, DROP, CREATE, INSERT), and the swap's journal (written, read and emptied in the kept copy).
ALWAYS = ("SELECT", "INSERT", "DELETE", "CREATE", "DROP", "ALTER")
#: By kind of object: what the load needs to create one, and the swap to read, drop and create it again.
BY_KIND = {
    "views": ("CREATE VIEW", "SHOW VIEW"),
    "triggers": ("TRIGGER",),
    "routines": ("CREATE ROUTINE", "ALTER ROUTINE"),
    "events": ("EVENT",),
}
_PRESENT = {
    "views": "SELECT 1 FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s LIMIT 1",
    "triggers": "SELECT 1 FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s LIMIT 1",
    "routines": "SELECT 1 FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s LIMIT 1",
    "events": "SELECT 1 FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s LIMIT 1",
}


def require(conn: Any, names: Names, warn: Callable[[str], None]) -> None:
    """Raise a one-line DatabaseError naming the privileges the install would miss and the GRANT that gives
    them; ``warn`` once about those only a dump holding such objects would miss."""
    account = schema.text(schema.query(conn, "SELECT CURRENT_USER()")[0][0])
    user, _, host = account.rpartition("@")
    grantee = f"'{user}'@'{host}'"
    present = {kind for kind, sql in _PRESENT.items() if schema.query(conn, sql, (names.target,))}
    needed = list(ALWAYS) + [privilege for kind in sorted(present) for privilege in BY_KIND[kind]]
    missing = _missing(conn, names, needed)
    if missing:
        raise DatabaseError(f"user {grantee} lacks {_listed(missing)} that replacing database {names.target!r} "
                            f"needs ({_grants(missing, grantee)})")
    optional = {kind: privileges for kind, privileges in BY_KIND.items() if kind not in present}
    lacking = _missing(conn, names, [privilege for privileges in optional.values() for privilege in privileges])
    if lacking:
        kinds = [kind for kind, privileges in optional.items()
                 if any(privilege in held for privilege in privileges for held in lacking.values())]
        warn(f"user {grantee} lacks {_listed(lacking)}: a dump holding {' or '.join(kinds)} will fail to load, "
             f"after the download ({_grants(lacking, grantee)})")


def _missing(conn: Any, names: Names, privileges: list[str]) -> dict[str, list[str]]:
    """Per database the install uses (the target's name, then the pattern of those beside it), the
    privileges of ``privileges`` the user lacks there."""
    found: dict[str, list[str]] = {}
    for database in (names.target, *names.beside()):
        held = grants.current(conn, database)
        lacking = [privilege for privilege in privileges if not held.on_database(privilege)]
        if lacking:
            where = (database if database == names.target or not database.startswith(names.target + "__synco_")
                     else _beside_pattern(names))
            for privilege in lacking:
                if privilege not in found.setdefault(where, []):
                    found[where].append(privilege)
    return found


def _beside_pattern(names: Names) -> str:
    escaped = names.target.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    return escaped + "\\_\\_synco\\_%"


def _listed(missing: dict[str, list[str]]) -> str:
    return "; ".join(f"{', '.join(privileges)} on `{database.replace('`', '``')}`"
                     for database, privileges in missing.items())


def _grants(missing: dict[str, list[str]], grantee: str) -> str:
    return "; ".join(f"GRANT {', '.join(privileges)} ON `{database.replace('`', '``')}`.* TO {grantee}"
                     for database, privileges in missing.items())
