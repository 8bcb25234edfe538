"""Benchmark: databases of many tables, synco's dump and load against mariadb-dump / pg_dump / sqlite3.

    python3 benchmarks/bench_many_objects.py [--engine mysql|postgresql|sqlite ...] [--tables N ...]
        [--repeat N] [--mysql-port P] [--postgres-port P]

Each database holds ``N`` tables of two rows (``--tables``, default 1000), as a WordPress multisite (ten
tables per site), a schema-per-tenant application or a partitioned table has: MariaDB tables with an
``AUTO_INCREMENT`` key, PostgreSQL tables with a ``serial`` key (a table, its sequence and its index each),
SQLite tables with an ``INTEGER PRIMARY KEY``. The databases are made once per size and kept between runs
(``synco_bench_many_<N>``, ``benchmarks/.data/many-<N>.db``); making 20,000 MariaDB tables takes several
minutes.

Measured as whole processes, medians of ``--repeat`` runs, with peak memory: ``synco db dump`` against
``mariadb-dump --single-transaction --routines --triggers --events``, ``pg_dump`` and ``sqlite3 .dump``
(and ``synco db dump --sql`` for SQLite); ``synco db load`` of that dump into a new database against the
client loading the reference dump (``mariadb``, ``psql``, ``sqlite3``).

PostgreSQL's lock table holds about ``max_locks_per_transaction x max_connections`` locks (6,400 on default
settings), shared by every session, and both dumps lock each table until they end: at 10,000 tables and
more, pg_dump fails there; run against a server of your own (``--postgres-port``) with a larger
``max_locks_per_transaction`` to measure beyond it, never against a server others use.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import DATA_DIR, Case, have, measure_interleaved, print_table

HOST = "127.0.0.1"
SYNCO = [sys.executable, "-m", "synco_core"]


def mysql_url(port: int, name: str) -> str:
    return f"mysql://root@{HOST}:{port}/{name}"


def postgres_url(port: int, name: str) -> str:
    return f"postgresql://postgres@{HOST}:{port}/{name}"


def make_mysql(port: int, name: str, tables: int) -> None:
    import pymysql

    conn = pymysql.connect(host=HOST, port=port, user="root", autocommit=True)
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s", (name,))
        if cur.fetchone()[0] == tables:
            return
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute(f"USE `{name}`")
        for i in range(tables):
            cur.execute(f"CREATE TABLE wp_{i}_posts (id INT PRIMARY KEY AUTO_INCREMENT, title VARCHAR(100), "
                        "body TEXT) ENGINE=InnoDB")
            cur.execute(f"INSERT INTO wp_{i}_posts (title, body) VALUES ('a', 'b'), ('c', 'd')")
    conn.close()


def make_postgres(port: int, name: str, tables: int) -> None:
    import psycopg

    with psycopg.connect(postgres_url(port, "postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            with psycopg.connect(postgres_url(port, name)) as existing:
                if existing.execute("SELECT count(*) FROM pg_class WHERE relkind = 'r' "
                                    "AND relnamespace = 'public'::regnamespace").fetchone()[0] == tables:
                    return
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(postgres_url(port, name), autocommit=True) as conn:
        # A hundred tables per statement: one transaction creating them all would run out of the lock table.
        for start in range(0, tables, 100):
            conn.execute("".join(f"CREATE TABLE t_{i} (id serial PRIMARY KEY, title text); "
                                 f"INSERT INTO t_{i} (title) VALUES ('a'), ('b');"
                                 for i in range(start, min(tables, start + 100))))


def make_sqlite(path: Path, tables: int) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        for i in range(tables):
            conn.execute(f"CREATE TABLE t_{i} (id INTEGER PRIMARY KEY, title TEXT)")
            conn.execute(f"INSERT INTO t_{i} (title) VALUES ('a'), ('b')")
    conn.close()


def drop_mysql(port: int, names: list[str]) -> None:
    import pymysql

    conn = pymysql.connect(host=HOST, port=port, user="root", autocommit=True)
    with conn.cursor() as cur:
        for name in names:
            for suffix in ("", "__synco_new", "__synco_prev", "__synco_swap"):
                cur.execute(f"DROP DATABASE IF EXISTS `{name}{suffix}`")
    conn.close()


def drop_postgres(port: int, names: list[str]) -> None:
    import psycopg

    with psycopg.connect(postgres_url(port, "postgres"), autocommit=True) as conn:
        for name in names:
            for suffix in ("", "__synco_new", "__synco_prev", "__synco_swap"):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}{suffix}" WITH (FORCE)')


def bench(engine: str, tables: int, repeat: int, mysql_port: int, postgres_port: int) -> None:
    work = DATA_DIR / "many-objects"
    work.mkdir(parents=True, exist_ok=True)
    source, target, reference = (f"synco_bench_many_{tables}", f"synco_bench_many_{tables}_copy",
                                 f"synco_bench_many_{tables}_ref")
    ours, theirs = work / f"{engine}-{tables}.synco", work / f"{engine}-{tables}.ref.sql"
    rows: list[tuple[str, Case, Case]] = []
    if engine == "mysql":
        make_mysql(mysql_port, source, tables)
        cli = ["-h", HOST, "-P", str(mysql_port), "-uroot"]
        rows.append(("dump", Case("synco", [*SYNCO, "db", "dump", mysql_url(mysql_port, source), "-o", str(ours)]),
                     Case("mariadb-dump", " ".join(["mariadb-dump", *cli, "--single-transaction", "--routines",
                                                     "--triggers", "--events", source, ">", str(theirs)]))))
        rows.append(("load", Case("synco", [*SYNCO, "db", "load", "-y", mysql_url(mysql_port, target), str(ours)],
                                  setup=lambda: drop_mysql(mysql_port, [target])),
                     Case("mariadb", " ".join(["mariadb", *cli, reference, "<", str(theirs)]),
                          setup=lambda: (drop_mysql(mysql_port, [reference]), subprocess.run(
                              ["mariadb", *cli, "-e", f"CREATE DATABASE {reference}"], check=True)))))
        cleanup = lambda: drop_mysql(mysql_port, [target, reference])  # noqa: E731
    elif engine == "postgresql":
        make_postgres(postgres_port, source, tables)
        cli = ["-h", HOST, "-p", str(postgres_port), "-U", "postgres"]
        rows.append(("dump", Case("synco", [*SYNCO, "db", "dump", postgres_url(postgres_port, source), "-o",
                                            str(ours)]),
                     Case("pg_dump", " ".join(["pg_dump", *cli, source, ">", str(theirs)]))))
        rows.append(("load", Case("synco", [*SYNCO, "db", "load", "-y", postgres_url(postgres_port, target),
                                            str(ours)], setup=lambda: drop_postgres(postgres_port, [target])),
                     Case("psql", " ".join(["psql", "-q", "-v", "ON_ERROR_STOP=1", *cli, "-d", reference, "-f",
                                            str(theirs), ">", "/dev/null"]),
                          setup=lambda: (drop_postgres(postgres_port, [reference]), subprocess.run(
                              ["createdb", *cli, reference], check=True)))))
        cleanup = lambda: drop_postgres(postgres_port, [target, reference])  # noqa: E731
    else:
        database = work / f"many-{tables}.db"
        make_sqlite(database, tables)
        script, copy, ref_copy = work / f"sqlite-{tables}.synco.sql", work / "copy.db", work / "ref.db"
        rows.append(("dump (file)", Case("synco", [*SYNCO, "db", "dump", f"sqlite:///{database}", "-o", str(ours)]),
                     Case("sqlite3 .dump", f"sqlite3 {database} .dump > {theirs}")))
        rows.append(("dump --sql", Case("synco --sql", [*SYNCO, "db", "dump", "--sql", f"sqlite:///{database}",
                                                        "-o", str(script)]),
                     Case("sqlite3 .dump", f"sqlite3 {database} .dump > {theirs}")))
        rows.append(("load (file)", Case("synco", [*SYNCO, "db", "load", "-y", f"sqlite:///{copy}", str(ours)]),
                     Case("sqlite3", f"rm -f {ref_copy} && sqlite3 {ref_copy} < {theirs}")))
        cleanup = lambda: [p.unlink(missing_ok=True) for p in work.glob("*.db*") if p != database]  # noqa: E731
    try:
        for step, synco_case, reference_case in rows:
            synco_result, reference_result = measure_interleaved([synco_case, reference_case], repeat)
            print_table(f"{engine}, {tables} tables: {step}", [(step, synco_result, reference_result)])
    finally:
        cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", action="append", choices=["mysql", "postgresql", "sqlite"])
    parser.add_argument("--tables", action="append", type=int)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--mysql-port", type=int, default=int(os.environ.get("SYNCO_BENCH_MYSQL_PORT", 3306)))
    parser.add_argument("--postgres-port", type=int, default=int(os.environ.get("SYNCO_BENCH_POSTGRES_PORT", 5432)))
    args = parser.parse_args()
    tools = {"mysql": "mariadb-dump", "postgresql": "pg_dump", "sqlite": "sqlite3"}
    for engine in args.engine or ["sqlite", "postgresql", "mysql"]:
        if not have(tools[engine]):
            print(f"skipping {engine}: {tools[engine]} not installed", file=sys.stderr)
            continue
        for tables in args.tables or [1000]:
            bench(engine, tables, args.repeat, args.mysql_port, args.postgres_port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
