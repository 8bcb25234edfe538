"""PostgreSQL installs with the rights a laptop's application role has: not a superuser, owner of its
database, allowed to create databases (for the scratch copy), a member of no other role (real PostgreSQL
on 127.0.0.1)."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from test_postgres_install import marker, marker_database
from test_postgres_support import databases_like, pg_dump_plain, renames_refused_after_the_first_try

from synco_core.dburl import parse_database_url
from synco_core.engines.postgresql import dump_database as dump
from synco_core.engines.postgresql.installer import install, rollback
from synco_core.errors import DatabaseError
from synco_core.testing.services import (
    POSTGRES_USER,
    drop_postgres_databases,
    postgres_admin_connection,
    postgres_url_for,
    unique_name,
)
from synco_core.values import DatabaseConfig, DumpOptions, InstallOptions

pytestmark = pytest.mark.postgres


@pytest.fixture
def app_role() -> Iterator[str]:
    """A LOGIN role with CREATEDB and nothing else; the databases it comes to own are dropped with it."""
    role = unique_name("lp_app")
    admin = postgres_admin_connection()
    admin.execute(f'CREATE ROLE "{role}" LOGIN CREATEDB NOSUPERUSER')
    try:
        yield role
    finally:
        owned = admin.execute("SELECT datname FROM pg_database WHERE datdba = "
                              "(SELECT oid FROM pg_roles WHERE rolname = %s)", (role,)).fetchall()
        for (name,) in owned:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin.close()


def owned_target(factory: Callable[[], str], role: str) -> tuple[str, DatabaseConfig]:
    target = marker_database(factory)
    admin = postgres_admin_connection()
    try:
        admin.execute(f'ALTER DATABASE "{target}" OWNER TO "{role}"')
    finally:
        admin.close()
    with psycopg.connect(postgres_url_for(target), autocommit=True) as conn:
        conn.execute(f'ALTER TABLE marker OWNER TO "{role}"')
    return target, dataclasses.replace(parse_database_url(postgres_url_for(target)), user=role)


def dumped(factory: Callable[[], str], script: str) -> bytes:
    source = factory()
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute(script)
    out = io.BytesIO()
    dump(parse_database_url(postgres_url_for(source)), out, DumpOptions())
    return out.getvalue()


def test_what_a_database_owner_may_create_installs(postgres_database_factory: Callable[[], str],
                                                   app_role: str) -> None:
    """Trusted extensions and their comments, the comment on schema public, a publication, a large object,
    a SECURITY DEFINER function and a row security policy: all made by a superuser on the source, all
    installed by the target's owner, who owns them there."""
    data = dumped(postgres_database_factory, """
        CREATE EXTENSION citext; CREATE EXTENSION hstore; CREATE EXTENSION pgcrypto;
        COMMENT ON EXTENSION citext IS 'case-insensitive';
        COMMENT ON SCHEMA public IS 'the app';
        CREATE TABLE t (id int PRIMARY KEY, v citext, h hstore);
        INSERT INTO t VALUES (1, 'A', 'a=>1');
        CREATE PUBLICATION pub FOR TABLE t;
        SELECT lo_from_bytea(0, 'large');
        CREATE FUNCTION definer() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
        ALTER TABLE t ENABLE ROW LEVEL SECURITY;
        CREATE POLICY mine ON t USING (v = 'a');
    """)
    target, database = owned_target(postgres_database_factory, app_role)
    install(database, io.BytesIO(data), InstallOptions(yes=True))
    with psycopg.connect(postgres_url_for(target), autocommit=True) as conn:
        assert conn.execute("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1").fetchall() == [
            ("citext",), ("hstore",), ("pgcrypto",)]
        assert conn.execute("SELECT obj_description(oid, 'pg_extension') FROM pg_extension "
                            "WHERE extname = 'citext'").fetchone() == ("case-insensitive",)
        assert conn.execute("SELECT obj_description('public'::regnamespace)").fetchone() == ("the app",)
        assert conn.execute("SELECT pubname FROM pg_publication").fetchall() == [("pub",)]
        assert conn.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone() == (1,)
        assert conn.execute("SELECT prosecdef, proowner::regrole::text FROM pg_proc "
                            "WHERE proname = 'definer'").fetchone() == (True, app_role)
        assert conn.execute("SELECT polname FROM pg_policy").fetchall() == [("mine",)]
        assert conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 't'").fetchone() == (app_role,)


@pytest.mark.parametrize(("script", "named"), [
    ("CREATE FUNCTION on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN END$$;"
     "CREATE EVENT TRIGGER watch ON ddl_command_start EXECUTE FUNCTION on_ddl();",
     'permission denied to create event trigger "watch" (Must be superuser to create an event trigger.)'),
    ("CREATE EXTENSION pg_buffercache;",
     'permission denied to create extension "pg_buffercache" (Must be superuser to create this extension.)'),
], ids=["event-trigger", "untrusted-extension"])
def test_what_needs_a_superuser_is_refused_naming_the_right(
        script: str, named: str, postgres_database_factory: Callable[[], str], app_role: str) -> None:
    """The error says which right is missing (the server's hint), in one line, and the target is untouched."""
    data = dumped(postgres_database_factory, "CREATE TABLE t (a int);" + script)
    target, database = owned_target(postgres_database_factory, app_role)
    with pytest.raises(DatabaseError) as refused:
        install(database, io.BytesIO(data), InstallOptions(yes=True))
    assert str(refused.value).endswith(named), str(refused.value)
    assert "\n" not in str(refused.value)
    assert marker(target) == "old"


class Untouched(io.BytesIO):
    """A dump that records whether the install read any of it."""

    read_from = False

    def read(self, size: int | None = -1) -> bytes:
        self.read_from = True
        return super().read(size)

    def readline(self, size: int | None = -1) -> bytes:
        self.read_from = True
        return super().readline(size)

    def readinto(self, buffer: object) -> int:  # type: ignore[override]
        self.read_from = True
        return super().readinto(buffer)  # type: ignore[arg-type]


def test_a_role_that_may_not_replace_the_target_is_told_before_the_load(
        postgres_database_factory: Callable[[], str], app_role: str) -> None:
    """Without owning the target, an install cannot swap: it said so only after loading the whole dump into
    a scratch database. Now it stops before reading the dump (and a rollback too), in one line naming the
    right, the target untouched. (An owner without CREATEDB installs in place:
    tests/test_postgres_without_createdb.py.)"""
    data = dumped(postgres_database_factory, "CREATE TABLE t (a int); INSERT INTO t VALUES (1);")
    target = marker_database(postgres_database_factory)
    database = dataclasses.replace(parse_database_url(postgres_url_for(target)), user=app_role)
    expected = f"database '{target}' on .* belongs to '.*', not '{app_role}': only its owner"
    dump_stream = Untouched(data)
    with pytest.raises(DatabaseError, match=expected):
        install(database, dump_stream, InstallOptions(yes=True))
    assert not dump_stream.read_from
    with pytest.raises(DatabaseError, match=expected):
        rollback(database, InstallOptions(yes=True))
    assert marker(target) == "old"
    assert databases_like(f"{target}__synco%") == []


def test_a_pg_dump_script_giving_objects_to_other_roles_loads_owned_by_the_loading_role(
        postgres_database_factory: Callable[[], str], app_role: str, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """pg_dump's plain output ends each object with ``ALTER ... OWNER TO`` its owner on the source. A role
    that does not exist where it loads, or that the loading role is no member of, failed the whole install.
    Such statements are left out and the roles named in one warning; those the loading role may run (and,
    for a superuser, every existing role) are run."""
    other = unique_name("lp_other")
    admin = postgres_admin_connection()
    admin.execute(f'CREATE ROLE "{other}" NOLOGIN')
    # Databases where the roles own objects go before the roles do (the factory drops them only later).
    mine: list[str] = []
    try:
        source = postgres_database_factory()
        mine.append(source)
        with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
            conn.execute(f"""
                CREATE TABLE by_admin (a int); INSERT INTO by_admin VALUES (1);
                CREATE TABLE by_other (a int); ALTER TABLE by_other OWNER TO "{other}";
                CREATE TABLE by_gone (a int); CREATE TABLE by_app (a int); ALTER TABLE by_app OWNER TO "{app_role}";
                CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS 'SELECT x';
                ALTER FUNCTION f(int) OWNER TO "{other}";
                CREATE SEQUENCE s; CREATE VIEW v AS SELECT 1 AS one;""")
        script = tmp_path / "pg_dump.sql"
        pg_dump_plain(source, script)
        text = script.read_bytes()
        # A role of the source that does not exist here, with a name that needs quoting.
        gone = b'ALTER TABLE public.by_gone OWNER TO "Gone ""Role""";'
        text = text.replace(b"ALTER TABLE public.by_gone OWNER TO postgres;", gone)
        assert gone in text
        script.write_bytes(text)

        target, database = owned_target(postgres_database_factory, app_role)
        with caplog.at_level("WARNING"):
            install(database, io.BytesIO(script.read_bytes()), InstallOptions(yes=True))
        assert (f"objects stay owned by {app_role}: the dump gives them to roles that do not exist here or that "
                f'{app_role} may not give objects to (Gone "Role", {other}, postgres)') in caplog.text
        owners = {"by_admin": app_role, "by_other": app_role, "by_gone": app_role, "by_app": app_role,
                  "s": app_role, "v": app_role}
        with psycopg.connect(postgres_url_for(target), autocommit=True) as conn:
            assert dict(conn.execute("SELECT relname, relowner::regrole::text FROM pg_class WHERE relnamespace = "
                                     "'public'::regnamespace AND relkind IN ('r', 'S', 'v')").fetchall()) == owners
            assert conn.execute("SELECT proowner::regrole::text FROM pg_proc WHERE proname = 'f'").fetchone() == (
                app_role,)
            assert conn.execute("SELECT a FROM by_admin").fetchall() == [(1,)]

        # A superuser gives the objects to every role that exists, and leaves out only the missing one.
        caplog.clear()
        other_target = postgres_database_factory()
        mine.append(other_target)
        with caplog.at_level("WARNING"):
            install(parse_database_url(postgres_url_for(other_target)), io.BytesIO(script.read_bytes()),
                    InstallOptions(yes=True))
        assert 'the dump gives them to roles that do not exist here or that postgres may not give objects to ' \
               '(Gone "Role")' in caplog.text.replace(POSTGRES_USER, "postgres")
        with psycopg.connect(postgres_url_for(other_target), autocommit=True) as conn:
            assert conn.execute("SELECT relowner::regrole::text FROM pg_class WHERE relname = 'by_other'"
                                ).fetchone() == (other,)
    finally:
        drop_postgres_databases(mine)
        admin.execute(f'DROP ROLE IF EXISTS "{other}"')
        admin.close()


def test_a_session_the_owner_may_not_end_is_named_before_the_download_and_by_the_failed_swap(
        postgres_database_factory: Callable[[], str], app_role: str, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A superuser's psql or GUI session open on the target: the install asked the server to end it, which
    a role that is not a superuser may not, and the whole swap failed after the load on "must be a superuser
    to terminate superuser process". Now only the sessions the role may end are ended; the preflight names
    the others in a warning line, and a swap they still block fails in one line naming their roles and what
    would let the role end them, the target untouched. Once they are gone the install goes through."""
    from synco_core.engines.postgresql import check_install_target

    data = dumped(postgres_database_factory, "CREATE TABLE t (a int); INSERT INTO t VALUES (1);")
    target, database = owned_target(postgres_database_factory, app_role)
    own = psycopg.connect(postgres_url_for(target), autocommit=True, user=app_role)
    with psycopg.connect(postgres_url_for(target), autocommit=True) as superuser_session:
        superuser_session.execute("SELECT 1")
        with caplog.at_level("WARNING"):
            assert check_install_target(database, InstallOptions()) is True
        assert (f"PostgreSQL database {target!r}: sessions the role may not end are connected (1 of role "
                f"{POSTGRES_USER!r})") in caplog.text
        # The swap tries twice before naming the sessions left; the server waits 5 s for them at each try. The
        # first try is the server's real refusal; the second, the same session still there, the same refusal
        # without that wait (the sessions are then read from the server, as always).
        with monkeypatch.context() as patched, pytest.raises(DatabaseError) as failed:
            tries = renames_refused_after_the_first_try(patched)
            install(database, io.BytesIO(data), InstallOptions(yes=True))
        assert len(tries) > 1, "the renames were tried again"
        assert str(failed.value) == (
            f"could not rename database {target!r}: sessions the role may not end are connected (1 of role "
            f"{POSTGRES_USER!r}): close them (a superuser's can only be closed by itself), or GRANT "
            "pg_signal_backend to the installing role for other roles' sessions")
        assert marker(target) == "old"
        assert databases_like(f"{target}__synco_new") == []
    # The role's own session was ended, as before.
    assert _dead(own)
    install(database, io.BytesIO(data), InstallOptions(yes=True))
    assert marker(target) is None


def _dead(conn: psycopg.Connection[Any]) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    finally:
        conn.close()
    return False
