"""The source's values kept out of a dump's error messages.

PostgreSQL's messages of a data exception (SQLSTATE class 22) quote the value refused: ``invalid input syntax
for type integer: "+49 30 1234567"``, ``invalid input value for enum mood: "..."``, ``value "..." is out of
range for type integer``. A sanitising rule or a filter whose expression a row's value fails put that value,
raw, into the line ``serve`` prints, which ``pull`` shows on the laptop and a CI log keeps: the very value the
rule was there to mask. The span between the message's first and last double quote is replaced (a value may
hold double quotes itself: PostgreSQL does not escape them); messages of other classes name objects in
quotes (a relation, a constraint), never a value, and stay as they are.
"""

from __future__ import annotations

import psycopg
from psycopg import pq

#: SQLSTATE class 22: data exception.
DATA_EXCEPTION = "22"
#: What stands for the value left out.
HIDDEN = '"..."'


def without_value(message: str, sqlstate: str | None) -> str:
    """``message`` with the value a data exception quotes replaced by ``"..."``; any other kept whole."""
    if not (sqlstate or "").startswith(DATA_EXCEPTION):
        return message
    first, last = message.find('"'), message.rfind('"')
    if first < 0 or last == first:
        return message
    return message[:first] + HIDDEN + message[last + 1:]


def error_without_value(exc: psycopg.Error, message: str) -> str:
    """``message`` (the driver error ``exc`` said in a line) without the value a data exception quotes."""
    return without_value(message, exc.sqlstate)


def result_sqlstate(result: pq.abc.PGresult | None) -> str | None:
    """The SQLSTATE of a failed libpq result, None without one."""
    raw = result.error_field(pq.DiagnosticField.SQLSTATE) if result is not None else None
    return raw.decode("ascii", "replace") if raw else None
