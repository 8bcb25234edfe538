"""Atomic install and rollback of a PostgreSQL database.

The dump is loaded into a fresh scratch database ``<db>__synco_new``, created from ``template0`` with the
target's encoding and locale (the source's, which the dump names, when the target is new or its encoding
cannot hold the source's text: :mod:`.sourcedatabase`). The loaded tables are checked against the source's
manifest (row counts counted in the scratch database, and the SHA-256 of each table's COPY text, computed
as it streams in). Only then are the databases swapped by renaming, in one transaction: the current
database becomes ``<db>__synco_prev`` (kept for ``synco db rollback`` until the next install) and the
scratch database takes its name. Renaming needs the target free of connections, so the other sessions on
it are ended first. If anything fails before the swap the scratch database is dropped and the target is
untouched.

What belongs to the target database itself rather than to its content (its owner, ``ALTER DATABASE ...
SET`` and ``ALTER ROLE ... IN DATABASE`` settings, its comment, its grants (``GRANT CONNECT``, ``CREATE``)
and connection limit) is copied onto the scratch database before the swap, and the scratch database is
created in the target's tablespace.

A role that owns the target but may not create databases (the application's own role on DDEV, Sail or a
managed server) cannot have a scratch database: its install replaces the content inside the database, in
one transaction (:mod:`.inplace`), which is as atomic, but keeps no copy for a rollback.

A kill at any moment loses nothing: the renames are one transaction, which the server rolls back when its
client dies before the commit, so the target is either the previous or the new database, whole. What a
kill can leave is the scratch database (before the swap), which the next install or rollback drops; a
rollback that finds one reports that the interrupted install had not changed the target, and changes
nothing else. Installs and rollbacks of one database wait for each other (a session advisory lock, which
the server releases when a killed process's connection closes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from collections.abc import Mapping
from typing import Any, BinaryIO

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.rows import dict_row

from synco_core.engines import crashpoints
from synco_core.engines.guard import check_target, refuse_derived_name
from synco_core.engines.postgresql import inplace, rights
from synco_core.engines.postgresql.catalog import manifest_key
from synco_core.engines.postgresql.connection import connect, one_line, where
from synco_core.engines.postgresql.ending import MAY_END, SessionEnder, end_sessions
from synco_core.engines.postgresql.loader import LoadStats, load_script
from synco_core.engines.postgresql.sharedcopy import SecondConnection
from synco_core.engines.postgresql.sourcedatabase import Locale, carried, split_header, with_head
from synco_core.errors import ConfigError, DatabaseError, SyncoError
from synco_core.listing import some_names
from synco_core.nospace import server_full, server_out_of_space
from synco_core.values import DatabaseConfig, InstallOptions, InstallResult, TableManifest

log = logging.getLogger(__name__)

SCRATCH_SUFFIX = "__synco_new"
PREVIOUS_SUFFIX = "__synco_prev"
SWAP_SUFFIX = "__synco_swap"
#: PostgreSQL truncates longer identifiers, which would make the derived names collide.
MAX_NAME_BYTES = 63
#: The database the installer connects to for CREATE / DROP / RENAME.
MAINTENANCE_DATABASES = ("postgres", "template1")
#: How long an install or rollback waits for another one on the same database before giving up.
LOCK_WAIT_SECONDS = 30


#: What the confirmation adds, by how the install replaces the database.
_KEPT_NOTE = {rights.SWAP: "The current database is kept for 'synco db rollback'. The sessions connected to it "
                            "are ended at the swap.",
              rights.IN_PLACE: "Its content is replaced inside it (the role may not create databases): no copy is "
                               "kept for 'synco db rollback'. The sessions connected to it are ended."}


def guard(database: DatabaseConfig, options: InstallOptions, action: str, mode: str = rights.SWAP) -> None:
    """The local-target guard and the confirmation every install and rollback goes through."""
    _names(database)  # a target named as another one's kept copy is refused before the question
    if not (database.host or database.socket):
        # Without a host in the URL, libpq connects where PGHOSTADDR or PGHOST say: judge that host.
        environment = os.environ.get("PGHOSTADDR") or os.environ.get("PGHOST")
        if environment:
            database = database.replace(host=environment)
    check_target(database, options, action, "PostgreSQL", database.socket or database.host or "localhost",
                 _KEPT_NOTE[mode])


#: The databases beside a target, by suffix: what each holds (a target may not be named so).
OWN_DATABASES = {SCRATCH_SUFFIX: "the scratch copy an install loads", PREVIOUS_SUFFIX: "the previous content",
                 SWAP_SUFFIX: "what a rollback takes out"}


def _names(database: DatabaseConfig) -> tuple[str, str, str]:
    name = database.name
    refuse_derived_name(name, OWN_DATABASES, "PostgreSQL", database.socket or database.host or "localhost")
    if _bytes(name) > MAX_NAME_BYTES:
        raise ConfigError(f"PostgreSQL database name {name!r} is longer than the {MAX_NAME_BYTES} bytes PostgreSQL "
                          "keeps of a name")
    return derived_name(name, SCRATCH_SUFFIX), derived_name(name, PREVIOUS_SUFFIX), derived_name(name, SWAP_SUFFIX)


def derived_name(name: str, suffix: str) -> str:
    """``name + suffix``, shortened with a hash of ``name`` when longer than PostgreSQL's 63 bytes: the server
    would cut it there, and the names of two long targets (or a target's three) would be one database."""
    if _bytes(name + suffix) <= MAX_NAME_BYTES:
        return name + suffix
    digest = hashlib.sha1(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    head = name
    # Cut by characters, never inside a multi-byte one.
    while _bytes(head + "_" + digest + suffix) > MAX_NAME_BYTES:
        head = head[:-1]
    return head + "_" + digest + suffix


def _bytes(name: str) -> int:
    return len(name.encode("utf-8", "surrogateescape"))


def _admin(database: DatabaseConfig) -> psycopg.Connection[Any]:
    """A connection to a maintenance database, from where databases can be created and renamed."""
    last: DatabaseError | None = None
    for dbname in MAINTENANCE_DATABASES:
        try:
            return connect(database, dbname, settings=True)
        except DatabaseError as exc:
            last = exc
    assert last is not None
    raise last


def _exists(admin: psycopg.Connection[Any], name: str) -> bool:
    return admin.execute("SELECT 1 FROM pg_catalog.pg_database WHERE datname = %s", (name,)).fetchone() is not None


def _drop(admin: psycopg.Connection[Any], name: str) -> None:
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _drop_scratch(database: DatabaseConfig, admin: psycopg.Connection[Any], scratch: str) -> bool:
    """After a failed install: drop the scratch database, never raising over the error that failed it; False
    when it could not.

    The failure may be the admin connection itself (reset, terminated, timed out): then a new connection
    drops it, so that no copy of the whole dump stays on the server until the next install. What still
    fails is one warning line.
    """
    try:
        _drop(admin, scratch)
        return True
    except psycopg.Error as exc:
        failure: BaseException = exc
    try:
        fresh = _admin(database)
        try:
            # Under the database's lock again: another install may have started once the first connection,
            # and its lock with it, was gone, and the scratch database would then be that install's.
            _lock(fresh, database.name)
            _drop(fresh, scratch)
            return True
        finally:
            fresh.close()
    except (psycopg.Error, SyncoError) as exc:
        failure = exc
    log.warning("could not drop the scratch database %r after the failed install (the next install will): %s",
                scratch, one_line(failure))
    return False


def _create_scratch(admin: psycopg.Connection[Any], target: str, scratch: str, source: Locale | None) -> None:
    """Create the scratch database with the target's encoding and locale, or the source's when the target
    is new (:mod:`.sourcedatabase`; the server's defaults, in UTF-8, when it cannot or the dump names none)."""
    _drop(admin, scratch)
    with admin.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT pg_catalog.pg_encoding_to_char(encoding) AS encoding_name, * "
                          "FROM pg_catalog.pg_database WHERE datname = %s", (target,)).fetchone()
    create = sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(scratch))
    if row is not None:
        create = _in_tablespace_of(admin, target, create, row["dattablespace"])
        own = Locale(row["encoding_name"], row["datcollate"], row["datctype"], row.get("datlocprovider") or "c",
                     row.get("daticulocale"))
        if source is None or _holds(own.encoding, source.encoding):
            if source is not None and source != own:
                log.warning("PostgreSQL database %r keeps its own %s; the dump's source had %s: text may sort and "
                            "compare differently in the copy", target, own.describe(), source.describe())
            admin.execute(create + _locale_options(own))
            return
        # A LATIN1 (or other one-byte) database cannot store the characters of a UTF-8 source beyond its
        # own, and the COPY of the first such row failed after the whole download. The install creates a
        # new database anyway (pg_restore --create would give it the source's encoding too).
        what = ("the bytes of a SQL_ASCII source that are not text in it" if source.encoding == "SQL_ASCII"
                else "all of the text of the dump's source")
        log.warning("PostgreSQL database %r becomes %s: its own encoding %s cannot hold %s", target,
                    source.encoding, own.encoding, what)
    if source is not None:
        try:
            admin.execute(create + _locale_options(source))
            return
        except psycopg.Error as exc:
            log.warning("PostgreSQL database %r is created with this server's default locale: it cannot create "
                        "the dump's source's %s (%s); text may sort and compare differently in the copy",
                        target, source.describe(), one_line(exc))
    try:
        admin.execute(create + sql.SQL(" ENCODING 'UTF8'"))
    except pg_errors.InvalidParameterValue:
        # The server's default locale is not a UTF-8 one (a cluster initialised in LATIN1): C holds any.
        admin.execute(create + sql.SQL(" ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"))


def _in_tablespace_of(admin: psycopg.Connection[Any], target: str, create: sql.Composed,
                      tablespace: int) -> sql.Composed:
    """``create`` in the target's tablespace, unless it is the server's default: the copy would otherwise move
    a database its owner put on another disk to the default one. Left out, with a warning, when the role may
    not create there (the copy then lands in the default tablespace, as before)."""
    row = admin.execute("""
        SELECT t.spcname, pg_catalog.has_tablespace_privilege(t.oid, 'CREATE')
        FROM pg_catalog.pg_tablespace t
        WHERE t.oid = %s AND t.oid <> (SELECT oid FROM pg_catalog.pg_tablespace WHERE spcname = 'pg_default')
        """, (tablespace,)).fetchone()
    if row is None:
        return create
    name, allowed = row
    if not allowed:
        log.warning("PostgreSQL database %r lives in tablespace %r, where this role may not create databases: "
                    "the installed copy goes to the default tablespace", target, name)
        return create
    return create + sql.SQL(" TABLESPACE {}").format(sql.Identifier(name))


def _holds(own: str, source: str) -> bool:
    """Whether a database in encoding ``own`` can store every character of one in ``source``: the same
    encoding, UTF-8 (which holds every character), or SQL_ASCII (which stores the bytes unchecked). A
    SQL_ASCII source's text is bytes, any of them: only a SQL_ASCII database is sure to hold them all."""
    if source == "SQL_ASCII":
        return own == source
    return own == source or own in ("UTF8", "SQL_ASCII")


def _locale_options(locale: Locale) -> sql.Composed:
    options = sql.SQL(" ENCODING {} LC_COLLATE {} LC_CTYPE {}").format(
        sql.Literal(locale.encoding), sql.Literal(locale.collate), sql.Literal(locale.ctype))
    if locale.provider == "i" and locale.icu_locale:
        options += sql.SQL(" LOCALE_PROVIDER icu ICU_LOCALE {}").format(sql.Literal(locale.icu_locale))
    return options


#: Settings whose value is a list; pg_db_role_setting keeps them as one string that must be split again.
_LIST_SETTINGS = {"search_path", "temp_tablespaces", "session_preload_libraries", "local_preload_libraries"}


def _split_list_setting(value: str) -> list[str]:
    """``"$user", public`` -> ``['$user', 'public']`` (elements may be double-quoted)."""
    items, current, quoted, index = [], "", False, 0
    while index < len(value):
        char = value[index]
        if char == '"':
            if quoted and value[index + 1:index + 2] == '"':
                current += '"'
                index += 1
            else:
                quoted = not quoted
        elif char == "," and not quoted:
            items.append(current.strip())
            current = ""
        else:
            current += char
        index += 1
    items.append(current.strip())
    return [item for item in items if item]


def _carry_properties(admin: psycopg.Connection[Any], target: str, scratch: str) -> None:
    """Give the scratch database what belongs to the database itself: its owner, settings and comment.

    A dump carries schemas and rows; ``ALTER DATABASE ... SET`` settings, ``ALTER ROLE ... IN DATABASE``
    settings, the owner (who, since PostgreSQL 15, also owns the ``public`` schema's privileges) and the
    comment live with the database, and would otherwise stay behind in the previous one.
    """
    row = admin.execute("""
        SELECT d.oid, pg_catalog.pg_get_userbyid(d.datdba), pg_catalog.shobj_description(d.oid, 'pg_database'),
               pg_catalog.pg_has_role(d.datdba, 'MEMBER'), d.datconnlimit, d.datacl IS NOT NULL, d.datallowconn
        FROM pg_catalog.pg_database d WHERE d.datname = %s""", (target,)).fetchone()
    if row is None:
        return
    oid, owner, comment, can_own, limit, granted, allowed = row
    scratch_id = sql.Identifier(scratch)
    if can_own:
        admin.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(scratch_id, sql.Identifier(owner)))
    if comment is not None:
        admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(scratch_id, sql.Literal(comment)))
    if limit != -1:
        admin.execute(sql.SQL("ALTER DATABASE {} CONNECTION LIMIT {}").format(scratch_id, sql.Literal(limit)))
    if granted:
        _carry_grants(admin, oid, scratch_id)
    for role, settings in admin.execute("""
            SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(s.setrole) END, s.setconfig
            FROM pg_catalog.pg_db_role_setting s WHERE s.setdatabase = %s""", (oid,)).fetchall():
        for setting in settings or []:
            name, _, value = str(setting).partition("=")
            _set(admin, scratch, role, name, value)
    if not allowed:
        # Its owner closed it on purpose (ALTER DATABASE ... ALLOW_CONNECTIONS false): the database under its
        # name stays closed. Last, as nothing connects to the scratch database after it.
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(scratch_id))


def _carry_grants(admin: psycopg.Connection[Any], oid: int, scratch: sql.Identifier) -> None:
    """The target's database-level grants, exactly: an application role given ``CREATE`` on the database (its
    migrations create schemas) lost it at every install, and ``CONNECT`` revoked from ``PUBLIC`` came back."""
    admin.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(scratch))
    for grantee, privilege, grantable in admin.execute("""
            SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(a.grantee) END,
                   a.privilege_type, a.is_grantable
            FROM pg_catalog.pg_database d, pg_catalog.aclexplode(d.datacl) a WHERE d.oid = %s""", (oid,)).fetchall():
        whom = sql.SQL("PUBLIC") if grantee is None else sql.Identifier(grantee)
        admin.execute(sql.SQL("GRANT {} ON DATABASE {} TO {}{}").format(
            sql.SQL(privilege), scratch, whom, sql.SQL(" WITH GRANT OPTION" if grantable else "")))


def _set(admin: psycopg.Connection[Any], scratch: str, role: str | None, name: str, value: str) -> None:
    """``ALTER DATABASE scratch SET name = value`` (``ALTER ROLE ... IN DATABASE`` for a role's own)."""
    values = _split_list_setting(value) if name in _LIST_SETTINGS else [value]
    setting_name = sql.SQL(".").join(sql.Identifier(part) for part in name.split("."))
    assignment = sql.SQL("SET {} = {}").format(setting_name, sql.SQL(", ").join(sql.Literal(v) for v in values))
    if role is None:
        admin.execute(sql.SQL("ALTER DATABASE {} ").format(sql.Identifier(scratch)) + assignment)
    else:
        admin.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} ").format(sql.Identifier(role),
                                                                      sql.Identifier(scratch)) + assignment)


def _set_source_settings(admin: psycopg.Connection[Any], target: str, scratch: str, settings: list[str]) -> None:
    """Give a database the load creates the source's ``ALTER DATABASE ... SET`` settings that
    :mod:`.sourcedatabase` carries, once its rows are loaded; name the others, and any the server refuses."""
    kept, left = carried(settings)
    refused: list[str] = []
    for name, value in kept:
        try:
            _set(admin, scratch, None, name, value)
        except psycopg.Error as exc:
            refused.append(f"{name} ({one_line(exc)})")
    if left or refused:
        log.warning("PostgreSQL database %r is created without these settings of the dump's source: %s",
                    target, ", ".join(left + refused))


def _terminate(admin: psycopg.Connection[Any], names: list[str]) -> None:
    admin.execute("SELECT pg_catalog.pg_terminate_backend(s.pid, 5000) FROM pg_catalog.pg_stat_activity s "
                  f"WHERE s.datname = ANY(%s) AND s.pid <> pg_catalog.pg_backend_pid() AND {MAY_END}", (names,))


def sessions_not_ended(admin: psycopg.Connection[Any], names: list[str]) -> str | None:
    """The other sessions on ``names`` the role may not end, in words with what would let it; None if none."""
    rows = admin.execute(
        "SELECT s.usename, count(*) FROM pg_catalog.pg_stat_activity s WHERE s.datname = ANY(%s) "
        f"AND s.pid <> pg_catalog.pg_backend_pid() AND s.usesysid IS NOT NULL AND NOT {MAY_END} "
        "GROUP BY s.usename ORDER BY s.usename", (names,)).fetchall()
    if not rows:
        return None
    held = ", ".join(f"{count} of role {user!r}" for user, count in rows)
    return (f"sessions the role may not end are connected ({held}): close them (a superuser's can only be closed "
            "by itself), or GRANT pg_signal_backend to the installing role for other roles' sessions")


def _lock(admin: psycopg.Connection[Any], name: str) -> None:
    """Hold the advisory lock of database ``name`` on ``admin`` until it closes."""
    digest = hashlib.sha1(f"synco:{name}".encode("utf-8", "surrogateescape")).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        row = admin.execute("SELECT pg_catalog.pg_try_advisory_lock(%s)", (key,)).fetchone()
        if row and row[0]:
            return
        if time.monotonic() > deadline:
            raise SyncoError(f"another synco command is installing into or rolling back PostgreSQL database {name!r}; "
                             "try again when it is done")
        time.sleep(0.2)


def _recover(admin: psycopg.Connection[Any], database: DatabaseConfig) -> str | None:
    """Drop what an interrupted install left (its scratch database); a sentence for the user when it did.

    The swap itself is one transaction, so the target is never half swapped: only a scratch database can
    be left over, by an install stopped before its swap committed, which had not changed the target.
    """
    scratch, _, _ = _names(database)
    if not _exists(admin, scratch):
        return None
    _drop(admin, scratch)
    return f"an interrupted install had not changed PostgreSQL database {database.name!r} yet: it is as it was"


def _rename_chain(database: DatabaseConfig, admin: psycopg.Connection[Any], renames: list[tuple[str, str]],
                  busy: list[str], step: str, terminate: bool = True) -> None:
    """Rename databases in one transaction, ending the other sessions on ``busy`` while the renames wait for
    them (:mod:`.ending`), so that a program reconnecting at once cannot keep the target busy; without
    ``terminate`` (``--no-terminate``), waiting for them to leave instead (:func:`_rename_waiting`)."""
    if not terminate:
        _rename_waiting(admin, renames, busy, step)
        return
    oids = [oid for (oid,) in admin.execute("SELECT oid FROM pg_catalog.pg_database WHERE datname = ANY(%s)",
                                            (busy,)).fetchall()]
    ender_failure: str | None = None
    for attempt in range(5):
        with SessionEnder(lambda: _admin(database), oids) as ender:
            if not ender.running:
                # Without a second connection, as before: the sessions are ended just before the renames,
                # and one that reconnects at once wins.
                _terminate(admin, busy)
            try:
                with admin.transaction():
                    _rename_all(admin, renames, step)
                    # Before the commit: from then on the renamed-in database's sessions are the application's
                    # new ones, to be left alone. Until then the renames' locks keep every new one out.
                    ender.stop()
                return
            except pg_errors.ObjectInUse:
                ender_failure = ender.failure
                # Sessions this role may not end leave only by themselves: each try waits 5 s for them (the
                # server's own wait), so a few tries are enough.
                if attempt >= 1 and sessions_not_ended(admin, busy) is not None:
                    break
                time.sleep(0.2 * (attempt + 1))
    unended = sessions_not_ended(admin, busy)
    if unended is not None:
        raise DatabaseError(f"could not rename database {renames[0][0]!r}: {unended}")
    why = f" (a second connection to end them failed: {ender_failure})" if ender_failure else ""
    raise DatabaseError(f"could not rename database {renames[0][0]!r}: other sessions keep connecting to it as soon "
                        f"as they are ended ({_sessions(admin, busy)}){why}: a program that reconnects at once (a "
                        "worker's retry loop, a connection pool, the application's server); stop it and run again; "
                        "the database is as it was")


def _rename_all(admin: psycopg.Connection[Any], renames: list[tuple[str, str]], step: str) -> None:
    """The renames of one swap, in the caller's transaction (all of them or none)."""
    for old, new in renames:
        admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new)))
        crashpoints.reached(f"{step}:renaming")


#: How long ``--no-terminate`` waits for the other sessions to leave the databases a swap renames.
WAIT_SECONDS = 30.0


def _rename_waiting(admin: psycopg.Connection[Any], renames: list[tuple[str, str]], busy: list[str],
                    step: str) -> None:
    """The renames of :func:`_rename_chain`, ending no session: each try waits as the server does (5 s) for the
    other sessions to leave, until :data:`WAIT_SECONDS` have passed; then one line names those still there
    (application, client address, role), nothing changed."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            with admin.transaction():
                _rename_all(admin, renames, step)
            return
        except pg_errors.ObjectInUse:
            if time.monotonic() >= deadline:
                break
            time.sleep(0.2)
    raise DatabaseError(f"database {renames[0][0]!r} is still in use after {WAIT_SECONDS:.0f} s and --no-terminate "
                        f"ends no session: {_sessions(admin, busy, addresses=True)}; close them and run again; the "
                        "database is as it was")


def _sessions(admin: psycopg.Connection[Any], names: list[str], addresses: bool = False) -> str:
    """The other sessions on ``names`` in words, ``pid 123 ('worker', role 'app')``: application and role are
    shown to every role, unlike the sessions' queries."""
    rows = admin.execute("SELECT s.pid, s.application_name, s.usename, "
                         "COALESCE(pg_catalog.host(s.client_addr), 'local socket') "
                         "FROM pg_catalog.pg_stat_activity s "
                         "WHERE s.datname = ANY(%s) AND s.pid <> pg_catalog.pg_backend_pid() ORDER BY s.pid",
                         (names,)).fetchall()
    if not rows:
        return "none is connected now"
    return some_names([f"pid {pid} ({application or 'no application name'!r}"
                       + (f" from {address}" if addresses else "") + f", role {user!r})"
                       for pid, application, user, address in rows], 5)


def verify(conn: psycopg.Connection[Any], manifest: Mapping[str, TableManifest], stats: LoadStats) -> None:
    """Compare the loaded scratch database with the source's manifest; raise DatabaseError on a difference.

    Row counts are what the server reported storing for each table's COPY (counted in the database with
    ``count(*)`` for a table the script filled some other way). The checksum is the SHA-256 of the COPY text
    each table was loaded from, computed while it streamed in (the dumper hashed the very same text on the
    source), so a damaged or tampered block is caught without reading every table back.
    """
    if not manifest:
        return
    tables: dict[str, tuple[str, str]] = {}
    for schema, name in conn.execute("""
            SELECT n.nspname, c.relname FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')""").fetchall():
        tables[manifest_key(schema, name)] = (schema, name)
    empty = hashlib.sha256().hexdigest()
    for key, expected in manifest.items():
        if key not in tables:
            raise DatabaseError(f"verification failed: table {key!r} of the dump is missing after loading")
        schema, name = tables[key]
        if key in stats.stored:
            count = stats.stored[key]
        else:
            row = conn.execute(sql.SQL("SELECT count(*) FROM ONLY {}.{}").format(sql.Identifier(schema),
                                                                                 sql.Identifier(name))).fetchone()
            count = int(row[0]) if row else 0
        if count != expected.rows:
            raise DatabaseError(f"verification failed: table {key!r} has {count} rows after loading, "
                                f"the dump had {expected.rows}")
        loaded = stats.checksums.get(key, empty)
        if expected.checksum is not None and loaded != expected.checksum:
            raise DatabaseError(f"verification failed: the rows of table {key!r} differ from the dump (checksum)")


def _lock_and_recover(admin: psycopg.Connection[Any], database: DatabaseConfig) -> None:
    """Take the database's install lock, then finish or undo what an interrupted command left, saying so."""
    _lock(admin, database.name)
    recovered = _recover(admin, database)
    if recovered:
        log.warning("%s", recovered[0].upper() + recovered[1:])


def install(database: DatabaseConfig, dump: BinaryIO, options: InstallOptions) -> InstallResult:
    # Whether the target is local is judged before connecting to it; the question, once the role's rights
    # tell how the content will be replaced.
    guard(database, dataclasses.replace(options, yes=True), "replace")
    scratch, previous, _ = _names(database)
    admin = _admin(database)
    try:
        mode = rights.require(admin, database)
        guard(database, options, "replace", mode)
        _lock_and_recover(admin, database)
        if mode == rights.IN_PLACE:
            return _install_in_place(database, dump, options)
        target_exists = _exists(admin, database.name)
        header, head = split_header(dump)
        dump = with_head(head, dump)
        try:
            _create_scratch(admin, database.name, scratch, header.locale)
        except psycopg.Error as exc:
            if server_out_of_space(exc):
                raise server_full("PostgreSQL", where(database), database.name, one_line(exc),
                                  _drop_scratch(database, admin, scratch)) from exc
            raise DatabaseError(f"cannot create the scratch database {scratch!r} on {where(database, scratch)}: "
                                f"{one_line(exc)}") from exc
        try:
            stats, tables = _load(database, scratch, dump, options)
        except BaseException as exc:
            dropped = _drop_scratch(database, admin, scratch)
            if isinstance(exc, Exception) and server_out_of_space(exc):
                raise server_full("PostgreSQL", where(database), database.name, one_line(exc),
                                  dropped) from exc
            raise
        crashpoints.reached("postgresql:install:loaded")
        if options.before_swap is not None:
            options.before_swap()
        try:
            renames = []
            if not target_exists:
                _set_source_settings(admin, database.name, scratch, list(header.settings))
            if target_exists:
                _carry_properties(admin, database.name, scratch)
                # The previous kept copy goes only now that the new content is known to be good.
                _drop(admin, previous)
                crashpoints.reached("postgresql:install:previous-dropped")
                renames.append((database.name, previous))
            renames.append((scratch, database.name))
            _rename_chain(database, admin, renames, [database.name, scratch], "postgresql:install",
                          options.terminate_sessions)
            crashpoints.reached("postgresql:install:renamed")
        except BaseException as exc:
            _drop_scratch(database, admin, scratch)
            if isinstance(exc, psycopg.Error):
                raise DatabaseError(f"cannot swap in the new database {database.name!r}: {one_line(exc)}") from exc
            raise
    finally:
        admin.close()
    log.info("installed %s (%d COPY blocks, %d rows)", database.name, stats.copy_blocks, stats.rows)
    return InstallResult(engine="postgresql", database=database.name, tables=tables, rows=stats.rows,
                         backup=previous if target_exists else None, rewritten_values=stats.rewritten_values)


def _install_in_place(database: DatabaseConfig, dump: BinaryIO, options: InstallOptions) -> InstallResult:
    """Replace the target's content in one transaction inside it (:mod:`.inplace`): the caller holds the
    database's lock. Nothing is kept: the result names no backup, and says so."""
    if options.format not in ("sql", "native", ""):
        raise ConfigError(f"the PostgreSQL engine loads SQL dumps, not {options.format!r}")
    conn = connect(database)
    try:
        role, own = conn.execute("SELECT current_user, pg_catalog.pg_encoding_to_char(d.encoding) "
                                 "FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()"
                                 ).fetchone() or ("", "")
        inplace.require(conn, database.name, role)
        header, head = split_header(dump)
        dump = with_head(head, dump)
        source = header.locale.encoding if header.locale else None
        if source is not None and not _holds(own, source):
            # Said before anything is loaded: the database keeps its encoding, and the load fails whole on
            # the first text it cannot hold.
            log.warning("PostgreSQL database %r is %s and keeps it (installed in place): %s of the dump's %s "
                        "source that it cannot hold fails the install, the content as it was (create the database "
                        "again with ENCODING '%s', or ALTER ROLE %s CREATEDB)", database.name, own,
                        "a byte" if source == "SQL_ASCII" else "a character", source, source, role)
        conn.execute("SET maintenance_work_mem = '256MB'")
        oid = conn.execute("SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()"
                           ).fetchone()
        # The other sessions would hold the locks the drops wait for: those this role may end are ended,
        # once before and again and again while the drops wait (a program reconnecting at once would take
        # its locks again in between, :mod:`.ending`); those of others are waited for.
        if options.terminate_sessions:
            end_sessions(conn, [oid[0]] if oid else [])
        conn.execute("BEGIN")
        if options.terminate_sessions:
            with SessionEnder(lambda: connect(database), [oid[0]] if oid else [], [conn.info.backend_pid]):
                inplace.clear(conn, database.name)
        else:
            # --no-terminate: the drops wait for every session's locks, as long as clear() lets them.
            inplace.clear(conn, database.name, addresses=True)
        # One connection only: a second one would not see the tables this transaction creates.
        stats = load_script(conn.pgconn, dump, None, options.rewriter)
        note = stats.foreign_owners.warning(database.user or "the loading role") if stats.foreign_owners else None
        if note is not None:
            log.warning("%s", note)
        verify(conn, options.manifest, stats)
        tables = _count_loaded(conn, stats)
        crashpoints.reached("postgresql:install:in-place-loaded")
        if options.before_swap is not None:
            options.before_swap()
        conn.execute("COMMIT")
    except psycopg.Error as exc:
        raise DatabaseError(f"loading into {where(database)} failed (its content is as it was): "
                            f"{one_line(exc)}") from exc
    finally:
        # Closing an open transaction rolls it back: whatever failed, the target is as it was.
        conn.close()
    log.info("installed %s in place (%d COPY blocks, %d rows)", database.name, stats.copy_blocks, stats.rows)
    return InstallResult(engine="postgresql", database=database.name, tables=tables, rows=stats.rows,
                         backup=None, rewritten_values=stats.rewritten_values, replaced_in_place=True)


def _loading_connection(database: DatabaseConfig, scratch: str) -> psycopg.Connection[Any]:
    """A connection to the scratch database set up for loading (the loader's first, and its second for
    big COPY blocks)."""
    conn = connect(database, scratch)
    try:
        # Nothing in the scratch database counts until the swap, whose own commit is synchronous and
        # flushes the whole write-ahead log before it: waiting for a flush at every statement of the
        # script buys nothing. More maintenance memory makes the index builds after the data faster.
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '256MB'")
    except BaseException:
        conn.close()
        raise
    return conn


def _load(database: DatabaseConfig, scratch: str, dump: BinaryIO, options: InstallOptions) -> tuple[LoadStats, int]:
    if options.format not in ("sql", "native", ""):
        raise ConfigError(f"the PostgreSQL engine loads SQL dumps, not {options.format!r}")
    conn: psycopg.Connection[Any] | None = None
    try:
        conn = _loading_connection(database, scratch)
        second = SecondConnection(lambda: _loading_connection(database, scratch))
        try:
            stats = load_script(conn.pgconn, dump, second, options.rewriter)
        finally:
            second.close()
        note = stats.foreign_owners.warning(database.user or "the loading role") if stats.foreign_owners else None
        if note is not None:
            log.warning("%s", note)
        verify(conn, options.manifest, stats)
        tables = _count_loaded(conn, stats)
    except psycopg.Error as exc:
        raise DatabaseError(f"loading into {where(database, scratch)} failed: {one_line(exc)}") from exc
    finally:
        if conn is not None:
            conn.close()
    return stats, tables


def _count_loaded(conn: psycopg.Connection[Any], stats: LoadStats) -> int:
    """The tables the load created. Where a statement other than COPY wrote rows (a script written by hand),
    ``stats.rows`` is made the rows those tables hold: only COPY's rows were counted while loading."""
    tables = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
        "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('information_schema') "
        "AND n.nspname NOT LIKE 'pg\\_%'").fetchall()
    if stats.scripted_rows:
        counted = 0
        try:
            for schema, name in tables:
                # In a savepoint (or a transaction of its own): a count that fails (a table indexed by a
                # function whose body needs a schema the empty search_path lacks, which planning inlines)
                # must not fail the load it only reports on.
                with conn.transaction():
                    row = conn.execute(sql.SQL("SELECT count(*) FROM ONLY {}.{}").format(
                        sql.Identifier(schema), sql.Identifier(name))).fetchone()
                counted += int(row[0]) if row else 0
        except psycopg.Error as exc:
            log.debug("the loaded tables' rows could not be counted (%s): the summary gives COPY's rows",
                      one_line(exc))
        else:
            stats.rows = counted
    return len(tables)


def discard_kept(database: DatabaseConfig, options: InstallOptions) -> None:
    """Drop the kept copy of an earlier install (after finishing what an interrupted command left)."""
    guard(database, options, "replace")
    _, previous, _ = _names(database)
    admin = _admin(database)
    try:
        _lock_and_recover(admin, database)
        _drop(admin, previous)
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot drop the kept copy {previous!r}: {one_line(exc)}") from exc
    finally:
        admin.close()


def rollback(database: DatabaseConfig, options: InstallOptions) -> InstallResult:
    guard(database, options, "roll back")
    _, previous, swap = _names(database)
    admin = _admin(database)
    try:
        _lock(admin, database.name)
        mode = rights.require(admin, database)
        try:
            recovered = _recover(admin, database)
            if recovered is not None or options.repair_only:
                # The target is as it was before the interrupted install: that is what rolling back means now.
                return InstallResult(engine="postgresql", database=database.name, tables=_count_tables(admin, database),
                                     backup=previous if _exists(admin, previous) else None,
                                     note=recovered[0].upper() + recovered[1:] if recovered else "")
            if mode == rights.IN_PLACE and not _exists(admin, previous):
                # Such a role could not have created the database, and its installs keep no copy.
                raise SyncoError(f"nothing to roll back: the role may not create databases, so installs replace "
                                 f"the content of {database.name!r} inside it and keep no copy of it")
            if not _exists(admin, previous) and options.drop_created:
                # The install created the database: nothing was there before it.
                _drop(admin, database.name)
                return InstallResult(engine="postgresql", database=database.name, tables=0, backup=None,
                                     note=f"Dropped database {database.name!r}: the install had created it")
            if not _exists(admin, previous):
                raise SyncoError(f"nothing to roll back: there is no database {previous!r} from an earlier install")
            if _exists(admin, database.name):
                _drop(admin, swap)
                renames = [(database.name, swap), (previous, database.name), (swap, previous)]
            else:
                renames = [(previous, database.name)]
            _rename_chain(database, admin, renames, [database.name, previous], "postgresql:rollback",
                          options.terminate_sessions)
            crashpoints.reached("postgresql:rollback:renamed")
            if options.discard_replaced:
                _drop(admin, previous)
            tables = _count_tables(admin, database)
        except psycopg.Error as exc:
            raise DatabaseError(f"rollback of {database.name!r} failed: {one_line(exc)}") from exc
    finally:
        admin.close()
    kept = renames[-1][1] == previous and not options.discard_replaced
    return InstallResult(engine="postgresql", database=database.name, tables=tables,
                         backup=previous if kept else None)


def _count_tables(admin: psycopg.Connection[Any], database: DatabaseConfig) -> int:
    """The tables of the target database (0 when it does not exist)."""
    if not _exists(admin, database.name):
        return 0
    # The rollback is committed when this runs: a database its owner closed (ALLOW_CONNECTIONS false) or whose
    # CONNECTION LIMIT the reconnecting application filled at once must not make it look failed.
    try:
        conn = connect(database, settings=False)
        try:
            row = conn.execute("SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                               "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
                               "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                               "AND n.nspname NOT LIKE 'pg\\_%'").fetchone()
        finally:
            conn.close()
    except (DatabaseError, psycopg.Error) as exc:
        log.warning("PostgreSQL database %r: its tables could not be counted (%s)", database.name, one_line(exc))
        return 0
    return int(row[0]) if row else 0
