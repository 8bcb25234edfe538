"""What an SQL script may ask of SQLite while it is loaded: its own database, nothing of the machine.

A dump comes from the session, and the session from a server that may be hostile (or compromised). SQLite
reaches files beyond the database it has open through a few statements: ``ATTACH`` creates or opens a
database file at any path (and writes into it), ``VACUUM INTO`` writes a copy of the database to any path
(a file whose text values an attacker chose: a line of it could be read as an ``authorized_keys`` entry),
and some functions load code or hand out pointers (``load_extension``, ``fts3_tokenizer``, the shell's
``readfile``/``writefile``). Pragmas can also change where SQLite puts its files or break the file.

So the script runs under an authorizer (``sqlite3.Connection.set_authorizer``, which SQLite consults for
every statement it prepares, as it parsed it: no text check to fool): ``ATTACH`` (which ``VACUUM INTO``
asks for too) and ``DETACH`` are denied, so are those functions, and pragmas other than the ones dumps
write (``journal_mode`` only to ``WAL`` or ``DELETE``: ``OFF`` or ``MEMORY`` would risk the file). The first
denial is kept and reported as the reason the load stopped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

#: SQLite's authorizer action codes (sqlite3.h), which the module does not name on every Python.
_ATTACH, _DETACH, _PRAGMA, _FUNCTION = 24, 25, 19, 31
#: Functions that load code, write or read files, or take pointers.
_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"})
#: Pragmas dumps write (synco's, the sqlite3 shell's ``.dump``, Python's ``iterdump``) and harmless reads.
_PRAGMAS = frozenset({"foreign_keys", "defer_foreign_keys", "writable_schema", "user_version", "application_id",
                      "encoding", "page_size", "auto_vacuum", "recursive_triggers", "legacy_alter_table",
                      "ignore_check_constraints",
                      "table_info", "table_xinfo", "index_list", "index_info", "foreign_key_list"})


def _journal_mode(name: str | None, value: str | None) -> bool:
    """``journal_mode = WAL`` (a dump keeps the mode) or a reading of it; never one that risks the file."""
    return (name or "").lower() == "journal_mode" and (value or "wal").lower() in ("wal", "delete")


class ScriptGate:
    """The authorizer of a script load; :attr:`refused` says why the last statement was denied."""

    def __init__(self, observer: Callable[[int], None] | None = None) -> None:
        self.refused: str | None = None
        #: Told every action let through (the load's budget counts the tables and indexes created).
        self._observer = observer

    def __call__(self, action: int, first: str | None, second: str | None, _database: str | None,
                 _trigger: str | None) -> int:
        reason = None
        if action in (_ATTACH, _DETACH):
            reason = "ATTACH, DETACH and VACUUM INTO reach database files beyond the one installed"
        elif action == _FUNCTION and (second or "").lower() in _FUNCTIONS:
            reason = f"{second}() loads code or reaches files beyond the database"
        elif action == _PRAGMA and (first or "").lower() not in _PRAGMAS and not _journal_mode(first, second):
            reason = f"PRAGMA {first} is not one a dump needs"
        if reason is None:
            if self._observer is not None:
                self._observer(action)
            return sqlite3.SQLITE_OK
        self.refused = reason
        return sqlite3.SQLITE_DENY
