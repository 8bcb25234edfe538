"""The default zstd level's tuned search (``ZSTD_DEFAULT_TUNING``): no bigger than zstd's own level 3.

The tuning exists to spend less CPU on the default level (docs/performance.md, "zstd's search for the
default level"); what must hold whatever it is changed to is that artifacts do not grow for it, on the
kind of SQL a dump is made of, and that any zstd decoder reads them. The other levels are zstd's own.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
import zstandard

from synco_core.serve.folder import ZSTD_JOB_SIZE, ZSTD_LEVEL, ZSTD_LEVELS, ZSTD_THREADS, zstd_parameters
from synco_core.testing.services import require_tool

DATA = Path(__file__).parent / "data"


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


@pytest.mark.parametrize("sample", ["short rows", "pagila"])
def test_default_level_is_no_bigger_than_zstd_level_3(sample: str) -> None:
    data = short_rows(120_000) if sample == "short rows" else (DATA / "pagila" / "pagila.sql").read_bytes()
    ours, theirs = compress(data, zstd_parameters(ZSTD_LEVEL)), compress(data, zstd_own(ZSTD_LEVEL))
    # Pagila is a schema and a few hundred kilobytes of rows: there the two may differ either way by a little.
    assert len(ours) <= len(theirs) * (1.0 if sample == "short rows" else 1.01), (len(ours), len(theirs))
    assert zstandard.ZstdDecompressor().decompressobj().decompress(ours) == data


def test_zstd_command_reads_the_default_level(tmp_path: Path) -> None:
    zstd = require_tool("zstd", "zstd")
    data = short_rows(20_000)
    (tmp_path / "dump.sql.zst").write_bytes(compress(data, zstd_parameters(ZSTD_LEVEL)))
    assert subprocess.run([zstd, "-d", "-c", str(tmp_path / "dump.sql.zst")], capture_output=True,
                          check=True).stdout == data


def test_other_levels_are_zstd_own() -> None:
    for level in ZSTD_LEVELS:
        if level != ZSTD_LEVEL:
            ours, theirs = zstd_parameters(level), zstd_own(level)
            assert [getattr(ours, name) for name in FIELDS] == [getattr(theirs, name) for name in FIELDS], level


FIELDS = ("window_log", "chain_log", "hash_log", "search_log", "min_match", "target_length", "strategy", "threads",
          "job_size")
