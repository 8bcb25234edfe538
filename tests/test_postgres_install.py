"""PostgreSQL install, rollback, bad inputs, filters and sanitising, on the real server."""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from test_mysql_support import REMOTE_LOOKING_HOST, error_line, synco_process
from test_postgres_support import CHINOOK, FIDELITY, databases_like, db_name, fingerprints, load_fixture, psql_load
from test_swap_atomicity import POSTGRES_SWAP_ERRORS

from synco_core.cli.main import cli
from synco_core.dburl import parse_database_url
from synco_core.engines.dispatch import dump_with_engine, inspect_with_engine, install_with_engine, rollback_with_engine
from synco_core.errors import ConfigError, DatabaseError, SyncoError
from synco_core.testing.services import POSTGRES_HOST, postgres_url_for, unavailable
from synco_core.values import DumpOptions, InstallOptions, SanitizeRule, TableManifest

pytestmark = pytest.mark.postgres


def marker_database(factory: Callable[[], str], value: str = "old") -> str:
    name = factory()
    with psycopg.connect(postgres_url_for(name), autocommit=True) as conn:
        conn.execute("CREATE TABLE marker (v text)")
        conn.execute("INSERT INTO marker VALUES (%s)", (value,))
    return name


def marker(name: str) -> str | None:
    with psycopg.connect(postgres_url_for(name), autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('public.marker')").fetchone()
        if exists is None or exists[0] is None:
            return None
        row = conn.execute("SELECT v FROM marker").fetchone()
        return None if row is None else str(row[0])


def chinook_dump(factory: Callable[[], str]) -> tuple[bytes, dict[str, TableManifest], str]:
    source = factory()
    load_fixture(postgres_url_for(source), CHINOOK)
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(postgres_url_for(source)), out, DumpOptions())
    return out.getvalue(), result.tables, source


def test_install_is_atomic_and_rolls_back(postgres_database_factory: Callable[[], str],
                                          plugin_manager: object) -> None:
    data, manifest, source = chinook_dump(postgres_database_factory)
    target = marker_database(postgres_database_factory)
    database = parse_database_url(postgres_url_for(target))
    # A session left open on the target (an application) must not block the swap.
    idle = psycopg.connect(postgres_url_for(target), autocommit=True)
    questions: list[str] = []
    result = install_with_engine(database, io.BytesIO(data), InstallOptions(
        manifest=manifest, confirm=lambda question: questions.append(question) is None))
    assert target in questions[0] and "127.0.0.1" in questions[0]
    assert "The sessions connected to it are ended at the swap." in questions[0]
    assert result.backup == f"{target}__synco_prev" and result.rows == 15607
    assert idle.closed or idle.broken or _is_dead(idle)
    assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))
    assert marker(f"{target}__synco_prev") == "old"
    assert databases_like(target) == [target, f"{target}__synco_prev"]

    outcome = CliRunner().invoke(cli, ["db", "rollback", postgres_url_for(target), "--yes"])
    assert outcome.exit_code == 0, outcome.output
    assert marker(target) == "old"
    # What the rollback replaced is kept in turn, so rolling back twice restores the install.
    rollback_with_engine(database, InstallOptions(yes=True))
    assert marker(target) is None
    assert fingerprints(postgres_url_for(target)) == fingerprints(postgres_url_for(source))


def _is_dead(conn: psycopg.Connection[object]) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False


def test_install_refuses_without_confirmation_and_remote_targets(postgres_database_factory: Callable[[], str],
                                                                 plugin_manager: object) -> None:
    target = marker_database(postgres_database_factory)
    database = parse_database_url(postgres_url_for(target))
    with pytest.raises(SyncoError, match=r"postgresql.*--yes|--yes") as refused:
        install_with_engine(database, io.BytesIO(b"SELECT 1;\n"), InstallOptions())
    assert target in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(SyncoError, match="--yes"):
        install_with_engine(database, io.BytesIO(b"SELECT 1;\n"), InstallOptions(confirm=lambda question: False))
    remote = database.replace(host="db.example.com")
    with pytest.raises(ConfigError, match=r"db\.example\.com.*--force-remote-target"):
        install_with_engine(remote, io.BytesIO(b"SELECT 1;\n"), InstallOptions(yes=True))
    with pytest.raises(SyncoError, match="nothing to roll back"):
        rollback_with_engine(database, InstallOptions(yes=True))
    assert marker(target) == "old"
    assert databases_like(target) == [target]


@pytest.mark.parametrize("damage", ["truncated", "truncated_in_copy", "failing_statement", "bad_manifest"])
def test_bad_dumps_leave_the_target_untouched(damage: str, postgres_database_factory: Callable[[], str],
                                              plugin_manager: object) -> None:
    data, manifest, _ = chinook_dump(postgres_database_factory)
    target = marker_database(postgres_database_factory)
    if damage == "truncated":
        data = data[: data.index(b"-- Foreign keys")]
    elif damage == "truncated_in_copy":
        data = data[: data.index(b"COPY public.track") + 5000]
    elif damage == "failing_statement":
        data = data.replace(b"CREATE INDEX", b"CREATE INDEX no_such_thing ON public.nope (x);\nCREATE INDEX", 1)
    else:
        manifest = dict(manifest)
        manifest["track"] = TableManifest(rows=manifest["track"].rows, checksum="0" * 32)
    with pytest.raises(DatabaseError) as failed:
        install_with_engine(parse_database_url(postgres_url_for(target)), io.BytesIO(data),
                            InstallOptions(yes=True, manifest=manifest))
    message = str(failed.value)
    assert "\n" not in message
    assert {"truncated": "truncated", "truncated_in_copy": "truncated", "failing_statement": "public.nope",
            "bad_manifest": "track"}[damage] in message
    assert marker(target) == "old"
    assert databases_like(target) == [target]


def test_wrong_credentials_and_missing_database(postgres_url: str, plugin_manager: object) -> None:
    database = parse_database_url(postgres_url).replace(user="no_such_user_xyz", password="s3cret-pw")
    with pytest.raises(DatabaseError) as failed:
        dump_with_engine(database, io.BytesIO(), DumpOptions())
    assert "no_such_user_xyz" in str(failed.value) and "s3cret-pw" not in str(failed.value)
    missing = parse_database_url(postgres_url + "_missing")
    with pytest.raises(DatabaseError, match="does not exist"):
        dump_with_engine(missing, io.BytesIO(), DumpOptions())
    # Install too: refused at the first connection, before any scratch database exists.
    with pytest.raises(DatabaseError) as refused:
        install_with_engine(database, io.BytesIO(b"CREATE TABLE t (a int);\n"), InstallOptions(yes=True))
    message = str(refused.value)
    assert "no_such_user_xyz" in message and "s3cret-pw" not in message and "\n" not in message
    assert message.startswith("cannot connect to PostgreSQL at ")
    assert databases_like(db_name(postgres_url)) == [db_name(postgres_url)]


def test_server_gone_mid_dump(postgres_url: str, plugin_manager: object) -> None:
    load_fixture(postgres_url, CHINOOK)
    name = postgres_url.rsplit("/", 1)[1]

    class KillingWriter(io.BytesIO):
        """Ends the dumping session from another connection as soon as the first COPY data arrives."""

        killed = False

        def write(self, data: object) -> int:
            if not self.killed and self.getvalue().count(b"FROM stdin") >= 1:
                self.killed = True
                with psycopg.connect(postgres_url_for("postgres"), autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                                  "AND pid <> pg_backend_pid()", (name,))
            return super().write(data)  # type: ignore[arg-type]

    with pytest.raises(DatabaseError) as failed:
        dump_with_engine(parse_database_url(postgres_url), KillingWriter(), DumpOptions())
    assert "\n" not in str(failed.value)
    # The next query may be a table's COPY, the look for wide rows before it, or (when the first COPY was
    # already whole in the buffer) the rollback to the savepoint that lets go of the table's locks after it.
    assert re.fullmatch(rf"dump of PostgreSQL database \S+/{name} failed( while copying \S+)?: (COPY failed: )?.+",
                        str(failed.value)), str(failed.value)
    assert "terminating connection" in str(failed.value) or "closed" in str(failed.value), str(failed.value)


def test_filters_and_sanitising_happen_on_the_server(postgres_database_factory: Callable[[], str],
                                                     plugin_manager: object, pinned_hash_key: str) -> None:
    source, target = postgres_database_factory(), postgres_database_factory()
    load_fixture(postgres_url_for(source), CHINOOK)
    options = DumpOptions(
        exclude_tables=("invoice_line",),
        # playlist_track keeps the rows of the tracks keep_newest keeps: a filter leaving a foreign key pointing
        # at a row the copy lacks is refused (tests/test_sanitize_constraints.py).
        where={"invoice": "total > 10",
               "playlist_track": "track_id IN (SELECT track_id FROM public.track ORDER BY track_id DESC LIMIT 100)"},
        keep_newest={"track": ("track_id", 100)},
        sanitize=(SanitizeRule("customer", "email", transform="email"),
                  SanitizeRule("customer", "phone", transform="null"),
                  SanitizeRule("customer", "last_name", transform="hash"),
                  SanitizeRule("customer", "address", expression="'hidden'"),
                  SanitizeRule("customer", "company", transform="truncate:3"),
                  SanitizeRule("employee", "email", transform="fixed:staff@example.invalid"),
                  SanitizeRule("customer", "fax", transform="fixed:0000")),
    )
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(postgres_url_for(source)), out, options)
    data = out.getvalue()
    assert b"luisg@embraer.com.br" not in data and b"Av. Brigadeiro Faria Lima, 2170" not in data.split(
        b"COPY public.invoice ")[0]
    assert result.tables["invoice_line"].rows == 0 and result.tables["track"].rows == 100
    assert "invoice: only rows where total > 10" in result.applied_rules
    # The sanitised dump is checked with psql alone, constraints included: load it and look at the rows.
    (tmp := Path(f"/tmp/{target}.sql")).write_bytes(data)
    loaded = psql_load(target, tmp)
    tmp.unlink()
    assert loaded.returncode == 0, loaded.stderr
    with psycopg.connect(postgres_url_for(target)) as conn:
        emails = [row[0] for row in conn.execute("SELECT email FROM customer")]
        assert len(set(emails)) == 59 and all(e.endswith("@example.invalid") for e in emails)
        assert conn.execute("SELECT count(*) FROM customer WHERE phone IS NOT NULL").fetchone() == (0,)
        assert conn.execute("SELECT DISTINCT address FROM customer").fetchall() == [("hidden",)]
        assert conn.execute("SELECT max(length(company)) FROM customer").fetchone() == (3,)
        # fixed: replaces every value but leaves NULL as NULL (Chinook has 47 customers without a fax).
        assert conn.execute("SELECT fax, count(*) FROM customer GROUP BY fax ORDER BY fax").fetchall() == [
            ("0000", 12), (None, 47)]
        assert conn.execute("SELECT min(total) > 10 FROM invoice").fetchone() == (True,)
        assert conn.execute("SELECT count(*), min(track_id) FROM track").fetchone() == (100, 3404)
        assert conn.execute("SELECT DISTINCT length(last_name) FROM customer").fetchall() == [(20,)]
        hashed = dict(conn.execute("SELECT customer_id, last_name FROM customer").fetchall())
    # hash is SHA-256 hex of the dump's key and the value, as in the other engines (cut here to the column's
    # varchar(20)).
    with psycopg.connect(postgres_url_for(source)) as conn:
        originals = dict(conn.execute("SELECT customer_id, last_name FROM customer").fetchall())
    assert hashed == {key: hashlib.sha256(f"{pinned_hash_key}{value}".encode()).hexdigest()[:20]
                      for key, value in originals.items()}

    for bad, message in ((DumpOptions(where={"nope": "true"}), "nope"),
                         (DumpOptions(sanitize=(SanitizeRule("customer", "nope", transform="null"),)), "nope"),
                         (DumpOptions(keep_newest={"track": ("nope", 1)}), "nope"),
                         (DumpOptions(sanitize=(SanitizeRule("customer", "email", transform="rot13"),)), "rot13")):
        with pytest.raises(ConfigError, match=message):
            dump_with_engine(parse_database_url(postgres_url_for(source)), io.BytesIO(), bad)


def test_rules_on_an_inheritance_parent_copy_its_rows_once_and_reach_its_children(
        postgres_database_factory: Callable[[], str], plugin_manager: object) -> None:
    source, target = postgres_database_factory(), postgres_database_factory()
    load_fixture(postgres_url_for(source), FIDELITY)
    options = DumpOptions(sanitize=(SanitizeRule("archive.base", "note", expression="'masked'"),))
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(postgres_url_for(source)), out, options)
    assert result.tables["archive.base"].rows == 1 and result.tables["archive.derived"].rows == 1
    install_with_engine(parse_database_url(postgres_url_for(target)), io.BytesIO(out.getvalue()),
                        InstallOptions(yes=True, manifest=result.tables))
    with psycopg.connect(postgres_url_for(target)) as conn:
        # Without FROM ONLY the parent's filtered COPY would also carry the child's row: loaded twice.
        assert conn.execute("SELECT id, note FROM ONLY archive.base").fetchall() == [(1, "masked")]
        # A rule on the parent also masks the tables that inherit from it (their rows are the parent's too).
        assert conn.execute("SELECT id, note, extra FROM archive.derived").fetchall() == [(2, "masked", 20)]
    assert b"child row" not in out.getvalue() and b"parent row" not in out.getvalue()


def test_keep_newest_on_a_parent_keeps_that_many_rows_in_all(postgres_database_factory: Callable[[], str],
                                                             plugin_manager: object) -> None:
    """N rows of the parent table (as MySQL and the docs have it), not N in each partition or child."""
    source, target = postgres_database_factory(), postgres_database_factory()
    load_fixture(postgres_url_for(source), FIDELITY)
    options = DumpOptions(keep_newest={"archive.events": ("id", 10), "archive.base": ("id", 1)})
    out = io.BytesIO()
    result = dump_with_engine(parse_database_url(postgres_url_for(source)), out, options)
    # archive.events has 2000 rows over 4 leaf partitions; the newest 10 fall in 3 of them.
    leaves = {name: m.rows for name, m in result.tables.items() if name.startswith("archive.events_")}
    assert sum(leaves.values()) == 10 and len(leaves) == 4, leaves
    # Plain inheritance: the newest row of base-with-derived is the child's (id 2), the parent's own is left out.
    assert (result.tables["archive.base"].rows, result.tables["archive.derived"].rows) == (0, 1)
    install_with_engine(parse_database_url(postgres_url_for(target)), io.BytesIO(out.getvalue()),
                        InstallOptions(yes=True, manifest=result.tables))
    with psycopg.connect(postgres_url_for(target)) as conn:
        assert [row[0] for row in conn.execute("SELECT id FROM archive.events ORDER BY id")] == list(range(1991, 2001))
        assert conn.execute("SELECT id FROM archive.base").fetchall() == [(2,)]


def test_owners_and_grants_are_kept_on_request(postgres_database_factory: Callable[[], str], tmp_path: Path,
                                               plugin_manager: object) -> None:
    source, target = postgres_database_factory(), postgres_database_factory()
    load_fixture(postgres_url_for(source), FIDELITY)
    with psycopg.connect(postgres_url_for(source), autocommit=True) as conn:
        conn.execute("GRANT SELECT ON public.scalars TO PUBLIC")
        conn.execute('GRANT SELECT (id, note), UPDATE (note) ON public.serials TO PUBLIC')
    plain, with_owners = io.BytesIO(), io.BytesIO()
    dump_with_engine(parse_database_url(postgres_url_for(source)), plain, DumpOptions())
    dump_with_engine(parse_database_url(postgres_url_for(source)), with_owners, DumpOptions(owners=True))
    assert b"OWNER TO" not in plain.getvalue() and b"GRANT" not in plain.getvalue()
    assert b"ALTER TABLE public.scalars OWNER TO postgres;" in with_owners.getvalue()
    assert b"GRANT SELECT ON TABLE public.scalars TO PUBLIC;" in with_owners.getvalue()
    assert b"GRANT UPDATE (note) ON TABLE public.serials TO PUBLIC;" in with_owners.getvalue()
    dump = tmp_path / "owners.sql"
    dump.write_bytes(with_owners.getvalue())
    loaded = psql_load(target, dump)
    assert loaded.returncode == 0, loaded.stderr
    with psycopg.connect(postgres_url_for(target)) as conn:
        assert conn.execute("SELECT has_table_privilege('public', 'public.scalars', 'SELECT')").fetchone() == (True,)
        # Column privileges come back as column privileges, not as privileges on the whole table.
        assert conn.execute("""
            SELECT array_agg(column_name::text || ':' || privilege_type ORDER BY column_name, privilege_type)
            FROM information_schema.column_privileges
            WHERE table_name = 'serials' AND grantee = 'PUBLIC'""").fetchone() == (
            ["id:SELECT", "note:SELECT", "note:UPDATE"],)
        assert conn.execute("SELECT has_table_privilege('public', 'public.serials', 'SELECT')").fetchone() == (False,)

    # The same through the CLI flag.
    for flags, kept in (([], False), (["--owners"], True)):
        out = tmp_path / f"cli{len(flags)}.sql"
        result = CliRunner().invoke(cli, ["db", "dump", postgres_url_for(source), "-o", str(out), *flags])
        assert result.exit_code == 0, result.output
        assert (b"ALTER TABLE public.scalars OWNER TO postgres;" in out.read_bytes()) is kept
        assert (b"GRANT SELECT ON TABLE public.scalars TO PUBLIC;" in out.read_bytes()) is kept


def test_inspect_uses_statistics(postgres_url: str, plugin_manager: object) -> None:
    load_fixture(postgres_url, FIDELITY)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        # Not the whole database: a partitioned table of the fixture has a foreign partition whose wrapper
        # has no handler, which ANALYZE cannot sample.
        conn.execute("ANALYZE public.bytes")
    inventory = inspect_with_engine(parse_database_url(postgres_url))
    tables = {t.name: t for t in inventory.tables}
    assert tables["bytes"].rows_estimate == 256 and tables["bytes"].size_bytes > 0
    assert tables["Sales.Order"].columns[:2] == ["Id", "select"]
    assert tables["Sales.order_totals"].kind == "view"
    assert inventory.server_version.startswith("15")


def test_concurrent_install_attempts_do_not_lose_the_target(postgres_database_factory: Callable[[], str],
                                                            plugin_manager: object) -> None:
    """An application hammering the target with new connections is ended, and the swap still happens."""
    data, manifest, _ = chinook_dump(postgres_database_factory)
    target = marker_database(postgres_database_factory)
    stop = threading.Event()
    unexpected: list[str] = []

    def app() -> None:
        while not stop.is_set():
            try:
                with psycopg.connect(postgres_url_for(target), connect_timeout=2) as conn:
                    conn.execute("SELECT pg_sleep(0.05)")
            except psycopg.Error as exc:
                # Ending these sessions is how the install gets the target free; nothing else may happen.
                if not any(expected in str(exc) for expected in POSTGRES_SWAP_ERRORS):
                    unexpected.append(str(exc))

    thread = threading.Thread(target=app)
    thread.start()
    try:
        install_with_engine(parse_database_url(postgres_url_for(target)), io.BytesIO(data),
                            InstallOptions(yes=True, manifest=manifest))
    finally:
        stop.set()
        thread.join()
    assert unexpected == []
    assert marker(f"{target}__synco_prev") == "old"
    assert marker(target) is None


def test_database_settings_owner_and_comment_follow_the_swap(postgres_database_factory: Callable[[], str],
                                                             plugin_manager: object) -> None:
    data, manifest, _ = chinook_dump(postgres_database_factory)
    target = marker_database(postgres_database_factory)
    with psycopg.connect(postgres_url_for("postgres"), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{target}" SET search_path = "$user", public, "Odd Schema"')
        admin.execute(f'ALTER DATABASE "{target}" SET work_mem = \'8MB\'')
        admin.execute(f'ALTER DATABASE "{target}" SET app.tenant = \'acme\'')
        admin.execute(f'ALTER ROLE postgres IN DATABASE "{target}" SET statement_timeout = \'5min\'')
        admin.execute(f"COMMENT ON DATABASE \"{target}\" IS 'the app''s database'")
    install_with_engine(parse_database_url(postgres_url_for(target)), io.BytesIO(data),
                        InstallOptions(yes=True, manifest=manifest))
    with psycopg.connect(postgres_url_for(target)) as conn:
        assert conn.execute("SHOW search_path").fetchone() == ('"$user", public, "Odd Schema"',)
        assert conn.execute("SHOW work_mem").fetchone() == ("8MB",)
        assert conn.execute("SELECT current_setting('app.tenant')").fetchone() == ("acme",)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("5min",)
        assert conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                            "WHERE datname = current_database()").fetchone() == ("the app's database",)
        assert conn.execute("SELECT count(*) FROM track").fetchone() == (3503,)


def test_database_grants_connection_limit_and_tablespace_follow_the_swap(
        postgres_database_factory: Callable[[], str], plugin_manager: object, tmp_path: Path) -> None:
    """What the laptop's database has of its own beyond settings and comment: an application role given
    CREATE on the database (its migrations create schemas), CONNECT taken from PUBLIC, a connection limit and
    the tablespace its owner put it in. Each was lost at every install before (the copy was created with the
    server's defaults); a rollback puts the previous database back with its own."""
    import pwd

    try:
        postgres_account = pwd.getpwnam("postgres")
    except KeyError:
        unavailable("no postgres account to own a tablespace's folder")
    data, manifest, _ = chinook_dump(postgres_database_factory)
    target = marker_database(postgres_database_factory)
    role, space = f"{target}_app", f"{target}_space"
    folder = tmp_path / "space"
    folder.mkdir()
    os.chown(folder, postgres_account.pw_uid, postgres_account.pw_gid)
    # The server reaches the folder through the test's own temporary folders.
    for parent in (tmp_path, *tmp_path.parents):
        os.chmod(parent, os.stat(parent).st_mode | 0o111)

    def properties(name: str) -> tuple[object, ...]:
        with psycopg.connect(postgres_url_for("postgres"), autocommit=True) as conn:
            row = conn.execute("""
                SELECT d.datconnlimit, t.spcname, has_database_privilege(%s, d.oid, 'CREATE'),
                       has_database_privilege('public', d.oid, 'CONNECT'), has_database_privilege(%s, d.oid, 'CONNECT')
                FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = %s
                """, (role, role, name)).fetchone()
        assert row is not None
        return tuple(row)

    with psycopg.connect(postgres_url_for("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f"CREATE TABLESPACE \"{space}\" LOCATION '{folder}'")
        try:
            admin.execute(f'ALTER DATABASE "{target}" SET TABLESPACE "{space}"')
            admin.execute(f'ALTER DATABASE "{target}" CONNECTION LIMIT 42')
            admin.execute(f'REVOKE CONNECT, TEMPORARY ON DATABASE "{target}" FROM PUBLIC')
            admin.execute(f'GRANT CONNECT, CREATE ON DATABASE "{target}" TO "{role}"')
            expected = (42, space, True, False, True)
            assert properties(target) == expected
            install_with_engine(parse_database_url(postgres_url_for(target)), io.BytesIO(data),
                                InstallOptions(yes=True, manifest=manifest))
            assert marker(target) is None
            assert properties(target) == expected
            rollback_with_engine(parse_database_url(postgres_url_for(target)), InstallOptions(yes=True))
            assert marker(target) == "old"
            assert properties(target) == expected
        finally:
            for name in (target, f"{target}__synco_prev", f"{target}__synco_new"):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'DROP TABLESPACE IF EXISTS "{space}"')
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_local_hosts_from_synco_yml_and_force_remote_target(postgres_database_factory: Callable[[], str],
                                                            tmp_path: Path, plugin_manager: object) -> None:
    if POSTGRES_HOST != "127.0.0.1":
        unavailable("the remote-looking address stands for 127.0.0.1")
    data, _, _ = chinook_dump(postgres_database_factory)
    target = marker_database(postgres_database_factory)
    dump = tmp_path / "dump.sql"
    dump.write_bytes(data)
    url = postgres_url_for(target).replace(f"@{POSTGRES_HOST}:", f"@{REMOTE_LOOKING_HOST}:")
    project = tmp_path / "project"
    project.mkdir()

    refused = error_line(synco_process("db", "load", url, str(dump), "--yes", cwd=project))
    assert f"refusing to replace PostgreSQL database {target!r} on {REMOTE_LOOKING_HOST}:" in refused
    assert marker(target) == "old"
    # --force-remote-target really lets it through: the load happens.
    forced = synco_process("db", "load", url, str(dump), "--yes", "--force-remote-target", cwd=project)
    assert forced.returncode == 0, forced.stderr
    assert marker(target) is None and marker(f"{target}__synco_prev") == "old"
    # A host named in .synco.yml counts as this machine.
    (project / ".synco.yml").write_text(f"local_hosts: ['{REMOTE_LOOKING_HOST}']\n")
    rolled = synco_process("db", "rollback", url, "--yes", cwd=project)
    assert rolled.returncode == 0, rolled.stderr
    assert marker(target) == "old"


def test_dump_is_one_snapshot(postgres_database_factory: Callable[[], str], plugin_manager: object) -> None:
    """Writes committed by other sessions while the dump runs stay out of it, in every table."""
    source, target = postgres_database_factory(), postgres_database_factory()
    url = postgres_url_for(source)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE a_first (id int PRIMARY KEY)")
        conn.execute("INSERT INTO a_first SELECT generate_series(1, 10)")
        conn.execute("CREATE TABLE z_ledger (id int PRIMARY KEY, amount int NOT NULL)")
        conn.execute("INSERT INTO z_ledger VALUES (1, 5), (2, -5)")
    before = fingerprints(url)

    class WritingWriter(io.BytesIO):
        """While the first table's rows stream, another session changes both tables (each its own commit)."""

        wrote = False

        def write(self, data: object) -> int:
            if not self.wrote and b"FROM stdin" in self.getvalue():
                self.wrote = True
                with psycopg.connect(url, autocommit=True) as other:
                    other.execute("INSERT INTO z_ledger VALUES (3, 7)")
                    other.execute("INSERT INTO z_ledger VALUES (4, -7)")
                    other.execute("DELETE FROM z_ledger WHERE id = 1")
                    other.execute("UPDATE a_first SET id = id + 100 WHERE id <= 3")
            return super().write(data)  # type: ignore[arg-type]

    out = WritingWriter()
    result = dump_with_engine(parse_database_url(url), out, DumpOptions())
    assert out.wrote and fingerprints(url) != before
    assert result.tables["z_ledger"].rows == 2
    install_with_engine(parse_database_url(postgres_url_for(target)), io.BytesIO(out.getvalue()),
                        InstallOptions(yes=True, manifest=result.tables))
    assert fingerprints(postgres_url_for(target)) == before
