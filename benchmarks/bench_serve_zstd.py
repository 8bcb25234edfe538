"""Benchmark: the zstd settings of session artifacts (level, worker thread, job size), time and peak memory.

    python3 benchmarks/bench_serve_zstd.py [--size MB] [--repeat N] [--levels 1,3,6]

Generates ``--size`` MB (default 200) of SQL-like INSERT text in benchmarks/.data/, then writes it, in
64 KiB pieces as an engine does, through :meth:`SessionFolder.artifact` (zstd + age X25519 + fsync) in a
process of its own per run. Each level is run with synco's settings (one worker thread, 1 MiB jobs) and
with the reference: the compressor in the calling thread (``threads=0``), zstandard's default.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import DATA_DIR, measure, print_table

PIECE = 64 * 1024


def generate(path: Path, size_mb: int) -> None:
    """SQL text with realistic repetition: table rows with names, addresses, numbers and dates."""
    if path.exists() and path.stat().st_size >= size_mb << 20:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 10))) for _ in range(5000)]
    with path.open("w") as out:
        row = 0
        while out.tell() < size_mb << 20:
            values = []
            for _ in range(500):
                row += 1
                values.append(f"({row},'{rng.choice(words)} {rng.choice(words)}','{rng.choice(words)}@example.com',"
                              f"{rng.randint(0, 10**9)},'2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}')")
            out.write("INSERT INTO `users` VALUES " + ",".join(values) + ";\n")


def worker(argv: list[str]) -> int:
    """``LEVEL THREADS JOB_SIZE SOURCE``: write SOURCE through one compressed, encrypted artifact."""
    from synco_core import age
    from synco_core.serve import folder as folder_module

    level, threads, job_size, source = int(argv[0]), int(argv[1]), int(argv[2]), Path(argv[3])
    folder_module.ZSTD_THREADS = threads
    folder_module.ZSTD_JOB_SIZE = job_size
    with tempfile.TemporaryDirectory(dir=DATA_DIR) as temp:
        folder = folder_module.SessionFolder(Path(temp) / "s", [age.generate_identity().recipient()], zstd_level=level)
        folder.create()
        with source.open("rb") as inp, folder.artifact("dump.sql.zst.enc", dump=True) as (plain, _stats):
            while piece := inp.read(PIECE):
                plain.write(piece)
        written = (folder.path / "dump.sql.zst.enc").stat().st_size
    print(f"  level {level} threads {threads}: ratio {source.stat().st_size / written:.2f}", file=sys.stderr)
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return worker(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200, help="MB of SQL text (default 200)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--levels", default="1,3,6")
    args = parser.parse_args()
    source = DATA_DIR / f"serve-zstd-{args.size}.sql"
    generate(source, args.size)
    me = [sys.executable, str(Path(__file__).resolve()), "--worker"]
    rows = []
    for level in (int(x) for x in args.levels.split(",")):
        synco = measure(f"level {level}, 1 thread, 1 MiB jobs", [*me, str(level), "1", str(1 << 20), str(source)],
                        args.repeat)
        reference = measure(f"level {level}, in caller", [*me, str(level), "0", "0", str(source)], args.repeat)
        rows.append((f"{args.size} MB SQL, zstd level {level}", synco, reference))
    print_table("Session artifact (zstd + age + fsync): synco settings vs compressor in the caller", rows)
    if shutil.which("zstd"):
        print("\n(zstd CLI available for manual comparison: zstd -3 -T1 <file>)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
