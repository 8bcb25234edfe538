"""``synco db load`` tells a dump file's compression by its content, and refuses a name the content belies."""

from __future__ import annotations

import contextlib
import gzip
import sqlite3
import subprocess
import sys
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


#: A dump of some size (140 KB, more than a pipe holds): its compressed form cut short ends inside a frame, not at
#: the end of the script. In 301 statements of forty titles each, not 3,001 of one: the size of before, a tenth
#: of SQLite's commits (each its own, with four fdatasync calls).
MANY = SQL + b"".join(b"INSERT INTO page VALUES (%d, '%s');\n" % (n, b" ".join(
    b"page %d" % ((n * 10 + k) * 7919 % 100003) for k in range(40))) for n in range(2, 302))


def load_piped(target: Path, data: bytes) -> tuple[int, str]:
    """``synco db load URL -`` with ``data`` written into a real pipe, as a shell pipeline gives it."""
    completed = subprocess.run([sys.executable, "-m", "synco_core", "db", "load", f"sqlite:///{target}", "-", "--yes"],
                               input=data, capture_output=True, timeout=120, check=False)
    return completed.returncode, completed.stderr.decode()


@pytest.mark.parametrize("content", list(WRAPS))
def test_standard_input_is_told_by_its_content_as_a_file_is(content: str, tmp_path: Path) -> None:
    """A zstd or gzip stream on standard input was loaded as if it were SQL ('line 1 is not UTF-8 text'), and
    an age stream the same way; now each loads as the same file would, and age is refused as its file is."""
    target = tmp_path / "app.db"
    file = tmp_path / "dump"
    file.write_bytes(WRAPS[content](MANY))
    piped = load_piped(target, file.read_bytes())
    from_file = load(tmp_path / "from-file.db", file)
    assert (piped[0] == 0) == (from_file[0] == 0)
    if content == AGE:
        assert piped[0] == 1 and piped[1].strip().splitlines() == [
            "Error: cannot load standard input: it is still encrypted (age); decrypt it first (synco decrypt)"]
        assert not target.exists()
        return
    assert piped[0] == 0, piped[1]
    assert titles(target) == titles(tmp_path / "from-file.db") and len(titles(target)) == 301


def test_an_sqlite_database_on_standard_input_is_installed_as_its_file_is(tmp_path: Path) -> None:
    source = tmp_path / "source.db"
    with contextlib.closing(sqlite3.connect(source)) as conn:
        conn.executescript(SQL.decode())
        conn.commit()
    target = tmp_path / "app.db"
    for data in (source.read_bytes(), zstandard.ZstdCompressor().compress(source.read_bytes())):
        code, output = load_piped(target, data)
        assert code == 0, output
        assert titles(target) == ["home"]


@pytest.mark.parametrize(("data", "says"), [
    (b"", "it is empty; there is nothing to load"),
    (b"PGDMP\x01\x0e\x00" + bytes(200), "it is a pg_dump archive (custom or tar format); turn it into SQL first"),
    (bytes(range(256)) * 4, "it is binary data; it is not a dump synco can read"),
    (zstandard.ZstdCompressor().compress(MANY)[:-200], "its zstd-compressed data is damaged or cut short"),
    (gzip.compress(MANY)[:-200], "its gzip-compressed data is damaged or cut short"),
])
def test_a_cut_or_unknown_stream_on_standard_input_fails_in_one_line_and_loads_nothing(
        data: bytes, says: str, tmp_path: Path) -> None:
    """An empty stream (the command before the pipe failed) reached the engine, and with a server engine
    replaced the database with nothing; a pg_dump archive or binary data was read as SQL. Each is refused
    naming standard input, and a compressed stream cut short fails before anything is swapped in."""
    target = tmp_path / "app.db"
    with contextlib.closing(sqlite3.connect(target)) as conn:
        conn.executescript("CREATE TABLE page (id INTEGER PRIMARY KEY, title TEXT);"
                           "INSERT INTO page VALUES (1, 'old');")
    code, output = load_piped(target, data)
    assert code == 1, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot load standard input: ") and says in lines[0], output
    assert titles(target) == ["old"]


@pytest.mark.parametrize("data", [b"", b"PGDMP\x01\x0e\x00" + bytes(200), bytes(range(256)) * 4])
def test_an_empty_or_unknown_file_is_refused_as_standard_input_is(data: bytes, tmp_path: Path) -> None:
    dump = tmp_path / "dump.sql"
    dump.write_bytes(data)
    target = tmp_path / "app.db"
    code, output = load(target, dump)
    assert code == 1 and len(output.strip().splitlines()) == 1 and f"cannot load {dump}: it is " in output, output
    assert not target.exists()
