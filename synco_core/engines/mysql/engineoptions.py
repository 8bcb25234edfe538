"""Options of a table, its columns and its keys that no engine of the server defines, carried by the dump.

MariaDB keeps such an option where it was given (``compression='tokudb_zlib'`` on a table moved from TokuDB to
InnoDB, which MariaDB 10.6 dropped; anything created under ``IGNORE_BAD_TABLE_OPTIONS``), and ``SHOW CREATE
TABLE`` writes it inside a plain comment, ``/* `compression`='tokudb_zlib' */``, that every load drops
(mariadb-dump's script loses them too). The dump writes each such comment as one MariaDB runs (``/*M!100000
... */``), and the ``CREATE TABLE`` under ``IGNORE_BAD_TABLE_OPTIONS``, without which the server refuses an
option it does not know: the copy keeps them, and ``SHOW CREATE TABLE`` shows the source's. MySQL runs neither
and creates the table without them, as before.
"""

from __future__ import annotations

import re

#: Quoted text of ``SHOW CREATE TABLE`` (a comment's or a default's string, a name), skipped whole so that
#: what looks like options inside it stays text; or a comment holding options: one or more
#: `` `name`=value ``, the value quoted (``''`` and backslash escapes) or bare (group 1).
_TOKEN = re.compile(rb"'(?:[^'\\]|''|\\.)*'|`(?:[^`]|``)*`"
                    rb"| /\*((?: `(?:[^`]|``)+`=(?:'(?:[^'\\]|''|\\.)*'|[^\s'`*]+))+) \*/", re.DOTALL)

#: Around a ``CREATE TABLE`` holding such options: the server takes them only under this mode (MariaDB's).
BEFORE = (b"/*M!100000 SET @saved_options_sql_mode = @@sql_mode */;\n"
          b"/*M!100000 SET sql_mode = CONCAT(@@sql_mode, ',IGNORE_BAD_TABLE_OPTIONS') */;\n")
AFTER = b"/*M!100000 SET sql_mode = @saved_options_sql_mode */;\n"


def executable(create: bytes) -> bytes | None:
    """``create`` (``SHOW CREATE TABLE``) with its commented options made MariaDB code; None when it has none."""
    found = False

    def replace(match: re.Match[bytes]) -> bytes:
        nonlocal found
        if match.group(1) is None:
            return match.group(0)
        found = True
        return b" /*M!100000" + match.group(1) + b" */"

    rewritten = _TOKEN.sub(replace, create)
    return rewritten if found else None
