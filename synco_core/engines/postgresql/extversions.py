"""Extensions created at production's version where the loading server has it, and named where it has none.

``CREATE EXTENSION`` without ``VERSION`` (pg_dump's form, and synco's before 2026-12-07) makes the loading
server's default version: production's ``hstore`` 1.4, never updated, came back as 1.8, with the functions,
operators and casts 1.8 has, and nothing said so. synco's dump now names the version, and the loader asks the
server before running the statement:

- the version is available: the statement runs as it is, and the copy's extension is production's;
- the extension is, but not at that version (a laptop with another PostGIS release than production's):
  the statement runs without ``VERSION``, and a warning names both versions; refusing would stop installs
  that work, for objects the application rarely tells apart;
- the server has no such extension at all (PostGIS not installed on the laptop): one line naming it and
  what to do, instead of the server's "extension ... is not available" whose hint, on the lines after the
  first, was lost.

Only synco's own form (``CREATE EXTENSION IF NOT EXISTS name WITH SCHEMA schema [VERSION 'v'];``) is looked
at; other scripts' statements run as they are written.
"""

from __future__ import annotations

import logging
import re

from psycopg import pq

from synco_core.engines.postgresql.connection import result_error
from synco_core.engines.postgresql.script import strip_comments
from synco_core.errors import DatabaseError

log = logging.getLogger(__name__)

_NAME = rb'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_CREATE = re.compile(rb"^\s*CREATE\s+EXTENSION\s+IF\s+NOT\s+EXISTS\s+(?P<name>" + _NAME + rb")\s+WITH\s+SCHEMA\s+"
                     rb"(?P<schema>" + _NAME + rb")(?:\s+VERSION\s+'(?P<version>(?:[^']|'')*)')?\s*;?\s*$",
                     re.IGNORECASE)

#: A statement that may be synco's CREATE EXTENSION, by its masked keywords (the full match reads its text).
HEAD = re.compile(rb"\s*CREATE\s+EXTENSION\s+IF\s+NOT\s+EXISTS\s", re.IGNORECASE)

_AVAILABLE = (b"SELECT e.default_version, EXISTS (SELECT 1 FROM pg_catalog.pg_available_extension_versions v "
              b"WHERE v.name = e.name AND v.version = $2) FROM pg_catalog.pg_available_extensions e "
              b"WHERE e.name = $1")


def _identifier(token: bytes) -> bytes:
    if token.startswith(b'"'):
        return token[1:-1].replace(b'""', b'"')
    return token.lower()


def create_statement(name: str, schema: str, version: str | None) -> str:
    """synco's statement for an extension (``name`` and ``schema`` quoted as needed, ``version`` as the source
    has it), the form :func:`prepared` reads back."""
    at = " VERSION '" + version.replace("'", "''") + "'" if version else ""
    return f"CREATE EXTENSION IF NOT EXISTS {name} WITH SCHEMA {schema}{at};\n"


def prepared(pgconn: pq.abc.PGconn, statement: bytes, line: int) -> bytes:
    """``statement`` as it should run on this server (see the module's docs); a one-line DatabaseError for an
    extension the server does not have."""
    found = _CREATE.match(strip_comments(statement))
    if found is None:
        return statement
    name = _identifier(found["name"])
    version = found["version"].replace(b"''", b"'") if found["version"] is not None else None
    result = pgconn.exec_params(_AVAILABLE, [name, version or b""])
    if result.status != pq.ExecStatus.TUPLES_OK:
        raise DatabaseError(f"looking up the extension at line {line} of the dump failed: "
                            f"{result_error(result, pgconn)}")
    shown = name.decode("utf-8", "replace")
    if result.ntuples == 0:
        at = f" (production runs version {version.decode('utf-8', 'replace')})" if version else ""
        raise DatabaseError(f"the dump needs the extension {shown}{at}, which this PostgreSQL server does not "
                            f"have: install it on the machine the server runs on (PostGIS: the "
                            f"postgresql-{pgconn.server_version // 10000}-postgis-3 package or the installer's "
                            "PostGIS option), then install again; the local database was not changed")
    if version is None or result.get_value(0, 1) == b"t":
        return statement
    default = (result.get_value(0, 0) or b"").decode("utf-8", "replace")
    log.warning("extension %s: production runs version %s, which this PostgreSQL server does not have; the copy "
                "gets version %s, whose objects may differ (install version %s where the server runs to have "
                "production's)", shown, version.decode("utf-8", "replace"), default, version.decode("utf-8", "replace"))
    return (b"CREATE EXTENSION IF NOT EXISTS " + found["name"] + b" WITH SCHEMA " + found["schema"] + b";")
