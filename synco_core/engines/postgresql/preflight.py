"""Before a receive downloads anything: could an install replace this PostgreSQL database?

The installer connects to a maintenance database, creates the scratch database ``<db>__synco_new`` and
renames databases (which only their owner or a superuser may do). All of that can be read from the
catalogue without changing anything: the role may create databases, and owns the target if it exists.
"""

from __future__ import annotations

from synco_core.engines.postgresql import rights
from synco_core.engines.postgresql.installer import _admin, _names
from synco_core.values import DatabaseConfig


def check(database: DatabaseConfig) -> bool:
    """True when the server answers and the role may create and replace the database; else DatabaseError."""
    _names(database)  # a name too long for the derived names is refused now, not after the download
    with _admin(database) as admin:
        rights.require_writable(admin, database)
        rights.require(admin, database)
    return True
