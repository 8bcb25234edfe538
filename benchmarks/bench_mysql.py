"""Benchmark: the MySQL/MariaDB engine against mariadb-dump / mariadb, compression and encryption in both.

    python3 benchmarks/bench_mysql.py [--size small|medium|full] [--repeat N] [--only dump|load|keys]

The dataset is generated on the local server (127.0.0.1:3306, root; the port is ``$SYNCO_BENCH_MYSQL_PORT`` when that
is set) into ``synco_bench_src`` (the prefix ``synco_bench`` of every database it creates is
``$SYNCO_BENCH_MYSQL_PREFIX`` when that is set): an ``orders``
table of mixed columns (bigint, int, varchar, decimal, datetime(6), tinyint, nullable text, JSON, two
indexes) and a ``files`` table of 4 KiB random blobs. ``--size full`` is the issue's size: 2M order rows
and 50k blobs (about 1.2 GB of SQL); ``medium`` is a quarter of it, ``small`` (the default) a twentieth.

Measured, each ``--repeat`` times as whole processes (interpreter start-up included):

- dump: synco's dumper -> zstandard level 3 -> ``synco_core.age`` X25519 encryption (zstd only when
  ``synco_core.age`` is missing; the output says so), against
  ``mariadb-dump --single-transaction --quick | zstd -3 | age -r``;
- load: decryption -> zstandard -> synco's installer (scratch database, row counts and checksums verified
  against the manifest, swap with RENAME TABLE), against ``age -d | zstd -d | mariadb`` into an empty
  database.

``--only keys`` measures instead how the dump's speed depends on a table's key (issue 15): the same rows
(an account number, a day, visits, revenue, a nullable note; 2.8 million at ``--size full``, the issue's
example, a fifth and a twentieth of it at ``medium`` and ``small``) in four tables, each in a database of its
own, keyed by one INT, by (INT, DATE), by a VARCHAR, and by nothing. Both sides dump each table through the
same pipeline as above (synco -> zstandard level 3 -> age; ``mariadb-dump --single-transaction --quick |
zstd -3 | age -r``), all eight cases in turns.

It prints medians, the synco / reference ratios and peak memory of each process tree.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

sys.path.insert(0, str(Path(__file__).parent))

import pymysql
import zstandard

from synco_core import age
from synco_core.dburl import parse_database_url
from synco_core.engines.mysql.dump import dump
from synco_core.serve.folder import ZSTD_LEVEL, zstd_parameters
from synco_core.values import DumpOptions, InstallOptions, TableManifest

HOST, PORT, USER = "127.0.0.1", int(os.environ.get("SYNCO_BENCH_MYSQL_PORT", 3306)), "root"
#: The start of every database name the benchmark creates: a session sharing the server with others gives its own.
PREFIX = os.environ.get("SYNCO_BENCH_MYSQL_PREFIX", "synco_bench")
SOURCE, TARGET, REFERENCE_TARGET = f"{PREFIX}_src", f"{PREFIX}_dst", f"{PREFIX}_ref"
#: Rows of the key-shape tables per size: full is the issue's example, 2.8 million (2,000 accounts x 1,400 days).
KEY_ROWS = {"small": 140_000, "medium": 560_000, "full": 2_800_000}
#: The key shapes: (label, the key's columns in CREATE TABLE, the columns the rows add for it).
KEY_SHAPES = {
    "int": ("one INT", "id INT NOT NULL PRIMARY KEY, ", "account * 10000 + DATEDIFF(day, '2020-01-01'), "),
    "int_date": ("(INT, DATE)", "", ""),
    "varchar": ("VARCHAR", "code VARCHAR(24) NOT NULL PRIMARY KEY, ", "CONCAT('a', account, '-', day), "),
    "none": ("no key", "", ""),
}


def url(name: str) -> str:
    return f"mysql://{USER}@{HOST}:{PORT}/{name}"


def admin(database: str | None = None) -> Any:
    return pymysql.connect(host=HOST, port=PORT, user=USER, database=database, autocommit=True)


def recreate(name: str) -> None:
    conn = admin()
    with conn.cursor() as cur:
        for suffix in ("", "__synco_new", "__synco_prev"):
            cur.execute(f"DROP DATABASE IF EXISTS `{name}{suffix}`")
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    conn.close()


def generate(rows: int, blobs: int) -> None:
    """Create the source database unless it already holds a dataset of this size."""
    conn = admin()
    with conn.cursor() as cur:
        try:
            cur.execute(f"SELECT (SELECT COUNT(*) FROM `{SOURCE}`.orders), (SELECT COUNT(*) FROM `{SOURCE}`.files)")
            if cur.fetchone() == (rows, blobs):
                return
        except pymysql.err.MySQLError:
            pass
    from common import BLOB_SIZE

    print(f"generating {rows} order rows and {blobs} blobs of {BLOB_SIZE} bytes ...", file=sys.stderr)
    recreate(SOURCE)
    conn.select_db(SOURCE)
    with conn.cursor() as cur:
        cur.execute("""
            CREATE TABLE orders (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                customer_id INT NOT NULL,
                sku VARCHAR(32) NOT NULL,
                quantity INT NOT NULL,
                price DECIMAL(10,2) NOT NULL,
                created DATETIME(6) NOT NULL,
                shipped TINYINT(1),
                note TEXT,
                attributes JSON,
                KEY orders_customer (customer_id),
                KEY orders_created (created)
            ) ENGINE=InnoDB""")
        step = 200_000
        # Eleven random hex strings with quotes and semicolons in between: about 400 bytes of SQL per row,
        # so that the full size comes to the 1.2 GB of SQL (a bare row is only about 150 bytes).
        note = "CONCAT_WS(' it''s; ', " + ", ".join(["MD5(RAND())"] * 11) + ")"
        for start in range(0, rows, step):
            cur.execute(f"""
                INSERT INTO orders (customer_id, sku, quantity, price, created, shipped, note, attributes)
                SELECT FLOOR(RAND() * 50000), CONCAT('SKU-', FLOOR(RAND() * 100000)), 1 + FLOOR(RAND() * 9),
                       ROUND(RAND() * 1000, 2), NOW(6) - INTERVAL FLOOR(RAND() * 86400000) SECOND,
                       RAND() > 0.3,
                       IF(RAND() > 0.1, {note}, NULL),
                       JSON_OBJECT('color', ELT(1 + seq % 3, 'red', 'green', 'blue'), 'gift', seq % 7 = 0)
                FROM seq_1_to_{min(step, rows - start)}""")
        cur.execute("CREATE TABLE files (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, data BLOB NOT NULL)")
        step = 5_000
        for start in range(0, blobs, step):
            cur.execute(f"INSERT INTO files SELECT seq, CONCAT('file-', seq, '.bin'), RANDOM_BYTES(1024) "
                        f"FROM seq_{start}_to_{min(start + step, blobs) - 1}")
        # RANDOM_BYTES is limited to 1024 bytes; four of them make a 4 KiB blob.
        cur.execute("UPDATE files SET data = CONCAT(data, RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024))")
        cur.execute("ANALYZE TABLE orders, files")
    conn.close()


def key_database(shape: str) -> str:
    return f"{PREFIX}_key_{shape}"


def generate_keyed(rows: int) -> None:
    """One table per key shape, the same rows in each, unless they already hold ``rows`` rows."""
    conn = admin()
    for shape, (_, key_columns, key_values) in KEY_SHAPES.items():
        name = key_database(shape)
        with conn.cursor() as cur:
            try:
                cur.execute(f"SELECT COUNT(*) FROM `{name}`.daily")
                if cur.fetchone() == (rows,):
                    continue
            except pymysql.err.MySQLError:
                pass
        print(f"generating {rows} rows keyed by {KEY_SHAPES[shape][0]} ...", file=sys.stderr)
        recreate(name)
        primary = ", PRIMARY KEY (account, day)" if shape == "int_date" else ""
        days = 1400
        conn.select_db(name)  # the seq_0_to_N tables of the SEQUENCE engine are found in the current database
        with conn.cursor() as cur:
            cur.execute(f"CREATE TABLE `{name}`.daily ({key_columns}account INT NOT NULL, day DATE NOT NULL, "
                        f"visits INT NOT NULL, revenue DECIMAL(12,2) NOT NULL, note VARCHAR(40){primary}) "
                        "ENGINE=InnoDB")
            # The same rows in every table: the note and numbers come from the row's position, not RAND().
            cur.execute(f"INSERT INTO `{name}`.daily SELECT {key_values}account, day, visits, revenue, note FROM ("
                        f"SELECT 1 + seq DIV {days} AS account, '2020-01-01' + INTERVAL seq % {days} DAY AS day, "
                        f"CRC32(seq) % 1000 AS visits, (CRC32(seq * 7) % 1000000) / 100 AS revenue, "
                        f"IF(seq % 2 = 0, MD5(seq), NULL) AS note FROM seq_0_to_{rows - 1}) generated")
            cur.execute(f"ANALYZE TABLE `{name}`.daily")
    conn.close()


@contextlib.contextmanager
def sealed(path: str, recipient: str) -> Iterator[BinaryIO]:
    with open(path, "wb") as raw, age.encrypt_writer(raw, [age.X25519Recipient.from_string(recipient)]) as sealed_out:
        yield sealed_out


@contextlib.contextmanager
def opened(path: str, key_file: str) -> Iterator[BinaryIO]:
    with open(path, "rb") as raw:
        identity = age.parse_identity(Path(key_file).read_text().strip())
        with age.decrypt_reader(raw, [identity]) as decrypted:
            yield decrypted


def worker(argv: list[str]) -> int:
    """The synco side, run as its own process: ``dump RECIPIENT OUT [DATABASE]`` or ``load KEYFILE IN``."""
    action, key, path = argv[:3]
    source = argv[3] if len(argv) > 3 else SOURCE
    if action == "dump":
        with sealed(path, key) as out:
            # The same chain as synco's artifact writer (synco_core/serve/folder.py), with its settings:
            # zstd level 3 (its search tuned as the default level's is) in zstd's own worker threads, 1 MiB jobs,
            # into age. The dumper also writes from a thread of its own, so compression and encryption overlap
            # with the server formatting rows, as the separate processes of the reference do.
            params = zstd_parameters(ZSTD_LEVEL, dump=True)
            compressor = zstandard.ZstdCompressor(compression_params=params).stream_writer(out, closefd=False)
            result = dump(parse_database_url(url(source)), compressor, DumpOptions())
            compressor.flush(zstandard.FLUSH_FRAME)
        Path(path + ".manifest").write_text(json.dumps({k: dataclasses.asdict(v) for k, v in result.tables.items()}))
        return 0
    # Imported here, as the benchmark's own module (common) is in main(): the dump's process imports what a
    # dump needs, as the reference's processes load only their own code.
    from synco_core.engines.mysql.install import install

    manifest = {k: TableManifest(**v) for k, v in json.loads(Path(path + ".manifest").read_text()).items()}
    with opened(path, key) as decrypted:
        reader = zstandard.ZstdDecompressor().stream_reader(decrypted, read_across_frames=True)
        install(parse_database_url(url(TARGET)), reader, InstallOptions(yes=True, manifest=manifest))
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return worker(sys.argv[2:])
    from common import (
        BLOB_SIZE,
        DATA_DIR,
        DATASET_SIZES,
        Case,
        have,
        measure,
        measure_interleaved,
        plain_size,
        print_table,
    )
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(DATASET_SIZES), default="small")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=["dump", "load", "keys"],
                        help="Measure one direction only, or the dump of tables with different keys.")
    args = parser.parse_args()
    for tool in ("mariadb-dump", "mariadb", "zstd", "age"):
        if not have(tool):
            print(f"{tool} is not installed; cannot run the reference pipeline", file=sys.stderr)
            return 1
    work = DATA_DIR / "mysql"
    work.mkdir(parents=True, exist_ok=True)
    key_file = work / "key.txt"
    identity = age.generate_identity()
    key_file.write_text(identity.to_string() + "\n")
    key_file.chmod(0o600)
    recipient = identity.recipient().to_string()
    seal, unseal, note = f" | age -r {recipient}", f"age -d -i {key_file} {{}} | ", "zstd -3 + age X25519 in both"
    suffix = ".sql.zst.age"
    client = f"--host={HOST} --port={PORT} --user={USER}"
    me = [sys.executable, str(Path(__file__).resolve()), "--worker"]
    if args.only == "keys":
        return measure_keys(args, work, recipient, seal, client, me, suffix, note)
    rows, blobs = DATASET_SIZES[args.size]
    generate(rows, blobs)
    ours, theirs = work / ("synco" + suffix), work / ("mariadb-dump" + suffix)
    results = []
    if args.only in (None, "dump"):
        # Each pair runs in turns (synco, reference, synco, ...) so that drift of a shared host weighs on both.
        dump_synco, dump_ref = measure_interleaved([
            Case("synco dump | zstd | age", [*me, "dump", recipient, str(ours)]),
            Case("mariadb-dump | zstd -3 | age -r",
                 f"mariadb-dump {client} --single-transaction --quick {SOURCE} | zstd -3 -q{seal} > {theirs}"),
        ], args.repeat)
        results.append(("dump (compressed, encrypted)", dump_synco, dump_ref))
    if args.only in (None, "load"):
        if not ours.exists():
            measure("synco dump (for the load)", [*me, "dump", recipient, str(ours)], 1)
            os.system(f"mariadb-dump {client} --single-transaction --quick {SOURCE} | zstd -3 -q{seal} > {theirs}")
        reference_load = f"{unseal.format(theirs)}zstd -d -q | mariadb {client} {REFERENCE_TARGET}"
        load_synco, load_ref = measure_interleaved([
            Case("synco load", [*me, "load", str(key_file), str(ours)], lambda: recreate(TARGET)),
            Case("age -d | zstd -d | mariadb", reference_load, lambda: recreate(REFERENCE_TARGET)),
        ], args.repeat)
        results.append(("load (verified, atomic swap)", load_synco, load_ref))
    print(f"\nMySQL/MariaDB, --size {args.size}: {rows} mixed rows + {blobs} blobs of {BLOB_SIZE} bytes; "
          f"{plain_size(theirs, key_file) / 1e9:.2f} GB of SQL from mariadb-dump; "
          f"dump sizes synco {ours.stat().st_size / 1e6:.1f} MB, mariadb-dump {theirs.stat().st_size / 1e6:.1f} MB "
          f"({note})")
    print_table("MySQL/MariaDB dump and load (ratio = synco / reference, lower is better)", results)
    for name in (TARGET, REFERENCE_TARGET):
        conn = admin()
        with conn.cursor() as cur:
            for db_suffix in ("", "__synco_new", "__synco_prev"):
                cur.execute(f"DROP DATABASE IF EXISTS `{name}{db_suffix}`")
        conn.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0


def measure_keys(args: argparse.Namespace, work: Path, recipient: str, seal: str, client: str, me: list[str],
                 suffix: str, note: str) -> int:
    """The dump of the same rows keyed four ways, synco and mariadb-dump, all cases in turns."""
    from common import Case, measure_interleaved, print_table

    rows = KEY_ROWS[args.size]
    generate_keyed(rows)
    cases = []
    for shape in KEY_SHAPES:
        database = key_database(shape)
        ours, theirs = work / f"synco-{shape}{suffix}", work / f"mariadb-dump-{shape}{suffix}"
        cases.append(Case(f"synco, {shape}", [*me, "dump", recipient, str(ours), database]))
        cases.append(Case(f"mariadb-dump, {shape}", f"mariadb-dump {client} --single-transaction --quick "
                                                   f"{database} | zstd -3 -q{seal} > {theirs}"))
    measured = measure_interleaved(cases, args.repeat)
    results = [(f"dump, key {KEY_SHAPES[shape][0]}", measured[2 * index], measured[2 * index + 1])
               for index, shape in enumerate(KEY_SHAPES)]
    print(f"\nMySQL/MariaDB, --size {args.size}: {rows} rows (account, day, visits, revenue, note) keyed four "
          f"ways, one table each ({note})")
    print_table("MySQL/MariaDB dump by key (ratio = synco / reference, lower is better)", results)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
