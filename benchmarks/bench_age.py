"""Benchmark: age encryption and decryption, synco against the ``age`` binary (X25519), side by side.

    python3 benchmarks/bench_age.py [--size MB|full] [--repeat N] [--dir DIR]

Generates a file of ``--size`` MB (default 200; ``full`` is the issue's 1200) in benchmarks/.data/ (or
``--dir``), then times, ``--repeat`` times each and in turns (see ``common.measure_interleaved``), whole
processes (interpreter start-up included, as for ``age``): encrypting with synco and with ``age -r``;
decrypting with synco (a plain process, and ``synco decrypt``, which also fsyncs its output before renaming
it into place), with ``age -d -i`` (which does not sync) and with ``age -d -i`` followed by ``sync`` of its
output (the same durability as ``synco decrypt``). It prints medians, synco/age ratios and peak memory,
then the time to open an X25519 artifact (header parsed, key unwrapped, MAC checked) and one scrypt one.
"""

from __future__ import annotations

import argparse
import io
import os
import shlex
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import DATA_DIR, Case, have, measure_interleaved, print_table

from synco_core import age

COPY_BUFFER = 1024 * 1024
#: ``--size full``: the issue's 1.2 GB.
FULL_SIZE_MB = 1200


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


def synco_script() -> str:
    """The ``synco`` console script of this interpreter's environment, even when it is not on PATH."""
    beside = Path(sys.executable).with_name("synco")
    return str(beside) if beside.exists() else "synco"


def size_mb(text: str) -> int:
    if text == "full":
        return FULL_SIZE_MB
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of MB or 'full': {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("the size must be at least 1 MB")
    return value


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return worker(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=size_mb, default=200,
                        help=f"plaintext size in MB, or 'full' for {FULL_SIZE_MB} (default 200)")
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
    enc_synco, enc_age = measure_interleaved([
        Case("synco encrypt", [*me, "encrypt", recipient, str(plain), str(by_synco)], lambda: remove(by_synco)),
        Case("age -r", ["age", "-r", recipient, "-o", str(by_age), str(plain)], lambda: remove(by_age)),
    ], args.repeat)
    # Each side decrypts the other's output, which doubles as a check that the two agree.
    def clear() -> None:
        remove(decrypted)

    age_decrypt = ["age", "-d", "-i", str(key_file), "-o", str(decrypted), str(by_synco)]
    dec_synco, dec_cli, dec_age, dec_age_sync = measure_interleaved([
        Case("synco decrypt (process)", [*me, "decrypt", str(key_file), str(by_age), str(decrypted)], clear),
        Case("synco decrypt (CLI, fsync)",
             [synco_script(), "decrypt", "--key", identity.to_string(), str(by_age), "-o", str(decrypted)], clear),
        Case("age -d", age_decrypt, clear),
        # sync FILE fsyncs just that file: the durability `synco decrypt` gives, for an honest comparison.
        Case("age -d && sync FILE", f"{shlex.join(age_decrypt)} && sync {shlex.quote(str(decrypted))}", clear),
    ], args.repeat)
    if decrypted.stat().st_size != plain.stat().st_size:
        print("age could not decrypt synco's output correctly", file=sys.stderr)
        return 1
    remove(decrypted)

    print_table(
        f"age v1, X25519, {args.size} MB (medians of {args.repeat}, in turns)",
        [
            ("encrypt", enc_synco, enc_age),
            ("decrypt (process, no sync)", dec_synco, dec_age),
            ("`synco decrypt` (fsync)", dec_cli, dec_age),
            ("`synco decrypt` (fsync), same sync", dec_cli, dec_age_sync),
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
