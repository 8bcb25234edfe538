"""``synco db load`` tells a dump file's compression by its content, and refuses a name the content belies."""

from __future__ import annotations

import contextlib
import gzip
import sqlite3
from pathlib import Path

import pytest
import zstandard
from click.testing import CliRunner

from synco_core.age import encrypt_bytes, generate_identity
from synco_core.cli.main import cli
from synco_core.dumpfile import AGE, GZIP, ZSTD, kind_of

SQL = b"CREATE TABLE page (id INTEGER PRIMARY KEY, title TEXT);\nINSERT INTO page VALUES (1, 'home');\n"


def aged(data: bytes) -> bytes:
    return encrypt_bytes(data, [generate_identity().recipient()])


WRAPS = {
    "plain": lambda data: data,
    ZSTD: lambda data: zstandard.ZstdCompressor().compress(data),
    GZIP: lambda data: gzip.compress(data),
    AGE: aged,
}
SUFFIXES = {"plain": ".sql", ZSTD: ".sql.zst", GZIP: ".sql.gz", AGE: ".sql.age"}


def titles(target: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(target)) as conn:
        return [row[0] for row in conn.execute("SELECT title FROM page")]


def load(target: Path, dump: Path) -> tuple[int, str]:
    outcome = CliRunner().invoke(cli, ["db", "load", f"sqlite:///{target}", str(dump), "--yes"])
    return outcome.exit_code, outcome.output


@pytest.mark.parametrize("content", list(WRAPS))
@pytest.mark.parametrize("named", list(SUFFIXES))
def test_the_content_decides_and_a_name_it_belies_is_one_line(content: str, named: str, tmp_path: Path) -> None:
    dump = tmp_path / f"dump{SUFFIXES[named]}"
    dump.write_bytes(WRAPS[content](SQL))
    target = tmp_path / "app.db"
    code, output = load(target, dump)
    readable = content in ("plain", ZSTD, GZIP)
    names_a_wrapping = named != "plain"
    if readable and (not names_a_wrapping or named == content):
        assert code == 0, output
        assert titles(target) == ["home"]
        return
    assert code == 1, output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert str(dump) in lines[0]
    assert "Error" in lines[0] and "ZstdError" not in lines[0] and "BadGzipFile" not in lines[0]
    what = "plain text" if content == "plain" else content
    assert what in lines[0]
    assert not target.exists()


@pytest.mark.parametrize("kind", [ZSTD, GZIP])
def test_damaged_compressed_data_names_the_file(kind: str, tmp_path: Path) -> None:
    packed = WRAPS[kind](SQL * 200)
    dump = tmp_path / f"dump{SUFFIXES[kind]}"
    dump.write_bytes(packed[: len(packed) // 2])
    target = tmp_path / "app.db"
    code, output = load(target, dump)
    assert code == 1, output
    assert len(output.strip().splitlines()) == 1, output
    assert str(dump) in output and kind in output and "damaged or cut short" in output


def test_kind_of_names_what_is_not_a_dump() -> None:
    assert kind_of(b"PGDMP\x01") .startswith("a pg_dump archive")
    assert kind_of(b"SQLite format 3\x00rest") == "an SQLite database file"
    assert kind_of(b"") == "empty"
    assert kind_of(b"\x00\x01\x02") == "binary data"
