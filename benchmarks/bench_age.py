"""Benchmark: age encryption and decryption, synco against the ``age`` binary (X25519), side by side.

    python3 benchmarks/bench_age.py [--size MB] [--repeat N]

Generates a file of ``--size`` MB (default 200; the issue's target is 1200) in benchmarks/.data/ (or
``--dir``), then
times, ``--repeat`` times each, whole processes (interpreter start-up included, as for ``age``):
encrypting with synco and with ``age -r``, decrypting with synco (a plain process, and ``synco decrypt``,
which also fsyncs its output) and with ``age -d -i``. It prints medians, synco/age ratios and peak memory,
then the time to open an X25519 artifact (header parsed, key unwrapped, MAC checked) and one scrypt one.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import DATA_DIR, have, measure, print_table

from synco_core import age

COPY_BUFFER = 1024 * 1024


def worker(argv: list[str]) -> int:
    """The synco side of a measurement, run as its own process: ``encrypt RECIPIENT IN OUT`` or
    ``decrypt KEYFILE IN OUT``."""
    action, key, source, target = argv
    with open(source, "rb") as inp, open(target, "wb") as out:
        if action == "encrypt":
            with age.encrypt_writer(out, [age.X25519Recipient.from_string(key)]) as writer:
                shutil.copyfileobj(inp, writer, COPY_BUFFER)
        else:
            identity = age.parse_identity(Path(key).read_text().strip())
            with age.decrypt_reader(inp, [identity]) as reader:
                shutil.copyfileobj(reader, out, age.stream.CHUNK_SIZE)
    return 0


def make_plaintext(path: Path, size_mb: int) -> None:
    if path.exists() and path.stat().st_size == size_mb * 1024 * 1024:
        return
    # Random-looking but cheap to produce: one random MiB repeated (the cipher does not care).
    block = os.urandom(1024 * 1024)
    with path.open("wb") as out:
        for _ in range(size_mb):
            out.write(block)


def time_open(path: Path, identity: age.Identity, repeat: int) -> float:
    """Median milliseconds to open ``path`` (header, unwrap, MAC) and read its first chunk."""
    head = path.open("rb").read(64 * 1024 + 4096)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        with age.decrypt_reader(io.BytesIO(head), [identity]) as reader:
            reader.read1(1)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return worker(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200, help="plaintext size in MB (default 200)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=DATA_DIR,
                        help="where to put the files (e.g. /dev/shm to take the disk out of the comparison)")
    args = parser.parse_args()
    if not have("age"):
        print("the age command is not installed (apt-get install age)", file=sys.stderr)
        return 1

    data_dir: Path = args.dir
    data_dir.mkdir(parents=True, exist_ok=True)
    plain = data_dir / f"age-plain-{args.size}MB.bin"
    make_plaintext(plain, args.size)
    identity = age.generate_identity()
    key_file = data_dir / "age-key.txt"
    key_file.write_text(identity.to_string() + "\n")
    recipient = identity.recipient().to_string()
    by_synco = data_dir / "age-synco.age"
    by_age = data_dir / "age-age.age"
    decrypted = data_dir / "age-decrypted.bin"
    me = [sys.executable, str(Path(__file__).resolve()), "--worker"]

    def remove(*paths: Path) -> None:
        for path in paths:
            path.unlink(missing_ok=True)
        # Start every run with no dirty pages from the previous one, so neither tool pays for the other's
        # write-back.
        os.sync()

    print(f"age benchmark: {args.size} MB, {args.repeat} runs each", file=sys.stderr)
    enc_synco = measure("synco encrypt", [*me, "encrypt", recipient, str(plain), str(by_synco)], args.repeat,
                        setup=lambda: remove(by_synco))
    enc_age = measure("age -r", ["age", "-r", recipient, "-o", str(by_age), str(plain)], args.repeat,
                      setup=lambda: remove(by_age))
    # Each side decrypts its own output, and the other's once below as a correctness check.
    dec_synco = measure("synco decrypt (process)", [*me, "decrypt", str(key_file), str(by_age), str(decrypted)],
                        args.repeat, setup=lambda: remove(decrypted))
    dec_cli = measure("synco decrypt (CLI, fsync)",
                      ["synco", "decrypt", "--key", identity.to_string(), str(by_age), "-o", str(decrypted)],
                      args.repeat, setup=lambda: remove(decrypted))
    dec_age = measure("age -d", ["age", "-d", "-i", str(key_file), "-o", str(decrypted), str(by_synco)],
                      args.repeat, setup=lambda: remove(decrypted))
    if decrypted.stat().st_size != plain.stat().st_size:
        print("age could not decrypt synco's output correctly", file=sys.stderr)
        return 1
    remove(decrypted)

    print_table(
        f"age v1, X25519, {args.size} MB (medians of {args.repeat})",
        [
            ("encrypt", enc_synco, enc_age),
            ("decrypt", dec_synco, dec_age),
            ("decrypt via `synco decrypt`", dec_cli, dec_age),
        ],
    )
    opening = time_open(by_synco, identity, 200)
    print(f"\nopen an X25519 artifact (header + unwrap + MAC + first chunk): {opening:.2f} ms (median of 200)")
    scrypt_file = io.BytesIO(age.encrypt_bytes(b"x", [age.ScryptRecipient("benchmark passphrase", 18)]))
    start = time.perf_counter()
    age.decrypt_reader(scrypt_file, [age.ScryptIdentity("benchmark passphrase")]).read()
    print(f"open an scrypt artifact (work factor 18): {(time.perf_counter() - start) * 1000:.0f} ms (one run)")
    remove(by_synco, by_age, key_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
