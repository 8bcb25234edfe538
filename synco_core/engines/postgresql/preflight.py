"""Before a receive downloads anything: could an install replace this PostgreSQL database?

The installer connects to a maintenance database, creates the scratch database ``<db>__synco_new`` and
renames databases (which only their owner or a superuser may do). All of that can be read from the
catalogue without changing anything: the role may create databases, and owns the target if it exists. A
role that owns the target but may not create databases replaces its content inside it (:mod:`.inplace`):
then it must be able to drop all of it, and the user is told, before the download, that no copy is kept.
"""

from __future__ import annotations

import logging

from synco_core.engines.postgresql import inplace, rights
from synco_core.engines.postgresql.connection import connect
from synco_core.engines.postgresql.installer import _admin, _names, sessions_not_ended
from synco_core.values import DatabaseConfig

log = logging.getLogger(__name__)


def check(database: DatabaseConfig) -> bool:
    """True when the server answers and the role may create and replace the database; else DatabaseError."""
    _names(database)  # a name longer than PostgreSQL keeps is refused now, not after the download
    with _admin(database) as admin:
        rights.require_writable(admin, database)
        mode = rights.require(admin, database)
        unended = sessions_not_ended(admin, [database.name])
        if unended is not None:
            # They may be gone by the swap; if not, it fails after the whole download: say so now.
            log.warning("PostgreSQL database %r: %s; the install waits for them and fails if they stay",
                        database.name, unended)
    if mode == rights.IN_PLACE:
        with connect(database) as conn:
            role, encoding = conn.execute(
                "SELECT current_user, pg_catalog.pg_encoding_to_char(encoding) FROM pg_catalog.pg_database "
                "WHERE datname = pg_catalog.current_database()").fetchone() or ("", "")
            inplace.require(conn, database.name, role)
        if encoding not in ("UTF8", "SQL_ASCII"):
            # A swap would give the new database the source's encoding; in place it keeps its own.
            log.warning("PostgreSQL database %r is %s and keeps it (installed in place): a character of a UTF-8 "
                        "source beyond %s will fail the install after the download, the content as it was (create "
                        "the database again with ENCODING 'UTF8', or ALTER ROLE %s CREATEDB)",
                        database.name, encoding, encoding, role)
        log.warning("role %r may not create databases: the install replaces the content of PostgreSQL database %r "
                    "inside it, in one transaction, and keeps no copy for 'synco db rollback' (ALTER ROLE %s "
                    "CREATEDB to keep one)", role, database.name, role)
    return True
