"""Stored generated columns whose production values a copy cannot have.

A ``STORED``/``PERSISTENT`` generated column is never dumped: the load computes it again from the copied
columns, in the load's session. Where the expression depends on that session, production's stored values
were computed in the writer's: ``DATE(ts)`` or ``HOUR(ts)`` of a TIMESTAMP is the wall clock of the zone
the application wrote the row in (a row written at 00:30 in Berlin holds 2024-07-01, computed again in the
load's UTC session 2024-06-30). MariaDB takes such expressions, and no statement can set a generated
column's value, so the copy holds what the load computes: the dump names each such column in a warning,
found by comparing the stored values with the expression in the dump's own UTC session.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from synco_core.engines.mysql import schema
from synco_core.engines.mysql.connect import quote_name

log = logging.getLogger(__name__)


def recomputed_otherwise(conn: Any, db: str, table: str, condition: str | None, instants: Sequence[str]) -> list[str]:
    """The stored generated columns of ``table`` over one of its TIMESTAMP columns ``instants`` holding, in
    some row the dump copies (``condition``: its ``where``), another value than their expression gives in
    this session. Only those are read (one more pass over the table): a stored column over other columns
    (a JSON path, a LOWER() kept for an index) is the same wherever it is computed, and a large table
    holding one is not read twice for nothing."""
    if not instants:
        return []
    stored = [(schema.text(name), schema.text(expression)) for name, expression in schema.query(
        conn, "SELECT COLUMN_NAME, GENERATION_EXPRESSION FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s "
              "AND BINARY TABLE_NAME=BINARY %s AND (EXTRA LIKE '%%STORED GENERATED%%' OR EXTRA LIKE "
              "'%%PERSISTENT GENERATED%%' OR EXTRA = 'PERSISTENT') ORDER BY ORDINAL_POSITION", (db, table))]
    differing = []
    for name, expression in stored:
        if not expression or not any(quote_name(instant).lower() in expression.lower() for instant in instants):
            continue
        sql = (f"SELECT 1 FROM {quote_name(table)} WHERE NOT ({quote_name(name)} <=> ({expression}\n))"
               + (f" AND ({condition}\n)" if condition else "") + " LIMIT 1")
        if schema.query(conn, sql):
            differing.append(name)
    return differing


def warn(table: str, columns: Sequence[str]) -> None:
    if columns:
        log.warning("table %s: the stored generated column%s %s hold%s values that %s expression%s gives otherwise "
                    "in the dump's UTC session (a TIMESTAMP read as wall-clock time in the zone its row was "
                    "written in): the copy holds %s as the load computes %s", table, "s" if len(columns) > 1 else "",
                    ", ".join(columns), "" if len(columns) > 1 else "s", "their" if len(columns) > 1 else "its",
                    "s" if len(columns) > 1 else "", "them" if len(columns) > 1 else "it",
                    "them" if len(columns) > 1 else "it")
