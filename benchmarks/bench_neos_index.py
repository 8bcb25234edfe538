"""Benchmark: building the Neos persistent-resources index (database + storage stat), streaming.

    python3 benchmarks/bench_neos_index.py [--size small|medium|full] [--repeat N]

Generates a Flow resource table on the local MariaDB (127.0.0.1:3306, root) in ``synco_bench_neos`` with
N persistent resources (10 % of them used only by thumbnails) and N stored files under
``benchmarks/.data/neos/Data/Persistent/Resources/<a>/<b>/<c>/<d>/<sha1>``. ``small`` is 10k resources,
``medium`` 50k, ``full`` 200k.

Measured as whole processes (interpreter start-up included): synco-neos listing every index entry
(server-side cursor, one stat per file, smart transfer on), against ``find -printf`` walking the same
storage folder (the file-system work alone, without the database). Peak memory should stay flat as N grows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pymysql
from common import DATA_DIR, have, measure, print_table

SIZES = {"small": 10_000, "medium": 50_000, "full": 200_000}
DATABASE = "synco_bench_neos"
URL = f"mysql://root@127.0.0.1:3306/{DATABASE}"


def _database_exists() -> bool:
    conn = pymysql.connect(host="127.0.0.1", user="root")
    try:
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s", (DATABASE,))
        row = cur.fetchone()
        return bool(row and row[0])
    finally:
        conn.close()


def generate(count: int, project: Path) -> None:
    """The resource, asset and thumbnail tables and the stored files, unless already there for ``count``."""
    marker = project / f".generated-{count}"
    if marker.exists() and _database_exists():
        return
    shutil.rmtree(project, ignore_errors=True)
    storage = project / "Data/Persistent/Resources"
    conn = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    cur = conn.cursor()
    cur.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
    cur.execute(f"CREATE DATABASE {DATABASE}")
    conn.select_db(DATABASE)
    cur.execute("CREATE TABLE neos_flow_resourcemanagement_persistentresource (persistence_object_identifier "
                "VARCHAR(40) PRIMARY KEY, sha1 VARCHAR(40) NOT NULL, filename VARCHAR(255) NOT NULL, "
                "collectionname VARCHAR(255) NOT NULL, filesize BIGINT NOT NULL, relativepublicationpath "
                "VARCHAR(255) NOT NULL DEFAULT '', KEY sha1 (sha1))")
    cur.execute("CREATE TABLE neos_media_domain_model_asset (persistence_object_identifier VARCHAR(40) PRIMARY KEY, "
                "resource VARCHAR(40), KEY resource (resource))")
    cur.execute("CREATE TABLE neos_media_domain_model_thumbnail (persistence_object_identifier VARCHAR(40) "
                "PRIMARY KEY, resource VARCHAR(40), KEY resource (resource))")
    batch: list[tuple[str, str, str, str, int]] = []
    assets: list[tuple[str, str]] = []
    thumbs: list[tuple[str, str]] = []
    for index in range(count):
        content = f"resource {index}\n".encode() * 8
        sha1 = hashlib.sha1(content).hexdigest()
        path = storage / sha1[0] / sha1[1] / sha1[2] / sha1[3] / sha1
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        identifier = f"r{index}"
        batch.append((identifier, sha1, f"file {index}.jpg", "persistent", len(content)))
        (thumbs if index % 10 == 0 else assets).append((f"x{index}", identifier))
        if len(batch) >= 5000:
            cur.executemany("INSERT INTO neos_flow_resourcemanagement_persistentresource VALUES "
                            "(%s, %s, %s, %s, %s, '')", batch)
            batch.clear()
    if batch:
        cur.executemany("INSERT INTO neos_flow_resourcemanagement_persistentresource VALUES (%s, %s, %s, %s, %s, '')",
                        batch)
    cur.executemany("INSERT INTO neos_media_domain_model_asset VALUES (%s, %s)", assets)
    cur.executemany("INSERT INTO neos_media_domain_model_thumbnail VALUES (%s, %s)", thumbs)
    conn.close()
    marker.write_text("")


def run_index(project: Path) -> None:
    """Child process: list every index entry as JSON lines to stdout (discarded by the harness)."""
    from synco_neos.resources import PersistentStorage, PersistentTarget, entries_from_database

    from synco_core.dburl import parse_database_url

    target = PersistentTarget(kind="local", class_name="FileSystemSymlinkTarget", base_uri="_Resources/Persistent/")
    storage = PersistentStorage("WritableFileSystemStorage", project / "Data/Persistent/Resources")
    count = 0
    out = sys.stdout
    for entry in entries_from_database(parse_database_url(URL), target, storage, skip_thumbnail_only=True):
        out.write(json.dumps({"p": entry.path, "s": entry.size, "m": entry.mtime, "u": entry.uri}) + "\n")
        count += 1
    print(f"{count} entries", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--run-index", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_index:
        run_index(args.run_index)
        return
    count = SIZES[args.size]
    project = DATA_DIR / "neos"
    print(f"generating {count} resources ...", file=sys.stderr)
    generate(count, project)
    synco = measure(f"synco-neos index ({count})", [sys.executable, __file__, "--run-index", str(project)],
                    args.repeat)
    if not have("find"):
        raise SystemExit("find is needed for the reference")
    reference = measure("find -printf", ["find", str(project / "Data/Persistent/Resources"), "-type", "f",
                                         "-printf", "%s %T@ %p\n"], args.repeat)
    print_table(f"Neos persistent-resources index, {count} resources (10 % thumbnail-only)",
                [("index entries", synco, reference)])


if __name__ == "__main__":
    main()
