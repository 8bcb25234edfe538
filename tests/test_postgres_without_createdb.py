"""PostgreSQL installs by the application's own role, which owns its database but may not create databases
(DDEV, Laravel Sail, a Docker image's POSTGRES_USER that is not the superuser, a managed server): the
content is replaced in one transaction inside the database (real PostgreSQL on 127.0.0.1, real roles with
exactly these rights)."""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import subprocess
from collections.abc import Callable, Iterator

import psycopg
import pytest
from test_postgres_install import marker
from test_postgres_privileges import dumped, owned_target
from test_postgres_support import DATA, databases_like, fingerprints, load_fixture, require, sequences

from synco_core.dburl import parse_database_url
from synco_core.engines.postgresql import check_install_target, dump_database
from synco_core.engines.postgresql.installer import install, rollback
from synco_core.errors import DatabaseError, SyncoError
from synco_core.testing.services import (
    POSTGRES_HOST,
    POSTGRES_PORT,
    POSTGRES_USER,
    drop_postgres_databases,
    postgres_admin_connection,
    postgres_url_for,
    unique_name,
)
from synco_core.values import DatabaseConfig, DumpOptions, InstallOptions, TableManifest

pytestmark = pytest.mark.postgres

SOURCE = """
    CREATE EXTENSION citext;
    CREATE SCHEMA app;
    CREATE TABLE app.authors (id serial PRIMARY KEY, name citext NOT NULL);
    CREATE TABLE public.posts (id bigserial PRIMARY KEY, author int REFERENCES app.authors ON DELETE CASCADE,
                               title text);
    CREATE TABLE public.audit (post bigint, at text);
    CREATE FUNCTION public.audited() RETURNS trigger LANGUAGE plpgsql AS
        $$BEGIN INSERT INTO public.audit VALUES (NEW.id, 'x'); RETURN NEW; END$$;
    CREATE TRIGGER audit AFTER INSERT ON public.posts FOR EACH ROW EXECUTE FUNCTION public.audited();
    INSERT INTO app.authors (name) VALUES ('Ada'), ('Grace');
    INSERT INTO public.posts (author, title) VALUES (1, 'one'), (2, 'two');
    CREATE VIEW public.titles AS SELECT p.title, a.name FROM public.posts p JOIN app.authors a ON a.id = p.author;
    SELECT lo_from_bytea(0, 'new large');
"""


@pytest.fixture
def owner_without_createdb() -> Iterator[str]:
    """A LOGIN role that may not create databases; the databases it comes to own are dropped with it."""
    role = unique_name("lp_nocreatedb")
    admin = postgres_admin_connection()
    admin.execute(f'CREATE ROLE "{role}" LOGIN NOCREATEDB NOSUPERUSER')
    try:
        yield role
    finally:
        for (name,) in admin.execute("SELECT datname FROM pg_database WHERE datdba = "
                                     "(SELECT oid FROM pg_roles WHERE rolname = %s)", (role,)).fetchall():
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin.close()


def old_content(target: str, role: str) -> None:
    """What the target holds before the install, made by its role: a table, a schema, a large object and
    a setting of the database itself."""
    with psycopg.connect(postgres_url_for(target), autocommit=True, user=role) as conn:
        conn.execute("CREATE SCHEMA legacy; CREATE TABLE legacy.kept_only_before (a int);"
                     "SELECT lo_from_bytea(0, 'old large')")
    admin = postgres_admin_connection()
    try:
        admin.execute(f'ALTER DATABASE "{target}" SET search_path = app, public')
    finally:
        admin.close()


def snapshot(target: str) -> dict[str, object]:
    with psycopg.connect(postgres_url_for(target), autocommit=True) as conn:
        return {
            "relations": conn.execute(
                "SELECT n.nspname || '.' || c.relname || ':' || c.relkind::text FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'"
                " AND c.relkind IN ('r', 'v', 'S', 'p', 'm') ORDER BY 1").fetchall(),
            "schemas": conn.execute("SELECT nspname, nspowner::regrole::text, nspacl::text, "
                                    "obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname "
                                    "NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1").fetchall(),
            "large": conn.execute("SELECT convert_from(lo_get(oid), 'UTF8') FROM pg_largeobject_metadata "
                                  "ORDER BY 1").fetchall(),
            "extensions": conn.execute("SELECT extname FROM pg_extension ORDER BY 1").fetchall(),
        }


def nocreatedb_target(factory: Callable[[], str], role: str) -> tuple[str, DatabaseConfig]:
    target, database = owned_target(factory, role)
    old_content(target, role)
    return target, database


def test_an_owner_without_createdb_installs_every_object_kind_in_place(
        postgres_database_factory: Callable[[], str], owner_without_createdb: str) -> None:
    """It was refused ("may not create databases") after nothing else; now the content is replaced inside
    the database: tables in two schemas, a foreign key between them, sequences where they were, a trigger
    with its function, a view, an extension and a large object, and nothing of the old content is left."""
    role = owner_without_createdb
    data = dumped(postgres_database_factory, SOURCE)
    target, database = nocreatedb_target(postgres_database_factory, role)
    public_before = [row for row in snapshot(target)["schemas"] if row[0] == "public"]  # type: ignore[attr-defined]
    result = install(database, io.BytesIO(data), InstallOptions(yes=True))
    assert result.replaced_in_place and result.backup is None
    after = snapshot(target)
    assert after["relations"] == [
        ("app.authors:r",), ("app.authors_id_seq:S",), ("public.audit:r",), ("public.posts:r",),
        ("public.posts_id_seq:S",), ("public.titles:v",)]
    assert [row for row in after["schemas"] if row[0] == "public"] == public_before  # type: ignore[attr-defined]
    assert [row[0] for row in after["schemas"]] == ["app", "public"]  # type: ignore[attr-defined]
    assert after["large"] == [("new large",)]
    assert after["extensions"] == [("citext",), ("plpgsql",)]
    with psycopg.connect(postgres_url_for(target), autocommit=True, user=role) as conn:
        assert conn.execute("SELECT title, name FROM titles ORDER BY 1").fetchall() == [
            ("one", "Ada"), ("two", "Grace")]
        # The sequence continues where the source's was; the trigger fires; the foreign key holds.
        conn.execute("INSERT INTO posts (author, title) VALUES (1, 'three')")
        assert conn.execute("SELECT max(id) FROM posts").fetchone() == (3,)
        assert conn.execute("SELECT count(*) FROM audit").fetchone() == (3,)
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("INSERT INTO posts (author, title) VALUES (99, 'orphan')")
        # The database's own settings stay with it.
        assert conn.execute("SHOW search_path").fetchone() == ("app, public",)
        assert conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'posts'").fetchone() == (role,)
    assert databases_like(f"{target}__synco%") == []


@pytest.mark.parametrize("failure", ["verification", "bad-statement"])
def test_a_failed_in_place_install_leaves_the_old_content_whole(
        failure: str, postgres_database_factory: Callable[[], str], owner_without_createdb: str) -> None:
    """The drops, the load and the verification are one transaction: a failure at the end of the load (rows
    that do not match the manifest) or in the middle (a statement the server refuses) leaves every table,
    schema and large object as it was."""
    role = owner_without_createdb
    data = dumped(postgres_database_factory, SOURCE)
    manifest: dict[str, TableManifest] = {}
    if failure == "verification":
        manifest = {"public.posts": TableManifest(rows=5, checksum=None)}
    else:
        data = data.replace(b"CREATE VIEW public.titles", b"CREATE VIEW public.titles_missing_table AS SELECT * "
                                                           b"FROM nowhere;\nCREATE VIEW public.titles", 1)
    target, database = nocreatedb_target(postgres_database_factory, role)
    before = snapshot(target)
    with pytest.raises(DatabaseError) as failed:
        install(database, io.BytesIO(data), InstallOptions(yes=True, manifest=manifest))
    assert "\n" not in str(failed.value)
    assert snapshot(target) == before
    assert marker(target) == "old"


def test_the_preflight_says_the_install_keeps_no_copy_and_refuses_what_the_role_cannot_drop(
        postgres_database_factory: Callable[[], str], owner_without_createdb: str,
        caplog: pytest.LogCaptureFixture) -> None:
    """Before the download: one warning line that no copy will be kept (and the right that would keep one);
    one error line naming a schema the role could not drop, with the statement that lets it; one naming the
    missing database when the role could not create it either."""
    role = owner_without_createdb
    target, database = nocreatedb_target(postgres_database_factory, role)
    with caplog.at_level(logging.WARNING):
        assert check_install_target(database, InstallOptions()) is True
    assert (f"role {role!r} may not create databases: the install replaces the content of PostgreSQL database "
            f"{target!r} inside it, in one transaction, and keeps no copy for 'synco db rollback' "
            f"(ALTER ROLE {role} CREATEDB to keep one)") in caplog.text

    admin = postgres_admin_connection(target)
    try:
        admin.execute("CREATE SCHEMA reporting")
    finally:
        admin.close()
    expected = (f"role {role!r} may not create databases, so installing replaces the content of {target!r} inside "
                f"it, but it may not drop all of it: schema 'reporting' belongs to 'postgres' "
                f"(ALTER SCHEMA reporting OWNER TO {role})")
    with pytest.raises(DatabaseError) as refused:
        check_install_target(database, InstallOptions())
    assert str(refused.value).replace(str(refused.value).split("belongs to ")[1].split(" ")[0], "'postgres'") \
        == expected
    dump_stream = io.BytesIO(dumped(postgres_database_factory, SOURCE))
    with pytest.raises(DatabaseError, match="schema 'reporting' belongs to"):
        install(database, dump_stream, InstallOptions(yes=True))
    assert marker(target) == "old"

    missing = dataclasses.replace(database, name=unique_name("synco_test_probe_install_rights_absent"))
    with pytest.raises(DatabaseError, match=f"role {role!r} may not create databases on .*, and database "
                                            f"{missing.name!r} does not exist: create it for the role "
                                            f"\\(CREATE DATABASE {missing.name} OWNER {role}\\)"):
        check_install_target(missing, InstallOptions())


def test_a_rollback_after_an_in_place_install_never_drops_the_database(
        postgres_database_factory: Callable[[], str], owner_without_createdb: str) -> None:
    """The undo of a failed receive asks the engine to drop a database the install created when it kept no
    copy; the in-place install keeps none yet created nothing: the database stays, and the rollback says
    there is nothing to roll back and why."""
    role = owner_without_createdb
    target, database = nocreatedb_target(postgres_database_factory, role)
    install(database, io.BytesIO(dumped(postgres_database_factory, SOURCE)), InstallOptions(yes=True))
    for drop_created in (False, True):
        with pytest.raises(SyncoError, match="nothing to roll back: the role may not create databases"):
            rollback(database, InstallOptions(yes=True, discard_replaced=True, drop_created=drop_created))
    with psycopg.connect(postgres_url_for(target), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM posts").fetchone() == (2,)


def test_a_role_that_neither_owns_nor_may_create_is_refused_with_the_grant(
        postgres_database_factory: Callable[[], str], owner_without_createdb: str) -> None:
    target = postgres_database_factory()
    database = dataclasses.replace(parse_database_url(postgres_url_for(target)), user=owner_without_createdb)
    with pytest.raises(DatabaseError, match=f"belongs to .*, not {owner_without_createdb!r}: only its owner .* "
                                            f"\\(ALTER DATABASE {target} OWNER TO {owner_without_createdb}\\)$"):
        check_install_target(database, InstallOptions())


def test_a_latin1_database_installed_in_place_is_named_before_the_download_and_fails_whole(
        owner_without_createdb: str, caplog: pytest.LogCaptureFixture,
        postgres_database_factory: Callable[[], str]) -> None:
    """A swap gives a LATIN1 target the UTF-8 source's encoding; in place the database keeps its own, so a
    character beyond LATIN1 cannot be stored. The preflight says so in one warning line (with both ways
    out), and such a character fails the install in one line naming it, the content as it was."""
    role = owner_without_createdb
    target = unique_name("synco_test_probe_install_rights_latin1")
    admin = postgres_admin_connection()
    try:
        admin.execute(f"CREATE DATABASE \"{target}\" OWNER \"{role}\" ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' "
                      "TEMPLATE template0")
    finally:
        admin.close()
    database = dataclasses.replace(parse_database_url(postgres_url_for(target)), user=role)
    with psycopg.connect(postgres_url_for(target), autocommit=True, user=role) as conn:
        conn.execute("CREATE TABLE marker (v text); INSERT INTO marker VALUES ('old')")
    with caplog.at_level(logging.WARNING):
        assert check_install_target(database, InstallOptions()) is True
    assert (f"PostgreSQL database {target!r} is LATIN1 and keeps it (installed in place): a character of a UTF-8 "
            "source beyond LATIN1 will fail the install after the download") in caplog.text
    fits = dumped(postgres_database_factory, "CREATE TABLE t (v text); INSERT INTO t VALUES ('café');")
    install(database, io.BytesIO(fits), InstallOptions(yes=True))
    with psycopg.connect(postgres_url_for(target), autocommit=True) as conn:
        conn.execute("SET client_encoding = 'UTF8'")
        assert conn.execute("SELECT v FROM t").fetchall() == [("café",)]
        conn.execute("CREATE TABLE marker (v text); INSERT INTO marker VALUES ('old')")
    beyond = dumped(postgres_database_factory, "CREATE TABLE t (v text); INSERT INTO t VALUES ('5 €');")
    with pytest.raises(DatabaseError, match='has no equivalent in encoding "LATIN1"') as failed:
        install(database, io.BytesIO(beyond), InstallOptions(yes=True))
    assert "\n" not in str(failed.value)
    assert marker(target) == "old"


def _definitions(name: str) -> str:
    """``pg_dump --schema-only`` without owners and privileges (the copy's objects are the loading role's)."""
    output = subprocess.run([require("pg_dump"), "--schema-only", "--no-owner", "--no-privileges", "-h",
                             POSTGRES_HOST, "-p", str(POSTGRES_PORT), "-U", POSTGRES_USER, name],
                            check=True, capture_output=True, text=True).stdout
    return "\n".join(line for line in output.splitlines()
                     if not re.match(r"^\\(un)?restrict ", line) and not line.startswith("-- Dumped "))


def test_pagila_installed_in_place_over_an_older_pagila_cannot_be_told_from_the_source(
        postgres_database_factory: Callable[[], str], owner_without_createdb: str) -> None:
    """Every object kind of Pagila (a partitioned table, an enum, domains, a custom aggregate its views call,
    triggers, rules, foreign keys across all of it) replaces an older, changed copy in place: the definitions,
    the rows of every table and the sequences' positions are the source's, and nothing of the old copy is
    left."""
    role = owner_without_createdb
    source = postgres_database_factory()
    load_fixture(postgres_url_for(source), DATA / "pagila" / "pagila.sql")
    out = io.BytesIO()
    dump_database(parse_database_url(postgres_url_for(source)), out, DumpOptions())
    target, database = owned_target(postgres_database_factory, role)
    with psycopg.connect(postgres_url_for(target), autocommit=True, user=role) as conn:
        conn.execute("CREATE TABLE actor (id int); CREATE TYPE mpaa_rating AS ENUM ('old');"
                     "CREATE SCHEMA leftover; CREATE VIEW leftover.v AS SELECT 1 AS one")
    result = install(database, io.BytesIO(out.getvalue()), InstallOptions(yes=True))
    assert result.replaced_in_place
    assert _definitions(target) == _definitions(source)
    assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))
    assert sequences(postgres_url_for(target)) == sequences(postgres_url_for(source))
    with psycopg.connect(postgres_url_for(target), autocommit=True, user=role) as conn:
        assert conn.execute("SELECT count(*) FROM public.film_list").fetchone() == (997,)


def test_a_target_whose_public_schema_was_dropped_gets_templates_in_place(
        postgres_database_factory: Callable[[], str], owner_without_createdb: str) -> None:
    """A swap's new database has template0's schema public, which a dump's tables in public expect; a
    target whose owner dropped it failed the install in place on 'schema "public" does not exist'. It is
    created as template0 has it."""
    role = owner_without_createdb
    target, database = owned_target(postgres_database_factory, role)
    with psycopg.connect(postgres_url_for(target), autocommit=True, user=role) as conn:
        conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA app; CREATE TABLE app.t (a int)")
    data = dumped(postgres_database_factory, "CREATE TABLE t (a int); INSERT INTO t VALUES (1);")
    install(database, io.BytesIO(data), InstallOptions(yes=True))
    fresh = postgres_database_factory()
    expected = [row for row in snapshot(fresh)["schemas"] if row[0] == "public"]  # type: ignore[attr-defined]
    assert snapshot(target)["schemas"] == expected
    assert snapshot(target)["relations"] == [("public.t:r",)]


def test_a_sql_ascii_source_installed_in_place_into_utf8_is_named_before_loading_and_fails_whole(
        owner_without_createdb: str, caplog: pytest.LogCaptureFixture,
        postgres_database_factory: Callable[[], str]) -> None:
    """A SQL_ASCII source may hold bytes that are not UTF-8; in place a UTF-8 database keeps its encoding and
    cannot store them: one warning line says so before anything is loaded, and the install fails whole."""
    role = owner_without_createdb
    target, database = owned_target(postgres_database_factory, role)
    source = unique_name("synco_test_probe_sql_ascii_source")
    admin = postgres_admin_connection()
    try:
        admin.execute(f"CREATE DATABASE \"{source}\" ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' "
                      "TEMPLATE template0")
        with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
            conn.execute("CREATE TABLE t (v text); INSERT INTO t VALUES (E'a\\xffb')")
        out = io.BytesIO()
        dump_database(parse_database_url(postgres_url_for(source)), out, DumpOptions())
    finally:
        admin.close()
        drop_postgres_databases([source])
    assert b"SET client_encoding = 'SQL_ASCII'" in out.getvalue(), out.getvalue()[:3000]
    with caplog.at_level(logging.WARNING), pytest.raises(DatabaseError, match="0xff") as failed:
        install(database, io.BytesIO(out.getvalue()), InstallOptions(yes=True))
    assert (f"PostgreSQL database {target!r} is UTF8 and keeps it (installed in place): a byte of the dump's "
            "SQL_ASCII source that it cannot hold fails the install, the content as it was") in caplog.text
    assert "\n" not in str(failed.value)
    assert marker(target) == "old"
