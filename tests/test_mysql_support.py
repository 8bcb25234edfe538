"""Helpers shared by the MySQL engine tests (no tests here): loading fixtures, snapshots to compare."""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import io
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
from private_servers import own_tmpdir

from synco_core.dburl import parse_database_url
from synco_core.engines.mysql.dump import dump
from synco_core.engines.mysql.install import install
from synco_core.engines.mysql.swap import OWN_TABLES
from synco_core.testing.services import (
    MYSQL_HOST,
    MYSQL_PASSWORD,
    MYSQL_PORT,
    MYSQL_USER,
    mysql_admin_connection,
    mysql_url_for,
    require_tool,
    unavailable,
)
from synco_core.values import DatabaseConfig, DumpOptions, DumpResult, InstallOptions, InstallResult

DATA = Path(__file__).parent / "data"
FIDELITY = DATA / "mysql" / "fidelity.sql"
CHINOOK = DATA / "chinook" / "Chinook_MySql.sql"


def config(name: str) -> DatabaseConfig:
    return parse_database_url(mysql_url_for(name))


def client_argv(tool: str = "mariadb") -> list[str]:
    binary = require_tool(tool, "mariadb-client", "mysql" if tool == "mariadb" else "mysqldump")
    argv = [binary, f"--host={MYSQL_HOST}", f"--port={MYSQL_PORT}", f"--user={MYSQL_USER}"]
    if MYSQL_PASSWORD:
        argv.append(f"--password={MYSQL_PASSWORD}")
    return argv


def load_with_client(database: str, script: Path | bytes) -> None:
    """Load an SQL script with the mariadb command-line client (the reference loader)."""
    data = script.read_bytes() if isinstance(script, Path) else script
    result = subprocess.run([*client_argv(), "--default-character-set=utf8mb4", database], input=data,
                            capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")


#: How the fidelity fixture names its own database in qualified names (replaced by the real name).
FIXTURE_DATABASE = b"fidelity_src"


def load_fidelity(database: str) -> None:
    """Load the fidelity fixture into ``database``, its self-qualified names pointing at it."""
    load_with_client(database, FIDELITY.read_bytes().replace(FIXTURE_DATABASE, database.encode()))
    settle_counters(database)


def settle_counters(database: str) -> None:
    """Write every InnoDB table's AUTO_INCREMENT counter down as it stands, so that the source compares the same
    for the whole test.

    A multi-row INSERT that numbers rows (``numbers``' ``NULL`` ids) reserves one value per row of it under
    ``innodb_autoinc_lock_mode`` 1, ahead of the rows, and InnoDB keeps that reservation in memory only: once the
    server evicts the table from its dictionary cache (many tests open many tables) or restarts, the counter is
    the largest id plus one again (AUTO_INCREMENT 6 became 5). A copy made before keeps the 6 it was dumped with
    (its ``CREATE TABLE ... AUTO_INCREMENT=6`` is written down), and the comparison failed now and then under
    load. ``ALTER TABLE ... AUTO_INCREMENT`` writes the counter down, as a copy's ``CREATE TABLE`` does."""
    conn = mysql_admin_connection(database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s "
                        "AND ENGINE='InnoDB' AND AUTO_INCREMENT IS NOT NULL", (database,))
            for name, counter in cur.fetchall():
                cur.execute(f"ALTER TABLE `{name.replace('`', '``')}` AUTO_INCREMENT = {int(counter)}")
    finally:
        conn.close()


def load_chinook(database: str) -> None:
    """Chinook's script creates and selects its own database; point it at ``database`` instead."""
    text = CHINOOK.read_text(encoding="utf-8-sig")
    lines = [line for line in text.splitlines()
             if not line.upper().startswith(("CREATE DATABASE", "USE ", "DROP DATABASE"))]
    load_with_client(database, "\n".join(lines).encode())


def replace_under_its_name(database: str, script: bytes) -> None:
    """Drop ``database`` and load ``script`` with the mariadb client into a new database of the same name.

    The client cannot load a dump of a database whose objects name it (a trigger ``db.trg``) into any
    other database, as the issue shows; under its own name it can, and then it is the reference."""
    conn = mysql_admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE `{database}`")
            cur.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        conn.close()
    load_with_client(database, script)


def mariadb_dump(database: str, *extra: str) -> bytes:
    result = subprocess.run([*client_argv("mariadb-dump"), "--single-transaction", "--quick", *extra, database],
                            capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def dump_bytes(database: str, options: DumpOptions | None = None) -> tuple[bytes, DumpResult]:
    out = io.BytesIO()
    result = dump(config(database), out, options or DumpOptions())
    return out.getvalue(), result


def install_bytes(database: str, data: bytes, **options: Any) -> InstallResult:
    options.setdefault("yes", True)
    return install(config(database), io.BytesIO(data), InstallOptions(**options))


def query(database: str, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
    conn = mysql_admin_connection(database)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())
    finally:
        conn.close()


#: Tables of a database that hold a VIRTUAL column (see :func:`table_content`).
VIRTUAL_TABLES = ("SELECT DISTINCT TABLE_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s "
                   "AND EXTRA LIKE '%%VIRTUAL GENERATED%%'")


def table_content(cur: Any, quoted: str, virtual: bool) -> object:
    """What a table's rows are compared by: CHECKSUM TABLE, but the rows themselves (all columns, sorted) for a
    table with a VIRTUAL column. The server checksums the bytes in the VIRTUAL column's slot of each stored
    record, which hold whatever the last write left there: an Aria or MyISAM table's rows written by INSERT
    and the same rows after ``ALTER TABLE ... FORCE`` (or loaded by mariadb-dump's script) checksum apart,
    rows equal (docs/engines.md). ``cur`` returns binary results."""
    if not virtual:
        cur.execute(f"CHECKSUM TABLE {quoted} EXTENDED")
        return cur.fetchone()[1]
    cur.execute(f"SELECT * FROM {quoted}")
    return ("rows", sorted(map(repr, cur.fetchall())))


def snapshot(database: str, *, history: bool = True) -> dict[str, Any]:
    """Everything the fidelity tests compare, with the database's own name written ``DB`` (a copy names
    itself): per table and sequence CHECKSUM TABLE (its rows with a VIRTUAL column: :func:`table_content`),
    row count and SHOW CREATE TABLE; per view its
    definition and character set; the triggers, routines and events as SHOW CREATE gives them (text,
    sql_mode, character sets, database collation, an event's time zone), without their creation time.

    Without ``history``, a system-versioned table counts by its current rows without their periods:
    loaded without its history (mariadb-dump's way), a row's period starts when it was loaded."""
    conn = mysql_admin_connection(database)
    result: dict[str, Any] = {}
    own = database.encode()

    def normal(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(database, "DB")
        if isinstance(value, bytes):
            return value.replace(own, b"DB")
        return value

    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION character_set_results = binary")
            cur.execute(VIRTUAL_TABLES, (database,))
            virtual = {raw.decode() for (raw,) in cur.fetchall()}
            cur.execute("SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s "
                        "ORDER BY TABLE_NAME", (database,))
            for raw_name, raw_kind in cur.fetchall():
                name, kind = raw_name.decode(), raw_kind.decode()
                if name in OWN_TABLES:
                    continue  # The journal of a kept copy, not content.
                quoted = "`" + name.replace("`", "``") + "`"
                if kind == "VIEW":
                    cur.execute(f"SHOW CREATE VIEW {quoted}")
                    result[name] = ("view", *map(normal, cur.fetchone()[1:]))
                    continue
                if kind == "SYSTEM VERSIONED" and not history:
                    cur.execute(f"SELECT * FROM {quoted}")
                    checksum = sorted(cur.fetchall())
                else:
                    checksum = table_content(cur, quoted, name in virtual)
                cur.execute(f"SELECT COUNT(*) FROM {quoted}")
                rows = cur.fetchone()[0]
                cur.execute(f"SHOW CREATE TABLE {quoted}")
                result[name] = (checksum, rows, normal(cur.fetchone()[1]))
            for section, sql in (
                    ("(triggers)", "SELECT TRIGGER_NAME, 'TRIGGER' FROM information_schema.TRIGGERS "
                                   "WHERE TRIGGER_SCHEMA=%s ORDER BY 1"),
                    ("(routines)", "SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES "
                                   "WHERE ROUTINE_SCHEMA=%s ORDER BY 2, 1"),
                    ("(events)", "SELECT EVENT_NAME, 'EVENT' FROM information_schema.EVENTS "
                                 "WHERE EVENT_SCHEMA=%s ORDER BY 1")):
                cur.execute(sql, (database,))
                entries = []
                for raw_name, raw_kind in cur.fetchall():
                    name, kind = raw_name.decode(), raw_kind.decode()
                    cur.execute(f"SHOW CREATE {kind} `{name}`")
                    row = cur.fetchone()
                    # A trigger's last column is the time it was created.
                    entries.append(tuple(map(normal, row[:-1] if kind == "TRIGGER" else row)))
                result[section] = tuple(entries)
    finally:
        conn.close()
    return result


#: 127.0.0.1 written as one number: it reaches this machine's servers, but the install guard does not know it
#: as local (it is neither a loopback spelling nor 127.x), so it stands in for a remote host that works.
REMOTE_LOOKING_HOST = "2130706433"


def synco_process(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``synco`` entry point (plugins from entry points, as a user gets them) in ``cwd``."""
    argv = [sys.executable, "-c", "from synco_core.cli.main import main; main()", *args]
    return subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd, stdin=subprocess.DEVNULL)


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The one ``Error:`` line a failed command printed (asserts there is exactly one, and no traceback)."""
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert proc.returncode == 1 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return errors[0]


def kill_connections(database: str) -> None:
    """Kill every server connection using ``database`` (but this one): the server going away mid-work."""
    admin = mysql_admin_connection()
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE DB=%s AND ID <> CONNECTION_ID()",
                        (database,))
            for (pid,) in cur.fetchall():
                cur.execute(f"KILL {int(pid)}")
    finally:
        admin.close()


def rename_waiting(database: str) -> bool:
    """True while a ``RENAME TABLE`` of ``database``'s tables waits for a table another connection holds."""
    admin = mysql_admin_connection()
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE %s "
                        "AND STATE LIKE 'Waiting for table metadata lock%%'", (f"RENAME TABLE `{database}`.%",))
            return bool(cur.fetchone()[0])
    finally:
        admin.close()


_MEASURED = """
import sys
sys.path.insert(0, {tests!r})
from test_mysql_support import config
from synco_core.engines.mysql.dump import dump
from synco_core.engines.mysql.install import install
from synco_core.values import DumpOptions, InstallOptions
if sys.argv[1] == "dump":
    with open(sys.argv[3], "wb") as out:
        dump(config(sys.argv[2]), out, DumpOptions())
else:
    with open(sys.argv[3], "rb") as dumped:
        install(config(sys.argv[2]), dumped, InstallOptions(yes=True))
# The peak RSS of this process's own memory (getrusage's would count the forking pytest's, kept over exec).
with open("/proc/self/status") as status:
    print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) // 1024)
"""


def measured_peak_mb(step: str, database: str, dumped: Path) -> int:
    """Dump ``database`` into ``dumped`` (``step`` "dump") or install ``dumped`` into it ("load") in a
    process of its own; the peak of that process's memory, in MB."""
    script = _MEASURED.format(tests=str(Path(__file__).parent))
    proc = subprocess.run([sys.executable, "-c", script, step, database, str(dumped)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return int(proc.stdout.split()[-1])


#: Held by every test that changes or counts on the shared server's max_allowed_packet, in every worker:
#: two blocks raising it at once restored each other's raised value (the server kept 256 MB, and a test
#: counting on its usual 16 MB failed).
_PACKET_LOCK = Path(tempfile.gettempdir()) / "synco-tests-max-allowed-packet.lock"


@contextlib.contextmanager
def packet_limit(mb: int | None = None) -> Iterator[None]:
    """For the block, the server's max_allowed_packet at ``mb`` (connections opened meanwhile keep it; it is
    set back afterwards), or as it is (None: for a test that counts on the server's usual limit)."""
    with open(_PACKET_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if mb is None:
            yield
            return
        admin = mysql_admin_connection()
        try:
            with admin.cursor() as cur:
                cur.execute("SELECT @@GLOBAL.max_allowed_packet")
                (packet,) = cur.fetchone()
                cur.execute(f"SET GLOBAL max_allowed_packet = {mb} * 1024 * 1024")
            try:
                yield
            finally:
                with admin.cursor() as cur:
                    cur.execute(f"SET GLOBAL max_allowed_packet = {int(packet)}")
        finally:
            admin.close()


@contextlib.contextmanager
def private_mariadb(home: Path, *options: str) -> Iterator[DatabaseConfig]:
    """A private MariaDB in ``home``, on a socket, started with ``options`` (the shared server cannot be
    reconfigured nor given plugins): root's configuration, database ``db``. A relative ``--log-bin`` path is
    in its data folder."""
    daemon = require_tool("mariadbd", "mariadb-server", "mysqld")
    setup = require_tool("mariadb-install-db", "mariadb-server", "mysql_install_db")
    data, socket, log = home / "data", str(home / "server.sock"), home / "server.log"
    account = "root" if os.geteuid() == 0 else getpass.getuser()
    installed = subprocess.run([setup, "--no-defaults", f"--user={account}", f"--datadir={data}", own_tmpdir(home),
                                "--auth-root-authentication-method=normal"], capture_output=True, check=False)
    if installed.returncode != 0:
        unavailable(f"mariadb-install-db failed: {installed.stderr.decode(errors='replace')[-300:]}")
    options = tuple(f"--log-bin={data / o.split('=', 1)[1]}" if o.startswith("--log-bin=") else o for o in options)
    with log.open("wb") as output:
        server = subprocess.Popen([daemon, "--no-defaults", f"--user={account}", f"--datadir={data}", own_tmpdir(home),
                                   f"--socket={socket}", "--skip-networking", *options,
                                   "--innodb-buffer-pool-size=32M", f"--pid-file={home / 'server.pid'}"],
                                  stdout=output, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                pymysql.connect(ssl_disabled=True, unix_socket=socket, user="root").close()
                break
            except pymysql.err.OperationalError:
                if server.poll() is not None:
                    break
                threading.Event().wait(0.1)
        else:
            server.poll()
        if server.returncode is not None or not Path(socket).exists():
            unavailable(f"the private MariaDB did not start: {log.read_text(errors='replace')[-300:]}")
        yield DatabaseConfig(engine="mysql", name="db", user="root", socket=socket)
    finally:
        server.terminate()
        server.wait(timeout=60)
