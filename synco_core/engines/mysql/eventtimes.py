"""An event's schedule kept as instants when its time zone is the server's ``SYSTEM`` zone.

``SHOW CREATE EVENT`` writes ``STARTS``, ``ENDS`` and ``AT`` as wall-clock text in the event's time zone,
and the dump creates the event again under that zone. A named zone or an offset means the same on every
server, but ``SYSTEM`` is the zone of the server's process (its ``TZ``, ``/etc/localtime``): created again
on a laptop in another zone, the same text named another instant (an event made in Berlin for 12:00 fired
two hours late on a UTC laptop). For such an event the text is replaced by ``FROM_UNIXTIME(seconds)``, read
in the zone the event is created in, so whatever ``SYSTEM`` is there, the instant is production's.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from synco_core.engines.mysql.connect import quote_name

#: The schedule's moments as SHOW CREATE EVENT writes them, with the information_schema column holding each.
_MOMENTS = (("STARTS", "STARTS"), ("ENDS", "ENDS"), ("AT", "EXECUTE_AT"))

_SCHEDULE_END = re.compile(rb"\sON\s+COMPLETION\s", re.IGNORECASE)


def depends_on_server(zone: str) -> bool:
    """Whether an event's time zone means whatever zone the server's process runs in."""
    return zone.strip().upper() == "SYSTEM"


def schedule_as_instants(conn: Any, name: str, statement: bytes) -> bytes:
    """``statement`` (the event ``name``'s ``SHOW CREATE EVENT``, in its current database) with each moment of
    its schedule written as the instant it is on this server, for an event whose time zone is ``SYSTEM``."""
    columns = ", ".join(f"{column}, TIMESTAMPDIFF(SECOND, '1970-01-01', CONVERT_TZ({column}, 'SYSTEM', '+00:00'))"
                        for _, column in _MOMENTS)
    with conn.cursor() as cur:
        cur.execute(f"SELECT {columns} FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() "
                    "AND EVENT_NAME = %s", (name,))
        row = cur.fetchone()
    if row is None:
        return statement
    head = b" EVENT " + quote_name(name).encode("utf-8", "surrogateescape") + b" "
    start = statement.find(head)
    stop = _SCHEDULE_END.search(statement, max(start, 0))
    if start < 0 or stop is None:
        return statement
    start += len(head)
    schedule = statement[start:stop.start()]
    for index, (keyword, _) in enumerate(_MOMENTS):
        shown, seconds = row[2 * index], row[2 * index + 1]
        if shown is None or seconds is None:
            continue
        written = shown.strftime("%Y-%m-%d %H:%M:%S") if isinstance(shown, datetime) else _text(shown)[:19]
        literal = f"{keyword} '{written}'".encode()
        schedule = schedule.replace(literal, f"{keyword} FROM_UNIXTIME({int(seconds)})".encode(), 1)
    return statement[:start] + schedule + statement[stop.start():]


def _text(value: Any) -> str:
    return bytes(value).decode("ascii", "replace") if isinstance(value, (bytes, bytearray)) else str(value)
