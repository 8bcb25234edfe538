"""Benchmark: CPU seconds of the MySQL dump of ``bench_mysql.py --only keys``' tables, client and server apart.

    python3 benchmarks/bench_mysql_cpu.py [--size small|medium|full] [--keys varchar,int] [--repeat 5]
                                          [--synco LABEL=CHECKOUT ...]

On a machine shared with other work the clock says little, so this counts CPU instead: the dump's whole
process tree (``wait4``: the shell of a pipeline and everything it waited for), and the mariadbd threads
serving the dump's connections, read from ``/proc/<tid>/schedstat`` (time on a core) through the thread ids
that ``information_schema.PROCESSLIST`` shows for connections to the dumped database, polled every 10 ms while
the dump runs. A thread's first reading is its baseline (a pooled thread carries what it did before), so up to
10 ms of each connection's first work is missed, on both sides alike.

The cases: synco's dump as ``bench_mysql.py --worker dump`` runs it (zstd, age), once per ``--synco`` checkout
(its directory put first on ``PYTHONPATH``, so that two versions of ``synco_core`` can be compared in turns;
the default is this checkout), and ``mariadb-dump --single-transaction --quick | zstd -3 | age -r``; every case
in turns, ``--repeat`` times. It prints, per case, the medians (and ranges) of client, server and their sum, and
each synco case's ratio of the sums' medians to the reference's. The tables are ``bench_mysql.py --only keys``'
(made, or made again, at ``--size`` unless they hold that many rows; the same ``SYNCO_BENCH_MYSQL_PORT`` and
``SYNCO_BENCH_MYSQL_PREFIX`` apply).
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

import bench_mysql
import common
from bench_mysql import HOST, KEY_ROWS, PORT, USER, admin, generate_keyed, key_database

from synco_core import age


def _watch(database: str, stop: threading.Event, seen: dict[int, list[float]]) -> None:
    """Record, for each server thread serving a connection to ``database``, its first and last reading."""
    conn = admin()
    try:
        with conn.cursor() as cur:
            def threads() -> list[int]:
                cur.execute("SELECT TID FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> CONNECTION_ID()",
                            (database,))
                return [int(tid) for (tid,) in cur.fetchall()]

            common.record_tasks(threads, stop, seen)
    finally:
        conn.close()


def run(command: list[str] | str, database: str, env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """(client CPU, server CPU, wall seconds) of one dump."""
    seen: dict[int, list[float]] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(database, stop, seen), daemon=True)
    watcher.start()
    start = time.perf_counter()
    proc = subprocess.Popen(command, shell=isinstance(command, str), env=env, stdout=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    watcher.join()
    if proc.returncode != 0:
        raise RuntimeError(f"dump failed ({proc.returncode}): {command}")
    server = common.recorded_cpu_seconds(seen)
    return usage.ru_utime + usage.ru_stime, server, wall


def _describe(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(KEY_ROWS), default="small")
    parser.add_argument("--keys", default="varchar,int", help="comma-separated: " + ",".join(bench_mysql.KEY_SHAPES))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--synco", action="append", default=[], metavar="LABEL=CHECKOUT",
                        help="a synco checkout to measure (default: this one)")
    parser.add_argument("--no-reference", action="store_true", help="leave the mariadb-dump pipeline out")
    args = parser.parse_args()
    generate_keyed(KEY_ROWS[args.size])
    checkouts = [tuple(spec.split("=", 1)) for spec in args.synco] or [("synco", str(Path(__file__).parent.parent))]
    with tempfile.TemporaryDirectory(prefix="bench-mysql-cpu-") as work:
        recipient = age.generate_identity().recipient().to_string()
        cases: list[tuple[common.ServerUsage, list[str] | str, str, dict[str, str] | None]] = []
        for shape in args.keys.split(","):
            database = key_database(shape)
            for label, checkout in checkouts:
                script = str(Path(checkout) / "benchmarks" / "bench_mysql.py")
                env = dict(os.environ, PYTHONPATH=checkout)
                cases.append((common.ServerUsage(f"{label}, {shape}"),
                              [sys.executable, script, "--worker", "dump", recipient, f"{work}/out", database],
                              database, env))
            if not args.no_reference:
                cases.append((common.ServerUsage(f"mariadb-dump, {shape}"),
                              f"mariadb-dump --host={HOST} --port={PORT} --user={USER} --single-transaction --quick "
                              f"{database} | zstd -3 -q | age -r {recipient} > {work}/ref", database, None))
        for _ in range(args.repeat):
            for usage, command, database, env in cases:
                client, server, wall = run(command, database, env)
                usage.client.append(client)
                usage.server.append(server)
                usage.wall.append(wall)
                print(f"  {usage.label}: client {client:.2f} + server {server:.2f} s CPU, {wall:.2f} s",
                      file=sys.stderr)
    print("\n| case | client CPU | server CPU | client + server | wall | CPU ratio |\n|---|---|---|---|---|---|")
    for shape in args.keys.split(","):
        rows = [usage for usage, *_ in cases if usage.label.endswith(f", {shape}")]
        reference = next((u for u in rows if u.label.startswith("mariadb-dump")), None)
        for usage in rows:
            ratio = (f"{statistics.median(usage.total()) / statistics.median(reference.total()):.2f}"
                     if reference is not None else "")
            print(f"| {usage.label} | {_describe(usage.client)} | {_describe(usage.server)} | "
                  f"{_describe(usage.total())} | {_describe(usage.wall)} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
