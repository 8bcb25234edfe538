"""The installer: atomic swap, rollback, the local-target guard, and bad inputs that must leave the
target exactly as it was (real MariaDB on 127.0.0.1)."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable
from typing import Any

import pymysql
import pytest
from test_mysql_support import (
    DATA,
    config,
    dump_bytes,
    install_bytes,
    kill_connections,
    load_fidelity,
    load_with_client,
    query,
    snapshot,
)

from synco_core.engines.mysql.dump import dump
from synco_core.engines.mysql.install import BACKUP_SUFFIX, SCRATCH_SUFFIX, derived_name, install, rollback
from synco_core.errors import ConfigError, DatabaseError, SyncoError
from synco_core.testing.services import mysql_admin_connection
from synco_core.values import DatabaseConfig, DumpOptions, InstallOptions, TableManifest

pytestmark = pytest.mark.mysql

SMALL = b"""
CREATE TABLE `kept` (`id` INT PRIMARY KEY, `v` VARCHAR(10));
INSERT INTO `kept` VALUES (1, 'old'), (2, 'older');
CREATE TABLE `only_old` (`x` INT);
CREATE VIEW `kept_view` AS SELECT `v` FROM `kept`;
CREATE TRIGGER `kept_trigger` BEFORE INSERT ON `kept` FOR EACH ROW SET NEW.v = UPPER(NEW.v);
"""


def databases(prefix: str) -> set[str]:
    return {row[0] for row in query(prefix, "SHOW DATABASES") if row[0].startswith(prefix)}


@pytest.fixture
def old_and_new(mysql_database_factory: Callable[[], str]) -> tuple[str, bytes]:
    """A target with old content (table, view, trigger) and a dump of the fidelity fixture."""
    target = mysql_database_factory()
    load_with_client(target, SMALL)
    source = mysql_database_factory()
    load_fidelity(source)
    data, _ = dump_bytes(source)
    return target, data


def test_install_swaps_and_rollback_restores(old_and_new: tuple[str, bytes]) -> None:
    target, data = old_and_new
    before = snapshot(target)
    result = install_bytes(target, data)
    assert result.backup == target + BACKUP_SUFFIX
    after = snapshot(target)
    assert "only_old" not in after and "numbers" in after and "kept_view" not in after
    assert snapshot(result.backup) == before  # the previous content, views and triggers included
    assert databases(target) == {target, target + BACKUP_SUFFIX}  # the scratch database is gone

    rollback(config(target), InstallOptions(yes=True))
    assert snapshot(target) == before
    # The old trigger works again on the restored table.
    query(target, "INSERT INTO kept VALUES (3, 'new')")
    assert query(target, "SELECT v FROM kept WHERE id = 3") == [("NEW",)]
    # What the rollback replaced is kept in turn: a second rollback undoes the first.
    rollback(config(target), InstallOptions(yes=True))
    assert snapshot(target) == after


def test_rollback_without_backup_is_a_clear_error(mysql_url: str) -> None:
    from synco_core.dburl import parse_database_url

    with pytest.raises(SyncoError, match="nothing to roll back"):
        rollback(parse_database_url(mysql_url), InstallOptions(yes=True))


def test_a_second_install_replaces_the_backup(old_and_new: tuple[str, bytes]) -> None:
    target, data = old_and_new
    install_bytes(target, data)
    first = snapshot(target)
    install_bytes(target, b"CREATE TABLE t (a INT);")
    assert snapshot(target + BACKUP_SUFFIX) == first


def test_install_into_missing_database_creates_it(mysql_database_factory: Callable[[], str]) -> None:
    base = mysql_database_factory()
    target = base + "_fresh"  # dropped with base's prefix by the fixture
    install_bytes(target, b"CREATE TABLE t (a INT); INSERT INTO t VALUES (1);")
    assert query(target, "SELECT a FROM t") == [(1,)]


def test_failed_install_into_a_missing_database_drops_it_again(mysql_database_factory: Callable[[], str]) -> None:
    base = mysql_database_factory()
    target = base + "_fresh"  # dropped with base's prefix by the fixture
    with pytest.raises(DatabaseError, match="no_such_table"):
        install_bytes(target, b"CREATE TABLE t (a INT);\nINSERT INTO no_such_table VALUES (1);\n")
    # Nothing named after the target is left: not the target the install created, nor its scratch copy.
    assert [name for name in databases(base) if name.startswith(target)] == []


def assert_untouched(target: str, before: dict[str, Any]) -> None:
    assert snapshot(target) == before
    assert target + SCRATCH_SUFFIX not in databases(target)


@pytest.mark.parametrize("cut", ["mid-statement", "mid-string", "before-marker"])
def test_truncated_dump_leaves_target_untouched(old_and_new: tuple[str, bytes], cut: str) -> None:
    target, data = old_and_new
    before = snapshot(target)
    if cut == "mid-statement":
        broken = data[:data.index(b"INSERT INTO `numbers`") + 40]
    elif cut == "mid-string":
        start = data.index(b"INSERT INTO `strings`")
        broken = data[:data.index(b"'semi;colon", start) + 6]
    else:
        broken = data[:data.index(b"-- synco-dump-complete")]
    with pytest.raises(DatabaseError, match="truncated") as excinfo:
        install_bytes(target, broken)
    assert "\n" not in str(excinfo.value)
    assert_untouched(target, before)


@pytest.mark.parametrize("script", [b"", b"\n\n", b"-- a comment\n/* another */\n# and a third\n"],
                         ids=["empty", "blank", "comments"])
def test_a_dump_without_statements_leaves_target_untouched(old_and_new: tuple[str, bytes], script: bytes) -> None:
    """An empty file is a dump that failed to be written (a full disk, a transfer cut at its start), not a
    database with nothing in it: loading it would swap the target for an empty database."""
    target, _ = old_and_new
    before = snapshot(target)
    with pytest.raises(DatabaseError, match="no SQL statement: it is empty") as excinfo:
        install_bytes(target, script)
    assert "\n" not in str(excinfo.value)
    assert_untouched(target, before)


def test_failing_statement_mid_load_leaves_target_untouched(old_and_new: tuple[str, bytes]) -> None:
    target, data = old_and_new
    before = snapshot(target)
    at = data.index(b"--\n-- Table structure for `strings`")
    broken = data[:at] + b"INSERT INTO `no_such_table` VALUES ('not a number at all');\n" + data[at:]
    with pytest.raises(DatabaseError, match=r"statement \d+ of the dump failed: \(1146\)") as excinfo:
        install_bytes(target, broken)
    assert "not a number" not in str(excinfo.value)  # values are never echoed
    assert_untouched(target, before)


def test_manifest_mismatch_leaves_target_untouched(old_and_new: tuple[str, bytes]) -> None:
    target, data = old_and_new
    before = snapshot(target)
    with pytest.raises(DatabaseError, match="'numbers' has 5 rows after loading, the source dumped 6"):
        install_bytes(target, data, manifest={"numbers": TableManifest(rows=6)})
    with pytest.raises(DatabaseError, match="checksum of table 'numbers'"):
        install_bytes(target, data, manifest={"numbers": TableManifest(rows=5, checksum="crc32sum:1")})
    with pytest.raises(DatabaseError, match="'missing' is missing"):
        install_bytes(target, data, manifest={"missing": TableManifest(rows=0)})
    assert_untouched(target, before)


def test_the_dumps_own_manifest_is_verified(old_and_new: tuple[str, bytes]) -> None:
    """``synco db load FILE`` has no session meta: the manifest lines at the end of the dump are checked."""
    target, data = old_and_new
    before = snapshot(target)
    assert b"-- synco-manifest: " in data
    # One value changed, same length (the statement's size hint still fits): only the checksum can tell.
    start = data.index(b"INSERT INTO `strings`")
    at = data.index(b"semi;colon", start)
    changed = data[:at] + b"SEMI;colon" + data[at + len(b"semi;colon"):]
    with pytest.raises(DatabaseError, match="checksum of table 'strings'") as excinfo:
        install_bytes(target, changed)
    assert "\n" not in str(excinfo.value)
    # The manifest line itself says one row more than the dump holds.
    line = re.search(rb'-- synco-manifest: \{"table": "numbers", "rows": (\d+)', data)
    assert line is not None
    more = data[:line.start(1)] + str(int(line.group(1)) + 1).encode() + data[line.end(1):]
    with pytest.raises(DatabaseError, match=r"'numbers' has \d+ rows after loading, the source dumped \d+"):
        install_bytes(target, more)
    assert_untouched(target, before)
    # Unchanged, the same dump installs (the manifest agrees with it).
    install_bytes(target, data)


def test_views_calling_stored_functions_install(old_and_new: tuple[str, bytes]) -> None:
    target, _ = old_and_new
    before = snapshot(target)
    script = b"""
CREATE TABLE t (a INT);
INSERT INTO t VALUES (1);
CREATE FUNCTION only_here() RETURNS INT DETERMINISTIC RETURN 7;
CREATE VIEW v AS SELECT a, only_here() AS b FROM t;
"""
    installed = install_bytes(target, script)
    assert installed.tables == 1
    assert query(target, "SELECT a, b FROM v") == [(1, 7)]
    rollback(config(target), InstallOptions(yes=True))
    assert snapshot(target) == before


def test_failure_after_the_rename_puts_everything_back(old_and_new: tuple[str, bytes],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """If the new views cannot be created in the target, the swap is reversed."""
    from synco_core.engines.mysql import swap

    target, data = old_and_new
    before = snapshot(target)
    real = swap.create_definitions

    def failing(conn: Any, db: str, objects: Any, *args: Any, **kwargs: Any) -> None:
        if db == target and any(view.name == "parent_names" for view in objects.views):
            raise DatabaseError("cannot create view 'parent_names' (simulated)")
        real(conn, db, objects, *args, **kwargs)

    monkeypatch.setattr(swap, "create_definitions", failing)
    with pytest.raises(DatabaseError, match="simulated"):
        install_bytes(target, data)
    assert_untouched(target, before)


def test_remote_target_needs_the_flag() -> None:
    remote = DatabaseConfig(engine="mysql", name="app", host="db.example.com", user="u", password="secret-pw")
    with pytest.raises(ConfigError, match=r"db\.example\.com.*--force-remote-target") as excinfo:
        install(remote, io.BytesIO(b""), InstallOptions(yes=True))
    assert "secret-pw" not in str(excinfo.value)
    # Named as local (a docker-compose service), the guard lets it through to the confirmation.
    with pytest.raises(SyncoError, match="not confirmed"):
        install(remote, io.BytesIO(b""), InstallOptions(local_hosts=("db.example.com",)))


@pytest.mark.parametrize("answer", [None, False])
def test_unconfirmed_install_changes_nothing(old_and_new: tuple[str, bytes], answer: bool | None) -> None:
    target, data = old_and_new
    before = snapshot(target)
    asked: list[str] = []

    def confirm(question: str) -> bool:
        asked.append(question)
        return bool(answer)

    options = InstallOptions(confirm=None if answer is None else confirm)
    with pytest.raises(SyncoError, match=r"not confirmed.*pass --yes to replace MySQL database ") as excinfo:
        install(config(target), io.BytesIO(data), options)
    assert target in str(excinfo.value) and "127.0.0.1" in str(excinfo.value)
    if answer is False:
        assert len(asked) == 1 and asked[0].startswith(f"Replace MySQL database {target!r} on 127.0.0.1:")
    assert_untouched(target, before)


def test_confirmed_install_proceeds(old_and_new: tuple[str, bytes]) -> None:
    target, data = old_and_new
    install(config(target), io.BytesIO(data), InstallOptions(confirm=lambda question: True))
    assert "numbers" in snapshot(target)


def test_wrong_credentials_are_one_clear_line(mysql_url: str) -> None:
    from synco_core.dburl import parse_database_url

    bad = parse_database_url(mysql_url).replace(user="synco_nobody", password="wrong-password-123")
    with pytest.raises(DatabaseError, match="access denied") as excinfo:
        dump(bad, io.BytesIO(), DumpOptions())
    assert "wrong-password-123" not in str(excinfo.value) and "\n" not in str(excinfo.value)
    with pytest.raises(DatabaseError, match="access denied"):
        install(bad, io.BytesIO(b""), InstallOptions(yes=True))


def test_unknown_database_is_a_clear_error(mysql_url: str) -> None:
    from synco_core.dburl import parse_database_url

    missing = parse_database_url(mysql_url).replace(name="synco_no_such_database_here")
    with pytest.raises(DatabaseError, match="unknown database 'synco_no_such_database_here'"):
        dump(missing, io.BytesIO(), DumpOptions())


def test_server_gone_mid_dump_is_a_clear_error(mysql_database_factory: Callable[[], str]) -> None:
    source = mysql_database_factory()
    load_with_client(source, b"CREATE TABLE big (id INT PRIMARY KEY, pad VARCHAR(200));\n"
                             b"INSERT INTO big SELECT seq, REPEAT('x', 200) FROM seq_1_to_200000;")

    class KillingWriter(io.RawIOBase):
        """Kills the dump's server connection once the first rows have arrived."""

        def __init__(self) -> None:
            self.size = 0
            self.killed = False

        def writable(self) -> bool:
            return True

        def write(self, data: Any) -> int:
            self.size += len(data)
            if not self.killed and self.size > 2_000_000:
                self.killed = True
                kill_connections(source)
            return len(data)

    with pytest.raises(DatabaseError, match=f"dump of '{source}'") as excinfo:
        dump(config(source), KillingWriter(), DumpOptions())  # type: ignore[arg-type]
    assert "\n" not in str(excinfo.value)


def test_long_database_names_get_short_derived_names() -> None:
    name = "d" * 60
    assert len(derived_name(name, BACKUP_SUFFIX)) <= 64
    assert derived_name(name, BACKUP_SUFFIX) != derived_name("d" * 59 + "e", BACKUP_SUFFIX)
    assert derived_name("shop", SCRATCH_SUFFIX) == "shop__synco_new"


def test_mysql8_dump_loads_with_mapped_collations(mysql_url: str, caplog: pytest.LogCaptureFixture) -> None:
    from synco_core.dburl import parse_database_url

    target = parse_database_url(mysql_url)
    with (DATA / "mysql" / "mysql8_dump.sql").open("rb") as fh:
        result = install(target, fh, InstallOptions(yes=True))
    assert result.tables == 1 and result.rows == 3
    assert "utf8mb4_0900_ai_ci is unknown" in caplog.text
    create = query(target.name, "SHOW CREATE TABLE customer")[0][1]
    # NO PAD, as MySQL 8's (tests/test_mysql_mapped_collations.py).
    assert "utf8mb4_unicode_520_nopad_ci" in create and "COLLATE utf8mb4_nopad_bin" in create
    # Data that mentions a collation is left alone; the trigger and view work without their DEFINER.
    assert query(target.name, "SELECT note FROM customer WHERE id = 2") == [("mentions utf8mb4_0900_ai_ci in data",)]
    query(target.name, "INSERT INTO customer (email) VALUES ('LOUD@EXAMPLE.COM')")
    assert query(target.name, "SELECT email FROM customer_emails WHERE id = 4") == [("loud@example.com",)]
    definers = query(target.name, "SELECT DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA=%s",
                     (target.name,))
    assert definers and "admin" not in definers[0][0]


def test_concurrent_reader_never_sees_a_half_installed_target(old_and_new: tuple[str, bytes]) -> None:
    """While the install runs, every read of a table sees the old or the new rows, never no table."""
    target, data = old_and_new
    load_with_client(target, b"CREATE TABLE numbers (id INT PRIMARY KEY); INSERT INTO numbers VALUES (1);")
    seen: set[object] = set()
    stop = threading.Event()

    def watch() -> None:
        conn = mysql_admin_connection(target)
        with conn.cursor() as cur:
            while not stop.is_set():
                try:
                    cur.execute("SELECT COUNT(*) FROM numbers")
                    seen.add(cur.fetchone()[0])
                except pymysql.err.MySQLError as exc:
                    seen.add(exc.args[0])
        conn.close()

    thread = threading.Thread(target=watch)
    thread.start()
    try:
        install_bytes(target, data)
        rollback(config(target), InstallOptions(yes=True))
    finally:
        stop.set()
        thread.join()
    assert seen == {1, 5}


def test_parallel_load_keeps_statement_order_where_it_matters(mysql_url: str) -> None:
    """INSERTs run on worker connections; what reads rows, or changes how later rows are inserted
    (a trigger), must still see exactly the statements before it."""
    from synco_core.dburl import parse_database_url

    script = b"""
CREATE TABLE a (x INT PRIMARY KEY);
INSERT INTO a VALUES (1), (2);
CREATE TABLE b (x INT);
INSERT INTO b SELECT x FROM a;
INSERT INTO a VALUES (3);
CREATE TABLE log (x INT);
CREATE TRIGGER a_log AFTER INSERT ON a FOR EACH ROW INSERT INTO log VALUES (NEW.x);
INSERT INTO a VALUES (4);
"""
    target = parse_database_url(mysql_url)
    install(target, io.BytesIO(script), InstallOptions(yes=True))
    assert query(target.name, "SELECT x FROM b ORDER BY x") == [(1,), (2,)]
    assert query(target.name, "SELECT x FROM a ORDER BY x") == [(1,), (2,), (3,), (4,)]
    assert query(target.name, "SELECT x FROM log") == [(4,)]


@pytest.mark.parametrize("workers", [1, 3])
def test_any_number_of_load_workers_gives_the_same_result(workers: int, monkeypatch: pytest.MonkeyPatch,
                                                          mysql_database_factory: Callable[[], str]) -> None:
    from synco_core.engines.mysql import install as install_module

    source = mysql_database_factory()
    load_fidelity(source)
    data, result = dump_bytes(source, DumpOptions(events=True))
    monkeypatch.setattr(install_module, "LOAD_WORKERS", workers)
    # Every table with an integer key is verified in key ranges, by several connections.
    monkeypatch.setattr(install_module, "VERIFY_SPLIT_BYTES", 0)
    target = mysql_database_factory()
    install_bytes(target, data, manifest=result.tables)
    assert snapshot(target) == snapshot(source)
    # The split verification still notices a difference.
    tampered = dict(result.tables)
    tampered["numbers"] = type(tampered["numbers"])(rows=5, checksum="crc32sum:12345")
    with pytest.raises(DatabaseError, match="checksum of table 'numbers'"):
        install_bytes(target, data, manifest=tampered)


def test_one_table_loads_on_every_worker_and_insert_ignore_keeps_dump_order(mysql_url: str) -> None:
    """Plain INSERTs of one table are spread over the workers; INSERT IGNORE keeps the first duplicate,
    so from the first one on that table's statements run in order, after the rows already handed out."""
    from synco_core.dburl import parse_database_url

    plain = b"".join(b"INSERT INTO t VALUES (%d, 'plain %d');\n" % (n, n) for n in range(1, 201))
    script = (b"CREATE TABLE t (id INT PRIMARY KEY, label VARCHAR(20));\n" + plain
              + b"INSERT IGNORE INTO t VALUES (5, 'ignored'), (201, 'first');\n"
              + b"INSERT IGNORE INTO t VALUES (201, 'second');\n"
              + b"INSERT INTO t VALUES (202, 'after');\n")
    target = parse_database_url(mysql_url)
    install(target, io.BytesIO(script), InstallOptions(yes=True))
    assert query(target.name, "SELECT COUNT(*) FROM t") == [(202,)]
    assert query(target.name, "SELECT id, label FROM t WHERE id IN (5, 201, 202) ORDER BY id") == [
        (5, "plain 5"), (201, "first"), (202, "after")]


def test_inserts_after_a_trigger_run_in_order(mysql_url: str) -> None:
    """Triggers created before the data (hand-written scripts) write other tables on every INSERT;
    after one is created the loader stops spreading INSERTs over connections."""
    from synco_core.dburl import parse_database_url

    script = b"""
CREATE TABLE log (x INT);
CREATE TABLE a (x INT PRIMARY KEY);
CREATE TABLE b (x INT PRIMARY KEY);
CREATE TRIGGER ta AFTER INSERT ON a FOR EACH ROW INSERT INTO log VALUES (NEW.x);
CREATE TRIGGER tb AFTER INSERT ON b FOR EACH ROW INSERT INTO log VALUES (NEW.x);
INSERT INTO a VALUES (1), (2);
INSERT INTO b VALUES (3);
INSERT INTO log VALUES (5);
INSERT INTO a VALUES (4);
"""
    target = parse_database_url(mysql_url)
    install(target, io.BytesIO(script), InstallOptions(yes=True))
    assert query(target.name, "SELECT x FROM log ORDER BY x") == [(1,), (2,), (3,), (4,), (5,)]
