"""An InnoDB table's row format, carried where its ``CREATE TABLE`` does not name one.

``SHOW CREATE TABLE`` names a row format only when the table was created with one; otherwise the table took
the server's ``innodb_default_row_format`` of that moment, and a copy takes the loading server's. A laptop
whose default is COMPACT (an old configuration's) then made production's DYNAMIC tables COMPACT: other row
size and key length limits, another on-disk layout. So the dump notes the source's format after such a
``CREATE TABLE`` in a comment of its own (``/* synco-row-format: DYNAMIC */``, which the ``mariadb`` client
drops), and synco's loader names it in the statement only where the loading server's default differs:
where they agree, the copy's ``SHOW CREATE TABLE`` stays the source's, to the byte.
"""

from __future__ import annotations

import re

#: The formats a table takes from ``innodb_default_row_format``; COMPRESSED comes from a ``KEY_BLOCK_SIZE`` the
#: statement names anyway.
DEFAULTABLE = ("DYNAMIC", "COMPACT", "REDUNDANT")
_MARK = re.compile(rb"\s*/\* synco-row-format: ([A-Z]+) \*/\Z")
#: The table options line of ``SHOW CREATE TABLE`` (partitions come on lines of their own after it), up to a
#: ``COMMENT``, which the server writes after the row format and may hold any text.
_OPTIONS = re.compile(rb"\n\) ENGINE=InnoDB\b((?:(?! COMMENT=)[^\n])*)")
_NAMED = re.compile(rb" ROW_FORMAT=", re.IGNORECASE)


def mark(create: bytes, row_format: str) -> bytes:
    """``create`` (an InnoDB table's ``SHOW CREATE TABLE``) with the source's ``row_format``
    (``information_schema.TABLES.ROW_FORMAT``) noted after it, when the statement does not name one."""
    wanted = row_format.upper()
    options = _OPTIONS.search(create)
    if wanted not in DEFAULTABLE or options is None or _NAMED.search(options.group(1)):
        return create
    return create + b"\n/* synco-row-format: " + wanted.encode() + b" */"


def apply(statement: bytes, server_default: str) -> bytes:
    """``statement`` without its row format note, naming the noted format where ``server_default`` (the loading
    server's ``innodb_default_row_format``, empty when unknown) would give another."""
    noted = _MARK.search(statement)
    if noted is None:
        return statement
    statement = statement[:noted.start()]
    wanted = noted.group(1)
    options = _OPTIONS.search(statement)
    if wanted.decode().lower() == server_default.lower() or options is None or _NAMED.search(options.group(1)):
        return statement
    at = options.start(1)
    return statement[:at] + b" ROW_FORMAT=" + wanted + statement[at:]
