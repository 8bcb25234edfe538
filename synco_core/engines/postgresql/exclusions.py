"""Exclusion constraints checked against the rows a sanitised dump copies.

An ``EXCLUDE USING gist (room WITH =, during WITH &&)`` constraint compares every row with every other: a
rule changing ``room`` or ``during`` can make two copied rows conflict, and the load then failed after the
download. A self-join of the copied rows would find them, in time quadratic in the rows. The server's own
index does it in n log n: the constrained columns of the copied rows (rules applied, after ``where`` and
``keep_newest``) are loaded into a temporary table given the same constraint, whose index build refuses a
conflict as the load's would.

The dump's transaction is read-only and may create nothing, so this runs on a second connection that imports
the dump's snapshot (it reads the very rows the dump copies) with the dump's settings, and rolls everything
back. The constraint's own operator classes (``btree_gist``'s for ``room WITH =``) exist where the
constraint does. Where the server lets the second connection make no temporary table (a hot standby, a role
without ``TEMPORARY`` on the database) or the snapshot cannot be shared, the constraint is named in a
warning instead: a load would refuse a conflicting copy after the download, as it did before this check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import psycopg

from synco_core.engines.postgresql import searchpaths
from synco_core.engines.postgresql.catalog import Quoter, Table, fetch
from synco_core.engines.postgresql.connection import one_line
from synco_core.engines.postgresql.quotedvalues import error_without_value
from synco_core.errors import DatabaseError
from synco_core.sanitizenulls import breaks_exclusion
from synco_core.values import SanitizeRule

log = logging.getLogger(__name__)

#: The temporary table the rows are loaded into (in the second connection's own temporary schema).
_CHECKED = "pg_temp.synco_exclusion_check"


class ExclusionChecks:
    """The exclusion constraints of one dump's sanitised tables, checked on a second connection opened on the
    first one that needs it and closed by :meth:`close`."""

    def __init__(self, conn: psycopg.Connection[Any], opener: Callable[[], psycopg.Connection[Any]] | None,
                 settings: dict[str, str]) -> None:
        self.conn = conn
        self.opener = opener
        #: Settings of the dump's session the rules' expressions may read (the ``hash`` key).
        self.settings = settings
        self._second: psycopg.Connection[Any] | None = None
        #: Why no second connection could be had, once it is known.
        self._unavailable: str | None = None if opener is not None else "no second connection to the server"

    def check(self, q: Quoter, table: Table, source: str, sanitised: dict[str, tuple[SanitizeRule, str]],
              path: list[str] | None) -> None:
        """Stop on a rule making two rows of ``source`` (the copied rows, aliased as the table, from
        :func:`.copychecks.with_generated`) conflict under an exclusion constraint of ``table``."""
        generated = {c.name for c in table.columns if c.generated}
        for name, definition, used in fetch(self.conn, """
                SELECT c.conname, pg_catalog.pg_get_constraintdef(c.oid),
                       ARRAY(SELECT a.attname FROM pg_catalog.pg_depend d
                             JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                             WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.conindid
                               AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjsubid > 0
                             UNION SELECT a.attname FROM pg_catalog.pg_attribute a
                             WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey))
                FROM pg_catalog.pg_constraint c
                WHERE c.conrelid = %s AND c.contype = 'x' ORDER BY c.conname""", (table.oid,)):
            touched = sorted(set(used) & set(sanitised))
            if not touched and not set(used) & generated:
                continue  # No rule reaches it: the source's rows already meet it.
            rule = sanitised[(touched or list(sanitised))[0]][0]
            second = self._connection()
            if second is None:
                log.warning("the exclusion constraint %s of %s is not checked against sanitize rule %s (%s): a load "
                            "refuses the copy if the rule makes two rows conflict", name, table.display,
                            rule.describe(), self._unavailable)
                continue
            columns = ", ".join(q(column) for column in sorted(used))
            second.execute("SAVEPOINT synco_exclusion")
            try:
                searchpaths.read_under(second, path)
                second.execute(f"CREATE TEMP TABLE {_CHECKED} AS SELECT {columns} FROM {source}")
                second.execute(f"ALTER TABLE {_CHECKED} ADD {definition}")
            except (psycopg.errors.ExclusionViolation, psycopg.DataError) as exc:
                # A conflict, or a value the constraint's expressions refuse (a range whose bounds the rule
                # turned round): either fails the load's index build.
                reason = ("" if isinstance(exc, psycopg.errors.ExclusionViolation)
                          else f" ({error_without_value(exc, one_line(exc))})")
                raise breaks_exclusion(rule, table.display, name, definition, reason) from None
            except psycopg.Error as exc:
                log.warning("the exclusion constraint %s of %s is not checked against sanitize rule %s (%s): a load "
                            "refuses the copy if the rule makes two rows conflict", name, table.display,
                            rule.describe(), error_without_value(exc, one_line(exc)))
            finally:
                second.execute("ROLLBACK TO SAVEPOINT synco_exclusion; RELEASE SAVEPOINT synco_exclusion")

    def _connection(self) -> psycopg.Connection[Any] | None:
        """The second connection, in a transaction on the dump's snapshot; None when it cannot be had."""
        if self._second is not None or self._unavailable is not None or self.opener is None:
            return self._second
        second: psycopg.Connection[Any] | None = None
        try:
            snapshot = str(fetch(self.conn, "SELECT pg_catalog.pg_export_snapshot()")[0][0])
            second = self.opener()
            second.execute("SET row_security = off")
            second.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            second.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            second.execute("SELECT pg_catalog.set_config('search_path', '', true)")
            for setting, value in self.settings.items():
                second.execute("SELECT pg_catalog.set_config(%s, %s, true)", (setting, value))
        except (psycopg.Error, DatabaseError) as exc:
            self._unavailable = one_line(exc) if isinstance(exc, psycopg.Error) else str(exc)
            if second is not None:
                second.close()
            return None
        self._second = second
        return second

    def close(self) -> None:
        if self._second is not None:
            self._second.close()
            self._second = None
