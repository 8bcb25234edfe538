"""Whether the connected role may replace a PostgreSQL database, read from the catalogue.

An install creates the scratch database ``<db>__synco_new`` and renames databases; renaming one takes its
owner (or a superuser) holding CREATEDB. Both are known before anything changes, so the receive preflight
checks them before the download, and the install and rollback before they load or rename anything: a role
that owns no such right would otherwise learn it after the whole load.
"""

from __future__ import annotations

from typing import Any

from synco_core.engines.postgresql.connection import where
from synco_core.errors import DatabaseError
from synco_core.values import DatabaseConfig


def require_writable(admin: Any, database: DatabaseConfig) -> None:
    """Raise a one-line DatabaseError when the server takes no writes from this role: a standby, or
    ``default_transaction_read_only`` on (in postgresql.conf, or set for the role). The install would fail
    only after the download, on its first ``CREATE DATABASE``; a read-only default is someone's choice, not
    synco's to override."""
    standby, read_only = admin.execute(
        "SELECT pg_catalog.pg_is_in_recovery(), pg_catalog.current_setting('default_transaction_read_only')"
    ).fetchone()
    if standby:
        raise DatabaseError(f"the PostgreSQL server at {where(database)} is a standby (in recovery): it takes no "
                            "writes, so nothing can be installed there")
    if read_only == "on":
        raise DatabaseError(f"the PostgreSQL server at {where(database)} has default_transaction_read_only = on "
                            "for this role: an install creates and renames databases; turn it off (in "
                            "postgresql.conf, or ALTER ROLE ... RESET default_transaction_read_only) to install")


#: How an install replaces the target: by swapping in a scratch database, or in place (:mod:`.inplace`).
SWAP, IN_PLACE = "swap", "in place"


def require(admin: Any, database: DatabaseConfig) -> str:
    """How the role may replace ``database`` (:data:`SWAP` or :data:`IN_PLACE`); else a one-line
    DatabaseError naming the right it lacks and the statement that gives it.

    Creating the scratch database takes CREATEDB, and renaming the target its owner (or a superuser). A role
    without CREATEDB that owns the target (the application's own role of DDEV, Sail or a managed server)
    replaces its content in one transaction inside it instead (:mod:`.inplace`), as ``pg_restore
    --single-transaction --clean`` would.
    """
    row = admin.execute(
        "SELECT r.rolname, r.rolsuper, r.rolcreatedb, "
        "       (SELECT pg_catalog.pg_get_userbyid(d.datdba) FROM pg_catalog.pg_database d WHERE d.datname = %s),"
        "       (SELECT pg_catalog.pg_has_role(d.datdba, 'MEMBER') FROM pg_catalog.pg_database d "
        "        WHERE d.datname = %s)"
        " FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
        (database.name, database.name),
    ).fetchone()
    if row is None:
        return SWAP
    role, superuser, createdb, owner, owns = row
    if superuser:
        return SWAP
    if not createdb and owner is None:
        raise DatabaseError(f"role {role!r} may not create databases on {where(database)}, and database "
                            f"{database.name!r} does not exist: create it for the role (CREATE DATABASE "
                            f"{_quoted(database.name)} OWNER {_quoted(role)}) or let it create databases "
                            f"(ALTER ROLE {_quoted(role)} CREATEDB)")
    if owner is not None and not owns:
        raise DatabaseError(f"database {database.name!r} on {where(database)} belongs to {owner!r}, not {role!r}: "
                            f"only its owner (or a superuser) may replace it (ALTER DATABASE "
                            f"{_quoted(database.name)} OWNER TO {_quoted(role)})")
    return SWAP if createdb and owner in (None, role) else IN_PLACE


def _quoted(name: str) -> str:
    """An identifier as the user would type it into psql."""
    plain = name.isascii() and name.replace("_", "a").isalnum() and name == name.lower() and not name[0].isdigit()
    return name if plain else '"' + name.replace('"', '""') + '"'
