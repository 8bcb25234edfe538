"""MariaDB installs by users granted a list of privileges rather than ALL: every privilege the load and the
swap use is checked before the dump is read (and by receive's preflight, before the download), in one line
naming it with the GRANT that gives it (real MariaDB on 127.0.0.1, real users with exactly those grants)."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable

import pytest
from test_mysql_privileges import OBJECTS, as_user, user
from test_mysql_support import load_with_client, mariadb_dump, query, snapshot

from synco_core.engines.mysql.install import install
from synco_core.engines.mysql.preflight import check as check_install_target
from synco_core.errors import DatabaseError
from synco_core.testing.services import mysql_admin_connection
from synco_core.values import InstallOptions

pytestmark = pytest.mark.mysql

#: Everything an application user could be given on its databases, ALL spelled out.
EVERY = ["SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "INDEX", "REFERENCES", "CREATE VIEW",
         "SHOW VIEW", "LOCK TABLES", "TRIGGER", "CREATE ROUTINE", "ALTER ROUTINE", "EVENT", "EXECUTE",
         "CREATE TEMPORARY TABLES"]
#: Those an install of a target holding every kind of object cannot do without and that nothing else checks
#: first (without CREATE or DROP the scratch database cannot be made, which the preflight tries and names;
#: without TRIGGER or EVENT the server hides such objects, and the swap refuses a target it cannot see whole).
NEEDED = ["SELECT", "INSERT", "DELETE", "ALTER", "CREATE VIEW", "SHOW VIEW", "CREATE ROUTINE", "ALTER ROUTINE"]


class Unread(io.BytesIO):
    """A dump that records whether the install read any of it."""

    read_from = False

    def read(self, size: int | None = -1) -> bytes:
        self.read_from = True
        return super().read(size)

    def readinto(self, buffer: object) -> int:  # type: ignore[override]
        self.read_from = True
        return super().readinto(buffer)  # type: ignore[arg-type]


@pytest.mark.parametrize("missing", NEEDED)
def test_a_privilege_the_install_would_miss_is_named_before_the_dump_is_read_with_a_grant_that_is_enough(
        missing: str, mysql_database_factory: Callable[[], str]) -> None:
    """Without INSERT, DELETE, ALTER, CREATE VIEW or a routine privilege the check passed and the install
    failed after the whole download (the first row, the swap's journal, the RENAME TABLE); without SELECT or
    SHOW VIEW the preflight stopped on a raw server error. Now both refuse in one line naming the privilege
    and the GRANT; the target is untouched, the dump unread, and the GRANT the line names is enough."""
    source, target = mysql_database_factory(), mysql_database_factory()
    load_with_client(source, OBJECTS)
    load_with_client(target, OBJECTS)
    script = mariadb_dump(source, "--routines", "--triggers", "--events")
    given = [privilege for privilege in EVERY if privilege != missing]
    before = snapshot(target)
    with user([f"GRANT {', '.join(given)} ON *.* TO {{user}}", "GRANT SELECT ON mysql.proc TO {user}"]) as (name, _):
        limited = as_user(target, name)
        for preflight in (True, False):
            dump = Unread(script)
            with pytest.raises(DatabaseError) as refused:
                if preflight:
                    check_install_target(limited)
                else:
                    install(limited, dump, InstallOptions(yes=True))
            message = str(refused.value)
            assert "\n" not in message and f"pw-{name}" not in message
            assert re.search(f"lacks {missing} on `{target}`", message), message
            assert not dump.read_from
            assert snapshot(target) == before
        grant_statements = re.findall(r"GRANT [A-Z ,]+ ON `[^`]+`\.\* TO '[^']+'@'[^']+'", message)
        assert grant_statements, message
        admin = mysql_admin_connection()
        try:
            with admin.cursor() as cur:
                for statement in grant_statements:
                    cur.execute(statement)
        finally:
            admin.close()
        assert check_install_target(limited) is True
        install(limited, io.BytesIO(script), InstallOptions(yes=True))
        assert query(target, "SELECT COUNT(*) FROM t") == [(1,)]


@pytest.mark.parametrize(("missing", "kinds"), [
    ("CREATE ROUTINE", "routines"), ("ALTER ROUTINE", "routines"), ("CREATE VIEW", "views")])
def test_a_privilege_only_a_dump_with_such_objects_needs_is_named_in_a_warning_before_the_download(
        missing: str, kinds: str, mysql_database_factory: Callable[[], str],
        caplog: pytest.LogCaptureFixture) -> None:
    """A target without routines (or views) is replaced without those privileges when the
    dump has none either: not refused, but told in one warning line, before the download, that a dump with
    them would fail, with the GRANT."""
    source, target = mysql_database_factory(), mysql_database_factory()
    load_with_client(source, b"CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1), (2);")
    load_with_client(target, b"CREATE TABLE old (a INT);")
    given = [privilege for privilege in EVERY if privilege != missing]
    with user([f"GRANT {', '.join(given)} ON *.* TO {{user}}"]) as (name, _):
        limited = as_user(target, name)
        with caplog.at_level(logging.WARNING):
            assert check_install_target(limited) is True
        lines = [record.getMessage() for record in caplog.records if "will fail to load" in record.getMessage()]
        assert len(lines) == 1, caplog.text
        assert re.search(f"lacks {missing} on `{target}`.*: a dump holding {kinds} will fail to load, after the "
                         f"download \\(GRANT {missing} ON `{target}`", lines[0]), lines[0]
        install(limited, io.BytesIO(mariadb_dump(source)), InstallOptions(yes=True), warn=lambda _: None)
        assert query(target, "SELECT COUNT(*) FROM t") == [(2,)]
