"""Materialized views filled under the source's date, time zone and output styles.

A materialized view's rows are computed again where the dump loads (``CREATE ... WITH DATA`` or
``REFRESH``), as ``pg_dump``'s are, and a query's results can depend on session settings: ``at::date`` and
``at::text`` on the time zone, a date's text on ``DateStyle``. The source computed them under its own
defaults (the server's, the database's or the role's: the airlines demo's database runs in
``Europe/Moscow``), while the load runs under the script's (``UTC``, ISO dates), so the copy held other
rows. Each filling is run under the source session's defaults of these settings (where they differ from
the load's) and the load's set back after it; so is ``to_tsvector``'s ``default_text_search_config``.

Locale settings (``lc_monetary``, ``lc_time``) are left as they are: the loading server may lack the
source's locales, and setting one it lacks would stop the load.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from synco_core.engines.postgresql.catalog import fetch, literal

#: Each setting with the value the load has while it fills materialized views: the dump header's
#: (``DateStyle``, ``IntervalStyle``), else the loader's session's (:data:`.connection.SESSION_SETTINGS`).
LOAD_VALUES = {"TimeZone": "UTC", "DateStyle": "ISO, YMD", "IntervalStyle": "postgres", "bytea_output": "hex"}
#: Settings the load leaves at the loading database's default, which the dump cannot know (a database the
#: load replaces keeps its own settings): ``to_tsvector(body)`` reads this one. Always set to the source's,
#: and reset after; here, not in the header, because a configuration of the dump's own exists only once
#: the schema is made.
RESET_AFTER = ("default_text_search_config",)


def source_defaults(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """The values a new session of the dumping role in the source database starts with (``reset_val``: the
    server's, database's and role's defaults, not the dump session's own ``SET``), where they differ from
    the load's."""
    found = {}
    for name, value in fetch(conn, "SELECT name, reset_val FROM pg_catalog.pg_settings WHERE name = ANY(%s)",
                             ([*LOAD_VALUES, *RESET_AFTER],)):
        if value != LOAD_VALUES.get(name):
            found[name] = value
    return found


def under(settings: dict[str, str]) -> Callable[[str], str]:
    """A function giving a statement run under ``settings``, the load's values set again after it."""
    if not settings:
        return lambda statement: statement
    before = "".join(f"SET {name} = {literal(value)};\n" for name, value in sorted(settings.items()))
    after = "".join(f"SET {name} = {literal(LOAD_VALUES[name])};\n" if name in LOAD_VALUES else f"RESET {name};\n"
                    for name in sorted(settings))
    return lambda statement: before + statement + after
