"""Private database servers, configured as a developer's laptop may be (the shared ones may not be changed).

Each starts from a fresh data directory on a free port of 127.0.0.1 (and a socket in the same folder), as
root's account, and stops when its context ends. What they need (``mariadbd``, ``mariadb-install-db``,
PostgreSQL's ``initdb`` and ``pg_ctl``) missing, or a server that does not start here, skips the test through
:func:`unavailable`.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from synco_core.testing.services import free_port, listens, require_tool, unavailable
from synco_core.values import DatabaseConfig

#: Options mariadb-install-db must be given too: the data directory is made for them.
_INSTALL_TIME = ("--lower-case-table-names", "--innodb-page-size", "--character-set-server", "--collation-server")


def own_tmpdir(home: Path) -> str:
    """``--tmpdir`` in ``home``: a MariaDB starting (mariadb-install-db's bootstrap too) deletes every ``#sql*``
    file of its tmpdir as its own leftovers, and with the default /tmp those are the shared server's temporary
    tables in use: other tests' queries then failed with 'Error on delete of /tmp/#sql-temptable-...'."""
    folder = home / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return f"--tmpdir={folder}"


@contextlib.contextmanager
def mariadb(home: Path, options: Sequence[str] = ()) -> Iterator[DatabaseConfig]:
    """A private MariaDB started with ``options`` (``--lower-case-table-names=1`` ...): root's configuration
    over TCP, no database named."""
    daemon = require_tool("mariadbd", "mariadb-server", "mysqld")
    setup = require_tool("mariadb-install-db", "mariadb-server", "mysql_install_db")
    data, log = home / "data", home / "server.log"
    account = "root" if os.geteuid() == 0 else getpass.getuser()
    at_install = [option for option in options if option.startswith(_INSTALL_TIME)]
    installed = subprocess.run([setup, "--no-defaults", f"--user={account}", f"--datadir={data}",
                                own_tmpdir(home), "--auth-root-authentication-method=normal", *at_install],
                               capture_output=True, check=False)
    if installed.returncode != 0:
        unavailable(f"mariadb-install-db failed: {installed.stderr.decode(errors='replace')[-300:]}")
    for _ in range(3):
        # A port found free may be taken by another test's server before this one binds it: then another.
        port = free_port()
        with log.open("wb") as output:
            server = subprocess.Popen([daemon, "--no-defaults", f"--user={account}", f"--datadir={data}",
                                       own_tmpdir(home), f"--socket={home / 'server.sock'}", f"--port={port}",
                                       "--bind-address=127.0.0.1", "--innodb-buffer-pool-size=32M",
                                       f"--pid-file={home / 'server.pid'}", *options],
                                      stdout=output, stderr=subprocess.STDOUT)
        if _answers(server, port):
            break
        if "already in use" not in log.read_text(errors="replace"):
            unavailable(f"the private MariaDB did not start: {log.read_text(errors='replace')[-300:]}")
    else:
        unavailable(f"the private MariaDB found no free port: {log.read_text(errors='replace')[-300:]}")
    try:
        yield DatabaseConfig(engine="mysql", name="", user="root", host="127.0.0.1", port=port)
    finally:
        server.terminate()
        server.wait(timeout=60)


@contextlib.contextmanager
def mariadb_replication(home: Path, replica_options: Sequence[str] = ()) -> Iterator[tuple[DatabaseConfig,
                                                                                         DatabaseConfig]]:
    """A private MariaDB primary writing a binary log and its replica (``read_only``, run with
    ``replica_options``), replicating from the primary's first change on: root's configurations over TCP. The
    anonymous accounts of both are removed, so that an account made on the primary logs in to the replica."""
    with mariadb(home / "primary", ["--server-id=1", "--log-bin=primary-bin", "--binlog-format=ROW"]) as primary, \
            mariadb(home / "replica", ["--server-id=2", "--read-only=1", *replica_options]) as replica:
        for server in (primary, replica):
            mariadb_admin(server, "DELETE FROM mysql.global_priv WHERE User = ''", "FLUSH PRIVILEGES")
        mariadb_admin(primary, "CREATE USER synco_replication@'%'",
                      "GRANT REPLICATION SLAVE ON *.* TO synco_replication@'%'")
        log, position = mariadb_admin(primary, "SHOW MASTER STATUS")[0][:2]
        mariadb_admin(replica, f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, "
                               f"MASTER_USER='synco_replication', MASTER_LOG_FILE='{log}', "
                               f"MASTER_LOG_POS={position}, MASTER_USE_GTID=no", "START SLAVE")
        try:
            yield primary, replica
        finally:
            mariadb_admin(replica, "STOP SLAVE")


def mariadb_caught_up(primary: DatabaseConfig, replica: DatabaseConfig) -> None:
    """Wait until the replica has applied everything the primary has logged so far."""
    gtid = mariadb_admin(primary, "SELECT @@GLOBAL.gtid_binlog_pos")[0][0]
    applied = mariadb_admin(replica, f"SELECT MASTER_GTID_WAIT('{gtid}', 120)")[0][0]
    if applied != 0:
        raise AssertionError(f"the replica did not apply the primary's changes up to {gtid}")


def _answers(server: subprocess.Popen[bytes], port: int) -> bool:
    """Wait for the server to take connections; False when it stopped (or never answered, then stopped)."""
    import pymysql

    for _ in range(600):
        try:
            # Its own listener, not another private server's that took the port first.
            if listens(server.pid, port):
                pymysql.connect(ssl_disabled=True, host="127.0.0.1", port=port, user="root").close()
                return True
            if server.poll() is not None:
                return False
            threading.Event().wait(0.1)
        except pymysql.err.OperationalError:
            if server.poll() is not None:
                return False
            threading.Event().wait(0.1)
    server.terminate()
    server.wait(timeout=60)
    return False


def mariadb_admin(server: DatabaseConfig, *statements: str) -> list[tuple[Any, ...]]:
    """Run ``statements`` as root on a private server; the rows of the last one."""
    import pymysql

    conn = pymysql.connect(host=server.host, port=server.port, user="root", autocommit=True, charset="utf8mb4",
                           ssl_disabled=True)
    try:
        rows: list[tuple[Any, ...]] = []
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
                rows = list(cur.fetchall())
        return rows
    finally:
        conn.close()


@contextlib.contextmanager
def mariadb_globals(server: DatabaseConfig, **settings: str) -> Iterator[None]:
    """The private server's global ``settings`` changed (for new sessions) while the context lasts."""
    names = list(settings)
    before = mariadb_admin(server, "SELECT " + ", ".join(f"@@GLOBAL.{name}" for name in names))[0]
    mariadb_admin(server, *(f"SET GLOBAL {name} = {value}" for name, value in settings.items()))
    try:
        yield
    finally:
        mariadb_admin(server, *(f"SET GLOBAL {name} = {_literal(value)}"
                                for name, value in zip(names, before, strict=True)))


def _literal(value: Any) -> str:
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


@contextlib.contextmanager
def _pg_ctl_running(prefix: list[str], binaries: Path, data: Path, log: Path, settings: list[str], what: str,
                    env: dict[str, str] | None = None) -> Iterator[DatabaseConfig]:
    """The cluster in ``data`` started with ``pg_ctl`` on a free port of 127.0.0.1 with ``settings``, its socket
    beside ``log``; stopped after the block."""
    import psycopg

    for _ in range(3):
        # A port found free may be taken by another test's server before this one binds it: then another.
        port = free_port()
        options = " ".join([f"-p {port}", f"-k {log.parent}", "-c listen_addresses=127.0.0.1",
                            *(f"-c {setting}" for setting in settings)])
        started = subprocess.run([*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o",
                                  options, "-w", "start"], capture_output=True, check=False, env=env)
        if started.returncode == 0:
            break
        if "already in use" not in log.read_text(errors="replace"):
            unavailable(f"{what} did not start: {log.read_text(errors='replace')[-300:]}")
    else:
        unavailable(f"{what} found no free port: {log.read_text(errors='replace')[-300:]}")
    try:
        psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres").close()
        yield DatabaseConfig(engine="postgresql", name="", user="postgres", host="127.0.0.1", port=port)
    finally:
        subprocess.run([*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, check=False)


@contextlib.contextmanager
def postgresql(initdb: Sequence[str] = (), settings: Sequence[str] = (),
               environment: dict[str, str] | None = None) -> Iterator[DatabaseConfig]:
    """A private PostgreSQL cluster made with ``initdb`` options (``--encoding=SQL_ASCII`` ...) and run with
    ``settings`` (``statement_timeout=100ms`` ..., as postgresql.conf would set them): the superuser
    ``postgres``'s configuration over TCP, no database named. As root it runs as the ``postgres`` account
    (the server refuses root), in a folder of its own under the temporary directory that account can reach."""
    import shutil
    import tempfile


    binaries = Path("/usr/lib/postgresql/15/bin")
    if not (binaries / "initdb").exists():
        require_tool("initdb", "postgresql-15")
        binaries = Path(require_tool("initdb", "postgresql-15")).parent
    home = Path(tempfile.mkdtemp(prefix="synco-private-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        import pwd

        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            unavailable("a private PostgreSQL runs as the postgres account, which does not exist here")
        os.chown(home, account.pw_uid, account.pw_gid)
        prefix = [require_tool("runuser", "util-linux"), "-u", "postgres", "--",
                  *(["env", *(f"{key}={value}" for key, value in environment.items())] if environment else [])]
    data, log = home / "data", home / "server.log"
    # As root the environment goes through runuser's env; otherwise it is the server's own.
    env = None if prefix else {**os.environ, **(environment or {})}
    try:
        made = subprocess.run([*prefix, str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                               *initdb], capture_output=True, check=False, env=env)
        if made.returncode != 0:
            unavailable(f"initdb failed: {made.stderr.decode(errors='replace')[-300:]}")
        with _pg_ctl_running(prefix, binaries, data, log, list(settings), "the private PostgreSQL",
                             env=env) as server:
            yield server
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def postgresql_standby(primary: DatabaseConfig, settings: Sequence[str] = ()) -> Iterator[DatabaseConfig]:
    """A hot standby of ``primary`` (a :func:`postgresql` cluster, whose default ``wal_level`` streams to
    one), made with ``pg_basebackup`` and run with ``settings``, in recovery until it stops."""
    import shutil
    import tempfile

    binaries = Path(require_tool("pg_basebackup", "postgresql-client")).parent
    if (Path("/usr/lib/postgresql/15/bin") / "pg_ctl").exists():
        binaries = Path("/usr/lib/postgresql/15/bin")
    home = Path(tempfile.mkdtemp(prefix="synco-private-pg-standby-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        import pwd

        account = pwd.getpwnam("postgres")
        os.chown(home, account.pw_uid, account.pw_gid)
        prefix = [require_tool("runuser", "util-linux"), "-u", "postgres", "--"]
    data, log = home / "data", home / "server.log"
    try:
        # A fast checkpoint: the default spread one can keep the copy waiting for minutes.
        copied = subprocess.run([*prefix, str(binaries / "pg_basebackup"), "-h", str(primary.host), "-p",
                                 str(primary.port), "-U", "postgres", "-D", str(data), "-R", "-X", "stream",
                                 "-c", "fast"], capture_output=True, check=False)
        if copied.returncode != 0:
            unavailable(f"pg_basebackup failed: {copied.stderr.decode(errors='replace')[-300:]}")
        with _pg_ctl_running(prefix, binaries, data, log, ["hot_standby=on", *settings],
                             "the private standby") as server:
            yield server
    finally:
        shutil.rmtree(home, ignore_errors=True)


def postgresql_admin(server: DatabaseConfig, *statements: str, dbname: str = "postgres") -> list[tuple[Any, ...]]:
    """Run ``statements`` as the superuser of a private cluster, each in its own transaction, with every
    setting of the session as the cluster gives it; the rows of the last one."""
    import psycopg

    with psycopg.connect(host=server.host, port=server.port, user="postgres", dbname=dbname,
                         autocommit=True) as conn:
        rows: list[tuple[Any, ...]] = []
        for statement in statements:
            cursor = conn.execute("SET default_transaction_read_only = off")
            cursor = conn.execute(statement)
            rows = list(cursor.fetchall()) if cursor.description else []
        return rows
