"""What a dump may ask of the local PostgreSQL server: its own database's objects and rows, nothing else.

A dump comes from the session, and the session from a server that may be hostile (or compromised). The
install runs its statements on the user's local server, usually as a superuser, who may run programs
(``COPY ... FROM PROGRAM``), read and write the server's files (``pg_read_file``, ``lo_export``, ``COPY ...
TO '/file'``), change the server's configuration (``ALTER SYSTEM``), create roles, become another one, and
reach other databases (``dblink``, ``postgres_fdw``). So before a statement is sent, this gate refuses it
(the install fails, nothing is swapped in) when it:

- is a ``COPY`` other than ``COPY ... FROM stdin`` (a dump's data), or names ``PROGRAM``;
- changes the cluster: ``ALTER SYSTEM``, roles (``CREATE``/``ALTER``/``DROP ROLE``/``USER``/``GROUP``,
  ``GRANT role TO``, comments and labels on roles), tablespaces (and privileges on them and on
  parameters), ``REASSIGN``/``DROP OWNED``, ``LOAD``, replication slots and origins,
  subscriptions (``CREATE``/``ALTER SUBSCRIPTION``). (``SET ROLE`` and ``SET SESSION
  AUTHORIZATION``, which synco's dumps with owners write, only ever take the rights of a role the loading
  one may already act as);
- calls the functions that reach files, programs, other backends or other databases (``pg_read_file``,
  ``lo_import``, ``lo_export``, ``pg_terminate_backend``, ``dblink`` ...), or creates the extensions that
  provide them (``dblink``, ``file_fdw``, ``adminpack``, untrusted languages: by name before it runs, and
  whatever the name by asking the server after each statement whether the database has one; see
  :func:`check_untrusted_languages`), also as ``CREATE LANGUAGE x`` without a handler, which the server runs
  as ``CREATE EXTENSION x``; and ``DO`` blocks and routines whose bodies create an extension or a language,
  which could use it before the loader asks;
  ``postgres_fdw`` and user mappings are allowed: dumps of databases with foreign tables carry them. A
  mapping of a superuser without a password can let ``postgres_fdw`` reach other databases of the same
  server; that is left to the role the install runs as (see docs/security.md);
- creates a routine in a language other than ``sql``, ``plpgsql``, ``plperl``, ``pltcl``, ``internal``
  (whose symbols that reach files or processes are refused by name) and languages the dump created with
  one of their handlers (``c`` names any function of any library; ``plpython3u`` and the like run anything);
- writes into the system catalogs (``UPDATE pg_proc``, ``INSERT INTO pg_authid``, ``COPY
  pg_catalog.x FROM stdin``), which a superuser may do and which makes a C function or a role of any row;
- turns ``standard_conforming_strings`` off, or sets a client encoding in which a quote or backslash byte
  can be the second half of a letter (SJIS, BIG5, GBK, UHC, GB18030, JOHAB): the server would then read
  strings otherwise than the loader's splitter does. Checked by what the server reports after every
  statement (:func:`check_session`), so a ``set_config`` under another name or a function that sets
  either is caught too.

Names and strings are read as the server reads them (:mod:`.reading`): ``"lo_export"`` and
``U&"\\006Co_export"`` are ``lo_export``; ``E'be\\x5flo_export'`` and two constants joined across a line
break are the one string they make. Routine bodies, ``DO`` blocks and the strings of functions that run
a string as a query (``query_to_xml``, ``ts_stat``, ``ts_rewrite``, ``crosstab``) are code: they are
searched too (the text of any statement but data, with its strings, and the strings inside those). A body
that builds such a statement from pieces at run time (``EXECUTE 'CO' || 'PY'``) is beyond what a text
check can see, and so is a view or rule that writes into a catalog for a later statement; see
docs/security.md.

Statements about a database as a whole (``COMMENT ON DATABASE``, ``GRANT ... ON DATABASE``), which
``pg_dump --create`` writes for the source database, are skipped like ``CREATE DATABASE``: they would act
on another database than the scratch one.

The loader also sends each statement with the extended query protocol, which the server refuses to run
as more than one statement: a text the splitter took for one statement can never be two on the server.
"""

from __future__ import annotations

import re

from synco_core.engines.postgresql import reading
from synco_core.errors import DatabaseError

_FLAGS = re.IGNORECASE
#: Extensions whose functions reach the server's files, programs or other databases (``pl...u``: the
#: untrusted languages), as a regular expression; the dumper refuses databases holding them (:mod:`.unsupported`).
UNSAFE_EXTENSIONS = rb"dblink|file_fdw|adminpack|pl\w+u"
#: A condition on ``pg_language`` alias ``{0}``: a procedural language its owner marked untrusted, whose
#: code (and the functions of its extension: PL/R's ``install_rcmd``) can run anything on the server. A
#: language made with the handler of PL/pgSQL, PL/Perl or PL/Tcl (``CREATE LANGUAGE plsame HANDLER
#: plpgsql_call_handler``, which a dump may carry) is not: it runs what those run, whatever its flag says.
UNTRUSTED_LANGUAGE = ("({0}.lanispl AND NOT {0}.lanpltrusted AND NOT EXISTS (SELECT FROM pg_catalog.pg_proc h "
                      "WHERE h.oid = {0}.lanplcallfoid AND (h.probin, h.prosrc) IN (('$libdir/plpgsql', "
                      "'plpgsql_call_handler'), ('$libdir/plperl', 'plperl_call_handler'), "
                      "('$libdir/pltcl', 'pltcl_call_handler'))))")
#: Statements that run an extension's script, which may create such a language under any name: a
#: ``CREATE LANGUAGE`` without a handler is ``CREATE EXTENSION`` (and with one, it makes a language).
_EXTENSION_ANYWHERE = re.compile(rb"\b(?:(?:CREATE|ALTER)\s+EXTENSION|CREATE\s+(?:OR\s+REPLACE\s+)?(?:TRUSTED\s+)?"
                                 rb"(?:PROCEDURAL\s+)?LANGUAGE)\b", _FLAGS)
#: A write into a system catalog (``UPDATE pg_proc SET prolang = ...``, ``INSERT INTO pg_authid``), which
#: a superuser may do and which makes anything of anything: a C function, a role, another database's row.
#: Unqualified, a ``pg_`` name is the catalog's (``pg_catalog`` comes first unless the path names it);
#: ``pg_temp.t`` is a temporary table.
_CATALOG_WRITE = re.compile(rb"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|MERGE\s+INTO|TRUNCATE(?:\s+TABLE)?|COPY)"
                            rb"\s+(?:ONLY\s+)?(?:pg_catalog\s*\.|pg_\w+\b(?!\s*\.))", _FLAGS)
_CATALOG_REASON = "it writes into the server's system catalogs"
#: On a statement's keywords (strings and comments masked).
_KEYWORD_RULES: tuple[tuple[re.Pattern[bytes], str], ...] = (
    (re.compile(rb"^COPY\b", _FLAGS), "COPY other than FROM stdin reads or writes the server's files"),
    (re.compile(rb"^GRANT\b(?![\s\S]*\bON\b)", _FLAGS), "GRANT of a role changes the cluster's roles"),
    (re.compile(rb"^REVOKE\b(?![\s\S]*\bON\b)", _FLAGS), "REVOKE of a role changes the cluster's roles"),
    # Tablespaces, parameters and roles are the cluster's, and so are their privileges and comments.
    (re.compile(rb"^(?:GRANT|REVOKE)\b[\s\S]*?\bON\s+(?:TABLESPACE|PARAMETER)\b", _FLAGS),
     "privileges on tablespaces and parameters are the whole server's"),
    (re.compile(rb"^(?:COMMENT|SECURITY\s+LABEL)\b[\s\S]*?\bON\s+(?:ROLE|TABLESPACE)\b", _FLAGS),
     "roles and tablespaces are the whole server's"),
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
    # Replication slots and origins belong to the cluster: a slot keeps WAL for ever, and reading or
    # dropping one takes changes away from whatever replicates from this server.
    (re.compile(rb"\bpg_(?:create_\w*replication_slot|drop_replication_slot|copy_\w*replication_slot"
                rb"|replication_slot_advance|logical_slot_|replication_origin_)\w*", _FLAGS),
     "it changes the server's replication slots or origins"),
    # ALTER LANGUAGE c RENAME TO plpgsql (the real one renamed first): a C routine would pass as a safe one.
    (re.compile(rb"\bALTER\s+(?:PROCEDURAL\s+)?LANGUAGE\s+\S+\s+RENAME\b", _FLAGS),
     "a renamed language would let a routine in another pass for one in a safe language"),
    (re.compile(rb"\b(?:CREATE|ALTER)\s+SUBSCRIPTION\b", _FLAGS),
     "a subscription connects to another server, and the database could not be dropped again"),
    (re.compile(rb"\bCREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:" + UNSAFE_EXTENSIONS + rb")\b", _FLAGS),
     "the extension reaches the server's files, programs or other databases"),
    (re.compile(rb"\bstandard_conforming_strings\b\s*(?:=|\bTO\b|',)\s*'?(?:off|false|0|no)\b", _FLAGS),
     "standard_conforming_strings off would change how strings are read"),
    # SET as pg_dump writes it, and nothing else: 'off', f, of, n ... all turn it off.
    (re.compile(rb"^\s*SET\s+(?:SESSION\s+|LOCAL\s+)?standard_conforming_strings\b"
                rb"(?!\s*(?:=|\bTO\b)\s*(?:on|true)\s*;?\s*$)",
                _FLAGS),
     "standard_conforming_strings off would change how strings are read"),
    (_CATALOG_WRITE, _CATALOG_REASON),
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
#: Matched without taking the name, so that a clause right after a type named language is found too.
_LANGUAGE = re.compile(rb"\bLANGUAGE\s+(?=(''|[^\s(),;]+))", _FLAGS)
#: A type named language (LedgerSMB's table), as ``RETURNS [SETOF] [schema.]language``...
_TYPE_BEFORE = re.compile(rb"(?:\bRETURNS|\bSETOF|\.)\s*$", _FLAGS)
#: ... followed by what may follow a routine's return type, which no language the gate lets through is
#: named (they are the safe ones, and those the dump made with a safe handler).
_AFTER_TYPE = frozenset({b"as", b"language", b"immutable", b"stable", b"volatile", b"strict", b"security", b"set",
                         b"cost", b"rows", b"parallel", b"window", b"leakproof", b"called", b"not", b"return",
                         b"begin", b"transform", b"support", b"external"})
SAFE_LANGUAGES = frozenset({b"sql", b"plpgsql", b"plperl", b"pltcl", b"internal"})
#: Languages whose comments are SQL's (an internal function's body is the name of its symbol).
_SQL_COMMENT_LANGUAGES = frozenset({b"sql", b"plpgsql", b"internal"})
#: ``CREATE LANGUAGE x HANDLER h``: a language of the database's own, safe when its handler is a safe one's.
_CREATE_LANGUAGE = re.compile(rb"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:TRUSTED\s+)?(?:PROCEDURAL\s+)?LANGUAGE\s+"
                              rb"\"?([A-Za-z_][A-Za-z0-9_]*)\"?(?:\s+HANDLER\s+(?:\w+\.)?(\w+))?", _FLAGS)
SAFE_HANDLERS = frozenset({b"plpgsql_call_handler", b"plperl_call_handler", b"pltcl_call_handler"})
#: ``CREATE [OR REPLACE] LANGUAGE x`` alone, without a handler: the server runs it as ``CREATE EXTENSION x``
#: (what pg_dump 8.4 and 9.0 wrote, and application scripts still do), so it is judged as one.
_LANGUAGE_AS_EXTENSION = re.compile(rb"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:TRUSTED\s+)?(?:PROCEDURAL\s+)?LANGUAGE\s+"
                                    rb"([^\s;]+)\s*;?\s*$", _FLAGS)
#: Client encodings (as the server reports them, without ``_``) whose characters may end in a byte below 0x80.
_SPLIT_ENCODINGS = frozenset({b"SJIS", b"SHIFTJIS2004", b"BIG5", b"GBK", b"UHC", b"GB18030", b"JOHAB"})
#: Statements on a database as a whole, which the loader skips.
_ON_DATABASE = re.compile(rb"^(?:COMMENT|SECURITY\s+LABEL|GRANT|REVOKE)\b[\s\S]*\bON\s+DATABASE\b", _FLAGS)
#: Statements whose strings hold code: routine bodies, DO blocks, and calls of set_config.
_ROUTINE = re.compile(rb"^(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\b|DO\b)", _FLAGS)
_SET_CONFIG = re.compile(rb"\bset_config\b", _FLAGS)  # its arguments, strings, may turn strings off
#: Functions that run a string as a query: their strings are code, like a routine's body.
_RUNS_QUERY_TEXT = re.compile(rb"\b(?:query_to_xml\w*|query_to_xmlschema|ts_stat|ts_rewrite|crosstab\d*)\s*\(", _FLAGS)
#: The one form of COPY a dump needs: ``COPY [schema.]table [(columns)] FROM stdin [options]``.
_IDENTIFIER = rb'(?:"(?:[^"]|"")*"|[A-Za-z_\x80-\xff][A-Za-z0-9_$\x80-\xff]*)'
_COPY_FROM_STDIN = re.compile(rb"^COPY\s+" + _IDENTIFIER + rb"(?:\s*\.\s*" + _IDENTIFIER + rb")?\s*"
                              rb"(?:\([^()]*\)\s*)?FROM\s+STDIN\b(?![\s\S]*\bPROGRAM\b)", _FLAGS)


def skipped(keywords: bytes) -> bool:
    """True for a statement about a database as a whole, which the loader does not run."""
    return _ON_DATABASE.match(keywords) is not None


def check_copy(text: bytes, keywords: bytes, line: int) -> None:
    """Refuse a ``COPY ... FROM stdin`` that is not plainly one (a table, its columns, options), or whose
    names do what no statement may (writing into a catalog, a ``WHERE`` clause calling ``lo_export`` for
    every row)."""
    if _COPY_FROM_STDIN.match(keywords) is None:
        _refuse(line, "a COPY other than 'COPY table (columns) FROM stdin' may reach the server's files")
    names = reading.read(text).names
    for pattern, reason in _TEXT_RULES:
        if pattern.search(names):
            _refuse(line, reason)


def check_session(standard_strings: bytes | None, encoding: bytes | None, line: int) -> None:
    """Refuse to go on once the statement at ``line`` made the server read the next ones otherwise than the
    splitter: with ``standard_conforming_strings`` off (``'a\\'`` would go on past its quote), or in a client
    encoding where a byte below 0x80 can be the second half of a character (in SJIS ``0x81 0x5C`` is one
    letter, not a backslash), so that what the gate took for a string would be code to the server.

    The server reports both whenever they change (libpq's parameter status), however they were changed.
    """
    if standard_strings is not None and standard_strings.lower() != b"on":
        _refuse(line, "it turned standard_conforming_strings off, which would change how strings are read")
    if encoding is not None and encoding.upper().replace(b"_", b"") in _SPLIT_ENCODINGS:
        _refuse(line, f"it set the client encoding {encoding.decode('ascii', 'replace')}, in which a quote or "
                      "backslash byte can be part of a letter")


def check(text: bytes, keywords: bytes, line: int, languages: set[bytes]) -> None:
    """Raise a one-line :class:`DatabaseError` when the statement must not run (module docstring).

    :param text: the statement as the dump has it.
    :param keywords: the same with strings and comments masked (``script.strip_comments(mask=True)``).
    :param languages: the languages the dump created so far, with a safe handler (added to here).
    """
    # The values of the strings are read only where they may be code (below); a data statement's are data.
    routine = _ROUTINE.match(keywords) is not None
    read = reading.read(text, values=routine)
    # Names are searched by what they name: "lo_export", U&"\006Co_export" and lo_export are one function.
    names = read.names
    if not routine and (_RUNS_QUERY_TEXT.search(names) or _SET_CONFIG.search(names)):
        read = reading.read(text)
    as_extension = _LANGUAGE_AS_EXTENSION.match(names)
    if as_extension is not None:
        # Untrusted by name is refused before it runs; by what the extension made, after it (the loader).
        if re.fullmatch(UNSAFE_EXTENSIONS, as_extension.group(1), _FLAGS):
            _refuse(line, "the extension reaches the server's files, programs or other databases")
        return
    created = _CREATE_LANGUAGE.match(names)
    if created is not None:
        if (created.group(2) or b"").lower() not in SAFE_HANDLERS:
            _refuse(line, "a language with this handler can reach beyond the database")
        languages.add(created.group(1).lower())
        return
    for pattern, reason in _KEYWORD_RULES:
        if pattern.search(keywords):
            _refuse(line, reason)
    # Routine bodies, DO blocks and set_config's arguments are strings that are code: they are searched
    # by their values. Elsewhere strings are data (comments, rows of pg_dump --inserts) that may say
    # anything, and only the names are.
    used = _languages(read) if routine else []
    if routine and keywords[:2].upper() == b"DO" and not used:
        used = [b"plpgsql"]
    # A comment of SQL or PL/pgSQL is never run, and says what it likes ("-- create user rows"): such
    # bodies are searched without their comments, their strings kept (EXECUTE 'ALTER SYSTEM ...' is
    # code). Another language's comments are not SQL's (Perl's $i-- is no comment): searched whole.
    sql_comments = all(language in _SQL_COMMENT_LANGUAGES for language in used)
    bodies = [code for value in read.strings for code in _code(value, sql_comments)] if routine else []
    if routine:
        whole = b"\n".join([names, *bodies])
    elif _RUNS_QUERY_TEXT.search(names):
        # query_to_xml('SELECT lo_export(...)') runs its string as a query, as EXECUTE would.
        whole = b"\n".join([names, *(code for value in read.strings for code in _code(value, True))])
    elif _SET_CONFIG.search(names):
        whole = b"\n".join([names, text, *read.strings])
    else:
        whole = names
    for pattern, reason in _TEXT_RULES:
        if pattern.search(whole):
            _refuse(line, reason)
    # In routines the strings are the body; names (quoted identifiers) may say anything, "COPY x" too.
    for part in bodies:
        for pattern, reason in _CODE_RULES:
            if pattern.search(part):
                _refuse(line, reason)
        # A DO block runs at once, and a routine in whichever statement calls it: one creating an extension
        # could use it in the same run, before the loader looks at the languages it made (EXECUTE 'CREATE
        # EXTENSION plr'; then PL/R's install_rcmd). No dumper writes one.
        if _EXTENSION_ANYWHERE.search(part):
            kind = "a DO block" if keywords[:2].upper() == b"DO" else "a routine"
            _refuse(line, f"{kind} creating an extension could use an untrusted language's before it is seen")
    for language in used:
        if language not in SAFE_LANGUAGES | languages:
            _refuse(line, f"routines in language {language.decode('utf-8', 'replace')} can reach beyond "
                          "the database")


def _languages(read: reading.Reading) -> list[bytes]:
    """The languages a routine statement names (``LANGUAGE plpgsql``, ``LANGUAGE "c"``, ``LANGUAGE 'c'``)."""
    found = []
    for match in _LANGUAGE.finditer(read.names):
        before = read.names[:match.start()]
        if before.count(b"(") != before.count(b")"):
            continue  # a parameter or column named language: RETURNS TABLE (language text)
        name = read.string_at.get(match.start(1), b"") if match.group(1) == b"''" else match.group(1)
        if _TYPE_BEFORE.search(before) and match.group(1).lower() in _AFTER_TYPE:
            continue  # RETURNS SETOF language AS ...: the type; the clause, if after it, is matched next
        found.append(name.lower())
    return found


def _code(value: bytes, sql_comments: bool, depth: int = 0) -> list[bytes]:
    """The texts of a body (or of a string in one) to search: as written, and the values of its own
    strings (``EXECUTE E'ALTER\\x20SYSTEM ...'``), a few levels down."""
    code = _uncommented(value) if sql_comments else value
    texts = [code]
    if depth < 3:
        inner = reading.read(value)
        texts.append(inner.names)
        for string in inner.strings:
            texts.extend(_code(string, sql_comments, depth + 1))
    return texts


#: The parts of a statement as the splitter reads them: strings (and dollar-quoted bodies) are group 1.
_PARTS = re.compile(rb"""
    [Ee]'((?:[^'\\]|\\.|'')*)'
    | '((?:[^']|'')*)'
    | "(?:[^"]|"")*"
    | --[^\n]*
    | /\*.*?\*/
    | \$(?P<tag>(?:[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*)?)\$(.*?)\$(?P=tag)\$""", re.DOTALL | re.VERBOSE)


def _uncommented(code: bytes) -> bytes:
    """``code`` (a routine's body) with its comments blanked out and its strings kept, read as the server
    reads SQL and PL/pgSQL: a ``--`` inside a string is not a comment, so nothing after it is hidden."""
    return _PARTS.sub(lambda match: b" " if match.group(0)[:2] in (b"--", b"/*") else match.group(0), code)


def _refuse(line: int, reason: str) -> None:
    raise DatabaseError(f"refusing the statement at line {line} of the dump: {reason} (a dump may only create "
                        "and fill the database it is installed into)")


#: The untrusted languages of the database, which a fresh scratch database has none of.
UNTRUSTED_LANGUAGES_QUERY = ("SELECT pg_catalog.string_agg(pg_catalog.quote_ident(l.lanname), ', ' ORDER BY l.lanname) "
                             "FROM pg_catalog.pg_language l WHERE " + UNTRUSTED_LANGUAGE.format("l"))


def check_untrusted_languages(found: str | None, line: int) -> None:
    """Refuse a dump that made an untrusted language (``found``) by the statement at ``line``: an
    extension's, whose script is the server's own and ran nothing of the dump's. The names
    ``UNSAFE_EXTENSIONS`` knows are refused before they run; others (``plr``, ``plsh``), or one created by
    a routine the statement ran, only show here, before any later statement could use them."""
    if found:
        raise DatabaseError(f"the statement at line {line} of the dump created the untrusted language {found}, "
                            "which runs programs on the server; synco refuses it")
