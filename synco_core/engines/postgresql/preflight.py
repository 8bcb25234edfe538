"""Before a receive downloads anything: could an install replace this PostgreSQL database?

The installer connects to a maintenance database, creates the scratch database ``<db>__synco_new`` and
renames databases (which only their owner or a superuser may do). All of that can be read from the
catalogue without changing anything: the role may create databases, and owns the target if it exists.
"""

from __future__ import annotations

from synco_core.engines.postgresql.connection import where
from synco_core.engines.postgresql.installer import _admin, _names
from synco_core.errors import DatabaseError
from synco_core.values import DatabaseConfig


def check(database: DatabaseConfig) -> bool:
    """True when the server answers and the role may create and replace the database; else DatabaseError."""
    _names(database)  # a name too long for the derived names is refused now, not after the download
    with _admin(database) as admin:
        row = admin.execute(
            "SELECT r.rolname, r.rolsuper, r.rolcreatedb, "
            "       (SELECT pg_catalog.pg_get_userbyid(d.datdba) FROM pg_catalog.pg_database d WHERE d.datname = %s)"
            " FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
            (database.name,),
        ).fetchone()
    if row is None:
        return True
    role, superuser, createdb, owner = row
    if superuser:
        return True
    if not createdb:
        raise DatabaseError(f"role {role!r} may not create databases on {where(database)}, and installing "
                            f"{database.name!r} creates a scratch database first (ALTER ROLE {role} CREATEDB)")
    if owner is not None and owner != role:
        raise DatabaseError(f"database {database.name!r} on {where(database)} belongs to {owner!r}, not {role!r}: "
                            "only its owner (or a superuser) may replace it")
    return True
