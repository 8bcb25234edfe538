"""The default zstd level's search for database dumps (``ZSTD_DUMP_TUNING``): no bigger than zstd's level 3.

The tuning exists to spend less CPU on the dumps (docs/performance.md, "zstd's search for the default
level"); what must hold whatever it is changed to is that dumps do not grow for it, on the kind of SQL a
dump is made of, and that any zstd decoder reads them. Other artifacts and other levels are zstd's own.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
import zstandard

from synco_core import age
from synco_core.serve.folder import ZSTD_JOB_SIZE, ZSTD_LEVEL, ZSTD_LEVELS, ZSTD_THREADS, SessionFolder, zstd_parameters
from synco_core.testing.services import require_tool

DATA = Path(__file__).parent / "data"
FIELDS = ("window_log", "chain_log", "hash_log", "search_log", "min_match", "target_length", "strategy", "threads",
          "job_size")


def short_rows(rows: int) -> bytes:
    """INSERTs of short rows as a dump writes them: numbers, dates, hex strings and NULLs (issue 15's table)."""
    statements = []
    for start in range(0, rows, 5000):
        values = []
        for n in range(start, min(rows, start + 5000)):
            note = f"'{hashlib.md5(str(n).encode()).hexdigest()}'" if n % 2 == 0 else "NULL"
            values.append(f"({n},{1 + n // 1400},'2020-{1 + n % 12:02d}-{1 + n % 28:02d}',{n * 7919 % 1000},"
                          f"{n * 104729 % 1000000 / 100:.2f},{note})")
        statements.append("INSERT INTO `daily` VALUES " + ",".join(values) + ";\n")
    return "".join(statements).encode()


def compress(data: bytes, params: zstandard.ZstdCompressionParameters) -> bytes:
    # In blocks, as the dump writer hands them over, so that the threaded compressor cuts jobs as it does there.
    out = zstandard.ZstdCompressor(compression_params=params).compressobj()
    block = 256 * 1024
    parts = [out.compress(data[i:i + block]) for i in range(0, len(data), block)]
    return b"".join([*parts, out.flush()])


def zstd_own(level: int) -> zstandard.ZstdCompressionParameters:
    return zstandard.ZstdCompressionParameters.from_level(level, threads=ZSTD_THREADS, job_size=ZSTD_JOB_SIZE)


def settings(params: zstandard.ZstdCompressionParameters) -> list[int]:
    return [getattr(params, name) for name in FIELDS]


@pytest.mark.parametrize("sample", ["short rows", "pagila", "chinook"])
def test_dumps_at_the_default_level_are_no_bigger_than_zstd_level_3(sample: str) -> None:
    if sample == "short rows":
        data = short_rows(120_000)
    else:
        data = b"".join(path.read_bytes() for path in sorted((DATA / sample).glob("*.sql")))
    ours, theirs = compress(data, zstd_parameters(ZSTD_LEVEL, dump=True)), compress(data, zstd_own(ZSTD_LEVEL))
    assert len(ours) <= len(theirs), (len(ours), len(theirs))
    assert zstandard.ZstdDecompressor().decompressobj().decompress(ours) == data


def test_zstd_command_reads_a_dump_at_the_default_level(tmp_path: Path) -> None:
    zstd = require_tool("zstd", "zstd")
    data = short_rows(20_000)
    (tmp_path / "dump.sql.zst").write_bytes(compress(data, zstd_parameters(ZSTD_LEVEL, dump=True)))
    assert subprocess.run([zstd, "-d", "-c", str(tmp_path / "dump.sql.zst")], capture_output=True,
                          check=True).stdout == data


def test_everything_else_is_zstd_own() -> None:
    assert settings(zstd_parameters(ZSTD_LEVEL)) == settings(zstd_own(ZSTD_LEVEL))
    for level in ZSTD_LEVELS:
        if level != ZSTD_LEVEL:
            assert settings(zstd_parameters(level, dump=True)) == settings(zstd_own(level)), level
            assert settings(zstd_parameters(level)) == settings(zstd_own(level)), level


def test_session_folder_compresses_dumps_with_their_settings(tmp_path: Path) -> None:
    identity = age.generate_identity()
    folder = SessionFolder(tmp_path / "session", [identity.recipient()])
    folder.create()
    data = short_rows(50_000)
    sizes = {}
    for dump in (True, False):
        name = f"artifact-{dump}.enc"
        with folder.artifact(name, dump=dump) as (plain, stats):
            plain.write(data)
        sizes[dump] = stats[0].encrypted_size_bytes
        with (folder.path / name).open("rb") as raw, age.decrypt_reader(raw, [identity]) as decrypted:
            assert zstandard.ZstdDecompressor().stream_reader(decrypted).read() == data
    assert sizes[True] < sizes[False]
