"""MariaDB dumps and installs with the privileges real hosts give: a backup user without PROCESS, RELOAD or
access to mysql.*, a user with SELECT only, roles, grants on database patterns (real MariaDB on 127.0.0.1).

The server hides the triggers, routines and events a user lacks the privilege for (their names too): the
dump must then refuse, naming the privilege, never come out complete-looking without them."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
import re
from collections.abc import Callable, Iterator

import pymysql
import pytest
from test_mysql_support import config, load_with_client, mariadb_dump, private_mariadb, query, snapshot

from synco_core.engines.mysql import grants
from synco_core.engines.mysql.dump import dump
from synco_core.engines.mysql.install import install, rollback
from synco_core.engines.mysql.preflight import check as check_install_target
from synco_core.errors import DatabaseError
from synco_core.testing.services import mysql_admin_connection, unique_name
from synco_core.values import DatabaseConfig, DumpOptions, InstallOptions

pytestmark = pytest.mark.mysql

#: One object of each kind the server may hide, made by the admin (another definer than the dumping user).
OBJECTS = b"""
CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20));
CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20));
INSERT INTO t VALUES (1, 'a');
CREATE TRIGGER probe_trigger AFTER INSERT ON t FOR EACH ROW INSERT INTO audit (v) VALUES (NEW.v);
CREATE PROCEDURE probe_procedure() SELECT 1;
CREATE FUNCTION probe_function(x INT) RETURNS INT DETERMINISTIC RETURN x + 1;
CREATE EVENT probe_event ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM audit;
CREATE VIEW probe_view AS SELECT id FROM t;
"""
NAMES = (b"probe_trigger", b"probe_procedure", b"probe_function", b"probe_event", b"probe_view")


@contextlib.contextmanager
def user(grant_statements: list[str]) -> Iterator[tuple[str, str]]:
    """A throw-away user (and role) named ``(user, role)``; each statement is formatted with ``{user}`` and
    ``{role}`` and run by the admin. Both are dropped afterwards."""
    name, role = unique_name("lp_user"), unique_name("lp_role")
    admin = mysql_admin_connection()
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY 'pw-{name}'")
            cur.execute(f"CREATE ROLE {role}")
            for statement in grant_statements:
                cur.execute(statement.format(user=f"'{name}'@'%'", role=role))
        yield name, role
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{name}'@'%'")
            cur.execute(f"DROP ROLE IF EXISTS {role}")
        admin.close()


def as_user(source: str, name: str) -> DatabaseConfig:
    return dataclasses.replace(config(source), user=name, password=f"pw-{name}")


def dump_as(database: DatabaseConfig, **options: bool) -> bytes:
    out = io.BytesIO()
    dump(database, out, DumpOptions(**options))
    return out.getvalue()


#: The privileges that show an object to its non-definer, and what the refusal names without each one.
SHOWING = {
    "TRIGGER": "needs the TRIGGER privilege",
    "EXECUTE": "needs EXECUTE on",
    "EVENT": "needs the EVENT privilege",
    "PROC": "SELECT on mysql.proc",
}


@pytest.mark.parametrize("held", [combo for size in range(len(SHOWING) + 1)
                                  for combo in itertools.combinations(SHOWING, size)],
                         ids=lambda combo: "+".join(combo) or "none")
def test_a_dump_carries_every_object_or_names_the_privilege_it_lacks(
        held: tuple[str, ...], mysql_database_factory: Callable[[], str]) -> None:
    """Whatever the user may see: the dump holds every trigger, routine, event and view of the database,
    or refuses in one line naming each privilege that would show the rest; nothing is written then."""
    source = mysql_database_factory()
    load_with_client(source, OBJECTS)
    statements = [f"GRANT SELECT, SHOW VIEW, LOCK TABLES ON `{source}`.* TO {{user}}"]
    statements += [f"GRANT {privilege} ON `{source}`.* TO {{user}}" for privilege in held if privilege != "PROC"]
    if "PROC" in held:
        statements.append("GRANT SELECT ON mysql.proc TO {user}")
    expected = [SHOWING[privilege] for privilege in ("TRIGGER", "EVENT") if privilege not in held]
    if "PROC" not in held:
        # Without a listing privilege the routines are not even named; with one, their texts stay hidden.
        expected.append("its text is hidden from this user" if "EXECUTE" in held else SHOWING["EXECUTE"])
    with user(statements) as (name, _):
        out = io.BytesIO()
        try:
            dump(as_user(source, name), out, DumpOptions(events=True))
        except DatabaseError as exc:
            message = str(exc)
            assert expected and "\n" not in message
            assert message.endswith("(--skip-unsupported dumps without them)")
            for phrase in expected:
                assert phrase in message, message
            assert out.getvalue() == b""
            return
    assert not expected
    for object_name in NAMES:
        assert object_name in out.getvalue(), object_name


def test_privileges_from_a_role_and_a_database_pattern_count(mysql_database_factory: Callable[[], str]) -> None:
    """Grants through the user's default role (and a role granted to it), and on a database name pattern,
    show what they show: the dump is complete, not refused."""
    source = mysql_database_factory()
    load_with_client(source, OBJECTS)
    pattern = source[:-4].replace("_", "\\_") + "%"
    inner = unique_name("lp_inner")
    statements = [f"GRANT SELECT, SHOW VIEW ON `{source}`.* TO {{user}}",
                  f"GRANT TRIGGER, EXECUTE ON `{pattern}`.* TO {{role}}",
                  f"CREATE ROLE {inner}",
                  f"GRANT EXECUTE ON `{pattern}`.* TO {inner}",
                  f"GRANT {inner} TO {{role}}",
                  "GRANT SELECT ON mysql.proc TO {role}",
                  "GRANT {role} TO {user}",
                  "SET DEFAULT ROLE {role} FOR {user}"]
    try:
        with user(statements) as (name, _):
            data = dump_as(as_user(source, name))
    finally:
        admin = mysql_admin_connection()
        with admin.cursor() as cur:
            cur.execute(f"DROP ROLE IF EXISTS {inner}")
        admin.close()
    for object_name in NAMES[:3]:
        assert object_name in data, object_name


def test_what_the_user_cannot_see_is_left_out_on_request_with_a_warning(
        mysql_database_factory: Callable[[], str], caplog: pytest.LogCaptureFixture) -> None:
    source = mysql_database_factory()
    load_with_client(source, OBJECTS)
    with user([f"GRANT SELECT, SHOW VIEW ON `{source}`.* TO {{user}}"]) as (name, _):
        with caplog.at_level("WARNING"):
            data = dump_as(as_user(source, name), skip_unsupported=True)
        assert "any triggers on tables audit, t (hidden from this user" in caplog.text
        assert b"probe_view" in data
        # --no-routines and no --events: only the triggers are missing.
        with pytest.raises(DatabaseError, match=r"^the database has objects a dump cannot carry: any triggers on "
                                                r"tables audit, t \(hidden [^;]*\) \(--skip-unsupported"):
            dump_as(as_user(source, name), routines=False)


def test_grants_are_read_as_the_server_applies_them() -> None:
    lines = ["GRANT USAGE ON *.* TO `u`@`%`",
             "GRANT SELECT, TRIGGER ON `shop`.* TO `u`@`%`",
             "GRANT EXECUTE ON `sh\\_p%`.* TO `u`@`%`",
             "GRANT SELECT (`a`, `b`), UPDATE (`c`), TRIGGER ON `shop`.`orders` TO `u`@`%`",
             "GRANT ALL PRIVILEGES ON `shop`.`od``d` TO `u`@`%`",
             "GRANT EXECUTE ON PROCEDURE `shop`.`p` TO `u`@`%`",
             "GRANT `role` TO `u`@`%`",
             "GRANT EVENT ON `sh%`.* TO `role`",
             "GRANT SHOW VIEW ON `s%`.* TO `role`",
             "GRANT CREATE ROUTINE ON `sh%`.* TO `inner@role`",
             "GRANT DELETE ON `l_\\_s%`.* TO `u`@`%`",
             "GRANT INSERT ON `lo%`.* TO `u`@`%`",
             "GRANT UPDATE ON `l\\_sx`.* TO `u`@`%`",
             "GRANT DROP ON `l_sx`.* TO `u`@`%`"]
    held = grants.parse(lines, "shop")
    # The user's exact grant on shop hides its pattern grants; the roles' most specific pattern is sh%.
    assert held.database == {"USAGE", "SELECT", "TRIGGER", "EVENT", "CREATE ROUTINE"}
    assert held.tables == {"orders": {"TRIGGER"}, "od`d": {"ALL PRIVILEGES"}}
    assert grants.parse(lines, "sh_p_more").database == {"USAGE", "EXECUTE", "EVENT", "CREATE ROUTINE"}
    assert "EXECUTE" not in grants.parse(lines, "shxp").database  # "\\_" is a literal underscore
    assert grants.parse(lines, "sales").database == {"USAGE", "SHOW VIEW"}
    # "_" matches one character and does not make a name less specific; "%" does, by its position.
    assert grants.parse(lines, "lo_sx").database == {"USAGE", "DELETE"}
    # Two names without "%": which one the server takes is not known, so only what both give counts.
    assert grants.parse(lines, "l_sx").database == {"USAGE"}
    assert grants.parse(["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"], "x").on_table(
        "t", "TRIGGER")


def test_an_exact_grant_hides_a_pattern_grant_as_on_the_server(mysql_database_factory: Callable[[], str]) -> None:
    """The server takes a grantee's most specific database grant only: TRIGGER granted on a pattern
    covering the database does not show its triggers to a user that holds an exact grant on it too, and
    the dump must not count on it."""
    source = mysql_database_factory()
    load_with_client(source, OBJECTS)
    pattern = source[:-4].replace("_", "\\_") + "%"
    statements = [f"GRANT SELECT, SHOW VIEW ON `{source}`.* TO {{user}}",
                  f"GRANT TRIGGER ON `{pattern}`.* TO {{user}}"]
    with user(statements) as (name, _), pytest.raises(DatabaseError, match="any triggers on tables audit, t"):
        dump_as(as_user(source, name), routines=False)


def _definitions(database: str) -> list[tuple[str, str, str]]:
    """(kind, name, definer) of every view, trigger, routine and event, as the admin sees them."""
    return sorted(
        [("VIEW", name, definer) for name, definer in query(
            database, "SELECT TABLE_NAME, DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA=%s", (database,))]
        + [("TRIGGER", name, definer) for name, definer in query(
            database, "SELECT TRIGGER_NAME, DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA=%s",
            (database,))]
        + [(kind, name, definer) for name, kind, definer in query(
            database, "SELECT ROUTINE_NAME, ROUTINE_TYPE, DEFINER FROM information_schema.ROUTINES "
                      "WHERE ROUTINE_SCHEMA=%s", (database,))]
        + [("EVENT", name, definer) for name, definer in query(
            database, "SELECT EVENT_NAME, DEFINER FROM information_schema.EVENTS WHERE EVENT_SCHEMA=%s", (database,))])


def test_a_user_with_rights_on_its_database_only_installs_with_the_grant_it_is_told(
        mysql_database_factory: Callable[[], str]) -> None:
    """The shape of Docker's MARIADB_USER and Lando's user: ALL on the target database, nothing else, no
    SUPER. The install needs the databases beside the target: without them it stops before changing
    anything, in one line naming the grant; with it, a dump whose objects name another definer
    (mariadb-dump's, DEFINER=root) loads, the user becoming their definer."""
    source, target = mysql_database_factory(), mysql_database_factory()
    load_with_client(source, OBJECTS)
    load_with_client(target, b"CREATE TABLE kept (a INT); INSERT INTO kept VALUES (7);")
    script = mariadb_dump(source, "--routines", "--triggers", "--events")
    (definer,) = {row[2].replace("@", "`@`") for row in _definitions(source)}
    definer = f"`{definer}`"
    assert f"DEFINER={definer}".encode() in script
    before = snapshot(target)
    with user([f"GRANT ALL ON `{target}`.* TO {{user}}"]) as (name, _):
        limited = as_user(target, name)
        for attempt in (lambda: install(limited, io.BytesIO(script), InstallOptions(yes=True)),
                        lambda: check_install_target(limited)):
            with pytest.raises(DatabaseError) as refused:
                attempt()
            message = str(refused.value)
            assert "\n" not in message and f"pw-{name}" not in message
            assert f"'{target}__synco_new', '{target}__synco_prev', '{target}__synco_swap'" in message, message
            escaped = target.replace("_", "\\_")
            assert f"GRANT ALL ON `{escaped}\\_\\_synco\\_%`.* TO the user" in message, message
            assert snapshot(target) == before
            assert query(target, "SHOW DATABASES LIKE %s", (f"{target}\\_\\_synco%",)) == []
        admin = mysql_admin_connection()
        try:
            with admin.cursor() as cur:
                cur.execute(f"GRANT ALL ON `{escaped}\\_\\_synco\\_%`.* TO '{name}'@'%'")
        finally:
            admin.close()
        notes: list[str] = []
        install(limited, io.BytesIO(script), InstallOptions(yes=True), warn=notes.append)
        assert [note for note in notes if "DEFINER" in note] == [
            f"the DEFINER of 5 views, triggers, routines or events was left out ({definer}): the loading user "
            "defines them here (their SQL SECURITY is kept)"]
        definitions = _definitions(target)
        assert [(kind, object_name) for kind, object_name, _ in definitions] == [
            ("EVENT", "probe_event"), ("FUNCTION", "probe_function"), ("PROCEDURE", "probe_procedure"),
            ("TRIGGER", "probe_trigger"), ("VIEW", "probe_view")]
        assert {definer.split("@")[0] for _, _, definer in definitions} == {name}
        assert query(target, "SELECT COUNT(*) FROM t") == [(1,)]


@pytest.mark.parametrize("incoming", [b"CREATE PROCEDURE shared_name() SELECT 'new';", b""],
                         ids=["same-name-incoming", "only-in-target"])
def test_a_target_routine_the_user_may_not_read_stops_the_install_before_any_change(
        incoming: bytes, mysql_database_factory: Callable[[], str]) -> None:
    """A routine another user defined in the target, whose text the installing user may not read, can be
    neither kept for rollback nor dropped: it stayed in the target beside the new content (or made the swap
    fail halfway on a new one of its name). The install and the rollback now refuse first, naming it."""
    source, target = mysql_database_factory(), mysql_database_factory()
    load_with_client(source, b"CREATE TABLE t (a INT); INSERT INTO t VALUES (1);" + incoming)
    load_with_client(target, b"CREATE TABLE old (a INT); CREATE PROCEDURE shared_name() SELECT 'old';")
    out = io.BytesIO()
    dump(config(source), out, DumpOptions())
    escaped = target.replace("_", "\\_")
    statements = [f"GRANT ALL ON `{target}`.* TO {{user}}", f"GRANT ALL ON `{escaped}\\_\\_synco\\_%`.* TO {{user}}"]
    before = snapshot(target), _definitions(target)
    with user(statements) as (name, _):
        for attempt in (lambda: install(as_user(target, name), io.BytesIO(out.getvalue()), InstallOptions(yes=True)),
                        lambda: rollback(as_user(target, name), InstallOptions(yes=True)),
                        lambda: check_install_target(as_user(target, name))):
            with pytest.raises(DatabaseError, match=rf"^database '{target}' holds procedure shared_name, whose text "
                                                    rf"user '{name}' may not read \(.*SELECT on mysql.proc\)"):
                attempt()
            assert (snapshot(target), _definitions(target)) == before
            assert query(target, "SHOW DATABASES LIKE %s", (f"{escaped}\\_\\_synco%",)) == []


@pytest.fixture(scope="module")
def binlog_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseConfig]:
    """A private MariaDB of this test module only, on a socket, writing a binary log and not trusting
    function creators (the shared server cannot be reconfigured): root's configuration, database ``db``."""
    with private_mariadb(tmp_path_factory.mktemp("binlog"), "--log-bin=binlog", "--server-id=1",
                         "--log-bin-trust-function-creators=0") as root:
        yield root


def _admin(root: DatabaseConfig, *statements: str) -> None:
    conn = pymysql.connect(ssl_disabled=True, unix_socket=root.socket, user="root", autocommit=True)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def test_with_a_binary_log_a_user_without_super_is_refused_before_a_swap_it_could_not_undo(
        binlog_server: DatabaseConfig, mysql_database_factory: Callable[[], str]) -> None:
    """MariaDB writing a binary log lets a user without SUPER neither drop nor create triggers and stored
    functions (``DROP TRIGGER IF EXISTS`` included). A target holding one failed the swap, and the undo
    failed the same way, leaving a swap no later install could finish. Now the install and the rollback
    refuse first, naming the objects and what would allow them; a dump creating one fails in its scratch
    database; a target without any is installed and rolled back."""
    source = mysql_database_factory()
    load_with_client(source, b"CREATE TABLE t (a INT); INSERT INTO t VALUES (1);")
    plain = io.BytesIO()
    dump(config(source), plain, DumpOptions())
    with_function = io.BytesIO()
    load_with_client(source, b"CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN 1;")
    dump(config(source), with_function, DumpOptions())
    _admin(binlog_server, "CREATE DATABASE db", "CREATE TABLE db.kept (a INT)", "INSERT INTO db.kept VALUES (7)",
           "CREATE TRIGGER db.stamp BEFORE INSERT ON db.kept FOR EACH ROW SET NEW.a = NEW.a",
           "CREATE USER 'db'@'localhost' IDENTIFIED BY 'db'", "GRANT ALL ON db.* TO 'db'@'localhost'",
           "GRANT ALL ON `db\\_\\_synco\\_%`.* TO 'db'@'localhost'")
    user_config = dataclasses.replace(binlog_server, user="db", password="db")

    def state() -> list[object]:
        conn = pymysql.connect(ssl_disabled=True, unix_socket=binlog_server.socket, user="root")
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'db%' "
                            "ORDER BY 1")
                databases = cur.fetchall()
                cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='db' ORDER BY 1")
                tables = cur.fetchall()
                cur.execute("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA='db'")
                return [databases, tables, cur.fetchall()]
        finally:
            conn.close()

    before = state()
    refusal = (r"^database 'db' holds trigger stamp, and the server writes a binary log: without the SUPER "
               r"privilege user 'db' may neither drop nor create triggers and stored functions there \(set "
               r"log_bin_trust_function_creators=1 in the server's configuration, or grant SUPER\)$")
    for attempt in (lambda: install(user_config, io.BytesIO(plain.getvalue()), InstallOptions(yes=True)),
                    lambda: check_install_target(user_config)):
        with pytest.raises(DatabaseError, match=refusal):
            attempt()
        assert state() == before
    _admin(binlog_server, "DROP TRIGGER db.stamp")
    before = state()
    with pytest.raises(DatabaseError, match=r"\(1419\) You do not have the SUPER privilege and binary logging"):
        install(user_config, io.BytesIO(with_function.getvalue()), InstallOptions(yes=True))
    assert state() == before
    install(user_config, io.BytesIO(plain.getvalue()), InstallOptions(yes=True))
    _admin(binlog_server, "CREATE TRIGGER db.stamp BEFORE INSERT ON db.t FOR EACH ROW SET NEW.a = NEW.a")
    before = state()
    with pytest.raises(DatabaseError, match=refusal):
        rollback(user_config, InstallOptions(yes=True))
    assert state() == before
    _admin(binlog_server, "DROP TRIGGER db.stamp")
    rollback(user_config, InstallOptions(yes=True))
    assert state()[1] == (("kept",),)


def test_tables_granted_one_by_one_do_not_make_a_dump_of_those_tables_only(
        mysql_database_factory: Callable[[], str], caplog: pytest.LogCaptureFixture) -> None:
    """A user granted SELECT on some tables only sees those tables (and no other table, sequence or view):
    its dump held them alone and said 'Dumped 1 tables'. It is refused, naming the privilege."""
    source = mysql_database_factory()
    load_with_client(source, OBJECTS + b"CREATE SEQUENCE probe_sequence;")
    statements = [f"GRANT SELECT, TRIGGER ON `{source}`.`t` TO {{user}}",
                  f"GRANT SELECT, TRIGGER ON `{source}`.`audit` TO {{user}}",
                  f"GRANT EVENT, LOCK TABLES ON `{source}`.* TO {{user}}"]
    with user(statements) as (name, _):
        with pytest.raises(DatabaseError, match=r"^the database has objects a dump cannot carry: any tables, sequences "
                                                r"and views besides those granted one by one \(hidden from this user: "
                                                rf"it needs SELECT on `{source}`\.\*\) \(--skip-unsupported"):
            dump_as(as_user(source, name), routines=False)
        with caplog.at_level("WARNING"):
            data = dump_as(as_user(source, name), routines=False, skip_unsupported=True)
        assert "any tables, sequences and views besides those granted one by one" in caplog.text
        assert b"probe_sequence" not in data and b"CREATE TABLE `t`" in data


def test_objects_another_user_defined_in_the_target_come_back_defined_by_the_installing_user_with_a_warning(
        mysql_database_factory: Callable[[], str], caplog: pytest.LogCaptureFixture) -> None:
    """A view and a trigger the admin defined in the target, swapped out by a user without SUPER: they can
    be created again only under that user (a SQL SECURITY DEFINER view then runs with its rights), in the
    kept copy and, on rollback, in the target. That used to happen silently; each is now named."""
    source, target = mysql_database_factory(), mysql_database_factory()
    load_with_client(source, b"CREATE TABLE t (a INT);")
    load_with_client(target, b"CREATE TABLE old (a INT); CREATE VIEW old_view AS SELECT a FROM old;"
                             b"CREATE TRIGGER old_trigger BEFORE INSERT ON old FOR EACH ROW SET NEW.a = NEW.a;")
    out = io.BytesIO()
    dump(config(source), out, DumpOptions())
    escaped = target.replace("_", "\\_")
    statements = [f"GRANT ALL ON `{target}`.* TO {{user}}", f"GRANT ALL ON `{escaped}\\_\\_synco\\_%`.* TO {{user}}"]
    with user(statements) as (name, _):
        (admin_definer,) = {definer for _, _, definer in _definitions(target)}
        for attempt in (lambda: install(as_user(target, name), io.BytesIO(out.getvalue()), InstallOptions(yes=True)),
                        lambda: rollback(as_user(target, name), InstallOptions(yes=True))):
            caplog.clear()
            with caplog.at_level("WARNING"):
                attempt()
            for kind, object_name in (("view", "old_view"), ("trigger", "old_trigger")):
                assert re.search(rf"{kind} {object_name} in {target}(__synco_prev)? is now defined by this user, "
                                 rf"not `?{re.escape(admin_definer.split('@')[0])}`?@", caplog.text), caplog.text
        assert {definer.split("@")[0] for _, _, definer in _definitions(target)} == {name}


def test_a_target_the_installing_user_cannot_see_whole_is_refused_before_any_change(
        mysql_database_factory: Callable[[], str]) -> None:
    """An application user with every right on its database but EVENT and TRIGGER does not see the event and
    the trigger the admin made there: the swap moved the tables and left the event in the target, acting on
    the new content, and missing from the kept copy. It is refused first, naming the privileges."""
    source, target = mysql_database_factory(), mysql_database_factory()
    load_with_client(source, b"CREATE TABLE t (a INT);")
    load_with_client(target, b"CREATE TABLE old (a INT);"
                             b"CREATE EVENT old_event ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM old;")
    out = io.BytesIO()
    dump(config(source), out, DumpOptions())
    escaped = target.replace("_", "\\_")
    rights = ("SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER, CREATE TEMPORARY TABLES, LOCK TABLES, "
              "EXECUTE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE")
    statements = [f"GRANT {rights} ON `{target}`.* TO {{user}}",
                  f"GRANT ALL ON `{escaped}\\_\\_synco\\_%`.* TO {{user}}"]
    before = snapshot(target), _definitions(target)
    with user(statements) as (name, _):
        for attempt in (lambda: install(as_user(target, name), io.BytesIO(out.getvalue()), InstallOptions(yes=True)),
                        lambda: check_install_target(as_user(target, name))):
            with pytest.raises(DatabaseError, match=rf"^user '{name}' may not see all of database '{target}', which "
                                                    r"the swap moves whole: any triggers on tables old \(.*TRIGGER "
                                                    r"privilege.*\); any events \(.*EVENT privilege"):
                attempt()
            assert (snapshot(target), _definitions(target)) == before
            assert query(target, "SHOW DATABASES LIKE %s", (f"{escaped}\\_\\_synco%",)) == []


#: Column names a SHOW GRANTS row quotes inside its privilege list: each holds what a privilege list is
#: split at or ends at (a comma, brackets, " ON ", " TO "), so only reading the quoting tells them apart.
TRICKY_COLUMNS = ["x), TRIGGER, INSERT (y", "a ON `b`.* TO `c`@`%`, TRIGGER, SELECT (d", "e)", "(f", "g``h, TRIGGER"]


@pytest.mark.parametrize("column", TRICKY_COLUMNS)
def test_a_column_name_in_a_grant_is_never_read_as_a_privilege(column: str) -> None:
    quoted = column.replace("`", "``")
    listed = f"SELECT (`{quoted}`), UPDATE (`{quoted}`, `k`)"
    held = grants.parse([f"GRANT {listed} ON `shop`.`t` TO `u`@`%`",
                         f"GRANT EVENT, SELECT (`{quoted}`) ON `shop`.* TO `u`@`%`"], "shop")
    assert held.tables == {"t": set()}
    assert held.database == {"EVENT"}
    # What follows the column list is still read.
    assert grants.parse([f"GRANT {listed}, TRIGGER ON `shop`.`t` TO `u`@`%`"], "shop").tables == {"t": {"TRIGGER"}}


def test_a_column_grant_whose_name_reads_like_a_privilege_does_not_show_the_triggers(
        mysql_database_factory: Callable[[], str]) -> None:
    """SELECT on one column of a table named ``x), TRIGGER, INSERT (y`` gives no TRIGGER on that table: the
    server hides its triggers, and the dump must refuse, not come out without them."""
    source = mysql_database_factory()
    load_with_client(source, OBJECTS + b"ALTER TABLE t ADD COLUMN `x), TRIGGER, INSERT (y` INT;\n")
    statements = [f"GRANT SELECT, SHOW VIEW ON `{source}`.* TO {{user}}",
                  f"GRANT SELECT (`x), TRIGGER, INSERT (y`) ON `{source}`.`t` TO {{user}}",
                  f"GRANT TRIGGER ON `{source}`.`audit` TO {{user}}"]
    with user(statements) as (name, _), pytest.raises(DatabaseError, match=r"any triggers on tables t \(hidden"):
        dump_as(as_user(source, name), routines=False)


def test_grants_to_public_are_looked_up_apart_from_the_roles() -> None:
    """PUBLIC is a grantee of its own (MariaDB 10.11): its most specific database grant does not hide the
    current role's, nor the role's PUBLIC's, any more than the user's hides either."""
    role_lines = ["GRANT `r` TO `u`@`%`", "GRANT TRIGGER ON `sh%`.* TO `r`", "SET DEFAULT ROLE `r` FOR `u`@`%`"]
    public_lines = ["GRANT SHOW VIEW ON `shop`.* TO PUBLIC", "GRANT EVENT ON `s%`.* TO PUBLIC"]
    user_lines = ["GRANT SELECT ON `shop`.* TO `u`@`%`"]
    for lines in (role_lines + public_lines + user_lines, public_lines + role_lines + user_lines):
        assert grants.parse(lines, "shop").database == {"SELECT", "TRIGGER", "SHOW VIEW"}
    assert grants.parse(role_lines + public_lines, "sales").database == {"EVENT"}


def test_a_grant_to_public_does_not_hide_the_roles_pattern_grant(mysql_database_factory: Callable[[], str]) -> None:
    source = mysql_database_factory()
    load_with_client(source, OBJECTS)
    pattern = source[:-4].replace("_", "\\_") + "%"
    statements = [f"GRANT SELECT ON `{source}`.* TO {{user}}",
                  f"GRANT SHOW VIEW ON `{source}`.* TO PUBLIC",
                  f"GRANT TRIGGER, EXECUTE ON `{pattern}`.* TO {{role}}",
                  "GRANT SELECT ON mysql.proc TO {role}",
                  "GRANT {role} TO {user}",
                  "SET DEFAULT ROLE {role} FOR {user}"]
    try:
        with user(statements) as (name, _):
            data = dump_as(as_user(source, name))
    finally:
        admin = mysql_admin_connection()
        with admin.cursor() as cur, contextlib.suppress(pymysql.err.MySQLError):  # not granted if setup failed
            cur.execute(f"REVOKE SHOW VIEW ON `{source}`.* FROM PUBLIC")
        admin.close()
    for object_name in NAMES[:3] + NAMES[4:]:
        assert object_name in data, object_name


@pytest.mark.parametrize("sql_mode", ["ANSI_QUOTES", "ANSI", "ORACLE"])
def test_grants_are_read_whatever_the_sessions_sql_mode(sql_mode: str,
                                                        mysql_database_factory: Callable[[], str]) -> None:
    """A server whose sql_mode quotes names with double quotes (ANSI_QUOTES, ANSI, ORACLE ...) writes its
    SHOW GRANTS so too: the grants were all missed then, and an install to such a server refused. They are
    read, and the session's sql_mode is as it was afterwards."""
    source = mysql_database_factory()
    load_with_client(source, OBJECTS)
    pattern = source[:-4].replace("_", "\\_") + "%"
    statements = [f"GRANT SELECT, TRIGGER, EXECUTE, EVENT ON `{pattern}`.* TO {{user}}"]
    with user(statements) as (name, _):
        conn = pymysql.connect(ssl_disabled=True, host=config(source).host, port=config(source).port, user=name,
                               password=f"pw-{name}", database=source, autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute("SET SESSION sql_mode = %s", (sql_mode,))
                cur.execute("SELECT @@SESSION.sql_mode")
                before = cur.fetchone()
            assert grants.current(conn, source).database == {"USAGE", "SELECT", "TRIGGER", "EXECUTE", "EVENT"}
            with conn.cursor() as cur:
                cur.execute("SELECT @@SESSION.sql_mode")
                assert cur.fetchone() == before
        finally:
            conn.close()


#: Privileges on the database that show every table and view of it without SELECT (MariaDB 10.11).
LISTING_TABLES = ["SHOW VIEW", "TRIGGER", "INSERT", "DELETE HISTORY", "REFERENCES"]


@pytest.mark.parametrize("listing", LISTING_TABLES)
def test_tables_granted_one_by_one_beside_a_privilege_that_lists_them_all_are_dumped(
        listing: str, mysql_database_factory: Callable[[], str]) -> None:
    """Any table privilege on the database (not SELECT alone) makes the server list all its tables: with
    SELECT granted on each, the dump is complete, not refused as if some were hidden; with SELECT missing on
    one, the refusal names that table."""
    source = mysql_database_factory()
    load_with_client(source, OBJECTS)
    # The database-level privilege alone; what the dump needs besides, table by table.
    statements = [f"GRANT {listing} ON `{source}`.* TO {{user}}",
                  f"GRANT SELECT, TRIGGER ON `{source}`.`t` TO {{user}}",
                  f"GRANT TRIGGER ON `{source}`.`audit` TO {{user}}",
                  f"GRANT SELECT, SHOW VIEW ON `{source}`.`probe_view` TO {{user}}"]
    with user(statements) as (name, _):
        with pytest.raises(DatabaseError, match=r"SELECT command denied .* for table `[^`]+`\.`audit`$"):
            dump_as(as_user(source, name), routines=False)
        admin = mysql_admin_connection()
        with admin.cursor() as cur:
            cur.execute(f"GRANT SELECT ON `{source}`.`audit` TO '{name}'@'%'")
        admin.close()
        data = dump_as(as_user(source, name), routines=False)
    for object_name in (b"probe_trigger", b"probe_view", b"`audit`"):
        assert object_name in data, object_name
