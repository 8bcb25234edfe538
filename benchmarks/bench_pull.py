"""Benchmark: ``synco pull ssh://...`` against ``ssh host mariadb-dump db | mariadb db2`` plus ``rsync -a -e ssh``.

    python3 benchmarks/bench_pull.py [--files N] [--rows N] [--repeat N]     (--size full: 10,000 files)

Sets up, on this machine: a MariaDB database of ``--rows`` rows (~300 bytes each), an application folder
with ``--files`` public files (~8 KB each, incompressible) in ``benchmarks/.data/pull/``, and a private
sshd on 127.0.0.1 (the one the tests use, from ``tests/pull_support.py``). Both sides go through the same
ssh. Two cases, each timed as whole processes:

- first pull into an empty folder (reference: dump piped into a fresh database, rsync into an empty folder);
- re-pull after 1% of the files and 1% of the rows changed (reference: dump and load again, rsync again).

synco runs twice per case: ``synco pull --install --yes`` in a local project whose database is ``db2``
(download, decrypt, verify, load atomically into ``db2``, put the files into the project), which does the
work of the ``mariadb-dump | mariadb`` + rsync reference and more (integrity check, the previous database
and files kept for rollback); and plain ``synco pull`` (the dump lands as a verified file), which does the
work of the "dump to file" reference (``ssh host mariadb-dump db > file`` + rsync).

The four commands of a case run in turns (see ``common.measure_interleaved``), so that a host whose speed
drifts during the benchmark weighs on synco and the reference alike.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import pymysql  # noqa: E402
from common import DATA_DIR, Case, Trash, have, measure_interleaved, print_table  # noqa: E402
from pull_support import run_sshd, write_plugin  # noqa: E402

MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
SOURCE_DB = "synco_bench_pull_src"
TARGET_DB = "synco_bench_pull_dst"


def admin(sql: str, database: str | None = None, args: list[tuple[object, ...]] | None = None) -> None:
    connection = pymysql.connect(**MYSQL, database=database, autocommit=True)  # type: ignore[arg-type]
    try:
        with connection.cursor() as cursor:
            if args is None:
                cursor.execute(sql)
            else:
                cursor.executemany(sql, args)
    finally:
        connection.close()


def make_database(rows: int) -> None:
    admin(f"DROP DATABASE IF EXISTS {SOURCE_DB}")
    admin(f"CREATE DATABASE {SOURCE_DB} CHARACTER SET utf8mb4")
    admin("CREATE TABLE posts (id INT PRIMARY KEY, title VARCHAR(100), body TEXT, created DATETIME)", SOURCE_DB)
    batch = []
    for i in range(rows):
        batch.append((i, f"post {i}", os.urandom(120).hex(), "2024-01-01 00:00:00"))
        if len(batch) == 5000:
            admin("INSERT INTO posts VALUES (%s, %s, %s, %s)", SOURCE_DB, batch)
            batch = []
    if batch:
        admin("INSERT INTO posts VALUES (%s, %s, %s, %s)", SOURCE_DB, batch)


def make_app(root: Path, files: int) -> None:
    if root.exists():
        shutil.rmtree(root)
    uploads = root / "public" / "uploads"
    for i in range(files):
        folder = uploads / f"{i % 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"image-{i}.jpg").write_bytes(os.urandom(8192))
    (root / "storage").mkdir(parents=True)
    (root / "storage" / "keep.txt").write_text("private\n")
    (root / "synco-pulltest.json").write_text(
        f'{{"database_url": "mysql://root@127.0.0.1:3306/{SOURCE_DB}"}}')


def change_one_percent(root: Path, rows: int, round_number: int) -> None:
    """Rewrite 1% of the files and update 1% of the rows (a different 1% each round)."""
    rng = random.Random(round_number)
    files = sorted((root / "public" / "uploads").rglob("*.jpg"))
    for path in rng.sample(files, max(1, len(files) // 100)):
        path.write_bytes(os.urandom(8192))
    ids = rng.sample(range(rows), max(1, rows // 100))
    admin("UPDATE posts SET body = %s WHERE id = %s", SOURCE_DB, [(os.urandom(120).hex(), i) for i in ids])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--size", choices=["small", "full"], default="small",
                        help="full: 10,000 files and 200,000 rows (the issue's size)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.size == "full":
        args.files, args.rows = 10000, 200000
    for tool in ("ssh", "rsync", "mariadb", "mariadb-dump"):
        if not have(tool):
            print(f"{tool} is not installed; cannot run the reference pipeline", file=sys.stderr)
            return 1

    work = DATA_DIR / "pull"
    work.mkdir(parents=True, exist_ok=True)
    app = work / "app"
    print(f"Preparing {args.files} files and {args.rows} rows in {work} ...", file=sys.stderr)
    make_database(args.rows)
    make_app(app, args.files)
    base = Path(tempfile.mkdtemp(prefix="bench-pull-"))
    trash = Trash(work / "trash")
    try:
        with run_sshd(base / "sshd", write_plugin(base / "plugin")) as sshd:
            # The remote synco is this interpreter's own entry point: a pyenv shim in front of it (as on the
            # development machine) adds 70-90 ms of bash to every start, which the reference does not pay.
            env = sshd.env(SYNCO_REMOTE_SYNCO=str(Path(sys.executable).parent / "synco"))
            ssh = f"{sshd.ssh_command} -p {sshd.port}"
            host = f"{sshd.user}@127.0.0.1"
            synco_target = work / "synco-target"
            local_app = work / "local-app"
            rsync_target = work / "rsync-target"
            dump_file = work / "reference-dump.sql"
            synco_argv = [sys.executable, "-c", "from synco_core.cli.main import main; main()", "pull",
                          sshd.url(app), "--target", str(synco_target)]
            load = (f"{ssh} {host} mariadb-dump -h127.0.0.1 -uroot --single-transaction {SOURCE_DB} "
                    f"| mariadb -h127.0.0.1 -uroot {TARGET_DB}")
            to_file = f"{ssh} {host} mariadb-dump -h127.0.0.1 -uroot --single-transaction {SOURCE_DB} > {dump_file}"
            rsync = f"rsync -a -e '{ssh}' {host}:{app}/public/uploads/ {rsync_target}/"

            install_argv = [sys.executable, "-c", "from synco_core.cli.main import main; main()", "pull",
                            sshd.url(app), "--install", "--yes"]
            install_env = {**env, "PYTHONPATH": str(sshd.plugin_dir)}

            def fresh_db() -> None:
                # A first pull finds no earlier database, nor an earlier install's kept copy.
                for name in (TARGET_DB, f"{TARGET_DB}__synco_prev", f"{TARGET_DB}__synco_new"):
                    admin(f"DROP DATABASE IF EXISTS {name}")
                admin(f"CREATE DATABASE {TARGET_DB} CHARACTER SET utf8mb4")
                trash.settle()

            def clean() -> None:
                for folder in (synco_target, rsync_target, local_app):
                    trash.park(folder)
                (local_app / "public").mkdir(parents=True)
                (local_app / "synco-pulltest.json").write_text(
                    f'{{"database_url": "mysql://root@127.0.0.1:3306/{TARGET_DB}"}}')
                fresh_db()

            rounds = iter(range(1000))

            def change() -> None:
                change_one_percent(app, args.rows, next(rounds))
                trash.settle()

            def cases(setup: Callable[[], None]) -> list[Case]:
                return [
                    Case("synco pull --install", install_argv, setup, install_env, local_app),
                    Case("mariadb-dump | mariadb + rsync", f"{load} && {rsync}", setup, env),
                    Case("synco pull", synco_argv, setup, env),
                    Case("mariadb-dump > file + rsync", f"{to_file} && {rsync}", setup, env),
                ]

            first_install, first_ref, first_synco, first_file = measure_interleaved(cases(clean), args.repeat)
            # The targets are full now (the last setup cleared them, the last run filled them).
            subprocess.run(synco_argv, env=env, check=True, capture_output=True)
            subprocess.run(install_argv, env=install_env, cwd=local_app, check=True, capture_output=True)
            subprocess.run(f"{rsync}", shell=True, env=env, check=True)

            again_install, again_ref, again_synco, again_file = measure_interleaved(cases(change), args.repeat)
            title = f"synco pull over ssh to 127.0.0.1: {args.rows} rows + {args.files} files (~8 KB each)"
            print_table(title, [
                ("first pull --install", first_install, first_ref),
                ("first pull (to files)", first_synco, first_file),
                ("re-pull after 1% changed --install", again_install, again_ref),
                ("re-pull after 1% changed (to files)", again_synco, again_file),
            ])
    finally:
        shutil.rmtree(base, ignore_errors=True)
        trash.empty()
        admin(f"DROP DATABASE IF EXISTS {TARGET_DB}")
        admin(f"DROP DATABASE IF EXISTS {SOURCE_DB}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
