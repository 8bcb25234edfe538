"""Benchmark: what sanitising costs a dump as the rows grow, on PostgreSQL, MariaDB and SQLite.

    python3 benchmarks/bench_sanitize.py [--size small|medium|full] [--rows N,N...]
                                         [--engines postgresql,mysql,sqlite] [--repeat 2] [--keep]

A users table (an integer key, a unique e-mail address and a unique login, a name, a phone number, a JSON
profile, a date) is made at each size and dumped as ``db dump`` dumps it (SQL for SQLite, so that its rows go
through the same rules as the servers'), once without rules and once with a framework's kind of profile:
``email`` on the address, ``hash`` on the login, ``fixed:`` on the name, ``null`` on the phone, an expression on
the JSON profile. The two run in turns. It prints, per engine and size, the dump process's CPU seconds (user +
system, ``wait4``; SQLite's work runs in it), the server's CPU seconds for the dump's connections (the
PostgreSQL backends, the MariaDB threads, found through ``pg_stat_activity`` / ``information_schema.PROCESSLIST``
and read from ``/proc/<id>/schedstat`` every 10 ms, as ``bench_mysql_cpu.py`` does: up to 10 ms of each
connection's first work is missed), both per million rows, the process's peak resident memory and the wall
clock (which on a shared machine says little): memory must stay flat and CPU grow with the rows.

The server databases are named ``SYNCO_BENCH_PREFIX`` (default ``synco_bench_sanitize``) followed by the
size, made again unless they hold the rows, and dropped at the end unless ``--keep``. The servers are the
test suite's: PostgreSQL on 127.0.0.1:5432 as ``postgres``, MariaDB on 127.0.0.1:3306 as ``root``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import common

PREFIX = os.environ.get("SYNCO_BENCH_PREFIX", "synco_bench_sanitize")
HOST = "127.0.0.1"

#: Per ``--size``, the table's sizes: each case is measured at both, so that what grows with the rows shows.
SIZES = {"small": "100000,400000", "medium": "250000,1000000", "full": "1000000,4000000"}

#: The profile: (column, transform or None, SQL per engine when the transform is None).
RULES = [
    ("email", "email", {}),
    ("login", "hash", {}),
    ("name", "fixed:Demo User", {}),
    ("phone", "null", {}),
    ("profile", None, {"postgresql": "(profile - 'street' - 'birthday')",
                       "mysql": "JSON_REMOVE(profile, '$.street', '$.birthday')",
                       "sqlite": "json_remove(profile, '$.street', '$.birthday')"}),
]


def database_name(rows: int) -> str:
    return f"{PREFIX}_{rows}"


def make_postgres(rows: int) -> None:
    import psycopg

    name = database_name(rows)
    with psycopg.connect(host=HOST, user="postgres", dbname="postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            with psycopg.connect(host=HOST, user="postgres", dbname=name) as conn:
                found = conn.execute("SELECT count(*) FROM users").fetchone()
                if found and found[0] == rows:
                    return
            admin.execute(f'DROP DATABASE "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(host=HOST, user="postgres", dbname=name) as conn:
        conn.execute("CREATE TABLE users (id integer PRIMARY KEY, email varchar(120) NOT NULL UNIQUE, "
                     "login varchar(64) UNIQUE, name varchar(60) NOT NULL, phone varchar(20), profile jsonb, "
                     "created date NOT NULL)")
        conn.execute("INSERT INTO users SELECT i, 'person' || i || '@real.example', 'login' || i, 'Name ' || i, "
                     "'+49 30 ' || i, jsonb_build_object('street', 'Street ' || i, 'birthday', '1970-01-01', "
                     "'theme', 'dark'), date '2020-01-01' + (i %% 1000) FROM generate_series(1, %s) AS i",
                     [rows])
    with psycopg.connect(host=HOST, user="postgres", dbname=name, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE users")


def make_mysql(rows: int) -> None:
    import pymysql

    name = database_name(rows)
    conn = pymysql.connect(host=HOST, user="root", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [name])
            if cur.fetchone():
                cur.execute(f"SELECT count(*) FROM `{name}`.users")
                found = cur.fetchone()
                if found and found[0] == rows:
                    return
                cur.execute(f"DROP DATABASE `{name}`")
            cur.execute(f"CREATE DATABASE `{name}`")
            cur.execute(f"CREATE TABLE `{name}`.users (id INT PRIMARY KEY, email VARCHAR(120) NOT NULL UNIQUE, "
                        "login VARCHAR(64) UNIQUE, name VARCHAR(60) NOT NULL, phone VARCHAR(20), profile JSON, "
                        "created DATE NOT NULL)")
            # MariaDB's Sequence engine gives the numbers (its tables are found in the current database).
            cur.execute(f"USE `{name}`")
            cur.execute(f"INSERT INTO `{name}`.users SELECT seq, CONCAT('person', seq, '@real.example'), "
                        "CONCAT('login', seq), CONCAT('Name ', seq), CONCAT('+49 30 ', seq), "
                        "JSON_OBJECT('street', CONCAT('Street ', seq), 'birthday', '1970-01-01', 'theme', 'dark'), "
                        f"'2020-01-01' + INTERVAL (seq % 1000) DAY FROM seq_1_to_{int(rows)}")
    finally:
        conn.close()


def make_sqlite(rows: int, folder: Path) -> Path:
    import sqlite3

    path = folder / f"{database_name(rows)}.sqlite"
    if path.exists():
        return path
    conn = sqlite3.connect(path)
    try:
        conn.executescript(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(120) NOT NULL UNIQUE, login VARCHAR(64) "
            "UNIQUE, name VARCHAR(60) NOT NULL, phone VARCHAR(20), profile TEXT, created DATE NOT NULL);"
            f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {int(rows)}) "
            "INSERT INTO users SELECT i, 'person' || i || '@real.example', 'login' || i, 'Name ' || i, "
            "'+49 30 ' || i, json_object('street', 'Street ' || i, 'birthday', '1970-01-01', 'theme', 'dark'), "
            "date('2020-01-01', '+' || (i % 1000) || ' days') FROM n;")
        conn.commit()
    finally:
        conn.close()
    return path


def drop(engine: str, rows: int) -> None:
    if engine == "postgresql":
        import psycopg

        with psycopg.connect(host=HOST, user="postgres", dbname="postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database_name(rows)}"')
    elif engine == "mysql":
        import pymysql

        conn = pymysql.connect(host=HOST, user="root", autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{database_name(rows)}`")
        finally:
            conn.close()


def _server_tasks(engine: str, database: str) -> tuple[object, str] | None:
    """A connection and the query listing the server's processes or threads serving ``database``."""
    if engine == "postgresql":
        import psycopg

        return (psycopg.connect(host=HOST, user="postgres", dbname="postgres", autocommit=True),
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()")
    if engine == "mysql":
        import pymysql

        return (pymysql.connect(host=HOST, user="root", autocommit=True),
                "SELECT TID FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> CONNECTION_ID()")
    return None


def _watch(engine: str, database: str, stop: threading.Event, seen: dict[int, list[float]]) -> None:
    """Record, for each server process or thread serving ``database``, its first and last reading."""
    found = _server_tasks(engine, database)
    if found is None:
        return
    conn, query = found

    def tasks() -> list[int]:
        cur = conn.cursor()  # type: ignore[attr-defined]
        try:
            cur.execute(query, (database,))
            return [int(task) for (task,) in cur.fetchall()]
        finally:
            cur.close()

    try:
        common.record_tasks(tasks, stop, seen)
    finally:
        conn.close()  # type: ignore[attr-defined]


def run(command: list[str], engine: str, database: str, usage: common.ServerUsage) -> None:
    """One dump: its client CPU, server CPU, wall seconds and peak memory added to ``usage``."""
    seen: dict[int, list[float]] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(engine, database, stop, seen), daemon=True)
    watcher.start()
    time.sleep(0.05)
    start = time.perf_counter()
    proc = subprocess.Popen(command)
    peak = 0
    while True:
        peak = max(peak, common._tree_rss_kb(proc.pid))
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.02)
    wall = time.perf_counter() - start
    stop.set()
    watcher.join()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"dump failed: {command}")
    server = common.recorded_cpu_seconds(seen)
    usage.client.append(rusage.ru_utime + rusage.ru_stime)
    usage.server.append(server)
    usage.wall.append(wall)
    usage.peak_mb = max(usage.peak_mb, max(peak, rusage.ru_maxrss) / 1024)
    print(f"  {usage.label}: client {usage.client[-1]:.2f} s, server {server:.2f} s CPU, wall {wall:.2f} s, "
          f"peak {usage.peak_mb:.0f} MB", file=sys.stderr)


def worker(engine: str, name: str, rules: bool, out: str) -> None:
    """One dump, as ``db dump`` makes it, into ``out``."""
    from synco_core import DatabaseConfig, DumpOptions, SanitizeRule
    from synco_core.engines.dispatch import dump_with_engine

    if engine == "sqlite":
        database = DatabaseConfig("sqlite", name)
    else:
        database = DatabaseConfig(engine, name, host=HOST, port=5432 if engine == "postgresql" else 3306,
                                  user="postgres" if engine == "postgresql" else "root")
    sanitize = tuple(SanitizeRule("users", column, transform=transform,
                                  expression="" if transform else sql[engine])
                     for column, transform, sql in RULES) if rules else ()
    with open(out, "wb") as fh:
        dump_with_engine(database, fh, DumpOptions(sanitize=sanitize, format="sql"))


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        worker(argv[1], argv[2], argv[3] == "1", argv[4])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small",
                        help="the table's sizes: " + "; ".join(f"{k}: {v}" for k, v in SIZES.items()))
    parser.add_argument("--rows", help="the table's sizes, comma-separated (instead of --size)")
    parser.add_argument("--engines", default="postgresql,mysql,sqlite")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the databases made")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in (args.rows or SIZES[args.size]).split(",")]
    engines = args.engines.split(",")
    with tempfile.TemporaryDirectory(prefix="synco-bench-sanitize-") as scratch:
        folder = Path(scratch)
        out = folder / "dump.sql"
        table: list[tuple[str, int, common.ServerUsage]] = []
        try:
            for engine in engines:
                for rows in sizes:
                    print(f"{engine}, {rows:,} rows: making the table", file=sys.stderr)
                    if engine == "postgresql":
                        make_postgres(rows)
                        name = database_name(rows)
                    elif engine == "mysql":
                        make_mysql(rows)
                        name = database_name(rows)
                    else:
                        name = str(make_sqlite(rows, folder))
                    cases = [(common.ServerUsage(label),
                              [sys.executable, __file__, "--worker", engine, name, flag, str(out)])
                             for label, flag in (("no rules", "0"), ("sanitised", "1"))]
                    for _ in range(args.repeat):
                        for usage, command in cases:
                            run(command, engine, name, usage)
                    table.extend((engine, rows, usage) for usage, _ in cases)
        finally:
            if not args.keep:
                for engine in engines:
                    for rows in sizes:
                        drop(engine, rows)
    print(f"\nsanitised dumps (medians of {args.repeat}, in turns; CPU seconds)")
    print(f"{'engine':<11} {'rows':>10} {'case':<10} {'client':>7} {'server':>7} {'per M rows':>11} "
          f"{'peak MB':>8} {'wall s':>7}")
    for engine, rows, usage in table:
        client, server = statistics.median(usage.client), statistics.median(usage.server)
        print(f"{engine:<11} {rows:>10,} {usage.label:<10} {client:>7.2f} {server:>7.2f} "
              f"{(client + server) / rows * 1e6:>11.2f} {usage.peak_mb:>8.0f} {statistics.median(usage.wall):>7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
