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


def require(admin: Any, database: DatabaseConfig) -> None:
    """Raise a one-line DatabaseError naming the right the role lacks to replace ``database``."""
    row = admin.execute(
        "SELECT r.rolname, r.rolsuper, r.rolcreatedb, "
        "       (SELECT pg_catalog.pg_get_userbyid(d.datdba) FROM pg_catalog.pg_database d WHERE d.datname = %s)"
        " FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
        (database.name,),
    ).fetchone()
    if row is None:
        return
    role, superuser, createdb, owner = row
    if superuser:
        return
    if not createdb:
        raise DatabaseError(f"role {role!r} may not create databases on {where(database)}, and installing "
                            f"{database.name!r} creates a scratch database first (ALTER ROLE {role} CREATEDB)")
    if owner is not None and owner != role:
        raise DatabaseError(f"database {database.name!r} on {where(database)} belongs to {owner!r}, not {role!r}: "
                            "only its owner (or a superuser) may replace it")
