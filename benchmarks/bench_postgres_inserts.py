"""Benchmark: CPU seconds of loading a plain PostgreSQL script of long INSERTs, synco against psql.

    python3 benchmarks/bench_postgres_inserts.py [--statements 100] [--repeat 5] [--reference /work/main]

The script is ``--statements`` INSERTs of 1,000 rows each (about 95 MB for 100), as ``pg_dump --inserts
--rows-per-insert=1000`` writes them: four values a row, two strings, one holding a doubled quote. It is loaded
into a new database by ``psql -f``, by ``synco db load`` of this checkout and, with ``--reference``, of another
checkout's ``synco_core``, in turns. Measured: the CPU seconds (user + system) of the loading process, from
``wait4``, and of its server backend, read from ``/proc/<pid>/stat`` just before it ends (the server runs on this
machine); the median and the range of ``--repeat`` runs are printed. CPU, not wall time: the machine is shared.
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
import uuid
from pathlib import Path

import psycopg

HERE = Path(__file__).parent
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TICKS = os.sysconf("SC_CLK_TCK")


def _script(path: Path, statements: int) -> None:
    with path.open("wb") as out:
        out.write(b"CREATE TABLE public.rows (id int PRIMARY KEY, name text, body text, n numeric);\n")
        number = 0
        for _ in range(statements):
            rows = []
            for _ in range(1000):
                number += 1
                rows.append(b"(%d, 'name %d', 'it''s the body of row %d %s', %d.5)"
                            % (number, number, number, b"x" * 800, number))
            out.write(b"INSERT INTO public.rows VALUES\n" + b",\n".join(rows) + b";\n")


def _backend_cpu(database: str, stop: threading.Event, seen: dict[int, float]) -> None:
    """The CPU seconds of every backend connected to ``database``, read until ``stop``."""
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        while not stop.is_set():
            for (pid,) in admin.execute("SELECT pid FROM pg_stat_activity WHERE datname LIKE %s",
                                        (database + "%",)).fetchall():
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                seen[pid] = (int(fields[11]) + int(fields[12])) / TICKS
            time.sleep(0.05)


def _run(command: list[str], database: str, env: dict[str, str] | None = None,
         cwd: str | None = None) -> tuple[float, float]:
    stop, seen = threading.Event(), {}
    watcher = threading.Thread(target=_backend_cpu, args=(database, stop, seen))
    watcher.start()
    try:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
        if status != 0:
            raise SystemExit(f"{command[0]} failed: {process.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
    finally:
        stop.set()
        watcher.join()
    return usage.ru_utime + usage.ru_stime, sum(seen.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--statements", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reference", help="another checkout, whose synco_core is measured too")
    parser.add_argument("--prefix", default="synco_bench_inserts_", help="of the databases made (and dropped)")
    args = parser.parse_args()
    cases = {"psql -f": None, "synco": str(HERE.parent)}
    if args.reference:
        cases["synco (reference)"] = args.reference
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    with tempfile.TemporaryDirectory(prefix="synco-bench-inserts-") as work, \
            psycopg.connect(ADMIN, autocommit=True) as admin:
        script = Path(work) / "inserts.sql"
        _script(script, args.statements)
        print(f"{script.stat().st_size / 1e6:.0f} MB of INSERTs", flush=True)
        for turn in range(args.repeat):
            for name, checkout in cases.items():
                database = f"{args.prefix}{uuid.uuid4().hex[:8]}"
                url = f"postgresql://postgres@127.0.0.1:5432/{database}"
                try:
                    if checkout is None:
                        admin.execute(f'CREATE DATABASE "{database}"')
                        measured = _run(["psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(script)],
                                        database)
                    else:
                        env = {**os.environ, "PYTHONPATH": checkout}
                        measured = _run([sys.executable, "-m", "synco_core", "db", "load", url, str(script), "--yes"],
                                        database, env=env, cwd=checkout)
                finally:
                    for (name_left,) in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                                      (database + "%",)).fetchall():
                        admin.execute(f'DROP DATABASE "{name_left}" WITH (FORCE)')
                results[name].append(measured)
                print(f"turn {turn + 1} {name}: loader {measured[0]:.2f} s, backends {measured[1]:.2f} s", flush=True)
    for name, runs in results.items():
        loader, backend = [run[0] for run in runs], [run[1] for run in runs]
        print(f"{name}: loader {statistics.median(loader):.2f} s ({min(loader):.2f}-{max(loader):.2f}), backends "
              f"{statistics.median(backend):.2f} s ({min(backend):.2f}-{max(backend):.2f}), together "
              f"{statistics.median(a + b for a, b in runs):.2f} s")


if __name__ == "__main__":
    main()
