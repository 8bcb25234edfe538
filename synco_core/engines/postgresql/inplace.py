"""Replace a PostgreSQL database's content inside it, in one transaction, for a role without CREATEDB.

The application's own role on a laptop (DDEV's ``db``, Laravel Sail's, ``POSTGRES_USER`` of a Docker image
that is not the superuser, a managed server's) often owns its database but may not create another one, so
the scratch database of the usual swap cannot exist. PostgreSQL's DDL is transactional, though: dropping
the target's schemas, loading the dump and verifying it in one transaction is as atomic as the swap (as
``pg_restore --single-transaction --clean``). A failure, or a kill at any moment, rolls everything back and
the target is as it was; other sessions see the old content until the commit, then the new one.

What this costs, and what the user is told before the download: no copy of the previous content is kept,
so ``synco db rollback`` has nothing to put back, and the old tables are locked for the length of the load.

The role must be able to drop everything the dump replaces: each schema (owning it, or a role that does:
since PostgreSQL 15 ``public`` belongs to ``pg_database_owner``, which the database's owner is), the
large objects and the publications. Dropping a schema drops what it holds, whoever owns it. Schema
``public`` is created again as it was (owner, privileges, comment), or as ``template0`` gives it to the
scratch database of a swap when the target had none.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.errors import LockNotAvailable

from synco_core.errors import DatabaseError

#: How long the drops wait for the locks other sessions hold on what they drop (an open transaction of the
#: application that read a table, a console with autocommit off, a large object open for writing), in s.
#: The server's own wait has no end, and while a DROP waits for a table every other query on it waits behind
#: it: the application would hang too.
LOCK_WAIT_SECONDS = 30

#: Schemas of the system, never dropped.
_USER_SCHEMAS = ("SELECT n.oid, n.nspname, pg_catalog.pg_get_userbyid(n.nspowner), "
                 "pg_catalog.pg_has_role(n.nspowner, 'USAGE') FROM pg_catalog.pg_namespace n "
                 "WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' ORDER BY n.nspname")


def blockers(conn: Any, role: str) -> list[str]:
    """What in the target ``role`` could not drop, each with the statement (run by its owner or a superuser)
    that lets it; empty when the content can be replaced in place."""
    found: list[str] = []
    for _, name, owner, mine in conn.execute(_USER_SCHEMAS).fetchall():
        if not mine:
            found.append(f"schema {name!r} belongs to {owner!r} (ALTER SCHEMA {_ident(conn, name)} OWNER TO "
                         f"{_ident(conn, role)})")
    row = conn.execute("SELECT count(*), min(pg_catalog.pg_get_userbyid(lomowner)) FROM "
                       "pg_catalog.pg_largeobject_metadata WHERE NOT pg_catalog.pg_has_role(lomowner, 'USAGE')"
                       ).fetchone()
    if row and row[0]:
        found.append(f"{row[0]} large object(s) belong to other roles such as {row[1]!r} "
                     f"(REASSIGN OWNED BY {_ident(conn, row[1])} TO {_ident(conn, role)})")
    for name, owner in conn.execute("SELECT pubname, pg_catalog.pg_get_userbyid(pubowner) FROM "
                                    "pg_catalog.pg_publication WHERE NOT pg_catalog.pg_has_role(pubowner, 'USAGE') "
                                    "ORDER BY pubname").fetchall():
        found.append(f"publication {name!r} belongs to {owner!r} (ALTER PUBLICATION {_ident(conn, name)} OWNER TO "
                     f"{_ident(conn, role)})")
    return found


def require(conn: Any, database: str, role: str) -> None:
    """Raise a one-line DatabaseError when ``role`` could not replace ``database``'s content in place."""
    found = blockers(conn, role)
    if found:
        raise DatabaseError(f"role {role!r} may not create databases, so installing replaces the content of "
                            f"{database!r} inside it, but it may not drop all of it: " + "; ".join(found))


def clear(conn: Any, database: str, addresses: bool = False) -> None:
    """Inside the caller's transaction: drop the schemas, large objects and publications of the database,
    and create schema ``public`` again as it was, empty.

    The drops wait at most :data:`LOCK_WAIT_SECONDS` for other sessions' locks; then the transaction is
    rolled back and a one-line DatabaseError names the sessions that held them.
    """
    conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{LOCK_WAIT_SECONDS}s")))
    try:
        _drop_everything(conn)
    except LockNotAvailable as exc:
        conn.execute("ROLLBACK")
        raise DatabaseError(f"other sessions hold what the install of {database!r} replaces and did not let go "
                            f"within {LOCK_WAIT_SECONDS} s: {holders(conn, addresses)}; end their "
                            "transactions (COMMIT or ROLLBACK there, close them, or SELECT pg_terminate_backend(pid) "
                            "as their role or a superuser) and run the install again; its content is as it was"
                            ) from exc
    # What the load creates is this transaction's alone: nothing of it can be waited for.
    conn.execute("SET LOCAL lock_timeout = 0")


def holders(conn: Any, addresses: bool = False) -> str:
    """The other sessions holding locks on objects of the connected database, in words: ``pid 123 ('psql',
    role 'app')`` (with ``addresses``, ``pid 123 ('psql' from 10.0.0.5, role 'app')``); application and role
    are shown to every role, unlike the sessions' queries."""
    rows = conn.execute(
        "SELECT DISTINCT a.pid, a.application_name, a.usename, "
        "COALESCE(pg_catalog.host(a.client_addr), 'local socket') FROM pg_catalog.pg_locks l "
        "JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid WHERE l.granted AND l.pid <> pg_catalog.pg_backend_pid() "
        "AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) "
        "ORDER BY a.pid").fetchall()
    if not rows:
        return "they have let go since"
    return ", ".join(f"pid {pid} ({application or 'no application name'!r}"
                     + (f" from {address}" if addresses else "") + f", role {user!r})"
                     for pid, application, user, address in rows)


def _drop_everything(conn: Any) -> None:
    public: tuple[str, str | None, list[tuple[str, bool, str, bool]]] | None = None
    for oid, name, owner, _ in conn.execute(_USER_SCHEMAS).fetchall():
        if name == "public":
            comment = conn.execute("SELECT pg_catalog.obj_description(%s, 'pg_namespace')", (oid,)).fetchone()
            grants = conn.execute(
                "SELECT pg_catalog.pg_get_userbyid(a.grantee), a.grantee = 0, a.privilege_type, a.is_grantable "
                "FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a "
                "WHERE n.oid = %s AND a.grantee <> n.nspowner", (oid,)).fetchall()
            public = (owner, comment[0] if comment else None, grants)
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
    conn.execute("SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata")
    for (name,) in conn.execute("SELECT pubname FROM pg_catalog.pg_publication").fetchall():
        conn.execute(sql.SQL("DROP PUBLICATION {}").format(sql.Identifier(name)))
    if public is None:
        # A database without one (dropped by its user) gets template0's, which a swap's new database has and
        # a dump expects: owned by pg_database_owner, usable by everyone (PostgreSQL 15's default).
        public = ("pg_database_owner", "standard public schema", [("", True, "USAGE", False)])
        if conn.info.server_version < 150000:
            public = (str(conn.execute("SELECT current_user").fetchone()[0]), "standard public schema",
                      [("", True, "USAGE", False), ("", True, "CREATE", False)])
    owner, comment, grants = public
    conn.execute(sql.SQL("CREATE SCHEMA public AUTHORIZATION {}").format(sql.Identifier(owner)))
    for grantee, everyone, privilege, grantable in grants:
        conn.execute(sql.SQL("GRANT {} ON SCHEMA public TO {}{}").format(
            sql.SQL(privilege), sql.SQL("PUBLIC") if everyone else sql.Identifier(grantee),
            sql.SQL(" WITH GRANT OPTION" if grantable else "")))
    if comment is not None:
        conn.execute(sql.SQL("COMMENT ON SCHEMA public IS {}").format(sql.Literal(comment)))


def _ident(conn: Any, name: str) -> str:
    """``name`` quoted as an identifier, the way the server would print it."""
    row = conn.execute("SELECT pg_catalog.quote_ident(%s)", (name,)).fetchone()
    return str(row[0]) if row else name
