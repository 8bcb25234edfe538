"""What a dump may ask of the local PostgreSQL server: its own database's objects and rows, nothing else.

A dump comes from the session, and the session from a server that may be hostile (or compromised). The
install runs its statements on the user's local server, usually as a superuser, who may run programs
(``COPY ... FROM PROGRAM``), read and write the server's files (``pg_read_file``, ``lo_export``, ``COPY ...
TO '/file'``), change the server's configuration (``ALTER SYSTEM``), create roles, become another one, and
reach other databases (``dblink``, ``postgres_fdw``). So before a statement is sent, this gate refuses it
(the install fails, nothing is swapped in) when it:

- is a ``COPY`` other than ``COPY ... FROM stdin`` (a dump's data), or names ``PROGRAM``;
- changes the cluster: ``ALTER SYSTEM``, roles (``CREATE``/``ALTER``/``DROP ROLE``/``USER``/``GROUP``,
  ``GRANT role TO``), tablespaces, ``REASSIGN``/``DROP OWNED``, ``LOAD``. (``SET ROLE`` and ``SET SESSION
  AUTHORIZATION``, which synco's dumps with owners write, only ever take the rights of a role the loading
  one may already act as);
- calls the functions that reach files, programs, other backends or other databases (``pg_read_file``,
  ``lo_import``, ``lo_export``, ``pg_terminate_backend``, ``dblink`` ...), or creates the extensions that
  provide them (``dblink``, ``file_fdw``, ``adminpack``, untrusted languages).
  ``postgres_fdw`` and user mappings are allowed: dumps of databases with foreign tables carry them. A
  mapping of a superuser without a password can let ``postgres_fdw`` reach other databases of the same
  server; that is left to the role the install runs as (see docs/security.md);
- creates a routine in a language other than ``sql``, ``plpgsql``, ``plperl``, ``pltcl``, ``internal``
  (whose symbols that reach files or processes are refused by name) and languages the dump created with
  one of their handlers (``c`` names any function of any library; ``plpython3u`` and the like run anything);
- turns ``standard_conforming_strings`` off, which would make the server read strings otherwise than
  the loader's splitter does.

Routine bodies and ``DO`` blocks are strings: they are searched too (the text of any statement but data,
with its strings). A body that builds such a statement from pieces at run time (``EXECUTE 'CO' || 'PY'``)
is beyond what a text check can see; see docs/security.md.

Statements about a database as a whole (``COMMENT ON DATABASE``, ``GRANT ... ON DATABASE``), which
``pg_dump --create`` writes for the source database, are skipped like ``CREATE DATABASE``: they would act
on another database than the scratch one.

The loader also sends each statement with the extended query protocol, which the server refuses to run
as more than one statement: a text the splitter took for one statement can never be two on the server.
"""

from __future__ import annotations

import re

from synco_core.errors import DatabaseError

_FLAGS = re.IGNORECASE
#: On a statement's keywords (strings and comments masked).
_KEYWORD_RULES: tuple[tuple[re.Pattern[bytes], str], ...] = (
    (re.compile(rb"^COPY\b", _FLAGS), "COPY other than FROM stdin reads or writes the server's files"),
    (re.compile(rb"^GRANT\b(?![\s\S]*\bON\b)", _FLAGS), "GRANT of a role changes the cluster's roles"),
    (re.compile(rb"^REVOKE\b(?![\s\S]*\bON\b)", _FLAGS), "REVOKE of a role changes the cluster's roles"),
)
#: On a statement's whole text, strings and routine bodies included.
_TEXT_RULES: tuple[tuple[re.Pattern[bytes], str], ...] = (
    (re.compile(rb"\bPROGRAM\s+E?'", _FLAGS), "PROGRAM runs a command on this machine"),
    (re.compile(rb"\bALTER\s+SYSTEM\b", _FLAGS), "ALTER SYSTEM changes the server's configuration"),
    (re.compile(rb"\b(?:CREATE|ALTER|DROP)\s+(?:ROLE|GROUP|USER(?!\s+MAPPING\b))\b", _FLAGS),
     "it changes the cluster's roles"),
    (re.compile(rb"\b(?:CREATE|ALTER|DROP)\s+TABLESPACE\b", _FLAGS), "tablespaces are directories of the server"),
    (re.compile(rb"\b(?:REASSIGN|DROP)\s+OWNED\b", _FLAGS), "it acts on objects beyond the database installed"),
    (re.compile(rb"^\s*LOAD\b", _FLAGS), "LOAD loads a shared library into the server"),
    # Also the names of their C symbols, which a function of LANGUAGE internal would call under another name.
    (re.compile(rb"\b(?:pg_read_file|pg_read_binary_file|pg_ls_|pg_stat_file|(?:be_)?lo_import|(?:be_)?lo_export"
                rb"|pg_file_|pg_logdir_ls|pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_rotate_logfile"
                rb"|pg_promote|pg_signal_backend|dblink|pg_execute_server_program)\w*", _FLAGS),
     "it calls a function that reaches the server's files, processes or other databases"),
    (re.compile(rb"\bCREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?\"?(?:dblink|file_fdw|adminpack"
                rb"|pl\w+u)\b", _FLAGS),
     "the extension reaches the server's files, programs or other databases"),
    (re.compile(rb"\bstandard_conforming_strings\b\s*(?:=|\bTO\b|',)\s*'?(?:off|false|0|no)\b", _FLAGS),
     "standard_conforming_strings off would change how strings are read"),
)
#: On the whole text of routines and DO blocks only (elsewhere the words are ordinary: ``(COPY = english)``
#: of a text search configuration).
_CODE_RULES: tuple[tuple[re.Pattern[bytes], str], ...] = (
    (re.compile(rb"\bPROGRAM\b", _FLAGS), "PROGRAM runs a command on this machine"),
    (re.compile(rb"\bCOPY\b(?![\s\S]*?\bFROM\s+STDIN\b)", _FLAGS), "COPY in a routine reaches the server's files"),
)
#: ``LANGUAGE x`` of a routine or DO block: only these languages cannot reach beyond the database.
#: ``internal`` calls a function built into the server by its symbol (types' input and output functions);
#: the symbols that reach files or processes are refused by name above.
_LANGUAGE = re.compile(rb"\bLANGUAGE\s+(?:'|\")?([A-Za-z_][A-Za-z0-9_]*)", _FLAGS)
_SAFE_LANGUAGES = frozenset({b"sql", b"plpgsql", b"plperl", b"pltcl", b"internal"})
#: ``CREATE LANGUAGE x HANDLER h``: a language of the database's own, safe when its handler is a safe one's.
_CREATE_LANGUAGE = re.compile(rb"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:TRUSTED\s+)?(?:PROCEDURAL\s+)?LANGUAGE\s+"
                              rb"\"?([A-Za-z_][A-Za-z0-9_]*)\"?(?:\s+HANDLER\s+(?:\w+\.)?(\w+))?", _FLAGS)
_SAFE_HANDLERS = frozenset({b"plpgsql_call_handler", b"plperl_call_handler", b"pltcl_call_handler"})
#: Statements on a database as a whole, which the loader skips.
_ON_DATABASE = re.compile(rb"^(?:COMMENT|SECURITY\s+LABEL|GRANT|REVOKE)\b[\s\S]*\bON\s+DATABASE\b", _FLAGS)
#: Statements whose strings hold code: routine bodies, DO blocks, and calls of set_config.
_ROUTINE = re.compile(rb"^(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\b|DO\b)", _FLAGS)
_SET_CONFIG = re.compile(rb"\bset_config\b", _FLAGS)  # its arguments, strings, may turn strings off
#: The one form of COPY a dump needs: ``COPY [schema.]table [(columns)] FROM stdin [options]``.
_IDENTIFIER = rb'(?:"(?:[^"]|"")*"|[A-Za-z_\x80-\xff][A-Za-z0-9_$\x80-\xff]*)'
_COPY_FROM_STDIN = re.compile(rb"^COPY\s+" + _IDENTIFIER + rb"(?:\s*\.\s*" + _IDENTIFIER + rb")?\s*"
                              rb"(?:\([^()]*\)\s*)?FROM\s+STDIN\b(?![\s\S]*\bPROGRAM\b)", _FLAGS)


def skipped(keywords: bytes) -> bool:
    """True for a statement about a database as a whole, which the loader does not run."""
    return _ON_DATABASE.match(keywords) is not None


def check_copy(keywords: bytes, line: int) -> None:
    """Refuse a ``COPY ... FROM stdin`` that is not plainly one (a table, its columns, options)."""
    if _COPY_FROM_STDIN.match(keywords) is None:
        _refuse(line, "a COPY other than 'COPY table (columns) FROM stdin' may reach the server's files")


def check(text: bytes, keywords: bytes, line: int, languages: set[bytes]) -> None:
    """Raise a one-line :class:`DatabaseError` when the statement must not run (module docstring).

    :param text: the statement as the dump has it.
    :param keywords: the same with strings and comments masked (``script.strip_comments(mask=True)``).
    :param languages: the languages the dump created so far, with a safe handler (added to here).
    """
    created = _CREATE_LANGUAGE.match(keywords)
    if created is not None:
        if (created.group(2) or b"").lower() not in _SAFE_HANDLERS:
            _refuse(line, "a language with this handler can reach beyond the database")
        languages.add(created.group(1).lower())
        return
    for pattern, reason in _KEYWORD_RULES:
        if pattern.search(keywords):
            _refuse(line, reason)
    # Routine bodies, DO blocks and set_config's arguments are strings that are code: they are searched
    # with their strings. Elsewhere strings are data (comments, rows of pg_dump --inserts) that may say
    # anything, and only the keywords are.
    routine = _ROUTINE.match(keywords) is not None
    # A routine's comments are never run, and say what they like ("-- create user rows"): its bodies are
    # searched without them, their strings kept (EXECUTE 'ALTER SYSTEM ...' is code).
    bodies = [_uncommented(body) for body in _bodies(text)] if routine else []
    whole = b"\n".join([keywords, *bodies]) if routine else text if _SET_CONFIG.search(keywords) else keywords
    for pattern, reason in _TEXT_RULES:
        if pattern.search(whole):
            _refuse(line, reason)
    # In routines the strings are the body; names (quoted identifiers) may say anything, "COPY x" too.
    for part in bodies:
        for pattern, reason in _CODE_RULES:
            if pattern.search(part):
                _refuse(line, reason)
    if not routine:
        return
    for match in _LANGUAGE.finditer(keywords):
        if match.group(1).lower() not in _SAFE_LANGUAGES | languages:
            _refuse(line, f"routines in language {match.group(1).decode('ascii', 'replace')} can reach beyond "
                          "the database")


#: The parts of a statement as the splitter reads them: strings (and dollar-quoted bodies) are group 1.
_PARTS = re.compile(rb"""
    [Ee]'((?:[^'\\]|\\.|'')*)'
    | '((?:[^']|'')*)'
    | "(?:[^"]|"")*"
    | --[^\n]*
    | /\*.*?\*/
    | \$(?P<tag>(?:[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*)?)\$(.*?)\$(?P=tag)\$""", re.DOTALL | re.VERBOSE)


def _bodies(text: bytes) -> list[bytes]:
    """The contents of the statement's strings and dollar-quoted bodies, without its quoted identifiers."""
    return [next(group for group in (match.group(1), match.group(2), match.group(4)) if group is not None)
            for match in _PARTS.finditer(text)
            if match.group(1) is not None or match.group(2) is not None or match.group(4) is not None]


def _uncommented(code: bytes) -> bytes:
    """``code`` (a routine's body) with its comments blanked out and its strings kept, read as the server
    reads SQL and PL/pgSQL: a ``--`` inside a string is not a comment, so nothing after it is hidden."""
    return _PARTS.sub(lambda match: b" " if match.group(0)[:2] in (b"--", b"/*") else match.group(0), code)


def _refuse(line: int, reason: str) -> None:
    raise DatabaseError(f"refusing the statement at line {line} of the dump: {reason} (a dump may only create "
                        "and fill the database it is installed into)")
